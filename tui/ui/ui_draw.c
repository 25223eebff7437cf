/* ui_draw.c: immediate-mode drawing (ncdu's browse_draw): every frame
 * erases and paints the whole screen from the model: the header, the
 * tree pane (one row per visible view row, built by column painters),
 * the memory panel and the status line. Boxes paint on top.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/ckpt_note.h"
#include "../core/human.h"
#include "../core/err.h"
#include "../core/session_stage.h"
#include "../core/utf8.h"
#include "ui_impl.h"

int ui_width(const char *s, size_t len)
{
    int w = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            w++;
    return w;
}

int ui_put(const ui *u, const char *s, size_t len, int width)
{
    int cols = 0;
    size_t i = 0;
    while (i < len && cols < width) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            addch(c < 0x20 || c == 0x7f ? '?' : c);
            i++;
        } else {
            size_t n = utf8_valid_prefix((const unsigned char *)s + i,
                                         len - i);
            if (n == 0) {
                addch('?');
                i++;
            } else {
                if (u->utf8)
                    addnstr(s + i, (int)n);
                else
                    addch('?');
                i += n;
            }
        }
        cols++;
    }
    return cols;
}

static int put_str(const ui *u, const char *s, int width)
{
    return ui_put(u, s, strlen(s), width);
}

/* Prints s right-aligned in a field of `width` columns. */
static void put_right(const ui *u, const char *s, int width)
{
    int w = ui_width(s, strlen(s));
    for (int i = w; i < width; i++)
        addch(' ');
    put_str(u, s, width);
}

static void fill(int n)
{
    for (int i = 0; i < n; i++)
        addch(' ');
}

void ui_message(ui *u, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->msg, sizeof u->msg, fmt, ap);
    va_end(ap);
    u->msg_err = err;
}

static const char *base_name(const char *p)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", p);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    const char *slash = strrchr(buf, '/');
    return slash && slash[1] ? slash + 1 : buf;
}

/* --- the estimate --- */

void ui_update_estimate(ui *u)
{
    session *s = u->s;
    uint64_t gen = freeze_generation(&s->fs);
    if (u->est_ok && u->est_gen == gen && u->est_shown == s->shown_gen &&
        u->est_opt == (int)s->optimizer && u->est_prec == (int)s->precision)
        return;
    u->est_ok = session_estimate_stage(s, s->stage, &u->est) == 0;
    if (!u->est_ok)
        ui_message(u, 1, "estimate: %s", err_msg());
    u->est_gen = gen;
    u->est_shown = s->shown_gen;
    u->est_opt = (int)s->optimizer;
    u->est_prec = (int)s->precision;
}

/* --- the header --- */

static void draw_header(ui *u)
{
    session *s = u->s;
    const tree_node *root = tree_root(&s->tr);
    char a[32], b[32], c[32], p1[16], p2[16], line[1024];
    move(0, 0);
    ui_color_set(u, UIC_HEADER);
    fill(u->cols);
    move(0, 0);
    snprintf(line, sizeof line, " tui  %s  %s, %s tensors, %s params, %s",
             base_name(s->checkpoint), s->t.format,
             human_count(u->tot.tensors, c, sizeof c),
             human_count(u->tot.parameter_numel, a, sizeof a),
             human_bytes(root->bytes, b, sizeof b));
    char note[256];
    for (int k = 0; k < 2; k++) /* a shard alone; a training checkpoint */
        if (k ? ckpt_note_training(&s->t, 1, note, sizeof note)
              : ckpt_note_shard(&s->t, 1, note, sizeof note)) {
            size_t n = strlen(line);
            snprintf(line + n, sizeof line - n, "  %s", note);
        }
    int unsaved = ui_unsaved(u);
    const char *mark = unsaved ? " [+] unsaved " : "";
    int mw = (int)strlen(mark);
    put_str(u, line, u->cols - mw);
    if (unsaved) {
        move(0, u->cols - mw);
        attron(A_BOLD);
        put_str(u, mark, mw);
    }
    uint64_t fr = root->frozen_numel, all = root->param_numel;
    snprintf(line, sizeof line,
             " trainable %s (%s)  frozen %s (%s)  filter %s  sort %s",
             human_count(all - fr, a, sizeof a),
             human_percent(all - fr, all, p1, sizeof p1),
             human_count(fr, b, sizeof b),
             human_percent(fr, all, p2, sizeof p2),
             view_filter_name(u->v.filter),
             tree_sort_name(s->tr.sort));
    if (u->v.has_matches) {
        size_t n = strlen(line);
        snprintf(line + n, sizeof line - n, "  matches %s",
                 human_count(u->v.match_tensors, c, sizeof c));
    }
    char st[160];
    if (ui_stage_text(u, st, sizeof st)[0]) {
        size_t n = strlen(line);
        snprintf(line + n, sizeof line - n, "  %s", st);
    }
    move(1, 0);
    ui_color_set(u, UIC_NORMAL);
    put_str(u, line, u->cols);
}

