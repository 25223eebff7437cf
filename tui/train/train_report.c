/* train_report.c: the final report (stdout) and OUT/report.json. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/human.h"
#include "../core/atomic.h"
#include "../core/err.h"
#include "../core/jsonw.h"
#include "train_impl.h"

/* A JSON number, or null when not finite. */
static void jnum(char *buf, size_t cap, double v)
{
    if (isfinite(v))
        snprintf(buf, cap, "%.9g", v);
    else
        snprintf(buf, cap, "null");
}

/* report.json: the figures above, then the frozen parameters by name. */
static int write_json(trainer *t, const char *head, size_t len)
{
    char *buf = NULL, path[4200];
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f)
        return err_set("out of memory");
    fwrite(head, 1, len, f);
    train_stages_report(t, NULL, f);
    fputs(",\"frozen\":[", f);
    size_t k = 0;
    for (size_t i = 0; i < t->mt.count; i++)
        if (bitset_get(&t->frozen, i)) {
            fputs(k++ ? "," : "", f);
            jsonw_string(f, table_name(&t->mt, i), table_at(&t->mt, i)->name_len);
        }
    fputs("]}\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return err_set("out of memory");
    }
    snprintf(path, sizeof path, "%s/report.json", t->out_dir);
    int rc = atomic_write(path, buf, blen);
    free(buf);
    return rc;
}

