/* test_pattern.c: the pattern language (tui/core/pattern.h), on single
 * names and on full name lists of BERT (base and a 24-layer large),
 * ResNet-18, Llama-2-7b and DeepSeek-V3 (reference/formats.md section 4).
 * Expected counts are worked out from the model layouts, not from the
 * implementation; every glob is also cross-checked against an equivalent
 * POSIX regex (a second, independent matcher). */
#include "check.h"

#include <locale.h>

#include <stdlib.h>

#include "../../tui/core/err.h"
#include "../../tui/core/pattern.h"
#include "../../tui/core/table.h"
#include "model_names.h"

/* ---- helpers ------------------------------------------------------------ */

/* 1 match, 0 no match, -1 compile error. */
static int m(const char *pat, const char *name)
{
    pattern *p = pattern_compile(pat, NULL);
    int r;
    if (!p) {
        fprintf(stderr, "compile failed: %s: %s\n", pat, err_msg());
        return -1;
    }
    r = pattern_match(p, name, strlen(name));
    pattern_free(p);
    return r;
}

/* Matches pat over t; returns the count and leaves the bits in *b
 * (allocated here, freed by the caller). Returns SIZE_MAX on a compile
 * error. */
static size_t sel(const table *t, const char *pat, bitset *b)
{
    pattern *p = pattern_compile(pat, NULL);
    size_t n;
    bitset_init(b, t->count);
    if (!p) {
        fprintf(stderr, "compile failed: %s: %s\n", pat, err_msg());
        return SIZE_MAX;
    }
    n = pattern_match_table(p, t, b);
    pattern_free(p);
    return n;
}

static size_t count(const table *t, const char *pat)
{
    bitset b;
    size_t n = sel(t, pat, &b);
    bitset_free(&b);
    return n;
}

/* 1 when glob and regex select exactly the same tensors (and some). */
static int same(const table *t, const char *glob, const char *re)
{
    bitset a, b;
    size_t na = sel(t, glob, &a), nb = sel(t, re, &b);
    int ok = na == nb && na != SIZE_MAX && na > 0 &&
             memcmp(a.w, b.w, (a.n / 64 + 1) * sizeof *a.w) == 0;
    if (!ok)
        fprintf(stderr, "differ: %s (%zu) vs %s (%zu)\n", glob, na, re, nb);
    bitset_free(&a);
    bitset_free(&b);
    return ok;
}

/* ---- forms on single names ---------------------------------------------- */

