/* bitset.h: a fixed-size set of tensor indexes (one bit per tensor).
 * Header-only; the frozen set and pattern matches use it. */
#ifndef TUI_CORE_BITSET_H
#define TUI_CORE_BITSET_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t *w;  /* n / 64 + 1 words (bitset_init: never a NULL
                     allocation, even for n = 0) */
    size_t n;     /* bits */
} bitset;

/* Allocates an all-zero set of n bits. Returns 0, or -1 when out of
 * memory (the set is then empty and still safe to free). */
static inline int bitset_init(bitset *b, size_t n)
{
    b->n = n;
    b->w = calloc(n / 64 + 1, sizeof *b->w);
    if (!b->w) {
        b->n = 0;
        return -1;
    }
    return 0;
}

/* Frees the words; NULL-safe and idempotent. */
static inline void bitset_free(bitset *b)
{
    free(b->w);
    b->w = NULL;
    b->n = 0;
}

static inline int bitset_get(const bitset *b, size_t i)
{
    return (int)((b->w[i >> 6] >> (i & 63)) & 1u);
}

static inline void bitset_set(bitset *b, size_t i)
{
    b->w[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline void bitset_clear(bitset *b, size_t i)
{
    b->w[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

static inline void bitset_zero(bitset *b)
{
    memset(b->w, 0, (b->n / 64 + 1) * sizeof *b->w);
}

/* Number of set bits. */
static inline size_t bitset_count(const bitset *b)
{
    size_t c = 0;
    for (size_t i = 0; i < b->n / 64 + 1; i++)
        c += (size_t)__builtin_popcountll(b->w[i]);
    return c;
}

/* Copies src into dst; both must have the same n. */
static inline void bitset_copy(bitset *dst, const bitset *src)
{
    memcpy(dst->w, src->w, (src->n / 64 + 1) * sizeof *src->w);
}

#endif
