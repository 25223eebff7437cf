/* stages.h: a staged plan resolved on a checkpoint (docs/plan-format.md,
 * "Stages and learning rates"): the frozen set of every stage, the layer
 * ids `layer_decay:` finds and every parameter's lr scale and weight
 * decay. The plan's own frozen set (plan_resolve) is stage 0. No I/O;
 * the editor, --summary and the trainer read the same results.
 *
 * Layer ids follow timm's param_groups_layer_decay (group_with_matcher
 * with a model's group_matcher), found from the names alone:
 *   - the stem, id 0: names with no all-digit segment with a module on
 *     their path (or, at the top level, the tensor itself) that is a stem
 *     or an embedding (conv1, bn1, maxpool, stem, patch_embed, pos_embed,
 *     cls_token, reg_token, embeddings, embed_tokens, word_embeddings,
 *     wte, wpe, tok_embeddings) or holds "embed";
 *   - the blocks, ids 1..B: names with an all-digit segment, one block
 *     per prefix through the first such segment ("layer1.0",
 *     "blocks.3", "bert.encoder.layer.11"), ordered by their container
 *     (the prefix before that segment, trailing digits dropped: "layer1"
 *     and "layer2" are one container) and then by the numbers in the
 *     prefix ("layer2.1" is (2, 1));
 *   - a final norm (no all-digit segment, module named norm, ln_f,
 *     norm_f, final_norm, final_layer_norm, ln_post) joins the last
 *     block, as timm's MATCH_PREV_GROUP;
 *   - the rest (the head) takes the last id, B + 1.
 * Scale of id i: factor^(L - 1 - i), L the number of ids. */
#ifndef TUI_CORE_STAGES_H
#define TUI_CORE_STAGES_H

#include <stddef.h>
#include <stdint.h>

#include "bitset.h"
#include "plan.h"
#include "table.h"

typedef struct {
    size_t n;          /* stages: the plan's, or 1 when it has none */
    bitset *frozen;    /* n sets of t->count bits: each stage's frozen set */
    size_t *thawed;    /* per stage: parameters it makes trainable (tie
                          groups once; 0 for stage 0) */
    size_t *refrozen;  /* per stage: parameters it freezes again */
} stage_sets;

/* Resolves every stage of `p` on `t`, from `stage0` (the plan's resolved
 * frozen set, t->count bits): each later stage applies its `freeze:`
 * patterns, then its `unfreeze:` patterns, to the set before it. Returns
 * 0 with *out filled (free with stage_sets_free), or -1 with err set to
 * "PLAN:LINE:COL: ..." (a rule that matches nothing in the checkpoint, a
 * stage that changes nothing), *out then empty. Inputs untouched. */
int stages_resolve(const table *t, const plan *p, const bitset *stage0,
                   const char *plan_path, stage_sets *out);

/* stages_resolve for a plan being edited: a rule that matches nothing
 * and a stage that changes nothing are allowed (its thawed and refrozen
 * counts are 0). Returns 0 with *out filled, or -1 with err set (a
 * pattern that does not compile, out of memory), *out then empty. */
int stages_resolve_draft(const table *t, const plan *p, const bitset *stage0,
                         stage_sets *out);

/* Frees what s holds. NULL-safe, idempotent. */
void stage_sets_free(stage_sets *s);

/* Every parameter's learning-rate scale and weight decay. */
typedef struct {
    double *scale;     /* t->count values: the lr multiplier (1 without
                          lr rules; 0 for tensors that are not parameters) */
    int *layer;        /* t->count values: the layer id (-1: no
                          layer_decay, or not a parameter) */
    unsigned char *no_decay; /* t->count flags: 1 when a `no_decay:`
                          pattern names it */
    int nlayers;       /* ids found (0 without layer_decay) */
    double factor;     /* layer_decay's factor (NaN without) */
} lr_scales;

/* The scales of `p`'s `layer_decay:` and `lr_scale:` on `t`: a
 * parameter's scale is its layer's factor^(L - 1 - id) (1 without
 * layer_decay) times the scale of the last `lr_scale:` item whose pattern
 * matches it (1 when none does). Returns 0 with *out filled (free with
 * lr_scales_free), or -1 with err set ("PLAN:LINE:COL: lr_scale pattern
 * 'x' matches nothing", out of memory). */
int lr_scales_resolve(const table *t, const plan *p, const char *plan_path,
                      lr_scales *out);

/* Frees what s holds. NULL-safe, idempotent. */
void lr_scales_free(lr_scales *s);

/* The first parameter of layer `id` (table order), or t->count when the
 * layer holds none; for naming a layer to the user ("layer1.0"). */
size_t lr_layer_first(const table *t, const lr_scales *s, int id);

/* How much of a name names its layer: through its first all-digit
 * segment ("layer1.0"), else its module path ("fc"), else all of it
 * ("cls_token"). Cannot fail. */
size_t lr_layer_label_len(const char *name, size_t n);

#endif
