/* Max and average pooling on channels-last (NHWC) data with TF/Keras padding,
 * and global pooling, forward and backward. Loops run over channels innermost,
 * where NHWC keeps them contiguous. */
#include <float.h>
#include <math.h>

#include "backend/cpu/im2col.h"
#include "backend/kernels/helpers.h"
#include "ops/op_util.h"

/* iattr: [0] pool_h, [1] pool_w, [2] stride_h, [3] stride_w, [4] same padding */

static px_conv_geom pool_geom(const px_node *nd, px_shape x) {
    px_conv_geom g = {.n = x.dim[0], .h = x.dim[1], .w = x.dim[2], .c = x.dim[3], .kh = nd->iattr[0],
                      .kw = nd->iattr[1], .f = x.dim[3], .sh = nd->iattr[2], .sw = nd->iattr[3], .dh = 1, .dw = 1};
    px_conv_geom_finish(&g, nd->iattr[4]);
    return g;
}

static px_status pool_infer(const px_node *nd, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sx[96];
    if (nd->inputs[0]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "%s: input must be float32", nd->op->name);
    if (in[0].rank != 4)
        return px_set_error(PX_ERR_SHAPE, "%s: input %s must be (N, H, W, C)", nd->op->name,
                            px_shape_format(in[0], sx, sizeof sx));
    px_conv_geom g = pool_geom(nd, in[0]);
    if ((in[0].dim[1] != PX_UNKNOWN && g.oh <= 0) || (in[0].dim[2] != PX_UNKNOWN && g.ow <= 0))
        return px_set_error(PX_ERR_SHAPE, "%s: input %s is smaller than the %lldx%lld pool with valid padding",
                            nd->op->name, px_shape_format(in[0], sx, sizeof sx), (long long)g.kh,
                            (long long)g.kw);
    *out = PX_SHAPE(in[0].dim[0], g.oh, g.ow, in[0].dim[3]);
    *dt = PX_F32;
    return PX_OK;
}

/* ---- max pooling: the argmax (offset inside the image) is kept as state ---- */

static size_t maxpool_state_bytes(const px_node *nd, const px_shape *in, px_shape out) {
    (void)nd, (void)in;
    return (size_t)px_shape_size(out) * sizeof(int32_t);
}

static void maxpool_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    px_conv_geom g = pool_geom(nd, px_tensor_shape(in[0]));
    const int64_t c = g.c, img = g.h * g.w * c, oimg = g.oh * g.ow * c;
    const float *x = in[0]->data;
    float *y = out->data;
    int32_t *arg = ex->state;
    PX_FOR(n, g.n, g.n * img, 
        const float *xn = x + n * img;
        for (int64_t oh = 0; oh < g.oh; oh++)
            for (int64_t ow = 0; ow < g.ow; ow++) {
                int64_t i0, i1, j0, j1, o = n * oimg + (oh * g.ow + ow) * c;
                pxk_window(&g, oh, ow, &i0, &i1, &j0, &j1);
                float *yo = y + o;
                int32_t *ao = arg + o;
                int64_t first = (i0 * g.w + j0) * c;
                for (int64_t q = 0; q < c; q++) {
                    yo[q] = xn[first + q];
                    ao[q] = (int32_t)(first + q);
                }
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) {
                        int64_t p = (i * g.w + j) * c;
                        for (int64_t q = 0; q < c; q++) {
                            float v = xn[p + q];
                            /* strictly greater keeps the first maximum, as TF and PyTorch do;
                             * a NaN is taken so that it propagates */
                            if (v > yo[q] || (v != v && yo[q] == yo[q])) {
                                yo[q] = v;
                                ao[q] = (int32_t)(p + q);
                            }
                        }
                    }
            }
    );
}

static void maxpool_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                             const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out;
    if (!gin[0]) return;
    px_conv_geom g = pool_geom(nd, px_tensor_shape(in[0]));
    const int64_t img = g.h * g.w * g.c, oimg = g.oh * g.ow * g.c;
    const int32_t *arg = ex->state;
    const float *gy = gout->data;
    float *gx = gin[0]->data;
    PX_FOR(n, g.n, g.n * img, for (int64_t o = n * oimg; o < (n + 1) * oimg; o++) gx[n * img + arg[o]] += gy[o];);
}

/* ---- average pooling: over the window's elements inside the image only ---- */

static void avgpool_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    px_conv_geom g = pool_geom(nd, px_tensor_shape(in[0]));
    const int64_t c = g.c, img = g.h * g.w * c, oimg = g.oh * g.ow * c;
    const float *x = in[0]->data;
    float *y = out->data;
    PX_FOR(n, g.n, g.n * img, 
        const float *xn = x + n * img;
        for (int64_t oh = 0; oh < g.oh; oh++)
            for (int64_t ow = 0; ow < g.ow; ow++) {
                int64_t i0, i1, j0, j1;
                pxk_window(&g, oh, ow, &i0, &i1, &j0, &j1);
                float *yo = y + n * oimg + (oh * g.ow + ow) * c;
                for (int64_t q = 0; q < c; q++) yo[q] = 0;
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) {
                        const float *xp = xn + (i * g.w + j) * c;
                        for (int64_t q = 0; q < c; q++) yo[q] += xp[q];
                    }
                float inv = 1.0f / (float)((i1 - i0) * (j1 - j0));
                for (int64_t q = 0; q < c; q++) yo[q] *= inv;
            }
    );
}

