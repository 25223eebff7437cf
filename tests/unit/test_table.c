/* test_table.c: the tensor table. */
#include <string.h>

#include "check.h"

#include "../../tui/core/err.h"
#include "../../tui/core/table.h"

static void test_add_and_find(void)
{
    table t;
    table_init(&t);
    uint64_t shape[] = {64, 3, 7, 7};
    long i = table_add(&t, "conv1.weight", 12, DT_F32, 4, shape);
    CHECK(i == 0);
    CHECK_EQ_U64(table_at(&t, 0)->numel, 9408);
    CHECK_EQ_U64(table_at(&t, 0)->nbytes, 37632);
    CHECK_STR(table_name(&t, 0), "conv1.weight");
    CHECK(table_find(&t, "conv1.weight", 12) == 0);
    CHECK(table_find(&t, "conv1.bias", 10) == -1);
    /* duplicate refused, table unchanged */
    CHECK(table_add(&t, "conv1.weight", 12, DT_F16, 1, shape) == -1);
    CHECK(strstr(err_msg(), "duplicate") != NULL);
    CHECK(t.count == 1);
    /* scalar */
    CHECK(table_add(&t, "bn.num_batches_tracked", 22, DT_I64, 0, NULL) == 1);
    CHECK_EQ_U64(table_at(&t, 1)->numel, 1);
    CHECK_EQ_U64(table_at(&t, 1)->nbytes, 8);
    table_free(&t);
}

static void test_overflow(void)
{
    table t;
    table_init(&t);
    uint64_t big[] = {1ull << 32, 1ull << 32, 16};
    CHECK(table_add(&t, "x", 1, DT_F32, 3, big) == -1);
    CHECK(strstr(err_msg(), "overflow") != NULL);
    uint64_t f4[] = {3};
    CHECK(table_add(&t, "y", 1, DT_F4, 1, f4) == -1);
    uint64_t f4ok[] = {4};
    CHECK(table_add(&t, "y", 1, DT_F4, 1, f4ok) == 0);
    CHECK_EQ_U64(table_at(&t, 0)->nbytes, 2);
    CHECK(table_add(&t, "", 0, DT_F32, 0, NULL) == -1);
    CHECK(table_add(&t, "a\0b", 3, DT_F32, 0, NULL) == -1);
    table_free(&t);
}

static void test_many(void)
{
    table t;
    table_init(&t);
    char name[64];
    uint64_t shape[] = {7, 5};
    int ok = 1;
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(name, sizeof name, "model.layers.%d.w", i);
        if (table_add(&t, name, (size_t)n, DT_BF16, 2, shape) != i)
            ok = 0;
    }
    CHECK(ok);
    CHECK(table_find(&t, "model.layers.77777.w", 20) == 77777);
    CHECK_STR(table_name(&t, 99999), "model.layers.99999.w");
    uint64_t strides[] = {1, 7};
    CHECK(table_set_strides(&t, 5, strides) == 0);
    CHECK(table_strides(&t, 5)[1] == 7);
    CHECK(table_shape(&t, 5)[0] == 7 && table_shape(&t, 5)[1] == 5);
    CHECK(table_strides(&t, 6) == NULL);
    table_totals tot;
    table_get_totals(&t, &tot);
    CHECK_EQ_U64(tot.parameter_numel, 3500000);
    CHECK_EQ_U64(tot.bytes, 7000000);
    table_free(&t);
}

/* TABLE_MAX_TENSORS at its edge (docs/limits.md): the last tensor under
 * the limit is added, one more is refused by name, and the table is left
 * as it was. No file can reach this edge (4,000,000 tensors need more
 * header than a safetensors file may hold), so it is tested here. */
static void test_max_tensors(void)
{
    table t;
    table_init(&t);
    char name[32];
    int ok = 1;
    for (unsigned i = 0; i < TABLE_MAX_TENSORS && ok; i++) {
        int n = snprintf(name, sizeof name, "t%u", i);
        if (table_add(&t, name, (size_t)n, DT_U8, 0, NULL) != (long)i)
            ok = 0;
    }
    CHECK(ok);
    CHECK_EQ_U64(t.count, TABLE_MAX_TENSORS);
    err_clear();
    CHECK(table_add(&t, "one.more", 8, DT_U8, 0, NULL) == -1);
    CHECK(strstr(err_msg(), "more than 4000000 tensors") != NULL);
    CHECK_EQ_U64(t.count, TABLE_MAX_TENSORS);
    CHECK(table_find(&t, "one.more", 8) == -1);
    table_free(&t);
}

