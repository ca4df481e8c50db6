/* Internal: how the replicas of distributed training talk. mpi_comm.c
 * implements it over MPI (dist_nompi.c refuses it in builds without MPI).
 * Every wait watches for a failure message from another rank and for a
 * timeout, so that no rank waits forever for one that failed or hangs. The
 * gradient all-reduce is a separate small table (px_allreduce_ops) so that a
 * device backend can put its own library (NCCL) behind it. */
#ifndef PX_DIST_COMM_H
#define PX_DIST_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexus/status.h"

typedef struct px_comm px_comm;

/* Whether this build has MPI. */
bool px_comm_available(void);
/* Starts MPI if needed (argc/argv may be NULL). */
px_status px_comm_init(int *argc, char ***argv);
bool px_comm_initialized(void);
/* The world's rank and size (0 and 1 before px_comm_init). */
int px_comm_world_rank(void);
int px_comm_world_size(void);
/* A communicator over every rank (its own copy of the world, so its messages
 * never mix with the program's), with a channel for failure messages. A wait
 * gives up after `timeout` seconds. */
px_comm *px_comm_new(double timeout);
void px_comm_free(px_comm *c);
int px_comm_rank(const px_comm *c);
int px_comm_size(const px_comm *c);

/* Collectives: every rank calls them in the same order. */
px_status px_comm_bcast(px_comm *c, void *buf, size_t bytes, int root);
/* all[r * bytes ...] = rank r's `mine`. */
px_status px_comm_allgather(px_comm *c, const void *mine, size_t bytes, void *all);

/* This rank failed (st and px_last_error()'s message): tells every other rank,
 * whose waits then fail with PX_ERR_REMOTE naming this rank. Later calls on c
 * fail at once. Returns st. */
px_status px_comm_fail(px_comm *c, px_status st);
/* Whether c failed, and if so sets the error it failed with again and returns
 * its status (PX_ERR_REMOTE when another rank failed first). */
px_status px_comm_status(const px_comm *c);
/* True when the failure was a timeout or lost contact (a rank may hang). */
bool px_comm_unreachable(const px_comm *c);

/* Sums of float arrays over the replicas, in place, started without waiting;
 * the result is the same on every replica. */
typedef struct px_allreduce_ops {
    void *ctx;
    /* Starts summing buf[0..count). */
    px_status (*start)(void *ctx, float *buf, int64_t count);
    /* Lets the started sums progress (called between backward steps). */
    void (*progress)(void *ctx);
    /* Waits until every started sum is done. */
    px_status (*wait_all)(void *ctx);
} px_allreduce_ops;

/* The all-reduce over c's ranks. */
px_allreduce_ops px_comm_allreduce_ops(px_comm *c);

/* The job-wide end: every rank says whether it got here without a failure;
 * PX_OK when all did, else the first failure (see px_dist_finalize). */
px_status px_comm_finish(px_comm *c, px_status mine);
/* Ends MPI; with `abandon` (after a rank stopped answering) it leaves MPI as
 * it is, since MPI_Finalize would wait for that rank: the process's exit then
 * ends the job under mpirun. */
void px_comm_shutdown(bool abandon);

#endif