/* --- the tree pane --- */

static enum ui_color state_color(tree_state st)
{
    switch (st) {
    case TREE_FROZEN: return UIC_FROZEN;
    case TREE_PARTIAL: return UIC_PARTIAL;
    case TREE_BUFFER: return UIC_BUFFER;
    default: return UIC_TRAINABLE;
    }
}

static void shape_text(const table *t, long i, char *buf, size_t cap)
{
    const uint64_t *sh = table_shape(t, (size_t)i);
    unsigned nd = table_at(t, (size_t)i)->ndim;
    size_t k = 0;
    buf[k++] = '[';
    for (unsigned d = 0; d < nd && k + 24 < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, d ? ", %llu" : "%llu",
                              (unsigned long long)sh[d]);
    snprintf(buf + k, cap - k, "]");
}

static void draw_bar(const ui *u, uint64_t part, uint64_t whole, int width,
                     attr_t attr)
{
    int inner = width - 3;
    int n = whole ? (int)((double)inner * (double)part / (double)whole + 0.5)
                  : 0;
    addch(' ' | attr);
    addch('[' | attr);
    for (int i = 0; i < inner; i++) {
        if (i < n) {
            if (u->utf8)
                addstr("\xe2\x96\x88"); /* full block */
            else
                addch('#');
        } else {
            addch(' ');
        }
    }
    addch(']' | attr);
}

/* --- tied weights (table_link_ties) --- */

/* The size columns of a tied duplicate (w columns): "tied -> FIRST",
 * right-aligned, keeping the end of a long name. */
static void draw_tie(const ui *u, size_t i, int w, attr_t rev)
{
    const table *t = &u->s->t;
    size_t f = table_tie_first(t, i);
    const char *name = table_name(t, f), *p = name;
    size_t len = table_at(t, f)->name_len;
    const char *head = u->utf8 ? "tied \xe2\x86\x92 " : "tied -> ";
    int hw = ui_width(head, strlen(head)), cut = 0;
    if (w < hw + 4) {
        attrset(ui_color_attr(u, UIC_DIM) | rev);
        put_right(u, "tied", w);
        return;
    }
    while (hw + ui_width(p, len - (size_t)(p - name)) + cut > w) {
        p++;
        while (((unsigned char)*p & 0xC0) == 0x80)
            p++;
        cut = 1;
    }
    int nw = ui_width(p, len - (size_t)(p - name));
    attrset(ui_color_attr(u, UIC_DIM) | rev);
    fill(w - hw - nw - cut);
    put_str(u, head, hw);
    attrset(A_NORMAL | rev);
    if (cut)
        put_str(u, u->utf8 ? "\xe2\x80\xa6" : "~", 1);
    ui_put(u, p, len - (size_t)(p - name), nw);
}

