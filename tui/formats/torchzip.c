/* torchzip.c: torch.save zip archives and TorchScript archives
 * (torchzip_read in formats.h).
 *
 * Reads the zip directory, the local headers and data.pkl (plus, for
 * TorchScript, the small class sources under code/), never the storage
 * records. data.pkl runs in the symbolic pickle machine (pickle.h), and
 * the value tree is walked into the table.
 *
 * Where the model is in a torch.save file (docs/formats.md):
 *  1. The top value is a dict (or OrderedDict) holding tensors directly
 *     and no nested dict of tensors: a plain state_dict. Every tensor is
 *     a model tensor named by its key; kind by table_guess_kind(), or
 *     parameter for an nn.Parameter.
 *  2. Otherwise, a training checkpoint: the model is the value of the
 *     first of the keys state_dict, model_state_dict, model, module, net,
 *     network, model_ema, ema, state_dict_ema that holds a dict with at
 *     least one tensor directly; failing those, the only top-level value
 *     that does. Its tensors are named without the key (so the names are
 *     the model's own) and typed as in 1. The values of optimizer,
 *     optimizer_state_dict, optimizer_state, optim, opt, optimizers give
 *     TK_OPTIMIZER tensors named "<key>.<path>" (optimizer.state.0.exp_avg).
 *     Any other tensor is TK_OTHER, named by its dotted path.
 *  3. Scalars, strings and lists of scalars become metadata "path" ->
 *     "value" (epoch -> 3, config.lr -> 0.001), at most TZ_MAX_META.
 *  A DDP "module." prefix is kept: names are exactly those in the file.
 *
 * Every tensor's storage record <root>/data/<key> must be stored (not
 * compressed), hold exactly numel x element size bytes, and contain the
 * tensor's extent; tensors sharing a storage get one storage id and
 * TF_SHARED. Pre-1.6 (legacy, non-zip) files are refused with a hint.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "formats.h"
#include "sniff.h"
#include "torchzip_int.h"

static const unsigned char legacy_magic[] = {
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
};

static const char *const model_keys[] = {
    "state_dict", "model_state_dict", "model", "module", "net", "network",
    "model_ema", "ema", "state_dict_ema",
};

static const char *const optim_keys[] = {
    "optimizer", "optimizer_state_dict", "optimizer_state", "optim", "opt",
    "optimizers",
};

typedef enum { WM_MODEL, WM_OPTIM, WM_OTHER } walk_mode;

long tz_push(tz_ctx *c, const char *seg, size_t len)
{
    size_t old = c->name_len;
    size_t need = old + (old ? 1 : 0) + len;
    if (need > TABLE_MAX_NAME)
        return err_set("name '%.60s...' longer than %u bytes", c->name,
                       TABLE_MAX_NAME);
    if (old)
        c->name[c->name_len++] = '.';
    memcpy(c->name + c->name_len, seg, len);
    c->name_len += len;
    c->name[c->name_len] = '\0';
    return (long)old;
}

/* ---- tensors ------------------------------------------------------ */

