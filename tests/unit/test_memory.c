/* test_memory.c: the memory estimate on resnet18's exact tensor list.
 *
 * Every expected value is computed here from DESIGN.md's table and the
 * documented bookkeeping (docs/memory.md) with plain arithmetic over the
 * list, not through memory.c; a few totals are also pinned to numbers
 * measured with torch 1.13 / torchvision 0.14 (see the comments). */
#include "check.h"

#include <stdlib.h>

#include "../../tui/core/err.h"
#include "../../tui/core/memory.h"
#include "../../tui/core/table.h"
#include "model_names.h"

/* torchvision.models.resnet18().state_dict(), in order (model_names.h).
 * The hand sums below read names, kinds, dtypes and shapes back from the
 * table and compute everything else themselves. */
static void build_r18(table *t)
{
    table_init(t);
    CHECK(mn_gen_resnet18(t) == 0);
}

/* Elements of tensor i, multiplied out here from its shape. */
static uint64_t hand_numel(const table *t, size_t i)
{
    uint64_t n = 1;
    for (unsigned d = 0; d < table_at(t, i)->ndim; d++)
        n *= table_shape(t, i)[d];
    return n;
}

/* The partial plan: conv1, bn1, layer1 and layer2 frozen (the seed's
 * resnet18 recipe, extended). */
static int r18_frozen(const char *name)
{
    return strncmp(name, "conv1.", 6) == 0 || strncmp(name, "bn1.", 4) == 0 ||
           strncmp(name, "layer1.", 7) == 0 || strncmp(name, "layer2.", 7) == 0;
}

/* Hand sums over the trainable tensors of the list. */
typedef struct {
    uint64_t numel, tensors;
    uint64_t adafactor;  /* bytes of Adafactor state */
    uint64_t adam8;      /* bytes of 8-bit Adam state */
    uint64_t absmax;     /* the absmax part of it */
} hand_sums;

static hand_sums hand(const table *t, int with_plan)
{
    hand_sums h = {0, 0, 0, 0, 0};
    for (size_t i = 0; i < t->count; i++) {
        if (table_at(t, i)->kind != TK_PARAMETER ||
            (with_plan && r18_frozen(table_name(t, i))))
            continue;
        const uint64_t *s = table_shape(t, i);
        unsigned ndim = table_at(t, i)->ndim;
        uint64_t n = hand_numel(t, i);
        h.numel += n;
        h.tensors++;
        /* resnet18 has only 1-dim (bn, fc bias), 2-dim (fc) and 4-dim
         * (conv) parameters */
        if (ndim == 4)
            h.adafactor += 4 * (s[0] * s[1] * s[2] + s[0] * s[1] * s[3]);
        else if (ndim == 2)
            h.adafactor += 4 * (s[0] + s[1]);
        else
            h.adafactor += 4 * n;
        if (n >= 4096) {
            uint64_t blocks = (n + 255) / 256;
            h.adam8 += 2 * n + 2 * 4 * blocks;
            h.absmax += 2 * 4 * blocks;
        } else {
            h.adam8 += 4 * n + 4 * n;
        }
    }
    return h;
}

/* Expected parts from DESIGN.md's table. */
static mem_parts expect(mem_optimizer o, mem_precision p, hand_sums h,
                        uint64_t P, uint64_t buffers)
{
    mem_parts e;
    memset(&e, 0, sizeof e);
    int wide = p == MEM_FP32 || p == MEM_AMP;
    int pure = p == MEM_PURE_BF16;
    e.weights = wide ? 4 * P : 2 * P;
    e.master = p == MEM_BF16 ? 4 * h.numel : 0;
    e.gradients = wide ? 4 * h.numel : 2 * h.numel;
    switch (o) {
    case MEM_SGD: e.optimizer = 0; break;
    case MEM_MOMENTUM: e.optimizer = (pure ? 2 : 4) * h.numel; break;
    case MEM_ADAM:
    case MEM_ADAMW:
        e.optimizer = (pure ? 4 : 8) * h.numel + 4 * h.tensors;
        e.bookkeeping = 4 * h.tensors;
        break;
    case MEM_ADAFACTOR: e.optimizer = h.adafactor; break;
    case MEM_ADAM8BIT:
        e.optimizer = h.adam8;
        e.bookkeeping = h.absmax;
        break;
    default: break;
    }
    e.buffers = buffers;
    e.total = e.weights + e.master + e.gradients + e.optimizer + e.buffers;
    e.trainable_numel = h.numel;
    e.trainable_tensors = h.tensors;
    return e;
}