static void test_forms(void)
{
    /* literal, whole-name */
    CHECK(m("conv1.weight", "conv1.weight") == 1);
    CHECK(m("conv1.weight", "conv1.weights") == 0);
    CHECK(m("conv1.weigh", "conv1.weight") == 0);
    CHECK(m("onv1.weight", "conv1.weight") == 0);
    /* * stays inside one segment */
    CHECK(m("*.weight", "fc.weight") == 1);
    CHECK(m("*.weight", "layer1.0.conv1.weight") == 0);
    CHECK(m("conv*", "conv1.weight") == 1); /* subtree of conv1 */
    CHECK(m("c*1.weight", "conv1.weight") == 1);
    CHECK(m("c*1.weight", "conv1x.weight") == 0);
    CHECK(m("*", "anything.at.all") == 1);
    CHECK(m("a*b*c", "aXXbYYbc") == 1);
    CHECK(m("a*b*c", "aXXbYYb") == 0);
    CHECK(m("x.*", "x") == 0);       /* * needs a segment to exist */
    CHECK(m("x.*.y", "x..y") == 1);  /* ... which may be empty */
    /* ** across segments */
    CHECK(m("**.bias", "bias") == 1);
    CHECK(m("**.bias", "a.b.c.bias") == 1);
    CHECK(m("**.bias", "a.b.c.bias_x") == 0);
    CHECK(m("encoder.**", "encoder.layer.0.w") == 1);
    CHECK(m("encoder.**", "encoder") == 1);
    CHECK(m("encoder.**", "decoder.layer") == 0);
    CHECK(m("a.**.b", "a.b") == 1);
    CHECK(m("a.**.b", "a.x.y.z.b") == 1);
    CHECK(m("a.**.b", "a.x.y.z.c") == 0);
    CHECK(m("**.x.**.y", "p.x.q.x.r.y") == 1);
    CHECK(m("**.x.**.y", "p.y.q.x") == 0);
    CHECK(m("**", "a.b") == 1);
    CHECK(m("**.**.z", "z") == 1);
    /* ? */
    CHECK(m("layer?.0", "layer1.0.conv1.weight") == 1);
    CHECK(m("layer?.0", "layer12.0.conv1.weight") == 0);
    CHECK(m("a?c", "a.c") == 0);
    /* classes */
    CHECK(m("layer[12].0", "layer2.0.x") == 1);
    CHECK(m("layer[12].0", "layer3.0.x") == 0);
    CHECK(m("x.[0-5]", "x.5.w") == 1);
    CHECK(m("x.[0-5]", "x.10.w") == 0);
    CHECK(m("[!a-z]*", "Zed") == 1);
    CHECK(m("[!a-z]*", "zed") == 0);
    CHECK(m("[^0-9]", "a") == 1);
    CHECK(m("[!0-9]*", "fc") == 1);
    CHECK(m("[!0-9]*", "0") == 0);
    CHECK(m("[^0-9]", "7") == 0);
    CHECK(m("[]a]", "]") == 1);
    CHECK(m("[a-]", "-") == 1);
    CHECK(m("[\\]x]", "]") == 1);
    CHECK(m("[!]]", "]") == 0);
    /* alternatives */
    CHECK(m("layer{1,2}", "layer2.0.w") == 1);
    CHECK(m("layer{1,2}", "layer3.0.w") == 0);
    CHECK(m("{q,k,v}_proj", "k_proj.weight") == 1);
    CHECK(m("{q*,v}.w", "query.w") == 1);
    CHECK(m("{q*,v}.w", "value.w") == 0);
    CHECK(m("a{b,c{d,e}}f", "acef") == 1);
    CHECK(m("a{b,c{d,e}}f", "acf") == 0);
    CHECK(m("bert.{embeddings,encoder.layer.{0..1}}",
            "bert.encoder.layer.1.output.dense.bias") == 1);
    CHECK(m("bert.{embeddings,encoder.layer.{0..1}}",
            "bert.encoder.layer.2.output.dense.bias") == 0);
    CHECK(m("{**.bias,fc}", "a.b.bias") == 1);
    CHECK(m("a,b", "a,b") == 1); /* ',' outside braces is literal */
    /* numeric ranges: one whole canonical decimal segment */
    CHECK(m("l.{0..5}.x", "l.3.x") == 1);
    CHECK(m("l.{0..5}.x", "l.0.x") == 1);
    CHECK(m("l.{0..5}.x", "l.10.x") == 0);
    CHECK(m("l.{0..5}.x", "l.03.x") == 0); /* leading zero */
    CHECK(m("l.{0..5}.x", "l.-1.x") == 0);
    CHECK(m("l.{0..5}.x", "l.3a.x") == 0);
    CHECK(m("l.{0..5}.x", "l..x") == 0);
    CHECK(m("l.{12..}", "l.12") == 1);
    CHECK(m("l.{12..}", "l.11") == 0);
    CHECK(m("l.{12..}", "l.123456789012345678901234") == 1);
    CHECK(m("l.{..3}", "l.3") == 1);
    CHECK(m("l.{..3}", "l.4") == 0);
    CHECK(m("l.{..3}", "l.123456789012345678901234") == 0);
    CHECK(m("l.{7..7}", "l.7") == 1);
    CHECK(m("l.{0..9999999999999999999}", "l.9999999999999999999") == 1);
    CHECK(m("l.{0..9999999999999999999}", "l.10000000000000000000") == 0);
    CHECK(m("l.{x,{0..2}}", "l.2") == 1);
    CHECK(m("l.{x,{0..2}}", "l.x") == 1);
    /* escapes */
    CHECK(m("a\\*b", "a*b") == 1);
    CHECK(m("a\\*b", "axb") == 0);
    CHECK(m("re\\:x", "re:x") == 1);
    CHECK(m("\\{0\\}", "{0}") == 1);
    CHECK(m("x.*.y", "x.{0..5}.y") == 0); /* dots always split */
    CHECK(m("\\{a,b\\}", "{a,b}") == 1);
    CHECK(m("a\\?", "a?") == 1);
    CHECK(m("a\\?", "ab") == 0);
    /* subtree rule */
    CHECK(m("layer1.0", "layer1.0.conv1.weight") == 1);
    CHECK(m("layer1.0", "layer1.0") == 1);
    CHECK(m("layer1.0", "layer1.01.x") == 0);
    CHECK(m("layer1.0", "layer1.0x") == 0);
    CHECK(m("layer1.0", "xlayer1.0.y") == 0);
    CHECK(m("layer1", "layer1.0.conv1.weight") == 1);
    CHECK(m("layer1", "layer10.conv1.weight") == 0);
    /* regex: unanchored search */
    CHECK(m("re:^lm_head", "lm_head.weight") == 1);
    CHECK(m("re:^lm_head", "model.lm_head.weight") == 0);
    CHECK(m("re:lm_head", "model.lm_head.weight") == 1);
    CHECK(m("re:layer\\.1[0-5]\\.", "bert.encoder.layer.12.x") == 1);
    CHECK(m("re:layer\\.1[0-5]\\.", "bert.encoder.layer.1.x") == 0);
    CHECK(m("re:(query|key)\\.bias$", "a.key.bias") == 1);
    CHECK(m("re:^a$", "a") == 1);
    CHECK(m("re:^a$", "ab") == 0);
    /* the literal prefilter must never reject a real match */
    CHECK(m("re:ab+c", "abbbc") == 1);
    CHECK(m("re:ab*c", "ac") == 1);
    CHECK(m("re:ab?c", "ac") == 1);
    CHECK(m("re:a\\.*c", "ac") == 1);
    CHECK(m("re:a\\.?bc", "abc") == 1);
    CHECK(m("re:x(y|z)w", "xzw") == 1);
    CHECK(m("re:x(yy)*w", "xw") == 1);
    CHECK(m("re:abc|xyz", "xyz") == 1);
    CHECK(m("re:ab{2}c", "abbc") == 1);
    CHECK(m("re:ab{0,1}c", "ac") == 1);
    CHECK(m("re:[]x]yz", "]yz") == 1);
    CHECK(m("re:[^.]+\\.bias$", "dense.bias") == 1);
    CHECK(m("re:\\<bias", "a.bias") == 1);
    CHECK(m("re:bias\\>", "a.bias") == 1);
    CHECK(m("re:\\`a", "a.x") == 1);
    CHECK(m("re:a\\(b\\)", "a(b)") == 1);
    CHECK(m("re:(a)(b)+cd", "abbcd") == 1);
    CHECK(m("re:lm_head\\.weight", "lm_head.bias") == 0);
}

