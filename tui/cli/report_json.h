/* report_json.h: the JSON forms of --summary, --tree and --presets
 * (`--json`), stable contracts documented in docs/cli.md next to
 * --list --json. Strings go through core/jsonw.h (always valid JSON). */
#ifndef TUI_CLI_REPORT_JSON_H
#define TUI_CLI_REPORT_JSON_H

#include <stdio.h>

#include "../core/preset.h"
#include "../core/session.h"

/* The summary: checkpoint, format, files, counts, trainable and frozen
 * parameters, bytes and the memory estimate before and after the plan.
 * Returns 0, or -1 with err set (the estimate fails, a write error). */
int report_json_summary(FILE *out, session *s);

/* The name tree in display order, the root first, down to `depth`
 * levels below the root (-1: all; 0: the root only). Returns 0, or -1
 * with err set (a write error). */
int report_json_tree(FILE *out, const session *s, int depth);

/* The presets; with a session (may be NULL), what each would freeze
 * there with its defaults (its `here` object). Returns 0, or -1 with err
 * set (out of memory, a write error). */
int report_json_presets(FILE *out, const preset_list *l, session *s);

#endif
