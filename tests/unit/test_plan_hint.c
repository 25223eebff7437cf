/* test_plan_hint.c: what a pattern that does not compile or matches
 * nothing suggests (plan_hint, plan_resolve.h), and that every face
 * carries the same hint: session_apply_rule (the command line's
 * --freeze/--unfreeze and the editor's f and u prompts) and
 * plan_resolve (plans), on the real names of ResNet-18 and BERT. */
#include "check.h"

#include <string.h>

#include "../../tui/core/err.h"
#include "../../tui/core/plan_resolve.h"
#include "../../tui/core/session.h"
#include "model_names.h"

static char buf[1024];

static const char *hint(const table *t, const char *src)
{
    return plan_hint(t, src, buf, sizeof buf);
}

static void test_resnet(void)
{
    table t;
    table_init(&t);
    CHECK(mn_gen_resnet18(&t) == 0);
    /* a typo in the first segment: the closest top-level module */
    CHECK_STR(hint(&t, "layr1.**"), "; closest name: layer1");
    CHECK_STR(hint(&t, "layr1"), "; closest name: layer1");
    /* deeper: below the modules the segments before it match */
    CHECK_STR(hint(&t, "layer1.0.conv3"),
              "; closest names: layer1.0.conv1, layer1.0.conv2");
    CHECK_STR(hint(&t, "layer{1,2}.0.bn3.weight"),
              "; closest names: layer1.0.bn1, layer1.0.bn2");
    /* one name per segment: every bias is a bias */
    CHECK_STR(hint(&t, "**.bais"), "; closest name: bn1.bias");
    /* the seed article's substring form, with its trailing dot */
    CHECK_STR(hint(&t, "layer1.0."),
              "; drop the trailing dot: a pattern that names a module "
              "means its subtree (layer1.0)");
    CHECK_STR(hint(&t, ".layer1."),
              "; drop the dots: a pattern matches a name from its start "
              "and a module means its subtree (**.layer1 at any depth)");
    /* a name that exists deeper than the root */
    CHECK_STR(hint(&t, "conv2"),
              "; a pattern matches a name from its start; use **.conv2 "
              "for every conv2");
    /* nothing close: no hint; a regex: no hint */
    CHECK_STR(hint(&t, "qwerty.**"), "");
    CHECK_STR(hint(&t, "re:^layr1"), "");
    CHECK_STR(hint(&t, "**.*xyz*"), "");
    table_free(&t);
}

static void test_bert(void)
{
    table t;
    table_init(&t);
    CHECK(mn_gen_bert(&t, &(mn_bert_opts){2, 8, 1, 0, 0,
                                          MN_BERT_HEAD_CLASSIFIER}) == 0);
    /* '*' within one segment where any depth is meant */
    CHECK_STR(hint(&t, "*LayerNorm*"),
              "; * matches within one segment; use **.LayerNorm.** for "
              "every LayerNorm");
    CHECK_STR(hint(&t, "*Norm"),
              "; * matches within one segment; use **.*Norm for every "
              "segment like *Norm at any depth");
    CHECK_STR(hint(&t, ".embeddings"),
              "; drop the leading dot: a pattern matches a name from its "
              "start and a module means its subtree (**.embeddings at any "
              "depth)");
    CHECK_STR(hint(&t, "bert.encoder.layr.{0..1}"),
              "; closest name: bert.encoder.layer");
    table_free(&t);
}

/* Every face says the same: the session (CLI and editor) and a plan. */
static void test_faces(void)
{
    table t;
    session s;
    session_result r;
    table_init(&t);
    CHECK(mn_gen_resnet18(&t) == 0);
    CHECK(session_init(&s, &t, "r.safetensors") == 0);
    CHECK(session_apply_rule(&s, PLAN_FREEZE, "layr1.**", 0, &r) == -1);
    CHECK_STR(err_msg(), "pattern 'layr1.**' matches nothing in "
                         "r.safetensors; closest name: layer1");
    CHECK(session_apply_rule(&s, PLAN_UNFREEZE, "layer1.0.", 0, &r) == -1);
    CHECK_STR(err_msg(), "pattern 'layer1.0.': empty segment at column 9; "
                         "drop the trailing dot: a pattern that names a "
                         "module means its subtree (layer1.0)");
    CHECK_EQ_U64(s.nrules, 0);
    /* --allow-empty: recorded, no error */
    CHECK(session_apply_rule(&s, PLAN_FREEZE, "layr1.**", 1, &r) == 0);
    CHECK_EQ_U64(r.empty_rules, 1);

    plan p;
    const char *text = "version: 1\nmodel:\n  path: r.safetensors\n"
                       "rules:\n  - freeze: \"conv1\"\n"
                       "  - freeze: \"layr1.**\"\n";
    plan_init(&p);
    CHECK(plan_parse("p.yaml", text, strlen(text), &p) == 0);
    bitset out;
    CHECK(bitset_init(&out, s.t.count) == 0);
    CHECK(plan_resolve(&s.t, &p, "p.yaml", "r.safetensors", 0, &out, NULL,
                       NULL) == -1);
    CHECK_STR(err_msg(), "p.yaml:6:5: rule 'layr1.**' matches nothing in "
                         "r.safetensors (--allow-empty applies the plan "
                         "anyway); closest name: layer1");
    plan_free(&p);
    /* a hand-written frozen list with a typo: the closest names too */
    text = "version: 1\nmodel:\n  path: r.safetensors\nfrozen:\n"
           "  - conv1.weight\n  - layer1.0.conv1.wieght\n";
    plan_init(&p);
    CHECK(plan_parse("p.yaml", text, strlen(text), &p) == 0);
    CHECK(plan_resolve(&s.t, &p, "p.yaml", "r.safetensors", 0, &out, NULL,
                       NULL) == -1);
    CHECK_STR(err_msg(), "p.yaml: frozen name 'layer1.0.conv1.wieght' is "
                         "not a tensor of r.safetensors; closest name: "
                         "layer1.0.conv1.weight");
    CHECK_STR(plan_hint_name(&s.t, "weight", buf, sizeof buf), "");
    plan_free(&p);
    bitset_free(&out);
    session_free(&s);
}

int main(void)
{
    test_resnet();
    test_bert();
    test_faces();
    return check_report();
}
