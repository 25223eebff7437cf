/* synthetic.h: reading gen_synthetic.py's expected.json, for the unit
 * tests that open its header-only sets ($FIX/synthetic/<model>/):
 * test_safetensors (bert-base-uncased) and test_shard_index (Llama-2,
 * Llama-3, DeepSeek-V3).
 *
 * expected.json holds "tensors": [[name, dtype, shape, file index], ...]
 * plus totals (see tests/fixtures/gen_synthetic.py). Header-only (static
 * functions); needs cJSON.
 */
#ifndef TUI_TESTS_SYNTHETIC_H
#define TUI_TESTS_SYNTHETIC_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/core/dtype.h"
#include "../../tui/core/table.h"

/* The fixtures folder from $FIX, or NULL (after printing "FIX not set:
 * <what> skipped") when FIX is unset or empty. Cannot fail otherwise. */
static inline const char *synth_fix_dir(const char *what)
{
    const char *fix = getenv("FIX");
    if (!fix || !*fix) {
        printf("FIX not set: %s skipped\n", what);
        return NULL;
    }
    return fix;
}

/* Parses <fix>/synthetic/<model>/expected.json. Returns the document
 * (the caller frees it with cJSON_Delete), or NULL when the path does not
 * fit, the file cannot be opened or read whole, or it is not JSON. */
static inline cJSON *synth_load_expected(const char *fix, const char *model)
{
    char p[1024];
    int n = snprintf(p, sizeof p, "%s/synthetic/%s/expected.json", fix,
                     model);
    if (n < 0 || (size_t)n >= sizeof p)
        return NULL;
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    cJSON *j = NULL;
    char *js = NULL;
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        sz = ftell(f);
    if (sz <= 0 || fseek(f, 0, SEEK_SET) != 0)
        goto cleanup;
    js = malloc((size_t)sz);
    if (js && fread(js, 1, (size_t)sz, f) == (size_t)sz)
        j = cJSON_ParseWithLength(js, (size_t)sz);
cleanup:
    free(js);
    fclose(f);
    return j;
}

/* Compares t with exp's "tensors" list: one mismatch for every listed
 * tensor that t lacks or whose entry is malformed, for a dtype, ndim or
 * (where the entry gives one) file index that differs, and for every
 * differing dimension. Tensors of t that exp does not list are not seen
 * here (compare the counts). When dcount is not NULL, dcount[dtype] is
 * incremented for every listed tensor found in t. Returns the number of
 * mismatches (0: all agree). t and exp are untouched. Cannot fail. */
static inline size_t synth_count_mismatches(const table *t, const cJSON *exp,
                                            size_t dcount[DT_COUNT])
{
    size_t bad = 0;
    const cJSON *ts = cJSON_GetObjectItem(exp, "tensors");
    for (const cJSON *e = ts ? ts->child : NULL; e; e = e->next) {
        const char *name = cJSON_GetStringValue(cJSON_GetArrayItem(e, 0));
        const char *dt = cJSON_GetStringValue(cJSON_GetArrayItem(e, 1));
        const cJSON *shape = cJSON_GetArrayItem(e, 2);
        const cJSON *file = cJSON_GetArrayItem(e, 3);
        long i = name ? table_find(t, name, strlen(name)) : -1;
        if (i < 0 || !dt || !cJSON_IsArray(shape)) {
            bad++;
            continue;
        }
        const table_tensor *x = table_at(t, (size_t)i);
        if (dcount)
            dcount[x->dtype]++;
        if (strcmp(dtype_name(x->dtype), dt) != 0 ||
            x->ndim != cJSON_GetArraySize(shape) ||
            (file && x->file != (uint32_t)file->valueint))
            bad++;
        int d = 0;
        for (const cJSON *v = shape->child; v && d < x->ndim; v = v->next)
            if (table_shape(t, (size_t)i)[d++] != (uint64_t)v->valuedouble)
                bad++;
    }
    return bad;
}

#endif
