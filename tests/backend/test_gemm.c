/* px_gemm (named arguments), its dispatch, px_gemm_builtin, px_gemm_blas and px_gemm_packed against a
 * double-precision reference: every transpose pair, alpha/beta cases, padded strides, edge sizes; the
 * packed path's tiles and the K-split forward give the same bits at any thread count. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/gemm.h"
#include "plexus/backend.h"
#include "px_test.h"

typedef void (*gemm_fn)(bool, bool, int64_t, int64_t, int64_t, float, const float *, int64_t,
                        const float *, int64_t, float, float *, int64_t);

/* px_gemm's named form, where alpha 0 means 1: given only the other alphas. */
static void gemm_named(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    px_gemm(&(px_gemm_args){.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .alpha = alpha, .a = a, .lda = lda,
                            .b = b, .ldb = ldb, .beta = beta, .c = c, .ldc = ldc});
}

static const struct {
    const char *name;
    gemm_fn f;
} impls[] = {{"px_gemm", gemm_named},
             {"px_gemm_dispatch", px_gemm_dispatch},
             {"px_gemm_builtin", px_gemm_builtin},
             {"px_gemm_blas", px_gemm_blas}};

static unsigned rng_state = 12345u;
static float urand(void) { /* in [-1, 1), reproducible */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

/* Runs one case on every implementation; returns the number of failing elements. */
static int check_case(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta,
                      int64_t pad) {
    int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int64_t lda = ac + pad, ldb = bc + pad, ldc = n + pad;
    size_t asz = (size_t)(ar * lda + 1), bsz = (size_t)(br * ldb + 1), csz = (size_t)(m * ldc + 1);
    float *a = malloc(asz * sizeof *a), *b = malloc(bsz * sizeof *b);
    float *c0 = malloc(csz * sizeof *c0), *c = malloc(csz * sizeof *c);
    double *ref = malloc(csz * sizeof *ref);
    for (size_t i = 0; i < asz; i++) a[i] = urand();
    for (size_t i = 0; i < bsz; i++) b[i] = urand();
    for (size_t i = 0; i < csz; i++) c0[i] = urand();
    if (beta == 0.0f) /* beta 0 must ignore what C held, NaN included */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c0[i * ldc + j] = (i + j) % 2 ? NAN : INFINITY;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                     (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
            ref[i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0 : (double)beta * c0[i * ldc + j]);
        }
    int bad = 0;
    for (size_t f = alpha == 0.0f; f < sizeof impls / sizeof *impls; f++) {
        memcpy(c, c0, csz * sizeof *c);
        impls[f].f(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        int64_t first_bad = -1;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < ldc; j++) {
                size_t at = (size_t)(i * ldc + j);
                bool ok;
                if (j < n) /* float accumulation of k products of magnitude <= 1 */
                    ok = fabs(c[at] - ref[at]) <= 1e-5 * (double)(k + 2) * (1 + fabs(ref[at]));
                else /* the padding between rows must be untouched */
                    ok = memcmp(&c[at], &c0[at], sizeof *c) == 0;
                if (!ok) {
                    bad++;
                    if (first_bad < 0) first_bad = (int64_t)at;
                }
            }
        if (memcmp(&c[csz - 1], &c0[csz - 1], sizeof *c) != 0) bad++; /* past the end */
        if (first_bad >= 0)
            px_test_fail(__FILE__, __LINE__,
                         "%s ta=%d tb=%d m=%lld n=%lld k=%lld alpha=%g beta=%g pad=%lld: C[%lld] = %.9g, "
                         "expected %.9g",
                         impls[f].name, ta, tb, (long long)m, (long long)n, (long long)k, alpha, beta,
                         (long long)pad, (long long)first_bad, c[first_bad], ref[first_bad]);
        else
            px_test_passed++;
    }
    free(a), free(b), free(c0), free(c), free(ref);
    return bad;
}

static void test_small_and_odd_shapes(void) {
    static const int64_t dims[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 40};
    int nd = (int)(sizeof dims / sizeof *dims);
    for (int t = 0; t < 4; t++)
        for (int im = 0; im < nd; im += 2)
            for (int in = 1; in < nd; in += 3)
                for (int ik = 0; ik < nd; ik += 4)
                    check_case(t & 1, t & 2, dims[im], dims[in], dims[ik], 1.0f, 0.0f, 0);
}

static void test_alpha_beta_and_strides(void) {
    static const float ab[][2] = {{1, 0}, {1, 1}, {2.5f, 0}, {-1, 0.5f}, {0.5f, -2}, {0, 0}, {0, 3}};
    for (int t = 0; t < 4; t++)
        for (size_t i = 0; i < sizeof ab / sizeof *ab; i++) {
            check_case(t & 1, t & 2, 3, 5, 4, ab[i][0], ab[i][1], 0);
            check_case(t & 1, t & 2, 37, 45, 29, ab[i][0], ab[i][1], 3);
            check_case(t & 1, t & 2, 70, 100, 90, ab[i][0], ab[i][1], 7);
        }
}

static void test_degenerate_sizes(void) {
    for (int t = 0; t < 4; t++) {
        check_case(t & 1, t & 2, 1, 1, 1, 1.0f, 0.0f, 0);
        check_case(t & 1, t & 2, 1, 1, 1, 2.0f, 1.0f, 2);
        check_case(t & 1, t & 2, 0, 5, 3, 1.0f, 0.0f, 0);
        check_case(t & 1, t & 2, 5, 0, 3, 1.0f, 0.0f, 1);
        check_case(t & 1, t & 2, 4, 6, 0, 1.0f, 0.0f, 1); /* k = 0: C = beta C */
        check_case(t & 1, t & 2, 4, 6, 0, 1.0f, 0.5f, 1);
        check_case(t & 1, t & 2, 1, 300, 784, 1.0f, 0.0f, 0);
        check_case(t & 1, t & 2, 300, 1, 7, 1.0f, 1.0f, 0);
    }
}

/* The Fashion-MNIST MLP 784-300-100-10: forward, dX = dY W^T, dW += X^T dY. */
static void test_mlp_shapes(void) {
    static const int64_t layers[][2] = {{784, 300}, {300, 100}, {100, 10}};
    static const int64_t batches[] = {32, 256};
    for (int bi = 0; bi < 2; bi++)
        for (int l = 0; l < 3; l++) {
            int64_t B = batches[bi], in = layers[l][0], out = layers[l][1];
            check_case(false, false, B, out, in, 1.0f, 0.0f, 0);
            check_case(false, true, B, in, out, 1.0f, 1.0f, 0);
            check_case(true, false, in, out, B, 1.0f, 1.0f, 0);
        }
}

/* Sizes past the builtin kernel's k and n blocks (256 and 512) and its threading threshold. */
static void test_blocked_sizes(void) {
    check_case(false, false, 130, 600, 520, 1.0f, 0.0f, 0);
    check_case(true, true, 67, 513, 257, -1.0f, 1.0f, 5);
    check_case(true, false, 200, 129, 300, 0.5f, 2.0f, 1);
}

static void test_tiny_network_shapes(void) {
    for (int t = 0; t < 4; t++) {
        check_case(t & 1, t & 2, 2, 2, 2, 1.0f, 0.0f, 0);
        check_case(t & 1, t & 2, 4, 2, 4, 1.0f, 1.0f, 0);
        check_case(t & 1, t & 2, 4, 4, 2, 1.0f, 0.0f, 0);
        check_case(t & 1, t & 2, 4, 1, 4, 1.0f, 1.0f, 0);
    }
}

/* px_gemm_packed directly (oneDNN's kernel on B reordered once, uneven row tiles):
 * against the double reference, the same
 * bits at 1, 2 and 3 threads; and px_gemm's dispatch of a tall product to it
 * the same at 1 and 2 threads. Where the build has oneDNN and the processor
 * AVX-512 it must run; elsewhere it must say it cannot. px_gemm_then_rows runs a
 * pass over each tile's rows once, after the tile. */
static int row_seen[600];

static void negate_rows(const void *ctx, int64_t r0, int64_t r1) {
    float *c = (float *)ctx;
    for (int64_t i = r0; i < r1; i++) {
        row_seen[i]++; /* tiles are disjoint, so no two threads write one entry */
        for (int j = 0; j < 100; j++) c[i * 100 + j] = -c[i * 100 + j];
    }
}

static void test_packed_tiles(void) {
    enum { M = 600, N = 100, K = 80, LDA = K, LDB = N + 5, LDC = N }; /* A and C dense, as it needs */
    static const int64_t row0[] = {0, 192, 400, M};
    float *a = malloc(sizeof(float) * M * LDA), *b = malloc(sizeof(float) * K * LDB);
    float *c = malloc(sizeof(float) * M * LDC), *c1 = malloc(sizeof(float) * M * LDC);
    for (int i = 0; i < M * LDA; i++) a[i] = urand();
    for (int i = 0; i < K * LDB; i++) b[i] = urand();
    bool expect = false;
#if defined(PX_HAVE_DNNL) && defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    const char *off = getenv("PX_GEMM_PACKED_DISABLE");
    expect = __builtin_cpu_supports("avx512f") && !(off && strcmp(off, "1") == 0);
#endif
    for (int threads = 1; threads <= 3; threads++) {
        for (int i = 0; i < M * LDC; i++) c[i] = NAN; /* beta 0: never read */
        bool ran = px_gemm_packed(N, K, a, LDA, b, LDB, false, c, LDC, 3, row0, threads, NULL, NULL);
        CHECK(ran == expect);
        if (!ran) break;
        int bad = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < LDC; j++) {
                double s = 0;
                for (int p = 0; p < K; p++) s += (double)a[i * LDA + p] * (double)b[p * LDB + j];
                float v = c[i * LDC + j];
                bad += !(fabs(v - s) <= 1e-5 * (K + 2) * (1 + fabs(s)));
            }
        CHECK(bad == 0);
        if (threads == 1) memcpy(c1, c, sizeof(float) * M * LDC);
        else CHECK(memcmp(c, c1, sizeof(float) * M * LDC) == 0);
    }
    int saved = px_num_threads();
    for (int threads = 1; threads <= 2; threads++) {
        px_set_num_threads(threads);
        px_gemm(&(px_gemm_args){.m = M, .n = N, .k = K, .a = a, .lda = LDA, .b = b, .ldb = LDB, .c = c, .ldc = LDC});
        if (threads == 1) memcpy(c1, c, sizeof(float) * M * LDC);
        else CHECK(memcmp(c, c1, sizeof(float) * M * LDC) == 0);
    }
    /* the pass over rows: every row once, after the product wrote it */
    memset(row_seen, 0, sizeof row_seen);
    bool tiled = px_gemm_then_rows(&(px_gemm_args){.m = M, .n = N, .k = K, .a = a, .lda = LDA, .b = b, .ldb = LDB,
                                                   .c = c, .ldc = LDC},
                                   negate_rows, c);
    CHECK(tiled == expect);
    int wrong = 0;
    for (int i = 0; i < M; i++) {
        wrong += row_seen[i] != (tiled ? 1 : 0);
        for (int j = 0; tiled && j < N; j++) wrong += c[i * LDC + j] != -c1[i * LDC + j];
    }
    CHECK(wrong == 0);
    /* a weight kept reordered inside a fixed-weights scope gives the same bits;
     * after the scope a changed B is reordered again */
    px_gemm_args g = {.m = M, .n = N, .k = K, .a = a, .lda = LDA, .b = b, .ldb = LDB, .c = c, .ldc = LDC, .b_fixed = true};
    px_gemm(&(px_gemm_args){.m = M, .n = N, .k = K, .a = a, .lda = LDA, .b = b, .ldb = LDB, .c = c1, .ldc = LDC});
    px_gemm_weights_fixed_begin();
    for (int twice = 0; twice < 2; twice++) {
        memset(c, 0, sizeof(float) * M * LDC);
        px_gemm_then_rows(&g, negate_rows, c);
        px_gemm_then_rows(&g, negate_rows, c); /* computes anew, negates again: c = -(A B) or A B */
        int diff = 0;
        for (int i = 0; i < M * LDC; i++) diff += c[i] != (expect ? -c1[i] : c1[i]);
        CHECK(diff == 0);
    }
    px_gemm_weights_fixed_end();
    for (int i = 0; i < K * LDB; i++) b[i] = -b[i];
    px_gemm_then_rows(&g, negate_rows, c); /* -(A (-B)) = A B where the rows pass ran */
    int stale = 0;
    for (int i = 0; i < M * LDC; i++) stale += c[i] != (expect ? c1[i] : -c1[i]);
    CHECK(stale == 0);
    px_set_num_threads(saved);
    free(a), free(b), free(c), free(c1);
}

