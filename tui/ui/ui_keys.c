/* ui_keys.c: ui_run, the main loop, and the key table (nnn's bindings as
 * data; htop's handlers returning reaction flags that the loop applies).
 * Every change goes through session_*() so the command line can do the
 * same thing; the editor only adds the view and the screen.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/human.h"
#include "../core/err.h"
#include "../core/session_stage.h"
#include "ui_impl.h"

typedef int (*ui_action)(ui *u);

/* --- moving --- */

static int act_up(ui *u) { view_move(&u->v, -1); return R_REDRAW; }
static int act_down(ui *u) { view_move(&u->v, 1); return R_REDRAW; }
static int act_top(ui *u) { view_move_to(&u->v, 0); return R_REDRAW; }

static int act_bottom(ui *u)
{
    view_move_to(&u->v, u->v.nrows - 1);
    return R_REDRAW;
}

static int act_pgup(ui *u)
{
    view_move(&u->v, -(long)(u->v.height > 1 ? u->v.height - 1 : 1));
    return R_REDRAW;
}

static int act_pgdn(ui *u)
{
    view_move(&u->v, (long)(u->v.height > 1 ? u->v.height - 1 : 1));
    return R_REDRAW;
}

static int check(ui *u, int rc)
{
    if (rc < 0)
        ui_message(u, 1, "%s", err_msg());
    return R_REDRAW;
}

/* Lists at most this many names of a tie group in the tensor box. */
#define TIE_NAMES 16

/* printf-style append to text (k bytes used of cap, cap > 0), clamped:
 * a text that does not fit is cut. Returns the new length (< cap). */
