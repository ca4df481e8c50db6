/* Losses and metrics by their Keras names, as graph nodes over predictions and
 * targets (y_true, y_pred). */
#ifndef PLEXUS_LOSSES_H
#define PLEXUS_LOSSES_H

#include "export.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- losses ---- */
typedef enum px_loss_kind {
    PX_LOSS_NONE = 0,
    PX_MEAN_SQUARED_ERROR,
    PX_MEAN_ABSOLUTE_ERROR,
    PX_MEAN_SQUARED_LOGARITHMIC_ERROR,
    PX_BINARY_CROSSENTROPY,
    PX_CATEGORICAL_CROSSENTROPY,
    PX_SPARSE_CATEGORICAL_CROSSENTROPY,
    PX_HINGE,
    PX_SQUARED_HINGE,
    PX_KL_DIVERGENCE,
    PX_HUBER,
    PX_LOSS_COUNT
} px_loss_kind;

typedef struct px_loss {
    px_loss_kind kind;
    bool from_logits;  /* cross-entropies: y_pred are logits */
    float delta;       /* Huber: 0 = Keras's 1.0 */
} px_loss;

/* The mean loss over the batch as a scalar node. y_true is float with y_pred's
 * shape, or int32 class labels of shape (batch) or (batch, 1) for the sparse
 * loss. When y_pred is the output of a softmax (or sigmoid) and the loss is the
 * matching cross-entropy, the fused, stable form on the logits is used, so large
 * logits never give inf or NaN. */
PX_API px_node *px_loss_node(px_loss loss, px_node *y_true, px_node *y_pred);
PX_API const char *px_loss_name(px_loss_kind k);  /* Keras name: "sparse_categorical_crossentropy" */
PX_API px_status px_loss_from_name(const char *name, px_loss_kind *out);

/* ---- metrics ---- */
typedef enum px_metric_kind {
    PX_METRIC_NONE = 0,
    PX_ACCURACY,               /* binary, categorical or sparse, chosen from the loss as Keras does */
    PX_BINARY_ACCURACY,
    PX_CATEGORICAL_ACCURACY,
    PX_SPARSE_CATEGORICAL_ACCURACY,
    PX_METRIC_MSE,
    PX_METRIC_MAE,
    PX_TOP_K_ACCURACY,         /* k from px_compile_options.top_k (default 5) */
    PX_SPARSE_TOP_K_ACCURACY,
    PX_METRIC_COUNT
} px_metric_kind;

PX_API const char *px_metric_name(px_metric_kind k); /* name in the logs: "accuracy", "mse", ... */
PX_API px_status px_metric_from_name(const char *name, px_metric_kind *out);

#ifdef __cplusplus
}
#endif

#endif
