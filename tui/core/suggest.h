/* suggest.h: "did you mean": the closest of a set of words to one that
 * was not found (an option, a preset, a plan key, a tensor name), by
 * optimal-string-alignment edit distance (insert, delete, substitute,
 * swap two neighbours), case-insensitive. No allocation for words up to
 * SUGGEST_MAX_LEN bytes; longer ones are never suggested. */
#ifndef TUI_CORE_SUGGEST_H
#define TUI_CORE_SUGGEST_H
#include <stddef.h>

#define SUGGEST_MAX_LEN 255

/* The edit distance between a and b (case-insensitive), or (size_t)-1
 * when either is longer than SUGGEST_MAX_LEN. Cannot fail otherwise. */
size_t suggest_distance(const char *a, const char *b);

/* A running choice: feed candidates one by one, read the best. */
typedef struct suggest {
    const char *word;   /* what the user typed (borrowed) */
    const char *best;   /* the closest candidate so far, or NULL (borrowed) */
    size_t dist;        /* its distance */
    size_t limit;       /* a candidate further than this is no suggestion */
} suggest;

/* Starts a choice for `word` (borrowed for the choice's life). The limit
 * is a third of the word's length, at least 1 and at most 3, so that "fc"
 * suggests "fc." but "xyz" suggests nothing from unrelated words. */
void suggest_begin(suggest *s, const char *word);

/* Offers one candidate (borrowed: it must outlive the choice). Ties keep
 * the first offered. An exact match (distance 0) is kept as well. */
void suggest_offer(suggest *s, const char *candidate);

/* The closest of `n` candidates to `word`, or NULL when none is within
 * the limit of suggest_begin. Returns one of `cands` (borrowed). */
const char *suggest_closest(const char *word, const char *const *cands,
                            size_t n);
#endif
