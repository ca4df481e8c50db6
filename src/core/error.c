/* Per-thread error state: the status and message of the last failed call. */
#include <stdarg.h>
#include <stdio.h>

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
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_status = s;
    return s;
}

void px_clear_error(void) {
    last_message[0] = '\0';
    last_status = PX_OK;
}
