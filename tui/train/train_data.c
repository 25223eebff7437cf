/* train_data.c: the examples, mapped from their files and wrapped as
 * tensors without copying (train.data). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/err.h"
#include "../formats/formats.h"
#include "train_impl.h"

int train_map_file(trainer *t, const char *path, const void **addr,
                   size_t *len)
{
    int rc = -1, fd = -1;
    void *a = MAP_FAILED;
    struct stat st;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set("%s: not a regular file", path);
        goto cleanup;
    }
    size_t n = (size_t)st.st_size;
    if (n > 0) {
        a = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (a == MAP_FAILED) {
            err_set("%s: cannot map: %s", path, strerror(errno));
            goto cleanup;
        }
    }
    train_map *m = realloc(t->maps, (t->nmaps + 1) * sizeof *m);
    if (!m) {
        err_set("out of memory");
        goto cleanup;
    }
    t->maps = m;
    t->maps[t->nmaps].addr = n ? a : NULL;
    t->maps[t->nmaps].len = n;
    t->nmaps++;
    a = MAP_FAILED;
    *addr = t->maps[t->nmaps - 1].addr;
    *len = n;
    rc = 0;
cleanup:
    if (a != MAP_FAILED)
        munmap(a, (size_t)st.st_size);
    if (fd >= 0)
        close(fd);
    return rc;
}

void train_unmap_all(trainer *t)
{
    for (size_t i = 0; i < t->nmaps; i++)
        if (t->maps[i].addr)
            munmap(t->maps[i].addr, t->maps[i].len);
    free(t->maps);
    t->maps = NULL;
    t->nmaps = 0;
}

/* Lists up to 8 tensor names of `tb` into buf, for messages. */
static void list_names(const table *tb, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < tb->count && i < 8 && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s",
                                 i ? ", " : "", table_name(tb, i));
    if (tb->count > 8 && used < cap)
        snprintf(buf + used, cap - used, ", ... (%zu in all)", tb->count);
}

/* Wraps tensor `name` of the checkpoint at `path` (whose table is tb). */
static int wrap_one(trainer *t, const char *path, const table *tb,
                    const char *key, const char *name, ts_tensor **out)
{
    char names[512];
    long i = table_find(tb, name, strlen(name));
    if (i < 0) {
        list_names(tb, names, sizeof names);
        return err_set("%s: train.data.%s: no tensor '%s' (it has: %s)", path,
                       key, name, names);
    }
    const table_tensor *x = table_at(tb, (size_t)i);
    if (x->ndim == 0)
        return err_set("%s: tensor '%s' is a scalar: the first dimension "
                       "must count the samples", path, name);
    const void *base;
    size_t len;
    if (train_map_file(t, table_file_path(tb, x->file), &base, &len) < 0)
        return -1;
    int64_t shape[TABLE_MAX_DIMS], strides[TABLE_MAX_DIMS];
    const uint64_t *sh = table_shape(tb, (size_t)i);
    const uint64_t *sd = table_strides(tb, (size_t)i);
    uint64_t extent = x->nbytes; /* readers validated strided extents */
    for (unsigned d = 0; d < x->ndim; d++) {
        if (sh[d] > (uint64_t)INT64_MAX || (sd && sd[d] > (uint64_t)INT64_MAX))
            return err_set("%s: tensor '%s': dimension too large", path, name);
        shape[d] = (int64_t)sh[d];
        if (sd)
            strides[d] = (int64_t)sd[d];
    }
    if (x->offset > len || extent > len - x->offset)
        return err_set("%s: tensor '%s' runs past the end of the file", path,
                       name);
    if (ts_tensor_from_blob((const char *)base + x->offset,
                            dtype_name((dtype)x->dtype), x->ndim, shape,
                            sd ? strides : NULL, out) < 0)
        return err_set("%s: tensor '%s': %s", path, name, ts_last_error());
    return 0;
}

/* Opens one data file and wraps its inputs and targets. */
static int open_pair(trainer *t, const char *path, ts_tensor **x,
                     ts_tensor **y)
{
    int rc = -1;
    table tb;
    table_init(&tb);
    if (formats_open(path, &tb) < 0)
        goto cleanup;
    if (wrap_one(t, path, &tb, "inputs", t->pl.train.data.inputs, x) < 0 ||
        wrap_one(t, path, &tb, "targets", t->pl.train.data.targets, y) < 0)
        goto cleanup;
    if (ts_tensor_rows(*x) != ts_tensor_rows(*y)) {
        err_set("%s: %s has %lld samples, %s has %lld", path,
                t->pl.train.data.inputs, (long long)ts_tensor_rows(*x),
                t->pl.train.data.targets, (long long)ts_tensor_rows(*y));
        goto cleanup;
    }
    rc = 0;
cleanup:
    table_free(&tb);
    return rc;
}

int train_data_open(trainer *t)
{
    if (!t->data_file)
        return err_set("%s: training needs train.data (train.input_shape "
                       "alone serves --measure-memory only)", t->plan_path);
    if (open_pair(t, t->data_file, &t->x, &t->y) < 0)
        return -1;
    int64_t n = ts_tensor_rows(t->x);
    if (t->val_file) {
        if (open_pair(t, t->val_file, &t->vx, &t->vy) < 0)
            return -1;
        t->n_train = n;
        t->n_val = ts_tensor_rows(t->vx);
        t->val_start = 0;
    } else {
        /* The last floor(n * val_fraction) samples are held out. */
        int64_t nv = (int64_t)((double)n * t->val_fraction);
        t->n_train = n - nv;
        t->n_val = nv;
        t->val_start = t->n_train;
    }
    if (t->n_train <= 0)
        return err_set("%s: no training samples (%lld in the file, %lld held "
                       "out)", t->data_file, (long long)n,
                       (long long)t->n_val);
    /* DistributedSampler: every rank ceil(n / W) samples (padded) */
    int64_t w = t->world > 1 ? t->world : 1;
    t->n_rank = (t->n_train + w - 1) / w;
    t->spe = (t->n_rank + (int64_t)t->batch - 1) / (int64_t)t->batch;
    t->total = t->max_steps ? t->max_steps : t->epochs * (uint64_t)t->spe;
    return 0;
}
