/* test_plan.c: plans (tui/core/plan.h): strict reading of every bad plan
 * in $FIX/bad_plans (tests/fixtures/gen_bad_plans.py), deterministic
 * writing (save -> load -> save byte-identical, odd names included),
 * validation, the model path helpers, and the fingerprint. */
#include "check.h"

#include "../../tui/core/err.h"
#include "../../tui/core/fingerprint.h"
#include "../../tui/core/plan.h"
#include "../../tui/core/table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FP "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char tmpdir[64];

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n + 1)) != NULL) {
        *len = fread(b, 1, (size_t)n, f);
        b[*len] = '\0';
    }
    fclose(f);
    return b;
}

static void test_bad_plans(void)
{
    const char *fix = getenv("FIX");
    char path[512], line[1024];
    int files = 0;
    if (!fix) {
        printf("test_plan: skipped (fixtures): FIX not set, the bad plans "
               "are not read\n");
        return;
    }
    snprintf(path, sizeof path, "%s/bad_plans/manifest.tsv", fix);
    FILE *m = fopen(path, "r");
    CHECK(m != NULL);
    if (!m)
        return;
    while (fgets(line, sizeof line, m)) {
        char *file = strtok(line, "\t");
        char *where = strtok(NULL, "\t");
        char *sub = strtok(NULL, "\n");
        char want[600];
        plan p;
        if (!file || !where || !sub)
            continue;
        files++;
        snprintf(path, sizeof path, "%s/bad_plans/%s", fix, file);
        if (strcmp(where, "-") == 0)
            snprintf(want, sizeof want, "%s: ", path);
        else
            snprintf(want, sizeof want, "%s:%s: ", path, where);
        plan_init(&p);
        err_clear();
        int rc = plan_load(path, &p);
        const char *msg = err_msg();
        int ok = rc == -1 && strncmp(msg, want, strlen(want)) == 0 &&
                 strstr(msg, sub) != NULL;
        if (!ok)
            fprintf(stderr, "  %s: rc %d\n    got:  %s\n    want: %s... %s\n",
                    file, rc, msg, want, sub);
        CHECK(ok);
        CHECK(p.nfrozen == 0 && p.nrules == 0 && p.model.path == NULL);
        plan_free(&p);
    }
    fclose(m);
    CHECK(files >= 30);
}

/* Names a writer must quote or escape to keep them intact. */
static const char *const odd[] = {
    "a: b", "a #b", "#a", " lead", "trail ", "new\nline", "esc\x1b[0m",
    "ls\xe2\x80\xa8sep", "nel\xc2\x85x", "1", "0.weight", "1e5", "0x1F",
    "true", "No", "null", "~", "-", "- x", "? x", "[a]", "{a}", "&a", "*a",
    "!x", "%x", "@x", "`x", "|", ">", "'", "\"", "back\\slash", "tab\there",
    "caf\xc3\xa9.w\xe2\x82\xac", "a,b", ".inf", "<<", "=", "a:b", "x.1:30",
    "layer1.0.conv1.weight", "\xef\xbb\xbf" "bom", "---", "...", "%TAG",
    "1:30", "-1.5", "+1", "0o17", "1_000", "bf16", "e", "Off", "0b1",
    "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10", "2002-1-5",
};

