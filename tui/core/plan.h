/* plan.h: freeze plans, version 1 (docs/plan-format.md).
 *
 * A plan says which tensors of one checkpoint are frozen (the `frozen`
 * list, authoritative when the fingerprint matches), how that set was
 * made (`rules`, ordered, a later rule wins), what the editor estimated,
 * and optionally how to train (`train`, read by the headless trainer).
 *
 * Every string a plan holds lives in the plan's own arena: set string
 * fields with plan_strdup() (or the setters), never point them at
 * caller memory. Absent optional values are NULL (strings), PLAN_UNSET
 * (counts) or NaN (numbers; test with plan_has_number()).
 *
 * Reading is strict: unknown keys, wrong types, anchors, aliases and
 * values out of their sets are errors "file:line:col: problem". Writing
 * is deterministic: plan_format() of a loaded plan reproduces the file
 * it was written from, byte for byte.
 */
#ifndef TUI_CORE_PLAN_H
#define TUI_CORE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "activation.h"

#define PLAN_VERSION 1
#define PLAN_UNSET UINT64_MAX /* an absent count */
#define PLAN_MAX_INPUT_DIMS 8 /* train.input_shape's longest list */
#define PLAN_MAX_STAGES 1024  /* the longest stages: list */

typedef enum { PLAN_FREEZE, PLAN_UNFREEZE, PLAN_INVERT } plan_rule_kind;

typedef struct {
    plan_rule_kind kind;
    const char *pattern; /* NULL for PLAN_INVERT */
    unsigned line, col;  /* where it was read (0 when set in code) */
} plan_rule;

typedef enum {
    PLAN_BN_UNSET = 0,
    PLAN_BN_FREEZE_STATS, /* "freeze-stats" */
    PLAN_BN_TRAIN,        /* "train" */
} plan_batchnorm;

typedef struct {
    const char *path;        /* as written: relative to the plan's folder */
    const char *format;      /* "safetensors", ... or NULL */
    const char *fingerprint; /* "sha256:<64 hex>" */
    uint64_t tensors, parameters; /* PLAN_UNSET when absent */
} plan_model;

typedef struct {
    uint64_t weights, master, gradients, optimizer, buffers, total,
        total_if_all_trainable; /* PLAN_UNSET when absent */
} plan_bytes;

typedef struct {
    const char *optimizer, *precision; /* NULL when absent */
    uint64_t trainable_parameters;     /* PLAN_UNSET when absent */
    plan_bytes bytes;
    activation *activations;           /* estimate.activations: the
                                          measurement saved with the plan;
                                          NULL when absent; owned (freed
                                          by plan_free) */
} plan_estimate;

typedef struct {
    int present;               /* 1 when the plan has a train: section */
    const char *model, *init;  /* NULL when absent */
    struct {
        const char *train, *val, *inputs, *targets;
        double val_fraction;   /* in [0, 1) */
    } data;
    uint64_t input_shape[PLAN_MAX_INPUT_DIMS]; /* one sample's shape, each
                                  in 1..2^31; used when data is absent */
    unsigned input_ndim;       /* 0 when train.input_shape is absent */
    const char *input_dtype;   /* float32|int64, NULL when absent */
    const char *loss;          /* cross_entropy|mse|bce_with_logits|model */
    struct {
        const char *name;      /* sgd|momentum|adam|adamw */
        double lr, weight_decay, momentum, betas[2], eps;
    } optimizer;
    struct {
        const char *name;      /* constant|linear_warmup|cosine */
        uint64_t warmup_steps;
    } schedule;
    double clip_grad_norm;
    uint64_t batch_size, epochs, max_steps;
    const char *device;        /* cuda|cpu */
    const char *precision;     /* fp32|bf16 */
    uint64_t seed;
    const char *output;
    uint64_t checkpoint_every, log_every;
    double dist_timeout;       /* seconds (data-parallel); NaN when absent */
    uint64_t world_size;       /* the processes the plan expects;
                                  PLAN_UNSET when absent */
} plan_train;

/* One stage of a staged plan (`stages:`, docs/plan-format.md). Stage 0
 * is the plan's own frozen set and has no rules and no lr; each later
 * stage applies its rules on top of the previous stage's set: every
 * `freeze:` pattern, then every `unfreeze:` pattern, in list order. */
