/* session.h: one editing session over one checkpoint.
 *
 * The command line and the interactive editor are two faces of these
 * calls: a session owns the tensor table, the name tree and the frozen
 * set, records every operation as a plan rule (so a plan made in the
 * editor and one made on the command line for the same operations are
 * byte-identical), undoes and redoes whole operations (rules included),
 * loads a plan onto the checkpoint and saves the current state as a plan.
 *
 * The initial state is "every parameter trainable", except for a
 * TorchScript archive, whose saved requires_grad flags are the initial
 * state. Rules are resolved from the initial state.
 */
#ifndef TUI_CORE_SESSION_H
#define TUI_CORE_SESSION_H

#include <stddef.h>
#include <stdio.h>

#include "bitset.h"
#include "freeze.h"
#include "memory.h"
#include "plan.h"
#include "stages.h"
#include "preset.h"
#include "table.h"
#include "tree.h"

typedef struct {
    plan_rule_kind kind;
    char *pattern;          /* malloc'ed; NULL for PLAN_INVERT */
} session_rule;

typedef struct {
    size_t rules_before;    /* rule count before the step */
    size_t rules_added;     /* how many rules the step added */
    session_rule *rules;    /* those rules (owned), kept for redo */
    int changed;            /* 1 when the frozen set changed (a freeze step) */
    plan *stages;           /* a stage step (session_stage.h): the plan's
                               stages before it, or after it once undone;
                               owned. NULL: a step on the plan's own rules */
    size_t stage;           /* a stage step: the stage to show when it is
                               undone (or redone) */
} session_step;

typedef struct {
    table t;                /* owned */
    tree tr;
    freeze_set fs;
    char *checkpoint;       /* path as given (malloc'ed) */
    session_rule *rules;    /* the rules in force, in order */
    size_t nrules, rules_cap;
    session_step *undo, *redo;
    size_t nundo, undo_cap, nredo, redo_cap;
    plan base;              /* kept from a loaded plan: train:, batchnorm */
    int has_base;
    char *base_path;        /* the file `base` was read from or last saved
                               to: its train: paths are relative to it */
    mem_optimizer optimizer;
    mem_precision precision;
    bitset initial;         /* the initial frozen set (TorchScript flags) */
    char *foreign_plan;     /* while not NULL: the state came from a plan
                               made for another checkpoint (its fingerprint
                               differs), read from this path (malloc'ed);
                               cleared when the state is saved (anywhere)
                               or another plan is loaded */
    activation *measured;   /* the last activation measurement held
                               (session_set_measurement), owned; NULL
                               when none */
    bitset measured_frozen; /* the frozen set it was made for */
    size_t stage;           /* the stage shown and edited (session_stage.h):
                               0 the plan's own set (fs), k > 0 stage k of
                               base.stages, whose set the tree's frozen
                               totals then count */
    stage_sets stages;      /* every stage's set, resolved as a draft;
                               current while stages_gen equals fs's
                               generation and stages_stale is 0 */
    uint64_t stages_gen;
    int stages_stale;
    uint64_t shown_gen;     /* bumped whenever the set shown may change */
    size_t counted;         /* the stage whose set the tree's frozen
                               totals count */
    uint32_t *thaw;         /* session_thaw_stages: per tensor */
} session;

/* What an operation did. */
typedef struct {
    freeze_report change;   /* tensors and parameters that changed state */
    size_t matched_tensors; /* model tensors the rules matched, each once
                               however many of a preset's rules match it */
    unsigned long long matched_numel; /* parameter elements among them (a
                               tie group once) */
    size_t empty_rules;     /* rules that matched nothing */
    size_t dropped_rules;   /* preset rules dropped (empty ranges) */
} session_result;

/* Bytes of session_preview.empty. */
#define SESSION_EMPTY_TEXT 480

/* What a preset would do on its own: from everything trainable, not
 * from the session's state. */
