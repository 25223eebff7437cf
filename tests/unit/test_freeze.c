/* test_freeze.c: the frozen set (assign, and through it the subtree,
 * mask, all and invert edits of freeze_ops.h;
 * undo/redo exactness; buffers never frozen; reports; totals against a
 * full recount over hundreds of random operations; 100k-tensor timing).
 */
#include "check.h"

#include <stdlib.h>

#include "../../tui/core/err.h"
#include "../../tui/core/freeze.h"
#include "freeze_ops.h"
#include "../../tui/core/table.h"
#include "../../tui/core/tree.h"
#include "model_names.h"
#include "timing.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)((rng_state >> 11) % n);
}

/* 1 when name is the path p (plen bytes) or lies under it. */
static int under(const char *name, const char *p, size_t plen)
{
    if (plen == 0)
        return 1;
    return strncmp(name, p, plen) == 0 && (name[plen] == '\0' || name[plen] == '.');
}

/* Frozen totals of every node equal a recount from the set (walking up
 * from each frozen tensor's leaf), and states agree. */
static int totals_match(const table *t, const tree *tr, const freeze_set *fs)
{
    uint64_t *ft = calloc(tr->count, sizeof *ft);
    uint64_t *fn = calloc(tr->count, sizeof *fn);
    int ok = ft && fn;
    for (size_t i = 0; ok && i < t->count; i++) {
        if (!freeze_is_frozen(fs, i))
            continue;
        for (tree_node *n = tree_leaf(tr, i); n; n = n->parent) {
            ft[tree_index(tr, n)]++;
            fn[tree_index(tr, n)] += table_at(t, i)->numel;
        }
    }
    for (size_t k = 0; ok && k < tr->count; k++) {
        const tree_node *n = &tr->nodes[k];
        tree_state want = n->params == 0 ? TREE_BUFFER
                          : ft[k] == 0 ? TREE_TRAINABLE
                          : ft[k] == n->params ? TREE_FROZEN : TREE_PARTIAL;
        if (n->frozen_tensors != ft[k] || n->frozen_numel != fn[k] ||
            tree_node_state(n) != want) {
            fprintf(stderr, "node %zu: frozen %llu/%llu, recount %llu/%llu\n",
                    k, (unsigned long long)n->frozen_tensors,
                    (unsigned long long)n->frozen_numel,
                    (unsigned long long)ft[k], (unsigned long long)fn[k]);
            ok = 0;
        }
    }
    free(ft);
    free(fn);
    return ok;
}

/* Fills t with resnet18 and builds its tree and frozen set. */
static void open_resnet(table *t, tree *tr, freeze_set *fs)
{
    table_init(t);
    CHECK(mn_gen_resnet18(t) == 0);
    CHECK(tree_build(tr, t) == 0);
    CHECK(freeze_init(fs, tr) == 0);
}