/* The length is honoured: the name need not be NUL-terminated. */
static void test_length(void)
{
    pattern *g = pattern_compile("conv1.weight", NULL);
    pattern *r = pattern_compile("re:weight$", NULL);
    const char *s = "conv1.weightXYZ";
    CHECK(g && r);
    if (!g || !r)
        goto cleanup;
    CHECK(pattern_match(g, s, 12) == 1);
    CHECK(pattern_match(g, s, 15) == 0);
    CHECK(pattern_match(r, s, 12) == 1);
    CHECK(pattern_match(r, s, 15) == 0);
    CHECK(pattern_match(g, s, 11) == 0);
    CHECK_STR(pattern_source(g), "conv1.weight");
    CHECK(pattern_is_regex(r) == 1 && pattern_is_regex(g) == 0);
cleanup:
    pattern_free(g);
    pattern_free(r);
    pattern_free(NULL);
}

/* ---- errors: message and column ----------------------------------------- */

static void expect_err(const char *pat, size_t col, const char *what)
{
    size_t got = 99999;
    char want[256];
    pattern *p = pattern_compile(pat, &got);
    CHECK(p == NULL);
    pattern_free(p);
    CHECK_EQ_U64(got, col);
    CHECK(strstr(err_msg(), what) != NULL);
    snprintf(want, sizeof want, "at column %zu", col);
    CHECK(strstr(err_msg(), want) != NULL);
    if (!strstr(err_msg(), what))
        fprintf(stderr, "  %s: got \"%s\"\n", pat, err_msg());
}

