/* The Adam loop (optim_loops.h's px_adam_loop) in AVX-512, chosen at run time:
 * one pass that reads g, m, v (and vhat) and p once and writes them once, 16
 * lanes at a time. The baseline build's loop is 4 lanes wide and needs a
 * second pass for its square roots (GCC does not vectorize sqrtf in ISO C
 * mode); at batch 32 the MLP's Adam update was a third of a one-thread step,
 * most of it in the square roots and divisions. Every operation is the one
 * the baseline loop does, in the same order, each correctly rounded (IEEE
 * single: add, sub, mul, div, sqrt; max for AMSGrad; no fused multiply-add),
 * so the results are bit-identical to it (test_adam_simd checks both loops
 * against each other). On Intel processors the square root is computed with
 * multiply-adds (sqrt_fma16, below) rather than on the divider, which it
 * shares with the division: the same bits, checked on every input. */
#include "train/optim_loops.h"

#if PX_ADAM_AVX512
#include <immintrin.h>
#include <stdlib.h>

#pragma GCC push_options
#pragma GCC target("avx512f,fma")

/* The correctly rounded square root of x's lanes from VRSQRT14PS and
 * multiply-adds (Markstein's sequence: a Newton step on the coupled estimates
 * of sqrt(x) and 1/(2 sqrt(x)), then one correction by the residual x - s*s,
 * exact in the FMA), for the lanes that *ok marks: x in [2^-80, 2^100). The
 * caller sends a block with any other lane (zero, negative, subnormal, tiny,
 * huge, inf, NaN, or a tail's unused lane) to VSQRTPS. In that range every
 * intermediate is normal, so flushing subnormals (FTZ/DAZ) changes nothing.
 * Why: VSQRTPS and VDIVPS share the divider, which bounded this loop while
 * its data were in L2 (117,600 parameters: 47.7 us, against 30.5 us with
 * neither operation and 35.4 us with this square root).
 * Exactness is checked, not proved: the last rounding is not proved correct
 * for every estimate within VRSQRT14PS's documented 2^-14 error, so the
 * sequence runs only where that instruction is Intel's, specified bit for
 * bit. test_adam_sqrt compares it with SQRTPS on all 2^24 inputs in [1, 4)
 * (VRSQRT14PS, and so the sequence, scales by powers of 4) and a sweep of all
 * bit patterns; a run over all 2^32 patterns, with and without FTZ/DAZ, found
 * no difference (docs/performance.md, "Adam's loop in AVX-512"). */
static inline __attribute__((always_inline)) __m512 sqrt_fma16(__m512 x, __mmask16 *ok) {
    *ok = _mm512_cmp_epu32_mask(_mm512_sub_epi32(_mm512_castps_si512(x), _mm512_set1_epi32((127 - 80) << 23)),
                                _mm512_set1_epi32(180 << 23), _MM_CMPINT_LT);
    const __m512 y = _mm512_rsqrt14_ps(x), half = _mm512_set1_ps(0.5f);
    __m512 s = _mm512_mul_ps(x, y), h = _mm512_mul_ps(y, half); /* sqrt(x), 1 / (2 sqrt(x)) */
    const __m512 e = _mm512_fnmadd_ps(s, h, half);
    s = _mm512_fmadd_ps(s, e, s);
    h = _mm512_fmadd_ps(h, e, h);
    return _mm512_fmadd_ps(_mm512_fnmadd_ps(s, s, x), h, s);
}

static inline __attribute__((always_inline)) __m512 sqrt16(__m512 x, const bool fma_sqrt) {
    if (!fma_sqrt) return _mm512_sqrt_ps(x);
    __mmask16 ok;
    __m512 s = sqrt_fma16(x, &ok);
    return __builtin_expect(ok != (__mmask16)0xFFFF, 0) ? _mm512_sqrt_ps(x) : s;
}

void px_sqrt_fma_avx512(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u), ok;
        __m512 xv = _mm512_maskz_loadu_ps(k, x + i);
        __m512 s = sqrt_fma16(xv, &ok);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mask_blend_ps(ok, _mm512_sqrt_ps(xv), s));
    }
}

/* Intel's VRSQRT14PS, whose results the checks above cover (see sqrt_fma16);
 * PX_ADAM_FMA_SQRT_DISABLE=1 keeps VSQRTPS (for A/B runs). */
