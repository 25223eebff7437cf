/* test_preset.c: preset files, templates, arguments, shadowing, errors,
 * and the built-in presets applied through the pattern module to BERT,
 * ResNet-18 and Llama name lists.
 *
 * The built-in folder is $TUI_PRESETS_DIR, or "presets" (run from the
 * repository root). */
#include "check.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tui/core/err.h"
#include "../../tui/core/preset.h"
#include "../../tui/core/preset_gen.h"
#include "../../tui/core/table.h"
#include "model_names.h"

static char tmpdir[256];

static const char *builtin_dir(void)
{
    const char *d = getenv("TUI_PRESETS_DIR");
    return d && d[0] ? d : "presets";
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

/* Writes tmpdir/<name>.yaml and loads it; returns preset_load's rc. */
static int load_text(const char *name, const char *text, preset *p,
                     char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s.yaml", tmpdir, name);
    write_file(path, text);
    return preset_load(path, p);
}

/* --- name lists ------------------------------------------------------- */

/* BertForSequenceClassification (bert-base, transformers < 4.31): 201
 * parameters and the position_ids buffer. */
static const mn_bert_opts bert_cls = {12, 768, 1, 0, 1,
                                      MN_BERT_HEAD_CLASSIFIER};
/* A bare BertModel (bert-base): no "bert." prefix, no head: 199
 * parameters. */
static const mn_bert_opts bert_bare = {12, 768, 0, 0, 0, MN_BERT_HEAD_NONE};

static size_t count_params(const table *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        n += table_at(t, i)->kind == TK_PARAMETER;
    return n;
}

/* Expands preset `name` with args on t, applies the rules in order with
 * the pattern module and returns the number of frozen parameters, or -1
 * (err set). *empty gets the number of rules that matched nothing. */
static long apply(const preset_list *l, const char *name, const char *args,
                  const table *t, size_t *empty)
{
    const preset *p = preset_list_find(l, name);
    preset_vars v;
    preset_expansion e;
    bitset frozen;
    long frozen_params = -1;

    if (!p || preset_vars_from_table(t, &v) ||
        preset_expand(p, args, &v, &e))
        return -1;
    if (bitset_init(&frozen, t->count))
        exit(1);
    if (preset_apply(&e, t, &frozen, empty)) {
        fprintf(stderr, "%s: %s\n", name, err_msg());
        goto done;
    }
    frozen_params = 0;
    for (size_t k = 0; k < t->count; k++)
        if (bitset_get(&frozen, k) && table_at(t, k)->kind == TK_PARAMETER)
            frozen_params++;
done:
    bitset_free(&frozen);
    preset_expansion_free(&e);
    return frozen_params;
}

/* --- tests ------------------------------------------------------------- */

static const char *const builtin_names[] = {
    "bert-embeddings-first-n", "bitfit", "embeddings-only", "freeze-all",
    "head-only", "llama-last-n", "norms-only", "resnet-backbone",
    "unfreeze-all"};
#define NBUILTIN (sizeof builtin_names / sizeof builtin_names[0])

/* The computed presets preset_list_load adds (preset_gen.h). */
static size_t ngen(void)
{
    size_t n;
    preset_gens(&n);
    return n;
}

static void test_builtins_load(preset_list *l)
{
    int rc = preset_list_load(builtin_dir(), l);
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "preset_list_load: %s\n", err_msg());
        exit(1);
    }
    CHECK_EQ_U64(l->n, NBUILTIN + ngen());
    for (size_t i = 0; i < NBUILTIN; i++) {
        const preset *p = preset_list_find(l, builtin_names[i]);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK(strlen(p->description) > 40);
        CHECK(p->nrules > 0);
        CHECK(p->user == 0 && p->shadows == 0);
        CHECK(strstr(p->path, builtin_names[i]) != NULL);
        for (size_t k = 0; k < p->nparams; k++)
            CHECK(p->params[k].help[0] != '\0');
    }
    /* sorted by name */
    for (size_t i = 1; i < l->n; i++)
        CHECK(strcmp(l->items[i - 1].name, l->items[i].name) < 0);
}

