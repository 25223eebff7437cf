/* preset_expand.c: preset arguments, expansion into concrete rules, and
 * the model variables templates use (see preset.h). */
#include "preset.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "suggest.h"
#include "preset_template.h"

#define VARS_MAX_CONTAINERS 4096u
#define VARS_SLOTS 8192u          /* hash slots, twice the containers */
#define VARS_MAX_INDEX 1000000u

int preset_split_spec(const char *spec, char *name, size_t cap,
                      const char **args)
{
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n == 0)
        return err_set("preset '%s': empty preset name", spec);
    if (n >= cap || n > PRESET_MAX_NAME)
        return err_set("preset '%.*s...': name too long", 32, spec);
    memcpy(name, spec, n);
    name[n] = '\0';
    *args = colon ? colon + 1 : "";
    return 0;
}

/* Lists p's parameter names into buf, for messages. */
static void param_names(const preset *p, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->nparams && len < cap; i++) {
        int n = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "",
                         p->params[i].name);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    if (p->nparams == 0)
        snprintf(buf, cap, "none");
}

int preset_parse_args(const preset *p, const char *args, long long *values)
{
    unsigned char given[PRESET_MAX_PARAMS] = {0};
    const char *s = args ? args : "";
    char names[512];

    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (!eq)
            return err_set("preset '%s': argument '%.*s' is not k=v",
                           p->name, (int)len, s);
        size_t klen = (size_t)(eq - s);
        while (klen && s[klen - 1] == ' ')
            klen--;
        const char *k = s;
        while (klen && *k == ' ') {
            k++;
            klen--;
        }
        size_t i;
        for (i = 0; i < p->nparams; i++)
            if (strlen(p->params[i].name) == klen &&
                memcmp(p->params[i].name, k, klen) == 0)
                break;
        if (i == p->nparams) {
            char word[PRESET_MAX_NAME + 1];
            suggest sg;
            snprintf(word, sizeof word, "%.*s", (int)klen, k);
            suggest_begin(&sg, word);
            for (size_t j = 0; j < p->nparams; j++)
                suggest_offer(&sg, p->params[j].name);
            param_names(p, names, sizeof names);
            return err_set("preset '%s': unknown parameter '%.*s'%s%s%s "
                           "(parameters: %s)", p->name, (int)klen, k,
                           sg.best ? "; did you mean '" : "",
                           sg.best ? sg.best : "", sg.best ? "'?" : "",
                           names);
        }
        if (given[i])
            return err_set("preset '%s': %s given twice", p->name,
                           p->params[i].name);
        given[i] = 1;
        char num[32];
        size_t vlen = len - (size_t)(eq - s) - 1;
        const char *v = eq + 1;
        while (vlen && *v == ' ') {
            v++;
            vlen--;
        }
        while (vlen && v[vlen - 1] == ' ')
            vlen--;
        char *tail;
        if (vlen == 0 || vlen >= sizeof num)
            return err_set("preset '%s': %s=%.*s is not an integer", p->name,
                           p->params[i].name, (int)vlen, v);
        memcpy(num, v, vlen);
        num[vlen] = '\0';
        errno = 0;
        long long x = strtoll(num, &tail, 10);
        if (*tail || errno || !(isdigit((unsigned char)num[0]) ||
                                num[0] == '-'))
            return err_set("preset '%s': %s=%s is not an integer", p->name,
                           p->params[i].name, num);
        if (x < p->params[i].min || x > p->params[i].max)
            return err_set("preset '%s': %s=%lld is outside [%lld, %lld]",
                           p->name, p->params[i].name, x, p->params[i].min,
                           p->params[i].max);
        values[i] = x;
        s = end ? end + 1 : s + len;
    }
    return 0;
}