static int parts_equal(const mem_parts *a, const mem_parts *b)
{
    return a->weights == b->weights && a->master == b->master &&
           a->gradients == b->gradients && a->optimizer == b->optimizer &&
           a->bookkeeping == b->bookkeeping && a->buffers == b->buffers &&
           a->total == b->total && a->trainable_numel == b->trainable_numel &&
           a->trainable_tensors == b->trainable_tensors;
}

static void print_parts(const char *what, const mem_parts *p)
{
    fprintf(stderr, "  %s: w %llu m %llu g %llu o %llu bk %llu b %llu t %llu "
            "T %llu nT %llu\n", what, (unsigned long long)p->weights,
            (unsigned long long)p->master, (unsigned long long)p->gradients,
            (unsigned long long)p->optimizer,
            (unsigned long long)p->bookkeeping, (unsigned long long)p->buffers,
            (unsigned long long)p->total,
            (unsigned long long)p->trainable_numel,
            (unsigned long long)p->trainable_tensors);
}

static void test_resnet18_grid(void)
{
    table t;
    bitset frozen;
    build_r18(&t);
    CHECK(bitset_init(&frozen, t.count) == 0);
    for (size_t i = 0; i < t.count; i++)
        if (r18_frozen(table_name(&t, i)))
            bitset_set(&frozen, i);

    /* the counts themselves, measured with torchvision 0.14 */
    uint64_t P = 0, buffers = 0, nparam = 0, nbuf = 0;
    for (size_t i = 0; i < t.count; i++) {
        uint64_t n = hand_numel(&t, i);
        if (table_at(&t, i)->kind == TK_PARAMETER) {
            P += n;
            nparam++;
        } else {
            buffers += n * (table_at(&t, i)->dtype == DT_I64 ? 8 : 4);
            nbuf++;
        }
    }
    CHECK_EQ_U64(nparam, 62);
    CHECK_EQ_U64(nbuf, 60);
    CHECK_EQ_U64(P, 11689512);
    CHECK_EQ_U64(buffers, 38560);
    hand_sums all = hand(&t, 0), plan = hand(&t, 1);
    CHECK_EQ_U64(plan.numel, 11006440);  /* torch: sum over requires_grad */
    CHECK_EQ_U64(plan.tensors, 32);

    for (int o = 0; o < MEM_OPT_COUNT; o++) {
        for (int p = 0; p < MEM_PREC_COUNT; p++) {
            mem_estimate e;
            int rc = memory_estimate(&t, &frozen, (mem_optimizer)o,
                                     (mem_precision)p, &e);
            CHECK(rc == 0);
            if (rc)
                continue;
            mem_parts wb = expect((mem_optimizer)o, (mem_precision)p, all,
                                  P, buffers);
            mem_parts wa = expect((mem_optimizer)o, (mem_precision)p, plan,
                                  P, buffers);
            int okb = parts_equal(&e.before, &wb);
            int oka = parts_equal(&e.after, &wa);
            CHECK(okb);
            CHECK(oka);
            if (!okb || !oka) {
                fprintf(stderr, "%s/%s\n", memory_optimizer_name(e.optimizer),
                        memory_precision_name(e.precision));
                print_parts("got before", &e.before);
                print_parts("want before", &wb);
                print_parts("got after", &e.after);
                print_parts("want after", &wa);
            }
            CHECK_EQ_U64(e.param_numel, P);
            CHECK_EQ_U64(e.param_tensors, 62);
        }
    }

    /* Pinned numbers. AdamW fp32: torch 1.13 allocates 93,516,344 bytes
     * of state for all of resnet18 and 88,051,648 for the plan (measured:
     * sum of every tensor in optimizer.state after one step). SGD with
     * momentum: 46,758,048 and 44,025,760. */
    mem_estimate e;
    CHECK(memory_estimate(&t, &frozen, MEM_ADAMW, MEM_FP32, &e) == 0);
    CHECK_EQ_U64(e.before.optimizer, 93516344);
    CHECK_EQ_U64(e.after.optimizer, 88051648);
    CHECK_EQ_U64(e.before.total, 4ull * 11689512 * 2 + 93516344 + 38560);
    CHECK(memory_estimate(&t, &frozen, MEM_MOMENTUM, MEM_AMP, &e) == 0);
    CHECK_EQ_U64(e.before.optimizer, 46758048);
    CHECK_EQ_U64(e.after.optimizer, 44025760);
    /* bf16 + fp32 master with Adam, all trainable: the well-known 16
     * bytes per parameter, plus the step tensors and the buffers */
    CHECK(memory_estimate(&t, &frozen, MEM_ADAM, MEM_BF16, &e) == 0);
    CHECK_EQ_U64(e.before.total, 16ull * 11689512 + 4 * 62 + 38560);
    /* Adafactor and 8-bit Adam state, computed in Python from the shapes
     * (transformers' factoring; bitsandbytes' 256-element blocks) */
    CHECK(memory_estimate(&t, &frozen, MEM_ADAFACTOR, MEM_PURE_BF16, &e) == 0);
    CHECK_EQ_U64(e.before.optimizer, 30730048);
    CHECK_EQ_U64(e.after.optimizer, 28876608);
    CHECK(memory_estimate(&t, &frozen, MEM_ADAM8BIT, MEM_FP32, &e) == 0);
    CHECK_EQ_U64(e.before.optimizer, 23807592);
    CHECK_EQ_U64(e.after.optimizer, 22408640);

    /* NULL frozen set = everything trainable */
    mem_estimate n;
    CHECK(memory_estimate(&t, NULL, MEM_ADAMW, MEM_FP32, &n) == 0);
    CHECK(parts_equal(&n.after, &n.before));
    CHECK_EQ_U64(n.after.trainable_numel, 11689512);

    /* freezing everything leaves weights and buffers only */
    for (size_t i = 0; i < t.count; i++)
        bitset_set(&frozen, i);
    CHECK(memory_estimate(&t, &frozen, MEM_ADAMW, MEM_BF16, &n) == 0);
    CHECK_EQ_U64(n.after.total, 2ull * 11689512 + 38560);
    CHECK_EQ_U64(n.after.trainable_tensors, 0);

    bitset_free(&frozen);
    table_free(&t);
}

