/* Internal: what the MLP search (tune.c) and the search over any model (tune_model.c) share. */
#ifndef PX_TUNE_TUNE_INTERNAL_H
#define PX_TUNE_TUNE_INTERNAL_H

#include <math.h>
#include <stdbool.h>

/* Whether score a beats score b (higher or lower is better); NaN, a failed or
 * diverged trial, beats nothing. */
static inline bool px_tune_better(double a, double b, bool higher) {
    if (isnan(b)) return !isnan(a);
    if (isnan(a)) return false;
    return higher ? a > b : a < b;
}

#endif
