/* ui_preset_save.c: W, saving the rules as a user preset. The rules a
 * preset added from the menu are saved as the preset wrote them (its
 * templates, `if:` conditions and parameters, with the values chosen as
 * the parameters' defaults), not as this model's expansion; other rules
 * as typed. Asks, showing the full path, before writing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/atomic.h"
#include "../core/err.h"
#include "ui_impl.h"

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

/* --- the presets applied --- */

static void use_free(ui_preset_use *x)
{
    for (size_t i = 0; i < x->n; i++)
        free(x->pats[i]);
    free(x->pats);
    for (size_t i = 0; i < x->np; i++)
        free(x->pnames[i]);
    free(x->pnames);
    free(x->pvals);
    free(x->params);
    free(x->rules);
    memset(x, 0, sizeof *x);
}

void ui_menu_free_uses(ui *u)
{
    for (size_t i = 0; i < u->nuses; i++)
        use_free(&u->uses[i]);
    free(u->uses);
    u->uses = NULL;
    u->nuses = 0;
}

/* The value given for parameter `name` in args ("k=v,k=v"), else def. */
static long long arg_value(const char *args, const char *name,
                           long long def)
{
    size_t nl = strlen(name);
    for (const char *a = args; a && *a;) {
        if (strncmp(a, name, nl) == 0 && a[nl] == '=')
            return strtoll(a + nl + 1, NULL, 10);
        a = strchr(a, ',');
        if (a)
            a++;
    }
    return def;
}

/* The YAML of a preset's params: entries (defaults = the values chosen)
 * and of its rules, into x. Returns 0 or -1 (out of memory). */
static int use_yaml(ui_preset_use *x, const preset *p)
{
    size_t len;
    FILE *f = open_memstream(&x->params, &len);
    if (!f)
        return -1;
    for (size_t i = 0; i < p->nparams; i++) {
        const preset_param *pp = &p->params[i];
        fprintf(f, "  %s:\n    default: %lld\n    min: %lld\n    max: %lld\n",
                pp->name, x->pvals[i], pp->min, pp->max);
        if (pp->help && pp->help[0]) {
            fputs("    help: ", f);
            yaml_quoted(f, pp->help);
            fputc('\n', f);
        }
    }
    if (fclose(f) || !x->params)
        return -1;
    f = open_memstream(&x->rules, &len);
    if (!f)
        return -1;
    for (size_t i = 0; i < p->nrules; i++) {
        fprintf(f, "  - %s: ", preset_op_name(p->rules[i].op));
        yaml_quoted(f, p->rules[i].pattern);
        fputc('\n', f);
        if (p->rules[i].cond) {
            fputs("    if: ", f);
            yaml_quoted(f, p->rules[i].cond);
            fputc('\n', f);
        }
    }
    return fclose(f) || !x->rules ? -1 : 0;
}

void ui_record_preset_use(ui *u, const preset *p, const char *spec,
                          size_t before)
{
    const session *s = u->s;
    const char *args = strchr(spec, ':');
    ui_preset_use x;
    memset(&x, 0, sizeof x);
    /* a computed preset has no rules as written: W saves its expansion */
    if (s->nrules <= before || p->gen)
        return;
    ui_preset_use *nu = realloc(u->uses, (u->nuses + 1) * sizeof *nu);
    if (!nu)
        return;
    u->uses = nu;
    x.start = before;
    x.pats = calloc(s->nrules - before, sizeof *x.pats);
    x.pnames = calloc(p->nparams + 1, sizeof *x.pnames);
    x.pvals = calloc(p->nparams + 1, sizeof *x.pvals);
    if (!x.pats || !x.pnames || !x.pvals)
        goto fail;
    for (size_t i = before; i < s->nrules; i++, x.n++)
        if (!(x.pats[x.n] = strdup(s->rules[i].pattern ? s->rules[i].pattern
                                                       : "")))
            goto fail;
    for (; x.np < p->nparams; x.np++) {
        if (!(x.pnames[x.np] = strdup(p->params[x.np].name)))
            goto fail;
        x.pvals[x.np] = arg_value(args ? args + 1 : NULL,
                                  p->params[x.np].name, p->params[x.np].def);
    }
    if (use_yaml(&x, p) < 0)
        goto fail;
    u->uses[u->nuses++] = x;
    return;
fail:
    use_free(&x);
}