static void test_builtins_apply(const preset_list *l)
{
    table bert, bare, rn, llama;
    size_t empty;
    table_init(&bert);
    table_init(&bare);
    table_init(&rn);
    table_init(&llama);
    CHECK(mn_gen_bert(&bert, &bert_cls) == 0);
    CHECK(mn_gen_bert(&bare, &bert_bare) == 0);
    CHECK(mn_gen_resnet18(&rn) == 0);
    CHECK(mn_gen_llama2(&llama, 32, 0) == 0);
    CHECK_EQ_U64(count_params(&bert), 201);
    CHECK_EQ_U64(count_params(&bare), 199);
    CHECK_EQ_U64(count_params(&rn), 62);
    CHECK_EQ_U64(rn.count, 122);
    CHECK_EQ_U64(count_params(&llama), 291);

    /* the seed recipe: embeddings (5) + 3 layers x 16 */
    CHECK(apply(l, "bert-embeddings-first-n", "n=3", &bert, &empty) == 53);
    CHECK(apply(l, "bert-embeddings-first-n", "", &bert, &empty) == 53);
    CHECK(apply(l, "bert-embeddings-first-n", "n=0", &bert, &empty) == 5);
    CHECK(apply(l, "bert-embeddings-first-n", "n=12", &bert, &empty) == 197);
    CHECK(apply(l, "bert-embeddings-first-n", "n=48", &bert, &empty) == 197);
    /* layer 1 must not pull in layers 10 and 11 */
    CHECK(apply(l, "bert-embeddings-first-n", "n=2", &bert, &empty) == 37);
    /* a bare encoder (no "bert." prefix) is covered by the same preset */
    CHECK(apply(l, "bert-embeddings-first-n", "n=3", &bare, &empty) == 53);
    CHECK(apply(l, "bert-embeddings-first-n", "n=12", &bare, &empty) == 197);
    CHECK(apply(l, "embeddings-only", NULL, &bert, &empty) == 5);
    CHECK(apply(l, "embeddings-only", NULL, &llama, &empty) == 1);
    CHECK(apply(l, "head-only", NULL, &bert, &empty) == 199);
    CHECK(apply(l, "head-only", NULL, &rn, &empty) == 60);
    CHECK(apply(l, "head-only", NULL, &llama, &empty) == 290);
    /* biases: embeddings LN 1 + 12 x 8 + pooler 1 + classifier 1 */
    CHECK(apply(l, "bitfit", NULL, &bert, &empty) == 201 - 99);
    CHECK(apply(l, "bitfit", NULL, &llama, &empty) == 291);
    /* ResNet: 20 BatchNorm biases and fc.bias; convs have none */
    CHECK(apply(l, "bitfit", NULL, &rn, &empty) == 62 - 21);
    /* norms: BERT LayerNorm 2 + 12 x 4; ResNet bn 2 + 8 x 4 + 3 x 2 */
    CHECK(apply(l, "norms-only", NULL, &bert, &empty) == 201 - 50);
    CHECK(apply(l, "norms-only", NULL, &rn, &empty) == 62 - 40);
    CHECK(apply(l, "norms-only", NULL, &llama, &empty) == 291 - 65);
    /* ResNet prefix: stem 3, layer1 12, layer2 15 (with downsample) */
    CHECK(apply(l, "resnet-backbone", "k=2", &rn, &empty) == 30);
    CHECK(apply(l, "resnet-backbone", "k=0", &rn, &empty) == 3);
    CHECK(apply(l, "resnet-backbone", "k=1", &rn, &empty) == 15);
    CHECK(apply(l, "resnet-backbone", "k=4", &rn, &empty) == 60);
    /* last n layers trainable */
    CHECK(apply(l, "llama-last-n", "n=2", &llama, &empty) == 291 - 18);
    CHECK(apply(l, "llama-last-n", "n=2,norm=1", &llama, &empty) == 291 - 19);
    CHECK(apply(l, "llama-last-n", "n=2,norm=1,head=1", &llama, &empty) ==
          291 - 20);
    CHECK(apply(l, "llama-last-n", "n=0", &llama, &empty) == 291);
    /* n >= layers: every layer trains; embeddings, norm, head stay */
    CHECK(apply(l, "llama-last-n", "n=32", &llama, &empty) == 3);
    CHECK(apply(l, "llama-last-n", "n=40", &llama, &empty) == 3);
    CHECK(apply(l, "freeze-all", NULL, &rn, &empty) == 62);
    CHECK(apply(l, "unfreeze-all", NULL, &rn, &empty) == 0);
    /* a preset that finds nothing here: every rule of its expansion is
     * reported as empty */
    CHECK(apply(l, "resnet-backbone", NULL, &llama, &empty) == 0);
    CHECK_EQ_U64(empty, 2);
    table_free(&bert);
    table_free(&bare);
    table_free(&rn);
    table_free(&llama);
}

