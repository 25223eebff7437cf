/* plan_stages.h: a plan's `stages:`, `lr_scale:`, `layer_decay:` and
 * `no_decay:` (staged unfreezing and layer-wise lr, docs/plan-format.md),
 * read for plan.c and checked for plan_write.c. The editing calls
 * (plan_add_stage ...) are declared in plan.h. Core-internal. */
#ifndef TUI_CORE_PLAN_STAGES_H
#define TUI_CORE_PLAN_STAGES_H

#include "plan.h"
#include "yamldoc.h"

/* Reads the four keys of the top-level mapping `root` (of document `d`)
 * into `p` (train: must be read first: a stage past train.max_steps or
 * train.epochs is refused). Returns 0, or -1 with err set to
 * "file:line:col: problem" (one stage only, a stage length that is not a
 * positive integer or is left out before the last stage, steps and epochs
 * mixed, the stages past the run's end, an lr or scale that is not a
 * finite number > 0, a factor outside (0, 1], an empty or invalid
 * pattern, an unknown key, out of memory). */
int plan_read_stages(const yamldoc *d, const ynode *root, plan *p);

/* Checks that the stages and lr rules can be written and read back (the
 * same rules as the reader, except the run's end). Returns 0, or -1 with
 * err set ("plan: stage 2: ..."). */
int plan_check_stages(const plan *p);

#endif
