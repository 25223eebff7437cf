/* session.c: one editing session over one checkpoint (see session.h). */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "activation_share.h"
#include "err.h"
#include "human.h"
#include "plan_resolve.h"
#include "preset_gen.h"
#include "session_stage.h"
#include "suggest.h"

static void rules_free(session_rule *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].pattern);
}

static void steps_clear(session_step *st, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        session_step_release(&st[i]);
    *n = 0;
}

static int grow(void **buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*buf, ncap * size);
    if (!p)
        return err_set("out of memory");
    *buf = p;
    *cap = ncap;
    return 0;
}

int session_init(session *s, table *t, const char *checkpoint)
{
    memset(s, 0, sizeof *s);
    s->t = *t;
    table_init(t);
    plan_init(&s->base);
    s->optimizer = MEM_ADAMW;
    s->precision = MEM_FP32;
    s->checkpoint = strdup(checkpoint);
    if (!s->checkpoint || bitset_init(&s->initial, s->t.count))
        return err_set("out of memory");
    if (tree_build(&s->tr, &s->t))
        return -1;
    if (freeze_init(&s->fs, &s->tr))
        return -1;
    plan_initial_state(&s->t, &s->initial);
    if (bitset_count(&s->initial)) {
        freeze_report rep;
        if (freeze_assign(&s->fs, &s->initial, &rep))
            return -1;
        freeze_clear_history(&s->fs);
        freeze_mark_saved(&s->fs);
    }
    return 0;
}

void session_free(session *s)
{
    if (!s)
        return;
    rules_free(s->rules, s->nrules);
    free(s->rules);
    steps_clear(s->undo, &s->nundo);
    steps_clear(s->redo, &s->nredo);
    free(s->undo);
    free(s->redo);
    freeze_free(&s->fs);
    tree_free(&s->tr);
    table_free(&s->t);
    plan_free(&s->base);
    free(s->base_path);
    free(s->foreign_plan);
    bitset_free(&s->initial);
    free(s->checkpoint);
    activation_free(s->measured);
    free(s->measured);
    bitset_free(&s->measured_frozen);
    stage_sets_free(&s->stages);
    free(s->thaw);
    memset(s, 0, sizeof *s);
}

/* Model tensors (parameters and buffers) of t. */
static size_t count_model(const table *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++) {
        unsigned k = table_at(t, i)->kind;
        n += k == TK_PARAMETER || k == TK_BUFFER;
    }
    return n;
}

/* The outcome of running rules: each rule's matches, and their union. */
typedef struct {
    size_t *matched;        /* per rule (owned) */
    bitset hits;            /* model tensors any rule matched */
    size_t empty;           /* rules that matched nothing */
    int fits;               /* see session_apply_preset */
} rules_run;

static void run_free(rules_run *x)
{
    free(x->matched);
    bitset_free(&x->hits);
}

/* Applies rules[0..n) in order to `target` into *x (run_free it either
 * way). Returns 0, or -1 with err set. */
static int run_rules(const table *t, const session_rule *rules, size_t n,
                     bitset *target, rules_run *x)
{
    size_t nmodel = count_model(t);
    int part = 0;
    memset(x, 0, sizeof *x);
    x->matched = calloc(n ? n : 1, sizeof *x->matched);
    if (!x->matched || bitset_init(&x->hits, t->count))
        return err_set("out of memory");
    for (size_t i = 0; i < n; i++) {
        unsigned long long numel;
        if (plan_apply_rule(t, rules[i].kind, rules[i].pattern, target,
                            &x->matched[i], &numel, &x->hits))
            return -1;
        x->empty += x->matched[i] == 0;
        part |= x->matched[i] > 0 && x->matched[i] < nmodel;
    }
    x->fits = x->empty == 0 || part;
    return 0;
}

static const char *kind_name(plan_rule_kind k)
{
    return k == PLAN_FREEZE ? "freeze" : k == PLAN_UNFREEZE ? "unfreeze"
                                                            : "invert";
}

/* "1 of its 3 rules matches nothing there: unfreeze 'x'" into buf
 * (`where` is "" or " there"). */
static void describe_empty(const session_rule *rules, size_t n,
                           const rules_run *x, const char *where, char *buf,
                           size_t cap)
{
    size_t used;
    if (x->empty == n && n == 1)
        used = (size_t)snprintf(buf, cap, "its rule matches nothing%s:",
                                where);
    else if (x->empty == n)
        used = (size_t)snprintf(buf, cap, "all %zu of its rules match "
                                "nothing%s:", n, where);
    else
        used = (size_t)snprintf(buf, cap, "%zu of its %zu rules %s "
                                "nothing%s:", x->empty, n,
                                human_plural(x->empty, "matches", "match"),
                                where);
    for (size_t i = 0, k = 0; i < n && used < cap; i++) {
        if (x->matched[i])
            continue;
        const char *p = rules[i].pattern ? rules[i].pattern : "";
        used += (size_t)snprintf(buf + used, cap - used, "%s %s '%.80s%s'",
                                 k++ ? "," : "", kind_name(rules[i].kind), p,
                                 strlen(p) > 80 ? "..." : "");
    }
}

