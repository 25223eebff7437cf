/* snr_score.c: Spectrum's score from singular values, and the values
 * themselves through the Gram matrix (snr.h). */
#include "snr.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

#include "../core/err.h"

static int asc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* torch.quantile's linear interpolation on ascending v[0..k). */
static double quantile(const double *v, size_t k, double q)
{
    double pos = q * (double)(k - 1);
    size_t lo = (size_t)floor(pos), hi = lo + 1 < k ? lo + 1 : lo;
    return v[lo] + (pos - (double)lo) * (v[hi] - v[lo]);
}

void snr_from_singular(double *s, size_t k, uint64_t m, uint64_t n,
                       snr_result *out)
{
    qsort(s, k, sizeof *s, asc);
    double sigma = (quantile(s, k, 0.75) - quantile(s, k, 0.25)) / 1.349;
    double mn = (double)(m < n ? m : n), mx = (double)(m < n ? n : m);
    double thr = sigma * (1.0 + sqrt(mn / mx));
    double sig = 0, noise = 0;
    for (size_t i = 0; i < k; i++) {
        if (s[i] > thr)
            sig += s[i];
        else
            noise += s[i];
    }
    out->m = m;
    out->n = n;
    out->smax = s[k - 1];
    out->snr = noise != 0 ? sig / noise : INFINITY;
    out->score = out->snr / out->smax;
}

int snr_singular_values(const double *w, uint64_t m, uint64_t n, double *s)
{
    uint64_t k = m < n ? m : n, bytes;
    if (__builtin_mul_overflow(k, k * sizeof(double), &bytes))
        return err_set("out of memory");
    double *g = malloc(bytes ? bytes : 1);
    if (!g)
        return err_set("out of memory");
    /* row-major: G = W W^T (k = m) or W^T W (k = n) */
    cblas_dsyrk(CblasRowMajor, CblasUpper, m <= n ? CblasNoTrans : CblasTrans,
                (int)k, (int)(m <= n ? n : m), 1.0, w, (int)n, 0.0, g,
                (int)k);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U',
                                     (lapack_int)k, g, (lapack_int)k, s);
    free(g);
    if (info != 0)
        return err_set("LAPACK dsyevd failed (info %d)", (int)info);
    /* The Gram route knows an eigenvalue to about k eps lambda_max, so a
     * singular value to sqrt(k eps) s_max: below sqrt(8 k eps) s_max it
     * cannot be told from 0 and is taken as 0 (a rank-1 matrix then has
     * no noise part, as an exact SVD says). */
    double top = k ? sqrt(s[k - 1] > 0 ? s[k - 1] : 0.0) : 0.0;
    double floor_s = top * sqrt(8.0 * (double)k * DBL_EPSILON);
    for (uint64_t i = 0; i < k; i++) {
        s[i] = s[i] > 0 ? sqrt(s[i]) : 0.0;
        if (s[i] < floor_s)
            s[i] = 0.0;
    }
    return 0;
}
