/* train_main.c: tui_train_main, the trainer's entry point (train.h). */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/err.h"
#include "train_impl.h"

/* 1 when the folder holds a run (a checkpoint or outputs). */
static int holds_run(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d)) && !found)
        found = strncmp(de->d_name, "ckpt-", 5) == 0 ||
                strcmp(de->d_name, "model.ts.pt") == 0 ||
                strcmp(de->d_name, "weights.safetensors") == 0;
    closedir(d);
    return found;
}

/* mkdir -p; sets *made when the last component was created. */
static int make_dirs(const char *path, int *made)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return err_set("%s: path too long", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) == 0) {
            if (c == '\0')
                *made = 1;
        } else if (errno != EEXIST) {
            return err_set("%s: %s", buf, strerror(errno));
        }
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return err_set("%s: not a folder", path);
    return 0;
}

void trainer_free(trainer *t)
{
    train_dist_leave(t);
    train_stages_free(t);
    if (t->metrics)
        fclose(t->metrics);
    ts_trainer_free(t->tr);
    ts_tensor_free(t->x);
    ts_tensor_free(t->y);
    ts_tensor_free(t->vx);
    ts_tensor_free(t->vy);
    ts_module_free(t->mod);
    train_unmap_all(t);
    for (size_t i = 0; i < t->neval; i++)
        free(t->eval_paths[i]);
    free(t->eval_paths);
    free(t->hash);
    bitset_free(&t->frozen);
    bitset_free(&t->hashed);
    table_free(&t->mt);
    plan_free(&t->pl);
    free(t->model_file);
    free(t->init_file);
    free(t->data_file);
    free(t->val_file);
    free(t->out_dir);
}

/* Everything before the first step: checks, loads, resume. Returns 0,
 * 1 when --resume finds the run complete (nothing done, nothing
 * written), or -1 with err set. */
static int setup_rest(trainer *t);

/* The launcher's variables, the device, the group joined (world > 1),
 * then the rest of the setup on every rank, which then agree that every
 * rank is ready and runs the same thing. Returns as setup_rest. */
static int setup(trainer *t, const train_options *o)
{
    if (train_config(t, o) < 0 || train_dist_env(t) < 0)
        return -1;
    /* the tests' shortcut over train.dist_timeout */
    const char *to = getenv("TUI_DIST_TIMEOUT");
    if (to && atof(to) > 0)
        t->dist_timeout = atof(to);
    int su = setup_rest(t);
    if (t->dist && train_dist_ready(t, su < 0) < 0)
        return -1;
    if (su != 0 || !t->dist)
        return su;
    return train_dist_agree(t);
}

