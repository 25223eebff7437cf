/* ui_menu.c: the presets menu (pick a preset: Up/Down, j/k, Home/End,
 * g/G; answer all its parameters on one line, "n=6" or "a=1 b=2", with
 * a live preview of what it would freeze; confirm; apply as one
 * undoable step); what W needs to save it as written is recorded
 * (ui_preset_save.c). Descriptions use the screen's width: one line per
 * preset, the selected one's in full, wrapped, under the list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/human.h"
#include "../core/err.h"
#include "ui_impl.h"

const preset_list *ui_presets(const ui *u)
{
    return u->has_own_presets ? &u->own_presets : u->cfg->presets;
}

/* What the preset would freeze on its own, for a spec, into out
 * (session_preview_line). Returns 0, or -1 with the error text, or the
 * "does not fit this model" line, in out. */
static int preview(ui *u, const char *spec, char *out, size_t cap)
{
    session_preview pv;
    if (session_preview_preset(u->s, ui_presets(u), spec, NULL, &pv)) {
        snprintf(out, cap, "%s", err_msg());
        return -1;
    }
    session_preview_line(&pv, out, cap);
    return pv.fits ? 0 : -1;
}

/* Appends up to dw columns of description d at buf+k (newlines as
 * spaces), "..." when cut. Returns the new length. */
static size_t put_desc(char *buf, size_t k, size_t cap, const char *d,
                       int dw)
{
    int col = 0;
    for (; *d && k + 8 < cap; d++) {
        if (((unsigned char)*d & 0xC0) == 0x80) {
            buf[k++] = *d;
            continue;
        }
        if (col >= dw - 3 && ui_width(d, strlen(d)) > dw - col) {
            k += (size_t)snprintf(buf + k, cap - k, "...");
            break;
        }
        buf[k++] = *d == '\n' ? ' ' : *d;
        col++;
    }
    buf[k] = '\0';
    return k;
}

/* Appends description d wrapped at dw columns, each line indented by 2.
 * Returns the new length. */
static size_t wrap_desc(char *buf, size_t k, size_t cap, const char *d,
                        int dw)
{
    int col = 0;
    while (*d && k + 64 < cap) {
        while (*d == ' ' || *d == '\n')
            d++;
        size_t wl = strcspn(d, " \n");
        if (!wl || k + wl + 8 >= cap)
            break;
        int ww = ui_width(d, wl);
        if (col == 0) {
            k += (size_t)snprintf(buf + k, cap - k, "  ");
        } else if (col + 1 + ww > dw) {
            k += (size_t)snprintf(buf + k, cap - k, "\n  ");
            col = 0;
        } else {
            buf[k++] = ' ';
            col++;
        }
        memcpy(buf + k, d, wl);
        k += wl;
        buf[k] = '\0';
        col += ww;
        d += wl;
    }
    return k;
}

/* The menu's text: one line per preset, the selected one marked, its
 * description using the rest of the box's width (the box is the screen
 * less 6 columns); under the list the selected preset's description in
 * full, wrapped to the width, and the preview. */
static void menu_text(ui *u, size_t sel, char *buf, size_t cap,
                      const char *pv)
{
    const preset_list *l = ui_presets(u);
    size_t k = 0;
    int dw = u->cols - 6 - 29;
    if (dw < 10)
        dw = 10;
    buf[0] = '\0';
    for (size_t i = 0; i < l->n && k + 400 < cap; i++) {
        const preset *p = &l->items[i];
        k += (size_t)snprintf(buf + k, cap - k, "%s %-26s %s",
                              i == sel ? ">" : " ", p->name,
                              p->user ? "(user) " : "");
        k = put_desc(buf, k, cap, p->description ? p->description : "",
                     dw - (p->user ? 7 : 0));
        k += (size_t)snprintf(buf + k, cap - k, "\n");
    }
    const preset *p = &l->items[sel];
    if (k + 4 < cap)
        k += (size_t)snprintf(buf + k, cap - k, "\n%s:\n", p->name);
    k = wrap_desc(buf, k, cap, p->description ? p->description : "",
                  u->cols - 10 > 20 ? u->cols - 10 : 20);
    snprintf(buf + k, cap - k, "\n\n%s", pv);
}

/* The line of the selected preset (the one starting with '>') in
 * menu_text's text; descriptions may take several lines. */
static int menu_line_of(const char *text)
{
    int line = 0;
    for (const char *p = text; *p; p++) {
        if ((p == text || p[-1] == '\n') && *p == '>')
            return line;
        if (*p == '\n')
            line++;
    }
    return 0;
}

typedef struct {
    const preset *p;
    char spec[PRESET_MAX_NAME + PRESET_MAX_PARAMS * 96 + 8];
} ask_ctx;

/* name:ARGS from the text of the parameter form ("n=6", "a=1 b=2" or
 * "a=1,b=2"; empty: the defaults). */
