/* test_view.c: the visible-rows model of the editor (core/view.h) on
 * generated tables: a resnet18-shaped state_dict, a small model with a
 * single-child chain, and a DeepSeek-V3-shaped name list (about 92,000
 * tensors) for the timings. */
#include "check.h"

#include <stdlib.h>
#include <time.h>

#include "../../tui/core/err.h"
#include "../../tui/core/freeze.h"
#include "freeze_ops.h"
#include "../../tui/core/pattern.h"
#include "../../tui/core/table.h"
#include "../../tui/core/tree.h"
#include "../../tui/core/view.h"

/* The timings printed below are for the reader of the log; no check
 * bounds them (a shared machine makes any bound flaky): the editor's
 * speed figures come from `make bench` (tests/bench/bench_ui.sh). */
#if defined(__SANITIZE_ADDRESS__)
#define BUILD_KIND "sanitized build, slower"
#elif defined(__OPTIMIZE__)
#define BUILD_KIND "optimized build"
#else
#define BUILD_KIND "unoptimized build"
#endif

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static long add(table *t, const char *name, tensor_kind k, dtype dt,
                unsigned nd, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t shape[4] = {a, b, c, d};
    long i = table_add(t, name, strlen(name), dt, nd, shape);
    if (i >= 0)
        table_at(t, (size_t)i)->kind = (uint8_t)k;
    else
        fprintf(stderr, "table_add %s: %s\n", name, err_msg());
    return i;
}

static void add_bn(table *t, const char *p, uint64_t ch)
{
    char n[128];
    snprintf(n, sizeof n, "%s.weight", p);
    add(t, n, TK_PARAMETER, DT_F32, 1, ch, 0, 0, 0);
    snprintf(n, sizeof n, "%s.bias", p);
    add(t, n, TK_PARAMETER, DT_F32, 1, ch, 0, 0, 0);
    snprintf(n, sizeof n, "%s.running_mean", p);
    add(t, n, TK_BUFFER, DT_F32, 1, ch, 0, 0, 0);
    snprintf(n, sizeof n, "%s.running_var", p);
    add(t, n, TK_BUFFER, DT_F32, 1, ch, 0, 0, 0);
    snprintf(n, sizeof n, "%s.num_batches_tracked", p);
    add(t, n, TK_BUFFER, DT_I64, 0, 0, 0, 0, 0);
}

/* torchvision's resnet18 state_dict: 122 tensors, 11,689,512 params. */
static void make_resnet18(table *t)
{
    char n[128];
    add(t, "conv1.weight", TK_PARAMETER, DT_F32, 4, 64, 3, 7, 7);
    add_bn(t, "bn1", 64);
    uint64_t in = 64;
    for (int L = 1; L <= 4; L++) {
        uint64_t ch = 64u << (L - 1);
        for (int b = 0; b < 2; b++) {
            uint64_t cin = b == 0 ? in : ch;
            snprintf(n, sizeof n, "layer%d.%d.conv1.weight", L, b);
            add(t, n, TK_PARAMETER, DT_F32, 4, ch, cin, 3, 3);
            snprintf(n, sizeof n, "layer%d.%d.bn1", L, b);
            add_bn(t, n, ch);
            snprintf(n, sizeof n, "layer%d.%d.conv2.weight", L, b);
            add(t, n, TK_PARAMETER, DT_F32, 4, ch, ch, 3, 3);
            snprintf(n, sizeof n, "layer%d.%d.bn2", L, b);
            add_bn(t, n, ch);
            if (b == 0 && L > 1) {
                snprintf(n, sizeof n, "layer%d.0.downsample.0.weight", L);
                add(t, n, TK_PARAMETER, DT_F32, 4, ch, in, 1, 1);
                snprintf(n, sizeof n, "layer%d.0.downsample.1", L);
                add_bn(t, n, ch);
            }
        }
        in = ch;
    }
    add(t, "fc.weight", TK_PARAMETER, DT_F32, 2, 1000, 512, 0, 0);
    add(t, "fc.bias", TK_PARAMETER, DT_F32, 1, 1000, 0, 0, 0);
}

