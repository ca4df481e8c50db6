/* Internal: the parameter-gradient block summed over the replicas in buckets,
 * as PyTorch DDP does, so that the sums run while the backward pass goes on.
 * The backward pass finishes variables from the end of the block (the last
 * layers) towards its start; as soon as the finished part [floor, end) has
 * grown by a bucket's size beyond what was started, that piece's sum starts.
 * Cutting at what is finished, rather than at fixed offsets, makes buckets end
 * at layer boundaries. Every replica runs the same plan, so the pieces and
 * their order are the same on every replica, as collectives must be. */
#ifndef PX_DIST_BUCKETS_H
#define PX_DIST_BUCKETS_H

#include "dist/comm.h"
#include "plexus/graph.h"

typedef struct px_buckets {
    int n_vars;
    int64_t *lo, *hi;     /* trainable variable v covers [lo[v], hi[v]) of the block, by offset */
    bool *done;           /* v's gradient is final in this run */
    int low;              /* variables low.. are all final */
    int64_t started;      /* [started, n_trainable) is summed or being summed */
    int64_t floats;       /* bucket size */
    int n_started;        /* sums started in this run */
    int64_t last_count;   /* floats of the sum started last (after the last backward step: none hides it) */
    int64_t n_trainable;  /* the block the table was made for */
    unsigned generation;  /* the graph's parameter layout it was made for */
} px_buckets;

/* The trainable variables of g, for buckets of about `bytes` (0: 1/16 of the
 * block, at least 64 KiB and at most 16 MiB). */
px_status px_buckets_build(px_buckets *b, px_graph *g, int64_t bytes);
void px_buckets_free(px_buckets *b);
/* A new run: nothing final, nothing started. */
void px_buckets_reset(px_buckets *b);
/* The variable at [offset, offset + count) is final; with start_now, starts the
 * sum of the finished part when it has grown by a bucket. */
px_status px_buckets_ready(px_buckets *b, const px_allreduce_ops *ar, float *block, int64_t offset, int64_t count,
                           bool start_now);
/* Starts the sum of everything not started yet. */
px_status px_buckets_start_rest(px_buckets *b, const px_allreduce_ops *ar, float *block);

#endif
