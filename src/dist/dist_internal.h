/* Internal: the job-wide state of distributed training (src/dist/dist.c). */
#ifndef PX_DIST_INTERNAL_H
#define PX_DIST_INTERNAL_H

#include "dist/comm.h"
#include "plexus/dist.h"

/* The job's communicator, made (and MPI started) on first use; strategies and
 * px_dist_finalize share it, so a failure seen by one is known to the other.
 * timeout 0: PX_DIST_TIMEOUT or 300 s. NULL with the error set. */
px_comm *px_dist_job(double timeout);

#endif