static void fill_plan(plan *p)
{
    plan_init(p);
    p->model.path = plan_strdup(p, "../ckpt/model #1.safetensors");
    p->model.format = plan_strdup(p, "safetensors");
    p->model.fingerprint = plan_strdup(p, FP);
    p->model.tensors = 122;
    p->model.parameters = 11689512;
    CHECK(plan_add_rule(p, PLAN_FREEZE, "**") == 0);
    CHECK(plan_add_rule(p, PLAN_UNFREEZE, "layer4.**") == 0);
    CHECK(plan_add_rule(p, PLAN_INVERT, NULL) == 0);
    CHECK(plan_add_rule(p, PLAN_FREEZE, "re:^fc\\.(weight|bias)$") == 0);
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++)
        CHECK(plan_add_frozen(p, odd[i], strlen(odd[i])) == 0);
    p->estimate.optimizer = plan_strdup(p, "adamw");
    p->estimate.precision = plan_strdup(p, "fp32");
    p->estimate.trainable_parameters = 8398858;
    p->estimate.bytes.weights = 46758048;
    p->estimate.bytes.total = 147542624;
    p->estimate.bytes.total_if_all_trainable = 187032192;
    p->batchnorm = PLAN_BN_FREEZE_STATS;
    plan_train *t = &p->train;
    t->present = 1;
    t->model = plan_strdup(p, "resnet18.ts.pt");
    t->data.train = plan_strdup(p, "train.safetensors");
    t->data.inputs = plan_strdup(p, "x");
    t->data.targets = plan_strdup(p, "y");
    t->data.val_fraction = 0.1;
    t->loss = plan_strdup(p, "cross_entropy");
    t->optimizer.name = plan_strdup(p, "adamw");
    t->optimizer.lr = 3.0e-4;
    t->optimizer.weight_decay = 0.01;
    t->optimizer.betas[0] = 0.9;
    t->optimizer.betas[1] = 0.999;
    t->optimizer.eps = 1e-8;
    t->schedule.name = plan_strdup(p, "cosine");
    t->schedule.warmup_steps = 100;
    t->clip_grad_norm = 1.0;
    p->train.dist_timeout = 60.0;
    p->train.world_size = 4;
    t->batch_size = 64;
    t->epochs = 3;
    t->device = plan_strdup(p, "cuda");
    t->precision = plan_strdup(p, "bf16");
    t->seed = 0;
    t->output = plan_strdup(p, "runs/resnet18-ft");
}

static void test_roundtrip(void)
{
    plan a, b;
    char *t1 = NULL, *t2 = NULL, *f1 = NULL, *f2 = NULL;
    size_t n1 = 0, n2 = 0, fl1 = 0, fl2 = 0;
    char path[128];

    fill_plan(&a);
    CHECK(plan_format(&a, &t1, &n1) == 0);
    CHECK(t1 != NULL && strlen(t1) == n1);
    plan_init(&b);
    int rc = plan_parse("mem.yaml", t1, n1, &b);
    if (rc)
        fprintf(stderr, "  %s\n%s\n", err_msg(), t1);
    CHECK(rc == 0);
    CHECK_EQ_U64(b.nfrozen, sizeof odd / sizeof *odd);
    for (size_t i = 0; i < b.nfrozen && i < sizeof odd / sizeof *odd; i++)
        CHECK_STR(b.frozen[i], odd[i]);
    CHECK_EQ_U64(b.nrules, 4);
    CHECK(b.nrules == 4 && b.rules[2].kind == PLAN_INVERT &&
          b.rules[2].pattern == NULL && b.rules[3].kind == PLAN_FREEZE);
    CHECK(b.nrules == 4 && b.rules[1].kind == PLAN_UNFREEZE &&
          b.rules[1].line > 0);
    if (b.nrules == 4)
        CHECK_STR(b.rules[3].pattern, "re:^fc\\.(weight|bias)$");
    CHECK_STR(b.model.path, "../ckpt/model #1.safetensors");
    CHECK_STR(b.model.fingerprint, FP);
    CHECK_EQ_U64(b.model.tensors, 122);
    CHECK_EQ_U64(b.estimate.bytes.total, 147542624);
    CHECK(b.estimate.bytes.master == PLAN_UNSET);
    CHECK(b.batchnorm == PLAN_BN_FREEZE_STATS);
    CHECK(b.train.present);
    CHECK(b.train.optimizer.lr == 3.0e-4 && b.train.optimizer.eps == 1e-8);
    CHECK(b.train.optimizer.betas[1] == 0.999);
    CHECK(!plan_has_number(b.train.optimizer.momentum));
    CHECK(b.train.data.val_fraction == 0.1);
    CHECK(b.train.clip_grad_norm == 1.0);
    CHECK(b.train.dist_timeout == 60.0 && b.train.world_size == 4);
    CHECK(b.train.seed == 0 && b.train.max_steps == PLAN_UNSET);
    CHECK_STR(b.train.precision, "bf16");
    CHECK_STR(b.train.schedule.name, "cosine");
    CHECK(b.train.init == NULL);
    CHECK(plan_format(&b, &t2, &n2) == 0);
    CHECK(t2 && n1 == n2 && memcmp(t1, t2, n1) == 0);
    /* written as expected in places a reader of the file relies on */
    CHECK(strstr(t1, "version: 1\n") == t1 + strlen(
        "# tui freeze plan, version 1 (docs/plan-format.md)\n"));
    CHECK(strstr(t1, "- freeze: \"**\"\n") != NULL);
    CHECK(strstr(t1, "- invert: true\n") != NULL);
    CHECK(strstr(t1, "- \"1\"\n") != NULL);
    CHECK(strstr(t1, "- \"true\"\n") != NULL);
    CHECK(strstr(t1, "- layer1.0.conv1.weight\n") != NULL);
    CHECK(strstr(t1, "lr: 0.0003,") != NULL);
    CHECK(strstr(t1, "eps: 1.0e-08}") != NULL);
    CHECK(strstr(t1, "clip_grad_norm: 1.0\n") != NULL);
    CHECK(strstr(t1, "dist_timeout: 6.0e+01\n  world_size: 4\n") != NULL);
    CHECK(strstr(t1, "betas: [0.9, 0.999]") != NULL);

    /* through files: plan_write, plan_load, plan_write */
    snprintf(path, sizeof path, "%s/p.yaml", tmpdir);
    CHECK(plan_write(&b, path) == 0);
    plan_free(&a);
    plan_init(&a);
    CHECK(plan_load(path, &a) == 0);
    f1 = slurp(path, &fl1);
    CHECK(plan_write(&a, path) == 0);
    f2 = slurp(path, &fl2);
    CHECK(f1 && f2 && fl1 == n1 && fl1 == fl2 && memcmp(f1, f2, fl1) == 0);
    CHECK(f1 && fl1 == n1 && memcmp(f1, t1, n1) == 0);
    unlink(path);
    plan_free(&a);
    plan_free(&b);
    free(t1);
    free(t2);
    free(f1);
    free(f2);
}

