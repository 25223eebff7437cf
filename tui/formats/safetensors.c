/* safetensors.c: the safetensors reader (see formats.h).
 *
 * Layout: u64 LE header length N, N bytes of UTF-8 JSON, then the data
 * area. Only the 8-byte prefix and the header are read, never the data.
 * Checks follow the reference reader (safetensors tensor.rs,
 * read_metadata + Metadata::validate) and go further where it is lax:
 * duplicate names, "\u0000" in names, numbers that are not plain
 * integers or are 2^53 or more, and a bound on the JSON tree.
 */
#include "formats.h"

#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "fileio.h"
#include "json_num.h"

#define ST_MAX_HEADER 100000000ull      /* the reference's MAX_HEADER_SIZE */
#define ST_VALUES_PER_TENSOR 24u        /* JSON values per entry, averaged */
#define ST_MAX_META_VALUES (2ull * TABLE_MAX_META + 8)

typedef struct {
    uint64_t begin, end; /* data_offsets, relative to the data area */
    size_t index;        /* tensor index in the table */
} st_span;

typedef struct {
    table *t;
    json_nums nums;
    st_span *spans;
    size_t nspans;
    uint32_t file;
    int seen_meta;
} st_ctx;

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Checks the prefix of a file of `file_size` bytes (at least 8) and sets
 * *n to the header length. Returns 0, or -1 with err set. */
static int st_check_prefix(const unsigned char *p, uint64_t file_size,
                           uint64_t *n)
{
    uint64_t v = le64(p);
    if (v > ST_MAX_HEADER)
        return err_set("header length %llu exceeds %llu",
                       (unsigned long long)v, ST_MAX_HEADER);
    if (8 + v > file_size)
        return err_set("header length %llu runs past the end of the file "
                       "(%llu bytes)", (unsigned long long)v,
                       (unsigned long long)file_size);
    *n = v;
    return 0;
}

/* Adds the "__metadata__" map (a string->string object, or null). */
static int st_read_meta(st_ctx *c, const cJSON *item)
{
    if (c->seen_meta++)
        return err_set("duplicate __metadata__");
    if (cJSON_IsNull(item))
        return 0;
    if (!cJSON_IsObject(item))
        return err_set("__metadata__ is not an object");
    for (const cJSON *m = item->child; m; m = m->next) {
        if (!cJSON_IsString(m))
            return err_set("__metadata__ value for '%s' is not a string",
                           m->string);
        if (table_add_meta(c->t, m->string, strlen(m->string),
                           m->valuestring, strlen(m->valuestring)))
            return -1;
    }
    return 0;
}

/* Reads the numbers of a JSON array into out[max]; sets *count. */
static int st_read_u53s(st_ctx *c, const cJSON *arr, uint64_t *out,
                        unsigned max, unsigned *count)
{
    unsigned k = 0;
    if (!cJSON_IsArray(arr))
        return err_set("not an array");
    for (const cJSON *e = arr->child; e; e = e->next) {
        if (k == max)
            return err_set("more than %u values", max);
        if (json_num_get_u53(&c->nums, e, &out[k]))
            return -1;
        k++;
    }
    *count = k;
    return 0;
}

/* Adds one tensor entry; its data_offsets go to c->spans. */
static int st_read_entry(st_ctx *c, const cJSON *item)
{
    const char *name = item->string;
    const cJSON *dt = NULL, *shape = NULL, *offs = NULL;
    uint64_t dims[TABLE_MAX_DIMS], off[2];
    unsigned ndim = 0, noff = 0;

    if (!cJSON_IsObject(item))
        return err_set("tensor '%s': entry is not an object", name);
    for (const cJSON *f = item->child; f; f = f->next) {
        const cJSON **slot = NULL;
        if (strcmp(f->string, "dtype") == 0)
            slot = &dt;
        else if (strcmp(f->string, "shape") == 0)
            slot = &shape;
        else if (strcmp(f->string, "data_offsets") == 0)
            slot = &offs;
        if (!slot) {                  /* unknown fields are ignored */
            json_num_skip(&c->nums, f);
            continue;
        }
        if (*slot)
            return err_set("tensor '%s': duplicate field '%s'", name,
                           f->string);
        *slot = f;
        if (slot == &shape &&
            st_read_u53s(c, f, dims, TABLE_MAX_DIMS, &ndim))
            return err_prefix("tensor '%s': shape", name);
        if (slot == &offs && st_read_u53s(c, f, off, 2, &noff))
            return err_prefix("tensor '%s': data_offsets", name);
    }
    if (!dt || !shape || !offs)
        return err_set("tensor '%s': no '%s' field", name,
                       !dt ? "dtype" : !shape ? "shape" : "data_offsets");
    if (!cJSON_IsString(dt))
        return err_set("tensor '%s': dtype is not a string", name);
    dtype d = dtype_from_name(dt->valuestring, strlen(dt->valuestring));
    if (d == DT_NONE || d > DT_U64)   /* C32, C128 are torch-only */
        return err_set("tensor '%s': unknown dtype '%s'", name,
                       dt->valuestring);
    if (noff != 2)
        return err_set("tensor '%s': data_offsets holds %u values, not 2",
                       name, noff);
    if (off[1] < off[0])
        return err_set("tensor '%s': data_offsets [%llu, %llu] end before "
                       "they begin", name, (unsigned long long)off[0],
                       (unsigned long long)off[1]);
    long i = table_add(c->t, name, strlen(name), d, ndim, dims);
    if (i < 0)
        return -1;
    table_tensor *x = table_at(c->t, (size_t)i);
    x->file = c->file;
    x->kind = (uint8_t)table_guess_kind(name, strlen(name), d, ndim, dims);
    c->spans[c->nspans].begin = off[0];
    c->spans[c->nspans].end = off[1];
    c->spans[c->nspans].index = (size_t)i;
    c->nspans++;
    return 0;
}

