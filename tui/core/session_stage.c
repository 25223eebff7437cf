/* session_stage.c: the stages of the session's plan, edited
 * (session_stage.h). */
#include "session_stage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "plan_resolve.h"
#include "plan_stages.h"

size_t session_stage_count(const session *s)
{
    return s->base.nstages ? s->base.nstages : 1;
}

const bitset *session_shown_frozen(const session *s)
{
    if (s->stage > 0 && s->stage < s->stages.n)
        return &s->stages.frozen[s->stage];
    return &s->fs.frozen;
}

/* The tree's frozen totals count the stage shown (fs keeps them for
 * stage 0 itself: recounted only when coming back from a later one). */
static void show(session *s)
{
    if (s->stage > 0 || s->counted > 0)
        tree_recount_frozen(&s->tr, tree_root(&s->tr),
                            session_shown_frozen(s));
    s->counted = s->stage;
    s->shown_gen++;
}

/* Per tensor, the first stage from which it stays trainable. */
static int fill_thaw(session *s)
{
    const stage_sets *st = &s->stages;
    uint32_t *th = realloc(s->thaw, (s->t.count ? s->t.count : 1) *
                                        sizeof *th);
    if (!th)
        return err_set("out of memory");
    s->thaw = th;
    for (size_t i = 0; i < s->t.count; i++) {
        if (table_at(&s->t, i)->kind != TK_PARAMETER) {
            th[i] = 0;
            continue;
        }
        size_t k = st->n - 1;
        if (bitset_get(&st->frozen[k], i)) {
            th[i] = SESSION_NEVER;
            continue;
        }
        while (k > 0 && !bitset_get(&st->frozen[k - 1], i))
            k--;
        th[i] = (uint32_t)k;
    }
    return 0;
}

int session_stages_update(session *s)
{
    uint64_t g = freeze_generation(&s->fs);
    stage_sets st;
    if (s->stages.n && !s->stages_stale && s->stages_gen == g)
        return 0;
    if (stages_resolve_draft(&s->t, &s->base, &s->fs.frozen, &st))
        goto fail;
    stage_sets_free(&s->stages);
    s->stages = st;
    s->stages_gen = g;
    s->stages_stale = 0;
    if (s->stage >= st.n)
        s->stage = st.n - 1;
    if (s->base.nstages && fill_thaw(s))
        goto fail;
    show(s);
    return 0;
fail:
    /* the tree shows the plan's own set, which stays right */
    stage_sets_free(&s->stages);
    s->stages_stale = 1;
    s->stage = 0;
    show(s);
    return -1;
}

int session_select_stage(session *s, size_t k)
{
    if (k >= session_stage_count(s))
        return err_set("no stage %zu: the plan has %zu", k,
                       session_stage_count(s));
    s->stage = k;
    s->stages_stale = 1;
    return session_stages_update(s);
}

const uint32_t *session_thaw_stages(session *s)
{
    if (session_stages_update(s))
        return NULL;
    if (!s->base.nstages && fill_thaw(s)) /* all 0: not kept up to date */
        return NULL;
    return s->thaw;
}

int session_estimate_stage(session *s, size_t k, mem_estimate *out)
{
    if (session_stages_update(s))
        return -1;
    if (k >= s->stages.n)
        return err_set("no stage %zu", k);
    return memory_estimate(&s->t, &s->stages.frozen[k], s->optimizer,
                           s->precision, out);
}

int session_stage_peak(session *s, size_t *stage, uint64_t *total)
{
    mem_estimate e;
    *stage = 0;
    *total = 0;
    for (size_t k = 0; k < session_stage_count(s); k++) {
        if (session_estimate_stage(s, k, &e))
            return -1;
        if (k == 0 || e.after.total > *total) {
            *stage = k;
            *total = e.after.total;
        }
    }
    return 0;
}

/* --- one undo step per edit --- */

/* dst's stages become a copy of src's. Returns 0, or -1 with err set
 * (dst then holds part of them). */
static int copy_stages(plan *dst, const plan *src)
{
    while (dst->nstages)
        plan_delete_stage(dst, dst->nstages - 1);
    for (size_t k = 0; k < src->nstages; k++) {
        const plan_stage *a = &src->stages[k];
        plan_stage *b = plan_add_stage(dst);
        if (!b)
            return -1;
        for (size_t j = 0; j < a->nrules; j++) {
            if (plan_stage_add_rule(dst, b, a->rules[j].kind,
                                    a->rules[j].pattern))
                return -1;
            /* freezes come first in a, so each lands at index j */
            b->rules[j].line = a->rules[j].line;
            b->rules[j].col = a->rules[j].col;
        }
        b->steps = a->steps;
        b->epochs = a->epochs;
        b->lr = a->lr;
        b->line = a->line;
        b->col = a->col;
    }
    return 0;
}

static void snapshot_free(plan *p)
{
    if (p) {
        plan_free(p);
        free(p);
    }
}

