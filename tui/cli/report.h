/* report.h: the non-interactive views of a session: --summary, --tree,
 * --export, --presets, and the per-operation lines. */
#ifndef TUI_CLI_REPORT_H
#define TUI_CLI_REPORT_H

#include <stdio.h>

#include "../core/preset.h"
#include "../core/session.h"

/* Totals and the memory table for the session's optimizer and precision.
 * Returns 0, or -1 with err set. */
int report_summary(FILE *out, session *s);

/* The name tree with aggregates, down to `depth` levels below the root
 * (-1: all; 0: the root's own line only). Returns 0, or -1 with err set. */
int report_tree(FILE *out, const session *s, int depth);

/* The plan for another tool, written by tui/export/ (export.h):
 * `axolotl`, `llamafactory`, `modules` or `names`. Returns 0, or -1 with
 * err set and nothing written (unknown format, a plan the consumer cannot
 * express, a write error). */
int report_export(FILE *out, const session *s, const char *format);

/* Lists the presets; with a session (may be NULL), what each would freeze
 * on its own with its defaults, from everything trainable (not the
 * session's state), and the rules that match nothing there, or "does not
 * fit this model" (session_preview_line). Returns 0, or -1 with err set. */
int report_presets(FILE *out, const preset_list *l, session *s);

/* One line describing what an operation did ("freeze 'x': matched 2
 * tensors (1,024 parameters), changed 1 tensor (512 parameters)"; a
 * tensor matched by several rules of a preset is counted once), and a
 * note when nothing is left trainable. Cannot fail. */
void report_operation(FILE *out, const char *what, const session *s,
                      const session_result *r);


#endif
