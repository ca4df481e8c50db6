/* The AVX-512 Adam loop (src/train/optim_adam_avx512.c) against the baseline
 * loop of optim_loops.h, bit for bit: Adam, AMSGrad and Nadam's Nesterov form,
 * lengths around the 16-lane blocks and the baseline's 512-float tiles, values
 * from subnormal to large, with subnormals kept and flushed. Skipped where the
 * processor (or valgrind's) has no AVX-512. */
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "px_test.h"
#include "train/optim_loops.h"

#if PX_ADAM_AVX512
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static float draw(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t r = (uint32_t)(rng >> 32);
    float u = (float)(r >> 8) * (1.0f / 16777216.0f) * 2.0f - 1.0f; /* [-1, 1) */
    switch (r & 7u) { /* scales: subnormal, tiny, ordinary, large; and exact zeros */
    case 0: return u * 1e-39f;
    case 1: return u * 1e-20f;
    case 2: return u * 1e3f;
    case 3: return 0.0f;
    default: return u;
    }
}

/* p, g, m, v, vhat for n elements; v and vhat non-negative as Adam keeps them. */
static float *fill(int64_t n) {
    float *a = malloc((size_t)(5 * n + 1) * sizeof *a);
    if (!a) return NULL;
    for (int64_t i = 0; i < 5 * n; i++) a[i] = draw();
    for (int64_t i = 3 * n; i < 5 * n; i++) a[i] = fabsf(a[i]);
    return a;
}

static bool same(const float *a, const float *b, int64_t n) { return memcmp(a, b, (size_t)n * sizeof *a) == 0; }

static void run_case(int64_t n, int variant, bool flush) {
    float *a = fill(n), *b = malloc((size_t)(5 * n + 1) * sizeof *b);
    CHECK(a && b);
    if (!a || !b) {
        free(a), free(b);
        return;
    }
    memcpy(b, a, (size_t)(5 * n) * sizeof *a);
    px_adam_coeffs c = {.alpha = 1e-3f, .b1 = 0.9f, .b2 = 0.999f, .eps = 1e-7f, .keep = 0.9996f};
    if (variant == 2) c = (px_adam_coeffs){.alpha = 2e-3f, .b1 = 0.9f, .b2 = 0.999f, .eps = 1e-7f, .keep = 1.0f,
                                           .cm = 0.71f, .cg = 0.13f, .bc2 = 0.003f};
#if defined(__SSE2__)
    unsigned int saved = _mm_getcsr();
    if (flush) _mm_setcsr(saved | 0x8040u);
#else
    (void)flush;
#endif
    /* a[0..n) p, [n..2n) g, [2n..3n) m, [3n..4n) v, [4n..5n) vhat */
    for (int step = 0; step < 3; step++) {
        if (variant == 0) px_adam_loop(a, a + n, a + 2 * n, a + 3 * n, NULL, n, c, false, false, false);
        if (variant == 1) px_adam_loop(a, a + n, a + 2 * n, a + 3 * n, a + 4 * n, n, c, true, false, false);
        if (variant == 2) px_adam_loop(a, a + n, a + 2 * n, a + 3 * n, NULL, n, c, false, true, false);
        px_adam_loop_avx512(b, b + n, b + 2 * n, b + 3 * n, variant == 1 ? b + 4 * n : NULL, n, c, variant == 1,
                            variant == 2);
    }
#if defined(__SSE2__)
    _mm_setcsr(saved);
#endif
    bool ok = same(a, b, 5 * n);
    if (!ok) px_test_fail(__FILE__, __LINE__, "variant %d, n %lld, flush %d: the AVX-512 loop differs", variant,
                          (long long)n, (int)flush);
    else px_test_passed++;
    free(a), free(b);
}

static void test_bit_identical(void) {
    static const int64_t lengths[] = {0, 1, 7, 15, 16, 17, 31, 33, 511, 512, 513, 1000, 5000 + 3};
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++)
        for (int variant = 0; variant < 3; variant++)
            for (int flush = 0; flush < 2; flush++) run_case(lengths[i], variant, flush);
}
#endif

int main(void) {
#if PX_ADAM_AVX512
    if (px_vmath_level() == 2) {
        RUN_TEST(test_bit_identical);
        return px_test_finish();
    }
#endif
    px_test_skip("no AVX-512 on this processor: the baseline Adam loop is the only one");
    return px_test_finish();
}