static void avgpool_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                             const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out, (void)ex;
    if (!gin[0]) return;
    px_conv_geom g = pool_geom(nd, px_tensor_shape(in[0]));
    const int64_t c = g.c, img = g.h * g.w * c, oimg = g.oh * g.ow * c;
    const float *gy = gout->data;
    float *gx = gin[0]->data;
    PX_FOR(n, g.n, g.n * img, 
        float *gn = gx + n * img;
        for (int64_t oh = 0; oh < g.oh; oh++)
            for (int64_t ow = 0; ow < g.ow; ow++) {
                int64_t i0, i1, j0, j1;
                pxk_window(&g, oh, ow, &i0, &i1, &j0, &j1);
                const float *go = gy + n * oimg + (oh * g.ow + ow) * c;
                float inv = 1.0f / (float)((i1 - i0) * (j1 - j0));
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) {
                        float *gp = gn + (i * g.w + j) * c;
                        for (int64_t q = 0; q < c; q++) gp[q] += go[q] * inv;
                    }
            }
    );
}

/* Max pooling reads only its argmax state backwards; average pooling nothing saved. */
static const px_op_def maxpool_def = {"max_pool2d", 0, pool_infer, maxpool_state_bytes, maxpool_forward,
                                      maxpool_backward, PX_K_MAX_POOL};
static const px_op_def avgpool_def = {"avg_pool2d", 0, pool_infer, NULL, avgpool_forward, avgpool_backward,
                                      PX_K_AVG_POOL};

static px_node *make_pool(const px_op_def *def, px_node *x, int ph, int pw, int sh, int sw, px_padding padding) {
    if (!x) return px_null_input(__func__);
    if (sh == 0) sh = ph;
    if (sw == 0) sw = pw;
    if (ph < 1 || pw < 1 || sh < 1 || sw < 1) {
        px_set_error(PX_ERR_ARG, "%s: pool size (%d, %d) and strides (%d, %d) must be at least 1", def->name, ph, pw,
                     sh, sw);
        return NULL;
    }
    if (padding != PX_PADDING_VALID && padding != PX_PADDING_SAME) {
        px_set_error(PX_ERR_ARG, "%s: unknown padding %d", def->name, (int)padding);
        return NULL;
    }
    int64_t attr[5] = {ph, pw, sh, sw, padding == PX_PADDING_SAME};
    return px_node_make(def, &x, 1, attr, 5, NULL, 0);
}

px_node *px_max_pool2d(px_node *x, int pool_h, int pool_w, int stride_h, int stride_w, px_padding padding) {
    return make_pool(&maxpool_def, x, pool_h, pool_w, stride_h, stride_w, padding);
}

px_node *px_avg_pool2d(px_node *x, int pool_h, int pool_w, int stride_h, int stride_w, px_padding padding) {
    return make_pool(&avgpool_def, x, pool_h, pool_w, stride_h, stride_w, padding);
}

/* 1-D pooling is 2-D pooling over a height of one: (N, L, C) -> (N, 1, L, C). */
static px_node *pool1d(const px_op_def *def, px_node *x, int pool, int stride, px_padding padding) {
    if (!x) return px_null_input(__func__);
    px_shape s = px_node_shape(x);
    char sx[96];
    if (s.rank != 3 || (s.dim[0] == PX_UNKNOWN && s.dim[1] == PX_UNKNOWN)) {
        px_set_error(PX_ERR_SHAPE, "%s: input %s must be (N, L, C) with a known batch or length",
                     def == &maxpool_def ? "max_pool1d" : "avg_pool1d", px_shape_format(s, sx, sizeof sx));
        return NULL;
    }
    bool nb = s.dim[0] == PX_UNKNOWN;
    px_node *y = make_pool(def, px_reshape(x, PX_SHAPE(nb ? -1 : s.dim[0], 1, nb ? s.dim[1] : -1, s.dim[2])), 1, pool,
                           1, stride, padding);
    if (!y) return px_null_input(__func__);
    px_shape ys = px_node_shape(y);
    return px_reshape(y, PX_SHAPE(nb ? -1 : ys.dim[0], nb ? ys.dim[2] : -1, ys.dim[3]));
}

px_node *px_max_pool1d(px_node *x, int pool, int stride, px_padding padding) {
    return pool1d(&maxpool_def, x, pool, stride, padding);
}

px_node *px_avg_pool1d(px_node *x, int pool, int stride, px_padding padding) {
    return pool1d(&avgpool_def, x, pool, stride, padding);
}

/* ---- global pooling: the spatial axes folded into one and reduced ---- */

static px_node *global_pool(const char *op, px_node *x, int rank, bool max) {
    if (!x) return px_null_input(__func__);
    px_shape s = px_node_shape(x);
    char sx[96];
    if (s.rank != rank) {
        px_set_error(PX_ERR_SHAPE, "%s: input %s must be %s", op, px_shape_format(s, sx, sizeof sx),
                     rank == 4 ? "(N, H, W, C)" : "(N, L, C)");
        return NULL;
    }
    if (rank == 4) {
        int64_t hw = s.dim[1] > 0 && s.dim[2] > 0 ? s.dim[1] * s.dim[2] : -1;
        if (hw < 0 && s.dim[0] == PX_UNKNOWN) {
            px_set_error(PX_ERR_SHAPE, "%s: input %s needs a known batch or spatial size", op,
                         px_shape_format(s, sx, sizeof sx));
            return NULL;
        }
        x = px_reshape(x, PX_SHAPE(hw < 0 ? s.dim[0] : -1, hw, s.dim[3]));
    }
    return max ? px_max(x, 1, false) : px_mean(x, 1, false);
}

px_node *px_global_avg_pool2d(px_node *x) { return global_pool("global_avg_pool2d", x, 4, false); }
px_node *px_global_max_pool2d(px_node *x) { return global_pool("global_max_pool2d", x, 4, true); }
px_node *px_global_avg_pool1d(px_node *x) { return global_pool("global_avg_pool1d", x, 3, false); }
px_node *px_global_max_pool1d(px_node *x) { return global_pool("global_max_pool1d", x, 3, true); }