static int tz_mul(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a && b > UINT64_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

/* Checks strided tensor v against its storage record: sets *rec, the
 * byte offset of its first element in the record and its element count.
 * 0 or -1 with err set (naming `name`). */
static int tz_extent(tz_ctx *c, const pv *v, const char *name,
                     const zip_entry **rec, uint64_t *off_out,
                     uint64_t *numel_out)
{
    const pv *s = v->u.t.storage;
    char rel[1100];
    dtype dt = (dtype)v->u.t.dt;
    unsigned bits = dtype_bits(dt);
    uint64_t esize = bits / 8, st_esize, st_bytes, max_i = 0, numel = 1,
             off_bytes, end;
    int n = snprintf(rel, sizeof rel, "%s/%s",
                     c->st_dir ? c->st_dir : "data", s->u.st.key);
    if (n < 0 || (size_t)n >= sizeof rel)
        return err_set("%s: storage key too long", name);
    const zip_entry *e = zip_find(&c->z, rel, (size_t)n);
    if (!e)
        return err_set("%s: storage record %s/%s missing", name, c->z.root,
                       rel);
    if (e->method != ZIP_STORED)
        return err_set("%s: compressed storage record (method %u) refused",
                       e->name, e->method);
    if (bits == 0 || bits % 8)
        return err_set("%s: unsupported dtype %s", name, dtype_name(dt));
    st_esize = s->u.st.untyped ? 1 : dtype_bits((dtype)s->u.st.dt) / 8;
    if (tz_mul(s->u.st.numel, st_esize, &st_bytes) || st_bytes != e->size)
        return err_set("%s: storage of %llu x %llu bytes, record holds %llu",
                       rel, (unsigned long long)s->u.st.numel,
                       (unsigned long long)st_esize,
                       (unsigned long long)e->size);
    for (unsigned i = 0; i < v->u.t.ndim; i++) {
        uint64_t sz = v->u.t.size[i], step;
        if (tz_mul(numel, sz, &numel))
            return err_set("%s: element count overflows", name);
        if (sz > 0 && (tz_mul(sz - 1, v->u.t.stride[i], &step) ||
                       max_i > UINT64_MAX - step))
            return err_set("%s: tensor extent overflows", name);
        if (sz > 0)
            max_i += step;
    }
    if (tz_mul(v->u.t.offset, esize, &off_bytes))
        return err_set("%s: storage offset overflows", name);
    if (numel == 0)
        end = off_bytes;
    else if (max_i > UINT64_MAX - v->u.t.offset - 1 ||
             tz_mul(v->u.t.offset + max_i + 1, esize, &end))
        return err_set("%s: tensor extent overflows", name);
    if (end > st_bytes)
        return err_set("%s: tensor extent of %llu bytes runs past its "
                       "storage %s of %llu bytes", name,
                       (unsigned long long)end, rel,
                       (unsigned long long)st_bytes);
    *rec = e;
    *off_out = off_bytes;
    *numel_out = numel;
    return 0;
}

/* A sparse COO tensor: listed with its dense shape and its values'
 * dtype, kind other (never a trainable parameter: its bytes are not a
 * dense tensor a trainer could map), TF_SPARSE; numel and bytes are what
 * is stored (values, and values plus indices). */
static int tz_add_sparse(tz_ctx *c, const pv *v, const char *name,
                         size_t nlen)
{
    const zip_entry *ie, *ve;
    uint64_t ioff, inum, voff, vnum, ib, vb;
    const pv *ix = v->u.t.indices, *val = v->u.t.values;
    if (tz_extent(c, ix, name, &ie, &ioff, &inum) ||
        tz_extent(c, val, name, &ve, &voff, &vnum))
        return -1;
    if (tz_mul(inum, dtype_bits((dtype)ix->u.t.dt) / 8, &ib) ||
        tz_mul(vnum, dtype_bits((dtype)val->u.t.dt) / 8, &vb) ||
        ib > UINT64_MAX - vb)
        return err_set("%s: sparse tensor size overflows", name);
    long idx = table_add(c->t, name, nlen, (dtype)v->u.t.dt, v->u.t.ndim,
                         v->u.t.size);
    if (idx < 0)
        return -1;
    table_tensor *x = table_at(c->t, (size_t)idx);
    x->kind = TK_OTHER;
    x->flags |= TF_SPARSE;
    x->file = c->file;
    x->offset = ve->data_off + voff;
    x->numel = vnum;
    x->nbytes = ib + vb;
    return 0;
}

int tz_add_tensor(tz_ctx *c, const pv *v, tensor_kind kind, unsigned flags)
{
    const pv *s = v->u.t.storage;
    const char *name = c->name_len ? c->name : "tensor";
    size_t nlen = c->name_len ? c->name_len : 6;
    dtype dt = (dtype)v->u.t.dt;
    const zip_entry *e;
    uint64_t off_bytes, numel;
    if (v->u.t.layout == PL_SPARSE_COO)
        return tz_add_sparse(c, v, name, nlen);
    if (tz_extent(c, v, name, &e, &off_bytes, &numel))
        return -1;
    size_t ei = zip_index(&c->z, e);
    if (c->st_id[ei] != TABLE_NO_STORAGE && c->st_dt[ei] != s->u.st.dt)
        return err_set("%s: storage %s used with two storage types", name,
                       e->name);
    long idx = table_add(c->t, name, nlen, dt, v->u.t.ndim, v->u.t.size);
    if (idx < 0)
        return -1;
    table_tensor *x = table_at(c->t, (size_t)idx);
    x->kind = (uint8_t)kind;
    x->file = c->file;
    x->offset = e->data_off + off_bytes;
    x->flags = (uint8_t)(x->flags | flags);
    if (c->st_id[ei] == TABLE_NO_STORAGE) {
        c->st_id[ei] = c->next_id++;
        c->st_dt[ei] = s->u.st.dt;
        c->st_first[ei] = (uint32_t)idx;
    } else {
        x->flags |= TF_SHARED;
        table_at(c->t, c->st_first[ei])->flags |= TF_SHARED;
    }
    x->storage = c->st_id[ei];
    /* contiguous unless a dimension of size > 1 has an unexpected stride */
    uint64_t want = 1;
    int contiguous = 1;
    for (unsigned i = v->u.t.ndim; numel && i-- > 0;) {
        if (v->u.t.size[i] != 1 && v->u.t.stride[i] != want)
            contiguous = 0;
        want *= v->u.t.size[i] ? v->u.t.size[i] : 1;
    }
    if (!contiguous && table_set_strides(c->t, (size_t)idx, v->u.t.stride))
        return -1;
    return 0;
}

/* ---- metadata ----------------------------------------------------- */

/* Appends a scalar's text to buf (cap bytes); returns 0 if v is a
 * scalar, -1 otherwise. */
static int tz_scalar_text(const pv *v, char *buf, size_t cap, size_t *len)
{
    int n;
    switch (v->type) {
    case PV_NONE: n = snprintf(buf, cap, "None"); break;
    case PV_BOOL: n = snprintf(buf, cap, "%s", v->u.b ? "True" : "False");
        break;
    case PV_INT:
        n = v->u.i.big ? snprintf(buf, cap, "<int wider than 64 bits>")
                       : snprintf(buf, cap, "%lld", (long long)v->u.i.v);
        break;
    case PV_FLOAT: {
        int p = 1;
        for (; p < 17; p++) { /* the shortest text that reads back */
            char tmp[40];
            snprintf(tmp, sizeof tmp, "%.*g", p, v->u.f);
            if (strtod(tmp, NULL) == v->u.f)
                break;
        }
        n = snprintf(buf, cap, "%.*g", p, v->u.f);
        if (n > 0 && (size_t)n < cap && !strpbrk(buf, ".eni") &&
            (size_t)n + 2 < cap) {
            memcpy(buf + n, ".0", 3);
            n += 2;
        }
        break;
    }
    case PV_STR: n = snprintf(buf, cap, "%s", v->u.str.s); break;
    case PV_BYTES: n = snprintf(buf, cap, "<%zu bytes>", v->u.str.len);
        break;
    case PV_GLOBAL: n = snprintf(buf, cap, "%s.%s", v->u.g.module,
                                 v->u.g.name);
        break;
    case PV_OBJECT: n = snprintf(buf, cap, "<%s.%s>", v->u.o.module,
                                 v->u.o.name);
        break;
    default: return -1;
    }
    *len = n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
    return 0;
}

static int tz_meta(tz_ctx *c, const pv *v)
{
    char buf[512];
    size_t len = 0;
    const char *key = c->name_len ? c->name : "value";
    if (c->meta_added >= TZ_MAX_META) {
        c->meta_dropped++;
        return 0;
    }
    if (v->type == PV_LIST || v->type == PV_TUPLE) {
        size_t cap = sizeof buf - 8;
        buf[len++] = v->type == PV_LIST ? '[' : '(';
        for (size_t i = 0; i < v->u.seq.n && len < cap; i++) {
            size_t k;
            if (i) {
                buf[len++] = ',';
                buf[len++] = ' ';
            }
            if (len < cap &&
                tz_scalar_text(v->u.seq.items[i], buf + len, cap - len, &k))
                return -1;
            len += len < cap ? k : 0;
        }
        if (len >= cap) {
            len = cap;
            memcpy(buf + len, "...", 3);
            len += 3;
        }
        buf[len++] = v->type == PV_LIST ? ']' : ')';
    } else if (tz_scalar_text(v, buf, sizeof buf, &len)) {
        return -1;
    }
    if (table_add_meta(c->t, key, strlen(key), buf, len))
        return -1;
    c->meta_added++;
    return 0;
}

static int tz_is_scalar(const pv *v)
{
    return v->type != PV_LIST && v->type != PV_TUPLE && v->type != PV_DICT &&
           v->type != PV_TENSOR && v->type != PV_STORAGE &&
           !(v->type == PV_OBJECT && v->u.o.state);
}

/* ---- the walk ----------------------------------------------------- */

/* The text of a dict key (str, int, bool, None, float) as a segment. */
static int tz_key_text(const pv *k, char *buf, size_t cap, size_t *len)
{
    if (k->type == PV_STR) {
        if (memchr(k->u.str.s, '\0', k->u.str.len))
            return err_set("dict key with a NUL byte");
        if (k->u.str.len >= cap)
            return err_set("dict key longer than %zu bytes", cap);
        memcpy(buf, k->u.str.s, k->u.str.len);
        *len = k->u.str.len;
        return 0;
    }
    if (k->type == PV_TUPLE || k->type == PV_LIST || k->type == PV_DICT ||
        tz_scalar_text(k, buf, cap, len))
        return err_set("dict key is a %s", pickle_type_name(k));
    return 0;
}

static int tz_walk(tz_ctx *c, const pv *v, walk_mode mode, unsigned depth)
{
    char seg[TABLE_MAX_NAME + 1];
    size_t sl;
    long old;
    if (++c->visits > TZ_MAX_VISITS)
        return err_set("more than %u values to walk (memo reuse bomb?)",
                       TZ_MAX_VISITS);
    if (depth > PICKLE_MAX_DEPTH)
        return err_set("values nested deeper than %u (or a cycle)",
                       PICKLE_MAX_DEPTH);
    switch (v->type) {
    case PV_TENSOR: {
        tensor_kind k = mode == WM_OPTIM ? TK_OPTIMIZER
                        : mode == WM_OTHER ? TK_OTHER
                        : v->u.t.is_param ? TK_PARAMETER
                        : table_guess_kind(c->name, c->name_len,
                                           (dtype)v->u.t.dt, v->u.t.ndim,
                                           v->u.t.size);
        unsigned fl = v->u.t.is_param && v->u.t.requires_grad
                          ? TF_REQUIRES_GRAD : 0;
        return tz_add_tensor(c, v, k, fl);
    }
    case PV_DICT:
        for (size_t i = 0; i + 1 < v->u.dict.n; i += 2) {
            if (tz_key_text(v->u.dict.kv[i], seg, sizeof seg, &sl) ||
                (old = tz_push(c, seg, sl)) < 0 ||
                tz_walk(c, v->u.dict.kv[i + 1], mode, depth + 1))
                return -1;
            tz_pop(c, old);
        }
        return 0;
    case PV_LIST:
    case PV_TUPLE: {
        int all_scalar = 1;
        c->visits += v->u.seq.n; /* the scan below is work too */
        for (size_t i = 0; i < v->u.seq.n && all_scalar; i++)
            all_scalar = tz_is_scalar(v->u.seq.items[i]);
        if (all_scalar)
            return tz_meta(c, v);
        for (size_t i = 0; i < v->u.seq.n; i++) {
            sl = (size_t)snprintf(seg, sizeof seg, "%zu", i);
            if ((old = tz_push(c, seg, sl)) < 0 ||
                tz_walk(c, v->u.seq.items[i], mode, depth + 1))
                return -1;
            tz_pop(c, old);
        }
        return 0;
    }
    case PV_OBJECT:
        if (v->u.o.state)
            return tz_walk(c, v->u.o.state, mode, depth + 1);
        return tz_meta(c, v);
    case PV_STORAGE:
        return 0; /* a bare storage: no tensor view of it */
    default:
        return tz_meta(c, v);
    }
}

/* A dict holding at least one tensor directly. */
static int tz_is_state_dict(const pv *v)
{
    if (!v || v->type != PV_DICT)
        return 0;
    for (size_t i = 1; i < v->u.dict.n; i += 2)
        if (v->u.dict.kv[i]->type == PV_TENSOR)
            return 1;
    return 0;
}

static int tz_key_in(const pv *k, const char *const *keys, size_t n)
{
    if (k->type != PV_STR)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(k->u.str.s, keys[i]) == 0)
            return 1;
    return 0;
}

