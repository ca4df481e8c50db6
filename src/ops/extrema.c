/* Elementwise maximum and minimum of two tensors of one shape (Keras's Maximum
 * and Minimum layers). The gradient goes to the input that was picked; on a tie
 * to the first, as TensorFlow does. */
#include "ops/op_util.h"

static px_status extrema_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sa[96], sb[96];
    if (n->inputs[0]->dtype != PX_F32 || n->inputs[1]->dtype != PX_F32)
        return px_set_error(PX_ERR_ARG, "%s: inputs must be float32", n->op->name);
    bool same = in[0].rank == in[1].rank;
    for (int i = 0; same && i < in[0].rank; i++)
        same = in[0].dim[i] == in[1].dim[i] || in[0].dim[i] == PX_UNKNOWN || in[1].dim[i] == PX_UNKNOWN;
    if (!same)
        return px_set_error(PX_ERR_SHAPE, "%s: inputs %s and %s must have the same shape", n->op->name,
                            px_shape_format(in[0], sa, sizeof sa), px_shape_format(in[1], sb, sizeof sb));
    *out = in[0];
    for (int i = 0; i < in[0].rank; i++)
        if (out->dim[i] == PX_UNKNOWN) out->dim[i] = in[1].dim[i];
    *dt = PX_F32;
    return PX_OK;
}

/* iattr[0]: 1 for maximum, 0 for minimum. a "wins" where picks_a is true. */
static inline bool picks_a(int64_t is_max, float a, float b) { return is_max ? a >= b : a <= b; }

static void extrema_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    const float *a = in[0]->data, *b = in[1]->data;
    float *y = out->data;
    const int64_t is_max = n->iattr[0], count = px_tensor_size(out);
    PX_FOR(i, count, count, y[i] = picks_a(is_max, a[i], b[i]) ? a[i] : b[i];);
}

static void extrema_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                             const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out, (void)ex;
    const float *a = in[0]->data, *b = in[1]->data, *g = gout->data;
    const int64_t is_max = n->iattr[0], count = px_tensor_size(gout);
    if (gin[0]) {
        float *ga = gin[0]->data;
        PX_FOR(i, count, count, if (picks_a(is_max, a[i], b[i])) ga[i] += g[i];);
    }
    if (gin[1]) {
        float *gb = gin[1]->data;
        PX_FOR(i, count, count, if (!picks_a(is_max, a[i], b[i])) gb[i] += g[i];);
    }
}

static const px_op_def maximum_def = {"maximum", PX_OPF_SAVE_INPUTS, extrema_infer, NULL, extrema_forward,
                                      extrema_backward, PX_K_EXTREMA};
static const px_op_def minimum_def = {"minimum", PX_OPF_SAVE_INPUTS, extrema_infer, NULL, extrema_forward,
                                      extrema_backward, PX_K_EXTREMA};

px_node *px_maximum(px_node *a, px_node *b) {
    int64_t is_max = 1;
    return px_node_make(&maximum_def, (px_node *[]){a, b}, 2, &is_max, 1, NULL, 0);
}
px_node *px_minimum(px_node *a, px_node *b) {
    int64_t is_max = 0;
    return px_node_make(&minimum_def, (px_node *[]){a, b}, 2, &is_max, 1, NULL, 0);
}
