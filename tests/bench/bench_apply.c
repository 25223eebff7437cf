/* bench_apply.c: in-process cost of opening a checkpoint, building its
 * session and applying freeze rules to it.
 *
 *   bench_apply [-r RUNS] [-t TSV] CHECKPOINT [PATTERN...]
 *
 * Opens CHECKPOINT (made for the DeepSeek-V3-shaped set, 91,991 tensors
 * over 163 shards) with formats_open OPENS times (median), times
 * tree_build on the table RUNS times, then session_init once, and for
 * each rule times session_apply_rule RUNS times after one warm-up, with
 * session_undo between runs (the undo is timed too). The rules are the
 * freeze PATTERNs given, or by default
 *   model.layers.{3..61}.mlp.experts.{0..127}   (~45,000 tensors)
 *   **.weight_scale_inv
 *   re:^lm_head
 *   **                                          (freeze everything)
 * followed by one invert (toggle every parameter).
 *
 * Prints a Markdown table on stdout; with -t, also one tab-separated line
 * per row to TSV (what, rule, matched, median ms, min ms, undo median ms)
 * for tests/bench/bench_apply.py. Exit status: 0, or 2 on a bad input or
 * a failed open/apply (the message names it). Not a pass/fail test.
 * Link against libtui.a and yaml-0.1 libcjson zlib nettle, -lm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../../tui/core/err.h"
#include "../../tui/core/session.h"
#include "../../tui/core/table.h"
#include "../../tui/core/tree.h"
#include "../../tui/formats/formats.h"

#define OPENS 5
#define MAX_RUNS 10000

static const char *const default_rules[] = {
    "model.layers.{3..61}.mlp.experts.{0..127}",
    "**.weight_scale_inv",
    "re:^lm_head",
    "**",
};

typedef struct {
    double median, min;
} stat;

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

/* Sorts ms[0..n) and returns its median and minimum. */
static stat summarize(double *ms, size_t n)
{
    stat s;
    qsort(ms, n, sizeof *ms, cmp_double);
    s.min = ms[0];
    s.median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
    return s;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru))
        return 0;
    return (double)ru.ru_maxrss / 1024.0;
}

static void row(FILE *tsv, const char *what, const char *rule,
                size_t matched, stat s, const stat *undo)
{
    printf("| %s | `%s` | %zu | %.3f | %.3f | ", what, rule, matched,
           s.median, s.min);
    if (undo)
        printf("%.3f |\n", undo->median);
    else
        printf("- |\n");
    if (tsv)
        fprintf(tsv, "%s\t%s\t%zu\t%.4f\t%.4f\t%.4f\n", what, rule, matched,
                s.median, s.min, undo ? undo->median : -1.0);
}

/* Opens path OPENS times; keeps the last table in *t. Returns 0 or -1. */
static int time_open(const char *path, table *t, stat *out)
{
    double ms[OPENS];
    for (int i = 0; i < OPENS; i++) {
        double t0;
        table_free(t);
        table_init(t);
        t0 = now_ms();
        if (formats_open(path, t))
            return -1;
        ms[i] = now_ms() - t0;
    }
    *out = summarize(ms, OPENS);
    return 0;
}

/* Builds and frees the tree of t `runs` times. Returns 0 or -1. */
static int time_tree(const table *t, double *ms, long runs, size_t *nodes,
                     stat *out)
{
    for (long i = 0; i < runs; i++) {
        tree tr;
        double t0 = now_ms();
        if (tree_build(&tr, t)) {
            tree_free(&tr);
            return -1;
        }
        ms[i] = now_ms() - t0;
        *nodes = tr.count;
        tree_free(&tr);
    }
    *out = summarize(ms, (size_t)runs);
    return 0;
}

/* Applies one rule runs + 1 times (the first is a warm-up), undoing
 * after each. Returns 0 or -1 with err set. */