static void test_resnet_subtree(void)
{
    table t;
    tree tr;
    freeze_set fs;
    open_resnet(&t, &tr, &fs);
    CHECK(!freeze_changed_since_save(&fs));

    /* freeze layer1.0: the seed article's resnet recipe */
    size_t want_t = 0;
    uint64_t want_n = 0;
    for (size_t i = 0; i < t.count; i++)
        if (under(table_name(&t, i), "layer1.0", 8) &&
            table_at(&t, i)->kind == TK_PARAMETER) {
            want_t++;
            want_n += table_at(&t, i)->numel;
        }
    CHECK_EQ_U64(want_t, 6);
    CHECK_EQ_U64(want_n, 2 * 36864 + 4 * 64);
    freeze_report r;
    tree_node *l10 = tree_find(&tr, "layer1.0", 8);
    uint64_t g0 = freeze_generation(&fs);
    CHECK(freeze_ops_node(&fs, l10, 1, &r) == 0);
    CHECK_EQ_U64(r.tensors_changed, want_t);
    CHECK_EQ_U64(r.numel_changed, want_n);
    CHECK_EQ_U64(r.tensors_frozen, want_t);
    CHECK_EQ_U64(r.numel_frozen, want_n);
    CHECK(freeze_generation(&fs) > g0);
    CHECK(freeze_changed_since_save(&fs));
    CHECK(tree_node_state(l10) == TREE_FROZEN);
    CHECK(tree_node_state(tree_find(&tr, "layer1", 6)) == TREE_PARTIAL);
    CHECK(tree_node_state(tree_find(&tr, "layer1.1", 8)) == TREE_TRAINABLE);
    CHECK(tree_node_state(tree_root(&tr)) == TREE_PARTIAL);
    tree_node *rm = tree_find(&tr, "layer1.0.bn1.running_mean", 25);
    CHECK(rm && tree_node_state(rm) == TREE_BUFFER);
    CHECK(!freeze_is_frozen(&fs, (size_t)rm->tensor));
    size_t ft;
    uint64_t fn, tn;
    freeze_counts(&fs, &ft, &fn, &tn);
    CHECK_EQ_U64(ft, want_t);
    CHECK_EQ_U64(fn, want_n);
    CHECK_EQ_U64(tn, 11689512 - want_n);
    CHECK(totals_match(&t, &tr, &fs));

    /* again: nothing changes, no step recorded */
    CHECK(freeze_ops_node(&fs, l10, 1, &r) == 0);
    CHECK_EQ_U64(r.tensors_changed, 0);
    CHECK_EQ_U64(fo_undo_depth(&fs), 1);

    /* a buffer-only subtree: nothing to freeze */
    CHECK(freeze_ops_node(&fs, rm, 1, &r) == 0);
    CHECK_EQ_U64(r.tensors_changed, 0);

    /* everything: buffers stay unfrozen */
    CHECK(freeze_ops_all(&fs, 1, &r) == 0);
    CHECK_EQ_U64(r.tensors_changed, 62 - want_t);
    CHECK_EQ_U64(r.numel_changed, 11689512 - want_n);
    CHECK(tree_node_state(tree_root(&tr)) == TREE_FROZEN);
    CHECK(tree_node_state(tree_find(&tr, "bn1", 3)) == TREE_FROZEN);
    size_t bufs_frozen = 0;
    for (size_t i = 0; i < t.count; i++)
        if (table_at(&t, i)->kind == TK_BUFFER && freeze_is_frozen(&fs, i))
            bufs_frozen++;
    CHECK_EQ_U64(bufs_frozen, 0);

    /* invert: all 62 parameters unfreeze, buffers untouched */
    CHECK(freeze_ops_invert(&fs, &r) == 0);
    CHECK_EQ_U64(r.tensors_changed, 62);
    CHECK_EQ_U64(r.tensors_frozen, 0);
    CHECK_EQ_U64(r.numel_changed, 11689512);
    CHECK(tree_root(&tr)->frozen_tensors == 0);

    /* undo twice: back to layer1.0 frozen */
    CHECK(freeze_undo(&fs, &r) == 1);
    CHECK_EQ_U64(r.tensors_frozen, 62);
    CHECK(freeze_undo(&fs, &r) == 1);
    CHECK_EQ_U64(r.tensors_changed, 62 - want_t);
    CHECK_EQ_U64(r.tensors_frozen, 0);
    CHECK(tree_node_state(l10) == TREE_FROZEN);
    CHECK(tree_node_state(tree_find(&tr, "layer2", 6)) == TREE_TRAINABLE);
    CHECK(totals_match(&t, &tr, &fs));

    /* saved state tracking: undo back to the save point is clean */
    freeze_mark_saved(&fs);
    CHECK(!freeze_changed_since_save(&fs));
    CHECK(freeze_redo(&fs, NULL) == 1);
    CHECK(freeze_changed_since_save(&fs));
    CHECK(freeze_undo(&fs, NULL) == 1);
    CHECK(!freeze_changed_since_save(&fs));
    CHECK(freeze_undo(&fs, NULL) == 1); /* to empty */
    CHECK(freeze_changed_since_save(&fs));
    CHECK(freeze_undo(&fs, &r) == 0);
    CHECK_EQ_U64(r.tensors_changed, 0);
    CHECK_EQ_U64(fo_redo_depth(&fs), 3);
    /* a new op drops the redo tail, save point with it */
    tree_node *fc = tree_find(&tr, "fc", 2);
    CHECK(freeze_ops_node(&fs, fc, 1, &r) == 0);
    CHECK_EQ_U64(r.tensors_changed, 2);
    CHECK_EQ_U64(r.numel_changed, 513000);
    CHECK_EQ_U64(fo_redo_depth(&fs), 0);
    CHECK_EQ_U64(fo_undo_depth(&fs), 1);
    CHECK(freeze_redo(&fs, NULL) == 0);
    CHECK(freeze_changed_since_save(&fs));
    CHECK(freeze_undo(&fs, NULL) == 1);
    CHECK(freeze_changed_since_save(&fs)); /* save point is gone */

    /* mask of the wrong size: error, nothing changes */
    bitset bad;
    CHECK(bitset_init(&bad, t.count + 1) == 0);
    bitset_set(&bad, 0);
    uint64_t g1 = freeze_generation(&fs);
    CHECK(freeze_ops_mask(&fs, &bad, 1, &r) == -1);
    CHECK(strstr(err_msg(), "tensors, table has") != NULL);
    CHECK(freeze_assign(&fs, &bad, &r) == -1);
    CHECK(freeze_generation(&fs) == g1);
    CHECK(tree_root(&tr)->frozen_tensors == 0);
    bitset_free(&bad);

    /* mask: a buffer and a parameter; only the parameter freezes */
    bitset m;
    CHECK(bitset_init(&m, t.count) == 0);
    bitset_set(&m, (size_t)rm->tensor);
    bitset_set(&m, 0); /* conv1.weight */
    CHECK(freeze_ops_mask(&fs, &m, 1, &r) == 0);
    CHECK_EQ_U64(r.tensors_changed, 1);
    CHECK_EQ_U64(r.numel_changed, 9408);
    CHECK(freeze_is_frozen(&fs, 0));
    CHECK(!freeze_is_frozen(&fs, (size_t)rm->tensor));
    CHECK(!freeze_is_frozen(&fs, t.count + 5));
    /* assign exactly {fc.bias} (and a buffer, ignored) */
    bitset_zero(&m);
    bitset_set(&m, (size_t)table_find(&t, "fc.bias", 7));
    bitset_set(&m, (size_t)rm->tensor);
    CHECK(freeze_assign(&fs, &m, &r) == 0);
    CHECK_EQ_U64(r.tensors_changed, 2);
    CHECK_EQ_U64(r.tensors_frozen, 1);
    CHECK_EQ_U64(r.numel_frozen, 1000);
    freeze_counts(&fs, &ft, &fn, NULL);
    CHECK_EQ_U64(ft, 1);
    CHECK_EQ_U64(fn, 1000);
    CHECK(totals_match(&t, &tr, &fs));
    /* clearing the history keeps the state */
    freeze_mark_saved(&fs);
    freeze_clear_history(&fs);
    CHECK(!freeze_changed_since_save(&fs));
    CHECK(freeze_undo(&fs, NULL) == 0);
    CHECK(freeze_is_frozen(&fs, (size_t)table_find(&t, "fc.bias", 7)));
    CHECK_EQ_U64(fo_log_bytes(&fs), 0);
    bitset_free(&m);
    freeze_free(&fs);
    freeze_free(&fs);
    tree_free(&tr);
    table_free(&t);
}

