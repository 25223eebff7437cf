/* ui_prompt.c: the line editor at the bottom of the screen, and the two
 * prompts built on it: freeze/unfreeze by pattern (live count and
 * highlight of what the pattern matches, the compile error with its
 * column) and search (substring or pattern, then n/N).
 *
 * Each kind of prompt (patterns, search, paths, parameters) keeps its
 * own history for the session (Up/Down, as readline); Tab completes
 * through core/complete.c (names from the tree in the pattern and
 * search prompts, file names in the path prompt) and lists the candidates, as bash.
 *
 * Layout while a prompt is open: the line above the prompt shows what
 * the text does now (u->msg), the prompt line, and under it the column
 * of a pattern error (a caret) or the keys.
 */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "../core/complete.h"
#include "../core/human.h"
#include "../core/search.h"
#include "../core/err.h"
#include "ui_impl.h"

/* Recounts the parameters among the matches and sets the view's
 * (a tie group's elements once). */
static void apply_matches(ui *u)
{
    const table *t = &u->s->t;
    uint64_t numel = 0;
    size_t n = 0;
    if (table_count_params(t, &u->match, &numel, &n))
        ui_message(u, 1, "%s", err_msg());
    u->match_params = n;
    u->match_param_numel = numel;
    if (view_set_matches(&u->v, &u->match))
        ui_message(u, 1, "%s", err_msg());
}

void ui_clear_matches(ui *u)
{
    bitset_zero(&u->match);
    u->match_src[0] = '\0';
    u->match_params = 0;
    u->match_param_numel = 0;
    view_set_matches(&u->v, NULL);
}

/* Compiles and matches a pattern into u->match. Returns 0 or -1. */
static int match_pattern(ui *u, const char *text, size_t *err_col)
{
    pattern *p = pattern_compile(text, err_col);
    if (!p)
        return -1;
    bitset_zero(&u->match);
    pattern_match_table(p, &u->s->t, &u->match);
    pattern_free(p);
    return 0;
}

long ui_set_search(ui *u, const char *text, size_t *err_col)
{
    *err_col = 0;
    if (!text[0]) {
        ui_clear_matches(u);
        return 0;
    }
    if (search_match_table(text, &u->s->t, &u->match, err_col) < 0) {
        ui_clear_matches(u);
        return -1;
    }
    snprintf(u->match_src, sizeof u->match_src, "%s", text);
    apply_matches(u);
    return (long)u->v.match_tensors;
}

/* --- the line editor --- */

static size_t prev_char(const char *buf, size_t pos)
{
    while (pos > 0) {
        pos--;
        if (((unsigned char)buf[pos] & 0xC0) != 0x80)
            break;
    }
    return pos;
}

static size_t next_char(const char *buf, size_t len, size_t pos)
{
    if (pos < len)
        pos++;
    while (pos < len && ((unsigned char)buf[pos] & 0xC0) == 0x80)
        pos++;
    return pos;
}

static void draw_prompt(ui *u, const char *label, const char *buf,
                        size_t len, size_t pos)
{
    int y = u->rows - 2;
    if (y < 1)
        y = u->rows - 1;
    if (y > 0) {
        move(y - 1, 0);
        ui_color_set(u, u->msg_err ? UIC_ERROR : UIC_HEADER);
        for (int i = 0; i < u->cols; i++)
            addch(' ');
        move(y - 1, 0);
        addch(' ');
        ui_put(u, u->msg, strlen(u->msg), u->cols - 1);
    }
    ui_color_set(u, UIC_NORMAL);
    move(y, 0);
    clrtoeol();
    int lw = ui_put(u, label, strlen(label), u->cols / 2);
    int avail = u->cols - lw - 1;
    int cur = ui_width(buf, pos);
    /* scroll the text so the cursor stays visible */
    size_t start = 0;
    int skip = cur - avail + 1;
    while (skip > 0 && start < len) {
        start = next_char(buf, len, start);
        skip--;
    }
    ui_put(u, buf + start, len - start, avail);
    int cx = lw + ui_width(buf + start, pos - start);
    if (y + 1 < u->rows) {
        move(y + 1, 0);
        clrtoeol();
        ui_draw_marks(u, y + 1);
        if (u->prompt_col > 0 && u->msg_err) {
            int col = lw + (int)u->prompt_col - 1 -
                      ui_width(buf, start);
            if (col >= 0 && col < u->cols) {
                move(y + 1, col);
                ui_color_set(u, UIC_ERROR);
                addch('^');
            }
        } else {
            move(y + 1, 0);
            ui_color_set(u, UIC_DIM);
            ui_put(u, "Enter confirm  Esc cancel", 25, u->cols);
        }
        ui_color_set(u, UIC_NORMAL);
    }
    move(y, cx < u->cols ? cx : u->cols - 1);
}

