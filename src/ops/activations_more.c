/* The activations Keras added beyond the classic set (hard_sigmoid in its Keras 2
 * and Keras 3 forms, softsign, mish, exponential, relu6, hard_swish) and Keras's
 * configurable ReLU (max_value, negative_slope, threshold), each forward formula
 * beside its derivative. */
#include "ops/unary.h"

/* Keras's ReLU: p0 negative_slope, p1 threshold, fattr[2] max_value, fattr[3]
 * 1 when max_value is set; formulas in backend/kernels/unary.h (pxk_relu_ex). */
PX_UNARY_OP_F(relu_ex, PX_K_RELU_EX, PX_OPF_SAVE_INPUTS, pxk_relu_ex(x, p0, p1, n->fattr[2], n->fattr[3]),
              g * pxk_relu_ex_grad(x, p0, p1, n->fattr[2], n->fattr[3]))
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
