/* train_impl.h: what the trainer's files share (not installed, not
 * seen by main.c). One `trainer` holds a run: the resolved settings,
 * the module and optimizer (through the shim), the data, the counters.
 */
#ifndef TUI_TRAIN_TRAIN_IMPL_H
#define TUI_TRAIN_TRAIN_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../../shim/ts.h"
#include "../../shim/ts_dist.h"
#include "../core/bitset.h"
#include "../core/memory.h"
#include "../core/plan.h"
#include "../core/stages.h"
#include "../core/table.h"
#include "train.h"

typedef struct {
    void *addr;
    size_t len;
} train_map;

/* One stage's figures, measured after its last step (so far) in this
 * process or restored from a checkpoint (train_stages.c). */
typedef struct {
    uint64_t grad_bytes, state_bytes; /* ts_trainer_bytes then */
    uint64_t numel, tensors;          /* parameters requiring grad then,
                                         as the module says */
    int measured;                     /* 0: none of its steps seen */
} stage_figures;

typedef struct {
    /* --- settings, resolved from the plan and the command line --- */
    plan pl;
    const char *plan_path;
    char *model_file, *init_file, *data_file, *val_file, *out_dir;
                           /* data_file NULL: train.input_shape only */
    const char *device, *loss, *opt, *sched, *precision;
    double lr, wd, momentum, beta1, beta2, eps, clip, val_fraction;
    uint64_t warmup, batch, epochs, max_steps, seed, ckpt_every, log_every;
    int resume;
    int allow_empty;
    int device_default;    /* neither the plan nor --device chose one */
    int threads;

    /* --- the module --- */
    ts_module *mod;
    ts_trainer *tr;
    table mt;              /* the module's tensors: lookup and estimate */
    bitset frozen;         /* over mt: frozen parameters */
    bitset hashed;         /* over mt: tensors checked unchanged */
    unsigned char *hash;   /* 32 bytes per tensor of mt (hashed ones) */
    char **eval_paths;     /* norm modules kept in eval mode */
    size_t neval;
    size_t nfrozen_norm_buffers;
    uint64_t init_loaded;  /* tensors loaded from train.init */
    mem_estimate est;
    int have_est;

    /* --- data --- */
    train_map *maps;
    size_t nmaps;
    ts_tensor *x, *y;      /* train file, all rows */
    ts_tensor *vx, *vy;    /* validation source: x/y or the val file */
    int64_t n_train;       /* rows of x used for training: [0, n_train) */
    int64_t n_rank;        /* of those, this rank's per epoch:
                              ceil(n_train / world) */
    int64_t n_val, val_start;
    int64_t spe;           /* steps per epoch */
    uint64_t total;        /* steps of the whole run */

    /* --- progress --- */
    uint64_t step;         /* steps done */
    double ep_loss;        /* sums over the current epoch's steps */
    int64_t ep_correct, ep_count, ep_steps;
    double last_train_loss, last_train_acc; /* last finished epoch */
    double last_step_loss; /* the loss of the last step taken */
    double val_loss, val_acc;
    int have_val;
    uint64_t val_step;     /* step of the last evaluation */
    double train_secs;     /* time inside train steps */
    double t_start;
    uint64_t samples;
    uint64_t grad_bytes, state_bytes;
    int have_grad_bytes;   /* grad_bytes measured (here, or restored) */
    uint64_t ckpt_total;   /* the run's length when the restored checkpoint
                              was saved (0: not recorded) */
    int made_out_dir;      /* this run created the output folder */
    int wrote_ckpt;        /* a checkpoint exists from this run or before */
    FILE *metrics;
    int tty;
    double last_draw;
    uint64_t logged_step;  /* step of the last plain progress line */

    /* --- data-parallel (train_dist.c); world 1: one process --- */
    int rank, world, local_rank;
    char master_addr[256];
    int master_port;
    double dist_timeout;   /* seconds, for the store and the group */
    ts_dist *dist;         /* the group, when the launcher set one up
                              (RANK and WORLD_SIZE, even WORLD_SIZE=1) */

    /* --- stages and lr rules (train_stages.c) --- */
    int staged;            /* the plan has stages or lr rules */
    stage_sets stages;     /* over mt */
    lr_scales lrs;         /* over mt */
    uint64_t *stage_start; /* the first step of each stage */
    size_t stage;          /* the stage the run is in */
    stage_figures *stage_fig; /* per stage: measured at its end */
    mem_estimate *stage_est;  /* per stage: memory_estimate of its frozen
                                 set (as --summary's stage table) */
    int have_stage_est;
} trainer;