static void test_expand_text(const preset_list *l)
{
    preset_expansion e;
    preset_vars v;
    table llama;
    const preset *bert = preset_list_find(l, "bert-embeddings-first-n");
    const preset *rb = preset_list_find(l, "resnet-backbone");
    const preset *ll = preset_list_find(l, "llama-last-n");
    if (!bert || !rb || !ll)
        return;

    CHECK(preset_expand(bert, "n=3", NULL, &e) == 0);
    CHECK_EQ_U64(e.n, 2);
    CHECK(e.rules[1].op == PRESET_FREEZE);
    CHECK_STR(e.rules[1].pattern, "{bert.encoder,roberta.encoder,"
              "deberta.encoder,encoder}.layer.{0..2}");
    preset_expansion_free(&e);
    /* n=0: {0..-1} drops the layer rule */
    CHECK(preset_expand(bert, " n = 0 ", NULL, &e) == 0);
    CHECK_EQ_U64(e.n, 1);
    CHECK_EQ_U64(e.dropped, 1);
    preset_expansion_free(&e);
    /* argument errors */
    CHECK(preset_expand(bert, "n=49", NULL, &e) == -1);
    CHECK(strstr(err_msg(), "n=49 is outside [0, 48]") != NULL);
    CHECK(e.n == 0 && e.rules == NULL);
    CHECK(preset_expand(bert, "n=-1", NULL, &e) == -1);
    CHECK(preset_expand(bert, "n=abc", NULL, &e) == -1);
    CHECK(strstr(err_msg(), "not an integer") != NULL);
    CHECK(preset_expand(bert, "n=3x", NULL, &e) == -1);
    CHECK(preset_expand(bert, "n=", NULL, &e) == -1);
    CHECK(preset_expand(bert, "m=1", NULL, &e) == -1);
    CHECK(strstr(err_msg(), "unknown parameter 'm'; did you mean 'n'? "
                            "(parameters: n)") != NULL);
    CHECK(preset_expand(bert, "layers=1", NULL, &e) == -1);
    CHECK(strstr(err_msg(), "unknown parameter 'layers' (parameters: n)")
          != NULL);
    CHECK(preset_expand(bert, "n=1,n=2", NULL, &e) == -1);
    CHECK(strstr(err_msg(), "twice") != NULL);
    CHECK(preset_expand(bert, "n", NULL, &e) == -1);
    CHECK(preset_expand(bert, "n=99999999999999999999", NULL, &e) == -1);

    /* in-segment range -> alternatives */
    CHECK(preset_expand(rb, "k=3", NULL, &e) == 0);
    CHECK_STR(e.rules[1].pattern, "layer{1,2,3}");
    preset_expansion_free(&e);
    CHECK(preset_expand(rb, "k=1", NULL, &e) == 0);
    CHECK_STR(e.rules[1].pattern, "layer1");
    preset_expansion_free(&e);

    /* model variables */
    CHECK(preset_expand(ll, "n=4", NULL, &e) == -1);
    CHECK(strstr(err_msg(), "'layers' is a model variable") != NULL);
    CHECK(strstr(err_msg(), "llama-last-n.yaml:") != NULL);
    table_init(&llama);
    CHECK(mn_gen_llama2(&llama, 24, 0) == 0);
    CHECK(preset_vars_from_table(&llama, &v) == 0);
    CHECK_EQ_U64(v.layers, 24);
    CHECK_STR(v.container, "model.layers");
    CHECK(preset_expand(ll, "n=4,head=1", &v, &e) == 0);
    CHECK_EQ_U64(e.n, 3);
    CHECK_EQ_U64(e.dropped, 1);
    CHECK_STR(e.rules[1].pattern, "{model.layers,transformer.h,"
              "model.decoder.layers,gpt_neox.layers}.{20..}");
    CHECK(e.rules[1].op == PRESET_UNFREEZE);
    CHECK_STR(e.rules[2].pattern, "{lm_head,embed_out}");
    preset_expansion_free(&e);
    table_free(&llama);
}

