/* Internal: device kernels of the other image ops: transposed convolution
 * (im2col, col2im and pxk_gemm, as image_ops.h's convolution run the other
 * way), depthwise convolution (direct loops: a product per channel would have
 * only M columns) and bilinear resizing, written once for the reference
 * device and CUDA. As in image_ops.h, a gradient that several outputs feed is
 * gathered by the element it belongs to, in a fixed order, never scattered. */
#ifndef PX_BACKEND_KERNELS_SPATIAL_OPS_H
#define PX_BACKEND_KERNELS_SPATIAL_OPS_H

#include "backend/kernels/image_ops.h"

/* y[i] = b[i % n], or 0 without b */
PXK_KERNEL(k_fill_rows, (float *y, const float *b, int64_t n), y[i] = b ? b[i % n] : 0.0f;)

/* ---- transposed convolution: the geometry of the convolution from the
 * output (OH, OW, F) back to the input (H, W, C), as ops/conv_transpose.c:
 * g.h, g.w = OH, OW, g.c = F, g.f = C, and g.oh, g.ow come out as H, W ---- */

static px_conv_geom pxk_ct_geom(const px_kernel *k) {
    const px_tensor *x = k->in[0], *w = k->in[1];
    px_conv_geom g = {x->shape[0], k->iattr[3], k->iattr[4], w->shape[2], w->shape[0], w->shape[1], w->shape[3],
                      k->iattr[0], k->iattr[1], k->iattr[5], k->iattr[6], 0, 0, 0, 0};
    px_conv_geom_finish(&g, (int)k->iattr[2]);
    return g;
}

static size_t pxk_ct_work_bytes(const px_kernel *k) {
    px_conv_geom g = pxk_ct_geom(k);
    return (size_t)(pxk_conv_chunk(&g) * g.oh * g.ow * g.kh * g.kw * g.c) * sizeof(float);
}

/* y = bias, then per chunk of images: cols = x kernel^T (kernel as (kh*kw*F, C)), gathered into y */
static px_status pxk_ct_forward(pxk_ctx *c, const px_kernel *k) {
    px_conv_geom g = pxk_ct_geom(k);
    const int64_t p = g.oh * g.ow, taps = g.kh * g.kw * g.c, chunk = pxk_conv_chunk(&g);
    const float *x = pxk_f(k->in[0]), *w = pxk_f(k->in[1]);
    float *y = pxk_w(k->out), *cols = (float *)k->work;
    px_status st = PXK_RUN(c, k_fill_rows, g.n * g.h * g.w * g.c, y,
                           k->n_in == 3 ? pxk_f(k->in[2]) : (const float *)NULL, g.c);
    for (int64_t n0 = 0; n0 < g.n && st == PX_OK; n0 += chunk) {
        px_conv_geom gc = g;
        gc.n = g.n - n0 < chunk ? g.n - n0 : chunk;
        st = pxk_gemm(c, false, true, gc.n * p, taps, g.f, 1.0f, x + n0 * p * g.f, g.f, w, g.f, 0.0f, cols, taps);
        if (st == PX_OK) st = PXK_RUN(c, k_col2im, gc.n * g.h * g.w * g.c, gc, cols, y, n0);
    }
    return st;
}

/* dbias = column sums of dY; per chunk: cols = im2col(dY), dX += cols kernel, dkernel += cols^T X */
static px_status pxk_ct_backward(pxk_ctx *c, const px_kernel *k) {
    px_conv_geom g = pxk_ct_geom(k);
    const int64_t p = g.oh * g.ow, taps = g.kh * g.kw * g.c, chunk = pxk_conv_chunk(&g);
    const float *x = pxk_f(k->in[0]), *w = pxk_f(k->in[1]), *gy = pxk_f(k->gout);
    float *cols = (float *)k->work;
    px_status st = PX_OK;
    if (k->n_in == 3 && k->gin[2]) st = PXK_RUN(c, k_col_sums, g.c, gy, pxk_w(k->gin[2]), g.n * g.h * g.w, g.c, 0);
    if (!k->gin[0] && !k->gin[1]) return st;
    for (int64_t n0 = 0; n0 < g.n && st == PX_OK; n0 += chunk) {
        int64_t rows = (g.n - n0 < chunk ? g.n - n0 : chunk) * p;
        st = PXK_RUN(c, k_im2col, rows * taps, g, gy, cols, n0);
        if (st == PX_OK && k->gin[0])
            st = pxk_gemm(c, false, false, rows, g.f, taps, 1.0f, cols, taps, w, g.f, 1.0f, pxk_w(k->gin[0]) + n0 * p * g.f,
                          g.f);
        if (st == PX_OK && k->gin[1])
            st = pxk_gemm(c, true, false, taps, g.f, rows, 1.0f, cols, taps, x + n0 * p * g.f, g.f, 1.0f,
                          pxk_w(k->gin[1]), g.f);
    }
    return st;
}