static int span_cmp(const void *a, const void *b)
{
    const st_span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorted by offset, the tensors must tile the data area exactly, and the
 * data area must end the file. Sets absolute offsets. */
static int st_check_spans(st_ctx *c, uint64_t data_start, uint64_t file_size)
{
    uint64_t at = 0;
    qsort(c->spans, c->nspans, sizeof *c->spans, span_cmp);
    for (size_t k = 0; k < c->nspans; k++) {
        const st_span *s = &c->spans[k];
        table_tensor *x = table_at(c->t, s->index);
        const char *name = table_name(c->t, s->index);
        if (k == 0 && s->begin != 0)
            return err_set("tensor '%s': the first tensor starts at %llu, "
                           "not 0", name, (unsigned long long)s->begin);
        if (s->begin > at)
            return err_set("tensor '%s': gap: data_offsets begin at %llu, "
                           "the previous tensor ends at %llu", name,
                           (unsigned long long)s->begin,
                           (unsigned long long)at);
        if (s->begin < at)
            return err_set("tensor '%s': overlap: data_offsets begin at "
                           "%llu, the previous tensor ends at %llu", name,
                           (unsigned long long)s->begin,
                           (unsigned long long)at);
        if (s->end - s->begin != x->nbytes)
            return err_set("tensor '%s': data_offsets [%llu, %llu] hold "
                           "%llu bytes, its shape and dtype need %llu",
                           name, (unsigned long long)s->begin,
                           (unsigned long long)s->end,
                           (unsigned long long)(s->end - s->begin),
                           (unsigned long long)x->nbytes);
        x->offset = data_start + s->begin;
        at = s->end;
    }
    /* at < 2^53 and data_start <= 8 + ST_MAX_HEADER: no overflow. */
    if (data_start + at < file_size)
        return err_set("%llu trailing bytes after the last tensor",
                       (unsigned long long)(file_size - data_start - at));
    if (data_start + at > file_size)
        return err_set("data area of %llu bytes runs past the end of the "
                       "file (%llu bytes)", (unsigned long long)at,
                       (unsigned long long)file_size);
    return 0;
}

int safetensors_parse(const unsigned char *buf, size_t len,
                      uint64_t file_size, uint32_t file, table *t)
{
    st_ctx c;
    cJSON *root = NULL;
    uint64_t n;
    int rc = -1;

    memset(&c, 0, sizeof c);
    c.t = t;
    c.file = file;
    if (file_size < 8 || len < 8) {
        err_set("file of %llu bytes is shorter than the 8-byte header "
                "length", (unsigned long long)(len < file_size ? len
                                               : file_size));
        goto cleanup;
    }
    if (st_check_prefix(buf, file_size, &n))
        goto cleanup;
    if (len - 8 < n) {
        err_set("header of %llu bytes, only %zu in memory",
                (unsigned long long)n, len - 8);
        goto cleanup;
    }
    root = json_num_parse(&c.nums, (const char *)buf + 8, (size_t)n,
                          "header", 0, ST_VALUES_PER_TENSOR,
                          ST_MAX_META_VALUES);
    if (!root)
        goto cleanup;
    if (!cJSON_IsObject(root)) {
        err_set("header is not a JSON object");
        goto cleanup;
    }
    size_t members = (size_t)c.nums.members;
    if (members > TABLE_MAX_TENSORS + 1ull) {
        err_set("header lists %zu entries (limit %u)", members,
                TABLE_MAX_TENSORS);
        goto cleanup;
    }
    c.spans = malloc((members ? members : 1) * sizeof *c.spans);
    if (!c.spans) {
        err_set("out of memory");
        goto cleanup;
    }
    for (const cJSON *e = root->child; e; e = e->next) {
        int r;
        if (c.nspans + (size_t)c.seen_meta >= members) {
            err_set("header entry count changed while parsing");
            goto cleanup;
        }
        if (strcmp(e->string, "__metadata__") == 0)
            r = st_read_meta(&c, e);
        else
            r = st_read_entry(&c, e);
        if (r)
            goto cleanup;
    }
    if (st_check_spans(&c, 8 + n, file_size))
        goto cleanup;
    rc = 0;
cleanup:
    json_num_free(&c.nums);
    free(c.spans);
    return rc;
}

int safetensors_read(const char *path, table *t)
{
    rfile f;
    unsigned char prefix[8];
    unsigned char *buf = NULL;
    uint64_t n;
    int rc = -1;

    if (rfile_open(&f, path))
        return -1;
    if (f.size < 8) {
        err_set("%s: file of %llu bytes is shorter than the 8-byte header "
                "length", path, (unsigned long long)f.size);
        goto cleanup;
    }
    if (rfile_pread(&f, prefix, 8, 0))
        goto cleanup;
    if (st_check_prefix(prefix, f.size, &n)) {
        err_prefix("%s", path);
        goto cleanup;
    }
    buf = malloc((size_t)n + 8);
    if (!buf) {
        err_set("%s: out of memory for a header of %llu bytes", path,
                (unsigned long long)n);
        goto cleanup;
    }
    memcpy(buf, prefix, 8);
    if (rfile_pread(&f, buf + 8, (size_t)n, 8))
        goto cleanup;
    long file = table_add_file(t, path, f.size);
    if (file < 0) {
        err_prefix("%s", path);
        goto cleanup;
    }
    if (safetensors_parse(buf, (size_t)n + 8, f.size, (uint32_t)file, t)) {
        err_prefix("%s", path);
        goto cleanup;
    }
    if (!t->format[0])
        table_set_format(t, "safetensors");
    rc = 0;
cleanup:
    free(buf);
    rfile_close(&f);
    return rc;
}
