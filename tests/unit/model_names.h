/* model_names.h: the tensor lists of real models, for the unit tests.
 *
 * Header-only (static functions), included by the tests that need whole
 * name lists: test_tree, test_freeze, test_memory, test_pattern and
 * test_preset. Every list has the real names, shapes, dtypes and
 * parameter/buffer kinds of its model (shared/reference/formats.md
 * section 4; torchvision 0.14 for ResNet-18), in the module order of the
 * model's state_dict (the order tests/fixtures/gen_synthetic.py writes
 * into expected.json) unless an order option says otherwise.
 *
 * Every generator appends to a table the caller has initialised
 * (table_init) and frees (table_free). Each returns 0, or -1 when a
 * table_add failed (err set, the message also printed to stderr); the
 * tensors added before and after the failing one stay in the table.
 * Nothing here allocates outside the table.
 */
#ifndef TUI_TESTS_MODEL_NAMES_H
#define TUI_TESTS_MODEL_NAMES_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../tui/core/dtype.h"
#include "../../tui/core/err.h"
#include "../../tui/core/table.h"

/* A shape of up to 4 dims; MN_0D ... MN_4D build one in place. */
typedef struct {
    unsigned ndim;
    uint64_t dim[4];
} mn_shape;

#define MN_0D ((mn_shape){0, {0, 0, 0, 0}})
#define MN_1D(a) ((mn_shape){1, {(a), 0, 0, 0}})
#define MN_2D(a, b) ((mn_shape){2, {(a), (b), 0, 0}})
#define MN_4D(a, b, c, d) ((mn_shape){4, {(a), (b), (c), (d)}})

#define MN_NAME_MAX 256 /* bytes of a generated name, with the NUL */

/* Formats a name into out (cap bytes). Returns 0, or -1 (and prints)
 * when it does not fit. */
static inline int mn_vformat(char *out, size_t cap, const char *fmt,
                             va_list ap)
{
    int n = vsnprintf(out, cap, fmt, ap);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "model_names: name from '%s' too long\n", fmt);
        return -1;
    }
    return 0;
}

/* Formats a module prefix into out (MN_NAME_MAX bytes) and returns out.
 * A prefix that does not fit comes back empty, after a line on stderr;
 * the names built on it then start with '.', which the generators'
 * totals and the tests' counts expose. Cannot fail otherwise. */
static inline const char *mn_name(char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline const char *mn_name(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (mn_vformat(out, MN_NAME_MAX, fmt, ap))
        out[0] = '\0';
    va_end(ap);
    return out;
}

/* Adds one tensor named by the printf format fmt, with dtype dt, shape s
 * and kind k. Returns its index, or -1 when the name does not fit
 * MN_NAME_MAX bytes or table_add fails (err set; either way a line on
 * stderr). t is unchanged on failure. */
static inline long mn_add(table *t, tensor_kind k, dtype dt, mn_shape s,
                          const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static inline long mn_add(table *t, tensor_kind k, dtype dt, mn_shape s,
                          const char *fmt, ...)
{
    char name[MN_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    int bad = mn_vformat(name, sizeof name, fmt, ap);
    va_end(ap);
    if (bad)
        return -1;
    long i = table_add(t, name, strlen(name), dt, s.ndim, s.dim);
    if (i < 0)
        fprintf(stderr, "table_add %s: %s\n", name, err_msg());
    else
        table_at(t, (size_t)i)->kind = (uint8_t)k;
    return i;
}

/* The module helpers below add the tensors of one module under prefix p
 * (a full name such as "layer1.0.bn1"; mn_name formats one) and return 0,
 * or -1 when any of them failed (see mn_add). */

/* BatchNorm2d of ch channels: weight, bias (F32 parameters [ch]),
 * running_mean, running_var (F32 buffers [ch]), num_batches_tracked (an
 * I64 scalar buffer). */
static inline int mn_add_bn(table *t, uint64_t ch, const char *p)
{
    int bad = 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_1D(ch), "%s.weight", p) < 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_1D(ch), "%s.bias", p) < 0;
    bad |= mn_add(t, TK_BUFFER, DT_F32, MN_1D(ch), "%s.running_mean", p) < 0;
    bad |= mn_add(t, TK_BUFFER, DT_F32, MN_1D(ch), "%s.running_var", p) < 0;
    bad |= mn_add(t, TK_BUFFER, DT_I64, MN_0D, "%s.num_batches_tracked",
                  p) < 0;
    return bad ? -1 : 0;
}

/* Linear with bias, F32 parameters: weight [out,in], bias [out]. */
static inline int mn_add_linear(table *t, uint64_t out, uint64_t in,
                                const char *p)
{
    int bad = 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_2D(out, in), "%s.weight",
                  p) < 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_1D(out), "%s.bias", p) < 0;
    return bad ? -1 : 0;
}