static void test_errors(void)
{
    char *big;
    expect_err("", 1, "empty pattern");
    expect_err("model.{a,b", 7, "unclosed '{'");
    expect_err("a{b,{c}", 2, "unclosed '{'");
    expect_err("a}b", 2, "unmatched '}'");
    expect_err("a]b", 2, "unmatched ']'");
    expect_err("x.[0-9", 3, "unclosed '['");
    expect_err("x.[]", 3, "unclosed '['");
    expect_err("x.[z-a]", 4, "empty class range 'z-a'");
    expect_err("{a,,b}", 4, "empty alternative");
    expect_err("{a,}", 4, "empty alternative");
    expect_err("{}", 2, "empty alternative");
    expect_err("{,a}", 2, "empty alternative");
    expect_err("l.{5..2}", 3, "range {5..2} is empty");
    expect_err("l.{..}", 3, "range {..} needs a bound");
    expect_err("l.{0..12345678901234567890}", 7, "over 19 digits");
    expect_err("l.x{0..5}", 4, "range {0..5} must be a whole segment");
    expect_err("l.{0..5}x", 3, "range {0..5} must be a whole segment");
    expect_err("a**", 2, "'**' must be a whole segment");
    expect_err("a.***.b", 3, "'**' must be a whole segment");
    expect_err("**b", 1, "'**' must be a whole segment");
    expect_err("{a,b}**", 6, "'**' must be a whole segment");
    expect_err("abc\\", 4, "trailing '\\'");
    expect_err("[a\\", 3, "trailing '\\'");
    expect_err("a\\.b", 2, "'\\.' is not allowed");
    expect_err(".a", 1, "empty segment");
    expect_err("a.", 2, "empty segment");
    expect_err("a..b", 3, "empty segment");
    expect_err("x.{a,b.}", 7, "empty segment");
    expect_err("re:", 4, "empty regex");
    expect_err("re:(ab", 4, "invalid regex");
    expect_err("re:a[", 4, "invalid regex");
    /* 11 two-way groups: 2048 alternatives */
    expect_err("{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}",
               1, "more than 1024 alternatives");
    big = malloc(PATTERN_MAX_LEN + 2);
    if (big) {
        memset(big, 'a', PATTERN_MAX_LEN + 1);
        big[PATTERN_MAX_LEN + 1] = '\0';
        expect_err(big, PATTERN_MAX_LEN + 1, "longer than 4096 bytes");
        big[PATTERN_MAX_LEN] = '\0'; /* exactly the limit is fine */
        CHECK(m(big, big) == 1);
        free(big);
    }
    /* 10 two-way groups are fine */
    CHECK(m("{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}",
            "abababbbba") == 1);
}

