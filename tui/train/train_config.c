/* train_config.c: the plan's train: section, resolved into settings. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/err.h"
#include "train_impl.h"

/* `rel` joined to the folder of the plan (unless absolute). Malloc'ed. */
static char *join_plan(const char *plan_path, const char *rel)
{
    if (rel[0] == '/')
        return strdup(rel);
    const char *slash = strrchr(plan_path, '/');
    size_t dl = slash ? (size_t)(slash - plan_path) + 1 : 0;
    size_t rl = strlen(rel);
    char *r = malloc(dl + rl + 1);
    if (!r)
        return NULL;
    memcpy(r, plan_path, dl);
    memcpy(r + dl, rel, rl + 1);
    return r;
}

static double num_or(double v, double dflt)
{
    return plan_has_number(v) ? v : dflt;
}

static uint64_t cnt_or(uint64_t v, uint64_t dflt)
{
    return v == PLAN_UNSET ? dflt : v;
}

/* The output folder's default: runs/<plan name without extension>. */
static char *default_output(const char *plan_path)
{
    const char *b = strrchr(plan_path, '/');
    b = b ? b + 1 : plan_path;
    size_t n = strcspn(b, ".");
    if (n == 0)
        n = strlen(b);
    char rel[600];
    snprintf(rel, sizeof rel, "runs/%.*s", (int)(n > 500 ? 500 : n), b);
    return join_plan(plan_path, rel);
}

