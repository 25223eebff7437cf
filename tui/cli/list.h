/* list.h: `tui --list [--json] CHECKPOINT`: the tensor table as text or
 * as the stable JSON contract (docs/cli.md). */
#ifndef TUI_CLI_LIST_H
#define TUI_CLI_LIST_H

#include <stdio.h>

#include "../core/bitset.h"
#include "../core/table.h"

/* Prints the table as an aligned text table with totals. `frozen` (may be
 * NULL: nothing frozen) marks tensors frozen by a plan. Returns 0, or -1
 * with err set when writing fails. */
int list_print_text(FILE *out, const table *t, const bitset *frozen);

/* Prints the JSON document: format, files, metadata, tensors (with
 * `trainable` per the saved flag or `frozen`), totals. Returns 0, or -1
 * with err set when writing fails. */
int list_print_json(FILE *out, const table *t, const bitset *frozen);


#endif
