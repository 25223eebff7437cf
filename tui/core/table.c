/* table.c: the tensor table (see table.h). */
#include "table.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Grows *buf (elements of `size` bytes) so that `need` elements fit.
 * Returns 0, or -1 with err set; *buf is untouched on failure. */
static int grow(void **buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / size)
            return err_set("out of memory");
        ncap *= 2;
    }
    void *p = realloc(*buf, ncap * size);
    if (!p)
        return err_set("out of memory");
    *buf = p;
    *cap = ncap;
    return 0;
}

/* Copies len bytes plus a NUL into the arena; returns the offset through
 * *off. Returns 0, or -1 with err set. */
static int arena_put(table *t, const char *s, size_t len, uint32_t *off)
{
    if (len >= TABLE_MAX_ARENA || t->arena_len + len + 1 > TABLE_MAX_ARENA)
        return err_set("names and metadata exceed %u bytes",
                       TABLE_MAX_ARENA);
    if (grow((void **)&t->arena, &t->arena_cap, t->arena_len + len + 1, 1))
        return -1;
    memcpy(t->arena + t->arena_len, s, len);
    t->arena[t->arena_len + len] = '\0';
    *off = (uint32_t)t->arena_len;
    t->arena_len += len + 1;
    return 0;
}

static uint64_t hash_name(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* A slot holds the hash's high 32 bits (compared before the name) and
 * the tensor index + 1. */
static void hash_insert(uint64_t *slots, size_t cap, uint64_t h, uint32_t v)
{
    size_t i = (size_t)h & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = (h & 0xFFFFFFFF00000000ull) | v;
}

static int hash_grow(table *t)
{
    if ((t->count + 1) * 2 <= t->hash_cap)
        return 0;
    size_t ncap = t->hash_cap ? t->hash_cap * 2 : 256;
    uint64_t *slots = calloc(ncap, sizeof *slots);
    if (!slots)
        return err_set("out of memory");
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = &t->tensors[i];
        hash_insert(slots, ncap, hash_name(t->arena + x->name_off,
                                           x->name_len), (uint32_t)i + 1);
    }
    free(t->hash);
    t->hash = slots;
    t->hash_cap = ncap;
    return 0;
}

void table_init(table *t)
{
    memset(t, 0, sizeof *t);
}

void table_free(table *t)
{
    if (!t)
        return;
    free(t->tensors);
    free(t->arena);
    free(t->dims);
    free(t->files);
    free(t->meta);
    free(t->hash);
    table_init(t);
}

long table_find(const table *t, const char *name, size_t len)
{
    if (!t->hash_cap)
        return -1;
    uint64_t h = hash_name(name, len);
    uint64_t tag = h & 0xFFFFFFFF00000000ull;
    size_t i = (size_t)h & (t->hash_cap - 1);
    while (t->hash[i]) {
        uint64_t slot = t->hash[i];
        if ((slot & 0xFFFFFFFF00000000ull) == tag) {
            uint32_t k = (uint32_t)slot - 1;
            const table_tensor *x = &t->tensors[k];
            if (x->name_len == len &&
                memcmp(t->arena + x->name_off, name, len) == 0)
                return (long)k;
        }
        i = (i + 1) & (t->hash_cap - 1);
    }
    return -1;
}

/* numel and nbytes of a shape, checked. Returns 0, or -1 with err set. */
static int shape_size(dtype dt, unsigned ndim, const uint64_t *shape,
                      uint64_t *numel, uint64_t *nbytes)
{
    uint64_t n = 1;
    for (unsigned i = 0; i < ndim; i++) {
        if (shape[i] != 0 && n > UINT64_MAX / shape[i])
            return err_set("shape product overflows 64 bits");
        n *= shape[i];
    }
    unsigned bits = dtype_bits(dt);
    if (bits == 0)
        return err_set("unknown dtype");
    if (n > UINT64_MAX / bits)
        return err_set("byte size overflows 64 bits");
    if ((n * bits) % 8 != 0)
        return err_set("%llu elements of %s are not a whole number of bytes",
                       (unsigned long long)n, dtype_name(dt));
    *numel = n;
    *nbytes = n * bits / 8;
    return 0;
}

