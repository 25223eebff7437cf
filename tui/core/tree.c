/* tree.c: the name tree (see tree.h).
 *
 * Build: one pass over the table puts every segment in a scratch node
 * found through a hash map keyed by (parent, segment); then each node's
 * children are sorted in natural order; then a depth-first walk lays the
 * nodes out in pre-order in the final array and the totals are summed
 * bottom-up in one backward sweep (a parent always precedes its
 * children). No allocation per tensor or per segment.
 */
#include "tree.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* A scratch node while building. */
typedef struct {
    uint32_t parent, first, last, next;
    uint32_t src;     /* tensor whose name holds the segment */
    uint32_t seg_off; /* segment offset in that name */
    uint32_t seg_len;
    uint32_t tensor;  /* TREE_NONE when no tensor has this path */
    uint32_t nchildren;
} bnode;

typedef struct {
    const table *t;
    bnode *b;
    size_t n, cap;
    uint32_t *slots; /* node index + 1, 0 = empty */
    size_t slots_cap;
    uint32_t prev;     /* the tensor added last, or TREE_NONE */
    uint32_t *path;    /* its nodes, one per segment */
    uint32_t *seg_end; /* where each of its segments ends in its name */
    size_t depth;      /* its segments */
} builder;

/* Sort key of one child while sorting siblings. */
typedef struct {
    const char *seg;
    uint32_t len;
    uint32_t idx;
} child_key;

static const char empty_seg[] = "";

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int tree_natural_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    size_t i = 0, j = 0;
    while (i < la && j < lb) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            size_t ei = i, ej = j;
            while (ei < la && is_digit(a[ei]))
                ei++;
            while (ej < lb && is_digit(b[ej]))
                ej++;
            while (i < ei && a[i] == '0')
                i++;
            while (j < ej && b[j] == '0')
                j++;
            if (ei - i != ej - j)
                return ei - i < ej - j ? -1 : 1;
            int r = memcmp(a + i, b + j, ei - i);
            if (r)
                return r < 0 ? -1 : 1;
            i = ei;
            j = ej;
            continue;
        }
        unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[j];
        if (ca != cb)
            return ca < cb ? -1 : 1;
        i++;
        j++;
    }
    if (i < la)
        return 1;
    if (j < lb)
        return -1;
    /* naturally equal ("01" and "1"): bytewise decides */
    size_t m = la < lb ? la : lb;
    int r = m ? memcmp(a, b, m) : 0;
    if (r)
        return r < 0 ? -1 : 1;
    return la < lb ? -1 : la > lb ? 1 : 0;
}

