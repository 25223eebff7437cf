/* train_loop.c: the steps, evaluation, progress, metrics and signals. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../core/err.h"
#include "train_impl.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double train_now(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

/* CPU seconds used by the whole process (all threads) so far. */
static double cpu_now(void)
{
    return clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

double train_lr_with(const trainer *t, double lr, uint64_t s)
{
    double w = (double)t->warmup;
    if (strcmp(t->sched, "constant") == 0)
        return lr;
    if (t->warmup > 0 && s < t->warmup)
        return lr * ((double)s + 1.0) / w;
    if (strcmp(t->sched, "linear_warmup") == 0)
        return lr;
    /* cosine: from lr down to 0 over the steps after the warmup */
    double span = (double)t->total - w;
    if (span < 1)
        span = 1;
    double prog = ((double)s - w) / span;
    return lr * 0.5 * (1.0 + cos(M_PI * prog));
}

double train_lr_at(const trainer *t, uint64_t s)
{
    return train_lr_with(t, t->lr, s);
}

static void fmt_eta(double s, char *buf, size_t cap)
{
    if (!isfinite(s) || s < 0)
        s = 0;
    unsigned long long x = (unsigned long long)(s + 0.5);
    if (x >= 3600)
        snprintf(buf, cap, "%lluh%02llum", x / 3600, x / 60 % 60);
    else
        snprintf(buf, cap, "%llu:%02llu", x / 60, x % 60);
}

static void progress(trainer *t, double loss, int force)
{
    double now = train_now();
    uint64_t ep = t->step ? (t->step - 1) / (uint64_t)t->spe + 1 : 1;
    uint64_t eps = (t->total + (uint64_t)t->spe - 1) / (uint64_t)t->spe;
    double sps = t->train_secs > 0 ? (double)t->samples / t->train_secs : 0;
    double per = t->step ? t->train_secs / (double)t->step : 0;
    char eta[32], stg[64] = "";
    fmt_eta(per * (double)(t->total - t->step), eta, sizeof eta);
    if (train_stages_shown(t)) /* counted from 1, as the epochs */
        snprintf(stg, sizeof stg, " stage %zu/%zu", t->stage + 1,
                 t->stages.n);
    if (t->tty) {
        if (!force && now - t->last_draw < 0.1)
            return;
        t->last_draw = now;
        int width = 24;
        int fill = t->total ? (int)((double)width * (double)t->step /
                                    (double)t->total) : width;
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\repoch %llu/%llu%s [%s] step %llu/%llu step loss "
                "%.4f %.1f samples/s ETA %s\033[K", (unsigned long long)ep,
                (unsigned long long)eps, stg, bar, (unsigned long long)t->step,
                (unsigned long long)t->total, loss, sps, eta);
        if (force)
            fputc('\n', stderr);
        return;
    }
    if (!force && t->step % t->log_every != 0)
        return;
    if (force && t->step && t->step == t->logged_step)
        return; /* the last step's line is out already */
    t->logged_step = t->step;
    fprintf(stderr, "epoch %llu/%llu%s step %llu/%llu step loss %.6g "
            "samples/s %.1f eta %s\n", (unsigned long long)ep,
            (unsigned long long)eps, stg, (unsigned long long)t->step,
            (unsigned long long)t->total, loss, sps, eta);
}

static int select_rows(trainer *t, ts_tensor *src, ts_tensor *perm,
                       int64_t start, int64_t n, ts_tensor **out)
{
    if (ts_tensor_rows_select(src, perm, start, n, t->device, out) < 0)
        return err_set("%s: %s", t->data_file, ts_last_error());
    return 0;
}

