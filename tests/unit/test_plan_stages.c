/* test_plan_stages.c: a plan's stages:, lr_scale:, layer_decay: and
 * no_decay: (tui/core/plan_stages.c): read, written in one canonical form
 * and read back byte for byte, edited in code, and every bad value
 * refused with file:line:col. */
#include "check.h"

#include "../../tui/core/err.h"
#include "../../tui/core/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD "version: 1\nmodel: {path: m.pt}\nfrozen: [a]\n"

/* The canonical form plan_write.c gives the loose text below. */
static const char canon[] =
    "# tui freeze plan, version 1 (docs/plan-format.md)\n"
    "version: 1\n"
    "model:\n"
    "  path: m.pt\n"
    "frozen:\n"
    "- a\n"
    "batchnorm: freeze-stats\n"
    "stages:\n"
    "- steps: 500\n"
    "- unfreeze: [\"layer4\"]\n"
    "  steps: 500\n"
    "  lr: 0.0001\n"
    "- freeze: [\"fc.bias\", \"re:^x\"]\n"
    "  unfreeze: [\"**\"]\n"
    "  lr: 3.0e-05\n"
    "lr_scale:\n"
    "- {\"**\": 1.0}\n"
    "- {\"fc.*\": 1.0e+01}\n"
    "layer_decay: {factor: 0.75}\n"
    "no_decay: [\"*.bias\", \"bn*\"]\n"
    "train:\n"
    "  max_steps: 2000\n";

static void test_roundtrip(void)
{
    const char *text = HEAD
        "batchnorm: freeze-stats\n"
        "train: {max_steps: 2000}\n"
        "no_decay: [\"*.bias\", bn*]\n"
        "layer_decay: {factor: 0.75}\n"
        "lr_scale:\n  - \"**\": 1\n  - {fc.*: 10}\n"
        "stages:\n"
        "  - steps: 500\n"
        "  - {unfreeze: layer4, steps: 500, lr: 1.0e-4}\n"
        "  - unfreeze: [\"**\"]\n    freeze: [fc.bias, \"re:^x\"]\n"
        "    lr: 3e-5\n";
    plan p, q;
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    plan_init(&p);
    plan_init(&q);
    if (plan_parse("st.yaml", text, strlen(text), &p) < 0)
        fprintf(stderr, "%s\n", err_msg());
    CHECK_EQ_U64(p.nstages, 3);
    CHECK(p.nstages == 3 && p.stages[0].steps == 500 &&
          p.stages[0].nrules == 0 && isnan(p.stages[0].lr) &&
          p.stages[1].nrules == 1 && p.stages[1].lr == 1e-4 &&
          p.stages[2].steps == PLAN_UNSET && p.stages[2].nrules == 3);
    /* freezes first, in list order, then the unfreezes */
    CHECK(p.nstages == 3 && p.stages[2].rules[0].kind == PLAN_FREEZE &&
          strcmp(p.stages[2].rules[1].pattern, "re:^x") == 0 &&
          p.stages[2].rules[2].kind == PLAN_UNFREEZE &&
          p.stages[2].rules[0].line == 15 && p.stages[2].rules[0].col == 14);
    CHECK(p.nlr_scale == 2 && p.lr_scale[1].scale == 10.0 &&
          strcmp(p.lr_scale[1].pattern, "fc.*") == 0);
    CHECK(p.layer_decay == 0.75 && p.nno_decay == 2);
    CHECK(plan_format(&p, &a, &na) == 0);
    CHECK(a && strcmp(a, canon) == 0);
    if (a && strcmp(a, canon) != 0)
        fprintf(stderr, "got:\n%s", a);
    CHECK(a && plan_parse("st2.yaml", a, na, &q) == 0);
    CHECK(plan_format(&q, &b, &nb) == 0);
    CHECK(a && b && na == nb && memcmp(a, b, na) == 0);
    free(a);
    free(b);
    plan_free(&q);
    plan_free(&p);
    CHECK(p.nstages == 0 && p.stages == NULL && isnan(p.layer_decay));
    /* epochs, the last stage with a length inside the run */
    const char *ep = HEAD "train: {epochs: 6}\nstages:\n- epochs: 2\n"
                     "- {unfreeze: layer4, epochs: 4}\n";
    CHECK(plan_parse("ep.yaml", ep, strlen(ep), &p) == 0);
    CHECK(p.nstages == 2 && p.stages[1].epochs == 4 &&
          p.stages[1].steps == PLAN_UNSET);
    plan_free(&p);
}