/* LayerNorm of n features, F32 parameters [n]: gamma and beta when
 * gamma_beta (the original Google names), else weight and bias. */
static inline int mn_add_ln(table *t, uint64_t n, int gamma_beta,
                            const char *p)
{
    int bad = 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_1D(n), "%s.%s", p,
                  gamma_beta ? "gamma" : "weight") < 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_1D(n), "%s.%s", p,
                  gamma_beta ? "beta" : "bias") < 0;
    return bad ? -1 : 0;
}

/* An FP8 projection: F8_E4M3 weight [out,in] and its 128x128 block
 * scale, F32 weight_scale_inv [ceil(out/128), ceil(in/128)], both
 * parameters. */
static inline int mn_add_fp8(table *t, uint64_t out, uint64_t in,
                             const char *p)
{
    int bad = 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F8_E4M3, MN_2D(out, in), "%s.weight",
                  p) < 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F32,
                  MN_2D((out + 127) / 128, (in + 127) / 128),
                  "%s.weight_scale_inv", p) < 0;
    return bad ? -1 : 0;
}

/* torchvision.models.resnet18().state_dict(), in its order: 122 tensors,
 * 62 F32 parameters (11,689,512 elements) and 60 buffers (40 F32 of
 * BatchNorm statistics, 20 I64 scalars; 38,560 bytes). Returns 0 or -1
 * (see the top of this file). */
static inline int mn_gen_resnet18(table *t)
{
    char n[MN_NAME_MAX];
    int bad = mn_add(t, TK_PARAMETER, DT_F32, MN_4D(64, 3, 7, 7),
                     "conv1.weight") < 0;
    bad |= mn_add_bn(t, 64, "bn1");
    uint64_t in = 64;
    for (int L = 1; L <= 4; L++) {
        uint64_t ch = 64u << (L - 1);
        for (int b = 0; b < 2; b++) {
            uint64_t cin = b == 0 ? in : ch;
            bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_4D(ch, cin, 3, 3),
                          "layer%d.%d.conv1.weight", L, b) < 0;
            bad |= mn_add_bn(t, ch, mn_name(n, "layer%d.%d.bn1", L, b));
            bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_4D(ch, ch, 3, 3),
                          "layer%d.%d.conv2.weight", L, b) < 0;
            bad |= mn_add_bn(t, ch, mn_name(n, "layer%d.%d.bn2", L, b));
            if (b == 0 && L > 1) {
                bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_4D(ch, in, 1, 1),
                              "layer%d.0.downsample.0.weight", L) < 0;
                bad |= mn_add_bn(t, ch,
                                 mn_name(n, "layer%d.0.downsample.1", L));
            }
        }
        in = ch;
    }
    bad |= mn_add_linear(t, 1000, 512, "fc");
    return bad ? -1 : 0;
}

typedef enum {
    MN_BERT_HEAD_NONE,        /* a bare BertModel: nothing after the pooler */
    MN_BERT_HEAD_PRETRAINING, /* BertForPreTraining: cls.predictions (its
                                 decoder weight tied away, as in the file)
                                 and cls.seq_relationship */
    MN_BERT_HEAD_CLASSIFIER,  /* BertForSequenceClassification, 2 labels */
} mn_bert_head;

