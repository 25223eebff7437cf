/* report_stages.c: stages and learning rates in --summary
 * (report_stages.h). */
#include "report_stages.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/human.h"
#include "../core/jsonw.h"
#include "../core/memory.h"
#include "../core/stages.h"

int report_stages_present(const session *s)
{
    const plan *p = &s->base;
    return s->has_base && (p->nstages || p->nlr_scale || p->nno_decay ||
                           !isnan(p->layer_decay));
}

static const char *plan_name(const session *s)
{
    return s->base_path ? s->base_path : "plan";
}

/* Resolves both parts; on failure nothing is held. */
static int resolve(const session *s, stage_sets *st, lr_scales *lr,
                   mem_estimate **est)
{
    *est = NULL;
    if (stages_resolve(&s->t, &s->base, &s->fs.frozen, plan_name(s), st))
        return -1;
    if (lr_scales_resolve(&s->t, &s->base, plan_name(s), lr)) {
        stage_sets_free(st);
        return -1;
    }
    *est = calloc(st->n, sizeof **est);
    if (!*est) {
        stage_sets_free(st);
        lr_scales_free(lr);
        return err_set("out of memory");
    }
    for (size_t k = 0; k < st->n; k++)
        if (memory_estimate(&s->t, &st->frozen[k], s->optimizer,
                            s->precision, &(*est)[k])) {
            free(*est);
            *est = NULL;
            stage_sets_free(st);
            lr_scales_free(lr);
            return -1;
        }
    return 0;
}

static void release(stage_sets *st, lr_scales *lr, mem_estimate *est)
{
    free(est);
    stage_sets_free(st);
    lr_scales_free(lr);
}

int report_stages_check(const session *s)
{
    if (!report_stages_present(s))
        return 0;
    stage_sets st;
    lr_scales lr;
    mem_estimate *est;
    if (resolve(s, &st, &lr, &est))
        return -1;
    release(&st, &lr, est);
    return 0;
}

static void length_text(const plan_stage *g, int last, char *buf, size_t cap)
{
    if (g && g->steps != PLAN_UNSET)
        snprintf(buf, cap, "%" PRIu64 " steps", g->steps);
    else if (g && g->epochs != PLAN_UNSET)
        snprintf(buf, cap, "%" PRIu64 " epoch%s", g->epochs,
                 g->epochs == 1 ? "" : "s");
    else
        snprintf(buf, cap, "%s", last ? "to the end" : "?");
}

