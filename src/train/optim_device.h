/* Internal: an optimizer step on a device, for fit when a model trains there.
 * The slots live on the device from the first such step (a copy of the
 * optimizer's block, with px_mirror's rules), and come back to the host when
 * px_optimizer_slot or a host step asks for them. */
#ifndef PX_TRAIN_OPTIM_DEVICE_H
#define PX_TRAIN_OPTIM_DEVICE_H

#include "backend/backend.h"
#include "plexus/optim.h"

/* One update of params[0..n) from grads[0..n), both in b's memory (on the CPU:
 * px_optimizer_step). The same checks and formulas as on the host. */
px_status px_optimizer_step_on(px_optimizer *opt, px_backend *b, float *params, const float *grads, int64_t n);

#endif
