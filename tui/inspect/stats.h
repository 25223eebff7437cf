/* stats.h: statistics of the values inside a checkpoint's tensors.
 *
 * Per tensor: element count, min, max, mean, population std, L2 norm and
 * the counts of NaN, Inf and zeros. min, max, mean, std and the L2 norm
 * are taken over the finite values only (NaN and Inf are counted apart);
 * a tensor with no finite value has them all NaN.
 *
 * Values are read straight from the files at the table's offsets through
 * windows of mmap (STATS_WINDOW bytes at most mapped at a time per
 * thread), so memory does not grow with the file. Every element is
 * widened to double; sums are kept per block of STATS_BLOCK elements
 * (two passes: mean, then squared deviations) and blocks are merged with
 * Chan's formula, so the figures agree with float64 arithmetic to about
 * 1e-12 relative. Integers (and BOOL as 0/1) are widened the same way
 * (I64/U64 beyond 2^53 lose their low bits). F4, F6_* and complex types
 * have no element statistics: stats_check refuses them.
 *
 * No curses, no libtorch (DESIGN.md: tui/inspect/).
 */
#ifndef TUI_INSPECT_STATS_H
#define TUI_INSPECT_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/bitset.h"
#include "../core/table.h"

#define STATS_BLOCK 4096u             /* elements per summation block */
#define STATS_WINDOW (64u << 20)      /* bytes mapped at a time */

typedef struct {
    uint64_t count;   /* elements */
    uint64_t finite;  /* of them finite */
    uint64_t nan, inf, zero;
    double min, max;  /* over finite values; NaN when finite == 0 */
    double mean;      /* over finite values */
    double m2;        /* sum of squared deviations from the mean */
    double sumsq;     /* sum of squares (the L2 norm is its root) */
} tensor_stats;

/* Empty statistics (count 0, min/max NaN). Cannot fail. */
void stats_init(tensor_stats *s);

/* Adds b's elements to a (Chan's parallel merge). Cannot fail. */
void stats_merge(tensor_stats *a, const tensor_stats *b);

/* Population standard deviation over the finite values (NaN when there
 * are none). Cannot fail. */
double stats_std(const tensor_stats *s);

/* L2 norm over the finite values. Cannot fail. */
double stats_l2(const tensor_stats *s);

/* 1 when statistics of dtype d can be taken. Cannot fail. */
int stats_dtype_ok(dtype d);

/* Adds n elements of dtype d stored contiguously at p (little-endian, as
 * every checkpoint format tui reads stores them) to s. d must pass
 * stats_dtype_ok. Cannot fail. */
void stats_add_raw(tensor_stats *s, dtype d, const void *p, uint64_t n);

/* Widens n elements of dtype d stored contiguously at p to double into
 * x[0..n) (the same widening stats_add_raw uses; a dtype failing
 * stats_dtype_ok gives NaN). Cannot fail. */
void stats_widen(dtype d, const void *p, size_t n, double *x);

/* The bytes tensor i of t spans from its offset: the whole strided range
 * (0 for no elements). Returns 0, or -1 when the size overflows. */
int stats_tensor_span(const table *t, size_t i, uint64_t *span);

/* Checks that every tensor selected in `sel` (t->count bits; NULL: all)
 * can be read: its dtype has values (stats_dtype_ok), it is not sparse,
 * and its bytes (the whole strided span) lie inside its file as it is
 * now on disk. Returns 0, or -1 with err set to one line naming the file
 * and the tensor ("m.pt: tensor 'fc.weight': 4096 bytes at offset 96 run
 * past the end (size 1000)"). */
int stats_check(const table *t, const bitset *sel);

/* Called about ten times a second from the calling thread while
 * stats_run works: bytes done and bytes in all. */
typedef void (*stats_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Computes the statistics of every tensor selected in `sel` (NULL: all)
 * into out[i] (t->count entries, the caller's; unselected ones are left
 * as they were), running `threads` threads over the tensors (0: one per
 * online CPU). Calls stats_check first. `progress` (may be NULL) is
 * called while it works and once at the end. Returns 0, or -1 with err
 * set (stats_check's errors, a file that cannot be opened or mapped, out
 * of memory); out is then partly filled. */
int stats_run(const table *t, const bitset *sel, tensor_stats *out,
              unsigned threads, stats_progress_fn progress, void *ctx);

#endif