typedef struct {
    size_t rules;           /* its rules after expansion */
    size_t dropped_rules;   /* rules dropped (empty ranges, `if:`) */
    size_t empty_rules;     /* rules that match nothing on this model */
    int fits;               /* 0: it does not fit this model (see
                               session_apply_preset) */
    size_t matched_tensors; /* model tensors its rules match, each once */
    size_t frozen_tensors;  /* parameter names frozen afterwards */
    unsigned long long frozen_numel; /* their elements, a tie group once */
    unsigned long long total_numel;  /* the model's parameter elements */
    uint64_t act_kept, act_measured; /* activation_share.h of the
                               measurement held (session_measurement)
                               for this frozen set; act_measured 0 when
                               there is none */
    char made[SESSION_EMPTY_TEXT]; /* a computed preset's summary
                               (preset_gen.h): "4 stages of 1 epoch: fc,
                               then layer4.1, ..."; "" for a file's */
    char empty[SESSION_EMPTY_TEXT]; /* the rules that match nothing,
                               "2 of its 3 rules match nothing: unfreeze
                               'x', freeze 'y'" (patterns shortened) */
} session_preview;

/* Starts a session on a filled table, which is moved in (*t is left
 * empty; the session frees the table). `checkpoint` is copied. Defaults:
 * adamw, fp32. Returns 0, or -1 with err set (out of memory, a tree that
 * cannot be built); *t is consumed either way and `s` is safe to
 * session_free. */
int session_init(session *s, table *t, const char *checkpoint);

/* Frees everything; NULL-safe and idempotent. */
void session_free(session *s);

/* Applies one rule (freeze/unfreeze PATTERN, or invert) as one undoable
 * step. A pattern that matches no parameter or buffer is an error unless
 * allow_empty (then it is recorded and counted in empty_rules).
 * Returns 0, or -1 with err set ("pattern 'x': unclosed '{' at column 3",
 * "pattern 'x' matches nothing in model.pt", both with plan_hint's hint:
 * "; closest names: ..."); nothing changes on error. */
int session_apply_rule(session *s, plan_rule_kind kind, const char *src,
                       int allow_empty, session_result *res);

/* Applies a preset ("name" or "name:k=v,k=v") from list `l` as one
 * undoable step; its expanded rules that match something are recorded
 * (one that matches nothing is an alternative for other models: in the
 * plan it would make every later resolution fail). A preset that does
 * not fit this model is an error unless allow_empty: some of its rules
 * match nothing and none of the others selects part of the model (a
 * rule matching every tensor, like `freeze: "**"`, says nothing about
 * the fit), so llama-last-n on a ResNet, whose only working rule is
 * `freeze: "**"`, does not fit. Returns 0, or -1 with err set ("unknown
 * preset 'head_only'; did you mean 'head-only'? (tui --presets lists
 * them)", "preset 'x' does not fit m.pt: 1 of its 2 rules matches
 * nothing there: unfreeze 'y' (--allow-empty applies it anyway)", an
 * argument or
 * pattern error); nothing changes on error. */
int session_apply_preset(session *s, const preset_list *l, const char *spec,
                         int allow_empty, session_result *res);

/* What preset `spec` would do on its own, from everything trainable (not
 * from the current state), without changing anything: into *pv, and the
 * frozen set into `out` when not NULL (t.count bits, initialised by the
 * caller). Returns 0, or -1 with err set (unknown preset, bad
 * arguments, a pattern that does not compile). */
int session_preview_preset(const session *s, const preset_list *l,
                           const char *spec, bitset *out,
                           session_preview *pv);

/* The preview as one line into buf (cap bytes): "would freeze 30
 * tensors, 683,072 parameters (5.8%)", then "; 1 of its 3 rules matches
 * nothing: unfreeze 'x'" when some do, or "does not fit this model: all 2
 * of its rules match nothing: ..." (see session_apply_preset). Returns
 * buf. Cannot fail. */
const char *session_preview_line(const session_preview *pv, char *buf,
                                 size_t cap);