long table_add(table *t, const char *name, size_t len, dtype dt,
               unsigned ndim, const uint64_t *shape)
{
    uint64_t numel = 0, nbytes = 0;
    uint32_t name_off;
    size_t arena_mark = t->arena_len;

    if (len == 0)
        return err_set("empty tensor name");
    if (len > TABLE_MAX_NAME)
        return err_set("tensor name of %zu bytes (limit %u)", len,
                       TABLE_MAX_NAME);
    if (memchr(name, '\0', len))
        return err_set("tensor name holds a NUL byte");
    if (ndim > TABLE_MAX_DIMS)
        return err_set("%.*s: %u dimensions (limit %u)", (int)len, name,
                       ndim, TABLE_MAX_DIMS);
    if (t->count >= TABLE_MAX_TENSORS)
        return err_set("more than %u tensors", TABLE_MAX_TENSORS);
    if (table_find(t, name, len) >= 0)
        return err_set("duplicate tensor name '%.*s'", (int)len, name);
    if (shape_size(dt, ndim, shape, &numel, &nbytes))
        return err_prefix("%.*s", (int)len, name);
    if (grow((void **)&t->tensors, &t->cap, t->count + 1, sizeof *t->tensors)
        || grow((void **)&t->dims, &t->dims_cap, t->dims_len + ndim,
                sizeof *t->dims)
        || hash_grow(t) || arena_put(t, name, len, &name_off)) {
        t->arena_len = arena_mark;
        return -1;
    }
    table_tensor *x = &t->tensors[t->count];
    memset(x, 0, sizeof *x);
    x->name_off = name_off;
    x->name_len = (uint32_t)len;
    x->dims_off = (uint32_t)t->dims_len;
    x->ndim = (uint8_t)ndim;
    x->dtype = (uint8_t)dt;
    x->kind = TK_PARAMETER;
    x->storage = TABLE_NO_STORAGE;
    x->tie = x->tie_first = (uint32_t)t->count;
    x->numel = numel;
    x->nbytes = nbytes;
    if (ndim)
        memcpy(t->dims + t->dims_len, shape, ndim * sizeof *shape);
    t->dims_len += ndim;
    hash_insert(t->hash, t->hash_cap, hash_name(name, len),
                (uint32_t)t->count + 1);
    return (long)t->count++;
}

int table_set_strides(table *t, size_t i, const uint64_t *strides)
{
    table_tensor *x = &t->tensors[i];
    if (x->flags & TF_STRIDED) {
        memcpy(t->dims + x->dims_off + x->ndim, strides,
               x->ndim * sizeof *strides);
        return 0;
    }
    /* Move the shape to the end so shape and strides stay adjacent. */
    if (grow((void **)&t->dims, &t->dims_cap, t->dims_len + 2u * x->ndim,
             sizeof *t->dims))
        return -1;
    memmove(t->dims + t->dims_len, t->dims + x->dims_off,
            x->ndim * sizeof *t->dims);
    x->dims_off = (uint32_t)t->dims_len;
    memcpy(t->dims + t->dims_len + x->ndim, strides,
           x->ndim * sizeof *strides);
    t->dims_len += 2u * x->ndim;
    x->flags |= TF_STRIDED;
    return 0;
}

long table_add_file(table *t, const char *path, uint64_t size)
{
    uint32_t off;
    if (t->nfiles >= TABLE_MAX_FILES)
        return err_set("more than %u files", TABLE_MAX_FILES);
    if (grow((void **)&t->files, &t->files_cap, t->nfiles + 1,
             sizeof *t->files) || arena_put(t, path, strlen(path), &off))
        return -1;
    t->files[t->nfiles].path_off = off;
    t->files[t->nfiles].size = size;
    return (long)t->nfiles++;
}

