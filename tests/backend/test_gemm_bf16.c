/* px_gemm_bf16 against a double-precision product of the bf16-rounded inputs (every
 * transpose pair, alpha and beta, padded strides, tile edges, small products on the
 * float32 path, rows padded to the tile height), its rounding against hand-worked
 * values, shapes met again after its per-thread cache of primitives has replaced
 * them, a partial batch run on the full batch's primitives, and its results at one,
 * two and three threads (identical). The cache itself, and its freeing at thread
 * exit: test_dnnl_engine.c. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/dnnl_engine.h"
#include "backend/cpu/gemm_bf16.h"
#include "px_test.h"

static unsigned rng_state = 777u;
static float urand(void) { /* in [-1, 1), with more bits than bf16 keeps */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static void test_rounding(void) {
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1); just above rounds up */
    CHECK(px_bf16_round(1.0f + 1.0f / 256) == 1.0f);
    CHECK(px_bf16_round(1.0f + 1.0f / 256 + 1.0f / 65536) == 1.0f + 1.0f / 128);
    CHECK(px_bf16_round(1.0f + 3.0f / 256) == 1.0f + 2.0f / 128); /* tie, odd below: up */
    CHECK(px_bf16_round(-3.14159265f) == -3.140625f);
    CHECK(px_bf16_round(1e-40f) == 0.0f);                         /* subnormals flush */
    CHECK(isinf(px_bf16_round(INFINITY)) && isnan(px_bf16_round(NAN)));
    CHECK(px_bf16_round(3.4e38f) == INFINITY);                    /* above bf16's largest: overflows */
}

/* One case: returns the number of elements off by more than float32 accumulation of
 * the rounded products allows. */
static int check_case(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta, int64_t pad) {
    int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int64_t lda = ac + pad, ldb = bc + pad, ldc = n + pad;
    float *a = malloc((size_t)(ar * lda) * sizeof *a), *b = malloc((size_t)(br * ldb) * sizeof *b);
    float *c = malloc((size_t)(m * ldc) * sizeof *c), *c0 = malloc((size_t)(m * ldc) * sizeof *c0);
    for (int64_t i = 0; i < ar * lda; i++) a[i] = urand();
    for (int64_t i = 0; i < br * ldb; i++) b[i] = urand();
    for (int64_t i = 0; i < m * ldc; i++) c0[i] = beta == 0.0f ? NAN : urand(); /* beta 0 ignores C, NaN too */
    memcpy(c, c0, (size_t)(m * ldc) * sizeof *c);
    px_gemm_bf16(&(px_gemm_args){.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .alpha = alpha, .a = a,
                                 .lda = lda, .b = b, .ldb = ldb, .beta = beta, .c = c, .ldc = ldc});
    int bad = 0;
    double al = alpha != 0.0f ? alpha : 1.0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, sa = 0;
            for (int64_t p = 0; p < k; p++) {
                double x = px_bf16_round(ta ? a[p * lda + i] : a[i * lda + p]);
                double y = px_bf16_round(tb ? b[j * ldb + p] : b[p * ldb + j]);
                s += x * y, sa += fabs(x * y);
            }
            double want = al * s + (beta != 0.0f ? beta * c0[i * ldc + j] : 0.0);
            double tol = (2.1 * (k + 2) / 16777216.0) * (fabs(al) * sa + fabs(beta * (beta != 0.0f ? c0[i * ldc + j] : 0)));
            if (!(fabs(c[i * ldc + j] - want) <= tol + 1e-30)) bad++;
        }
    for (int64_t i = 0; i < m; i++) /* the padding of C is never written */
        for (int64_t j = n; j < ldc; j++)
            if (memcmp(&c[i * ldc + j], &c0[i * ldc + j], sizeof *c)) bad++;
    if (bad)
        printf("  %s%s %lldx%lldx%lld alpha %g beta %g pad %lld: %d bad\n", ta ? "T" : "N", tb ? "T" : "N",
               (long long)m, (long long)n, (long long)k, alpha, beta, (long long)pad, bad);
    free(a), free(b), free(c), free(c0);
    return bad;
}

static void test_against_rounded_reference(void) {
    static const int64_t sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {129, 20, 31}, {20, 257, 40}, {256, 300, 64}};
    for (int t = 0; t < 4; t++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            CHECK(check_case(t & 1, t & 2, sizes[s][0], sizes[s][1], sizes[s][2], 0.0f, 0.0f, 0) == 0);
    for (int t = 0; t < 4; t++) {
        /* 216 rows: op(A) padded to 256 when untransposed (two tiles of 128, or one of 256) */
        CHECK(check_case(t & 1, t & 2, 216, 100, 300, 0.0f, 0.0f, 0) == 0);
        CHECK(check_case(t & 1, t & 2, 216, 300, 100, 0.5f, 1.0f, 3) == 0);
        CHECK(check_case(t & 1, t & 2, 1000, 64, 48, 1.0f, 0.0f, 2) == 0); /* 512 + 488 padded */
        CHECK(check_case(t & 1, t & 2, 130, 9, 50, 1.0f, 1.0f, 3) == 0);
        CHECK(check_case(t & 1, t & 2, 9, 140, 50, 0.5f, -2.0f, 5) == 0);
        CHECK(check_case(t & 1, t & 2, 40, 40, 300, 2.0f, 0.0f, 1) == 0);
    }
}

