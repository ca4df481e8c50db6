/* Internal: shape rules shared by op shape inference and the tensor code
 * (broadcasting, negative axes). */
#ifndef PX_CORE_SHAPE_H
#define PX_CORE_SHAPE_H

#include "plexus/tensor.h"

/* Shape helpers for infer functions; both accept PX_UNKNOWN. */
px_status px_broadcast_shape(const char *op, px_shape a, px_shape b, px_shape *out);
/* Normalises a possibly negative axis against rank, or reports an error for op. */
px_status px_normalize_axis(const char *op, int axis, int rank, int *out);
/* Python's slice.indices: the first index, the step and the count of a range over an
 * axis of `dim` elements (dim >= 0). */
void px_range_resolve(px_range r, int64_t dim, int64_t *start, int64_t *step, int64_t *count);

#endif