int train_report(trainer *t, int params_ok, int stats_ok)
{
    uint64_t tt = 0, tn = 0, peak = 0;
    if (ts_trainer_trainable(t->tr, &tt, &tn) < 0)
        return err_set("%s", ts_last_error());
    if (strcmp(t->device, "cuda") == 0 && ts_cuda_peak_bytes(&peak) < 0)
        peak = 0;
    double secs = t->train_secs;
    double sps = secs > 0 ? (double)t->samples / secs : 0;
    double stps = secs > 0 ? (double)t->step / secs : 0;
    const mem_parts *a = &t->est.after;
    uint64_t eg = t->have_est ? a->gradients : 0;
    uint64_t eo = t->have_est ? a->optimizer : 0;
    uint64_t ek = t->have_est ? a->bookkeeping : 0;
    /* The trainer keeps Adam's step count as one integer, not a float32
     * tensor per parameter: the estimate's bookkeeping is not allocated. */
    /* measured by the first step of this process, or restored from the
     * checkpoint when a resume took no step */
    int measured = t->have_grad_bytes;
    uint64_t gb = t->grad_bytes, sb = t->state_bytes;
    int stages = train_stages_shown(t);
    if (stages) {
        /* the estimate is stage 0's (the plan's own frozen set): so are
         * the figures it is held against, whichever stage a resume
         * measured first */
        measured = t->stage_fig[0].measured;
        gb = t->stage_fig[0].grad_bytes;
        sb = t->stage_fig[0].state_bytes;
    }
    int grads_match = measured && gb == eg;
    int state_match = measured && sb == eo - ek;
    /* the epoch whose mean loss is reported, and its steps */
    uint64_t spe = (uint64_t)t->spe;
    uint64_t ep = t->step ? (t->step - 1) / spe + 1 : 0;
    uint64_t ep_done = t->step ? t->step - (ep - 1) * spe : 0;
    char b1[32], b2[32], b3[32], b4[32];
    FILE *o = stdout;
    fprintf(o, "training done: %llu steps in %.2f s (%.2f steps/s, %.1f "
            "samples/s) on %s, %d %s\n", (unsigned long long)t->step,
            secs, stps, sps, t->device, t->threads,
            human_plural((unsigned long long)t->threads, "thread",
                         "threads"));
    fprintf(o, "  train: epoch mean loss %.6g", t->last_train_loss);
    if (isfinite(t->last_train_acc))
        fprintf(o, ", accuracy %.4f", t->last_train_acc);
    if (ep_done == spe)
        fprintf(o, " (epoch %llu, %llu steps)", (unsigned long long)ep,
                (unsigned long long)ep_done);
    else
        fprintf(o, " (epoch %llu, %llu of its %llu steps)",
                (unsigned long long)ep, (unsigned long long)ep_done,
                (unsigned long long)spe);
    if (isfinite(t->last_step_loss))
        fprintf(o, "; last step loss %.6g", t->last_step_loss);
    if (t->have_val) {
        fprintf(o, "\n  validation: loss %.6g", t->val_loss);
        if (isfinite(t->val_acc))
            fprintf(o, ", accuracy %.4f", t->val_acc);
        fprintf(o, " (%lld samples, after step %llu)", (long long)t->n_val,
                (unsigned long long)t->val_step);
    }
    fprintf(o, "\n  trainable: %llu parameters in %llu tensors (of %llu)\n",
            (unsigned long long)tn, (unsigned long long)tt,
            (unsigned long long)(t->have_est ? t->est.param_numel : 0));
    human_bytes(gb, b1, sizeof b1);
    human_bytes(eg, b2, sizeof b2);
    human_bytes(sb, b3, sizeof b3);
    human_bytes(eo, b4, sizeof b4);
    if (stages) {
        train_stages_report(t, o, NULL);
    } else if (measured) {
        fprintf(o, "  gradients: measured %llu bytes (%s), estimate %llu (%s)%s\n",
                (unsigned long long)gb, b1, (unsigned long long)eg,
                b2, grads_match ? ": equal" : ": DIFFERENT");
        fprintf(o, "  optimizer state (%s): measured %llu bytes (%s), estimate "
                "%llu (%s) of which %llu per-tensor bookkeeping%s\n", t->opt,
                (unsigned long long)sb, b3, (unsigned long long)eo,
                b4, (unsigned long long)ek,
                state_match ? ": equal without it" : ": DIFFERENT");
    } else {
        /* a resume that took no step, from a checkpoint that does not
         * record them: nothing was measured, nothing to compare */
        fprintf(o, "  gradients and optimizer state (%s): not measured (no "
                "step since the resume); estimate %llu (%s) and %llu (%s)\n",
                t->opt, (unsigned long long)eg, b2, (unsigned long long)eo, b4);
    }
    const plan_bytes *pb = &t->pl.estimate.bytes;
    if (pb->gradients != PLAN_UNSET || pb->optimizer != PLAN_UNSET)
        fprintf(o, "  the plan's estimate (%s): gradients %lld, optimizer %lld\n",
                t->pl.estimate.optimizer ? t->pl.estimate.optimizer : "?",
                pb->gradients == PLAN_UNSET ? -1LL : (long long)pb->gradients,
                pb->optimizer == PLAN_UNSET ? -1LL : (long long)pb->optimizer);
    if (strcmp(t->device, "cuda") == 0) {
        human_bytes(peak, b1, sizeof b1);
        fprintf(o, "  peak device memory: %llu bytes (%s)\n",
                (unsigned long long)peak, b1);
    }
    size_t nfz = bitset_count(&t->frozen);
    fprintf(o, "  frozen tensors bitwise unchanged: %s (%zu checked)\n",
            params_ok ? "yes" : "NO", nfz);
    fprintf(o, "  running stats of frozen norm layers unchanged: %s (%zu "
            "%s in eval mode)\n", stats_ok ? "yes" : "NO", t->neval,
            human_plural(t->neval, "layer", "layers"));
    fprintf(o, "  outputs: %s/model.ts.pt, %s/weights.safetensors\n",
            t->out_dir, t->out_dir);

    char j[4096], tl[32], ta[32], vl[32], va[32], sl[32];
    jnum(sl, sizeof sl, t->last_step_loss);
    jnum(tl, sizeof tl, t->last_train_loss);
    jnum(ta, sizeof ta, t->last_train_acc);
    jnum(vl, sizeof vl, t->have_val ? t->val_loss : NAN);
    jnum(va, sizeof va, t->have_val ? t->val_acc : NAN);
    char gbs[32], sbs[32];
    if (measured) {
        snprintf(gbs, sizeof gbs, "%llu", (unsigned long long)gb);
        snprintf(sbs, sizeof sbs, "%llu", (unsigned long long)sb);
    } else {
        snprintf(gbs, sizeof gbs, "null");
        snprintf(sbs, sizeof sbs, "null");
    }
    int n = snprintf(j, sizeof j,
        "{\"steps\":%llu,\"seconds\":%.6f,\"steps_per_s\":%.6f,"
        "\"samples_per_s\":%.6f,\"device\":\"%s\",\"threads\":%d,"
        "\"train_loss\":%s,\"train_accuracy\":%s,\"train_epoch\":%llu,"
        "\"train_epoch_steps\":%llu,\"last_step_loss\":%s,\"val_loss\":%s,"
        "\"val_accuracy\":%s,\"trainable_parameters\":%llu,"
        "\"trainable_tensors\":%llu,\"gradient_bytes\":%s,"
        "\"optimizer_bytes\":%s,\"estimate\":{\"optimizer\":\"%s\","
        "\"gradients\":%llu,\"optimizer_state\":%llu,\"bookkeeping\":%llu},"
        "\"gradients_match\":%s,\"optimizer_match_without_bookkeeping\":%s,"
        "\"peak_device_bytes\":%llu,\"frozen_tensors\":%zu,"
        "\"frozen_unchanged\":%s,\"frozen_norm_layers\":%zu,"
        "\"norm_stats_unchanged\":%s",
        (unsigned long long)t->step, secs, stps, sps, t->device, t->threads,
        tl, ta, (unsigned long long)ep, (unsigned long long)ep_done, sl, vl,
        va, (unsigned long long)tn, (unsigned long long)tt, gbs, sbs,
        t->opt, (unsigned long long)eg, (unsigned long long)eo,
        (unsigned long long)ek,
        !measured ? "null" : grads_match ? "true" : "false",
        !measured ? "null" : state_match ? "true" : "false",
        (unsigned long long)peak, nfz,
        params_ok ? "true" : "false", t->neval, stats_ok ? "true" : "false");
    if (n < 0 || (size_t)n >= sizeof j)
        return err_set("report.json: figures too long");
    return write_json(t, j, (size_t)n);
}