static uint64_t hash_seg(uint32_t parent, const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ ((uint64_t)parent * 0x9E3779B97F4A7C15ull);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33; /* murmur3's finalizer: low bits index the map */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static const char *bnode_seg(const builder *bd, const bnode *x)
{
    return table_name(bd->t, x->src) + x->seg_off;
}

/* Doubles the hash map and re-inserts every node but the root.
 * Returns 0, or -1 with err set (map untouched). */
static int builder_rehash(builder *bd, size_t ncap)
{
    uint32_t *slots = calloc(ncap, sizeof *slots);
    if (!slots)
        return err_set("name tree: out of memory");
    for (size_t k = 1; k < bd->n; k++) {
        const bnode *x = &bd->b[k];
        size_t s = (size_t)hash_seg(x->parent, bnode_seg(bd, x), x->seg_len)
                   & (ncap - 1);
        while (slots[s])
            s = (s + 1) & (ncap - 1);
        slots[s] = (uint32_t)k + 1;
    }
    free(bd->slots);
    bd->slots = slots;
    bd->slots_cap = ncap;
    return 0;
}

/* The child of `parent` named by segment [off, off+len) of tensor src's
 * name, created when missing. Returns its index, or TREE_NONE with err
 * set (out of memory, too many nodes). */
static uint32_t builder_child(builder *bd, uint32_t parent, uint32_t src,
                              uint32_t off, uint32_t len)
{
    const char *seg = table_name(bd->t, src) + off;
    uint64_t h = hash_seg(parent, seg, len);
    size_t s = (size_t)h & (bd->slots_cap - 1);
    while (bd->slots[s]) {
        const bnode *x = &bd->b[bd->slots[s] - 1];
        if (x->parent == parent && x->seg_len == len &&
            memcmp(bnode_seg(bd, x), seg, len) == 0)
            return bd->slots[s] - 1;
        s = (s + 1) & (bd->slots_cap - 1);
    }
    if (bd->n >= TREE_MAX_NODES) {
        err_set("name tree: more than %u nodes", TREE_MAX_NODES);
        return TREE_NONE;
    }
    if (bd->n == bd->cap) {
        size_t ncap = bd->cap * 2;
        bnode *nb = realloc(bd->b, ncap * sizeof *nb);
        if (!nb) {
            err_set("name tree: out of memory");
            return TREE_NONE;
        }
        bd->b = nb;
        bd->cap = ncap;
    }
    uint32_t k = (uint32_t)bd->n++;
    bd->slots[s] = k + 1;
    bnode *x = &bd->b[k];
    *x = (bnode){parent, TREE_NONE, TREE_NONE, TREE_NONE, src, off, len,
                 TREE_NONE, 0};
    bnode *p = &bd->b[parent];
    if (p->last == TREE_NONE)
        p->first = k;
    else
        bd->b[p->last].next = k;
    p->last = k;
    p->nchildren++;
    if (bd->n * 2 > bd->slots_cap && builder_rehash(bd, bd->slots_cap * 2))
        return TREE_NONE; /* the node stays; the old map still works */
    return k;
}

/* Puts tensor i's segments into the builder. Segments shared with the
 * previous tensor's name (checkpoints list neighbours together) reuse
 * its nodes from bd->path without a hash lookup. Returns 0 or -1. */
static int builder_add(builder *bd, uint32_t i)
{
    const char *name = table_name(bd->t, i);
    size_t len = table_at(bd->t, i)->name_len;
    size_t c = 0, d = 0;
    if (bd->prev != TREE_NONE) {
        const char *prev = table_name(bd->t, bd->prev);
        size_t plen = table_at(bd->t, bd->prev)->name_len;
        size_t m = len < plen ? len : plen;
        while (c < m && name[c] == prev[c])
            c++;
        while (d < bd->depth && bd->seg_end[d] <= c &&
               (bd->seg_end[d] == len || name[bd->seg_end[d]] == '.'))
            d++;
    }
    uint32_t cur = d ? bd->path[d - 1] : 0;
    size_t pos = d ? bd->seg_end[d - 1] + 1 : 0;
    if (!d || bd->seg_end[d - 1] != len) {
        for (;;) {
            const char *dot = memchr(name + pos, '.', len - pos);
            size_t end = dot ? (size_t)(dot - name) : len;
            cur = builder_child(bd, cur, i, (uint32_t)pos,
                                (uint32_t)(end - pos));
            if (cur == TREE_NONE)
                return -1;
            bd->path[d] = cur;
            bd->seg_end[d++] = (uint32_t)end;
            if (!dot)
                break;
            pos = end + 1;
        }
    }
    bd->depth = d;
    bd->prev = i;
    bd->b[cur].tensor = i;
    return 0;
}

static int child_key_cmp(const void *pa, const void *pb)
{
    const child_key *a = pa, *b = pb;
    return tree_natural_cmp(a->seg, a->len, b->seg, b->len);
}

/* Sorts every node's children in natural order. Returns 0 or -1. */
static int builder_sort(builder *bd)
{
    uint32_t most = 0;
    for (size_t k = 0; k < bd->n; k++)
        if (bd->b[k].nchildren > most)
            most = bd->b[k].nchildren;
    if (most < 2)
        return 0;
    child_key *keys = malloc((size_t)most * sizeof *keys);
    if (!keys)
        return err_set("name tree: out of memory");
    for (size_t k = 0; k < bd->n; k++) {
        bnode *p = &bd->b[k];
        if (p->nchildren < 2)
            continue;
        size_t m = 0;
        int sorted = 1;
        for (uint32_t c = p->first; c != TREE_NONE; c = bd->b[c].next) {
            keys[m] = (child_key){bnode_seg(bd, &bd->b[c]), bd->b[c].seg_len, c};
            if (m && sorted && child_key_cmp(&keys[m - 1], &keys[m]) > 0)
                sorted = 0;
            m++;
        }
        if (sorted)
            continue;
        qsort(keys, m, sizeof *keys, child_key_cmp);
        p->first = keys[0].idx;
        for (size_t q = 0; q + 1 < m; q++)
            bd->b[keys[q].idx].next = keys[q + 1].idx;
        bd->b[keys[m - 1].idx].next = TREE_NONE;
        p->last = keys[m - 1].idx;
    }
    free(keys);
    return 0;
}

/* Sums the tensors going into the tree, refusing totals that do not fit
 * a signed 64-bit delta, and finds the longest name (*longest).
 * Returns 0 or -1 with err set. */
static int check_totals(const table *t, size_t *longest)
{
    uint64_t numel = 0, bytes = 0;
    *longest = 0;
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        if (x->kind != TK_PARAMETER && x->kind != TK_BUFFER)
            continue;
        if (x->name_len > *longest)
            *longest = x->name_len;
        if (x->numel > (uint64_t)INT64_MAX - numel ||
            x->nbytes > UINT64_MAX - bytes)
            return err_set("name tree: tensor sizes add up past 2^63");
        numel += x->numel;
        bytes += x->nbytes;
    }
    return 0;
}

