/* pickle_call.c: the allowlist of globals and the symbolic meaning of
 * REDUCE / NEWOBJ on them (see pickle.h). Nothing here calls anything:
 * "calling" _rebuild_tensor_v2 builds a PV_TENSOR from its arguments.
 */
#include "pickle_int.h"

#include <stdio.h>
#include <string.h>

#include "../core/err.h"

typedef struct {
    const char *name;
    dtype dt;
} pickle_name_dt;

static const pickle_name_dt storage_types[] = {
    {"DoubleStorage", DT_F64}, {"FloatStorage", DT_F32},
    {"HalfStorage", DT_F16}, {"BFloat16Storage", DT_BF16},
    {"LongStorage", DT_I64}, {"IntStorage", DT_I32},
    {"ShortStorage", DT_I16}, {"CharStorage", DT_I8},
    {"ByteStorage", DT_U8}, {"BoolStorage", DT_BOOL},
    {"ComplexDoubleStorage", DT_C128}, {"ComplexFloatStorage", DT_C64},
    {"UntypedStorage", DT_U8}, {"TypedStorage", DT_U8},
    /* quantized storages: allowed by torch, not modelled here */
    {"QInt8Storage", DT_NONE}, {"QUInt8Storage", DT_NONE},
    {"QInt32Storage", DT_NONE}, {"QUInt4x2Storage", DT_NONE},
    {"QUInt2x4Storage", DT_NONE},
};

static const pickle_name_dt dtypes[] = {
    {"float32", DT_F32}, {"float", DT_F32}, {"float64", DT_F64},
    {"double", DT_F64}, {"float16", DT_F16}, {"half", DT_F16},
    {"bfloat16", DT_BF16}, {"int64", DT_I64}, {"long", DT_I64},
    {"int32", DT_I32}, {"int", DT_I32}, {"int16", DT_I16},
    {"short", DT_I16}, {"int8", DT_I8}, {"uint8", DT_U8},
    {"bool", DT_BOOL}, {"complex64", DT_C64}, {"cfloat", DT_C64},
    {"complex128", DT_C128}, {"cdouble", DT_C128}, {"complex32", DT_C32},
    {"chalf", DT_C32}, {"float8_e5m2", DT_F8_E5M2},
    {"float8_e4m3fn", DT_F8_E4M3}, {"float8_e5m2fnuz", DT_F8_E5M2FNUZ},
    {"float8_e4m3fnuz", DT_F8_E4M3FNUZ}, {"float8_e8m0fnu", DT_F8_E8M0},
    {"uint16", DT_U16}, {"uint32", DT_U32}, {"uint64", DT_U64},
    /* allowed, but no element type here */
    {"uint1", DT_NONE}, {"uint2", DT_NONE}, {"uint3", DT_NONE},
    {"uint4", DT_NONE}, {"uint5", DT_NONE}, {"uint6", DT_NONE},
    {"uint7", DT_NONE}, {"int1", DT_NONE}, {"int2", DT_NONE},
    {"int3", DT_NONE}, {"int4", DT_NONE}, {"int5", DT_NONE},
    {"int6", DT_NONE}, {"int7", DT_NONE}, {"bits8", DT_NONE},
    {"bits16", DT_NONE}, {"bits1x8", DT_NONE}, {"bits2x4", DT_NONE},
    {"bits4x2", DT_NONE}, {"quint8", DT_NONE}, {"qint8", DT_NONE},
    {"qint32", DT_NONE}, {"quint4x2", DT_NONE}, {"quint2x4", DT_NONE},
};

typedef struct {
    const char *module, *name;
    pg_kind kind;
    int script_only; /* only inside TorchScript archives */
    int needs_build; /* NEWOBJ of it must be followed by BUILD (PyTorch's
                        _PendingNewobj: pybind11 classes) */
} pickle_allowed;

/* Matched on the joined "module.name", as PyTorch does: GLOBAL 'torch'
 * '_utils._rebuild_tensor_v2' is _rebuild_tensor_v2. Layout objects come
 * only through torch.serialization._get_layout (torch.strided itself is
 * not on PyTorch's list). */