static void test_templates(void)
{
    char path[512];
    preset p;
    preset_expansion e;
    preset_vars v;
    memset(&v, 0, sizeof v);
    v.layers = 10;
    int rc = load_text("tpl",
        "name: tpl\n"
        "description: templates\n"
        "params:\n"
        "  n: {default: 3, min: 0, max: 2000}\n"
        "  k: {default: 2, min: -5, max: 5, help: h}\n"
        "rules:\n"
        "  - freeze: \"a.{..k}\"\n"
        "  - freeze: \"a.{n..}\"\n"
        "  - unfreeze: \"b.{n - 1}.c\"\n"
        "  - freeze: \"x{0..n}y\"\n"
        "  - freeze: \"re:^h\\\\.{k..n}\\\\.\"\n"
        "  - freeze: \"{a,b}.{0..5}.[{]x{n}\"\n"
        "  - freeze: \"re:z{2}\"\n"
        "  - freeze: \"m.{layers-n..layers-1}\"\n"
        "  - freeze: \"w.{k}\"\n"
        "    if: n - 3\n",
        &p, path, sizeof path);
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "%s\n", err_msg());
        return;
    }
    CHECK(preset_expand(&p, "", &v, &e) == 0);
    CHECK_EQ_U64(e.n, 8);
    CHECK_EQ_U64(e.dropped, 1); /* if: n - 3 is 0 */
    if (e.n == 8) {
        CHECK_STR(e.rules[0].pattern, "a.{0..2}");
        CHECK_STR(e.rules[1].pattern, "a.{3..}");
        CHECK_STR(e.rules[2].pattern, "b.2.c");
        CHECK(e.rules[2].op == PRESET_UNFREEZE);
        CHECK_STR(e.rules[3].pattern, "x{0,1,2,3}y");
        CHECK_STR(e.rules[4].pattern, "re:^h\\.(2|3)\\.");
        CHECK_STR(e.rules[5].pattern, "{a,b}.{0..5}.[{]x3");
        CHECK_STR(e.rules[6].pattern, "re:z{2}");
        CHECK_STR(e.rules[7].pattern, "m.{7..9}");
    }
    preset_expansion_free(&e);
    /* n=0: {..k} fine, {n..} -> {0..}, {n - 1} = -1 drops, x{0..0}y = x0y */
    CHECK(preset_expand(&p, "n=0,k=-1", &v, &e) == 0);
    CHECK_EQ_U64(e.dropped, 4); /* a.{..-1}, b.{-1}.c, m.{10..9}, w.{-1} */
    preset_expansion_free(&e);
    CHECK(preset_expand(&p, "n=0,k=1", &v, &e) == 0);
    CHECK_STR(e.rules[0].pattern, "a.{0..1}");
    CHECK_STR(e.rules[1].pattern, "a.{0..}");
    CHECK_STR(e.rules[2].pattern, "x0y");
    preset_expansion_free(&e);
    /* a range inside a segment is bounded */
    CHECK(preset_expand(&p, "n=2000", &v, &e) == -1);
    CHECK(strstr(err_msg(), "more than 1024 values") != NULL);
    CHECK(strstr(err_msg(), "tpl.yaml:10:5") != NULL);
    preset_free(&p);
}

