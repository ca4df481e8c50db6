/* Elementwise activation functions (Keras's set), each forward formula beside
 * its derivative. Softmax, log-softmax and maxout live in softmax.c. */
#include "ops/unary.h"

/* Keras's SELU constants (Klambauer et al., 2017). */
#define SELU_ALPHA 1.6732632423543772f
#define SELU_SCALE 1.0507009873554805f
#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

/* Only ever exponentiates a non-positive number, so |x| = 1000 gives exactly 0
 * or 1 instead of inf / inf = NaN. */
static inline float sigmoidf(float x) {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* Phi(x) through erfc keeps relative accuracy in the far left tail, where
 * 1 + erf(x) would cancel to 0. */
static inline float normal_cdf(float x) { return 0.5f * erfcf(-x * INV_SQRT2); }

/* d/dx x s(x) = s (1 + x (1 - s)); finite for any x since s saturates to 0 or 1 */
static inline float swish_grad(float x) {
    float s = sigmoidf(x);
    return s * (1.0f + x * (1.0f - s));
}

PX_UNARY_OP(sigmoid, PX_OPF_SAVE_OUTPUT, sigmoidf(x), g * y * (1.0f - y))
PX_UNARY_OP(tanh, PX_OPF_SAVE_OUTPUT, tanhf(x), g * (1.0f - y * y))
PX_UNARY_OP(relu, PX_OPF_SAVE_OUTPUT, x > 0 ? x : 0.0f, y > 0 ? g : 0.0f)
/* the input, not the output, decides the branch: alpha may be 0 or negative */
PX_UNARY_OP(leaky_relu, PX_OPF_SAVE_INPUTS, x > 0 ? x : p0 * x, x > 0 ? g : p0 * g)
PX_UNARY_OP(elu, PX_OPF_SAVE_INPUTS, x > 0 ? x : p0 * expm1f(x), x > 0 ? g : g * p0 * expf(x))
PX_UNARY_OP(selu, PX_OPF_SAVE_INPUTS, SELU_SCALE * (x > 0 ? x : SELU_ALPHA * expm1f(x)),
            g * SELU_SCALE * (x > 0 ? 1.0f : SELU_ALPHA * expf(x)))
PX_UNARY_OP(swish, PX_OPF_SAVE_INPUTS, x * sigmoidf(x), g * swish_grad(x))
/* log(1 + e^x) rewritten so e^x is never formed for large x */
PX_UNARY_OP(softplus, PX_OPF_SAVE_INPUTS, fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))), g * sigmoidf(x))
/* exact GELU (Keras approximate=False): x Phi(x), derivative Phi(x) + x phi(x) */
PX_UNARY_OP(gelu, PX_OPF_SAVE_INPUTS, x * normal_cdf(x),
            g * (normal_cdf(x) + x * INV_SQRT_2PI * expf(-0.5f * x * x)))
PX_UNARY_OP(linear, 0, x, g)
/* Piecewise constant: flagged NO_GRAD so no gradient buffer or backward step is
 * planned for them; the zero derivatives are only formal. NaN stays NaN in sign,
 * as in TensorFlow. */
PX_UNARY_OP(step, PX_OPF_NO_GRAD, x >= 0 ? 1.0f : 0.0f, 0.0f * g)
PX_UNARY_OP(sign, PX_OPF_NO_GRAD, x > 0 ? 1.0f : (x < 0 ? -1.0f : x), 0.0f * g)

px_node *px_sigmoid(px_node *x) { return PX_UNARY_NODE(sigmoid, x, 0); }
px_node *px_tanh(px_node *x) { return PX_UNARY_NODE(tanh, x, 0); }
px_node *px_relu(px_node *x) { return PX_UNARY_NODE(relu, x, 0); }
px_node *px_leaky_relu(px_node *x, float alpha) { return PX_UNARY_NODE(leaky_relu, x, alpha); }
px_node *px_elu(px_node *x, float alpha) { return PX_UNARY_NODE(elu, x, alpha); }
px_node *px_selu(px_node *x) { return PX_UNARY_NODE(selu, x, 0); }
px_node *px_swish(px_node *x) { return PX_UNARY_NODE(swish, x, 0); }
px_node *px_softplus(px_node *x) { return PX_UNARY_NODE(softplus, x, 0); }
px_node *px_gelu(px_node *x) { return PX_UNARY_NODE(gelu, x, 0); }
px_node *px_linear(px_node *x) { return PX_UNARY_NODE(linear, x, 0); }
px_node *px_step(px_node *x) { return PX_UNARY_NODE(step, x, 0); }
px_node *px_sign(px_node *x) { return PX_UNARY_NODE(sign, x, 0); }