static int cmp_str_num(const void *a, const void *b)
{
    char x[16], y[16];
    snprintf(x, sizeof x, "%d", *(const int *)a);
    snprintf(y, sizeof y, "%d", *(const int *)b);
    return strcmp(x, y);
}

/* A DeepSeek-V3-shaped name list (about 92,000 tensors), layers added in
 * the lexicographic order a safetensors writer uses (10 before 2). */
static void make_deepseek(table *t)
{
    static const char *attn[] = {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa",
                                 "kv_b_proj", "o_proj"};
    static const char *proj[] = {"gate_proj", "up_proj", "down_proj"};
    char n[160];
    int layers[62];
    for (int i = 0; i < 62; i++)
        layers[i] = i;
    qsort(layers, 62, sizeof *layers, cmp_str_num);
    add(t, "model.embed_tokens.weight", TK_PARAMETER, DT_BF16, 2, 129280, 7168, 0, 0);
    for (int li = 0; li < 62; li++) {
        int L = layers[li];
        snprintf(n, sizeof n, "model.layers.%d.input_layernorm.weight", L);
        add(t, n, TK_PARAMETER, DT_BF16, 1, 7168, 0, 0, 0);
        snprintf(n, sizeof n, "model.layers.%d.post_attention_layernorm.weight", L);
        add(t, n, TK_PARAMETER, DT_BF16, 1, 7168, 0, 0, 0);
        for (int a = 0; a < 5; a++) {
            snprintf(n, sizeof n, "model.layers.%d.self_attn.%s.weight", L, attn[a]);
            add(t, n, TK_PARAMETER, DT_F8_E4M3, 2, 1536, 7168, 0, 0);
            snprintf(n, sizeof n, "model.layers.%d.self_attn.%s.weight_scale_inv", L, attn[a]);
            add(t, n, TK_PARAMETER, DT_F32, 2, 12, 56, 0, 0);
        }
        snprintf(n, sizeof n, "model.layers.%d.self_attn.q_a_layernorm.weight", L);
        add(t, n, TK_PARAMETER, DT_BF16, 1, 1536, 0, 0, 0);
        snprintf(n, sizeof n, "model.layers.%d.self_attn.kv_a_layernorm.weight", L);
        add(t, n, TK_PARAMETER, DT_BF16, 1, 512, 0, 0, 0);
        if (L < 3) {
            for (int p = 0; p < 3; p++) {
                snprintf(n, sizeof n, "model.layers.%d.mlp.%s.weight", L, proj[p]);
                add(t, n, TK_PARAMETER, DT_F8_E4M3, 2, 18432, 7168, 0, 0);
                snprintf(n, sizeof n, "model.layers.%d.mlp.%s.weight_scale_inv", L, proj[p]);
                add(t, n, TK_PARAMETER, DT_F32, 2, 144, 56, 0, 0);
            }
            continue;
        }
        snprintf(n, sizeof n, "model.layers.%d.mlp.gate.weight", L);
        add(t, n, TK_PARAMETER, DT_BF16, 2, 256, 7168, 0, 0);
        snprintf(n, sizeof n, "model.layers.%d.mlp.gate.e_score_correction_bias", L);
        add(t, n, TK_BUFFER, DT_F32, 1, 256, 0, 0, 0);
        for (int e = 255; e >= 0; e--)
            for (int p = 0; p < 3; p++) {
                snprintf(n, sizeof n, "model.layers.%d.mlp.experts.%d.%s.weight", L, e, proj[p]);
                add(t, n, TK_PARAMETER, DT_F8_E4M3, 2, 2048, 7168, 0, 0);
                snprintf(n, sizeof n, "model.layers.%d.mlp.experts.%d.%s.weight_scale_inv", L, e, proj[p]);
                add(t, n, TK_PARAMETER, DT_F32, 2, 16, 56, 0, 0);
            }
        for (int p = 0; p < 3; p++) {
            snprintf(n, sizeof n, "model.layers.%d.mlp.shared_experts.%s.weight", L, proj[p]);
            add(t, n, TK_PARAMETER, DT_F8_E4M3, 2, 2048, 7168, 0, 0);
            snprintf(n, sizeof n, "model.layers.%d.mlp.shared_experts.%s.weight_scale_inv", L, proj[p]);
            add(t, n, TK_PARAMETER, DT_F32, 2, 16, 56, 0, 0);
        }
    }
    add(t, "model.norm.weight", TK_PARAMETER, DT_BF16, 1, 7168, 0, 0, 0);
    add(t, "lm_head.weight", TK_PARAMETER, DT_BF16, 2, 129280, 7168, 0, 0);
}

