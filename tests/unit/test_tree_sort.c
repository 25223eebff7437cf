/* test_tree_sort.c: the display orders of the name tree (core/tree_sort.c:
 * checkpoint order, natural name order, size), the sort cycle and the
 * default per format, the share scale (largest sibling), and the
 * editor's / queries (core/search.c: smartcase text, f's patterns). */
#include "check.h"

#include <stdlib.h>

#include "../../tui/core/err.h"
#include "../../tui/core/search.h"
#include "../../tui/core/table.h"
#include "../../tui/core/tree.h"

static void add(table *t, const char *name, tensor_kind k, uint64_t n)
{
    uint64_t shape[1] = {n};
    long i = table_add(t, name, strlen(name), DT_F32, 1, shape);
    if (i >= 0)
        table_at(t, (size_t)i)->kind = (uint8_t)k;
    else
        fprintf(stderr, "table_add %s: %s\n", name, err_msg());
}

/* The children of node `path` in display order, "a|b|c", into out. */
static const char *kids(const tree *tr, const char *path, char *out,
                        size_t cap)
{
    tree_node *n = tree_find(tr, path, strlen(path));
    size_t k = 0;
    out[0] = '\0';
    if (!n)
        return "(none)";
    for (tree_node *c = n->child; c && k + 1 < cap; c = c->next)
        k += (size_t)snprintf(out + k, cap - k, "%s%.*s", k ? "|" : "",
                              (int)c->seg_len, c->seg);
    return out;
}

/* A resnet-like state_dict in module order (as torch.save writes it),
 * with layer10 to tell natural order from bytewise. */
static void fill_model(table *t)
{
    add(t, "conv1.weight", TK_PARAMETER, 9408);
    add(t, "bn1.weight", TK_PARAMETER, 64);
    add(t, "bn1.bias", TK_PARAMETER, 64);
    add(t, "bn1.running_mean", TK_BUFFER, 64);
    add(t, "layer2.0.weight", TK_PARAMETER, 2000);
    add(t, "layer10.0.weight", TK_PARAMETER, 50000);
    add(t, "layer1.0.weight", TK_PARAMETER, 100);
    add(t, "fc.weight", TK_PARAMETER, 5120);
    add(t, "fc.bias", TK_PARAMETER, 10);
}

static void test_orders(void)
{
    table t;
    tree tr;
    char got[512];
    table_init(&t);
    fill_model(&t);
    CHECK(tree_build(&tr, &t) == 0);
    /* built in natural order: layer2 before layer10, bytewise would not */
    CHECK(tr.sort == TREE_SORT_NAME);
    CHECK_STR(kids(&tr, "", got, sizeof got),
              "bn1|conv1|fc|layer1|layer2|layer10");
    CHECK_STR(kids(&tr, "bn1", got, sizeof got), "bias|running_mean|weight");
    /* checkpoint order: where each module's first tensor is */
    CHECK(tree_sort(&tr, TREE_SORT_FILE) == 0);
    CHECK(tr.sort == TREE_SORT_FILE);
    CHECK_STR(kids(&tr, "", got, sizeof got),
              "conv1|bn1|layer2|layer10|layer1|fc");
    CHECK_STR(kids(&tr, "bn1", got, sizeof got), "weight|bias|running_mean");
    CHECK_STR(kids(&tr, "fc", got, sizeof got), "weight|bias");
    /* size: largest first */
    CHECK(tree_sort(&tr, TREE_SORT_SIZE) == 0);
    CHECK_STR(kids(&tr, "", got, sizeof got),
              "layer10|conv1|fc|layer2|bn1|layer1");
    /* and back to name */
    CHECK(tree_sort(&tr, TREE_SORT_NAME) == 0);
    CHECK_STR(kids(&tr, "", got, sizeof got),
              "bn1|conv1|fc|layer1|layer2|layer10");
    /* an unknown mode is refused and changes nothing */
    CHECK(tree_sort(&tr, TREE_SORT_COUNT) == -1);
    CHECK(strstr(err_msg(), "unknown sort") != NULL);
    CHECK(tr.sort == TREE_SORT_NAME);
    CHECK_STR(kids(&tr, "", got, sizeof got),
              "bn1|conv1|fc|layer1|layer2|layer10");
    /* share scale: the largest sibling, not the model */
    tree_node *fc = tree_find(&tr, "fc", 2);
    tree_node *l10 = tree_find(&tr, "layer10", 7);
    tree_node *fcb = tree_find(&tr, "fc.bias", 7);
    CHECK(fc && l10 && fcb);
    CHECK_EQ_U64(tree_sibling_max_bytes(fc), l10->bytes);
    CHECK_EQ_U64(tree_sibling_max_bytes(l10), l10->bytes);
    CHECK_EQ_U64(tree_sibling_max_bytes(fcb), 5120 * 4);
    CHECK_EQ_U64(tree_sibling_max_bytes(tree_root(&tr)),
                 tree_root(&tr)->bytes);
    tree_free(&tr);
    table_free(&t);
}

