/* activation_json.c: the measuring process's --json line read into an
 * activation, and the frozen-after-trainable warning
 * (activation_json.h). */
#include "activation_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "utf8.h"

/* 2^53: above it a double does not hold every integer. */
#define JSON_EXACT 9007199254740992.0

static const char *const known_keys[] = {
    "batch_size", "device", "libtorch", "activation_bytes", "peak_bytes",
    "per_module", "saved_tensors", "storages", "static", "peak_margin",
    "total", "step_seconds", "fit", NULL};

static int is_known(const char *k)
{
    for (size_t i = 0; known_keys[i]; i++)
        if (strcmp(k, known_keys[i]) == 0)
            return 1;
    return 0;
}

/* A required integer member `key` of object `o` in [0, 2^53). */
static int get_u64(const cJSON *o, const char *key, uint64_t *dst)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!n)
        return err_set("measurement: missing '%s'", key);
    double v = cJSON_IsNumber(n) ? n->valuedouble : -1.0;
    if (!(v >= 0.0 && v < JSON_EXACT && floor(v) == v))
        return err_set("measurement: '%s' is not an integer in [0, 2^53)",
                       key);
    *dst = (uint64_t)v;
    return 0;
}

/* An optional non-empty UTF-8 string member `key`, strdup'ed. */
static int get_text(const cJSON *o, const char *key, int required,
                    char **dst)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!n && !required)
        return 0;
    if (!n)
        return err_set("measurement: missing '%s'", key);
    const char *s = cJSON_GetStringValue(n);
    if (!s || !*s || !utf8_valid((const unsigned char *)s, strlen(s), NULL))
        return err_set("measurement: '%s' is not a non-empty UTF-8 string",
                       key);
    if (!(*dst = strdup(s)))
        return err_set("measurement: out of memory");
    return 0;
}

static int get_modules(const cJSON *list, activation *a)
{
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list))
        return err_set("measurement: 'per_module' is not a list");
    if (n == 0)
        return 0;
    if (!(a->modules = calloc((size_t)n, sizeof *a->modules)))
        return err_set("measurement: out of memory");
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        if (!cJSON_IsObject(it) || cJSON_GetArraySize(it) != 2)
            return err_set("measurement: per_module item %zu is not "
                           "{module, activation_bytes}", i + 1);
        a->nmodules = i + 1;
        if (get_text(it, "module", 1, &a->modules[i].module) ||
            get_u64(it, "activation_bytes", &a->modules[i].bytes))
            return err_prefix("per_module item %zu", i + 1);
        i++;
    }
    return 0;
}

static int get_fields(const cJSON *o, activation *a)
{
    const cJSON *m;
    if (!cJSON_IsObject(o))
        return err_set("measurement: not a JSON object");
    cJSON_ArrayForEach(m, o)
        if (!m->string || !is_known(m->string))
            return err_set("measurement: unknown key '%s'",
                           m->string ? m->string : "");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "per_module");
    if (!list)
        return err_set("measurement: missing 'per_module'");
    if (get_u64(o, "batch_size", &a->batch) ||
        get_u64(o, "activation_bytes", &a->activation_bytes) ||
        get_u64(o, "peak_bytes", &a->peak_bytes) ||
        get_text(o, "device", 0, &a->device) ||
        get_text(o, "libtorch", 0, &a->libtorch) || get_modules(list, a))
        return -1;
    if (a->batch == 0)
        return err_set("measurement: 'batch_size' must be at least 1");
    return 0;
}

int activation_parse_json(activation *a, const char *text, size_t len)
{
    const char *end = NULL;
    activation_init(a);
    if (!utf8_valid((const unsigned char *)text, len, NULL))
        return err_set("measurement: not valid UTF-8");
    cJSON *o = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!o)
        return err_set("measurement: not JSON near byte %zu",
                       end && end >= text ? (size_t)(end - text) : 0);
    while (end < text + len && strchr(" \t\r\n", *end) && *end)
        end++;
    int rc = end != text + len
                 ? err_set("measurement: text after the object at byte %zu",
                           (size_t)(end - text))
                 : get_fields(o, a);
    cJSON_Delete(o);
    if (rc)
        activation_free(a);
    return rc;
}

int activation_frozen_after_trainable(const activation *a,
                                      activation_mod_fn state, void *ctx,
                                      size_t *count, uint64_t *bytes)
{
    int seen_trainable = 0;
    *count = 0;
    *bytes = 0;
    for (size_t i = 0; i < a->nmodules; i++) {
        activation_mod_state st = state(a->modules[i].module, ctx);
        if (st == ACT_MOD_TRAINABLE)
            seen_trainable = 1;
        if (st != ACT_MOD_FROZEN || !seen_trainable || !a->modules[i].bytes)
            continue;
        if (__builtin_add_overflow(*bytes, a->modules[i].bytes, bytes)) {
            *count = 0;
            *bytes = 0;
            return err_set("measurement: the frozen modules' bytes overflow "
                           "64 bits");
        }
        ++*count;
    }
    return 0;
}

activation_mod_state activation_table_state(const char *module, void *ctx)
{
    const activation_table_ctx *c = ctx;
    size_t n = strlen(module);
    int params = 0;
    if (module[0] == '(')
        return ACT_MOD_NONE;
    for (size_t i = 0; i < c->t->count; i++) {
        const char *name = table_name(c->t, i);
        if (table_at(c->t, i)->kind != TK_PARAMETER ||
            strncmp(name, module, n) != 0 || name[n] != '.')
            continue;
        if (!bitset_get(c->frozen, i))
            return ACT_MOD_TRAINABLE;
        params = 1;
    }
    return params ? ACT_MOD_FROZEN : ACT_MOD_NONE;
}
