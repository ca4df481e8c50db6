/* Internal: shape rules shared by op shape inference and the tensor code
 * (broadcasting, negative axes). */
#ifndef PX_CORE_SHAPE_H
#define PX_CORE_SHAPE_H

#include "plexus/tensor.h"

/* Shape helpers for infer functions; both accept PX_UNKNOWN. */
px_status px_broadcast_shape(const char *op, px_shape a, px_shape b, px_shape *out);
/* Normalises a possibly negative axis against rank, or reports an error for op. */
px_status px_normalize_axis(const char *op, int axis, int rank, int *out);

#endif
