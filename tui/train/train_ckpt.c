/* train_ckpt.c: checkpoints (atomic folders), resume, and the run's
 * outputs (the TorchScript module and a safetensors file of weights).
 *
 * A checkpoint is a folder OUT/ckpt-<step, 10 digits>/ holding one
 * safetensors file, state.safetensors: "model/<name>" for every module
 * tensor, "optim/<param>.<slot>" for the optimizer state, "rng/cpu" (and
 * "rng/cuda") for the generators; __metadata__ holds the counters. It is
 * written as OUT/.ckpt-<step>.tmp.<pid>/, fsync'ed, renamed into place,
 * and OUT is fsync'ed; then older checkpoints are removed. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/atomic.h"
#include "../core/err.h"
#include "../formats/formats.h"
#include "train_impl.h"

enum { SRC_MODEL, SRC_OPTIM, SRC_RNG };

typedef struct {
    trainer *t;
    int *src;
    size_t *idx;
    unsigned char *rng[2];
} ckpt_ctx;

static int ckpt_fill(void *vctx, size_t i, void *buf, size_t n)
{
    ckpt_ctx *c = vctx;
    switch (c->src[i]) {
    case SRC_MODEL:
        if (ts_module_read(c->t->mod, c->idx[i], buf, n) < 0)
            return err_set("%s", ts_last_error());
        return 0;
    case SRC_OPTIM:
        if (ts_trainer_state_read(c->t->tr, c->idx[i], buf, n) < 0)
            return err_set("%s", ts_last_error());
        return 0;
    default:
        memcpy(buf, c->rng[c->idx[i]], n);
        return 0;
    }
}

/* Every model tensor (prefix "" or "model/"), then optimizer state and
 * the generators when `full`. Writes the file at `path` (st_write's
 * `replace`). */
