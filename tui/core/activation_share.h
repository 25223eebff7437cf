/* activation_share.h: how much of a measured activation memory a frozen
 * set keeps (docs/memory.md, "Prefix vs middle freezing").
 *
 * The rule: autograd saves a module's activations only when something
 * at or before it needs a gradient. So, walking the measurement's
 * per-module bytes in forward order (the order of activation.modules),
 * every module before the first one that holds a trainable parameter
 * saves nothing, and every module from there on keeps its measured
 * bytes: freezing a prefix saves, freezing the middle saves nothing.
 *
 * Its limits: a module counts as a whole (a depth-1 "layer1" with one
 * trainable block keeps all of layer1's bytes), "(root)" and "(loss)"
 * hold no parameters, and a module's bytes are what it saved in the
 * measurement, so a measurement made with everything trainable is the
 * best base (a module frozen when measuring saved nothing then and
 * counts 0 here even where the new set would make it save). */
#ifndef TUI_CORE_ACTIVATION_SHARE_H
#define TUI_CORE_ACTIVATION_SHARE_H

#include <stdint.h>

#include "activation.h"
#include "bitset.h"
#include "table.h"

typedef struct {
    uint64_t kept;     /* measured bytes the frozen set keeps */
    uint64_t measured; /* every module's measured bytes (the base) */
    size_t first;      /* index in m->modules of the first module holding
                          a trainable parameter; m->nmodules when none */
} activation_share;

/* Applies the rule above to measurement `m` and the frozen set `frozen`
 * (t->count bits, a set bit is a frozen tensor of table `t`; a parameter
 * is trainable when its bit is clear). Returns 0 with *out filled, or -1
 * with err set (no per-module bytes to share, the sum overflows). */
int activation_share_of(const activation *m, const table *t,
                        const bitset *frozen, activation_share *out);

#endif
