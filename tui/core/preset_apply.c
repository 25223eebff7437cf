/* preset_apply.c: applying an expanded preset to a table through the
 * pattern module (see preset.h). */
#include "preset.h"

#include "err.h"
#include "pattern.h"

int preset_apply(const preset_expansion *e, const table *t, bitset *frozen,
                 size_t *empty_rules)
{
    int rc = -1;
    bitset hit = {NULL, 0};
    pattern *pat = NULL;
    size_t empty = 0;

    if (frozen->n < t->count) {
        err_set("preset_apply: frozen set of %zu bits for %zu tensors",
                frozen->n, t->count);
        goto cleanup;
    }
    if (bitset_init(&hit, t->count)) {
        err_set("out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < e->n; i++) {
        pat = pattern_compile(e->rules[i].pattern, NULL);
        if (!pat) {
            err_prefix("preset rule '%s'", e->rules[i].pattern);
            goto cleanup;
        }
        bitset_zero(&hit);
        if (pattern_match_table(pat, t, &hit) == 0)
            empty++;
        for (size_t w = 0; w < t->count / 64 + 1; w++) {
            if (e->rules[i].op == PRESET_FREEZE)
                frozen->w[w] |= hit.w[w];
            else
                frozen->w[w] &= ~hit.w[w];
        }
        pattern_free(pat);
        pat = NULL;
    }
    if (empty_rules)
        *empty_rules = empty;
    rc = 0;
cleanup:
    pattern_free(pat);
    bitset_free(&hit);
    return rc;
}