static void build_spec(ask_ctx *a, const char *args)
{
    size_t k = (size_t)snprintf(a->spec, sizeof a->spec, "%s", a->p->name);
    while (*args == ' ' || *args == ',')
        args++;
    if (!*args || k + 2 >= sizeof a->spec)
        return;
    a->spec[k++] = ':';
    int sep = 0;
    for (; *args && k + 1 < sizeof a->spec; args++) {
        if (*args == ' ' || *args == ',') {
            sep = 1;
            continue;
        }
        if (sep && a->spec[k - 1] != ':')
            a->spec[k++] = ',';
        sep = 0;
        a->spec[k++] = *args;
    }
    a->spec[k] = '\0';
}

static void param_changed(ui *u, const char *text, void *ctx)
{
    ask_ctx *a = ctx;
    char pv[300];
    build_spec(a, text);
    int rc = preview(u, a->spec, pv, sizeof pv);
    ui_message(u, rc != 0, "%s: %s", a->spec, pv);
}

/* The form of a preset's parameters: one line "n=3 k=2" (defaults
 * filled in), labelled with their ranges. Returns 1 with a->spec set,
 * 0 when cancelled. */
static int ask_params(ui *u, ask_ctx *a)
{
    char label[600], buf[PRESET_MAX_PARAMS * 40 + 1];
    size_t k = 0, lk = 0;
    buf[0] = '\0';
    build_spec(a, "");
    if (!a->p->nparams)
        return 1;
    lk = (size_t)snprintf(label, sizeof label, "%s (", a->p->name);
    for (size_t i = 0; i < a->p->nparams; i++) {
        const preset_param *pp = &a->p->params[i];
        if (k + 40 < sizeof buf)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s=%lld",
                                  i ? " " : "", pp->name, pp->def);
        if (lk + 80 < sizeof label)
            lk += (size_t)snprintf(label + lk, sizeof label - lk,
                                   "%s%s %lld..%lld", i ? ", " : "",
                                   pp->name, pp->min, pp->max);
    }
    snprintf(label + lk, sizeof label - lk, "): ");
    if (!ui_prompt_kind_read(u, UI_PK_PARAMS, label, buf, sizeof buf,
                             param_changed, a))
        return 0;
    build_spec(a, buf);
    return 1;
}

int ui_menu_presets(ui *u)
{
    const preset_list *l = ui_presets(u);
    char pv[300], text[16384], a[32];
    size_t sel = 0;
    if (!l || l->n == 0) {
        ui_message(u, 1, "no presets found (TUI_PRESETS_DIR sets the "
                         "folder)");
        return R_REDRAW;
    }
    preview(u, l->items[0].name, pv, sizeof pv);
    for (;;) {
        char line[400];
        snprintf(line, sizeof line, "with defaults: %s", pv);
        menu_text(u, sel, text, sizeof text, line);
        int at = menu_line_of(text), shown = u->rows - 8;
        ui_draw(u);
        ui_draw_box(u, "presets", text,
                    shown > 0 && at + 3 > shown ? at + 3 - shown : 0,
                    "Enter choose  arrows, g G move  Esc cancel");
        refresh();
        int c = ui_input(u);
        if (c == KEY_RESIZE)
            continue;
        if (c == 27 || c == 'q' || c == UI_KEY_INTERRUPT)
            return R_REDRAW;
        size_t old = sel;
        if ((c == KEY_DOWN || c == 'j') && sel + 1 < l->n)
            sel++;
        else if ((c == KEY_UP || c == 'k') && sel > 0)
            sel--;
        else if (c == KEY_HOME || c == 'g')
            sel = 0;
        else if (c == KEY_END || c == 'G')
            sel = l->n - 1;
        else if (c == '\r' || c == '\n' || c == KEY_ENTER)
            break;
        if (sel != old)
            preview(u, l->items[sel].name, pv, sizeof pv);
    }
    ask_ctx *ac = calloc(1, sizeof *ac);
    if (!ac) {
        ui_message(u, 1, "out of memory");
        return R_REDRAW;
    }
    ac->p = &l->items[sel];
    if (!ask_params(u, ac)) {
        ui_message(u, 0, "cancelled");
        free(ac);
        return R_REDRAW;
    }
    int bad = preview(u, ac->spec, pv, sizeof pv);
    snprintf(text, sizeof text, "%s\n%s\n\n%s", ac->spec, pv,
             bad ? "Esc goes back" : "Enter applies, Esc cancels");
    int c = ui_ask(u, "apply preset", text, "\ny");
    int rc = R_REDRAW;
    if (c != 27 && !bad) {
        session_result r;
        size_t before = u->s->nrules;
        if (session_apply_preset(u->s, l, ac->spec, 0, &r) == 0) {
            ui_record_preset_use(u, ac->p, ac->spec, before);
            char st[96] = "";
            if (ac->p->gen && u->s->base.nstages)
                snprintf(st, sizeof st, "; %zu stages (] shows the next)",
                         u->s->base.nstages);
            ui_message(u, 0, "preset %s: %s tensors changed%s%s", ac->spec,
                       human_count(r.change.tensors_changed, a, sizeof a),
                       r.empty_rules ? " (some rules matched nothing)" : "",
                       st);
            rc |= R_EDIT;
        } else {
            ui_message(u, 1, "%s", err_msg());
        }
    } else {
        ui_message(u, bad, "%s", bad ? pv : "cancelled");
    }
    free(ac);
    return rc;
}
