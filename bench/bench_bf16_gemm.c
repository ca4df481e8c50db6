/* Why px_gemm_bf16 uses oneDNN: GFLOP/s on one thread of the products of the
 * course's MLP at batch 256 (forward, dX, dW of each layer) and of its ConvNet's
 * im2col products, for
 *   f32      px_gemm (Plexus's float32 dispatch: OpenBLAS or the builtin kernel),
 *   onednn   px_gemm_bf16 (rounding both operands included; AMX where present),
 *   vdpbf16  a straightforward AVX512_BF16 kernel written here for the comparison
 *            (8 x 32 register tile of vdpbf16ps, B packed in pairs once, outside the
 *            timing: its best case), whose ceiling is 2x an fp32 FMA kernel.
 * Usage: bench_bf16_gemm [repetitions (200)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/gemm.h"
#include "backend/cpu/gemm_bf16.h"
#include "bench_util.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

static uint16_t bits(float x) {
    float r = px_bf16_round(x);
    uint32_t u;
    memcpy(&u, &r, sizeof u);
    return (uint16_t)(u >> 16);
}

/* C (m x n) = A (m x k, bf16 pairs) B (packed: [k/2][n][2]); m % 8 == 0, n % 32 == 0, k even */
__attribute__((target("avx512f,avx512bf16"))) static void vdp_gemm(int64_t m, int64_t n, int64_t k,
                                                                    const uint16_t *a, const uint16_t *bp, float *c) {
    for (int64_t i = 0; i < m; i += 8)
        for (int64_t j = 0; j < n; j += 32) {
            __m512 acc[8][2];
            for (int r = 0; r < 8; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            for (int64_t p = 0; p < k; p += 2) {
                const uint16_t *brow = bp + (p / 2) * n * 2 + j * 2;
                __m512bh b0 = (__m512bh)_mm512_loadu_si512(brow), b1 = (__m512bh)_mm512_loadu_si512(brow + 32);
                for (int r = 0; r < 8; r++) {
                    uint32_t pair;
                    memcpy(&pair, a + (i + r) * k + p, sizeof pair);
                    __m512bh av = (__m512bh)_mm512_set1_epi32((int)pair);
                    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
                    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
                }
            }
            for (int r = 0; r < 8; r++) {
                _mm512_storeu_ps(c + (i + r) * n + j, acc[r][0]);
                _mm512_storeu_ps(c + (i + r) * n + j + 16, acc[r][1]);
            }
        }
}
#endif

typedef struct shape {
    const char *what;
    bool ta, tb;
    int64_t m, n, k;
} shape;

static const shape shapes[] = {
    {"MLP L1 forward", false, false, 256, 300, 784}, {"MLP L1 dW", true, false, 784, 300, 256},
    {"MLP L2 forward", false, false, 256, 100, 300}, {"MLP L2 dX", false, true, 256, 300, 100},
    {"MLP L2 dW", true, false, 300, 100, 256},       {"ConvNet conv3 (im2col)", false, false, 3136, 12, 128},
    {"ConvNet dense fwd", false, false, 64, 200, 588}, {"ConvNet dense dW", true, false, 588, 200, 64},
};

int main(int argc, char **argv) {
    if (bench_help(argc, argv, "usage: bench_bf16_gemm [repetitions (200)]\n")) return 0;
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    const char *why = NULL;
    if (!px_bf16_supported(&why)) return fprintf(stderr, "bench_bf16_gemm: %s\n", why), 1;
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    px_set_num_threads(1);
    printf("%-24s %16s %9s %9s %9s %8s %8s\n", "product (one thread)", "m x n x k", "f32", "onednn", "vdpbf16",
           "dnn/f32", "vdp/f32");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        shape h = shapes[s];
        int64_t m = h.m, n = h.n, k = h.k;
        float *a = malloc((size_t)(m * k) * sizeof *a), *b = malloc((size_t)(k * n) * sizeof *b);
        float *c = malloc((size_t)(m * n) * sizeof *c);
        for (int64_t i = 0; i < m * k; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (int64_t i = 0; i < k * n; i++) b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        px_gemm_args g = {.trans_a = h.ta, .trans_b = h.tb, .m = m, .n = n, .k = k, .a = a, .lda = h.ta ? m : k,
                          .b = b, .ldb = h.tb ? k : n, .c = c, .ldc = n};
        double t[3] = {0, 0, 0};
        for (int impl = 0; impl < 2; impl++) {
            for (int w = 0; w < 3; w++) impl ? px_gemm_bf16(&g) : px_gemm(&g);
            double t0 = now();
            for (int r = 0; r < reps; r++) impl ? px_gemm_bf16(&g) : px_gemm(&g);
            t[impl] = (now() - t0) / reps;
        }
#if defined(__x86_64__) && defined(__GNUC__)
        /* the hand kernel on padded, pre-packed operands (op(A) as m x k rows, op(B) as pairs) */
        int64_t mp = (m + 7) / 8 * 8, np = (n + 31) / 32 * 32, kp = (k + 1) / 2 * 2;
        uint16_t *a16 = calloc((size_t)(mp * kp), 2), *bp = calloc((size_t)(kp * np), 2);
        float *cp = malloc((size_t)(mp * np) * sizeof *cp);
        for (int64_t i = 0; i < m; i++)
            for (int64_t p = 0; p < k; p++) a16[i * kp + p] = bits(h.ta ? a[p * m + i] : a[i * k + p]);
        for (int64_t p = 0; p < k; p++)
            for (int64_t j = 0; j < n; j++) bp[(p / 2) * np * 2 + j * 2 + p % 2] = bits(h.tb ? b[j * k + p] : b[p * n + j]);
        for (int w = 0; w < 3; w++) vdp_gemm(mp, np, kp, a16, bp, cp);
        double t0 = now();
        for (int r = 0; r < reps; r++) vdp_gemm(mp, np, kp, a16, bp, cp);
        t[2] = (now() - t0) / reps;
        free(a16), free(bp), free(cp);
#endif
        double fl = 2.0 * (double)m * (double)n * (double)k * 1e-9;
        char dims[32];
        snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)m, (long long)n, (long long)k);
        printf("%-24s %16s %9.1f %9.1f %9.1f %8.2f %8.2f\n", h.what, dims, fl / t[0], fl / t[1],
               t[2] > 0 ? fl / t[2] : 0.0, t[0] / t[1], t[2] > 0 ? t[0] / t[2] : 0.0);
        free(a), free(b), free(c);
    }
    printf("(GFLOP/s; dnn/f32 and vdp/f32: speedups over px_gemm)\n");
    return 0;
}
