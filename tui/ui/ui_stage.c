/* ui_stage.c: the stage selector (docs/tui.1, "Stages"): [ and ] show
 * the previous and next stage, + adds one after the stage shown, D
 * deletes it, L sets its length and r the lr of what it thaws; the
 * status line, the panel and the rows' thaw and lr columns read the
 * stages from here. The edits are session_stage.h's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/human.h"
#include "../core/session_stage.h"
#include "ui_impl.h"

static int fail(ui *u)
{
    ui_message(u, 1, "%s", err_msg());
    return R_REDRAW;
}

/* "500 steps", "2 epochs", "to the end". */
static const char *length_text(const plan_stage *x, char *buf, size_t cap)
{
    if (x->steps != PLAN_UNSET)
        snprintf(buf, cap, "%llu step%s", (unsigned long long)x->steps,
                 x->steps == 1 ? "" : "s");
    else if (x->epochs != PLAN_UNSET)
        snprintf(buf, cap, "%llu epoch%s", (unsigned long long)x->epochs,
                 x->epochs == 1 ? "" : "s");
    else
        snprintf(buf, cap, "to the end");
    return buf;
}

const char *ui_stage_text(ui *u, char *buf, size_t cap)
{
    session *s = u->s;
    size_t n = session_stage_count(s);
    char len[48], lr[48] = "";
    if (n < 2) {
        buf[0] = '\0';
        return buf;
    }
    const plan_stage *x = &s->base.stages[s->stage];
    if (!isnan(x->lr))
        snprintf(lr, sizeof lr, ", lr %g", x->lr);
    snprintf(buf, cap, "stage %zu of %zu: %s%s", s->stage, n,
             length_text(x, len, sizeof len), lr);
    return buf;
}

static int shown(ui *u, const char *what)
{
    char t[160];
    ui_message(u, 0, "%s%s%s ([ ] other stages, + adds, D deletes, L "
               "length, r lr)", what, what[0] ? ": " : "",
               ui_stage_text(u, t, sizeof t));
    return R_REDRAW | R_EDIT;
}

static int go(ui *u, int dir)
{
    session *s = u->s;
    size_t n = session_stage_count(s);
    if (n < 2) {
        ui_message(u, 0, "no stages: + adds one after the plan's own set "
                         "(stage 0)");
        return R_REDRAW;
    }
    if ((dir < 0 && s->stage == 0) || (dir > 0 && s->stage + 1 >= n)) {
        ui_message(u, 0, "stage %zu is the %s", s->stage,
                   dir < 0 ? "first" : "last");
        return R_REDRAW;
    }
    if (session_select_stage(s, dir < 0 ? s->stage - 1 : s->stage + 1))
        return fail(u);
    return shown(u, "");
}

int ui_stage_prev(ui *u) { return go(u, -1); }
int ui_stage_next(ui *u) { return go(u, 1); }

/* Parses "500", "500 steps", "2e", "2 epochs", "" (0: to the end).
 * Returns 0, or -1. */
static int parse_length(const char *txt, int def_epochs, uint64_t *len,
                        int *epochs)
{
    char *end;
    while (*txt == ' ')
        txt++;
    *epochs = def_epochs;
    *len = 0;
    if (!*txt)
        return 0;
    if (*txt < '0' || *txt > '9')
        return -1;
    unsigned long long v = strtoull(txt, &end, 10);
    while (*end == ' ')
        end++;
    if (!strcmp(end, "e") || !strcmp(end, "epoch") || !strcmp(end, "epochs"))
        *epochs = 1;
    else if (!strcmp(end, "s") || !strcmp(end, "step") ||
             !strcmp(end, "steps"))
        *epochs = 0;
    else if (*end)
        return -1;
    if (v == 0 || v > (1ull << 40))
        return -1;
    *len = v;
    return 0;
}

/* The unit the stages use: 1 epochs, 0 steps (also when none has one). */
static int stages_unit(const session *s)
{
    for (size_t i = 0; i < s->base.nstages; i++)
        if (s->base.stages[i].epochs != PLAN_UNSET)
            return 1;
    return 0;
}

/* Asks for stage k's length. Returns 1 with *len and *epochs, 0 when
 * cancelled or wrong (the message says why). */
static int ask_length(ui *u, size_t k, int need, uint64_t *len, int *epochs)
{
    char label[96], buf[64] = "";
    int unit = stages_unit(u->s);
    snprintf(label, sizeof label, "length of stage %zu (500, 500 steps, 2 "
             "epochs%s): ", k, need ? "" : "; empty: to the end");
    if (!ui_prompt(u, label, buf, sizeof buf, NULL, NULL))
        return 0;
    if (parse_length(buf, unit, len, epochs) || (need && !*len)) {
        ui_message(u, 1, "'%s' is not a length: a positive number of steps, "
                   "or of epochs (2 epochs, 2e)%s", buf,
                   need ? "; this stage needs one" : "");
        return 0;
    }
    return 1;
}

int ui_stage_add(ui *u)
{
    session *s = u->s;
    size_t k = s->stage;
    uint64_t len = 0;
    int epochs = 0;
    const plan_stage *x = s->base.nstages ? &s->base.stages[k] : NULL;
    /* the stage before the new one needs a length now */
    if ((!x || (x->steps == PLAN_UNSET && x->epochs == PLAN_UNSET)) &&
        !ask_length(u, k, 1, &len, &epochs))
        return R_REDRAW;
    if (session_stage_add(s, k, len, epochs))
        return fail(u);
    return shown(u, "added; f, F and Space set what it thaws");
}