typedef struct {
    plan_rule *rules;      /* PLAN_FREEZE then PLAN_UNFREEZE; owned */
    size_t nrules, rules_cap;
    uint64_t steps, epochs; /* the length, at most one set; PLAN_UNSET when
                               absent (only the last stage may omit it) */
    double lr;             /* lr of what the stage thaws; NaN when absent */
    unsigned line, col;    /* where it was read (0 when set in code) */
} plan_stage;

/* `lr_scale:` items ({pattern: scale}, a later one wins) and `no_decay:`
 * patterns. */
typedef struct {
    const char *pattern;
    double scale;          /* NaN for a no_decay pattern */
    unsigned line, col;
} plan_lr_rule;

typedef struct plan_arena plan_arena;

typedef struct {
    unsigned version;
    plan_model model;
    plan_rule *rules;
    size_t nrules, rules_cap;
    int has_rules;             /* a rules: key was read or a rule added */
    const char **frozen;       /* tensor names, in plan order */
    size_t nfrozen, frozen_cap;
    int has_frozen;            /* a frozen: key was read or a name added */
    plan_estimate estimate;
    plan_batchnorm batchnorm;
    plan_train train;
    plan_stage *stages;        /* `stages:`, none or at least two; owned */
    size_t nstages, stages_cap;
    plan_lr_rule *lr_scale;    /* `lr_scale:`, in order; owned */
    size_t nlr_scale, lr_scale_cap;
    double layer_decay;        /* `layer_decay: {factor: F}`, in (0, 1];
                                  NaN when absent */
    unsigned layer_decay_line, layer_decay_col;
    plan_lr_rule *no_decay;    /* `no_decay:` patterns; owned */
    size_t nno_decay, no_decay_cap;
    plan_arena *arena;
} plan;

/* Makes an empty plan (version 1, everything absent). Cannot fail. */
void plan_init(plan *p);

/* Frees everything the plan holds and leaves it as plan_init. NULL-safe. */
void plan_free(plan *p);

/* Copies `len` bytes of `s` into the plan's arena, NUL-terminated.
 * Returns the copy, or NULL with err set (out of memory). */
const char *plan_strndup(plan *p, const char *s, size_t len);
const char *plan_strdup(plan *p, const char *s);

/* 1 when a number field (a double of plan_train) is present. */
int plan_has_number(double v);

/* The allowed values of a keyword field, NULL-terminated: `field` is
 * "batchnorm", "train.loss", "train.optimizer.name",
 * "train.schedule.name", "train.device", "train.precision" or
 * "train.input_dtype". NULL for
 * any other field (free text). Static; cannot fail. */
const char *const *plan_choices(const char *field);

/* 1 when `value` is one of plan_choices(field). Cannot fail. */
int plan_choice_ok(const char *field, const char *value);

/* Appends a rule; `pattern` is copied (ignored for PLAN_INVERT, required
 * and non-empty otherwise). Returns 0, or -1 with err set (empty pattern,
 * invalid UTF-8, out of memory). Sets has_rules. */
int plan_add_rule(plan *p, plan_rule_kind kind, const char *pattern);

/* Appends a frozen tensor name (`len` bytes, copied). Returns 0, or -1
 * with err set (empty, longer than TABLE_MAX_NAME, holds a NUL, invalid
 * UTF-8, out of memory). Duplicates are the caller's business (plan_load
 * refuses them). Sets has_frozen. */
int plan_add_frozen(plan *p, const char *name, size_t len);

/* Appends an empty stage (no rules, no length, no lr). Returns it, or
 * NULL with err set (more than PLAN_MAX_STAGES, out of memory). The
 * pointer is valid until the next plan_add_stage, plan_insert_stage or
 * plan_delete_stage. */
plan_stage *plan_add_stage(plan *p);

/* Inserts an empty stage before index `at` (<= nstages). Returns it, or
 * NULL with err set (`at` past the end, more than PLAN_MAX_STAGES, out of
 * memory); pointer validity as plan_add_stage. */
plan_stage *plan_insert_stage(plan *p, size_t at);

/* Removes stage `at` and its rules (nothing when `at` >= nstages).
 * Cannot fail. */
void plan_delete_stage(plan *p, size_t at);

