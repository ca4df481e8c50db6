/* Activations by Keras name, mapped onto the graph ops. */
#include <string.h>

#include "plexus/activations.h"
#include "plexus/ops.h"

static const char *const names[PX_ACTIVATION_COUNT] = {
    "linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu",
    "leaky_relu", "swish", "softplus", "gelu", "step", "sign"};

const char *px_activation_name(px_activation a) {
    return (unsigned)a < PX_ACTIVATION_COUNT ? names[a] : "";
}

px_status px_activation_from_name(const char *name, px_activation *out) {
    if (!name) return px_set_error(PX_ERR_ARG, "activation: name is NULL");
    for (int i = 0; i < PX_ACTIVATION_COUNT; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (px_activation)i;
            return PX_OK;
        }
    if (strcmp(name, "silu") == 0) {
        *out = PX_SWISH;
        return PX_OK;
    }
    return px_set_error(PX_ERR_ARG, "unknown activation '%s' (known: linear, relu, sigmoid, tanh, softmax, elu, selu, leaky_relu, swish, softplus, gelu, step, sign)", name);
}

px_node *px_activate(px_node *x, px_activation a) {
    switch (a) {
    case PX_LINEAR: return x;
    case PX_RELU: return px_relu(x);
    case PX_SIGMOID: return px_sigmoid(x);
    case PX_TANH: return px_tanh(x);
    case PX_SOFTMAX: return px_softmax(x, -1);
    case PX_ELU: return px_elu(x, 1.0f);
    case PX_SELU: return px_selu(x);
    case PX_LEAKY_RELU: return px_leaky_relu(x, 0.2f);
    case PX_SWISH: return px_swish(x);
    case PX_SOFTPLUS: return px_softplus(x);
    case PX_GELU: return px_gelu(x);
    case PX_STEP: return px_step(x);
    case PX_SIGN: return px_sign(x);
    default: break;
    }
    px_set_error(PX_ERR_ARG, "activation: unknown activation %d", (int)a);
    return NULL;
}
