/* Internal: the parameter-gradient block cut into buckets for the all-reduce,
 * as PyTorch DDP does: whole variables grouped, from the end of the block (the
 * last layers, whose gradients the backward pass finishes first) to its start,
 * into buckets of about a given size. A bucket's sum starts as soon as all its
 * variables are final, while the backward pass goes on with earlier layers. */
#ifndef PX_DIST_BUCKETS_H
#define PX_DIST_BUCKETS_H

#include "dist/comm.h"
#include "plexus/graph.h"

typedef struct px_buckets {
    int n;
    int64_t *lo, *hi;     /* bucket b covers [lo[b], hi[b]) of the block; lo falls as b grows */
    int64_t *pending;     /* elements of bucket b not final yet in this run */
    bool *started;
    int64_t n_trainable;  /* the block the buckets were cut for */
    unsigned generation;  /* the graph's parameter layout they were cut for */
} px_buckets;

/* Cuts the trainable block of g into buckets of about `bytes`. */
px_status px_buckets_build(px_buckets *b, px_graph *g, int64_t bytes);
void px_buckets_free(px_buckets *b);
/* A new run: every element pending again. */
void px_buckets_reset(px_buckets *b);
/* [offset, offset + count) of the block is final; starts the sum of the bucket
 * this completes (when `start_now`). */
px_status px_buckets_ready(px_buckets *b, const px_allreduce_ops *ar, float *block, int64_t offset, int64_t count,
                           bool start_now);
/* Starts every bucket not started yet, in order. */
px_status px_buckets_start_rest(px_buckets *b, const px_allreduce_ops *ar, float *block);

#endif
