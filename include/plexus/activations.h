/* Activations by their Keras names, applied to graph nodes as ops (relu,
 * softmax, ...); layers and fused ops take them as a px_activation value. */
#ifndef PLEXUS_ACTIVATIONS_H
#define PLEXUS_ACTIVATIONS_H

#include "export.h"
#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activations by their Keras names; PX_LINEAR (zero) is "no activation". */
typedef enum px_activation {
    PX_LINEAR = 0,
    PX_RELU,
    PX_SIGMOID,
    PX_TANH,
    PX_SOFTMAX,
    PX_ELU,
    PX_SELU,
    PX_LEAKY_RELU, /* alpha 0.2 as keras.activations.leaky_relu */
    PX_SWISH,
    PX_SOFTPLUS,
    PX_GELU,
    PX_STEP,       /* Heaviside step (threshold units, zero gradient) */
    PX_SIGN,
    PX_HARD_SIGMOID,    /* Keras 3's: relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1) */
    PX_HARD_SIGMOID_K2, /* Keras 2's: clip(0.2 x + 0.5, 0, 1) */
    PX_SOFTSIGN,
    PX_MISH,
    PX_EXPONENTIAL,
    PX_RELU6,
    PX_HARD_SWISH,      /* Keras 3's hard_silu: x * relu6(x + 3) / 6 */
    PX_LOG_SOFTMAX,
    PX_ACTIVATION_COUNT
} px_activation;

/* Applies an activation to a node (PX_LINEAR returns x itself). */
PX_API px_node *px_activate(px_node *x, px_activation a);
PX_API const char *px_activation_name(px_activation a);             /* "relu", ... */
/* PX_OK and *out set when `name` is a known Keras activation name (also the
 * aliases silu, hard_silu). "hard_sigmoid" is Keras 3's; px_activation_from_keras
 * reads it as Keras 2's when keras_major is 2. */
PX_API px_status px_activation_from_name(const char *name, px_activation *out);
PX_API px_status px_activation_from_keras(const char *name, int keras_major, px_activation *out);

#ifdef __cplusplus
}
#endif

#endif
