/* Op-by-op comparison of a device backend with the CPU: every op's forward
 * and backward pass run on the CPU (the op's own code) and on the backend (its
 * kernels, on buffers of its own filled by explicit copies), on the same random
 * inputs, and must agree within 1e-4 relative. The reference device runs it in
 * the ordinary suite (tests/backend/test_ref_ops.c), CUDA in tests/gpu/. */
#ifndef PX_DEVICE_COMPARE_H
#define PX_DEVICE_COMPARE_H

#include "backend/backend.h"
#include "plexus/plexus.h"

/* How a random input is filled. */
typedef enum px_dc_fill {
    PX_DC_NORMAL,   /* standard normal */
    PX_DC_POSITIVE, /* uniform in [0.5, 2) (log, sqrt, pow, division) */
    PX_DC_LABELS,   /* int32 in [0, arg) */
    PX_DC_INDICES,  /* whole floats in [0, arg) (embedding indices fed as floats) */
    PX_DC_ONEHOT,   /* rows of a probability distribution over the last axis */
    PX_DC_BINARY,   /* 0 or 1 */
    PX_DC_ASCENDING /* strictly ascending in (-1.5, 1.5) (thresholds) */
} px_dc_fill;

typedef struct px_dc_input {
    px_dtype dtype;
    px_shape shape;
    px_dc_fill fill;
    int arg;
} px_dc_input;

/* Builds the op under test from nodes (placeholders of the inputs' shapes). */
typedef px_node *(*px_dc_build)(px_graph *g, px_node *const *in, const void *ctx);

/* Runs one op on the CPU and on `b` and compares outputs, the op's in-place
 * updates of its inputs (batch norm's moving statistics) and, unless the op has
 * no gradient, every float input's gradient, both added to existing values and
 * stored fresh where the op supports it. Returns the number of mismatches
 * (each printed with `label`), 0 when `b` has no kernel for the op and
 * `must_support` is false (then it prints that it was skipped). */
int px_dc_compare(px_backend *b, const char *label, px_dc_build build, const void *ctx, const px_dc_input *inputs,
                  int n_inputs, bool training, bool must_support, uint64_t seed);

/* Runs px_dc_compare over every op in the list of cases (every op with a
 * device kernel, on odd sizes, broadcasts, padding variants and empty
 * batches). Returns the mismatches; *n_cases (may be NULL) gets the count. */
int px_dc_run_all(px_backend *b, bool must_support, int *n_cases);

/* Every optimizer kind, with each clipping mode, stepped on `b` and on the
 * CPU: parameters, slots and step counts agree, and a host step continues from
 * the device's state. Returns the number of optimizer cases that differ. */
int px_dc_optimizers(px_backend *b);

#endif
