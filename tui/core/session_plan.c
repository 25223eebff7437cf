/* session_plan.c: loading a plan onto a session and saving one
 * (see session.h). */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fingerprint.h"

/* Lists at most this many names in a difference report. */
#define REPORT_NAMES 20

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

/* The frozen set the plan's `frozen` list names. Unknown names go to
 * *missing (malloc'ed array of borrowed strings). Returns 0 or -1. */
static int frozen_from_list(const session *s, const plan *p, bitset *out,
                            const char ***missing, size_t *nmissing)
{
    *missing = calloc(p->nfrozen + 1, sizeof **missing);
    *nmissing = 0;
    if (!*missing)
        return err_set("out of memory");
    for (size_t i = 0; i < p->nfrozen; i++) {
        long k = table_find(&s->t, p->frozen[i], strlen(p->frozen[i]));
        if (k < 0 || table_at(&s->t, (size_t)k)->kind != TK_PARAMETER)
            (*missing)[(*nmissing)++] = p->frozen[i];
        else
            bitset_set(out, (size_t)k);
    }
    return 0;
}

/* Resolves the plan's rules from the initial state into `out`. Rules that
 * match nothing are reported. Returns 0 or -1. */
static int frozen_from_rules(const session *s, const plan *p,
                             const char *plan_path, bitset *out, FILE *report)
{
    bitset_copy(out, &s->initial);
    for (size_t i = 0; i < p->nrules; i++) {
        const plan_rule *r = &p->rules[i];
        size_t matched = 0;
        unsigned long long numel = 0;
        if (session_resolve_rule(&s->t, r->kind, r->pattern, out, &matched,
                                 &numel))
            return err_prefix("%s:%u:%u", plan_path, r->line, r->col);
        if (matched == 0 && report)
            fprintf(report, "%s:%u:%u: rule '%s' matches nothing in %s\n",
                    plan_path, r->line, r->col,
                    r->pattern ? r->pattern : "invert", s->checkpoint);
    }
    return 0;
}

/* Writes which tensors differ between `a` (the plan's list) and `b` (the
 * rules resolved again). */
static void report_changes(const session *s, const bitset *a,
                           const bitset *b, const char *plan_path,
                           FILE *report)
{
    const char **names = calloc(s->t.count + 1, sizeof *names);
    size_t n = 0;
    if (!names || !report) {
        free(names);
        return;
    }
    for (size_t i = 0; i < s->t.count; i++)
        if (table_at(&s->t, i)->kind == TK_PARAMETER &&
            bitset_get(a, i) != bitset_get(b, i))
            names[n++] = table_name(&s->t, i);
    char head[1200];
    snprintf(head, sizeof head, "%s: tensors whose state changed when the "
             "rules were resolved again on this checkpoint", plan_path);
    report_names(report, head, names, n);
    free(names);
}

int session_load_plan(session *s, const char *plan_path, FILE *report)
{
    plan p;
    bitset listed, want;
    const char **missing = NULL;
    size_t nmissing = 0;
    char fp[72];
    int rc = -1;
    plan_init(&p);
    listed.w = want.w = NULL;
    if (plan_load(plan_path, &p))
        goto out;
    if (table_fingerprint(&s->t, fp))
        goto out;
    if (bitset_init(&listed, s->t.count) || bitset_init(&want, s->t.count)) {
        err_set("out of memory");
        goto out;
    }
    if (frozen_from_list(s, &p, &listed, &missing, &nmissing))
        goto out;
    int same = p.model.fingerprint && strcmp(p.model.fingerprint, fp) == 0;
    if (same && (!p.has_rules || p.nrules == 0 || p.has_frozen)) {
        if (nmissing) {
            err_set("%s: frozen name '%s' is not a parameter of %s",
                    plan_path, missing[0], s->checkpoint);
            goto out;
        }
        bitset_copy(&want, p.has_frozen ? &listed : &s->initial);
        if (!p.has_frozen && frozen_from_rules(s, &p, plan_path, &want,
                                               report))
            goto out;
    } else {
        if (report)
            fprintf(report, "%s: the checkpoint is not the one this plan "
                    "was made for (fingerprint differs): its rules were "
                    "resolved again\n", plan_path);
        if (frozen_from_rules(s, &p, plan_path, &want, report))
            goto out;
        char head[1200];
        snprintf(head, sizeof head, "%s: names the plan freezes that %s "
                 "lacks", plan_path, s->checkpoint);
        report_names(report, head, missing, nmissing);
        report_changes(s, &listed, &want, plan_path, report);
    }
    /* Commit: rules, state, history, base plan. */
    session_rule *rules = calloc(p.nrules + 1, sizeof *rules);
    if (!rules) {
        err_set("out of memory");
        goto out;
    }
    for (size_t i = 0; i < p.nrules; i++) {
        rules[i].kind = p.rules[i].kind;
        if (p.rules[i].pattern &&
            !(rules[i].pattern = strdup(p.rules[i].pattern))) {
            for (size_t j = 0; j < i; j++)
                free(rules[j].pattern);
            free(rules);
            err_set("out of memory");
            goto out;
        }
    }
    freeze_report rep;
    if (freeze_assign(&s->fs, &want, &rep)) {
        for (size_t j = 0; j < p.nrules; j++)
            free(rules[j].pattern);
        free(rules);
        goto out;
    }
    freeze_clear_history(&s->fs);
    freeze_mark_saved(&s->fs);
    for (size_t i = 0; i < s->nrules; i++)
        free(s->rules[i].pattern);
    free(s->rules);
    s->rules = rules;
    s->nrules = s->rules_cap = p.nrules;
    while (s->nundo || s->nredo) {
        session_step *st = s->nundo ? &s->undo[--s->nundo]
                                    : &s->redo[--s->nredo];
        for (size_t i = 0; i < st->rules_added; i++)
            free(st->rules[i].pattern);
        free(st->rules);
    }
    mem_optimizer o;
    mem_precision q;
    if (p.estimate.optimizer && memory_optimizer_parse(p.estimate.optimizer,
                                                       &o) == 0)
        s->optimizer = o;
    if (p.estimate.precision && memory_precision_parse(p.estimate.precision,
                                                       &q) == 0)
        s->precision = q;
    char *bp = strdup(plan_path);
    if (!bp) {
        err_set("out of memory");
        goto out;
    }
    free(s->base_path);
    s->base_path = bp;
    err_clear();
    plan_free(&s->base);
    s->base = p;
    plan_init(&p);
    s->has_base = 1;
    rc = 0;
out:
    free(missing);
    bitset_free(&listed);
    bitset_free(&want);
    plan_free(&p);
    return rc;
}

