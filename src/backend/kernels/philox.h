/* Internal: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", SC 2011), a counter-based generator: the numbers for element i
 * depend only on the key and i, so a dropout mask is the same on the CPU and
 * on any device, whatever the threads or the launch shape. */
#ifndef PX_BACKEND_KERNELS_PHILOX_H
#define PX_BACKEND_KERNELS_PHILOX_H

#include "backend/kernels/portable.h"

PXK_FN uint32_t pxk_mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* The four 32-bit words for counter `c` under key `k`. */
PXK_FN void pxk_philox4x32(const uint32_t c[4], const uint32_t k[2], uint32_t out[4]) {
    uint32_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], k0 = k[0], k1 = k[1];
    for (int r = 0; r < 10; r++) {
        if (r) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        uint32_t hi0, hi1;
        uint32_t lo0 = pxk_mulhilo(0xD2511F53u, c0, &hi0);
        uint32_t lo1 = pxk_mulhilo(0xCD9E8D57u, c2, &hi1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* A word as a uniform number in [0, 1) with 24 bits (as px_rng_uniform). */
PXK_FN float pxk_to_uniform(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }

/* Uniform in [0, 1) for element i of the stream `key`. */
PXK_FN float pxk_uniform_at(uint64_t key, int64_t i) {
    uint64_t q = (uint64_t)i >> 2;
    uint32_t c[4] = {(uint32_t)q, (uint32_t)(q >> 32), 0, 0}, k[2] = {(uint32_t)key, (uint32_t)(key >> 32)}, w[4];
    pxk_philox4x32(c, k, w);
    return pxk_to_uniform(w[i & 3]);
}

/* A standard normal number for element i of the stream `key` (Box-Muller on
 * the first two words of counter (i, "norm")), in double so the CPU's and a
 * device's libm agree to the last float bit but rarely differ in it. Every
 * element has a counter of its own, so the numbers do not depend on the order
 * or the number of threads that draw them. */
PXK_FN float pxk_normal_at(uint64_t key, int64_t i) {
    uint32_t c[4] = {(uint32_t)(uint64_t)i, (uint32_t)((uint64_t)i >> 32), 0x6e6f726du, 0},
             k[2] = {(uint32_t)key, (uint32_t)(key >> 32)}, w[4];
    pxk_philox4x32(c, k, w);
    double u1 = ((double)(w[0] >> 8) + 1.0) * (1.0 / 16777216.0); /* (0, 1]: log is finite */
    double u2 = (double)(w[1] >> 8) * (1.0 / 16777216.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

#endif