int preset_expand(const preset *p, const char *args, const preset_vars *vars,
                  preset_expansion *out)
{
    long long values[PRESET_MAX_PARAMS];
    tmpl_env env = {p, values, vars, 0};
    int rc = -1;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < p->nparams && i < PRESET_MAX_PARAMS; i++)
        values[i] = p->params[i].def;
    if (preset_parse_args(p, args, values))
        goto cleanup;
    out->rules = calloc(p->nrules + 1, sizeof *out->rules);
    if (!out->rules) {
        err_set("out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const preset_rule *r = &p->rules[i];
        char *pat = NULL;
        if (r->cond) {
            long long c;
            if (tmpl_eval(r->cond, &env, &c)) {
                err_prefix("%s:%u:%u: condition '%s'", p->path, r->line,
                           r->col, r->cond);
                goto cleanup;
            }
            if (c == 0) {
                out->dropped++;
                continue;
            }
        }
        int k = tmpl_expand(r->pattern, &env, &pat);
        if (k < 0) {
            err_prefix("%s:%u:%u: pattern '%s'", p->path, r->line, r->col,
                       r->pattern);
            goto cleanup;
        }
        if (k == 0) {
            out->dropped++;
            continue;
        }
        out->rules[out->n].op = r->op;
        out->rules[out->n].pattern = pat;
        out->n++;
    }
    rc = 0;
cleanup:
    if (rc)
        preset_expansion_free(out);
    return rc;
}

void preset_expansion_free(preset_expansion *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        free(e->rules[i].pattern);
    free(e->rules);
    memset(e, 0, sizeof *e);
}

/* One container: the name of tensor `tensor` up to `len` bytes. */
typedef struct {
    size_t tensor;
    uint32_t len;
    uint32_t used;
    uint64_t numel;
    uint64_t max_index;
} container;

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Finds the first all-digit segment of name: sets *plen to the length
 * of the path before it (without the dot) and *index. Returns 1 when
 * found (and the index is at most VARS_MAX_INDEX), else 0. */
static int first_index(const char *name, size_t n, size_t *plen,
                       uint64_t *index)
{
    size_t s = 0;
    while (s < n) {
        size_t e = s;
        uint64_t v = 0;
        int digits = 1;
        while (e < n && name[e] != '.') {
            if (!isdigit((unsigned char)name[e]) || e - s >= 7)
                digits = 0;
            else
                v = v * 10 + (uint64_t)(name[e] - '0');
            e++;
        }
        if (digits && e > s) {
            if (v > VARS_MAX_INDEX)
                return 0;
            *plen = s ? s - 1 : 0;
            *index = v;
            return 1;
        }
        s = e + 1;
    }
    return 0;
}

int preset_vars_from_table(const table *t, preset_vars *out)
{
    container *c = calloc(VARS_SLOTS, sizeof *c);
    size_t used = 0;
    const container *best = NULL;

    memset(out, 0, sizeof *out);
    if (!c)
        return err_set("out of memory");
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        const char *name = table_name(t, i);
        size_t plen;
        uint64_t index;
        if ((x->kind != TK_PARAMETER && x->kind != TK_BUFFER) ||
            !first_index(name, x->name_len, &plen, &index))
            continue;
        size_t slot = (size_t)hash_bytes(name, plen) & (VARS_SLOTS - 1);
        while (c[slot].used &&
               (c[slot].len != plen ||
                memcmp(table_name(t, c[slot].tensor), name, plen) != 0))
            slot = (slot + 1) & (VARS_SLOTS - 1);
        container *k = &c[slot];
        if (!k->used) {
            if (used == VARS_MAX_CONTAINERS)
                continue;
            used++;
            k->used = 1;
            k->tensor = i;
            k->len = (uint32_t)plen;
        }
        if (index > k->max_index)
            k->max_index = index;
        if (__builtin_add_overflow(k->numel, x->numel, &k->numel))
            k->numel = UINT64_MAX;
    }
    for (size_t s = 0; s < VARS_SLOTS; s++) {
        const container *k = &c[s];
        if (!k->used)
            continue;
        if (!best || k->numel > best->numel ||
            (k->numel == best->numel &&
             (k->max_index > best->max_index ||
              (k->max_index == best->max_index && k->tensor < best->tensor))))
            best = k;
    }
    if (best) {
        size_t n = best->len < sizeof out->container - 1
                       ? best->len : sizeof out->container - 1;
        out->layers = (long long)best->max_index + 1;
        memcpy(out->container, table_name(t, best->tensor), n);
        out->container[n] = '\0';
    }
    free(c);
    return 0;
}
