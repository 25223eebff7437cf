/* diff.h: comparing the tensors of two checkpoints by name.
 *
 * Each tensor name of A and of B gets one entry: equal (same dtype, same
 * shape, every element's bytes the same), changed (same dtype and shape,
 * some bytes differ: how many elements, the largest absolute difference
 * and the relative L2 distance ||b - a|| / ||a||, both in float64), only
 * in A, only in B, or kind changed (dtype or shape differ; no figures).
 * Formats may differ: a torch zip against a safetensors file against a
 * TorchScript archive compares the values, not the containers.
 *
 * Values are read through mmap at the tables' offsets, a block of
 * DIFF_BLOCK elements of each side at a time (strided tensors gathered
 * in logical order), so memory does not grow with the file. Entries come
 * in A's table order, then B's names missing from A in B's order.
 *
 * No curses, no libtorch (DESIGN.md: tui/inspect/).
 */
#ifndef TUI_INSPECT_DIFF_H
#define TUI_INSPECT_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "../core/table.h"

#define DIFF_BLOCK 4096u

typedef enum {
    DIFF_EQUAL,
    DIFF_CHANGED,
    DIFF_ONLY_A,
    DIFF_ONLY_B,
    DIFF_KIND      /* dtype or shape changed */
} diff_status;

typedef struct {
    diff_status status;
    long a, b;          /* index in A and in B; -1 where absent */
    uint64_t changed;   /* DIFF_CHANGED: elements whose bytes differ */
    double max_abs;     /* largest |b - a| over pairs both finite; NaN
                           when no differing pair is finite */
    double rel_l2;      /* ||b - a|| / ||a|| over pairs both finite
                           (Inf when ||a|| is 0 and they differ) */
} diff_entry;

typedef struct {
    diff_entry *e;      /* owned; diff_result_free */
    size_t count;
    size_t n[5];        /* entries per diff_status */
} diff_result;

/* Compares every tensor of a with the tensor of the same name in b.
 * Checks first that every tensor the comparison reads lies inside its
 * file (stats_check's rule) and has a dtype with values. On success
 * *out is filled (the caller frees it with diff_result_free) and 0 is
 * returned; on failure -1 with err set to one line naming the file and
 * the tensor, and *out is left empty. */
int diff_run(const table *a, const table *b, diff_result *out);

/* Frees r's entries; NULL-safe and idempotent. */
void diff_result_free(diff_result *r);

/* "equal", "changed", "only in A", "only in B", "kind changed".
 * Cannot fail. */
const char *diff_status_name(diff_status s);

#endif
