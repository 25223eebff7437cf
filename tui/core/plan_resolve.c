/* plan_resolve.c: the one meaning of a plan on a checkpoint (see
 * plan_resolve.h and docs/plan-format.md). */
#include "plan_resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fingerprint.h"
#include "pattern.h"

/* Lists at most this many names in a report line. */
#define REPORT_NAMES 20

/* Model tensors are parameters and buffers. */
static int is_model(const table *t, size_t i)
{
    unsigned k = table_at(t, i)->kind;
    return k == TK_PARAMETER || k == TK_BUFFER;
}

void plan_initial_state(const table *t, bitset *out)
{
    bitset_zero(out);
    if (strcmp(t->format, "torchscript") != 0)
        return;
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        if (x->kind == TK_PARAMETER && !(x->flags & TF_REQUIRES_GRAD))
            bitset_set(out, i);
    }
}

int plan_apply_rule(const table *t, plan_rule_kind kind, const char *src,
                    bitset *target, size_t *matched,
                    unsigned long long *numel, bitset *hits)
{
    *matched = 0;
    *numel = 0;
    if (kind == PLAN_INVERT) {
        for (size_t i = 0; i < t->count; i++) {
            if (table_at(t, i)->kind != TK_PARAMETER)
                continue;
            if (bitset_get(target, i))
                bitset_clear(target, i);
            else
                bitset_set(target, i);
            (*matched)++;
            if (hits)
                bitset_set(hits, i);
            if (!(table_at(t, i)->flags & TF_ALIAS))
                *numel += table_at(t, i)->numel;
        }
        return 0;
    }
    size_t col = 0;
    pattern *p = pattern_compile(src, &col);
    if (!p) {
        char why[1024], hint[600];
        snprintf(why, sizeof why, "%s", err_msg());
        return err_set("pattern '%.200s%s': %s%s", src,
                       strlen(src) > 200 ? "..." : "", why,
                       plan_hint(t, src, hint, sizeof hint));
    }
    bitset m;
    if (bitset_init(&m, t->count)) {
        pattern_free(p);
        return err_set("out of memory");
    }
    pattern_match_table(p, t, &m);
    pattern_free(p);
    /* The names matched count; a tie group's elements once. Then the
     * rule applies to every name of a group it matched a name of. */
    uint64_t n = 0;
    if (table_count_params(t, &m, &n, NULL)) {
        bitset_free(&m);
        return -1;
    }
    *numel = n;
    for (size_t i = 0; i < t->count; i++)
        if (bitset_get(&m, i) && is_model(t, i)) {
            (*matched)++;
            if (hits)
                bitset_set(hits, i);
        }
    table_close_ties(t, &m);
    for (size_t i = 0; i < t->count; i++) {
        if (!bitset_get(&m, i) || !is_model(t, i))
            continue;
        if (kind == PLAN_FREEZE)
            bitset_set(target, i);
        else
            bitset_clear(target, i);
    }
    bitset_free(&m);
    return 0;
}

/* Keeps only parameters in `b`, and makes every tie group whole: a group
 * is frozen when any of its names is. Cannot fail. */
static void keep_parameters(const table *t, bitset *b)
{
    for (size_t i = 0; i < t->count; i++)
        if (table_at(t, i)->kind != TK_PARAMETER)
            bitset_clear(b, i);
    table_close_ties(t, b);
}

/* Writes "HEAD (N): a, b, ... and K more" to f. */
static void report_names(FILE *f, const char *head, const char *const *names,
                         size_t n)
{
    if (!f || n == 0)
        return;
    fprintf(f, "%s (%zu):", head, n);
    for (size_t i = 0; i < n && i < REPORT_NAMES; i++)
        fprintf(f, "%s %s", i ? "," : "", names[i]);
    if (n > REPORT_NAMES)
        fprintf(f, ", ... and %zu more", n - REPORT_NAMES);
    fputc('\n', f);
}

/* The frozen list as a set. Names that are no tensor of the model go to
 * missing[] (borrowed strings; *nmissing of them). Returns 0 or -1. */
static int frozen_from_list(const table *t, const plan *p, bitset *out,
                            const char **missing, size_t *nmissing)
{
    bitset_zero(out);
    *nmissing = 0;
    for (size_t i = 0; i < p->nfrozen; i++) {
        long k = table_find(t, p->frozen[i], strlen(p->frozen[i]));
        if (k < 0 || !is_model(t, (size_t)k))
            missing[(*nmissing)++] = p->frozen[i];
        else
            bitset_set(out, (size_t)k);
    }
    keep_parameters(t, out);
    return 0;
}

/* Resolves the rules from the initial state into `out`. A rule matching
 * nothing fails unless allow_empty (then it is reported and counted).
 * Returns 0 or -1 with err set. */
