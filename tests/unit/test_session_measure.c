/* test_session_measure.c: the activation measurement a session holds
 * (session.h, "activation measurements"): it is fresh while the frozen
 * set is the one measured and stale after any change (and fresh again
 * when an undo brings that set back); a saved plan carries it in
 * estimate.activations only while fresh, and a plan loaded with one
 * holds it for the loaded set; the plan written for the measuring child
 * has the current state (or nothing frozen), the loaded train: section
 * with its paths rebased to the new folder, and leaves the session as it
 * was; a session with nothing to run says what is missing. On the real
 * names of ResNet-18. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tui/core/err.h"
#include "../../tui/core/session.h"
#include "model_names.h"

static char dir[] = "/tmp/tui-test-measure-XXXXXX";

static void open_resnet(session *s, const char *name)
{
    table t;
    table_init(&t);
    CHECK(mn_gen_resnet18(&t) == 0);
    table_set_format(&t, "safetensors");
    CHECK(session_init(s, &t, name) == 0);
}

static void measurement(activation *a, uint64_t bytes)
{
    activation_init(a);
    a->batch = 32;
    a->activation_bytes = bytes;
    a->peak_bytes = bytes * 2;
    a->device = strdup("cpu");
    a->libtorch = strdup("1.13.0");
    a->modules = calloc(2, sizeof *a->modules);
    CHECK(a->device && a->libtorch && a->modules);
    a->modules[0].module = strdup("layer2");
    a->modules[0].bytes = bytes - 100;
    a->modules[1].module = strdup("fc");
    a->modules[1].bytes = 100;
    a->nmodules = 2;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return strdup("");
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_fresh_and_saved(void)
{
    session s;
    session_result r;
    activation a;
    char path[256], *text;
    int fresh = -1;
    open_resnet(&s, "r18.safetensors");
    CHECK(session_measurement(&s, &fresh) == NULL);
    CHECK(fresh == 0);
    CHECK(session_apply_rule(&s, PLAN_FREEZE, "layer1", 0, &r) == 0);
    measurement(&a, 2395780);
    CHECK(session_set_measurement(&s, &a, NULL) == 0);
    activation_free(&a); /* the session keeps its own copy */
    const activation *m = session_measurement(&s, &fresh);
    CHECK(m != NULL && fresh == 1);
    CHECK(m && m->activation_bytes == 2395780 && m->batch == 32);
    CHECK_STR(m ? m->modules[0].module : "", "layer2");
    /* saved while fresh: the plan carries it */
    snprintf(path, sizeof path, "%s/fresh.yaml", dir);
    CHECK(session_save_plan(&s, path) == 0);
    text = slurp(path);
    CHECK(strstr(text, "activation_bytes: 2395780") != NULL);
    CHECK(strstr(text, "libtorch: \"1.13.0\"") != NULL);
    free(text);
    /* an edit makes it stale; a save then drops it */
    CHECK(session_apply_rule(&s, PLAN_FREEZE, "layer2", 0, &r) == 0);
    CHECK(session_measurement(&s, &fresh) != NULL && fresh == 0);
    snprintf(path, sizeof path, "%s/stale.yaml", dir);
    CHECK(session_save_plan(&s, path) == 0);
    text = slurp(path);
    CHECK(strstr(text, "activations") == NULL);
    free(text);
    /* undo brings the measured set back: fresh again */
    CHECK(session_undo(&s, &r) == 1);
    CHECK(session_measurement(&s, &fresh) != NULL && fresh == 1);
    /* a set of the wrong size is refused, the old one kept */
    bitset wrong;
    CHECK(bitset_init(&wrong, 3) == 0);
    measurement(&a, 7);
    CHECK(session_set_measurement(&s, &a, &wrong) == -1);
    CHECK(strstr(err_msg(), "frozen set of 3 tensors") != NULL);
    CHECK(session_measurement(&s, NULL)->activation_bytes == 2395780);
    /* measured for another set than the current one: stale at once */
    CHECK(session_set_measurement(&s, &a, &s.initial) == 0);
    CHECK(session_measurement(&s, &fresh)->activation_bytes == 7);
    CHECK(fresh == 0);
    activation_free(&a);
    bitset_free(&wrong);
    session_free(&s);

    /* a plan loaded with a measurement holds it, fresh */
    open_resnet(&s, "r18.safetensors");
    snprintf(path, sizeof path, "%s/fresh.yaml", dir);
    CHECK(session_load_plan(&s, path, 0, NULL) == 0);
    m = session_measurement(&s, &fresh);
    CHECK(m != NULL && fresh == 1 && m->activation_bytes == 2395780);
    CHECK(session_apply_rule(&s, PLAN_UNFREEZE, "**", 0, &r) == 0);
    CHECK(session_measurement(&s, &fresh) != NULL && fresh == 0);
    /* loading one without: none held */
    snprintf(path, sizeof path, "%s/stale.yaml", dir);
    CHECK(session_load_plan(&s, path, 0, NULL) == 0);
    CHECK(session_measurement(&s, &fresh) == NULL);
    session_free(&s);
}

