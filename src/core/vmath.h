/* Internal: float exp, tanh and sigmoid as branch-free inline code (polynomials
 * with range reduction, no libm calls) that GCC vectorises inside loops. */
#ifndef PX_CORE_VMATH_H
#define PX_CORE_VMATH_H

#include <stdint.h>
#include <string.h>

/* always_inline so that a loop compiled for AVX2 or AVX-512 (#pragma GCC target
 * in the caller's file) inlines these and vectorises them at its own width. */
#define PX_VM_INLINE static inline __attribute__((always_inline))

PX_VM_INLINE float px_vm_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

PX_VM_INLINE uint32_t px_vm_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* e^x to ~1 ulp (Cephes's expf polynomial on |r| <= ln2/2). Overflows to +inf
 * above ~88.72, goes through the subnormals to 0 below ~-87.3, passes NaN on
 * (the clamps are written so that a NaN compares false and stays).
 * x = n ln2 + r; n is rounded with the 1.5 * 2^23 trick, which leaves n in the
 * low mantissa bits and never converts a float to int (undefined for NaN).
 * 2^n is built as 2^(n/2) 2^(n - n/2) so that both factors are normal floats
 * for every n in [-150, 128]. */
PX_VM_INLINE float px_vm_exp(float x) {
    x = x > 89.0f ? 89.0f : x;
    x = x < -104.0f ? -104.0f : x;
    const float shifter = 12582912.0f; /* 1.5 * 2^23 */
    float t = x * 1.44269504088896341f + shifter;
    float n = t - shifter;
    int32_t ni = (int32_t)(px_vm_to_bits(t) - px_vm_to_bits(shifter));
    /* ln2 in two parts: n * 0.693359375 is exact for |n| < 2^15 */
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    int32_t n1 = ni >> 1, n2 = ni - n1;
    float s1 = px_vm_from_bits(((uint32_t)n1 + 127u) << 23);
    float s2 = px_vm_from_bits(((uint32_t)n2 + 127u) << 23);
    return y * s1 * s2;
}

/* 1 / (1 + e^-x): relative error of a few ulp everywhere; 0 and 1 at the ends
 * (e^-x = inf gives 1 / inf = 0), NaN for NaN. */
PX_VM_INLINE float px_vm_sigmoid(float x) { return 1.0f / (1.0f + px_vm_exp(-x)); }

/* tanh to a few ulp: Cephes's odd polynomial for |x| < 0.625, where
 * 1 - 2 / (e^2|x| + 1) would lose the small result to cancellation, that form
 * with the sign put back above it; +-1 for large |x|, NaN for NaN. Both branches
 * are computed and one selected, which is what vectorises. */
PX_VM_INLINE float px_vm_tanh(float x) {
    float a = __builtin_fabsf(x);
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float large = __builtin_copysignf(1.0f - 2.0f / (px_vm_exp(2.0f * a) + 1.0f), x);
    return a < 0.625f ? small : large;
}

/* Array forms, compiled for AVX-512, AVX2+FMA and baseline x86-64 and chosen
 * at run time. y may equal x. */
void px_vexp(float *y, const float *x, int64_t n);
void px_vtanh(float *y, const float *x, int64_t n);
void px_vsigmoid(float *y, const float *x, int64_t n);
/* The instruction set the array forms and the recurrent kernels run with. */
const char *px_vmath_isa(void);

/* Run-time choice shared by vmath.c and the recurrent kernels: 2 AVX-512,
 * 1 AVX2 + FMA, 0 baseline. */
int px_vmath_level(void);

#endif