typedef struct {
    int layers;       /* encoder layers: 12 (base), 24 (large) */
    int hidden;       /* 768 (base), 1024 (large); intermediate = 4x */
    int prefixed;     /* 1: embeddings, encoder and pooler under "bert."
                         (every BertFor* model); 0: a bare BertModel */
    int gamma_beta;   /* 1: LayerNorm.gamma/.beta (the original Google
                         conversion, bert-base-uncased's model.safetensors);
                         0: LayerNorm.weight/.bias (transformers today) */
    int position_ids; /* 1: the embeddings.position_ids buffer, I64 [1,512]
                         (saved by transformers before 4.31) */
    mn_bert_head head;
} mn_bert_opts;

/* A BERT of o's variant, all F32 parameters (vocabulary 30,522, 512
 * positions, 2 token types) except position_ids: [position_ids,] 5
 * embedding tensors, 16 per layer, 2 of the pooler, then the head (7
 * pretraining, 2 classifier). bert-base-uncased's model.safetensors is
 * {12, 768, 1, 1, 0, MN_BERT_HEAD_PRETRAINING}: 206 tensors, 110,106,428
 * elements. Returns 0 or -1 (see the top of this file; also -1 without
 * adding anything when layers or hidden is not positive). */
static inline int mn_gen_bert(table *t, const mn_bert_opts *o)
{
    static const char *const attn[] = {"query", "key", "value"};
    const char *pre = o->prefixed ? "bert." : "";
    const int gb = o->gamma_beta;
    if (o->layers <= 0 || o->hidden <= 0) {
        fprintf(stderr, "mn_gen_bert: bad options\n");
        return -1;
    }
    uint64_t h = (uint64_t)o->hidden, inter = 4 * h, vocab = 30522;
    char n[MN_NAME_MAX];
    int bad = 0;
    /* the embeddings' own buffer comes before their submodules */
    if (o->position_ids)
        bad |= mn_add(t, TK_BUFFER, DT_I64, MN_2D(1, 512),
                      "%sembeddings.position_ids", pre) < 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_2D(vocab, h),
                  "%sembeddings.word_embeddings.weight", pre) < 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_2D(512, h),
                  "%sembeddings.position_embeddings.weight", pre) < 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_2D(2, h),
                  "%sembeddings.token_type_embeddings.weight", pre) < 0;
    bad |= mn_add_ln(t, h, gb, mn_name(n, "%sembeddings.LayerNorm", pre));
    for (int L = 0; L < o->layers; L++) {
        char p[64];
        snprintf(p, sizeof p, "%sencoder.layer.%d", pre, L);
        for (int a = 0; a < 3; a++)
            bad |= mn_add_linear(t, h, h, mn_name(n, "%s.attention.self.%s",
                                                  p, attn[a]));
        bad |= mn_add_linear(t, h, h,
                             mn_name(n, "%s.attention.output.dense", p));
        bad |= mn_add_ln(t, h, gb,
                         mn_name(n, "%s.attention.output.LayerNorm", p));
        bad |= mn_add_linear(t, inter, h,
                             mn_name(n, "%s.intermediate.dense", p));
        bad |= mn_add_linear(t, h, inter, mn_name(n, "%s.output.dense", p));
        bad |= mn_add_ln(t, h, gb, mn_name(n, "%s.output.LayerNorm", p));
    }
    bad |= mn_add_linear(t, h, h, mn_name(n, "%spooler.dense", pre));
    if (o->head == MN_BERT_HEAD_PRETRAINING) {
        bad |= mn_add(t, TK_PARAMETER, DT_F32, MN_1D(vocab),
                      "cls.predictions.bias") < 0;
        bad |= mn_add_linear(t, h, h, "cls.predictions.transform.dense");
        bad |= mn_add_ln(t, h, gb, "cls.predictions.transform.LayerNorm");
        bad |= mn_add_linear(t, 2, h, "cls.seq_relationship");
    } else if (o->head == MN_BERT_HEAD_CLASSIFIER) {
        bad |= mn_add_linear(t, 2, h, "classifier");
    }
    return bad ? -1 : 0;
}