/* A table mixing resnet names, leaf+prefix names, small experts and
 * optimizer state, for the property test. */
static void make_mixed(table *t)
{
    CHECK(mn_gen_resnet18(t) == 0);
    mn_add(t, TK_PARAMETER, DT_F32, MN_1D(5), "a.b");
    mn_add(t, TK_PARAMETER, DT_F32, MN_1D(7), "a.b.c");
    mn_add(t, TK_BUFFER, DT_F32, MN_1D(2), "a.b.c.d");
    mn_add(t, TK_PARAMETER, DT_BF16, MN_0D, "a.e");
    for (int L = 11; L >= 0; L--)
        for (int e = 0; e < 10; e++)
            for (int w = 1; w <= 2; w++)
                mn_add(t, TK_PARAMETER, DT_BF16,
                       MN_2D((uint64_t)(L + 1), (uint64_t)(e + w)),
                       "m.layers.%d.experts.%d.w%d", L, e, w);
    for (int s = 0; s < 5; s++)
        mn_add(t, TK_OPTIMIZER, DT_F32, MN_1D(100), "state.%d.exp_avg", s);
}

#define PROP_OPS 800
#define HIST_MAX (PROP_OPS + 1)

static void test_property(void)
{
    table t;
    table_init(&t);
    make_mixed(&t);
    tree tr;
    freeze_set fs;
    CHECK(tree_build(&tr, &t) == 0);
    CHECK(freeze_init(&fs, &tr) == 0);
    size_t n = t.count;
    /* the model: expected states after each recorded step */
    unsigned char *hist = calloc((size_t)HIST_MAX * n, 1);
    unsigned char *next = calloc(n, 1);
    size_t hpos = 0, hlen = 1;
    long saved = 0;
    bitset m;
    CHECK(hist && next && bitset_init(&m, n) == 0);
    int ok_state = 1, ok_report = 1, ok_totals = 1, ok_depth = 1, ok_dirty = 1;
    int counts[8] = {0};
    char p[256];
    for (int op = 0; op < PROP_OPS && hist && next; op++) {
        unsigned char *cur = hist + hpos * n;
        memcpy(next, cur, n);
        uint32_t dice = rnd(100);
        int kind = dice < 30 ? 0 : dice < 45 ? 1 : dice < 52 ? 2 : dice < 58 ? 3
                   : dice < 63 ? 4 : dice < 83 ? 5 : dice < 95 ? 6 : 7;
        counts[kind]++;
        int on = (int)rnd(2);
        freeze_report r;
        int rc = 0;
        if (kind == 0) { /* subtree */
            tree_node *nd = &tr.nodes[rnd((uint32_t)tr.count)];
            size_t pl = tree_node_path(&tr, nd, p, sizeof p);
            for (size_t i = 0; i < n; i++)
                if (table_at(&t, i)->kind == TK_PARAMETER &&
                    under(table_name(&t, i), p, pl))
                    next[i] = (unsigned char)on;
            rc = freeze_ops_node(&fs, nd, on, &r);
        } else if (kind == 1 || kind == 4) { /* mask, assign */
            bitset_zero(&m);
            uint32_t density = 1 + rnd(60);
            for (size_t i = 0; i < n; i++)
                if (rnd(100) < density)
                    bitset_set(&m, i);
            for (size_t i = 0; i < n; i++)
                if (table_at(&t, i)->kind == TK_PARAMETER) {
                    if (kind == 4)
                        next[i] = (unsigned char)bitset_get(&m, i);
                    else if (bitset_get(&m, i))
                        next[i] = (unsigned char)on;
                }
            rc = kind == 1 ? freeze_ops_mask(&fs, &m, on, &r)
                           : freeze_assign(&fs, &m, &r);
        } else if (kind == 2) {
            for (size_t i = 0; i < n; i++)
                if (table_at(&t, i)->kind == TK_PARAMETER)
                    next[i] = (unsigned char)on;
            rc = freeze_ops_all(&fs, on, &r);
        } else if (kind == 3) {
            for (size_t i = 0; i < n; i++)
                if (table_at(&t, i)->kind == TK_PARAMETER)
                    next[i] = !next[i];
            rc = freeze_ops_invert(&fs, &r);
        } else if (kind == 5) {
            if (hpos > 0)
                memcpy(next, hist + (hpos - 1) * n, n);
            rc = freeze_undo(&fs, &r) == (hpos > 0) ? 0 : -1;
        } else if (kind == 6) {
            if (hpos + 1 < hlen)
                memcpy(next, hist + (hpos + 1) * n, n);
            rc = freeze_redo(&fs, &r) == (hpos + 1 < hlen) ? 0 : -1;
        } else {
            freeze_mark_saved(&fs);
            saved = (long)hpos;
            r = (freeze_report){0, 0, 0, 0};
        }
        if (rc != 0)
            ok_state = 0;
        /* expected report from the model */
        freeze_report w = {0, 0, 0, 0};
        for (size_t i = 0; i < n; i++)
            if (next[i] != cur[i]) {
                w.tensors_changed++;
                w.numel_changed += table_at(&t, i)->numel;
                if (next[i]) {
                    w.tensors_frozen++;
                    w.numel_frozen += table_at(&t, i)->numel;
                }
            }
        if (memcmp(&w, &r, sizeof w) != 0) {
            fprintf(stderr, "op %d (kind %d): report differs\n", op, kind);
            ok_report = 0;
        }
        /* advance the model's history */
        if (kind == 5 && hpos > 0) {
            hpos--;
        } else if (kind == 6 && hpos + 1 < hlen) {
            hpos++;
        } else if (kind <= 4 && w.tensors_changed) {
            if (saved > (long)hpos)
                saved = -1;
            hpos++;
            hlen = hpos + 1;
            memcpy(hist + hpos * n, next, n);
        }
        for (size_t i = 0; i < n; i++)
            if (freeze_is_frozen(&fs, i) != hist[hpos * n + i])
                ok_state = 0;
        if (fo_undo_depth(&fs) != hpos || fo_redo_depth(&fs) != hlen - 1 - hpos)
            ok_depth = 0;
        if (freeze_changed_since_save(&fs) != (saved != (long)hpos))
            ok_dirty = 0;
        if (!totals_match(&t, &tr, &fs))
            ok_totals = 0;
        if (!(ok_state && ok_report && ok_totals && ok_depth && ok_dirty)) {
            fprintf(stderr, "property test stops at op %d (kind %d)\n", op, kind);
            break;
        }
    }
    CHECK(ok_state);
    CHECK(ok_report);
    CHECK(ok_totals);
    CHECK(ok_depth);
    CHECK(ok_dirty);
    /* every kind of operation ran */
    for (int k = 0; k < 8; k++)
        CHECK(counts[k] > 5);
    /* undo to the start, then the set is empty again; redo to the end */
    while (freeze_undo(&fs, NULL))
        ;
    CHECK_EQ_U64(bitset_count(&fs.frozen), 0);
    CHECK(totals_match(&t, &tr, &fs));
    while (freeze_redo(&fs, NULL))
        ;
    int same = 1;
    for (size_t i = 0; hist && i < n; i++)
        if (freeze_is_frozen(&fs, i) != hist[(hlen - 1) * n + i])
            same = 0;
    CHECK(same);
    printf("property test: %d ops, %zu steps, undo log %zu bytes\n",
           PROP_OPS, hlen - 1, fo_log_bytes(&fs));
    bitset_free(&m);
    free(hist);
    free(next);
    freeze_free(&fs);
    tree_free(&tr);
    table_free(&t);
}

