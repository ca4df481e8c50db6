/* The activations Keras added beyond the classic set (hard_sigmoid in its Keras 2
 * and Keras 3 forms, softsign, mish, exponential, relu6, hard_swish) and Keras's
 * configurable ReLU (max_value, negative_slope, threshold), each forward formula
 * beside its derivative. */
#include "ops/unary.h"

/* Keras's ReLU has four parameters, more than a device's elementwise kernel
 * takes (kernels/unary.h): it runs on the CPU (PX_K_NONE), its formulas here.
 * The others are in unary.h under op codes, for every backend. */
#define MORE_UNARY_OP(NAME, FLAGS, FWD, BWD) PX_UNARY_OP_F(NAME, PX_K_NONE, FLAGS, FWD, BWD)

/* Keras's ReLU: p0 negative_slope, p1 threshold, fattr[2] max_value, fattr[3]
 * 1 when max_value is set. a = x above the threshold, else 0; clipped to
 * [0, max_value] when set; minus slope * relu(threshold - x), as
 * keras.activations.relu computes it (so a threshold below 0 without a
 * max_value passes x in (threshold, 0] through unchanged). */
static inline float relu_ex_f(float x, float slope, float thr, float mx, float has_max) {
    if (x != x) return x; /* NaN passes, as through every activation */
    float a = x > thr ? x : 0.0f;
    if (has_max != 0) a = fminf(fmaxf(a, 0.0f), mx);
    return a - slope * fmaxf(thr - x, 0.0f);
}
static inline float relu_ex_d(float x, float slope, float thr, float mx, float has_max) {
    float d = x > thr ? 1.0f : 0.0f;
    if (has_max != 0 && !(x > 0 && x < mx)) d = 0.0f;
    return d + (thr - x > 0 ? slope : 0.0f);
}

MORE_UNARY_OP(relu_ex, PX_OPF_SAVE_INPUTS, relu_ex_f(x, p0, p1, n->fattr[2], n->fattr[3]),
            g * relu_ex_d(x, p0, p1, n->fattr[2], n->fattr[3]))
/* clip(slope x + offset, 0, 1): p0 slope, p1 offset */
PX_UNARY_OP(hard_sigmoid, PX_K_HARD_SIGMOID, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(softsign, PX_K_SOFTSIGN, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(mish, PX_K_MISH, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(exponential, PX_K_EXPONENTIAL, PX_OPF_SAVE_OUTPUT)
PX_UNARY_OP(relu6, PX_K_RELU6, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(hard_swish, PX_K_HARD_SWISH, PX_OPF_SAVE_INPUTS)

px_node *px_relu_ex(px_node *x, float negative_slope, float max_value, float threshold) {
    if (!x) return px_null_input(__func__);
    bool has_max = !isinf(max_value);
    if (isnan(max_value) || isnan(negative_slope) || isnan(threshold) || (has_max && max_value < 0)) {
        px_set_error(PX_ERR_ARG, "relu: max_value %g, negative_slope %g, threshold %g: max_value must be >= 0 "
                     "(INFINITY: none) and none may be NaN", max_value, negative_slope, threshold);
        return NULL;
    }
    return PX_UNARY_NODE(relu_ex, x, negative_slope, threshold, has_max ? max_value : 0.0f, has_max ? 1.0f : 0.0f);
}
px_node *px_hard_sigmoid(px_node *x, float slope, float offset) { return PX_UNARY_NODE(hard_sigmoid, x, slope, offset); }
px_node *px_softsign(px_node *x) { return PX_UNARY_NODE(softsign, x, 0); }
px_node *px_mish(px_node *x) { return PX_UNARY_NODE(mish, x, 0); }
px_node *px_exponential(px_node *x) { return PX_UNARY_NODE(exponential, x, 0); }
px_node *px_relu6(px_node *x) { return PX_UNARY_NODE(relu6, x, 0); }
px_node *px_hard_swish(px_node *x) { return PX_UNARY_NODE(hard_swish, x, 0); }
