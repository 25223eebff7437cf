/* ui_save.c: `w`, saving the plan, and the unsaved mark (what was saved
 * last, to compare the state with). The prompt is pre-filled with the
 * plan that was loaded or saved last (else plan_default_path: STEM.plan.yaml
 * beside the checkpoint, docs/plan-format.md); any other existing file
 * needs a y to be replaced.
 *
 * A plan made for another checkpoint (session.foreign_plan: its
 * fingerprint names another model) is never overwritten by a plain
 * Enter: the prompt then proposes a new name next to it
 * (<checkpoint stem>.plan.yaml), says live what
 * the name in the prompt would do, and writing over the foreign plan
 * takes an explicit y in a box whose default (Enter, n, Esc) is no.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/human.h"
#include "../core/err.h"
#include "../core/plan.h"
#include "../core/session_stage.h"
#include "ui_impl.h"

/* --- the unsaved mark --- */

/* A hash of the rules in force (kinds and patterns, in order). */
static uint64_t rules_hash(const session *s)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s->nrules; i++) {
        h = (h ^ (uint64_t)(s->rules[i].kind + 1)) * 1099511628211ull;
        for (const char *p = s->rules[i].pattern; p && *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        h = (h ^ 0xFFu) * 1099511628211ull;
    }
    /* the stages: their rules, lengths and lr */
    for (size_t k = 0; k < s->base.nstages; k++) {
        const plan_stage *x = &s->base.stages[k];
        uint64_t v[3] = {x->steps, x->epochs, 0};
        memcpy(&v[2], &x->lr, sizeof x->lr);
        for (int j = 0; j < 3; j++)
            h = (h ^ v[j]) * 1099511628211ull;
        for (size_t i = 0; i < x->nrules; i++) {
            h = (h ^ (uint64_t)(x->rules[i].kind + 7)) * 1099511628211ull;
            for (const char *p = x->rules[i].pattern; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ull;
        }
        h = (h ^ 0xFEu) * 1099511628211ull;
    }
    return h ^ s->nrules ^ (s->base.nstages << 20);
}

int ui_unsaved(const ui *u)
{
    const session *s = u->s;
    return freeze_changed_since_save(&s->fs) ||
           rules_hash(s) != u->saved_rules_hash ||
           (u->saved_opt >= 0 && u->saved_opt != (int)s->optimizer) ||
           (u->saved_prec >= 0 && u->saved_prec != (int)s->precision);
}

void ui_mark_saved(ui *u, int written)
{
    const session *s = u->s;
    /* the optimizer and precision count only where the plan keeps them
     * (estimate:): a plan tui wrote does; no plan, or a hand-written
     * one without them, does not, so trying them is no change */
    int opt = written || (s->has_base && s->base.estimate.optimizer);
    int prec = written || (s->has_base && s->base.estimate.precision);
    u->saved_rules_hash = rules_hash(s);
    u->saved_opt = opt ? (int)s->optimizer : -1;
    u->saved_prec = prec ? (int)s->precision : -1;
}

/* --- saving --- */

/* 1 when a and b name the same file: equal strings, or both exist with
 * the same device and inode. Cannot fail. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (!a || !b || !a[0] || !b[0])
        return 0;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
           sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The name proposed instead of a foreign plan: in the foreign plan's
 * folder, <checkpoint stem>.plan.yaml, or <stem>.2.plan.yaml (.3, ...)
 * when that is the foreign plan itself; the default path (beside the
 * checkpoint) when that does not fit in cap bytes. */
static void proposed_plan_path(const session *s, char *buf, size_t cap)
{
    char stem[4096];
    const char *fp = s->foreign_plan;
    const char *slash = strrchr(fp, '/');
    int dl = slash ? (int)(slash - fp) + 1 : 0, n;
    if (plan_checkpoint_stem(s->checkpoint, stem, sizeof stem))
        snprintf(stem, sizeof stem, "plan");
    n = snprintf(buf, cap, "%.*s%s.plan.yaml", dl, fp, stem);
    for (int k = 2; k < 100 && n >= 0 && (size_t)n < cap &&
                    same_file(buf, fp); k++)
        n = snprintf(buf, cap, "%.*s%s.%d.plan.yaml", dl, fp, stem, k);
    if ((n < 0 || (size_t)n >= cap) &&
        plan_default_path(s->checkpoint, buf, cap))
        buf[0] = '\0';
}

/* The save prompt's live line while a foreign plan is loaded. */
static void target_changed(ui *u, const char *text, void *ctx)
{
    struct stat st;
    (void)ctx;
    if (!text[0])
        ui_message(u, 1, "a path to write the plan to");
    else if (same_file(text, u->s->foreign_plan))
        ui_message(u, 1, "this is the plan made for another checkpoint: "
                   "writing over it asks first");
    else if (stat(text, &st) == 0)
        ui_message(u, 0, "replaces that file (asks first); the plan made "
                   "for another checkpoint stays");
    else
        ui_message(u, 0, "a new plan for this checkpoint; %s stays as it is",
                   u->s->foreign_plan);
}

/* Asks before writing over the foreign plan. Returns 1 for an explicit
 * y; Enter, n and Esc are no. */
static int confirm_foreign(ui *u, const char *path)
{
    char text[9000];
    snprintf(text, sizeof text,
             "%s\nwas made for another checkpoint%s%s%s.\n"
             "Writing this checkpoint's plan over it loses that plan.\n\n"
             "  y                overwrite it\n"
             "  n  Enter  Esc    no: back to the name",
             path, u->foreign_model[0] ? " (" : "", u->foreign_model,
             u->foreign_model[0] ? ")" : "");
    u->msg[0] = '\0';
    return ui_ask(u, "overwrite a plan made for another checkpoint?", text,
                  "yn\n") == 'y';
}

int ui_save_plan(ui *u)
{
    session *s = u->s;
    char path[4096], proposal[4096], kept[4096], a[32], b[32];
    struct stat st;
    int foreign = s->foreign_plan != NULL;
    kept[0] = '\0';
    if (session_stages_check(s)) {
        ui_message(u, 1, "not saved: %s", err_msg());
        return R_REDRAW;
    }
    if (foreign) {
        snprintf(kept, sizeof kept, "%s", s->foreign_plan);
        proposed_plan_path(s, proposal, sizeof proposal);
    } else if (u->plan_path[0]) {
        snprintf(proposal, sizeof proposal, "%s", u->plan_path);
    } else if (plan_default_path(s->checkpoint, proposal,
                                 sizeof proposal)) {
        proposal[0] = '\0';
    }
    snprintf(path, sizeof path, "%s", proposal);
    for (;;) {
        if (!ui_prompt_kind_read(u, UI_PK_PATH, "save plan to: ", path,
                                 sizeof path,
                                 foreign ? target_changed : NULL, NULL)) {
            ui_message(u, 0, "not saved");
            return 0;
        }
        if (!path[0])
            continue;
        if (foreign && same_file(path, kept)) {
            if (confirm_foreign(u, path))
                break;
            snprintf(path, sizeof path, "%s", proposal);
            continue;
        }
        if ((!foreign && strcmp(path, u->plan_path) == 0) ||
            stat(path, &st) != 0 ||
            ui_ask(u, "overwrite?", path, "yn") == 'y')
            break;
    }
    if (session_save_plan(s, path)) {
        ui_message(u, 1, "%s", err_msg());
        return 0;
    }
    snprintf(u->plan_path, sizeof u->plan_path, "%s", path);
    ui_mark_saved(u, 1);
    size_t ft;
    uint64_t fn, tn;
    freeze_counts(&s->fs, &ft, &fn, &tn);
    ui_message(u, 0, "saved %s: %zu tensors frozen (%s parameters), %s "
               "trainable", path, ft, human_count(fn, a, sizeof a),
               human_count(tn, b, sizeof b));
    return 1;
}