static const pickle_allowed allowed[] = {
    {"collections", "OrderedDict", PG_ORDEREDDICT, 0, 0},
    {"collections", "Counter", PG_ORDEREDDICT, 0, 0},
    {"torch._utils", "_rebuild_tensor_v2", PG_REBUILD_V2, 0, 0},
    {"torch._utils", "_rebuild_tensor", PG_REBUILD_V2, 0, 0},
    {"torch._utils", "_rebuild_tensor_v3", PG_REBUILD_V3, 0, 0},
    {"torch._utils", "_rebuild_parameter", PG_PARAMETER, 0, 0},
    {"torch._utils", "_rebuild_parameter_with_state", PG_PARAMETER, 0, 0},
    {"torch.nn.parameter", "Parameter", PG_PARAMETER, 0, 0},
    {"torch._tensor", "_rebuild_from_type_v2", PG_FROM_TYPE, 0, 0},
    {"torch", "Tensor", PG_TYPE, 0, 0},
    {"torch", "Size", PG_IDENTITY, 0, 0},
    {"_codecs", "encode", PG_ENCODE, 0, 0},
    {"builtins", "bytearray", PG_ENCODE, 0, 0},
    {"builtins", "set", PG_OPAQUE, 0, 0},
    {"builtins", "complex", PG_OPAQUE, 0, 0},
    {"torch", "device", PG_OPAQUE, 0, 1},
    {"torch.serialization", "_get_layout", PG_LAYOUT, 0, 0},
    {"torch", "per_tensor_affine", PG_OPAQUE, 0, 0},
    {"torch", "per_channel_affine", PG_OPAQUE, 0, 0},
    {"torch", "per_tensor_symmetric", PG_OPAQUE, 0, 0},
    {"torch", "per_channel_symmetric", PG_OPAQUE, 0, 0},
    {"torch", "per_channel_affine_float_qparams", PG_OPAQUE, 0, 0},
    {"torch._utils", "_rebuild_sparse_tensor", PG_SPARSE, 0, 0},
    {"torch._utils", "_rebuild_qtensor", PG_UNSUPPORTED, 0, 0},
    {"torch._utils", "_rebuild_meta_tensor_no_storage", PG_UNSUPPORTED, 0, 0},
    {"torch._utils", "_rebuild_wrapper_subclass", PG_UNSUPPORTED, 0, 0},
    {"torch._utils", "_rebuild_device_tensor_from_numpy", PG_UNSUPPORTED, 0,
     0},
    {"torch._utils", "_rebuild_device_tensor_from_cpu_tensor",
     PG_UNSUPPORTED, 0, 0},
    {"torch.jit._pickle", "build_intlist", PG_IDENTITY, 1, 0},
    {"torch.jit._pickle", "build_doublelist", PG_IDENTITY, 1, 0},
    {"torch.jit._pickle", "build_boollist", PG_IDENTITY, 1, 0},
    {"torch.jit._pickle", "build_tensorlist", PG_IDENTITY, 1, 0},
    {"torch.jit._pickle", "build_tensor_from_id", PG_UNSUPPORTED, 1, 0},
    {"torch.jit._pickle", "restore_type_tag", PG_IDENTITY, 1, 0},
};

/* PyTorch's torch/_utils.py IMPORT_MAPPING and NAME_MAPPING (from
 * CPython's _compat_pickle), applied to GLOBAL before the allowlist:
 * protocol 2 writes Python 3's builtins as __builtin__. */
static const char *const import_mapping[][2] = {
    {"__builtin__", "builtins"}, {"copy_reg", "copyreg"},
    {"Queue", "queue"}, {"repr", "reprlib"},
    {"_abcoll", "collections.abc"}, {"UserDict", "collections"},
    {"UserList", "collections"}, {"UserString", "collections"},
    {"whichdb", "dbm"}, {"StringIO", "io"}, {"cStringIO", "io"},
};