/* The record whose rules are the session's from index i on (still in
 * force: undo and later edits are checked, not assumed), or NULL. */
static const ui_preset_use *use_at(const ui *u, size_t i)
{
    const session *s = u->s;
    for (size_t k = u->nuses; k-- > 0;) {
        const ui_preset_use *x = &u->uses[k];
        if (x->start != i || x->n == 0 || i + x->n > s->nrules)
            continue;
        size_t j = 0;
        while (j < x->n && s->rules[i + j].pattern &&
               strcmp(s->rules[i + j].pattern, x->pats[j]) == 0)
            j++;
        if (j == x->n)
            return x;
    }
    return NULL;
}

/* 1 when a parameter name of x is already one of the `nseen` records
 * saved as written (one params: block cannot hold it twice; x is then
 * saved expanded). */
static int clashes(const ui_preset_use *x, const ui_preset_use **seen,
                   size_t nseen)
{
    for (size_t a = 0; a < x->np; a++)
        for (size_t k = 0; k < nseen; k++)
            for (size_t b = 0; b < seen[k]->np; b++)
                if (strcmp(x->pnames[a], seen[k]->pnames[b]) == 0)
                    return 1;
    return 0;
}

static int write_preset(ui *u, const char *name, const char *path)
{
    const session *s = u->s;
    char *buf = NULL, *rb = NULL, *pb = NULL;
    size_t len = 0, rl = 0, pl = 0, nseen = 0;
    const ui_preset_use **seen = calloc(s->nrules + 1, sizeof *seen);
    FILE *f = open_memstream(&buf, &len);
    FILE *r = open_memstream(&rb, &rl);
    FILE *pf = open_memstream(&pb, &pl);
    int rc = -1, oom = 1;
    if (!seen || !f || !r || !pf)
        goto out;
    for (size_t i = 0; i < s->nrules;) {
        const ui_preset_use *x = use_at(u, i);
        if (x && !clashes(x, seen, nseen)) {
            fputs(x->rules, r);
            fputs(x->params, pf);
            seen[nseen++] = x;
            i += x->n;
            continue;
        }
        fputs(s->rules[i].kind == PLAN_FREEZE ? "  - freeze: "
                                              : "  - unfreeze: ", r);
        yaml_quoted(r, s->rules[i].pattern);
        fputc('\n', r);
        i++;
    }
    int bad = fclose(r) != 0;
    bad |= fclose(pf) != 0;
    r = pf = NULL;
    if (bad || !rb || !pb)
        goto out;
    fprintf(f, "name: %s\ndescription: ", name);
    char d[600];
    snprintf(d, sizeof d, "saved from the editor on %s", s->checkpoint);
    yaml_quoted(f, d);
    if (pb[0])
        fprintf(f, "\nparams:\n%s", pb);
    else
        fputc('\n', f);
    fprintf(f, "rules:\n%s", rb);
    bad = fclose(f) != 0;
    f = NULL;
    if (bad || !buf)
        goto out;
    oom = 0;
    rc = make_dirs(u->cfg->user_preset_dir) ? -1
         : atomic_write(path, buf, len);
out:
    if (oom)
        err_set("out of memory");
    if (f)
        fclose(f);
    if (r)
        fclose(r);
    if (pf)
        fclose(pf);
    free(buf);
    free(rb);
    free(pb);
    free(seen);
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
        if (ui_show_error(u, "bad name", u->msg,
                          "Enter edits the name, any other key closes") !=
            '\n') {
            ui_message(u, 0, "not saved");
            return R_REDRAW;
        }
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
