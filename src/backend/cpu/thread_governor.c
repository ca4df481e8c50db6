/* The adaptive thread count of training on a busy machine (see thread_governor.h). */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include "backend/cpu/thread_governor.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <dirent.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "plexus/backend.h"

/* Steps per measurement: running at the chosen count, trying one thread (cheap
 * when it loses), trying the configured count (expensive when it loses: a
 * contended step can take ten or more one-thread steps, so such a try ends
 * after its first step when that step is TRY_ABORT times the chosen count's). */
#define WINDOW_RUN 16
#define WINDOW_TRY_ONE 8
#define WINDOW_TRY_MULTI 2
#define TRY_ABORT 2.0
/* The wait before trying the other count again, in seconds: it doubles after
 * each lost try of that count, from HOLD_MIN to HOLD_MAX (so a machine that
 * becomes free again is noticed within HOLD_MAX), and is at least TRY_SHARE
 * times what the last lost try cost (so tries take at most about 1/TRY_SHARE
 * of the time). */
#define HOLD_MIN 0.05
#define HOLD_MAX 10.0
#define TRY_SHARE 40.0
/* At the configured count, a window this many times slower than the last one
 * (another process took a core) brings the next try of one thread forward. */
#define JUMP 1.5

typedef struct governor {
    int configured, active; /* the threads asked for; those in use */
    bool enabled, alternate, trying, skip, warming, warned;
    int steps, window;
    int64_t start;          /* the window's start (ns) */
    int64_t try_start;      /* the try's start, its warm-up step included (ns) */
    int64_t next_try;       /* when to try the other count (ns) */
    double t_run;           /* mean step seconds at the chosen count, last window */
    double backoff[2];      /* the hold after a lost try of one thread [0], of the configured count [1] */
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

static void start_window(int window, int64_t now) {
    gov.steps = 0;
    gov.window = window;
    gov.start = now;
}

#ifdef __linux__
/* How many of this process's threads other than the caller are runnable now
 * (state R in /proc/self/task/<id>/stat): an OpenMP worker still spinning
 * after the last parallel region, or the prefetch thread, is ours, not a
 * competitor for the core. */
static int own_running_others(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return 0;
    long self = (long)syscall(SYS_gettid);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        long id = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || id == self) continue;
        char path[64], buf[256];
        snprintf(path, sizeof path, "/proc/self/task/%ld/stat", id);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = 0;
        const char *paren = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
        if (paren && paren[1] == ' ' && paren[2] == 'R') n++;
    }
    closedir(d);
    return n;
}
#endif

/* Whether a core seems free for more threads: Linux's count of runnable
 * threads now (/proc/loadavg's "running/total", the caller included, this
 * process's other runnable threads left out) beside the cores this process may
 * run on. A try of the configured count on a machine with no free core would
 * cost a contended step (tens of one-thread steps); this look costs tens of
 * microseconds. Elsewhere, or without the file: yes (the try measures). */
static bool core_free_now(void) {
#ifdef __linux__
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return true;
    double load[3];
    int running = 0, total = 0;
    int got = fscanf(f, "%lf %lf %lf %d/%d", &load[0], &load[1], &load[2], &running, &total);
    fclose(f);
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    return got != 5 || cpus <= 0 || running - own_running_others() < cpus;
#else
    return true;
#endif
}

static bool (*core_free)(void) = core_free_now;

void px_thread_governor_set_probe(bool (*probe)(void)) {
    core_free = probe ? probe : core_free_now;
    gov.configured = 0; /* the next fit measures afresh */
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
        /* With a core free, the configured count first: on an idle machine
         * its steps are the fast ones from the start. Else one thread first,
         * briefly: its step time is what the configured count must beat. */
        gov.configured = n;
        gov.active = n > 1 && core_free() ? n : 1;
        gov.backoff[0] = gov.backoff[1] = HOLD_MIN;
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
    /* a fit's first step also builds and warms what the others reuse: not measured */
    gov.skip = true;
}

