/* The hook that shows the progress of long loads (px_set_load_progress):
 * readers report as they go, at most ten times a second, and always the end. */
#include <time.h>

#include "data/source_internal.h"

static px_progress_fn hook;
static void *hook_user;
static double last_report;

void px_set_load_progress(px_progress_fn fn, void *user) {
    hook = fn;
    hook_user = user;
    last_report = 0;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void px_load_progress(const char *what, int64_t done, int64_t total) {
    if (!hook) return;
    double now = seconds();
    if (done != total && now - last_report < 0.1) return;
    last_report = now;
    hook(hook_user, what, done, total);
}