static void draw_row(ui *u, int y, size_t k, const ui_layout *L)
{
    session *s = u->s;
    const view_row *r = &u->v.rows[k];
    tree_node *n = view_row_node(&u->v, r);
    const tree_node *first = &s->tr.nodes[r->first];
    int sel = k == u->v.cursor;
    attr_t rev = sel ? A_REVERSE : 0;
    tree_state st = tree_node_state(n);
    static const char *marks[] = {"[ ]", "[x]", "[~]", "[b]"};
    char buf[4400], num[64], tmp[64];

    move(y, 0);
    attrset(ui_color_attr(u, state_color(st)) | rev);
    addstr(marks[st]);
    attrset(A_NORMAL | rev);
    addch(' ');
    /* name: indent, arrow, label */
    int x = 0, indent = (int)r->depth * 2;
    if (indent > L->name_w / 2)
        indent = L->name_w / 2;
    fill(indent);
    x += indent;
    const char *arrow = "  ";
    if (view_row_expandable(&u->v, r)) {
        if (view_row_expanded(&u->v, r))
            arrow = u->utf8 ? "\xe2\x96\xbe " : "- ";
        else
            arrow = u->utf8 ? "\xe2\x96\xb8 " : "+ ";
    }
    x += put_str(u, arrow, L->name_w - x);
    const char *label;
    size_t llen;
    if (!first->parent) {
        label = base_name(s->checkpoint);
        llen = strlen(label);
    } else {
        size_t full = tree_node_path(&s->tr, n, buf, sizeof buf - 2);
        if (full > sizeof buf - 3)
            full = sizeof buf - 3;
        size_t skip = first->parent->parent ? first->parent->path_len + 1 : 0;
        if (skip > full)
            skip = full;
        if (n->child) {
            buf[full++] = '/';
            buf[full] = '\0';
        }
        label = buf + skip;
        llen = full - skip;
    }
    const table_tensor *tt = n->tensor >= 0
                                 ? table_at(&s->t, (size_t)n->tensor)
                                 : NULL;
    int alias = tt && (tt->flags & TF_ALIAS);
    static const char tag[] = " (tied)";
    int tw = 0, room = L->name_w - x;
    if (tt && !alias && tt->tie != (uint32_t)n->tensor) {
        /* the first of a tie group (Enter lists the others): room is
         * kept for the tag unless the name would get too short; then it
         * shows only when the whole name fits before it */
        tw = (int)sizeof tag - 1;
        if (room - tw < 12 && ui_width(label, llen) + tw > room)
            tw = 0;
        room -= tw;
    }
    uint32_t mc = view_node_matches(&u->v, n);
    if (mc && mc == n->tensors)
        attrset(ui_color_attr(u, UIC_MATCH) | rev);
    else if (mc)
        attrset(A_UNDERLINE | rev);
    int lw = ui_width(label, llen);
    if (lw > room && room > 1) {
        /* keep the end of long names: the last segments tell most */
        const char *p = label;
        while (ui_width(p, llen - (size_t)(p - label)) > room - 1)
            p++;
        while (((unsigned char)*p & 0xC0) == 0x80)
            p++;
        put_str(u, u->utf8 ? "\xe2\x80\xa6" : "~", 1);
        x += 1 + ui_put(u, p, llen - (size_t)(p - label), room - 1);
    } else {
        x += ui_put(u, label, llen, room);
    }
    attrset(A_NORMAL | rev);
    if (tw) {
        attrset(ui_color_attr(u, UIC_DIM) | rev);
        x += put_str(u, tag, tw);
        attrset(A_NORMAL | rev);
    }
    if (ui_stats_flag(u, n) && L->name_w - x > 9) {
        /* S found NaN or Inf in it */
        attrset(ui_color_attr(u, UIC_ERROR) | rev);
        x += put_str(u, " NaN/Inf", 8);
        attrset(A_NORMAL | rev);
    }
    fill(L->name_w - x);
    int cols_w = L->shape_w + L->dtype_w + L->params_w +
                 (L->bytes_w ? L->bytes_w - 1 : 0);
    if (alias && cols_w > 0) {
        /* a tied duplicate: its size counts at the first name */
        draw_tie(u, (size_t)n->tensor, cols_w, rev);
        attrset(A_NORMAL | rev);
    } else {
        /* shape, dtype */
        if (L->shape_w) {
            if (n->tensor >= 0)
                shape_text(&s->t, n->tensor, tmp, sizeof tmp);
            else
                snprintf(tmp, sizeof tmp, "%s tensors",
                         human_count(n->tensors, num, sizeof num));
            if (n->tensor < 0)
                attrset(ui_color_attr(u, UIC_DIM) | rev);
            put_right(u, tmp, L->shape_w - 1);
            addch(' ');
            attrset(A_NORMAL | rev);
        }
        if (L->dtype_w) {
            const char *dt = tt ? dtype_name((dtype)tt->dtype) : "";
            put_right(u, dt, L->dtype_w - 1);
            addch(' ');
        }
        if (L->params_w) {
            /* buffers only: their elements, dimmed, as --list counts */
            uint64_t cnt = st == TREE_BUFFER ? n->numel : n->param_numel;
            human_count(cnt, num, sizeof num);
            if ((int)strlen(num) > L->params_w - 1)
                snprintf(num, sizeof num, "%.1fG", (double)cnt / 1e9);
            if (st == TREE_BUFFER)
                attrset(ui_color_attr(u, UIC_BUFFER) | rev);
            put_right(u, num, L->params_w - 1);
            addch(' ');
            attrset(A_NORMAL | rev);
        }
        if (L->bytes_w) {
            human_bytes(n->bytes, num, sizeof num);
            put_right(u, num, L->bytes_w - 1);
        }
    }
    if (L->thaw_w) {
        ui_stage_thaw_cell(u, n, tmp, sizeof tmp);
        put_right(u, tmp, L->thaw_w);
    }
    if (L->lr_w) {
        ui_stage_lr_cell(u, n, tmp, sizeof tmp);
        put_right(u, tmp, L->lr_w);
    }
    if (L->score_w) {
        ui_score_cell(u, n, tmp, sizeof tmp);
        put_right(u, tmp, L->score_w);
    }
    if (L->bar_w) /* as ncdu: against the largest of its siblings */
        draw_bar(u, n->bytes, tree_sibling_max_bytes(first), L->bar_w,
                 ui_color_attr(u, state_color(st)) | rev);
    int cy, cx;
    getyx(stdscr, cy, cx);
    (void)cy;
    if (cx < u->cols && cx > 0)
        fill(u->cols - cx);
    attrset(A_NORMAL);
}

