/* search.h: what the editor's / finds, without a terminal.
 *
 * A query is either text or a pattern. It is a pattern when it starts
 * with "re:" or holds one of * ? [ { (the characters that make the f
 * prompt's globs, core/pattern.h); it then selects exactly what f would
 * select with the same text (case-sensitive, module paths take their
 * subtree). Otherwise it is text searched anywhere in the dotted names
 * with smartcase, as vim's and less's: all lowercase matches any case,
 * any capital letter makes the search case-sensitive.
 */
#ifndef TUI_CORE_SEARCH_H
#define TUI_CORE_SEARCH_H

#include <stddef.h>

#include "bitset.h"
#include "table.h"

/* 1 when the query is taken as a pattern (see above). Cannot fail. */
int search_is_pattern(const char *query);

/* 1 when a text query is case-sensitive (it holds an ASCII capital).
 * Cannot fail. */
int search_case_sensitive(const char *query);

/* Sets out's bit i for each tensor i of t (all kinds) that the query
 * (NUL-terminated, not empty) finds, after clearing out (t->count bits
 * or more). Returns how many were found, or -1 with err set (a pattern
 * that does not compile: the message and *err_col, when err_col is not
 * NULL, are pattern_compile's; an empty query); out is then all zero.
 * The table and the query are untouched. */
long search_match_table(const char *query, const table *t, bitset *out,
                        size_t *err_col);

#endif
