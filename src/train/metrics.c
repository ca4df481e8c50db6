/* Keras's metrics, one px_metric_def per kind (listed in metric_registry.c): the mean
 * metrics (accuracies, mse, mae, RMSE, user functions) give every element's value
 * (px_metric_node takes the batch's mean, or its weighted mean), the
 * stateful ones (AUC, precision, recall, F1, MeanIoU) a batch's counts, and each turns
 * what fit adds up over an epoch into its value with Keras's formulas. */
#include <math.h>
#include <stdlib.h>

#include "nn/layer_config.h"
#include "train/metric_kind.h"

/* Keras's divide_no_nan. */
static double ratio(double a, double b) { return b != 0 ? a / b : 0; }

/* ---- the mean metrics ---- */

static px_node *binary_accuracy(const px_metric *m, px_node *y_true, px_node *y_pred) {
    return px_binary_accuracy(y_pred, y_true, m->threshold);
}
static px_node *categorical_accuracy(const px_metric *m, px_node *y_true, px_node *y_pred) {
    (void)m;
    return px_categorical_accuracy(y_pred, y_true);
}
static px_node *sparse_accuracy(const px_metric *m, px_node *y_true, px_node *y_pred) {
    (void)m;
    return px_sparse_accuracy(y_pred, y_true);
}
static px_node *squared_error(const px_metric *m, px_node *y_true, px_node *y_pred) {
    (void)m;
    return px_square(px_sub(y_pred, y_true));
}
static px_node *absolute_error(const px_metric *m, px_node *y_true, px_node *y_pred) {
    (void)m;
    return px_abs(px_sub(y_pred, y_true));
}
static px_node *top_k(const px_metric *m, px_node *y_true, px_node *y_pred) {
    return px_in_top_k(y_pred, px_argmax(y_true, -1), m->k);
}
static px_node *sparse_top_k(const px_metric *m, px_node *y_true, px_node *y_pred) {
    return px_in_top_k(y_pred, y_true, m->k);
}

/* Keras's RootMeanSquaredError: the root of the epoch's mean squared error. */
static double root(const px_metric *m, const double *stats, int64_t n) {
    (void)m, (void)n;
    return sqrt(stats[0]);
}

static px_node *custom(const px_metric *m, px_node *y_true, px_node *y_pred) {
    const px_custom_fn *f = px_custom_metric_find(m->name);
    if (!f) {
        px_set_error(PX_ERR_ARG, "metric '%s' is not registered (px_metric_register)", m->name ? m->name : "(no name)");
        return NULL;
    }
    px_node *v = f->fn(y_true, y_pred, f->user);
    if (!v) {
        if (px_last_status() == PX_OK) px_set_error(PX_ERR_ARG, "metric '%s' returned NULL", m->name);
        return NULL;
    }
    if (px_node_graph(v) != px_node_graph(y_pred) || px_node_dtype(v) != PX_F32) {
        px_set_error(PX_ERR_ARG, "metric '%s' must return a float32 node of the model's graph", m->name);
        return NULL;
    }
    return v;
}

/* ---- confusion counts at thresholds: AUC, precision, recall ---- */

/* Keras's AUC thresholds: -eps, then (i + 1) / (n - 1) for i < n - 2, then 1 + eps, so
 * that predictions of exactly 0 and 1 fall inside. */
static void auc_thresholds(int n, float *t) {
    t[0] = -1e-7f;
    for (int i = 0; i < n - 2; i++) t[i + 1] = (float)((double)(i + 1) / (double)(n - 1));
    t[n - 1] = 1.0f + 1e-7f;
}

static px_node *auc(const px_metric *m, px_node *y_true, px_node *y_pred) {
    float *t = malloc((size_t)m->num_thresholds * sizeof *t);
    if (!t) {
        px_set_error(PX_ERR_NOMEM, "auc: out of memory");
        return NULL;
    }
    auc_thresholds(m->num_thresholds, t);
    px_node *c = px_threshold_counts(y_pred, y_true, t, m->num_thresholds);
    free(t);
    return c;
}

/* Keras's interpolate_pr_auc (Davis & Goadrich 2006): precision interpolated linearly
 * in the number of predicted positives between thresholds. */
static double pr_auc(const double *tp, const double *fp, const double *fn, int64_t T) {
    double sum = 0;
    for (int64_t i = 0; i + 1 < T; i++) {
        double dtp = tp[i] - tp[i + 1], p0 = tp[i] + fp[i], p1 = tp[i + 1] + fp[i + 1];
        double dp = p0 - p1;
        double slope = ratio(dtp, dp > 0 ? dp : 0);
        double intercept = tp[i + 1] - slope * p1;
        double safe = p0 > 0 && p1 > 0 ? ratio(p0, p1 > 0 ? p1 : 0) : 1.0;
        double denom = tp[i + 1] + fn[i + 1];
        sum += ratio(slope * (dtp + intercept * log(safe)), denom > 0 ? denom : 0);
    }
    return sum;
}