int table_add_meta(table *t, const char *key, size_t klen,
                   const char *value, size_t vlen)
{
    uint32_t koff, voff;
    size_t mark = t->arena_len;
    if (t->nmeta >= TABLE_MAX_META)
        return err_set("more than %u metadata entries", TABLE_MAX_META);
    if (grow((void **)&t->meta, &t->meta_cap, t->nmeta + 1, sizeof *t->meta)
        || arena_put(t, key, klen, &koff)
        || arena_put(t, value, vlen, &voff)) {
        t->arena_len = mark;
        return -1;
    }
    t->meta[t->nmeta].key_off = koff;
    t->meta[t->nmeta].value_off = voff;
    t->nmeta++;
    return 0;
}

void table_set_format(table *t, const char *format)
{
    size_t n = strlen(format);
    if (n >= sizeof t->format)
        n = sizeof t->format - 1;
    memcpy(t->format, format, n);
    t->format[n] = '\0';
}

void table_get_totals(const table *t, table_totals *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = &t->tensors[i];
        switch (x->kind) {
        case TK_PARAMETER:
            out->tensors++;
            out->parameters++;
            if (x->flags & TF_ALIAS) {
                out->aliases++;
                break;
            }
            out->parameter_numel += x->numel;
            out->bytes += x->nbytes;
            break;
        case TK_BUFFER:
            out->tensors++;
            out->buffers++;
            out->buffer_numel += x->numel;
            out->bytes += x->nbytes;
            break;
        default:
            out->other_tensors++;
            out->other_bytes += x->nbytes;
            break;
        }
    }
}

/* Compares what makes two tensors one: file, storage, offset, dtype,
 * size, shape and strides (0 when they are the same tensor). */
static int tie_key_cmp(const table *t, uint32_t i, uint32_t j)
{
    const table_tensor *x = &t->tensors[i], *y = &t->tensors[j];
#define CMP_FIELD(f) if (x->f != y->f) return x->f < y->f ? -1 : 1
    CMP_FIELD(file);
    CMP_FIELD(storage);
    CMP_FIELD(offset);
    CMP_FIELD(dtype);
    CMP_FIELD(nbytes);
    CMP_FIELD(ndim);
    if ((x->flags & TF_STRIDED) != (y->flags & TF_STRIDED))
        return (x->flags & TF_STRIDED) ? 1 : -1;
#undef CMP_FIELD
    size_t nd = (size_t)x->ndim * ((x->flags & TF_STRIDED) ? 2 : 1);
    return nd ? memcmp(t->dims + x->dims_off, t->dims + y->dims_off,
                       nd * sizeof *t->dims)
              : 0;
}

/* qsort's view: the key, then table order. */
static const table *tie_table;

static int cmp_tie(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    int c = tie_key_cmp(tie_table, i, j);
    if (c)
        return c;
    return i < j ? -1 : i > j;
}

int table_link_ties(table *t)
{
    size_t n = 0;
    t->aliases = 0;
    for (size_t i = 0; i < t->count; i++) {
        table_tensor *x = &t->tensors[i];
        x->tie = x->tie_first = (uint32_t)i;
        x->flags &= (uint8_t)~TF_ALIAS;
        if (x->kind == TK_PARAMETER && x->storage != TABLE_NO_STORAGE)
            n++;
    }
    if (n < 2)
        return 0;
    uint32_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return err_set("out of memory");
    n = 0;
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = &t->tensors[i];
        if (x->kind == TK_PARAMETER && x->storage != TABLE_NO_STORAGE)
            idx[n++] = (uint32_t)i;
    }
    tie_table = t;
    qsort(idx, n, sizeof *idx, cmp_tie);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && tie_key_cmp(t, idx[a], idx[b]) == 0)
            b++;
        /* idx[a..b) is one group, in table order: a cycle, all but the
         * first flagged. */
        for (size_t k = a; k < b; k++) {
            t->tensors[idx[k]].tie = idx[k + 1 < b ? k + 1 : a];
            t->tensors[idx[k]].tie_first = idx[a];
            if (k > a) {
                t->tensors[idx[k]].flags |= TF_ALIAS;
                t->aliases++;
            }
        }
        a = b;
    }
    free(idx);
    return 0;
}

