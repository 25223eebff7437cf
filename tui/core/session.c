/* session.c: one editing session over one checkpoint (see session.h). */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "plan_resolve.h"

static void rules_free(session_rule *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].pattern);
}

static void steps_clear(session_step *st, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        rules_free(st[i].rules, st[i].rules_added);
        free(st[i].rules);
    }
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
    memset(s, 0, sizeof *s);
}

int session_resolve_rule(const table *t, plan_rule_kind kind,
                         const char *src, bitset *target, size_t *matched,
                         unsigned long long *numel)
{
    return plan_apply_rule(t, kind, src, target, matched, numel);
}

/* Applies `n` rules as one step. Returns 0, or -1 (nothing changed). */
static int apply_rules(session *s, const session_rule *rules, size_t n,
                       int allow_empty, int is_preset, session_result *res)
{
    session_result r;
    bitset target;
    session_step step;
    memset(&r, 0, sizeof r);
    memset(&step, 0, sizeof step);
    if (bitset_init(&target, s->t.count))
        return err_set("out of memory");
    bitset_copy(&target, &s->fs.frozen);
    /* a preset's rules that match nothing here are not recorded: in the
     * plan they would make every later resolution of it fail */
    unsigned char *keep = calloc(n ? n : 1, 1);
    size_t nkeep = 0;
    if (!keep) {
        bitset_free(&target);
        return err_set("out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        size_t matched;
        unsigned long long numel;
        if (session_resolve_rule(&s->t, rules[i].kind, rules[i].pattern, &target,
                         &matched, &numel))
            goto fail;
        if (matched == 0) {
            r.empty_rules++;
            if (!allow_empty && !is_preset) {
                err_set("pattern '%.200s%s' matches nothing in %s",
                        rules[i].pattern ? rules[i].pattern : "",
                        rules[i].pattern && strlen(rules[i].pattern) > 200
                            ? "..." : "",
                        s->checkpoint);
                goto fail;
            }
        }
        r.matched_tensors += matched;
        r.matched_numel += numel;
        keep[i] = matched > 0 || !is_preset;
        nkeep += keep[i];
    }
    if (is_preset && n > 0 && r.empty_rules == n && !allow_empty) {
        err_set("the preset matches nothing in %s", s->checkpoint);
        goto fail;
    }
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
        if (!keep[i])
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
    free(keep);
    if (res)
        *res = r;
    return 0;
fail:
    if (step.rules)
        rules_free(step.rules, nkeep);
    free(step.rules);
    bitset_free(&target);
    free(keep);
    return -1;
}

int session_apply_rule(session *s, plan_rule_kind kind, const char *src,
                       int allow_empty, session_result *res)
{
    session_rule r = {kind, kind == PLAN_INVERT ? NULL : (char *)src};
    if (kind != PLAN_INVERT && !src)
        return err_set("no pattern given");
    return apply_rules(s, &r, 1, allow_empty, 0, res);
}

/* Expands a preset spec into session rules (caller frees). */
static int expand_preset(const session *s, const preset_list *l,
                         const char *spec, session_rule **out, size_t *n,
                         size_t *dropped)
{
    char name[PRESET_MAX_NAME + 1];
    const char *args;
    preset_vars vars;
    preset_expansion e;
    if (preset_split_spec(spec, name, sizeof name, &args))
        return -1;
    const preset *p = preset_list_find(l, name);
    if (!p)
        return err_set("no preset named '%s' (tui --presets lists them)",
                       name);
    if (preset_vars_from_table(&s->t, &vars) ||
        preset_expand(p, args, &vars, &e))
        return -1;
    session_rule *r = calloc(e.n ? e.n : 1, sizeof *r);
    if (!r) {
        preset_expansion_free(&e);
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
    if (expand_preset(s, l, spec, &r, &n, &dropped))
        return err_prefix("preset '%s'", spec);
    int rc = apply_rules(s, r, n, allow_empty, 1, res);
    if (rc == 0 && res)
        res->dropped_rules = dropped;
    rules_free(r, n);
    free(r);
    return rc ? err_prefix("preset '%s'", spec) : 0;
}

int session_preview_preset(const session *s, const preset_list *l,
                           const char *spec, bitset *out,
                           session_result *res)
{
    session_rule *r;
    size_t n, dropped;
    session_result acc;
    memset(&acc, 0, sizeof acc);
    if (expand_preset(s, l, spec, &r, &n, &dropped))
        return err_prefix("preset '%s'", spec);
    bitset_copy(out, &s->fs.frozen);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t matched;
        unsigned long long numel;
        rc = session_resolve_rule(&s->t, r[i].kind, r[i].pattern, out, &matched,
                          &numel);
        acc.matched_tensors += matched;
        acc.matched_numel += numel;
        acc.empty_rules += matched == 0;
    }
    acc.dropped_rules = dropped;
    rules_free(r, n);
    free(r);
    if (res)
        *res = acc;
    return rc ? err_prefix("preset '%s'", spec) : 0;
}

int session_undo(session *s, session_result *res)
{
    if (s->nundo == 0)
        return 0;
    session_step st = s->undo[--s->nundo];
    session_result r;
    memset(&r, 0, sizeof r);
    if (st.changed)
        freeze_undo(&s->fs, &r.change);
    rules_free(s->rules + st.rules_before, s->nrules - st.rules_before);
    s->nrules = st.rules_before;
    if (grow((void **)&s->redo, &s->redo_cap, s->nredo + 1,
             sizeof *s->redo) == 0)
        s->redo[s->nredo++] = st;
    else
        steps_clear(&st, &(size_t){1});
    if (res)
        *res = r;
    return 1;
}

int session_redo(session *s, session_result *res)
{
    if (s->nredo == 0)
        return 0;
    session_step st = s->redo[s->nredo - 1];
    if (grow((void **)&s->rules, &s->rules_cap, s->nrules + st.rules_added,
             sizeof *s->rules) ||
        grow((void **)&s->undo, &s->undo_cap, s->nundo + 1, sizeof *s->undo))
        return 0;
    s->nredo--;
    session_result r;
    memset(&r, 0, sizeof r);
    if (st.changed)
        freeze_redo(&s->fs, &r.change);
    for (size_t i = 0; i < st.rules_added; i++) {
        s->rules[s->nrules].kind = st.rules[i].kind;
        s->rules[s->nrules].pattern =
            st.rules[i].pattern ? strdup(st.rules[i].pattern) : NULL;
        s->nrules++;
    }
    s->undo[s->nundo++] = st;
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