/* The column headers on line y, then the rows under them. */
static void draw_tree(ui *u, int y, int h)
{
    ui_layout L;
    ui_make_layout(u, &L);
    ui_draw_column_heads(u, y, &L);
    y++;
    h--;
    u->tree_y = y;
    u->tree_h = h;
    view_set_height(&u->v, (size_t)h);
    for (int i = 0; i < h; i++) {
        size_t k = u->v.top + (size_t)i;
        if (k >= u->v.nrows)
            break;
        draw_row(u, y + i, k, &L);
    }
}

/* --- the memory panel --- */

static void panel_line(ui *u, int y, const char *name, uint64_t before,
                       uint64_t after, uint64_t scale, int bw)
{
    char a[32], b[32], c[48];
    move(y, 0);
    ui_color_set(u, UIC_NORMAL);
    put_str(u, name, 11);
    fill(11 - (int)strlen(name));
    put_right(u, human_bytes(before, a, sizeof a), 11);
    if (bw > 4)
        draw_bar(u, before, scale, bw, A_NORMAL);
    put_right(u, human_bytes(after, b, sizeof b), 11);
    if (bw > 4)
        draw_bar(u, after, scale, bw, ui_color_attr(u, UIC_TRAINABLE));
    if (before > after)
        snprintf(c, sizeof c, "-%s", human_bytes(before - after, a,
                                                      sizeof a));
    else
        snprintf(c, sizeof c, "%s", before == after ? "-" : "+");
    put_right(u, c, 13);
}

