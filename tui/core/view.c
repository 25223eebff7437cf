/* view.c: the visible rows of the name tree (see view.h).
 *
 * The only writer of the view's state. Rows are rebuilt by walking the
 * expanded part of the tree through its display links; a folded chain
 * is one row; the cursor is kept on its node across rebuilds.
 */
#include "view.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "table.h"

static size_t node_idx(const view *v, const tree_node *n)
{
    return tree_index(v->tr, n);
}

/* 1 when node x is folded into its parent's row (not a row start). */
static int in_chain(const view *v, const tree_node *x)
{
    const tree_node *p = x->parent;
    return v->fold && p && p->parent && p->nchildren == 1 && p->tensor < 0;
}

/* The last node of the chain that starts at n. */
static tree_node *chain_last(const view *v, tree_node *n)
{
    if (!v->fold || !n->parent)
        return n;
    while (n->nchildren == 1 && n->tensor < 0 && n->child)
        n = n->child;
    return n;
}

/* The first node of the row that holds n. */
static const tree_node *chain_first(const view *v, const tree_node *n)
{
    while (in_chain(v, n))
        n = n->parent;
    return n;
}

static int node_shown(const view *v, const tree_node *n)
{
    if (!n->parent)
        return 1;
    switch (v->filter) {
    case VIEW_FROZEN: return n->frozen_tensors > 0;
    case VIEW_TRAINABLE: return n->params > n->frozen_tensors;
    case VIEW_MATCHES:
        return v->has_matches && v->mcount[node_idx(v, n)] > 0;
    default: return 1;
    }
}

/* The next node after n's subtree in display order, not leaving top's
 * subtree; NULL when there is none. */
static tree_node *skip_subtree(const tree_node *n, const tree_node *top)
{
    while (n && n != top) {
        if (n->next)
            return n->next;
        n = n->parent;
    }
    return NULL;
}

static int push_row(view *v, size_t *n, const view_row *r)
{
    if (*n == v->rows_cap) {
        size_t cap = v->rows_cap ? v->rows_cap * 2 : 256;
        view_row *x = realloc(v->rows, cap * sizeof *x);
        if (!x)
            return err_set("out of memory for %zu rows", cap);
        v->rows = x;
        v->rows_cap = cap;
    }
    v->rows[(*n)++] = *r;
    return 0;
}

/* Walks the open part of the tree into v->rows. */
static int build_rows(view *v)
{
    tree_node *root = tree_root(v->tr);
    size_t n = 0;
    view_row r = {0, 0, 0};
    if (push_row(v, &n, &r))
        return -1;
    tree_node *x = v->expanded[0] ? root->child : NULL;
    uint32_t depth = 1;
    while (x) {
        if (node_shown(v, x)) {
            tree_node *last = chain_last(v, x);
            r.first = (uint32_t)node_idx(v, x);
            r.last = (uint32_t)node_idx(v, last);
            r.depth = depth;
            if (push_row(v, &n, &r))
                return -1;
            if (v->expanded[r.last] && last->child) {
                x = last->child;
                depth++;
                continue;
            }
        }
        /* next sibling, or climb to the enclosing row's next sibling */
        while (x && !x->next) {
            x = x->parent;
            if (!x || !x->parent)
                return (v->nrows = n), 0;
            x = (tree_node *)chain_first(v, x);
            depth--;
        }
        if (x)
            x = x->next;
    }
    v->nrows = n;
    return 0;
}

size_t view_find_row(const view *v, const tree_node *n)
{
    size_t i = node_idx(v, n);
    for (size_t k = 0; k < v->nrows; k++)
        if (v->rows[k].first <= i && i <= v->rows[k].last)
            return k;
    return SIZE_MAX;
}

static void clamp_scroll(view *v)
{
    if (v->cursor >= v->nrows)
        v->cursor = v->nrows - 1;
    if (v->cursor < v->top)
        v->top = v->cursor;
    if (v->cursor >= v->top + v->height)
        v->top = v->cursor - v->height + 1;
    if (v->nrows > v->height && v->top > v->nrows - v->height)
        v->top = v->nrows - v->height;
    if (v->nrows <= v->height)
        v->top = 0;
}

/* Rebuilds and puts the cursor back on node `keep` (or an ancestor),
 * at the same screen offset where possible. */