/* --- train_main.c --- */
/* Frees everything a trainer holds (NULL fields are skipped). */
void trainer_free(trainer *t);

/* --- train_config.c --- */
/* Loads the plan and resolves every setting (defaults, command-line
 * overrides, paths relative to the plan). Returns 0, or -1 with err set. */
int train_config(trainer *t, const train_options *o);

/* --- train_model.c --- */
/* Loads the module, the initial weights, applies the frozen set and the
 * batchnorm policy, hashes what must not change. Returns 0 or -1. */
int train_model_setup(trainer *t);
/* Compares the hashes taken at setup: *params_ok and *stats_ok are 1
 * when every frozen parameter / every stat of a frozen norm layer is
 * bitwise unchanged. Returns 0 or -1. */
int train_model_verify(trainer *t, int *params_ok, int *stats_ok);
/* Sets training mode with frozen norm layers in eval (on = 1) or eval
 * mode everywhere (on = 0). Returns 0 or -1. */
int train_model_mode(trainer *t, int on);
/* Finds the norm layers to keep in eval mode for the current frozen set
 * again (freeze-stats), after a stage changed it; their buffers stay
 * checked only while they were frozen from the start. Returns 0 or -1. */
int train_model_norms(trainer *t);
/* 1 when every trainable parameter is finite. -1 on error. */
int train_model_finite(trainer *t);

/* --- train_data.c --- */
/* Opens the data files and wraps the tensors (zero copy). 0 or -1
 * (also when the plan has no train.data, only train.input_shape). */
int train_data_open(trainer *t);
/* Maps a whole file read-only; *addr, *len. Kept until train_unmap_all.
 * Returns 0 or -1 with err set. */
int train_map_file(trainer *t, const char *path, const void **addr,
                   size_t *len);
void train_unmap_all(trainer *t);

/* --- train_st.c --- */
typedef struct {
    const char *name;
    const char *dtype;
    unsigned ndim;
    const int64_t *shape;
    uint64_t nbytes;
} st_entry;
/* Fills `buf` (nbytes) with entry i's bytes; returns 0 or -1 (err set). */
typedef int (*st_fill_fn)(void *ctx, size_t i, void *buf, size_t nbytes);
/* Writes a safetensors file at `path`, streaming: the header, then each
 * entry's bytes as `fill` gives them. replace = 1: `path` is replaced
 * atomically (core/atomic.h: a temp file in its folder, fsync, rename,
 * fsync of the folder); 0: `path` is created (it must not exist) and
 * fsync'ed, for a file inside a temp folder that the caller publishes.
 * `meta` holds nmeta key/value pairs (2*nmeta strings) for __metadata__.
 * Returns 0, or -1 with err set, and then no file is left at `path` (or
 * the old one, replace = 1). */
int st_write(const char *path, int replace, const st_entry *e, size_t n,
             const char *const *meta, size_t nmeta, st_fill_fn fill,
             void *ctx);
/* Removes a folder and the plain files in it. Ignores errors. */
void train_rmdir(const char *dir);

/* --- train_ckpt.c --- */
/* Saves a checkpoint of the current step (atomically). 0 or -1. */
int train_ckpt_save(trainer *t);
/* Finds the newest complete checkpoint in the output folder and restores
 * it. Returns 1 restored, 0 none found, -1 error. */
int train_ckpt_restore(trainer *t);
/* 1 when the output folder holds a finished run of these settings: its
 * newest checkpoint is at step t->total, made with the same samples,
 * batch size, seed and optimizer, and the final outputs (model.ts.pt,
 * weights.safetensors, report.json) are there. Reads only the
 * checkpoint's header; changes nothing. 0 otherwise (errors included:
 * the restore that follows reports them). */
int train_ckpt_complete(trainer *t);
/* Writes the final TorchScript module and weights. 0 or -1. */
int train_write_outputs(trainer *t);
/* Drops metrics lines after step t->step (on resume). 0 or -1. */
int train_metrics_trim(trainer *t);

