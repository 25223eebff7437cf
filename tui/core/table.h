/* table.h: the tensor table, the one data structure every feature reads.
 *
 * A reader (formats/) fills one table per checkpoint: each tensor's name,
 * dtype, shape, element count, byte size, kind, and where its bytes live
 * (file index and absolute byte offset, so a trainer can map them without
 * copying). Model-level facts sit beside: the format, the files, the
 * header metadata and the non-tensor entries of a training checkpoint.
 *
 * Built for 100,000+ tensors: names, paths and metadata live in one
 * string arena, shapes in one u64 array, no allocation per tensor.
 * Names are unique: table_add refuses a duplicate (through a hash index
 * that table_find also uses).
 */
#ifndef TUI_CORE_TABLE_H
#define TUI_CORE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "bitset.h"
#include "dtype.h"

/* Limits as shipped (docs/limits.md). Each gives a clear error. */
#define TABLE_MAX_TENSORS 4000000u   /* tensors in one model */
#define TABLE_MAX_NAME 4096u         /* bytes in one tensor name */
#define TABLE_MAX_DIMS 64u           /* dimensions of one tensor */
#define TABLE_MAX_FILES 100000u      /* files (shards) in one model */
#define TABLE_MAX_META 100000u       /* metadata entries */
#define TABLE_MAX_ARENA 0xF0000000u  /* bytes of strings in all */

typedef enum {
    TK_PARAMETER = 0, /* a trainable weight of the model */
    TK_BUFFER,        /* model state that is never trained (BN stats...) */
    TK_OPTIMIZER,     /* optimizer state found in a training checkpoint */
    TK_OTHER,         /* any other tensor outside the model */
} tensor_kind;

enum {
    TF_REQUIRES_GRAD = 1u << 0, /* saved requires_grad (TorchScript) */
    TF_STRIDED = 1u << 1,       /* non-contiguous view: strides stored */
    TF_SHARED = 1u << 2,        /* its storage also backs another tensor */
    TF_ALIAS = 1u << 3,         /* a tied duplicate: the same tensor as an
                                   earlier parameter (table_link_ties) */
    TF_SPARSE = 1u << 4,        /* sparse COO: shape is the dense shape,
                                   numel the stored values, nbytes values
                                   plus indices; kind TK_OTHER */
};

typedef struct {
    uint32_t name_off; /* into the arena; NUL-terminated there */
    uint32_t name_len;
    uint32_t dims_off; /* into dims: shape[ndim], then strides[ndim] */
    uint8_t ndim;
    uint8_t dtype;     /* a dtype value */
    uint8_t kind;      /* a tensor_kind value */
    uint8_t flags;     /* TF_* bits */
    uint32_t file;     /* index into the table's files */
    uint32_t storage;  /* storage id (tied weights share it); TABLE_NO_STORAGE */
    uint32_t tie;      /* next member of its tie group (a cycle); its own
                          index when untied (table_link_ties) */
    uint32_t tie_first;/* its group's first member; its own index when
                          untied */
    uint64_t numel;
    uint64_t nbytes;   /* numel * bits / 8 */
    uint64_t offset;   /* absolute offset of the first element in its file */
} table_tensor;

#define TABLE_NO_STORAGE UINT32_MAX

typedef struct {
    uint32_t path_off; /* into the arena */
    uint64_t size;     /* bytes, as found when opened */
} table_file;

typedef struct {
    uint32_t key_off;   /* into the arena */
    uint32_t value_off; /* into the arena */
} table_meta;

typedef struct {
    char format[24];      /* "safetensors", "pytorch", "torchscript", ... */
    table_tensor *tensors;
    size_t count, cap;
    char *arena;
    size_t arena_len, arena_cap;
    uint64_t *dims;
    size_t dims_len, dims_cap;
    table_file *files;
    size_t nfiles, files_cap;
    table_meta *meta;
    size_t nmeta, meta_cap;
    uint64_t *hash; /* open addressing: (hash >> 32) << 32 | index + 1;
                       0 = empty */
    size_t hash_cap;
    size_t aliases;  /* parameters flagged TF_ALIAS (table_link_ties) */
    uint32_t shard_no, shard_of; /* one shard of a set opened alone
                                    ("model-00001-of-00004..."): its
                                    number and the set's count; 0, 0
                                    otherwise (ckpt_note.h) */
    uint8_t shard_index_found;   /* the set's index is beside it */
} table;

typedef struct {
    size_t tensors;          /* model tensors: parameters + buffers */
    size_t parameters;       /* parameter tensors */
    uint64_t parameter_numel;
    uint64_t bytes;          /* bytes of all model tensors */
    size_t buffers;
    uint64_t buffer_numel;
    size_t aliases;          /* tied duplicates among the parameters: they
                                count in tensors and parameters (as names)
                                but not in parameter_numel or bytes */
    size_t other_tensors;    /* optimizer state and other non-model tensors */
    uint64_t other_bytes;
} table_totals;

/* Makes an empty table. Cannot fail (allocation happens on first add). */
void table_init(table *t);

/* Frees everything the table holds and leaves it empty (as table_init).
 * NULL-safe. */
void table_free(table *t);