/* px_gemm_builtin_ksplit (few rows by a tall B, K cut into fixed parts, the
 * parts' products added in order): against the double reference for 2 and 3
 * parts, A plain and transposed, padded strides, C's padding untouched; the
 * same bits at 1, 2 and 3 threads; and px_gemm's dispatch of the first layer's
 * forward (32 x 784 . 784 x 300) the same at 1, 2 and 3 threads. */
static void test_ksplit(void) {
    enum { M = 32, N = 300, K = 784, PAD = 3, LDC = N + PAD };
    float *a = malloc(sizeof(float) * K * (K + PAD)), *b = malloc(sizeof(float) * K * (N + PAD));
    float *c = malloc(sizeof(float) * M * LDC), *c1 = malloc(sizeof(float) * M * LDC);
    double *ref = malloc(sizeof(double) * M * N);
    for (int i = 0; i < K * (K + PAD); i++) a[i] = urand();
    for (int i = 0; i < K * (N + PAD); i++) b[i] = urand();
    int saved = px_num_threads();
    for (int ta = 0; ta < 2; ta++) {
        int64_t lda = ta ? M + PAD : K + PAD;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int p = 0; p < K; p++)
                    s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (double)b[p * (N + PAD) + j];
                ref[i * N + j] = -0.5 * s;
            }
        for (int parts = 2; parts <= 3; parts++)
            for (int threads = 1; threads <= 3; threads++) {
                px_set_num_threads(threads);
                for (int i = 0; i < M * LDC; i++) c[i] = i % LDC < N ? NAN : 7.0f; /* beta 0: never read */
                CHECK(px_gemm_builtin_ksplit(ta, M, N, K, -0.5f, a, lda, b, N + PAD, c, LDC, parts, NULL, NULL));
                int bad = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < LDC; j++) {
                        float v = c[i * LDC + j];
                        if (j < N) bad += !(fabs(v - ref[i * N + j]) <= 1e-5 * (K + 2) * (1 + fabs(ref[i * N + j])));
                        else bad += v != 7.0f;
                    }
                CHECK(bad == 0);
                if (threads == 1) memcpy(c1, c, sizeof(float) * M * LDC);
                else CHECK(memcmp(c, c1, sizeof(float) * M * LDC) == 0);
            }
    }
    for (int threads = 1; threads <= 3; threads++) {
        px_set_num_threads(threads);
        px_gemm(&(px_gemm_args){.m = M, .n = N, .k = K, .a = a, .lda = K, .b = b, .ldb = N, .c = c, .ldc = N});
        if (threads == 1) memcpy(c1, c, sizeof(float) * M * N);
        else CHECK(memcmp(c, c1, sizeof(float) * M * N) == 0);
    }
