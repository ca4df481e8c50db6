/* Helpers shared by the benchmark programs: their --help, a monotonic clock
 * and the process's CPU time in seconds, the comparison qsort needs to take
 * medians, and a fit callback that times each epoch. */
#ifndef PX_BENCH_UTIL_H
#define PX_BENCH_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <plexus/plexus.h>

#include "core/clock.h"

/* True, with `usage` printed, when an argument asks for help (--help or -h):
 * the caller returns 0 instead of starting a long measurement. */
static inline bool bench_help(int argc, char **argv, const char *usage) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return true;
        }
    return false;
}

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

/* The wall and CPU time of the last epoch fit ran (bench_epoch_timer_callback). */
typedef struct bench_epoch_timer {
    double start, last, cpu_start, cpu_last;
} bench_epoch_timer;

static inline px_status bench_epoch_begin(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)m, (void)epoch, (void)logs;
    ((bench_epoch_timer *)cb->state)->start = now();
    ((bench_epoch_timer *)cb->state)->cpu_start = cpu_now();
    return PX_OK;
}

static inline px_status bench_epoch_end(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)m, (void)epoch, (void)logs;
    bench_epoch_timer *t = cb->state;
    t->last = now() - t->start;
    t->cpu_last = cpu_now() - t->cpu_start;
    return PX_OK;
}

/* A callback for px_fit_options that keeps its times in *t (borrowed). */
static inline px_callback bench_epoch_timer_callback(bench_epoch_timer *t) {
    return (px_callback){.name = "timer", .state = t, .on_epoch_begin = bench_epoch_begin, .on_epoch_end = bench_epoch_end};
}

#endif
