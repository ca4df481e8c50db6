/* Internal: the matrix product every op and layer goes through. Row-major
 * C = alpha * op(A) @ op(B) + beta * C, with op = transpose when requested.
 * Dispatches to the configured BLAS or to Plexus's own kernel for shapes where
 * a BLAS call costs more than it computes. */
#ifndef PX_BACKEND_CPU_GEMM_H
#define PX_BACKEND_CPU_GEMM_H

#include <stdbool.h>
#include <stdint.h>

/* M x N result, K inner; lda/ldb/ldc are row strides of the stored matrices. */
void px_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
             int64_t ldc);

/* Plexus's own kernel, always available (used for small shapes and without BLAS). */
void px_gemm_builtin(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc);

/* The BLAS called directly (for benchmarks); falls back to the builtin kernel
 * when the build has no BLAS. */
void px_gemm_blas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc);

#endif
