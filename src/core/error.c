/* Per-thread error state: the status and message of the last failed call; and
 * warnings, one line each, to stderr or the host's handler. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/isolate.h"
#include "plexus/status.h"

static _Thread_local char last_message[1024];
static _Thread_local px_status last_status = PX_OK;

const char *px_last_error(void) { return last_message; }

px_status px_last_status(void) { return last_status; }

const char *px_status_name(px_status s) {
    switch (s) {
    case PX_OK: return "ok";
    case PX_ERR_ARG: return "invalid argument";
    case PX_ERR_SHAPE: return "shape error";
    case PX_ERR_NOMEM: return "out of memory";
    case PX_ERR_IO: return "I/O error";
    case PX_ERR_FORMAT: return "format error";
    case PX_ERR_STATE: return "invalid state";
    case PX_ERR_NUMERIC: return "numeric error";
    case PX_ERR_UNSUPPORTED: return "unsupported";
    case PX_ERR_REMOTE: return "remote failure";
    }
    return "unknown status";
}

px_status px_set_error(px_status s, const char *fmt, ...) {
    if (!fmt) { /* a caller's mistake, but the status still deserves a message */
        snprintf(last_message, sizeof last_message, "%s (px_set_error was given no message)", px_status_name(s));
        last_status = s;
        return s;
    }
    /* formatted aside first: an argument may be px_last_error() itself, and
     * formatting into the buffer being read is undefined (it garbled messages) */
    char msg[sizeof last_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last_message, msg, sizeof msg);
    last_status = s;
    return s;
}

px_status px_error_prefix(const char *fmt, ...) {
    /* the message is copied first: formatting into the buffer being read is what
     * garbled messages such as "layer 'c' (Conv1D): layer 'c' (Conv1D): 1) needs" */
    px_status s = last_status ? last_status : PX_ERR_STATE;
    if (!fmt) { /* no context (a caller's mistake): the message stays as it is */
        if (!last_message[0])
            snprintf(last_message, sizeof last_message, "%s (px_error_prefix was given no context)", px_status_name(s));
        last_status = s;
        return s;
    }
    char old[sizeof last_message], prefix[sizeof last_message];
    snprintf(old, sizeof old, "%s", last_message);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char both[2 * sizeof last_message + 4];
    snprintf(both, sizeof both, "%s: %s", prefix, old);
    size_t n = strlen(both);
    if (n >= sizeof last_message) n = sizeof last_message - 1;
    memcpy(last_message, both, n);
    last_message[n] = '\0';
    last_status = s;
    return s;
}

void px_clear_error(void) {
    last_message[0] = '\0';
    last_status = PX_OK;
}

static px_warning_fn warn_fn;
static void *warn_user;
static bool warn_quiet;

void px_set_warning_handler(px_warning_fn fn, void *user) {
    warn_fn = fn;
    warn_user = user;
}

void px_warnings_quiet(void) { warn_quiet = true; }

void px_warn(const char *fmt, ...) {
    if (warn_quiet || !fmt) return; /* no message (a caller's mistake): nothing to say */
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++)
        if (*c == '\n') *c = ' '; /* one line each */
    if (warn_fn) warn_fn(msg, warn_user);
    else fprintf(stderr, "plexus: warning: %s\n", msg);
}
