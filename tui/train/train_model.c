/* train_model.c: the module: load, initial weights, the frozen set, the
 * batchnorm policy, and the check that frozen tensors never change. */
#include <math.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/plan_resolve.h"
#include "../formats/fileio.h"
#include "../formats/formats.h"
#include "train_impl.h"

/* The module's tensors as a table: names for lookup, kinds and shapes
 * for the memory estimate. */
static int build_table(trainer *t)
{
    size_t n = ts_module_count(t->mod);
    for (size_t i = 0; i < n; i++) {
        ts_tensor_info in;
        uint64_t shape[TS_MAX_DIMS];
        if (ts_module_info(t->mod, i, &in) < 0)
            return err_set("%s: %s", t->model_file, ts_last_error());
        dtype dt = dtype_from_name(in.dtype, strlen(in.dtype));
        if (dt == DT_NONE)
            return err_set("%s: %s: unsupported dtype", t->model_file, in.name);
        for (unsigned d = 0; d < in.ndim; d++)
            shape[d] = (uint64_t)in.shape[d];
        long k = table_add(&t->mt, in.name, strlen(in.name), dt, in.ndim, shape);
        if (k < 0)
            return err_prefix("%s", t->model_file);
        table_at(&t->mt, (size_t)k)->kind = in.is_buffer ? TK_BUFFER
                                                         : TK_PARAMETER;
    }
    return 0;
}

/* Loads train.init by name. Every model tensor of the file must exist in
 * the module, with the same shape and dtype. */
static int load_init(trainer *t)
{
    int rc = -1;
    table tb;
    table_init(&tb);
    if (formats_open(t->init_file, &tb) < 0)
        goto cleanup;
    const void **bases = calloc(tb.nfiles ? tb.nfiles : 1, sizeof *bases);
    size_t *lens = calloc(tb.nfiles ? tb.nfiles : 1, sizeof *lens);
    if (!bases || !lens) {
        err_set("out of memory");
        free(bases);
        free(lens);
        goto cleanup;
    }
    for (size_t i = 0; i < tb.count; i++) {
        const table_tensor *x = table_at(&tb, i);
        const char *name = table_name(&tb, i);
        if (x->kind != TK_PARAMETER && x->kind != TK_BUFFER)
            continue;
        long k = table_find(&t->mt, name, x->name_len);
        if (k < 0) {
            err_set("%s: tensor '%s' is not in the module %s", t->init_file,
                    name, t->model_file);
            goto loop_fail;
        }
        if (!bases[x->file] && table_at(&tb, i)->nbytes &&
            train_map_file(t, table_file_path(&tb, x->file), &bases[x->file],
                           &lens[x->file]) < 0)
            goto loop_fail;
        if (x->nbytes && (x->offset > lens[x->file] ||
                          x->nbytes > lens[x->file] - x->offset)) {
            err_set("%s: tensor '%s' runs past the end of the file",
                    t->init_file, name);
            goto loop_fail;
        }
        int64_t shape[TABLE_MAX_DIMS], strides[TABLE_MAX_DIMS];
        const uint64_t *sh = table_shape(&tb, i), *sd = table_strides(&tb, i);
        for (unsigned d = 0; d < x->ndim; d++) {
            shape[d] = (int64_t)sh[d];
            if (sd)
                strides[d] = (int64_t)sd[d];
        }
        static const char zero[16];
        const void *data = x->nbytes ? (const char *)bases[x->file] + x->offset
                                     : (const void *)zero;
        if (ts_module_load_blob(t->mod, (size_t)k, data,
                                dtype_name((dtype)x->dtype), x->ndim, shape,
                                sd ? strides : NULL) < 0) {
            err_set("%s: tensor '%s': %s", t->init_file, name, ts_last_error());
            goto loop_fail;
        }
        t->init_loaded++;
    }
    free(bases);
    free(lens);
    rc = 0;
    goto cleanup;
loop_fail:
    free(bases);
    free(lens);
cleanup:
    table_free(&tb);
    return rc;
}

/* Appends `name` to a short list of names in buf ("a, b, ..."). */
static void list_name(char *buf, size_t cap, size_t *used, size_t *n,
                      const char *name)
{
    if ((*n)++ < 5 && *used < cap)
        *used += (size_t)snprintf(buf + *used, cap - *used, "%s%s",
                                  *n > 1 ? ", " : "", name);
}

