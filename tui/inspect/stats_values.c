/* stats_values.c: widening elements to double and accumulating them
 * (stats.h). */
#include "stats.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

void stats_init(tensor_stats *s)
{
    memset(s, 0, sizeof *s);
    s->min = NAN;
    s->max = NAN;
}

void stats_merge(tensor_stats *a, const tensor_stats *b)
{
    a->count += b->count;
    a->nan += b->nan;
    a->inf += b->inf;
    a->zero += b->zero;
    a->sumsq += b->sumsq;
    if (b->finite == 0)
        return;
    if (a->finite == 0) {
        a->finite = b->finite;
        a->min = b->min;
        a->max = b->max;
        a->mean = b->mean;
        a->m2 = b->m2;
        return;
    }
    double na = (double)a->finite, nb = (double)b->finite, n = na + nb;
    double d = b->mean - a->mean;
    a->mean += d * (nb / n);
    a->m2 += b->m2 + d * d * (na * nb / n);
    a->finite += b->finite;
    if (b->min < a->min)
        a->min = b->min;
    if (b->max > a->max)
        a->max = b->max;
}

double stats_std(const tensor_stats *s)
{
    if (s->finite == 0)
        return NAN;
    return sqrt(s->m2 / (double)s->finite);
}

double stats_l2(const tensor_stats *s)
{
    return sqrt(s->sumsq);
}

int stats_dtype_ok(dtype d)
{
    switch (d) {
    case DT_BOOL: case DT_U8: case DT_I8: case DT_I16: case DT_U16:
    case DT_I32: case DT_U32: case DT_I64: case DT_U64:
    case DT_F16: case DT_BF16: case DT_F32: case DT_F64:
    case DT_F8_E5M2: case DT_F8_E4M3: case DT_F8_E8M0:
    case DT_F8_E4M3FNUZ: case DT_F8_E5M2FNUZ:
        return 1;
    default:
        return 0;
    }
}

/* --- decoding tables for the small floats --- */

enum { FP8_IEEE, FP8_FN, FP8_FNUZ };

static float f16_table[65536];
static float fp8_table[5][256]; /* E5M2, E4M3, E8M0, E4M3FNUZ, E5M2FNUZ */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static float small_float(unsigned v, unsigned ebits, unsigned mbits,
                         int bias, int mode)
{
    unsigned sign = (v >> (ebits + mbits)) & 1u;
    unsigned e = (v >> mbits) & ((1u << ebits) - 1u);
    unsigned m = v & ((1u << mbits) - 1u);
    unsigned emax = (1u << ebits) - 1u;
    if (mode == FP8_FNUZ && v == (1u << (ebits + mbits)))
        return NAN; /* the one NaN; there is no negative zero */
    if (mode == FP8_IEEE && e == emax)
        return m ? NAN : (sign ? -INFINITY : INFINITY);
    if (mode == FP8_FN && e == emax && m == (1u << mbits) - 1u)
        return NAN;
    double x = e == 0 ? ldexp((double)m, 1 - bias - (int)mbits)
                      : ldexp((double)(m | (1u << mbits)),
                              (int)e - bias - (int)mbits);
    return (float)(sign ? -x : x);
}

static void tables_make(void)
{
    for (unsigned v = 0; v < 65536; v++)
        f16_table[v] = small_float(v, 5, 10, 15, FP8_IEEE);
    for (unsigned v = 0; v < 256; v++) {
        fp8_table[0][v] = small_float(v, 5, 2, 15, FP8_IEEE);
        fp8_table[1][v] = small_float(v, 4, 3, 7, FP8_FN);
        fp8_table[2][v] = v == 255 ? NAN : (float)ldexp(1.0, (int)v - 127);
        fp8_table[3][v] = small_float(v, 4, 3, 8, FP8_FNUZ);
        fp8_table[4][v] = small_float(v, 5, 2, 16, FP8_FNUZ);
    }
}

/* --- one block --- */

/* Adds n (<= STATS_BLOCK) widened values: the first pass counts and
 * sums, the second takes squared deviations from the block's mean. */
static void block_add(tensor_stats *s, double *x, size_t n)
{
    tensor_stats b;
    stats_init(&b);
    b.count = n;
    size_t k = 0;
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (isnan(v)) {
            b.nan++;
            continue;
        }
        if (isinf(v)) {
            b.inf++;
            continue;
        }
        x[k++] = v; /* finite values kept at the front */
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        b.zero += v == 0;
    }
    if (k) {
        double mean = sum / (double)k, m2 = 0, sq = 0;
        for (size_t i = 0; i < k; i++) {
            double d = x[i] - mean;
            m2 += d * d;
            sq += x[i] * x[i];
        }
        b.finite = k;
        b.min = lo;
        b.max = hi;
        b.mean = mean;
        b.m2 = m2;
        b.sumsq = sq;
    }
    stats_merge(s, &b);
}

static void widen(dtype d, const unsigned char *p, size_t n, double *x)
{
    size_t i;
    switch (d) {
#define LOAD(T, CODE)                                  \
    for (i = 0; i < n; i++) {                          \
        T v;                                           \
        memcpy(&v, p + i * sizeof(T), sizeof(T));      \
        x[i] = CODE;                                   \
    }                                                  \
    break;
    case DT_F32: LOAD(float, (double)v)
    case DT_F64: LOAD(double, v)
    case DT_F16: LOAD(uint16_t, (double)f16_table[v])
    case DT_BF16: {
        for (i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t w = (uint32_t)h << 16;
            float f;
            memcpy(&f, &w, 4);
            x[i] = f;
        }
        break;
    }
    case DT_BOOL: LOAD(uint8_t, v != 0)
    case DT_U8: LOAD(uint8_t, (double)v)
    case DT_I8: LOAD(int8_t, (double)v)
    case DT_U16: LOAD(uint16_t, (double)v)
    case DT_I16: LOAD(int16_t, (double)v)
    case DT_U32: LOAD(uint32_t, (double)v)
    case DT_I32: LOAD(int32_t, (double)v)
    case DT_U64: LOAD(uint64_t, (double)v)
    case DT_I64: LOAD(int64_t, (double)v)
    case DT_F8_E5M2: LOAD(uint8_t, (double)fp8_table[0][v])
    case DT_F8_E4M3: LOAD(uint8_t, (double)fp8_table[1][v])
    case DT_F8_E8M0: LOAD(uint8_t, (double)fp8_table[2][v])
    case DT_F8_E4M3FNUZ: LOAD(uint8_t, (double)fp8_table[3][v])
    case DT_F8_E5M2FNUZ: LOAD(uint8_t, (double)fp8_table[4][v])
#undef LOAD
    default:
        for (i = 0; i < n; i++)
            x[i] = NAN;
        break;
    }
}

void stats_widen(dtype d, const void *p, size_t n, double *x)
{
    pthread_once(&tables_once, tables_make);
    widen(d, p, n, x);
}

void stats_add_raw(tensor_stats *s, dtype d, const void *p, uint64_t n)
{
    double x[STATS_BLOCK];
    const unsigned char *b = p;
    size_t esz = dtype_bits(d) / 8;
    pthread_once(&tables_once, tables_make);
    while (n) {
        size_t k = n < STATS_BLOCK ? (size_t)n : STATS_BLOCK;
        widen(d, b, k, x);
        block_add(s, x, k);
        b += k * esz;
        n -= k;
    }
}