static void draw_panel(ui *u, int y, int h)
{
    session *s = u->s;
    char a[32], b[32], c[32], d[32], g[32], p1[16], p2[16], line[512];
    ui_update_estimate(u);
    const mem_estimate *e = &u->est;
    const char *opt = memory_optimizer_name(s->optimizer);
    const char *prec = memory_precision_name(s->precision);
    if (!u->est_ok) {
        move(y, 0);
        ui_color_set(u, UIC_ERROR);
        put_str(u, "memory: no estimate", u->cols);
        return;
    }
    uint64_t bt = e->before.total, at = e->after.total;
    if (h < UI_PANEL_ROWS) {
        char stg[32] = "";
        if (session_stage_count(s) > 1)
            snprintf(stg, sizeof stg, " (stage %zu)", s->stage);
        snprintf(line, sizeof line, " memory %s/%s: %s -> %s%s, saves %s%s%s",
                 opt, prec, human_bytes(bt, a, sizeof a),
                 human_bytes(at, b, sizeof b), stg,
                 memory_saved_text(bt, at, c, sizeof c),
                 ui_measure_running(u) ? "  measuring activations (a "
                                         "cancels)"
                                       : "",
                 u->panel_folded ? "  (M unfolds)" : "");
        move(y, 0);
        ui_color_set(u, UIC_HEADER);
        fill(u->cols);
        move(y, 0);
        put_str(u, line, u->cols);
        return;
    }
    move(y, 0);
    ui_color_set(u, UIC_HEADER);
    fill(u->cols);
    move(y, 0);
    uint64_t world = s->has_base ? s->base.train.world_size : PLAN_UNSET;
    char per[48] = "";
    if (world != PLAN_UNSET && world > 1)
        snprintf(per, sizeof per, "  per process (x%llu)",
                 (unsigned long long)world);
    char peak[128] = "";
    size_t pk;
    uint64_t ptot;
    if (session_stage_count(s) > 1 && session_stage_peak(s, &pk, &ptot) == 0)
        snprintf(peak, sizeof peak, "  stage %zu ([ ]); peak %s at stage %zu",
                 s->stage, human_bytes(ptot, a, sizeof a), pk);
    snprintf(line, sizeof line,
             " memory  optimizer %s (o)  precision %s (P)  M folds%s%s", opt,
             prec, per, peak);
    put_str(u, line, u->cols);
    int bw = (u->cols - 46) / 2;
    if (bw > 30)
        bw = 30;
    move(y + 1, 0);
    ui_color_set(u, UIC_DIM);
    snprintf(line, sizeof line, "%-11s%11s", "", "all trainable");
    put_str(u, line, u->cols);
    move(y + 1, 22 + (bw > 4 ? bw : 0));
    char sh[32] = "this plan";
    if (session_stage_count(s) > 1)
        snprintf(sh, sizeof sh, "stage %zu", s->stage);
    put_right(u, sh, 11);
    if (22 + 2 * (bw > 4 ? bw : 0) + 24 <= u->cols) {
        move(y + 1, 22 + 2 * (bw > 4 ? bw : 0) + 11);
        put_right(u, "saved", 13);
    }
    uint64_t scale = bt ? bt : 1;
    panel_line(u, y + 2, "weights", e->before.weights, e->after.weights,
               scale, bw);
    panel_line(u, y + 3, "master", e->before.master, e->after.master, scale,
               bw);
    panel_line(u, y + 4, "gradients", e->before.gradients,
               e->after.gradients, scale, bw);
    panel_line(u, y + 5, "optimizer", e->before.optimizer,
               e->after.optimizer, scale, bw);
    panel_line(u, y + 6, "buffers", e->before.buffers, e->after.buffers,
               scale, bw);
    panel_line(u, y + 7, "total", bt, at, scale, bw);
    move(y + 8, 0);
    ui_color_set(u, ui_measure_row(u, line, sizeof line));
    put_str(u, line, u->cols);
    move(y + 9, 0);
    ui_color_set(u, UIC_NORMAL);
    snprintf(line, sizeof line,
             " trainable %s of %s parameters (%s) in %s of %s tensors;"
             " saves %s (%s)",
             human_count(e->after.trainable_numel, a, sizeof a),
             human_count(e->param_numel, b, sizeof b),
             human_percent(e->after.trainable_numel, e->param_numel, p1,
                           sizeof p1),
             human_count(e->after.trainable_tensors, c, sizeof c),
             human_count(e->param_tensors, d, sizeof d),
             human_bytes(bt > at ? bt - at : 0, g, sizeof g),
             memory_saved_text(bt, at, p2, sizeof p2));
    put_str(u, line, u->cols);
}

