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
#include "../core/preset_spectrum.h"
#include "../core/score_cache.h"
#include "../inspect/snr.h"

typedef struct {
    size_t i;
    const char *type;
    size_t tlen;
    size_t rank, of;
} row;

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
                       const snr_result *res, int json, size_t cached)
{
    if (json) {
        fprintf(out, "{\"method\":\"snr\",\"cached\":%zu,\"computed\":%zu,"
                "\"tensors\":[", cached, n - cached);
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
    fprintf(out, "%zu weights scored", n);
    if (cached)
        fprintf(out, ", %zu of them read from the score cache", cached);
    fprintf(out, " (rank: within the weight type, the name after its first "
            "number; 1 = highest score)\n");
}

/* Takes the cached scores of the selected weights into res (bits of
 * scored, removed from todo), and returns how many. */
static size_t take_cached(const score_cache *c, bitset *todo, snr_result *res,
                          bitset *scored)
{
    size_t k = 0;
    for (size_t i = 0; i < c->count; i++) {
        if (!bitset_get(todo, i) || !bitset_get(&c->have, i))
            continue;
        const score_entry *e = &c->e[i];
        res[i] = (snr_result){e->score, e->snr, e->smax, e->m, e->n};
        bitset_clear(todo, i);
        bitset_set(scored, i);
        k++;
    }
    return k;
}

/* Puts what was computed (in scored, not cached) into c and saves it;
 * a failure is a warning into warn. */
static void save_computed(score_cache *c, const table *t, const bitset *done,
                          const snr_result *res, char *warn, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (!bitset_get(done, i))
            continue;
        const snr_result *s = &res[i];
        score_entry e = {s->score, s->snr, s->smax, s->m, s->n};
        score_cache_put(c, i, &e);
        k++;
    }
    if (k && score_cache_save(c, t) < 0 && !warn[0])
        snprintf(warn, cap, "%s", err_msg());
}

/* The ranks within each weight type (1 = highest score) into r. */
static int rank_rows(const table *t, const bitset *scored,
                     const snr_result *res, row *r, size_t n)
{
    double *key = calloc(t->count ? t->count : 1, sizeof *key);
    size_t *rank = calloc(t->count ? t->count : 1, sizeof *rank);
    size_t *of = calloc(t->count ? t->count : 1, sizeof *of);
    int rc = -1;
    if (!key || !rank || !of) {
        err_set("out of memory");
    } else {
        for (size_t i = 0; i < t->count; i++)
            key[i] = res[i].score;
        rc = spectrum_rank(t, scored, key, rank, of);
        for (size_t k = 0; rc == 0 && k < n; k++) {
            r[k].rank = rank[r[k].i];
            r[k].of = of[r[k].i];
        }
    }
    free(key);
    free(rank);
    free(of);
    return rc;
}

int rank_cli_print(FILE *out, const table *t, const char *method,
                   char *const *pat, size_t npat, int json, int allow_empty)
{
    if (strcmp(method, "snr") != 0)
        return err_set("--rank: unknown method '%s' (there is: snr)", method);
    bitset sel, scored, todo;
    score_cache c;
    char warn[1200] = "";
    snr_result *res = calloc(t->count ? t->count : 1, sizeof *res);
    row *r = calloc(t->count ? t->count : 1, sizeof *r);
    int have_sel = bitset_init(&sel, t->count) == 0;
    int have_scored = bitset_init(&scored, t->count) == 0;
    int have_todo = bitset_init(&todo, t->count) == 0;
    int have_c = 0, rc = -1;
    if (!res || !r || !have_sel || !have_scored || !have_todo) {
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
    for (size_t i = 0; i < t->count; i++)
        if ((!npat || bitset_get(&sel, i)) && snr_tensor_ok(t, i))
            bitset_set(&todo, i);
    size_t cached = 0;
    if (score_cache_open(&c, t) == 0) {
        have_c = 1;
        if (score_cache_load(&c, t) < 0)
            snprintf(warn, sizeof warn, "%s", err_msg());
        cached = take_cached(&c, &todo, res, &scored);
    } else {
        snprintf(warn, sizeof warn, "score cache not used: %s", err_msg());
    }
    if (snr_run(t, &todo, res, &scored,
                isatty(STDERR_FILENO) ? progress : NULL, NULL))
        goto out;
    if (have_c)
        save_computed(&c, t, &todo, res, warn, sizeof warn);
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (!bitset_get(&scored, i))
            continue;
        r[n].i = i;
        r[n].type = spectrum_weight_type(table_name(t, i),
                                         table_at(t, i)->name_len,
                                         &r[n].tlen);
        n++;
    }
    if (rank_rows(t, &scored, res, r, n))
        goto out;
    print_rows(out, t, r, n, res, json, cached);
    rc = fflush(out) == 0 && !ferror(out)
             ? 0 : err_set("writing the scores: %s", strerror(errno));
    if (warn[0])
        fprintf(stderr, "tui: warning: %s\n", warn);
out:
    if (have_c)
        score_cache_free(&c);
    if (have_sel)
        bitset_free(&sel);
    if (have_scored)
        bitset_free(&scored);
    if (have_todo)
        bitset_free(&todo);
    free(res);
    free(r);
    return rc;
}
