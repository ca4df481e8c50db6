/* Internal: small helpers shared by the op files (shape checks, threading
 * threshold, gradient accumulation). */
#ifndef PX_OPS_OP_UTIL_H
#define PX_OPS_OP_UTIL_H

#include "graph/node.h"

/* Elementwise loops run on several threads only above this many elements:
 * below it, starting the team costs more than it saves. */
#define PX_PARALLEL_MIN 32768

#define PX_PRAGMA(x) _Pragma(#x)
#ifdef _OPENMP
#define PX_PARALLEL_FOR(count) PX_PRAGMA(omp parallel for schedule(static) if ((count) >= PX_PARALLEL_MIN))
#else
#define PX_PARALLEL_FOR(count)
#endif

/* infer for ops whose output has the input's shape: input must be float32. */
px_status px_infer_same_f32(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt);

/* g[i] += scale * src[i] for i < count (g may be NULL: nothing to do). */
void px_accumulate(px_tensor *g, const px_tensor *src, float scale, int64_t count);

#endif
