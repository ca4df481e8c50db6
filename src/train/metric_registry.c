/* The table of built-in metric kinds and what works from it: names both ways, Keras's
 * choice of accuracy from the loss, the defaults of a metric's settings, the check that
 * a metric fits the loss's targets (the error names the metric that does) and the
 * statistics node. A new metric adds its px_metric_def (metrics.c), its enum value
 * (plexus/losses.h) and one line here. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/node.h"
#include "train/loss_kind.h"
#include "train/metric_kind.h"

extern const px_metric_def px_accuracy_metric, px_top_k_metric, px_binary_accuracy_metric,
    px_categorical_accuracy_metric, px_sparse_accuracy_metric, px_mse_metric, px_mae_metric, px_rmse_metric,
    px_top_k_categorical_metric, px_sparse_top_k_metric, px_auc_metric, px_precision_metric, px_recall_metric,
    px_f1_metric, px_mean_iou_metric, px_custom_metric;

static const px_metric_def *const defs[PX_METRIC_COUNT] = {
    [PX_ACCURACY] = &px_accuracy_metric,
    [PX_BINARY_ACCURACY] = &px_binary_accuracy_metric,
    [PX_CATEGORICAL_ACCURACY] = &px_categorical_accuracy_metric,
    [PX_SPARSE_CATEGORICAL_ACCURACY] = &px_sparse_accuracy_metric,
    [PX_METRIC_MSE] = &px_mse_metric,
    [PX_METRIC_MAE] = &px_mae_metric,
    [PX_TOP_K_ACCURACY] = &px_top_k_categorical_metric,
    [PX_SPARSE_TOP_K_ACCURACY] = &px_sparse_top_k_metric,
    [PX_TOP_K] = &px_top_k_metric,
    [PX_AUC] = &px_auc_metric,
    [PX_PRECISION] = &px_precision_metric,
    [PX_RECALL] = &px_recall_metric,
    [PX_F1_SCORE] = &px_f1_metric,
    [PX_ROOT_MEAN_SQUARED_ERROR] = &px_rmse_metric,
    [PX_MEAN_IOU] = &px_mean_iou_metric,
};

/* PX_METRIC_CUSTOM has a def but no name of its own: the names are the registry's. */
const px_metric_def *px_metric_def_of(px_metric_kind kind) {
    if (kind == PX_METRIC_CUSTOM) return &px_custom_metric;
    return (unsigned)kind < PX_METRIC_COUNT ? defs[kind] : NULL;
}

const px_metric_def *px_metric_def_find(const char *name) {
    for (int k = 0; name && k < PX_METRIC_COUNT; k++) {
        const px_metric_def *d = defs[k];
        if (!d) continue;
        if (strcmp(name, d->name) == 0 || (d->class_name[0] && strcmp(name, d->class_name) == 0)) return d;
        for (int a = 0; a < 3 && d->aliases[a]; a++)
            if (strcmp(name, d->aliases[a]) == 0) return d;
    }
    return NULL;
}

const char *px_metric_name(px_metric_kind k) {
    const px_metric_def *d = px_metric_def_of(k);
    return d ? d->name : "";
}

px_status px_metric_from_name(const char *name, px_metric_kind *out) {
    if (!name || !out) return px_set_error(PX_ERR_ARG, "metric: name or out is NULL");
    const px_metric_def *d = px_metric_def_find(name);
    if (d) return *out = d->kind, PX_OK;
    if (px_custom_metric_find(name)) return *out = PX_METRIC_CUSTOM, PX_OK;
    char known[768] = "";
    size_t len = 0;
    for (int k = 0; k < PX_METRIC_COUNT && len < sizeof known; k++)
        if (defs[k]) len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", len ? ", " : "", defs[k]->name);
    return px_set_error(PX_ERR_ARG, "unknown metric '%s' (known: %s; or a name registered with px_metric_register)",
                        name, known);
}

/* ---- compile's view of a metric ---- */

/* What the loss's targets are, for messages. */
static const char *targets_text(const px_loss_def *ld, bool class_indices, int64_t width) {
    if (class_indices) return "int32 class indices";
    if (ld && ld->kind == PX_CATEGORICAL_CROSSENTROPY) return "one-hot rows";
    return width == 1 ? "one value per example" : "float targets shaped like the predictions";
}

