/* The reference device's kernels: the portable device kernels of
 * src/backend/kernels/ compiled as plain C loops (the CUDA module compiles the
 * same source for the GPU), with a straightforward matrix product accumulated
 * in double as the stand-in for cuBLAS. */
#include "backend/kernels/dispatch.h"
#include "backend/ref/ref.h"

struct pxk_ctx {
    int unused;
};

static px_status pxk_launched(pxk_ctx *c, const char *what) {
    (void)c, (void)what;
    return PX_OK;
}

static px_status pxk_fail(pxk_ctx *c, px_status s, const char *what) {
    (void)c;
    return px_set_error(s, "ref device: no kernel for op '%s'", what);
}

static px_status pxk_gemm(pxk_ctx *c, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                          const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *cm,
                          int64_t ldc) {
    (void)c;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++)
                acc += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            float *o = &cm[i * ldc + j];
            *o = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * *o));
        }
    return PX_OK;
}

bool px_ref_kernel_supports(const px_kernel *k) { return pxk_supports(k); }
size_t px_ref_kernel_work_bytes(const px_kernel *k, bool backward) { return pxk_work_bytes(k, backward); }
size_t px_ref_kernel_state_bytes(const px_kernel *k, size_t cpu_bytes) { return pxk_state_bytes(k, cpu_bytes); }

px_status px_ref_kernel_forward(const px_kernel *k) {
    pxk_ctx c = {0};
    return pxk_forward(&c, k);
}
px_status px_ref_kernel_backward(const px_kernel *k) {
    pxk_ctx c = {0};
    return pxk_backward(&c, k);
}
px_status px_ref_kernel_optimizer(const px_optim_kernel *k) {
    pxk_ctx c = {0};
    return pxk_optimizer_step(&c, k);
}
px_status px_ref_kernel_accumulate(float *dst, const float *src, int64_t n) {
    pxk_ctx c = {0};
    return PXK_RUN(&c, k_axpy, n, src, dst, 1.0f, 0);
}