static bool fma_sqrt_ok(void) {
    static int ok = -1; /* read and written atomically: threads asking at once compute the same answer */
    int o = __atomic_load_n(&ok, __ATOMIC_RELAXED);
    if (o < 0) {
        __builtin_cpu_init();
        const char *off = getenv("PX_ADAM_FMA_SQRT_DISABLE");
        o = __builtin_cpu_is("intel") && !(off && off[0] == '1') ? 1 : 0;
        __atomic_store_n(&ok, o, __ATOMIC_RELAXED);
    }
    return o == 1;
}

bool px_sqrt_fma_used(void) { return fma_sqrt_ok(); }

/* One block of up to 16 elements under mask k (the tail's lanes beyond n are
 * neither read nor written). */
static inline __attribute__((always_inline)) void adam16(float *p, const float *g, float *m, float *v, float *vhat,
                                                         __mmask16 k, const px_adam_coeffs *c, const bool amsgrad,
                                                         const bool nesterov, const bool fma_sqrt) {
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
    __m512 d = sqrt16(nesterov ? _mm512_div_ps(vi, _mm512_set1_ps(c->bc2)) : vi, fma_sqrt);
    /* (m * alpha) / (d + eps), or ((cm * m + cg * g) * alpha) / (d + eps) */
    __m512 num = nesterov
                     ? _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(c->cm), mi), _mm512_mul_ps(_mm512_set1_ps(c->cg), gi))
                     : mi;
    __m512 step = _mm512_div_ps(_mm512_mul_ps(num, alpha), _mm512_add_ps(d, eps));
    _mm512_mask_storeu_ps(p, k, _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, p), keep), step));
}

/* Prefetch distance, in floats. The MLP's first-layer update (117,600
 * parameters a thread, its p, g, m and v 1.9 MB) finds part of them evicted
 * from L2 by the rest of the step: with each stream requested 2 KB ahead its
 * slices took 47-48 us against 53-55 (256 to 1,024 floats ahead measured alike). */
enum { AHEAD = 512 };

static inline __attribute__((always_inline)) void adam_all(float *p, const float *g, float *m, float *v, float *vhat,
                                                           int64_t n, const px_adam_coeffs *c, const bool amsgrad,
                                                           const bool nesterov, const bool fma_sqrt) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        if (i + AHEAD < n) { /* the loads of 2 KB ahead, into L1 */
            _mm_prefetch((const char *)(p + i + AHEAD), _MM_HINT_T0);
            _mm_prefetch((const char *)(g + i + AHEAD), _MM_HINT_T0);
            _mm_prefetch((const char *)(m + i + AHEAD), _MM_HINT_T0);
            _mm_prefetch((const char *)(v + i + AHEAD), _MM_HINT_T0);
            if (amsgrad) _mm_prefetch((const char *)(vhat + i + AHEAD), _MM_HINT_T0);
        }
        adam16(p + i, g + i, m + i, v + i, amsgrad ? vhat + i : NULL, (__mmask16)0xFFFF, c, amsgrad, nesterov,
               fma_sqrt);
    }
    if (i < n)
        adam16(p + i, g + i, m + i, v + i, amsgrad ? vhat + i : NULL, (__mmask16)((1u << (n - i)) - 1u), c, amsgrad,
               nesterov, fma_sqrt);
}

/* Each variant is its own loop, its flags constant. */
static inline __attribute__((always_inline)) void adam_variant(float *p, const float *g, float *m, float *v,
                                                               float *vhat, int64_t n, const px_adam_coeffs *c,
                                                               bool amsgrad, bool nesterov, const bool fma_sqrt) {
    if (nesterov) adam_all(p, g, m, v, NULL, n, c, false, true, fma_sqrt);
    else if (amsgrad) adam_all(p, g, m, v, vhat, n, c, true, false, fma_sqrt);
    else adam_all(p, g, m, v, NULL, n, c, false, false, fma_sqrt);
}

void px_adam_loop_avx512(float *p, const float *g, float *m, float *v, float *vhat, int64_t n, px_adam_coeffs c,
                         bool amsgrad, bool nesterov) {
    if (fma_sqrt_ok()) adam_variant(p, g, m, v, vhat, n, &c, amsgrad, nesterov, true);
    else adam_variant(p, g, m, v, vhat, n, &c, amsgrad, nesterov, false);
}

#pragma GCC pop_options
#endif