static double auc_result(const px_metric *m, const double *s, int64_t n) {
    int64_t T = n / 4;
    const double *tp = s, *fp = s + T, *tn = s + 2 * T, *fn = s + 3 * T;
    if (m->curve == PX_CURVE_PR) return pr_auc(tp, fp, fn, T);
    /* ROC: trapezoids of the true positive rate over the false positive rate; the
     * thresholds ascend, so the rates fall from (1, 1) to (0, 0) */
    double sum = 0;
    for (int64_t i = 0; i + 1 < T; i++) {
        double x0 = ratio(fp[i], fp[i] + tn[i]), x1 = ratio(fp[i + 1], fp[i + 1] + tn[i + 1]);
        double y0 = ratio(tp[i], tp[i] + fn[i]), y1 = ratio(tp[i + 1], tp[i + 1] + fn[i + 1]);
        sum += (x0 - x1) * (y0 + y1) / 2;
    }
    return sum;
}

static px_node *at_threshold(const px_metric *m, px_node *y_true, px_node *y_pred) {
    return px_threshold_counts(y_pred, y_true, &m->threshold, 1);
}
static double precision_result(const px_metric *m, const double *s, int64_t n) {
    (void)m, (void)n;
    return ratio(s[0], s[0] + s[1]);
}
static double recall_result(const px_metric *m, const double *s, int64_t n) {
    (void)m, (void)n;
    return ratio(s[0], s[0] + s[3]);
}

/* ---- per-class counts: F1 and MeanIoU ---- */

static px_node *f1(const px_metric *m, px_node *y_true, px_node *y_pred) {
    return px_class_counts(y_pred, y_true, m->threshold);
}

/* Keras's FBetaScore.result with beta = 1. */
static double f1_result(const px_metric *m, const double *s, int64_t n) {
    int64_t C = n / 3;
    const double *tp = s, *fp = s + C, *fn = s + 2 * C;
    if (m->average == PX_AVERAGE_MICRO) {
        double stp = 0, sfp = 0, sfn = 0;
        for (int64_t c = 0; c < C; c++) stp += tp[c], sfp += fp[c], sfn += fn[c];
        double p = ratio(stp, stp + sfp), r = ratio(stp, stp + sfn);
        return 2 * ratio(p * r, p + r);
    }
    double sum = 0, weights = 0;
    for (int64_t c = 0; c < C; c++) weights += tp[c] + fn[c];
    for (int64_t c = 0; c < C; c++) {
        double p = ratio(tp[c], tp[c] + fp[c]), r = ratio(tp[c], tp[c] + fn[c]), score = 2 * ratio(p * r, p + r);
        sum += m->average == PX_AVERAGE_WEIGHTED ? score * ratio(tp[c] + fn[c], weights) : score / (double)C;
    }
    return sum;
}

static px_node *mean_iou(const px_metric *m, px_node *y_true, px_node *y_pred) {
    return px_confusion_matrix(y_pred, y_true, m->num_classes);
}

/* Keras's MeanIoU.result: classes that never occur (nor are predicted) are left out. */
static double mean_iou_result(const px_metric *m, const double *cm, int64_t n) {
    (void)n;
    int64_t C = m->num_classes, valid = 0;
    double sum = 0;
    for (int64_t c = 0; c < C; c++) {
        double row = 0, col = 0;
        for (int64_t j = 0; j < C; j++) row += cm[c * C + j], col += cm[j * C + c];
        double denom = row + col - cm[c * C + c];
        if (denom != 0) valid++;
        sum += ratio(cm[c * C + c], denom);
    }
    return ratio(sum, (double)valid);
}

/* ---- configs beyond "name" ---- */

static px_status auc_write(const px_metric *m, px_json *c) {
    px_status st = px_lc_set_int(c, "num_thresholds", m->num_thresholds);
    if (!st) st = px_lc_set_string(c, "curve", m->curve == PX_CURVE_PR ? "PR" : "ROC");
    if (!st) st = px_lc_set_string(c, "summation_method", "interpolation");
    if (!st) st = px_lc_set_bool(c, "multi_label", false);
    return st;
}
static void auc_read(const px_json *c, px_metric *m) {
    m->num_thresholds = (int)px_json_get_int(c, "num_thresholds", 0);
    const char *curve = px_json_get_string(c, "curve", "ROC");
    m->curve = curve[0] == 'P' || curve[0] == 'p' ? PX_CURVE_PR : PX_CURVE_ROC;
}
static px_status thresholds_write(const px_metric *m, px_json *c) { return px_lc_set_float(c, "thresholds", m->threshold); }
static void thresholds_read(const px_json *c, px_metric *m) {
    const px_json *t = px_json_get(c, "thresholds");
    if (px_json_is_array(t) && px_json_len(t) == 1) t = px_json_at(t, 0);
    m->threshold = (float)px_json_number(t);
}
static px_status f1_write(const px_metric *m, px_json *c) {
    static const char *names[] = {"macro", "micro", "weighted"};
    px_status st = px_lc_set_string(c, "average", names[m->average]);
    if (!st) st = m->threshold > 0 ? px_lc_set_float(c, "threshold", m->threshold) : px_lc_set_null(c, "threshold");
    return st;
}
static void f1_read(const px_json *c, px_metric *m) {
    const char *avg = px_json_get_string(c, "average", "macro");
    m->average = avg[1] == 'i' ? PX_AVERAGE_MICRO : avg[0] == 'w' ? PX_AVERAGE_WEIGHTED : PX_AVERAGE_MACRO;
    m->threshold = (float)px_json_get_number(c, "threshold", 0);
}
static px_status top_k_write(const px_metric *m, px_json *c) { return px_lc_set_int(c, "k", m->k); }
static void top_k_read(const px_json *c, px_metric *m) { m->k = (int)px_json_get_int(c, "k", 0); }
static px_status iou_write(const px_metric *m, px_json *c) { return px_lc_set_int(c, "num_classes", m->num_classes); }
static void iou_read(const px_json *c, px_metric *m) { m->num_classes = (int)px_json_get_int(c, "num_classes", 0); }