int tz_walk_other(tz_ctx *c, const pv *v)
{
    return tz_walk(c, v, WM_OTHER, 1);
}

/* Applies the model rule (top of file) to the top value. */
static int tz_walk_top(tz_ctx *c, const pv *top)
{
    const pv *model = NULL;
    int nested = 0;
    if (top->type != PV_DICT)
        return tz_walk(c, top, WM_OTHER, 0);
    for (size_t i = 1; i < top->u.dict.n; i += 2)
        nested += tz_is_state_dict(top->u.dict.kv[i]);
    if (tz_is_state_dict(top) && nested == 0)
        return tz_walk(c, top, WM_MODEL, 0);
    for (size_t k = 0; k < sizeof model_keys / sizeof *model_keys && !model;
         k++) {
        const pv *v = pickle_dict_get(top, model_keys[k]);
        if (tz_is_state_dict(v))
            model = v;
    }
    for (size_t i = 1; i < top->u.dict.n && !model && nested == 1; i += 2)
        if (tz_is_state_dict(top->u.dict.kv[i]))
            model = top->u.dict.kv[i];
    for (size_t i = 0; i + 1 < top->u.dict.n; i += 2) {
        const pv *k = top->u.dict.kv[i], *v = top->u.dict.kv[i + 1];
        char seg[TABLE_MAX_NAME + 1];
        size_t sl;
        long old;
        if (v == model) {
            if (tz_walk(c, v, WM_MODEL, 1))
                return -1;
            continue;
        }
        walk_mode mode = tz_key_in(k, optim_keys,
                                   sizeof optim_keys / sizeof *optim_keys)
                             ? WM_OPTIM : WM_OTHER;
        if (tz_key_text(k, seg, sizeof seg, &sl) ||
            (old = tz_push(c, seg, sl)) < 0 || tz_walk(c, v, mode, 1))
            return -1;
        tz_pop(c, old);
    }
    return 0;
}