/* Mean loss and accuracy over the validation rows, in eval mode. */
static int evaluate(trainer *t)
{
    ts_tensor *sx = t->vx ? t->vx : t->x, *sy = t->vy ? t->vy : t->y;
    double lsum = 0;
    int64_t correct = 0, count = 0, rows = 0;
    int acc = 1;
    if (train_model_mode(t, 0) < 0)
        return -1;
    for (int64_t s = 0; s < t->n_val; s += (int64_t)t->batch) {
        int64_t n = t->n_val - s < (int64_t)t->batch ? t->n_val - s
                                                     : (int64_t)t->batch;
        ts_tensor *xb = NULL, *yb = NULL;
        ts_step_result r;
        int rc = select_rows(t, sx, NULL, t->val_start + s, n, &xb);
        if (rc == 0)
            rc = select_rows(t, sy, NULL, t->val_start + s, n, &yb);
        if (rc == 0 && ts_trainer_eval(t->tr, xb, yb, &r) < 0)
            rc = err_set("evaluation: %s", ts_last_error());
        ts_tensor_free(xb);
        ts_tensor_free(yb);
        if (rc < 0)
            return -1;
        lsum += r.loss * (double)n;
        rows += n;
        if (r.correct < 0)
            acc = 0;
        else {
            correct += r.correct;
            count += r.count;
        }
    }
    if (train_model_mode(t, 1) < 0)
        return -1;
    t->val_loss = rows ? lsum / (double)rows : NAN;
    t->val_acc = acc && count ? (double)correct / (double)count : NAN;
    t->have_val = 1;
    t->val_step = t->step;
    if (t->metrics) {
        fprintf(t->metrics, "{\"step\":%llu,\"event\":\"eval\",\"val_loss\":%.9g",
                (unsigned long long)t->step, t->val_loss);
        if (isfinite(t->val_acc))
            fprintf(t->metrics, ",\"val_accuracy\":%.9g", t->val_acc);
        fprintf(t->metrics, "}\n");
        fflush(t->metrics);
    }
    return 0;
}

static void end_epoch(trainer *t)
{
    if (t->ep_steps) {
        t->last_train_loss = t->ep_loss / (double)t->ep_steps;
        t->last_train_acc = t->ep_correct >= 0 && t->ep_count
                                ? (double)t->ep_correct / (double)t->ep_count
                                : NAN;
    }
    t->ep_loss = 0;
    t->ep_correct = 0;
    t->ep_count = 0;
    t->ep_steps = 0;
}

