/* Status codes and the per-thread error message every fallible Plexus call leaves behind. */
#ifndef PLEXUS_STATUS_H
#define PLEXUS_STATUS_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum px_status {
    PX_OK = 0,
    PX_ERR_ARG,         /* an argument is invalid (NULL, out of range, unknown name) */
    PX_ERR_SHAPE,       /* shapes do not fit together */
    PX_ERR_NOMEM,       /* an allocation failed */
    PX_ERR_IO,          /* a file could not be opened, read or written */
    PX_ERR_FORMAT,      /* a file or string is malformed, truncated or foreign */
    PX_ERR_STATE,       /* the call does not fit the object's current state */
    PX_ERR_NUMERIC,     /* NaN or infinity where a finite value is required */
    PX_ERR_UNSUPPORTED, /* valid request that this build cannot carry out */
    PX_ERR_REMOTE       /* another process of a distributed job failed or stopped answering */
} px_status;

/* The message of the last failed call on this thread ("" when none). Valid until
 * the next failing call on the same thread. */
PX_API const char *px_last_error(void);

/* The status of the last failed call on this thread (PX_OK when none). */
PX_API px_status px_last_status(void);

/* Short name of a status, e.g. "shape error". */
PX_API const char *px_status_name(px_status s);

/* Records an error (printf-style message) for this thread and returns `s`, so a
 * function can `return px_set_error(PX_ERR_ARG, "...")`. User-written layers and
 * callbacks use it like the library does. */
PX_API px_status px_set_error(px_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Puts context in front of the current message ("<context>: <message>"), keeping
 * its status, and returns that status. The message is copied before the context is
 * formatted, so the context may include px_last_error() itself. */
PX_API px_status px_error_prefix(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Forgets the last error of this thread. */
PX_API void px_clear_error(void);

/* Warnings (something was left out or ignored, and the call still succeeded, e.g. a
 * model loaded without its unknown optimizer): one line each, printed to stderr as
 * "plexus: warning: <message>", or handed to the handler when one is set (NULL
 * restores stderr). The handler is process-wide; set it before other threads run. */
typedef void (*px_warning_fn)(const char *message, void *user);
PX_API void px_set_warning_handler(px_warning_fn fn, void *user);
PX_API void px_warn(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
