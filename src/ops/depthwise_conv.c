/* Depthwise convolution on channels-last data (Keras's DepthwiseConv2D and the
 * first half of SeparableConv1D/2D): each input channel c has its own M
 * filters, kernel (kh, kw, C, M), output channel c * M + m; forward and backward.
 * Direct loops with the channels innermost (contiguous in NHWC, and in the
 * kernel's (C, M) rows): an im2col matrix would be as large as the input times
 * the window for a product with only M columns per channel. */
#include <stdlib.h>
#include <string.h>

#include "ops/conv_plan.h"
#include "ops/op_util.h"

/* iattr: [0] stride_h, [1] stride_w, [2] padding (px_padding), [3] dilation_h, [4] dilation_w.
 * Inputs: x (N, H, W, C), kernel (kh, kw, C, M), optional bias (C * M). */

static px_conv_geom dw_geom(const px_node *nd, px_shape x, px_shape k) {
    px_conv_geom g = {.n = x.dim[0], .h = x.dim[1], .w = x.dim[2], .c = x.dim[3], .kh = k.dim[0], .kw = k.dim[1],
                      .f = k.dim[2] * k.dim[3], .sh = nd->iattr[0], .sw = nd->iattr[1], .dh = nd->iattr[3],
                      .dw = nd->iattr[4]};
    px_conv_geom_finish(&g, (int)nd->iattr[2]);
    return g;
}

static px_status dw_infer(const px_node *nd, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sx[96], sk[96], sb[96];
    for (int i = 0; i < nd->n_inputs; i++)
        if (nd->inputs[i]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "depthwise_conv2d: inputs must be float32");
    px_shape x = in[0], k = in[1];
    px_shape_format(x, sx, sizeof sx);
    px_shape_format(k, sk, sizeof sk);
    if (x.rank != 4 || k.rank != 4)
        return px_set_error(PX_ERR_SHAPE, "depthwise_conv2d: input %s must be (N, H, W, C) and kernel %s (kh, kw, C, M)",
                            sx, sk);
    for (int i = 0; i < 4; i++)
        if (k.dim[i] <= 0) return px_set_error(PX_ERR_SHAPE, "depthwise_conv2d: kernel shape %s must be fully known", sk);
    if (x.dim[3] != PX_UNKNOWN && x.dim[3] != k.dim[2])
        return px_set_error(PX_ERR_SHAPE, "depthwise_conv2d: input %s has %lld channels but kernel %s expects %lld", sx,
                            (long long)x.dim[3], sk, (long long)k.dim[2]);
    if (nd->n_inputs == 3 && (in[2].rank != 1 || in[2].dim[0] != k.dim[2] * k.dim[3]))
        return px_set_error(PX_ERR_SHAPE, "depthwise_conv2d: bias %s must be (%lld) for kernel %s",
                            px_shape_format(in[2], sb, sizeof sb), (long long)(k.dim[2] * k.dim[3]), sk);
    px_conv_geom g = dw_geom(nd, x, k);
    if ((x.dim[1] != PX_UNKNOWN && g.oh <= 0) || (x.dim[2] != PX_UNKNOWN && g.ow <= 0))
        return px_set_error(PX_ERR_SHAPE,
                            "depthwise_conv2d: input %s is smaller than the %lldx%lld window (dilation %lldx%lld) "
                            "with valid padding",
                            sx, (long long)k.dim[0], (long long)k.dim[1], (long long)g.dh, (long long)g.dw);
    *out = PX_SHAPE(x.dim[0], g.oh, g.ow, k.dim[2] * k.dim[3]);
    *dt = PX_F32;
    return PX_OK;
}

/* The kernel and bias gradients are summed over images: each thread keeps its
 * own partial sums in the state (at most PX_CONV_SLOTS), added in a fixed order. */
static int64_t dw_slots(const px_conv_geom *g) { return g->n < PX_CONV_SLOTS ? (g->n > 0 ? g->n : 1) : PX_CONV_SLOTS; }

static size_t dw_state_bytes(const px_node *nd, const px_shape *in, px_shape out) {
    (void)out;
    px_conv_geom g = dw_geom(nd, in[0], in[1]);
    return (size_t)(dw_slots(&g) * (g.kh * g.kw + 1) * g.f) * sizeof(float);
}