int train_loop(trainer *t)
{
    int rc = 2, measured = 0;
    ts_tensor *perm = NULL;
    int64_t perm_epoch = -1;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (train_model_mode(t, 1) < 0)
        goto cleanup;
    while (t->step < t->total) {
        int64_t epoch = (int64_t)(t->step / (uint64_t)t->spe);
        int64_t pos = (int64_t)(t->step % (uint64_t)t->spe);
        if (epoch != perm_epoch) {
            ts_tensor_free(perm);
            perm = NULL;
            if (ts_randperm(t->n_train, t->seed + (uint64_t)epoch, &perm) < 0) {
                err_set("shuffle: %s", ts_last_error());
                goto cleanup;
            }
            if (t->dist) {
                /* DistributedSampler: this rank's share of the order */
                ts_tensor *mine = NULL;
                int sr = ts_dist_shard(perm, t->rank, t->world, &mine);
                ts_tensor_free(perm);
                perm = mine;
                if (sr < 0) {
                    err_set("shuffle: %s", ts_last_error());
                    goto cleanup;
                }
            }
            perm_epoch = epoch;
        }
        int64_t start = pos * (int64_t)t->batch;
        int64_t n = t->n_rank - start < (int64_t)t->batch ? t->n_rank - start
                                                          : (int64_t)t->batch;
        double t0 = train_now(), c0 = cpu_now();
        ts_tensor *xb = NULL, *yb = NULL;
        ts_step_result r;
        double lr = train_lr_at(t, t->step);
        if (train_stages_step(t, t->step) < 0)
            goto cleanup;
        int bad = select_rows(t, t->x, perm, start, n, &xb) < 0 ||
                  select_rows(t, t->y, perm, start, n, &yb) < 0;
        if (!bad && ts_trainer_step(t->tr, xb, yb, lr, &r) < 0)
            bad = t->dist ? err_set("rank %d: %sstep %llu: %s", t->rank,
                                    ts_dist_lost(t->dist) ? "lost a peer at "
                                                          : "",
                                    (unsigned long long)t->step + 1,
                                    ts_last_error())
                          : err_set("step %llu: %s",
                                    (unsigned long long)t->step + 1,
                                    ts_last_error());
        ts_tensor_free(xb);
        ts_tensor_free(yb);
        if (bad)
            goto cleanup;
        double took = train_now() - t0, cpu = cpu_now() - c0;
        t->train_secs += took;
        if (!r.finite) {
            if (t->tty)
                fputc('\n', stderr);
            err_set("the loss is %s at step %llu (epoch %lld): stopped; "
                    "nothing was saved for this step%s",
                    isnan(r.loss) ? "NaN" : isfinite(r.loss) ? "finite but the "
                    "gradient norm is not" : "infinite",
                    (unsigned long long)t->step + 1, (long long)epoch + 1,
                    t->wrote_ckpt ? " (the last checkpoint is intact)" : "");
            goto cleanup;
        }
        t->step++;
        t->samples += (uint64_t)n * (uint64_t)(t->world > 1 ? t->world : 1);
        t->ep_loss += r.loss;
        t->ep_steps++;
        if (r.correct >= 0 && t->ep_correct >= 0) {
            t->ep_correct += r.correct;
            t->ep_count += r.count;
        } else
            t->ep_correct = -1;
        t->last_step_loss = r.loss;
        if (!measured) {
            if (ts_trainer_bytes(t->tr, &t->grad_bytes, &t->state_bytes) < 0) {
                err_set("%s", ts_last_error());
                goto cleanup;
            }
            measured = t->have_grad_bytes = 1;
        }
        if (train_stages_measure(t) < 0)
            goto cleanup;
        if (t->metrics) {
            fprintf(t->metrics, "{\"step\":%llu,\"epoch\":%lld,\"loss\":%.9g,"
                    "\"lr\":%.17g", (unsigned long long)t->step,
                    (long long)epoch + 1, r.loss, lr);
            if (t->staged)
                fprintf(t->metrics, ",\"stage\":%zu", t->stage);
            if (r.correct >= 0)
                fprintf(t->metrics, ",\"accuracy\":%.9g",
                        r.count ? (double)r.correct / (double)r.count : 0.0);
            if (!isnan(r.grad_norm))
                fprintf(t->metrics, ",\"grad_norm\":%.9g", r.grad_norm);
            fprintf(t->metrics, ",\"time\":%.6f,\"step_time\":%.6f,"
                    "\"step_cpu\":%.6f", train_now() - t->t_start, took, cpu);
            if (t->dist)
                fprintf(t->metrics, ",\"comm_time\":%.6f,\"reduce_time\":%.6f",
                        r.comm_seconds, r.reduce_seconds);
            fputs("}\n", t->metrics);
            fflush(t->metrics);
        }
        if (t->rank == 0)
            progress(t, r.loss, 0);
        int epoch_end = pos + 1 == t->spe;
        if (epoch_end) {
            end_epoch(t);
            if (t->rank == 0 && t->n_val > 0 && evaluate(t) < 0)
                goto cleanup;
        }
        int last = t->step == t->total;
        /* what this step decides on: read once, as a signal may come at
         * any moment */
        int stop = stop_signal;
        if (t->dist) {
            /* a signal to any rank stops them all after the same step:
             * the agreed value, not this rank's flag, decides */
            double v = stop ? 1.0 : 0.0;
            if (ts_dist_sum(t->dist, &v, 1) < 0) {
                err_set("rank %d: lost a peer at step %llu: %s", t->rank,
                        (unsigned long long)t->step, ts_last_error());
                goto cleanup;
            }
            stop = v > 0 ? (stop ? stop : SIGTERM) : 0;
        }
        if (!last && (stop ||
                      (t->ckpt_every && t->step % t->ckpt_every == 0))) {
            int fin = train_model_finite(t);
            if (fin < 0)
                goto cleanup;
            if (!fin) {
                err_set("a trainable weight is NaN or infinite after step "
                        "%llu: stopped; no checkpoint written for it",
                        (unsigned long long)t->step);
                goto cleanup;
            }
            if (t->rank == 0 && train_ckpt_save(t) < 0)
                goto cleanup;
        }
        if (stop && !last) {
            rc = 130;
            if (t->rank != 0)
                goto cleanup; /* rank 0 says it, and saved */
            if (t->tty)
                fputc('\n', stderr);
            fprintf(stderr, "tui: %s at step %llu: checkpoint saved in "
                    "%s/ckpt-%010llu; continue with --resume\n",
                    stop == SIGINT ? "interrupted" : "terminated",
                    (unsigned long long)t->step, t->out_dir,
                    (unsigned long long)t->step);
            rc = 130;
            goto cleanup;
        }
    }
    if (t->ep_steps && t->step % (uint64_t)t->spe != 0) {
        /* max_steps ended mid-epoch: report that partial epoch */
        double l = t->ep_loss;
        int64_t c = t->ep_correct, k = t->ep_count, s = t->ep_steps;
        end_epoch(t);
        t->ep_loss = l;
        t->ep_correct = c;
        t->ep_count = k;
        t->ep_steps = s;
    }
    if (t->rank == 0 && t->n_val > 0 &&
        (!t->have_val || t->val_step != t->step) && evaluate(t) < 0)
        goto cleanup;
    if (t->rank == 0)
        progress(t, t->last_step_loss, 1);
    rc = 0;
cleanup:
    ts_tensor_free(perm);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}