/* --- history and completion --- */

void ui_prompt_free_history(ui *u)
{
    for (int k = 0; k < UI_PK_COUNT; k++) {
        for (size_t i = 0; i < u->nhist[k]; i++)
            free(u->hist[k][i]);
        free(u->hist[k]);
        u->hist[k] = NULL;
        u->nhist[k] = 0;
    }
}

/* Adds a confirmed line to its kind's history (not empty, not the same
 * as the last; the oldest goes beyond UI_HIST_MAX). Out of memory only
 * loses the line. */
static void hist_add(ui *u, ui_prompt_kind kind, const char *line)
{
    size_t n = u->nhist[kind];
    char **h = u->hist[kind];
    if (kind == UI_PK_NONE || !line[0] ||
        (n && strcmp(h[n - 1], line) == 0))
        return;
    char *c = strdup(line);
    if (!c)
        return;
    if (n == UI_HIST_MAX) {
        free(h[0]);
        memmove(h, h + 1, (n - 1) * sizeof *h);
        n--;
    } else {
        char **nh = realloc(h, (n + 1) * sizeof *nh);
        if (!nh) {
            free(c);
            return;
        }
        h = nh;
    }
    h[n] = c;
    u->hist[kind] = h;
    u->nhist[kind] = n + 1;
}

/* Tab: completes the text before the cursor; the rest stays after it.
 * Returns 1 when the text changed. Lists the candidates in u->msg when
 * several are left. */
static int complete_at(ui *u, ui_prompt_kind kind, char *buf, size_t cap,
                       size_t *len, size_t *pos)
{
    complete_result r;
    char save = buf[*pos];
    u->msg[0] = '\0';
    buf[*pos] = '\0';
    int rc = kind == UI_PK_PATH ? complete_dir(buf, &r)
             : complete_tree(&u->s->tr, buf, &r);
    buf[*pos] = save;
    if (rc < 0) {
        ui_message(u, 1, "%s", err_msg());
        return 0;
    }
    size_t nl = strlen(r.text);
    int changed = 0;
    if (nl > *pos && *len - *pos + nl < cap) {
        memmove(buf + nl, buf + *pos, *len - *pos + 1);
        memcpy(buf, r.text, nl);
        *len += nl - *pos;
        *pos = nl;
        changed = 1;
    }
    if (r.total == 0) {
        ui_message(u, 1, "no completion");
    } else if (r.total > 1) {
        /* the candidates on one line, as many as the width holds */
        char tail[48];
        int width = u->cols - 2, used = 0;
        size_t k = 0, i = 0;
        snprintf(tail, sizeof tail, "  ... (%zu in all)", r.total);
        int tw = (int)strlen(tail);
        for (; i < r.n; i++) {
            int w = ui_width(r.names[i], strlen(r.names[i])) + (i ? 2 : 0);
            size_t bl = strlen(r.names[i]) + 2;
            int room = i + 1 == r.total ? width : width - tw;
            if (used + w > room || k + bl + sizeof tail >= sizeof u->msg)
                break;
            k += (size_t)snprintf(u->msg + k, sizeof u->msg - k, "%s%s",
                                  i ? "  " : "", r.names[i]);
            used += w;
        }
        if (i < r.total)
            snprintf(u->msg + k, sizeof u->msg - k, "%s", tail);
        u->msg_err = 0;
    }
    complete_free(&r);
    return changed;
}

int ui_prompt(ui *u, const char *label, char *buf, size_t cap,
              ui_prompt_change on_change, void *ctx)
{
    return ui_prompt_kind_read(u, UI_PK_NONE, label, buf, cap, on_change,
                               ctx);
}