/* Lays the scratch nodes out in pre-order into tr->nodes and sums the
 * totals. Returns 0 or -1 with err set. */
static int tree_layout(tree *tr, const builder *bd)
{
    const table *t = bd->t;
    uint32_t *map = malloc(bd->n * sizeof *map);
    tr->nodes = calloc(bd->n, sizeof *tr->nodes);
    tr->leaf = malloc((t->count ? t->count : 1) * sizeof *tr->leaf);
    if (!map || !tr->nodes || !tr->leaf) {
        free(map);
        return err_set("name tree: out of memory");
    }
    tr->count = bd->n;
    uint32_t b = 0, k = 0;
    for (;;) {
        map[b] = k++;
        if (bd->b[b].first != TREE_NONE) {
            b = bd->b[b].first;
            continue;
        }
        while (b != 0 && bd->b[b].next == TREE_NONE)
            b = bd->b[b].parent;
        if (b == 0)
            break;
        b = bd->b[b].next;
    }
    for (size_t i = 0; i < t->count; i++)
        tr->leaf[i] = TREE_NONE;
    for (size_t q = 0; q < bd->n; q++) {
        const bnode *x = &bd->b[q];
        tree_node *n = &tr->nodes[map[q]];
        n->parent = q ? &tr->nodes[map[x->parent]] : NULL;
        n->child = x->first != TREE_NONE ? &tr->nodes[map[x->first]] : NULL;
        n->next = x->next != TREE_NONE ? &tr->nodes[map[x->next]] : NULL;
        n->seg = q ? bnode_seg(bd, x) : empty_seg;
        n->seg_len = x->seg_len;
        n->path_len = q ? x->seg_off + x->seg_len : 0;
        n->src = x->src;
        n->nchildren = x->nchildren;
        n->span = 1;
        n->tensor = -1;
        if (x->tensor != TREE_NONE) {
            const table_tensor *tt = table_at(t, x->tensor);
            n->tensor = (long)x->tensor;
            int alias = (tt->flags & TF_ALIAS) != 0; /* counted once */
            n->tensors = 1;
            n->numel = alias ? 0 : tt->numel;
            n->bytes = alias ? 0 : tt->nbytes;
            if (tt->kind == TK_PARAMETER) {
                n->params = 1;
                n->param_numel = n->numel;
            } else {
                n->buffers = 1;
            }
            tr->leaf[x->tensor] = map[q];
        }
    }
    free(map);
    for (size_t q = 1; q < tr->count; q++) {
        tree_node *n = &tr->nodes[q];
        n->depth = n->parent->depth + 1;
        if (n->depth > tr->max_depth)
            tr->max_depth = n->depth;
    }
    for (size_t q = tr->count; q-- > 1;) {
        const tree_node *n = &tr->nodes[q];
        tree_node *p = n->parent;
        p->span += n->span;
        p->tensors += n->tensors;
        p->numel += n->numel;
        p->bytes += n->bytes;
        p->params += n->params;
        p->param_numel += n->param_numel;
        p->buffers += n->buffers;
    }
    return 0;
}

int tree_build(tree *tr, const table *t)
{
    int rc = -1;
    size_t longest;
    builder bd = {.t = t, .prev = TREE_NONE};
    memset(tr, 0, sizeof *tr);
    tr->t = t;
    tr->ntensors = t->count;
    if (check_totals(t, &longest))
        goto cleanup;
    /* most trees have under two nodes a tensor: size for that */
    bd.cap = 1024;
    while (bd.cap < 2 * (size_t)t->count && bd.cap < TREE_MAX_NODES)
        bd.cap *= 2;
    bd.slots_cap = 2 * bd.cap;
    bd.b = malloc(bd.cap * sizeof *bd.b);
    bd.slots = calloc(bd.slots_cap, sizeof *bd.slots);
    /* a name of L bytes has at most L + 1 segments */
    bd.path = malloc((longest + 1) * sizeof *bd.path);
    bd.seg_end = malloc((longest + 1) * sizeof *bd.seg_end);
    if (!bd.b || !bd.slots || !bd.path || !bd.seg_end) {
        err_set("name tree: out of memory");
        goto cleanup;
    }
    bd.b[0] = (bnode){TREE_NONE, TREE_NONE, TREE_NONE, TREE_NONE, 0, 0, 0,
                      TREE_NONE, 0};
    bd.n = 1;
    for (size_t i = 0; i < t->count; i++) {
        uint8_t kind = table_at(t, i)->kind;
        if (kind != TK_PARAMETER && kind != TK_BUFFER)
            continue;
        if (builder_add(&bd, (uint32_t)i))
            goto cleanup;
    }
    if (builder_sort(&bd) || tree_layout(tr, &bd))
        goto cleanup;
    rc = 0;
cleanup:
    free(bd.b);
    free(bd.slots);
    free(bd.path);
    free(bd.seg_end);
    if (rc) {
        tree_free(tr);
        tr->t = t;
    }
    return rc;
}