static const char *const name_mapping[][4] = {
    {"__builtin__", "xrange", "builtins", "range"},
    {"__builtin__", "reduce", "functools", "reduce"},
    {"__builtin__", "intern", "sys", "intern"},
    {"__builtin__", "unichr", "builtins", "chr"},
    {"__builtin__", "unicode", "builtins", "str"},
    {"__builtin__", "long", "builtins", "int"},
    {"itertools", "izip", "builtins", "zip"},
    {"itertools", "imap", "builtins", "map"},
    {"itertools", "ifilter", "builtins", "filter"},
    {"itertools", "ifilterfalse", "itertools", "filterfalse"},
    {"itertools", "izip_longest", "itertools", "zip_longest"},
    {"UserDict", "IterableUserDict", "collections", "UserDict"},
    {"UserList", "UserList", "collections", "UserList"},
    {"UserDict", "UserDict", "collections", "UserDict"},
    {"whichdb", "whichdb", "dbm", "whichdb"},
};

static void pickle_map_py2(pv *g)
{
    for (size_t i = 0; i < sizeof name_mapping / sizeof *name_mapping; i++)
        if (strcmp(g->u.g.module, name_mapping[i][0]) == 0 &&
            strcmp(g->u.g.name, name_mapping[i][1]) == 0) {
            g->u.g.module = name_mapping[i][2];
            g->u.g.name = name_mapping[i][3];
            return;
        }
    for (size_t i = 0; i < sizeof import_mapping / sizeof *import_mapping;
         i++)
        if (strcmp(g->u.g.module, import_mapping[i][0]) == 0) {
            g->u.g.module = import_mapping[i][1];
            return;
        }
}

static int pickle_blocked_module(const char *m)
{
    static const char *const blocked[] = {"sys", "os", "posix", "nt"};
    for (size_t i = 0; i < sizeof blocked / sizeof *blocked; i++) {
        size_t n = strlen(blocked[i]);
        if (strncmp(m, blocked[i], n) == 0 && (m[n] == '\0' || m[n] == '.'))
            return 1;
    }
    return 0;
}

static int pickle_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

/* 1 when `full` is "module.name". */
static int pickle_path_is(const char *full, const char *module,
                          const char *name)
{
    size_t ml = strlen(module);
    return strncmp(full, module, ml) == 0 && full[ml] == '.' &&
           strcmp(full + ml + 1, name) == 0;
}

int pickle_resolve_global(pv *g, int torchscript, int map_py2)
{
    char full[404], was[420] = "";
    const char *m0 = g->u.g.module, *n0 = g->u.g.name;
    if (map_py2)
        pickle_map_py2(g);
    const char *m = g->u.g.module, *n = g->u.g.name;
    if (!pickle_printable(m) || !pickle_printable(n) || strlen(m) > 200 ||
        strlen(n) > 200)
        return err_set("unsafe global with an unprintable or over-long name "
                       "refused");
    snprintf(full, sizeof full, "%s.%s", m, n);
    if (m != m0 || n != n0) /* mapped: name what the file says too */
        snprintf(was, sizeof was, "'%.200s.%.200s' (", m0, n0);
    if (pickle_blocked_module(m) || pickle_blocked_module(full))
        return err_set("unsafe global %s'%s'%s refused", was, full,
                       *was ? ")" : "");
    g->u.g.dt = DT_NONE;
    g->u.g.needs_build = 0;
    if (strncmp(full, "torch.", 6) == 0) {
        const char *rest = full + 6;
        for (size_t i = 0; i < sizeof storage_types / sizeof *storage_types;
             i++)
            if (strcmp(rest, storage_types[i].name) == 0) {
                g->u.g.kind = PG_STORAGE;
                g->u.g.dt = (uint8_t)storage_types[i].dt;
                g->u.g.module = "torch";
                g->u.g.name = storage_types[i].name;
                return 0;
            }
        for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
            if (strcmp(rest, dtypes[i].name) == 0) {
                g->u.g.kind = PG_DTYPE;
                g->u.g.dt = (uint8_t)dtypes[i].dt;
                g->u.g.module = "torch";
                g->u.g.name = dtypes[i].name;
                return 0;
            }
    }
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
        if (pickle_path_is(full, allowed[i].module, allowed[i].name) &&
            (!allowed[i].script_only || torchscript)) {
            g->u.g.kind = (uint8_t)allowed[i].kind;
            g->u.g.needs_build = (uint8_t)allowed[i].needs_build;
            g->u.g.module = allowed[i].module;
            g->u.g.name = allowed[i].name;
            return 0;
        }
    if (torchscript && (strcmp(m, "__torch__") == 0 ||
                        strncmp(m, "__torch__.", 10) == 0)) {
        g->u.g.kind = PG_SCRIPT_CLASS;
        return 0;
    }
    return err_set("unsafe global %s'%s'%s refused", was, full,
                   *was ? ")" : "");
}

