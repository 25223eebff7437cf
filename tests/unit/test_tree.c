/* test_tree.c: the name tree (natural order, leaf+prefix names, totals,
 * find, paths, sorting, 100k-tensor build time). */
#include "check.h"

#include <stdlib.h>

#include "../../tui/core/err.h"
#include "../../tui/core/table.h"
#include "../../tui/core/tree.h"
#include "model_names.h"
#include "timing.h"

static int ncmp(const char *a, const char *b)
{
    return tree_natural_cmp(a, strlen(a), b, strlen(b));
}

static void test_natural(void)
{
    CHECK(ncmp("2", "10") < 0);
    CHECK(ncmp("10", "2") > 0);
    CHECK(ncmp("a2b", "a10b") < 0);
    CHECK(ncmp("layer9", "layer10") < 0);
    CHECK(ncmp("x10", "x10a") < 0);
    CHECK(ncmp("", "a") < 0);
    CHECK(ncmp("a", "") > 0);
    CHECK(ncmp("abc", "abc") == 0);
    CHECK(ncmp("", "") == 0);
    CHECK(ncmp("bias", "weight") < 0);
    /* numerically equal, bytewise tie-break, antisymmetric */
    CHECK(ncmp("a01", "a1") < 0);
    CHECK(ncmp("a1", "a01") > 0);
    CHECK(ncmp("007", "7") < 0);
    CHECK(ncmp("007", "8") < 0);
    CHECK(ncmp("0", "00") < 0);
    /* digit runs longer than any integer type */
    CHECK(ncmp("123456789012345678901234567890",
               "123456789012345678901234567891") < 0);
    CHECK(ncmp("99999999999999999999999", "100000000000000000000000") < 0);
    /* digits against letters: bytewise ('1' < 'a') */
    CHECK(ncmp("1", "a") < 0);
    CHECK(ncmp("a_1", "a1") > 0);
    /* transitivity over a scrambled list: qsort must yield this order */
    const char *want[] = {"", "0", "00", "01", "1", "2", "9", "010", "10",
                          "100", "a", "a1", "a2b", "a10b", "ab", "b"};
    size_t nw = sizeof want / sizeof *want;
    int ok = 1;
    for (size_t i = 0; i < nw; i++)
        for (size_t j = 0; j < nw; j++) {
            int c = ncmp(want[i], want[j]);
            if ((i < j && c >= 0) || (i == j && c != 0) || (i > j && c <= 0)) {
                fprintf(stderr, "order: %s vs %s gives %d\n", want[i], want[j], c);
                ok = 0;
            }
        }
    CHECK(ok);
}

/* Writes the display-order DFS of tr as "path|path|..." into out. */
static void dfs_paths(const tree *tr, char *out, size_t cap)
{
    char p[256];
    size_t len = 0, k = 0;
    out[0] = '\0';
    tree_node *root = tree_root(tr);
    for (tree_node *n = root; n; n = tree_dfs_next(n, root)) {
        if (n == root)
            continue;
        tree_node_path(tr, n, p, sizeof p);
        len += (size_t)snprintf(out + len, cap - len, "%s%s", k++ ? "|" : "", p);
        if (len >= cap)
            return;
    }
}

#define NAME_ORDER "|.z|a|a.b|a.b.c|a.b.rm|emb|layer|layer.1|layer.1.w|" \
    "layer.2|layer.2.w|layer.10|layer.10.w|t|t.b9|t.b10|x|x.|x..y"

