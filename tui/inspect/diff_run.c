/* diff_run.c: two checkpoints compared tensor by tensor (diff.h). */
#include "diff.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bitset.h"
#include "../core/err.h"
#include "stats.h"
#include "values.h"

const char *diff_status_name(diff_status s)
{
    switch (s) {
    case DIFF_EQUAL: return "equal";
    case DIFF_CHANGED: return "changed";
    case DIFF_ONLY_A: return "only in A";
    case DIFF_ONLY_B: return "only in B";
    default: return "kind changed";
    }
}

void diff_result_free(diff_result *r)
{
    if (!r)
        return;
    free(r->e);
    memset(r, 0, sizeof *r);
}

static int same_kind(const table *a, size_t i, const table *b, size_t j)
{
    const table_tensor *x = table_at(a, i), *y = table_at(b, j);
    if (x->dtype != y->dtype || x->ndim != y->ndim)
        return 0;
    return x->ndim == 0 || memcmp(table_shape(a, i), table_shape(b, j),
                                  x->ndim * sizeof(uint64_t)) == 0;
}

/* Compares tensor e->a of a with e->b of b, filling e. Returns 0, or -1
 * with err set. */
static int compare_pair(const table *a, const table *b, diff_entry *e)
{
    unsigned char ba[DIFF_BLOCK * 8], bb[DIFF_BLOCK * 8]; /* 128 KiB */
    double xa[DIFF_BLOCK], xb[DIFF_BLOCK];
    const table_tensor *x = table_at(a, (size_t)e->a);
    dtype d = (dtype)x->dtype;
    tensor_reader ra, rb;
    double sa = 0, sd = 0, mx = NAN;
    uint64_t changed = 0;
    if (tensor_reader_open(&ra, a, (size_t)e->a))
        return -1;
    if (tensor_reader_open(&rb, b, (size_t)e->b)) {
        tensor_reader_close(&ra);
        return -1;
    }
    size_t esz = ra.esz;
    for (uint64_t pos = 0; pos < x->numel;) {
        size_t n = x->numel - pos < DIFF_BLOCK ? (size_t)(x->numel - pos)
                                                : DIFF_BLOCK;
        tensor_reader_next(&ra, ba, n);
        tensor_reader_next(&rb, bb, n);
        stats_widen(d, ba, n, xa);
        int same = memcmp(ba, bb, n * esz) == 0;
        if (!same)
            stats_widen(d, bb, n, xb);
        for (size_t k = 0; k < n; k++) {
            int fa = isfinite(xa[k]);
            if (same) {
                if (fa)
                    sa += xa[k] * xa[k];
                continue;
            }
            int fb = isfinite(xb[k]);
            if (fa && fb)
                sa += xa[k] * xa[k];
            if (memcmp(ba + k * esz, bb + k * esz, esz) == 0)
                continue;
            changed++;
            if (!fa || !fb)
                continue;
            double df = fabs(xb[k] - xa[k]);
            sd += df * df;
            if (isnan(mx) || df > mx)
                mx = df;
        }
        pos += n;
    }
    tensor_reader_close(&ra);
    tensor_reader_close(&rb);
    e->changed = changed;
    e->status = changed ? DIFF_CHANGED : DIFF_EQUAL;
    e->max_abs = changed ? mx : 0.0;
    e->rel_l2 = !changed ? 0.0 : sa > 0 ? sqrt(sd) / sqrt(sa)
              : sd > 0 ? INFINITY : 0.0;
    return 0;
}

int diff_run(const table *a, const table *b, diff_result *out)
{
    bitset sa, sb;
    memset(out, 0, sizeof *out);
    size_t cap = a->count + b->count;
    diff_entry *e = calloc(cap ? cap : 1, sizeof *e);
    int rc = -1, have_a = bitset_init(&sa, a->count) == 0;
    int have_b = bitset_init(&sb, b->count) == 0;
    if (!e || !have_a || !have_b) {
        err_set("out of memory");
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++) {
        const table_tensor *x = table_at(a, i);
        long j = table_find(b, table_name(a, i), x->name_len);
        e[n] = (diff_entry){.a = (long)i, .b = j, .max_abs = 0, .rel_l2 = 0};
        if (j < 0)
            e[n].status = DIFF_ONLY_A;
        else if (!same_kind(a, i, b, (size_t)j))
            e[n].status = DIFF_KIND;
        else {
            e[n].status = DIFF_EQUAL; /* decided below */
            bitset_set(&sa, i);
            bitset_set(&sb, (size_t)j);
        }
        n++;
    }
    for (size_t j = 0; j < b->count; j++) {
        const table_tensor *y = table_at(b, j);
        if (table_find(a, table_name(b, j), y->name_len) < 0)
            e[n++] = (diff_entry){.status = DIFF_ONLY_B, .a = -1,
                                  .b = (long)j};
    }
    if (stats_check(a, &sa) || stats_check(b, &sb))
        goto out;
    for (size_t k = 0; k < n; k++)
        if (e[k].a >= 0 && e[k].b >= 0 && e[k].status == DIFF_EQUAL &&
            compare_pair(a, b, &e[k]))
            goto out;
    for (size_t k = 0; k < n; k++)
        out->n[e[k].status]++;
    out->e = e;
    out->count = n;
    e = NULL;
    rc = 0;
out:
    if (have_a)
        bitset_free(&sa);
    if (have_b)
        bitset_free(&sb);
    free(e);
    return rc;
}
