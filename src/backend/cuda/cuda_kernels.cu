/* The CUDA backend's op kernels: the portable kernels of src/backend/kernels/
 * compiled for the GPU (the reference device runs the same source in the
 * ordinary test suite), matrix products through cuBLAS, and convolution,
 * average pooling, batch normalization and the fused recurrent op through
 * cuDNN where it fits (cuda_dnn*.cu). Every launch is checked. */
#include "backend/cuda/cuda_internal.h"

struct pxk_ctx {
    px_cuda *c;
};

static cudaStream_t pxk_stream(pxk_ctx *x) { return x->c->stream; }

/* Launch errors (bad configuration, a kernel image missing for this GPU)
 * surface here; errors during execution surface at the next synchronizing call. */
static px_status pxk_launched(pxk_ctx *x, const char *what) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return PX_OK;
    return px_cuda_fail(x->c, PX_ERR_STATE, what, cudaGetErrorString(e), __FILE__, __LINE__);
}

static px_status pxk_fail(pxk_ctx *x, px_status s, const char *what) {
    return px_cuda_host->set_error(s, "cuda:%d: no kernel for op '%s'", x->c->device, what);
}

#include "backend/kernels/dispatch.h"

/* Row-major C = alpha op(A) op(B) + beta C as cuBLAS's column-major
 * C^T = alpha op(B)^T op(A)^T + beta C^T: the same memory, operands swapped. */
static px_status pxk_gemm(pxk_ctx *x, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                          const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *cm,
                          int64_t ldc) {
    px_cuda *c = x->c;
    if (m == 0 || n == 0) return PX_OK;
    if (k == 0) { /* nothing to multiply: C = beta C (beta is 0 or 1 in Plexus) */
        if (beta != 0.0f) return PX_OK;
        PX_CUDA_CHECK(c, cudaMemset2DAsync(cm, (size_t)ldc * sizeof(float), 0, (size_t)n * sizeof(float), (size_t)m,
                                           c->stream));
        return PX_OK;
    }
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX || ldc > INT32_MAX)
        return px_cuda_host->set_error(PX_ERR_UNSUPPORTED, "cuda:%d: a %lld x %lld x %lld product is too large for cuBLAS",
                                       c->device, (long long)m, (long long)n, (long long)k);
    PX_CUBLAS_CHECK(c, cublasSgemm(c->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)n,
                                   (int)m, (int)k, &alpha, b, (int)ldb, a, (int)lda, &beta, cm, (int)ldc));
    return PX_OK;
}

bool px_cuda_supports(px_cuda *c, const px_kernel *k, bool backward) {
    (void)c, (void)backward;
    return pxk_supports(k);
}

/* cuDNN's batch normalization may run either pass (in training, and the
 * backward one only after a cuDNN forward pass: decided at run time, while
 * this is asked when the session plans), so its scratch is asked for always. */
size_t px_cuda_work_bytes(px_cuda *c, const px_kernel *k, bool backward) {
    if (k->code == PX_K_CONV2D && px_cuda_dnn_conv_fits(c, k)) return px_cuda_dnn_conv_work(c, k, backward);
    if (k->code == PX_K_RNN && px_cuda_dnn_rnn_fits(c, k)) return px_cuda_dnn_rnn_work(c, k, backward);
    size_t w = pxk_work_bytes(k, backward);
    if (k->code == PX_K_BATCH_NORM && px_cuda_dnn_bn_work(k) > w)
        w = px_cuda_dnn_bn_work(k);
    return w;
}

size_t px_cuda_state_bytes(px_cuda *c, const px_kernel *k, size_t cpu_bytes) {
    if (k->code == PX_K_RNN && px_cuda_dnn_rnn_fits(c, k)) return px_cuda_dnn_rnn_state(c, k);
    return pxk_state_bytes(k, cpu_bytes);
}

px_status px_cuda_forward(px_cuda *c, const px_kernel *k) {
    pxk_ctx x = {c};
    if (k->code == PX_K_CONV2D && px_cuda_dnn_conv_fits(c, k)) return px_cuda_dnn_conv_forward(c, k);
    if (k->code == PX_K_AVG_POOL && px_cuda_dnn_pool_fits(c, k)) return px_cuda_dnn_pool_forward(c, k);
    if (k->code == PX_K_RNN && px_cuda_dnn_rnn_fits(c, k)) return px_cuda_dnn_rnn_forward(c, k);
    if (k->code == PX_K_BATCH_NORM) {
        if (px_cuda_dnn_bn_fits(c, k, false)) return px_cuda_dnn_bn_forward(c, k);
        px_cuda_dnn_bn_forget(k->state);
    }
    return pxk_forward(&x, k);
}

