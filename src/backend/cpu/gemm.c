/* The matrix-product dispatcher: per shape, Plexus's builtin kernel where a
 * BLAS call costs more than it computes, the loaded BLAS otherwise. */
#include <limits.h>

#include "backend/cpu/blas.h"
#include "backend/cpu/gemm.h"

/* Products with fewer multiply-adds than this run on the builtin kernel: below
 * it the BLAS's fixed cost per call (argument checks, buffer set-up, thread
 * hand-off) outweighs its faster inner loop (measured with bench/bench_gemm;
 * see docs/performance.md). */
#ifndef PX_GEMM_BLAS_MIN
#define PX_GEMM_BLAS_MIN 513
#endif

static bool fits_int(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
    return m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
           ldc <= INT_MAX;
}

void px_gemm_blas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    px_sgemm_fn f = px_blas_sgemm();
    /* k == 0 would trip the BLAS's lda checks; the builtin kernel just scales C */
    if (!f || m <= 0 || n <= 0 || k <= 0 || !fits_int(m, n, k, lda, ldb, ldc)) {
        px_gemm_builtin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    f(PX_CBLAS_ROW_MAJOR, ta ? PX_CBLAS_TRANS : PX_CBLAS_NO_TRANS,
      tb ? PX_CBLAS_TRANS : PX_CBLAS_NO_TRANS, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
      (int)ldb, beta, c, (int)ldc);
}

void px_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
             int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    if ((double)m * (double)n * (double)k < PX_GEMM_BLAS_MIN)
        px_gemm_builtin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        px_gemm_blas(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