/* Undoes / redoes the last whole operation. Return 1 when a step was
 * undone/redone, 0 when there was none. Cannot fail. */
int session_undo(session *s, session_result *res);
int session_redo(session *s, session_result *res);

/* Loads a plan onto the session's checkpoint: the frozen set is what
 * plan_resolve() gives (plan_resolve.h: the one meaning of a plan), its
 * notes go to `report` (may be NULL); allow_empty lets rules that match
 * nothing through. A plan made for another checkpoint (fingerprint
 * differs) sets foreign_plan. Sets optimizer and precision from the
 * plan's estimate when present; keeps its train: section and rules for
 * the next save. The loaded state is the new initial point (no undo
 * history, nothing unsaved). Returns 0, or -1 with err set ("plan.yaml:
 * frozen name 'x' is not a tensor of m.pt"...); on failure the session
 * is unchanged. */
int session_load_plan(session *s, const char *plan_path, int allow_empty,
                      FILE *report);

/* Fills `out` (plan_init'ed by the caller) with the current state as a
 * version 1 plan to be written at `plan_path`: the model (path relative
 * to the plan's folder, format, fingerprint, counts), the rules, the
 * frozen parameters in table order, the estimate for the session's
 * optimizer and precision, batchnorm policy, and the loaded train:
 * section. Returns 0, or -1 with err set. */
int session_make_plan(session *s, const char *plan_path, plan *out);

/* session_make_plan, then an atomic write; marks the state saved and
 * clears foreign_plan (saving over the foreign plan itself is the
 * caller's choice to confirm: the editor asks).
 * Returns 0, or -1 with err set (the old file is kept). */
int session_save_plan(session *s, const char *plan_path);

/* --- activation measurements (session_measure.c; docs/memory.md) ---
 *
 * The core never measures (that needs libtorch, tui/train/): the editor
 * runs `tui --headless --measure-memory` on a plan written by
 * session_write_measure_plan and hands the result here. The session
 * keeps it with the frozen set it was made for; a plan saved while that
 * set is the current one carries it in estimate.activations, and a plan
 * loaded with one holds it for the loaded set. */

/* Keeps a copy of measurement `a`, made for `frozen` (t.count bits; NULL:
 * the current frozen set), in place of the one held. Returns 0, or -1
 * with err set (out of memory, a set of the wrong size); the old one is
 * then kept. `a` and `frozen` are untouched. */
int session_set_measurement(session *s, const activation *a,
                            const bitset *frozen);

/* The measurement held, or NULL when none; *fresh (when not NULL) is 1
 * when it was made for the current frozen set, else 0. Borrowed: valid
 * until the next session_set_measurement, load or free. Cannot fail. */
const activation *session_measurement(const session *s, int *fresh);

/* Whether this session can be measured: 1 when its plan has a train:
 * section with a model and either data or input_shape; else 0, with what
 * is missing written into why (cap bytes: "the checkpoint is a plain
 * state_dict: ..."). Cannot fail. */
int session_can_measure(const session *s, char *why, size_t cap);

/* Writes, atomically at `path` (any folder), the plan that
 * `tui --headless --plan PATH --measure-memory` measures: the current
 * state as session_make_plan makes it (or, with all_trainable, no rules
 * and nothing frozen), with the loaded train: section and batchnorm
 * policy, its paths rebased to point at the same files from PATH. The
 * session is untouched. Returns 0, or -1 with err set (nothing
 * runnable: see session_can_measure; the write failed). */
int session_write_measure_plan(session *s, const char *path,
                               int all_trainable);

/* The current estimate. Returns 0, or -1 with err set. */
int session_estimate(const session *s, mem_estimate *out);

/* Writes `name` as a glob that matches exactly that name (and, by the
 * subtree rule, what is below it): special characters are escaped.
 * Returns 0, or -1 with err set when it does not fit in cap bytes. */
int session_quote_pattern(const char *name, size_t len, char *buf,
                          size_t cap);

#endif