/* Appends a freeze or unfreeze rule to stage `s` of `p` (pattern copied
 * into the plan's arena; it must be non-empty, valid UTF-8 and compile,
 * pattern.h; PLAN_INVERT is refused). The rules are kept
 * freezes first: a PLAN_FREEZE goes after the stage's last freeze.
 * Returns 0, or -1 with err set. */
int plan_stage_add_rule(plan *p, plan_stage *s, plan_rule_kind kind,
                        const char *pattern);

/* Appends an lr_scale item {pattern: scale} (scale finite and > 0), or a
 * no_decay pattern (its scale NaN); the pattern is copied and must
 * compile. Returns 0, or -1 with err set (empty, invalid UTF-8 or bad
 * pattern, bad scale, out of memory). */
int plan_add_lr_scale(plan *p, const char *pattern, double scale);
int plan_add_no_decay(plan *p, const char *pattern);

/* Empties the frozen list (has_frozen stays set). Cannot fail. */
void plan_clear_frozen(plan *p);

/* Sets model.path to `model_path` as seen from the folder of
 * `plan_path` (both as the user gave them, relative to the current
 * folder or absolute). Returns 0, or -1 with err set. */
int plan_set_model_path(plan *p, const char *plan_path,
                        const char *model_path);

/* The checkpoint's stem (docs/plan-format.md, "The plan's default
 * name"): the base name of `ckpt` without a folder's trailing slashes,
 * and, unless it is a folder, without its extension (a shard index
 * without its ".safetensors.index.json", ".bin.index.json" or
 * ".index.json"); "plan" when nothing is left. Into buf (cap bytes).
 * Returns 0, or -1 with err set (does not fit in cap). */
int plan_checkpoint_stem(const char *ckpt, char *buf, size_t cap);

/* The default plan path for checkpoint `ckpt`, one rule for files,
 * folders and shard indexes: <stem>.plan.yaml in the folder that holds
 * what was opened (resnet18.safetensors -> resnet18.plan.yaml, the
 * folder bert/ -> bert.plan.yaml beside it, bert/model.safetensors.
 * index.json -> bert/model.plan.yaml). Into buf (cap bytes). Returns 0,
 * or -1 with err set (does not fit in cap). */
int plan_default_path(const char *ckpt, char *buf, size_t cap);

/* The model file's path as seen from the current folder: model.path
 * joined to the folder of `plan_path` (unless absolute). Returns a
 * malloc'ed string the caller frees, or NULL with err set (no
 * model.path, out of memory). */
char *plan_model_file(const plan *p, const char *plan_path);

/* The path of `to_path` relative to folder `from_dir`, lexically after
 * making both absolute (against the current folder) and resolving the
 * folders through realpath() where they exist; "a/../b" is folded.
 * Returns a malloc'ed string ("m.safetensors", "../ckpt/m.bin"), or NULL
 * with err set. Inputs untouched. */
char *plan_relpath(const char *from_dir, const char *to_path);

/* Reads and validates a plan file into `p` (which must be plan_init'ed
 * and is cleared first). Returns 0, or -1 with err set to
 * "path:line:col: problem" (or "path: problem"); on failure `p` is left
 * empty. */
int plan_load(const char *path, plan *p);

/* As plan_load, from memory; `name` prefixes messages. */
int plan_parse(const char *name, const char *buf, size_t len, plan *p);

/* Checks that `p` can be written (version, model.path and fingerprint
 * present, rules or frozen present, strings valid UTF-8, values in their
 * sets). Returns 0, or -1 with err set. `p` untouched. */
int plan_validate(const plan *p);

/* The shortest decimal that reads back as v, always with a '.' so that
 * every YAML reader (PyYAML's 1.1 resolver too) sees a float: "1.0",
 * "3.0e-05", "0.0003". Writes at most cap bytes (48 hold any double).
 * Cannot fail. */
void plan_double_text(double v, char *out, size_t cap);

/* Emits the plan as YAML into a malloc'ed buffer (*buf, *len; the buffer
 * is NUL-terminated, the caller frees it). Validates first. Returns 0,
 * or -1 with err set and *buf NULL. `p` untouched. */
int plan_format(const plan *p, char **buf, size_t *len);

/* plan_format, then atomic_write to `path`. Returns 0, or -1 with err set
 * (the old file is untouched). */
int plan_write(const plan *p, const char *path);

#endif