/* Hostile but valid patterns stay fast and bounded. */
static void test_hostile(void)
{
    char pat[PATTERN_MAX_LEN + 1], name[4096];
    size_t n = 0, k;
    pattern *p;
    /* "**.a.**.a. ... .**.b" against "a.a.a....a" (no b) */
    while (n + 8 < sizeof pat) {
        memcpy(pat + n, "**.a.", 5);
        n += 5;
    }
    memcpy(pat + n, "b", 2);
    for (k = 0; k + 2 < sizeof name; k += 2)
        memcpy(name + k, "a.", 2);
    name[k - 1] = '\0';
    p = pattern_compile(pat, NULL);
    CHECK(p != NULL);
    if (p) {
        CHECK(pattern_match(p, name, strlen(name)) == 0);
        pattern_free(p);
    }
    /* "*a*a*a...*b" inside one segment */
    for (n = 0; n + 3 < sizeof pat; n += 2)
        memcpy(pat + n, "*a", 2);
    memcpy(pat + n, "b", 2);
    memset(name, 'a', 4000);
    name[4000] = '\0';
    p = pattern_compile(pat, NULL);
    CHECK(p != NULL);
    if (p) {
        CHECK(pattern_match(p, name, strlen(name)) == 0);
        pattern_free(p);
    }
    /* 2000 single-alternative groups */
    for (n = 0; n + 3 < 6000 && n + 3 < sizeof pat; n += 3)
        memcpy(pat + n, "{a}", 3);
    pat[n] = '\0';
    p = pattern_compile(pat, NULL);
    CHECK(p != NULL);
    pattern_free(p);
    /* deep nesting */
    for (n = 0; n < 2000; n++)
        pat[n] = '{';
    pat[n++] = 'x';
    for (k = 0; k < 2000; k++)
        pat[n++] = '}';
    pat[n] = '\0';
    CHECK(m(pat, "x.y") == 1);
}

/* ---- real name lists ---------------------------------------------------- */

static void test_bert(void)
{
    table t;
    bitset b;
    table_init(&t);
    /* bert-base-uncased's model.safetensors */
    CHECK(mn_gen_bert(&t, &(mn_bert_opts){12, 768, 1, 1, 0,
                                           MN_BERT_HEAD_PRETRAINING}) == 0);
    CHECK_EQ_U64(t.count, 206);
    CHECK_EQ_U64(count(&t, "bert.encoder.layer.{0..2}"), 48);
    CHECK_EQ_U64(count(&t, "bert.encoder.layer.{0..2}.**"), 48);
    CHECK_EQ_U64(count(&t, "bert.embeddings"), 5);
    /* the seed recipe: embeddings plus the first 3 layers */
    CHECK_EQ_U64(count(&t, "bert.{embeddings,encoder.layer.{..2}}"), 53);
    CHECK_EQ_U64(count(&t, "**.bias"), 76);
    CHECK_EQ_U64(count(&t, "**.LayerNorm"), 2 + 12 * 4 + 2);
    CHECK_EQ_U64(count(&t, "**.attention.self.{query,key}.weight"), 24);
    CHECK_EQ_U64(count(&t, "cls"), 7);
    CHECK_EQ_U64(count(&t, "**"), 206);
    CHECK_EQ_U64(count(&t, "nothing.here"), 0);
    CHECK(same(&t, "**.bias", "re:(^|\\.)bias$"));
    CHECK(same(&t, "bert.encoder.layer.{0..2}",
               "re:^bert\\.encoder\\.layer\\.[0-2]\\."));
    CHECK(same(&t, "*.*.LayerNorm.*", "re:^[^.]*\\.[^.]*\\.LayerNorm\\."));
    /* bits of other tensors are left alone */
    bitset_init(&b, t.count);
    bitset_set(&b, 0);
    {
        pattern *p = pattern_compile("cls", NULL);
        CHECK(p && pattern_match_table(p, &t, &b) == 7);
        pattern_free(p);
    }
    CHECK(bitset_get(&b, 0) == 1);
    CHECK_EQ_U64(bitset_count(&b), 8);
    CHECK(bitset_get(&b, 205) == 1);
    bitset_free(&b);
    table_free(&t);
}

