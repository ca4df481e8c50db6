/* Internal: runs a file-reading job once in a forked child first, so that a
 * crash or endless loop inside libhdf5 on a corrupt file becomes an error here. */
#ifndef PX_IO_ISOLATE_H
#define PX_IO_ISOLATE_H

#include <stdbool.h>

#include "plexus/status.h"

/* The job: reads `path` completely (the same calls as the real load) and
 * returns PX_OK or sets an error. It runs in the child, whose memory is a
 * copy: anything it builds or changes is thrown away. */
typedef px_status (*px_isolate_fn)(void *arg);

/* Runs job(arg) in a child process and waits for it:
 *  - the child succeeded: PX_OK, and the caller now does the real load;
 *  - the child failed: its status and its message, text unchanged;
 *  - the child crashed: PX_ERR_FORMAT "libhdf5 crashed (signal N) reading '<path>': ...";
 *  - it ran past the limit (PX_LOAD_TIMEOUT seconds, default 60; 0: none):
 *    killed, PX_ERR_FORMAT "... did not finish within N s ...";
 *  - fork or pipe failed: PX_ERR_IO (PX_ERR_NOMEM) saying so.
 * PX_LOAD_ISOLATION=0 in the environment, or a platform without fork, skips
 * the child: PX_OK at once and the real load runs unprotected.
 * Never call it from a child it started (the job must not nest it). */
px_status px_isolate_run(const char *path, px_isolate_fn job, void *arg);

/* Whether px_isolate_run forks at all (the platform has fork and
 * PX_LOAD_ISOLATION is not "0"). */
bool px_isolate_enabled(void);

/* Warnings from this process are dropped (src/core/error.c): the isolated child's. */
void px_warnings_quiet(void);

#endif