/* An int argument that must be a non-negative 64-bit value. */
static int pickle_get_u64(const pv *v, const char *what, uint64_t *out)
{
    if (!v || v->type != PV_INT || v->u.i.big)
        return err_set("tensor %s is not an integer", what);
    if (v->u.i.v < 0)
        return err_set("negative tensor %s %lld", what,
                       (long long)v->u.i.v);
    *out = (uint64_t)v->u.i.v;
    return 0;
}

static int pickle_get_dims(pickle_machine *pm, const pv *v, const char *what,
                           uint64_t **out, size_t *n)
{
    if (!v || (v->type != PV_TUPLE && v->type != PV_LIST))
        return err_set("tensor %s is not a tuple", what);
    if (v->u.seq.n > PICKLE_MAX_DIMS)
        return err_set("tensor with %zu dimensions (limit %u)", v->u.seq.n,
                       PICKLE_MAX_DIMS);
    *n = v->u.seq.n;
    *out = pickle_alloc(pm, (v->u.seq.n + 1) * sizeof **out);
    if (!*out)
        return -1;
    for (size_t i = 0; i < v->u.seq.n; i++)
        if (pickle_get_u64(v->u.seq.items[i], what, &(*out)[i]))
            return -1;
    return 0;
}

/* _rebuild_tensor_v2 / v3 / _rebuild_tensor arguments -> a tensor. */
static pv *pickle_make_tensor(pickle_machine *pm, const pv *args, int v3)
{
    size_t n = args->u.seq.n, nsize, nstride;
    pv *const *a = args->u.seq.items;
    if (n < (v3 ? 7u : 4u)) {
        err_set("_rebuild_tensor%s with %zu arguments", v3 ? "_v3" : "_v2",
                n);
        return NULL;
    }
    if (a[0]->type != PV_STORAGE) {
        err_set("tensor storage is a %s, not a persistent-id storage",
                pickle_type_name(a[0]));
        return NULL;
    }
    pv *t = pickle_new(pm, PV_TENSOR);
    if (!t)
        return NULL;
    t->u.t.storage = a[0];
    t->u.t.dt = a[0]->u.st.dt;
    if (pickle_get_u64(a[1], "storage offset", &t->u.t.offset) ||
        pickle_get_dims(pm, a[2], "size", &t->u.t.size, &nsize) ||
        pickle_get_dims(pm, a[3], "stride", &t->u.t.stride, &nstride))
        return NULL;
    if (nsize != nstride) {
        err_set("tensor with %zu sizes but %zu strides", nsize, nstride);
        return NULL;
    }
    t->u.t.ndim = (uint8_t)nsize;
    if (n > 4) {
        if (a[4]->type != PV_BOOL && a[4]->type != PV_INT) {
            err_set("tensor requires_grad is a %s", pickle_type_name(a[4]));
            return NULL;
        }
        t->u.t.requires_grad = a[4]->type == PV_BOOL ? a[4]->u.b
                                                     : a[4]->u.i.v != 0;
    }
    if (v3) {
        if (a[6]->type != PV_GLOBAL || a[6]->u.g.kind != PG_DTYPE) {
            err_set("_rebuild_tensor_v3 dtype is a %s, not a torch dtype",
                    pickle_type_name(a[6]));
            return NULL;
        }
        t->u.t.dt = a[6]->u.g.dt;
        if (t->u.t.dt == DT_NONE) {
            err_set("unsupported tensor dtype torch.%s", a[6]->u.g.name);
            return NULL;
        }
    }
    return t;
}

