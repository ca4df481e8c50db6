/* Internal: device kernels of convolution (im2col + pxk_gemm, in chunks of
 * images), max and average pooling and batch normalization, written once for
 * the reference device and CUDA. Gradients that several outputs feed (the
 * input of a convolution or a pooling) are gathered by the input element over
 * the outputs in order, never scattered, so no two threads write one element
 * and the sums do not depend on timing. */
#ifndef PX_BACKEND_KERNELS_IMAGE_OPS_H
#define PX_BACKEND_KERNELS_IMAGE_OPS_H

#include "backend/kernels/conv_geom.h"
#include "backend/kernels/product_ops.h"

/* ---- convolution: x (N,H,W,C), kernel (kh,kw,C,F), optional bias (F) ---- */

static px_conv_geom pxk_conv_geom(const px_kernel *k) {
    const px_tensor *x = k->in[0], *w = k->in[1];
    px_conv_geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0], w->shape[1], w->shape[3],
                      k->iattr[0], k->iattr[1], k->iattr[3], k->iattr[4], 0, 0, 0, 0};
    px_conv_geom_finish(&g, (int)k->iattr[2]);
    return g;
}

/* The im2col matrix of a chunk is at most this many floats; a chunk holds at least one image. */
#define PXK_CONV_CHUNK_FLOATS ((int64_t)1 << 23)

static int64_t pxk_conv_chunk(const px_conv_geom *g) {
    int64_t per_image = g->oh * g->ow * g->kh * g->kw * g->c;
    int64_t n = per_image ? PXK_CONV_CHUNK_FLOATS / per_image : g->n;
    n = n < 1 ? 1 : n;
    return n < g->n ? n : g->n;
}

static size_t pxk_conv_work_bytes(const px_kernel *k) {
    px_conv_geom g = pxk_conv_geom(k);
    return (size_t)(pxk_conv_chunk(&g) * g.oh * g.ow * g.kh * g.kw * g.c) * sizeof(float);
}

/* cols[r][t] for rows r = (n, oh, ow) of images from n0, taps t = (i, j, c); padding is 0. */
PXK_KERNEL(k_im2col, (px_conv_geom g, const float *x, float *cols, int64_t n0),
           int64_t taps = g.kh * g.kw * g.c, r = i / taps, t = i % taps;
           int64_t ow = r % g.ow, oh = (r / g.ow) % g.oh, n = n0 + r / (g.ow * g.oh);
           int64_t ci = t % g.c, j = (t / g.c) % g.kw, ki = t / (g.c * g.kw);
           int64_t ih = oh * g.sh - g.pt + ki * g.dh, iw = ow * g.sw - g.pl + j * g.dw;
           cols[i] = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w ? x[((n * g.h + ih) * g.w + iw) * g.c + ci] : 0.0f;)

/* Input element (n, ih, iw, c) gathers every column entry it was copied to
 * (dcols of the images from n0), in the order of the output rows. */
PXK_KERNEL(k_col2im, (px_conv_geom g, const float *dcols, float *dx, int64_t n0),
           int64_t ci = i % g.c, iw = (i / g.c) % g.w, ih = (i / (g.c * g.w)) % g.h, n = i / (g.c * g.w * g.h);
           int64_t taps = g.kh * g.kw * g.c;
           float acc = 0;
           for (int64_t ki = 0; ki < g.kh; ki++) {
               int64_t oh = px_conv_output_of_tap(ih, g.pt, ki, g.dh, g.sh, g.oh);
               if (oh < 0) continue;
               for (int64_t j = 0; j < g.kw; j++) {
                   int64_t ow = px_conv_output_of_tap(iw, g.pl, j, g.dw, g.sw, g.ow);
                   if (ow < 0) continue;
                   int64_t row = (n * g.oh + oh) * g.ow + ow;
                   acc += dcols[row * taps + (ki * g.kw + j) * g.c + ci];
               }
           }
           dx[(n0 * g.h * g.w * g.c) + i] += acc;)

