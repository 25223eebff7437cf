/* diff_cli.h: `tui --diff A B [--json] [--plan PLAN]`: the tensors of
 * two checkpoints compared (inspect/diff.h), and with a plan whether it
 * held: every tensor it freezes bitwise equal in B (docs/inspect.md). */
#ifndef TUI_CLI_DIFF_CLI_H
#define TUI_CLI_DIFF_CLI_H

#include <stdio.h>

#include "../core/bitset.h"
#include "../core/table.h"

/* Compares a (read from path_a) with b (from path_b) and prints the
 * comparison to `out`, as text or JSON. With `frozen` (a's frozen set
 * under plan_path; NULL without a plan) it also says whether the plan
 * held, names the frozen tensors that changed (on stdout, and on stderr
 * one line when it did not hold) and lists the trainable parameters
 * that did not move; *held is then 1 or 0 (left alone without a plan).
 * Nothing is printed unless every compared tensor could be read.
 * Returns 0, or -1 with err set (diff_run's errors, a write error). */
int diff_cli_print(FILE *out, const char *path_a, const table *a,
                   const char *path_b, const table *b,
                   const char *plan_path, const bitset *frozen, int json,
                   int *held);

#endif
