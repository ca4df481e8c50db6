/* Accuracy ops for metrics: per-example hits, with no gradient. */
#include "ops/op_util.h"

enum { ACC_SPARSE = PX_ACC_SPARSE, ACC_CATEGORICAL = PX_ACC_CATEGORICAL, ACC_BINARY = PX_ACC_BINARY,
       ACC_TOP_K = PX_ACC_TOP_K };

/* The label of row r from an int32 (batch) / (batch, 1) tensor or a float one-hot row. */
static int64_t label_at(const px_tensor *labels, int64_t r, int64_t classes, bool one_hot) {
    if (!one_hot) return ((const int32_t *)labels->data)[r];
    const float *row = (const float *)labels->data + r * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; c++)
        if (row[c] > row[best]) best = c;
    return best;
}

static px_status acc_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    int mode = (int)n->iattr[0];
    char sa[96], sb[96];
    *dt = PX_F32;
    px_dtype ldt = n->inputs[1]->dtype;
    if (n->inputs[0]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "%s: predictions must be float32", n->op->name);
    if (mode == ACC_BINARY) {
        if (ldt != PX_F32) return px_set_error(PX_ERR_ARG, "binary_accuracy: labels must be float32");
        return px_broadcast_shape("binary_accuracy", in[0], in[1], out);
    }
    if (in[0].rank < 1) return px_set_error(PX_ERR_SHAPE, "%s: predictions need a class axis", n->op->name);
    px_shape rows = in[0];
    rows.rank--;
    bool ok;
    if (mode == ACC_CATEGORICAL) {
        ok = ldt == PX_F32 && in[1].rank == in[0].rank;
        for (int i = 0; ok && i < in[0].rank; i++)
            ok = in[0].dim[i] == in[1].dim[i] || in[0].dim[i] == PX_UNKNOWN || in[1].dim[i] == PX_UNKNOWN;
    } else {
        ok = ldt == PX_I32 && (in[1].rank == rows.rank || (in[1].rank == rows.rank + 1 && in[1].dim[rows.rank] == 1));
        for (int i = 0; ok && i < rows.rank; i++)
            ok = rows.dim[i] == in[1].dim[i] || rows.dim[i] == PX_UNKNOWN || in[1].dim[i] == PX_UNKNOWN;
    }
    if (!ok)
        return px_set_error(PX_ERR_SHAPE, "%s: labels %s (%s) do not fit predictions %s", n->op->name,
                            px_shape_format(in[1], sb, sizeof sb), ldt == PX_I32 ? "int32" : "float32",
                            px_shape_format(in[0], sa, sizeof sa));
    *out = rows;
    return PX_OK;
}

static void acc_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    int mode = (int)n->iattr[0];
    float *o = out->data;
    const float *p = in[0]->data;
    if (mode == ACC_BINARY) {
        const float *y = in[1]->data, thr = n->fattr[0];
        int64_t count = px_tensor_size(out), np = px_tensor_size(in[0]), ny = px_tensor_size(in[1]);
        for (int64_t i = 0; i < count; i++)
            o[i] = (float)((p[np == count ? i : i % np] > thr) == (y[ny == count ? i : i % ny] > 0.5f));
        return;
    }
    int64_t classes = in[0]->shape[in[0]->rank - 1], rows = px_tensor_size(out);
    for (int64_t r = 0; r < rows; r++) {
        const float *row = p + r * classes;
        int64_t label = label_at(in[1], r, classes, mode == ACC_CATEGORICAL);
        if (label < 0 || label >= classes) {
            o[r] = 0;
            continue;
        }
        if (mode == ACC_TOP_K) {
            /* rank of the label's score: how many classes score strictly higher */
            int64_t higher = 0;
            for (int64_t c = 0; c < classes; c++) higher += row[c] > row[label];
            o[r] = (float)(higher < n->iattr[1]);
        } else {
            int64_t best = 0;
            for (int64_t c = 1; c < classes; c++)
                if (row[c] > row[best]) best = c;
            o[r] = (float)(best == label);
        }
    }
}

static void no_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                        const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)in, (void)out, (void)gout, (void)gin, (void)ex;
}

static const px_op_def sparse_def = {"sparse_accuracy", PX_OPF_NO_GRAD, acc_infer, NULL, acc_forward, no_backward,
                                     PX_K_ACCURACY};
static const px_op_def cat_def = {"categorical_accuracy", PX_OPF_NO_GRAD, acc_infer, NULL, acc_forward, no_backward,
                                  PX_K_ACCURACY};
static const px_op_def bin_def = {"binary_accuracy", PX_OPF_NO_GRAD, acc_infer, NULL, acc_forward, no_backward,
                                  PX_K_ACCURACY};
static const px_op_def topk_def = {"in_top_k", PX_OPF_NO_GRAD, acc_infer, NULL, acc_forward, no_backward,
                                   PX_K_ACCURACY};

px_node *px_sparse_accuracy(px_node *pred, px_node *labels) {
    int64_t a[1] = {ACC_SPARSE};
    return px_node_make(&sparse_def, (px_node *[]){pred, labels}, 2, a, 1, NULL, 0);
}
px_node *px_categorical_accuracy(px_node *pred, px_node *one_hot) {
    int64_t a[1] = {ACC_CATEGORICAL};
    return px_node_make(&cat_def, (px_node *[]){pred, one_hot}, 2, a, 1, NULL, 0);
}
px_node *px_binary_accuracy(px_node *pred, px_node *labels, float threshold) {
    int64_t a[1] = {ACC_BINARY};
    return px_node_make(&bin_def, (px_node *[]){pred, labels}, 2, a, 1, &threshold, 1);
}
px_node *px_in_top_k(px_node *pred, px_node *labels, int k) {
    if (k < 1) {
        px_set_error(PX_ERR_ARG, "in_top_k: k must be at least 1, got %d", k);
        return NULL;
    }
    int64_t a[2] = {ACC_TOP_K, k};
    return px_node_make(&topk_def, (px_node *[]){pred, labels}, 2, a, 2, NULL, 0);
}