/* A minimal plan: only what is required; absent things stay absent. */
static void test_minimal(void)
{
    const char *text = "version: 1\nmodel: {path: m.bin, fingerprint: " FP
                       "}\nfrozen: []\n";
    plan p;
    char *out = NULL, *out2 = NULL;
    size_t n = 0, n2 = 0;
    plan_init(&p);
    CHECK(plan_parse("min.yaml", text, strlen(text), &p) == 0);
    CHECK(p.has_frozen && !p.has_rules && p.nfrozen == 0);
    CHECK(p.model.tensors == PLAN_UNSET && p.model.format == NULL);
    CHECK(!p.train.present && p.batchnorm == PLAN_BN_UNSET);
    CHECK(plan_format(&p, &out, &n) == 0);
    CHECK(out && strstr(out, "frozen: []\n") != NULL);
    CHECK(out && strstr(out, "rules") == NULL);
    CHECK(out && strstr(out, "estimate") == NULL);
    CHECK(plan_parse("min2.yaml", out, n, &p) == 0);
    CHECK(plan_format(&p, &out2, &n2) == 0);
    CHECK(out && out2 && n == n2 && memcmp(out, out2, n) == 0);
    /* the example of DESIGN.md, with numbers filled in */
    const char *design =
        "version: 1\nmodel:\n  path: resnet18.safetensors   # relative\n"
        "  format: safetensors\n  fingerprint: " FP "\n  tensors: 122\n"
        "  parameters: 11689512\nrules:\n  - freeze: \"**\"\n"
        "  - unfreeze: \"layer4.**\"\n  - unfreeze: \"fc.*\"\nfrozen:\n"
        "  - conv1.weight\nestimate:\n  optimizer: adamw\n  precision: fp32\n"
        "  trainable_parameters: 8398858\n  bytes: {weights: 1, gradients: 2, "
        "optimizer: 3, master: 0, total: 6, total_if_all_trainable: 9}\n"
        "batchnorm: freeze-stats\ntrain:\n  model: resnet18.ts.pt\n"
        "  init: resnet18.safetensors\n  data: {train: train.safetensors, "
        "inputs: x, targets: y, val_fraction: 0.1}\n  loss: cross_entropy\n"
        "  optimizer: {name: adamw, lr: 3.0e-4, weight_decay: 0.01}\n"
        "  batch_size: 64\n  epochs: 3\n  device: cuda\n  precision: fp32\n"
        "  seed: 0\n  output: runs/resnet18-ft\n";
    int rc = plan_parse("design.yaml", design, strlen(design), &p);
    if (rc)
        fprintf(stderr, "  %s\n", err_msg());
    CHECK(rc == 0);
    CHECK(p.nrules == 3 && p.nfrozen == 1 && p.estimate.bytes.master == 0);
    CHECK(p.train.optimizer.weight_decay == 0.01);
    plan_free(&p);
    free(out);
    free(out2);
}

