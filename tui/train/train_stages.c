/* train_stages.c: a staged plan in the trainer (docs/plan-format.md,
 * "Stages and layer-wise lr"): the stages and lr rules resolved on the
 * module's tensors, each parameter's lr scale and weight decay, and at
 * each stage's first step the tensors it thaws made trainable and added
 * to the optimizer as a new group (lr the stage's, state empty, as
 * torch.optim's add_param_group), the norm layers they own back in train
 * mode. Group k's lr is the schedule applied to stage k's lr. On several
 * processes the module is wrapped anew at each boundary (a new DDP:
 * rank 0's state broadcast, the reducer over the new trainable set, its
 * first-iteration bucket layout again; docs/distributed.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "train_impl.h"

int train_stages_setup(trainer *t)
{
    const plan *p = &t->pl;
    t->staged = p->nstages || p->nlr_scale || p->nno_decay ||
                !isnan(p->layer_decay);
    if (!t->staged)
        return 0;
    if (stages_resolve(&t->mt, p, &t->frozen, t->plan_path, &t->stages) ||
        lr_scales_resolve(&t->mt, p, t->plan_path, &t->lrs))
        return -1;
    size_t n = t->stages.n;
    t->stage_start = calloc(n, sizeof *t->stage_start);
    t->stage_fig = calloc(n, sizeof *t->stage_fig);
    t->stage_est = calloc(n, sizeof *t->stage_est);
    if (!t->stage_start || !t->stage_fig || !t->stage_est)
        return err_set("out of memory");
    /* each stage's estimate, as --summary's stage table computes it */
    t->have_stage_est = t->have_est;
    for (size_t k = 0; k < n && t->have_stage_est; k++)
        if (memory_estimate(&t->mt, &t->stages.frozen[k], t->est.optimizer,
                            t->est.precision, &t->stage_est[k]) < 0) {
            t->have_stage_est = 0; /* as without t->est: none shown */
            err_clear();
        }
    uint64_t at = 0;
    for (size_t k = 0; k < n; k++) {
        t->stage_start[k] = at;
        const plan_stage *g = k < p->nstages ? &p->stages[k] : NULL;
        if (g && g->steps != PLAN_UNSET)
            at += g->steps;
        else if (g && g->epochs != PLAN_UNSET)
            at += g->epochs * (uint64_t)t->spe;
        else
            at = UINT64_MAX;
    }
    /* stage 0's trainable parameters: their scale and decay */
    for (size_t i = 0; i < t->mt.count; i++)
        if (table_at(&t->mt, i)->kind == TK_PARAMETER &&
            !bitset_get(&t->frozen, i) &&
            ts_trainer_param(t->tr, i, 0, t->lrs.scale[i],
                             !t->lrs.no_decay[i]) < 0)
            return err_set("%s: %s", table_name(&t->mt, i), ts_last_error());
    t->stage = 0;
    return 0;
}

/* Enters stage k: thaws (and freezes again) what it says, in module
 * order, the thawed as group k. Returns 0 or -1. */
static int enter(trainer *t, size_t k)
{
    const bitset *now = &t->stages.frozen[k];
    for (size_t i = 0; i < t->mt.count; i++) {
        const table_tensor *x = table_at(&t->mt, i);
        if (x->kind != TK_PARAMETER || !dtype_is_float((dtype)x->dtype))
            continue;
        int was = bitset_get(&t->frozen, i), is = bitset_get(now, i);
        if (was == is)
            continue;
        if (ts_module_set_requires_grad(t->mod, i, !is) < 0 ||
            (!is && ts_trainer_param(t->tr, i, (int)k, t->lrs.scale[i],
                                     !t->lrs.no_decay[i]) < 0))
            return err_set("stage %zu: %s: %s", k, table_name(&t->mt, i),
                           ts_last_error());
        if (is)
            bitset_set(&t->frozen, i);
        else {
            bitset_clear(&t->frozen, i);
            bitset_clear(&t->hashed, i); /* it trains from here */
        }
    }
    /* the norm layers: frozen ones in eval, the others in train mode */
    if (train_model_norms(t) < 0 || train_model_mode(t, 1) < 0)
        return -1;
    t->stage = k;
    return 0;
}

