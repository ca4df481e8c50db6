/* Internal: 2-D convolutions (NHWC data, Keras's HWIO kernel) through oneDNN's
 * float32 direct convolution primitives: forward with bias, input gradient,
 * kernel and bias gradients. The batch is cut into chunks fixed by the shape
 * and the machine (never the thread count); each chunk is one single-threaded
 * oneDNN call on one of the caller's threads, and the kernel gradient's chunks
 * are summed in groups added in a fixed order, so results are the same at any
 * thread count. Used only where the build has oneDNN, the processor AVX-512 and
 * oneDNN a JIT kernel for the shape; the caller keeps its own kernels otherwise
 * (src/ops/conv.c; chosen by measurement: docs/performance.md, "oneDNN's
 * convolutions"). */
#ifndef PX_BACKEND_CPU_CONV_DNNL_H
#define PX_BACKEND_CPU_CONV_DNNL_H

#include <stdbool.h>

#include "backend/kernels/conv_geom.h"

/* At most this many kernel-gradient groups. */
#define PX_CONV_DNNL_GROUPS 16

/* Where a convolution's oneDNN path keeps its scratch inside the op's state (in
 * floats, each on a cache line): the forward and input-gradient kernels in
 * oneDNN's blocked layouts, a zero bias, each group's kernel + bias gradient
 * (plain, K x F then F), then one slot per thread (`slots`: at most the
 * machine's processors; more threads than that are not used): a chunk's input gradient, a
 * chunk's kernel gradient in oneDNN's layout and its bias gradient, and oneDNN's
 * scratchpad. `prims` and `last` are the cached primitives of a whole chunk and
 * of the last, shorter chunk (the same when the chunks are even). */
typedef struct px_conv_dnnl_plan {
    int64_t per, chunks, groups, slots;
    int64_t wf, wd, zb, parts, part, slots0, slot, dx, dw, db, pad, total;
    const void *prims, *last;
} px_conv_dnnl_plan;

/* Whether oneDNN can take convolution g (dilation 1, a JIT kernel for each of
 * its chunk shapes; primitives made and cached here), and its plan. Thread-safe. */
bool px_conv_dnnl_plan_of(const px_conv_geom *g, px_conv_dnnl_plan *p);

/* y = conv(x, w) + bias (bias may be NULL) for the whole batch, on `threads`
 * threads; state holds p->total floats. False when oneDNN failed on some chunk
 * (out of memory): y is then unspecified and the caller computes it otherwise. */
bool px_conv_dnnl_forward(const px_conv_dnnl_plan *p, const px_conv_geom *g, const float *x, const float *w,
                          const float *bias, float *y, float *state, int threads);

/* gx += the input gradient (with clear_x, gx = 0 + it: gx held garbage), gw +=
 * the kernel gradient, gb += the bias gradient (each may be NULL: not
 * computed) from the output gradient gy. False when oneDNN could not make its
 * objects for a pass (out of memory): nothing was added, and the caller
 * computes them otherwise. (A oneDNN error in a call after that, which would
 * be a bug, would leave gx with some chunks added.) */
bool px_conv_dnnl_backward(const px_conv_dnnl_plan *p, const px_conv_geom *g, const float *x, const float *w,
                           const float *gy, float *gx, bool clear_x, float *gw, float *gb, float *state, int threads);

#endif