/* Input row ih and column iw of tap (i, j) for output (oh, ow); outside the image when out of range. */
#define DW_IH(g, oh, i) ((oh) * (g)->sh - (g)->pt + (i) * (g)->dh)
#define DW_IW(g, ow, j) ((ow) * (g)->sw - (g)->pl + (j) * (g)->dw)

/* One image: y (OH, OW, C*M) from x (H, W, C). */
static void dw_forward_image(const px_conv_geom *g, const float *x, const float *w, const float *b, float *y) {
    const int64_t c = g->c, f = g->f, m = f / c;
    for (int64_t oh = 0; oh < g->oh; oh++)
        for (int64_t ow = 0; ow < g->ow; ow++) {
            float *yp = y + (oh * g->ow + ow) * f;
            for (int64_t q = 0; q < f; q++) yp[q] = b ? b[q] : 0.0f;
            for (int64_t i = 0; i < g->kh; i++) {
                int64_t ih = DW_IH(g, oh, i);
                if (ih < 0 || ih >= g->h) continue;
                for (int64_t j = 0; j < g->kw; j++) {
                    int64_t iw = DW_IW(g, ow, j);
                    if (iw < 0 || iw >= g->w) continue;
                    const float *xp = x + (ih * g->w + iw) * c, *wt = w + (i * g->kw + j) * f;
                    if (m == 1)
                        for (int64_t q = 0; q < c; q++) yp[q] += xp[q] * wt[q];
                    else
                        for (int64_t q = 0; q < c; q++)
                            for (int64_t r = 0; r < m; r++) yp[q * m + r] += xp[q] * wt[q * m + r];
                }
            }
        }
}

/* One image: dx += gy through the kernel; dw and db (partial sums) += x * gy and gy. */
static void dw_backward_image(const px_conv_geom *g, const float *x, const float *w, const float *gy, float *dx,
                              float *dw, float *db) {
    const int64_t c = g->c, f = g->f, m = f / c;
    for (int64_t oh = 0; oh < g->oh; oh++)
        for (int64_t ow = 0; ow < g->ow; ow++) {
            const float *gp = gy + (oh * g->ow + ow) * f;
            if (db)
                for (int64_t q = 0; q < f; q++) db[q] += gp[q];
            for (int64_t i = 0; i < g->kh; i++) {
                int64_t ih = DW_IH(g, oh, i);
                if (ih < 0 || ih >= g->h) continue;
                for (int64_t j = 0; j < g->kw; j++) {
                    int64_t iw = DW_IW(g, ow, j);
                    if (iw < 0 || iw >= g->w) continue;
                    int64_t pix = (ih * g->w + iw) * c, tap = (i * g->kw + j) * f;
                    const float *xp = x + pix, *wt = w + tap;
                    if (m == 1) {
                        if (dx)
                            for (int64_t q = 0; q < c; q++) dx[pix + q] += gp[q] * wt[q];
                        if (dw)
                            for (int64_t q = 0; q < c; q++) dw[tap + q] += gp[q] * xp[q];
                        continue;
                    }
                    for (int64_t q = 0; q < c; q++) {
                        float s = 0;
                        for (int64_t r = 0; r < m; r++) {
                            s += gp[q * m + r] * wt[q * m + r];
                            if (dw) dw[tap + q * m + r] += gp[q * m + r] * xp[q];
                        }
                        if (dx) dx[pix + q] += s;
                    }
                }
            }
        }
}

static void dw_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    px_conv_geom g = dw_geom(nd, px_tensor_shape(in[0]), px_tensor_shape(in[1]));
    const float *x = in[0]->data, *w = in[1]->data, *b = nd->n_inputs == 3 ? in[2]->data : NULL;
    float *y = out->data;
    const int64_t img = g.h * g.w * g.c, oimg = g.oh * g.ow * g.f;
    PX_FOR(n, g.n, g.n * oimg * g.kh * g.kw, dw_forward_image(&g, x + n * img, w, b, y + n * oimg););
}