static int frozen_from_rules(const table *t, const plan *p,
                             const char *plan_path, const char *checkpoint,
                             int allow_empty, bitset *out, size_t *nempty,
                             FILE *report)
{
    plan_initial_state(t, out);
    *nempty = 0;
    for (size_t i = 0; i < p->nrules; i++) {
        const plan_rule *r = &p->rules[i];
        const char *what = r->pattern ? r->pattern : "invert";
        size_t matched = 0;
        unsigned long long numel = 0;
        if (plan_apply_rule(t, r->kind, r->pattern, out, &matched, &numel,
                            NULL))
            return err_prefix("%s:%u:%u", plan_path, r->line, r->col);
        if (matched)
            continue;
        char hint[600];
        if (!allow_empty)
            return err_set("%s:%u:%u: rule '%.200s' matches nothing in %s "
                           "(--allow-empty applies the plan anyway)%s",
                           plan_path, r->line, r->col, what, checkpoint,
                           plan_hint(t, r->pattern, hint, sizeof hint));
        (*nempty)++;
        if (report)
            fprintf(report, "%s:%u:%u: rule '%.200s' matches nothing in "
                    "%s%s\n", plan_path, r->line, r->col, what, checkpoint,
                    plan_hint(t, r->pattern, hint, sizeof hint));
    }
    keep_parameters(t, out);
    return 0;
}

/* Reports the parameters on which `list` and `rules` differ; returns how
 * many. */
static size_t report_changes(const table *t, const bitset *list,
                             const bitset *rules, const char *head,
                             const char **names, FILE *report)
{
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        if (table_at(t, i)->kind == TK_PARAMETER &&
            bitset_get(list, i) != bitset_get(rules, i))
            names[n++] = table_name(t, i);
    report_names(report, head, names, n);
    return n;
}

/* A hand-written plan's counts, when given, are checked as notes. */
static void check_counts(const table *t, const plan *p, const char *plan_path,
                         const char *checkpoint, FILE *report)
{
    table_totals tot;
    table_get_totals(t, &tot);
    if (!report)
        return;
    if (p->model.tensors != PLAN_UNSET && p->model.tensors != tot.tensors)
        fprintf(report, "%s: model.tensors is %llu, %s has %zu\n", plan_path,
                (unsigned long long)p->model.tensors, checkpoint,
                tot.tensors);
    if (p->model.parameters != PLAN_UNSET &&
        p->model.parameters != tot.parameter_numel)
        fprintf(report, "%s: model.parameters is %llu, %s has %llu\n",
                plan_path, (unsigned long long)p->model.parameters,
                checkpoint, (unsigned long long)tot.parameter_numel);
}

int plan_resolve(const table *t, const plan *p, const char *plan_path,
                 const char *checkpoint, int allow_empty, bitset *out,
                 plan_resolution *res, FILE *report)
{
    plan_resolution r;
    bitset listed = {NULL, 0}, ruled = {NULL, 0};
    const char **names = NULL;
    size_t nmissing = 0;
    int rc = -1;
    char head[1200];
    memset(&r, 0, sizeof r);
    if (table_fingerprint(t, r.checkpoint_fp))
        goto out;
    r.fingerprint = !p->model.fingerprint ? PLAN_FP_ABSENT
                    : strcmp(p->model.fingerprint, r.checkpoint_fp) == 0
                        ? PLAN_FP_MATCH
                        : PLAN_FP_STALE;
    names = calloc(p->nfrozen + t->count + 1, sizeof *names);
    if (!names || bitset_init(&listed, t->count) ||
        bitset_init(&ruled, t->count)) {
        err_set("out of memory");
        goto out;
    }
    if (frozen_from_list(t, p, &listed, names, &nmissing))
        goto out;
    int rules = p->has_rules && p->nrules > 0;
    int use_list = p->has_frozen &&
                   (r.fingerprint == PLAN_FP_MATCH || !rules);
    if (r.fingerprint == PLAN_FP_STALE && report)
        fprintf(report, "%s: made for another checkpoint (its fingerprint "
                "differs from %s's): %s\n", plan_path, checkpoint,
                use_list ? "its frozen list is applied by name"
                         : "its rules were resolved again on this one");
    if (r.fingerprint == PLAN_FP_ABSENT)
        check_counts(t, p, plan_path, checkpoint, report);
    if (use_list) {
        if (nmissing) {
            char hint[600];
            err_set("%s: frozen name '%.300s' is not a tensor of %s%s%s",
                    plan_path, names[0], checkpoint,
                    nmissing > 1 ? " (and more names are missing)" : "",
                    plan_hint_name(t, names[0], hint, sizeof hint));
            goto out;
        }
        r.source = PLAN_FROM_LIST;
        bitset_copy(out, &listed);
        /* Hand edits to the rules of a plan whose list is in force. */
        if (rules && report &&
            frozen_from_rules(t, p, plan_path, checkpoint, 1, &ruled,
                              &r.empty_rules, NULL) == 0) {
            snprintf(head, sizeof head, "%s: its rules give another frozen "
                     "set than its frozen list, which is used (delete the "
                     "frozen: list to use the rules); tensors that differ",
                     plan_path);
            r.changed = report_changes(t, &listed, &ruled, head, names,
                                       report);
        }
        r.empty_rules = 0;
        err_clear();
    } else {
        r.source = PLAN_FROM_RULES;
        if (frozen_from_rules(t, p, plan_path, checkpoint, allow_empty, out,
                              &r.empty_rules, report))
            goto out;
        if (p->has_frozen) {
            r.missing = nmissing;
            snprintf(head, sizeof head, "%s: names its frozen list has "
                     "that %s lacks", plan_path, checkpoint);
            report_names(report, head, names, nmissing);
            snprintf(head, sizeof head, "%s: tensors whose state differs "
                     "from its frozen list (the rules win)", plan_path);
            r.changed = report_changes(t, &listed, out, head, names, report);
        }
    }
    if (res)
        *res = r;
    rc = 0;
out:
    free(names);
    bitset_free(&listed);
    bitset_free(&ruled);
    return rc;
}
