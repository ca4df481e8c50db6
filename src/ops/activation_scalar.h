/* Internal: the scalar form of the elementwise activations, from the activation
 * table (activation_kinds.c), for kernels that apply an activation inside their
 * own loops (the general recurrent op). */
#ifndef PX_OPS_ACTIVATION_SCALAR_H
#define PX_OPS_ACTIVATION_SCALAR_H

#include <stdbool.h>

#include "plexus/activations.h"

typedef float (*px_act_f)(float a);
/* The derivative at input a, given y = f(a) (cheaper for tanh and sigmoid). */
typedef float (*px_act_df)(float a, float y);

/* Sets *f and *df (either may be NULL) and returns true for an elementwise
 * activation; false for softmax and log_softmax, which are not. */
bool px_activation_scalar(px_activation a, px_act_f *f, px_act_df *df);

/* The elementwise device kernels' code (backend/op_codes.h) and first
 * parameter of an elementwise activation (the second is 0.5 for
 * hard_sigmoid, else 0); false when it has none. */
bool px_activation_kernel(px_activation a, int *code, float *p0);

/* v clipped to [lo, hi], NaN passed on (fminf/fmaxf would turn it into a bound,
 * and a model with a NaN weight would look healthy). */
static inline float px_clamp_nan(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

#endif