static size_t append(char *text, size_t k, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t append(char *text, size_t k, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (k + 1 >= cap)
        return k;
    va_start(ap, fmt);
    int n = vsnprintf(text + k, cap - k, fmt, ap);
    va_end(ap);
    if (n < 0)
        return k;
    return k + (size_t)n < cap ? k + (size_t)n : cap - 1;
}

/* Appends the tie group of tensor i to text (k bytes used of cap): its
 * names along the group's cycle from the first (where its elements and
 * bytes count), i marked. Returns the new length. */
static size_t tie_text(const table *t, size_t i, char *text, size_t k,
                       size_t cap)
{
    size_t first = table_tie_first(t, i), n = 1, shown = 0;
    for (size_t j = table_at(t, i)->tie; j != i; j = table_at(t, j)->tie)
        n++;
    k = append(text, k, cap, "\n\ntied    one tensor under %zu names; "
               "freezing one freezes all", n);
    size_t j = first;
    do {
        k = append(text, k, cap, "\n  %s %s%s", j == i ? ">" : " ",
                   table_name(t, j), j == first ? "  (counted here)" : "");
        j = table_at(t, j)->tie;
    } while (++shown < TIE_NAMES && j != first);
    if (shown < n)
        k = append(text, k, cap, "\n  ... and %zu more", n - shown);
    return k;
}

/* Shows what a tensor is (Enter on a leaf); a tied one lists its
 * group. */
static void show_tensor(ui *u, long i)
{
    const table *t = &u->s->t;
    const table_tensor *x = table_at(t, (size_t)i);
    char text[9000], shape[512], a[32], b[32], once[TABLE_MAX_NAME + 40];
    size_t k = 0;
    shape[k++] = '[';
    for (unsigned d = 0; d < x->ndim && k + 24 < sizeof shape; d++)
        k += (size_t)snprintf(shape + k, sizeof shape - k,
                              d ? ", %llu" : "%llu",
                              (unsigned long long)table_shape(t, (size_t)i)[d]);
    snprintf(shape + k, sizeof shape - k, "]");
    once[0] = '\0';
    if (x->flags & TF_ALIAS)
        snprintf(once, sizeof once, " (counted once, at %s)",
                 table_name(t, table_tie_first(t, (size_t)i)));
    int n = snprintf(text, sizeof text,
             "%s\n\nshape   %s\ndtype   %s\nkind    %s\nstate   %s\n"
             "numel   %s%s\nbytes   %s%s\nfile    %s\noffset  %llu",
             table_name(t, (size_t)i), shape,
             dtype_name((dtype)x->dtype),
             table_kind_name((tensor_kind)x->kind),
             x->kind != TK_PARAMETER ? "never trained"
             : bitset_get(session_shown_frozen(u->s), (size_t)i) ? "frozen"
                                                                 : "trainable",
             human_count(x->numel, a, sizeof a), once,
             human_bytes(x->nbytes, b, sizeof b),
             once[0] ? " (shared)" : "",
             x->file < t->nfiles ? table_file_path(t, x->file) : "?",
             (unsigned long long)x->offset);
    k = n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    if (x->tie != (uint32_t)i && k + 200 < sizeof text)
        tie_text(t, (size_t)i, text, k, sizeof text);
    ui_show_text(u, "tensor", text);
}

static int act_expand(ui *u)
{
    const view_row *r = view_cursor_row(&u->v);
    if (!view_row_expandable(&u->v, r)) {
        tree_node *n = view_row_node(&u->v, r);
        if (n->tensor >= 0)
            show_tensor(u, n->tensor);
        return R_REDRAW;
    }
    if (view_row_expanded(&u->v, r)) {
        view_move(&u->v, 1);
        return R_REDRAW;
    }
    return check(u, view_expand(&u->v));
}

static int act_right(ui *u)
{
    const view_row *r = view_cursor_row(&u->v);
    if (view_row_expandable(&u->v, r) && !view_row_expanded(&u->v, r))
        return check(u, view_expand(&u->v));
    return R_REDRAW;
}

static int act_collapse(ui *u)
{
    return check(u, view_collapse_or_parent(&u->v));
}

static int act_parent(ui *u) { view_parent(&u->v); return R_REDRAW; }
static int act_expand_all(ui *u) { return check(u, view_expand_all(&u->v)); }

static int act_collapse_all(ui *u)
{
    return check(u, view_collapse_all(&u->v));
}

/* --- freezing --- */

static int act_toggle(ui *u)
{
    session *s = u->s;
    const view_row *r = view_cursor_row(&u->v);
    tree_node *n = &s->tr.nodes[r->first];
    tree_state st = tree_node_state(n);
    char path[TABLE_MAX_NAME + 1], pat[2 * TABLE_MAX_NAME + 8], a[32], b[32];
    if (st == TREE_BUFFER) {
        ui_message(u, 1, "buffers are never trained: nothing to freeze here");
        return R_REDRAW;
    }
    if (!n->parent) {
        snprintf(pat, sizeof pat, "**");
    } else {
        size_t len = tree_node_path(&s->tr, n, path, sizeof path);
        if (len >= sizeof path ||
            session_quote_pattern(path, len, pat, sizeof pat)) {
            ui_message(u, 1, "%s", err_msg());
            return R_REDRAW;
        }
    }
    plan_rule_kind kind = st == TREE_FROZEN ? PLAN_UNFREEZE : PLAN_FREEZE;
    session_result res;
    if (session_apply_rule(s, kind, pat, 0, &res)) {
        ui_message(u, 1, "%s", err_msg());
        return R_REDRAW;
    }
    ui_message(u, 0, "%s %s: %s tensors, %s parameters",
               kind == PLAN_FREEZE ? "froze" : "unfroze", pat,
               human_count(res.change.tensors_changed, a, sizeof a),
               human_count(res.change.numel_changed, b, sizeof b));
    return R_REDRAW | R_EDIT;
}

static int act_freeze(ui *u) { return ui_prompt_pattern(u, PLAN_FREEZE); }
static int act_unfreeze(ui *u) { return ui_prompt_pattern(u, PLAN_UNFREEZE); }
static int act_presets(ui *u)
{
    if (u->s->stage > 0) {
        ui_message(u, 1, "presets set the plan's own rules: [ goes back to "
                         "stage 0 (a later stage takes f, F and Space)");
        return R_REDRAW;
    }
    return ui_menu_presets(u);
}
static int act_stats(ui *u) { return ui_stats_key(u); }

/* The stage keys, one help line (ui_stage.c). */
static int act_stage(ui *u)
{
    switch (u->last_key) {
    case '[': return ui_stage_prev(u);
    case ']': return ui_stage_next(u);
    case '+': return ui_stage_add(u);
    case 'D': return ui_stage_delete(u);
    case 'L': return ui_stage_length(u);
    default: return ui_stage_lr(u);
    }
}

static int act_invert(ui *u)
{
    session_result r;
    char a[32];
    if (session_apply_rule(u->s, PLAN_INVERT, NULL, 0, &r)) {
        ui_message(u, 1, "%s", err_msg());
        return R_REDRAW;
    }
    ui_message(u, 0, "inverted: %s tensors changed",
               human_count(r.change.tensors_changed, a, sizeof a));
    return R_REDRAW | R_EDIT;
}

static int act_undo(ui *u)
{
    session_result r;
    char a[32];
    if (!session_undo(u->s, &r)) {
        ui_message(u, 0, "nothing to undo");
        return R_REDRAW;
    }
    ui_message(u, 0, "undone: %s tensors changed back",
               human_count(r.change.tensors_changed, a, sizeof a));
    return R_REDRAW | R_EDIT;
}

static int act_redo(ui *u)
{
    session_result r;
    char a[32];
    if (!session_redo(u->s, &r)) {
        ui_message(u, 0, "nothing to redo");
        return R_REDRAW;
    }
    ui_message(u, 0, "redone: %s tensors changed",
               human_count(r.change.tensors_changed, a, sizeof a));
    return R_REDRAW | R_EDIT;
}

/* --- finding --- */

static int act_search(ui *u) { return ui_prompt_search(u); }

static int next_match(ui *u, int dir)
{
    if (!u->v.has_matches || u->v.nroots == 0) {
        ui_message(u, 1, "no matches: / searches");
        return R_REDRAW;
    }
    return check(u, view_next_match(&u->v, dir));
}

static int act_next(ui *u) { return next_match(u, 1); }
static int act_prev(ui *u) { return next_match(u, -1); }

static int set_filter(ui *u, view_filter f)
{
    if (f == VIEW_MATCHES && !u->v.has_matches) {
        ui_message(u, 1, "no matches to show: / searches, f previews");
        return R_REDRAW;
    }
    check(u, view_set_filter(&u->v, f));
    ui_message(u, 0, "showing %s", view_filter_name(f));
    return R_REDRAW;
}

/* 1 2 3 m: the filters, one help line. */
static int act_filter(ui *u)
{
    switch (u->last_key) {
    case '2': return set_filter(u, VIEW_FROZEN);
    case '3': return set_filter(u, VIEW_TRAINABLE);
    case 'm': return set_filter(u, VIEW_MATCHES);
    default: return set_filter(u, VIEW_ALL);
    }
}

static int act_sort(ui *u)
{
    tree_sort_mode m = tree_sort_next(u->s->tr.sort);
    if (view_set_sort(&u->v, m))
        return check(u, -1);
    ui_message(u, 0, "sorted by %s (s: checkpoint order, name, size)",
               tree_sort_name(m));
    return R_REDRAW;
}

static int act_escape(ui *u)
{
    if (u->v.has_matches)
        ui_clear_matches(u);
    if (u->v.filter == VIEW_MATCHES)
        view_set_filter(&u->v, VIEW_ALL);
    u->msg[0] = '\0';
    return R_REDRAW;
}

/* --- memory panel --- */

static int act_optimizer(ui *u)
{
    u->s->optimizer = (mem_optimizer)((u->s->optimizer + 1) % MEM_OPT_COUNT);
    ui_message(u, 0, "optimizer %s", memory_optimizer_name(u->s->optimizer));
    return R_REDRAW;
}

static int act_precision(ui *u)
{
    u->s->precision =
        (mem_precision)((u->s->precision + 1) % MEM_PREC_COUNT);
    ui_message(u, 0, "precision %s", memory_precision_name(u->s->precision));
    return R_REDRAW;
}

static int act_fold_panel(ui *u)
{
    u->panel_folded = !u->panel_folded;
    ui_message(u, 0, "memory panel %s", u->panel_folded
                                          ? "folded to one line (M unfolds)"
                                          : "unfolded");
    return R_REDRAW;
}

/* --- saving and quitting --- */

static int act_save(ui *u) { ui_save_plan(u); return R_REDRAW; }
static int act_measure(ui *u) { return ui_measure_key(u); }
static int act_save_preset(ui *u) { return ui_save_preset(u); }

static int act_quit(ui *u)
{
    if (!ui_unsaved(u))
        return R_QUIT;
    int c = ui_ask(u, "unsaved changes",
                   "The plan has changes that are not saved.\n\n"
                   "  w    save the plan, then quit\n"
                   "  q    quit without saving\n"
                   "  Esc  go back",
                   "wqy");
    if (c == 'q' || c == 'y')
        return R_QUIT;
    if (c == 'w' && ui_save_plan(u))
        return R_QUIT;
    return R_REDRAW;
}

static int act_help(ui *u);

static int act_mouse(ui *u)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return R_NONE;
    if (ev.bstate & BUTTON4_PRESSED) {
        view_scroll(&u->v, -3);
        return R_REDRAW;
    }
    if (ev.bstate & BUTTON5_PRESSED) {
        view_scroll(&u->v, 3);
        return R_REDRAW;
    }
    if (!(ev.bstate & BUTTON1_PRESSED) || ev.y < u->tree_y ||
        ev.y >= u->tree_y + u->tree_h)
        return R_NONE;
    size_t row = u->v.top + (size_t)(ev.y - u->tree_y);
    if (row >= u->v.nrows)
        return R_NONE;
    view_move_to(&u->v, row);
    if (ev.x < 3)
        return act_toggle(u);
    int ax = 4 + (int)u->v.rows[row].depth * 2;
    if (ev.x >= ax && ev.x <= ax + 1 &&
        view_row_expandable(&u->v, &u->v.rows[row]))
        return check(u, view_row_expanded(&u->v, &u->v.rows[row])
                            ? view_collapse(&u->v)
                            : view_expand(&u->v));
    return R_REDRAW;
}