int train_config(trainer *t, const train_options *o)
{
    int rc = -1;
    t->plan_path = o->plan_path;
    if (plan_load(o->plan_path, &t->pl) < 0)
        goto cleanup;
    const plan_train *pt = &t->pl.train;
    if (!pt->present) {
        err_set("%s: the plan has no train: section (docs/training.md)",
                o->plan_path);
        goto cleanup;
    }
    if (!pt->model) {
        err_set("%s: train.model is required (the TorchScript module)",
                o->plan_path);
        goto cleanup;
    }
    int some_data = pt->data.train || pt->data.inputs || pt->data.targets ||
                    pt->data.val;
    if ((some_data || !pt->input_ndim) &&
        (!pt->data.train || !pt->data.inputs || !pt->data.targets)) {
        err_set("%s: train.data needs train, inputs and targets%s",
                o->plan_path, some_data ? "" : " (or, to measure memory "
                "only, train.input_shape)");
        goto cleanup;
    }
    t->model_file = join_plan(o->plan_path, pt->model);
    if (!t->model_file)
        goto oom;
    if (pt->data.train &&
        !(t->data_file = join_plan(o->plan_path, pt->data.train)))
        goto oom;
    if (pt->init && !(t->init_file = join_plan(o->plan_path, pt->init)))
        goto oom;
    if (pt->data.val && !(t->val_file = join_plan(o->plan_path, pt->data.val)))
        goto oom;
    if (o->output)
        t->out_dir = strdup(o->output);
    else if (pt->output)
        t->out_dir = join_plan(o->plan_path, pt->output);
    else
        t->out_dir = default_output(o->plan_path);
    if (!t->out_dir)
        goto oom;
    size_t ol = strlen(t->out_dir);
    while (ol > 1 && t->out_dir[ol - 1] == '/')
        t->out_dir[--ol] = '\0';

    const char *must[] = {t->model_file, t->data_file, t->init_file,
                          t->val_file};
    for (size_t i = 0; i < sizeof must / sizeof *must; i++)
        if (must[i] && access(must[i], R_OK) < 0) {
            err_set("%s: %s", must[i], strerror(errno));
            goto cleanup;
        }
    t->device = o->device ? o->device : (pt->device ? pt->device : "cuda");
    t->device_default = !o->device && !pt->device;
    if (strcmp(t->device, "cuda") != 0 && strcmp(t->device, "cpu") != 0) {
        err_set("--device must be cuda or cpu, not '%s'", t->device);
        goto cleanup;
    }
    t->precision = pt->precision ? pt->precision : "fp32";
    t->loss = pt->loss ? pt->loss : "cross_entropy";
    t->opt = pt->optimizer.name ? pt->optimizer.name : "adamw";
    t->lr = num_or(pt->optimizer.lr, 1e-3);
    t->wd = num_or(pt->optimizer.weight_decay,
                   strcmp(t->opt, "adamw") == 0 ? 0.01 : 0.0);
    t->momentum = num_or(pt->optimizer.momentum,
                         strcmp(t->opt, "momentum") == 0 ? 0.9 : 0.0);
    t->beta1 = num_or(pt->optimizer.betas[0], 0.9);
    t->beta2 = num_or(pt->optimizer.betas[1], 0.999);
    t->eps = num_or(pt->optimizer.eps, 1e-8);
    if (strcmp(t->opt, "sgd") == 0 && t->momentum != 0)
        t->opt = "momentum"; /* torch.optim.SGD(momentum=m) */
    t->sched = pt->schedule.name ? pt->schedule.name : "constant";
    t->warmup = cnt_or(pt->schedule.warmup_steps, 0);
    t->clip = num_or(pt->clip_grad_norm, 0.0);
    t->val_fraction = num_or(pt->data.val_fraction, 0.0);
    t->batch = cnt_or(pt->batch_size, 32);
    t->epochs = cnt_or(pt->epochs, 1);
    t->max_steps = o->max_steps >= 0 ? (uint64_t)o->max_steps
                                     : cnt_or(pt->max_steps, 0);
    t->seed = cnt_or(pt->seed, 0);
    t->ckpt_every = cnt_or(pt->checkpoint_every, 1000);
    t->log_every = cnt_or(pt->log_every, 10);
    t->resume = o->resume;
    t->allow_empty = o->allow_empty;
    if (!(t->lr > 0) || !isfinite(t->lr) || t->wd < 0 || t->momentum < 0 ||
        !(t->beta1 >= 0 && t->beta1 < 1) || !(t->beta2 >= 0 && t->beta2 < 1) ||
        !(t->eps >= 0) || t->clip < 0) {
        err_set("%s: train.optimizer: lr must be > 0; weight_decay, momentum,"
                " eps, clip_grad_norm >= 0; betas in [0, 1)", o->plan_path);
        goto cleanup;
    }
    t->dist_timeout = num_or(pt->dist_timeout, 300.0);
    if (!(t->dist_timeout > 0) || !isfinite(t->dist_timeout)) {
        err_set("%s: train.dist_timeout must be a number of seconds > 0",
                o->plan_path);
        goto cleanup;
    }
    if (t->batch == 0 || t->batch > (1u << 30)) {
        err_set("%s: train.batch_size must be in 1..2^30", o->plan_path);
        goto cleanup;
    }
    if (t->epochs == 0 && t->max_steps == 0) {
        err_set("%s: train.epochs is 0 and no max_steps: nothing to do",
                o->plan_path);
        goto cleanup;
    }
    if (t->max_steps > ((uint64_t)1 << 40) || t->epochs > ((uint64_t)1 << 30)) {
        err_set("%s: train.max_steps or epochs is too large", o->plan_path);
        goto cleanup;
    }
    if (t->log_every == 0)
        t->log_every = 1;
    if (strcmp(t->precision, "bf16") == 0 && strcmp(t->device, "cuda") != 0) {
        err_set("precision bf16 is autocast on cuda: use precision fp32 "
                "with --device cpu");
        goto cleanup;
    }
    const char *th = getenv("TUI_THREADS");
    if (th && *th) {
        char *end;
        errno = 0;
        long v = strtol(th, &end, 10);
        if (errno || *end || v < 1 || v > 4096) {
            err_set("TUI_THREADS must be a number in 1..4096, not '%s'", th);
            goto cleanup;
        }
        t->threads = (int)v;
    }
    rc = 0;
    goto cleanup;
oom:
    err_set("out of memory");
cleanup:
    return rc;
}
