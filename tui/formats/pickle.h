/* pickle.h: a non-executing, symbolic pickle machine.
 *
 * It parses the opcodes of pickle protocols 2 to 5 (and the protocol-0
 * forms torch writers use) and builds a tree of values instead of calling
 * anything. A GLOBAL / STACK_GLOBAL is matched by its joined
 * "module.name" (GLOBAL's Python 2 names renamed first, __builtin__ ->
 * builtins) against an allowlist that follows PyTorch's weights_only
 * unpickler (formats.md "The weights_only allowlist"); anything else is
 * refused by name ("unsafe global 'os.system' refused"), and modules sys,
 * os, posix and nt are always refused. REDUCE / NEWOBJ / BUILD of an
 * allowed global is interpreted symbolically: _rebuild_tensor_v2 gives a
 * tensor value, OrderedDict() an empty dict, _rebuild_sparse_tensor a
 * sparse COO tensor, and so on.
 *
 * Structural checks (hostile-inputs.md rows 9-12, 17): SETITEM(S) only on
 * dicts, APPEND(S) only on lists, BUILD only on dicts, tensors and
 * TorchScript objects, BINPERSID only with a ('storage', ...) tuple, no
 * stack underflow, no MARK left open, no unknown memo index, no length
 * past the end, a STOP with exactly one value; FRAME lengths that agree
 * with the opcodes inside, no torch.device made by NEWOBJ left without
 * its BUILD, no value that contains itself (pickle_check.c). Limits
 * below.
 *
 * All values live in one arena owned by the pickle_machine.
 */
#ifndef TUI_FORMATS_PICKLE_H
#define TUI_FORMATS_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/dtype.h"

#define PICKLE_MAX_OPS 1000000u   /* opcodes (raised for big records) */
#define PICKLE_MAX_STACK 100000u  /* values on the stack */
#define PICKLE_MAX_MEMO 100000u   /* memo entries (raised for big records) */
#define PICKLE_MAX_DEPTH 1000u    /* nesting of tuples/lists/dicts */
#define PICKLE_MAX_DIMS 64u       /* dimensions of one tensor */

typedef enum {
    PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_BYTES,
    PV_TUPLE, PV_LIST, PV_DICT,
    PV_GLOBAL,  /* an allowed global not (yet) called: a dtype, a class */
    PV_STORAGE, /* from a persistent id */
    PV_TENSOR,  /* from _rebuild_tensor_v2/v3, _rebuild_parameter... */
    PV_OBJECT,  /* a TorchScript module object or another opaque object */
} pv_type;

/* Kinds of allowed globals (what a PV_GLOBAL stands for). */
typedef enum {
    PG_STORAGE,       /* torch.FloatStorage ...: g.dt set */
    PG_DTYPE,         /* torch.float32 ...: g.dt set */
    PG_ORDEREDDICT,   /* collections.OrderedDict / Counter */
    PG_REBUILD_V2,    /* torch._utils._rebuild_tensor_v2 / _rebuild_tensor */
    PG_REBUILD_V3,    /* torch._utils._rebuild_tensor_v3 */
    PG_PARAMETER,     /* _rebuild_parameter[_with_state], nn.Parameter */
    PG_FROM_TYPE,     /* torch._tensor._rebuild_from_type_v2 */
    PG_TYPE,          /* torch.Tensor, torch.nn.parameter.Parameter */
    PG_IDENTITY,      /* torch.Size, torch.jit._pickle.build_* : arg 0 */
    PG_ENCODE,        /* _codecs.encode, builtins.bytearray: bytes */
    PG_OPAQUE,        /* set, complex, device, qscheme...: object */
    PG_LAYOUT,        /* torch.serialization._get_layout: a layout */
    PG_SPARSE,        /* torch._utils._rebuild_sparse_tensor */
    PG_UNSUPPORTED,   /* allowed by torch but not modelled (qtensor...) */
    PG_SCRIPT_CLASS,  /* __torch__.* class (TorchScript only) */
} pg_kind;

/* Tensor layouts (torch.layout names after "torch."). */
typedef enum {
    PL_STRIDED, PL_SPARSE_COO, PL_SPARSE_CSR, PL_SPARSE_CSC, PL_SPARSE_BSR,
    PL_SPARSE_BSC, PL_MKLDNN, PL_JAGGED,
} pl_layout;

typedef struct pv pv;

struct pv {
    uint8_t type;   /* pv_type */
    uint8_t mark;   /* pickle_check's walk: 0 new, 1 open, 2 done */
    uint32_t depth; /* nesting depth (1 for scalars) */
    uint64_t off;   /* offset of the opcode that made it (for messages) */
    union {
        int b;
        struct { int64_t v; int big; } i; /* big: did not fit in 64 bits */
        double f;
        struct { const char *s; size_t len; } str; /* NUL-terminated */
        struct { pv **items; size_t n, cap; } seq;  /* tuple, list */
        struct { pv **kv; size_t n, cap; } dict;    /* kv[2i], kv[2i+1] */
        struct {
            const char *module, *name;
            uint8_t kind; /* pg_kind */
            uint8_t dt;   /* dtype for PG_STORAGE / PG_DTYPE */
            uint8_t needs_build; /* NEWOBJ of it must get a BUILD */
        } g;
        struct {
            const char *key, *location;
            uint8_t dt;     /* dtype; DT_U8 for UntypedStorage */
            int untyped;    /* numel counts bytes */
            uint64_t numel; /* as declared by the persistent id */
        } st;
        struct {
            pv *storage; /* a PV_STORAGE */
            uint8_t dt;  /* the tensor's dtype */
            uint8_t ndim;
            int requires_grad;
            int is_param;
            uint64_t offset; /* storage offset in elements */
            uint64_t *size, *stride;
            uint8_t layout;  /* pl_layout; size is the dense shape */
            const pv *indices, *values; /* PL_SPARSE_COO: its two tensors */
        } t;
        struct {
            const char *module, *name; /* its class */
            pv *state;                 /* from BUILD; NULL if none */
            int pending;  /* made by NEWOBJ of a needs_build class, no
                             BUILD yet */
            uint8_t layout; /* 1 + pl_layout for a _get_layout result
                               ("torch.sparse_coo"); 0 otherwise */
        } o;
    } u;
};

typedef struct {
    int torchscript;      /* 1: allow __torch__.* classes, torch.jit._pickle */
    uint64_t max_ops;     /* 0: PICKLE_MAX_OPS */
    uint64_t max_memo;    /* 0: PICKLE_MAX_MEMO */
} pickle_options;

typedef struct pickle_arena_block pickle_arena_block;

typedef struct {
    pickle_arena_block *arena;
} pickle_machine;

/* Runs the pickle in buf[0..len) (borrowed; untouched) and returns its
 * top value in *out, allocated in `pm`'s arena (free with pickle_free
 * even on failure). Returns 0, or -1 with err set to a message without
 * file name, e.g. "unsafe global 'os.system' refused",
 * "SETITEM on a list at offset 12". */
int pickle_run(pickle_machine *pm, const unsigned char *buf, size_t len,
               const pickle_options *opt, pv **out);

/* Frees every value of the machine. NULL-safe, idempotent. */
void pickle_free(pickle_machine *pm);

/* "strided", "sparse_coo", ... Cannot fail. */
const char *pickle_layout_name(pl_layout l);

/* "none", "bool", "int", ..., for messages. Cannot fail. */
const char *pickle_type_name(const pv *v);

/* The value of dict `d` for the string key `key`, or NULL. Cannot fail. */
pv *pickle_dict_get(const pv *d, const char *key);

#endif