static void test_small(void)
{
    table t;
    table_init(&t);
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(10), "layer.10.w");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(2), "layer.2.w");
    mn_add(&t, TK_PARAMETER, DT_F16, MN_1D(1), "layer.1.w");
    long ab = mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(5), "a.b");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(7), "a.b.c");
    mn_add(&t, TK_BUFFER, DT_F32, MN_1D(3), "a.b.rm");
    long opt = mn_add(&t, TK_OPTIMIZER, DT_F32, MN_1D(99), "state.0.exp_avg");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(4), "emb");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_0D, "x..y");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_0D, "x.");
    mn_add(&t, TK_BUFFER, DT_F32, MN_0D, ".z");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(6), "t.b10");
    mn_add(&t, TK_PARAMETER, DT_F32, MN_1D(6), "t.b9");

    tree tr;
    CHECK(tree_build(&tr, &t) == 0);
    char got[1024];
    dfs_paths(&tr, got, sizeof got);
    CHECK_STR(got, NAME_ORDER);
    /* array order is the same natural pre-order */
    CHECK(tr.nodes[0].span == tr.count);
    tree_node *root = tree_root(&tr);
    CHECK_EQ_U64(tr.count, 21);
    CHECK_EQ_U64(root->tensors, 12);
    CHECK_EQ_U64(root->params, 10);
    CHECK_EQ_U64(root->buffers, 2);
    CHECK_EQ_U64(root->numel, 10 + 2 + 1 + 5 + 7 + 3 + 4 + 1 + 1 + 1 + 12);
    CHECK_EQ_U64(root->bytes, 4 * (10 + 2 + 5 + 7 + 3 + 4 + 1 + 1 + 1 + 12) + 2);
    CHECK_EQ_U64(root->param_numel, 10 + 2 + 1 + 5 + 7 + 4 + 1 + 1 + 12);
    CHECK(tree_node_state(root) == TREE_TRAINABLE);

    /* leaf + prefix */
    tree_node *b = tree_find(&tr, "a.b", 3);
    CHECK(b != NULL);
    CHECK(b && b->tensor == ab);
    CHECK(b && b->nchildren == 2);
    CHECK_EQ_U64(b ? b->tensors : 0, 3);
    CHECK_EQ_U64(b ? b->numel : 0, 15);
    CHECK_EQ_U64(b ? b->param_numel : 0, 12);
    CHECK(b && tree_leaf(&tr, (size_t)ab) == b);
    CHECK(tree_find(&tr, "a", 1) == b->parent);
    CHECK(b->parent->tensor == -1);
    tree_node *rm = tree_find(&tr, "a.b.rm", 6);
    CHECK(rm && tree_node_state(rm) == TREE_BUFFER);
    CHECK(tree_node_state(tree_find(&tr, ".z", 2)) == TREE_BUFFER);
    CHECK(rm && rm->depth == 3 && rm->span == 1);
    CHECK(tr.max_depth == 3);

    /* find */
    CHECK(tree_find(&tr, "", 0) == root);
    CHECK(tree_find(&tr, "layer.10", 8) != NULL);
    CHECK(tree_find(&tr, "layer.010", 9) == NULL);
    CHECK(tree_find(&tr, "layer.10.w.q", 12) == NULL);
    CHECK(tree_find(&tr, "nope", 4) == NULL);
    CHECK(tree_find(&tr, "state.0.exp_avg", 15) == NULL);
    CHECK(tree_find(&tr, "state", 5) == NULL);
    CHECK(tree_leaf(&tr, (size_t)opt) == NULL);
    CHECK(tree_leaf(&tr, 999) == NULL);
    tree_node *xy = tree_find(&tr, "x..y", 4);
    CHECK(xy && xy->tensor >= 0 && strcmp(table_name(&t, (size_t)xy->tensor), "x..y") == 0);
    tree_node *xe = tree_find(&tr, "x.", 2);
    CHECK(xe && xe->tensor >= 0 && xe->seg_len == 0);

    /* path: full length returned, truncation */
    char p[8];
    tree_node *w10 = tree_find(&tr, "layer.10.w", 10);
    CHECK_EQ_U64(tree_node_path(&tr, w10, p, sizeof p), 10);
    CHECK_STR(p, "layer.1");
    CHECK_EQ_U64(tree_node_path(&tr, root, p, sizeof p), 0);
    CHECK_STR(p, "");
    CHECK_EQ_U64(tree_node_path(&tr, w10->parent, NULL, 0), 8);

    /* size sort, bytes: a 60, layer 50, t 48, emb 16, x 8, "" 4; the tie
     * t.b9 = t.b10 keeps natural order (bytewise would put b10 first) */
    CHECK(tree_sort(&tr, TREE_SORT_SIZE) == 0);
    dfs_paths(&tr, got, sizeof got);
    CHECK_STR(got, "a|a.b|a.b.c|a.b.rm|layer|layer.10|layer.10.w|layer.2|"
                   "layer.2.w|layer.1|layer.1.w|t|t.b9|t.b10|emb|x|x.|x..y||.z");
    CHECK(tr.sort == TREE_SORT_SIZE);
    CHECK(tree_sort(&tr, TREE_SORT_NAME) == 0);
    dfs_paths(&tr, got, sizeof got);
    CHECK_STR(got, NAME_ORDER);
    /* dfs restricted to a subtree */
    size_t k = 0;
    tree_node *lay = tree_find(&tr, "layer", 5);
    for (tree_node *n = lay; n; n = tree_dfs_next(n, lay))
        k++;
    CHECK_EQ_U64(k, lay->span);
    CHECK_EQ_U64(k, 7);
    CHECK_STR(tree_state_name(TREE_PARTIAL), "partly frozen");
    tree_free(&tr);
    tree_free(&tr);
    table_free(&t);
}

