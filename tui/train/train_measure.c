/* train_measure.c: `tui --headless --plan PLAN --measure-memory`: the
 * plan resolved as training resolves it (train_config, train_data_open,
 * train_model_setup: the same module, frozen set and BatchNorm policy),
 * one forward + loss + backward on the first rows of the plan's data (or,
 * when the plan has none, on a batch of train.input_shape) through the
 * shim (ts_activations.h), no update, no file written. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/err.h"
#include "../core/human.h"
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

/* "[4, 3, 32, 32]" of t into buf. */
static const char *shape_text(const ts_tensor *x, char *buf, size_t n)
{
    int64_t d[16];
    unsigned nd = ts_tensor_shape(x, d, 16);
    size_t used = (size_t)snprintf(buf, n, "[");
    for (unsigned i = 0; i < nd && i < 16 && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld",
                                 i ? ", " : "", (long long)d[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
    return buf;
}

/* This machine's memory in bytes (0 when unknown). */
static uint64_t phys_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

/* A batch of `batch` samples of train.input_shape (no data in the plan):
 * its input alone must fit this machine's memory (CPU). */
static int made_batch(trainer *t, uint64_t batch, ts_tensor **bx)
{
    const plan_train *pt = &t->pl.train;
    int ints = pt->input_dtype && strcmp(pt->input_dtype, "int64") == 0;
    int64_t shape[1 + PLAN_MAX_INPUT_DIMS];
    uint64_t bytes = ints ? 8 : 4, mem = phys_bytes();
    int over = __builtin_mul_overflow(bytes, batch, &bytes);
    shape[0] = (int64_t)batch;
    for (unsigned i = 0; i < pt->input_ndim; i++) {
        over |= __builtin_mul_overflow(bytes, pt->input_shape[i], &bytes);
        shape[i + 1] = (int64_t)pt->input_shape[i];
    }
    if (over || bytes > ((uint64_t)1 << 62) ||
        (strcmp(t->device, "cpu") == 0 && mem && bytes > mem)) {
        char h[32], hm[32];
        return err_set("%s: a batch of %llu of train.input_shape needs %s "
                       "for its input alone, more than this machine's %s: "
                       "choose a smaller --batch-size", t->plan_path,
                       (unsigned long long)batch,
                       over ? "more than 2^64 bytes"
                            : human_bytes(bytes, h, sizeof h),
                       human_bytes(mem, hm, sizeof hm));
    }
    if (ts_measure_batch(pt->input_ndim + 1, shape, ints ? "I64" : "F32",
                         t->seed, t->device, bx) < 0)
        return err_set("%s: cannot make a batch of %llu of train.input_shape:"
                       " %s", t->plan_path, (unsigned long long)batch,
                       ts_last_error());
    return 0;
}

/* The first `batch` rows of the plan's data into *bx, *by. */
static int data_batch(trainer *t, uint64_t batch, ts_tensor **bx,
                      ts_tensor **by)
{
    int64_t rows = ts_tensor_rows(t->x);
    if (batch > (uint64_t)rows)
        return err_set("%s: %lld sample%s, fewer than the batch of %llu: "
                       "choose --batch-size %lld or less", t->data_file,
                       (long long)rows, rows == 1 ? "" : "s",
                       (unsigned long long)batch, (long long)rows);
    if (ts_tensor_rows_select(t->x, NULL, 0, (int64_t)batch, t->device,
                              bx) < 0 ||
        ts_tensor_rows_select(t->y, NULL, 0, (int64_t)batch, t->device,
                              by) < 0)
        return err_set("%s: %s", t->data_file, ts_last_error());
    return 0;
}

/* 1 when a libtorch message says an allocation failed. */
static int is_oom(const char *m)
{
    return strstr(m, "out of memory") || strstr(m, "not enough memory") ||
           strstr(m, "can't allocate memory") || strstr(m, "bad_alloc");
}

/* Measures one step on a batch of `batch` samples: the first rows of the
 * data, or one made from train.input_shape. */
static int measure_at(trainer *t, uint64_t batch, unsigned depth,
                      measure_point *p)
{
    int rc = -1;
    ts_tensor *bx = NULL, *by = NULL;
    char sh[200];
    if (t->data_file ? data_batch(t, batch, &bx, &by) < 0
                     : made_batch(t, batch, &bx) < 0)
        goto out;
    p->batch = batch;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (ts_measure_step(t->mod, bx, by, t->loss,
                        strcmp(t->precision, "bf16") == 0, depth,
                        &p->m) < 0) {
        const char *e = ts_last_error();
        if (is_oom(e))
            err_set("%s: out of memory measuring a batch of %llu on %s "
                    "(%s): choose a smaller --batch-size", t->plan_path,
                    (unsigned long long)batch, t->device, e);
        else
            err_set("%s: the model %s refuses the batch %s from %s: %s",
                    t->plan_path, t->model_file,
                    shape_text(bx, sh, sizeof sh),
                    t->data_file ? t->data_file : "train.input_shape", e);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    p->seconds = (double)(t1.tv_sec - t0.tv_sec) +
                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
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
        (t.data_file && train_data_open(&t) < 0) ||
        train_model_setup(&t) < 0 ||
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