static px_status pxk_conv_forward(pxk_ctx *c, const px_kernel *k) {
    px_conv_geom g = pxk_conv_geom(k);
    const int64_t p = g.oh * g.ow, taps = g.kh * g.kw * g.c, chunk = pxk_conv_chunk(&g);
    const float *x = pxk_f(k->in[0]), *w = pxk_f(k->in[1]);
    float *y = pxk_w(k->out), *cols = (float *)k->work;
    px_status st = PX_OK;
    for (int64_t n0 = 0; n0 < g.n && st == PX_OK; n0 += chunk) {
        int64_t rows = ((g.n - n0 < chunk ? g.n - n0 : chunk)) * p;
        st = PXK_RUN(c, k_im2col, rows * taps, g, x, cols, n0);
        if (st == PX_OK) st = pxk_gemm(c, false, false, rows, g.f, taps, 1.0f, cols, taps, w, g.f, 0.0f, y + n0 * p * g.f, g.f);
    }
    if (st == PX_OK && k->n_in == 3)
        st = PXK_RUN(c, k_bias_act, g.n * p * g.f, y, pxk_f(k->in[2]), g.f, (int)PX_K_LINEAR);
    return st;
}

static px_status pxk_conv_backward(pxk_ctx *c, const px_kernel *k) {
    px_conv_geom g = pxk_conv_geom(k);
    const int64_t p = g.oh * g.ow, taps = g.kh * g.kw * g.c, chunk = pxk_conv_chunk(&g);
    const float *x = pxk_f(k->in[0]), *w = pxk_f(k->in[1]), *gy = pxk_f(k->gout);
    float *cols = (float *)k->work;
    px_status st = PX_OK;
    if (k->n_in == 3 && k->gin[2]) st = PXK_RUN(c, k_col_sums, g.f, gy, pxk_w(k->gin[2]), g.n * p, g.f, 0);
    for (int64_t n0 = 0; n0 < g.n && st == PX_OK; n0 += chunk) {
        int64_t imgs = g.n - n0 < chunk ? g.n - n0 : chunk, rows = imgs * p;
        const float *gyc = gy + n0 * p * g.f;
        if (k->gin[1]) { /* dW += cols^T dY */
            st = PXK_RUN(c, k_im2col, rows * taps, g, x, cols, n0);
            if (st == PX_OK)
                st = pxk_gemm(c, true, false, taps, g.f, rows, 1.0f, cols, taps, gyc, g.f, 1.0f, pxk_w(k->gin[1]), g.f);
        }
        if (k->gin[0] && st == PX_OK) { /* dcols = dY W^T, then gathered into dX */
            px_conv_geom gc = g;
            gc.n = imgs;
            st = pxk_gemm(c, false, true, rows, taps, g.f, 1.0f, gyc, g.f, w, g.f, 0.0f, cols, taps);
            if (st == PX_OK) st = PXK_RUN(c, k_col2im, imgs * g.h * g.w * g.c, gc, cols, pxk_w(k->gin[0]), n0);
        }
    }
    return st;
}

/* ---- pooling: iattr pool_h, pool_w, stride_h, stride_w, same ---- */

static px_conv_geom pxk_pool_geom(const px_kernel *k) {
    const px_tensor *x = k->in[0];
    px_conv_geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], k->iattr[0], k->iattr[1], x->shape[3],
                      k->iattr[2], k->iattr[3], 1, 1, 0, 0, 0, 0};
    px_conv_geom_finish(&g, (int)k->iattr[4]);
    return g;
}

/* The outputs whose windows hold input row ih (or column): [lo, hi], maybe empty. */
PXK_FN void pxk_outputs_of(int64_t in, int64_t pad, int64_t k, int64_t s, int64_t out, int64_t *lo, int64_t *hi) {
    int64_t a = in + pad - k + 1;
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t b = (in + pad) / s;
    *hi = b < out - 1 ? b : out - 1;
}

/* Output o = (n, oh, ow, q): the first maximum (a NaN propagates); the argmax is
 * the offset (i w + j) c + q inside the image, as ops/pool.c keeps it. */
PXK_KERNEL(k_maxpool_fwd, (px_conv_geom g, const float *x, float *y, int32_t *arg),
           int64_t q = i % g.c, ow = (i / g.c) % g.ow, oh = (i / (g.c * g.ow)) % g.oh, n = i / (g.c * g.ow * g.oh);
           const float *xn = x + n * g.h * g.w * g.c;
           int64_t i0, i1, j0, j1;
           pxk_window(&g, oh, ow, &i0, &i1, &j0, &j1);
           int64_t best = (i0 * g.w + j0) * g.c + q;
           float v = xn[best];
           for (int64_t a = i0; a < i1; a++)
               for (int64_t b = j0; b < j1; b++) {
                   int64_t p = (a * g.w + b) * g.c + q;
                   float u = xn[p];
                   if (u > v || (u != u && v == v)) {
                       v = u;
                       best = p;
                   }
               }
           y[i] = v;
           arg[i] = (int32_t)best;)
