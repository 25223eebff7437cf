/* freeze_ops.h: subtree, mask, all and invert edits of a frozen set, and
 * its undo depths, for the unit tests. The program only ever assigns a whole wanted set
 * (freeze_assign, from core/session.c), so these are written here, each
 * as one freeze_assign of the set it wants: one undo step, the same
 * report. Each returns freeze_assign's 0, or -1 with err set (out of
 * memory, a mask of the wrong size: "set of N tensors, table has M"). */
#ifndef TUI_TESTS_UNIT_FREEZE_OPS_H
#define TUI_TESTS_UNIT_FREEZE_OPS_H

#include "../../tui/core/err.h"
#include "../../tui/core/freeze.h"

/* *w: a copy of the frozen set when n is the table's count, else n zero
 * bits (freeze_assign then refuses it). */
static inline int fo_start(const freeze_set *fs, size_t n, bitset *w)
{
    if (bitset_init(w, n) < 0)
        return err_set("out of memory");
    if (n == fs->frozen.n)
        bitset_copy(w, &fs->frozen);
    return 0;
}

static inline int fo_finish(freeze_set *fs, bitset *w, freeze_report *rep)
{
    int rc = freeze_assign(fs, w, rep);
    bitset_free(w);
    return rc;
}

static inline void fo_put(bitset *w, size_t i, int on)
{
    if (on)
        bitset_set(w, i);
    else
        bitset_clear(w, i);
}

/* Every parameter in node n's subtree (n in fs's tree). */
static inline int freeze_ops_node(freeze_set *fs, tree_node *n, int on,
                                  freeze_report *rep)
{
    bitset w;
    if (fo_start(fs, fs->frozen.n, &w) < 0)
        return -1;
    size_t k = tree_index(fs->tr, n);
    for (size_t q = k; q < k + n->span; q++)
        if (fs->tr->nodes[q].tensor >= 0)
            fo_put(&w, (size_t)fs->tr->nodes[q].tensor, on);
    return fo_finish(fs, &w, rep);
}

/* Every parameter whose bit is set in match. */
static inline int freeze_ops_mask(freeze_set *fs, const bitset *match, int on,
                                  freeze_report *rep)
{
    bitset w;
    if (fo_start(fs, match->n, &w) < 0)
        return -1;
    for (size_t i = 0; i < match->n; i++)
        if (bitset_get(match, i))
            fo_put(&w, i, on);
    return fo_finish(fs, &w, rep);
}

/* Every parameter. */
static inline int freeze_ops_all(freeze_set *fs, int on, freeze_report *rep)
{
    bitset w;
    if (fo_start(fs, fs->frozen.n, &w) < 0)
        return -1;
    for (size_t i = 0; i < w.n; i++)
        fo_put(&w, i, on);
    return fo_finish(fs, &w, rep);
}

/* Every parameter flips. */
static inline int freeze_ops_invert(freeze_set *fs, freeze_report *rep)
{
    bitset w;
    if (fo_start(fs, fs->frozen.n, &w) < 0)
        return -1;
    for (size_t i = 0; i < w.n; i++)
        fo_put(&w, i, !bitset_get(&w, i));
    return fo_finish(fs, &w, rep);
}

/* Steps that undo / redo would take, and the bytes of the undo log. */
static inline size_t fo_undo_depth(const freeze_set *fs)
{
    return fs->pos;
}

static inline size_t fo_redo_depth(const freeze_set *fs)
{
    return fs->nsteps - fs->pos;
}

static inline size_t fo_log_bytes(const freeze_set *fs)
{
    return fs->log_bytes;
}

#endif
