/* session_plan.c: loading a plan onto a session and saving one
 * (see session.h). */
#include "session.h"
#include "session_stage.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "path.h"
#include "fingerprint.h"
#include "plan_resolve.h"

int session_load_plan(session *s, const char *plan_path, int allow_empty,
                      FILE *report)
{
    plan p;
    bitset want;
    plan_resolution res;
    char *foreign = NULL;
    int rc = -1;
    plan_init(&p);
    want.w = NULL;
    if (plan_load(plan_path, &p))
        goto out;
    if (bitset_init(&want, s->t.count)) {
        err_set("out of memory");
        goto out;
    }
    if (plan_resolve(&s->t, &p, plan_path, s->checkpoint, allow_empty, &want,
                     &res, report))
        goto out;
    if (res.fingerprint == PLAN_FP_STALE && !(foreign = strdup(plan_path))) {
        err_set("out of memory");
        goto out;
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
    /* the tree counts the plan's own set while it changes */
    if (s->stage > 0)
        session_select_stage(s, 0);
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
    while (s->nundo || s->nredo)
        session_step_release(s->nundo ? &s->undo[--s->nundo]
                                      : &s->redo[--s->nredo]);
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
    free(s->foreign_plan);
    s->foreign_plan = foreign;
    foreign = NULL;
    err_clear();
    activation_free(s->measured);
    free(s->measured);
    s->measured = NULL;
    if (p.estimate.activations)
        (void)session_set_measurement(s, p.estimate.activations, NULL);
    plan_free(&s->base);
    s->base = p;
    plan_init(&p);
    s->has_base = 1;
    s->stage = 0;
    s->stages_stale = 1;
    rc = 0;
out:
    free(foreign);
    bitset_free(&want);
    plan_free(&p);
    return rc;
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
    char *fd = path_dir(from), *td = path_dir(to), *abs = NULL, *rel = NULL;
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
    int fresh;
    const activation *m = session_measurement(s, &fresh);
    activation *keep = NULL;
    if (m && fresh && (!(keep = malloc(sizeof *keep)) ||
                       activation_copy(keep, m))) {
        free(keep);
        return err_set("out of memory");
    }
    activation_free(p->estimate.activations);
    free(p->estimate.activations);
    p->estimate.activations = keep;
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
    if (session_stages_check(s))
        return -1;
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
    /* the file saved, over the foreign plan or elsewhere, is this
     * checkpoint's plan now */
    free(s->foreign_plan);
    s->foreign_plan = NULL;
    return 0;
}

int session_write_measure_plan(session *s, const char *path,
                               int all_trainable)
{
    char why[600];
    plan q;
    int rc = -1;
    if (!session_can_measure(s, why, sizeof why))
        return err_set("%s", why);
    plan_init(&q);
    if (session_make_plan(s, path, &q))
        goto out;
    if (all_trainable) {
        q.nrules = 0;
        plan_clear_frozen(&q);
        q.estimate.trainable_parameters = PLAN_UNSET;
        q.estimate.bytes = (plan_bytes){PLAN_UNSET, PLAN_UNSET, PLAN_UNSET,
                                        PLAN_UNSET, PLAN_UNSET, PLAN_UNSET,
                                        PLAN_UNSET};
        activation_free(q.estimate.activations);
        free(q.estimate.activations);
        q.estimate.activations = NULL;
    }
    /* the train: strings stay in base's arena, which outlives q; those
     * rebased are copied into q's */
    q.train = s->base.train;
    q.batchnorm = s->base.batchnorm ? s->base.batchnorm
                                    : PLAN_BN_FREEZE_STATS;
    if ((s->base_path && rebase_train(&q, s->base_path, path)) ||
        plan_write(&q, path))
        goto out;
    rc = 0;
out:
    q.train.present = 0;
    plan_free(&q);
    return rc;
}
