/* check.h: a tiny unit-test harness (after redis's testhelp.h).
 *
 *   CHECK(cond);                 records one assertion
 *   CHECK_EQ_U64(got, want);     with both values printed on failure
 *   CHECK_STR(got, want);        string equality
 *   return check_report();       prints "NAME: N passed, N failed", 1 on
 *                                any failure
 * Each test_*.c is its own program; tests/run.sh runs them
 * all (with the CLI and parity tests) and sums their summary lines.
 */
#ifndef TUI_TESTS_CHECK_H
#define TUI_TESTS_CHECK_H

#undef NDEBUG
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            check_passed++;                                                \
        } else {                                                           \
            check_failed++;                                                \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                \
        }                                                                  \
    } while (0)

#define CHECK_EQ_U64(got, want)                                            \
    do {                                                                   \
        unsigned long long g_ = (unsigned long long)(got);                 \
        unsigned long long w_ = (unsigned long long)(want);                \
        if (g_ == w_) {                                                    \
            check_passed++;                                                \
        } else {                                                           \
            check_failed++;                                                \
            fprintf(stderr, "%s:%d: FAILED: %s == %s (got %llu, want %llu)\n", \
                    __FILE__, __LINE__, #got, #want, g_, w_);              \
        }                                                                  \
    } while (0)

#define CHECK_STR(got, want)                                               \
    do {                                                                   \
        const char *g_ = (got), *w_ = (want);                              \
        if (g_ && w_ && strcmp(g_, w_) == 0) {                             \
            check_passed++;                                                \
        } else {                                                           \
            check_failed++;                                                \
            fprintf(stderr, "%s:%d: FAILED: %s == \"%s\" (got \"%s\")\n",  \
                    __FILE__, __LINE__, #got, w_ ? w_ : "(null)",          \
                    g_ ? g_ : "(null)");                                   \
        }                                                                  \
    } while (0)

static inline int check_report_named(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#define check_report() check_report_named(__FILE__)

#endif
