/* suggest.c: "did you mean" by edit distance (suggest.h). */
#include "suggest.h"

#include <ctype.h>
#include <string.h>

static int low(char c)
{
    return tolower((unsigned char)c);
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

size_t suggest_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN)
        return (size_t)-1;
    /* three rows of the optimal-string-alignment table */
    size_t r0[SUGGEST_MAX_LEN + 1], r1[SUGGEST_MAX_LEN + 1],
        r2[SUGGEST_MAX_LEN + 1];
    size_t *pp = r0, *prev = r1, *cur = r2;
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cost = low(a[i - 1]) == low(b[j - 1]) ? 0 : 1;
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && low(a[i - 1]) == low(b[j - 2]) &&
                low(a[i - 2]) == low(b[j - 1]) && pp[j - 2] + 1 < cur[j])
                cur[j] = pp[j - 2] + 1;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

void suggest_begin(suggest *s, const char *word)
{
    size_t len = strlen(word);
    s->word = word;
    s->best = NULL;
    s->dist = (size_t)-1;
    s->limit = len / 3;
    if (s->limit < 1)
        s->limit = 1;
    if (s->limit > 3)
        s->limit = 3;
}

void suggest_offer(suggest *s, const char *candidate)
{
    size_t d = suggest_distance(s->word, candidate);
    if (d <= s->limit && (s->best == NULL || d < s->dist)) {
        s->best = candidate;
        s->dist = d;
    }
}

const char *suggest_closest(const char *word, const char *const *cands,
                            size_t n)
{
    suggest s;
    suggest_begin(&s, word);
    for (size_t i = 0; i < n; i++)
        suggest_offer(&s, cands[i]);
    return s.best;
}
