/* The adaptive thread count of training on a busy machine (see thread_governor.h). */
#include "backend/cpu/thread_governor.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plexus/backend.h"

/* Steps per measurement: running at the chosen count, trying one thread (cheap
 * when it loses), trying the configured count (expensive when it loses: a
 * contended step can take ten one-thread steps). */
#define WINDOW_RUN 16
#define WINDOW_TRY_ONE 8
#define WINDOW_TRY_MULTI 2
/* The longest hold, in windows of WINDOW_RUN steps. */
#define MAX_HOLD 256

typedef struct governor {
    int configured, active; /* the threads asked for; those in use */
    bool enabled, alternate, trying, fresh, warned;
    int steps, window;
    int64_t start;          /* the window's start (ns) */
    double t_run;           /* mean step seconds at the chosen count, last window */
    int hold, backoff;      /* windows left before the next try; the hold after a lost try */
    int prev;               /* the count before a try */
    int64_t switches;
} governor;

static _Thread_local governor gov;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_active(int n) {
    if (n == gov.active) return;
    gov.active = n;
    gov.switches++;
    px_threads_set_active(n);
}

static void start_window(int window) {
    gov.steps = 0;
    gov.window = window;
    gov.start = now_ns();
}

void px_thread_governor_begin(void) {
    const char *p = getenv("PLEXUS_THREAD_POLICY");
    int n = px_num_threads();
    if (n != gov.configured) { /* a new count (or the first fit): measure afresh */
        int64_t switches = gov.switches;
        bool warned = gov.warned;
        memset(&gov, 0, sizeof gov);
        gov.switches = switches;
        gov.warned = warned;
        /* one thread first, briefly: its step time is what the configured count must beat */
        gov.configured = n;
        gov.active = 1;
        gov.backoff = 1;
        gov.hold = 1;
        gov.fresh = true;
    }
    gov.alternate = p && strcmp(p, "alternate") == 0; /* test hook: a switch at every step */
    bool fixed = p && strcmp(p, "fixed") == 0;
    if (p && *p && !fixed && !gov.alternate && strcmp(p, "adaptive") != 0 && !gov.warned) {
        fprintf(stderr, "plexus: warning: PLEXUS_THREAD_POLICY=%s is neither adaptive nor fixed; using adaptive\n", p);
        gov.warned = true;
    }
    gov.enabled = n > 1 && !fixed;
    if (!gov.enabled) return;
    if (gov.active != n) px_threads_set_active(gov.active); /* where the last fit left it */
    start_window(gov.trying ? gov.window : gov.fresh ? WINDOW_TRY_ONE : WINDOW_RUN);
    gov.fresh = false;
}

void px_thread_governor_step(void) {
    if (!gov.enabled) return;
    if (gov.alternate) {
        set_active(gov.active > 1 ? 1 : gov.configured);
        return;
    }
    if (++gov.steps < gov.window) return;
    double mean = (double)(now_ns() - gov.start) * 1e-9 / gov.steps;
    if (gov.trying) {
        gov.trying = false;
        bool multi = gov.active > 1;
        if (mean < gov.t_run) { /* the other count won: run at it */
            if (multi) gov.backoff = 1;
            gov.t_run = mean;
        } else { /* it lost: back; a lost try of the configured count doubles the hold */
            set_active(gov.prev);
            if (multi) gov.backoff = gov.backoff * 2 > MAX_HOLD ? MAX_HOLD : gov.backoff * 2;
        }
        gov.hold = gov.backoff;
        start_window(WINDOW_RUN);
        return;
    }
    gov.t_run = mean;
    if (--gov.hold > 0) {
        start_window(WINDOW_RUN);
        return;
    }
    gov.trying = true;
    gov.prev = gov.active;
    set_active(gov.active > 1 ? 1 : gov.configured);
    start_window(gov.active > 1 ? WINDOW_TRY_MULTI : WINDOW_TRY_ONE);
}

void px_thread_governor_end(void) {
    if (gov.enabled && gov.active != gov.configured) px_threads_set_active(gov.configured);
}

int64_t px_thread_governor_switches(void) { return gov.switches; }
