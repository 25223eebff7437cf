/* rank_cli.c: the --rank outputs (see rank_cli.h). */
#include "rank_cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/err.h"
#include "../core/jsonw.h"
#include "../core/pattern.h"
#include "../inspect/snr.h"

/* The weight type: what follows the first all-digit segment ("layers.3.
 * mlp.up_proj.weight" -> "mlp.up_proj.weight"); the whole name when
 * there is none. */
static const char *weight_type(const char *name, size_t len, size_t *tlen)
{
    size_t a = 0;
    while (a < len) {
        size_t b = a;
        while (b < len && name[b] != '.')
            b++;
        int digits = b > a;
        for (size_t k = a; k < b; k++)
            digits &= name[k] >= '0' && name[k] <= '9';
        if (digits && b < len) {
            *tlen = len - b - 1;
            return name + b + 1;
        }
        a = b + 1;
    }
    *tlen = len;
    return name;
}

typedef struct {
    size_t i;
    const char *type;
    size_t tlen;
    double score;
    size_t rank, of;
} row;

static int by_type_score(const void *pa, const void *pb)
{
    const row *a = pa, *b = pb;
    size_t n = a->tlen < b->tlen ? a->tlen : b->tlen;
    int c = memcmp(a->type, b->type, n);
    if (c || a->tlen != b->tlen)
        return c ? c : (a->tlen > b->tlen) - (a->tlen < b->tlen);
    if (a->score != b->score)
        return a->score < b->score ? 1 : -1; /* Inf first, NaN last */
    return (a->i > b->i) - (a->i < b->i);
}

static int by_index(const void *pa, const void *pb)
{
    const row *a = pa, *b = pb;
    return (a->i > b->i) - (a->i < b->i);
}

static void progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    fprintf(stderr, "\rrank: %zu of %zu weights scored", done, total);
    if (done >= total)
        fputs("\r\033[K", stderr);
    fflush(stderr);
}

static void json_num(FILE *out, const char *key, double v)
{
    if (isinf(v))
        fprintf(out, ",\"%s\":null", key); /* Infinity */
    else if (isnan(v))
        fprintf(out, ",\"%s\":null", key);
    else
        fprintf(out, ",\"%s\":%.17g", key, v);
}

static void print_rows(FILE *out, const table *t, const row *r, size_t n,
                       const snr_result *res, int json)
{
    if (json) {
        fprintf(out, "{\"method\":\"snr\",\"tensors\":[");
        for (size_t k = 0; k < n; k++) {
            const snr_result *s = &res[r[k].i];
            fprintf(out, "%s{\"name\":", k ? "," : "");
            jsonw_string(out, table_name(t, r[k].i),
                         table_at(t, r[k].i)->name_len);
            fprintf(out, ",\"type\":");
            jsonw_string(out, r[k].type, r[k].tlen);
            fprintf(out, ",\"m\":%llu,\"n\":%llu", (unsigned long long)s->m,
                    (unsigned long long)s->n);
            json_num(out, "score", s->score);
            json_num(out, "snr", s->snr);
            json_num(out, "smax", s->smax);
            fprintf(out, ",\"rank\":%zu,\"of\":%zu}", r[k].rank, r[k].of);
        }
        fprintf(out, "]}\n");
        return;
    }
    int w = 4;
    for (size_t k = 0; k < n; k++) {
        size_t len = table_at(t, r[k].i)->name_len;
        if (len > (size_t)w)
            w = len > 60 ? 60 : (int)len;
    }
    fprintf(out, "%-*s  %-15s %13s %13s %9s\n", w, "name", "matrix", "score",
            "snr", "rank");
    for (size_t k = 0; k < n; k++) {
        const snr_result *s = &res[r[k].i];
        char dims[48], rk[48];
        snprintf(dims, sizeof dims, "%llux%llu", (unsigned long long)s->m,
                 (unsigned long long)s->n);
        snprintf(rk, sizeof rk, "%zu/%zu", r[k].rank, r[k].of);
        fprintf(out, "%-*.*s  %-15s %13.6g %13.6g %9s\n", w,
                (int)table_at(t, r[k].i)->name_len, table_name(t, r[k].i),
                dims, s->score, s->snr, rk);
    }
    fprintf(out, "%zu weights scored (rank: within the weight type, the "
            "name after its first number; 1 = highest score)\n", n);
}

int rank_cli_print(FILE *out, const table *t, const char *method,
                   char *const *pat, size_t npat, int json, int allow_empty)
{
    if (strcmp(method, "snr") != 0)
        return err_set("--rank: unknown method '%s' (there is: snr)", method);
    bitset sel, scored;
    snr_result *res = calloc(t->count ? t->count : 1, sizeof *res);
    row *r = calloc(t->count ? t->count : 1, sizeof *r);
    int have_sel = bitset_init(&sel, t->count) == 0;
    int have_scored = bitset_init(&scored, t->count) == 0;
    int rc = -1;
    if (!res || !r || !have_sel || !have_scored) {
        err_set("out of memory");
        goto out;
    }
    for (size_t k = 0; k < npat; k++) {
        size_t col;
        pattern *p = pattern_compile(pat[k], &col);
        if (!p) {
            err_prefix("pattern '%s'", pat[k]);
            goto out;
        }
        size_t m = pattern_match_table(p, t, &sel);
        pattern_free(p);
        if (m == 0 && !allow_empty) {
            err_set("pattern '%s' matches no tensor (--allow-empty to go on)",
                    pat[k]);
            goto out;
        }
    }
    if (snr_run(t, npat ? &sel : NULL, res, &scored,
                isatty(STDERR_FILENO) ? progress : NULL, NULL))
        goto out;
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (!bitset_get(&scored, i))
            continue;
        r[n].i = i;
        r[n].type = weight_type(table_name(t, i), table_at(t, i)->name_len,
                                &r[n].tlen);
        r[n].score = res[i].score;
        n++;
    }
    qsort(r, n, sizeof *r, by_type_score);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && r[b].tlen == r[a].tlen &&
               memcmp(r[b].type, r[a].type, r[a].tlen) == 0)
            b++;
        for (size_t k = a; k < b; k++) {
            r[k].rank = k - a + 1;
            r[k].of = b - a;
        }
        a = b;
    }
    qsort(r, n, sizeof *r, by_index);
    print_rows(out, t, r, n, res, json);
    rc = fflush(out) == 0 && !ferror(out)
             ? 0 : err_set("writing the scores: %s", strerror(errno));
out:
    if (have_sel)
        bitset_free(&sel);
    if (have_scored)
        bitset_free(&scored);
    free(res);
    free(r);
    return rc;
}
