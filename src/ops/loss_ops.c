/* Fused, numerically stable losses: softmax cross-entropy with dense or sparse
 * (int32) labels, and sigmoid cross-entropy, each forward beside its backward. */
#include <math.h>

#include "backend/kernels/helpers.h"
#include "backend/kernels/unary.h"
#include "ops/op_util.h"

/* Dimensions agree when equal or when either is not known yet. */
static bool dims_match(int64_t a, int64_t b) { return a == b || a == PX_UNKNOWN || b == PX_UNKNOWN; }

/* The logits as rows over the last axis. */
static void rows_of(const px_tensor *logits, int64_t *rows, int64_t *classes) {
    *classes = logits->rank ? logits->shape[logits->rank - 1] : 1;
    *rows = *classes ? px_tensor_size(logits) / *classes : 0;
}

/* The forward pass keeps each row's log-sum-exp in the state buffer, so the
 * backward pass needs a single exp per element and no second reduction. */
static size_t lse_state_bytes(const px_node *n, const px_shape *in, px_shape out) {
    (void)n, (void)in;
    return (size_t)px_shape_size(out) * sizeof(float);
}

/* ---- softmax_cross_entropy(logits, labels): float labels of the logits' shape ---- */

static px_status sce_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sa[96], sb[96];
    if (n->inputs[0]->dtype != PX_F32 || n->inputs[1]->dtype != PX_F32)
        return px_set_error(PX_ERR_ARG, "softmax_cross_entropy: logits and labels must be float32 "
                                        "(use sparse_softmax_cross_entropy for int32 class labels)");
    bool ok = in[0].rank >= 1 && in[0].rank == in[1].rank;
    for (int i = 0; ok && i < in[0].rank; i++) ok = dims_match(in[0].dim[i], in[1].dim[i]);
    if (!ok)
        return px_set_error(PX_ERR_SHAPE,
                            "softmax_cross_entropy: logits of shape %s and labels of shape %s; "
                            "expected equal shapes of rank at least 1",
                            px_shape_format(in[0], sa, sizeof sa), px_shape_format(in[1], sb, sizeof sb));
    *out = in[0];
    out->rank--;
    for (int i = 0; i < out->rank; i++)
        if (out->dim[i] == PX_UNKNOWN) out->dim[i] = in[1].dim[i];
    *dt = PX_F32;
    return PX_OK;
}

/* loss = sum_j y_j (lse - x_j), i.e. -sum(y * log_softmax(x)); labels that are 0
 * contribute exactly 0 even where log_softmax is very negative. */
static void sce_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)n;
    int64_t rows, c;
    rows_of(in[0], &rows, &c);
    const float *x = in[0]->data, *y = in[1]->data;
    float *loss = out->data, *lse = ex->state;
    PX_FOR(r, rows, rows * c, 
        const float *xr = x + r * c, *yr = y + r * c;
        float l = pxk_row_logsumexp(xr, c);
        double acc = 0;
        for (int64_t j = 0; j < c; j++)
            if (yr[j] != 0) acc += (double)yr[j] * (l - xr[j]);
        lse[r] = l;
        loss[r] = (float)acc;
    );
}

/* d/dx_j = g (softmax_j sum(y) - y_j), which is g (softmax - y) for one-hot or
 * probability labels; d/dy_j = g (lse - x_j) = -g log_softmax_j. */
static void sce_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                         const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)out;
    int64_t rows, c;
    rows_of(in[0], &rows, &c);
    const float *x = in[0]->data, *y = in[1]->data, *g = gout->data, *lse = ex->state;
    float *gx = gin[0] ? gin[0]->data : NULL, *gy = gin[1] ? gin[1]->data : NULL;
    PX_FOR(r, rows, rows * c, 
        const float *xr = x + r * c, *yr = y + r * c;
        if (gx) {
            double ysum = 0;
            for (int64_t j = 0; j < c; j++) ysum += yr[j];
            for (int64_t j = 0; j < c; j++)
                gx[r * c + j] += g[r] * (expf(xr[j] - lse[r]) * (float)ysum - yr[j]);
        }
        if (gy)
            for (int64_t j = 0; j < c; j++) gy[r * c + j] += g[r] * (lse[r] - xr[j]);
    );
}

static const px_op_def sce_def = {"softmax_cross_entropy", PX_OPF_SAVE_INPUTS, sce_infer,
                                  lse_state_bytes, sce_forward, sce_backward, PX_K_SOFTMAX_CE};

px_node *px_softmax_cross_entropy(px_node *logits, px_node *labels) {
    return px_node_make(&sce_def, (px_node *[]){logits, labels}, 2, NULL, 0, NULL, 0);
}

/* ---- sparse_softmax_cross_entropy(logits, labels): int32 class indices ----
 *
 * Labels outside [0, classes) cannot be clamped without silently training on
 * the wrong class. When the labels' values are known while the graph is built
 * (a constant, or any node of an eager graph) they are checked in infer and
 * the op is refused. Labels fed at run time cannot fail the forward pass, so
 * an out-of-range label gives that example a NaN loss and NaN logit gradients
 * (as TensorFlow does on GPUs): the failure shows up in the loss instead of
 * reading out of bounds. */

