/* preset_spectrum.c: Spectrum's selection from cached scores
 * (preset_spectrum.h). */
#include "preset_spectrum.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "session.h"
#include "tree.h"

const char *spectrum_weight_type(const char *name, size_t len, size_t *tlen)
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
    const char *name, *type;
    size_t len, tlen;
    double key;
} ranked;

/* <0 when key a ranks before key b: higher first, NaN last. */
static int key_cmp(double a, double b)
{
    int na = isnan(a), nb = isnan(b);
    if (na || nb)
        return na - nb;
    return (a < b) - (a > b);
}

static int by_type_key(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    size_t n = a->tlen < b->tlen ? a->tlen : b->tlen;
    int c = memcmp(a->type, b->type, n);
    if (c == 0)
        c = (a->tlen > b->tlen) - (a->tlen < b->tlen);
    if (c == 0)
        c = key_cmp(a->key, b->key);
    return c ? c : tree_natural_cmp(a->name, a->len, b->name, b->len);
}

int spectrum_rank(const table *t, const bitset *which, const double *key,
                  size_t *rank, size_t *of)
{
    ranked *r = malloc((t->count ? t->count : 1) * sizeof *r);
    size_t n = 0;
    if (!r)
        return err_set("out of memory");
    for (size_t i = 0; i < t->count; i++) {
        if (!bitset_get(which, i))
            continue;
        ranked *x = &r[n++];
        x->i = i;
        x->name = table_name(t, i);
        x->len = table_at(t, i)->name_len;
        x->type = spectrum_weight_type(x->name, x->len, &x->tlen);
        x->key = key[i];
    }
    qsort(r, n, sizeof *r, by_type_key);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && r[b].tlen == r[a].tlen &&
               memcmp(r[b].type, r[a].type, r[a].tlen) == 0)
            b++;
        for (size_t k = a; k < b; k++) {
            rank[r[k].i] = k - a + 1;
            of[r[k].i] = b - a;
        }
        a = b;
    }
    free(r);
    return 0;
}

/* The module of a weight name: the name less ".weight" (len bytes into
 * *mlen); the name itself for a bare "weight". 1 when it is a weight. */
static int weight_module(const char *name, size_t len, size_t *mlen)
{
    if (len == 6 && memcmp(name, "weight", 6) == 0) {
        *mlen = len;
        return 1;
    }
    *mlen = len - 7;
    return len > 7 && memcmp(name + len - 7, ".weight", 7) == 0;
}

static int by_name(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    return tree_natural_cmp(a->name, a->len, b->name, b->len);
}

/* Appends `unfreeze NAME` (len bytes, quoted as a literal). */
static int add_unfreeze(preset_expansion *e, const char *name, size_t len)
{
    char buf[2 * TABLE_MAX_NAME + 8];
    if (session_quote_pattern(name, len, buf, sizeof buf))
        return -1;
    return preset_gen_add_rule(e, PRESET_UNFREEZE, buf);
}

static const char *const always[] = {"lm_head.weight",
                                     "model.embed_tokens.weight"};

/* What was kept, as one line into out->summary. */
typedef struct {
    size_t kept, scored, unscored;
    int biases;
    int has_always[2];
} tally;

static void summarize(const score_cache *c, long long top, int by_snr,
                      const tally *n, char *out, size_t cap)
{
    char when[40] = "", plus[120] = "", rest[96] = "";
    if (c->created > 0) {
        time_t at = (time_t)c->created;
        struct tm tm;
        if (localtime_r(&at, &tm))
            strftime(when, sizeof when, " (cached %Y-%m-%d)", &tm);
    }
    for (size_t k = 0; k < 2; k++)
        if (n->has_always[k]) {
            size_t l = strlen(plus);
            snprintf(plus + l, sizeof plus - l, "%s%s",
                     l ? ", " : ", plus ", always[k]);
        }
    if (n->unscored)
        snprintf(rest, sizeof rest, "; %zu weight%s without a score stay%s "
                 "frozen", n->unscored, n->unscored == 1 ? "" : "s",
                 n->unscored == 1 ? "s" : "");
    snprintf(out, cap, "spectrum top %lld%%: %zu of %zu weights%s by %s%s%s"
             "%s", top, n->kept, n->scored, n->biases ? " (with their biases)" : "",
             by_snr ? "snr (scale-invariant)" : "score", when, plus, rest);
}