/* Ranges across layers 0 to 23: {0..5} must not catch 10 to 15. */
static void test_ranges_24(void)
{
    table t;
    bitset b;
    int leak = 0;
    table_init(&t);
    /* bert-large-uncased, same names with 24 layers */
    CHECK(mn_gen_bert(&t, &(mn_bert_opts){24, 1024, 1, 1, 0,
                                           MN_BERT_HEAD_PRETRAINING}) == 0);
    CHECK_EQ_U64(t.count, 5 + 24 * 16 + 9);
    CHECK_EQ_U64(sel(&t, "bert.encoder.layer.{0..5}", &b), 96);
    for (size_t i = 0; i < t.count; i++) {
        const char *n = table_name(&t, i);
        int l;
        if (sscanf(n, "bert.encoder.layer.%d.", &l) == 1 && l >= 10 &&
            bitset_get(&b, i))
            leak = 1;
    }
    CHECK(!leak);
    bitset_free(&b);
    CHECK_EQ_U64(count(&t, "bert.encoder.layer.{12..}"), 12 * 16);
    CHECK_EQ_U64(count(&t, "bert.encoder.layer.{..3}"), 4 * 16);
    CHECK_EQ_U64(count(&t, "bert.encoder.layer.{10..15}"), 6 * 16);
    CHECK_EQ_U64(count(&t, "bert.encoder.layer.{24..}"), 0);
    CHECK_EQ_U64(count(&t, "bert.encoder.layer.[0-5]"), 6 * 16);
    CHECK_EQ_U64(count(&t, "bert.encoder.layer.[0-5]*"), 20 * 16);
    CHECK_EQ_U64(count(&t, "bert.encoder.layer.1?"), 10 * 16);
    CHECK(same(&t, "bert.encoder.layer.{10..15}",
               "re:^bert\\.encoder\\.layer\\.1[0-5]\\."));
    CHECK(same(&t, "bert.encoder.layer.{12..}.**.weight",
               "re:^bert\\.encoder\\.layer\\.(1[2-9]|2[0-3])\\..*weight$"));
    CHECK(same(&t, "**.layer.{..3}.output.*.bias",
               "re:layer\\.[0-3]\\.output\\.[^.]*\\.bias$"));
    table_free(&t);
}

static void test_resnet(void)
{
    table t;
    table_init(&t);
    CHECK(mn_gen_resnet18(&t) == 0);
    CHECK_EQ_U64(t.count, 122);
    CHECK_EQ_U64(count(&t, "layer1.0"), 12);
    /* the seed's substring test "layer1.0." selects the same set */
    CHECK(same(&t, "layer1.0", "re:^layer1\\.0\\."));
    CHECK_EQ_U64(count(&t, "*.weight"), 3);
    CHECK_EQ_U64(count(&t, "layer{1,2}"), 54);
    CHECK_EQ_U64(count(&t, "**.bn*"), 85);
    CHECK_EQ_U64(count(&t, "**.downsample"), 18);
    CHECK_EQ_U64(count(&t, "layer4.**"), 30);
    CHECK_EQ_U64(count(&t, "layer4"), 30);
    CHECK_EQ_U64(count(&t, "fc"), 2);
    /* the downsample's BatchNorm is module "1", not "bn*" */
    CHECK_EQ_U64(count(&t, "**.{bn*,downsample.1}"), 100);
    CHECK_EQ_U64(count(&t, "re:(^|\\.)(bn[0-9]|downsample\\.1)\\."), 100);
    CHECK(same(&t, "**.bn*", "re:(^|\\.)bn[^.]*\\."));
    CHECK(same(&t, "layer[34].?.conv?", "re:^layer[34]\\.[0-9]\\.conv"));
    /* the substring trap: layer1.0 is not a prefix of layer1.01 or
     * layer1.0x */
    CHECK(mn_add(&t, TK_PARAMETER, DT_F32, MN_4D(64, 64, 3, 3),
                 "layer1.01.conv1.weight") == 122);
    CHECK(mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(64), "layer1.0x.weight") ==
          123);
    CHECK_EQ_U64(count(&t, "layer1.0"), 12);
    table_free(&t);
}