/* Applies `n` rules as one step. Returns 0, or -1 (nothing changed). */
static int apply_rules(session *s, const session_rule *rules, size_t n,
                       int allow_empty, const char *preset_spec,
                       session_result *res)
{
    session_result r;
    bitset target;
    session_step step;
    rules_run x;
    char why[SESSION_EMPTY_TEXT], hint[600];
    uint64_t numel = 0;
    memset(&r, 0, sizeof r);
    memset(&step, 0, sizeof step);
    memset(&x, 0, sizeof x);
    if (bitset_init(&target, s->t.count))
        return err_set("out of memory");
    bitset_copy(&target, &s->fs.frozen);
    /* a preset's rules that match nothing here are not recorded: in the
     * plan they would make every later resolution of it fail */
    size_t nkeep = 0;
    if (run_rules(&s->t, rules, n, &target, &x))
        goto fail;
    if (!preset_spec && x.empty && !allow_empty) {
        err_set("pattern '%.200s%s' matches nothing in %s%s",
                rules[0].pattern ? rules[0].pattern : "",
                rules[0].pattern && strlen(rules[0].pattern) > 200 ? "..."
                                                                   : "",
                s->checkpoint,
                plan_hint(&s->t, rules[0].pattern, hint, sizeof hint));
        goto fail;
    }
    if (preset_spec && !x.fits && !allow_empty) {
        describe_empty(rules, n, &x, " there", why, sizeof why);
        err_set("preset '%s' does not fit %s: %s (--allow-empty applies it "
                "anyway)", preset_spec, s->checkpoint, why);
        goto fail;
    }
    r.empty_rules = x.empty;
    r.matched_tensors = bitset_count(&x.hits);
    if (table_count_params(&s->t, &x.hits, &numel, NULL))
        goto fail;
    r.matched_numel = numel;
    for (size_t i = 0; i < n; i++)
        nkeep += x.matched[i] > 0 || !preset_spec;
    step.rules_before = s->nrules;
    step.rules_added = nkeep;
    if (grow((void **)&s->rules, &s->rules_cap, s->nrules + nkeep,
             sizeof *s->rules) ||
        grow((void **)&s->undo, &s->undo_cap, s->nundo + 1,
             sizeof *s->undo))
        goto fail;
    step.rules = calloc(nkeep ? nkeep : 1, sizeof *step.rules);
    if (!step.rules) {
        err_set("out of memory");
        goto fail;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        if (!(x.matched[i] > 0 || !preset_spec))
            continue;
        step.rules[k].kind = rules[i].kind;
        if (rules[i].pattern && !(step.rules[k].pattern =
                                      strdup(rules[i].pattern))) {
            err_set("out of memory");
            goto fail;
        }
        k++;
    }
    if (freeze_assign(&s->fs, &target, &r.change))
        goto fail;
    step.changed = r.change.tensors_changed > 0;
    for (size_t i = 0; i < nkeep; i++) {
        s->rules[s->nrules].kind = step.rules[i].kind;
        s->rules[s->nrules].pattern =
            step.rules[i].pattern ? strdup(step.rules[i].pattern) : NULL;
        s->nrules++;
    }
    s->undo[s->nundo++] = step;
    steps_clear(s->redo, &s->nredo);
    bitset_free(&target);
    run_free(&x);
    if (res)
        *res = r;
    return 0;
fail:
    if (step.rules)
        rules_free(step.rules, nkeep);
    free(step.rules);
    bitset_free(&target);
    run_free(&x);
    return -1;
}

int session_apply_rule(session *s, plan_rule_kind kind, const char *src,
                       int allow_empty, session_result *res)
{
    session_rule r = {kind, kind == PLAN_INVERT ? NULL : (char *)src};
    if (kind != PLAN_INVERT && !src)
        return err_set("no pattern given");
    if (s->stage > 0)
        return session_stage_rule(s, kind, src, allow_empty, res);
    return apply_rules(s, &r, 1, allow_empty, NULL, res);
}

/* Expands a preset spec into session rules (caller frees). Errors name
 * the preset. */