static void test_measure_plan(void)
{
    session s;
    session_result r;
    char why[600], sub[200], path[256], out[256], *text;
    open_resnet(&s, "r18.safetensors");
    /* a plain state_dict, no plan: what is missing */
    CHECK(session_can_measure(&s, why, sizeof why) == 0);
    CHECK(strstr(why, "holds only weights") != NULL);
    CHECK(strstr(why, "train.model") != NULL);
    CHECK(session_write_measure_plan(&s, "/nonexistent/x.yaml", 0) == -1);
    CHECK(strstr(err_msg(), "train.model") != NULL);
    /* a plan with train.model but no input */
    snprintf(sub, sizeof sub, "%s/sub", dir);
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(path, sizeof path, "%s/plan.yaml", sub);
    write_file(path, "version: 1\nmodel: {path: ../r18.safetensors}\n"
                     "rules:\n- freeze: conv1\n"
                     "train:\n  model: r18.ts.pt\n  batch_size: 8\n");
    CHECK(session_load_plan(&s, path, 0, NULL) == 0);
    CHECK(session_can_measure(&s, why, sizeof why) == 0);
    CHECK(strstr(why, "train.input_shape") != NULL);
    session_free(&s);
    write_file(path, "version: 1\nmodel: {path: ../r18.safetensors}\n"
                     "rules:\n- freeze: conv1\n"
                     "train:\n  model: r18.ts.pt\n"
                     "  input_shape: [3, 64, 64]\n  batch_size: 8\n"
                     "  output: runs/x\n");
    open_resnet(&s, "r18.safetensors");
    CHECK(session_load_plan(&s, path, 0, NULL) == 0);
    CHECK(session_can_measure(&s, why, sizeof why) == 1);
    CHECK(session_apply_rule(&s, PLAN_FREEZE, "bn1", 0, &r) == 0);
    /* written one folder up: the paths rebased, the state as it is */
    snprintf(out, sizeof out, "%s/m.yaml", dir);
    CHECK(session_write_measure_plan(&s, out, 0) == 0);
    text = slurp(out);
    CHECK(strstr(text, "model: sub/r18.ts.pt") != NULL);
    CHECK(strstr(text, "output: sub/runs/x") != NULL);
    CHECK(strstr(text, "- freeze: \"bn1\"") != NULL);
    CHECK(strstr(text, "- bn1.weight") != NULL);
    CHECK(strstr(text, "input_shape:") != NULL);
    free(text);
    /* the session's own plan is untouched: its paths still from sub/ */
    CHECK_STR(s.base.train.model, "r18.ts.pt");
    CHECK_STR(s.base_path, path);
    /* everything trainable: no rules, nothing frozen, same train: */
    CHECK(session_write_measure_plan(&s, out, 1) == 0);
    text = slurp(out);
    CHECK(strstr(text, "freeze:") == NULL);
    CHECK(strstr(text, "- conv1.weight") == NULL);
    CHECK(strstr(text, "model: sub/r18.ts.pt") != NULL);
    free(text);
    /* and the plan so written loads back onto the checkpoint */
    session t2;
    open_resnet(&t2, "r18.safetensors");
    CHECK(session_load_plan(&t2, out, 0, NULL) == 0);
    size_t frozen;
    uint64_t fnumel, tnumel;
    freeze_counts(&t2.fs, &frozen, &fnumel, &tnumel);
    CHECK(frozen == 0 && fnumel == 0);
    session_free(&t2);
    unlink(out);
    unlink(path);
    rmdir(sub);
    session_free(&s);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_fresh_and_saved();
    test_measure_plan();
    char p[300];
    snprintf(p, sizeof p, "%s/fresh.yaml", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/stale.yaml", dir);
    unlink(p);
    rmdir(dir);
    return check_report();
}
