/* json_num.h: strict JSON intake for the safetensors and index readers.
 *
 * cJSON is fast but lenient: it does not check UTF-8, it truncates a
 * string at a "\u0000" escape, it accepts trailing garbage unless told
 * otherwise, and it keeps every number as a double (so "1.0", "1e3" and
 * 2^53+1 look like integers). json_num_parse() runs one byte scan
 * before cJSON that refuses invalid UTF-8, raw control bytes and
 * "\u0000", counts the values (so a reader can bound the tree cJSON
 * will build), and notes which number tokens are not plain integer
 * literals. json_num_get_u53() then gives an exact unsigned integer.
 *
 * Offsets and dimensions above 2^53 are refused: below 2^53 a double
 * holds every integer exactly, and the token scan rejects fractions,
 * exponents, signs and leading zeros, so the check is exact.
 *
 * The walker must meet numbers in document order: walk every object
 * and array front to back, call json_num_get_u53() on the numbers it
 * wants and json_num_skip() on every subtree it passes over.
 */
#ifndef TUI_FORMATS_JSON_NUM_H
#define TUI_FORMATS_JSON_NUM_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* 2^53: the first integer a double cannot always tell from its neighbour. */
#define JSON_NUM_LIMIT 9007199254740992.0

typedef struct {
    uint64_t *odd;        /* ordinals of number tokens that are not plain
                             non-negative integer literals, ascending */
    size_t nodd, odd_cap;
    size_t cursor;        /* into odd */
    uint64_t ordinal;     /* number tokens the walker has met so far */
    uint64_t values;      /* JSON values and keys outside the top-level
                             "__metadata__" member */
    uint64_t meta_values; /* values and keys inside it */
    uint64_t members;     /* members of the top-level object */
    void *arena_mark;     /* where this tree's memory starts in the
                             arena (json_num_free gives it back) */
    size_t arena_used;
    int arena_set;
} json_nums;

/* The trees of json_num_parse live in a bump arena (cJSON_InitHooks for
 * the parse only): node-by-node malloc and free were a fifth of opening
 * a 163-shard set. NEVER cJSON_Delete such a tree: json_num_free gives
 * its memory back. Trees must be given back in reverse order of parsing,
 * which the readers do (an index tree outlives the shard trees parsed
 * while it is open). */

/* Scans `len` bytes of `text` (`what` names it in messages, e.g.
 * "header"), then parses them with cJSON. Leading and trailing JSON
 * whitespace is accepted; anything else after the value is refused.
 * Before cJSON runs, three optional bounds (0: none) keep the tree it
 * builds near the size a well-formed file needs: `max_values` bounds
 * s->values + s->meta_values, `max_meta_values` bounds s->meta_values,
 * and `values_per_member` bounds s->values by
 * values_per_member * (s->members + 8).
 * Returns the tree (freed with `s` by json_num_free, never with
 * cJSON_Delete), or NULL with err set, message without a file name
 * ("header is not valid UTF-8 at byte 17"); `s` must then still be
 * freed. `text` is untouched. */
cJSON *json_num_parse(json_nums *s, const char *text, size_t len,
                      const char *what, uint64_t max_values,
                      uint64_t values_per_member, uint64_t max_meta_values);

/* Takes the next number of the walk from `item`, which must be a JSON
 * number holding a plain integer literal in [0, 2^53). Returns 0 with
 * *out set, or -1 with err set ("value -1 is negative", "value 1.5 is
 * not an integer", "value 1e+16 is 2^53 or more: offsets and
 * dimensions above 2^53 are refused", "value 1.0 is not written as a
 * plain integer", "value is not a number"). */
int json_num_get_u53(json_nums *s, const cJSON *item, uint64_t *out);

/* Passes over `item` and everything under it, counting its numbers.
 * Cannot fail. */
void json_num_skip(json_nums *s, const cJSON *item);

/* Frees what the scan allocated; `s` is then zeroed. NULL-safe. */
void json_num_free(json_nums *s);

#endif
