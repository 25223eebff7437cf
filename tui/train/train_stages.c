/* train_stages.c: a staged plan in the trainer (docs/plan-format.md,
 * "Stages and layer-wise lr"): the stages and lr rules resolved on the
 * module's tensors, each parameter's lr scale and weight decay, and at
 * each stage's first step the tensors it thaws made trainable and added
 * to the optimizer as a new group (lr the stage's, state empty, as
 * torch.optim's add_param_group), the norm layers they own back in train
 * mode. Group k's lr is the schedule applied to stage k's lr. */
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
    if (t->world > 1 || t->dist)
        return err_set("%s: stages and lr rules on several processes are "
                       "not supported yet: train them in one process",
                       t->plan_path);
    if (stages_resolve(&t->mt, p, &t->frozen, t->plan_path, &t->stages) ||
        lr_scales_resolve(&t->mt, p, t->plan_path, &t->lrs))
        return -1;
    size_t n = t->stages.n;
    t->stage_start = calloc(n, sizeof *t->stage_start);
    if (!t->stage_start)
        return err_set("out of memory");
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
    while (t->stage + 1 < t->stages.n && step >= t->stage_start[t->stage + 1])
        if (enter(t, t->stage + 1) < 0)
            return -1;
    for (size_t k = 1; k <= t->stage; k++) {
        const plan_stage *g = &t->pl.stages[k];
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

void train_stages_free(trainer *t)
{
    stage_sets_free(&t->stages);
    lr_scales_free(&t->lrs);
    free(t->stage_start);
    t->stage_start = NULL;
}
