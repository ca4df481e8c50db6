/* The AVX-512 Adam loop's square root from multiply-adds (optim_adam_avx512.c's
 * sqrt_fma16) against the processor's correctly rounded SQRTPS, bit for bit:
 * every one of the 2^24 inputs in [1, 4) (VRSQRT14PS, and so the whole
 * sequence, scales by powers of 4, which covers the sequence's whole range
 * [2^-80, 2^100)), a sweep across all 2^32 bit patterns (the lanes the sequence
 * leaves to VSQRTPS among them: zeros, negatives, subnormals, inf, NaN), and
 * each binade's ends, with subnormals kept and flushed (FTZ/DAZ). Skipped where
 * the processor (or valgrind's) has no AVX-512, and where the loop does not use
 * the sequence (px_sqrt_fma_used: not Intel's VRSQRT14PS, or switched off). */
#include <stdlib.h>
#include <string.h>

#include <emmintrin.h>
#include <xmmintrin.h>

#include "px_test.h"
#include "train/optim_loops.h"

#if PX_ADAM_AVX512
enum { CHUNK = 4096 };

/* x and the reference (SQRTPS) for CHUNK bit patterns from `first`, every `stride`-th. */
static bool chunk_ok(uint64_t first, uint64_t stride, float *x, float *got, float *want) {
    for (int i = 0; i < CHUNK; i++) {
        uint32_t b = (uint32_t)(first + (uint64_t)i * stride);
        memcpy(&x[i], &b, sizeof b);
    }
    for (int i = 0; i < CHUNK; i += 4) _mm_storeu_ps(want + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
    px_sqrt_fma_avx512(got, x, CHUNK);
    if (memcmp(got, want, sizeof(float) * CHUNK) == 0) return true;
    for (int i = 0; i < CHUNK; i++) {
        uint32_t xb, gb, wb;
        memcpy(&xb, &x[i], 4), memcpy(&gb, &got[i], 4), memcpy(&wb, &want[i], 4);
        if (gb != wb) {
            px_test_fail(__FILE__, __LINE__, "sqrt of 0x%08x: 0x%08x, SQRTPS 0x%08x", xb, gb, wb);
            return false;
        }
    }
    return false;
}

static void sweep(bool flush) {
    float *x = malloc(3 * CHUNK * sizeof *x);
    CHECK(x != NULL);
    if (!x) return;
    float *got = x + CHUNK, *want = x + 2 * CHUNK;
    unsigned int saved = _mm_getcsr();
    if (flush) _mm_setcsr(saved | 0x8040u);
    bool ok = true;
    /* all of [1, 4): 0x3f800000 to 0x407fffff */
    for (uint64_t b = 0x3f800000u; ok && b < 0x40800000u; b += CHUNK) ok = chunk_ok(b, 1, x, got, want);
    /* all 2^32 patterns, every 509th (prime: every residue of the low bits) */
    for (uint64_t b = 0; ok && b < (1ull << 32); b += (uint64_t)CHUNK * 509) ok = chunk_ok(b, 509, x, got, want);
    /* each binade's first and last 2,048 patterns, both signs (the last wraps to +0) */
    for (uint64_t e = 1; ok && e <= 512; e++) ok = chunk_ok((e << 23) - 2048, 1, x, got, want);
    _mm_setcsr(saved);
    if (ok) px_test_passed++;
    free(x);
}

static void test_sqrt_fma_exact(void) {
    sweep(false);
    sweep(true);
}
#endif

int main(void) {
#if PX_ADAM_AVX512
    if (px_vmath_level() == 2 && px_sqrt_fma_used()) {
        RUN_TEST(test_sqrt_fma_exact);
        return px_test_finish();
    }
#endif
    px_test_skip("no AVX-512, or no Intel VRSQRT14PS: the Adam loop's square root is VSQRTPS");
    return px_test_finish();
}