static int expand_preset(const session *s, const preset_list *l,
                         const char *spec, session_rule **out, size_t *n,
                         size_t *dropped, preset_gen_out *gen)
{
    char name[PRESET_MAX_NAME + 1];
    const char *args;
    preset_vars vars;
    preset_expansion e;
    if (preset_split_spec(spec, name, sizeof name, &args))
        return -1;
    const preset *p = preset_list_find(l, name);
    if (!p) {
        suggest sg;
        suggest_begin(&sg, name);
        for (size_t i = 0; i < l->n; i++)
            suggest_offer(&sg, l->items[i].name);
        return err_set("unknown preset '%s'%s%s%s (tui --presets lists "
                       "them)", name, sg.best ? "; did you mean '" : "",
                       sg.best ? sg.best : "", sg.best ? "'?" : "");
    }
    preset_gen_out_init(gen);
    if (p->gen) {
        /* computed: its stage-0 rules, and what it sets besides */
        if (preset_gen_run(p, args, &s->t, gen))
            return -1;
        e = gen->rules;
        memset(&gen->rules, 0, sizeof gen->rules);
    } else if (preset_vars_from_table(&s->t, &vars) ||
               preset_expand(p, args, &vars, &e)) {
        return -1;
    }
    session_rule *r = calloc(e.n ? e.n : 1, sizeof *r);
    if (!r) {
        preset_expansion_free(&e);
        preset_gen_out_free(gen);
        return err_set("out of memory");
    }
    for (size_t i = 0; i < e.n; i++) {
        r[i].kind = e.rules[i].op == PRESET_FREEZE ? PLAN_FREEZE
                                                   : PLAN_UNFREEZE;
        r[i].pattern = e.rules[i].pattern;
        e.rules[i].pattern = NULL;
    }
    *out = r;
    *n = e.n;
    *dropped = e.dropped;
    preset_expansion_free(&e);
    return 0;
}

int session_apply_preset(session *s, const preset_list *l, const char *spec,
                         int allow_empty, session_result *res)
{
    session_rule *r;
    size_t n, dropped;
    if (s->stage > 0)
        return err_set("presets set the plan's own rules: [ goes back to "
                       "stage 0 (a later stage takes f, F and Space)");
    preset_gen_out g;
    if (expand_preset(s, l, spec, &r, &n, &dropped, &g))
        return -1;
    int rc = apply_rules(s, r, n, allow_empty, spec, res);
    if (rc == 0 && (g.set_stages || g.set_decay))
        rc = session_stage_attach(s, &g.stages, g.set_stages, g.set_decay);
    if (rc == 0 && res)
        res->dropped_rules = dropped;
    rules_free(r, n);
    free(r);
    preset_gen_out_free(&g);
    return rc;
}

int session_preview_preset(const session *s, const preset_list *l,
                           const char *spec, bitset *out,
                           session_preview *pv)
{
    session_rule *r;
    size_t n, dropped;
    bitset b;
    rules_run x;
    table_totals tot;
    uint64_t numel = 0;
    int rc = -1;
    preset_gen_out g;
    memset(pv, 0, sizeof *pv);
    memset(&x, 0, sizeof x);
    if (expand_preset(s, l, spec, &r, &n, &dropped, &g))
        return -1;
    snprintf(pv->made, sizeof pv->made, "%.*s", (int)sizeof pv->made - 1,
             g.summary);
    preset_gen_out_free(&g);
    if (bitset_init(&b, s->t.count)) {
        err_set("out of memory");
        goto out;
    }
    if (run_rules(&s->t, r, n, &b, &x))
        goto out;
    for (size_t i = 0; i < s->t.count; i++)
        if (table_at(&s->t, i)->kind != TK_PARAMETER)
            bitset_clear(&b, i);
    if (table_count_params(&s->t, &b, &numel, &pv->frozen_tensors))
        goto out;
    table_get_totals(&s->t, &tot);
    pv->rules = n;
    pv->dropped_rules = dropped;
    pv->empty_rules = x.empty;
    pv->fits = x.fits;
    pv->matched_tensors = bitset_count(&x.hits);
    pv->frozen_numel = numel;
    pv->total_numel = tot.parameter_numel;
    if (x.empty)
        describe_empty(r, n, &x, "", pv->empty, sizeof pv->empty);
    activation_share sh;
    const activation *m = s->measured ? s->measured
                          : s->has_base ? s->base.estimate.activations
                                        : NULL;
    if (m && activation_share_of(m, &s->t, &b, &sh) == 0) {
        pv->act_kept = sh.kept;
        pv->act_measured = sh.measured;
    }
    if (out)
        bitset_copy(out, &b);
    rc = 0;
out:
    run_free(&x);
    bitset_free(&b);
    rules_free(r, n);
    free(r);
    return rc;
}