/* Malformed presets: each error names file:line:col. */
static void test_errors(void)
{
    static const struct {
        const char *name, *text, *want;
    } cases[] = {
        {"e1", "name: other\ndescription: d\nrules: [{freeze: a}]\n",
         "e1.yaml:1:7: name 'other' must equal the file's basename 'e1'"},
        {"e2", "name: e2\ndescription: d\nrulez: [{freeze: a}]\n",
         "e2.yaml:3:1: unknown key 'rulez'"},
        {"e3", "name: e3\ndescription: d\n", "e3.yaml:1:1: missing 'rules'"},
        {"e4", "name: e4\ndescription: d\nparams:\n  n: {default: 9, max: 5}\n"
               "rules: [{freeze: a}]\n",
         "e4.yaml:4:16: parameter 'n': default 9 is outside [0, 5]"},
        {"e5", "name: e5\ndescription: d\nrules:\n  - {freeze: a, unfreeze: b}\n",
         "e5.yaml:4:5: a rule needs exactly one of"},
        {"e6", "name: e6\ndescription: d\nrules:\n  - freeze: \"x.{m..}\"\n",
         "e6.yaml:4:13: pattern 'x.{m..}': column 4: unknown name 'm'"},
        {"e7", "name: e7\ndescription: d\nparams: {n: {default: 1}}\nrules:\n"
               "  - freeze: \"x{n..}\"\n",
         "e7.yaml:5:13: pattern 'x{n..}': column 2: an open range must fill"},
        {"e8", "name: e8\ndescription: d\nrules:\n  - freeze: a\n  - [b\n",
         "e8.yaml:6:1: did not find expected"},
        {"e9", "name: e9\ndescription: d\nparams: {layers: {default: 1}}\n"
               "rules: [{freeze: a}]\n",
         "e9.yaml:3:10: bad parameter name 'layers'"},
        {"e10", "name: e10\ndescription: d\nrules: []\n",
         "e10.yaml:3:8: 'rules' must be a non-empty list"},
        {"e11", "name: e11\ndescription: d\nparams: {n: {default: 1}}\n"
                "rules:\n  - freeze: x\n    if: n +\n",
         "e11.yaml:6:9: condition 'n +': column 4: expected a number"},
        {"e12", "name: e12\ndescription: d\nparams: {n: {default: 1, min: 3, "
                "max: 2}}\nrules: [{freeze: a}]\n",
         "min 3 is above max 2"},
        {"e13", "- just\n- a list\n", "a preset must be a mapping"},
        {"e14", "name: e14\ndescription: d\nrules: [{freeze: \"\"}]\n",
         "e14.yaml:3:18: empty pattern"},
        {"e15", "name: e15\ndescription: d\nrules: [{freeze: \"x.{n-}\"}]\n",
         "unknown name 'n'"},
    };
    char path[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        preset p;
        int rc = load_text(cases[i].name, cases[i].text, &p, path, sizeof path);
        CHECK(rc == -1);
        CHECK(p.name == NULL && p.rules == NULL);
        const char *m = strstr(err_msg(), cases[i].want);
        CHECK(m != NULL);
        if (!m)
            fprintf(stderr, "case %s: got '%s'\n  want '%s'\n", cases[i].name,
                    err_msg(), cases[i].want);
        if (rc == 0)
            preset_free(&p);
    }
    preset p;
    CHECK(preset_load("/nonexistent/x.yaml", &p) == -1);
    CHECK(strstr(err_msg(), "/nonexistent/x.yaml") != NULL);
}

