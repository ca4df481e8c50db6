/* A seeded random generator that gives the same numbers on every platform: it
 * uses only integer arithmetic and correctly rounded float operations. */
#ifndef PLEXUS_RNG_H
#define PLEXUS_RNG_H

#include <stdint.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PCG-XSH-RR 32 state; a plain value, copy it to fork a stream. */
typedef struct px_rng {
    uint64_t state;
    uint64_t inc;
} px_rng;

PX_API px_rng px_rng_seeded(uint64_t seed);
PX_API uint32_t px_rng_u32(px_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
PX_API float px_rng_uniform(px_rng *r);
/* Uniform integer in [0, n), without modulo bias. */
PX_API uint32_t px_rng_below(px_rng *r, uint32_t n);
/* Standard normal (Marsaglia's polar method with a portable logarithm). */
PX_API float px_rng_normal(px_rng *r);
/* Truncated normal: redraws values beyond two standard deviations (Keras's truncated_normal). */
PX_API float px_rng_truncated_normal(px_rng *r);
/* Fisher-Yates shuffle of n indices. */
PX_API void px_rng_shuffle_i64(px_rng *r, int64_t *idx, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
