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
    PX_ACTIVATION_COUNT
} px_activation;

/* Applies an activation to a node (PX_LINEAR returns x itself). */
PX_API px_node *px_activate(px_node *x, px_activation a);
PX_API const char *px_activation_name(px_activation a);             /* "relu", ... */
/* PX_OK and *out set when `name` is a known Keras activation name. */
PX_API px_status px_activation_from_name(const char *name, px_activation *out);

#ifdef __cplusplus
}
#endif

#endif
