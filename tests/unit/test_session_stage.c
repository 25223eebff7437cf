/* test_session_stage.c: the stages of a session's plan, edited
 * (session_stage.h): a stage shown puts its set in the tree's frozen
 * totals and takes the freeze/unfreeze rules; every stage edit is one
 * undo step that brings back the stage it changed, mixed with steps on
 * the plan's own set; lengths share one unit; the check before saving
 * names the stage; a saved staged plan loads back to the same stages and
 * saves again to the same bytes. On the real names of ResNet-18. */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tui/core/err.h"
#include "../../tui/core/session.h"
#include "../../tui/core/session_stage.h"
#include "model_names.h"

static char dir[] = "/tmp/tui-test-stage-XXXXXX";

static void open_resnet(session *s)
{
    table t;
    table_init(&t);
    CHECK(mn_gen_resnet18(&t) == 0);
    table_set_format(&t, "safetensors");
    CHECK(session_init(s, &t, "resnet18.safetensors") == 0);
}

static long find(const session *s, const char *name)
{
    for (size_t i = 0; i < s->t.count; i++)
        if (!strcmp(table_name(&s->t, i), name))
            return (long)i;
    return -1;
}

/* The tree's frozen totals equal the shown set's parameters. */
static void check_tree(const session *s, const char *what)
{
    const bitset *b = session_shown_frozen(s);
    uint64_t n = 0, numel = 0;
    for (size_t i = 0; i < s->t.count; i++)
        if (table_at(&s->t, i)->kind == TK_PARAMETER && bitset_get(b, i)) {
            n++;
            numel += table_at(&s->t, i)->numel;
        }
    const tree_node *r = tree_root(&s->tr);
    if (r->frozen_tensors != n || r->frozen_numel != numel)
        fprintf(stderr, "  %s: tree counts %llu frozen, the set %llu\n",
                what, (unsigned long long)r->frozen_tensors,
                (unsigned long long)n);
    CHECK(r->frozen_tensors == n && r->frozen_numel == numel);
}

static uint32_t thaw_of(session *s, const char *name)
{
    const uint32_t *th = session_thaw_stages(s);
    long i = find(s, name);
    CHECK(th != NULL && i >= 0);
    return th && i >= 0 ? th[i] : 12345;
}

/* head first (fc), then layer4 at its own lr, then the rest */
static void build_three(session *s)
{
    CHECK(session_apply_rule(s, PLAN_FREEZE, "**", 0, NULL) == 0);
    CHECK(session_apply_rule(s, PLAN_UNFREEZE, "fc", 0, NULL) == 0);
    CHECK(session_stage_add(s, 0, 100, 0) == 0);
    CHECK(s->stage == 1 && session_stage_count(s) == 2);
    check_tree(s, "new stage 1");
    session_result r;
    CHECK(session_apply_rule(s, PLAN_UNFREEZE, "layer4", 0, &r) == 0);
    CHECK_EQ_U64(r.change.tensors_changed, 15); /* 30 less 15 buffers */
    CHECK(session_stage_set_lr(s, 1, 1e-4) == 0);
    CHECK(session_stage_add(s, 1, 100, 0) == 0);
    CHECK(session_apply_rule(s, PLAN_UNFREEZE, "**", 0, NULL) == 0);
    check_tree(s, "stage 2 with its rule");
}