/* ---- depthwise convolution: x (N,H,W,C), kernel (kh,kw,C,M), output channel q = c M + m ---- */

static px_conv_geom pxk_dw_geom(const px_kernel *k) {
    const px_tensor *x = k->in[0], *w = k->in[1];
    px_conv_geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[0], w->shape[1],
                      w->shape[2] * w->shape[3], k->iattr[0], k->iattr[1], k->iattr[3], k->iattr[4], 0, 0, 0, 0};
    px_conv_geom_finish(&g, (int)k->iattr[2]);
    return g;
}

/* Output (n, oh, ow, q): the bias, then the taps in the CPU's order. */
PXK_KERNEL(k_dw_fwd, (px_conv_geom g, const float *x, const float *w, const float *b, float *y),
           int64_t q = i % g.f, ow = (i / g.f) % g.ow, oh = (i / (g.f * g.ow)) % g.oh, n = i / (g.f * g.ow * g.oh);
           int64_t ch = q / (g.f / g.c);
           float acc = b ? b[q] : 0.0f;
           for (int64_t a = 0; a < g.kh; a++) {
               int64_t ih = oh * g.sh - g.pt + a * g.dh;
               if (ih < 0 || ih >= g.h) continue;
               for (int64_t j = 0; j < g.kw; j++) {
                   int64_t iw = ow * g.sw - g.pl + j * g.dw;
                   if (iw < 0 || iw >= g.w) continue;
                   acc += x[((n * g.h + ih) * g.w + iw) * g.c + ch] * w[(a * g.kw + j) * g.f + q];
               }
           }
           y[i] = acc;)
/* Input (n, ih, iw, ch) gathers its channel's M outputs of every window that read it. */
PXK_KERNEL(k_dw_dx, (px_conv_geom g, const float *gy, const float *w, float *dx),
           int64_t ch = i % g.c, iw = (i / g.c) % g.w, ih = (i / (g.c * g.w)) % g.h, n = i / (g.c * g.w * g.h);
           int64_t m = g.f / g.c;
           float acc = 0;
           for (int64_t a = 0; a < g.kh; a++) {
               int64_t oh = px_conv_output_of_tap(ih, g.pt, a, g.dh, g.sh, g.oh);
               if (oh < 0) continue;
               for (int64_t j = 0; j < g.kw; j++) {
                   int64_t ow = px_conv_output_of_tap(iw, g.pl, j, g.dw, g.sw, g.ow);
                   if (ow < 0) continue;
                   const float *gp = gy + ((n * g.oh + oh) * g.ow + ow) * g.f + ch * m, *wt = w + (a * g.kw + j) * g.f + ch * m;
                   for (int64_t e = 0; e < m; e++) acc += gp[e] * wt[e];
               }
           }
           dx[i] += acc;)
/* Kernel entry (tap, q) gathers dY x over every image and output pixel, in order. */
PXK_KERNEL(k_dw_dw, (px_conv_geom g, const float *x, const float *gy, float *dw),
           int64_t q = i % g.f, t = i / g.f, a = t / g.kw, j = t % g.kw, ch = q / (g.f / g.c);
           float acc = 0;
           for (int64_t n = 0; n < g.n; n++)
               for (int64_t oh = 0; oh < g.oh; oh++) {
                   int64_t ih = oh * g.sh - g.pt + a * g.dh;
                   if (ih < 0 || ih >= g.h) continue;
                   for (int64_t ow = 0; ow < g.ow; ow++) {
                       int64_t iw = ow * g.sw - g.pl + j * g.dw;
                       if (iw < 0 || iw >= g.w) continue;
                       acc += gy[((n * g.oh + oh) * g.ow + ow) * g.f + q] * x[((n * g.h + ih) * g.w + iw) * g.c + ch];
                   }
               }
           dw[i] += acc;)