/* Marks a tensor (a copy of it) as an nn.Parameter. */
static pv *pickle_make_param(pickle_machine *pm, const pv *args)
{
    if (args->u.seq.n < 1 || args->u.seq.items[0]->type != PV_TENSOR) {
        err_set("Parameter of something that is not a tensor");
        return NULL;
    }
    pv *t = pickle_new(pm, PV_TENSOR);
    if (!t)
        return NULL;
    t->u = args->u.seq.items[0]->u;
    t->u.t.is_param = 1;
    t->u.t.requires_grad = 1;
    if (args->u.seq.n > 1) {
        const pv *rg = args->u.seq.items[1];
        if (rg->type == PV_BOOL)
            t->u.t.requires_grad = rg->u.b;
        else if (rg->type == PV_INT)
            t->u.t.requires_grad = rg->u.i.v != 0;
    }
    return t;
}

static const char *const layout_names[] = {
    "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr",
    "sparse_bsc", "_mkldnn", "jagged",
};

const char *pickle_layout_name(pl_layout l)
{
    return (size_t)l < sizeof layout_names / sizeof *layout_names
               ? layout_names[l] : "?";
}

/* _get_layout("torch.sparse_coo"): an object standing for the layout. */
static pv *pickle_make_layout(pickle_machine *pm, const pv *args)
{
    const pv *a = args->u.seq.n == 1 ? args->u.seq.items[0] : NULL;
    if (!a || a->type != PV_STR || strncmp(a->u.str.s, "torch.", 6) != 0) {
        err_set("torch.serialization._get_layout() of a %s",
                a ? pickle_type_name(a) : "wrong number of arguments");
        return NULL;
    }
    for (size_t i = 0; i < sizeof layout_names / sizeof *layout_names; i++)
        if (strcmp(a->u.str.s + 6, layout_names[i]) == 0) {
            pv *r = pickle_new(pm, PV_OBJECT);
            if (r) {
                r->u.o.module = "torch";
                r->u.o.name = layout_names[i];
                r->u.o.layout = (uint8_t)(i + 1);
            }
            return r;
        }
    err_set("unknown tensor layout '%.60s'", a->u.str.s);
    return NULL;
}

/* _rebuild_sparse_tensor(layout, (indices, values, size[, coalesced])):
 * a sparse COO tensor of the dense shape `size`, dtype of its values.
 * indices is [sparse_dim, nnz] int64, values [nnz, dense dims...]. */
static pv *pickle_make_sparse(pickle_machine *pm, const pv *args)
{
    pv *const *a = args->u.seq.items;
    if (args->u.seq.n != 2 || a[0]->type != PV_OBJECT || !a[0]->u.o.layout) {
        err_set("_rebuild_sparse_tensor without a layout");
        return NULL;
    }
    pl_layout l = (pl_layout)(a[0]->u.o.layout - 1);
    if (l != PL_SPARSE_COO) {
        err_set("sparse layout torch.%s is not supported (only sparse_coo)",
                pickle_layout_name(l));
        return NULL;
    }
    const pv *d = a[1];
    if (d->type != PV_TUPLE || (d->u.seq.n != 3 && d->u.seq.n != 4) ||
        d->u.seq.items[0]->type != PV_TENSOR ||
        d->u.seq.items[1]->type != PV_TENSOR) {
        err_set("sparse_coo tensor data is not (indices, values, size)");
        return NULL;
    }
    const pv *ix = d->u.seq.items[0], *val = d->u.seq.items[1];
    pv *t = pickle_new(pm, PV_TENSOR);
    size_t nd;
    if (!t || pickle_get_dims(pm, d->u.seq.items[2], "size", &t->u.t.size,
                              &nd))
        return NULL;
    if (ix->u.t.dt != DT_I64 || ix->u.t.ndim != 2 || val->u.t.ndim < 1 ||
        ix->u.t.layout || val->u.t.layout || ix->u.t.size[0] > nd ||
        ix->u.t.size[1] != val->u.t.size[0] ||
        ix->u.t.size[0] + val->u.t.ndim - 1 != nd) {
        err_set("sparse_coo tensor: indices and values do not fit its %zu "
                "dimensions", nd);
        return NULL;
    }
    for (unsigned k = 1; k < val->u.t.ndim; k++)
        if (val->u.t.size[k] != t->u.t.size[ix->u.t.size[0] + k - 1]) {
            err_set("sparse_coo tensor: values of the wrong dense shape");
            return NULL;
        }
    t->u.t.stride = pickle_alloc(pm, (nd + 1) * sizeof *t->u.t.stride);
    if (!t->u.t.stride)
        return NULL;
    t->u.t.storage = val->u.t.storage;
    t->u.t.dt = val->u.t.dt;
    t->u.t.ndim = (uint8_t)nd;
    t->u.t.layout = PL_SPARSE_COO;
    t->u.t.indices = ix;
    t->u.t.values = val;
    return t;
}

