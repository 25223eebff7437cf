/* test_complete.c: Tab completion (core/complete.c) from a name tree and
 * from a folder, without a terminal. */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tui/core/complete.h"
#include "../../tui/core/table.h"
#include "../../tui/core/tree.h"
#include "model_names.h"

/* The candidates joined by ' '. */
static const char *joined(const complete_result *r)
{
    static char buf[512];
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->n && k < sizeof buf; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? " " : "",
                              r->names[i]);
    return buf;
}

static void test_tree(void)
{
    table t;
    table_init(&t);
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(2), "layer1.0.conv1.weight");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(2), "layer1.0.conv2.weight");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(2), "layer1.1.conv1.weight");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(2), "layer2.0.conv1.weight");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(2), "fc.weight");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(2), "fc.bias");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(2), "a.b");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(2), "a.b.c");
    tree tr;
    CHECK(tree_build(&tr, &t) == 0);
    complete_result r;

    /* ambiguous: the common part, the candidates listed */
    CHECK(complete_tree(&tr, "lay", &r) == 0);
    CHECK_STR(r.text, "layer");
    CHECK_STR(joined(&r), "layer1 layer2");
    CHECK_EQ_U64(r.total, 2);
    complete_free(&r);
    /* unique module: its dot */
    CHECK(complete_tree(&tr, "layer2", &r) == 0);
    CHECK_STR(r.text, "layer2.");
    complete_free(&r);
    CHECK(complete_tree(&tr, "layer1.0.c", &r) == 0);
    CHECK_STR(r.text, "layer1.0.conv");
    CHECK_STR(joined(&r), "conv1 conv2");
    complete_free(&r);
    /* a tensor leaf: no dot */
    CHECK(complete_tree(&tr, "fc.w", &r) == 0);
    CHECK_STR(r.text, "fc.weight");
    CHECK_EQ_U64(r.total, 1);
    complete_free(&r);
    /* a tensor that is also a module: no dot added */
    CHECK(complete_tree(&tr, "a.", &r) == 0);
    CHECK_STR(r.text, "a.b");
    complete_free(&r);
    /* empty text: the root's children */
    CHECK(complete_tree(&tr, "", &r) == 0);
    CHECK_EQ_U64(r.total, 4);
    CHECK_STR(r.text, "");
    complete_free(&r);
    /* inside a pattern: only after the last pattern character */
    CHECK(complete_tree(&tr, "{fc,layer1.1.c", &r) == 0);
    CHECK_STR(r.text, "{fc,layer1.1.conv1.");
    complete_free(&r);
    /* no candidate: the text unchanged */
    CHECK(complete_tree(&tr, "nope.x", &r) == 0);
    CHECK_STR(r.text, "nope.x");
    CHECK_EQ_U64(r.total, 0);
    complete_free(&r);
    CHECK(complete_tree(&tr, "**.b", &r) == 0);
    CHECK_STR(r.text, "**.b");
    CHECK_EQ_U64(r.total, 0);
    complete_free(&r);
    CHECK(complete_tree(&tr, "re:^lay", &r) == 0);
    CHECK_STR(r.text, "re:^lay");
    CHECK_EQ_U64(r.total, 0);
    complete_free(&r);
    tree_free(&tr);
    table_free(&t);
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
}

static void test_dir(void)
{
    char d[] = "/tmp/test_complete.XXXXXX", p[256], q[256];
    CHECK(mkdtemp(d) != NULL);
    snprintf(p, sizeof p, "%s/plan.yaml", d);
    touch(p);
    snprintf(p, sizeof p, "%s/plan.old.yaml", d);
    touch(p);
    snprintf(p, sizeof p, "%s/.hidden", d);
    touch(p);
    snprintf(p, sizeof p, "%s/sub", d);
    CHECK(mkdir(p, 0755) == 0);
    complete_result r;

    snprintf(q, sizeof q, "%s/pl", d);
    CHECK(complete_dir(q, &r) == 0);
    snprintf(p, sizeof p, "%s/plan.", d);
    CHECK_STR(r.text, p);
    CHECK_STR(joined(&r), "plan.old.yaml plan.yaml");
    complete_free(&r);
    snprintf(q, sizeof q, "%s/s", d);
    CHECK(complete_dir(q, &r) == 0);
    snprintf(p, sizeof p, "%s/sub/", d);
    CHECK_STR(r.text, p);
    complete_free(&r);
    /* hidden files only when asked for */
    snprintf(q, sizeof q, "%s/", d);
    CHECK(complete_dir(q, &r) == 0);
    CHECK_EQ_U64(r.total, 3);
    complete_free(&r);
    snprintf(q, sizeof q, "%s/.h", d);
    CHECK(complete_dir(q, &r) == 0);
    snprintf(p, sizeof p, "%s/.hidden", d);
    CHECK_STR(r.text, p);
    complete_free(&r);
    /* a missing folder: no candidate, the text kept */
    snprintf(q, sizeof q, "%s/none/x", d);
    CHECK(complete_dir(q, &r) == 0);
    CHECK_STR(r.text, q);
    CHECK_EQ_U64(r.total, 0);
    complete_free(&r);
    /* no folder: the current one */
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(d) == 0);
    CHECK(complete_dir("plan.y", &r) == 0);
    CHECK_STR(r.text, "plan.yaml");
    complete_free(&r);
    CHECK(chdir(cwd) == 0);

    snprintf(p, sizeof p, "rm -rf '%s'", d);
    CHECK(system(p) == 0);
}

int main(void)
{
    test_tree();
    test_dir();
    return check_report();
}
