/* A model's configuration and weights survive the trip through JSON and a
 * saved file: shared by the layer tests. */
#ifndef PX_MODEL_ROUNDTRIP_H
#define PX_MODEL_ROUNDTRIP_H

#include "plexus/plexus.h"

/* Uniform in [-1, 1), or whole numbers in [0, int_max) when int_max > 0. */
px_tensor *px_rt_random_input(px_shape s, uint64_t seed, int int_max);
/* to_json -> from_json -> the same text; save -> load -> the same predictions
 * (bit for bit) on a random input of x_shape, and the same text. Counts checks
 * in the px_test counters; frees m. */
void px_rt_round_trip(px_model *m, px_shape x_shape, int int_max, const char *what);

#endif
