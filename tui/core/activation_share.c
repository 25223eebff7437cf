/* activation_share.c: the activation share a frozen set keeps
 * (activation_share.h). */
#include "activation_share.h"

#include <string.h>

#include "err.h"

/* 1 when module path `mod` holds a trainable parameter of t (a name
 * "mod.<rest>" whose frozen bit is clear). */
static int holds_trainable(const char *mod, const table *t,
                           const bitset *frozen)
{
    size_t n = strlen(mod);
    if (mod[0] == '(') /* "(root)", "(loss)": no parameters of their own */
        return 0;
    for (size_t i = 0; i < t->count; i++) {
        const char *name = table_name(t, i);
        if (table_at(t, i)->kind == TK_PARAMETER && !bitset_get(frozen, i) &&
            strncmp(name, mod, n) == 0 && name[n] == '.')
            return 1;
    }
    return 0;
}

int activation_share_of(const activation *m, const table *t,
                        const bitset *frozen, activation_share *out)
{
    memset(out, 0, sizeof *out);
    out->first = m->nmodules;
    for (size_t i = 0; i < m->nmodules; i++) {
        uint64_t b = m->modules[i].bytes;
        if (__builtin_add_overflow(out->measured, b, &out->measured))
            return err_set("activation share: the measured bytes overflow "
                           "64 bits");
        if (out->first == m->nmodules &&
            holds_trainable(m->modules[i].module, t, frozen))
            out->first = i;
        if (out->first < m->nmodules)
            out->kept += b; /* <= measured: cannot overflow */
    }
    if (out->measured == 0)
        return err_set("activation share: the measurement has no "
                       "per-module bytes");
    return 0;
}
