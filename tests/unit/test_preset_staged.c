/* test_preset_staged.c: the computed staged presets (preset_staged.h)
 * applied to a session: gradual-unfreeze's stage k trains exactly the
 * top k + 1 layer groups layer_decay finds (ULMFiT: one more group per
 * stage from the head), the last the whole model; fine-tune is the head
 * alone, then everything, with the layer decay that spreads lr_mult
 * geometrically from the stem to the head; layer-decay sets only the
 * factor. Each is one undo step that also brings back the stages and
 * the factor as they were. On the names of ResNet-18, BERT and Llama-2. */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/core/err.h"
#include "../../tui/core/preset_gen.h"
#include "../../tui/core/session.h"
#include "../../tui/core/session_stage.h"
#include "../../tui/core/stages.h"
#include "model_names.h"

static preset_list presets;

static void load_presets(void)
{
    /* the computed ones alone: no folder */
    memset(&presets, 0, sizeof presets);
    CHECK(preset_gen_add_all(&presets) == 0);
    size_t n;
    preset_gens(&n);
    CHECK(presets.n == n && n >= 3);
}

/* Layer ids of s's checkpoint (layer_decay's grouping). */
static void ids_of(const session *s, lr_scales *lr)
{
    plan q;
    plan_init(&q);
    q.layer_decay = 0.5;
    CHECK(lr_scales_resolve(&s->t, &q, "test", lr) == 0);
    plan_free(&q);
}

/* gradual-unfreeze: stage k trains the groups with id >= L - 1 - k. */
static void check_gradual(session *s, const char *what)
{
    session_result r;
    lr_scales lr;
    CHECK(session_apply_preset(s, &presets, "gradual-unfreeze:steps=10", 0,
                               &r) == 0);
    ids_of(s, &lr);
    int L = lr.nlayers;
    CHECK(L >= 3);
    CHECK(session_stage_count(s) == (size_t)L);
    CHECK(session_stages_check(s) == 0);
    CHECK(session_stages_update(s) == 0);
    int bad = 0;
    for (int k = 0; k < L && k < (int)s->stages.n; k++)
        for (size_t i = 0; i < s->t.count; i++) {
            const table_tensor *x = table_at(&s->t, i);
            if (x->kind != TK_PARAMETER)
                continue;
            int want_frozen = lr.layer[i] < L - 1 - k;
            if (bitset_get(&s->stages.frozen[k], i) != want_frozen &&
                bad++ < 3)
                fprintf(stderr, "  %s: stage %d: %s is %s\n", what, k,
                        table_name(&s->t, i),
                        want_frozen ? "trainable" : "frozen");
        }
    CHECK(bad == 0);
    CHECK(s->base.stages[0].steps == 10 &&
          s->base.stages[L - 2].steps == 10 &&
          s->base.stages[L - 1].steps == PLAN_UNSET);
    /* stages=3: the head, the block under it, then the rest */
    CHECK(session_undo(s, NULL) == 1);
    CHECK(session_stage_count(s) == 1 && s->nrules == 0);
    CHECK(session_apply_preset(s, &presets, "gradual-unfreeze:stages=3", 0,
                               NULL) == 0);
    CHECK(session_stage_count(s) == 3);
    CHECK(s->base.stages[0].epochs == 1 && s->base.stages[1].epochs == 1);
    CHECK(session_stages_update(s) == 0);
    for (size_t i = 0; i < s->t.count; i++)
        if (table_at(&s->t, i)->kind == TK_PARAMETER)
            bad += bitset_get(&s->stages.frozen[2], i) ||
                   bitset_get(&s->stages.frozen[1], i) !=
                       (lr.layer[i] < L - 2);
    CHECK(bad == 0);
    lr_scales_free(&lr);
}

static void test_resnet(void)
{
    table t;
    session s;
    table_init(&t);
    CHECK(mn_gen_resnet18(&t) == 0);
    CHECK(session_init(&s, &t, "resnet18.safetensors") == 0);
    check_gradual(&s, "resnet18");
    /* the preview names the groups */
    session_preview pv;
    char line[1200];
    CHECK(session_preview_preset(&s, &presets, "gradual-unfreeze", NULL,
                                 &pv) == 0);
    session_preview_line(&pv, line, sizeof line);
    CHECK(strstr(line, "10 stages of 1 epoch: fc, then layer4.1, then "
                       "layer4.0") != NULL);
    CHECK(session_apply_preset(&s, &presets, "gradual-unfreeze:stages=1", 0,
                               NULL) == -1);
    CHECK(strstr(err_msg(), "stages=1") != NULL);

    /* fine-tune: the head alone, then everything; decay 100^(-1/9) */
    CHECK(session_undo(&s, NULL) == 1);
    CHECK(session_apply_preset(&s, &presets,
                               "fine-tune:freeze_epochs=2,lr_mult=100", 0,
                               NULL) == 0);
    CHECK(session_stage_count(&s) == 2 && s.base.stages[0].epochs == 2);
    CHECK(fabs(s.base.layer_decay - pow(100.0, -1.0 / 9)) < 1e-15);
    lr_scales lr;
    CHECK(lr_scales_resolve(&s.t, &s.base, "test", &lr) == 0);
    size_t conv1 = 0, fc = 0;
    for (size_t i = 0; i < s.t.count; i++) {
        if (!strcmp(table_name(&s.t, i), "conv1.weight"))
            conv1 = i;
        if (!strcmp(table_name(&s.t, i), "fc.weight"))
            fc = i;
    }
    CHECK(fabs(lr.scale[conv1] - 0.01) < 1e-12 && lr.scale[fc] == 1.0);
    lr_scales_free(&lr);
    CHECK(session_stages_update(&s) == 0);
    CHECK(bitset_get(&s.stages.frozen[0], conv1) &&
          !bitset_get(&s.stages.frozen[0], fc) &&
          bitset_count(&s.stages.frozen[1]) == 0);
    /* undo brings back the stages and the factor as they were */
    CHECK(session_undo(&s, NULL) == 1);
    CHECK(session_stage_count(&s) == 1 && isnan(s.base.layer_decay));

    /* layer-decay: the factor only; the stages made before stay */
    CHECK(session_apply_preset(&s, &presets, "gradual-unfreeze:stages=2", 0,
                               NULL) == 0);
    CHECK(session_apply_preset(&s, &presets, "layer-decay:factor=65", 0,
                               NULL) == 0);
    CHECK(s.base.layer_decay == 0.65 && session_stage_count(&s) == 2);
    CHECK(session_undo(&s, NULL) == 1);
    CHECK(isnan(s.base.layer_decay) && session_stage_count(&s) == 2);
    CHECK(session_redo(&s, NULL) == 1 && s.base.layer_decay == 0.65);
    CHECK(session_apply_preset(&s, &presets, "layer-decay:factor=0", 0,
                               NULL) == -1);
    session_free(&s);
}

static void test_bert_llama(void)
{
    table t;
    session s;
    mn_bert_opts o = {12, 64, 1, 0, 0, MN_BERT_HEAD_CLASSIFIER};
    table_init(&t);
    CHECK(mn_gen_bert(&t, &o) == 0);
    CHECK(session_init(&s, &t, "bert.safetensors") == 0);
    check_gradual(&s, "bert");
    session_free(&s);
    table_init(&t);
    CHECK(mn_gen_llama2(&t, 8, 0) == 0);
    CHECK(session_init(&s, &t, "llama.safetensors") == 0);
    check_gradual(&s, "llama");
    session_free(&s);
}

int main(void)
{
    load_presets();
    test_resnet();
    test_bert_llama();
    preset_list_free(&presets);
    return check_report();
}