/* The key table. The first entry of an action carries its help; the
 * help lists every key bound to it. */
typedef struct {
    int key;
    ui_action fn;
    const char *name;
    const char *help;
} key_def;

static const key_def keys[] = {
    {KEY_UP, act_up, "Up", "move up"},
    {'k', act_up, "k", NULL},
    {KEY_DOWN, act_down, "Down", "move down"},
    {'j', act_down, "j", NULL},
    {KEY_PPAGE, act_pgup, "PgUp", "page up"},
    {2, act_pgup, "^B", NULL},
    {KEY_NPAGE, act_pgdn, "PgDn", "page down"},
    {6, act_pgdn, "^F", NULL},
    {'g', act_top, "g", "first row"},
    {KEY_HOME, act_top, "Home", NULL},
    {'G', act_bottom, "G", "last row"},
    {KEY_END, act_bottom, "End", NULL},
    {'\r', act_expand, "Enter", "open a module (a tensor: its details)"},
    {'\n', act_expand, NULL, NULL},
    {KEY_ENTER, act_expand, NULL, NULL},
    {KEY_RIGHT, act_right, "Right", "open"},
    {'l', act_right, "l", NULL},
    {KEY_LEFT, act_collapse, "Left", "close, or go to the parent"},
    {'h', act_collapse, "h", NULL},
    {KEY_BACKSPACE, act_parent, "Backspace", "go to the parent"},
    {127, act_parent, NULL, NULL},
    {'*', act_expand_all, "*", "open everything"},
    {'-', act_collapse_all, "-", "close everything"},
    {' ', act_toggle, "Space", "freeze / unfreeze the subtree"},
    {'x', act_toggle, "x", NULL},
    {'f', act_freeze, "f", "freeze by pattern (live count)"},
    {'F', act_unfreeze, "F", "unfreeze by pattern"},
    {'p', act_presets, "p", "presets: pick, set, preview, apply"},
    {'i', act_invert, "i", "invert frozen and trainable"},
    {'[', act_stage, "[", "stages: [ ] show the previous / next (f F "
                          "Space edit it), + add, D delete, L length, r lr"},
    {']', act_stage, "]", NULL},
    {'+', act_stage, "+", NULL},
    {'D', act_stage, "D", NULL},
    {'L', act_stage, "L", NULL},
    {'r', act_stage, "r", NULL},
    {'u', act_undo, "u", "undo"},
    {18, act_redo, "^R", "redo"},
    {'/', act_search, "/", "search: text or pattern"},
    {'n', act_next, "n", "next match"},
    {'N', act_prev, "N", "previous match"},
    {'1', act_filter, "1", "show all / only frozen / only trainable / "
                           "only matches"},
    {'2', act_filter, "2", NULL},
    {'3', act_filter, "3", NULL},
    {'m', act_filter, "m", NULL},
    {'s', act_sort, "s", "sort: checkpoint order / name (natural) / size"},
    {'o', act_optimizer, "o", "next optimizer (memory panel)"},
    {'P', act_precision, "P", "next precision (memory panel)"},
    {'M', act_fold_panel, "M", "fold / unfold the memory panel"},
    {'S', act_stats, "S", "statistics of the row's values (min, max, "
                          "mean, std, NaN, Inf) in the background; S "
                          "again cancels"},
    {'a', act_measure, "a", "measure activation memory: one step of the "
                            "plan's model in the background (a again "
                            "cancels)"},
    {'w', act_save, "w", "save the plan (asks before writing over a plan made "
                              "for another checkpoint)"},
    {'W', act_save_preset, "W", "save the rules as a user preset"},
    {27, act_escape, "Esc", "clear matches and messages"},
    {'?', act_help, "?", "this help"},
    {'q', act_quit, "q", "quit (asks when unsaved)"},
    {UI_KEY_INTERRUPT, act_quit, "^C", NULL},
    {3, act_quit, NULL, NULL},
    {KEY_MOUSE, act_mouse, NULL, NULL},
};
#define NKEYS (sizeof keys / sizeof *keys)