static void test_shadowing(void)
{
    char xdg[300], dir[400], path[600], home[300];
    preset_list l;
    snprintf(xdg, sizeof xdg, "%s/xdg", tmpdir);
    snprintf(dir, sizeof dir, "%s/tui", xdg);
    mkdir(xdg, 0700);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/tui/presets", xdg);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/bitfit.yaml", dir);
    write_file(path, "name: bitfit\ndescription: my own bitfit\n"
                     "rules: [{unfreeze: \"**.bias\"}]\n");
    snprintf(path, sizeof path, "%s/mine.yml", dir);
    write_file(path, "name: mine\ndescription: mine\nrules: [{freeze: x}]\n");
    snprintf(path, sizeof path, "%s/.hidden.yaml", dir);
    write_file(path, "broken: [\n");
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    write_file(path, "not a preset\n");
    setenv("XDG_CONFIG_HOME", xdg, 1);

    CHECK(preset_user_dir(path, sizeof path) == 0);
    CHECK_STR(path, dir);
    CHECK(preset_list_load(builtin_dir(), &l) == 0);
    CHECK_EQ_U64(l.n, NBUILTIN + ngen() + 1);
    const preset *b = preset_list_find(&l, "bitfit");
    CHECK(b && b->user && b->shadows);
    CHECK(b && strcmp(b->description, "my own bitfit") == 0);
    const preset *m = preset_list_find(&l, "mine");
    CHECK(m && m->user && !m->shadows);
    const preset *f = preset_list_find(&l, "freeze-all");
    CHECK(f && !f->user);
    CHECK(preset_list_find(&l, "nope") == NULL);
    preset_list_free(&l);

    /* two files of one name in one folder */
    snprintf(path, sizeof path, "%s/mine.yaml", dir);
    write_file(path, "name: mine\ndescription: again\nrules: [{freeze: x}]\n");
    CHECK(preset_list_load(builtin_dir(), &l) == -1);
    CHECK(strstr(err_msg(), "a second preset named 'mine'") != NULL);
    CHECK(l.n == 0 && l.items == NULL);
    unlink(path);
    /* a broken user preset is reported with its position */
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    write_file(path, "name: bad\ndescription: d\nrules: [{freeze: x, y: 1}]\n");
    CHECK(preset_list_load(builtin_dir(), &l) == -1);
    CHECK(strstr(err_msg(), "bad.yaml:3:") != NULL);
    unlink(path);

    /* fallback to ~/.config when XDG_CONFIG_HOME is unset or relative */
    snprintf(home, sizeof home, "%s/home", tmpdir);
    setenv("HOME", home, 1);
    setenv("XDG_CONFIG_HOME", "relative/dir", 1);
    CHECK(preset_user_dir(path, sizeof path) == 0);
    snprintf(dir, sizeof dir, "%s/.config/tui/presets", home);
    CHECK_STR(path, dir);
    unsetenv("XDG_CONFIG_HOME");
    CHECK(preset_list_load(builtin_dir(), &l) == 0); /* folder missing: ok */
    CHECK_EQ_U64(l.n, NBUILTIN + ngen());
    preset_list_free(&l);
    unsetenv("HOME");
    CHECK(preset_user_dir(path, sizeof path) == -1);
    CHECK(preset_list_load(builtin_dir(), &l) == 0);
    preset_list_free(&l);
    CHECK(preset_list_load("/nonexistent-presets", &l) == -1);
    CHECK(strstr(err_msg(), "/nonexistent-presets") != NULL);
}