static void bad(const char *tail, const char *where, const char *sub)
{
    char text[1024], want[128];
    plan p;
    plan_init(&p);
    snprintf(text, sizeof text, HEAD "%s", tail);
    snprintf(want, sizeof want, "bad.yaml:%s: ", where);
    int rc = plan_parse("bad.yaml", text, strlen(text), &p);
    int ok = rc < 0 && strncmp(err_msg(), want, strlen(want)) == 0 &&
             strstr(err_msg(), sub) != NULL;
    if (!ok)
        fprintf(stderr, "bad %s: got rc %d '%s', want '%s...%s'\n", tail, rc,
                rc < 0 ? err_msg() : "", want, sub);
    CHECK(ok);
    CHECK(p.nstages == 0 && p.nlr_scale == 0 && p.nno_decay == 0);
    plan_free(&p);
}

static void test_bad(void)
{
    bad("stages: [{steps: 5}]\n", "4:9", "at least two stages");
    bad("stages: {steps: 5}\n", "4:9", "expected a list of stages");
    bad("stages:\n- steps: 0\n- unfreeze: x\n", "5:10", "positive integer");
    bad("stages:\n- steps: -3\n- unfreeze: x\n", "5:10", "positive integer");
    bad("stages:\n- steps: 2.5\n- unfreeze: x\n", "5:10", "positive integer");
    bad("stages:\n- steps: 5\n- {unfreeze: x}\n- unfreeze: y\n", "6:3",
        "stage 1 needs 'steps:' or 'epochs:'");
    bad("stages:\n- steps: 5\n- {unfreeze: x, epochs: 2}\n- unfreeze: y\n",
        "6:3", "all stages use one unit");
    bad("stages:\n- {steps: 5, epochs: 1}\n- unfreeze: x\n", "5:22",
        "both 'steps' and 'epochs'");
    bad("train: {max_steps: 10}\nstages:\n- steps: 10\n- unfreeze: x\n",
        "7:3", "stage 1 starts at step 10, past the run's end "
        "(train.max_steps: 10)");
    bad("train: {max_steps: 10}\nstages:\n- steps: 4\n"
        "- {unfreeze: x, steps: 7}\n", "7:3", "stage 1 ends at step 11");
    bad("train: {epochs: 3}\nstages:\n- epochs: 3\n- unfreeze: x\n",
        "7:3", "(train.epochs: 3)");
    bad("stages:\n- steps: 18446744073709551614\n"
        "- {unfreeze: x, steps: 5}\n", "6:3", "past 2^64");
    bad("stages:\n- steps: 5\n- {unfreeze: x, lr: fast}\n", "6:21",
        "'lr' must be a finite number > 0");
    bad("stages:\n- steps: 5\n- {unfreeze: x, lr: 0}\n", "6:21", "> 0");
    bad("stages:\n- steps: 5\n- {unfreeze: x, lr: .inf}\n", "6:21", "> 0");
    bad("stages:\n- steps: 5\n- {steps: 3}\n", "6:3", "stage 1 changes "
        "nothing");
    bad("stages:\n- {steps: 5, unfreeze: x}\n- unfreeze: y\n", "5:3",
        "stage 0 is the plan's own frozen set");
    bad("stages:\n- steps: 5\n- unfreez: x\n", "6:3", "did you mean "
        "'unfreeze'");
    bad("stages:\n- steps: 5\n- unfreeze: []\n", "6:13", "empty list");
    bad("stages:\n- steps: 5\n- unfreeze: \"layer{1\"\n", "6:13",
        "unclosed '{'");
    bad("stages:\n- steps: 5\n- unfreeze: [{a: b}]\n", "6:14",
        "expected a pattern");
    bad("stages:\n- 5\n- unfreeze: x\n", "5:3", "expected a mapping for "
        "stage 0");
    bad("lr_scale: []\n", "4:11", "non-empty list");
    bad("lr_scale:\n- {a: 1, b: 2}\n", "5:3", "one-key mapping");
    bad("lr_scale:\n- {fc: -1}\n", "5:8", "finite number > 0");
    bad("lr_scale:\n- {fc: .nan}\n", "5:8", "finite number > 0");
    bad("lr_scale:\n- {\"fc[\": 2}\n", "5:4", "unclosed '['");
    bad("layer_decay: {factor: 0}\n", "4:23", "in (0, 1]");
    bad("layer_decay: {factor: 1.5}\n", "4:23", "in (0, 1]");
    bad("layer_decay: {factor: x}\n", "4:23", "in (0, 1]");
    bad("layer_decay: {}\n", "4:14", "missing required key 'factor'");
    bad("layer_decay: {factr: 0.5}\n", "4:15", "did you mean 'factor'");
    bad("layer_decay: 0.5\n", "4:14", "expected {factor: F}");
    bad("no_decay: []\n", "4:11", "empty list");
    bad("no_decay: [\"\"]\n", "4:12", "empty pattern");
}