/* Llama-2-7b-hf with `layers` decoder layers (the real model has 32):
 * F16 parameters, hidden 4096, intermediate 11008, vocabulary 32000;
 * per layer q/k/v/o_proj, [inv_freq], gate/up/down_proj and the two
 * norms; then model.norm and lm_head. With inv_freq, each layer also
 * holds self_attn.rotary_emb.inv_freq, an F32 [64] buffer (the revision
 * formats.md describes): 10 * layers + 3 tensors, else 9 * layers + 3,
 * all parameters. 32 layers with inv_freq: 323 tensors, 13,476,839,424
 * bytes. Returns 0 or -1 (see the top of this file). */
static inline int mn_gen_llama2(table *t, int layers, int inv_freq)
{
    static const char *const ao[] = {"q_proj", "k_proj", "v_proj", "o_proj"};
    const uint64_t H = 4096, FF = 11008, V = 32000;
    int bad = mn_add(t, TK_PARAMETER, DT_F16, MN_2D(V, H),
                     "model.embed_tokens.weight") < 0;
    for (int L = 0; L < layers; L++) {
        for (int a = 0; a < 4; a++)
            bad |= mn_add(t, TK_PARAMETER, DT_F16, MN_2D(H, H),
                          "model.layers.%d.self_attn.%s.weight", L, ao[a]) < 0;
        if (inv_freq)
            bad |= mn_add(t, TK_BUFFER, DT_F32, MN_1D(64),
                          "model.layers.%d.self_attn.rotary_emb.inv_freq",
                          L) < 0;
        bad |= mn_add(t, TK_PARAMETER, DT_F16, MN_2D(FF, H),
                      "model.layers.%d.mlp.gate_proj.weight", L) < 0;
        bad |= mn_add(t, TK_PARAMETER, DT_F16, MN_2D(FF, H),
                      "model.layers.%d.mlp.up_proj.weight", L) < 0;
        bad |= mn_add(t, TK_PARAMETER, DT_F16, MN_2D(H, FF),
                      "model.layers.%d.mlp.down_proj.weight", L) < 0;
        bad |= mn_add(t, TK_PARAMETER, DT_F16, MN_1D(H),
                      "model.layers.%d.input_layernorm.weight", L) < 0;
        bad |= mn_add(t, TK_PARAMETER, DT_F16, MN_1D(H),
                      "model.layers.%d.post_attention_layernorm.weight",
                      L) < 0;
    }
    bad |= mn_add(t, TK_PARAMETER, DT_F16, MN_1D(H), "model.norm.weight") < 0;
    bad |= mn_add(t, TK_PARAMETER, DT_F16, MN_2D(V, H), "lm_head.weight") < 0;
    return bad ? -1 : 0;
}

/* Insertion orders for mn_gen_deepseek_v3 (bits; 0: model order). */
enum {
    /* layers in the text order of their numbers (0 1 10 11 ... 19 2 20
     * ...), as a writer that sorts names lays them out */
    MN_DS_LAYERS_AS_TEXT = 1u << 0,
    /* the routed experts of a layer from 255 down to 0 */
    MN_DS_EXPERTS_DESCENDING = 1u << 1,
};

/* DeepSeek-V3 (FP8), formats.md section 4: 91,991 tensors, 688,574,839,360
 * bytes; F32 45,867, F8_E4M3 45,808, BF16 316. 61 layers plus the MTP
 * layer 61; layers 0-2 dense, 3-61 with 256 routed experts and one shared
 * expert. Every tensor is a parameter except the 59
 * mlp.gate.e_score_correction_bias (F32 [256]), added as buffers.
 * order: MN_DS_* bits. Returns 0 or -1 (see the top of this file). */
