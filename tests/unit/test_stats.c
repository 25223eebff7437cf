/* test_stats.c: inspect/stats.h: the small float decoders (every fp8
 * kind's zero, subnormal, largest value and NaN/Inf codes, f16, bf16),
 * NaN/Inf/zero counting, min/max/mean/std over the finite values only,
 * Chan's merge equal to one pass, and stats_run on a real file: a
 * tensor whose bytes run past the end and a dtype without values are
 * one clear error. */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../tui/core/err.h"
#include "../../tui/inspect/stats.h"

static double one(dtype d, unsigned v)
{
    tensor_stats s;
    unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    stats_init(&s);
    stats_add_raw(&s, d, b, 1);
    if (s.nan)
        return NAN;
    if (s.inf) /* the sign is the top bit of the code */
        return (v & (d == DT_F16 || d == DT_BF16 ? 0x8000u : 0x80u))
                   ? -INFINITY : INFINITY;
    return s.min;
}

static void decoders(void)
{
    /* float8_e4m3fn: bias 7, no Inf, S.1111.111 is NaN, max 448 */
    CHECK(one(DT_F8_E4M3, 0x00) == 0.0);
    CHECK(one(DT_F8_E4M3, 0x01) == ldexp(1, -9));
    CHECK(one(DT_F8_E4M3, 0x38) == 1.0);
    CHECK(one(DT_F8_E4M3, 0x7e) == 448.0);
    CHECK(one(DT_F8_E4M3, 0xfe) == -448.0);
    CHECK(isnan(one(DT_F8_E4M3, 0x7f)));
    CHECK(one(DT_F8_E4M3, 0x78) == 256.0); /* exponent 15 is a number */
    /* float8_e5m2: IEEE-like, bias 15, max 57344 */
    CHECK(one(DT_F8_E5M2, 0x3c) == 1.0);
    CHECK(one(DT_F8_E5M2, 0x7b) == 57344.0);
    CHECK(one(DT_F8_E5M2, 0x01) == ldexp(1, -16));
    CHECK(one(DT_F8_E5M2, 0x7c) == INFINITY);
    CHECK(one(DT_F8_E5M2, 0xfc) == -INFINITY);
    CHECK(isnan(one(DT_F8_E5M2, 0x7d)));
    /* fnuz: 0x80 is the NaN, bias one more */
    CHECK(isnan(one(DT_F8_E4M3FNUZ, 0x80)));
    CHECK(one(DT_F8_E4M3FNUZ, 0x40) == 1.0);
    CHECK(one(DT_F8_E4M3FNUZ, 0x7f) == 240.0);
    CHECK(isnan(one(DT_F8_E5M2FNUZ, 0x80)));
    CHECK(one(DT_F8_E5M2FNUZ, 0x40) == 1.0);
    /* e8m0: 2^(e-127), 0xff NaN */
    CHECK(one(DT_F8_E8M0, 127) == 1.0);
    CHECK(one(DT_F8_E8M0, 0) == ldexp(1, -127));
    CHECK(isnan(one(DT_F8_E8M0, 255)));
    /* f16, bf16 */
    CHECK(one(DT_F16, 0x3c00) == 1.0);
    CHECK(one(DT_F16, 0x7bff) == 65504.0);
    CHECK(one(DT_F16, 0x0001) == ldexp(1, -24));
    CHECK(one(DT_F16, 0xfc00) == -INFINITY);
    CHECK(isnan(one(DT_F16, 0x7e00)));
    CHECK(one(DT_BF16, 0x3f80) == 1.0);
    CHECK(one(DT_BF16, 0xc040) == -3.0);
    CHECK(one(DT_I8, 0xff) == -1.0);
    CHECK(one(DT_BOOL, 2) == 1.0);
    CHECK(!stats_dtype_ok(DT_C64) && !stats_dtype_ok(DT_F4) &&
          !stats_dtype_ok(DT_F6_E2M3) && stats_dtype_ok(DT_F8_E4M3));
}

