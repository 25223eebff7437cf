/* plan_activation.c: reading and checking a plan's
 * `estimate.activations:` (plan_activation.h). The writer is
 * emit_activations() in plan_write.c; the key order here is the order
 * it writes, so a plan round-trips byte for byte. */
#include "plan_activation.h"

#include "err.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

static const char *const act_keys[] = {"batch", "activation_bytes",
                                       "peak_bytes", "device", "libtorch",
                                       "per_module", NULL};
static const char *const module_keys[] = {"module", "bytes", NULL};

/* A required non-negative integer `key` of `map`. */
static int need_u64(const yamldoc *d, const ynode *map, const char *key,
                    uint64_t *dst)
{
    const ynode *n = ynode_get(map, key);
    unsigned long long v;
    if (!n)
        return ynode_error(d, map, "missing required key '%s' in "
                           "'activations'", key);
    if (ynode_u64(d, n, &v) < 0)
        return -1;
    *dst = v;
    return 0;
}

/* An optional non-empty string `key` of `map`, strdup'ed into *dst. */
static int opt_text(const yamldoc *d, const ynode *map, const char *key,
                    char **dst)
{
    const ynode *n = ynode_get(map, key);
    const char *s;
    if (!n)
        return 0;
    if (ynode_string(d, n, &s) < 0)
        return -1;
    if (!*s || (!n->quoted && (strcmp(s, "~") == 0 || strcmp(s, "null") == 0)))
        return ynode_error(d, n, "expected a non-empty string for '%s' "
                           "(leave the key out instead)", key);
    if (!(*dst = strdup(s)))
        return ynode_error(d, n, "out of memory");
    return 0;
}

static int read_modules(const yamldoc *d, const ynode *s, activation *a)
{
    if (s->type != YNODE_SEQ || s->n == 0)
        return ynode_error(d, s, "expected a non-empty list of {module: "
                           "NAME, bytes: N} for 'per_module'");
    if (!(a->modules = calloc(s->n, sizeof *a->modules)))
        return ynode_error(d, s, "out of memory");
    for (size_t i = 0; i < s->n; i++) {
        const ynode *it = s->items[i];
        if (it->type != YNODE_MAP)
            return ynode_error(d, it, "expected {module: NAME, bytes: N} "
                               "for a 'per_module' item");
        a->nmodules = i + 1;
        if (ynode_check_keys(d, it, module_keys) < 0 ||
            opt_text(d, it, "module", &a->modules[i].module) < 0 ||
            need_u64(d, it, "bytes", &a->modules[i].bytes) < 0)
            return -1;
        if (!a->modules[i].module)
            return ynode_error(d, it, "missing required key 'module' in a "
                               "'per_module' item");
    }
    return 0;
}

static int read_fields(const yamldoc *d, const ynode *m, activation *a)
{
    const ynode *s = ynode_get(m, "per_module");
    if (m->type != YNODE_MAP)
        return ynode_error(d, m, "expected a mapping for 'activations'");
    if (ynode_check_keys(d, m, act_keys) < 0 ||
        need_u64(d, m, "batch", &a->batch) < 0 ||
        need_u64(d, m, "activation_bytes", &a->activation_bytes) < 0 ||
        need_u64(d, m, "peak_bytes", &a->peak_bytes) < 0 ||
        opt_text(d, m, "device", &a->device) < 0 ||
        opt_text(d, m, "libtorch", &a->libtorch) < 0 ||
        (s && read_modules(d, s, a) < 0))
        return -1;
    if (a->batch == 0)
        return ynode_error(d, ynode_get(m, "batch"), "'batch' must be at "
                           "least 1");
    return 0;
}

int plan_read_activations(const yamldoc *d, const ynode *estimate, plan *p)
{
    const ynode *m = ynode_get(estimate, "activations");
    activation *a;
    if (!m)
        return 0;
    if (!(a = malloc(sizeof *a)))
        return ynode_error(d, m, "out of memory");
    activation_init(a);
    if (read_fields(d, m, a) < 0) {
        activation_free(a);
        free(a);
        return -1;
    }
    activation_free(p->estimate.activations);
    free(p->estimate.activations);
    p->estimate.activations = a;
    return 0;
}

static int text_ok(const char *s)
{
    return !s || (*s && utf8_valid((const unsigned char *)s, strlen(s), NULL));
}

int plan_check_activations(const activation *a)
{
    if (!a)
        return 0;
    if (a->batch == 0)
        return err_set("plan: estimate.activations.batch must be at least 1");
    if (!text_ok(a->device) || !text_ok(a->libtorch))
        return err_set("plan: estimate.activations: device or libtorch is "
                       "empty or not valid UTF-8");
    for (size_t i = 0; i < a->nmodules; i++)
        if (!a->modules[i].module || !text_ok(a->modules[i].module))
            return err_set("plan: estimate.activations.per_module item %zu: "
                           "the module is missing, empty or not valid UTF-8",
                           i + 1);
    return 0;
}
