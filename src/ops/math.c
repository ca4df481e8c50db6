/* Elementwise math: exp, log, sqrt, square, pow, abs, neg, clip (formulas in
 * backend/kernels/unary.h). */
#include "ops/unary.h"

PX_UNARY_OP(exp, PX_K_EXP, PX_OPF_SAVE_OUTPUT)
PX_UNARY_OP(log, PX_K_LOG, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(sqrt, PX_K_SQRT, PX_OPF_SAVE_OUTPUT)
PX_UNARY_OP(square, PX_K_SQUARE, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(pow, PX_K_POW, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(abs, PX_K_ABS, PX_OPF_SAVE_INPUTS)
PX_UNARY_OP(neg, PX_K_NEG, 0)
PX_UNARY_OP(clip, PX_K_CLIP, PX_OPF_SAVE_INPUTS)

px_node *px_exp(px_node *x) { return PX_UNARY_NODE(exp, x, 0); }
px_node *px_log(px_node *x) { return PX_UNARY_NODE(log, x, 0); }
px_node *px_sqrt(px_node *x) { return PX_UNARY_NODE(sqrt, x, 0); }
px_node *px_square(px_node *x) { return PX_UNARY_NODE(square, x, 0); }
px_node *px_pow(px_node *x, float exponent) { return PX_UNARY_NODE(pow, x, exponent); }
px_node *px_abs(px_node *x) { return PX_UNARY_NODE(abs, x, 0); }
px_node *px_neg(px_node *x) { return PX_UNARY_NODE(neg, x, 0); }
px_node *px_clip(px_node *x, float lo, float hi) {
    if (!(lo <= hi)) {
        px_set_error(PX_ERR_ARG, "clip: lower bound %g is above upper bound %g", lo, hi);
        return NULL;
    }
    return PX_UNARY_NODE(clip, x, lo, hi);
}
