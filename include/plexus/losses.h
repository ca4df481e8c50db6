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
    PX_LOSS_CUSTOM,    /* a function registered with px_loss_register, named by px_loss.name */
    PX_LOSS_COUNT
} px_loss_kind;

typedef struct px_loss {
    px_loss_kind kind;
    bool from_logits;  /* cross-entropies: y_pred are logits */
    float delta;       /* Huber: 0 = Keras's 1.0 */
    const char *name;  /* PX_LOSS_CUSTOM: the name it is registered under */
} px_loss;

/* The mean loss over the batch as a scalar node. y_true is float with y_pred's
 * shape, or int32 class labels of shape (batch) or (batch, 1) for the sparse
 * loss. When y_pred is the output of a softmax (or sigmoid) and the loss is the
 * matching cross-entropy, the fused, stable form on the logits is used, so large
 * logits never give inf or NaN. */
PX_API px_node *px_loss_node(px_loss loss, px_node *y_true, px_node *y_pred);
/* Keras's loss with sample weights: weights (batch,) scale each example's
 * losses, and the sum is divided by the number of losses, not by the sum of
 * the weights (Keras's "sum_over_batch_size"); weights of 1 give px_loss_node's
 * value bit for bit. */
PX_API px_node *px_loss_node_weighted(px_loss loss, px_node *y_true, px_node *y_pred, px_node *weights);
PX_API const char *px_loss_name(px_loss_kind k);  /* Keras name: "sparse_categorical_crossentropy" */
/* A kind by Keras's name or alias ("mse"); a registered custom loss gives PX_LOSS_CUSTOM. */
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
    PX_TOP_K_ACCURACY,         /* top_k_categorical_accuracy: one-hot targets; k from px_metric.k or
                                  px_compile_options.top_k (default 5) */
    PX_SPARSE_TOP_K_ACCURACY,  /* sparse_top_k_categorical_accuracy: class-index targets */
    PX_TOP_K,                  /* "top_k_accuracy": one of the two above, chosen from the loss as
                                  PX_ACCURACY is */
    PX_AUC,                    /* Keras's AUC: area under the ROC (or PR) curve, from confusion counts
                                  at num_thresholds thresholds (200) accumulated over the epoch */
    PX_PRECISION,              /* tp / (tp + fp) over the epoch, predicted positive above 0.5 */
    PX_RECALL,                 /* tp / (tp + fn) over the epoch */
    PX_F1_SCORE,               /* Keras's F1Score over the epoch, averaged over the classes */
    PX_ROOT_MEAN_SQUARED_ERROR,
    PX_MEAN_IOU,               /* Keras's MeanIoU: the mean over classes of tp / (tp + fp + fn) of the
                                  predicted classes (argmax, or above 0.5 for one unit) */
    PX_METRIC_CUSTOM,          /* a function registered with px_metric_register, named by px_metric.name */
    PX_METRIC_COUNT
} px_metric_kind;

typedef enum px_auc_curve { PX_CURVE_ROC = 0, PX_CURVE_PR } px_auc_curve;
/* How F1 combines its classes: the mean of the per-class scores (macro), the score of
 * the summed counts (micro), or the mean weighted by each class's true count. */
typedef enum px_average { PX_AVERAGE_MACRO = 0, PX_AVERAGE_MICRO, PX_AVERAGE_WEIGHTED } px_average;

/* A metric with its settings, as Keras's metric objects (keras.metrics.AUC(curve="PR")).
 * Zero fields take Keras's defaults. Stateful metrics (AUC, precision, recall, F1,
 * MeanIoU, RMSE) accumulate their counts over the batches of an epoch, so the logged
 * value is that of the whole epoch, not a mean of batch values. */
typedef struct px_metric {
    px_metric_kind kind;
    const char *name;        /* the name in the logs (copied); NULL: Keras's ("auc", "precision", ...);
                                PX_METRIC_CUSTOM: the name the function is registered under */
    int num_thresholds;      /* AUC: 0 = 200: -1e-7, (i + 1) / 199 for i < 198, 1 + 1e-7, as Keras */
    px_auc_curve curve;      /* AUC: ROC (default) or PR, both by Keras's interpolation */
    float threshold;         /* precision, recall: 0 = 0.5. F1: 0 = the largest output of each row is
                                the predicted class (Keras's threshold=None), 0.5 for one unit */
    px_average average;      /* F1: 0 = macro. Keras's default (None) gives a value per class, which
                                a log cannot hold */
    int k;                   /* top-k accuracies: 0 = px_compile_options.top_k, else 5 */
    int num_classes;         /* MeanIoU: 0 = the output's width (2 for one sigmoid unit) */
} px_metric;

/* The name in the logs: "accuracy", "mse", "auc", ... ("" for an unknown kind). */
PX_API const char *px_metric_name(px_metric_kind k);
/* A kind by Keras's name, alias or class name ("accuracy", "acc", "auc", "AUC",
 * "precision", "top_k_accuracy", "mean_squared_error", ...), or a registered custom
 * metric (PX_METRIC_CUSTOM). */
PX_API px_status px_metric_from_name(const char *name, px_metric_kind *out);

/* ---- custom losses and metrics: Keras's functions with custom_objects ---- */

/* A loss or metric written with graph ops: from the targets and the predictions (nodes
 * of the model's graph), a node whose mean over all its elements is the batch's value
 * (per-example values, or already their mean). A loss trains through the ops' own
 * backward passes (autodiff); a metric is averaged over the batches of an epoch.
 * y_true is float32 with y_pred's shape. NULL with an error set on failure. */
typedef px_node *(*px_loss_fn)(px_node *y_true, px_node *y_pred, void *user);

/* Registers fn under `name` (copied), as Keras's custom_objects: compile refers to it
 * by name (px_loss{.kind = PX_LOSS_CUSTOM, .name = ...}, px_metric{.kind =
 * PX_METRIC_CUSTOM, .name = ...}), model files store the name, and a file names it
 * loads compiled where the same name is registered. A name already registered is
 * replaced; fn NULL removes it. Names must not be those of built-in losses or metrics.
 * The registry is process-wide: register before compiling or loading, from one thread. */
PX_API px_status px_loss_register(const char *name, px_loss_fn fn, void *user);
PX_API px_status px_metric_register(const char *name, px_loss_fn fn, void *user);

#ifdef __cplusplus
}
#endif

#endif