#ifdef _OPENMP
    /* a team smaller than asked for (here every region inactive: one thread,
     * while two are asked for, as under OMP_THREAD_LIMIT): every row still added */
    px_set_num_threads(2);
    int levels = omp_get_max_active_levels();
    omp_set_max_active_levels(0);
    for (int i = 0; i < M * LDC; i++) c[i] = NAN;
    CHECK(px_gemm_builtin_ksplit(false, M, N, K, 1.0f, a, K, b, N, c, N, 2, NULL, NULL));
    omp_set_max_active_levels(levels);
    px_set_num_threads(1);
    CHECK(px_gemm_builtin_ksplit(false, M, N, K, 1.0f, a, K, b, N, c1, N, 2, NULL, NULL));
    CHECK(memcmp(c, c1, sizeof(float) * M * N) == 0);
#endif
    CHECK(px_gemm_k_cut(784, 2, 1) == 392 && px_gemm_k_cut(784, 2, 2) == 784 && px_gemm_k_cut(784, 3, 1) == 256);
    CHECK(!px_gemm_builtin_ksplit(false, M, N, K, 1.0f, a, K, b, N, c, N, 1, NULL, NULL)); /* one part is no split */
    px_set_num_threads(saved);
    free(a), free(b), free(c), free(c1), free(ref);
}

int main(void) {
    RUN_TEST(test_small_and_odd_shapes);
    RUN_TEST(test_alpha_beta_and_strides);
    RUN_TEST(test_degenerate_sizes);
    RUN_TEST(test_mlp_shapes);
    RUN_TEST(test_blocked_sizes);
    RUN_TEST(test_tiny_network_shapes);
    RUN_TEST(test_packed_tiles);
    RUN_TEST(test_ksplit);
    check_case(false, false, 520, 64, 64, 1.0f, 0.0f, 0); /* the smallest shape px_gemm sends to it */
    return px_test_finish();
}