int ui_prompt_kind_read(ui *u, ui_prompt_kind kind, const char *label,
                        char *buf, size_t cap, ui_prompt_change on_change,
                        void *ctx)
{
    size_t len = strlen(buf), pos = len;
    size_t hi = u->nhist[kind]; /* == nhist: the line being typed */
    char typed[4096];
    int rc = 0;
    snprintf(typed, sizeof typed, "%s", buf);
    u->msg[0] = '\0';
    u->prompt_col = 0;
    if (on_change)
        on_change(u, buf, ctx);
    curs_set(1);
    for (int frame = 0;; frame++) {
        double t1 = ui_now_ms();
        ui_draw(u);
        if (u->cols >= UI_MIN_COLS && u->rows >= UI_MIN_ROWS)
            draw_prompt(u, label, buf, len, pos);
        refresh();
        if (u->cfg->timing && frame > 0) {
            double t2 = ui_now_ms();
            fprintf(stderr, "frame: key=prompt draw_ms=%.3f total_ms=%.3f\n",
                    t2 - t1, t2 - u->key_ms);
        }
        int c = ui_input(u);
        int edited = 0;
        if (c == KEY_RESIZE)
            continue;
        if (c == 27 || c == UI_KEY_INTERRUPT || c == 7)
            break;
        if (c == '\r' || c == '\n' || c == KEY_ENTER) {
            rc = 1;
            break;
        }
        int listed = 0;
        switch (c) {
        case KEY_UP: case KEY_DOWN: {
            size_t n = u->nhist[kind];
            if (kind == UI_PK_NONE || n == 0)
                break;
            if (hi == n)
                snprintf(typed, sizeof typed, "%s", buf);
            if (c == KEY_UP && hi > 0)
                hi--;
            else if (c == KEY_DOWN && hi < n)
                hi++;
            else
                break;
            snprintf(buf, cap, "%s", hi < n ? u->hist[kind][hi] : typed);
            len = pos = strlen(buf);
            edited = 1;
            break;
        }
        case '\t':
            if (kind == UI_PK_PATTERN || kind == UI_PK_SEARCH ||
                kind == UI_PK_PATH) {
                edited = complete_at(u, kind, buf, cap, &len, &pos);
                listed = 1;
            }
            break;
        case KEY_LEFT: pos = prev_char(buf, pos); break;
        case KEY_RIGHT: pos = next_char(buf, len, pos); break;
        case KEY_HOME: case 1: pos = 0; break;
        case KEY_END: case 5: pos = len; break;
        case KEY_BACKSPACE: case 127: case 8:
            if (pos > 0) {
                size_t p = prev_char(buf, pos);
                memmove(buf + p, buf + pos, len - pos + 1);
                len -= pos - p;
                pos = p;
                edited = 1;
            }
            break;
        case KEY_DC: case 4:
            if (pos < len) {
                size_t n = next_char(buf, len, pos);
                memmove(buf + pos, buf + n, len - n + 1);
                len -= n - pos;
                edited = 1;
            }
            break;
        case 21: /* Ctrl-U: delete to the start */
            memmove(buf, buf + pos, len - pos + 1);
            len -= pos;
            pos = 0;
            edited = 1;
            break;
        case 11: /* Ctrl-K: delete to the end */
            buf[pos] = '\0';
            len = pos;
            edited = 1;
            break;
        case 23: { /* Ctrl-W: delete the word before the cursor */
            size_t p = pos;
            while (p > 0 && buf[p - 1] == ' ')
                p--;
            while (p > 0 && buf[p - 1] != ' ' && buf[p - 1] != '.')
                p--;
            if (p == pos && p > 0)
                p--;
            memmove(buf + p, buf + pos, len - pos + 1);
            len -= pos - p;
            pos = p;
            edited = 1;
            break;
        }
        default:
            if (c >= 32 && c < 256 && c != 127 && len + 1 < cap) {
                memmove(buf + pos + 1, buf + pos, len - pos + 1);
                buf[pos++] = (char)c;
                len++;
                edited = 1;
            }
            break;
        }
        if (edited && on_change) {
            char keep[sizeof u->msg];
            int keep_err = u->msg_err;
            snprintf(keep, sizeof keep, "%s", listed ? u->msg : "");
            u->msg[0] = '\0';
            u->msg_err = 0;
            u->prompt_col = 0;
            on_change(u, buf, ctx);
            if (keep[0]) { /* the candidates stay in view */
                snprintf(u->msg, sizeof u->msg, "%s", keep);
                u->msg_err = keep_err;
            }
        }
    }
    if (rc)
        hist_add(u, kind, buf);
    curs_set(0);
    u->prompt_col = 0;
    return rc;
}