/* Maps the frozen set `cf` of the plan's checkpoint `ct` onto the module,
 * by name. Both directions must agree: a frozen name the module lacks
 * (other than a tied duplicate, which the module lists once) and a
 * module parameter the checkpoint lacks are errors. */
static int map_frozen(trainer *t, const table *ct, const bitset *cf,
                      const char *ck)
{
    char names[600];
    size_t used = 0, n = 0;
    names[0] = '\0';
    for (size_t i = 0; i < ct->count; i++) {
        const table_tensor *x = table_at(ct, i);
        if (x->kind != TK_PARAMETER || !bitset_get(cf, i))
            continue;
        long k = table_find(&t->mt, table_name(ct, i), x->name_len);
        if (k >= 0 && table_at(&t->mt, (size_t)k)->kind == TK_PARAMETER)
            bitset_set(&t->frozen, (size_t)k);
        else if (!(x->flags & TF_ALIAS))
            list_name(names, sizeof names, &used, &n, table_name(ct, i));
    }
    if (n)
        return err_set("%s: %zu frozen name%s not in the module %s: %s%s",
                       t->plan_path, n, n == 1 ? " is" : "s are",
                       t->model_file, names, n > 5 ? ", ..." : "");
    for (size_t i = 0; i < t->mt.count; i++) {
        const table_tensor *x = table_at(&t->mt, i);
        if (x->kind != TK_PARAMETER)
            continue;
        long k = table_find(ct, table_name(&t->mt, i), x->name_len);
        if (k < 0 || table_at(ct, (size_t)k)->kind != TK_PARAMETER)
            list_name(names, sizeof names, &used, &n, table_name(&t->mt, i));
    }
    if (n)
        return err_set("%s: %zu parameter%s of the module %s %s not in the "
                       "plan's checkpoint %s, so the plan cannot say whether "
                       "%s: %s%s", t->plan_path, n, n == 1 ? "" : "s",
                       t->model_file, n == 1 ? "is" : "are", ck,
                       n == 1 ? "it trains" : "they train", names,
                       n > 5 ? ", ..." : "");
    return 0;
}

/* The frozen set: the plan resolved on its own checkpoint (model.path),
 * as every other mode resolves it (plan_resolve.h), then mapped onto the
 * module's parameters by name. */
static int resolve_frozen(trainer *t)
{
    int rc = -1;
    table ct;
    bitset cf = {NULL, 0};
    table_init(&ct);
    char *ck = plan_model_file(&t->pl, t->plan_path);
    if (!ck)
        goto out;
    if (formats_open(ck, &ct) < 0)
        goto out;
    if (bitset_init(&cf, ct.count) < 0) {
        err_set("out of memory");
        goto out;
    }
    if (plan_resolve(&ct, &t->pl, t->plan_path, ck, t->allow_empty, &cf, NULL,
                     stderr) < 0)
        goto out;
    rc = map_frozen(t, &ct, &cf, ck);
out:
    bitset_free(&cf);
    table_free(&ct);
    free(ck);
    return rc;
}

static const char *last_seg(const char *name)
{
    const char *d = strrchr(name, '.');
    return d ? d + 1 : name;
}

/* freeze-stats: a module with running statistics whose own parameters
 * are all frozen stays in eval mode. Collects those module paths. */
static int find_frozen_norms(trainer *t)
{
    if (t->pl.batchnorm == PLAN_BN_TRAIN)
        return 0;
    size_t n = ts_module_count(t->mod);
    t->eval_paths = calloc(n ? n : 1, sizeof *t->eval_paths);
    if (!t->eval_paths)
        return err_set("out of memory");
    for (size_t i = 0; i < n; i++) {
        ts_tensor_info in;
        if (ts_module_info(t->mod, i, &in) < 0)
            return err_set("%s", ts_last_error());
        if (!in.is_buffer || strcmp(last_seg(in.name), "running_mean") != 0)
            continue;
        size_t nparam = 0, nfrozen = 0;
        for (size_t j = 0; j < n; j++) {
            ts_tensor_info o;
            if (ts_module_info(t->mod, j, &o) < 0)
                return err_set("%s", ts_last_error());
            if (o.is_buffer || strcmp(o.owner, in.owner) != 0)
                continue;
            nparam++;
            nfrozen += (size_t)bitset_get(&t->frozen, j);
        }
        if (nparam == 0 || nfrozen != nparam)
            continue;
        if (!(t->eval_paths[t->neval] = strdup(in.owner)))
            return err_set("out of memory");
        t->neval++;
        for (size_t j = 0; j < n; j++) {
            ts_tensor_info o;
            if (ts_module_info(t->mod, j, &o) == 0 && o.is_buffer &&
                strcmp(o.owner, in.owner) == 0) {
                bitset_set(&t->hashed, j);
                t->nfrozen_norm_buffers++;
            }
        }
    }
    return 0;
}

