/* Internal: what the floors above the graph (fit, the device optimizer path)
 * need of a session beyond plexus/graph.h: its backend and its parameter
 * gradients where they live. */
#ifndef PX_GRAPH_SESSION_API_H
#define PX_GRAPH_SESSION_API_H

#include "backend/backend.h"
#include "plexus/graph.h"

/* The backend the session runs on. */
px_backend *px_session_backend(const px_session *s);
/* The parameter gradients in the backend's memory (laid out like the graph's
 * parameter block), or NULL without a loss. */
float *px_session_param_grads_on_backend(px_session *s);

/* An optimizer step run inside a CPU training session's backward pass, variable
 * by variable, each while its gradient is still in cache. `update` is called once
 * per run for every trainable variable, as soon as no later step of the run
 * reads its value or its gradient: its parameters are params[offset, offset +
 * count) of the graph's block and its gradient grads[offset, offset + count) of
 * the session's, unless `folded`: then its only reader already applied plain SGD
 * at fold_lr inside its weight-gradient product (W -= fold_lr * X^T dY, one
 * product with beta = 1) and the gradient was never written. fold_lr 0: nothing
 * is folded. The callback must not fail; a run that fails part way leaves the
 * variables updated so far updated. */
typedef struct px_session_updater {
    void (*update)(void *ctx, float *params, const float *grads, int64_t offset, int64_t count, bool folded);
    void *ctx;
    float fold_lr;
} px_session_updater;

/* Sets the updater of the next runs (copied); NULL turns it off. Ignored by
 * sessions on a device and with data-parallel replicas. */
void px_session_set_updater(px_session *s, const px_session_updater *u);

#endif