/* A copy of the plan's stages, or NULL with err set. */
static plan *snapshot(const session *s)
{
    plan *p = malloc(sizeof *p);
    if (!p) {
        err_set("out of memory");
        return NULL;
    }
    plan_init(p);
    if (copy_stages(p, &s->base)) {
        snapshot_free(p);
        return NULL;
    }
    p->layer_decay = s->base.layer_decay;
    p->layer_decay_line = s->base.layer_decay_line;
    p->layer_decay_col = s->base.layer_decay_col;
    return p;
}

void session_step_release(session_step *st)
{
    for (size_t i = 0; st->rules && i < st->rules_added; i++)
        free(st->rules[i].pattern);
    free(st->rules);
    snapshot_free(st->stages);
    memset(st, 0, sizeof *st);
}

/* Before an edit: the stages as they are, and room for the step. */
static plan *edit_begin(session *s)
{
    if (s->nundo == s->undo_cap) {
        size_t cap = s->undo_cap ? s->undo_cap * 2 : 16;
        session_step *u = realloc(s->undo, cap * sizeof *u);
        if (!u) {
            err_set("out of memory");
            return NULL;
        }
        s->undo = u;
        s->undo_cap = cap;
    }
    return snapshot(s);
}

/* After an edit: rc 0 records it as one step and shows `stage`; rc -1
 * puts the stages back as they were. Returns rc (or -1 when the stages
 * cannot be resolved). */
static int edit_end(session *s, plan *before, size_t stage, int rc)
{
    if (rc) {
        copy_stages(&s->base, before); /* room exists: same sizes */
        snapshot_free(before);
        s->stages_stale = 1;
        session_stages_update(s);
        return -1;
    }
    session_step st;
    memset(&st, 0, sizeof st);
    st.rules_before = s->nrules;
    st.stages = before;
    st.stage = s->stage; /* undo shows the stage shown before the edit */
    s->undo[s->nundo++] = st;
    while (s->nredo)
        session_step_release(&s->redo[--s->nredo]);
    s->has_base = 1;
    s->stage = stage;
    s->stages_stale = 1;
    return session_stages_update(s);
}

int session_stage_swap(session *s, session_step *st)
{
    plan *now = snapshot(s);
    if (!now)
        return -1;
    if (copy_stages(&s->base, st->stages)) {
        copy_stages(&s->base, now);
        snapshot_free(now);
        return -1;
    }
    s->base.layer_decay = st->stages->layer_decay;
    s->base.layer_decay_line = st->stages->layer_decay_line;
    s->base.layer_decay_col = st->stages->layer_decay_col;
    snapshot_free(st->stages);
    st->stages = now;
    size_t n = session_stage_count(s), was = s->stage;
    s->stage = st->stage < n ? st->stage : n - 1;
    st->stage = was; /* and the way back shows the one shown now */
    s->stages_stale = 1;
    return session_stages_update(s);
}

/* --- the edits --- */

/* Whether `epochs` is the unit of every other stage with a length. */
static int unit_ok(const session *s, size_t k, int epochs)
{
    for (size_t i = 0; i < s->base.nstages; i++) {
        const plan_stage *x = &s->base.stages[i];
        if (i == k)
            continue;
        if ((epochs && x->steps != PLAN_UNSET) ||
            (!epochs && x->epochs != PLAN_UNSET))
            return err_set("the other stages are counted in %s: give this "
                           "one in %s too", epochs ? "steps" : "epochs",
                           epochs ? "steps" : "epochs");
    }
    return 0;
}

static void set_length(plan_stage *x, uint64_t len, int epochs)
{
    x->steps = len && !epochs ? len : PLAN_UNSET;
    x->epochs = len && epochs ? len : PLAN_UNSET;
}

int session_stage_add(session *s, size_t after, uint64_t len, int epochs)
{
    if (after >= session_stage_count(s))
        return err_set("no stage %zu", after);
    if (len && unit_ok(s, after, epochs))
        return -1;
    plan *before = edit_begin(s);
    if (!before)
        return -1;
    int rc = 0;
    if (!s->base.nstages && !plan_add_stage(&s->base))
        rc = -1;
    if (!rc && !plan_insert_stage(&s->base, after + 1))
        rc = -1;
    if (!rc && len)
        set_length(&s->base.stages[after], len, epochs);
    return edit_end(s, before, after + 1, rc);
}

int session_stage_delete(session *s, size_t k)
{
    if (k == 0 || k >= s->base.nstages)
        return err_set(k ? "no stage %zu" : "stage %zu is the plan's own "
                       "set: it cannot be deleted", k);
    plan *before = edit_begin(s);
    if (!before)
        return -1;
    plan_delete_stage(&s->base, k);
    if (s->base.nstages == 1)
        plan_delete_stage(&s->base, 0);
    return edit_end(s, before, k - 1, 0);
}