int ui_stage_delete(ui *u)
{
    session *s = u->s;
    size_t k = s->stage;
    char q[160];
    if (k == 0) {
        ui_message(u, 1, "%s", s->base.nstages
                                   ? "stage 0 is the plan's own set: ] "
                                     "shows a later stage to delete"
                                   : "no stages to delete");
        return R_REDRAW;
    }
    if (s->base.stages[k].nrules) {
        snprintf(q, sizeof q, "delete stage %zu and its %zu rule%s? (y/n; "
                 "u undoes)", k, s->base.stages[k].nrules,
                 s->base.stages[k].nrules == 1 ? "" : "s");
        if (ui_ask(u, "delete stage", q, "yn") != 'y')
            return R_REDRAW;
    }
    if (session_stage_delete(s, k))
        return fail(u);
    if (session_stage_count(s) < 2) {
        ui_message(u, 0, "stage %zu deleted: the plan has no stages now", k);
        return R_REDRAW | R_EDIT;
    }
    return shown(u, "deleted");
}

int ui_stage_length(ui *u)
{
    session *s = u->s;
    size_t k = s->stage;
    uint64_t len;
    int epochs;
    if (!s->base.nstages) {
        ui_message(u, 1, "no stages: + adds one (and asks for the length "
                         "of stage 0)");
        return R_REDRAW;
    }
    if (!ask_length(u, k, k + 1 < s->base.nstages, &len, &epochs))
        return R_REDRAW;
    if (session_stage_set_length(s, k, len, epochs))
        return fail(u);
    return shown(u, "length set");
}

int ui_stage_lr(ui *u)
{
    session *s = u->s;
    size_t k = s->stage;
    char label[96], buf[64] = "";
    if (k == 0) {
        ui_message(u, 1, "%s", s->base.nstages
                                   ? "stage 0 trains at the optimizer's lr: "
                                     "] shows a later stage"
                                   : "no stages: + adds one");
        return R_REDRAW;
    }
    snprintf(label, sizeof label, "lr of what stage %zu thaws (empty: the "
             "optimizer's): ", k);
    if (!ui_prompt(u, label, buf, sizeof buf, NULL, NULL))
        return R_REDRAW;
    char *end;
    double lr = NAN;
    if (buf[0]) {
        lr = strtod(buf, &end);
        while (*end == ' ')
            end++;
        if (end == buf || *end || !isfinite(lr) || lr <= 0) {
            ui_message(u, 1, "'%s' is not an lr: a number > 0, such as "
                       "1e-4", buf);
            return R_REDRAW;
        }
    }
    if (session_stage_set_lr(s, k, lr))
        return fail(u);
    return shown(u, "lr set");
}

/* --- the rows' columns --- */

void ui_stage_thaw_cell(ui *u, const tree_node *n, char *buf, size_t cap)
{
    session *s = u->s;
    const uint32_t *th = session_thaw_stages(s);
    const tree *tr = &s->tr;
    size_t at = (size_t)(n - tr->nodes);
    uint32_t lo = SESSION_NEVER, hi = 0;
    int never = 0, any = 0;
    buf[0] = '\0';
    if (!th)
        return;
    for (size_t j = at; j < at + n->span && j < tr->count; j++) {
        long i = tr->nodes[j].tensor;
        if (i < 0 || table_at(&s->t, (size_t)i)->kind != TK_PARAMETER)
            continue;
        any = 1;
        if (th[i] == SESSION_NEVER) {
            never = 1;
            continue;
        }
        if (th[i] < lo)
            lo = th[i];
        if (th[i] > hi)
            hi = th[i];
    }
    if (!any)
        return;
    if (lo == SESSION_NEVER)
        snprintf(buf, cap, "-");
    else if (lo == hi)
        snprintf(buf, cap, "%u%s", lo, never ? ",-" : "");
    else
        snprintf(buf, cap, "%u-%u%s", lo, hi, never ? ",-" : "");
}

void ui_stage_lr_cell(ui *u, const tree_node *n, char *buf, size_t cap)
{
    session *s = u->s;
    const tree *tr = &s->tr;
    size_t at = (size_t)(n - tr->nodes);
    double lo = INFINITY, hi = -INFINITY;
    buf[0] = '\0';
    if (!u->lr_ok)
        return;
    for (size_t j = at; j < at + n->span && j < tr->count; j++) {
        long i = tr->nodes[j].tensor;
        if (i < 0 || table_at(&s->t, (size_t)i)->kind != TK_PARAMETER)
            continue;
        double v = u->lr.scale[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (lo > hi)
        return;
    if (hi - lo <= 1e-12 * hi)
        snprintf(buf, cap, "x%.3g", lo);
    else
        snprintf(buf, cap, "x%.2g-%.2g", lo, hi);
}

int ui_stage_update_lr(ui *u)
{
    session *s = u->s;
    const plan *p = &s->base;
    int want = s->has_base && (p->nlr_scale || !isnan(p->layer_decay));
    if (u->lr_ok && u->lr_gen == s->shown_gen)
        return want;
    if (u->lr_ok)
        lr_scales_free(&u->lr);
    u->lr_ok = 0;
    u->lr_gen = s->shown_gen;
    if (!want)
        return 0;
    if (lr_scales_resolve(&s->t, p, s->base_path ? s->base_path : "plan",
                          &u->lr)) {
        ui_message(u, 1, "lr: %s", err_msg());
        return 0;
    }
    u->lr_ok = 1;
    return 1;
}

void ui_stage_end(ui *u)
{
    if (u->lr_ok)
        lr_scales_free(&u->lr);
    u->lr_ok = 0;
}
