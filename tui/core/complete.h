/* complete.h: Tab completion for the editor's prompts, as bash does it:
 * the text is extended by the part that every candidate shares, and when
 * more than one is left the candidates are listed.
 *
 *   complete_tree  the next dotted segment of a module or tensor name,
 *                  from the name tree ("lay" -> "layer", candidates
 *                  layer1 .. layer4; "layer2" -> "layer2." when it is a
 *                  module only). In a pattern, only the text after the
 *                  last pattern character (* ? [ ] { } ,) is completed;
 *                  "re:" patterns are not.
 *   complete_dir   a file name from the file system ("out/pl" ->
 *                  "out/plan.yaml"; a folder gets its '/'; hidden files
 *                  only when the typed part starts with '.').
 *
 * No curses: the prompts call these, the unit tests call them too.
 */
#ifndef TUI_CORE_COMPLETE_H
#define TUI_CORE_COMPLETE_H

#include <stddef.h>

#include "tree.h"

#define COMPLETE_MAX 4096u   /* candidates kept; more are counted only */

typedef struct {
    char *text;      /* the completed text (malloc'ed); equal to the
                        input when nothing could be added */
    char **names;    /* the candidates' last parts as listed (a segment,
                        a file name; folders with '/'), malloc'ed */
    size_t n;        /* candidates kept in names */
    size_t total;    /* candidates found (> n when over COMPLETE_MAX) */
} complete_result;

/* Completes the dotted name at the end of `text` (a pattern) from the
 * tree. Fills *out (free with complete_free). Returns 0 (no candidate:
 * total 0 and text a copy of the input), or -1 with err set (out of
 * memory; *out is then empty). The tree is untouched. */
int complete_tree(const tree *tr, const char *text, complete_result *out);

/* Completes the file name at the end of the path `text` from its
 * folder's listing (the current folder when there is no '/'). Returns 0
 * (an unreadable folder is no candidate), or -1 with err set (out of
 * memory; *out is then empty). */
int complete_dir(const char *text, complete_result *out);

/* Frees what a result holds and zeroes it. NULL-safe, idempotent. */
void complete_free(complete_result *r);

#endif