/* --- train_loop.c --- */
/* Runs steps until the end, a signal or a non-finite loss. Returns 0
 * done, 130 interrupted (checkpoint saved), 2 failed (err set). */
int train_loop(trainer *t);
double train_now(void);
/* The learning rate of step `s` (0-based) per the schedule. */
double train_lr_at(const trainer *t, uint64_t s);
/* The same schedule applied to another base lr (a stage's). */
double train_lr_with(const trainer *t, double base, uint64_t s);

/* --- train_stages.c --- */
/* Resolves the plan's stages and lr rules on the module (after the
 * trainer is made), gives stage 0's parameters their lr scale and weight
 * decay. Nothing to do without them. Returns 0, or -1 with err set (a
 * rule that matches nothing: PLAN:LINE:COL). Makes the per-stage
 * figures and estimates. */
int train_stages_setup(trainer *t);
/* Before step `step` (0-based): enters the stages that start by then
 * (thaws, new groups, norm modes; on several processes, once the trainer
 * has its group, the module wrapped anew: ts_trainer_dist_rewrap, a
 * collective) and sets each group's lr for the step. Returns 0 or -1
 * with err set. */
int train_stages_step(trainer *t, uint64_t step);
/* After a checkpoint's optimizer state is restored at t->step (the
 * stages up to it entered first, by train_stages_step): every trainable
 * tensor's update count, from the steps of the stages it trained in.
 * Returns 0 or -1. */
int train_stages_restored(trainer *t);
/* After a step: the current stage's figures (gradient and optimizer
 * bytes, the parameters requiring grad), replacing the ones of its
 * earlier steps, so that they hold the stage's last step. Nothing to do
 * without stages. Returns 0, or -1 with err set. */
int train_stages_measure(trainer *t);
/* 1 when the plan has `stages:` (progress and report show them), else 0. */
int train_stages_shown(const trainer *t);
/* The figures as a checkpoint's "stage_figures" value, "M G S N K"
 * per stage separated by ';' (M: measured). *out is new (free it), ""
 * without stages. Returns 0, or -1 with err set (out of memory). */
int train_stages_meta(const trainer *t, char **out);
/* Restores figures from such a value (NULL or "": nothing). A value for
 * another number of stages is ignored. Returns 0, or -1 with err set
 * (a value that does not parse). */
int train_stages_meta_read(trainer *t, const char *s);
/* The report's stage lines on `o` and, for report.json, the "stages"
 * array (",\"stages\":[...]") on `j`; either may be NULL. Nothing
 * without stages. Cannot fail (write errors show on the streams). */
void train_stages_report(const trainer *t, FILE *o, FILE *j);
void train_stages_free(trainer *t);

/* --- train_dist.c --- */
/* Reads the launcher's variables (RANK, WORLD_SIZE, LOCAL_RANK,
 * MASTER_ADDR, MASTER_PORT; SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID
 * when RANK and WORLD_SIZE are unset) into rank, world, local_rank and
 * the master's address; none set: world 1 and no group. Returns 0, or -1 with err set
 * (a variable that is not a number, one set without the other, no
 * MASTER_ADDR/PORT). */
int train_dist_env(trainer *t);
/* Joins the group the variables name (rank 0 hosts the store unless
 * torchrun's agent does). Returns 0 (nothing to do without them), or
 * -1. */
int train_dist_join(trainer *t);
/* Tells the others whether this rank's setup failed, and learns whether
 * any did. Returns 0 when every rank is ready; -1 with err set: this
 * rank's failure (err kept), or "N of W ranks failed to start". */
int train_dist_ready(trainer *t, int failed);
/* Checks that every rank has the same frozen set, model, data and
 * settings (one line naming what differs), then copies rank 0's module
 * to every rank and makes the steps data-parallel. Returns 0 or -1. */
int train_dist_agree(trainer *t);
/* Leaves the group. Idempotent. */
void train_dist_leave(trainer *t);

/* --- train_report.c --- */
/* Prints the final report on stdout and writes report.json. 0 or -1. */
int train_report(trainer *t, int params_ok, int stats_ok);

#endif
