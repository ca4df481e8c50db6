/* The Adam loop (optim_loops.h's px_adam_loop) in AVX-512, chosen at run time:
 * one pass that reads g, m, v (and vhat) and p once and writes them once, 16
 * lanes at a time. The baseline build's loop is 4 lanes wide and needs a
 * second pass for its square roots (GCC does not vectorize sqrtf in ISO C
 * mode); at batch 32 the MLP's Adam update was a third of a one-thread step,
 * most of it in the square roots and divisions. Every operation is the one
 * the baseline loop does, in the same order, each correctly rounded (IEEE
 * single: add, sub, mul, div, sqrt; max for AMSGrad; no fused multiply-add),
 * so the results are bit-identical to it (test_adam_simd checks both loops
 * against each other). */
#include "train/optim_loops.h"

#if PX_ADAM_AVX512
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f")

/* One block of up to 16 elements under mask k (the tail's lanes beyond n are
 * neither read nor written). */
static inline __attribute__((always_inline)) void adam16(float *p, const float *g, float *m, float *v, float *vhat,
                                                         __mmask16 k, const px_adam_coeffs *c, const bool amsgrad,
                                                         const bool nesterov) {
    const __m512 c1 = _mm512_set1_ps(1.0f - c->b1), c2 = _mm512_set1_ps(1.0f - c->b2);
    const __m512 alpha = _mm512_set1_ps(c->alpha), eps = _mm512_set1_ps(c->eps), keep = _mm512_set1_ps(c->keep);
    __m512 gi = _mm512_maskz_loadu_ps(k, g), mo = _mm512_maskz_loadu_ps(k, m), vo = _mm512_maskz_loadu_ps(k, v);
    /* m + (g - m) * c1, v + (g * g - v) * c2 */
    __m512 mi = _mm512_add_ps(mo, _mm512_mul_ps(_mm512_sub_ps(gi, mo), c1));
    __m512 vi = _mm512_add_ps(vo, _mm512_mul_ps(_mm512_sub_ps(_mm512_mul_ps(gi, gi), vo), c2));
    _mm512_mask_storeu_ps(m, k, mi);
    _mm512_mask_storeu_ps(v, k, vi);
    if (amsgrad) {
        vi = _mm512_max_ps(_mm512_maskz_loadu_ps(k, vhat), vi); /* vhat > v ? vhat : v, as MAXPS orders it */
        _mm512_mask_storeu_ps(vhat, k, vi);
    }
    __m512 d = _mm512_sqrt_ps(nesterov ? _mm512_div_ps(vi, _mm512_set1_ps(c->bc2)) : vi);
    /* (m * alpha) / (d + eps), or ((cm * m + cg * g) * alpha) / (d + eps) */
    __m512 num = nesterov ? _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(c->cm), mi),
                                          _mm512_mul_ps(_mm512_set1_ps(c->cg), gi))
                          : mi;
    __m512 step = _mm512_div_ps(_mm512_mul_ps(num, alpha), _mm512_add_ps(d, eps));
    _mm512_mask_storeu_ps(p, k, _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, p), keep), step));
}

static inline __attribute__((always_inline)) void adam_all(float *p, const float *g, float *m, float *v, float *vhat,
                                                           int64_t n, const px_adam_coeffs *c, const bool amsgrad,
                                                           const bool nesterov) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        adam16(p + i, g + i, m + i, v + i, amsgrad ? vhat + i : NULL, (__mmask16)0xFFFF, c, amsgrad, nesterov);
    if (i < n)
        adam16(p + i, g + i, m + i, v + i, amsgrad ? vhat + i : NULL, (__mmask16)((1u << (n - i)) - 1u), c, amsgrad,
               nesterov);
}

void px_adam_loop_avx512(float *p, const float *g, float *m, float *v, float *vhat, int64_t n, px_adam_coeffs c,
                         bool amsgrad, bool nesterov) {
    if (nesterov) adam_all(p, g, m, v, NULL, n, &c, false, true);
    else if (amsgrad) adam_all(p, g, m, v, vhat, n, &c, true, false);
    else adam_all(p, g, m, v, NULL, n, &c, false, false);
}

#pragma GCC pop_options
#endif
