/* tree_sort.c: the display orders of the name tree (see tree.h): natural
 * name order (the array order), size, and checkpoint order.
 *
 * Sorting relinks each node's children (child/next) and nothing else.
 * Checkpoint order places a node at its first tensor in the table (the
 * smallest table index in its subtree, one backward sweep over the
 * pre-order array), so a state_dict reads in the order its model's
 * modules registered their parameters: conv1, bn1, layer1, ..., fc.
 */
#include "tree.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Sort keys of one node's children while they are ordered. */
typedef struct {
    tree_node *n;
    uint64_t key; /* bytes (size) or first table index (checkpoint) */
} sort_item;

static int size_cmp(const void *pa, const void *pb)
{
    const sort_item *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key > b->key ? -1 : 1;
    return a->n < b->n ? -1 : a->n > b->n; /* array order is natural */
}

static int first_cmp(const void *pa, const void *pb)
{
    const sort_item *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->n < b->n ? -1 : a->n > b->n;
}

/* first[k]: the smallest table index of a tensor in node k's subtree
 * (UINT32_MAX for none). A parent precedes its children in the array, so
 * a backward sweep sees each node complete before its parent. */
static void first_tensors(const tree *tr, uint32_t *first)
{
    for (size_t k = 0; k < tr->count; k++) {
        long t = tr->nodes[k].tensor;
        first[k] = t >= 0 && (uint64_t)t < UINT32_MAX ? (uint32_t)t
                                                      : UINT32_MAX;
    }
    for (size_t k = tr->count; k-- > 1;) {
        size_t p = tree_index(tr, tr->nodes[k].parent);
        if (first[k] < first[p])
            first[p] = first[k];
    }
}

int tree_sort(tree *tr, tree_sort_mode mode)
{
    uint32_t most = 0, *first = NULL;
    if ((unsigned)mode >= TREE_SORT_COUNT)
        return err_set("unknown sort order %d", (int)mode);
    for (size_t k = 0; k < tr->count; k++)
        if (tr->nodes[k].nchildren > most)
            most = tr->nodes[k].nchildren;
    sort_item *v = malloc(((size_t)most + 1) * sizeof *v);
    if (mode == TREE_SORT_FILE && v)
        first = malloc((tr->count ? tr->count : 1) * sizeof *first);
    if (!v || (mode == TREE_SORT_FILE && !first)) {
        free(v);
        return err_set("name tree: out of memory");
    }
    if (first)
        first_tensors(tr, first);
    for (size_t k = 0; k < tr->count; k++) {
        tree_node *p = &tr->nodes[k];
        if (!p->nchildren)
            continue;
        size_t m = 0;
        for (size_t c = k + 1; c < k + p->span; c += tr->nodes[c].span) {
            v[m].n = &tr->nodes[c];
            v[m].key = mode == TREE_SORT_SIZE ? tr->nodes[c].bytes
                       : first                ? first[c]
                                              : 0;
            m++;
        }
        if (mode == TREE_SORT_SIZE && m > 1)
            qsort(v, m, sizeof *v, size_cmp);
        else if (mode == TREE_SORT_FILE && m > 1)
            qsort(v, m, sizeof *v, first_cmp);
        p->child = v[0].n;
        for (size_t q = 0; q + 1 < m; q++)
            v[q].n->next = v[q + 1].n;
        v[m - 1].n->next = NULL;
    }
    free(v);
    free(first);
    tr->sort = mode;
    return 0;
}

uint64_t tree_sibling_max_bytes(const tree_node *n)
{
    uint64_t most = n->bytes;
    if (!n->parent)
        return most;
    for (const tree_node *c = n->parent->child; c; c = c->next)
        if (c->bytes > most)
            most = c->bytes;
    return most;
}

const char *tree_sort_name(tree_sort_mode mode)
{
    switch (mode) {
    case TREE_SORT_NAME: return "name";
    case TREE_SORT_SIZE: return "size";
    case TREE_SORT_FILE: return "checkpoint";
    default: return "?";
    }
}

tree_sort_mode tree_sort_next(tree_sort_mode mode)
{
    switch (mode) {
    case TREE_SORT_FILE: return TREE_SORT_NAME;
    case TREE_SORT_NAME: return TREE_SORT_SIZE;
    default: return TREE_SORT_FILE;
    }
}

tree_sort_mode tree_sort_default(const table *t)
{
    if (strcmp(t->format, "pytorch") == 0 ||
        strcmp(t->format, "torchscript") == 0)
        return TREE_SORT_FILE;
    return TREE_SORT_NAME;
}
