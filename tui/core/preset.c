/* preset.c: reading preset files and the preset folders (see preset.h).
 * Expansion lives in preset_expand.c, templates in preset_template.c. */
#include "preset.h"
#include "preset_gen.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "preset_template.h"
#include "yamldoc.h"

const char *preset_op_name(preset_op op)
{
    return op == PRESET_UNFREEZE ? "unfreeze" : "freeze";
}

void preset_free(preset *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->description);
    free(p->path);
    for (size_t i = 0; i < p->nparams; i++) {
        free(p->params[i].name);
        free(p->params[i].help);
    }
    free(p->params);
    for (size_t i = 0; i < p->nrules; i++) {
        free(p->rules[i].pattern);
        free(p->rules[i].cond);
    }
    free(p->rules);
    memset(p, 0, sizeof *p);
}

/* strdup that sets err. */
static char *dup_str(const char *s)
{
    char *d = strdup(s);
    if (!d)
        err_set("out of memory");
    return d;
}

/* The file's basename without .yaml/.yml, into buf. */
static void base_name(const char *path, char *buf, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".yaml") == 0)
        n -= 5;
    else if (n > 4 && strcmp(b + n - 4, ".yml") == 0)
        n -= 4;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, b, n);
    buf[n] = '\0';
}

/* A bounded integer of a param entry. */
static int param_int(const yamldoc *d, const ynode *n, long long *out)
{
    if (ynode_i64(d, n, out))
        return -1;
    if (*out > PRESET_MAX_VALUE || *out < -PRESET_MAX_VALUE)
        return ynode_error(d, n, "value outside [-%lld, %lld]",
                           PRESET_MAX_VALUE, PRESET_MAX_VALUE);
    return 0;
}

static int load_params(const yamldoc *d, const ynode *map, preset *p)
{
    static const char *const keys[] = {"default", "min", "max", "help", NULL};
    if (map->type != YNODE_MAP)
        return ynode_error(d, map, "'params' must be a mapping of name to "
                           "{default, min, max, help}");
    if (map->n / 2 > PRESET_MAX_PARAMS)
        return ynode_error(d, map, "more than %u parameters",
                           PRESET_MAX_PARAMS);
    p->params = calloc(map->n / 2 + 1, sizeof *p->params);
    if (!p->params)
        return err_set("out of memory");
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const ynode *k = map->items[i], *v = map->items[i + 1];
        preset_param *q = &p->params[p->nparams];
        const char *name, *help = "";
        if (ynode_string(d, k, &name))
            return -1;
        if (!tmpl_is_param_name(name))
            return ynode_error(d, k, "bad parameter name '%s' (letters, "
                               "digits and '_', not 'layers')", name);
        if (v->type != YNODE_MAP)
            return ynode_error(d, v, "parameter '%s' must be a mapping "
                               "{default, min, max, help}", name);
        if (ynode_check_keys(d, v, keys))
            return -1;
        const ynode *def = ynode_get(v, "default");
        const ynode *min = ynode_get(v, "min"), *max = ynode_get(v, "max");
        const ynode *h = ynode_get(v, "help");
        if (!def)
            return ynode_error(d, v, "parameter '%s' has no default", name);
        q->min = 0;
        q->max = PRESET_MAX_VALUE;
        if (param_int(d, def, &q->def) || (min && param_int(d, min, &q->min))
            || (max && param_int(d, max, &q->max)))
            return -1;
        if (h && ynode_string(d, h, &help))
            return -1;
        if (q->min > q->max)
            return ynode_error(d, v, "parameter '%s': min %lld is above max "
                               "%lld", name, q->min, q->max);
        if (q->def < q->min || q->def > q->max)
            return ynode_error(d, def, "parameter '%s': default %lld is "
                               "outside [%lld, %lld]", name, q->def, q->min,
                               q->max);
        if (!(q->name = dup_str(name)) || !(q->help = dup_str(help)))
            return -1;
        p->nparams++;
    }
    return 0;
}