/* The dotted path of row k's last node. */
static const char *row_path(const view *v, size_t k)
{
    static char buf[512];
    tree_node_path(v->tr, &v->tr->nodes[v->rows[k].last], buf, sizeof buf);
    return buf;
}

static size_t find_path_row(const view *v, const char *path)
{
    tree_node *n = tree_find(v->tr, path, strlen(path));
    return n ? view_find_row(v, n) : SIZE_MAX;
}

static void match_pattern(const table *t, const char *src, bitset *m)
{
    pattern *p = pattern_compile(src, NULL);
    CHECK(p != NULL);
    bitset_zero(m);
    if (p)
        pattern_match_table(p, t, m);
    pattern_free(p);
}

static void test_resnet(void)
{
    table t;
    tree tr;
    freeze_set fs;
    view v;
    table_init(&t);
    make_resnet18(&t);
    CHECK_EQ_U64(t.count, 122);
    CHECK(tree_build(&tr, &t) == 0);
    CHECK(freeze_init(&fs, &tr) == 0);
    CHECK(view_init(&v, &tr) == 0);

    /* root open, top level closed: root, bn1, conv1, fc, layer1..4 */
    CHECK_EQ_U64(v.nrows, 8);
    CHECK_STR(row_path(&v, 0), "");
    CHECK_STR(row_path(&v, 1), "bn1");
    CHECK_STR(row_path(&v, 3), "fc");
    CHECK_STR(row_path(&v, 7), "layer4");
    CHECK_EQ_U64(v.rows[4].depth, 1);
    CHECK(view_row_expandable(&v, &v.rows[4]));
    CHECK(!view_row_expanded(&v, &v.rows[4]));

    /* open layer1: its blocks 0 and 1 appear under it */
    view_set_height(&v, 5);
    view_move_to(&v, 4);
    CHECK(view_expand(&v) == 0);
    CHECK_EQ_U64(v.nrows, 10);
    CHECK_STR(row_path(&v, 5), "layer1.0");
    CHECK_STR(row_path(&v, 6), "layer1.1");
    CHECK_EQ_U64(v.rows[5].depth, 2);
    CHECK_EQ_U64(v.cursor, 4);
    view_move(&v, 1);
    CHECK(view_expand(&v) == 0); /* layer1.0: bn1 bn2 conv1 conv2 */
    CHECK_EQ_U64(v.nrows, 14);
    CHECK_STR(row_path(&v, 6), "layer1.0.bn1");
    /* cursor and scroll: moving past the screen scrolls */
    view_move(&v, 3);
    CHECK_EQ_U64(v.cursor, 8);
    CHECK(v.cursor >= v.top && v.cursor < v.top + v.height);
    view_move(&v, 1000);
    CHECK_EQ_U64(v.cursor, 13);
    CHECK_EQ_U64(v.top, 9);
    view_move(&v, -1000);
    CHECK_EQ_U64(v.cursor, 0);
    CHECK_EQ_U64(v.top, 0);
    view_scroll(&v, 3);
    CHECK_EQ_U64(v.top, 3);
    CHECK_EQ_U64(v.cursor, 3); /* pulled onto the screen */
    view_scroll(&v, 1000);
    CHECK_EQ_U64(v.top, 9);

    /* left on a leaf goes to the parent row; on an open row closes it */
    view_move_to(&v, find_path_row(&v, "layer1.0.conv1"));
    CHECK_STR(row_path(&v, v.cursor), "layer1.0.conv1.weight"); /* folded */
    CHECK(view_collapse_or_parent(&v) == 0);
    CHECK_STR(row_path(&v, v.cursor), "layer1.0");
    CHECK(view_collapse_or_parent(&v) == 0);
    CHECK_EQ_U64(v.nrows, 10);
    CHECK_STR(row_path(&v, v.cursor), "layer1.0");
    view_parent(&v);
    CHECK_STR(row_path(&v, v.cursor), "layer1");
    view_parent(&v);
    CHECK_EQ_U64(v.cursor, 0);
    view_parent(&v);
    CHECK_EQ_U64(v.cursor, 0);
    CHECK(view_collapse(&v) == 0); /* the root stays open */
    CHECK_EQ_U64(v.nrows, 10);

    /* expand all shows every node (no single-child chains here but the
     * downsample.0 / conv weights: those have one child each) */
    view_move_to(&v, find_path_row(&v, "layer1"));
    CHECK(view_expand_all(&v) == 0);
    CHECK_STR(row_path(&v, v.cursor), "layer1");
    size_t folded = 0;
    for (size_t i = 1; i < tr.count; i++)
        if (tr.nodes[i].parent != &tr.nodes[0] &&
            tr.nodes[i].parent->nchildren == 1 &&
            tr.nodes[i].parent->tensor < 0)
            folded++; /* shown on its parent's row */
    CHECK_EQ_U64(v.nrows, tr.count - folded);
    /* conv1 has a single child `weight`: one row "conv1.weight" */
    size_t r = find_path_row(&v, "conv1");
    CHECK(r != SIZE_MAX);
    CHECK_STR(row_path(&v, r), "conv1.weight");
    CHECK(v.rows[r].first != v.rows[r].last);
    CHECK(!view_row_expandable(&v, &v.rows[r]));
    CHECK(view_collapse_all(&v) == 0);
    CHECK_EQ_U64(v.nrows, 8);
    CHECK_STR(row_path(&v, v.cursor), "layer1");

    /* filters follow the frozen totals */
    tree_node *l2 = tree_find(&tr, "layer2", 6);
    CHECK(freeze_ops_node(&fs, l2, 1, NULL) == 0);
    CHECK(view_set_filter(&v, VIEW_FROZEN) == 0);
    CHECK_EQ_U64(v.nrows, 2);
    CHECK_STR(row_path(&v, 1), "layer2");
    CHECK_EQ_U64(v.cursor, 0); /* layer1 is hidden: cursor on root */
    CHECK(view_set_filter(&v, VIEW_TRAINABLE) == 0);
    CHECK_EQ_U64(v.nrows, 7);
    CHECK(find_path_row(&v, "layer2") == SIZE_MAX);
    /* bn1 holds buffers and trainable params: shown; a buffer-only
     * node is not */
    view_move_to(&v, find_path_row(&v, "bn1"));
    CHECK(view_expand(&v) == 0);
    CHECK(find_path_row(&v, "bn1.weight") != SIZE_MAX);
    CHECK(find_path_row(&v, "bn1.running_mean") == SIZE_MAX);
    CHECK(view_set_filter(&v, (view_filter)9) == -1);
    CHECK(view_set_filter(&v, VIEW_ALL) == 0);
    CHECK(find_path_row(&v, "bn1.running_mean") != SIZE_MAX);

    /* matches: **.bias, next and previous, with wrap-around */
    bitset m;
    CHECK(bitset_init(&m, t.count) == 0);
    match_pattern(&t, "**.bias", &m);
    CHECK(view_set_matches(&v, &m) == 0);
    CHECK_EQ_U64(v.match_tensors, 21); /* 20 BN biases + fc.bias */
    CHECK_EQ_U64(v.nroots, 21);
    CHECK(view_collapse_all(&v) == 0);
    view_move_to(&v, 0);
    CHECK(view_next_match(&v, 1) == 1);
    CHECK_STR(row_path(&v, v.cursor), "bn1.bias");
    CHECK(view_next_match(&v, 1) == 1);
    CHECK_STR(row_path(&v, v.cursor), "fc.bias");
    CHECK(view_next_match(&v, 1) == 1);
    CHECK_STR(row_path(&v, v.cursor), "layer1.0.bn1.bias");
    CHECK(view_next_match(&v, -1) == 1);
    CHECK_STR(row_path(&v, v.cursor), "fc.bias");
    CHECK(view_next_match(&v, -1) == 1);
    CHECK(view_next_match(&v, -1) == 1); /* wraps to the last one */
    CHECK_STR(row_path(&v, v.cursor), "layer4.1.bn2.bias");
    CHECK(view_next_match(&v, 1) == 1);
    CHECK_STR(row_path(&v, v.cursor), "bn1.bias");
    /* a module pattern has one root: the module */
    match_pattern(&t, "layer3", &m);
    CHECK(view_set_matches(&v, &m) == 0);
    CHECK_EQ_U64(v.nroots, 1);
    CHECK(view_next_match(&v, 1) == 1);
    CHECK_STR(row_path(&v, v.cursor), "layer3");
    CHECK(view_set_filter(&v, VIEW_MATCHES) == 0);
    CHECK_EQ_U64(v.nrows, 2);
    CHECK_EQ_U64(view_node_matches(&v, &tr.nodes[0]), 30);
    CHECK(view_set_matches(&v, NULL) == 0);
    CHECK_EQ_U64(v.nrows, 1);
    CHECK(view_next_match(&v, 1) == 0);
    bitset_zero(&m);
    CHECK(view_set_matches(&v, &m) == 0);
    CHECK(view_next_match(&v, 1) == 0);
    /* a match hidden by a filter clears the filter */
    match_pattern(&t, "fc.weight", &m);
    CHECK(view_set_filter(&v, VIEW_FROZEN) == 0);
    CHECK(view_set_matches(&v, &m) == 0);
    CHECK(view_next_match(&v, 1) == 1);
    CHECK(v.filter == VIEW_ALL);
    CHECK_STR(row_path(&v, v.cursor), "fc.weight");
    bitset_free(&m);

    /* sort by size: layer4 (largest) first, cursor stays on its node */
    CHECK(view_collapse_all(&v) == 0);
    CHECK_STR(row_path(&v, v.cursor), "fc");
    CHECK(view_set_sort(&v, TREE_SORT_SIZE) == 0);
    CHECK_STR(row_path(&v, 1), "layer4");
    CHECK_STR(row_path(&v, 2), "layer3");
    CHECK_STR(row_path(&v, v.cursor), "fc");
    CHECK(view_set_sort(&v, TREE_SORT_NAME) == 0);
    CHECK_STR(row_path(&v, 1), "bn1");
    CHECK_STR(view_filter_name(VIEW_TRAINABLE), "trainable");

    view_free(&v);
    view_free(&v);
    freeze_free(&fs);
    tree_free(&tr);
    table_free(&t);
}

