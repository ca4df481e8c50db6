/* Internal: device kernels of the matrix products (matmul with transposes and
 * batch axes, the fused Dense op), written once for the reference device and
 * CUDA: the products go to the backend's pxk_gemm (naive loops on the
 * reference device, cuBLAS on CUDA), the rest are portable kernels. */
#ifndef PX_BACKEND_KERNELS_PRODUCT_OPS_H
#define PX_BACKEND_KERNELS_PRODUCT_OPS_H

#include "backend/kernels/elementwise_ops.h"

static px_status pxk_matmul_forward(pxk_ctx *c, const px_kernel *k) {
    pxk_mm d;
    bool ta = k->iattr[0], tb = k->iattr[1];
    pxk_mm_dims(ta, tb, k->in[0], k->in[1], &d);
    const float *a = pxk_f(k->in[0]), *b = pxk_f(k->in[1]);
    float *y = pxk_w(k->out);
    px_status st = PX_OK;
    for (int64_t i = 0; i < d.batch && st == PX_OK; i++)
        st = pxk_gemm(c, ta, tb, d.m, d.n, d.k, 1.0f, a + i * d.a_stride, d.lda, b + i * d.b_stride, d.ldb, 0.0f,
                      y + i * d.m * d.n, d.n);
    return st;
}

static px_status pxk_matmul_backward(pxk_ctx *c, const px_kernel *k) {
    pxk_mm d;
    bool ta = k->iattr[0], tb = k->iattr[1];
    pxk_mm_dims(ta, tb, k->in[0], k->in[1], &d);
    const float *a = pxk_f(k->in[0]), *b = pxk_f(k->in[1]), *g = pxk_f(k->gout);
    bool fresh_a = pxk_fresh(k, 0), fresh_b = pxk_fresh(k, 1);
    px_status st = PX_OK;
    for (int64_t i = 0; i < d.batch && st == PX_OK; i++) {
        const float *ai = a + i * d.a_stride, *bi = b + i * d.b_stride, *gi = g + i * d.m * d.n;
        if (k->gin[0]) { /* a fresh gradient is stored by its first product, then accumulated */
            float *ga = pxk_w(k->gin[0]) + i * d.a_stride;
            float beta = fresh_a && (i == 0 || d.a_stride) ? 0.0f : 1.0f;
            st = !ta ? pxk_gemm(c, false, !tb, d.m, d.k, d.n, 1.0f, gi, d.n, bi, d.ldb, beta, ga, d.lda)
                     : pxk_gemm(c, tb, true, d.k, d.m, d.n, 1.0f, bi, d.ldb, gi, d.n, beta, ga, d.lda);
        }
        if (k->gin[1] && st == PX_OK) {
            float *gb = pxk_w(k->gin[1]) + i * d.b_stride;
            float beta = fresh_b && (i == 0 || d.b_stride) ? 0.0f : 1.0f;
            st = !tb ? pxk_gemm(c, !ta, false, d.k, d.n, d.m, 1.0f, ai, d.lda, gi, d.n, beta, gb, d.ldb)
                     : pxk_gemm(c, true, ta, d.n, d.k, d.m, 1.0f, gi, d.n, ai, d.lda, beta, gb, d.ldb);
        }
    }
    return st;
}

/* ---- Dense: act(x W + b); dZ = g act'(y) kept in the state ---- */

PXK_FN int pxk_dense_code(int act) {
    return act == PX_DENSE_RELU ? PX_K_RELU : act == PX_DENSE_SIGMOID ? PX_K_SIGMOID : act == PX_DENSE_TANH ? PX_K_TANH
                                                                                                         : PX_K_LINEAR;
}
/* y = act(y + b) in place, b repeated along the rows (b may be NULL) */
PXK_KERNEL(k_bias_act, (float *y, const float *b, int64_t n, int code),
           y[i] = pxk_unary_fwd(code, b ? y[i] + b[i % n] : y[i], 0.0f, 0.0f);)
PXK_KERNEL(k_dense_dz, (const float *g, const float *y, float *dz, int code),
           dz[i] = pxk_unary_bwd(code, 0.0f, y[i], g[i], 0.0f, 0.0f);)
/* column sums of an m x n matrix, rows added in order (as the CPU does) */
PXK_KERNEL(k_col_sums, (const float *x, float *s, int64_t m, int64_t n, int fresh),
           float acc = fresh ? 0.0f : s[i];
           for (int64_t r = 0; r < m; r++) acc += x[r * n + i];
           s[i] = acc;)

static void pxk_dense_dims(const px_kernel *k, int64_t *m, int64_t *n, int64_t *kk) {
    const px_tensor *w = k->in[1];
    *kk = w->shape[0];
    *n = w->shape[1];
    *m = *kk ? pxk_numel(k->in[0]) / *kk : pxk_numel(k->out) / (*n ? *n : 1);
}

static px_status pxk_dense_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t m, n, kk;
    pxk_dense_dims(k, &m, &n, &kk);
    const float *b = k->n_in == 3 ? pxk_f(k->in[2]) : (const float *)NULL;
    int act = (int)k->iattr[0];
    px_status st = pxk_gemm(c, false, false, m, n, kk, 1.0f, pxk_f(k->in[0]), kk, pxk_f(k->in[1]), n, 0.0f,
                            pxk_w(k->out), n);
    if (st != PX_OK || (!b && act == PX_DENSE_LINEAR)) return st;
    return PXK_RUN(c, k_bias_act, m * n, pxk_w(k->out), b, n, pxk_dense_code(act));
}

static px_status pxk_dense_backward(pxk_ctx *c, const px_kernel *k) {
    int64_t m, n, kk;
    pxk_dense_dims(k, &m, &n, &kk);
    int act = (int)k->iattr[0];
    const float *dz = pxk_f(k->gout);
    px_status st = PX_OK;
    if (act != PX_DENSE_LINEAR) {
        st = PXK_RUN(c, k_dense_dz, m * n, pxk_f(k->gout), pxk_f(k->out), (float *)k->state, pxk_dense_code(act));
        dz = (const float *)k->state;
    }
    if (st == PX_OK && k->n_in == 3 && k->gin[2])
        st = PXK_RUN(c, k_col_sums, n, dz, pxk_w(k->gin[2]), m, n, (int)pxk_fresh(k, 2));
    if (st == PX_OK && k->gin[0]) /* dX = dZ W^T */
        st = pxk_gemm(c, false, true, m, kk, n, 1.0f, dz, n, pxk_f(k->in[1]), n, pxk_fresh(k, 0) ? 0.0f : 1.0f,
                      pxk_w(k->gin[0]), kk);
    if (st == PX_OK && k->gin[1]) /* dW = X^T dZ */
        st = pxk_gemm(c, true, false, kk, n, m, 1.0f, pxk_f(k->in[0]), kk, dz, n, pxk_fresh(k, 1) ? 0.0f : 1.0f,
                      pxk_w(k->gin[1]), n);
    return st;
}

#endif