pv *pickle_call(pickle_machine *pm, const pv *fn, const pv *args, int depth)
{
    pv *r = NULL;
    if (fn->type != PV_GLOBAL) {
        err_set("REDUCE on a %s refused (only allowed globals are callable)",
                pickle_type_name(fn));
        return NULL;
    }
    if (args->type != PV_TUPLE) {
        err_set("REDUCE arguments are a %s, not a tuple",
                pickle_type_name(args));
        return NULL;
    }
    if (depth > 4) {
        err_set("nested _rebuild_from_type_v2");
        return NULL;
    }
    size_t n = args->u.seq.n;
    pv *const *a = args->u.seq.items;
    switch ((pg_kind)fn->u.g.kind) {
    case PG_ORDEREDDICT:
        r = pickle_new(pm, PV_DICT);
        if (r && n > 0 && pickle_dict_from_pairs(pm, r, a[0]))
            return NULL;
        return r;
    case PG_REBUILD_V2:
        return pickle_make_tensor(pm, args, 0);
    case PG_REBUILD_V3:
        return pickle_make_tensor(pm, args, 1);
    case PG_PARAMETER:
        return pickle_make_param(pm, args);
    case PG_FROM_TYPE:
        if (n < 3 || a[1]->type != PV_GLOBAL) {
            err_set("_rebuild_from_type_v2 with bad arguments");
            return NULL;
        }
        r = pickle_call(pm, a[0], a[2], depth + 1);
        if (r && r->type == PV_TENSOR && a[1]->u.g.kind == PG_PARAMETER)
            r->u.t.is_param = 1;
        return r;
    case PG_IDENTITY:
        if (n < 1) {
            err_set("%s.%s() without arguments", fn->u.g.module,
                    fn->u.g.name);
            return NULL;
        }
        return a[0];
    case PG_ENCODE:
        if (n < 1 || (a[0]->type != PV_STR && a[0]->type != PV_BYTES)) {
            err_set("%s.%s() of a %s", fn->u.g.module, fn->u.g.name,
                    n ? pickle_type_name(a[0]) : "nothing");
            return NULL;
        }
        r = pickle_new(pm, PV_BYTES);
        if (r)
            r->u.str = a[0]->u.str;
        return r;
    case PG_OPAQUE:
    case PG_SCRIPT_CLASS:
        r = pickle_new(pm, PV_OBJECT);
        if (r) {
            r->u.o.module = fn->u.g.module;
            r->u.o.name = fn->u.g.name;
        }
        return r;
    case PG_LAYOUT:
        return pickle_make_layout(pm, args);
    case PG_SPARSE:
        return pickle_make_sparse(pm, args);
    case PG_UNSUPPORTED:
        err_set("'%s.%s' is not supported (quantized, sparse or subclass "
                "tensor)", fn->u.g.module, fn->u.g.name);
        return NULL;
    case PG_STORAGE:
    case PG_DTYPE:
    case PG_TYPE:
        break;
    }
    err_set("'%s.%s' cannot be called", fn->u.g.module, fn->u.g.name);
    return NULL;
}