/* A single-child chain: model.encoder.layer.{0,1}.w and head.w. */
static void test_chain(void)
{
    table t;
    tree tr;
    view v;
    table_init(&t);
    add(&t, "model.encoder.layer.0.w", TK_PARAMETER, DT_F32, 1, 4, 0, 0, 0);
    add(&t, "model.encoder.layer.1.w", TK_PARAMETER, DT_F32, 1, 4, 0, 0, 0);
    add(&t, "model.encoder.layer.10.w", TK_PARAMETER, DT_F32, 1, 4, 0, 0, 0);
    add(&t, "head.w", TK_PARAMETER, DT_F32, 1, 2, 0, 0, 0);
    CHECK(tree_build(&tr, &t) == 0);
    CHECK(view_init(&v, &tr) == 0);
    CHECK_EQ_U64(v.nrows, 3);
    CHECK_STR(row_path(&v, 1), "head.w"); /* head -> w folded */
    CHECK_STR(row_path(&v, 2), "model.encoder.layer");
    CHECK_EQ_U64(v.rows[2].first, tree_index(&tr, tree_find(&tr, "model", 5)));
    view_move_to(&v, 2);
    CHECK(view_expand(&v) == 0);
    CHECK_EQ_U64(v.nrows, 6);
    CHECK_STR(row_path(&v, 3), "model.encoder.layer.0.w");
    CHECK_STR(row_path(&v, 5), "model.encoder.layer.10.w"); /* natural */
    CHECK_EQ_U64(v.rows[5].depth, 2);
    view_move_to(&v, 4);
    view_parent(&v);
    CHECK_EQ_U64(v.cursor, 2);
    /* a node inside the chain is found on the chain's row */
    CHECK_EQ_U64(find_path_row(&v, "model.encoder"), 2);
    /* without folding every segment is a row */
    v.fold = 0;
    CHECK(view_refresh(&v) == 0);
    CHECK_EQ_U64(v.nrows, 3); /* root, head, model (closed: the chain's
                                 open flag was on `layer`) */
    CHECK_STR(row_path(&v, 1), "head");
    CHECK_STR(row_path(&v, 2), "model");
    view_free(&v);
    tree_free(&tr);
    table_free(&t);
}