static void test_edit(void)
{
    plan p;
    char *out = NULL;
    size_t n = 0;
    plan_init(&p);
    p.model.path = plan_strdup(&p, "m.pt");
    CHECK(plan_add_frozen(&p, "a", 1) == 0);
    plan_stage *s = plan_add_stage(&p);
    CHECK(s != NULL);
    if (!s)
        return;
    s->steps = 100;
    CHECK(plan_format(&p, &out, &n) < 0); /* one stage */
    CHECK(strstr(err_msg(), "needs 2 to 1024 stages") != NULL);
    s = plan_add_stage(&p);
    CHECK(s && plan_format(&p, &out, &n) < 0); /* stage 1 has no rules */
    CHECK(strstr(err_msg(), "stage 1 changes nothing") != NULL);
    CHECK(s && plan_stage_add_rule(&p, s, PLAN_UNFREEZE, "layer4") == 0);
    CHECK(s && plan_stage_add_rule(&p, s, PLAN_FREEZE, "fc") == 0);
    CHECK(s && plan_stage_add_rule(&p, s, PLAN_INVERT, NULL) < 0);
    CHECK(s && plan_stage_add_rule(&p, s, PLAN_FREEZE, "x{") < 0);
    CHECK(s && s->nrules == 2 && s->rules[0].kind == PLAN_FREEZE);
    /* a stage inserted between the two, then deleted again */
    s = plan_insert_stage(&p, 1);
    CHECK(s && p.nstages == 3 && p.stages[2].nrules == 2);
    CHECK(s && plan_stage_add_rule(&p, s, PLAN_UNFREEZE, "layer3") == 0);
    CHECK(plan_format(&p, &out, &n) < 0); /* stage 1 has no length */
    CHECK(strstr(err_msg(), "stage 1 has no length") != NULL);
    plan_delete_stage(&p, 1);
    CHECK(p.nstages == 2 && strcmp(p.stages[1].rules[1].pattern,
                                   "layer4") == 0);
    CHECK(plan_add_lr_scale(&p, "fc.*", 0) < 0);
    CHECK(plan_add_lr_scale(&p, "fc.*", 2.5) == 0);
    CHECK(plan_add_no_decay(&p, "") < 0);
    CHECK(plan_add_no_decay(&p, "*.bias") == 0);
    p.layer_decay = 1.0;
    p.stages[1].lr = 0.5;
    CHECK(plan_format(&p, &out, &n) == 0);
    CHECK(out && strstr(out, "stages:\n- steps: 100\n- freeze: [\"fc\"]\n"
                             "  unfreeze: [\"layer4\"]\n  lr: 0.5\n"
                             "lr_scale:\n- {\"fc.*\": 2.5}\n"
                             "layer_decay: {factor: 1.0}\n"
                             "no_decay: [\"*.bias\"]\n") != NULL);
    free(out);
    out = NULL;
    p.layer_decay = 0;
    CHECK(plan_format(&p, &out, &n) < 0);
    CHECK(strstr(err_msg(), "layer_decay.factor") != NULL);
    p.layer_decay = NAN;
    p.stages[0].lr = 1.0;
    CHECK(plan_format(&p, &out, &n) < 0);
    CHECK(strstr(err_msg(), "stage 0 takes no rules and no lr") != NULL);
    plan_free(&p);
}

/* PLAN_MAX_STAGES: 1024 stages read, 1025 refused (docs/limits.md). */
static void test_max_stages(void)
{
    static const char first[] = HEAD "stages:\n- steps: 1\n";
    static const char more[] = "- {unfreeze: x, steps: 1}\n";
    size_t cap = sizeof first + 1024 * (sizeof more - 1);
    char *text = malloc(cap);
    plan p;
    CHECK(text != NULL);
    if (!text)
        return;
    plan_init(&p);
    for (int total = 1024; total <= 1025; total++) {
        size_t n = strlen(first);
        memcpy(text, first, n);
        for (int i = 1; i < total; i++, n += sizeof more - 1)
            memcpy(text + n, more, sizeof more - 1);
        int rc = plan_parse("max.yaml", text, n, &p);
        if (total == 1024) {
            CHECK(rc == 0 && p.nstages == 1024);
            CHECK(plan_add_stage(&p) == NULL);
            CHECK(strstr(err_msg(), "more than 1024 stages") != NULL);
        } else {
            CHECK(rc < 0 && strstr(err_msg(), "max.yaml:5:1: more than "
                                   "1024 stages") != NULL);
        }
        plan_free(&p);
    }
    free(text);
}

int main(void)
{
    test_max_stages();
    test_roundtrip();
    test_bad();
    test_edit();
    return check_report();
}
