/* Mixed precision as Keras's keras.mixed_precision: dtype policies, global and per
 * layer. "float32" computes and stores in float32; "mixed_bfloat16" keeps variables
 * (and saved files) in float32 and computes the matrix products of Dense, Conv2D,
 * Conv1D, the transposed convolutions and matmul (Dot, attention) with bf16 inputs and float32 sums.
 * What stays float32 and the tolerances: docs/mixed-precision.md. */
#ifndef PLEXUS_MIXED_PRECISION_H
#define PLEXUS_MIXED_PRECISION_H

#include <stdbool.h>

#include "export.h"
#include "nn.h"
#include "status.h"

/* True when this build and processor can compute mixed_bfloat16 (a processor with
 * AVX512_BF16 or AMX, and a build with oneDNN). */
PX_API bool px_mixed_bfloat16_supported(void);

/* Keras's mixed_precision.set_global_policy: the policy of every layer made after
 * the call ("float32" or "mixed_bfloat16"). A name that is neither, or
 * mixed_bfloat16 where it is not supported, is an error and changes nothing. */
PX_API px_status px_mixed_precision_set_global_policy(const char *name);
/* The global policy's name ("float32" until set). */
PX_API const char *px_mixed_precision_global_policy(void);

/* Keras's layer option dtype=: this layer's policy, set before the layer is first
 * applied (its ops are made then); same names and errors as the global setter. */
PX_API px_status px_layer_set_dtype_policy(px_layer *l, const char *name);
/* The layer's policy name ("float32" or "mixed_bfloat16"). */
PX_API const char *px_layer_dtype_policy(const px_layer *l);

#endif
