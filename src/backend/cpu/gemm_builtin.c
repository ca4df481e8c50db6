/* Plexus's own matrix-product kernel (provisional simple version; see docs/performance.md). */
#include <string.h>

#include "backend/cpu/gemm.h"

void px_gemm_builtin(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0) memset(ci, 0, (size_t)n * sizeof *ci);
        else if (beta != 1)
            for (int64_t j = 0; j < n; j++) ci[j] *= beta;
        for (int64_t p = 0; p < k; p++) {
            float aip = alpha * (ta ? a[p * lda + i] : a[i * lda + p]);
            if (!tb) {
                const float *bp = b + p * ldb;
                for (int64_t j = 0; j < n; j++) ci[j] += aip * bp[j];
            } else {
                for (int64_t j = 0; j < n; j++) ci[j] += aip * b[j * ldb + p];
            }
        }
    }
}

void px_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
             int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    px_gemm_builtin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void px_gemm_blas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    px_gemm_builtin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