const char *session_preview_line(const session_preview *pv, char *buf,
                                 size_t cap)
{
    char a[32], c[32], p[16];
    if (!pv->fits) {
        snprintf(buf, cap, "does not fit this model: %s", pv->empty);
        return buf;
    }
    if (pv->made[0] && pv->rules == 0) {
        snprintf(buf, cap, "%s", pv->made);
        return buf;
    }
    int n = snprintf(buf, cap, "%s %s %s, %s %s (%s)",
             pv->made[0] ? "stage 0 freezes" : "would freeze",
             human_count(pv->frozen_tensors, a, sizeof a),
             human_plural(pv->frozen_tensors, "tensor", "tensors"),
             human_count(pv->frozen_numel, c, sizeof c),
             human_plural(pv->frozen_numel, "parameter", "parameters"),
             human_percent(pv->frozen_numel, pv->total_numel, p, sizeof p));
    if (pv->act_measured && n >= 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, ", keeps ~%s of measured "
                      "activations", human_percent(pv->act_kept,
                      pv->act_measured, p, sizeof p));
    if (pv->empty_rules && n >= 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, "; %s", pv->empty);
    if (pv->made[0] && n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "; %s", pv->made);
    return buf;
}

/* Undoes or redoes a stage step (*r: what changed in the set shown).
 * Returns 0, or -1 (out of memory: nothing changed). */
static int swap_stages(session *s, session_step *st, session_result *r)
{
    bitset was;
    if (bitset_init(&was, s->t.count))
        return err_set("out of memory");
    bitset_copy(&was, session_shown_frozen(s));
    size_t shown = s->stage;
    int rc = session_stage_swap(s, st);
    if (rc == 0 && s->stage == shown) {
        /* the same stage: what its set did */
        const bitset *now = session_shown_frozen(s);
        for (size_t i = 0; i < s->t.count; i++)
            if (table_at(&s->t, i)->kind == TK_PARAMETER &&
                bitset_get(&was, i) != bitset_get(now, i)) {
                r->change.tensors_changed++;
                r->change.numel_changed += table_at(&s->t, i)->numel;
            }
    }
    bitset_free(&was);
    return rc;
}

int session_undo(session *s, session_result *res)
{
    if (s->nundo == 0)
        return 0;
    session_result r;
    memset(&r, 0, sizeof r);
    if (grow((void **)&s->redo, &s->redo_cap, s->nredo + 1,
             sizeof *s->redo))
        return 0;
    session_step *st = &s->undo[s->nundo - 1];
    /* the stages first: the one step that can fail leaves all as it was */
    if (st->stages && swap_stages(s, st, &r))
        return 0;
    if (st->changed || st->rules_added || !st->stages) {
        /* a step on the plan's own set: shown while it changes */
        if (s->stage > 0)
            session_select_stage(s, 0);
        if (st->changed)
            freeze_undo(&s->fs, &r.change);
        rules_free(s->rules + st->rules_before,
                   s->nrules - st->rules_before);
        s->nrules = st->rules_before;
    }
    s->redo[s->nredo++] = s->undo[--s->nundo];
    if (res)
        *res = r;
    return 1;
}

int session_redo(session *s, session_result *res)
{
    if (s->nredo == 0)
        return 0;
    session_step *st = &s->redo[s->nredo - 1];
    if (grow((void **)&s->rules, &s->rules_cap, s->nrules + st->rules_added,
             sizeof *s->rules) ||
        grow((void **)&s->undo, &s->undo_cap, s->nundo + 1, sizeof *s->undo))
        return 0;
    session_result r;
    memset(&r, 0, sizeof r);
    if (st->stages && swap_stages(s, st, &r))
        return 0;
    if (st->changed || st->rules_added || !st->stages) {
        if (s->stage > 0)
            session_select_stage(s, 0);
        if (st->changed)
            freeze_redo(&s->fs, &r.change);
        for (size_t i = 0; i < st->rules_added; i++) {
            s->rules[s->nrules].kind = st->rules[i].kind;
            s->rules[s->nrules].pattern =
                st->rules[i].pattern ? strdup(st->rules[i].pattern) : NULL;
            s->nrules++;
        }
    }
    s->undo[s->nundo++] = s->redo[--s->nredo];
    if (res)
        *res = r;
    return 1;
}

int session_estimate(const session *s, mem_estimate *out)
{
    return memory_estimate(&s->t, &s->fs.frozen, s->optimizer, s->precision,
                           out);
}

int session_quote_pattern(const char *name, size_t len, char *buf,
                          size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int special = strchr("*?[]{}\\,", c) != NULL;
        if (k + 2 + (size_t)special > cap)
            return err_set("name too long for a pattern");
        if (special)
            buf[k++] = '\\';
        buf[k++] = c;
    }
    if (k >= 3 && memcmp(buf, "re:", 3) == 0) {
        if (k + 2 > cap)
            return err_set("name too long for a pattern");
        memmove(buf + 1, buf, k);
        buf[0] = '\\';
        k++;
    }
    buf[k] = '\0';
    return 0;
}
