/* train_stages_report.c: the stages in the final report and in
 * report.json (docs/training.md, "Progress and the report"): per stage
 * its steps, the parameters requiring grad and the gradient and
 * optimizer bytes measured after its last step, each against that
 * stage's estimate (memory_estimate of its frozen set, the figures of
 * `tui --summary`'s stage table). */
#include <stdio.h>

#include "../core/human.h"
#include "train_impl.h"

/* The steps stage k ran, 1-based, first..last; 0 when it never began. */
static int stage_steps(const trainer *t, size_t k, uint64_t *first,
                       uint64_t *last)
{
    uint64_t a = t->stage_start[k];
    uint64_t b = k + 1 < t->stages.n ? t->stage_start[k + 1] : UINT64_MAX;
    if (a >= t->step)
        return 0;
    *first = a + 1;
    *last = b < t->step ? b : t->step;
    return 1;
}

/* The estimate of stage k (zeros without one). */
static mem_parts stage_estimate(const trainer *t, size_t k)
{
    mem_parts z = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    return t->have_stage_est ? t->stage_est[k].after : z;
}

static void text_line(const trainer *t, size_t k, FILE *o)
{
    const stage_figures *f = &t->stage_fig[k];
    mem_parts e = stage_estimate(t, k);
    uint64_t first = 0, last = 0;
    char h1[32], h2[32];
    fprintf(o, "    stage %zu (%zu/%zu)", k, k + 1, t->stages.n);
    if (!stage_steps(t, k, &first, &last)) {
        fprintf(o, ": not reached (the run ended at step %llu); estimate: "
                "trainable %llu parameters, gradients %llu, optimizer %llu\n",
                (unsigned long long)t->step,
                (unsigned long long)e.trainable_numel,
                (unsigned long long)e.gradients,
                (unsigned long long)e.optimizer);
        return;
    }
    if (first == last)
        fprintf(o, ", step %llu: ", (unsigned long long)first);
    else
        fprintf(o, ", steps %llu-%llu: ", (unsigned long long)first,
                (unsigned long long)last);
    if (!f->measured) {
        fprintf(o, "not measured (its steps ran before a resume, from a "
                "checkpoint that does not record them); estimate: trainable "
                "%llu parameters, gradients %llu, optimizer %llu\n",
                (unsigned long long)e.trainable_numel,
                (unsigned long long)e.gradients,
                (unsigned long long)e.optimizer);
        return;
    }
    fprintf(o, "trainable %llu parameters in %llu tensors, estimate %llu in "
            "%llu: %s; ", (unsigned long long)f->numel,
            (unsigned long long)f->tensors,
            (unsigned long long)e.trainable_numel,
            (unsigned long long)e.trainable_tensors,
            f->numel == e.trainable_numel && f->tensors == e.trainable_tensors
                ? "equal" : "DIFFERENT");
    fprintf(o, "gradients measured %llu bytes (%s), estimate %llu: %s; ",
            (unsigned long long)f->grad_bytes,
            human_bytes(f->grad_bytes, h1, sizeof h1),
            (unsigned long long)e.gradients,
            f->grad_bytes == e.gradients ? "equal" : "DIFFERENT");
    /* as the run's own line: the trainer keeps Adam's step count as one
     * integer, so the estimate's bookkeeping is not allocated */
    fprintf(o, "optimizer state measured %llu bytes (%s), estimate %llu of "
            "which %llu per-tensor bookkeeping: %s\n",
            (unsigned long long)f->state_bytes,
            human_bytes(f->state_bytes, h2, sizeof h2),
            (unsigned long long)e.optimizer,
            (unsigned long long)e.bookkeeping,
            f->state_bytes == e.optimizer - e.bookkeeping
                ? "equal without it" : "DIFFERENT");
}

static void json_item(const trainer *t, size_t k, FILE *j)
{
    const stage_figures *f = &t->stage_fig[k];
    mem_parts e = stage_estimate(t, k);
    uint64_t first = 0, last = 0;
    int ran = stage_steps(t, k, &first, &last), m = ran && f->measured;
    fprintf(j, "%s{\"stage\":%zu,", k ? "," : "", k);
    if (ran)
        fprintf(j, "\"first_step\":%llu,\"last_step\":%llu,",
                (unsigned long long)first, (unsigned long long)last);
    else
        fputs("\"first_step\":null,\"last_step\":null,", j);
    if (m)
        fprintf(j, "\"trainable_parameters\":%llu,\"trainable_tensors\":%llu,"
                "\"gradient_bytes\":%llu,\"optimizer_bytes\":%llu,",
                (unsigned long long)f->numel, (unsigned long long)f->tensors,
                (unsigned long long)f->grad_bytes,
                (unsigned long long)f->state_bytes);
    else
        fputs("\"trainable_parameters\":null,\"trainable_tensors\":null,"
              "\"gradient_bytes\":null,\"optimizer_bytes\":null,", j);
    fprintf(j, "\"estimate\":{\"trainable_parameters\":%llu,"
            "\"trainable_tensors\":%llu,\"gradients\":%llu,"
            "\"optimizer_state\":%llu,\"bookkeeping\":%llu},",
            (unsigned long long)e.trainable_numel,
            (unsigned long long)e.trainable_tensors,
            (unsigned long long)e.gradients, (unsigned long long)e.optimizer,
            (unsigned long long)e.bookkeeping);
    fprintf(j, "\"gradients_match\":%s,"
            "\"optimizer_match_without_bookkeeping\":%s}",
            !m ? "null" : f->grad_bytes == e.gradients ? "true" : "false",
            !m ? "null"
               : f->state_bytes == e.optimizer - e.bookkeeping ? "true"
                                                               : "false");
}

void train_stages_report(const trainer *t, FILE *o, FILE *j)
{
    if (!train_stages_shown(t))
        return;
    size_t n = t->stages.n;
    if (o) {
        fprintf(o, "  stages (%s, %s): measured after each stage's last step, "
                "estimate per stage as in --summary\n", t->opt, t->precision);
        for (size_t k = 0; k < n; k++)
            text_line(t, k, o);
    }
    if (j) {
        fputs(",\"stages\":[", j);
        for (size_t k = 0; k < n; k++)
            json_item(t, k, j);
        fputc(']', j);
    }
}
