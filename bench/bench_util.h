/* Timing helpers shared by the benchmark programs: a monotonic clock and the
 * process's CPU time in seconds, and the comparison qsort needs to take medians. */
#ifndef PX_BENCH_UTIL_H
#define PX_BENCH_UTIL_H

#include <time.h>

#include "core/clock.h"

static inline double now(void) { return px_clock_seconds(); }

/* CPU time of every thread of this process: robust to a busy machine */
static inline double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int by_value(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

#endif
