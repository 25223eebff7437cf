/* timing.h: wall-clock timing for the unit tests that print timings
 * (test_tree, test_freeze). Header-only. */
#ifndef TUI_TESTS_TIMING_H
#define TUI_TESTS_TIMING_H

#include <time.h>

/* What the printed timings were measured on, for the printed line. */
#if defined(__SANITIZE_ADDRESS__)
#define TIMING_BUILD_KIND "sanitized build, slower"
#elif defined(__OPTIMIZE__)
#define TIMING_BUILD_KIND "optimized build"
#else
#define TIMING_BUILD_KIND "unoptimized build"
#endif

/* Milliseconds on the monotonic clock, from an arbitrary start. Cannot
 * fail. */
static inline double timing_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
