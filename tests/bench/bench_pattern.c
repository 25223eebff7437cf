/* bench_pattern.c: how long one pattern takes over a whole name list.
 *
 *   bench_pattern NAMES PATTERN [PASSES [BUDGET_MS]]
 *
 * NAMES is a file with one tensor name per line (the DeepSeek-V3-shaped
 * set has 91,991). The names go into a tensor table; then PASSES times
 * (default 50) pattern_match_table runs over the whole table. Prints
 *   bench_pattern: PATTERN: N names, M matched, min X ms, median Y ms
 * and exits 1 when the median is over BUDGET_MS (when given), 2 on a bad
 * input. Link against libtui.a.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../tui/core/err.h"
#include "../../tui/core/pattern.h"
#include "../../tui/core/table.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads one name a line into t. Returns 0, or -1 with err set. */
static int load_names(table *t, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[TABLE_MAX_NAME + 2];
    uint64_t shape[1] = {1};
    int rc = -1;
    if (!f)
        return err_set("%s: cannot open", path);
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        if (n == 0)
            continue;
        if (table_add(t, line, n, DT_F32, 1, shape) < 0) {
            err_prefix("%s", path);
            goto cleanup;
        }
    }
    rc = 0;
cleanup:
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    table t;
    bitset b = {0};
    pattern *p = NULL;
    double *ms = NULL, budget = 0;
    long passes = 50;
    size_t matched = 0, col = 0;
    int rc = 2;
    table_init(&t);
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: bench_pattern NAMES PATTERN [PASSES "
                "[BUDGET_MS]]\n");
        return 2;
    }
    if (argc >= 4)
        passes = strtol(argv[3], NULL, 10);
    if (argc >= 5)
        budget = strtod(argv[4], NULL);
    if (passes < 1 || passes > 100000) {
        fprintf(stderr, "bench_pattern: PASSES must be 1..100000\n");
        return 2;
    }
    if (load_names(&t, argv[1]) < 0) {
        fprintf(stderr, "bench_pattern: %s\n", err_msg());
        goto cleanup;
    }
    p = pattern_compile(argv[2], &col);
    if (!p) {
        fprintf(stderr, "bench_pattern: pattern '%s': %s\n", argv[2],
                err_msg());
        goto cleanup;
    }
    ms = malloc((size_t)passes * sizeof *ms);
    if (!ms || bitset_init(&b, t.count) < 0) {
        fprintf(stderr, "bench_pattern: out of memory\n");
        goto cleanup;
    }
    for (long i = 0; i < passes; i++) {
        double t0;
        bitset_zero(&b);
        t0 = now_ms();
        matched = pattern_match_table(p, &t, &b);
        ms[i] = now_ms() - t0;
    }
    qsort(ms, (size_t)passes, sizeof *ms, cmp_double);
    printf("bench_pattern: %s: %zu names, %zu matched, min %.3f ms, "
           "median %.3f ms\n", argv[2], t.count, matched, ms[0],
           ms[passes / 2]);
    rc = 0;
    if (budget > 0 && ms[passes / 2] > budget) {
        printf("bench_pattern: median over the %.1f ms budget\n", budget);
        rc = 1;
    }
cleanup:
    free(ms);
    bitset_free(&b);
    pattern_free(p);
    table_free(&t);
    return rc;
}