static void test_deepseek_timing(void)
{
    table t;
    tree tr;
    freeze_set fs;
    view v;
    bitset m;
    table_init(&t);
    make_deepseek(&t);
    CHECK(t.count > 90000);
    CHECK(tree_build(&tr, &t) == 0);
    CHECK(freeze_init(&fs, &tr) == 0);
    CHECK(view_init(&v, &tr) == 0);
    CHECK(bitset_init(&m, t.count) == 0);
    view_set_height(&v, 40);
    double worst = 0, t0, dt;
    const char *worst_what = "";
#define TIMED(what, call)                                                  \
    do {                                                                   \
        t0 = now_ms();                                                     \
        CHECK((call) >= 0);                                                \
        dt = now_ms() - t0;                                                \
        printf("  %-28s %8.3f ms\n", what, dt);                            \
        if (dt > worst) {                                                  \
            worst = dt;                                                    \
            worst_what = what;                                             \
        }                                                                  \
    } while (0)
    printf("view timings, %zu tensors, %zu nodes (%s):\n", t.count,
           tr.count, BUILD_KIND);
    TIMED("expand all", view_expand_all(&v));
    CHECK(v.nrows > 100000);
    view_move(&v, 50000);
    TIMED("refresh (all open)", view_refresh(&v));
    CHECK(freeze_ops_all(&fs, 1, NULL) == 0);
    TIMED("filter frozen", view_set_filter(&v, VIEW_FROZEN));
    TIMED("filter trainable", view_set_filter(&v, VIEW_TRAINABLE));
    CHECK_EQ_U64(v.nrows, 1);
    TIMED("filter all", view_set_filter(&v, VIEW_ALL));
    match_pattern(&t, "model.layers.{0..30}.**", &m);
    TIMED("set matches (~46k)", view_set_matches(&v, &m));
    CHECK(v.match_tensors > 40000 && v.match_tensors < 50000);
    TIMED("collapse all", view_collapse_all(&v));
    CHECK_EQ_U64(v.nrows, 3); /* root, lm_head.weight, model */
    view_move_to(&v, 0);
    TIMED("next match", view_next_match(&v, 1));
    CHECK_STR(row_path(&v, v.cursor), "model.layers.0");
    TIMED("previous match (wrap)", view_next_match(&v, -1));
    CHECK_STR(row_path(&v, v.cursor), "model.layers.30");
    TIMED("filter matches", view_set_filter(&v, VIEW_MATCHES));
    TIMED("expand (layer 30)", view_expand(&v));
    TIMED("sort by size", view_set_sort(&v, TREE_SORT_SIZE));
    TIMED("sort by name", view_set_sort(&v, TREE_SORT_NAME));
    TIMED("expand all (sorted)", view_expand_all(&v));
    printf("  worst: %s, %.3f ms\n", worst_what, worst);
#undef TIMED
    bitset_free(&m);
    view_free(&v);
    freeze_free(&fs);
    tree_free(&tr);
    table_free(&t);
}

int main(void)
{
    test_resnet();
    test_chain();
    test_deepseek_timing();
    return check_report_named("test_view");
}