static void test_validate(void)
{
    plan p;
    char *out = (char *)1;
    size_t n = 7;
    fill_plan(&p);
    CHECK(plan_validate(&p) == 0);
    p.model.fingerprint = plan_strdup(&p, "sha256:XYZ");
    CHECK(plan_format(&p, &out, &n) == -1 && out == NULL && n == 0);
    CHECK(strstr(err_msg(), "fingerprint") != NULL);
    p.model.fingerprint = plan_strdup(&p, FP);
    p.train.loss = plan_strdup(&p, "hinge");
    CHECK(plan_validate(&p) == -1);
    CHECK(strstr(err_msg(), "'hinge' is not a valid value for train.loss"));
    p.train.loss = NULL;
    p.train.data.val_fraction = 1.0;
    CHECK(plan_validate(&p) == -1);
    p.train.data.val_fraction = NAN;
    p.train.optimizer.lr = INFINITY;
    CHECK(plan_validate(&p) == -1);
    p.train.optimizer.lr = 0.5;
    CHECK(plan_validate(&p) == 0);
    /* invalid UTF-8 in a name: refused by the setter and by the writer */
    CHECK(plan_add_frozen(&p, "bad\xff", 4) == -1);
    CHECK(strstr(err_msg(), "not valid UTF-8") != NULL);
    CHECK(plan_add_frozen(&p, "", 0) == -1);
    CHECK(plan_add_frozen(&p, "a\0b", 3) == -1);
    CHECK(plan_add_rule(&p, PLAN_FREEZE, "") == -1);
    CHECK(plan_add_rule(&p, PLAN_UNFREEZE, "\xc0\xaf") == -1);
    p.frozen[0] = plan_strdup(&p, "over\xc0\xaflong");
    CHECK(plan_format(&p, &out, &n) == -1);
    CHECK(strstr(err_msg(), "frozen name 1 is empty or not valid UTF-8"));
    plan_free(&p);
    plan_init(&p);
    CHECK(plan_validate(&p) == -1); /* no model */
    p.model.path = plan_strdup(&p, "m");
    p.model.fingerprint = plan_strdup(&p, FP);
    CHECK(plan_validate(&p) == -1); /* neither rules nor frozen */
    CHECK(strstr(err_msg(), "rules or a frozen list") != NULL);
    CHECK(plan_add_rule(&p, PLAN_INVERT, NULL) == 0);
    CHECK(plan_validate(&p) == 0);
    plan_clear_frozen(&p);
    p.version = 2;
    CHECK(plan_validate(&p) == -1);
    plan_free(&p);
    plan_free(NULL);
    CHECK(plan_choices("train.device") != NULL);
    CHECK(plan_choices("train.output") == NULL);
    CHECK(plan_choice_ok("train.optimizer.name", "momentum"));
    CHECK(!plan_choice_ok("train.optimizer.name", "lamb"));
}

