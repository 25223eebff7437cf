/* ui_columns.c: the tree pane's columns: their widths for the screen
 * (ui_make_layout), the header line over them, which names each column
 * and shows the sort order (as htop's and ncdu's headers do), and the
 * breadcrumb: the full dotted name of the selected row, in the status
 * line; the score column, from the checkpoint's score cache (`tui --rank
 * snr` fills it).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/score_cache.h"
#include "../core/session_stage.h"
#include "ui_impl.h"

void ui_make_layout(ui *u, ui_layout *L)
{
    int w = u->cols - 4; /* the mark */
    L->thaw_w = session_stage_count(u->s) > 1 && w >= 60 ? 7 : 0;
    L->lr_w = w >= 60 && ui_stage_update_lr(u) ? 13 : 0;
    L->score_w = u->score_node && w >= 60 ? 10 : 0;
    w -= L->thaw_w + L->lr_w + L->score_w;
    L->bytes_w = 11;
    L->params_w = w >= 60 ? 16 : 0;
    L->bar_w = w >= 70 ? 12 : 0;
    L->dtype_w = w >= 85 ? 9 : 0;
    L->shape_w = w >= 95 ? 19 : 0;
    L->name_w = w - L->bytes_w - L->params_w - L->bar_w - L->dtype_w -
                L->shape_w;
    if (L->name_w < 8) {
        L->bytes_w = 0;
        L->name_w = w;
    }
}

/* A column's title right-aligned in `width` columns, then a space (the
 * gap the rows leave after the column); the sorted column is marked. */
static void head(const ui *u, const char *title, int width, int gap,
                 int sorted)
{
    char buf[32];
    if (width <= 0)
        return;
    snprintf(buf, sizeof buf, "%s%s", sorted ? (u->utf8 ? "\xe2\x96\xbe" : "v")
                                             : "",
             title);
    int tw = ui_width(buf, strlen(buf)), room = width - gap;
    for (int i = tw; i < room; i++)
        addch(' ');
    ui_put(u, buf, strlen(buf), room);
    if (gap)
        addch(' ');
}

void ui_draw_column_heads(ui *u, int y, const ui_layout *L)
{
    tree_sort_mode m = u->s->tr.sort;
    char name[96];
    move(y, 0);
    ui_color_set(u, UIC_DIM);
    for (int i = 0; i < u->cols; i++)
        addch(' ');
    move(y, 0);
    addstr("    ");
    /* the longest form that fits: "(sorted by checkpoint order; s
     * sorts)", "(by checkpoint order)", or the title alone */
    const char *by = m == TREE_SORT_FILE ? "checkpoint order"
                                         : tree_sort_name(m);
    snprintf(name, sizeof name, "name  (sorted by %s%s; s sorts)", by,
             m == TREE_SORT_NAME ? ", natural" : "");
    if (ui_width(name, strlen(name)) > L->name_w - 1)
        snprintf(name, sizeof name, "name  (by %s)", by);
    if (ui_width(name, strlen(name)) > L->name_w - 1)
        snprintf(name, sizeof name, "name");
    int nw = ui_put(u, name, strlen(name), L->name_w - 1);
    for (int i = nw; i < L->name_w; i++)
        addch(' ');
    head(u, "shape", L->shape_w, 1, 0);
    head(u, "dtype", L->dtype_w, 1, 0);
    head(u, "params", L->params_w, 1, 0);
    head(u, "size", L->bytes_w - 1, 0, m == TREE_SORT_SIZE);
    head(u, "thaws", L->thaw_w, 0, 0);
    head(u, "lr", L->lr_w, 0, 0);
    head(u, "score", L->score_w, 0, 0);
    if (L->bar_w) /* each bar against the row's largest sibling */
        ui_put(u, "  share", 7, L->bar_w);
    ui_color_set(u, UIC_NORMAL);
}

int ui_breadcrumb(const ui *u, char *buf, size_t cap)
{
    const view_row *r = view_cursor_row(&u->v);
    const tree_node *n = view_row_node(&u->v, r);
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    if (!u->v.tr->nodes[r->first].parent)
        return 0; /* the root: the header names the checkpoint */
    size_t len = tree_node_path(u->v.tr, n, buf, cap);
    if (len >= cap)
        len = cap - 1;
    if (n->child && len + 1 < cap) {
        buf[len++] = '/';
        buf[len] = '\0';
    }
    return (int)len;
}

/* max that skips NaN (NaN: none yet) */
static double upto(double a, double b)
{
    return isnan(a) || b > a ? b : a;
}

void ui_scores_load(ui *u)
{
    const tree *tr = &u->s->tr;
    score_cache c;
    double *all = NULL, *mat = NULL;
    if (score_cache_open(&c, &u->s->t))
        return;
    int rc = score_cache_load(&c, &u->s->t);
    if (rc < 0)
        ui_message(u, 0, "%s", err_msg()); /* stale or damaged */
    if (rc > 0) {
        all = malloc((tr->count ? tr->count : 1) * sizeof *all);
        mat = malloc((tr->count ? tr->count : 1) * sizeof *mat);
    }
    if (all && mat) {
        for (size_t j = 0; j < tr->count; j++) {
            long i = tr->nodes[j].tensor;
            all[j] = mat[j] = NAN;
            if (i >= 0 && bitset_get(&c.have, (size_t)i)) {
                all[j] = c.e[i].score;
                if (c.e[i].m > 1)
                    mat[j] = c.e[i].score;
            }
        }
        /* pre-order: every node comes after its parent */
        for (size_t j = tr->count; j-- > 1;) {
            size_t p = (size_t)(tr->nodes[j].parent - tr->nodes);
            all[p] = upto(all[p], all[j]);
            mat[p] = upto(mat[p], mat[j]);
        }
        for (size_t j = 0; j < tr->count; j++)
            if (tr->nodes[j].child && !isnan(mat[j]))
                all[j] = mat[j]; /* a module: its matrices */
        u->score_node = all;
        all = NULL;
    }
    free(all);
    free(mat);
    score_cache_free(&c);
}

void ui_score_cell(const ui *u, const tree_node *n, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (!u->score_node)
        return;
    double v = u->score_node[n - u->s->tr.nodes];
    if (isinf(v))
        snprintf(buf, cap, "inf");
    else if (!isnan(v))
        snprintf(buf, cap, "%.4g", v);
}

void ui_scores_free(ui *u)
{
    free(u->score_node);
    u->score_node = NULL;
}
