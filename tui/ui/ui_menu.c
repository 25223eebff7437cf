/* ui_menu.c: the presets menu (pick a preset, answer its parameters
 * with a live preview of what it would freeze, confirm, apply as one
 * undoable step) and "save the rules as a user preset".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/human.h"
#include "../core/atomic.h"
#include "../core/err.h"
#include "ui_impl.h"

const preset_list *ui_presets(const ui *u)
{
    return u->has_own_presets ? &u->own_presets : u->cfg->presets;
}

/* "would freeze N tensors, P parameters (x%)" for a spec, into out.
 * Returns 0, or -1 with the error text in out. */
static int preview(ui *u, const char *spec, char *out, size_t cap)
{
    session *s = u->s;
    bitset b;
    session_result r;
    char a[32], c[32];
    if (bitset_init(&b, s->t.count)) {
        snprintf(out, cap, "out of memory");
        return -1;
    }
    if (session_preview_preset(s, ui_presets(u), spec, &b, &r)) {
        snprintf(out, cap, "%s", err_msg());
        bitset_free(&b);
        return -1;
    }
    size_t n = 0;
    uint64_t numel = 0;
    for (size_t i = 0; i < s->t.count; i++)
        if (bitset_get(&b, i) && bitset_get(&s->fs.params, i)) {
            n++;
            /* a tie group freezes whole: count it at its first name */
            if (!(table_at(&s->t, i)->flags & TF_ALIAS))
                numel += table_at(&s->t, i)->numel;
        }
    bitset_free(&b);
    uint64_t all = tree_root(&s->tr)->param_numel;
    snprintf(out, cap, "would freeze %s tensors, %s params (%.1f%%)%s",
             human_count(n, a, sizeof a), human_count(numel, c, sizeof c),
             all ? 100.0 * (double)numel / (double)all : 0.0,
             r.empty_rules ? "; some rules match nothing here" : "");
    return 0;
}

/* The menu's text: one line per preset, the selected one marked, its
 * description filling the box's width (the box is the screen less 6
 * columns) and wrapped under itself when longer. */
static void menu_text(ui *u, size_t sel, char *buf, size_t cap,
                      const char *pv)
{
    const preset_list *l = ui_presets(u);
    size_t k = 0;
    int dw = u->cols - 6 - 29;
    if (dw < 20)
        dw = 20;
    buf[0] = '\0';
    for (size_t i = 0; i < l->n && k + 400 < cap; i++) {
        const preset *p = &l->items[i];
        const char *d = p->description ? p->description : "";
        k += (size_t)snprintf(buf + k, cap - k, "%s %-26s ",
                              i == sel ? ">" : " ", p->name);
        int col = 0;
        if (p->user) {
            k += (size_t)snprintf(buf + k, cap - k, "(user) ");
            col = 7;
        }
        /* word-wrap the description at dw columns */
        while (*d && k + 64 < cap) {
            while (*d == ' ' || *d == '\n')
                d++;
            size_t wl = strcspn(d, " \n");
            if (!wl)
                break;
            int ww = ui_width(d, wl);
            if (col > 0 && col + 1 + ww > dw) {
                k += (size_t)snprintf(buf + k, cap - k, "\n%29s", "");
                col = 0;
            } else if (col > 0) {
                buf[k++] = ' ';
                col++;
            }
            if (k + wl + 2 >= cap)
                break;
            memcpy(buf + k, d, wl);
            k += wl;
            buf[k] = '\0';
            col += ww;
            d += wl;
        }
        k += (size_t)snprintf(buf + k, cap - k, "\n");
    }
    snprintf(buf + k, cap - k, "\n%s", pv);
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
        if (session_apply_preset(u->s, l, ac->spec, 0, &r) == 0) {
            ui_message(u, 0, "preset %s: %s tensors changed%s", ac->spec,
                       human_count(r.change.tensors_changed, a, sizeof a),
                       r.empty_rules ? " (some rules matched nothing)" : "");
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

/* --- save the rules as a user preset --- */

static int name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > PRESET_MAX_NAME || n[0] == '.' || n[0] == '-')
        return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              *p == '.'))
            return 0;
    return 1;
}

