/* Internal: the hooks through which a distribution strategy (src/dist) makes
 * fit and evaluate run as one replica of several. fit calls them at fixed
 * points and knows nothing of MPI; the strategy knows nothing of batches. */
#ifndef PX_MODEL_STRATEGY_H
#define PX_MODEL_STRATEGY_H

#include "backend/backend.h"
#include "graph/replicas.h"
#include "model/model_internal.h"

/* What the replicas must agree on before training starts. */
typedef struct px_fit_plan {
    int64_t train_examples, val_examples;
    int batch_size, epochs, initial_epoch;
    uint64_t train_hash, val_hash; /* px_prepared_fingerprint of the data */
    px_backend *backend;           /* the training session's device (not compared) */
} px_fit_plan;

struct px_strategy {
    int rank, size;             /* rank 0 is the chief: it alone prints and writes files */
    px_replica_hooks *replicas; /* installed on the training session during fit */
    /* At the start of fit, once the training session exists: checks that the
     * replicas agree on the plan and the model, then makes every replica's
     * weights, optimizer state and shuffling generator those of rank 0. */
    px_status (*begin)(px_strategy *s, px_model *m, const px_fit_plan *plan);
    /* Before a training step: this replica's rows of a global batch (rows 0:
     * it runs a stand-in row that counts for nothing). */
    void (*step)(px_strategy *s, int64_t rows, int64_t global_rows);
    /* After the step's run: waits until grads[0..n) holds the sum over the
     * replicas (the all-reduce started during the backward pass). */
    px_status (*finish_gradients)(px_strategy *s, float *grads, int64_t n);
    /* Instead, when replicas->device_sums: sums the gradient block grads[0..n)
     * in b's memory over the replicas, on the device. */
    px_status (*finish_device_gradients)(px_strategy *s, px_backend *b, float *grads, int64_t n);
    /* Sums v[0..n) over the replicas in place; the same result on every one. */
    px_status (*sum)(px_strategy *s, double *v, int n);
    /* A failure on this replica: tells the others (so that they stop rather
     * than wait) and returns the status fit returns. */
    px_status (*fail)(px_strategy *s, px_status st);
    /* At the end of a successful fit: checks that the replicas still agree. */
    px_status (*end)(px_strategy *s, px_model *m);
    void (*destroy)(px_strategy *s);
};

#endif