int train_stages_step(trainer *t, uint64_t step)
{
    if (!t->staged)
        return 0;
    size_t was = t->stage;
    while (t->stage + 1 < t->stages.n && step >= t->stage_start[t->stage + 1])
        if (enter(t, t->stage + 1) < 0)
            return -1;
    /* several processes: DDP wrapped anew over the new trainable set, as
     * the Python route must (nothing while a resume restores: the group
     * joins the trainer after it, train_dist_agree) */
    if (t->stage != was && ts_trainer_dist_rewrap(t->tr) < 0)
        return ts_dist_lost(t->dist)
                   ? err_set("rank %d: lost a peer at step %llu: %s", t->rank,
                             (unsigned long long)step + 1, ts_last_error())
                   : err_set("rank %d: stage %zu: wrapping the module anew: "
                             "%s", t->rank, t->stage, ts_last_error());
    for (size_t k = 1; k <= t->stage; k++) {
        const plan_stage *g = &t->pl.stages[k];
        if (!t->stages.thawed[k])
            continue; /* it only froze: no group of its own */
        double base = isnan(g->lr) ? t->lr : g->lr;
        if (ts_trainer_group_lr(t->tr, (int)k, train_lr_with(t, base, step)) < 0)
            return err_set("stage %zu: %s", k, ts_last_error());
    }
    return 0;
}

int train_stages_restored(trainer *t)
{
    if (!t->staged)
        return 0;
    for (size_t i = 0; i < t->mt.count; i++) {
        if (table_at(&t->mt, i)->kind != TK_PARAMETER || bitset_get(&t->frozen, i))
            continue;
        /* its updates: the steps before t->step of every stage in which
         * it was trainable */
        uint64_t n = 0;
        for (size_t k = 0; k < t->stages.n; k++) {
            uint64_t a = t->stage_start[k];
            uint64_t b = k + 1 < t->stages.n ? t->stage_start[k + 1] : UINT64_MAX;
            if (b > t->step)
                b = t->step;
            if (a < b && !bitset_get(&t->stages.frozen[k], i))
                n += b - a;
        }
        if (ts_trainer_param_steps(t->tr, i, (int64_t)n) < 0)
            return err_set("%s: %s", table_name(&t->mt, i), ts_last_error());
    }
    return 0;
}

int train_stages_shown(const trainer *t)
{
    return t->staged && t->pl.nstages > 0 && t->stage_fig;
}

int train_stages_measure(trainer *t)
{
    if (!train_stages_shown(t))
        return 0;
    stage_figures f = {0, 0, 0, 0, 1};
    size_t n = ts_module_count(t->mod);
    int bad = ts_trainer_bytes(t->tr, &f.grad_bytes, &f.state_bytes) < 0;
    for (size_t i = 0; i < n && !bad; i++) {
        ts_tensor_info x;
        bad = ts_module_info(t->mod, i, &x) < 0;
        if (!bad && !x.is_buffer && x.requires_grad) {
            f.numel += x.numel;
            f.tensors++;
        }
    }
    if (bad)
        return err_set("stage %zu: measuring: %s", t->stage, ts_last_error());
    t->stage_fig[t->stage] = f;
    return 0;
}

int train_stages_meta(const trainer *t, char **out)
{
    size_t n = train_stages_shown(t) ? t->stages.n : 0;
    size_t cap = n * 112 + 1, used = 0;
    char *s = malloc(cap);
    if (!s)
        return err_set("out of memory");
    s[0] = '\0';
    for (size_t k = 0; k < n; k++) {
        const stage_figures *f = &t->stage_fig[k];
        used += (size_t)snprintf(s + used, cap - used, "%s%d %llu %llu %llu "
                                 "%llu", k ? ";" : "", f->measured,
                                 (unsigned long long)f->grad_bytes,
                                 (unsigned long long)f->state_bytes,
                                 (unsigned long long)f->numel,
                                 (unsigned long long)f->tensors);
    }
    *out = s;
    return 0;
}

int train_stages_meta_read(trainer *t, const char *s)
{
    if (!s || !*s || !train_stages_shown(t))
        return 0;
    size_t n = 1;
    for (const char *c = s; *c; c++)
        n += *c == ';';
    if (n != t->stages.n)
        return 0; /* made for other stages: measured again as they run */
    for (size_t k = 0; k < n; k++) {
        int m, used = 0;
        unsigned long long g, st, nu, te;
        if (sscanf(s, "%d %llu %llu %llu %llu%n", &m, &g, &st, &nu, &te,
                   &used) != 5 || (s[used] != ';' && s[used] != '\0'))
            return err_set("bad stage_figures at stage %zu", k);
        stage_figures f = {g, st, nu, te, m != 0};
        t->stage_fig[k] = f;
        s += used + (s[used] == ';');
    }
    return 0;
}

void train_stages_free(trainer *t)
{
    stage_sets_free(&t->stages);
    lr_scales_free(&t->lrs);
    free(t->stage_start);
    free(t->stage_fig);
    free(t->stage_est);
    t->stage_start = NULL;
    t->stage_fig = NULL;
    t->stage_est = NULL;
}