static px_status pxk_dw_forward(pxk_ctx *c, const px_kernel *k) {
    px_conv_geom g = pxk_dw_geom(k);
    return PXK_RUN(c, k_dw_fwd, pxk_numel(k->out), g, pxk_f(k->in[0]), pxk_f(k->in[1]),
                   k->n_in == 3 ? pxk_f(k->in[2]) : (const float *)NULL, pxk_w(k->out));
}
static px_status pxk_dw_backward(pxk_ctx *c, const px_kernel *k) {
    px_conv_geom g = pxk_dw_geom(k);
    const float *gy = pxk_f(k->gout);
    px_status st = PX_OK;
    if (k->n_in == 3 && k->gin[2]) st = PXK_RUN(c, k_col_sums, g.f, gy, pxk_w(k->gin[2]), g.n * g.oh * g.ow, g.f, 0);
    if (st == PX_OK && k->gin[0]) st = PXK_RUN(c, k_dw_dx, pxk_numel(k->in[0]), g, gy, pxk_f(k->in[1]), pxk_w(k->gin[0]));
    if (st == PX_OK && k->gin[1])
        st = PXK_RUN(c, k_dw_dw, g.kh * g.kw * g.f, g, pxk_f(k->in[0]), gy, pxk_w(k->gin[1]));
    return st;
}

/* ---- bilinear resizing (N,H,W,C) -> (N,OH,OW,C): taps in helpers.h ---- */

PXK_KERNEL(k_resize_fwd, (const float *x, float *y, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow),
           int64_t q = i % c, d = (i / c) % ow, r = (i / (c * ow)) % oh, b = i / (c * ow * oh);
           pxk_tap ty = pxk_resize_tap(r, h, oh), tx = pxk_resize_tap(d, w, ow);
           const float *top = x + (b * h + ty.i0) * w * c, *bot = x + (b * h + ty.i1) * w * c;
           y[i] = ty.l0 * (tx.l0 * top[tx.i0 * c + q] + tx.l1 * top[tx.i1 * c + q]) +
                  ty.l1 * (tx.l0 * bot[tx.i0 * c + q] + tx.l1 * bot[tx.i1 * c + q]);)
/* Input (b, iy, ix, q) gathers the outputs whose taps name it, in the CPU's
 * order (output rows, columns, then the four corners). */
PXK_KERNEL(k_resize_bwd, (const float *gy, float *gx, int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow),
           int64_t q = i % c, ix = (i / c) % w, iy = (i / (c * w)) % h, b = i / (c * w * h);
           int64_t y0, y1, x0, x1;
           pxk_resize_readers(iy, h, oh, &y0, &y1);
           pxk_resize_readers(ix, w, ow, &x0, &x1);
           float acc = 0;
           for (int64_t oy = y0; oy <= y1; oy++) {
               pxk_tap ty = pxk_resize_tap(oy, h, oh);
               if (ty.i0 != iy && ty.i1 != iy) continue;
               for (int64_t d = x0; d <= x1; d++) {
                   pxk_tap tx = pxk_resize_tap(d, w, ow);
                   float v = gy[((b * oh + oy) * ow + d) * c + q];
                   if (ty.i0 == iy) {
                       if (tx.i0 == ix) acc += ty.l0 * tx.l0 * v;
                       if (tx.i1 == ix) acc += ty.l0 * tx.l1 * v;
                   }
                   if (ty.i1 == iy) {
                       if (tx.i0 == ix) acc += ty.l1 * tx.l0 * v;
                       if (tx.i1 == ix) acc += ty.l1 * tx.l1 * v;
                   }
               }
           }
           gx[i] += acc;)

static px_status pxk_resize_forward(pxk_ctx *c, const px_kernel *k) {
    const px_tensor *x = k->in[0];
    return PXK_RUN(c, k_resize_fwd, pxk_numel(k->out), pxk_f(x), pxk_w(k->out), x->shape[1], x->shape[2], x->shape[3],
                   k->out->shape[1], k->out->shape[2]);
}
static px_status pxk_resize_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    const px_tensor *x = k->in[0];
    return PXK_RUN(c, k_resize_bwd, pxk_numel(x), pxk_f(k->gout), pxk_w(k->gin[0]), x->shape[1], x->shape[2],
                   x->shape[3], k->out->shape[1], k->out->shape[2]);
}

#endif
