/* Elementwise math: exp, log, sqrt, square, pow, abs, neg, clip. */
#include "ops/unary.h"

PX_UNARY_OP(exp, PX_OPF_SAVE_OUTPUT, expf(x), g * y)
PX_UNARY_OP(log, PX_OPF_SAVE_INPUTS, logf(x), g / x)
PX_UNARY_OP(sqrt, PX_OPF_SAVE_OUTPUT, sqrtf(x), g * 0.5f / y)
PX_UNARY_OP(square, PX_OPF_SAVE_INPUTS, x * x, g * 2.0f * x)
/* d/dx x^p = p x^(p-1); written without powf(x, p - 1) so x = 0 with p = 1 gives 1 */
PX_UNARY_OP(pow, PX_OPF_SAVE_INPUTS, powf(x, p0), p0 == 1.0f ? g : g * p0 * powf(x, p0 - 1.0f))
/* the subgradient at 0 is taken as 0, as TensorFlow does */
PX_UNARY_OP(abs, PX_OPF_SAVE_INPUTS, fabsf(x), x > 0 ? g : (x < 0 ? -g : 0.0f))
PX_UNARY_OP(neg, 0, -x, -g)
PX_UNARY_OP(clip, PX_OPF_SAVE_INPUTS, x < p0 ? p0 : (x > p1 ? p1 : x), (x > p0 && x < p1) ? g : 0.0f)

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