static int act_help(ui *u)
{
    char text[8192];
    size_t k = 0;
    for (size_t i = 0; i < NKEYS && k + 200 < sizeof text; i++) {
        if (!keys[i].help)
            continue;
        char names[64];
        size_t m = 0;
        names[0] = '\0';
        for (size_t j = 0; j < NKEYS; j++)
            if (keys[j].fn == keys[i].fn && keys[j].name)
                m += (size_t)snprintf(names + m, sizeof names - m, "%s%s",
                                      m ? " " : "", keys[j].name);
        k += (size_t)snprintf(text + k, sizeof text - k, "%-16s %s\n",
                              names, keys[i].help);
    }
    snprintf(text + k, sizeof text - k,
             "\nmouse: click selects, click on the mark toggles, the wheel "
             "scrolls\nmarks: [x] frozen  [ ] trainable  [~] partly frozen"
             "  [b] buffers only\n"
             "tied %s X: one tensor under two names (tied weights), "
             "counted once, at X,\n  which says (tied); freezing either "
             "name freezes both (Enter lists them)\n"
             "! plan made for another checkpoint (status line): the "
             "loaded plan's\n  fingerprint names another model; w proposes "
             "a new name beside it\n"
             "prompts: Up/Down the history of that prompt, Tab completes "
             "names (patterns,\n  search) and files (paths), ^A ^E ^U ^K "
             "^W as"
             " in readline", u->utf8 ? "\xe2\x86\x92" : "->");
    ui_show_text(u, "keys", text);
    return R_REDRAW;
}

