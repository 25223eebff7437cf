/* test_session_preset.c: presets in a session (session.h): "did you
 * mean" for a preset's name, a preset that does not fit the model is an
 * error unless allow_empty, matched counts over a preset's rules count a
 * tensor once, and the preview is what the preset itself does (from
 * everything trainable, not the session's state) and names the rules
 * that match nothing. On the real names of ResNet-18 and Llama-2 and
 * the built-in presets ($TUI_PRESETS_DIR, else presets/ run from the
 * repository root). */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include "../../tui/core/err.h"
#include "../../tui/core/session.h"
#include "model_names.h"

static preset_list presets;

static int load_presets(void)
{
    const char *d = getenv("TUI_PRESETS_DIR");
    /* the built-ins only: no user folder */
    setenv("XDG_CONFIG_HOME", "/nonexistent-tui-test-config", 1);
    if (preset_list_load(d && d[0] ? d : "presets", &presets)) {
        fprintf(stderr, "presets: %s\n", err_msg());
        return -1;
    }
    return 0;
}

static void open_model(session *s, int (*gen)(table *), const char *name)
{
    table t;
    table_init(&t);
    CHECK(gen(&t) == 0);
    CHECK(session_init(s, &t, name) == 0);
}

static int gen_llama(table *t)
{
    return mn_gen_llama2(t, 4, 0);
}

/* A ConvNeXt stage as torchvision names it: the LayerNorm of a block is
 * `block.2`, no name says norm. */
static int gen_convnext(table *t)
{
    static const char *const names[] = {
        "features.0.0.weight", "features.0.0.bias",
        "features.1.0.block.0.weight", "features.1.0.block.0.bias",
        "features.1.0.block.2.weight", "features.1.0.block.2.bias",
        "features.1.0.block.3.weight", "features.1.0.block.3.bias",
        "classifier.2.weight", "classifier.2.bias",
    };
    uint64_t shape[] = {16};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (table_add(t, names[i], strlen(names[i]), DT_F32, 1, shape) < 0)
            return -1;
    table_set_format(t, "safetensors");
    return 0;
}

static void test_names(void)
{
    session s;
    session_result r;
    open_model(&s, mn_gen_resnet18, "r.safetensors");
    CHECK(session_apply_preset(&s, &presets, "head_only", 0, &r) == -1);
    CHECK_STR(err_msg(), "unknown preset 'head_only'; did you mean "
                         "'head-only'? (tui --presets lists them)");
    CHECK(session_apply_preset(&s, &presets, "bitfti:x=1", 0, &r) == -1);
    CHECK_STR(err_msg(), "unknown preset 'bitfti'; did you mean 'bitfit'? "
                         "(tui --presets lists them)");
    CHECK(session_apply_preset(&s, &presets, "zzzzzz", 0, &r) == -1);
    CHECK_STR(err_msg(), "unknown preset 'zzzzzz' (tui --presets lists "
                         "them)");
    /* a parameter's name, and the message names the preset once */
    CHECK(session_apply_preset(&s, &presets, "resnet-backbone:kk=1", 0, &r)
          == -1);
    CHECK_STR(err_msg(), "preset 'resnet-backbone': unknown parameter 'kk'; "
                         "did you mean 'k'? (parameters: k)");
    CHECK_EQ_U64(s.nrules, 0);
    session_free(&s);
}