static int rebuild_keep(view *v, const tree_node *keep)
{
    size_t off = v->cursor >= v->top ? v->cursor - v->top : 0;
    if (build_rows(v))
        return -1;
    size_t row = SIZE_MAX;
    for (const tree_node *n = keep; n && row == SIZE_MAX; n = n->parent)
        row = view_find_row(v, n);
    v->cursor = row == SIZE_MAX ? 0 : row;
    v->top = v->cursor >= off ? v->cursor - off : 0;
    clamp_scroll(v);
    return 0;
}

static tree_node *cursor_node(const view *v)
{
    return v->nrows ? &v->tr->nodes[v->rows[v->cursor].first]
                    : tree_root(v->tr);
}

int view_refresh(view *v)
{
    return rebuild_keep(v, cursor_node(v));
}

static void compute_ranks(view *v)
{
    tree_node *root = tree_root(v->tr);
    uint32_t k = 0;
    for (tree_node *n = root; n; n = tree_dfs_next(n, root))
        v->rank[node_idx(v, n)] = k++;
}

/* The match roots in display order (needs mcount). */
static void compute_roots(view *v)
{
    tree_node *root = tree_root(v->tr);
    size_t k = 0;
    tree_node *n = root;
    while (n) {
        uint32_t c = v->mcount[node_idx(v, n)];
        if (c == 0) {
            n = skip_subtree(n, root);
        } else if (c == n->tensors) {
            v->roots[k++] = (uint32_t)node_idx(v, n);
            n = skip_subtree(n, root);
        } else {
            n = tree_dfs_next(n, root);
        }
    }
    v->nroots = k;
}

int view_init(view *v, tree *tr)
{
    memset(v, 0, sizeof *v);
    v->tr = tr;
    v->fold = 1;
    v->height = 1;
    if (!tree_root(tr))
        return err_set("view of an empty tree");
    v->expanded = calloc(tr->count, 1);
    v->mcount = calloc(tr->count, sizeof *v->mcount);
    v->rank = calloc(tr->count, sizeof *v->rank);
    v->roots = calloc(tr->count, sizeof *v->roots);
    if (!v->expanded || !v->mcount || !v->rank || !v->roots) {
        view_free(v);
        return err_set("out of memory for a view of %zu nodes", tr->count);
    }
    v->expanded[0] = 1;
    compute_ranks(v);
    if (build_rows(v)) {
        view_free(v);
        return -1;
    }
    return 0;
}

void view_free(view *v)
{
    if (!v)
        return;
    free(v->expanded);
    free(v->rows);
    free(v->mcount);
    free(v->roots);
    free(v->rank);
    memset(v, 0, sizeof *v);
}

int view_refresh_order(view *v)
{
    compute_ranks(v);
    if (v->has_matches)
        compute_roots(v);
    return view_refresh(v);
}

int view_row_expandable(const view *v, const view_row *r)
{
    return v->tr->nodes[r->last].child != NULL;
}

int view_row_expanded(const view *v, const view_row *r)
{
    return view_row_expandable(v, r) && v->expanded[r->last];
}

void view_set_height(view *v, size_t height)
{
    v->height = height ? height : 1;
    clamp_scroll(v);
}

void view_move_to(view *v, size_t row)
{
    v->cursor = row < v->nrows ? row : v->nrows - 1;
    clamp_scroll(v);
}

void view_move(view *v, long delta)
{
    size_t c = v->cursor;
    if (delta < 0)
        c = (size_t)-delta > c ? 0 : c - (size_t)-delta;
    else
        c = (size_t)delta >= v->nrows - c ? v->nrows - 1 : c + (size_t)delta;
    view_move_to(v, c);
}

void view_scroll(view *v, long delta)
{
    size_t maxtop = v->nrows > v->height ? v->nrows - v->height : 0;
    size_t t = v->top;
    if (delta < 0)
        t = (size_t)-delta > t ? 0 : t - (size_t)-delta;
    else
        t = (size_t)delta >= maxtop - t ? maxtop : t + (size_t)delta;
    v->top = t;
    if (v->cursor < t)
        v->cursor = t;
    if (v->cursor >= t + v->height)
        v->cursor = t + v->height - 1;
    clamp_scroll(v);
}

static int set_open(view *v, int open)
{
    const view_row *r = view_cursor_row(v);
    if (!view_row_expandable(v, r) || v->expanded[r->last] == open)
        return 0;
    v->expanded[r->last] = (uint8_t)open;
    if (view_refresh(v)) {
        v->expanded[r->last] = (uint8_t)!open;
        return -1;
    }
    return 0;
}

int view_expand(view *v)
{
    return set_open(v, 1);
}