/* A BERT-large-sized list: 50,000 names, written and read back. */
static void test_many(void)
{
    plan p, q;
    char name[64], *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    plan_init(&p);
    plan_init(&q);
    p.model.path = plan_strdup(&p, "m.safetensors");
    p.model.fingerprint = plan_strdup(&p, FP);
    for (int i = 0; i < 50000; i++) {
        int len = snprintf(name, sizeof name,
                           "encoder.layer.%d.attention.self.query.weight", i);
        if (plan_add_frozen(&p, name, (size_t)len) < 0)
            break;
    }
    CHECK_EQ_U64(p.nfrozen, 50000);
    CHECK(plan_format(&p, &a, &na) == 0);
    CHECK(plan_parse("many.yaml", a, na, &q) == 0);
    CHECK_EQ_U64(q.nfrozen, 50000);
    CHECK(plan_format(&q, &b, &nb) == 0);
    CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
    /* one duplicate far down the list is found: line 6 + 50000 + 1
     * (comment, version, model, path, fingerprint, frozen:, names) */
    char *dup = NULL;
    CHECK(asprintf(&dup, "%s- encoder.layer.7.attention.self.query.weight\n",
                   a) > 0);
    CHECK(plan_parse("many.yaml", dup, strlen(dup), &q) == -1);
    CHECK(strstr(err_msg(), "many.yaml:50007:3: 'encoder.layer.7.") != NULL);
    if (!strstr(err_msg(), "many.yaml:50007:3:"))
        fprintf(stderr, "  %s\n", err_msg());
    free(dup);
    free(a);
    free(b);
    plan_free(&p);
    plan_free(&q);
}

static void check_rel(const char *from, const char *to, const char *want)
{
    char *r = plan_relpath(from, to);
    CHECK_STR(r, want);
    free(r);
}

static void test_paths(void)
{
    plan p;
    char a[128], b[160], c[200], cwd[512];
    check_rel("/a/b", "/a/c/m.bin", "../c/m.bin");
    check_rel("/a/b", "/a/b/m.bin", "m.bin");
    check_rel("/a/b/", "/a/b/sub/m.bin", "sub/m.bin");
    check_rel("/", "/x", "x");
    check_rel("/a/b/c", "/m", "../../../m");
    check_rel("/a/./b/../b", "/a/b/x/../m", "m");
    check_rel("/a/b", "/a/b", ".");
    /* relative arguments are taken from the current folder; existing
     * folders are resolved, so a symlinked folder still works */
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(a, sizeof a, "%s/real", tmpdir);
    snprintf(b, sizeof b, "%s/link", tmpdir);
    CHECK(mkdir(a, 0755) == 0 && symlink(a, b) == 0);
    snprintf(c, sizeof c, "%s/m.safetensors", a);
    check_rel(b, c, "m.safetensors");
    CHECK(chdir(a) == 0);
    check_rel(".", "m.safetensors", "m.safetensors");
    check_rel("..", "m.safetensors", "real/m.safetensors");
    check_rel("../link", "../real/m.safetensors", "m.safetensors");

    plan_init(&p);
    CHECK(plan_set_model_path(&p, "../plans/p.yaml", "m.safetensors") == 0);
    CHECK_STR(p.model.path, "../real/m.safetensors");
    char *f = plan_model_file(&p, "../plans/p.yaml");
    CHECK_STR(f, "../plans/../real/m.safetensors");
    free(f);
    CHECK(plan_set_model_path(&p, "p.yaml", c) == 0);
    CHECK_STR(p.model.path, "m.safetensors");
    f = plan_model_file(&p, "p.yaml");
    CHECK_STR(f, "m.safetensors");
    free(f);
    f = plan_model_file(&p, "/x/p.yaml");
    CHECK_STR(f, "/x/m.safetensors");
    free(f);
    p.model.path = plan_strdup(&p, "/abs/m.bin");
    f = plan_model_file(&p, "dir/p.yaml");
    CHECK_STR(f, "/abs/m.bin");
    free(f);
    p.model.path = NULL;
    CHECK(plan_model_file(&p, "p.yaml") == NULL);
    plan_free(&p);
    CHECK(chdir(cwd) == 0);
    unlink(b);
    rmdir(a);
}