static void test_fit(void)
{
    session s;
    session_result r;
    /* a Llama preset on a ResNet: only its `freeze: "**"` matches */
    open_model(&s, mn_gen_resnet18, "r.safetensors");
    CHECK(session_apply_preset(&s, &presets, "llama-last-n", 0, &r) == -1);
    CHECK(strncmp(err_msg(), "preset 'llama-last-n' does not fit "
                  "r.safetensors: 1 of its 2 rules matches nothing there: "
                  "unfreeze '{model.layers,", 90) == 0);
    CHECK(strstr(err_msg(), "(--allow-empty applies it anyway)") != NULL);
    CHECK_EQ_U64(s.nrules, 0);
    CHECK_EQ_U64(tree_root(&s.tr)->frozen_numel, 0);
    /* allowed: applied, and only the rule that matched is recorded */
    CHECK(session_apply_preset(&s, &presets, "llama-last-n", 1, &r) == 0);
    CHECK_EQ_U64(r.empty_rules, 1);
    CHECK_EQ_U64(s.nrules, 1);
    CHECK_STR(s.rules[0].pattern, "**");
    session_free(&s);

    /* a preset that fits, with one alternative rule that matches nothing:
     * applied; a tensor matched by two rules is counted once */
    open_model(&s, mn_gen_resnet18, "r.safetensors");
    CHECK(session_apply_preset(&s, &presets, "head-only", 0, &r) == 0);
    CHECK_EQ_U64(r.matched_tensors, 122);
    CHECK_EQ_U64(r.matched_numel, 11689512);
    CHECK_EQ_U64(r.empty_rules, 1);
    CHECK_EQ_U64(r.change.tensors_changed, 60);
    CHECK_EQ_U64(s.nrules, 2);
    session_free(&s);

    /* norms-only on a ConvNeXt whose norms are block.2 */
    open_model(&s, gen_convnext, "c.safetensors");
    CHECK(session_apply_preset(&s, &presets, "norms-only", 0, &r) == -1);
    CHECK(strstr(err_msg(), "preset 'norms-only' does not fit "
                 "c.safetensors: 2 of its 3 rules match nothing there: "
                 "unfreeze '**.{*norm*,") != NULL);
    session_free(&s);

    /* BitFit on a model without biases */
    open_model(&s, gen_llama, "l.safetensors");
    CHECK(session_apply_preset(&s, &presets, "bitfit", 0, &r) == -1);
    CHECK(strstr(err_msg(), "does not fit l.safetensors: 1 of its 2 rules "
                 "matches nothing there: unfreeze '**.bias'") != NULL);
    /* while the Llama preset fits */
    CHECK(session_apply_preset(&s, &presets, "llama-last-n", 0, &r) == 0);
    CHECK_EQ_U64(r.empty_rules, 0);
    /* every rule matching everything says nothing about the fit */
    CHECK(session_apply_preset(&s, &presets, "freeze-all", 0, &r) == 0);
    session_free(&s);
}

static void test_preview(void)
{
    session s;
    session_result r;
    session_preview pv;
    char line[SESSION_EMPTY_TEXT + 200];
    open_model(&s, mn_gen_resnet18, "r.safetensors");
    /* the current state is not the start: everything frozen here */
    CHECK(session_apply_rule(&s, PLAN_FREEZE, "**", 0, &r) == 0);
    CHECK(session_preview_preset(&s, &presets, "resnet-backbone", NULL,
                                 &pv) == 0);
    CHECK(pv.fits);
    CHECK_EQ_U64(pv.frozen_tensors, 30);
    CHECK_EQ_U64(pv.frozen_numel, 683072);
    CHECK_STR(session_preview_line(&pv, line, sizeof line),
              "would freeze 30 tensors, 683,072 parameters (5.8%)");
    CHECK(session_preview_preset(&s, &presets, "head-only", NULL, &pv) == 0);
    CHECK_STR(session_preview_line(&pv, line, sizeof line),
              "would freeze 60 tensors, 11,176,512 parameters (95.6%); 1 "
              "of its 3 rules matches nothing: unfreeze "
              "'*.{fc,classifier,head,heads,lm_head,score,qa_outputs}'");
    /* 99.96% is not 100.0% */
    CHECK(session_preview_preset(&s, &presets, "bitfit", NULL, &pv) == 0);
    CHECK_STR(session_preview_line(&pv, line, sizeof line),
              "would freeze 41 tensors, 11,683,712 parameters (>99.9%)");
    CHECK(session_preview_preset(&s, &presets, "unfreeze-all", NULL, &pv)
          == 0);
    CHECK_STR(session_preview_line(&pv, line, sizeof line),
              "would freeze 0 tensors, 0 parameters (0.0%)");
    CHECK(session_preview_preset(&s, &presets, "embeddings-only", NULL,
                                 &pv) == 0);
    CHECK(!pv.fits);
    CHECK(strncmp(session_preview_line(&pv, line, sizeof line),
                  "does not fit this model: all 2 of its rules match "
                  "nothing: freeze '**.{embeddings,", 82) == 0);
    CHECK(strstr(line, ", freeze 'shared'") != NULL);
    /* the frozen set, when asked for */
    bitset b;
    CHECK(bitset_init(&b, s.t.count) == 0);
    CHECK(session_preview_preset(&s, &presets, "resnet-backbone:k=0", &b,
                                 &pv) == 0);
    CHECK_EQ_U64(bitset_count(&b), 3); /* conv1.weight, bn1.{weight,bias} */
    bitset_free(&b);
    /* the session is untouched */
    CHECK_EQ_U64(s.nrules, 1);
    CHECK_EQ_U64(tree_root(&s.tr)->frozen_numel, 11689512);
    session_free(&s);
}

int main(void)
{
    if (load_presets())
        return 1;
    test_names();
    test_fit();
    test_preview();
    preset_list_free(&presets);
    return check_report();
}