static int load_rule(const yamldoc *d, const ynode *r, preset *p)
{
    static const char *const keys[] = {"freeze", "unfreeze", "if", NULL};
    preset_rule *q = &p->rules[p->nrules];
    const char *pat, *cond = NULL;
    tmpl_env env = {p, NULL, NULL, 1};
    long long unused;
    char why[512];

    if (r->type != YNODE_MAP)
        return ynode_error(d, r, "a rule must be {freeze: PATTERN} or "
                           "{unfreeze: PATTERN}");
    if (ynode_check_keys(d, r, keys))
        return -1;
    const ynode *fr = ynode_get(r, "freeze"), *un = ynode_get(r, "unfreeze");
    const ynode *when = ynode_get(r, "if");
    if ((fr != NULL) == (un != NULL))
        return ynode_error(d, r, "a rule needs exactly one of 'freeze' and "
                           "'unfreeze'");
    const ynode *pn = fr ? fr : un;
    if (ynode_string(d, pn, &pat))
        return -1;
    if (pat[0] == '\0')
        return ynode_error(d, pn, "empty pattern");
    if (strlen(pat) > PRESET_MAX_PATTERN)
        return ynode_error(d, pn, "pattern longer than %u bytes",
                           PRESET_MAX_PATTERN);
    if (tmpl_expand(pat, &env, NULL) < 0) {
        snprintf(why, sizeof why, "%s", err_msg());
        return ynode_error(d, pn, "pattern '%s': %s", pat, why);
    }
    if (when) {
        if (ynode_string(d, when, &cond))
            return -1;
        if (tmpl_eval(cond, &env, &unused)) {
            snprintf(why, sizeof why, "%s", err_msg());
            return ynode_error(d, when, "condition '%s': %s", cond, why);
        }
    }
    q->op = fr ? PRESET_FREEZE : PRESET_UNFREEZE;
    q->line = r->line;
    q->col = r->col;
    if (!(q->pattern = dup_str(pat)) || (cond && !(q->cond = dup_str(cond))))
        return -1;
    p->nrules++;
    return 0;
}

/* Fills p from the document. Returns 0 or -1 with err set. */
static int load_doc(const yamldoc *d, const char *path, preset *p)
{
    static const char *const keys[] = {"name", "description", "params",
                                       "rules", NULL};
    const ynode *root = yamldoc_root(d);
    const char *name, *desc;
    char base[PRESET_MAX_NAME + 8];

    if (!root || root->type != YNODE_MAP)
        return err_set("%s: a preset must be a mapping with name, "
                       "description and rules", path);
    if (ynode_check_keys(d, root, keys))
        return -1;
    const ynode *nn = ynode_get(root, "name");
    const ynode *dn = ynode_get(root, "description");
    const ynode *pn = ynode_get(root, "params");
    const ynode *rn = ynode_get(root, "rules");
    if (!nn || !dn || !rn)
        return ynode_error(d, root, "missing '%s'",
                           !nn ? "name" : !dn ? "description" : "rules");
    if (ynode_string(d, nn, &name) || ynode_string(d, dn, &desc))
        return -1;
    base_name(path, base, sizeof base);
    if (strlen(name) > PRESET_MAX_NAME || strcmp(name, base) != 0)
        return ynode_error(d, nn, "name '%s' must equal the file's basename "
                           "'%s'", name, base);
    if (strchr(name, ':') || name[0] == '\0')
        return ynode_error(d, nn, "name '%s' may not be empty or hold ':'",
                           name);
    if (!(p->name = dup_str(name)) || !(p->description = dup_str(desc)) ||
        !(p->path = dup_str(path)))
        return -1;
    if (pn && load_params(d, pn, p))
        return -1;
    if (rn->type != YNODE_SEQ || rn->n == 0)
        return ynode_error(d, rn, "'rules' must be a non-empty list");
    if (rn->n > PRESET_MAX_RULES)
        return ynode_error(d, rn, "more than %u rules", PRESET_MAX_RULES);
    p->rules = calloc(rn->n, sizeof *p->rules);
    if (!p->rules)
        return err_set("out of memory");
    for (size_t i = 0; i < rn->n; i++)
        if (load_rule(d, rn->items[i], p))
            return -1;
    return 0;
}