void table_close_ties(const table *t, bitset *b)
{
    if (t->aliases == 0)
        return;
    /* a group's first member stands for the group */
    for (size_t i = 0; i < t->count; i++)
        if (t->tensors[i].tie != i && bitset_get(b, i))
            bitset_set(b, t->tensors[i].tie_first);
    for (size_t i = 0; i < t->count; i++)
        if (t->tensors[i].tie != i && bitset_get(b, t->tensors[i].tie_first))
            bitset_set(b, i);
}

int table_count_params(const table *t, const bitset *m, uint64_t *numel,
                       size_t *ntensors)
{
    bitset seen = {NULL, 0};
    uint64_t sum = 0;
    size_t n = 0;
    if (t->aliases && bitset_init(&seen, t->count))
        return err_set("out of memory");
    for (size_t i = 0; i < t->count && i < m->n; i++) {
        const table_tensor *x = &t->tensors[i];
        if (x->kind != TK_PARAMETER || !bitset_get(m, i))
            continue;
        n++;
        if (x->tie == i) {
            sum += x->numel;
        } else if (!bitset_get(&seen, x->tie_first)) {
            bitset_set(&seen, x->tie_first);
            sum += x->numel;
        }
    }
    bitset_free(&seen);
    *numel = sum;
    if (ntensors)
        *ntensors = n;
    return 0;
}

/* Last name segments that are registered buffers in popular
 * architectures (docs/formats.md lists where each comes from). */
static const char *const buffer_names[] = {
    "running_mean", "running_var", "num_batches_tracked", "inv_freq",
    "position_ids", "token_type_ids", "relative_position_index",
    "relative_coords_table", "attn_mask", "attention_mask", "causal_mask",
    "masked_bias", "_float_tensor", "cos_cached", "sin_cached", "freqs_cis",
};

/* Last two segments that are buffers: fairseq-style sinusoidal position
 * tables (a learned table is "embed_positions.weight"). */
static const char *const buffer_pairs[] = {
    "embed_positions.weights",
};

/* Whether name (len bytes) ends with the segments `tail`: all of it or
 * after a '.'. */
static int ends_with_segments(const char *name, size_t len, const char *tail)
{
    size_t n = strlen(tail);
    return len >= n && memcmp(name + len - n, tail, n) == 0 &&
           (len == n || name[len - n - 1] == '.');
}

/* A causal mask stored as "bias" (GPT-2 attn.bias, GPT-Neo
 * attn.attention.bias, GPT-J, CodeGen): shape [1, 1, n, n], never the
 * shape of a learned bias. */
static int is_causal_mask(const char *name, size_t len, unsigned ndim,
                          const uint64_t *shape)
{
    return ends_with_segments(name, len, "bias") && ndim == 4 &&
           shape[0] == 1 && shape[1] == 1 && shape[2] == shape[3] &&
           shape[2] >= 2;
}

tensor_kind table_guess_kind(const char *name, size_t len, dtype dt,
                             unsigned ndim, const uint64_t *shape)
{
    if (!dtype_is_float(dt))
        return TK_BUFFER;
    for (size_t i = 0; i < sizeof buffer_names / sizeof *buffer_names; i++)
        if (ends_with_segments(name, len, buffer_names[i]))
            return TK_BUFFER;
    for (size_t i = 0; i < sizeof buffer_pairs / sizeof *buffer_pairs; i++)
        if (ends_with_segments(name, len, buffer_pairs[i]))
            return TK_BUFFER;
    if (shape && is_causal_mask(name, len, ndim, shape))
        return TK_BUFFER;
    return TK_PARAMETER;
}

const char *table_kind_name(tensor_kind k)
{
    switch (k) {
    case TK_PARAMETER: return "parameter";
    case TK_BUFFER: return "buffer";
    case TK_OPTIMIZER: return "optimizer";
    default: return "other";
    }
}