static px_status mismatch(const px_metric *m, px_loss loss, bool class_indices, int64_t width, const char *use) {
    const px_loss_def *ld = px_loss_def_of(loss.kind);
    const char *lname = loss.kind == PX_LOSS_CUSTOM && loss.name ? loss.name : ld ? ld->name : "?";
    return px_set_error(PX_ERR_ARG, "metric '%s' does not fit loss %s, whose targets are %s (output width %lld): use %s",
                        m->name, lname, targets_text(ld, class_indices, width), (long long)width, use);
}

/* The pairing check (Keras fails later, or silently reports a constant). */
static px_status check_targets(const px_metric_def *d, const px_metric *m, px_loss loss, bool class_indices,
                               int64_t width) {
    switch (d->targets) {
    case PX_TARGETS_INDICES:
        if (!class_indices)
            return mismatch(m, loss, false, width,
                            width == 1                      ? "binary_accuracy"
                            : d->kind == PX_SPARSE_TOP_K_ACCURACY ? "top_k_categorical_accuracy"
                                                            : "categorical_accuracy");
        break;
    case PX_TARGETS_ONE_HOT:
        if (class_indices)
            return mismatch(m, loss, true, width,
                            d->kind == PX_TOP_K_ACCURACY ? "sparse_top_k_categorical_accuracy"
                                                         : "sparse_categorical_accuracy");
        if (width == 1)
            return mismatch(m, loss, false, width, "binary_accuracy (over one output this metric is always 1)");
        break;
    case PX_TARGETS_SAME:
        if (class_indices)
            return mismatch(m, loss, true, width,
                            d->kind == PX_METRIC_MSE || d->kind == PX_METRIC_MAE || d->kind == PX_ROOT_MEAN_SQUARED_ERROR
                                ? "sparse_categorical_accuracy, or a regression loss with float targets"
                                : "sparse_categorical_accuracy, f1_score or mean_iou (they take class indices), "
                                  "or one-hot targets with categorical_crossentropy");
        break;
    default: break;
    }
    return PX_OK;
}

px_status px_metric_fill(px_metric *m, px_loss loss, bool class_indices, px_shape out, int top_k) {
    const px_metric_def *d = px_metric_def_of(m->kind);
    if (!d || m->kind == PX_METRIC_NONE) return px_set_error(PX_ERR_ARG, "metric: unknown metric %d", (int)m->kind);
    if (m->kind == PX_METRIC_CUSTOM && (!m->name || !px_custom_metric_find(m->name)))
        return px_set_error(PX_ERR_ARG, "metric '%s' is not registered (px_metric_register)", m->name ? m->name : "(no name)");
    if (!m->name) m->name = d->name; /* "accuracy" and "top_k_accuracy" keep the name they were given */
    int64_t width = out.rank ? out.dim[out.rank - 1] : 1;
    if (m->kind == PX_ACCURACY) {
        const px_loss_def *ld = px_loss_def_of(loss.kind);
        if (ld && ld->accuracy != PX_METRIC_NONE) m->kind = ld->accuracy;
        else m->kind = class_indices ? PX_SPARSE_CATEGORICAL_ACCURACY : width == 1 ? PX_BINARY_ACCURACY : PX_CATEGORICAL_ACCURACY;
    } else if (m->kind == PX_TOP_K) {
        m->kind = class_indices ? PX_SPARSE_TOP_K_ACCURACY : PX_TOP_K_ACCURACY;
    }
    d = px_metric_def_of(m->kind);
    if (check_targets(d, m, loss, class_indices, width) != PX_OK) return px_last_status();
    if (width == 1 && (m->kind == PX_TOP_K_ACCURACY || m->kind == PX_SPARSE_TOP_K_ACCURACY))
        return mismatch(m, loss, class_indices, width, "binary_accuracy (over one output top-k is always 1)");

    /* settings: zero is Keras's default */
    if (!isfinite(m->threshold) || m->threshold < 0 || m->threshold >= 1)
        return px_set_error(PX_ERR_ARG, "metric '%s': threshold must be in [0, 1) (0: the default), got %g", m->name,
                            (double)m->threshold);
    if (m->threshold == 0) {
        if (m->kind == PX_PRECISION || m->kind == PX_RECALL) m->threshold = 0.5f;
        if (m->kind == PX_BINARY_ACCURACY && !loss.from_logits) m->threshold = 0.5f; /* logits: above 0 */
        if (m->kind == PX_F1_SCORE && width == 1) m->threshold = 0.5f; /* one unit has no row maximum to pick */
    }
    if (m->num_thresholds == 0) m->num_thresholds = 200;
    if (m->num_thresholds < 2 || m->num_thresholds > 100000)
        return px_set_error(PX_ERR_ARG, "metric '%s': num_thresholds must be in [2, 100000], got %d", m->name, m->num_thresholds);
    if ((unsigned)m->curve > PX_CURVE_PR || (unsigned)m->average > PX_AVERAGE_WEIGHTED)
        return px_set_error(PX_ERR_ARG, "metric '%s': unknown curve %d or average %d", m->name, (int)m->curve, (int)m->average);
    if (m->k == 0) m->k = top_k > 0 ? top_k : 5;
    if (m->k < 1) return px_set_error(PX_ERR_ARG, "metric '%s': k must be >= 1, got %d", m->name, m->k);
    if (m->num_classes == 0) m->num_classes = width == 1 ? 2 : (int)width;
    if (m->kind == PX_MEAN_IOU && m->num_classes < 2)
        return px_set_error(PX_ERR_ARG, "metric '%s': num_classes must be >= 2, got %d", m->name, m->num_classes);
    return PX_OK;
}