static void dw_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                        const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out;
    px_conv_geom g = dw_geom(nd, px_tensor_shape(in[0]), px_tensor_shape(in[1]));
    const float *x = in[0]->data, *w = in[1]->data, *gy = gout->data;
    float *dx = gin[0] ? gin[0]->data : NULL, *gw = gin[1] ? gin[1]->data : NULL;
    float *gb = nd->n_inputs == 3 && gin[2] ? gin[2]->data : NULL;
    const int64_t img = g.h * g.w * g.c, oimg = g.oh * g.ow * g.f, part = (g.kh * g.kw + 1) * g.f;
    float *parts = ex->state;
    /* groups of images fixed by the shape (px_conv_group), each summing into its
     * own part, the parts added in order: the same result at any thread count */
    const int64_t groups = dw_slots(&g);
    int threads = px_conv_threads(groups, g.n * g.oh * g.ow * g.kh * g.kw * g.f);
    memset(parts, 0, (size_t)(groups * part) * sizeof *parts);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (int64_t grp = 0; grp < groups; grp++) {
        float *pw = parts + grp * part;
        int64_t lo, hi;
        px_conv_group(g.n, groups, grp, &lo, &hi);
        for (int64_t n = lo; n < hi; n++)
            dw_backward_image(&g, x + n * img, w, gy + n * oimg, dx ? dx + n * img : NULL, gw ? pw : NULL,
                              gb ? pw + g.kh * g.kw * g.f : NULL);
    }
    for (int64_t t = 0; t < groups; t++) {
        const float *pw = parts + t * part;
        if (gw)
            for (int64_t e = 0; e < g.kh * g.kw * g.f; e++) gw[e] += pw[e];
        if (gb)
            for (int64_t e = 0; e < g.f; e++) gb[e] += pw[g.kh * g.kw * g.f + e];
    }
}

static const px_op_def dw_def = {"depthwise_conv2d", PX_OPF_SAVE_INPUTS, dw_infer, dw_state_bytes, dw_forward,
                                 dw_backward, PX_K_DEPTHWISE_CONV};

px_node *px_depthwise_conv2d(px_node *x, px_node *kernel, px_node *bias, int stride_h, int stride_w, px_padding padding,
                             int dilation_h, int dilation_w) {
    if (!x || !kernel) return px_null_input(__func__);
    if (stride_h < 1 || stride_w < 1 || dilation_h < 1 || dilation_w < 1) {
        px_set_error(PX_ERR_ARG, "depthwise_conv2d: strides (%d, %d) and dilation (%d, %d) must be at least 1",
                     stride_h, stride_w, dilation_h, dilation_w);
        return NULL;
    }
    if (padding != PX_PADDING_VALID && padding != PX_PADDING_SAME && padding != PX_PADDING_CAUSAL) {
        px_set_error(PX_ERR_ARG, "depthwise_conv2d: unknown padding %d", (int)padding);
        return NULL;
    }
    int64_t attr[5] = {stride_h, stride_w, padding, dilation_h, dilation_w};
    px_node *ins[3] = {x, kernel, bias};
    return px_node_make(&dw_def, ins, bias ? 3 : 2, attr, 5, NULL, 0);
}

/* 1-D is 2-D over a height of one: (N, L, C) -> (N, 1, L, C), kernel (1, k, C, M). */
px_node *px_depthwise_conv1d(px_node *x, px_node *kernel, px_node *bias, int stride, px_padding padding, int dilation) {
    if (!x || !kernel) return px_null_input(__func__);
    px_shape xs = px_node_shape(x), ks = px_node_shape(kernel);
    char sx[96], sk[96];
    if (xs.rank != 3 || ks.rank != 3 || (xs.dim[0] == PX_UNKNOWN && xs.dim[1] == PX_UNKNOWN)) {
        px_set_error(PX_ERR_SHAPE, "depthwise_conv1d: input %s must be (N, L, C) with a known batch or length, and "
                     "kernel %s (k, C, M)", px_shape_format(xs, sx, sizeof sx), px_shape_format(ks, sk, sizeof sk));
        return NULL;
    }
    bool nb = xs.dim[0] == PX_UNKNOWN;
    px_node *x4 = px_reshape(x, PX_SHAPE(nb ? -1 : xs.dim[0], 1, nb ? xs.dim[1] : -1, xs.dim[2]));
    px_node *k4 = px_reshape(kernel, PX_SHAPE(1, ks.dim[0], ks.dim[1], ks.dim[2]));
    px_node *y = px_depthwise_conv2d(x4, k4, bias, 1, stride, padding, 1, dilation);
    if (!y) return px_null_input(__func__);
    px_shape ys = px_node_shape(y);
    return px_reshape(y, PX_SHAPE(nb ? -1 : ys.dim[0], nb ? ys.dim[2] : -1, ys.dim[3]));
}