void tree_free(tree *tr)
{
    if (!tr)
        return;
    free(tr->nodes);
    free(tr->leaf);
    memset(tr, 0, sizeof *tr);
}

tree_node *tree_leaf(const tree *tr, size_t i)
{
    if (i >= tr->ntensors || !tr->leaf || tr->leaf[i] == TREE_NONE)
        return NULL;
    return &tr->nodes[tr->leaf[i]];
}

tree_node *tree_find(const tree *tr, const char *path, size_t len)
{
    tree_node *n = tree_root(tr);
    if (!n || len == 0)
        return n;
    long i = table_find(tr->t, path, len);
    if (i >= 0 && tree_leaf(tr, (size_t)i))
        return tree_leaf(tr, (size_t)i);
    size_t pos = 0;
    for (;;) {
        const char *dot = memchr(path + pos, '.', len - pos);
        size_t end = dot ? (size_t)(dot - path) : len;
        size_t sl = end - pos;
        tree_node *c = n->child;
        while (c && !(c->seg_len == sl && memcmp(c->seg, path + pos, sl) == 0))
            c = c->next;
        if (!c)
            return NULL;
        n = c;
        if (!dot)
            return n;
        pos = end + 1;
    }
}

size_t tree_node_path(const tree *tr, const tree_node *n, char *buf,
                      size_t cap)
{
    size_t len = n->path_len;
    if (cap) {
        size_t m = len < cap ? len : cap - 1;
        if (m)
            memcpy(buf, table_name(tr->t, n->src), m);
        buf[m] = '\0';
    }
    return len;
}

tree_state tree_node_state(const tree_node *n)
{
    if (n->params == 0)
        return TREE_BUFFER;
    if (n->frozen_tensors == 0)
        return TREE_TRAINABLE;
    if (n->frozen_tensors == n->params)
        return TREE_FROZEN;
    return TREE_PARTIAL;
}

const char *tree_state_name(tree_state s)
{
    switch (s) {
    case TREE_TRAINABLE: return "trainable";
    case TREE_FROZEN: return "frozen";
    case TREE_PARTIAL: return "partly frozen";
    case TREE_BUFFER: return "buffer";
    }
    return "?";
}

tree_node *tree_dfs_next(const tree_node *n, const tree_node *top)
{
    if (n->child)
        return n->child;
    while (n && n != top) {
        if (n->next)
            return n->next;
        n = n->parent;
    }
    return NULL;
}

void tree_add_frozen(tree *tr, tree_node *n, int64_t dtensors,
                     int64_t dnumel)
{
    (void)tr;
    for (; n; n = n->parent) {
        n->frozen_tensors += (uint64_t)dtensors;
        n->frozen_numel += (uint64_t)dnumel;
    }
}

void tree_recount_frozen(tree *tr, tree_node *n, const bitset *frozen)
{
    size_t k = tree_index(tr, n), end = k + n->span;
    uint64_t old_t = n->frozen_tensors, old_n = n->frozen_numel;
    /* backward over the range: a node's children (later in pre-order)
     * are final when it is reached, and still warm in the cache */
    for (size_t q = end; q-- > k;) {
        tree_node *x = &tr->nodes[q];
        uint64_t ft = 0, fn = 0;
        if (x->tensor >= 0 && (size_t)x->tensor < frozen->n &&
            bitset_get(frozen, (size_t)x->tensor)) {
            const table_tensor *tt = table_at(tr->t, (size_t)x->tensor);
            if (tt->kind == TK_PARAMETER) {
                ft = 1;
                fn = (tt->flags & TF_ALIAS) ? 0 : tt->numel;
            }
        }
        for (size_t c = q + 1; c < q + x->span; c += tr->nodes[c].span) {
            ft += tr->nodes[c].frozen_tensors;
            fn += tr->nodes[c].frozen_numel;
        }
        x->frozen_tensors = ft;
        x->frozen_numel = fn;
    }
    if (n->parent)
        tree_add_frozen(tr, n->parent, (int64_t)(n->frozen_tensors - old_t),
                        (int64_t)(n->frozen_numel - old_n));
}
