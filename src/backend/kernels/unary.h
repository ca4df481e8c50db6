/* Internal: the formulas of the elementwise ops and the broadcasting
 * arithmetic, forward beside derivative, in one place for every backend: the
 * CPU op loops (src/ops/activations.c, math.c, arith.c, dense_op.c) and the
 * device kernels inline the same functions, so an op computes the same
 * expression wherever it runs. */
#ifndef PX_BACKEND_KERNELS_UNARY_H
#define PX_BACKEND_KERNELS_UNARY_H

#include "backend/kernels/portable.h"
#include "backend/op_codes.h"

/* Keras's SELU constants (Klambauer et al., 2017). */
#define PXK_SELU_ALPHA 1.6732632423543772f
#define PXK_SELU_SCALE 1.0507009873554805f
#define PXK_INV_SQRT2 0.70710678118654752f
#define PXK_INV_SQRT_2PI 0.39894228040143268f

/* Only ever exponentiates a non-positive number, so |x| = 1000 gives exactly 0
 * or 1 instead of inf / inf = NaN. */
PXK_FN float pxk_sigmoid(float x) {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* Phi(x) through erfc keeps relative accuracy in the far left tail, where
 * 1 + erf(x) would cancel to 0. */
PXK_FN float pxk_normal_cdf(float x) { return 0.5f * erfcf(-x * PXK_INV_SQRT2); }

/* d/dx x s(x) = s (1 + x (1 - s)); finite for any x since s saturates to 0 or 1 */
PXK_FN float pxk_swish_grad(float x) {
    float s = pxk_sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
}

/* log(1 + e^x) without forming e^x for large x */
PXK_FN float pxk_softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

/* d/dx x tanh(softplus(x)) = tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2) */
PXK_FN float pxk_mish_grad(float x) {
    float t = tanhf(pxk_softplus(x));
    return t + x * pxk_sigmoid(x) * (1.0f - t * t);
}

/* v clipped to [lo, hi], NaN passed on (fminf/fmaxf would turn it into a
 * bound, and a model with a NaN weight would look healthy). */
PXK_FN float pxk_clamp_nan(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* y = f(x) for elementwise op `code`, with parameters p0 = fattr[0], p1 = fattr[1].
 * Called with a constant code, the switch folds away. */
PXK_FN float pxk_unary_fwd(int code, float x, float p0, float p1) {
    switch (code) {
    case PX_K_SIGMOID: return pxk_sigmoid(x);
    case PX_K_TANH: return tanhf(x);
    /* NaN passes through every activation, as in TensorFlow and PyTorch: a model
     * with a NaN weight must not look healthy (x > 0 ? x : 0 turns it into 0) */
    case PX_K_RELU: return x > 0 || x != x ? x : 0.0f;
    case PX_K_LEAKY_RELU: return x > 0 ? x : p0 * x;
    case PX_K_ELU: return x > 0 ? x : p0 * expm1f(x);
    case PX_K_SELU: return PXK_SELU_SCALE * (x > 0 ? x : PXK_SELU_ALPHA * expm1f(x));
    case PX_K_SWISH: return x * pxk_sigmoid(x);
    /* log(1 + e^x) rewritten so e^x is never formed for large x */
    case PX_K_SOFTPLUS: return pxk_softplus(x);
    /* exact GELU (Keras approximate=False): x Phi(x) */
    case PX_K_GELU: return x * pxk_normal_cdf(x);
    case PX_K_LINEAR: return x;
    /* NaN stays NaN in step and sign, as in TensorFlow */
    case PX_K_STEP: return x >= 0 ? 1.0f : (x < 0 ? 0.0f : x);
    case PX_K_SIGN: return x > 0 ? 1.0f : (x < 0 ? -1.0f : x);
    case PX_K_EXP: return expf(x);
    case PX_K_LOG: return logf(x);
    case PX_K_SQRT: return sqrtf(x);
    case PX_K_SQUARE: return x * x;
    case PX_K_POW: return powf(x, p0);
    case PX_K_ABS: return fabsf(x);
    case PX_K_NEG: return -x;
    case PX_K_CLIP: return x < p0 ? p0 : (x > p1 ? p1 : x);
    /* the activations Keras added later (ops/activations_more.c) */
    case PX_K_HARD_SIGMOID: return pxk_clamp_nan(p0 * x + p1, 0.0f, 1.0f);
    case PX_K_SOFTSIGN: return x / (1.0f + fabsf(x));
    case PX_K_MISH: return x * tanhf(pxk_softplus(x));
    case PX_K_EXPONENTIAL: return expf(x);
    case PX_K_RELU6: return pxk_clamp_nan(x, 0.0f, 6.0f);
    /* x relu6(x + 3) / 6 */
    case PX_K_HARD_SWISH: return x * pxk_clamp_nan(x + 3.0f, 0.0f, 6.0f) * (1.0f / 6.0f);
    default: return x;
    }
}

/* d(loss)/dx given x, the output y = f(x) and the incoming gradient g. Each op
 * reads only what its flags save (SAVE_OUTPUT ops y, SAVE_INPUTS ops x). */
PXK_FN float pxk_unary_bwd(int code, float x, float y, float g, float p0, float p1) {
    switch (code) {
    case PX_K_SIGMOID: return g * y * (1.0f - y);
    case PX_K_TANH: return g * (1.0f - y * y);
    case PX_K_RELU: return y > 0 ? g : 0.0f;
    /* the input, not the output, decides the branch: alpha may be 0 or negative */
    case PX_K_LEAKY_RELU: return x > 0 ? g : p0 * g;
    case PX_K_ELU: return x > 0 ? g : g * p0 * expf(x);
    case PX_K_SELU: return g * PXK_SELU_SCALE * (x > 0 ? 1.0f : PXK_SELU_ALPHA * expf(x));
    case PX_K_SWISH: return g * pxk_swish_grad(x);
    case PX_K_SOFTPLUS: return g * pxk_sigmoid(x);
    case PX_K_GELU: return g * (pxk_normal_cdf(x) + x * PXK_INV_SQRT_2PI * expf(-0.5f * x * x));
    case PX_K_LINEAR: return g;
    /* piecewise constant: flagged NO_GRAD, the zero is only formal */
    case PX_K_STEP:
    case PX_K_SIGN: return 0.0f * g;
    case PX_K_EXP: return g * y;
    case PX_K_LOG: return g / x;
    case PX_K_SQRT: return g * 0.5f / y;
    case PX_K_SQUARE: return g * 2.0f * x;
    /* d/dx x^p = p x^(p-1); written without powf(x, p - 1) so x = 0 with p = 1 gives 1 */
    case PX_K_POW: return p0 == 1.0f ? g : g * p0 * powf(x, p0 - 1.0f);
    /* the subgradient at 0 is taken as 0, as TensorFlow does */
    case PX_K_ABS: return x > 0 ? g : (x < 0 ? -g : 0.0f);
    case PX_K_NEG: return -g;
    case PX_K_CLIP: return (x > p0 && x < p1) ? g : 0.0f;
    case PX_K_HARD_SIGMOID: return (p0 * x + p1 > 0.0f && p0 * x + p1 < 1.0f) ? g * p0 : 0.0f;
    case PX_K_SOFTSIGN: return g / ((1.0f + fabsf(x)) * (1.0f + fabsf(x)));
    case PX_K_MISH: return g * pxk_mish_grad(x);
    case PX_K_EXPONENTIAL: return g * y;
    case PX_K_RELU6: return (x > 0.0f && x < 6.0f) ? g : 0.0f;
    /* 0 below -3, 1 above 3, (2x + 3) / 6 between */
    case PX_K_HARD_SWISH: return x <= -3.0f ? 0.0f : (x >= 3.0f ? g : g * (2.0f * x + 3.0f) * (1.0f / 6.0f));
    default: return g;
    }
}

/* Keras's ReLU (PX_K_RELU_EX): a = x above the threshold t, else 0; clipped
 * to [0, max_value m] when has_max; minus slope * relu(t - x), as
 * keras.activations.relu computes it (so a threshold below 0 without a
 * max_value passes x in (t, 0] through unchanged). NaN passes. */
PXK_FN float pxk_relu_ex(float x, float slope, float t, float m, float has_max) {
    if (x != x) return x;
    float a = x > t ? x : 0.0f;
    if (has_max != 0) a = fminf(fmaxf(a, 0.0f), m);
    return a - slope * fmaxf(t - x, 0.0f);
}
PXK_FN float pxk_relu_ex_grad(float x, float slope, float t, float m, float has_max) {
    float d = x > t ? 1.0f : 0.0f;
    if (has_max != 0 && !(x > 0 && x < m)) d = 0.0f;
    return d + (t - x > 0 ? slope : 0.0f);
}

/* Only exp(-|z|) <= 1 is ever formed, so logits of +-1000 give finite losses. */
PXK_FN float pxk_sigmoid_stable(float z) {
    float e = expf(-fabsf(z));
    return z >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* Broadcasting arithmetic (PX_K_BINARY): a op b, and d(out)/d(a), d(out)/d(b)
 * times the incoming gradient g. */
PXK_FN float pxk_binary(int op, float x, float y) {
    switch (op) {
    case PX_BIN_ADD: return x + y;
    case PX_BIN_SUB: return x - y;
    case PX_BIN_MUL: return x * y;
    default: return x / y;
    }
}
/* d(out)/d(a) and d(out)/d(b) times the incoming gradient g. */
PXK_FN float pxk_binary_ga(int op, float g, float y) {
    switch (op) {
    case PX_BIN_ADD:
    case PX_BIN_SUB: return g;
    case PX_BIN_MUL: return g * y;
    default: return g / y;
    }
}
PXK_FN float pxk_binary_gb(int op, float g, float x, float y) {
    switch (op) {
    case PX_BIN_ADD: return g;
    case PX_BIN_SUB: return -g;
    case PX_BIN_MUL: return g * x;
    default: return -g * x / (y * y);
    }
}

#endif