px_status px_cuda_backward(px_cuda *c, const px_kernel *k) {
    pxk_ctx x = {c};
    if (k->code == PX_K_CONV2D && px_cuda_dnn_conv_fits(c, k)) return px_cuda_dnn_conv_backward(c, k);
    if (k->code == PX_K_AVG_POOL && px_cuda_dnn_pool_fits(c, k)) return px_cuda_dnn_pool_backward(c, k);
    if (k->code == PX_K_RNN && px_cuda_dnn_rnn_fits(c, k)) return px_cuda_dnn_rnn_backward(c, k);
    if (k->code == PX_K_BATCH_NORM && px_cuda_dnn_bn_fits(c, k, true)) return px_cuda_dnn_bn_backward(c, k);
    return pxk_backward(&x, k);
}

px_status px_cuda_optimizer(px_cuda *c, const px_optim_kernel *k) {
    pxk_ctx x = {c};
    return pxk_optimizer_step(&x, k);
}

px_status px_cuda_accumulate(px_cuda *c, float *dst, const float *src, int64_t n) {
    pxk_ctx x = {c};
    return PXK_RUN(&x, k_axpy, n, src, dst, 1.0f, 0);
}

/* For cuda_dnn.cu: the geometry the portable kernels use, a matrix transpose,
 * and the bias of a convolution and its gradient. */
px_conv_geom px_cuda_conv_geom(const px_kernel *k);
px_conv_geom px_cuda_conv_geom(const px_kernel *k) { return pxk_conv_geom(k); }
px_status px_cuda_transpose2d(px_cuda *c, const float *src, float *dst, int64_t rows, int64_t cols, bool add);
px_status px_cuda_transpose2d(px_cuda *c, const float *src, float *dst, int64_t rows, int64_t cols, bool add) {
    pxk_ctx x = {c};
    return PXK_RUN(&x, k_transpose2d, rows * cols, src, dst, rows, cols, (int)add);
}

/* For cuda_dnn_rnn.cu: a (rows, cols) block copied (or added) between two
 * strided layouts, element (r, q) at r * rs + q * cs; and int32 fills. */
PXK_KERNEL(k_copy_block, (const float *src, int64_t srs, int64_t scs, float *dst, int64_t drs, int64_t dcs,
                          int64_t cols, int add),
           int64_t r = i / cols, q = i % cols;
           float v = src[r * srs + q * scs];
           float *o = &dst[r * drs + q * dcs];
           *o = add ? *o + v : v;)
PXK_KERNEL(k_fill_i32, (int32_t *p, int32_t v), p[i] = v;)
px_status px_cuda_copy_block(px_cuda *c, const float *src, int64_t srs, int64_t scs, float *dst, int64_t drs,
                             int64_t dcs, int64_t rows, int64_t cols, bool add) {
    pxk_ctx x = {c};
    return PXK_RUN(&x, k_copy_block, rows * cols, src, srs, scs, dst, drs, dcs, cols, (int)add);
}
px_status px_cuda_fill_i32(px_cuda *c, int32_t *p, int64_t n, int32_t v) {
    pxk_ctx x = {c};
    return PXK_RUN(&x, k_fill_i32, n, p, v);
}

/* For cuda_dnn_pool_bn.cu. */
PXK_KERNEL(k_fill, (float *p, float v), p[i] = v;)
PXK_KERNEL(k_bn_moving, (float *mm, float *mv, const float *mean, const float *var, float momentum, double bessel),
           mm[i] = (float)(mm[i] * (double)momentum + (double)mean[i] * (1.0 - momentum));
           mv[i] = (float)(mv[i] * (double)momentum + (double)var[i] * bessel * (1.0 - momentum));)
px_status px_cuda_fill(px_cuda *c, float *p, int64_t n, float v) {
    pxk_ctx x = {c};
    return PXK_RUN(&x, k_fill, n, p, v);
}
px_status px_cuda_set_u32(px_cuda *c, uint32_t *p, uint32_t v) {
    pxk_ctx x = {c};
    return PXK_RUN(&x, k_set_u32, 1, p, v);
}
px_status px_cuda_bn_moving_update(px_cuda *c, float *mm, float *mv, const float *mean, const float *var_unbiased,
                                   int64_t ch, float momentum, int64_t rows) {
    pxk_ctx x = {c};
    return PXK_RUN(&x, k_bn_moving, ch, mm, mv, mean, var_unbiased, momentum, (double)(rows - 1) / (double)rows);
}

/* The bias of a convolution run by cuDNN, and its gradient, with the portable kernels. */
px_status px_cuda_bias_add(px_cuda *c, float *y, const float *b, int64_t rows, int64_t f) {
    pxk_ctx x = {c};
    return PXK_RUN(&x, k_bias_act, rows * f, y, b, f, (int)PX_K_LINEAR);
}
px_status px_cuda_bias_grad(px_cuda *c, const float *gy, float *gb, int64_t rows, int64_t f) {
    pxk_ctx x = {c};
    return PXK_RUN(&x, k_col_sums, f, gy, gb, rows, f, 0);
}
