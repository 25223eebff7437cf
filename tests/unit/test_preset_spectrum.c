/* test_preset_spectrum.c: the `spectrum` preset (core/preset_spectrum.h)
 * on Llama-2 names: per weight type the top int(n * top / 100) by score
 * train with their modules, against a reference that sorts each type by
 * score then layer number (Spectrum's stable sort in module order); the
 * rules, applied in order, train exactly that plus lm_head.weight and
 * model.embed_tokens.weight; Inf ties go in natural order even when the
 * file lists layers as text (0 1 10 11 2 ...); NaN last; by snr with
 * scale_invariant; a kept module's bias trains, a dropped one's not;
 * unscored weights stay frozen and are counted; no scores is an error
 * naming the command, a saved cache makes it through preset_spectrum_make
 * with its date in the summary. */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tui/core/err.h"
#include "../../tui/core/pattern.h"
#include "../../tui/core/preset_spectrum.h"
#include "model_names.h"

/* A score from the name: deterministic, spread over (0, 1); 1-D: Inf. */
static double fake_score(const table *t, size_t i, unsigned salt)
{
    const char *s = table_name(t, i);
    uint64_t h = 1469598103934665603ull ^ salt;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    if (table_at(t, i)->ndim == 1)
        return INFINITY;
    return (double)(h >> 11) / 9007199254740992.0 + 1e-9;
}

static void fill(const table *t, score_cache *c, unsigned salt)
{
    CHECK(score_cache_open(c, t) == 0);
    for (size_t i = 0; i < t->count; i++) {
        if (!score_cache_tensor_ok(t, i))
            continue;
        uint64_t m, n;
        score_cache_dims(t, i, &m, &n);
        score_entry e = {fake_score(t, i, salt), fake_score(t, i, salt + 7),
                         1.0, m, n};
        score_cache_put(c, i, &e);
    }
}

/* The layer number of a name ("model.layers.12...." -> 12), -1. */
static long layer_of(const char *name)
{
    const char *p = strstr(name, "layers.");
    return p ? strtol(p + 7, NULL, 10) : -1;
}

/* The trainable set the rules make (every tensor trainable before). */
static void apply(const table *t, const preset_expansion *e, bitset *on)
{
    int bad = 0;
    for (size_t i = 0; i < t->count; i++)
        bitset_set(on, i);
    for (size_t k = 0; k < e->n; k++) {
        bitset m;
        if (bitset_init(&m, t->count))
            abort();
        pattern *p = pattern_compile(e->rules[k].pattern, NULL);
        bad += p == NULL;
        if (p)
            pattern_match_table(p, t, &m);
        pattern_free(p);
        for (size_t i = 0; i < t->count; i++)
            if (bitset_get(&m, i)) {
                if (e->rules[k].op == PRESET_FREEZE)
                    bitset_clear(on, i);
                else
                    bitset_set(on, i);
            }
        bitset_free(&m);
    }
    CHECK(bad == 0);
}

/* 1 when name is `module` or under it. */
static int under(const char *name, const char *module, size_t ml)
{
    return strncmp(name, module, ml) == 0 &&
           (name[ml] == '\0' || name[ml] == '.');
}

/* The reference: per type (the name after the layer number), the weights
 * sorted by key descending, ties by layer number; the first
 * floor(n * top / 100) kept: their modules train. */
static void reference(const table *t, const score_cache *c, int top,
                      int by_snr, bitset *want)
{
    size_t n = t->count;
    size_t *idx = malloc(n * sizeof *idx);
    char *done = calloc(n, 1);
    for (size_t i = 0; i < n; i++)
        bitset_clear(want, i);
    for (size_t a = 0; a < n; a++) {
        const char *na = table_name(t, a);
        size_t la = strlen(na), ta;
        if (done[a] || !bitset_get(&c->have, a) || la < 7 ||
            strcmp(na + la - 7, ".weight") != 0)
            continue;
        const char *tya = spectrum_weight_type(na, la, &ta);
        size_t k = 0;
        for (size_t b = 0; b < n; b++) {
            const char *nb = table_name(t, b);
            size_t lb = strlen(nb), tb;
            const char *tyb = spectrum_weight_type(nb, lb, &tb);
            if (!done[b] && bitset_get(&c->have, b) && lb >= 7 &&
                strcmp(nb + lb - 7, ".weight") == 0 && tb == ta &&
                memcmp(tya, tyb, ta) == 0) {
                idx[k++] = b;
                done[b] = 1;
            }
        }
        /* insertion sort: key desc (NaN last), then layer asc */
        for (size_t x = 1; x < k; x++)
            for (size_t y = x; y > 0; y--) {
                size_t p = idx[y - 1], q = idx[y];
                double kp = by_snr ? c->e[p].snr : c->e[p].score;
                double kq = by_snr ? c->e[q].snr : c->e[q].score;
                int swap = (isnan(kp) && !isnan(kq)) ||
                           (!isnan(kp) && !isnan(kq) && kq > kp) ||
                           (kq == kp && layer_of(table_name(t, q)) <
                                            layer_of(table_name(t, p)));
                if (!swap)
                    break;
                idx[y - 1] = q;
                idx[y] = p;
            }
        size_t keep = k * (size_t)top / 100;
        for (size_t x = 0; x < keep; x++) {
            const char *w = table_name(t, idx[x]);
            size_t ml = strlen(w) - 7;
            for (size_t i = 0; i < n; i++)
                if (under(table_name(t, i), w, ml))
                    bitset_set(want, i);
        }
    }
    static const char *const always[] = {"lm_head.weight",
                                         "model.embed_tokens.weight"};
    for (int k = 0; k < 2; k++) {
        long i = table_find(t, always[k], strlen(always[k]));
        if (i >= 0)
            bitset_set(want, (size_t)i);
    }
    free(idx);
    free(done);
}