/* ---- the kinds ---- */

const px_metric_def px_accuracy_metric = {.kind = PX_ACCURACY, .name = "accuracy", .class_name = "Accuracy", .aliases = {"acc"}};
const px_metric_def px_top_k_metric = {.kind = PX_TOP_K, .name = "top_k_accuracy", .class_name = ""};
const px_metric_def px_binary_accuracy_metric = {PX_BINARY_ACCURACY, "binary_accuracy", "BinaryAccuracy", {0},
                                                 PX_TARGETS_SAME, .build = binary_accuracy,
                                                 .write_config = thresholds_write, .read_config = thresholds_read};
const px_metric_def px_categorical_accuracy_metric = {PX_CATEGORICAL_ACCURACY, "categorical_accuracy",
                                                      "CategoricalAccuracy", {0}, PX_TARGETS_ONE_HOT,
                                                      .build = categorical_accuracy};
const px_metric_def px_sparse_accuracy_metric = {PX_SPARSE_CATEGORICAL_ACCURACY, "sparse_categorical_accuracy",
                                                 "SparseCategoricalAccuracy", {0}, PX_TARGETS_INDICES,
                                                 .build = sparse_accuracy};
const px_metric_def px_mse_metric = {PX_METRIC_MSE, "mse", "MeanSquaredError", {"mean_squared_error"},
                                     PX_TARGETS_SAME, .build = squared_error};
const px_metric_def px_mae_metric = {PX_METRIC_MAE, "mae", "MeanAbsoluteError", {"mean_absolute_error"},
                                     PX_TARGETS_SAME, .build = absolute_error};
const px_metric_def px_rmse_metric = {PX_ROOT_MEAN_SQUARED_ERROR, "root_mean_squared_error", "RootMeanSquaredError",
                                      {"rmse"}, PX_TARGETS_SAME, .build = squared_error, .result = root};
const px_metric_def px_top_k_categorical_metric = {PX_TOP_K_ACCURACY, "top_k_categorical_accuracy",
                                                   "TopKCategoricalAccuracy", {0}, PX_TARGETS_ONE_HOT,
                                                   .build = top_k, .write_config = top_k_write,
                                                   .read_config = top_k_read};
const px_metric_def px_sparse_top_k_metric = {PX_SPARSE_TOP_K_ACCURACY, "sparse_top_k_categorical_accuracy",
                                              "SparseTopKCategoricalAccuracy", {0}, PX_TARGETS_INDICES,
                                              .build = sparse_top_k, .write_config = top_k_write,
                                              .read_config = top_k_read};
const px_metric_def px_auc_metric = {PX_AUC, "auc", "AUC", {0}, PX_TARGETS_SAME, .sums = true,
                                     .probabilities = true, .build = auc, .result = auc_result,
                                     .write_config = auc_write, .read_config = auc_read};
const px_metric_def px_precision_metric = {PX_PRECISION, "precision", "Precision", {0}, PX_TARGETS_SAME,
                                           .sums = true, .probabilities = true, .build = at_threshold,
                                           .result = precision_result, .write_config = thresholds_write,
                                           .read_config = thresholds_read};
const px_metric_def px_recall_metric = {PX_RECALL, "recall", "Recall", {0}, PX_TARGETS_SAME, .sums = true,
                                        .probabilities = true, .build = at_threshold, .result = recall_result,
                                        .write_config = thresholds_write, .read_config = thresholds_read};
const px_metric_def px_f1_metric = {PX_F1_SCORE, "f1_score", "F1Score", {0}, PX_TARGETS_CLASSES, .sums = true,
                                    .probabilities = true, .build = f1, .result = f1_result,
                                    .write_config = f1_write, .read_config = f1_read};
const px_metric_def px_mean_iou_metric = {PX_MEAN_IOU, "mean_iou", "MeanIoU", {"mean_io_u"}, PX_TARGETS_CLASSES,
                                          .sums = true, .probabilities = true, .build = mean_iou, .result = mean_iou_result,
                                          .write_config = iou_write, .read_config = iou_read};
const px_metric_def px_custom_metric = {PX_METRIC_CUSTOM, "custom", "", {0}, PX_TARGETS_ANY, .build = custom};