int report_stages_text(FILE *out, const session *s)
{
    if (!report_stages_present(s))
        return 0;
    const plan *p = &s->base;
    stage_sets st;
    lr_scales lr;
    mem_estimate *est;
    char a[32], b[32], c[48], len[32], m[32];
    if (resolve(s, &st, &lr, &est))
        return -1;
    if (p->nstages) {
        size_t peak = 0;
        fprintf(out, "\nstages      length       thaws   freezes  trainable "
                "parameters     lr          memory (%s, %s)\n",
                memory_optimizer_name(s->optimizer),
                memory_precision_name(s->precision));
        for (size_t k = 0; k < st.n; k++) {
            const mem_estimate *e = &est[k];
            length_text(&p->stages[k], k + 1 == st.n, len, sizeof len);
            if (k && !isnan(p->stages[k].lr))
                snprintf(c, sizeof c, "%.4g", p->stages[k].lr);
            else
                snprintf(c, sizeof c, "%s", k ? "the run's" : "-");
            fprintf(out, "  %-9zu %-12s %-7zu %-8zu %-14s (%5s)  %-11s %s\n",
                    k, len, st.thawed[k], st.refrozen[k],
                    human_count(e->after.trainable_numel, a, sizeof a),
                    human_percent(e->after.trainable_numel, e->param_numel, b,
                                  sizeof b),
                    c, human_bytes(e->after.total, m, sizeof m));
            if (e->after.total > est[peak].after.total)
                peak = k;
        }
        fprintf(out, "  peak: stage %zu, %s (activations not included)\n",
                peak, human_bytes(est[peak].after.total, a, sizeof a));
    }
    if (!isnan(lr.factor)) {
        fprintf(out, "\nlayer_decay %.4g: %d layer ids found in the names "
                "(id: the layer's first, lr scale)\n", lr.factor, lr.nlayers);
        for (int id = 0; id < lr.nlayers; id++) {
            size_t i = lr_layer_first(&s->t, &lr, id);
            if (i >= s->t.count)
                continue;
            fprintf(out, "  %-3d %-40.*s x%.6g\n", id,
                    (int)lr_layer_label_len(table_name(&s->t, i), table_at(&s->t, i)->name_len),
                    table_name(&s->t, i),
                    pow(lr.factor, (double)(lr.nlayers - 1 - id)));
        }
    }
    if (p->nlr_scale || p->nno_decay) {
        size_t scaled = 0, nod = 0;
        for (size_t i = 0; i < s->t.count; i++) {
            if (table_at(&s->t, i)->kind != TK_PARAMETER)
                continue;
            double base = lr.layer[i] >= 0
                              ? pow(lr.factor, (double)(lr.nlayers - 1 -
                                                        lr.layer[i]))
                              : 1.0;
            scaled += lr.scale[i] != base;
            nod += lr.no_decay[i];
        }
        fprintf(out, "lr_scale: %zu item%s scale %zu parameter tensors; "
                "no_decay: %zu tensors without weight decay\n",
                p->nlr_scale, p->nlr_scale == 1 ? "" : "s", scaled, nod);
    }
    release(&st, &lr, est);
    return 0;
}

int report_stages_json(FILE *out, const session *s)
{
    if (!report_stages_present(s))
        return 0;
    const plan *p = &s->base;
    stage_sets st;
    lr_scales lr;
    mem_estimate *est;
    if (resolve(s, &st, &lr, &est))
        return -1;
    if (p->nstages) {
        fputs(",\n \"stages\": [", out);
        for (size_t k = 0; k < st.n; k++) {
            const plan_stage *g = &p->stages[k];
            fprintf(out, "%s\n  {\"stage\": %zu", k ? "," : "", k);
            if (g->steps != PLAN_UNSET)
                fprintf(out, ", \"steps\": %" PRIu64, g->steps);
            if (g->epochs != PLAN_UNSET)
                fprintf(out, ", \"epochs\": %" PRIu64, g->epochs);
            if (k && !isnan(g->lr))
                fprintf(out, ", \"lr\": %.17g", g->lr);
            fprintf(out, ", \"thaws\": %zu, \"freezes\": %zu, "
                    "\"trainable_numel\": %" PRIu64 ", \"trainable_tensors\": "
                    "%zu, \"total_bytes\": %" PRIu64 "}", st.thawed[k],
                    st.refrozen[k], est[k].after.trainable_numel,
                    (size_t)est[k].after.trainable_tensors,
                    est[k].after.total);
        }
        fputs("]", out);
    }
    fputs(",\n \"lr\": {\"layer_decay\": ", out);
    if (isnan(lr.factor))
        fputs("null", out);
    else
        fprintf(out, "%.17g", lr.factor);
    fprintf(out, ", \"layers\": %d, \"tensors\": {", lr.nlayers);
    int first = 1;
    for (size_t i = 0; i < s->t.count; i++) {
        const table_tensor *x = table_at(&s->t, i);
        if (x->kind != TK_PARAMETER)
            continue;
        fputs(first ? "\n  " : ",\n  ", out);
        first = 0;
        jsonw_string(out, table_name(&s->t, i), x->name_len);
        fprintf(out, ": {\"layer\": %d, \"lr_scale\": %.17g, \"no_decay\": "
                "%s}", lr.layer[i], lr.scale[i],
                lr.no_decay[i] ? "true" : "false");
    }
    fputs("}}", out);
    release(&st, &lr, est);
    return 0;
}