static const char *key_label(int c, char *buf, size_t cap)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].key == c && keys[i].name) {
            snprintf(buf, cap, "%s", keys[i].name);
            return buf;
        }
    snprintf(buf, cap, "%d", c);
    return buf;
}

static void run_loop(ui *u)
{
    int c = 0;
    u->key_ms = ui_now_ms();
    for (int frame = 0;; frame++) {
        int r = R_REDRAW;
        if (frame > 0) {
            r = R_NONE;
            if (c == KEY_RESIZE || c == UI_KEY_TICK)
                r = R_REDRAW;
            for (size_t i = 0; i < NKEYS; i++)
                if (keys[i].key == c) {
                    u->msg[0] = '\0';
                    u->msg_err = 0;
                    r = keys[i].fn(u);
                    break;
                }
            if (r & R_EDIT)
                check(u, view_refresh(&u->v));
            if (r & R_QUIT)
                return;
        }
        double t1 = ui_now_ms();
        ui_draw(u);
        refresh();
        double t2 = ui_now_ms();
        if (u->cfg->timing && c != UI_KEY_TICK) {
            char kb[32];
            /* total: from the last key read (for a prompt, its Enter) */
            if (frame == 0)
                fprintf(stderr, "first_frame_ms=%.1f\n",
                        t2 - (u->cfg->start_ms > 0 ? u->cfg->start_ms
                                                   : u->key_ms));
            else
                fprintf(stderr, "frame: key=%s draw_ms=%.3f total_ms=%.3f\n",
                        key_label(c, kb, sizeof kb), t2 - t1,
                        t2 - u->key_ms);
        }
        if (frame == 0) {
            /* after the first frame: the score cache needs the
             * checkpoint's fingerprint (a hash of every name) */
            ui_scores_load(u);
            if (u->score_node || u->msg[0]) {
                ui_draw(u);
                refresh();
            }
        }
        if (frame == 0 && u->cfg->plan_report && u->cfg->plan_report[0]) {
            ui_show_text(u, "this plan on this checkpoint",
                         u->cfg->plan_report);
            ui_draw(u);
            refresh();
        }
        u->ticks = 1;
        c = ui_input(u);
        u->ticks = 0;
    }
}