static int time_rule(session *s, plan_rule_kind kind, const char *src,
                     double *ms, double *ums, long runs, size_t *matched,
                     stat *out, stat *undo)
{
    for (long i = -1; i < runs; i++) {
        session_result res;
        double t0 = now_ms(), t1;
        if (session_apply_rule(s, kind, src, 0, &res))
            return -1;
        t1 = now_ms();
        if (session_undo(s, NULL) != 1)
            return err_set("undo did nothing");
        if (i < 0)
            continue;
        ms[i] = t1 - t0;
        ums[i] = now_ms() - t1;
        *matched = kind == PLAN_INVERT ? res.change.tensors_changed
                                       : res.matched_tensors;
    }
    *out = summarize(ms, (size_t)runs);
    *undo = summarize(ums, (size_t)runs);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *tsv_path = NULL;
    const char *const *rules = default_rules;
    size_t nrules = sizeof default_rules / sizeof *default_rules, nodes = 0;
    long runs = 25;
    double *ms = NULL, *ums = NULL, rss_open;
    FILE *tsv = NULL;
    table t;
    session s;
    stat st, ust;
    int argi = 1, rc = 2, have_session = 0;
    table_init(&t);
    memset(&s, 0, sizeof s);
    while (argi < argc && argv[argi][0] == '-' && argv[argi][1]) {
        if (strcmp(argv[argi], "-r") == 0 && argi + 1 < argc)
            runs = strtol(argv[argi + 1], NULL, 10);
        else if (strcmp(argv[argi], "-t") == 0 && argi + 1 < argc)
            tsv_path = argv[argi + 1];
        else
            break;
        argi += 2;
    }
    if (argi >= argc || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: bench_apply [-r RUNS (1..%d)] [-t TSV] "
                "CHECKPOINT [PATTERN...]\n", MAX_RUNS);
        return 2;
    }
    path = argv[argi++];
    if (argi < argc) {
        rules = (const char *const *)&argv[argi];
        nrules = (size_t)(argc - argi);
    }
    ms = malloc((size_t)runs * sizeof *ms);
    ums = malloc((size_t)runs * sizeof *ums);
    if (!ms || !ums) {
        fprintf(stderr, "bench_apply: out of memory\n");
        goto cleanup;
    }
    if (tsv_path && !(tsv = fopen(tsv_path, "w"))) {
        fprintf(stderr, "bench_apply: %s: cannot write\n", tsv_path);
        goto cleanup;
    }

    if (time_open(path, &t, &st)) {
        fprintf(stderr, "bench_apply: %s\n", err_msg());
        goto cleanup;
    }
    rss_open = peak_rss_mb();
    printf("bench_apply: %s: %zu tensors, %zu files; median of %ld runs "
           "(open: %d), undo between applies\n\n", path, t.count,
           t.nfiles, runs, OPENS);
    printf("| step | rule | tensors | median ms | min ms | undo ms |\n");
    printf("|---|---|---:|---:|---:|---:|\n");
    row(tsv, "open", "formats_open", t.count, st, NULL);
    if (time_tree(&t, ms, runs, &nodes, &st)) {
        fprintf(stderr, "bench_apply: tree_build: %s\n", err_msg());
        goto cleanup;
    }
    row(tsv, "tree", "tree_build", nodes, st, NULL);
    {
        size_t count = t.count;
        double t0 = now_ms();
        have_session = 1;
        if (session_init(&s, &t, path)) {
            fprintf(stderr, "bench_apply: session_init: %s\n", err_msg());
            goto cleanup;
        }
        st.median = st.min = now_ms() - t0;
        row(tsv, "session", "session_init (once)", count, st, NULL);
    }
    for (size_t i = 0; i <= nrules; i++) {
        plan_rule_kind kind = i < nrules ? PLAN_FREEZE : PLAN_INVERT;
        const char *src = i < nrules ? rules[i] : NULL;
        size_t matched = 0;
        if (time_rule(&s, kind, src, ms, ums, runs, &matched, &st, &ust)) {
            fprintf(stderr, "bench_apply: %s\n", err_msg());
            goto cleanup;
        }
        row(tsv, kind == PLAN_INVERT ? "invert" : "freeze",
            src ? src : "invert", matched, st, &ust);
    }
    printf("\nbench_apply: peak RSS %.1f MB after the opens, %.1f MB at "
           "the end\n", rss_open, peak_rss_mb());
    rc = 0;
cleanup:
    if (tsv && fclose(tsv) && rc == 0) {
        fprintf(stderr, "bench_apply: %s: write failed\n", tsv_path);
        rc = 2;
    }
    if (have_session)
        session_free(&s);
    table_free(&t);
    free(ms);
    free(ums);
    return rc;
}
