/* Internal: what a training session needs to run as one replica of several in
 * data-parallel training. A distribution strategy (src/dist) fills the hooks;
 * ops and sessions call them and know nothing of how replicas talk. */
#ifndef PX_GRAPH_REPLICAS_H
#define PX_GRAPH_REPLICAS_H

#include <stdbool.h>
#include <stdint.h>

#include "plexus/graph.h"

typedef struct px_replica_hooks {
    int rank, size;   /* this replica, and how many train together */
    /* This replica's share of the global batch (its rows / the global batch's
     * rows): the loss's gradient starts at this value instead of 1, so that
     * summing the replicas' gradients gives the gradient of the global batch's
     * mean loss, also when the rows do not divide evenly. Set before each run. */
    float loss_share;
    /* This replica holds no row of the global batch: it runs one stand-in row
     * (with loss_share 0) so that it meets the others at every collective step,
     * and ops that gather statistics count none of its rows. */
    bool stand_in;
    void *ctx;
    /* Gathers n doubles from every replica: the result holds replica r's values
     * at [r * n, r * n + n), in rank order, the same array on every replica. The
     * array is owned by the hooks and valid until the next call. NULL when the
     * replicas cannot talk any more; the step then fails after the run. Ops that
     * need statistics of the whole batch (BatchNormalization) use it. */
    const double *(*allgather)(void *ctx, const double *mine, int n);
    /* During the backward pass: the gradients [offset, offset + count) of the
     * parameter-gradient block `block` are final for this run (each trainable
     * variable's range is reported once per run, in the same order on every
     * replica), so their all-reduce can start while the pass goes on. */
    void (*grads_ready)(void *ctx, float *block, int64_t offset, int64_t count);
    /* Called as a run's backward pass begins (before any grads_ready), also
     * when a run is done again (a device that could not record it): nothing
     * of this run is final yet. May be NULL. */
    void (*backward_begin)(void *ctx);
    /* On a device that sums between processes (NCCL): grads_ready gets the
     * device's gradient block, and the strategy queues each bucket's sum on
     * the device as the backward pass fills it, all inside the run (so a
     * recorded step holds them). Otherwise the session hands grads_ready a
     * host copy of the gradients after the run. */
    bool device_sums;
} px_replica_hooks;

/* Makes the session run as a replica (hooks borrowed; NULL: alone again). */
void px_session_set_replicas(px_session *s, px_replica_hooks *hooks);

#endif
