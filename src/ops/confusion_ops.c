/* Counting ops for the stateful metrics (AUC, precision, recall, F1, MeanIoU): each
 * gives a batch's counts, which add up over the batches of an epoch (and over
 * replicas), so a metric's result from the sums equals its value on the whole set.
 * No gradient; the device kernels (backend/kernels/count_ops.h) count the same way. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/kernels/helpers.h"
#include "ops/op_util.h"

static void no_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, const px_tensor *gout,
                        px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)in, (void)out, (void)gout, (void)gin, (void)ex;
}

/* The shape without its trailing axes of size 1: (32, 1) and (32,) hold the same rows. */
static px_shape squeezed(px_shape s) {
    while (s.rank > 0 && s.dim[s.rank - 1] == 1) s.rank--;
    return s;
}

/* Labels with the predictions' elements (up to trailing axes of size 1). */
static bool same_elements(px_shape a, px_shape b) {
    a = squeezed(a), b = squeezed(b);
    if (a.rank != b.rank) return false;
    for (int i = 0; i < a.rank; i++)
        if (a.dim[i] != b.dim[i] && a.dim[i] != PX_UNKNOWN && b.dim[i] != PX_UNKNOWN) return false;
    return true;
}

static px_status shape_error(const px_node *n, const px_shape *in, const char *want) {
    char sa[96], sb[96];
    return px_set_error(PX_ERR_SHAPE, "%s: labels %s (%s) do not fit predictions %s: %s", n->op->name,
                        px_shape_format(in[1], sb, sizeof sb), n->inputs[1]->dtype == PX_I32 ? "int32" : "float32",
                        px_shape_format(in[0], sa, sizeof sa), want);
}

/* ------------------------------------------------------ threshold counts ---- */
/* inputs: pred, labels, thresholds (T,) ascending; output (4, T) */

static px_status thr_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (n->inputs[0]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "threshold_counts: predictions must be float32");
    if (!same_elements(in[0], in[1])) return shape_error(n, in, "they need the same elements");
    *out = (px_shape){.rank = 2, .dim = {4, in[2].dim[0]}};
    *dt = PX_F32;
    return PX_OK;
}

static void thr_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)n, (void)ex;
    const float *p = in[0]->data, *thr = in[2]->data;
    int64_t count = px_tensor_size(in[0]), T = in[2]->shape[0];
    /* an element is predicted positive at thresholds [0, k), k = how many thresholds lie
     * below it: histograms of k for positives and negatives, then suffix sums */
    int64_t *hist = calloc((size_t)(2 * (T + 1)), sizeof *hist);
    float *o = out->data;
    memset(o, 0, (size_t)(4 * T) * sizeof *o);
    if (!hist) return; /* counts stay 0: the metric reads as if the batch were empty */
    for (int64_t i = 0; i < count; i++) {
        float x = p[i];
        int64_t lo = 0, hi = T; /* first threshold >= x (NaN: none below) */
        if (isnan(x)) hi = 0;
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (thr[mid] < x) lo = mid + 1;
            else hi = mid;
        }
        hist[(pxk_label_at(in[1]->data, in[1]->dtype == PX_I32, i) != 0 ? T + 1 : 0) + lo]++;
    }
    int64_t pos_total = 0, neg_total = 0;
    for (int64_t k = 0; k <= T; k++) neg_total += hist[k], pos_total += hist[T + 1 + k];
    int64_t tp = 0, fp = 0; /* elements with k > j */
    for (int64_t j = T - 1; j >= 0; j--) {
        tp += hist[T + 1 + j + 1];
        fp += hist[j + 1];
        o[j] = (float)tp;
        o[T + j] = (float)fp;
        o[2 * T + j] = (float)(neg_total - fp);
        o[3 * T + j] = (float)(pos_total - tp);
    }
    free(hist);
}

static const px_op_def thr_def = {"threshold_counts", PX_OPF_NO_GRAD, thr_infer, NULL, thr_forward, no_backward,
                                  PX_K_THRESHOLD_COUNTS};

px_node *px_threshold_counts(px_node *pred, px_node *labels, const float *thresholds, int n_thresholds) {
    if (!pred || !labels) return px_null_input(__func__);
    if (!thresholds || n_thresholds < 1) {
        px_set_error(PX_ERR_ARG, "threshold_counts: needs at least one threshold");
        return NULL;
    }
    for (int i = 1; i < n_thresholds; i++)
        if (!(thresholds[i] > thresholds[i - 1])) {
            px_set_error(PX_ERR_ARG, "threshold_counts: thresholds must be strictly ascending (thresholds[%d] = %g after %g)",
                         i, (double)thresholds[i], (double)thresholds[i - 1]);
            return NULL;
        }
    px_tensor *t = px_tensor_from_array(PX_SHAPE(n_thresholds), thresholds, n_thresholds);
    px_node *c = t ? px_constant(pred->graph, t) : NULL;
    px_tensor_free(t);
    return c ? px_node_make(&thr_def, (px_node *[]){pred, labels, c}, 3, NULL, 0, NULL, 0) : NULL;
}

