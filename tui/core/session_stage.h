/* session_stage.h: the stages of the session's plan, edited
 * (docs/plan-format.md, "Stages and layer-wise lr"; stages.h resolves
 * them). The session shows and edits one stage at a time, s->stage:
 * stage 0 is the plan's own frozen set (session.h's rules and fs); a
 * later stage is its freeze/unfreeze rules on top of the stage before,
 * kept in s->base.stages. While a later stage is shown, the tree's
 * frozen totals count that stage's set, so the rows, the filters and
 * the counts show it; session_apply_rule adds to that stage's rules.
 * Every stage edit is one undo step (session_undo), which brings back
 * the stage it edited. Lengths, lr and the check before saving are here
 * too; the plan writer does the rest. */
#ifndef TUI_CORE_SESSION_STAGE_H
#define TUI_CORE_SESSION_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "memory.h"
#include "session.h"

/* The stages of the session's plan: base.nstages, or 1 when it has
 * none. Cannot fail. */
size_t session_stage_count(const session *s);

/* Brings s->stages up to date with the plan's own set and the stages'
 * rules, and the tree's frozen totals to the shown stage's set (stage 0
 * when the stage shown is gone). Returns 0, or -1 with err set (out of
 * memory); s->stage is 0 then. */
int session_stages_update(session *s);

/* Shows and edits stage k from now on. Returns 0, or -1 with err set
 * (no stage k, out of memory). */
int session_select_stage(session *s, size_t k);

/* The frozen set of the stage shown (fs.frozen for stage 0). Valid
 * until the next session call. Cannot fail (stage 0's on a stale
 * resolution: call session_stages_update first). */
const bitset *session_shown_frozen(const session *s);

/* The estimate of stage k's set. Returns 0, or -1 with err set. */
int session_estimate_stage(session *s, size_t k, mem_estimate *out);

/* The stage (1..) with the largest estimated total, and that total,
 * with s's optimizer and precision; 0 and stage 0's total without
 * stages. Returns 0, or -1 with err set. */
int session_stage_peak(session *s, size_t *stage, uint64_t *total);

/* Per tensor: the first stage at or after which it is trainable and
 * stays so to the end (SESSION_NEVER when it is frozen in the last
 * stage; 0 for buffers). Valid until the next session call; NULL with
 * err set when the stages cannot be resolved. */
#define SESSION_NEVER UINT32_MAX
const uint32_t *session_thaw_stages(session *s);

/* Adds an empty stage after stage `after` (< count) and shows it; a
 * plan without stages gets its first two (stage 0, its own set, and the
 * new one). `len` > 0 sets stage `after`'s length at the same time
 * (`epochs` 1: in epochs), for a stage that had none. One undo step.
 * Returns 0, or -1 with err set (more than PLAN_MAX_STAGES, a unit
 * other than the other stages', out of memory). */
int session_stage_add(session *s, size_t after, uint64_t len, int epochs);

/* Deletes stage k (>= 1) and its rules; deleting one of two stages
 * leaves a plan without stages. Shows stage k - 1. One undo step.
 * Returns 0, or -1 with err set. */
int session_stage_delete(session *s, size_t k);

/* Sets stage k's length: `len` steps (epochs 0) or epochs; 0 clears it
 * (only the last stage may run to the end). All stages share one unit.
 * One undo step. Returns 0, or -1 with err set ("the other stages are
 * counted in steps: give this one in steps too"). */
int session_stage_set_length(session *s, size_t k, uint64_t len, int epochs);

/* Sets the lr of what stage k (>= 1) thaws; NaN clears it (the
 * optimizer's lr). One undo step. Returns 0, or -1 with err set (not
 * finite and > 0, stage 0). */
int session_stage_set_lr(session *s, size_t k, double lr);

/* Adds a freeze or unfreeze rule to the stage shown (> 0), as
 * session_apply_rule does for stage 0: a pattern that matches nothing
 * is refused unless allow_empty. res (optional) gets what changed in
 * that stage's set. One undo step. Returns 0, or -1 with err set. */
int session_stage_rule(session *s, plan_rule_kind kind, const char *pattern,
                       int allow_empty, session_result *res);

/* Whether the stages can be saved as they are: every later stage has a
 * rule that changes its set, every stage but the last a length. Returns
 * 0, or -1 with err set ("stage 2 changes nothing: f or F on it adds a
 * rule, D deletes it"). */
int session_stages_check(session *s);

/* Undoes or redoes a stage step: swaps the plan's stages with the
 * step's and shows the stage it edited (session.c's undo and redo).
 * Returns 0, or -1 with err set (out of memory: nothing changed). */
int session_stage_swap(session *s, session_step *st);

/* Makes the last undo step (a step on the plan's own rules, just
 * recorded: a computed preset's) also set the plan's stages to src's
 * (stages 1) and its layer_decay to src's (decay 1), so that one undo
 * brings both back. Shows stage 0. Returns 0, or -1 with err set
 * (nothing changed). */
int session_stage_attach(session *s, const plan *src, int stages, int decay);

/* Frees what a step holds. Cannot fail. */
void session_step_release(session_step *st);

#endif