static void test_fingerprint(void)
{
    table t;
    char fp[72], fp2[72];
    uint64_t s1[] = {10, 512}, s2[] = {64}, s3[] = {64, 3, 7, 7}, s4[] = {10};
    table_init(&t);
    CHECK(table_fingerprint(&t, fp) == 0);
    /* sha256 of nothing */
    CHECK_STR(fp, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4"
                  "95991b7852b855");
    CHECK(table_add(&t, "fc.weight", 9, DT_F32, 2, s1) == 0);
    CHECK(table_add(&t, "state.0.exp_avg", 15, DT_F32, 1, s4) == 1);
    table_at(&t, 1)->kind = TK_OPTIMIZER;
    CHECK(table_add(&t, "bn1.running_mean", 16, DT_F32, 1, s2) == 2);
    table_at(&t, 2)->kind = TK_BUFFER;
    CHECK(table_add(&t, "conv1.weight", 12, DT_BF16, 4, s3) == 3);
    CHECK(table_add(&t, "bn1.num_batches_tracked", 23, DT_I64, 0, NULL) == 4);
    table_at(&t, 4)->kind = TK_BUFFER;
    table_at(&t, 3)->offset = 12345; /* offsets take no part */
    CHECK(table_fingerprint(&t, fp) == 0);
    /* hashlib.sha256 of the canonical text, computed independently:
     * "bn1.num_batches_tracked\tI64\t\nbn1.running_mean\tF32\t64\n"
     * "conv1.weight\tBF16\t64,3,7,7\nfc.weight\tF32\t10,512\n" */
    CHECK_STR(fp, "sha256:516c0e4e818e9d13577848c9deaa5fdfb6bbc74e4f8da03328"
                  "0ca0e978676589");
    CHECK_EQ_U64(strlen(fp), FINGERPRINT_LEN);
    /* an optimizer tensor changes nothing; a shape change does */
    table_at(&t, 1)->kind = TK_OTHER;
    CHECK(table_fingerprint(&t, fp2) == 0 && strcmp(fp, fp2) == 0);
    table_at(&t, 1)->kind = TK_PARAMETER;
    CHECK(table_fingerprint(&t, fp2) == 0 && strcmp(fp, fp2) != 0);
    table_free(&t);
}

/* train.input_shape / input_dtype: read, written back byte for byte,
 * and refused when malformed (one "file:line:col" message each). */
static void test_input_shape(void)
{
    const char *head = "version: 1\nmodel: {path: m.bin}\nfrozen: []\n"
                       "train:\n  model: m.ts.pt\n";
    char text[512];
    plan p;
    char *out = NULL, *out2 = NULL;
    size_t n = 0, n2 = 0;
    plan_init(&p);
    snprintf(text, sizeof text, "%s  input_shape: [3, 224, 224]\n"
             "  input_dtype: float32\n", head);
    CHECK(plan_parse("in.yaml", text, strlen(text), &p) == 0);
    CHECK(p.train.input_ndim == 3 && p.train.input_shape[0] == 3 &&
          p.train.input_shape[2] == 224);
    CHECK(p.train.input_dtype && strcmp(p.train.input_dtype, "float32") == 0);
    CHECK(plan_format(&p, &out, &n) == 0);
    CHECK(out && strstr(out, "  input_shape: [3, 224, 224]\n"
                             "  input_dtype: float32\n") != NULL);
    CHECK(out && plan_parse("in2.yaml", out, n, &p) == 0);
    CHECK(plan_format(&p, &out2, &n2) == 0);
    CHECK(out && out2 && n == n2 && memcmp(out, out2, n) == 0);
    static const struct { const char *line, *msg; } bad[] = {
        {"  input_shape: []\n", "a list of 1 to 8 sizes"},
        {"  input_shape: 3\n", "a list of 1 to 8 sizes"},
        {"  input_shape: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n", "1 to 8 sizes"},
        {"  input_shape: [3, 0]\n", "in 1..2^31, not 0"},
        {"  input_shape: [3, 4294967296]\n", "in 1..2^31"},
        {"  input_shape: [3, x]\n", "in.yaml:"},
        {"  input_shape: [16]\n  input_dtype: int8\n", "expected one of: "
                                                         "float32, int64"},
        {"  input_dtype: int64\n", "'input_dtype' needs 'input_shape'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, "%s%s", head, bad[i].line);
        int rc = plan_parse("in.yaml", text, strlen(text), &p);
        CHECK(rc == -1 && strstr(err_msg(), bad[i].msg) &&
              strncmp(err_msg(), "in.yaml:", 8) == 0);
        if (rc != -1 || !strstr(err_msg(), bad[i].msg))
            fprintf(stderr, "  case %zu: %s\n", i, err_msg());
    }
    plan_free(&p);
    free(out);
    free(out2);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_plan.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_bad_plans();
    test_roundtrip();
    test_minimal();
    test_input_shape();
    test_validate();
    test_many();
    test_paths();
    test_fingerprint();
    CHECK(rmdir(tmpdir) == 0);
    return check_report();
}
