/* ckpt_note.h: what a person should know about the checkpoint as a whole,
 * beside its tensors: that it is one shard of a larger set (and how to
 * open all of it), or a training checkpoint (its epoch and step, and
 * that the optimizer state in it is not part of the model).
 *
 * The --summary view, the --list footer and the editor's header print
 * these notes, so the three say the same thing. docs/formats.md states
 * the rules.
 */
#ifndef TUI_CORE_CKPT_NOTE_H
#define TUI_CORE_CKPT_NOTE_H

#include <stddef.h>

#include "table.h"

/* Whether the file name at `path` (its last segment) is a shard's:
 * "PREFIX-N-of-M.EXT" with 1 <= N <= M and M >= 2 (as save_pretrained
 * writes "model-00001-of-00004.safetensors"). On 1, *no = N, *of = M and
 * `index` (cap bytes) gets the set's index file name, PREFIX.EXT
 * ".index.json" ("model.safetensors.index.json"); returns 0 otherwise.
 * Cannot fail. */
int ckpt_shard_name(const char *path, unsigned *no, unsigned *of,
                    char *index, size_t cap);

/* The note of a single shard opened alone (t->shard_of set): "shard 1 of
 * 4 of a sharded checkpoint: open the folder or
 * model.safetensors.index.json to see all of it", or with `brief` a
 * header-sized "shard 1 of 4 (open the folder for all)". Written into buf
 * (cap bytes, truncated to fit). Returns 1 when written, 0 when `t` is
 * not such a shard (buf holds ""). Cannot fail. */
int ckpt_note_shard(const table *t, int brief, char *buf, size_t cap);

/* The note of a training checkpoint: a torch.save file holding optimizer
 * state or a top-level epoch / step / global_step / iteration entry:
 * "epoch 3, step 1200; optimizer state present (426 tensors, 11.7 MiB,
 * not parameters)" (the caller says "training checkpoint"), or with
 * `brief` "epoch 3, step 1200, optimizer state". Returns 1 when written,
 * 0 when `t` is no training checkpoint (buf holds ""). Cannot fail. */
int ckpt_note_training(const table *t, int brief, char *buf, size_t cap);

#endif