/* ---- the reader --------------------------------------------------- */


/* The unpickler refused data.pkl: names a pickled nn.Module as such, with
 * what to save instead (sniff_pickle_model), else prefixes its message.
 * Always leaves err set. */
static void tz_refuse_model(const char *path, const unsigned char *pkl,
                            size_t len, int script)
{
    char cls[512];
    int r = script ? 0 : sniff_pickle_model(pkl, len, cls, sizeof cls);
    if (r == 1)
        err_set("%s: a whole pickled model (%s), not a state_dict: refused, "
                "loading it would run its class's code; save "
                "`torch.save(model.state_dict(), PATH)` instead (or a "
                "TorchScript archive: `torch.jit.script(model).save(PATH)`)",
                path, cls);
    else if (r == 2 && strstr(err_msg(), "unsafe global"))
        err_prefix("%s: data.pkl holds a pickled model object, not only "
                   "state_dicts (save `model.state_dict()` in the "
                   "checkpoint instead)", path);
    else
        err_prefix("%s: data.pkl", path);
}

static int tz_check_byteorder(tz_ctx *c)
{
    const zip_entry *e = zip_find(&c->z, "byteorder", 9);
    unsigned char *b = NULL;
    size_t n;
    if (!e)
        return 0;
    if (zip_read_entry(&c->z, e, 64, &b, &n))
        return -1;
    int big = n >= 3 && memcmp(b, "big", 3) == 0;
    free(b);
    if (big)
        return err_set("%s: big-endian checkpoint (byteorder 'big') is not "
                       "supported", c->path);
    return 0;
}

