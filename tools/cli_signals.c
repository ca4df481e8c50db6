/* SIGINT and SIGTERM handling of `plexus train` (see cli_signals.h). */
#include "cli_signals.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static px_model *volatile target;
static volatile sig_atomic_t caught;
static struct sigaction old_int, old_term;

static void on_signal(int sig) {
    if (caught) _exit(128 + sig); /* the second signal: at once, nothing saved */
    caught = sig;
    if (target) px_model_interrupt(target);
}

void cli_signals_install(px_model *m) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    caught = 0;
    target = m;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

void cli_signals_restore(void) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    target = NULL;
}

int cli_signals_caught(void) { return caught; }

const char *cli_signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

/* ---- the test hook ---- */

#define MAX_RAISES 8

typedef struct raise_hook {
    px_callback cb;
    long steps;
    long at[MAX_RAISES];
    int sig[MAX_RAISES], n;
} raise_hook;

static px_status hook_batch_end(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    (void)m, (void)batch, (void)logs;
    raise_hook *h = cb->state;
    h->steps++;
    for (int i = 0; i < h->n; i++)
        if (h->at[i] == h->steps) raise(h->sig[i]);
    return PX_OK;
}

static void hook_destroy(px_callback *cb) { free(cb->state); }

px_callback *cli_signal_test_hook(void) {
    const char *s = getenv("PLEXUS_TEST_RAISE_AT_STEP");
    if (!s || !*s) return NULL;
    raise_hook *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    while (*s && h->n < MAX_RAISES) {
        char *end;
        long at = strtol(s, &end, 10);
        if (end == s || *end != ':') break;
        s = end + 1;
        h->sig[h->n] = strncmp(s, "TERM", 4) == 0 ? SIGTERM : SIGINT;
        h->at[h->n++] = at;
        s += strcspn(s, ",");
        if (*s == ',') s++;
    }
    h->cb = (px_callback){.name = "TestRaise", .state = h, .on_batch_end = hook_batch_end, .destroy = hook_destroy};
    return &h->cb;
}
