/* Internal: the pieces the optimizer kinds' update loops share. GCC only vectorizes
 * sqrtf under -fno-math-errno, which cannot be switched on per file (the libm builtins
 * get their errno behaviour when the compiler starts), so the loops work in L1-sized
 * tiles: a vectorizable pass that updates the state and gathers the square-root
 * arguments, an explicit SIMD square root (sqrt_tile), and a vectorizable finishing
 * pass. Also the Adam loop, which Adam, AdamW and Nadam share. */
#ifndef PX_TRAIN_OPTIM_LOOPS_H
#define PX_TRAIN_OPTIM_LOOPS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "core/vmath.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif

#define TILE 512

static inline void sqrt_tile(float *restrict x, int len) {
    int i = 0;
#if defined(__SSE2__)
    for (; i + 4 <= len; i += 4) _mm_storeu_ps(x + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
#elif defined(__ARM_NEON) && defined(__aarch64__)
    for (; i + 4 <= len; i += 4) vst1q_f32(x + i, vsqrtq_f32(vld1q_f32(x + i)));
#endif
    for (; i < len; i++) x[i] = sqrtf(x[i]);
}

#define FOR_TILES(n, i0, len)                                                                     \
    for (int64_t i0 = 0, len = (n) < TILE ? (n) : TILE; i0 < (n);                                  \
         i0 += TILE, len = (n) - i0 < TILE ? (n) - i0 : TILE)

/* The Adam loop's scalars: alpha the step size; Nadam also sets cm, cg (m_hat = cm * m +
 * cg * g) and bc2 (v_hat = v / bc2). */
typedef struct px_adam_coeffs {
    float alpha, b1, b2, eps, keep;
    float cm, cg, bc2;
} px_adam_coeffs;

/* The same scalars for the device kernel (backend/kernels/optim_ops.h), which
 * reads Adam's alpha as its learning rate. */
static inline void px_adam_coeffs_out(const px_adam_coeffs *c, float *coef) {
    coef[PX_OC_LR] = c->alpha;
    coef[PX_OC_B1] = c->b1;
    coef[PX_OC_B2] = c->b2;
    coef[PX_OC_EPS] = c->eps;
    coef[PX_OC_KEEP] = c->keep;
    coef[PX_OC_CM] = c->cm;
    coef[PX_OC_CG] = c->cg;
    coef[PX_OC_BC2] = c->bc2;
}

/* The same loop in AVX-512 (optim_adam_avx512.c): one pass, bit-identical to the
 * one below; used where px_vmath_level() finds AVX-512 (not under valgrind,
 * whose CPU has none). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define PX_ADAM_AVX512 1
void px_adam_loop_avx512(float *p, const float *g, float *m, float *v, float *vhat, int64_t n, px_adam_coeffs c,
                         bool amsgrad, bool nesterov);
/* For test_adam_sqrt: y = sqrt(x) by the loop's multiply-add square root (VSQRTPS
 * for the lanes outside its range), and whether the loop uses it on this processor. */
void px_sqrt_fma_avx512(float *y, const float *x, int64_t n);
bool px_sqrt_fma_used(void);
#else
#define PX_ADAM_AVX512 0
#endif

/* Adam and AMSGrad, and Nadam with `nesterov`; inlined with constant flags, so each
 * variant is its own branch-free loop. `simd` false keeps the baseline loop (the
 * tests compare the two). */
static inline __attribute__((always_inline)) void px_adam_loop(float *restrict p, const float *restrict g,
                                                               float *restrict m, float *restrict v,
                                                               float *restrict vhat, int64_t n, px_adam_coeffs c,
                                                               const bool amsgrad, const bool nesterov,
                                                               const bool simd) {
#if PX_ADAM_AVX512
    if (simd && !(amsgrad && nesterov) && px_vmath_level() == 2) {
        px_adam_loop_avx512(p, g, m, v, vhat, n, c, amsgrad, nesterov);
        return;
    }
#else
    (void)simd;
#endif
    const float c1 = 1.0f - c.b1, c2 = 1.0f - c.b2, alpha = c.alpha, eps = c.eps, keep = c.keep;
    const float cm = c.cm, cg = c.cg, bc2 = c.bc2;
    float d[TILE];
    FOR_TILES(n, i0, len) {
        float *restrict pt = p + i0, *restrict mt = m + i0, *restrict vt = v + i0;
        float *restrict ht = amsgrad ? vhat + i0 : NULL;
        const float *restrict gt = g + i0;
        for (int j = 0; j < len; j++) {
            float gi = gt[j];
            float mi = mt[j] + (gi - mt[j]) * c1;
            float vi = vt[j] + (gi * gi - vt[j]) * c2;
            mt[j] = mi;
            vt[j] = vi;
            if (amsgrad) {
                vi = ht[j] > vi ? ht[j] : vi;
                ht[j] = vi;
            }
            d[j] = nesterov ? vi / bc2 : vi;
        }
        sqrt_tile(d, (int)len);
        if (nesterov)
            for (int j = 0; j < len; j++) pt[j] = pt[j] * keep - (cm * mt[j] + cg * gt[j]) * alpha / (d[j] + eps);
        else
            for (int j = 0; j < len; j++) pt[j] = pt[j] * keep - mt[j] * alpha / (d[j] + eps);
    }
}

#endif