/* The primitives cached per thread by shape: a shape met again (new data at new
 * addresses) after more shapes than the cache holds have pushed it out, and again
 * while it is cached, still gives the right product. */
static void test_cached_shapes(void) {
    /* at least 2^19 multiply-adds each (smaller products take the float32 path) */
    for (int round = 0; round < 2; round++)
        for (int64_t s = 1; s <= 40; s++)
            CHECK(check_case(s & 1, false, 64 + s, 64 + s % 5, 128 + 2 * s + 1, 0.0f, 0.0f, 0) == 0);
    for (int64_t s = 1; s <= 5; s++)
        CHECK(check_case(s & 1, false, 64 + s, 64 + s % 5, 128 + 2 * s + 1, 0.0f, 0.0f, 0) == 0);
    CHECK(check_case(false, false, 70, 90, 110, 0.5f, 1.0f, 2) == 0); /* a cached shape, alpha and beta now */
    CHECK(check_case(false, false, 70, 90, 110, 0.0f, 0.0f, 2) == 0);
}

/* The last, partial batch of an epoch (55,000 images in batches of 256 leave 216)
 * runs its forward and input-gradient products on the primitives of the full
 * batch's, its rows padded, instead of making primitives for one step; products
 * below 2^19 multiply-adds make none. One thread, so that one cache serves every tile. */
static void test_partial_batch_makes_nothing(void) {
#ifdef _OPENMP
    int before = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    /* full rows, partial rows, n, k; the last: 110 rows are cut as 128 are (two
     * tiles of 64 rows on this 2-core machine), not as 110 rows would be (tiles of
     * 128 x 64 there), and on any machine as the full batch's */
    static const int64_t shapes[][4] = {{256, 216, 300, 784}, {256, 216, 100, 300}, {256, 216, 300, 100},
                                        {128, 110, 128, 1600}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t n = shapes[s][2], k = shapes[s][3];
        CHECK(check_case(false, s == 2, shapes[s][0], n, k, 0.0f, 0.0f, 0) == 0);
        long made = px_dnnl_made();
        CHECK(check_case(false, s == 2, shapes[s][1], n, k, 0.0f, 0.0f, 0) == 0);
        CHECK(px_dnnl_made() == made);
    }
    long made = px_dnnl_made();
    CHECK(check_case(false, false, 216, 10, 100, 0.0f, 0.0f, 0) == 0); /* 216,000: the float32 path */
    CHECK(check_case(true, false, 100, 10, 216, 0.5f, 1.0f, 0) == 0);
    CHECK(px_dnnl_made() == made);
#ifdef _OPENMP
    omp_set_num_threads(before);
#endif
}

/* untransposed with 216 rows: two tiles of 128 rows, the second padded */
static void thread_counts_agree(bool ta, int64_t m) {
#ifdef _OPENMP
    int64_t n = 200, k = 100;
    float *a = malloc((size_t)(m * k) * sizeof *a), *b = malloc((size_t)(k * n) * sizeof *b);
    float *c[3];
    for (int64_t i = 0; i < m * k; i++) a[i] = urand();
    for (int64_t i = 0; i < k * n; i++) b[i] = urand();
    int before = omp_get_max_threads();
    for (int t = 0; t < 3; t++) {
        c[t] = malloc((size_t)(m * n) * sizeof *c[t]);
        omp_set_num_threads(t + 1);
        px_gemm_bf16(&(px_gemm_args){.trans_a = ta, .m = m, .n = n, .k = k, .a = a, .lda = ta ? m : k, .b = b,
                                     .ldb = n, .c = c[t], .ldc = n});
        CHECK(omp_get_max_threads() == t + 1); /* the call leaves the caller's thread count */
    }
    omp_set_num_threads(before);
    CHECK(memcmp(c[0], c[1], (size_t)(m * n) * sizeof(float)) == 0);
    CHECK(memcmp(c[0], c[2], (size_t)(m * n) * sizeof(float)) == 0);
    for (int t = 0; t < 3; t++) free(c[t]);
    free(a), free(b);
#else
    (void)ta, (void)m;
#endif
}

static void test_thread_counts_agree(void) {
    thread_counts_agree(true, 300);
    thread_counts_agree(false, 216);
}

int main(void) {
    RUN_TEST(test_rounding);
    const char *why = NULL;
    if (!px_bf16_supported(&why)) {
        printf("skipped: %s\n", why);
        px_test_finish();
        return PX_TEST_SKIP_CODE;
    }
    RUN_TEST(test_against_rounded_reference);
    RUN_TEST(test_cached_shapes);
    RUN_TEST(test_partial_batch_makes_nothing);
    RUN_TEST(test_thread_counts_agree);
    return px_test_finish();
}