int session_stage_set_length(session *s, size_t k, uint64_t len, int epochs)
{
    if (k >= s->base.nstages)
        return err_set("no stage %zu: + adds one", k);
    if (len && unit_ok(s, k, epochs))
        return -1;
    if (!len && k + 1 < s->base.nstages)
        return err_set("only the last stage may run to the end: stage %zu "
                       "needs a length", k);
    plan *before = edit_begin(s);
    if (!before)
        return -1;
    set_length(&s->base.stages[k], len, epochs);
    return edit_end(s, before, k, 0);
}

int session_stage_set_lr(session *s, size_t k, double lr)
{
    if (k == 0 || k >= s->base.nstages)
        return err_set(k ? "no stage %zu" : "stage 0 trains at the "
                       "optimizer's lr: an lr belongs to a later stage", k);
    if (!isnan(lr) && !(isfinite(lr) && lr > 0))
        return err_set("an lr is a finite number > 0");
    plan *before = edit_begin(s);
    if (!before)
        return -1;
    s->base.stages[k].lr = lr;
    return edit_end(s, before, k, 0);
}

/* What changed between two sets of parameters. */
static void diff_report(const table *t, const bitset *a, const bitset *b,
                        freeze_report *rep)
{
    memset(rep, 0, sizeof *rep);
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        int fa = bitset_get(a, i), fb = bitset_get(b, i);
        if (x->kind != TK_PARAMETER || fa == fb)
            continue;
        rep->tensors_changed++;
        rep->numel_changed += x->numel;
        if (fb) {
            rep->tensors_frozen++;
            rep->numel_frozen += x->numel;
        }
    }
}

int session_stage_rule(session *s, plan_rule_kind kind, const char *pattern,
                       int allow_empty, session_result *res)
{
    bitset was, hits, scratch;
    size_t k = s->stage, matched = 0;
    unsigned long long numel = 0;
    char hint[600];
    int rc = -1;
    was.w = hits.w = scratch.w = NULL;
    if (kind == PLAN_INVERT)
        return err_set("invert works on the plan's own set: [ goes back to "
                       "stage 0");
    if (k == 0 || k >= s->base.nstages || !pattern)
        return err_set("no stage to add the rule to");
    if (session_stages_update(s) || bitset_init(&was, s->t.count) ||
        bitset_init(&hits, s->t.count))
        goto out;
    bitset_copy(&was, session_shown_frozen(s));
    if (bitset_init(&scratch, s->t.count))
        goto out;
    bitset_copy(&scratch, &was);
    int bad = plan_apply_rule(&s->t, kind, pattern, &scratch, &matched,
                              &numel, &hits);
    bitset_free(&scratch);
    if (bad)
        goto out;
    if (!matched && !allow_empty) {
        err_set("pattern '%.200s%s' matches nothing in %s%s", pattern,
                strlen(pattern) > 200 ? "..." : "", s->checkpoint,
                plan_hint(&s->t, pattern, hint, sizeof hint));
        goto out;
    }
    plan *before = edit_begin(s);
    if (!before)
        goto out;
    if (edit_end(s, before, k,
                 plan_stage_add_rule(&s->base, &s->base.stages[k], kind,
                                     pattern)))
        goto out;
    if (res) {
        memset(res, 0, sizeof *res);
        diff_report(&s->t, &was, session_shown_frozen(s), &res->change);
        res->matched_tensors = bitset_count(&hits);
        res->matched_numel = numel;
        res->empty_rules = matched == 0;
    }
    rc = 0;
out:
    bitset_free(&was);
    bitset_free(&hits);
    return rc;
}

int session_stages_check(session *s)
{
    const plan *p = &s->base;
    if (!p->nstages)
        return 0;
    if (session_stages_update(s))
        return -1;
    for (size_t k = 1; k < p->nstages; k++)
        if (!s->stages.thawed[k] && !s->stages.refrozen[k])
            return err_set("stage %zu changes nothing: f, F or Space on it "
                           "adds a rule, D deletes it", k);
    for (size_t k = 0; k + 1 < p->nstages; k++)
        if (p->stages[k].steps == PLAN_UNSET &&
            p->stages[k].epochs == PLAN_UNSET)
            return err_set("stage %zu has no length: L on it sets one (only "
                           "the last stage runs to the end)", k);
    return plan_check_stages(p);
}

int session_stage_attach(session *s, const plan *src, int stages, int decay)
{
    if (s->nundo == 0 || s->undo[s->nundo - 1].stages)
        return err_set("no step to attach the stages to");
    plan *before = snapshot(s);
    if (!before)
        return -1;
    if (stages && copy_stages(&s->base, src)) {
        copy_stages(&s->base, before);
        snapshot_free(before);
        return -1;
    }
    if (decay) {
        s->base.layer_decay = src->layer_decay;
        s->base.layer_decay_line = s->base.layer_decay_col = 0;
    }
    session_step *st = &s->undo[s->nundo - 1];
    st->stages = before;
    st->stage = s->stage;
    s->has_base = 1;
    s->stage = 0;
    s->stages_stale = 1;
    return session_stages_update(s);
}