static void moments(void)
{
    float v[10000];
    for (int i = 0; i < 10000; i++) {
        v[i] = (float)(1000.0 + sin(i * 0.37) * (i % 7));
    }
    v[17] = NAN;
    v[9000] = INFINITY;
    v[9001] = -INFINITY;
    v[42] = 0.0f;
    /* the reference in long double, two passes, finite values only */
    long double s = 0, m2 = 0, sq = 0;
    int n = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < 10000; i++)
        if (isfinite(v[i])) {
            s += v[i];
            n++;
            lo = v[i] < lo ? v[i] : lo;
            hi = v[i] > hi ? v[i] : hi;
        }
    long double mean = s / n;
    for (int i = 0; i < 10000; i++)
        if (isfinite(v[i])) {
            m2 += (v[i] - mean) * (v[i] - mean);
            sq += (long double)v[i] * v[i];
        }
    tensor_stats a, b, c;
    stats_init(&a);
    stats_add_raw(&a, DT_F32, v, 10000);
    CHECK_EQ_U64(a.count, 10000);
    CHECK_EQ_U64(a.finite, 9997);
    CHECK_EQ_U64(a.nan, 1);
    CHECK_EQ_U64(a.inf, 2);
    CHECK_EQ_U64(a.zero, 1);
    CHECK(a.min == lo && a.max == hi);
    CHECK(fabs(a.mean - (double)mean) <= 1e-12 * fabs((double)mean));
    double sd = sqrt((double)(m2 / n));
    CHECK(fabs(stats_std(&a) - sd) <= 1e-9 * sd);
    CHECK(fabs(stats_l2(&a) - sqrt((double)sq)) <= 1e-12 * sqrt((double)sq));
    /* split at an odd place and merged: the same figures */
    stats_init(&b);
    stats_init(&c);
    stats_add_raw(&b, DT_F32, v, 3333);
    stats_add_raw(&c, DT_F32, v + 3333, 10000 - 3333);
    stats_merge(&b, &c);
    CHECK(b.count == a.count && b.nan == a.nan && b.min == a.min &&
          b.max == a.max);
    CHECK(fabs(b.mean - a.mean) <= 1e-13 * fabs(a.mean));
    CHECK(fabs(stats_std(&b) - stats_std(&a)) <= 1e-9 * stats_std(&a));
    /* nothing finite: NaN figures, L2 0 */
    float z[3] = {NAN, NAN, INFINITY};
    stats_init(&c);
    stats_add_raw(&c, DT_F32, z, 3);
    CHECK(c.finite == 0 && isnan(c.min) && isnan(stats_std(&c)) &&
          stats_l2(&c) == 0.0);
}

static void on_file(void)
{
    char path[] = "/tmp/test_stats.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    float data[100];
    for (int i = 0; i < 100; i++)
        data[i] = (float)i;
    CHECK(write(fd, data, sizeof data) == (ssize_t)sizeof data);
    close(fd);
    table t;
    table_init(&t);
    uint64_t s40[] = {40}, s20[] = {20}, s2[] = {2};
    CHECK(table_add_file(&t, path, sizeof data) == 0);
    CHECK(table_add(&t, "a", 1, DT_F32, 1, s40) == 0);
    CHECK(table_add(&t, "b", 1, DT_F32, 1, s20) == 1);
    table_at(&t, 1)->offset = 160; /* elements 40..59 */
    tensor_stats out[3];
    CHECK(stats_run(&t, NULL, out, 2, NULL, NULL) == 0);
    CHECK(out[0].min == 0 && out[0].max == 39 && out[0].mean == 19.5);
    CHECK(out[1].min == 40 && out[1].max == 59 && out[1].mean == 49.5);
    /* ending at the end is fine; 20 floats at 324 run 4 bytes past it */
    table_at(&t, 1)->offset = 320;
    CHECK(stats_run(&t, NULL, out, 2, NULL, NULL) == 0 && out[1].max == 99);
    table_at(&t, 1)->offset = 324;
    CHECK(stats_run(&t, NULL, out, 2, NULL, NULL) == -1);
    CHECK(strstr(err_msg(), "tensor 'b'") && strstr(err_msg(), "80 bytes at "
          "offset 324 run past the end (size 400)") && strstr(err_msg(), path));
    table_at(&t, 1)->offset = 0;
    CHECK(table_add(&t, "c", 1, DT_C64, 1, s2) == 2);
    CHECK(stats_run(&t, NULL, out, 0, NULL, NULL) == -1);
    CHECK(strstr(err_msg(), "tensor 'c'") && strstr(err_msg(), "C64"));
    table_free(&t);
    unlink(path);
}

int main(void)
{
    decoders();
    moments();
    on_file();
    return check_report_named("test_stats");
}