static void test_cycle(void)
{
    CHECK(tree_sort_next(TREE_SORT_FILE) == TREE_SORT_NAME);
    CHECK(tree_sort_next(TREE_SORT_NAME) == TREE_SORT_SIZE);
    CHECK(tree_sort_next(TREE_SORT_SIZE) == TREE_SORT_FILE);
    CHECK_STR(tree_sort_name(TREE_SORT_FILE), "checkpoint");
    CHECK_STR(tree_sort_name(TREE_SORT_NAME), "name");
    CHECK_STR(tree_sort_name(TREE_SORT_SIZE), "size");
    CHECK_STR(tree_sort_name(TREE_SORT_COUNT), "?");
    table t;
    table_init(&t);
    table_set_format(&t, "pytorch");
    CHECK(tree_sort_default(&t) == TREE_SORT_FILE);
    table_set_format(&t, "torchscript");
    CHECK(tree_sort_default(&t) == TREE_SORT_FILE);
    table_set_format(&t, "safetensors");
    CHECK(tree_sort_default(&t) == TREE_SORT_NAME);
    table_free(&t);
}

static void test_search(void)
{
    table t;
    bitset m;
    size_t col = 99;
    table_init(&t);
    add(&t, "encoder.Attention.q", TK_PARAMETER, 4);
    add(&t, "encoder.attention.k", TK_PARAMETER, 4);
    add(&t, "decoder.ATTENTION.v", TK_PARAMETER, 4);
    add(&t, "head.bias", TK_PARAMETER, 4);
    CHECK(bitset_init(&m, t.count) == 0);
    /* lowercase: any case */
    CHECK(search_case_sensitive("attention") == 0);
    CHECK(search_match_table("attention", &t, &m, &col) == 3);
    CHECK(col == 0);
    CHECK(bitset_get(&m, 0) && bitset_get(&m, 1) && bitset_get(&m, 2));
    /* a capital: exact case */
    CHECK(search_case_sensitive("Attention") == 1);
    CHECK(search_match_table("Attention", &t, &m, NULL) == 1);
    CHECK(bitset_get(&m, 0) && !bitset_get(&m, 1) && !bitset_get(&m, 2));
    CHECK(search_match_table("ATTENTION.v", &t, &m, NULL) == 1);
    CHECK(bitset_get(&m, 2));
    CHECK(search_match_table("nothing", &t, &m, NULL) == 0);
    /* a pattern: as f selects (a module path takes its subtree, exact
     * case) */
    CHECK(search_is_pattern("encoder.*") == 1);
    CHECK(search_is_pattern("re:^head") == 1);
    CHECK(search_is_pattern("head.bias") == 0);
    CHECK(search_match_table("encoder.*", &t, &m, NULL) == 2);
    CHECK(bitset_get(&m, 0) && bitset_get(&m, 1) && !bitset_get(&m, 2));
    CHECK(search_match_table("*.attention", &t, &m, NULL) == 1);
    CHECK(bitset_get(&m, 1));
    CHECK(search_match_table("re:^head", &t, &m, NULL) == 1);
    CHECK(bitset_get(&m, 3));
    /* a bad pattern: -1, the column, nothing left set */
    CHECK(search_match_table("enc{oder", &t, &m, &col) == -1);
    CHECK(col == 4);
    CHECK(bitset_count(&m) == 0);
    CHECK(search_match_table("", &t, &m, NULL) == -1);
    bitset_free(&m);
    table_free(&t);
}

int main(void)
{
    test_orders();
    test_cycle();
    test_search();
    return check_report();
}
