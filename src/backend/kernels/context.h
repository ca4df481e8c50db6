/* Internal: what the device op kernels (the *_ops.h files here) need from
 * the backend that includes them: an error check after each launch, a matrix
 * product and an error report. The reference device (src/backend/ref/) and the
 * CUDA module (src/backend/cuda/) define pxk_ctx and these functions. */
#ifndef PX_BACKEND_KERNELS_CONTEXT_H
#define PX_BACKEND_KERNELS_CONTEXT_H

#include "backend/backend.h"
#include "backend/kernels/portable.h"

/* Every backend that includes the kernels defines this context and the
 * functions below (the reference device in src/backend/ref/, CUDA in
 * src/backend/cuda/). */
typedef struct pxk_ctx pxk_ctx;
/* PX_OK, or the error of the last launch named `what`. */
static px_status pxk_launched(pxk_ctx *c, const char *what);
/* Row-major C = alpha op(A) op(B) + beta C, op(A) m x k, op(B) k x n; lda, ldb,
 * ldc are the row lengths of A, B and C as stored. beta 0 ignores C's contents. */
static px_status pxk_gemm(pxk_ctx *c, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                          const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *cm,
                          int64_t ldc);
/* Records an error and returns its status (a px_set_error in the library or
 * the host's error function in the CUDA module). */
static px_status pxk_fail(pxk_ctx *c, px_status s, const char *what);

#endif
