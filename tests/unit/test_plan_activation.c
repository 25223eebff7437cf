/* test_plan_activation.c: a plan's estimate.activations (the measured
 * activation memory, tui/core/plan_activation.c): read, written and read
 * back byte for byte, and every bad value refused with file:line:col. */
#include "check.h"

#include "../../tui/core/err.h"
#include "../../tui/core/plan.h"

#include <stdlib.h>
#include <string.h>

#define HEAD "version: 1\nmodel: {path: m.pt}\nfrozen: [a]\nestimate:\n" \
             "  optimizer: adamw\n"

static void test_roundtrip(void)
{
    const char *text = HEAD
        "  activations: {batch: 32, activation_bytes: 691000000, "
        "peak_bytes: 812000000, device: cpu, libtorch: \"1.13.1\", "
        "per_module: [{module: conv1, bytes: 102760448}, "
        "{module: \"(loss)\", bytes: 0}, {module: layer1, bytes: 9}]}\n";
    plan p, q;
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    plan_init(&p);
    plan_init(&q);
    CHECK(plan_parse("act.yaml", text, strlen(text), &p) == 0);
    const activation *m = p.estimate.activations;
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_EQ_U64(m->batch, 32);
    CHECK_EQ_U64(m->activation_bytes, 691000000);
    CHECK_EQ_U64(m->peak_bytes, 812000000);
    CHECK_STR(m->device, "cpu");
    CHECK_STR(m->libtorch, "1.13.1");
    CHECK_EQ_U64(m->nmodules, 3);
    CHECK(m->nmodules == 3 && strcmp(m->modules[1].module, "(loss)") == 0 &&
          m->modules[0].bytes == 102760448 && m->modules[2].bytes == 9);
    CHECK(plan_format(&p, &a, &na) == 0);
    CHECK(a && strstr(a, "  activations:\n    batch: 32\n"
                         "    activation_bytes: 691000000\n"
                         "    peak_bytes: 812000000\n    device: cpu\n"
                         "    libtorch: \"1.13.1\"\n    per_module:\n"
                         "    - {module: conv1, bytes: 102760448}\n"
                         "    - {module: (loss), bytes: 0}\n") != NULL);
    CHECK(a && plan_parse("act2.yaml", a, na, &q) == 0);
    CHECK(plan_format(&q, &b, &nb) == 0);
    CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
    free(a);
    free(b);
    plan_free(&q);
    /* only what is required: batch and the two figures */
    const char *bare = HEAD "  activations: {batch: 1, activation_bytes: 0, "
                            "peak_bytes: 0}\n";
    CHECK(plan_parse("bare.yaml", bare, strlen(bare), &q) == 0);
    CHECK(q.estimate.activations && !q.estimate.activations->device &&
          q.estimate.activations->nmodules == 0);
    a = NULL;
    CHECK(plan_format(&q, &a, &na) == 0);
    CHECK(a && strstr(a, "    peak_bytes: 0\nbatchnorm") == NULL &&
          strstr(a, "per_module") == NULL && strstr(a, "batch: 1\n"));
    free(a);
    /* a measurement alone makes the estimate section */
    plan_free(&q);
    plan_free(&p);
    CHECK(p.estimate.activations == NULL);
}

static void bad(const char *acts, const char *where, const char *sub)
{
    char text[1024], want[128];
    plan p;
    plan_init(&p);
    snprintf(text, sizeof text, HEAD "  activations: %s\n", acts);
    snprintf(want, sizeof want, "bad.yaml:%s: ", where);
    int rc = plan_parse("bad.yaml", text, strlen(text), &p);
    int ok = rc < 0 && strncmp(err_msg(), want, strlen(want)) == 0 &&
             strstr(err_msg(), sub) != NULL;
    if (!ok)
        fprintf(stderr, "bad %s: got rc %d '%s', want '%s...%s'\n", acts, rc,
                rc < 0 ? err_msg() : "", want, sub);
    CHECK(ok);
    CHECK(p.estimate.activations == NULL);
    plan_free(&p);
}

static void test_bad(void)
{
    bad("{activation_bytes: 1, peak_bytes: 2}", "6:16",
        "missing required key 'batch'");
    bad("{batch: 0, activation_bytes: 1, peak_bytes: 2}", "6:24",
        "'batch' must be at least 1");
    bad("{batch: 2, activation_bytes: -1, peak_bytes: 2}", "6:45", "non-negative integer");
    bad("{batch: 2, activation_bytes: 1.5, peak_bytes: 2}", "6:45", "non-negative integer");
    bad("{batch: 2, activation_bytes: many, peak_bytes: 2}", "6:45", "non-negative integer");
    bad("{batch: 2, activation_bytes: 1}", "6:16",
        "missing required key 'peak_bytes'");
    bad("{batch: 2, activation_bytes: 1, peak_bytes: 2, devise: cpu}", "6:63",
        "did you mean 'device'");
    bad("{batch: 2, activation_bytes: 1, peak_bytes: 2, device: \"\"}", "6:71",
        "non-empty string for 'device'");
    bad("{batch: 2, activation_bytes: 1, peak_bytes: 2, per_module: []}",
        "6:75", "non-empty list");
    bad("{batch: 2, activation_bytes: 1, peak_bytes: 2, per_module: "
        "[{module: a, bytes: -3}]}", "6:95", "non-negative integer");
    bad("{batch: 2, activation_bytes: 1, peak_bytes: 2, per_module: "
        "[{bytes: 3}]}", "6:76", "missing required key 'module'");
    bad("[1, 2]", "6:16", "expected a mapping for 'activations'");
}

static void test_validate(void)
{
    plan p;
    char *out = NULL;
    size_t n = 0;
    plan_init(&p);
    CHECK(plan_add_frozen(&p, "a", 1) == 0);
    p.model.path = plan_strdup(&p, "m.pt");
    p.estimate.activations = calloc(1, sizeof *p.estimate.activations);
    CHECK(p.estimate.activations != NULL);
    if (!p.estimate.activations)
        return;
    activation_init(p.estimate.activations);
    CHECK(plan_format(&p, &out, &n) < 0); /* batch 0 */
    CHECK(strstr(err_msg(), "batch must be at least 1") != NULL);
    p.estimate.activations->batch = 4;
    CHECK(plan_format(&p, &out, &n) == 0);
    CHECK(out && strstr(out, "estimate:\n  activations:\n    batch: 4\n"));
    free(out);
    plan_free(&p);
}

int main(void)
{
    test_roundtrip();
    test_bad();
    test_validate();
    return check_report();
}