static inline int mn_gen_deepseek_v3(table *t, unsigned order)
{
    static const char *const pr[] = {"gate_proj", "up_proj", "down_proj"};
    const uint64_t H = 7168, V = 129280;
    int layers[62];
    for (int i = 0; i < 62; i++)
        layers[i] = i;
    if (order & MN_DS_LAYERS_AS_TEXT) /* insertion sort by decimal text */
        for (int i = 1; i < 62; i++)
            for (int j = i; j > 0; j--) {
                char x[8], y[8];
                snprintf(x, sizeof x, "%d", layers[j - 1]);
                snprintf(y, sizeof y, "%d", layers[j]);
                if (strcmp(x, y) <= 0)
                    break;
                int s = layers[j];
                layers[j] = layers[j - 1];
                layers[j - 1] = s;
            }
    int bad = mn_add(t, TK_PARAMETER, DT_BF16, MN_2D(V, H),
                     "model.embed_tokens.weight") < 0;
    for (int li = 0; li < 62; li++) {
        int L = layers[li];
        char p[40], a[56], n[MN_NAME_MAX];
        snprintf(p, sizeof p, "model.layers.%d", L);
        if (L == 61) { /* the MTP layer's extra modules */
            bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_2D(V, H),
                          "%s.embed_tokens.weight", p) < 0;
            bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_1D(H),
                          "%s.enorm.weight", p) < 0;
            bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_1D(H),
                          "%s.hnorm.weight", p) < 0;
            bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_2D(H, 2 * H),
                          "%s.eh_proj.weight", p) < 0;
        }
        bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_1D(H),
                      "%s.input_layernorm.weight", p) < 0;
        snprintf(a, sizeof a, "%s.self_attn", p);
        bad |= mn_add_fp8(t, 1536, H, mn_name(n, "%s.q_a_proj", a));
        bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_1D(1536),
                      "%s.q_a_layernorm.weight", a) < 0;
        bad |= mn_add_fp8(t, 24576, 1536, mn_name(n, "%s.q_b_proj", a));
        bad |= mn_add_fp8(t, 576, H, mn_name(n, "%s.kv_a_proj_with_mqa", a));
        bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_1D(512),
                      "%s.kv_a_layernorm.weight", a) < 0;
        bad |= mn_add_fp8(t, 32768, 512, mn_name(n, "%s.kv_b_proj", a));
        bad |= mn_add_fp8(t, H, 16384, mn_name(n, "%s.o_proj", a));
        if (L < 3) {
            bad |= mn_add_fp8(t, 18432, H, mn_name(n, "%s.mlp.gate_proj", p));
            bad |= mn_add_fp8(t, 18432, H, mn_name(n, "%s.mlp.up_proj", p));
            bad |= mn_add_fp8(t, H, 18432, mn_name(n, "%s.mlp.down_proj", p));
        } else {
            bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_2D(256, H),
                          "%s.mlp.gate.weight", p) < 0;
            bad |= mn_add(t, TK_BUFFER, DT_F32, MN_1D(256),
                          "%s.mlp.gate.e_score_correction_bias", p) < 0;
            for (int k = 0; k < 256; k++) {
                int e = order & MN_DS_EXPERTS_DESCENDING ? 255 - k : k;
                for (int q = 0; q < 3; q++)
                    bad |= mn_add_fp8(t, q < 2 ? 2048 : H, q < 2 ? H : 2048,
                                      mn_name(n, "%s.mlp.experts.%d.%s", p,
                                              e, pr[q]));
            }
            for (int q = 0; q < 3; q++)
                bad |= mn_add_fp8(t, q < 2 ? 2048 : H, q < 2 ? H : 2048,
                                  mn_name(n, "%s.mlp.shared_experts.%s", p,
                                          pr[q]));
        }
        bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_1D(H),
                      "%s.post_attention_layernorm.weight", p) < 0;
        if (L == 61) {
            bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_1D(H),
                          "%s.shared_head.norm.weight", p) < 0;
            bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_2D(V, H),
                          "%s.shared_head.head.weight", p) < 0;
        }
    }
    bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_1D(H), "model.norm.weight") < 0;
    bad |= mn_add(t, TK_PARAMETER, DT_BF16, MN_2D(V, H), "lm_head.weight") < 0;
    return bad ? -1 : 0;
}

#endif