/* --- the status line --- */

int ui_draw_marks(ui *u, int y)
{
    if (!u->s->foreign_plan)
        return 0;
    const char *m = u->cols >= 80 ? " ! plan made for another checkpoint "
                                  : " ! foreign plan ";
    int w = (int)strlen(m);
    if (w + 8 > u->cols)
        return 0;
    move(y, u->cols - w);
    ui_color_set(u, UIC_WARN);
    put_str(u, m, w);
    ui_color_set(u, UIC_NORMAL);
    return w + 1;
}

/* The message (or the breadcrumb and the key hints), left of the
 * persistent marks. */
static void draw_status(ui *u, int y)
{
    int w = u->cols - ui_draw_marks(u, y);
    move(y, 0);
    if (u->msg[0]) {
        ui_color_set(u, u->msg_err ? UIC_ERROR : UIC_NORMAL);
        put_str(u, u->msg, w);
        ui_color_set(u, UIC_NORMAL);
        return;
    }
    /* the breadcrumb: the selected row's full name, then the hints */
    char crumb[TABLE_MAX_NAME + 2];
    int x = 0;
    if (ui_breadcrumb(u, crumb, sizeof crumb) > 0) {
        ui_color_set(u, UIC_NORMAL);
        attron(A_BOLD);
        x = put_str(u, crumb, w);
        attroff(A_BOLD);
        if (x + 2 < w) {
            addstr("  ");
            x += 2;
        }
    }
    ui_color_set(u, UIC_DIM);
    put_str(u, "space toggle  f/F freeze/unfreeze  p presets  u undo  "
               "/ search  o optimizer  w save  ? help  q quit", w - x);
    ui_color_set(u, UIC_NORMAL);
}

static void draw_too_small(ui *u)
{
    char line[64];
    ui_color_set(u, UIC_ERROR);
    mvaddnstr(u->rows / 2 > 0 ? u->rows / 2 - 1 : 0, 0,
              "terminal too small", u->cols);
    snprintf(line, sizeof line, "%dx%d, need %dx%d", u->cols, u->rows,
             UI_MIN_COLS, UI_MIN_ROWS);
    ui_color_set(u, UIC_NORMAL);
    if (u->rows > 1)
        mvaddnstr(u->rows / 2, 0, line, u->cols);
    if (u->rows > 2)
        mvaddnstr(u->rows / 2 + 1, 0, "q quits", u->cols);
}

void ui_draw(ui *u)
{
    erase();
    if (u->cols < UI_MIN_COLS || u->rows < UI_MIN_ROWS) {
        draw_too_small(u);
        return;
    }
    int panel_h =
        u->rows >= UI_PANEL_MIN_ROWS && !u->panel_folded ? UI_PANEL_ROWS : 1;
    int tree_h = u->rows - 2 - panel_h - 1; /* column headers included */
    draw_header(u);
    draw_tree(u, 2, tree_h);
    draw_panel(u, 2 + tree_h, panel_h);
    draw_status(u, u->rows - 1);
}
