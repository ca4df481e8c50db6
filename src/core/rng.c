/* PCG32 random numbers. Only integer arithmetic and IEEE-exact float operations
 * (+ - * / sqrt, frexp) are used, so a seed gives the same numbers everywhere;
 * that is why the logarithm below is our own and not libm's. */
#include <math.h>

#include "plexus/rng.h"
#include "plexus/status.h"

/* A fused multiply-add rounds once where the separate operations round twice,
 * so contracting u*u + v*v (clang does by default on ARM) changes the numbers.
 * GCC does not contract in ISO C mode (-std=c11), which is how Plexus builds. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

px_rng px_rng_seeded(uint64_t seed) {
    px_rng r = {0, (seed << 1u) | 1u};
    px_rng_u32(&r);
    r.state += 0x853c49e6748fea9bULL ^ seed;
    px_rng_u32(&r);
    return r;
}

uint32_t px_rng_u32(px_rng *r) {
    if (!r) return px_set_error(PX_ERR_ARG, "px_rng_u32: generator is NULL"), 0;
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

float px_rng_uniform(px_rng *r) { return (float)(px_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

uint32_t px_rng_below(px_rng *r, uint32_t n) {
    if (!r) return px_set_error(PX_ERR_ARG, "px_rng_below: generator is NULL"), 0;
    if (n <= 1) return 0;
    uint32_t threshold = (uint32_t)(-n) % n; /* 2^32 mod n: values below are biased */
    for (;;) {
        uint32_t x = px_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

/* ln(x) for x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then
 * ln(m) = 2 atanh(z), z = (m - 1)/(m + 1), |z| < 0.172, by its series. */
static double portable_log(double x) {
    int e;
    double m = frexp(x, &e); /* m in [0.5, 1) */
    if (m < 0.70710678118654752440) {
        m *= 2;
        e -= 1;
    }
    double z = (m - 1) / (m + 1), z2 = z * z, term = z, sum = 0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return 2 * sum + e * 0.69314718055994530942;
}

float px_rng_normal(px_rng *r) {
    if (!r) return px_set_error(PX_ERR_ARG, "px_rng_normal: generator is NULL"), NAN;
    for (;;) {
        double u = 2.0 * ((px_rng_u32(r) >> 5) * (1.0 / 134217728.0)) - 1.0;
        double v = 2.0 * ((px_rng_u32(r) >> 5) * (1.0 / 134217728.0)) - 1.0;
        double s = u * u + v * v;
        if (s >= 1.0 || s == 0.0) continue;
        /* the second value of the pair is dropped so each call is independent */
        return (float)(u * sqrt(-2.0 * portable_log(s) / s));
    }
}

float px_rng_truncated_normal(px_rng *r) {
    if (!r) return px_set_error(PX_ERR_ARG, "px_rng_truncated_normal: generator is NULL"), NAN;
    for (;;) {
        float x = px_rng_normal(r);
        if (x >= -2.0f && x <= 2.0f) return x;
    }
}

void px_rng_shuffle_i64(px_rng *r, int64_t *idx, int64_t n) {
    if (!r || (!idx && n > 0)) {
        px_set_error(PX_ERR_ARG, "px_rng_shuffle_i64: generator or indices NULL");
        return;
    }
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)px_rng_below(r, (uint32_t)(i + 1));
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
