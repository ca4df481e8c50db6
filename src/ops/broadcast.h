/* Internal: iteration over the output of a broadcasting binary op. Shapes are
 * aligned to the output's rank; a broadcast axis gets stride 0. */
#ifndef PX_OPS_BROADCAST_H
#define PX_OPS_BROADCAST_H

#include "graph/node.h"

typedef struct px_bcast {
    int rank;                 /* rank of the output (at least 1) */
    int64_t shape[PX_MAX_RANK];
    int64_t sa[PX_MAX_RANK];  /* strides of a in elements, 0 where broadcast */
    int64_t sb[PX_MAX_RANK];
    int64_t outer;            /* product of all but the last output axis */
    int64_t inner;            /* size of the last output axis */
} px_bcast;

/* Strides of contiguous tensors a and b broadcast to out's shape. */
void px_bcast_init(px_bcast *p, const px_tensor *a, const px_tensor *b, const px_tensor *out);
/* Offsets in a and b of the start of outer row r. */
void px_bcast_row(const px_bcast *p, int64_t r, int64_t *offa, int64_t *offb);

/* dst (shape of a reduced operand) += src (out's shape) summed over broadcast axes. */
void px_reduce_to(px_tensor *dst, const px_tensor *src);

#endif