static void test_percent(void)
{
    CHECK(memory_percent_saved(0, 0) == 0.0);
    CHECK(memory_percent_saved(200, 50) == 75.0);
    CHECK(memory_percent_saved(100, 100) == 0.0);
    CHECK(memory_percent_saved(100, 150) == -50.0);
    /* its printed form never rounds to 0.0% or 100.0% unless exact */
    char pc[16];
    CHECK_STR(memory_saved_text(100, 0, pc, sizeof pc), "100.0%");
    CHECK_STR(memory_saved_text(100, 100, pc, sizeof pc), "0.0%");
    CHECK_STR(memory_saved_text(0, 0, pc, sizeof pc), "0.0%");
    CHECK_STR(memory_saved_text(100000, 1, pc, sizeof pc), ">99.9%");
    CHECK_STR(memory_saved_text(100000, 99999, pc, sizeof pc), "<0.1%");
    CHECK_STR(memory_saved_text(200, 50, pc, sizeof pc), "75.0%");
    CHECK_STR(memory_saved_text(100, 150, pc, sizeof pc), "-50.0%");
}

static void test_names(void)
{
    mem_optimizer o = MEM_SGD;
    mem_precision p = MEM_FP32;
    const char *on[] = {"sgd", "momentum", "adam", "adamw", "adafactor",
                        "adam8bit"};
    const char *pn[] = {"fp32", "amp", "bf16", "pure-bf16"};
    for (int i = 0; i < MEM_OPT_COUNT; i++) {
        CHECK(memory_optimizer_parse(on[i], &o) == 0);
        CHECK(o == (mem_optimizer)i);
        CHECK_STR(memory_optimizer_name(o), on[i]);
    }
    for (int i = 0; i < MEM_PREC_COUNT; i++) {
        CHECK(memory_precision_parse(pn[i], &p) == 0);
        CHECK(p == (mem_precision)i);
        CHECK_STR(memory_precision_name(p), pn[i]);
    }
    CHECK(memory_precision_parse("pure_bf16", &p) == 0 && p == MEM_PURE_BF16);
    o = MEM_ADAM;
    CHECK(memory_optimizer_parse("lion", &o) == -1);
    CHECK(o == MEM_ADAM);
    CHECK(strstr(err_msg(), "lion") && strstr(err_msg(), "adafactor"));
    CHECK(memory_precision_parse("fp16", &p) == -1);
    CHECK(strstr(err_msg(), "pure-bf16") != NULL);
    CHECK_STR(memory_optimizer_name((mem_optimizer)99), "?");
    CHECK_STR(memory_precision_name((mem_precision)99), "?");
}

/* Tied weights (same storage) count once; non-float parameters count at
 * stored size and are never trainable; optimizer tensors are ignored;
 * sizes that overflow are refused. */