/* The preset's set against the reference's. */
static void check_select(const table *t, const score_cache *c, int top,
                         int by_snr, const char *what)
{
    preset_gen_out out;
    preset_gen_out_init(&out);
    int rc = preset_spectrum_select(t, c, top, by_snr, &out);
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "  %s: %s\n", what, err_msg());
        return;
    }
    CHECK(out.rules.n >= 1 && out.rules.rules[0].op == PRESET_FREEZE &&
          strcmp(out.rules.rules[0].pattern, "**") == 0);
    bitset got, want;
    CHECK(bitset_init(&got, t->count) == 0 &&
          bitset_init(&want, t->count) == 0);
    apply(t, &out.rules, &got);
    reference(t, c, top, by_snr, &want);
    int bad = 0;
    for (size_t i = 0; i < t->count; i++)
        if (bitset_get(&got, i) != bitset_get(&want, i) && bad++ < 4)
            fprintf(stderr, "  %s top=%d: %s is %s\n", what, top,
                    table_name(t, i),
                    bitset_get(&got, i) ? "trainable" : "frozen");
    CHECK(bad == 0);
    CHECK(strncmp(out.summary, "spectrum top ", 13) == 0);
    bitset_free(&got);
    bitset_free(&want);
    preset_gen_out_free(&out);
}

static void test_types(void)
{
    size_t tl;
    const char *ty;
    ty = spectrum_weight_type("model.layers.3.mlp.up_proj.weight", 33, &tl);
    CHECK(tl == 18 && memcmp(ty, "mlp.up_proj.weight", tl) == 0);
    ty = spectrum_weight_type("lm_head.weight", 14, &tl);
    CHECK(tl == 14 && memcmp(ty, "lm_head.weight", tl) == 0);
    ty = spectrum_weight_type("classifier.1.weight", 19, &tl);
    CHECK(tl == 6 && memcmp(ty, "weight", tl) == 0);
    ty = spectrum_weight_type("a.0", 3, &tl);
    CHECK(tl == 3);
    ty = spectrum_weight_type("m.layers.0.moe.experts.7.w1.weight", 34, &tl);
    CHECK(tl == 23 && memcmp(ty, "moe.experts.7.w1.weight", tl) == 0);
}

static void test_llama(void)
{
    table t;
    table_init(&t);
    CHECK(mn_gen_llama2(&t, 12, 1) == 0);
    score_cache c;
    fill(&t, &c, 1);
    static const int tops[] = {50, 25, 33, 1, 99, 100};
    for (size_t k = 0; k < sizeof tops / sizeof *tops; k++) {
        check_select(&t, &c, tops[k], 0, "llama2");
        check_select(&t, &c, tops[k], 1, "llama2 by snr");
    }
    /* the numbers: 12 layers x 7 matrices and 2 norms, top 25%: 3 of each
     * layer type, model.norm, embed and lm_head singletons: 0 */
    preset_gen_out out;
    preset_gen_out_init(&out);
    CHECK(preset_spectrum_select(&t, &c, 25, 0, &out) == 0);
    CHECK_STR(out.summary, "spectrum top 25%: 27 of 111 weights by score, "
                           "plus lm_head.weight, model.embed_tokens.weight");
    CHECK(out.rules.n == 1 + 27 + 2);
    /* module rules, not the weights: "model.layers.N.mlp.up_proj" */
    int modules = 0;
    for (size_t k = 1; k + 2 < out.rules.n; k++)
        modules += strstr(out.rules.rules[k].pattern, ".weight") == NULL;
    CHECK(modules == 27);
    CHECK_STR(out.rules.rules[out.rules.n - 2].pattern, "lm_head.weight");
    CHECK_STR(out.rules.rules[out.rules.n - 1].pattern,
              "model.embed_tokens.weight");
    preset_gen_out_free(&out);
    /* scale-invariant summary */
    preset_gen_out_init(&out);
    CHECK(preset_spectrum_select(&t, &c, 50, 1, &out) == 0);
    CHECK(strstr(out.summary, "by snr (scale-invariant)") != NULL);
    preset_gen_out_free(&out);
    /* only the mlp scored: the rest frozen, counted */
    for (size_t i = 0; i < t.count; i++)
        if (!strstr(table_name(&t, i), ".mlp."))
            bitset_clear(&c.have, i);
    check_select(&t, &c, 50, 0, "llama2, mlp only");
    preset_gen_out_init(&out);
    CHECK(preset_spectrum_select(&t, &c, 50, 0, &out) == 0);
    CHECK(strstr(out.summary, "18 of 36 weights") &&
          strstr(out.summary, "; 75 weights without a score stay frozen"));
    preset_gen_out_free(&out);
    /* no score at all */
    bitset_zero(&c.have);
    preset_gen_out_init(&out);
    CHECK(preset_spectrum_select(&t, &c, 50, 0, &out) == -1 &&
          strstr(err_msg(), "no spectral scores"));
    preset_gen_out_free(&out);
    score_cache_free(&c);
    table_free(&t);
}