int preset_load(const char *path, preset *out)
{
    int rc = -1;
    yamldoc *d = NULL;

    memset(out, 0, sizeof *out);
    d = yamldoc_load(path);
    if (!d)
        goto cleanup;
    if (load_doc(d, path, out))
        goto cleanup;
    rc = 0;
cleanup:
    if (rc)
        preset_free(out);
    yamldoc_free(d);
    return rc;
}

int preset_user_dir(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, cap, "%s/tui/presets", xdg);
    else if (home && home[0])
        n = snprintf(buf, cap, "%s/.config/tui/presets", home);
    else
        return err_set("neither XDG_CONFIG_HOME nor HOME is set");
    if (n < 0 || (size_t)n >= cap)
        return err_set("user preset folder path too long");
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_preset(const void *a, const void *b)
{
    return strcmp(((const preset *)a)->name, ((const preset *)b)->name);
}

static int has_ext(const char *s)
{
    size_t n = strlen(s);
    return (n > 5 && strcmp(s + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(s + n - 4, ".yml") == 0);
}

/* Reads every preset of one folder into l (user marks them as user
 * presets, replacing same-named built-ins). missing_ok: a folder that
 * does not exist is not an error. Returns 0 or -1 with err set. */
static int load_dir(const char *dir, int user, int missing_ok,
                    preset_list *l)
{
    int rc = -1;
    DIR *dp = opendir(dir);
    char **names = NULL, path[4096];
    size_t nnames = 0;
    struct dirent *de;

    if (!dp) {
        if (missing_ok && (errno == ENOENT || errno == ENOTDIR))
            return 0;
        return err_set("%s: %s", dir, strerror(errno));
    }
    names = calloc(PRESET_MAX_FILES, sizeof *names);
    if (!names) {
        err_set("out of memory");
        goto cleanup;
    }
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.' || !has_ext(de->d_name))
            continue;
        if (nnames == PRESET_MAX_FILES) {
            err_set("%s: more than %u preset files", dir, PRESET_MAX_FILES);
            goto cleanup;
        }
        if (!(names[nnames] = dup_str(de->d_name)))
            goto cleanup;
        nnames++;
    }
    qsort(names, nnames, sizeof *names, cmp_str);
    preset *items = realloc(l->items, (l->n + nnames + 1) * sizeof *items);
    if (!items) {
        err_set("out of memory");
        goto cleanup;
    }
    l->items = items;
    for (size_t i = 0; i < nnames; i++) {
        preset p;
        int n = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (n < 0 || (size_t)n >= sizeof path) {
            err_set("%s/%s: path too long", dir, names[i]);
            goto cleanup;
        }
        if (preset_load(path, &p))
            goto cleanup;
        p.user = user;
        size_t j;
        for (j = 0; j < l->n && strcmp(l->items[j].name, p.name) != 0; j++)
            ;
        if (j < l->n && l->items[j].user == user) {
            err_set("%s: a second preset named '%s' in this folder (also "
                    "%s)", path, p.name, l->items[j].path);
            preset_free(&p);
            goto cleanup;
        }
        if (j < l->n) {
            p.shadows = 1;
            preset_free(&l->items[j]);
            l->items[j] = p;
        } else {
            l->items[l->n++] = p;
        }
    }
    rc = 0;
cleanup:
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    closedir(dp);
    return rc;
}

int preset_list_load(const char *builtin_dir, preset_list *out)
{
    char udir[4096];
    memset(out, 0, sizeof *out);
    if (builtin_dir && load_dir(builtin_dir, 0, 0, out))
        goto fail;
    if (preset_user_dir(udir, sizeof udir) == 0 &&
        load_dir(udir, 1, 1, out))
        goto fail;
    err_clear();
    if (out->n)
        qsort(out->items, out->n, sizeof *out->items, cmp_preset);
    if (preset_gen_add_all(out))
        goto fail;
    return 0;
fail:
    preset_list_free(out);
    return -1;
}

const preset *preset_list_find(const preset_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

void preset_list_free(preset_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        preset_free(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}