static tensor_kind kind_of(const char *name, dtype dt, unsigned ndim,
                           const uint64_t *shape)
{
    return table_guess_kind(name, strlen(name), dt, ndim, shape);
}

static void test_kind_rule(void)
{
    uint64_t mask[] = {1, 1, 1024, 1024}, vec[] = {768}, sq[] = {4, 4};
    uint64_t odd[] = {1, 1, 1024, 512}, one[] = {1, 1, 1, 1};
    CHECK(kind_of("bn1.running_mean", DT_F32, 1, vec) == TK_BUFFER);
    CHECK(kind_of("bn1.num_batches_tracked", DT_I64, 0, NULL) == TK_BUFFER);
    CHECK(kind_of("bn1.weight", DT_F32, 1, vec) == TK_PARAMETER);
    CHECK(kind_of("x.running_mean_not", DT_F32, 1, vec) == TK_PARAMETER);
    CHECK(kind_of("idx", DT_I32, 0, NULL) == TK_BUFFER);
    /* GPT-2's causal mask, float as in the original pytorch_model.bin */
    CHECK(kind_of("h.0.attn.bias", DT_F32, 4, mask) == TK_BUFFER);
    CHECK(kind_of("transformer.h.11.attn.bias", DT_F16, 4, mask) ==
          TK_BUFFER);
    CHECK(kind_of("h.0.attn.masked_bias", DT_F32, 0, NULL) == TK_BUFFER);
    CHECK(kind_of("transformer.h.0.attn.attention.bias", DT_BOOL, 4, mask) ==
          TK_BUFFER);
    /* a learned bias is not a mask, whatever its name */
    CHECK(kind_of("h.0.attn.c_attn.bias", DT_F32, 1, vec) == TK_PARAMETER);
    CHECK(kind_of("h.0.attn.bias", DT_F32, 1, vec) == TK_PARAMETER);
    CHECK(kind_of("h.0.attn.bias", DT_F32, 4, odd) == TK_PARAMETER);
    CHECK(kind_of("h.0.attn.bias", DT_F32, 4, one) == TK_PARAMETER);
    CHECK(kind_of("h.0.attn.bias", DT_F32, 2, sq) == TK_PARAMETER);
    CHECK(kind_of("h.0.attn.bias", DT_F32, 4, NULL) == TK_PARAMETER);
    CHECK(kind_of("x.attn_bias", DT_F32, 4, mask) == TK_PARAMETER);
    /* rotary, Swin, sinusoidal positions */
    CHECK(kind_of("model.layers.0.self_attn.rotary_emb.inv_freq", DT_F32, 1,
                  vec) == TK_BUFFER);
    CHECK(kind_of("gpt_neox.layers.0.attention.rotary_emb.cos_cached",
                  DT_F32, 4, mask) == TK_BUFFER);
    CHECK(kind_of("layers.0.blocks.0.attn.relative_position_index", DT_F32,
                  1, vec) == TK_BUFFER);
    CHECK(kind_of("layers.0.blocks.0.attn.relative_position_bias_table",
                  DT_F32, 2, sq) == TK_PARAMETER);
    CHECK(kind_of("model.encoder.embed_positions.weights", DT_F32, 2, sq) ==
          TK_BUFFER);
    CHECK(kind_of("model.encoder.embed_positions.weight", DT_F32, 2, sq) ==
          TK_PARAMETER);
    CHECK(kind_of("xembed_positions.weights", DT_F32, 2, sq) ==
          TK_PARAMETER);
    CHECK(kind_of("inv_freq", DT_F32, 1, vec) == TK_BUFFER);
}

int main(void)
{
    test_add_and_find();
    test_overflow();
    test_many();
    test_max_tensors();
    test_kind_rule();
    return check_report();
}