/* The folder part of a path ("." when it has none); malloc'ed. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Rewrites one train: path, relative to the plan at `from`, so that it is
 * relative to the plan at `to`. Returns 0, or -1 with err set. */
static int rebase_path(plan *p, const char **field, const char *from,
                       const char *to)
{
    const char *v = *field;
    int rc = -1;
    if (!v || !*v || v[0] == '/')
        return 0;
    char *fd = dir_of(from), *td = dir_of(to), *abs = NULL, *rel = NULL;
    if (!fd || !td || asprintf(&abs, "%s/%s", fd, v) < 0) {
        abs = NULL;
        err_set("out of memory");
        goto out;
    }
    if (!(rel = plan_relpath(td, abs)))
        goto out;
    if ((*field = plan_strdup(p, rel)) != NULL)
        rc = 0;
out:
    free(fd);
    free(td);
    free(abs);
    free(rel);
    return rc;
}

/* A plan saved into another folder than the one it was read from keeps
 * its train: paths pointing at the same files. Returns 0 or -1. */
static int rebase_train(plan *p, const char *from, const char *to)
{
    plan_train *tr = &p->train;
    if (!tr->present)
        return 0;
    return rebase_path(p, &tr->model, from, to) ||
           rebase_path(p, &tr->init, from, to) ||
           rebase_path(p, &tr->data.train, from, to) ||
           rebase_path(p, &tr->data.val, from, to) ||
           rebase_path(p, &tr->output, from, to) ? -1 : 0;
}

int session_make_plan(session *s, const char *plan_path, plan *out)
{
    char fp[72];
    mem_estimate e;
    table_totals tot;
    plan *p = out;
    if (table_fingerprint(&s->t, fp) || session_estimate(s, &e))
        return -1;
    table_get_totals(&s->t, &tot);
    if (plan_set_model_path(p, plan_path, s->checkpoint))
        return -1;
    p->model.format = plan_strdup(p, s->t.format);
    p->model.fingerprint = plan_strdup(p, fp);
    if (!p->model.format || !p->model.fingerprint)
        return -1;
    p->model.tensors = tot.tensors;
    p->model.parameters = tot.parameter_numel;
    p->nrules = 0;
    p->has_rules = 1;
    for (size_t i = 0; i < s->nrules; i++)
        if (plan_add_rule(p, s->rules[i].kind, s->rules[i].pattern))
            return -1;
    plan_clear_frozen(p);
    p->has_frozen = 1;
    for (size_t i = 0; i < s->t.count; i++) {
        const table_tensor *x = table_at(&s->t, i);
        if (x->kind == TK_PARAMETER && bitset_get(&s->fs.frozen, i) &&
            plan_add_frozen(p, table_name(&s->t, i), x->name_len))
            return -1;
    }
    p->estimate.optimizer = plan_strdup(p, memory_optimizer_name(e.optimizer));
    p->estimate.precision = plan_strdup(p, memory_precision_name(e.precision));
    if (!p->estimate.optimizer || !p->estimate.precision)
        return -1;
    p->estimate.trainable_parameters = e.after.trainable_numel;
    p->estimate.bytes.weights = e.after.weights;
    p->estimate.bytes.master = e.after.master;
    p->estimate.bytes.gradients = e.after.gradients;
    p->estimate.bytes.optimizer = e.after.optimizer;
    p->estimate.bytes.buffers = e.after.buffers;
    p->estimate.bytes.total = e.after.total;
    p->estimate.bytes.total_if_all_trainable = e.before.total;
    if (p->batchnorm == PLAN_BN_UNSET)
        p->batchnorm = PLAN_BN_FREEZE_STATS;
    if (p == &s->base && s->base_path &&
        rebase_train(p, s->base_path, plan_path))
        return -1;
    return 0;
}

int session_save_plan(session *s, const char *plan_path)
{
    if (!s->has_base) {
        plan_free(&s->base);
        plan_init(&s->base);
        s->has_base = 1;
    }
    char *bp = strdup(plan_path);
    if (!bp)
        return err_set("out of memory");
    if (session_make_plan(s, plan_path, &s->base)) {
        free(bp);
        return -1;
    }
    /* base's train: paths are now relative to plan_path, written or not */
    free(s->base_path);
    s->base_path = bp;
    if (plan_write(&s->base, plan_path))
        return -1;
    freeze_mark_saved(&s->fs);
    return 0;
}
