/* tree.h: the name tree, the model as ncdu shows a disk.
 *
 * Every dotted tensor name (`encoder.layer.3.attention.self.query.weight`)
 * becomes a path from the root; a node per segment carries the totals of
 * its subtree (tensors, elements, bytes, parameters, buffers, frozen).
 *
 * What goes in: only tensors of kind TK_PARAMETER and TK_BUFFER (the
 * model). Optimizer state (TK_OPTIMIZER) and other tensors (TK_OTHER)
 * stay out of the tree; table_get_totals() still counts them.
 *
 * Layout: all nodes live in one array, in depth-first pre-order by
 * natural name order, so a node's subtree is the contiguous range
 * nodes[index .. index + span). The root (path "") is nodes[0]. The
 * parent/child/next links give the display order, which tree_sort()
 * changes; the array order never changes.
 *
 * Natural order: siblings compare segment by segment with runs of digits
 * compared as numbers (`2` < `10`, `a2b` < `a10b`, `01` == `1` numerically),
 * ties broken bytewise, so the order is total.
 *
 * A name can be both a tensor and a prefix of others (`a.b` and `a.b.c`):
 * node `b` then has a tensor index and children, and its totals include
 * both. Empty segments (`a..b`, `.a`, `a.`) are kept as segments named "".
 *
 * A tied duplicate (TF_ALIAS, table_link_ties) is a leaf that counts as
 * a parameter tensor but adds no elements or bytes: a tie group counts
 * once, at its first name, as model.parameters() counts it.
 *
 * Frozen totals are kept by tree_add_frozen()/tree_recount_frozen(), which
 * the frozen set (freeze.h) calls; nothing else writes them.
 *
 * The table must not change (no table_add) while a tree built from it is
 * alive: segments point into the table's name arena.
 */
#ifndef TUI_CORE_TREE_H
#define TUI_CORE_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "bitset.h"
#include "table.h"

#define TREE_MAX_NODES 0x10000000u /* 268M nodes; more gives an error */
#define TREE_NONE UINT32_MAX       /* "not in the tree" in tree.leaf */

typedef enum {
    TREE_TRAINABLE = 0, /* has parameters, none frozen */
    TREE_FROZEN,        /* has parameters, all frozen */
    TREE_PARTIAL,       /* has parameters, some frozen */
    TREE_BUFFER,        /* no parameters: only buffers (never trained) */
} tree_state;

typedef enum {
    TREE_SORT_NAME = 0, /* natural name order */
    TREE_SORT_SIZE,     /* bytes, largest first; ties in natural order */
    TREE_SORT_FILE,     /* checkpoint order: a node goes where its first
                           tensor is in the file (module order for torch
                           state_dicts); ties in natural order */
    TREE_SORT_COUNT
} tree_sort_mode;

typedef struct tree_node {
    struct tree_node *parent; /* NULL for the root */
    struct tree_node *child;  /* first child in display order, or NULL */
    struct tree_node *next;   /* next sibling in display order, or NULL */
    const char *seg;          /* this segment, NOT NUL-terminated */
    uint32_t seg_len;
    uint32_t path_len; /* bytes of the dotted path up to this node */
    uint32_t src;      /* a tensor whose name starts with this path */
    uint32_t depth;    /* 0 for the root */
    uint32_t span;     /* nodes in the subtree, this one included */
    uint32_t nchildren;
    long tensor;       /* table index when a tensor has this path, else -1 */
    /* totals of the subtree, this node's own tensor included */
    uint64_t tensors;  /* parameters + buffers */
    uint64_t numel;    /* elements of all of them */
    uint64_t bytes;    /* bytes of all of them */
    uint64_t params;   /* parameter tensors */
    uint64_t param_numel;
    uint64_t buffers;  /* buffer tensors */
    uint64_t frozen_tensors; /* frozen parameter tensors */
    uint64_t frozen_numel;   /* their elements */
} tree_node;

typedef struct {
    const table *t;   /* borrowed; must outlive the tree, unchanged */
    tree_node *nodes; /* count nodes, pre-order; nodes[0] is the root */
    size_t count;
    uint32_t *leaf;   /* t->count entries: node index, or TREE_NONE */
    size_t ntensors;  /* table size when built */
    uint32_t max_depth;
    tree_sort_mode sort;
} tree;

