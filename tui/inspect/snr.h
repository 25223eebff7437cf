/* snr.h: Spectrum's signal-to-noise score of a weight matrix.
 *
 * For a matrix W (m x n; a 1-D weight is 1 x n; a weight of more than
 * two dimensions is taken as shape[0] x the product of the rest) with
 * singular values S (descending):
 *
 *   sigma     = IQR(S) / 1.349       (quantiles by linear interpolation,
 *                                     as torch.quantile)
 *   beta      = min(m, n) / max(m, n)
 *   threshold = sigma (1 + sqrt(beta))
 *   snr       = (sum of S > threshold) / (sum of S <= threshold),
 *               Inf when the second sum is 0
 *   score     = snr / S[0]
 *
 * (Spectrum, cognitivecomputations/spectrum; ../shared/reference/
 * inspect.md). The score is not scale-invariant: W x 10 scores a tenth.
 * snr alone (the ratio of sums) is: tui's scale-invariant variant
 * (docs/inspect.md).
 *
 * Singular values come from the Gram matrix in float64: G = W W^T (or
 * W^T W, the smaller side) by BLAS dsyrk, its eigenvalues by LAPACK
 * dsyevd, S = sqrt(max(eigenvalue, 0)); a value below sqrt(8 k eps) S_max,
 * which the Gram route cannot tell from 0, is 0. The matrix is widened to
 * float64 in memory: 8 m n + 8 k^2 bytes (k = min(m, n)) per tensor,
 * one tensor at a time.
 *
 * No curses, no libtorch (DESIGN.md: tui/inspect/).
 */
#ifndef TUI_INSPECT_SNR_H
#define TUI_INSPECT_SNR_H

#include <stddef.h>
#include <stdint.h>

#include "../core/bitset.h"
#include "../core/table.h"

#define SNR_MAX_ELEMENTS (1ull << 30) /* per matrix: 8 GiB as float64 */

typedef struct {
    double score;    /* Spectrum's snr / S_max (Inf when no noise part) */
    double snr;      /* the ratio of sums: the scale-invariant variant */
    double smax;     /* the largest singular value */
    uint64_t m, n;   /* the matrix as scored */
} snr_result;

/* The score from singular values s[0..k) (any order; sorted in place
 * ascending) of an m x n matrix. k > 0. Cannot fail. */
void snr_from_singular(double *s, size_t k, uint64_t m, uint64_t n,
                       snr_result *out);

/* Singular values of the row-major m x n float64 matrix w (k = min(m, n)
 * of them into s, ascending), through the Gram matrix. m and n at most
 * INT_MAX. w is left as it
 * was. Returns 0, or -1 with err set (out of memory, LAPACK's failure). */
int snr_singular_values(const double *w, uint64_t m, uint64_t n, double *s);

/* 1 when tensor i of t can be scored: a floating dtype (F64, F32, F16,
 * BF16, F8), at least one dimension, at least one element. */
int snr_tensor_ok(const table *t, size_t i);

/* Called after each tensor: tensors done and in all. */
typedef void (*snr_progress_fn)(void *ctx, size_t done, size_t total);

/* Scores every tensor selected in `sel` that snr_tensor_ok accepts, one
 * at a time, into out[i] (t->count entries, the caller's; others left
 * alone), and sets bit i of `scored` for each (scored: t->count bits,
 * the caller's, initialised). Reads values with the checks of
 * stats_check (bytes inside the file). Returns 0, or -1 with err set
 * (one line naming the file and the tensor). */
int snr_run(const table *t, const bitset *sel, snr_result *out,
            bitset *scored, snr_progress_fn progress, void *ctx);

#endif
