/* The table of activations by Keras name, each mapped onto its graph op. A new
 * activation adds its op (activations.c and plexus/ops.h), its enum value
 * (plexus/activations.h) and one line here; layers, configs and the CLI find it by
 * name from this table. */
#include <stdio.h>
#include <string.h>

#include "plexus/activations.h"
#include "plexus/ops.h"

typedef struct px_activation_def {
    const char *name;  /* Keras's name */
    const char *alias; /* another name Keras accepts, or NULL */
    px_node *(*apply)(px_node *x);
} px_activation_def;

/* Keras's fixed parameters of the parameterised ops. */
static px_node *linear(px_node *x) { return x; }
static px_node *softmax_last(px_node *x) { return px_softmax(x, -1); }
static px_node *elu_1(px_node *x) { return px_elu(x, 1.0f); }
static px_node *leaky_relu_02(px_node *x) { return px_leaky_relu(x, 0.2f); }
static px_node *hard_sigmoid_k3(px_node *x) { return px_hard_sigmoid(x, 1.0f / 6.0f, 0.5f); }
static px_node *hard_sigmoid_k2(px_node *x) { return px_hard_sigmoid(x, 0.2f, 0.5f); }
static px_node *log_softmax_last(px_node *x) { return px_log_softmax(x, -1); }

static const px_activation_def defs[PX_ACTIVATION_COUNT] = {
    [PX_LINEAR] = {"linear", NULL, linear},
    [PX_RELU] = {"relu", NULL, px_relu},
    [PX_SIGMOID] = {"sigmoid", NULL, px_sigmoid},
    [PX_TANH] = {"tanh", NULL, px_tanh},
    [PX_SOFTMAX] = {"softmax", NULL, softmax_last},
    [PX_ELU] = {"elu", NULL, elu_1},
    [PX_SELU] = {"selu", NULL, px_selu},
    [PX_LEAKY_RELU] = {"leaky_relu", NULL, leaky_relu_02},
    [PX_SWISH] = {"swish", "silu", px_swish},
    [PX_SOFTPLUS] = {"softplus", NULL, px_softplus},
    [PX_GELU] = {"gelu", NULL, px_gelu},
    [PX_STEP] = {"step", NULL, px_step},
    [PX_SIGN] = {"sign", NULL, px_sign},
    /* one name, two functions: Keras 3's first, so a lookup by name finds it;
     * px_activation_from_keras gives Keras 2's for Keras 2 files */
    [PX_HARD_SIGMOID] = {"hard_sigmoid", NULL, hard_sigmoid_k3},
    [PX_HARD_SIGMOID_K2] = {"hard_sigmoid", NULL, hard_sigmoid_k2},
    [PX_SOFTSIGN] = {"softsign", NULL, px_softsign},
    [PX_MISH] = {"mish", NULL, px_mish},
    [PX_EXPONENTIAL] = {"exponential", NULL, px_exponential},
    [PX_RELU6] = {"relu6", NULL, px_relu6},
    [PX_HARD_SWISH] = {"hard_swish", "hard_silu", px_hard_swish},
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
    if (!name) return px_set_error(PX_ERR_ARG, "activation: name is NULL");
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
    if ((unsigned)a < PX_ACTIVATION_COUNT && defs[a].apply) return defs[a].apply(x);
    px_set_error(PX_ERR_ARG, "activation: unknown activation %d", (int)a);
    return NULL;
}