static void test_edit(void)
{
    session s;
    open_resnet(&s);
    CHECK(session_stage_count(&s) == 1);
    CHECK(session_stages_update(&s) == 0);
    CHECK(session_select_stage(&s, 1) == -1);
    build_three(&s);
    /* the plan's own set is untouched by later stages */
    CHECK(bitset_get(&s.fs.frozen, (size_t)find(&s, "layer4.0.conv1.weight")));
    CHECK(thaw_of(&s, "fc.weight") == 0);
    CHECK(thaw_of(&s, "layer4.1.conv2.weight") == 1);
    CHECK(thaw_of(&s, "conv1.weight") == 2);
    CHECK(thaw_of(&s, "layer4.0.bn1.running_mean") == 0); /* a buffer */
    /* the rule went to stage 2, not to the plan's rules */
    CHECK(s.nrules == 2 && s.base.nstages == 3 &&
          s.base.stages[2].nrules == 1 &&
          s.base.stages[2].rules[0].kind == PLAN_UNFREEZE);
    CHECK(s.base.stages[1].lr == 1e-4 && isnan(s.base.stages[2].lr));
    /* invert and presets are for stage 0 */
    CHECK(session_apply_rule(&s, PLAN_INVERT, NULL, 0, NULL) == -1);
    CHECK(strstr(err_msg(), "stage 0") != NULL);
    /* a pattern that matches nothing is refused in a stage too */
    CHECK(session_apply_rule(&s, PLAN_FREEZE, "nosuch", 0, NULL) == -1);
    CHECK(strstr(err_msg(), "matches nothing") != NULL);

    /* undo: the stage 2 rule, then stage 2, each showing its stage */
    CHECK(session_undo(&s, NULL) == 1);
    CHECK(s.stage == 2 && thaw_of(&s, "conv1.weight") == SESSION_NEVER);
    check_tree(&s, "undo the stage 2 rule");
    CHECK(session_undo(&s, NULL) == 1);
    CHECK(session_stage_count(&s) == 2 && s.stage == 1);
    CHECK(session_redo(&s, NULL) == 1 && session_stage_count(&s) == 3);
    CHECK(session_redo(&s, NULL) == 1 && s.stage == 2);
    CHECK(thaw_of(&s, "conv1.weight") == 2);
    CHECK(session_redo(&s, NULL) == 0);

    /* a step on the plan's own set undone while stage 2 is shown: stage
     * 0 shown, the tree counts it */
    CHECK(session_select_stage(&s, 0) == 0);
    CHECK(session_apply_rule(&s, PLAN_FREEZE, "fc.bias", 0, NULL) == 0);
    CHECK(session_select_stage(&s, 2) == 0);
    check_tree(&s, "stage 2 again");
    CHECK(session_undo(&s, NULL) == 1);
    CHECK(s.stage == 0);
    check_tree(&s, "undo on stage 0 from stage 2");
    CHECK(!bitset_get(&s.fs.frozen, (size_t)find(&s, "fc.bias")));
    CHECK(session_redo(&s, NULL) == 1);
    check_tree(&s, "redo on stage 0");
    CHECK(session_undo(&s, NULL) == 1);

    /* units, lr, lengths */
    CHECK(session_stage_set_length(&s, 2, 3, 1) == -1);
    CHECK(strstr(err_msg(), "counted in steps") != NULL);
    CHECK(session_stage_set_length(&s, 0, 0, 0) == -1);
    CHECK(session_stage_set_lr(&s, 0, 1e-3) == -1);
    CHECK(session_stage_set_lr(&s, 1, -1) == -1);
    CHECK(session_stage_set_lr(&s, 1, INFINITY) == -1);
    CHECK(session_stages_check(&s) == 0);

    /* the memory of each stage, and the peak */
    mem_estimate e0, e2;
    size_t pk;
    uint64_t tot;
    CHECK(session_estimate_stage(&s, 0, &e0) == 0);
    CHECK(session_estimate_stage(&s, 2, &e2) == 0);
    CHECK(e0.after.total < e2.after.total);
    CHECK(e2.after.total == e2.before.total); /* all trainable */
    CHECK(session_stage_peak(&s, &pk, &tot) == 0);
    CHECK(pk == 2 && tot == e2.after.total);

    /* delete: the last stage, undo brings it back and shows it */
    CHECK(session_select_stage(&s, 2) == 0);
    CHECK(session_stage_delete(&s, 2) == 0);
    CHECK(session_stage_count(&s) == 2 && s.stage == 1);
    check_tree(&s, "after delete");
    CHECK(session_undo(&s, NULL) == 1);
    CHECK(session_stage_count(&s) == 3 && s.stage == 2);
    CHECK(session_stage_delete(&s, 0) == -1);
    session_free(&s);
}

static void test_check(void)
{
    session s;
    open_resnet(&s);
    CHECK(session_apply_rule(&s, PLAN_FREEZE, "layer1", 0, NULL) == 0);
    CHECK(session_stage_add(&s, 0, 0, 0) == 0); /* stage 0 without length */
    CHECK(session_stages_check(&s) == -1);
    CHECK(strstr(err_msg(), "stage 1 changes nothing") != NULL);
    CHECK(session_apply_rule(&s, PLAN_UNFREEZE, "layer1", 0, NULL) == 0);
    CHECK(session_stages_check(&s) == -1);
    CHECK(strstr(err_msg(), "stage 0 has no length") != NULL);
    char path[300];
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    CHECK(session_save_plan(&s, path) == -1);
    CHECK(access(path, F_OK) != 0);
    CHECK(session_stage_set_length(&s, 0, 2, 1) == 0);
    CHECK(session_stages_check(&s) == 0);
    /* the one of two stages deleted: no stages */
    CHECK(session_stage_delete(&s, 1) == 0);
    CHECK(session_stage_count(&s) == 1 && s.base.nstages == 0 &&
          s.stage == 0);
    check_tree(&s, "no stages");
    session_free(&s);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    CHECK(f != NULL && buf != NULL);
    if (!f || !buf) {
        if (f)
            fclose(f);
        free(buf);
        return strdup("");
    }
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_round_trip(void)
{
    session s, t;
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/a.yaml", dir);
    snprintf(b, sizeof b, "%s/b.yaml", dir);
    open_resnet(&s);
    build_three(&s);
    CHECK(session_save_plan(&s, a) == 0);
    open_resnet(&t);
    CHECK(session_load_plan(&t, a, 0, NULL) == 0);
    CHECK(t.base.nstages == 3 && t.stage == 0);
    CHECK(t.base.stages[0].steps == 100 && t.base.stages[1].lr == 1e-4 &&
          t.base.stages[2].steps == PLAN_UNSET);
    CHECK(thaw_of(&t, "layer4.1.conv2.weight") == 1);
    CHECK(thaw_of(&t, "conv1.weight") == 2);
    CHECK(session_save_plan(&t, b) == 0);
    char *x = slurp(a), *y = slurp(b);
    CHECK(x[0] && !strcmp(x, y));
    CHECK(strstr(x, "stages:") != NULL);
    free(x);
    free(y);
    session_free(&s);
    session_free(&t);
    unlink(a);
    unlink(b);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_edit();
    test_check();
    test_round_trip();
    rmdir(dir);
    return check_report();
}