PXK_KERNEL(k_maxpool_bwd, (px_conv_geom g, const float *gy, const int32_t *arg, float *gx),
           int64_t q = i % g.c, iw = (i / g.c) % g.w, ih = (i / (g.c * g.w)) % g.h, n = i / (g.c * g.w * g.h);
           int64_t off = (ih * g.w + iw) * g.c + q, h0, h1, w0, w1;
           pxk_outputs_of(ih, g.pt, g.kh, g.sh, g.oh, &h0, &h1);
           pxk_outputs_of(iw, g.pl, g.kw, g.sw, g.ow, &w0, &w1);
           float acc = 0;
           for (int64_t oh = h0; oh <= h1; oh++)
               for (int64_t ow = w0; ow <= w1; ow++) {
                   int64_t o = ((n * g.oh + oh) * g.ow + ow) * g.c + q;
                   if (arg[o] == off) acc += gy[o];
               }
           gx[i] += acc;)
PXK_KERNEL(k_avgpool_fwd, (px_conv_geom g, const float *x, float *y),
           int64_t q = i % g.c, ow = (i / g.c) % g.ow, oh = (i / (g.c * g.ow)) % g.oh, n = i / (g.c * g.ow * g.oh);
           const float *xn = x + n * g.h * g.w * g.c;
           int64_t i0, i1, j0, j1;
           pxk_window(&g, oh, ow, &i0, &i1, &j0, &j1);
           float s = 0;
           for (int64_t a = i0; a < i1; a++)
               for (int64_t b = j0; b < j1; b++) s += xn[(a * g.w + b) * g.c + q];
           y[i] = s * (1.0f / (float)((i1 - i0) * (j1 - j0)));)
PXK_KERNEL(k_avgpool_bwd, (px_conv_geom g, const float *gy, float *gx),
           int64_t q = i % g.c, iw = (i / g.c) % g.w, ih = (i / (g.c * g.w)) % g.h, n = i / (g.c * g.w * g.h);
           int64_t h0, h1, w0, w1;
           pxk_outputs_of(ih, g.pt, g.kh, g.sh, g.oh, &h0, &h1);
           pxk_outputs_of(iw, g.pl, g.kw, g.sw, g.ow, &w0, &w1);
           float acc = 0;
           for (int64_t oh = h0; oh <= h1; oh++)
               for (int64_t ow = w0; ow <= w1; ow++) {
                   int64_t i0, i1, j0, j1;
                   pxk_window(&g, oh, ow, &i0, &i1, &j0, &j1);
                   acc += gy[((n * g.oh + oh) * g.ow + ow) * g.c + q] * (1.0f / (float)((i1 - i0) * (j1 - j0)));
               }
           gx[i] += acc;)

static px_status pxk_pool_forward(pxk_ctx *c, const px_kernel *k) {
    px_conv_geom g = pxk_pool_geom(k);
    int64_t n = pxk_numel(k->out);
    if (k->code == PX_K_MAX_POOL)
        return PXK_RUN(c, k_maxpool_fwd, n, g, pxk_f(k->in[0]), pxk_w(k->out), (int32_t *)k->state);
    return PXK_RUN(c, k_avgpool_fwd, n, g, pxk_f(k->in[0]), pxk_w(k->out));
}
static px_status pxk_pool_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    px_conv_geom g = pxk_pool_geom(k);
    int64_t n = pxk_numel(k->in[0]);
    if (k->code == PX_K_MAX_POOL)
        return PXK_RUN(c, k_maxpool_bwd, n, g, pxk_f(k->gout), (const int32_t *)k->state, pxk_w(k->gin[0]));
    return PXK_RUN(c, k_avgpool_bwd, n, g, pxk_f(k->gout), pxk_w(k->gin[0]));
}

/* ---- batch normalization over the last axis (state layout of ops/batchnorm.c) ---- */

/* Channel j: batch statistics in two passes in double and the moving-average
 * update (training), or the moving statistics (inference). */
PXK_KERNEL(k_bn_stats, (pxk_bn v, const float *x, float *mm, float *mv, float momentum, float eps, int use_batch),
           if (use_batch) {
               double s = 0, q = 0;
               for (int64_t r = 0; r < v.rows; r++) s += x[r * v.c + i];
               s /= (double)v.rows;
               for (int64_t r = 0; r < v.rows; r++) {
                   double d = x[r * v.c + i] - s;
                   q += d * d;
               }
               double var = q / (double)v.rows; /* biased, as Keras uses for both */
               v.s1[i] = s;
               v.s2[i] = q;
               v.mean[i] = (float)s;
               v.inv_std[i] = (float)(1.0 / sqrt(var + (double)eps));
               mm[i] = (float)(mm[i] * (double)momentum + s * (1.0 - momentum));
               mv[i] = (float)(mv[i] * (double)momentum + var * (1.0 - momentum));
           } else {
               v.mean[i] = mm[i];
               v.inv_std[i] = (float)(1.0 / sqrt((double)mv[i] + (double)eps));
           })
