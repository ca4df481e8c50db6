/* The table of activations by Keras name, each mapped onto its graph op. A new
 * activation adds its op (activations.c and plexus/ops.h), its enum value
 * (plexus/activations.h) and one line here; layers, configs and the CLI find it by
 * name from this table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend/kernels/unary.h"
#include "graph/node.h"
#include "ops/activation_scalar.h"
#include "plexus/ops.h"

typedef struct px_activation_def {
    const char *name;  /* Keras's name */
    const char *alias; /* another name Keras accepts, or NULL */
    px_node *(*apply)(px_node *x);
    /* the same function on one float and its derivative, for kernels with their
     * own loops (NULL: not elementwise) */
    px_act_f f;
    px_act_df df;
} px_activation_def;

/* ---- scalar forms (the graph ops' formulas, one value at a time; the shared
 * ones from backend/kernels/unary.h) ---- */
#define SELU_A 1.6732632423543772f
#define SELU_S 1.0507009873554805f
static float linear_f(float a) { return a; }
static float one_d(float a, float y) { return (void)a, (void)y, 1.0f; }
static float flat_d(float a, float y) { return (void)a, (void)y, 0.0f; }
static float relu_f(float a) { return a > 0 || a != a ? a : 0.0f; }
static float relu_d(float a, float y) { return (void)y, a > 0 ? 1.0f : 0.0f; }
static float sigmoid_d(float a, float y) { return (void)a, y * (1.0f - y); }
static float tanh_f(float a) { return tanhf(a); }
static float tanh_d(float a, float y) { return (void)a, 1.0f - y * y; }
static float elu_f(float a) { return a > 0 ? a : expm1f(a); }
static float elu_d(float a, float y) { return (void)y, a > 0 ? 1.0f : expf(a); }
static float selu_f(float a) { return SELU_S * (a > 0 ? a : SELU_A * expm1f(a)); }
static float selu_d(float a, float y) { return (void)y, SELU_S * (a > 0 ? 1.0f : SELU_A * expf(a)); }
static float leaky_f(float a) { return a > 0 ? a : 0.2f * a; }
static float leaky_d(float a, float y) { return (void)y, a > 0 ? 1.0f : 0.2f; }
static float swish_f(float a) { return a * pxk_sigmoid(a); }
static float swish_d(float a, float y) { return (void)y, pxk_swish_grad(a); }
static float softplus_d(float a, float y) { return (void)y, pxk_sigmoid(a); }
static float gelu_f(float a) { return a * 0.5f * erfcf(-a * 0.70710678f); }
static float gelu_d(float a, float y) { return (void)y, 0.5f * erfcf(-a * 0.70710678f) + a * 0.39894228f * expf(-0.5f * a * a); }
static float step_f(float a) { return a >= 0 ? 1.0f : (a < 0 ? 0.0f : a); }
static float sign_f(float a) { return a > 0 ? 1.0f : (a < 0 ? -1.0f : a); }
static float hsig3_f(float a) { return px_clamp_nan(a / 6.0f + 0.5f, 0.0f, 1.0f); }
static float hsig3_d(float a, float y) { return (void)y, a > -3.0f && a < 3.0f ? 1.0f / 6.0f : 0.0f; }
static float hsig2_f(float a) { return px_clamp_nan(0.2f * a + 0.5f, 0.0f, 1.0f); }
static float hsig2_d(float a, float y) { return (void)y, a > -2.5f && a < 2.5f ? 0.2f : 0.0f; }
static float softsign_f(float a) { return a / (1.0f + fabsf(a)); }
static float softsign_d(float a, float y) { return (void)y, 1.0f / ((1.0f + fabsf(a)) * (1.0f + fabsf(a))); }
static float mish_f(float a) { return a * tanhf(pxk_softplus(a)); }
static float mish_d(float a, float y) { return (void)y, pxk_mish_grad(a); }
static float exp_f(float a) { return expf(a); }
static float exp_d(float a, float y) { return (void)a, y; }
static float relu6_f(float a) { return px_clamp_nan(a, 0.0f, 6.0f); }
static float relu6_d(float a, float y) { return (void)y, a > 0 && a < 6 ? 1.0f : 0.0f; }
static float hswish_f(float a) { return a * px_clamp_nan(a + 3.0f, 0.0f, 6.0f) / 6.0f; }
static float hswish_d(float a, float y) { return (void)y, a <= -3.0f ? 0.0f : (a >= 3.0f ? 1.0f : (2.0f * a + 3.0f) / 6.0f); }

/* Keras's fixed parameters of the parameterised ops. */
static px_node *linear(px_node *x) { return x; }
static px_node *softmax_last(px_node *x) { return px_softmax(x, -1); }
static px_node *elu_1(px_node *x) { return px_elu(x, 1.0f); }
static px_node *leaky_relu_02(px_node *x) { return px_leaky_relu(x, 0.2f); }
static px_node *hard_sigmoid_k3(px_node *x) { return px_hard_sigmoid(x, 1.0f / 6.0f, 0.5f); }
static px_node *hard_sigmoid_k2(px_node *x) { return px_hard_sigmoid(x, 0.2f, 0.5f); }
static px_node *log_softmax_last(px_node *x) { return px_log_softmax(x, -1); }