/* --- freeze / unfreeze by pattern --- */

static void pattern_changed(ui *u, const char *text, void *ctx)
{
    char a[32], b[32], c[16];
    (void)ctx;
    if (!*text) {
        ui_clear_matches(u);
        ui_message(u, 0, "a pattern: ** any segments, * inside one, "
                         "{0..5} a range, {a,b} choices, re: a regex");
        return;
    }
    size_t col = 0;
    if (match_pattern(u, text, &col)) {
        ui_message(u, 1, "%s", err_msg());
        u->prompt_col = col;
        view_set_matches(&u->v, NULL);
        return;
    }
    snprintf(u->match_src, sizeof u->match_src, "%s", text);
    apply_matches(u);
    const tree_node *root = tree_root(&u->s->tr);
    ui_message(u, 0, "matches %s tensors, %s parameters (%s)",
               human_count(u->v.match_tensors, a, sizeof a),
               human_count(u->match_param_numel, b, sizeof b),
               human_percent(u->match_param_numel, root->param_numel, c,
                             sizeof c));
}

int ui_prompt_pattern(ui *u, plan_rule_kind kind)
{
    char buf[PATTERN_MAX_LEN + 1] = "";
    char a[32], b[32], c[32];
    const char *label = kind == PLAN_FREEZE ? "freeze: " : "unfreeze: ";
    for (;;) {
        if (!ui_prompt_kind_read(u, UI_PK_PATTERN, label, buf, sizeof buf,
                                 pattern_changed, NULL)) {
            ui_clear_matches(u);
            ui_message(u, 0, "cancelled");
            return R_REDRAW;
        }
        session_result r;
        if (session_apply_rule(u->s, kind, buf, 0, &r) == 0) {
            ui_message(u, 0, "%s '%s': %s tensors matched, %s changed "
                       "(%s parameters)",
                       kind == PLAN_FREEZE ? "froze" : "unfroze", buf,
                       human_count(r.matched_tensors, a, sizeof a),
                       human_count(r.change.tensors_changed, b, sizeof b),
                       human_count(r.change.numel_changed, c, sizeof c));
            return R_REDRAW | R_EDIT;
        }
        /* say why; Enter edits the text again, another key leaves
         * (and is then handled as a key of the main screen) */
        ui_message(u, 1, "%s", err_msg());
        ui_draw(u);
        refresh();
        if (ui_show_error(u, "cannot apply", err_msg(),
                          "Enter edits the pattern, any other key "
                          "closes") != '\n') {
            ui_clear_matches(u);
            return R_REDRAW;
        }
    }
}

/* --- search --- */

static void search_changed(ui *u, const char *text, void *ctx)
{
    char a[32];
    size_t col = 0;
    (void)ctx;
    long n = ui_set_search(u, text, &col);
    if (n < 0) {
        ui_message(u, 1, "%s", err_msg());
        u->prompt_col = col;
    } else if (*text) {
        ui_message(u, 0, "%s %s tensors (%zu places); Enter goes to the "
                   "first",
                   search_is_pattern(text) ? "pattern matches"
                   : search_case_sensitive(text)
                       ? "text found (case-sensitive) in"
                       : "text found (any case) in",
                   human_count((unsigned long long)n, a, sizeof a),
                   u->v.nroots);
    } else {
        ui_message(u, 0, "text in names (lowercase: any case), or a pattern "
                         "as f takes (* ? [ { re:)");
    }
}

int ui_prompt_search(ui *u)
{
    char buf[PATTERN_MAX_LEN + 1] = "";
    if (!ui_prompt_kind_read(u, UI_PK_SEARCH, "/", buf, sizeof buf,
                             search_changed, NULL)) {
        ui_clear_matches(u);
        u->msg[0] = '\0';
        return R_REDRAW;
    }
    size_t col;
    if (ui_set_search(u, buf, &col) < 0) {
        ui_message(u, 1, "%s", err_msg());
        return R_REDRAW;
    }
    if (!buf[0] || u->v.nroots == 0) {
        ui_message(u, 1, "no match for '%s'", buf);
        return R_REDRAW;
    }
    if (view_next_match(&u->v, 1) < 0)
        ui_message(u, 1, "%s", err_msg());
    else
        ui_message(u, 0, "'%s': %zu places (n next, N previous, m only "
                   "these, Esc clear)", buf, u->v.nroots);
    return R_REDRAW;
}