/* SHA-256 of tensor i's bytes into out (32 bytes). */
static int hash_tensor(trainer *t, size_t i, unsigned char *buf,
                       unsigned char *out)
{
    const table_tensor *x = table_at(&t->mt, i);
    if (ts_module_read(t->mod, i, buf, (size_t)x->nbytes) < 0)
        return err_set("%s: %s", table_name(&t->mt, i), ts_last_error());
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, (size_t)x->nbytes, buf);
    sha256_digest(&c, SHA256_DIGEST_SIZE, out);
    return 0;
}

/* Hashes (or, with cmp set, compares) every tensor in t->hashed; counts
 * mismatches among parameters / buffers. */
static int hash_all(trainer *t, int cmp, size_t *bad_params, size_t *bad_bufs)
{
    uint64_t maxb = 1;
    for (size_t i = 0; i < t->mt.count; i++)
        if (bitset_get(&t->hashed, i) && table_at(&t->mt, i)->nbytes > maxb)
            maxb = table_at(&t->mt, i)->nbytes;
    unsigned char *buf = malloc((size_t)maxb);
    if (!buf)
        return err_set("out of memory");
    for (size_t i = 0; i < t->mt.count; i++) {
        if (!bitset_get(&t->hashed, i))
            continue;
        unsigned char h[32];
        if (hash_tensor(t, i, buf, h) < 0) {
            free(buf);
            return -1;
        }
        if (!cmp)
            memcpy(t->hash + 32 * i, h, 32);
        else if (memcmp(t->hash + 32 * i, h, 32) != 0) {
            if (table_at(&t->mt, i)->kind == TK_BUFFER)
                (*bad_bufs)++;
            else
                (*bad_params)++;
        }
    }
    free(buf);
    return 0;
}

/* Names what train.model is before libtorch tries it, when the formats
 * layer reads it as something other than a TorchScript archive (a
 * state_dict, a safetensors file) or it starts as a plain pickle stream:
 * libtorch's own message for those is about zip central directories.
 * Returns 0 (a TorchScript archive, or not known: libtorch decides), or
 * -1 with err set. */
static int model_kind_check(const trainer *t)
{
    table tb;
    table_init(&tb);
    int opened = formats_open(t->model_file, &tb) == 0;
    char fmt[sizeof tb.format];
    memcpy(fmt, tb.format, sizeof fmt);
    table_free(&tb);
    unsigned char head[2] = {0, 0};
    rfile f;
    int pickle = 0;
    if (!opened && rfile_open(&f, t->model_file) == 0) {
        pickle = f.size >= 2 && rfile_pread(&f, head, 2, 0) == 0 &&
                 head[0] == 0x80 && head[1] >= 2 && head[1] <= 5;
        rfile_close(&f);
    }
    err_clear();
    const char *what = NULL;
    if (opened && strcmp(fmt, "pytorch") == 0)
        what = "is a state_dict (weights only)";
    else if (opened && strcmp(fmt, "safetensors") == 0)
        what = "is a safetensors file (weights only)";
    else if (pickle)
        what = "is a plain pickle stream";
    if (!what)
        return 0;
    return err_set("%s: train.model '%s' %s, not a TorchScript module: "
                   "export one with torch.jit.script(model).save(...) and "
                   "give the weights as train.init", t->plan_path,
                   t->pl.train.model, what);
}

