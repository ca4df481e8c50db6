/* Internal: what a metric kind is (px_metric_def). The built-in kinds are in metrics.c
 * and listed once in metric_registry.c; compile builds a metric's statistics node from
 * its def, fit and evaluate add the statistics up over the batches and ask the def for
 * the value, and the training config reads and writes the metric from it. */
#ifndef PX_TRAIN_METRIC_KIND_H
#define PX_TRAIN_METRIC_KIND_H

#include "formats/json.h"
#include "plexus/losses.h"

/* What a metric needs of the targets (for the pairing check at compile). */
typedef enum px_metric_targets {
    PX_TARGETS_ANY = 0,   /* anything the loss takes (custom metrics) */
    PX_TARGETS_INDICES,   /* int32 class indices: the sparse accuracies */
    PX_TARGETS_ONE_HOT,   /* float one-hot rows of width > 1: the categorical accuracies */
    PX_TARGETS_SAME,      /* float targets shaped like the predictions: binary accuracy, AUC,
                             precision, recall, the regression metrics */
    PX_TARGETS_CLASSES    /* class indices or one-hot rows: F1, MeanIoU */
} px_metric_targets;

typedef struct px_metric_def {
    px_metric_kind kind;
    const char *name;       /* Keras's name, in the logs and configs ("auc") */
    const char *class_name; /* Keras's class ("AUC") */
    const char *aliases[3]; /* other names Keras accepts ("acc", "mean_squared_error"), NULL-padded */
    px_metric_targets targets;
    /* The statistics are counts summed over the batches (`sums`), or (false) the node
     * is the batch's mean, averaged over the epoch weighted by rows. */
    bool sums;
    /* The metric reads probabilities: with a loss from logits, compile hands it
     * sigmoid(y_pred) (one unit or binary cross-entropy) or softmax(y_pred). */
    bool probabilities;
    /* The statistics node of one batch (a mean metric: the values of every element,
     * whose mean px_metric_node takes); m is filled in (px_metric_fill) and checked. */
    px_node *(*build)(const px_metric *m, px_node *y_true, px_node *y_pred);
    /* The value from the statistics: the summed counts, or (not sums) the epoch's mean
     * in stats[0]. NULL: stats[0] itself. */
    double (*result)(const px_metric *m, const double *stats, int64_t n);
    /* Config keys beyond "name" (Keras 2's metric objects), both ways; may be NULL. */
    px_status (*write_config)(const px_metric *m, px_json *config);
    void (*read_config)(const px_json *config, px_metric *m);
} px_metric_def;

/* The kind of this enum value, or NULL (metric_registry.c). */
const px_metric_def *px_metric_def_of(px_metric_kind kind);
/* The kind with this Keras name, alias or class name, or NULL. */
const px_metric_def *px_metric_def_find(const char *name);

/* The metric as compile uses it: PX_ACCURACY and PX_TOP_K resolved from the loss and
 * the output's width as Keras does, zero settings replaced by their defaults (top_k is
 * the compile's). PX_ERR_ARG, naming the metric that fits, when the metric does not fit
 * the loss's targets (sparse_categorical_accuracy with one-hot targets, ...). */
px_status px_metric_fill(px_metric *m, px_loss loss, bool class_indices, px_shape out, int top_k);
/* The statistics node for a filled-in metric (through sigmoid or softmax when the loss
 * is from logits and the metric reads probabilities). */
px_node *px_metric_node(const px_metric *m, px_loss loss, px_node *y_true, px_node *y_pred);
/* A mean metric's statistics weighted by Keras's sample weights (batch,): the
 * batch's sum(w v) / sum(w), every element of an example counting with its weight. */
px_node *px_metric_node_weighted(const px_metric *m, px_loss loss, px_node *y_true, px_node *y_pred,
                                 px_node *weights);
/* The number of statistics of the node (its element count). */
int64_t px_metric_stat_count(const px_node *stats);

/* ---- configs (metric_config.c) ---- */

/* The metric as Keras 2 writes it in a training config: its name, or {"class_name",
 * "config"} when a setting differs from Keras's default; NULL with the error set. */
px_json *px_metric_to_json(const px_metric *m);
/* A metric from a name or a {"class_name", "config"} object (Keras 2 or 3);
 * PX_ERR_UNSUPPORTED for one Plexus lacks. The name points into v (or the registry). */
px_status px_metric_from_json(const px_json *v, px_metric *out);

/* ---- custom functions (custom_fns.c) ---- */

typedef struct px_custom_fn {
    const char *name; /* owned by the registry, valid for the life of the process */
    px_loss_fn fn;
    void *user;
} px_custom_fn;
/* The registered loss / metric, or NULL. */
const px_custom_fn *px_custom_loss_find(const char *name);
const px_custom_fn *px_custom_metric_find(const char *name);

#endif
