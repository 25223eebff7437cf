/* pattern.h: the pattern language that selects tensors by name.
 *
 * Names are dotted paths (bert.encoder.layer.3.attention.self.query.weight).
 * A glob matches the whole name, segment by segment:
 *   *        any run of characters inside one segment (never a '.')
 *   **       zero or more whole segments (must be a segment of its own)
 *   ?        one character (byte) inside a segment
 *   [a-z0-9] [!a-z] [^a-z]   a class of bytes
 *   {a,b,c}  alternatives; each may hold any glob syntax, dots and
 *            nested braces included (expanded when compiled)
 *   {0..5} {..3} {12..}      a numeric range: one whole segment that is a
 *            canonical decimal integer (no sign, no leading zero) in range
 *   \c       the character c taken literally ('\.' is refused: '.' always
 *            separates segments)
 * A glob that matches a module path, a proper prefix of a name ending at a
 * segment boundary, matches every name below it (layer1.0 matches
 * layer1.0.conv1.weight, not layer1.01.x nor layer1.0x).
 * "re:<ERE>" is a POSIX extended regex searched anywhere in the name
 * (unanchored; anchor with ^ and $); no subtree rule applies.
 * docs/patterns.md has the full language, errors and examples.
 */
#ifndef TUI_CORE_PATTERN_H
#define TUI_CORE_PATTERN_H

#include <stddef.h>

#include "bitset.h"
#include "table.h"

#define PATTERN_MAX_LEN 4096u       /* bytes of source */
#define PATTERN_MAX_BRANCHES 1024u  /* globs after expanding {a,b} */
#define PATTERN_MAX_EXPANDED 262144u /* bytes of all expanded globs */

typedef struct pattern pattern;

/* Compiles a pattern (NUL-terminated source). Returns a new pattern that
 * the caller frees with pattern_free, or NULL with err set to one line
 * naming the problem and the 1-based byte column of the offending
 * character ("unclosed '{' at column 7"); *err_col (when err_col is not
 * NULL) then holds that column, and 0 when the failure has no column
 * (out of memory). The message does not quote the pattern: callers
 * prefix it (err_prefix("pattern '%s'", src)). The source is copied and
 * left untouched. Errors: empty pattern, longer than PATTERN_MAX_LEN,
 * trailing '\', '\.', unclosed '[' or '{', unmatched ']' or '}', empty
 * alternative, empty class range, range that is empty, has no bound, a
 * bound over 19 digits, or is not a whole segment, '**' that is not a
 * whole segment, empty segment, too many alternatives, invalid regex
 * (regerror's text, column 4), out of memory. */
pattern *pattern_compile(const char *src, size_t *err_col);

/* 1 when the name (len bytes, need not be NUL-terminated, no NUL inside)
 * matches, else 0. A name longer than TABLE_MAX_NAME (no tensor name is)
 * never matches a glob. Cannot fail; allocates nothing (uses about 8 KiB
 * of stack). */
int pattern_match(const pattern *p, const char *name, size_t len);

/* Sets out's bit i for every tensor i of t (all kinds) whose name
 * matches and returns how many matched. Other bits are left as they
 * were (zero the set first for a fresh selection). out must hold at
 * least t->count bits. Cannot fail; allocates nothing. A return of 0
 * is the "matches nothing" case the command line reports. */
size_t pattern_match_table(const pattern *p, const table *t, bitset *out);

/* The source text as given to pattern_compile. Borrowed from p. */
const char *pattern_source(const pattern *p);

/* 1 for a "re:" pattern, 0 for a glob. Cannot fail. */
int pattern_is_regex(const pattern *p);

/* Frees the pattern. NULL-safe. */
void pattern_free(pattern *p);

#endif