int train_model_setup(trainer *t)
{
    if (model_kind_check(t) < 0)
        return -1;
    if (ts_module_load(t->model_file, t->device, &t->mod) < 0)
        return err_set("%s: cannot load the TorchScript module: %s",
                       t->model_file, ts_last_error());
    if (build_table(t) < 0)
        return -1;
    if (bitset_init(&t->frozen, t->mt.count) < 0 ||
        bitset_init(&t->hashed, t->mt.count) < 0 ||
        !(t->hash = calloc(t->mt.count ? t->mt.count : 1, 32)))
        return err_set("out of memory");
    if (t->init_file && load_init(t) < 0)
        return -1;
    if (resolve_frozen(t) < 0)
        return -1;
    for (size_t i = 0; i < t->mt.count; i++) {
        const table_tensor *x = table_at(&t->mt, i);
        if (x->kind != TK_PARAMETER)
            continue;
        int train = !bitset_get(&t->frozen, i) &&
                    dtype_is_float((dtype)x->dtype);
        if (ts_module_set_requires_grad(t->mod, i, train) < 0)
            return err_set("%s: %s: %s", t->model_file, table_name(&t->mt, i),
                           ts_last_error());
        if (!train)
            bitset_set(&t->hashed, i);
    }
    if (find_frozen_norms(t) < 0)
        return -1;
    mem_optimizer mo = strcmp(t->opt, "sgd") == 0        ? MEM_SGD
                       : strcmp(t->opt, "momentum") == 0 ? MEM_MOMENTUM
                       : strcmp(t->opt, "adam") == 0     ? MEM_ADAM
                                                         : MEM_ADAMW;
    mem_precision mp = strcmp(t->precision, "bf16") == 0 ? MEM_AMP : MEM_FP32;
    if (memory_estimate(&t->mt, &t->frozen, mo, mp, &t->est) == 0)
        t->have_est = 1;
    size_t a = 0, b = 0;
    return hash_all(t, 0, &a, &b);
}

int train_model_norms(trainer *t)
{
    bitset before;
    if (bitset_init(&before, t->mt.count))
        return err_set("out of memory");
    bitset_copy(&before, &t->hashed);
    for (size_t i = 0; i < t->mt.count; i++)
        if (table_at(&t->mt, i)->kind == TK_BUFFER)
            bitset_clear(&t->hashed, i);
    for (size_t i = 0; i < t->neval; i++)
        free(t->eval_paths[i]);
    free(t->eval_paths);
    t->eval_paths = NULL;
    t->neval = 0;
    t->nfrozen_norm_buffers = 0;
    int rc = find_frozen_norms(t);
    /* a buffer is checked only when it was from the start (its hash was
     * taken then): a layer frozen again later is not */
    for (size_t i = 0; i < t->mt.count; i++)
        if (bitset_get(&t->hashed, i) && !bitset_get(&before, i)) {
            bitset_clear(&t->hashed, i);
            t->nfrozen_norm_buffers--;
        }
    bitset_free(&before);
    return rc;
}

int train_model_verify(trainer *t, int *params_ok, int *stats_ok)
{
    size_t bp = 0, bb = 0;
    if (hash_all(t, 1, &bp, &bb) < 0)
        return -1;
    *params_ok = bp == 0;
    *stats_ok = bb == 0;
    return 0;
}

int train_model_mode(trainer *t, int on)
{
    if (ts_module_set_mode(t->mod, on, (const char *const *)t->eval_paths,
                           on ? t->neval : 0) < 0)
        return err_set("%s: %s", t->model_file, ts_last_error());
    return 0;
}

int train_model_finite(trainer *t)
{
    uint64_t maxb = 1;
    for (size_t i = 0; i < t->mt.count; i++)
        if (!bitset_get(&t->hashed, i) && table_at(&t->mt, i)->nbytes > maxb)
            maxb = table_at(&t->mt, i)->nbytes;
    unsigned char *buf = malloc((size_t)maxb);
    if (!buf)
        return err_set("out of memory");
    int ok = 1;
    for (size_t i = 0; i < t->mt.count && ok; i++) {
        const table_tensor *x = table_at(&t->mt, i);
        if (bitset_get(&t->hashed, i) || x->kind != TK_PARAMETER ||
            x->dtype != DT_F32)
            continue;
        if (ts_module_read(t->mod, i, buf, (size_t)x->nbytes) < 0) {
            free(buf);
            return err_set("%s", ts_last_error());
        }
        const float *f = (const float *)(void *)buf;
        for (uint64_t k = 0; k < x->numel; k++)
            if (!isfinite(f[k])) {
                ok = 0;
                break;
            }
    }
    free(buf);
    return ok;
}
