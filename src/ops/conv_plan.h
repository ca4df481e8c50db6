/* Internal: how the convolution-family ops (conv.c, conv_transpose.c,
 * depthwise_conv.c) split a batch over threads and size their scratch state:
 * per-thread slots, chunks of images whose im2col matrix stays in L2. */
#ifndef PX_OPS_CONV_PLAN_H
#define PX_OPS_CONV_PLAN_H

#include <stdint.h>

#include "backend/cpu/im2col.h"
#include "graph/node.h"

/* At most this many per-thread scratch slots in an op's state. */
#define PX_CONV_SLOTS 16

/* Scratch offsets are kept at whole cache lines (the arena is aligned). */
static inline int64_t px_conv_align16(int64_t n) { return (n + 15) & ~(int64_t)15; }

/* The calling thread's slot inside a parallel region (0 outside one). */
int px_conv_thread_id(void);

/* Threads for a loop over `slots` slots doing `work` element operations: one
 * when the work is below PX_PARALLEL_MIN, never more than the slots. */
int px_conv_threads(int64_t slots, int64_t work);

/* The im2col + GEMM path works on chunks of a few images whose column matrix
 * (about 256 KiB: rows oh*ow per image, kh*kw*c floats each) stays in L2
 * between being written and multiplied; each thread has one chunk buffer
 * (`part` floats) followed by a running kernel + bias gradient ((K + 1) * f). */
typedef struct px_conv_gemm_plan {
    int64_t per_chunk, chunks, slots, slot, part, total;
} px_conv_gemm_plan;

px_conv_gemm_plan px_conv_gemm_plan_of(const px_conv_geom *g);

/* Evens out the chunks for teams of 1, 2 or 4 threads: 64 images in chunks of
 * at most 10 would be 7 chunks, 4 + 3 on two threads; 8 chunks of 8 keep both
 * busy. The chunks only shrink, so they still fit the planned slots. The
 * chunks depend on the batch alone, never on the thread count, so a product's
 * shape and a result are the same at any count. */
void px_conv_balance_chunks(px_conv_gemm_plan *t, int64_t n);

/* Sums over a batch that must not depend on the thread count (kernel and bias
 * gradients) go by groups fixed by the shape: `groups` contiguous ranges of
 * `items`, each summed in order into its own slot, the slots added in order.
 * Threads take whole groups. Group g covers items [*lo, *hi). */
static inline void px_conv_group(int64_t items, int64_t groups, int64_t g, int64_t *lo, int64_t *hi) {
    *lo = items * g / groups;
    *hi = items * (g + 1) / groups;
}

/* The checks conv2d and conv2d_transpose share on (x, kernel[, bias]): float32
 * inputs, rank 4, a fully known kernel, x's channels against kernel axis
 * `in_axis` and a bias as long as kernel axis `out_axis`. `layout` names the
 * kernel's axes in the message. The formatted shapes of x and the kernel are
 * left in `sx` and `sk` (96 bytes each) for the caller's own messages. */
px_status px_conv_check_inputs(const px_node *nd, const px_shape *in, const char *op, const char *layout,
                               int in_axis, int out_axis, char *sx, char *sk);

#endif