static void test_edges(void)
{
    table t;
    table_init(&t);
    uint64_t emb[] = {1000, 64}, big[] = {1ull << 60};
    uint64_t q[] = {128};
    CHECK(table_add(&t, "embed.weight", 12, DT_BF16, 2, emb) == 0);
    CHECK(table_add(&t, "lm_head.weight", 14, DT_BF16, 2, emb) == 1);
    CHECK(table_add(&t, "q.weight", 8, DT_I8, 1, q) == 2);
    CHECK(table_add(&t, "state.exp_avg", 13, DT_F32, 2, emb) == 3);
    table_at(&t, 0)->storage = 7;
    table_at(&t, 1)->storage = 7;
    table_at(&t, 3)->kind = TK_OPTIMIZER;
    CHECK(table_link_ties(&t) == 0);
    CHECK(t.aliases == 1 && (table_at(&t, 1)->flags & TF_ALIAS));
    CHECK(table_tie_first(&t, 1) == 0 && table_at(&t, 0)->tie == 1);
    bitset fr;
    CHECK(bitset_init(&fr, t.count) == 0);
    bitset_set(&fr, 0); /* one alias frozen, the other not: trainable */
    mem_estimate e;
    CHECK(memory_estimate(&t, &fr, MEM_SGD, MEM_FP32, &e) == 0);
    CHECK_EQ_U64(e.param_numel, 64000);
    CHECK_EQ_U64(e.param_tensors, 1);
    CHECK_EQ_U64(e.before.weights, 4 * 64000 + 128);
    CHECK_EQ_U64(e.after.trainable_numel, 64000);
    bitset_set(&fr, 1);
    CHECK(memory_estimate(&t, &fr, MEM_SGD, MEM_FP32, &e) == 0);
    CHECK_EQ_U64(e.after.trainable_numel, 0);
    CHECK_EQ_U64(e.after.gradients, 0);
    /* different offsets: two distinct views, both counted */
    table_at(&t, 1)->offset = 128000;
    CHECK(table_link_ties(&t) == 0 && t.aliases == 0);
    CHECK(memory_estimate(&t, NULL, MEM_SGD, MEM_FP32, &e) == 0);
    CHECK_EQ_U64(e.param_numel, 128000);
    /* overflow */
    /* 2^60 fp4 elements are a valid tensor; Adam state for two of them
     * (2 x 8 x 2^60 bytes) is not */
    CHECK(table_add(&t, "huge", 4, DT_F4, 1, big) == 4);
    CHECK(table_add(&t, "huge2", 5, DT_F4, 1, big) == 5);
    CHECK(memory_estimate(&t, NULL, MEM_ADAM, MEM_FP32, &e) == -1);
    CHECK(strstr(err_msg(), "overflow") != NULL);
    CHECK(memory_estimate(&t, NULL, (mem_optimizer)42, MEM_FP32, &e) == -1);
    /* empty table */
    table_free(&t);
    CHECK(memory_estimate(&t, NULL, MEM_ADAMW, MEM_FP32, &e) == 0);
    CHECK_EQ_U64(e.before.total, 0);
    /* adafactor on 3 dims factors the last two: (2,3,5) -> row 6, col 10 */
    uint64_t s3[] = {2, 3, 5};
    CHECK(table_add(&t, "w3", 2, DT_F32, 3, s3) == 0);
    CHECK(memory_estimate(&t, NULL, MEM_ADAFACTOR, MEM_FP32, &e) == 0);
    CHECK_EQ_U64(e.before.optimizer, 4 * (6 + 10));
    /* 8-bit Adam: 4096 elements take the 8-bit path, 4095 do not */
    uint64_t a[] = {4096}, b[] = {4095};
    CHECK(table_add(&t, "a", 1, DT_F32, 1, a) == 1);
    CHECK(table_add(&t, "b", 1, DT_F32, 1, b) == 2);
    bitset_free(&fr);
    CHECK(bitset_init(&fr, t.count) == 0);
    bitset_set(&fr, 0);
    CHECK(memory_estimate(&t, &fr, MEM_ADAM8BIT, MEM_PURE_BF16, &e) == 0);
    CHECK_EQ_U64(e.after.optimizer, 2 * 4096 + 8 * 16 + 8 * 4095);
    CHECK_EQ_U64(e.after.bookkeeping, 8 * 16);
    bitset_free(&fr);
    table_free(&t);
}

static void test_report(void)
{
    table t;
    build_r18(&t);
    mem_estimate e;
    CHECK(memory_estimate(&t, NULL, MEM_ADAMW, MEM_FP32, &e) == 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (f) {
        CHECK(memory_write_report(f, &e) == 0);
        fclose(f);
        CHECK(strstr(buf, "activations are not estimated") != NULL);
        CHECK(strstr(buf, "step tensor") != NULL);
        /* one number format: separators on exact bytes and counts */
        CHECK(strstr(buf, "93,516,344   89.2 MiB") != NULL);
        CHECK(strstr(buf, "trainable: 11,689,512 of 11,689,512 parameters "
                          "in 62 of 62 tensors") != NULL);
        CHECK(strstr(buf, "includes 248 bytes (248 B) of") != NULL);
    }
    free(buf);
    table_free(&t);
}

int main(void)
{
    test_resnet18_grid();
    test_percent();
    test_names();
    test_edges();
    test_report();
    return check_report();
}
