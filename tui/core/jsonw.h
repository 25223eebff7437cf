/* jsonw.h: JSON strings for every JSON tui writes (--list --json, the
 * trainer's report.json).
 * Strings are escaped per RFC 8259; bytes that are not valid UTF-8 are
 * written as \ufffd so the output is always valid JSON. */
#ifndef TUI_CORE_JSONW_H
#define TUI_CORE_JSONW_H

#include <stddef.h>
#include <stdio.h>

/* Writes `len` bytes of `s` as a quoted JSON string. Cannot fail (stdio
 * errors are caught by the caller's ferror check). */
void jsonw_string(FILE *f, const char *s, size_t len);

#endif