static void test_llama(void)
{
    table t;
    table_init(&t);
    CHECK(mn_gen_llama2(&t, 32, 1) == 0);
    CHECK_EQ_U64(t.count, 323);
    CHECK_EQ_U64(count(&t, "model.layers.{28..}"), 40);
    CHECK_EQ_U64(count(&t, "**.mlp.**"), 96);
    CHECK_EQ_U64(count(&t, "re:^lm_head"), 1);
    CHECK_EQ_U64(count(&t, "**.self_attn.{q,k,v}_proj.weight"), 96);
    CHECK_EQ_U64(count(&t, "**.inv_freq"), 32);
    CHECK_EQ_U64(count(&t, "model.layers.*.mlp"), 96);
    CHECK_EQ_U64(count(&t, "{model.embed_tokens,lm_head}"), 2);
    CHECK_EQ_U64(count(&t, "**.*_layernorm"), 64);
    CHECK(same(&t, "model.layers.{28..}", "re:^model\\.layers\\.(2[89]|3[01])\\."));
    CHECK(same(&t, "**.mlp.**", "re:\\.mlp\\."));
    CHECK(same(&t, "**.*_proj.weight", "re:_proj\\.weight$"));
    table_free(&t);
}

static void test_deepseek(void)
{
    table t;
    table_init(&t);
    CHECK(mn_gen_deepseek_v3(&t, 0) == 0);
    CHECK_EQ_U64(t.count, 91991);
    CHECK_EQ_U64(count(&t, "**"), 91991);
    CHECK_EQ_U64(count(&t, "**.weight_scale_inv"), 45808);
    CHECK_EQ_U64(count(&t, "model.layers.{3..61}.mlp.experts.{0..255}"),
                 59 * 1536);
    CHECK_EQ_U64(count(&t, "model.layers.*.mlp.experts.{..7}"), 59 * 8 * 6);
    CHECK_EQ_U64(count(&t, "model.layers.61"), 1564);
    CHECK_EQ_U64(count(&t, "model.layers.{..2}.mlp"), 18);
    CHECK_EQ_U64(count(&t, "**.e_score_correction_bias"), 59);
    CHECK(same(&t, "model.layers.{60..}.mlp.experts.{250..}.**.weight",
               "re:^model\\.layers\\.6[01]\\.mlp\\.experts\\.25[0-5]\\..*"
               "\\.weight$"));
    table_free(&t);
}

/* A regex works on bytes whatever the locale: the editor sets LC_CTYPE
 * from the environment, and the command line and trainer do not, so a
 * UTF-8 locale must not change what `re:` matches. */
static void test_regex_locale(void)
{
    const char *name = "caf\xc3\xa9.w";
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && !setlocale(LC_CTYPE, "C.UTF-8"))
            break; /* no UTF-8 locale here: the C pass is all there is */
        pattern *one = pattern_compile("re:^caf.\\.w$", NULL);
        pattern *two = pattern_compile("re:^caf..\\.w$", NULL);
        CHECK(one && two);
        if (one && two) {
            CHECK(!pattern_match(one, name, strlen(name)));
            CHECK(pattern_match(two, name, strlen(name)));
        }
        pattern_free(one);
        pattern_free(two);
    }
    setlocale(LC_CTYPE, "C");
}

int main(void)
{
    test_regex_locale();
    test_forms();
    test_length();
    test_errors();
    test_hostile();
    test_bert();
    test_ranges_24();
    test_resnet();
    test_llama();
    test_deepseek();
    return check_report();
}
