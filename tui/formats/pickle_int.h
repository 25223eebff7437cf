/* pickle_int.h: shared between pickle.c and pickle_call.c only. */
#ifndef TUI_FORMATS_PICKLE_INT_H
#define TUI_FORMATS_PICKLE_INT_H

#include "pickle.h"

/* Arena allocation of `n` zeroed bytes; NULL with err set when out of
 * memory. Freed by pickle_free. */
void *pickle_alloc(pickle_machine *pm, size_t n);

/* A new value of type `type` (depth 1); NULL with err set. */
pv *pickle_new(pickle_machine *pm, pv_type type);

/* A NUL-terminated arena copy of s[0..n); NULL with err set. */
char *pickle_strdup(pickle_machine *pm, const unsigned char *s, size_t n);

/* Appends v to the arena array (*items, *n, *cap), doubling it as needed.
 * 0 or -1 with err set. */
int pickle_push_item(pickle_machine *pm, pv ***items, size_t *n, size_t *cap,
                     pv *v);

/* Raises container c's depth to hold `child`; -1 with err set past
 * PICKLE_MAX_DEPTH. */
int pickle_deepen(pv *c, const pv *child);

/* Appends the pair (k, v) to dict d. 0 or -1 with err set. */
int pickle_dict_set(pickle_machine *pm, pv *d, pv *k, pv *v);

/* Fills dict `d` from a list/tuple of 2-tuples. 0 or -1 with err set. */
int pickle_dict_from_pairs(pickle_machine *pm, pv *d, const pv *pairs);

/* Classifies the PV_GLOBAL `g` (module, name set): sets g->u.g.kind and
 * g->u.g.dt. Returns 0 if allowed, -1 with err "unsafe global 'm.n'
 * refused" otherwise. */
int pickle_resolve_global(pv *g, int torchscript);

/* The symbolic result of calling global `fn` with tuple `args`; NULL with
 * err set. `depth` bounds nested calls (pass 0). */
pv *pickle_call(pickle_machine *pm, const pv *fn, const pv *args, int depth);

#endif
