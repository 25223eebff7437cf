/* plan_activation.h: a plan's `estimate.activations:` (the measurement
 * `tui --headless --measure-memory` made, docs/plan-format.md), read
 * for plan.c and checked for plan_write.c. Core-internal. */
#ifndef TUI_CORE_PLAN_ACTIVATION_H
#define TUI_CORE_PLAN_ACTIVATION_H

#include "plan.h"
#include "yamldoc.h"

/* Reads the `activations` key of the estimate mapping `estimate` (of
 * document `d`) into p->estimate.activations (a new owned activation;
 * left NULL when the key is absent). Returns 0, or -1 with err set to
 * "file:line:col: problem" (not a mapping, unknown key, a figure that is
 * not a non-negative integer, batch missing or 0, an empty string or
 * list, out of memory); p->estimate.activations is then NULL. */
int plan_read_activations(const yamldoc *d, const ynode *estimate, plan *p);

/* Checks that a measurement can be written: batch at least 1, strings
 * non-empty valid UTF-8, every module named. Returns 0 (also for NULL),
 * or -1 with err set ("plan: estimate.activations..."). */
int plan_check_activations(const activation *a);

#endif