static void test_big(void)
{
    table t;
    table_init(&t);
    /* layers in a safetensors writer's text order, experts backwards */
    CHECK(mn_gen_deepseek_v3(&t, MN_DS_LAYERS_AS_TEXT |
                                     MN_DS_EXPERTS_DESCENDING) == 0);
    tree tr;
    freeze_set fs;
    CHECK(tree_build(&tr, &t) == 0);
    CHECK(freeze_init(&fs, &tr) == 0);
    tree_node *root = tree_root(&tr);
    uint64_t params = root->params;
    bitset before;
    CHECK(bitset_init(&before, t.count) == 0);
    /* a starting state with a hole in it */
    freeze_report r;
    const char *ex = "model.layers.7.mlp.experts";
    CHECK(freeze_ops_node(&fs, tree_find(&tr, ex, strlen(ex)), 1, &r) == 0);
    CHECK_EQ_U64(r.tensors_changed, 1536);
    freeze_clear_history(&fs);
    bitset_copy(&before, &fs.frozen);

    double t0 = timing_now_ms();
    int ok = 1;
    for (int k = 0; k < 100; k++) {
        if (freeze_ops_node(&fs, root, k % 2 == 0, &r))
            ok = 0;
        if (r.tensors_changed != (k == 0 ? params - 1536 : params))
            ok = 0;
    }
    double t1 = timing_now_ms();
    CHECK(ok);
    CHECK_EQ_U64(fo_undo_depth(&fs), 100);
    CHECK(tree_node_state(root) == TREE_TRAINABLE);
    size_t log = fo_log_bytes(&fs);
    /* each step is at most a bitmap of the table */
    CHECK(log <= 100 * (t.count / 8 + 8));
    double t2 = timing_now_ms();
    while (freeze_undo(&fs, NULL))
        ;
    double t3 = timing_now_ms();
    CHECK(memcmp(before.w, fs.frozen.w, (t.count / 64 + 1) * 8) == 0);
    CHECK(totals_match(&t, &tr, &fs));
    /* one tensor by mask (the per-leaf path) */
    bitset m;
    CHECK(bitset_init(&m, t.count) == 0);
    bitset_set(&m, 12345);
    double t4 = timing_now_ms();
    CHECK(freeze_ops_mask(&fs, &m, !freeze_is_frozen(&fs, 12345), &r) == 0);
    double t5 = timing_now_ms();
    CHECK_EQ_U64(r.tensors_changed, 1);
    CHECK(totals_match(&t, &tr, &fs));
    printf("%zu tensors: root toggle %.2f ms each (100 toggles, undo log "
           "%zu bytes), undo of 100 steps %.1f ms, one-tensor mask %.3f ms "
           "(" TIMING_BUILD_KIND ")\n",
           t.count, (t1 - t0) / 100, log, t3 - t2, t5 - t4);
    bitset_free(&m);
    bitset_free(&before);
    freeze_free(&fs);
    tree_free(&tr);
    table_free(&t);
}