/* The try ends: keep the tried count if it was faster, else go back. */
static void end_try(double mean, bool aborted, int64_t now) {
    gov.trying = false;
    int d = gov.active > 1; /* the direction tried: 0 one thread, 1 the configured count */
    double cost = (double)(now - gov.try_start) * 1e-9 - (gov.steps + 1) * gov.t_run;
    if (!aborted && mean < gov.t_run) {
        gov.backoff[d] = HOLD_MIN;
        gov.t_run = mean;
    } else {
        set_active(gov.prev);
        gov.backoff[d] = gov.backoff[d] * 2 > HOLD_MAX ? HOLD_MAX : gov.backoff[d] * 2;
    }
    /* the next try goes the other way from the count now running */
    double hold = gov.backoff[gov.active > 1 ? 0 : 1];
    if (cost * TRY_SHARE > hold) hold = cost * TRY_SHARE > HOLD_MAX ? HOLD_MAX : cost * TRY_SHARE;
    gov.next_try = now + (int64_t)(hold * 1e9);
    start_window(WINDOW_RUN, now);
}

void px_thread_governor_step(void) {
    if (!gov.enabled) return;
    if (gov.alternate) {
        set_active(gov.active > 1 ? 1 : gov.configured);
        return;
    }
    int64_t now = now_ns();
    if (gov.skip) { /* the fit's first step: windows start after it */
        gov.skip = false;
        gov.warming = false;
        /* A try that the last fit left unfinished goes on from here: its cost
         * counts from this step, which stands in for its warm-up step (end_try
         * counts one), not from its start in the last fit, which would count
         * the time between the fits and hold the next try for up to HOLD_MAX. */
        if (gov.trying) gov.try_start = now - (int64_t)(gov.t_run * 1e9);
        start_window(gov.trying ? gov.window : gov.t_run > 0 ? WINDOW_RUN : WINDOW_TRY_ONE, now);
        return;
    }
    if (gov.warming) {
        /* A try's first step moves the data between the cores' caches and
         * wakes the team (twice a steady two-thread step on the course's
         * MLP): it is left out of the try's mean, but a contended first step
         * of the configured count still ends the try. */
        gov.warming = false;
        bool contended = gov.active > 1 && (double)(now - gov.start) * 1e-9 > TRY_ABORT * gov.t_run;
        if (contended) {
            gov.steps = 0; /* end_try's cost counts the warm-up step itself */
            end_try((double)(now - gov.start) * 1e-9, true, now);
        } else {
            start_window(gov.window, now);
        }
        return;
    }
    gov.steps++;
    double mean = (double)(now - gov.start) * 1e-9 / gov.steps;
    if (gov.trying) {
        bool aborted = gov.active > 1 && mean > TRY_ABORT * gov.t_run;
        if (gov.steps >= gov.window || aborted) end_try(mean, aborted, now);
        return;
    }
    if (gov.steps < gov.window) return;
    if (gov.active > 1 && gov.t_run > 0 && mean > JUMP * gov.t_run) gov.next_try = now;
    gov.t_run = mean;
    start_window(WINDOW_RUN, now);
    if (now < gov.next_try) return;
    if (gov.active == 1 && !core_free()) {
        /* no core to gain: no try, and the hold doubles as after a lost try (a
         * loaded machine is free for moments: looking often would find them
         * and try often, each try a contended step) */
        gov.backoff[1] = gov.backoff[1] * 2 > HOLD_MAX ? HOLD_MAX : gov.backoff[1] * 2;
        gov.next_try = now + (int64_t)(gov.backoff[1] * 1e9);
        return;
    }
    gov.trying = true;
    gov.warming = true;
    gov.prev = gov.active;
    gov.try_start = now;
    set_active(gov.active > 1 ? 1 : gov.configured);
    start_window(gov.active > 1 ? WINDOW_TRY_MULTI : WINDOW_TRY_ONE, now);
}

void px_thread_governor_end(void) {
    if (gov.enabled && gov.active != gov.configured) px_threads_set_active(gov.configured);
}

int64_t px_thread_governor_switches(void) { return gov.switches; }