static int setup_rest(trainer *t)
{
    int cuda = 0;
    if (ts_cuda_available(&cuda) < 0)
        return err_set("%s", ts_last_error());
    if (!cuda && t->device_default) {
        /* no device named: the GPU when there is one, else the CPU */
        t->device = "cpu";
        fprintf(stderr, "tui: no GPU here: training on the cpu (train.device "
                "or --device chooses)\n");
        if (strcmp(t->precision, "bf16") == 0)
            return err_set("precision bf16 is autocast on cuda, and there "
                           "is no GPU here: use precision fp32");
    }
    if (strcmp(t->device, "cuda") == 0 && !cuda)
        return err_set("cuda is not available (this libtorch has no CUDA, "
                       "or no GPU): use --device cpu");
    if (t->threads && ts_set_threads(t->threads) < 0)
        return err_set("%s", ts_last_error());
    if (ts_get_threads(&t->threads) < 0)
        return err_set("%s", ts_last_error());
    if (train_dist_join(t) < 0)
        return -1;
    int has_run = holds_run(t->out_dir);
    if (has_run && !t->resume && t->rank == 0)
        return err_set("%s holds a run already: continue it with --resume, "
                       "or choose another --output", t->out_dir);
    if (train_data_open(t) < 0)
        return -1;
    if (t->resume && has_run && train_ckpt_complete(t)) {
        if (t->rank == 0)
            printf("%s: run already complete at step %llu (nothing to "
                   "do)\n", t->out_dir, (unsigned long long)t->total);
        return 1;
    }
    if (train_model_setup(t) < 0)
        return -1;
    ts_train_config c = {t->opt, t->lr, t->wd, t->momentum, t->beta1,
                         t->beta2, t->eps, t->clip, t->loss,
                         strcmp(t->precision, "bf16") == 0};
    if (ts_trainer_new(t->mod, &c, &t->tr) < 0)
        return err_set("%s", ts_last_error());
    if (ts_manual_seed(t->seed) < 0)
        return err_set("%s", ts_last_error());
    if (train_stages_setup(t) < 0)
        return -1;
    if (t->resume) {
        int r = has_run ? train_ckpt_restore(t) : 0;
        if (r < 0)
            return -1;
        if (r == 0)
            return err_set("%s: no checkpoint to resume from", t->out_dir);
        if (t->step > t->total)
            return err_set("%s: the checkpoint is at step %llu, past the "
                           "run's %llu steps", t->out_dir,
                           (unsigned long long)t->step,
                           (unsigned long long)t->total);
        if (t->rank == 0 && train_metrics_trim(t) < 0)
            return -1;
    }
    if (t->rank != 0) {
        /* rank 0 writes the folder, the metrics and the outputs */
        ts_cuda_reset_peak();
        return 0;
    }
    if (make_dirs(t->out_dir, &t->made_out_dir) < 0)
        return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->out_dir);
    /* a fresh run replaces what a run killed before its first
     * checkpoint left; a resumed one appends to the trimmed log */
    if (!(t->metrics = fopen(path, t->resume ? "a" : "w")))
        return err_set("%s: %s", path, strerror(errno));
    if (t->resume) {
        fprintf(stderr, "tui: resumed from step %llu (%s/ckpt-%010llu)",
                (unsigned long long)t->step, t->out_dir,
                (unsigned long long)t->step);
        /* a longer run (or a shorter one, not shorter than the step)
         * continues from here: said, not refused */
        if (t->ckpt_total && t->ckpt_total != t->total)
            fprintf(stderr, "; max steps changed from %llu to %llu "
                    "(epochs or max_steps): training to step %llu",
                    (unsigned long long)t->ckpt_total,
                    (unsigned long long)t->total,
                    (unsigned long long)t->total);
        fputc('\n', stderr);
    }
    ts_cuda_reset_peak();
    return 0;
}

/* Removes what a run that failed before any checkpoint left behind. */
static void discard(trainer *t)
{
    if (!t->out_dir || t->wrote_ckpt || !t->metrics)
        return;
    fclose(t->metrics);
    t->metrics = NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->out_dir);
    unlink(path);
    if (t->made_out_dir)
        rmdir(t->out_dir);
}

/* A training step frees and allocates the same activation and gradient
 * buffers every time. glibc's defaults hand a block of 128 KiB or more
 * back to the kernel (munmap, or a trim of the heap top) as soon as it is
 * freed, so the next step pays a page fault and a zeroed page for every
 * 4 KiB of it again: 6,000 to 18,000 faults per ResNet-18 step at batch
 * 32, about none with this. Serve blocks up to glibc's ceiling of 32 MiB
 * from the heap and never trim it: the heap stays at the peak of one
 * step, which the next step reuses (docs/benchmarks.md). */
static void keep_freed_memory(void)
{
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, -1);
#endif
}

int tui_train_main(const train_options *o)
{
    if (o->measure)
        return train_measure_main(o);
    keep_freed_memory();
    trainer t;
    memset(&t, 0, sizeof t);
    plan_init(&t.pl);
    table_init(&t.mt);
    err_clear();
    int rc = 2;
    t.tty = isatty(2);
    t.t_start = train_now();
    t.last_step_loss = NAN;
    int su = setup(&t, o);
    if (su < 0)
        goto fail;
    if (su > 0) {
        rc = 0;
        goto done;
    }
    rc = train_loop(&t);
    if (rc == 130)
        goto done;
    if (rc != 0)
        goto fail;
    int params_ok = 0, stats_ok = 0;
    if (train_model_verify(&t, &params_ok, &stats_ok) < 0)
        goto fail;
    int fin = train_model_finite(&t);
    if (fin <= 0) {
        if (fin == 0)
            err_set("a trainable weight is NaN or infinite at the end: "
                    "nothing saved");
        goto fail;
    }
    if (t.rank == 0 &&
        (train_ckpt_save(&t) < 0 || train_write_outputs(&t) < 0 ||
         train_report(&t, params_ok, stats_ok) < 0))
        goto fail;
    rc = params_ok && stats_ok ? 0 : 2;
    if (rc)
        fprintf(stderr, "tui: a frozen tensor changed during training\n");
    goto done;
fail:
    rc = 2;
    fprintf(stderr, "tui: %s\n", err_msg()[0] ? err_msg() : "training failed");
    discard(&t);
done:
    trainer_free(&t);
    return rc;
}