static const px_activation_def defs[PX_ACTIVATION_COUNT] = {
    [PX_LINEAR] = {"linear", NULL, linear, linear_f, one_d},
    [PX_RELU] = {"relu", NULL, px_relu, relu_f, relu_d},
    [PX_SIGMOID] = {"sigmoid", NULL, px_sigmoid, pxk_sigmoid, sigmoid_d},
    [PX_TANH] = {"tanh", NULL, px_tanh, tanh_f, tanh_d},
    [PX_SOFTMAX] = {"softmax", NULL, softmax_last},
    [PX_ELU] = {"elu", NULL, elu_1, elu_f, elu_d},
    [PX_SELU] = {"selu", NULL, px_selu, selu_f, selu_d},
    [PX_LEAKY_RELU] = {"leaky_relu", NULL, leaky_relu_02, leaky_f, leaky_d},
    [PX_SWISH] = {"swish", "silu", px_swish, swish_f, swish_d},
    [PX_SOFTPLUS] = {"softplus", NULL, px_softplus, pxk_softplus, softplus_d},
    [PX_GELU] = {"gelu", NULL, px_gelu, gelu_f, gelu_d},
    [PX_STEP] = {"step", NULL, px_step, step_f, flat_d},
    [PX_SIGN] = {"sign", NULL, px_sign, sign_f, flat_d},
    /* one name, two functions: Keras 3's first, so a lookup by name finds it;
     * px_activation_from_keras gives Keras 2's for Keras 2 files */
    [PX_HARD_SIGMOID] = {"hard_sigmoid", NULL, hard_sigmoid_k3, hsig3_f, hsig3_d},
    [PX_HARD_SIGMOID_K2] = {"hard_sigmoid", NULL, hard_sigmoid_k2, hsig2_f, hsig2_d},
    [PX_SOFTSIGN] = {"softsign", NULL, px_softsign, softsign_f, softsign_d},
    [PX_MISH] = {"mish", NULL, px_mish, mish_f, mish_d},
    [PX_EXPONENTIAL] = {"exponential", NULL, px_exponential, exp_f, exp_d},
    [PX_RELU6] = {"relu6", NULL, px_relu6, relu6_f, relu6_d},
    [PX_HARD_SWISH] = {"hard_swish", "hard_silu", px_hard_swish, hswish_f, hswish_d},
    [PX_LOG_SOFTMAX] = {"log_softmax", NULL, log_softmax_last},
};

const char *px_activation_name(px_activation a) {
    return (unsigned)a < PX_ACTIVATION_COUNT && defs[a].name ? defs[a].name : "";
}

px_status px_activation_from_keras(const char *name, int keras_major, px_activation *out) {
    px_status st = px_activation_from_name(name, out);
    if (!st && *out == PX_HARD_SIGMOID && keras_major == 2) *out = PX_HARD_SIGMOID_K2;
    return st;
}

px_status px_activation_from_name(const char *name, px_activation *out) {
    if (!name || !out) return px_set_error(PX_ERR_ARG, "activation: name or out is NULL");
    for (int i = 0; i < PX_ACTIVATION_COUNT; i++)
        if (defs[i].name && strcmp(name, defs[i].name) == 0) return *out = (px_activation)i, PX_OK;
    for (int i = 0; i < PX_ACTIVATION_COUNT; i++)
        if (defs[i].alias && strcmp(name, defs[i].alias) == 0) return *out = (px_activation)i, PX_OK;
    char known[512] = "";
    size_t len = 0;
    for (int i = 0; i < PX_ACTIVATION_COUNT && len < sizeof known; i++)
        if (defs[i].name && i != PX_HARD_SIGMOID_K2)
            len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", len ? ", " : "", defs[i].name);
    return px_set_error(PX_ERR_ARG, "unknown activation '%s' (known: %s)", name, known);
}

px_node *px_activate(px_node *x, px_activation a) {
    if (!x) return px_null_input("activate"); /* linear would hand the NULL back silently */
    if ((unsigned)a < PX_ACTIVATION_COUNT && defs[a].apply) return defs[a].apply(x);
    px_set_error(PX_ERR_ARG, "activation: unknown activation %d", (int)a);
    return NULL;
}

bool px_activation_scalar(px_activation a, px_act_f *f, px_act_df *df) {
    if ((unsigned)a >= PX_ACTIVATION_COUNT || !defs[a].f) return false;
    if (f) *f = defs[a].f;
    if (df) *df = defs[a].df;
    return true;
}

bool px_activation_kernel(px_activation a, int *code, float *p0) {
    static const int codes[PX_ACTIVATION_COUNT] = {
        [PX_LINEAR] = PX_K_LINEAR, [PX_RELU] = PX_K_RELU, [PX_SIGMOID] = PX_K_SIGMOID, [PX_TANH] = PX_K_TANH,
        [PX_ELU] = PX_K_ELU, [PX_SELU] = PX_K_SELU, [PX_LEAKY_RELU] = PX_K_LEAKY_RELU, [PX_SWISH] = PX_K_SWISH,
        [PX_SOFTPLUS] = PX_K_SOFTPLUS, [PX_GELU] = PX_K_GELU, [PX_STEP] = PX_K_STEP, [PX_SIGN] = PX_K_SIGN,
        [PX_HARD_SIGMOID] = PX_K_HARD_SIGMOID, [PX_HARD_SIGMOID_K2] = PX_K_HARD_SIGMOID,
        [PX_SOFTSIGN] = PX_K_SOFTSIGN, [PX_MISH] = PX_K_MISH, [PX_EXPONENTIAL] = PX_K_EXPONENTIAL,
        [PX_RELU6] = PX_K_RELU6, [PX_HARD_SWISH] = PX_K_HARD_SWISH,
    };
    if ((unsigned)a >= PX_ACTIVATION_COUNT || !codes[a]) return false;
    *code = codes[a];
    /* the parameters Keras fixes (see the table above) */
    *p0 = a == PX_ELU ? 1.0f : a == PX_LEAKY_RELU ? 0.2f : a == PX_HARD_SIGMOID ? 1.0f / 6.0f
        : a == PX_HARD_SIGMOID_K2 ? 0.2f : 0.0f;
    return true;
}