/* Every node's totals equal a recount over the names that have its path
 * as a prefix (independent of the tree's own links and ranges). */
static void check_by_prefix(const table *t, const tree *tr)
{
    char p[512];
    int ok = 1;
    for (size_t k = 0; k < tr->count; k++) {
        const tree_node *n = &tr->nodes[k];
        size_t pl = tree_node_path(tr, n, p, sizeof p);
        uint64_t c = 0, numel = 0, bytes = 0, params = 0, bufs = 0;
        for (size_t i = 0; i < t->count; i++) {
            const table_tensor *x = table_at(t, i);
            const char *nm = table_name(t, i);
            if (x->kind != TK_PARAMETER && x->kind != TK_BUFFER)
                continue;
            if (k && !(strncmp(nm, p, pl) == 0 &&
                       (nm[pl] == '\0' || nm[pl] == '.')))
                continue;
            /* and it is in the node's array range */
            size_t li = tree_index(tr, tree_leaf(tr, i));
            if (li < k || li >= k + n->span)
                ok = 0;
            c++;
            numel += x->numel;
            bytes += x->nbytes;
            params += x->kind == TK_PARAMETER;
            bufs += x->kind == TK_BUFFER;
        }
        if (c != n->tensors || numel != n->numel || bytes != n->bytes ||
            params != n->params || bufs != n->buffers) {
            fprintf(stderr, "node %s: totals differ\n", p);
            ok = 0;
        }
        if (n->frozen_tensors || n->frozen_numel)
            ok = 0;
    }
    CHECK(ok);
}

static void test_resnet(void)
{
    table t;
    table_init(&t);
    CHECK(mn_gen_resnet18(&t) == 0);
    CHECK_EQ_U64(t.count, 122);
    tree tr;
    CHECK(tree_build(&tr, &t) == 0);
    table_totals tot;
    table_get_totals(&t, &tot);
    tree_node *root = tree_root(&tr);
    CHECK_EQ_U64(root->param_numel, 11689512);
    CHECK_EQ_U64(root->param_numel, tot.parameter_numel);
    CHECK_EQ_U64(root->tensors, tot.tensors);
    CHECK_EQ_U64(root->bytes, tot.bytes);
    CHECK_EQ_U64(root->buffers, tot.buffers);
    check_by_prefix(&t, &tr);
    /* root children in natural order */
    char got[256];
    size_t len = 0;
    for (tree_node *c = root->child; c; c = c->next)
        len += (size_t)snprintf(got + len, sizeof got - len, "%.*s ",
                                (int)c->seg_len, c->seg);
    CHECK_STR(got, "bn1 conv1 fc layer1 layer2 layer3 layer4 ");
    tree_node *bn = tree_find(&tr, "layer1.0.bn1", 12);
    CHECK(bn && tree_node_state(bn) == TREE_TRAINABLE);
    CHECK(bn && bn->buffers == 3 && bn->params == 2);
    tree_node *nbt = tree_find(&tr, "bn1.num_batches_tracked", 23);
    CHECK(nbt && tree_node_state(nbt) == TREE_BUFFER);
    /* size sort: layer4 is the largest child of the root */
    CHECK(tree_sort(&tr, TREE_SORT_SIZE) == 0);
    CHECK(root->child->seg_len == 6 && memcmp(root->child->seg, "layer4", 6) == 0);
    for (tree_node *c = root->child; c && c->next; c = c->next)
        CHECK(c->bytes >= c->next->bytes);
    check_by_prefix(&t, &tr);
    tree_free(&tr);
    table_free(&t);
}