/* preset_apply works on top of the current set and reports bad rules */
static void test_apply_direct(void)
{
    table t;
    bitset fr;
    size_t empty = 99;
    preset_out_rule r[] = {{PRESET_UNFREEZE, (char *)"fc"},
                           {PRESET_FREEZE, (char *)"nothing.here"},
                           {PRESET_FREEZE, (char *)"layer[1"}};
    preset_expansion e = {r, 2, 0};
    table_init(&t);
    CHECK(mn_gen_resnet18(&t) == 0);
    CHECK(bitset_init(&fr, t.count) == 0);
    for (size_t i = 0; i < t.count; i++)
        bitset_set(&fr, i);
    CHECK(preset_apply(&e, &t, &fr, &empty) == 0);
    CHECK_EQ_U64(empty, 1);
    CHECK_EQ_U64(bitset_count(&fr), t.count - 2);
    CHECK(!bitset_get(&fr, (size_t)table_find(&t, "fc.bias", 7)));
    e.n = 3;
    CHECK(preset_apply(&e, &t, &fr, &empty) == -1);
    CHECK(strstr(err_msg(), "preset rule 'layer[1'") != NULL);
    bitset_free(&fr);
    CHECK(bitset_init(&fr, 3) == 0);
    CHECK(preset_apply(&e, &t, &fr, NULL) == -1);
    bitset_free(&fr);
    table_free(&t);
}

static void test_vars_and_spec(void)
{
    table t;
    preset_vars v;
    table_init(&t);
    CHECK(mn_gen_bert(&t, &bert_cls) == 0);
    CHECK(preset_vars_from_table(&t, &v) == 0);
    CHECK_EQ_U64(v.layers, 12);
    CHECK_STR(v.container, "bert.encoder.layer");
    table_free(&t);
    table_init(&t);
    CHECK(mn_gen_bert(&t, &bert_bare) == 0);
    CHECK(preset_vars_from_table(&t, &v) == 0);
    CHECK_EQ_U64(v.layers, 12);
    CHECK_STR(v.container, "encoder.layer");
    table_free(&t);
    table_init(&t);
    CHECK(mn_gen_resnet18(&t) == 0);
    CHECK(preset_vars_from_table(&t, &v) == 0);
    CHECK_EQ_U64(v.layers, 2);
    table_free(&t);
    /* nn.Sequential at the top: the container is the model itself */
    table_init(&t);
    mn_add(&t, TK_PARAMETER, DT_F32, MN_2D(4, 4), "0.weight");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_2D(4, 4), "2.weight");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_2D(4, 4), "head.weight");
    /* index too large: ignored */
    mn_add(&t, TK_PARAMETER, DT_F32, MN_2D(4, 4), "x.99999999.w");
    CHECK(preset_vars_from_table(&t, &v) == 0);
    CHECK_EQ_U64(v.layers, 3);
    CHECK_STR(v.container, "");
    table_free(&t);
    table_init(&t);
    mn_add(&t, TK_PARAMETER, DT_F32, MN_2D(4, 4), "a.weight");
    CHECK(preset_vars_from_table(&t, &v) == 0);
    CHECK_EQ_U64(v.layers, 0);
    table_free(&t);

    char name[PRESET_MAX_NAME + 1];
    const char *args;
    CHECK(preset_split_spec("bert-embeddings-first-n:n=3", name, sizeof name,
                            &args) == 0);
    CHECK_STR(name, "bert-embeddings-first-n");
    CHECK_STR(args, "n=3");
    CHECK(preset_split_spec("bitfit", name, sizeof name, &args) == 0);
    CHECK_STR(args, "");
    CHECK(preset_split_spec(":n=3", name, sizeof name, &args) == -1);
    CHECK_STR(preset_op_name(PRESET_FREEZE), "freeze");
    CHECK_STR(preset_op_name(PRESET_UNFREEZE), "unfreeze");
}

int main(void)
{
    preset_list l;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_preset.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    /* keep the user's own presets out of the built-in checks */
    setenv("XDG_CONFIG_HOME", tmpdir, 1);
    test_builtins_load(&l);
    test_builtins_apply(&l);
    test_expand_text(&l);
    preset_list_free(&l);
    test_templates();
    test_errors();
    test_shadowing();
    test_vars_and_spec();
    test_apply_direct();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report();
}
