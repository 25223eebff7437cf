/* snr_run.c: scoring a table's weights one tensor at a time (snr.h). */
#include "snr.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/score_cache.h"
#include "stats.h"
#include "values.h"

int snr_tensor_ok(const table *t, size_t i)
{
    return score_cache_tensor_ok(t, i);
}

/* Reads tensor i widened to float64 into w (numel entries). Returns 0,
 * or -1 with err set. */
static int read_f64(const table *t, size_t i, double *w)
{
    unsigned char buf[4096 * 8];
    const table_tensor *x = table_at(t, i);
    tensor_reader r;
    int rc = tensor_reader_open(&r, t, i);
    for (uint64_t pos = 0; rc == 0 && pos < x->numel;) {
        size_t k = x->numel - pos < 4096 ? (size_t)(x->numel - pos) : 4096;
        tensor_reader_next(&r, buf, k);
        stats_widen((dtype)x->dtype, buf, k, w + pos);
        pos += k;
    }
    tensor_reader_close(&r);
    return rc;
}

/* Scores tensor i into *out. Returns 0, or -1 with err set. */
static int score_one(const table *t, size_t i, snr_result *out)
{
    const table_tensor *x = table_at(t, i);
    const char *path = table_file_path(t, x->file), *name = table_name(t, i);
    uint64_t m, n;
    score_cache_dims(t, i, &m, &n);
    if (x->numel > SNR_MAX_ELEMENTS || m > INT_MAX || n > INT_MAX)
        return err_set("%s: tensor '%s': %llu elements, more than --rank "
                       "scores in one matrix (%llu)", path, name,
                       (unsigned long long)x->numel,
                       (unsigned long long)SNR_MAX_ELEMENTS);
    uint64_t k = m < n ? m : n;
    double *w = malloc(x->numel * sizeof *w), *s = malloc(k * sizeof *s);
    int rc = -1;
    if (!w || !s)
        err_set("%s: tensor '%s': out of memory for a %llu x %llu matrix",
                path, name, (unsigned long long)m, (unsigned long long)n);
    else if (read_f64(t, i, w) == 0 && snr_singular_values(w, m, n, s) == 0) {
        snr_from_singular(s, (size_t)k, m, n, out);
        rc = 0;
    } else {
        err_prefix("%s: tensor '%s'", path, name);
    }
    free(w);
    free(s);
    return rc;
}

int snr_run(const table *t, const bitset *sel, snr_result *out,
            bitset *scored, snr_progress_fn progress, void *ctx)
{
    bitset todo;
    if (bitset_init(&todo, t->count))
        return err_set("out of memory");
    size_t total = 0, done = 0;
    for (size_t i = 0; i < t->count; i++)
        if ((!sel || bitset_get(sel, i)) && snr_tensor_ok(t, i)) {
            bitset_set(&todo, i);
            total++;
        }
    int rc = stats_check(t, &todo);
    for (size_t i = 0; rc == 0 && i < t->count; i++) {
        if (!bitset_get(&todo, i))
            continue;
        rc = score_one(t, i, &out[i]);
        if (rc == 0) {
            bitset_set(scored, i);
            if (progress)
                progress(ctx, ++done, total);
        }
    }
    bitset_free(&todo);
    return rc;
}