/* Appends a tensor: copies the name (need not be NUL-terminated) and the
 * shape, computes numel and nbytes with checked arithmetic. The new
 * tensor has kind TK_PARAMETER, flags 0, file 0, offset 0, storage
 * TABLE_NO_STORAGE; the caller sets those through table_at().
 * Returns the new index, or -1 with err set (duplicate name, empty or
 * over-long name, name with a NUL byte, too many dims or tensors,
 * numel or byte-size overflow, a sub-byte dtype whose bits are not a
 * whole number of bytes, out of memory). On failure the table is
 * unchanged. */
long table_add(table *t, const char *name, size_t len, dtype dt,
               unsigned ndim, const uint64_t *shape);

/* Stores strides (ndim of them) for tensor i and sets TF_STRIDED.
 * Returns 0, or -1 with err set (out of memory). */
int table_set_strides(table *t, size_t i, const uint64_t *strides);

/* The tensor at index i (i < count). The pointer is valid until the next
 * table_add. */
static inline table_tensor *table_at(const table *t, size_t i)
{
    return &t->tensors[i];
}

/* The NUL-terminated name of tensor i. Borrowed from the table. */
static inline const char *table_name(const table *t, size_t i)
{
    return t->arena + t->tensors[i].name_off;
}

/* Tensor i's shape (ndim values). Borrowed; valid until the next add. */
static inline const uint64_t *table_shape(const table *t, size_t i)
{
    return t->dims + t->tensors[i].dims_off;
}

/* Tensor i's strides, or NULL when contiguous. Borrowed. */
static inline const uint64_t *table_strides(const table *t, size_t i)
{
    const table_tensor *x = &t->tensors[i];
    return (x->flags & TF_STRIDED) ? t->dims + x->dims_off + x->ndim : NULL;
}

/* Index of the tensor with this name, or -1. `len` is the name length. */
long table_find(const table *t, const char *name, size_t len);

/* Records a file of the model; returns its index, or -1 with err set. */
long table_add_file(table *t, const char *path, uint64_t size);

/* The path of file i. Borrowed. */
static inline const char *table_file_path(const table *t, size_t i)
{
    return t->arena + t->files[i].path_off;
}

/* Records a metadata entry (header metadata, or a non-tensor entry of a
 * training checkpoint such as "epoch" = "3"). Both strings are copied;
 * lengths are given explicitly. Returns 0, or -1 with err set. */
int table_add_meta(table *t, const char *key, size_t klen,
                   const char *value, size_t vlen);

static inline const char *table_meta_key(const table *t, size_t i)
{
    return t->arena + t->meta[i].key_off;
}

static inline const char *table_meta_value(const table *t, size_t i)
{
    return t->arena + t->meta[i].value_off;
}

/* Sets the format name (truncated to fit). Cannot fail. */
void table_set_format(table *t, const char *format);

/* Finds tied parameters: parameters that are one tensor under several
 * names (the same file, storage id, offset, dtype, shape and strides, as
 * torch.save stores `lm_head.weight` tied to the embeddings). Links each
 * group into a cycle through `tie` and flags every member but the first
 * (in table order, the name model.named_parameters() keeps) TF_ALIAS;
 * counts those in t->aliases. Tensors without a storage id (safetensors)
 * are never tied. Idempotent (recomputes from scratch). Returns 0, or -1
 * with err set (out of memory; the table then has no ties). */
int table_link_ties(table *t);

/* The first member of tensor i's tie group (i itself when untied or the
 * first). Cannot fail. */
static inline size_t table_tie_first(const table *t, size_t i)
{
    return t->tensors[i].tie_first;
}

/* Adds to `b` (t->count bits) every name of each tie group that has a
 * name in `b`. O(t->count). Cannot fail. */
void table_close_ties(const table *t, bitset *b);

/* Elements of the parameters whose bit is set in `m` (t->count bits), a
 * tie group once, as model.parameters() counts them; *ntensors (may be
 * NULL) gets the parameter names among them. Returns 0, or -1 with err
 * set (out of memory). */
int table_count_params(const table *t, const bitset *m, uint64_t *numel,
                       size_t *ntensors);

/* Sums the table; a tied group's elements and bytes count once.
 * Cannot fail. */
void table_get_totals(const table *t, table_totals *out);

/* The documented rule that tells a buffer from a parameter in a plain
 * state_dict, where the file does not say (docs/formats.md, "Parameters
 * and buffers"): a tensor is a buffer when its dtype is not floating
 * point (integer or bool); when the last segment of its name is a
 * well-known buffer name (running_mean, running_var, num_batches_tracked,
 * inv_freq, position_ids, masked_bias, ...) or its last two are
 * embed_positions.weights; or when it is a causal mask named "bias" of
 * shape [1, 1, n, n] (GPT-2's attn.bias). `shape` holds ndim values (may
 * be NULL: no shape rule). Returns TK_BUFFER or TK_PARAMETER. Cannot
 * fail. */
tensor_kind table_guess_kind(const char *name, size_t len, dtype dt,
                             unsigned ndim, const uint64_t *shape);

/* "parameter", "buffer", "optimizer", "other". Cannot fail. */
const char *table_kind_name(tensor_kind k);

#endif