/* The log keeps FREEZE_MAX_STEPS steps, dropping the oldest; the saved
 * state dropped with them counts as changed from then on. */
static void test_log_limit(void)
{
    table t;
    tree tr;
    freeze_set fs;
    open_resnet(&t, &tr, &fs);
    tree_node *fc = tree_find(&tr, "fc", 2);
    freeze_mark_saved(&fs);
    int ok = 1;
    for (unsigned k = 0; k < FREEZE_MAX_STEPS + 11; k++) {
        freeze_report r;
        if (freeze_ops_node(&fs, fc, k % 2 == 0, &r) || r.tensors_changed != 2)
            ok = 0;
    }
    CHECK(ok);
    CHECK_EQ_U64(fo_undo_depth(&fs), FREEZE_MAX_STEPS);
    CHECK(freeze_is_frozen(&fs, (size_t)fc->child->tensor)); /* odd count */
    size_t undone = 0;
    while (freeze_undo(&fs, NULL))
        undone++;
    CHECK_EQ_U64(undone, FREEZE_MAX_STEPS);
    /* 11 toggles stay applied: frozen, and the save point is gone */
    CHECK(tree_node_state(fc) == TREE_FROZEN);
    CHECK(freeze_changed_since_save(&fs));
    CHECK(totals_match(&t, &tr, &fs));
    freeze_free(&fs);
    tree_free(&tr);
    table_free(&t);
}

int main(void)
{
    test_resnet_subtree();
    test_property();
    test_log_limit();
    test_big();
    return check_report();
}