/* Builds the tree of table t's parameters and buffers, in natural order
 * (sort mode TREE_SORT_NAME), all frozen totals zero. The table is
 * untouched and borrowed: keep it alive and unchanged.
 * Returns 0, or -1 with err set (out of memory, more than TREE_MAX_NODES
 * nodes); *tr is then empty and safe to tree_free. */
int tree_build(tree *tr, const table *t);

/* Frees what the tree holds; leaves it empty. NULL-safe, idempotent. */
void tree_free(tree *tr);

/* The root node (path ""). NULL only for a tree that failed to build. */
static inline tree_node *tree_root(const tree *tr)
{
    return tr->count ? &tr->nodes[0] : NULL;
}

/* A node's index in tr->nodes; its subtree is [index, index + span). */
static inline size_t tree_index(const tree *tr, const tree_node *n)
{
    return (size_t)(n - tr->nodes);
}

/* The leaf node of tensor i, or NULL when i is out of range or the
 * tensor is not in the tree (optimizer/other kinds). Cannot fail. */
tree_node *tree_leaf(const tree *tr, size_t i);

/* The node at a dotted path (`len` bytes, need not be NUL-terminated);
 * "" is the root (a child segment "" of the root, from a name such as
 * ".z", is reached only through links). A tensor's full name is found
 * through the table's hash; a module path walks the children.
 * Returns NULL when no node has that path. Cannot fail. */
tree_node *tree_find(const tree *tr, const char *path, size_t len);

/* Writes n's dotted path into buf (cap bytes, NUL-terminated, truncated
 * to fit when cap > 0). Returns the full length of the path (so a return
 * >= cap means it was truncated), like snprintf. Cannot fail. */
size_t tree_node_path(const tree *tr, const tree_node *n, char *buf,
                      size_t cap);

/* The node's state (see tree_state). Cannot fail. */
tree_state tree_node_state(const tree_node *n);

/* "trainable", "frozen", "partly frozen", "buffer". Cannot fail. */
const char *tree_state_name(tree_state s);

/* The next node after n in depth-first pre-order (display order),
 * staying inside top's subtree; NULL when done. Iterate a subtree with
 *   for (tree_node *n = top; n; n = tree_dfs_next(n, top)) ...
 * Cannot fail. */
tree_node *tree_dfs_next(const tree_node *n, const tree_node *top);

/* Relinks every node's children in the given order (tree_sort.c). The
 * node array, the subtree ranges and all totals are untouched.
 * Returns 0, or -1 with err set (out of memory, unknown mode; order then
 * unchanged). O(nodes log siblings). */
int tree_sort(tree *tr, tree_sort_mode mode);

/* The largest bytes among n and its siblings (n's own bytes for the
 * root): what a share bar is scaled to, as ncdu scales to the largest
 * item of a folder. O(siblings). Cannot fail. */
uint64_t tree_sibling_max_bytes(const tree_node *n);

/* "name", "size", "checkpoint"; "?" out of range. Cannot fail. */
const char *tree_sort_name(tree_sort_mode mode);

/* The mode after `mode` in the cycle the editor's s key walks:
 * checkpoint -> name -> size -> checkpoint. Cannot fail. */
tree_sort_mode tree_sort_next(tree_sort_mode mode);

/* The order the editor opens table t in: TREE_SORT_FILE where the file
 * keeps the model's module order (PyTorch pickles and TorchScript
 * archives: a state_dict is an ordered dict filled module by module),
 * else TREE_SORT_NAME (safetensors headers are sorted by their writer).
 * The table is untouched. Cannot fail. */
tree_sort_mode tree_sort_default(const table *t);

/* Natural comparison of two segments (see above); <0, 0 (only for equal
 * bytes), >0. Cannot fail. */
int tree_natural_cmp(const char *a, size_t la, const char *b, size_t lb);

/* Adds a change of frozen totals to n and each of its ancestors: the one
 * place that walks up the tree (ncdu's addparentstats). Cannot fail. */
void tree_add_frozen(tree *tr, tree_node *n, int64_t dtensors,
                     int64_t dnumel);

/* Recounts the frozen totals of n's subtree from `frozen` (a set over
 * the table's tensors; buffers in it are ignored), then passes the
 * change up to n's ancestors. O(subtree + depth). Cannot fail. */
void tree_recount_frozen(tree *tr, tree_node *n, const bitset *frozen);

#endif