/* ------------------------------------------------------------ class counts ---- */
/* fattr[0] threshold (<= 0: the row's largest); output (3, C) */

static bool sparse_labels(px_shape pred, px_shape labels) {
    px_shape rows = pred;
    rows.rank--;
    return same_elements(rows, labels);
}

static px_status cls_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (n->inputs[0]->dtype != PX_F32 || in[0].rank < 1)
        return px_set_error(PX_ERR_ARG, "class_counts: predictions must be float32 with a class axis");
    int64_t C = in[0].dim[in[0].rank - 1];
    if (C == PX_UNKNOWN) return px_set_error(PX_ERR_SHAPE, "class_counts: the class axis must be known");
    bool ok = n->inputs[1]->dtype == PX_I32 ? sparse_labels(in[0], in[1]) : same_elements(in[0], in[1]);
    if (!ok) return shape_error(n, in, "give int32 class indices (batch,) or float labels shaped like the predictions");
    *out = (px_shape){.rank = 2, .dim = {3, C}};
    *dt = PX_F32;
    return PX_OK;
}

static void cls_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    const float *p = in[0]->data, thr = n->fattr[0];
    int64_t C = in[0]->shape[in[0]->rank - 1], rows = C ? px_tensor_size(in[0]) / C : 0;
    bool sparse = in[1]->dtype == PX_I32;
    double *acc = calloc((size_t)(3 * C), sizeof *acc);
    float *o = out->data;
    memset(o, 0, (size_t)(3 * C) * sizeof *o);
    if (!acc) return;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = p + r * C;
        float best = pxk_row_largest(row, C);
        for (int64_t c = 0; c < C; c++) {
            double yp = pxk_class_predicted(row[c], best, thr), yt = pxk_class_true(in[1]->data, sparse, r, C, c);
            acc[c] += yp * yt;
            acc[C + c] += yp * (1 - yt);
            acc[2 * C + c] += (1 - yp) * yt;
        }
    }
    for (int64_t i = 0; i < 3 * C; i++) o[i] = (float)acc[i];
    free(acc);
}

static const px_op_def cls_def = {"class_counts", PX_OPF_NO_GRAD, cls_infer, NULL, cls_forward, no_backward,
                                  PX_K_CLASS_COUNTS};

px_node *px_class_counts(px_node *pred, px_node *labels, float threshold) {
    if (!pred || !labels) return px_null_input(__func__);
    if (!isfinite(threshold) || threshold >= 1) {
        px_set_error(PX_ERR_ARG, "class_counts: threshold must be below 1 (<= 0: the largest of each row), got %g",
                     (double)threshold);
        return NULL;
    }
    return px_node_make(&cls_def, (px_node *[]){pred, labels}, 2, NULL, 0, &threshold, 1);
}

/* -------------------------------------------------------- confusion matrix ---- */
/* iattr[0] classes; output (C, C), rows the true class */

static px_status cm_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (n->inputs[0]->dtype != PX_F32 || in[0].rank < 1)
        return px_set_error(PX_ERR_ARG, "confusion_matrix: predictions must be float32 with a class axis");
    bool ok = n->inputs[1]->dtype == PX_I32 ? sparse_labels(in[0], in[1]) : same_elements(in[0], in[1]);
    if (!ok) return shape_error(n, in, "give int32 class indices (batch,) or float labels shaped like the predictions");
    int64_t C = n->iattr[0];
    *out = (px_shape){.rank = 2, .dim = {C, C}};
    *dt = PX_F32;
    return PX_OK;
}

static void cm_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    int64_t C = n->iattr[0], W = in[0]->shape[in[0]->rank - 1], rows = W ? px_tensor_size(in[0]) / W : 0;
    float *o = out->data;
    memset(o, 0, (size_t)(C * C) * sizeof *o);
    bool sparse = in[1]->dtype == PX_I32;
    for (int64_t r = 0; r < rows; r++) {
        int64_t pc = pxk_row_class((const float *)in[0]->data + r * W, W);
        int64_t tc = sparse ? ((const int32_t *)in[1]->data)[r] : pxk_row_class((const float *)in[1]->data + r * W, W);
        if (pc >= 0 && pc < C && tc >= 0 && tc < C) o[tc * C + pc] += 1;
    }
}

static const px_op_def cm_def = {"confusion_matrix", PX_OPF_NO_GRAD, cm_infer, NULL, cm_forward, no_backward,
                                 PX_K_CONFUSION_MATRIX};

px_node *px_confusion_matrix(px_node *pred, px_node *labels, int num_classes) {
    if (!pred || !labels) return px_null_input(__func__);
    if (num_classes < 2 || num_classes > 65536) {
        px_set_error(PX_ERR_ARG, "confusion_matrix: num_classes must be in [2, 65536], got %d", num_classes);
        return NULL;
    }
    int64_t c = num_classes;
    return px_node_make(&cm_def, (px_node *[]){pred, labels}, 2, &c, 1, NULL, 0);
}