/* Layers written in text order (0 1 10 11 2 ...), every score tied:
 * the kept half is layers 0-5, in natural order. NaN goes last. */
static void test_ties(void)
{
    table t;
    table_init(&t);
    static const int order[] = {0, 1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int k = 0; k < 12; k++) {
        mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(8),
               "model.layers.%d.input_layernorm.weight", order[k]);
        mn_add(&t, TK_PARAMETER, DT_F32, MN_2D(8, 8),
               "model.layers.%d.mlp.up_proj.weight", order[k]);
        mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(8),
               "model.layers.%d.mlp.up_proj.bias", order[k]);
    }
    score_cache c;
    CHECK(score_cache_open(&c, &t) == 0);
    for (size_t i = 0; i < t.count; i++) {
        score_entry e = {table_at(&t, i)->ndim == 1 ? INFINITY : 0.5, 1, 1,
                         1, 8};
        score_cache_put(&c, i, &e);
    }
    check_select(&t, &c, 50, 0, "ties");
    preset_gen_out out;
    preset_gen_out_init(&out);
    CHECK(preset_spectrum_select(&t, &c, 50, 0, &out) == 0);
    bitset on;
    CHECK(bitset_init(&on, t.count) == 0);
    apply(&t, &out.rules, &on);
    int bad = 0;
    for (size_t i = 0; i < t.count; i++)
        bad += bitset_get(&on, i) != (layer_of(table_name(&t, i)) < 6);
    CHECK(bad == 0);
    CHECK(strstr(out.summary, "12 of 24 weights (with their biases)"));
    preset_gen_out_free(&out);
    /* a NaN in the up_proj type: at 11 of 12 it is the one left out */
    long nan_at = table_find(&t, "model.layers.0.mlp.up_proj.weight", 33);
    CHECK(nan_at >= 0);
    c.e[nan_at].score = NAN;
    for (int k = 0; k < 12; k++) {
        char nm[64];
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.up_proj.weight", k);
        long i = table_find(&t, nm, strlen(nm));
        if (k != 0)
            c.e[i].score = 0.1 * k;
    }
    check_select(&t, &c, 92, 0, "nan");
    preset_gen_out_init(&out);
    CHECK(preset_spectrum_select(&t, &c, 92, 0, &out) == 0);
    apply(&t, &out.rules, &on);
    CHECK(!bitset_get(&on, (size_t)nan_at));
    CHECK(bitset_get(&on, (size_t)table_find(
              &t, "model.layers.1.mlp.up_proj.weight", 33)));
    CHECK(!bitset_get(&on, (size_t)table_find(
              &t, "model.layers.0.mlp.up_proj.bias", 31)));
    preset_gen_out_free(&out);
    bitset_free(&on);
    score_cache_free(&c);
    table_free(&t);
}

/* Through the generator: the cache on disk (a table with no files). */
static void test_make(void)
{
    char dir[] = "/tmp/test_preset_spectrum.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    setenv("TUI_CACHE_DIR", dir, 1);
    table t;
    table_init(&t);
    CHECK(mn_gen_llama2(&t, 4, 0) == 0);
    long long v[2] = {50, 0};
    preset_gen_out out;
    preset_gen_out_init(&out);
    CHECK(preset_spectrum_make(&t, v, &out) == -1);
    CHECK(strncmp(err_msg(), "no spectral scores for this checkpoint: tui "
                  "--rank snr CHECKPOINT computes and caches them", 200) == 0);
    preset_gen_out_free(&out);
    score_cache c;
    fill(&t, &c, 3);
    CHECK(score_cache_save(&c, &t) == 1);
    score_cache_free(&c);
    preset_gen_out_init(&out);
    CHECK(preset_spectrum_make(&t, v, &out) == 0);
    CHECK(strstr(out.summary, "spectrum top 50%: 18 of 39 weights by score "
                              "(cached 20") != NULL);
    CHECK(out.rules.n == 1 + 18 + 2);
    preset_gen_out_free(&out);
    v[1] = 1;
    preset_gen_out_init(&out);
    CHECK(preset_spectrum_make(&t, v, &out) == 0);
    CHECK(strstr(out.summary, "by snr") != NULL);
    preset_gen_out_free(&out);
    table_free(&t);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    test_types();
    test_llama();
    test_ties();
    test_make();
    return check_report();
}