static int write_state(trainer *t, const char *path, int full, int replace,
                       const char *const *meta, size_t nmeta)
{
    int rc = -1;
    size_t nm = t->mt.count, no = 0;
    if (full && ts_trainer_state_count(t->tr, &no) < 0)
        return err_set("optimizer state: %s", ts_last_error());
    size_t nr = full ? (strcmp(t->device, "cuda") == 0 ? 2 : 1) : 0;
    size_t n = nm + no + nr;
    st_entry *e = calloc(n ? n : 1, sizeof *e);
    int *src = calloc(n ? n : 1, sizeof *src);
    size_t *idx = calloc(n ? n : 1, sizeof *idx);
    char **names = calloc(n ? n : 1, sizeof *names);
    int64_t *shapes = calloc((n ? n : 1) * TS_MAX_DIMS, sizeof *shapes);
    int64_t rng_len[2] = {0, 0};
    ckpt_ctx c = {t, src, idx, {NULL, NULL}};
    if (!e || !src || !idx || !names || !shapes) {
        err_set("out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < nm; i++) {
        const table_tensor *x = table_at(&t->mt, i);
        const char *nm_ = table_name(&t->mt, i);
        size_t l = strlen(nm_) + 8;
        if (!(names[i] = malloc(l)))
            goto oom;
        snprintf(names[i], l, "%s%s", full ? "model/" : "", nm_);
        for (unsigned d = 0; d < x->ndim; d++)
            shapes[i * TS_MAX_DIMS + d] = (int64_t)table_shape(&t->mt, i)[d];
        e[i] = (st_entry){names[i], dtype_name((dtype)x->dtype), x->ndim,
                          shapes + i * TS_MAX_DIMS, x->nbytes};
        src[i] = SRC_MODEL;
        idx[i] = i;
    }
    for (size_t j = 0; j < no; j++) {
        size_t i = nm + j;
        ts_tensor_info in;
        if (ts_trainer_state_info(t->tr, j, &in) < 0) {
            err_set("%s", ts_last_error());
            goto cleanup;
        }
        size_t l = strlen(in.name) + 8;
        if (!(names[i] = malloc(l)))
            goto oom;
        snprintf(names[i], l, "optim/%s", in.name);
        for (unsigned d = 0; d < in.ndim && d < TS_MAX_DIMS; d++)
            shapes[i * TS_MAX_DIMS + d] = in.shape[d];
        e[i] = (st_entry){names[i], in.dtype, in.ndim,
                          shapes + i * TS_MAX_DIMS, in.nbytes};
        src[i] = SRC_OPTIM;
        idx[i] = j;
    }
    for (size_t r = 0; r < nr; r++) {
        size_t i = nm + no + r, len = 0;
        const char *dev = r ? "cuda" : "cpu";
        if (ts_rng_get(dev, NULL, &len) < 0 || !(c.rng[r] = malloc(len ? len : 1)) ||
            ts_rng_get(dev, c.rng[r], &len) < 0) {
            err_set("random generator state: %s", ts_last_error());
            goto cleanup;
        }
        rng_len[r] = (int64_t)len;
        e[i] = (st_entry){r ? "rng/cuda" : "rng/cpu", "U8", 1, &rng_len[r], len};
        src[i] = SRC_RNG;
        idx[i] = r;
    }
    rc = st_write(path, replace, e, n, meta, nmeta, ckpt_fill, &c);
    goto cleanup;
oom:
    err_set("out of memory");
cleanup:
    if (names)
        for (size_t i = 0; i < n; i++)
            free(names[i]);
    free(names);
    free(shapes);
    free(e);
    free(src);
    free(idx);
    free(c.rng[0]);
    free(c.rng[1]);
    return rc;
}

/* Removes every ckpt-* folder but `keep`, and stale temp folders. An old
 * checkpoint is first renamed to a hidden temp name (atomically), so a
 * kill while it is being deleted never leaves a half-empty ckpt-* folder
 * in sight; the next save sweeps the hidden one. */
static void prune(const trainer *t, const char *keep)
{
    DIR *d = opendir(t->out_dir);
    if (!d)
        return;
    struct dirent *de;
    char p[4200], hidden[4300];
    while ((de = readdir(d))) {
        int old = strncmp(de->d_name, "ckpt-", 5) == 0 &&
                  strcmp(de->d_name, keep) != 0;
        int tmp = strncmp(de->d_name, ".ckpt-", 6) == 0 &&
                  strstr(de->d_name, ".tmp.");
        if (!old && !tmp)
            continue;
        snprintf(p, sizeof p, "%s/%s", t->out_dir, de->d_name);
        if (old) {
            snprintf(hidden, sizeof hidden, "%s/.%s.tmp.old", t->out_dir,
                     de->d_name);
            if (rename(p, hidden) == 0) {
                train_rmdir(hidden);
                continue;
            }
        }
        train_rmdir(p);
    }
    closedir(d);
}

int train_ckpt_save(trainer *t)
{
    char name[64], tmp[4200], dst[4200], file[4300];
    char v[15][128];
    snprintf(name, sizeof name, "ckpt-%010llu", (unsigned long long)t->step);
    snprintf(dst, sizeof dst, "%s/%s", t->out_dir, name);
    struct stat st;
    if (stat(dst, &st) == 0) { /* this step is saved already */
        t->wrote_ckpt = 1;
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", t->out_dir, name,
             (long)getpid());
    train_rmdir(tmp);
    if (mkdir(tmp, 0755) < 0)
        return err_set("%s: %s", tmp, strerror(errno));
    snprintf(v[0], sizeof v[0], "%llu", (unsigned long long)t->step);
    snprintf(v[1], sizeof v[1], "%lld", (long long)ts_trainer_steps(t->tr));
    snprintf(v[2], sizeof v[2], "%.17g", t->ep_loss);
    snprintf(v[3], sizeof v[3], "%lld", (long long)t->ep_correct);
    snprintf(v[4], sizeof v[4], "%lld", (long long)t->ep_count);
    snprintf(v[5], sizeof v[5], "%lld", (long long)t->ep_steps);
    snprintf(v[6], sizeof v[6], "%lld", (long long)t->n_train);
    snprintf(v[7], sizeof v[7], "%llu", (unsigned long long)t->batch);
    snprintf(v[8], sizeof v[8], "%llu", (unsigned long long)t->seed);
    snprintf(v[9], sizeof v[9], "%.17g %.17g %.17g %.17g %d %llu",
             t->last_train_loss, t->last_train_acc, t->val_loss, t->val_acc,
             t->have_val, (unsigned long long)t->val_step);
    snprintf(v[10], sizeof v[10], "%llu %.17g", (unsigned long long)t->samples,
             t->train_secs);
    snprintf(v[11], sizeof v[11], "%llu", (unsigned long long)t->total);
    snprintf(v[12], sizeof v[12], "%.17g", t->last_step_loss);
    snprintf(v[14], sizeof v[14], "%d", t->world > 1 ? t->world : 1);
    snprintf(v[13], sizeof v[13], "%llu %llu",
             (unsigned long long)t->grad_bytes,
             (unsigned long long)t->state_bytes);
    char *figs = NULL;
    if (train_stages_meta(t, &figs) < 0)
        goto fail;
    const char *meta[] = {
        "format", "tui-checkpoint-1", "step", v[0], "optimizer_steps", v[1],
        "epoch_loss_sum", v[2], "epoch_correct", v[3], "epoch_count", v[4],
        "epoch_steps", v[5], "train_samples", v[6], "batch_size", v[7],
        "seed", v[8], "last_eval", v[9], "counters", v[10],
        "optimizer", t->opt, "total_steps", v[11], "last_step_loss", v[12],
        /* measured gradient and optimizer bytes: a resume that takes no
         * step (the run's end) reports these, not an unmeasured 0 */
        "measured_bytes", t->have_grad_bytes ? v[13] : "",
        /* the processes the run was made with: a resume needs as many */
        "world_size", v[14],
        /* a staged run's figures per stage (last: absent without stages) */
        "stage_figures", figs,
    };
    size_t nmeta = sizeof meta / sizeof *meta / 2 - !train_stages_shown(t);
    snprintf(file, sizeof file, "%s/state.safetensors", tmp);
    if (write_state(t, file, 1, 0, meta, nmeta) < 0 ||
        atomic_sync_dir(tmp) < 0)
        goto fail;
    if (rename(tmp, dst) < 0) {
        err_set("%s: %s", dst, strerror(errno));
        goto fail;
    }
    free(figs);
    if (atomic_sync_dir(t->out_dir) < 0)
        return -1;
    t->wrote_ckpt = 1;
    prune(t, name);
    return 0;
fail:
    free(figs);
    train_rmdir(tmp);
    return -1;
}

static const char *meta_get(const table *tb, const char *key)
{
    for (size_t i = 0; i < tb->nmeta; i++)
        if (strcmp(table_meta_key(tb, i), key) == 0)
            return table_meta_value(tb, i);
    return NULL;
}

/* The newest complete checkpoint folder name into buf; 0 when none. */
static int newest(const trainer *t, char *buf, size_t cap)
{
    DIR *d = opendir(t->out_dir);
    if (!d)
        return 0;
    struct dirent *de;
    unsigned long long best = 0;
    int found = 0;
    while ((de = readdir(d))) {
        unsigned long long s;
        char extra;
        if (strlen(de->d_name) != 15 ||
            sscanf(de->d_name, "ckpt-%10llu%c", &s, &extra) != 1)
            continue;
        if (!found || s > best) {
            best = s;
            found = 1;
        }
    }
    closedir(d);
    if (found)
        snprintf(buf, cap, "ckpt-%010llu", best);
    return found;
}

/* Opens the checkpoint file's header into *tb and checks that it is a
 * tui checkpoint made with this run's data order settings. Returns 0, or
 * -1 with err set (*tb to be freed either way). */
static int ckpt_open(const trainer *t, const char *file, table *tb)
{
    if (formats_open(file, tb) < 0)
        return -1;
    const char *fmt = meta_get(tb, "format");
    const char *s_n = meta_get(tb, "train_samples"), *s_b = meta_get(tb, "batch_size");
    const char *s_seed = meta_get(tb, "seed"), *s_opt = meta_get(tb, "optimizer");
    if (!fmt || strcmp(fmt, "tui-checkpoint-1") || !meta_get(tb, "step") ||
        !meta_get(tb, "optimizer_steps") || !s_n || !s_b || !s_seed || !s_opt ||
        !meta_get(tb, "last_eval") || !meta_get(tb, "counters"))
        return err_set("%s: not a tui checkpoint", file);
    char want[64];
    snprintf(want, sizeof want, "%lld %llu %llu", (long long)t->n_train,
             (unsigned long long)t->batch, (unsigned long long)t->seed);
    char got[200];
    snprintf(got, sizeof got, "%s %s %s", s_n, s_b, s_seed);
    if (strcmp(want, got) != 0 || strcmp(s_opt, t->opt) != 0)
        return err_set("%s: made with other settings (samples, batch_size, "
                       "seed, optimizer: %s %s; the plan: %s %s)", file, got,
                       s_opt, want, t->opt);
    /* absent: a checkpoint of one process (made before world_size was
     * recorded) */
    const char *s_w = meta_get(tb, "world_size");
    long made = s_w ? strtol(s_w, NULL, 10) : 1;
    int now = t->world > 1 ? t->world : 1;
    if (made != now)
        return err_set("%s: made by %ld process%s, and this run has %d: "
                       "resume with the same number (the data order and "
                       "the batches depend on it)", file, made,
                       made == 1 ? "" : "es", now);
    return 0;
}

static int restore_file(trainer *t, const char *file)
{
    int rc = -1;
    table tb;
    table_init(&tb);
    const void *base;
    size_t len;
    if (ckpt_open(t, file, &tb) < 0 || train_map_file(t, file, &base, &len) < 0)
        goto cleanup;
    const char *s_step = meta_get(&tb, "step"), *s_os = meta_get(&tb, "optimizer_steps");
    const char *s_ev = meta_get(&tb, "last_eval"), *s_c = meta_get(&tb, "counters");
    /* a staged run: the stages up to the checkpoint's step first, so that
     * the tensors they thawed are in the optimizer to take their state */
    if (train_stages_step(t, strtoull(s_step, NULL, 10)) < 0)
        goto cleanup;
    for (size_t i = 0; i < tb.count; i++) {
        const table_tensor *x = table_at(&tb, i);
        const char *name = table_name(&tb, i);
        if (x->offset > len || x->nbytes > len - x->offset) {
            err_set("%s: %s runs past the end", file, name);
            goto cleanup;
        }
        const void *data = (const char *)base + x->offset;
        int r = 0;
        if (strncmp(name, "model/", 6) == 0) {
            long k = table_find(&t->mt, name + 6, strlen(name + 6));
            if (k < 0 || table_at(&t->mt, (size_t)k)->nbytes != x->nbytes) {
                err_set("%s: %s does not fit the module", file, name);
                goto cleanup;
            }
            r = ts_module_write(t->mod, (size_t)k, data, (size_t)x->nbytes);
        } else if (strncmp(name, "optim/", 6) == 0) {
            r = ts_trainer_state_write(t->tr, name + 6, data, (size_t)x->nbytes);
        } else if (strcmp(name, "rng/cpu") == 0) {
            r = ts_rng_set("cpu", data, (size_t)x->nbytes);
        } else if (strcmp(name, "rng/cuda") == 0) {
            if (strcmp(t->device, "cuda") == 0)
                r = ts_rng_set("cuda", data, (size_t)x->nbytes);
        }
        if (r < 0) {
            err_set("%s: %s: %s", file, name, ts_last_error());
            goto cleanup;
        }
    }
    t->step = strtoull(s_step, NULL, 10);
    ts_trainer_set_steps(t->tr, strtoll(s_os, NULL, 10));
    if (train_stages_restored(t) < 0)
        goto cleanup;
    t->ep_loss = strtod(meta_get(&tb, "epoch_loss_sum") ? meta_get(&tb, "epoch_loss_sum") : "0", NULL);
    t->ep_correct = strtoll(meta_get(&tb, "epoch_correct") ? meta_get(&tb, "epoch_correct") : "0", NULL, 10);
    t->ep_count = strtoll(meta_get(&tb, "epoch_count") ? meta_get(&tb, "epoch_count") : "0", NULL, 10);
    t->ep_steps = strtoll(meta_get(&tb, "epoch_steps") ? meta_get(&tb, "epoch_steps") : "0", NULL, 10);
    unsigned long long vs = 0;
    if (sscanf(s_ev, "%lf %lf %lf %lf %d %llu", &t->last_train_loss,
               &t->last_train_acc, &t->val_loss, &t->val_acc, &t->have_val,
               &vs) != 6) {
        err_set("%s: bad last_eval", file);
        goto cleanup;
    }
    t->val_step = vs;
    unsigned long long sm = 0;
    if (sscanf(s_c, "%llu %lf", &sm, &t->train_secs) != 2) {
        err_set("%s: bad counters", file);
        goto cleanup;
    }
    t->samples = sm;
    /* keys added later: absent in older checkpoints */
    const char *s_tot = meta_get(&tb, "total_steps");
    const char *s_ls = meta_get(&tb, "last_step_loss");
    const char *s_mb = meta_get(&tb, "measured_bytes");
    unsigned long long gb = 0, sb = 0;
    t->ckpt_total = s_tot ? strtoull(s_tot, NULL, 10) : 0;
    t->last_step_loss = s_ls ? strtod(s_ls, NULL) : NAN;
    if (s_mb && sscanf(s_mb, "%llu %llu", &gb, &sb) == 2) {
        t->grad_bytes = gb;
        t->state_bytes = sb;
        t->have_grad_bytes = 1;
    }
    if (train_stages_meta_read(t, meta_get(&tb, "stage_figures")) < 0) {
        err_prefix("%s", file);
        goto cleanup;
    }
    rc = 0;
cleanup:
    table_free(&tb);
    return rc;
}

int train_ckpt_restore(trainer *t)
{
    char name[64], file[4300];
    if (!newest(t, name, sizeof name))
        return 0;
    snprintf(file, sizeof file, "%s/%s/state.safetensors", t->out_dir, name);
    if (restore_file(t, file) < 0)
        return -1;
    prune(t, name); /* what a killed run left: temp and older folders */
    t->wrote_ckpt = 1;
    return 1;
}

/* 1 when DIR/NAME is a regular file. */
static int has_file(const char *dir, const char *name)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int train_ckpt_complete(trainer *t)
{
    char name[64], file[4300];
    if (!newest(t, name, sizeof name))
        return 0;
    snprintf(file, sizeof file, "%s/%s/state.safetensors", t->out_dir, name);
    table tb;
    table_init(&tb);
    int done = ckpt_open(t, file, &tb) == 0 &&
               strtoull(meta_get(&tb, "step"), NULL, 10) == t->total &&
               has_file(t->out_dir, "model.ts.pt") &&
               has_file(t->out_dir, "weights.safetensors") &&
               has_file(t->out_dir, "report.json");
    table_free(&tb);
    err_clear();
    return done;
}

int train_write_outputs(trainer *t)
{
    char path[4200];
    const void *archive;
    size_t len;
    const char *meta[] = {"format", "pt"};
    snprintf(path, sizeof path, "%s/model.ts.pt", t->out_dir);
    if (ts_module_archive(t->mod, &archive, &len) < 0)
        return err_set("%s: %s", path, ts_last_error());
    if (atomic_write(path, archive, len) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/weights.safetensors", t->out_dir);
    return write_state(t, path, 0, 1, meta, 1);
}

int train_metrics_trim(trainer *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->out_dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 0 : err_set("%s: %s", path, strerror(errno));
    char *buf = NULL, *line = NULL;
    size_t len = 0, cap = 0, lcap = 0;
    ssize_t n;
    int rc = -1;
    while ((n = getline(&line, &lcap, f)) > 0) {
        unsigned long long s;
        if (line[n - 1] != '\n' || sscanf(line, "{\"step\":%llu", &s) != 1 ||
            s > t->step)
            break;
        if (len + (size_t)n > cap) {
            size_t c = cap ? cap * 2 : 65536;
            while (c < len + (size_t)n)
                c *= 2;
            char *nb = realloc(buf, c);
            if (!nb) {
                err_set("out of memory");
                goto cleanup;
            }
            buf = nb;
            cap = c;
        }
        memcpy(buf + len, line, (size_t)n);
        len += (size_t)n;
    }
    rc = atomic_write(path, buf ? buf : "", len);
cleanup:
    fclose(f);
    free(line);
    free(buf);
    return rc;
}