static void yaml_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* mkdir -p; returns 0 or -1 with err set. */
static int make_dirs(const char *dir)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return err_set("%s: path too long", dir);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) && errno != EEXIST)
                return err_set("%s: %s", buf, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

static int write_preset(ui *u, const char *name, const char *path)
{
    const session *s = u->s;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return err_set("out of memory");
    fprintf(f, "name: %s\ndescription: ", name);
    char d[600];
    snprintf(d, sizeof d, "saved from the editor on %s", s->checkpoint);
    yaml_quoted(f, d);
    fputs("\nrules:\n", f);
    for (size_t i = 0; i < s->nrules; i++) {
        fputs(s->rules[i].kind == PLAN_FREEZE ? "  - freeze: "
                                              : "  - unfreeze: ", f);
        yaml_quoted(f, s->rules[i].pattern);
        fputc('\n', f);
    }
    if (fclose(f) || !buf) {
        free(buf);
        return err_set("out of memory");
    }
    int rc = make_dirs(u->cfg->user_preset_dir) ? -1
             : atomic_write(path, buf, len);
    free(buf);
    return rc;
}

int ui_save_preset(ui *u)
{
    const session *s = u->s;
    char name[PRESET_MAX_NAME + 1] = "", path[4200];
    if (!u->cfg->user_preset_dir) {
        ui_message(u, 1, "no user preset folder (HOME or XDG_CONFIG_HOME "
                         "is not set)");
        return R_REDRAW;
    }
    if (s->nrules == 0) {
        ui_message(u, 1, "no rules to save yet");
        return R_REDRAW;
    }
    for (size_t i = 0; i < s->nrules; i++)
        if (s->rules[i].kind == PLAN_INVERT) {
            ui_message(u, 1, "the rules hold an invert, which a preset "
                             "cannot say");
            return R_REDRAW;
        }
    for (;;) {
        u->msg[0] = '\0';
        if (!ui_prompt(u, "save rules as preset named: ", name, sizeof name,
                       NULL, NULL)) {
            ui_message(u, 0, "cancelled");
            return R_REDRAW;
        }
        if (name_ok(name))
            break;
        ui_message(u, 1, "a name is letters, digits, '-', '_' and '.'");
        ui_ask(u, "bad name", u->msg, "\n");
    }
    snprintf(path, sizeof path, "%s/%s.yaml", u->cfg->user_preset_dir, name);
    struct stat st;
    char q[4600];
    int exists = stat(path, &st) == 0;
    snprintf(q, sizeof q, "%s the user preset\n  %s\n(%zu rule%s as "
             "written)?\n\n  y  write it\n  n  Enter  Esc  no",
             exists ? "Replace" : "Write", path, s->nrules,
             s->nrules == 1 ? "" : "s");
    u->msg[0] = '\0';
    if (ui_ask(u, exists ? "overwrite a user preset?" : "write a user preset?",
               q, "yn\n") != 'y') {
        ui_message(u, 0, "not saved");
        return R_REDRAW;
    }
    if (write_preset(u, name, path)) {
        ui_message(u, 1, "%s", err_msg());
        return R_REDRAW;
    }
    if (u->cfg->builtin_preset_dir) {
        preset_list nl;
        if (preset_list_load(u->cfg->builtin_preset_dir, &nl) == 0) {
            if (u->has_own_presets)
                preset_list_free(&u->own_presets);
            u->own_presets = nl;
            u->has_own_presets = 1;
        } else {
            ui_message(u, 1, "saved %s, but reading presets: %s", path,
                       err_msg());
            return R_REDRAW;
        }
    }
    ui_message(u, 0, "saved preset %s to %s", name, path);
    return R_REDRAW;
}
