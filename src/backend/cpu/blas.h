/* Internal: the BLAS loaded at run time (src/backend/cpu/blas.c) and the
 * builtin kernel's instruction-set variant, for the gemm dispatcher. */
#ifndef PX_BACKEND_CPU_BLAS_H
#define PX_BACKEND_CPU_BLAS_H

/* cblas_sgemm's signature; CBLAS's enums are passed as int (same ABI). */
typedef void (*px_sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                            const float *a, int lda, const float *b, int ldb, float beta, float *c,
                            int ldc);

enum { PX_CBLAS_ROW_MAJOR = 101, PX_CBLAS_NO_TRANS = 111, PX_CBLAS_TRANS = 112 };

/* cblas_sgemm of the configured BLAS, loading it on first use; NULL when the
 * build has none or it failed to load (a warning was printed once). */
px_sgemm_fn px_blas_sgemm(void);

/* Name of the instruction set the builtin kernel uses here ("avx512", "avx2", "generic"). */
const char *px_gemm_builtin_isa(void);

#endif