static px_status ssce_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sa[96], sb[96];
    if (n->inputs[0]->dtype != PX_F32 || n->inputs[1]->dtype != PX_I32)
        return px_set_error(PX_ERR_ARG, "sparse_softmax_cross_entropy: logits must be float32 and "
                                        "labels int32 class indices");
    bool ok = in[0].rank >= 1 && in[1].rank == in[0].rank - 1;
    for (int i = 0; ok && i < in[1].rank; i++) ok = dims_match(in[0].dim[i], in[1].dim[i]);
    if (!ok)
        return px_set_error(PX_ERR_SHAPE,
                            "sparse_softmax_cross_entropy: logits of shape %s and labels of shape %s; "
                            "expected the labels' shape to be the logits' shape without the last axis",
                            px_shape_format(in[0], sa, sizeof sa), px_shape_format(in[1], sb, sizeof sb));
    int64_t classes = in[0].dim[in[0].rank - 1];
    if (classes == 0)
        return px_set_error(PX_ERR_SHAPE, "sparse_softmax_cross_entropy: logits of shape %s have no classes",
                            px_shape_format(in[0], sa, sizeof sa));
    const px_tensor *lv = n->inputs[1]->value;
    if (classes != PX_UNKNOWN && lv && lv->dtype == PX_I32) {
        for (int64_t i = 0, count = px_tensor_size(lv); i < count; i++) {
            float v = px_tensor_get_flat(lv, i);
            if (v < 0 || v >= (float)classes)
                return px_set_error(PX_ERR_ARG,
                                    "sparse_softmax_cross_entropy: label %lld at position %lld is out "
                                    "of range for %lld classes (logits of shape %s)",
                                    (long long)v, (long long)i, (long long)classes,
                                    px_shape_format(in[0], sa, sizeof sa));
        }
    }
    *out = in[1];
    for (int i = 0; i < out->rank; i++)
        if (out->dim[i] == PX_UNKNOWN) out->dim[i] = in[0].dim[i];
    *dt = PX_F32;
    return PX_OK;
}

static void ssce_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)n;
    int64_t rows, c;
    rows_of(in[0], &rows, &c);
    const float *x = in[0]->data;
    const int32_t *lab = in[1]->data;
    float *loss = out->data, *lse = ex->state;
    PX_FOR(r, rows, rows * c, 
        lse[r] = pxk_row_logsumexp(x + r * c, c);
        loss[r] = lab[r] >= 0 && lab[r] < c ? lse[r] - x[r * c + lab[r]] : NAN;
    );
}

/* d/dx_j = g (softmax_j - [j == label]); integer labels get no gradient. */
static void ssce_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                          const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)out;
    if (!gin[0]) return;
    int64_t rows, c;
    rows_of(in[0], &rows, &c);
    const float *x = in[0]->data, *g = gout->data, *lse = ex->state;
    const int32_t *lab = in[1]->data;
    float *gx = gin[0]->data;
    PX_FOR(r, rows, rows * c, 
        float *gr = gx + r * c;
        if (lab[r] < 0 || lab[r] >= c) {
            for (int64_t j = 0; j < c; j++) gr[j] += NAN;
            continue;
        }
        for (int64_t j = 0; j < c; j++) gr[j] += g[r] * expf(x[r * c + j] - lse[r]);
        gr[lab[r]] -= g[r];
    );
}

static const px_op_def ssce_def = {"sparse_softmax_cross_entropy", PX_OPF_SAVE_INPUTS, ssce_infer,
                                   lse_state_bytes, ssce_forward, ssce_backward, PX_K_SPARSE_CE};

px_node *px_sparse_softmax_cross_entropy(px_node *logits, px_node *labels) {
    return px_node_make(&ssce_def, (px_node *[]){logits, labels}, 2, NULL, 0, NULL, 0);
}

/* ---- sigmoid_cross_entropy(logits, labels): elementwise, same shape ---- */

static px_status bce_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sa[96], sb[96];
    if (n->inputs[0]->dtype != PX_F32 || n->inputs[1]->dtype != PX_F32)
        return px_set_error(PX_ERR_ARG, "sigmoid_cross_entropy: logits and labels must be float32");
    bool ok = in[0].rank == in[1].rank;
    for (int i = 0; ok && i < in[0].rank; i++) ok = dims_match(in[0].dim[i], in[1].dim[i]);
    if (!ok)
        return px_set_error(PX_ERR_SHAPE,
                            "sigmoid_cross_entropy: logits of shape %s and labels of shape %s; "
                            "expected equal shapes",
                            px_shape_format(in[0], sa, sizeof sa), px_shape_format(in[1], sb, sizeof sb));
    *out = in[0];
    for (int i = 0; i < out->rank; i++)
        if (out->dim[i] == PX_UNKNOWN) out->dim[i] = in[1].dim[i];
    *dt = PX_F32;
    return PX_OK;
}

static void bce_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)n, (void)ex;
    const float *z = in[0]->data, *y = in[1]->data;
    float *o = out->data;
    int64_t count = px_tensor_size(out);
    PX_FOR(i, count, count, o[i] = fmaxf(z[i], 0.0f) - z[i] * y[i] + log1pf(expf(-fabsf(z[i]))););
}

/* d/dz = g (sigmoid(z) - y); d/dy = -g z. */
static void bce_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                         const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)ex;
    const float *z = in[0]->data, *y = in[1]->data, *g = gout->data;
    int64_t count = px_tensor_size(out);
    if (gin[0]) {
        float *gz = gin[0]->data;
        PX_FOR(i, count, count, gz[i] += g[i] * (pxk_sigmoid_stable(z[i]) - y[i]););
    }
    if (gin[1]) {
        float *gy = gin[1]->data;
        PX_FOR(i, count, count, gy[i] -= g[i] * z[i];);
    }
}

static const px_op_def bce_def = {"sigmoid_cross_entropy", PX_OPF_SAVE_INPUTS, bce_infer, NULL,
                                  bce_forward, bce_backward, PX_K_SIGMOID_CE};

px_node *px_sigmoid_cross_entropy(px_node *logits, px_node *labels) {
    return px_node_make(&bce_def, (px_node *[]){logits, labels}, 2, NULL, 0, NULL, 0);
}