int torchzip_read(const char *path, table *t)
{
    rfile f = {.fd = -1};
    tz_ctx c;
    pickle_machine pm = {0};
    unsigned char head[sizeof legacy_magic], *pkl = NULL;
    size_t pkl_len = 0;
    pv *top = NULL;
    int rc = -1, script;

    memset(&c, 0, sizeof c);
    c.path = path;
    c.t = t;
    if (rfile_open(&f, path))
        goto cleanup;
    if (f.size >= sizeof head && rfile_pread(&f, head, sizeof head, 0) == 0 &&
        memcmp(head, legacy_magic, sizeof head) == 0) {
        err_set("%s: legacy (pre-1.6) torch.save format: re-save it with "
                "torch.save in PyTorch >= 1.6", path);
        goto cleanup;
    }
    if (zip_open(&c.z, &f)) {
        /* np.savez: .npy members at the top, no archive folder */
        if (strstr(err_msg(), ".npy' is not inside an archive folder"))
            err_set("%s: not a checkpoint: a NumPy .npz archive (a zip of "
                    ".npy arrays)", path);
        goto cleanup;
    }
    if (tz_check_byteorder(&c))
        goto cleanup;
    long fi = table_add_file(t, path, f.size);
    if (fi < 0)
        goto cleanup;
    c.file = (uint32_t)fi;
    script = zip_find(&c.z, "constants.pkl", 13) != NULL;
    const zip_entry *pe = zip_find(&c.z, "data.pkl", 8);
    if (!pe) {
        err_set("%s: not a checkpoint: a zip archive with no %s/data.pkl "
                "record (not a torch.save archive)", path, c.z.root);
        goto cleanup;
    }
    if (zip_read_entry(&c.z, pe, TZ_MAX_PKL, &pkl, &pkl_len))
        goto cleanup;
    pickle_options opt = {script, pkl_len > PICKLE_MAX_OPS ? pkl_len : 0,
                          pkl_len / 4 > PICKLE_MAX_MEMO ? pkl_len / 4 : 0};
    if (pickle_run(&pm, pkl, pkl_len, &opt, &top)) {
        tz_refuse_model(path, pkl, pkl_len, script);
        goto cleanup;
    }
    c.st_id = malloc(c.z.count * sizeof *c.st_id);
    c.st_first = malloc(c.z.count * sizeof *c.st_first);
    c.st_dt = malloc(c.z.count);
    if (!c.st_id || !c.st_first || !c.st_dt) {
        err_set("%s: out of memory", path);
        goto cleanup;
    }
    for (size_t i = 0; i < c.z.count; i++)
        c.st_id[i] = TABLE_NO_STORAGE;
    if (script ? tz_walk_script(&c, top) : tz_walk_top(&c, top)) {
        /* record reads already name the file */
        if (strncmp(err_msg(), path, strlen(path)) != 0)
            err_prefix("%s", path);
        goto cleanup;
    }
    if (script && tz_read_constants(&c, &pm))
        goto cleanup;
    if (c.meta_dropped) {
        char v[64];
        int n = snprintf(v, sizeof v, "%zu more entries not shown",
                         c.meta_dropped);
        if (table_add_meta(t, "...", 3, v, (size_t)n))
            goto cleanup;
    }
    table_set_format(t, script ? "torchscript" : "pytorch");
    rc = 0;
cleanup:
    free(pkl);
    free(c.st_id);
    free(c.st_first);
    free(c.st_dt);
    tz_code_free(&c);
    pickle_free(&pm);
    zip_close(&c.z);
    rfile_close(&f);
    return rc;
}