/* The kept weights of each type: rank within the first
 * int(of * top / 100) (spectrum.py: num_top_layers). */
static int keep(size_t rank, size_t of, long long top)
{
    return (unsigned long long)rank * 100 <=
           (unsigned long long)of * (unsigned long long)top;
}

int preset_spectrum_select(const table *t, const score_cache *c,
                           long long top, int by_snr, preset_gen_out *out)
{
    bitset cand;
    size_t n = t->count ? t->count : 1;
    double *key = malloc(n * sizeof *key);
    size_t *rank = malloc(n * sizeof *rank), *of = malloc(n * sizeof *of);
    ranked *sel = malloc(n * sizeof *sel);
    int have_cand = bitset_init(&cand, t->count) == 0, rc = -1;
    tally tl = {0};
    if (!key || !rank || !of || !sel || !have_cand) {
        err_set("out of memory");
        goto out;
    }
    for (size_t i = 0; i < t->count; i++) {
        size_t ml;
        if (!score_cache_tensor_ok(t, i) ||
            !weight_module(table_name(t, i), table_at(t, i)->name_len, &ml))
            continue;
        if (i >= c->count || !bitset_get(&c->have, i)) {
            tl.unscored++;
            continue;
        }
        bitset_set(&cand, i);
        key[i] = by_snr ? c->e[i].snr : c->e[i].score;
        tl.scored++;
    }
    if (tl.scored == 0) {
        err_set("no spectral scores for the weights of this checkpoint");
        goto out;
    }
    if (spectrum_rank(t, &cand, key, rank, of))
        goto out;
    for (size_t i = 0; i < t->count; i++) {
        if (!bitset_get(&cand, i) || !keep(rank[i], of[i], top))
            continue;
        ranked *x = &sel[tl.kept++];
        x->i = i;
        x->name = table_name(t, i);
        weight_module(x->name, table_at(t, i)->name_len, &x->len);
    }
    qsort(sel, tl.kept, sizeof *sel, by_name);
    if (preset_gen_add_rule(&out->rules, PRESET_FREEZE, "**"))
        goto out;
    for (size_t k = 0; k < tl.kept; k++) {
        char bias[TABLE_MAX_NAME + 8];
        const ranked *x = &sel[k];
        if (add_unfreeze(&out->rules, x->name, x->len))
            goto out;
        if (x->len != table_at(t, x->i)->name_len) {
            memcpy(bias, x->name, x->len);
            memcpy(bias + x->len, ".bias", 5);
            tl.biases |= table_find(t, bias, x->len + 5) >= 0;
        }
    }
    for (size_t k = 0; k < 2; k++) {
        long i = table_find(t, always[k], strlen(always[k]));
        if (i < 0 || table_at(t, (size_t)i)->kind != TK_PARAMETER)
            continue;
        tl.has_always[k] = 1;
        if (add_unfreeze(&out->rules, always[k], strlen(always[k])))
            goto out;
    }
    summarize(c, top, by_snr, &tl, out->summary, sizeof out->summary);
    rc = 0;
out:
    if (have_cand)
        bitset_free(&cand);
    free(key);
    free(rank);
    free(of);
    free(sel);
    return rc;
}

int preset_spectrum_make(const table *t, const long long *vals,
                         preset_gen_out *out)
{
    const char *ckpt = t->nfiles == 1 ? table_file_path(t, 0) : "CHECKPOINT";
    score_cache c;
    if (score_cache_open(&c, t))
        return -1;
    int got = score_cache_load(&c, t), rc = -1;
    if (got == 0)
        err_set("no spectral scores for this checkpoint: tui --rank snr %s "
                "computes and caches them", ckpt);
    else if (got < 0)
        err_prefix("no usable spectral scores for this checkpoint "
                   "(tui --rank snr %s computes them again)", ckpt);
    else
        rc = preset_spectrum_select(t, &c, vals[0], vals[1] != 0, out);
    score_cache_free(&c);
    return rc;
}