/* The def's node: a mean metric's values of every element, a stateful one's counts. */
static px_node *metric_build(const px_metric *m, px_loss loss, px_node *y_true, px_node *y_pred) {
    const px_metric_def *d = px_metric_def_of(m->kind);
    if (!d || !d->build) {
        px_set_error(PX_ERR_ARG, "metric '%s' was not resolved from the loss", m->name ? m->name : "?");
        return NULL;
    }
    if (d->probabilities && loss.from_logits) {
        px_shape s = px_node_shape(y_pred);
        bool one = s.rank == 0 || s.dim[s.rank - 1] == 1 || loss.kind == PX_BINARY_CROSSENTROPY;
        y_pred = one ? px_sigmoid(y_pred) : px_softmax(y_pred, -1);
    }
    return d->build(m, y_true, y_pred);
}

px_node *px_metric_node(const px_metric *m, px_loss loss, px_node *y_true, px_node *y_pred) {
    px_node *v = metric_build(m, loss, y_true, y_pred);
    return v && !px_metric_def_of(m->kind)->sums ? px_mean_all(v) : v;
}

px_node *px_metric_node_weighted(const px_metric *m, px_loss loss, px_node *y_true, px_node *y_pred,
                                 px_node *weights) {
    px_node *v = metric_build(m, loss, y_true, y_pred);
    if (!v || px_metric_def_of(m->kind)->sums) {
        if (v) px_set_error(PX_ERR_ARG, "metric '%s' counts over the epoch and cannot be weighted", m->name);
        return NULL;
    }
    px_shape vs = px_node_shape(v), ws = {.rank = vs.rank};
    for (int i = 0; i < ws.rank; i++) ws.dim[i] = 1;
    ws.dim[0] = -1;
    px_node *w = ws.rank <= 1 ? weights : px_reshape(weights, ws);
    /* sum(w v) / (sum(w) * elements per example) */
    double per = 1;
    for (int i = 1; i < vs.rank; i++) per *= vs.dim[i] > 0 ? (double)vs.dim[i] : 1;
    px_node *den = px_scale(px_add_scalar(px_sum_all(weights), 1e-30f), (float)per);
    return px_div(px_sum_all(px_mul(v, w)), den);
}

int64_t px_metric_stat_count(const px_node *stats) {
    int64_t n = px_shape_size(px_node_shape(stats));
    return n > 0 ? n : 1;
}
