/* stats_cli.h: `tui --stats [--json] CHECKPOINT [PATTERN...]`: the
 * statistics of the values of every tensor (inspect/stats.h), of each
 * module (subtree) and of the whole selection, as text or JSON
 * (docs/inspect.md). */
#ifndef TUI_CLI_STATS_CLI_H
#define TUI_CLI_STATS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "../core/table.h"

/* Computes and prints the statistics of the tensors of t that match any
 * of the npat patterns (none: every tensor). A pattern that matches
 * nothing is an error unless allow_empty. A progress bar goes to stderr
 * when stderr is a terminal. Nothing is printed to `out` unless every
 * tensor could be read. Returns 0, or -1 with err set (a bad or empty
 * pattern, stats_run's errors, a write error). */
int stats_cli_print(FILE *out, const table *t, char *const *pat,
                    size_t npat, int json, int allow_empty);

#endif
