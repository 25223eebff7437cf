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

/* The menu's text: one line per preset, the selected one marked. */
static void menu_text(ui *u, size_t sel, char *buf, size_t cap,
                      const char *pv)
{
    const preset_list *l = ui_presets(u);
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < l->n && k + 200 < cap; i++) {
        const preset *p = &l->items[i];
        char d[72];
        snprintf(d, sizeof d, "%s", p->description ? p->description : "");
        for (char *c = d; *c; c++)
            if (*c == '\n')
                *c = ' ';
        k += (size_t)snprintf(buf + k, cap - k, "%s %-26s %s%s\n",
                              i == sel ? ">" : " ", p->name,
                              p->user ? "(user) " : "", d);
    }
    snprintf(buf + k, cap - k, "\n%s", pv);
}

typedef struct {
    const preset *p;
    char vals[PRESET_MAX_PARAMS][24];
    size_t idx;        /* the parameter being asked */
    char spec[PRESET_MAX_NAME + PRESET_MAX_PARAMS * 96 + 8];
} ask_ctx;

static void build_spec(ask_ctx *a, size_t upto, const char *cur)
{
    size_t k = (size_t)snprintf(a->spec, sizeof a->spec, "%s", a->p->name);
    for (size_t i = 0; i <= upto && i < a->p->nparams; i++) {
        const char *v = i == upto ? cur : a->vals[i];
        k += (size_t)snprintf(a->spec + k, sizeof a->spec - k, "%c%s=%s",
                              i ? ',' : ':', a->p->params[i].name, v);
    }
}

static void param_changed(ui *u, const char *text, void *ctx)
{
    ask_ctx *a = ctx;
    char pv[300];
    build_spec(a, a->idx, text);
    int rc = preview(u, a->spec, pv, sizeof pv);
    ui_message(u, rc != 0, "%s: %s", a->spec, pv);
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
        ui_draw(u);
        ui_draw_box(u, "presets", text, sel + 3 > (size_t)u->rows - 6
                                            ? (int)(sel + 9 - (size_t)u->rows)
                                            : 0,
                    "Enter choose  arrows move  Esc cancel");
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
    build_spec(ac, SIZE_MAX, "");
    for (size_t i = 0; i < ac->p->nparams; i++) {
        const preset_param *pp = &ac->p->params[i];
        char label[256], buf[24];
        snprintf(label, sizeof label, "%s (%lld..%lld, default %lld): ",
                 pp->name, pp->min, pp->max, pp->def);
        snprintf(buf, sizeof buf, "%lld", pp->def);
        ac->idx = i;
        if (!ui_prompt(u, label, buf, sizeof buf, param_changed, ac)) {
            ui_message(u, 0, "cancelled");
            free(ac);
            return R_REDRAW;
        }
        snprintf(ac->vals[i], sizeof ac->vals[i], "%s", buf);
    }
    build_spec(ac, ac->p->nparams ? ac->p->nparams - 1 : SIZE_MAX,
               ac->p->nparams ? ac->vals[ac->p->nparams - 1] : "");
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
    if (stat(path, &st) == 0 &&
        ui_ask(u, "overwrite?", path, "yn") != 'y') {
        ui_message(u, 0, "cancelled");
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
