/* Internal: an optimizer step applied variable by variable (optim_split.c), for
 * updates run inside the backward pass while each gradient is in cache. Only for
 * kinds whose update is elementwise and without clipping, so that the split step
 * gives bit-identical results to px_optimizer_step over the whole block. */
#ifndef PX_TRAIN_OPTIM_SPLIT_H
#define PX_TRAIN_OPTIM_SPLIT_H

#include <stdbool.h>
#include <stdint.h>

#include "plexus/optim.h"

typedef struct px_split_step {
    px_optimizer *opt;
    int64_t n;     /* parameters in the step */
    float lr, keep;
    float fold_lr; /* > 0: plain SGD at this rate, which a product may apply itself */
} px_split_step;

/* Starts a step over the n parameters: false (no error set) when this step
 * cannot be split (clipping, a kind whose update is not elementwise) or its
 * checks fail; the caller then takes px_optimizer_step, which reports them. */
bool px_split_begin(px_optimizer *opt, const float *params, const float *grads, int64_t n, px_split_step *st);
/* The update of parameters [offset, offset + count): the same arithmetic as the
 * whole step's, on all threads for large variables. */
void px_split_apply(const px_split_step *st, float *params, const float *grads, int64_t offset, int64_t count);
/* Ends the step (counts the iteration). */
void px_split_end(px_split_step *st);

#endif
