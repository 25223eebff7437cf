/* view.h: the visible rows of the name tree, as the editor shows them.
 *
 * The model behind the tree pane, with no curses in it (ncdu's dirlist):
 * which nodes are expanded (a byte per tree node), the flattened list of
 * visible rows, the cursor and the scroll offset, a filter, a set of
 * matches (from a search or a pattern prompt) with next/previous match,
 * and the sort order (tree_sort). The editor only calls view_*(); tests
 * drive the same calls without a terminal.
 *
 * Rows: the root (the whole model) is row 0 at depth 0 and is always
 * shown; below it each visible node is a row, indented by its depth in
 * the display. A chain of single children with no tensor of their own
 * (`bert` -> `encoder` -> `layer` when encoder has only `layer`) is
 * folded into one row that spans nodes first..last (consecutive indexes,
 * since the tree is in pre-order); its totals are last's totals (the
 * same as first's), its expanded flag is last's, and it opens onto
 * last's children.
 *
 * Cost: rebuilding the rows walks only the expanded part of the tree
 * (visible rows and their hidden siblings), so it is O(visible rows);
 * expand all is O(nodes). Setting matches is O(nodes + matched tensors).
 *
 * The view borrows the tree: the tree must outlive the view and must not
 * be rebuilt while it is alive (re-sorting through view_set_sort is fine;
 * a tree_sort done elsewhere needs view_refresh_order). The frozen totals
 * of the tree may change at any time; call view_refresh afterwards so that
 * the frozen/trainable filters see them.
 */
#ifndef TUI_CORE_VIEW_H
#define TUI_CORE_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "bitset.h"
#include "tree.h"

typedef enum {
    VIEW_ALL = 0,    /* every node */
    VIEW_FROZEN,     /* nodes with at least one frozen parameter */
    VIEW_TRAINABLE,  /* nodes with at least one trainable parameter */
    VIEW_MATCHES,    /* nodes with at least one match (view_set_matches) */
    VIEW_FILTER_COUNT
} view_filter;

typedef struct {
    uint32_t first;  /* the row's first node (index in tr->nodes) */
    uint32_t last;   /* the last node of its folded chain (== first when
                        not folded); totals and children are last's */
    uint32_t depth;  /* indentation level: 0 for the root */
} view_row;

typedef struct {
    tree *tr;            /* borrowed */
    uint8_t *expanded;   /* tr->count bytes: 1 = open */
    view_row *rows;      /* nrows visible rows */
    size_t nrows, rows_cap;
    size_t cursor;       /* row index, < nrows (nrows >= 1 always) */
    size_t top;          /* first row on screen */
    size_t height;       /* rows on screen (>= 1) */
    view_filter filter;
    int fold;            /* 1: fold single-child chains (default) */
    /* matches */
    uint32_t *mcount;    /* tr->count: matched model tensors in subtree */
    int has_matches;     /* 1 after view_set_matches */
    size_t match_tensors;/* model tensors matched */
    uint64_t match_numel;/* their elements */
    uint32_t *roots;     /* match roots (fully matched nodes whose parent
                            is not), in display order */
    size_t nroots;
    uint32_t *rank;      /* tr->count: display order of each node */
} view;

/* Makes a view of tree tr: root open, everything else closed, filter
 * VIEW_ALL, folding on, cursor on the root, height 1, no matches.
 * Returns 0, or -1 with err set (out of memory; v is then safe to
 * view_free). The tree is borrowed and untouched. */
int view_init(view *v, tree *tr);

/* Frees what the view holds. NULL-safe, idempotent. */
void view_free(view *v);

/* Rebuilds the visible rows (after the frozen totals or the filter
 * changed), keeping the cursor on the same node when it is still shown,
 * else on its nearest shown ancestor. Returns 0, or -1 with err set (out
 * of memory; the old rows are kept). */
int view_refresh(view *v);

/* Recomputes the display ranks after the tree was re-sorted outside the
 * view, then view_refresh. Returns 0, or -1 with err set. */
int view_refresh_order(view *v);

/* The row under the cursor. Cannot fail (there is always a row). */
static inline const view_row *view_cursor_row(const view *v)
{
    return &v->rows[v->cursor];
}

/* The node a row stands for (its last node: totals, tensor, children). */
static inline tree_node *view_row_node(const view *v, const view_row *r)
{
    return &v->tr->nodes[r->last];
}

/* 1 when the row can be opened (its last node has children), and
 * whether it is open now. Cannot fail. */
int view_row_expandable(const view *v, const view_row *r);
int view_row_expanded(const view *v, const view_row *r);

/* Sets the number of rows on screen (0 is taken as 1) and clamps the
 * scroll so the cursor stays visible. Cannot fail. */
void view_set_height(view *v, size_t height);

/* Moves the cursor by delta rows (clamped), or to row `row` (clamped),
 * keeping it on screen. Cannot fail. */
void view_move(view *v, long delta);
void view_move_to(view *v, size_t row);

/* Scrolls the screen by delta rows without moving the cursor unless it
 * would leave the screen (mouse wheel). Cannot fail. */
void view_scroll(view *v, long delta);

/* Opens / closes the cursor row. view_expand on an open or leaf row
 * does nothing. view_collapse_or_parent closes an open row, else moves
 * to the parent row. Return 0, or -1 with err set (out of memory; the
 * view is unchanged). */
int view_expand(view *v);
int view_collapse(view *v);
int view_collapse_or_parent(view *v);

/* Moves the cursor to the parent row (stays on the root). Cannot fail. */
void view_parent(view *v);

/* Opens every node / closes every node but the root. The cursor stays
 * on its node (or its shown ancestor). Return 0, or -1 with err set. */
int view_expand_all(view *v);
int view_collapse_all(view *v);

/* Sets the filter and rebuilds. The root is always shown. Returns 0, or
 * -1 with err set (unknown filter, out of memory). */
int view_set_filter(view *v, view_filter f);

/* Re-sorts the tree (tree_sort) and rebuilds, keeping the cursor node.
 * Returns 0, or -1 with err set (out of memory; order unchanged). */
int view_set_sort(view *v, tree_sort_mode mode);

/* Sets the matches from `m` (a set over the table's tensors, n == the
 * table's count; NULL clears the matches): per node, how many of its
 * model tensors match; the match roots (nodes whose model tensors all
 * match while their parent's do not) in display order. `m` is untouched.
 * Rebuilds the rows when the filter is VIEW_MATCHES. Returns 0, or -1
 * with err set (out of memory, a set of the wrong size; the old matches
 * are then cleared). */
int view_set_matches(view *v, const bitset *m);

/* Matched model tensors in node n's subtree (0 without matches). */
static inline uint32_t view_node_matches(const view *v, const tree_node *n)
{
    return v->has_matches ? v->mcount[tree_index(v->tr, n)] : 0;
}

/* Moves the cursor to the next (dir > 0) or previous (dir < 0) match
 * root in display order after / before the cursor's node, wrapping
 * around, opening its ancestors. Returns 1 when it moved, 0 when there
 * are no matches, -1 with err set (out of memory). */
int view_next_match(view *v, int dir);

/* Puts the cursor on node n (opening its ancestors as needed, and
 * clearing a filter that hides it). Returns 0, or -1 with err set. */
int view_goto_node(view *v, const tree_node *n);

/* The row index showing node n, or SIZE_MAX when n is not shown.
 * O(rows). Cannot fail. */
size_t view_find_row(const view *v, const tree_node *n);

/* "all", "frozen", "trainable", "matches"; "?" out of range. */
const char *view_filter_name(view_filter f);

#endif