int ui_run(session *s, const ui_config *cfg)
{
    ui *u = calloc(1, sizeof *u);
    int rc = 2;
    if (!u) {
        fprintf(stderr, "tui: out of memory\n");
        return 2;
    }
    u->s = s;
    u->cfg = cfg;
    ui_measure_init(u);
    table_get_totals(&s->t, &u->tot);
    if (view_init(&u->v, &s->tr) ||
        view_set_sort(&u->v, tree_sort_default(&s->t))) {
        fprintf(stderr, "tui: %s\n", err_msg());
        goto out;
    }
    if (bitset_init(&u->match, s->t.count)) {
        fprintf(stderr, "tui: out of memory\n");
        goto out;
    }
    if (cfg->plan_path)
        snprintf(u->plan_path, sizeof u->plan_path, "%s", cfg->plan_path);
    if (s->foreign_plan && s->has_base && s->base.model.path)
        snprintf(u->foreign_model, sizeof u->foreign_model, "%s",
                 s->base.model.path);
    ui_mark_saved(u, 0);
    if (ui_screen_start(u)) {
        fprintf(stderr, "tui: %s\n", err_msg());
        goto out;
    }
    run_loop(u);
    ui_screen_end();
    rc = 0;
out:
    ui_measure_end(u);
    ui_stats_end(u);
    ui_scores_free(u);
    ui_stage_end(u);
    view_free(&u->v);
    bitset_free(&u->match);
    ui_prompt_free_history(u);
    ui_menu_free_uses(u);
    if (u->has_own_presets)
        preset_list_free(&u->own_presets);
    free(u);
    return rc;
}
