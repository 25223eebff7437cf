/* freeze.h: the frozen set, with undo and redo.
 *
 * A bitset over the table's tensors (bit i set: tensor i is frozen),
 * bound to a name tree whose frozen totals it keeps current: a change
 * adds each flipped tensor's change to its ancestors, or recounts the
 * whole tree when that is cheaper. Every change is a freeze_assign of
 * the wanted set (tests/unit/freeze_ops.h builds subtree, mask, all and
 * invert edits on it).
 *
 * Only parameters in the tree can be frozen. Buffers (TK_BUFFER) are
 * never trained and never frozen: every operation skips them, so their
 * bit is always 0 and the tree shows them as TREE_BUFFER. Tensors outside
 * the tree (optimizer state, other) are skipped too.
 *
 * Undo log: every operation that changes something is one step, storing
 * only which tensors flipped (as runs of indexes, or as a raw bitmap when
 * that is smaller: at most n/8 bytes a step). Flips are their own
 * inverse, so undo and redo restore exact states. A new change after an
 * undo drops the redo tail. An operation that changes nothing records no
 * step (and keeps the redo tail). The log keeps at most FREEZE_MAX_STEPS
 * steps and FREEZE_MAX_LOG_BYTES bytes, dropping the oldest steps.
 *
 * One frozen set per tree: the set owns the tree's frozen totals. The
 * tree may be re-sorted (tree_sort) at any time; it must not be rebuilt
 * or freed while the set is bound to it.
 */
#ifndef TUI_CORE_FREEZE_H
#define TUI_CORE_FREEZE_H

#include <stddef.h>
#include <stdint.h>

#include "bitset.h"
#include "tree.h"

#define FREEZE_MAX_STEPS 10000u
#define FREEZE_MAX_LOG_BYTES (64u << 20)

/* What one operation (or one undo/redo) changed. */
typedef struct {
    size_t tensors_changed;  /* tensors that flipped */
    uint64_t numel_changed;  /* their elements (parameters) */
    size_t tensors_frozen;   /* of those, how many became frozen */
    uint64_t numel_frozen;   /* and their elements; the rest unfroze */
} freeze_report;

typedef struct {
    uint64_t *data; /* runs (start << 32 | length), or raw bitmap words */
    size_t n;       /* entries in data */
    int bitmap;     /* 1: data holds bitmap words */
} freeze_step;

typedef struct {
    tree *tr;        /* borrowed; its frozen totals are ours to keep */
    bitset frozen;   /* the set itself */
    bitset params;   /* tensors that can be frozen (parameters in tree) */
    bitset diff;     /* scratch, all zero between calls */
    freeze_step *steps;
    size_t nsteps, steps_cap;
    size_t pos;       /* steps[0..pos) are done; [pos..nsteps) can redo */
    size_t saved_pos; /* pos when marked saved; SIZE_MAX: unreachable */
    size_t log_bytes;
    uint64_t gen;     /* bumped by every change, undo and redo */
} freeze_set;

/* Binds an empty frozen set (everything trainable) to tree tr, and sets
 * tr's frozen totals to zero. The history is empty and the state counts
 * as saved. tr (and its table) must outlive fs.
 * Returns 0, or -1 with err set (out of memory); fs is then safe to
 * freeze_free and tr's frozen totals are zero. */
int freeze_init(freeze_set *fs, tree *tr);

/* Frees the set and its history. NULL-safe, idempotent. */
void freeze_free(freeze_set *fs);

/* Makes the frozen set exactly `want` (n == the table's count) restricted
 * to parameters (a tie group is frozen when `want` freezes any of its
 * names): one step, e.g. for loading a plan or any edit of the editor.
 * Returns 0 and fills *rep (when rep is not NULL) with what changed,
 * recording one undo step when anything changed; or returns -1 with err
 * set (out of memory, a set of the wrong size), and then nothing changed.
 * want is untouched. */
int freeze_assign(freeze_set *fs, const bitset *want, freeze_report *rep);

/* Undoes the last step / redoes the next one. Returns 1 and fills *rep
 * with what that changed, or 0 when there is nothing to undo / redo
 * (*rep then zero). Cannot fail. */
int freeze_undo(freeze_set *fs, freeze_report *rep);
int freeze_redo(freeze_set *fs, freeze_report *rep);

/* Forgets the history; the current state stays, and stays saved or
 * unsaved as it was. Cannot fail. */
void freeze_clear_history(freeze_set *fs);

/* 1 when tensor i is frozen (0 for i out of range). Cannot fail. */
static inline int freeze_is_frozen(const freeze_set *fs, size_t i)
{
    return i < fs->frozen.n && bitset_get(&fs->frozen, i);
}

/* Frozen parameter tensors, their elements, and the elements of the
 * trainable parameters; any pointer may be NULL. Cannot fail. */
void freeze_counts(const freeze_set *fs, size_t *frozen_tensors,
                   uint64_t *frozen_numel, uint64_t *trainable_numel);

/* A counter bumped by every change, undo and redo (for redraws). */
static inline uint64_t freeze_generation(const freeze_set *fs)
{
    return fs->gen;
}

/* Records that the current state is saved (e.g. written to a plan).
 * Cannot fail. */
void freeze_mark_saved(freeze_set *fs);

/* 1 when the state may differ from the last saved one: undoing back to
 * the saved state counts as unchanged again; once the saved state left
 * the history (redo tail dropped, oldest steps dropped) it stays 1 until
 * the next freeze_mark_saved. Cannot fail. */
int freeze_changed_since_save(const freeze_set *fs);

#endif