static void test_empty(void)
{
    table t;
    table_init(&t);
    tree tr;
    CHECK(tree_build(&tr, &t) == 0);
    CHECK(tr.count == 1);
    CHECK(tree_find(&tr, "", 0) == tree_root(&tr));
    CHECK(tree_find(&tr, "a", 1) == NULL);
    CHECK(tree_node_state(tree_root(&tr)) == TREE_BUFFER);
    CHECK(tree_dfs_next(tree_root(&tr), tree_root(&tr)) == NULL);
    CHECK(tree_sort(&tr, TREE_SORT_SIZE) == 0);
    tree_free(&tr);
    /* only optimizer state: still an empty tree */
    mn_add(&t, TK_OPTIMIZER, DT_F32, MN_0D, "state.0.step");
    CHECK(tree_build(&tr, &t) == 0);
    CHECK(tr.count == 1 && tree_root(&tr)->tensors == 0);
    tree_free(&tr);
    table_free(&t);
}

static void test_overflow(void)
{
    table t;
    table_init(&t);
    /* 7 * 2^60 elements fit a signed delta, 8 * 2^60 do not */
    for (int i = 0; i < 7; i++)
        CHECK(mn_add(&t, TK_PARAMETER, DT_U8, MN_1D(1ull << 60), "w%d", i) ==
              i);
    tree tr;
    CHECK(tree_build(&tr, &t) == 0);
    CHECK_EQ_U64(tree_root(&tr)->numel, 7ull << 60);
    tree_free(&tr);
    mn_add(&t, TK_BUFFER, DT_U8, MN_1D(1ull << 60), "w7");
    CHECK(tree_build(&tr, &t) == -1);
    CHECK(strstr(err_msg(), "2^63") != NULL);
    CHECK(tree_root(&tr) == NULL);
    tree_free(&tr);
    table_free(&t);
}

static void test_deepseek(void)
{
    table t;
    table_init(&t);
    /* layers as a safetensors writer lays them out (10 before 2), experts
     * backwards: the tree must put both in natural order */
    CHECK(mn_gen_deepseek_v3(&t, MN_DS_LAYERS_AS_TEXT |
                                     MN_DS_EXPERTS_DESCENDING) == 0);
    printf("deepseek table: %zu tensors\n", t.count);
    CHECK_EQ_U64(t.count, 91991);
    tree tr;
    double t0 = timing_now_ms();
    CHECK(tree_build(&tr, &t) == 0);
    double t1 = timing_now_ms();
    CHECK(tree_sort(&tr, TREE_SORT_SIZE) == 0);
    double t2 = timing_now_ms();
    CHECK(tree_sort(&tr, TREE_SORT_NAME) == 0);
    double t3 = timing_now_ms();
    printf("tree_build %zu tensors -> %zu nodes: %.1f ms; sort size %.1f ms, "
           "name %.1f ms (" TIMING_BUILD_KIND ")\n", t.count, tr.count,
           t1 - t0, t2 - t1, t3 - t2);
    table_totals tot;
    table_get_totals(&t, &tot);
    tree_node *root = tree_root(&tr);
    CHECK_EQ_U64(root->tensors, t.count);
    CHECK_EQ_U64(root->param_numel, tot.parameter_numel);
    CHECK_EQ_U64(root->bytes, tot.bytes);
    tree_node *layers = tree_find(&tr, "model.layers", 12);
    CHECK(layers && layers->nchildren == 62);
    /* natural order: 0 1 2 ... 9 10 ... 61 */
    int ok = layers != NULL, want = 0;
    for (tree_node *c = layers ? layers->child : NULL; c; c = c->next, want++) {
        char s[16];
        snprintf(s, sizeof s, "%d", want);
        if (c->seg_len != strlen(s) || memcmp(c->seg, s, c->seg_len))
            ok = 0;
    }
    CHECK(ok && want == 62);
    const char *deep = "model.layers.42.mlp.experts.200.down_proj";
    tree_node *d = tree_find(&tr, deep, strlen(deep));
    CHECK(d && d->tensors == 2 && d->depth == 7);
    char p[128];
    CHECK(d && tree_node_path(&tr, d, p, sizeof p) == strlen(deep));
    CHECK_STR(p, deep);
    tree_node *ex = tree_find(&tr, "model.layers.42.mlp.experts", 27);
    CHECK(ex && ex->nchildren == 256 && ex->tensors == 1536);
    CHECK(ex && ex->child->seg_len == 1 && ex->child->seg[0] == '0');
    tree_free(&tr);
    table_free(&t);
}

int main(void)
{
    test_natural();
    test_small();
    test_resnet();
    test_empty();
    test_overflow();
    test_deepseek();
    return check_report();
}
