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

/* Fills dict `d` from a list/tuple of 2-tuples or from a dict (as
 * Counter's argument). 0 or -1 with err set. */
int pickle_dict_from_pairs(pickle_machine *pm, pv *d, const pv *pairs);

/* Classifies the PV_GLOBAL `g` (module, name set): with map_py2 (the
 * GLOBAL opcode) first renames Python 2 modules as PyTorch does
 * (__builtin__ -> builtins), then matches the joined "module.name"
 * against the allowlist; sets g->u.g.kind, dt, needs_build and the
 * canonical module and name. Returns 0 if allowed, -1 with err "unsafe
 * global 'm.n' refused" otherwise. */
int pickle_resolve_global(pv *g, int torchscript, int map_py2);

/* After STOP: refuses a value reachable from itself ("cyclic reference
 * at offset N (a dict that contains itself)"), walking `root` once
 * without recursion (marks in pv.mark). 0, or -1 with err set. */
int pickle_check_acyclic(const pv *root);

/* The FRAME being read (protocol 4): end 0 when none. */
typedef struct {
    size_t op, end; /* offset of its FRAME opcode; first byte after it */
} pickle_frame;

/* A FRAME opcode at `op` whose 8-byte length `n` was read, the frame
 * starting at `pos` in a pickle of `len` bytes. Refuses a FRAME inside
 * the open frame or one longer than what is left. 0 or -1 with err. */
int pickle_frame_open(pickle_frame *f, size_t op, size_t pos, uint64_t n,
                      size_t len);

/* After opcode `opc` at `op` ended at `pos` (stop: it was STOP): refuses
 * an opcode that began inside the frame and runs past its end, and a
 * STOP before the frame's end. 0 or -1 with err set. */
int pickle_frame_after(const pickle_frame *f, int opc, size_t op,
                       size_t pos, int stop);

/* Objects made by NEWOBJ of a class that needs BUILD (torch.device).
 * items is malloc'ed; the machine frees it. */
typedef struct {
    pv **items;
    size_t n, cap;
} pickle_pending;

/* Records o (sets o->u.o.pending). 0 or -1 with err (out of memory). */
int pickle_pending_add(pickle_pending *p, pv *o);

/* At STOP: -1 with err set when one of them never got its BUILD, as
 * PyTorch refuses it; 0 otherwise. */
int pickle_pending_check(const pickle_pending *p);

/* The symbolic result of calling global `fn` with tuple `args`; NULL with
 * err set. `depth` bounds nested calls (pass 0). */
pv *pickle_call(pickle_machine *pm, const pv *fn, const pv *args, int depth);

#endif
