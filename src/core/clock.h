/* Internal: a monotonic clock in seconds, for timeouts, progress display and
 * measurements (never the time of day, which can jump). */
#ifndef PX_CORE_CLOCK_H
#define PX_CORE_CLOCK_H

#include <time.h>

static inline double px_clock_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#endif