PXK_KERNEL(k_bn_apply, (pxk_bn v, const float *x, const float *gamma, const float *beta, float *y),
           int64_t j = i % v.c;
           float h = (x[i] - v.mean[j]) * v.inv_std[j];
           y[i] = (gamma ? h * gamma[j] : h) + (beta ? beta[j] : 0.0f);)
/* Channel j: s1 = sum(g), s2 = sum(g xhat); the parameter gradients follow. */
PXK_KERNEL(k_bn_grad_sums, (pxk_bn v, const float *x, const float *g, const float *gamma, float *gbeta, float *ggamma,
                            float *gmm, float *gmv),
           double s = 0, q = 0;
           for (int64_t r = 0; r < v.rows; r++) {
               double gg = g[r * v.c + i];
               s += gg;
               q += gg * ((x[r * v.c + i] - v.mean[i]) * v.inv_std[i]);
           }
           v.s1[i] = s;
           v.s2[i] = q;
           if (gbeta) gbeta[i] += (float)s;
           if (ggamma) ggamma[i] += (float)q;
           if (!*v.used_batch) {
               double kk = gamma ? gamma[i] : 1.0, is = v.inv_std[i];
               if (gmm) gmm[i] += (float)(-kk * is * s);
               if (gmv) gmv[i] += (float)(-0.5 * kk * is * is * q);
           })
PXK_KERNEL(k_bn_dx, (pxk_bn v, const float *x, const float *g, const float *gamma, float *dx),
           int64_t j = i % v.c;
           if (*v.used_batch) {
               double inv_n = 1.0 / (double)v.rows;
               double xh = (x[i] - v.mean[j]) * (double)v.inv_std[j];
               double kk = (gamma ? gamma[j] : 1.0) * v.inv_std[j];
               dx[i] += (float)(kk * (g[i] - v.s1[j] * inv_n - xh * v.s2[j] * inv_n));
           } else {
               dx[i] += g[i] * (gamma ? gamma[j] : 1.0f) * v.inv_std[j];
           })

static px_status pxk_bn_forward(pxk_ctx *c, const px_kernel *k) {
    bool has_g = k->iattr[0], has_b = k->iattr[1];
    pxk_bn v = pxk_bn_split(k->in[0], k->state);
    int use_batch = k->training && v.rows > 0;
    px_status st = PXK_RUN(c, k_set_u32, 1, v.used_batch, (uint32_t)use_batch);
    if (st == PX_OK)
        st = PXK_RUN(c, k_bn_stats, v.c, v, pxk_f(k->in[0]), pxk_w(k->in[1]), pxk_w(k->in[2]), k->fattr[0],
                     k->fattr[1], use_batch);
    if (st == PX_OK)
        st = PXK_RUN(c, k_bn_apply, v.rows * v.c, v, pxk_f(k->in[0]), has_g ? pxk_f(k->in[3]) : (const float *)NULL,
                     has_b ? pxk_f(k->in[3 + has_g]) : (const float *)NULL, pxk_w(k->out));
    return st;
}
static px_status pxk_bn_backward(pxk_ctx *c, const px_kernel *k) {
    bool has_g = k->iattr[0], has_b = k->iattr[1];
    pxk_bn v = pxk_bn_split(k->in[0], k->state);
    const float *gamma = has_g ? pxk_f(k->in[3]) : (const float *)NULL;
    float *ggamma = has_g && k->gin[3] ? pxk_w(k->gin[3]) : (float *)NULL;
    float *gbeta = has_b && k->gin[3 + has_g] ? pxk_w(k->gin[3 + has_g]) : (float *)NULL;
    px_status st = PXK_RUN(c, k_bn_grad_sums, v.c, v, pxk_f(k->in[0]), pxk_f(k->gout), gamma, gbeta, ggamma,
                           k->gin[1] ? pxk_w(k->gin[1]) : (float *)NULL, k->gin[2] ? pxk_w(k->gin[2]) : (float *)NULL);
    if (st == PX_OK && k->gin[0])
        st = PXK_RUN(c, k_bn_dx, v.rows * v.c, v, pxk_f(k->in[0]), pxk_f(k->gout), gamma, pxk_w(k->gin[0]));
    return st;
}

#endif