int view_collapse(view *v)
{
    if (v->cursor == 0)
        return 0; /* the root stays open */
    return set_open(v, 0);
}

void view_parent(view *v)
{
    const view_row *r = view_cursor_row(v);
    const tree_node *p = v->tr->nodes[r->first].parent;
    if (!p)
        return;
    size_t pi = node_idx(v, p);
    for (size_t k = v->cursor; k-- > 0;)
        if (v->rows[k].last == pi) {
            view_move_to(v, k);
            return;
        }
}

int view_collapse_or_parent(view *v)
{
    if (view_row_expanded(v, view_cursor_row(v)) && v->cursor > 0)
        return view_collapse(v);
    view_parent(v);
    return 0;
}

int view_expand_all(view *v)
{
    memset(v->expanded, 1, v->tr->count);
    return view_refresh(v);
}

int view_collapse_all(view *v)
{
    tree_node *keep = cursor_node(v);
    memset(v->expanded, 0, v->tr->count);
    v->expanded[0] = 1;
    return rebuild_keep(v, keep);
}

int view_set_filter(view *v, view_filter f)
{
    if ((unsigned)f >= VIEW_FILTER_COUNT)
        return err_set("unknown filter %d", (int)f);
    view_filter old = v->filter;
    v->filter = f;
    if (view_refresh(v)) {
        v->filter = old;
        return -1;
    }
    return 0;
}

int view_set_sort(view *v, tree_sort_mode mode)
{
    if (tree_sort(v->tr, mode))
        return -1;
    return view_refresh_order(v);
}

int view_set_matches(view *v, const bitset *m)
{
    const tree *tr = v->tr;
    v->has_matches = 0;
    v->match_tensors = 0;
    v->match_numel = 0;
    v->nroots = 0;
    if (!m)
        return v->filter == VIEW_MATCHES ? view_refresh(v) : 0;
    if (m->n != tr->t->count)
        return err_set("match set of %zu bits for %zu tensors", m->n,
                       tr->t->count);
    memset(v->mcount, 0, tr->count * sizeof *v->mcount);
    for (size_t w = 0; w < m->n / 64 + 1; w++) {
        uint64_t bits = m->w[w];
        while (bits) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (i >= tr->t->count || tr->leaf[i] == TREE_NONE)
                continue;
            v->mcount[tr->leaf[i]]++;
            v->match_numel += table_at(tr->t, i)->numel;
        }
    }
    for (size_t i = tr->count; i-- > 1;)
        v->mcount[node_idx(v, tr->nodes[i].parent)] += v->mcount[i];
    v->match_tensors = v->mcount[0];
    v->has_matches = 1;
    compute_roots(v);
    return v->filter == VIEW_MATCHES ? view_refresh(v) : 0;
}

int view_goto_node(view *v, const tree_node *n)
{
    for (const tree_node *p = n->parent; p; p = p->parent)
        v->expanded[node_idx(v, p)] = 1;
    if (!node_shown(v, n))
        v->filter = VIEW_ALL;
    if (build_rows(v))
        return -1;
    size_t row = view_find_row(v, n);
    v->cursor = row == SIZE_MAX ? 0 : row;
    /* bring it to the middle of the screen when it was off screen */
    if (v->cursor < v->top || v->cursor >= v->top + v->height)
        v->top = v->cursor > v->height / 2 ? v->cursor - v->height / 2 : 0;
    clamp_scroll(v);
    return 0;
}

int view_next_match(view *v, int dir)
{
    if (!v->has_matches || v->nroots == 0)
        return 0;
    const view_row *r = view_cursor_row(v);
    uint32_t ref = v->rank[dir > 0 ? r->last : r->first];
    /* first root whose rank is > ref (roots are in rank order) */
    size_t lo = 0, hi = v->nroots;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->rank[v->roots[mid]] <= ref)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t k;
    if (dir > 0) {
        k = lo < v->nroots ? lo : 0;
    } else {
        /* last root whose rank is < ref */
        size_t j = lo;
        while (j > 0 && v->rank[v->roots[j - 1]] >= ref)
            j--;
        k = j > 0 ? j - 1 : v->nroots - 1;
    }
    if (view_goto_node(v, &v->tr->nodes[v->roots[k]]))
        return -1;
    return 1;
}

const char *view_filter_name(view_filter f)
{
    static const char *const names[] = {"all", "frozen", "trainable",
                                        "matches"};
    return (unsigned)f < VIEW_FILTER_COUNT ? names[f] : "?";
}
