/* train_measure.c: `tui --headless --plan PLAN --measure-memory`: the
 * plan resolved as training resolves it (train_config, train_data_open,
 * train_model_setup: the same module, frozen set and BatchNorm policy),
 * one forward + loss + backward on the first rows of the plan's data
 * through the shim (ts_activations.h), no update, no file written. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "train_measure.h"

uint64_t measure_margin(const trainer *t, const ts_measure_result *r)
{
    uint64_t grads = t->have_est ? t->est.after.gradients : 0;
    uint64_t held = r->activation_bytes + grads;
    return r->peak_bytes > held ? r->peak_bytes - held : 0;
}

uint64_t measure_total(const trainer *t, const ts_measure_result *r)
{
    uint64_t st = t->have_est ? t->est.after.total : 0;
    return st + r->activation_bytes + measure_margin(t, r);
}

/* "24GiB", "500MB", "1.5 GB", "1000000" (bytes) into *out. Decimal
 * units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB,
 * TiB) of 1024; case does not matter. Returns 0, or -1 with err set. */
static int parse_size(const char *s, uint64_t *out)
{
    static const struct { const char *u; double mul; } units[] = {
        {"", 1}, {"b", 1}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
        {"tb", 1e12}, {"kib", 1024.0}, {"mib", 1048576.0},
        {"gib", 1073741824.0}, {"tib", 1099511627776.0},
    };
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0) || !isdigit((unsigned char)s[0]))
        goto bad;
    while (*end == ' ')
        end++;
    char unit[8];
    size_t n = strlen(end);
    if (n >= sizeof unit)
        goto bad;
    for (size_t i = 0; i <= n; i++)
        unit[i] = (char)tolower((unsigned char)end[i]);
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strcmp(unit, units[i].u) != 0)
            continue;
        double b = floor(v * units[i].mul);
        if (b < 1 || b > 1.8e19)
            goto bad;
        *out = (uint64_t)b;
        return 0;
    }
bad:
    return err_set("--fit: '%s' is not a size (e.g. 24GiB, 500MB, "
                   "1000000 bytes)", s);
}

/* The device as training chooses it (train_main.c's setup). */
static int choose_device(trainer *t)
{
    int cuda = 0;
    if (ts_cuda_available(&cuda) < 0)
        return err_set("%s", ts_last_error());
    if (!cuda && t->device_default) {
        t->device = "cpu";
        if (strcmp(t->precision, "bf16") == 0)
            return err_set("precision bf16 is autocast on cuda, and there "
                           "is no GPU here: use precision fp32");
    }
    if (strcmp(t->device, "cuda") == 0 && !cuda)
        return err_set("cuda is not available (this libtorch has no CUDA, "
                       "or no GPU): use --device cpu");
    if (t->threads && ts_set_threads(t->threads) < 0)
        return err_set("%s", ts_last_error());
    return 0;
}

/* Measures one step on the first `batch` rows of the data. */
static int measure_at(trainer *t, uint64_t batch, unsigned depth,
                      measure_point *p)
{
    int rc = -1;
    ts_tensor *bx = NULL, *by = NULL;
    int64_t rows = ts_tensor_rows(t->x);
    if (batch > (uint64_t)rows) {
        err_set("%s: %lld sample%s, fewer than the batch of %llu: choose "
                "--batch-size %lld or less", t->data_file, (long long)rows,
                rows == 1 ? "" : "s", (unsigned long long)batch,
                (long long)rows);
        goto out;
    }
    if (ts_tensor_rows_select(t->x, NULL, 0, (int64_t)batch, t->device,
                              &bx) < 0 ||
        ts_tensor_rows_select(t->y, NULL, 0, (int64_t)batch, t->device,
                              &by) < 0) {
        err_set("%s: %s", t->data_file, ts_last_error());
        goto out;
    }
    p->batch = batch;
    if (ts_measure_step(t->mod, bx, by, t->loss,
                        strcmp(t->precision, "bf16") == 0, depth,
                        &p->m) < 0) {
        err_set("%s: the batch of %llu from %s does not run through the "
                "model %s: %s", t->plan_path, (unsigned long long)batch,
                t->data_file, t->model_file, ts_last_error());
        goto out;
    }
    ts_measure_totals(p->m, &p->r);
    p->total = measure_total(t, &p->r);
    rc = 0;
out:
    ts_tensor_free(bx);
    ts_tensor_free(by);
    return rc;
}

/* Two batches (half the batch, and the batch), a line through their
 * totals, the largest batch under the limit. */
static int fit_line(trainer *t, uint64_t batch, unsigned depth,
                    measure_point *p, measure_fit *f)
{
    measure_point lo;
    memset(&lo, 0, sizeof lo);
    f->b2 = batch < 2 ? 2 : batch;
    f->b1 = f->b2 / 2;
    if (measure_at(t, f->b1, depth, &lo) < 0)
        return -1;
    ts_measure_free(lo.m);
    if (measure_at(t, f->b2, depth, p) < 0)
        return -1;
    f->t1 = lo.total;
    f->t2 = p->total;
    if (f->t2 <= f->t1)
        return err_set("%s: the measured total does not grow with the batch "
                       "(%llu B at %llu, %llu B at %llu): no fit",
                       t->plan_path, (unsigned long long)f->t1,
                       (unsigned long long)f->b1, (unsigned long long)f->t2,
                       (unsigned long long)f->b2);
    f->k = ((double)f->t2 - (double)f->t1) / (double)(f->b2 - f->b1);
    f->a = (double)f->t1 - f->k * (double)f->b1;
    double n = floor(((double)f->limit - f->a) / f->k);
    f->largest = n < 1 ? 0 : n > 1e15 ? (uint64_t)1e15 : (uint64_t)n;
    return 0;
}

int train_measure_main(const train_options *o)
{
    trainer t;
    memset(&t, 0, sizeof t);
    plan_init(&t.pl);
    table_init(&t.mt);
    err_clear();
    int rc = 2;
    measure_point p;
    memset(&p, 0, sizeof p);
    measure_fit f;
    memset(&f, 0, sizeof f);
    unsigned depth = o->depth ? o->depth : 1;
    if (o->fit && parse_size(o->fit, &f.limit) < 0)
        goto out;
    f.limit_text = o->fit;
    if (train_config(&t, o) < 0 || choose_device(&t) < 0 ||
        train_data_open(&t) < 0 || train_model_setup(&t) < 0 ||
        train_model_mode(&t, 1) < 0)
        goto out;
    if (!t.have_est) {
        err_set("%s: no memory estimate for this model", t.plan_path);
        goto out;
    }
    uint64_t batch = o->batch_size ? o->batch_size : t.batch;
    if (o->fit ? fit_line(&t, batch, depth, &p, &f) < 0
               : measure_at(&t, batch, depth, &p) < 0)
        goto out;
    if (measure_report(&t, &p, o->fit ? &f : NULL, o->json) < 0)
        goto out;
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "tui: %s\n", err_msg()[0] ? err_msg()
                                                  : "measurement failed");
    ts_measure_free(p.m);
    trainer_free(&t);
    return rc;
}
