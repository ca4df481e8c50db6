/* Resampling and padding ops on channels-last data: zero-padding and cropping
 * of any axes (px_pad), nearest-neighbour repetition along an axis (px_repeat)
 * and bilinear resizing of NHWC images (px_resize_bilinear), forward and
 * backward. Keras's ZeroPadding, Cropping and UpSampling layers are built on them. */
#include <math.h>
#include <string.h>

#include "backend/kernels/helpers.h"
#include "ops/op_util.h"

/* ---- pad(x, before, after): iattr [0, 8) before, [8, 16) after, per axis;
 * negative amounts crop ---- */

static px_status pad_infer(const px_node *nd, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sx[96];
    if (nd->inputs[0]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "pad: input must be float32");
    px_shape s = in[0];
    for (int i = 0; i < s.rank; i++) {
        if (s.dim[i] == PX_UNKNOWN) continue;
        int64_t n = s.dim[i] + nd->iattr[i] + nd->iattr[8 + i];
        /* an empty axis (a batch of none) stays empty; cropping a full one to nothing is an error */
        if (n < 0 || (n == 0 && s.dim[i] > 0))
            return px_set_error(PX_ERR_SHAPE, "pad: axis %d of input %s has %lld elements; %lld before and %lld after "
                                "leave none", i, px_shape_format(in[0], sx, sizeof sx), (long long)s.dim[i],
                                (long long)nd->iattr[i], (long long)nd->iattr[8 + i]);
        s.dim[i] = n;
    }
    *out = s;
    *dt = PX_F32;
    return PX_OK;
}

/* The input row (all axes but the last, flattened) that output row `r` reads,
 * or -1 when the output row lies in the padding. */
static int64_t source_row(const px_node *nd, const px_tensor *x, const px_tensor *y, int64_t r) {
    int64_t src = 0, stride = 1;
    for (int a = y->rank - 2; a >= 0; a--) {
        int64_t o = r % y->shape[a], i = o - nd->iattr[a];
        r /= y->shape[a];
        if (i < 0 || i >= x->shape[a]) return -1;
        src += i * stride;
        stride *= x->shape[a];
    }
    return src;
}

/* The columns of the last axis that output and input share: output [*o0, *o0 + *len) is input [*i0, ...). */
static void last_axis_overlap(const px_node *nd, const px_tensor *x, const px_tensor *y, int64_t *o0, int64_t *i0,
                              int64_t *len) {
    int a = x->rank - 1;
    int64_t before = nd->iattr[a];
    *o0 = before > 0 ? before : 0;
    *i0 = before < 0 ? -before : 0;
    int64_t end_o = y->shape[a], end_i = x->shape[a];
    *len = end_o - *o0 < end_i - *i0 ? end_o - *o0 : end_i - *i0;
    if (*len < 0) *len = 0;
}

static void pad_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    const px_tensor *x = in[0];
    const int64_t wo = out->shape[out->rank - 1], wi = x->shape[x->rank - 1];
    const int64_t rows = wo ? px_tensor_size(out) / wo : 0;
    int64_t o0, i0, len;
    last_axis_overlap(nd, x, out, &o0, &i0, &len);
    const float *xv = x->data;
    float *yv = out->data;
    PX_FOR(r, rows, rows * wo,
        float *yr = yv + r * wo;
        int64_t s = source_row(nd, x, out, r);
        if (s < 0 || len == 0) {
            memset(yr, 0, (size_t)wo * sizeof *yr);
        } else {
            const float *xr = xv + s * wi + i0;
            for (int64_t j = 0; j < o0; j++) yr[j] = 0;
            for (int64_t j = 0; j < len; j++) yr[o0 + j] = xr[j];
            for (int64_t j = o0 + len; j < wo; j++) yr[j] = 0;
        });
}

static void pad_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                         const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)ex;
    if (!gin[0]) return;
    const px_tensor *x = in[0];
    const int64_t wo = out->shape[out->rank - 1], wi = x->shape[x->rank - 1];
    const int64_t rows = wo ? px_tensor_size(out) / wo : 0;
    int64_t o0, i0, len;
    last_axis_overlap(nd, x, out, &o0, &i0, &len);
    const float *gy = gout->data;
    float *gx = gin[0]->data;
    /* each input row is read by at most one output row: rows run in parallel */
    PX_FOR(r, rows, rows * wo,
        int64_t s = source_row(nd, x, out, r);
        if (s >= 0)
            for (int64_t j = 0; j < len; j++) gx[s * wi + i0 + j] += gy[r * wo + o0 + j];);
}

/* The shapes are all that the passes read: x's values are not saved. */
static const px_op_def pad_def = {"pad", 0, pad_infer, NULL, pad_forward, pad_backward, PX_K_PAD};

px_node *px_pad(px_node *x, const int64_t *before, const int64_t *after) {
    if (!x) return px_null_input(__func__);
    int rank = px_node_shape(x).rank;
    if (rank < 1 || !before || !after) {
        px_set_error(PX_ERR_ARG, "pad: needs an input of rank >= 1 and amounts before and after each axis");
        return NULL;
    }
    int64_t attr[16] = {0};
    for (int i = 0; i < rank; i++) {
        attr[i] = before[i];
        attr[8 + i] = after[i];
    }
    return px_node_make(&pad_def, &x, 1, attr, 16, NULL, 0);
}

/* ---- repeat(x, axis, times): iattr [0] axis (non-negative), [1] times ---- */

static px_status repeat_infer(const px_node *nd, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (nd->inputs[0]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "repeat: input must be float32");
    px_shape s = in[0];
    int a = (int)nd->iattr[0];
    if (s.dim[a] != PX_UNKNOWN) s.dim[a] *= nd->iattr[1];
    *out = s;
    *dt = PX_F32;
    return PX_OK;
}

/* x as (outer, n, inner) around the repeated axis. */
static void repeat_dims(const px_node *nd, const px_tensor *x, int64_t *outer, int64_t *n, int64_t *inner) {
    int a = (int)nd->iattr[0];
    *outer = *inner = 1;
    for (int i = 0; i < a; i++) *outer *= x->shape[i];
    for (int i = a + 1; i < x->rank; i++) *inner *= x->shape[i];
    *n = x->shape[a];
}

static void repeat_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    int64_t outer, n, inner, t = nd->iattr[1];
    repeat_dims(nd, in[0], &outer, &n, &inner);
    const float *x = in[0]->data;
    float *y = out->data;
    PX_FOR(o, outer * n, outer * n * t * inner,
        const float *src = x + o * inner;
        float *dst = y + o * t * inner;
        for (int64_t k = 0; k < t; k++)
            memcpy(dst + k * inner, src, (size_t)inner * sizeof *dst););
}

static void repeat_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                            const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out, (void)ex;
    if (!gin[0]) return;
    int64_t outer, n, inner, t = nd->iattr[1];
    repeat_dims(nd, in[0], &outer, &n, &inner);
    const float *gy = gout->data;
    float *gx = gin[0]->data;
    PX_FOR(o, outer * n, outer * n * t * inner,
        float *dst = gx + o * inner;
        const float *src = gy + o * t * inner;
        for (int64_t k = 0; k < t; k++)
            for (int64_t e = 0; e < inner; e++) dst[e] += src[k * inner + e];);
}

static const px_op_def repeat_def = {"repeat", 0, repeat_infer, NULL, repeat_forward, repeat_backward, PX_K_REPEAT};

px_node *px_repeat(px_node *x, int axis, int times) {
    if (!x) return px_null_input(__func__);
    px_shape s = px_node_shape(x);
    char sx[96];
    int a = axis < 0 ? axis + s.rank : axis;
    if (a < 0 || a >= s.rank || times < 1) {
        px_set_error(PX_ERR_ARG, "repeat: axis %d of input %s and times %d (at least 1)", axis,
                     px_shape_format(s, sx, sizeof sx), times);
        return NULL;
    }
    int64_t attr[2] = {a, times};
    return px_node_make(&repeat_def, &x, 1, attr, 2, NULL, 0);
}

/* ---- resize_bilinear(x, out_h, out_w) on (N, H, W, C): iattr [0] out_h, [1] out_w ----
 *
 * Half-pixel centres, as TF2's tf.image.resize (Keras's UpSampling2D with
 * interpolation="bilinear") and PyTorch's align_corners=False: output pixel d
 * reads input position (d + 0.5) * in / out - 0.5, clamped at 0, between its
 * two neighbours (the last one repeated at the far edge). No antialiasing. The
 * taps (pxk_resize_tap) are shared with the device kernels (kernels/spatial_ops.h). */

static px_status resize_infer(const px_node *nd, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sx[96];
    if (nd->inputs[0]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "resize_bilinear: input must be float32");
    if (in[0].rank != 4)
        return px_set_error(PX_ERR_SHAPE, "resize_bilinear: input %s must be (N, H, W, C)",
                            px_shape_format(in[0], sx, sizeof sx));
    *out = PX_SHAPE(in[0].dim[0], nd->iattr[0], nd->iattr[1], in[0].dim[3]);
    *dt = PX_F32;
    return PX_OK;
}

static void resize_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)nd, (void)ex;
    const px_tensor *x = in[0];
    const int64_t n = x->shape[0], h = x->shape[1], w = x->shape[2], c = x->shape[3];
    const int64_t oh = out->shape[1], ow = out->shape[2];
    const float *xv = x->data;
    float *yv = out->data;
    PX_FOR(r, n * oh, n * oh * ow * c,
        int64_t b = r / oh;
        pxk_tap ty = pxk_resize_tap(r % oh, h, oh);
        const float *top = xv + (b * h + ty.i0) * w * c, *bot = xv + (b * h + ty.i1) * w * c;
        float *yr = yv + r * ow * c;
        for (int64_t d = 0; d < ow; d++) {
            pxk_tap tx = pxk_resize_tap(d, w, ow);
            const float *a = top + tx.i0 * c, *bb = top + tx.i1 * c, *cc = bot + tx.i0 * c, *dd = bot + tx.i1 * c;
            for (int64_t q = 0; q < c; q++)
                yr[d * c + q] = ty.l0 * (tx.l0 * a[q] + tx.l1 * bb[q]) + ty.l1 * (tx.l0 * cc[q] + tx.l1 * dd[q]);
        });
}

static void resize_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                            const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)nd, (void)ex;
    if (!gin[0]) return;
    const px_tensor *x = in[0];
    const int64_t n = x->shape[0], h = x->shape[1], w = x->shape[2], c = x->shape[3];
    const int64_t oh = out->shape[1], ow = out->shape[2];
    const float *gy = gout->data;
    float *gx = gin[0]->data;
    /* output rows of one image scatter into that image only: images in parallel */
    PX_FOR(b, n, n * oh * ow * c,
        for (int64_t oy = 0; oy < oh; oy++) {
            pxk_tap ty = pxk_resize_tap(oy, h, oh);
            float *top = gx + (b * h + ty.i0) * w * c, *bot = gx + (b * h + ty.i1) * w * c;
            const float *g = gy + (b * oh + oy) * ow * c;
            for (int64_t d = 0; d < ow; d++) {
                pxk_tap tx = pxk_resize_tap(d, w, ow);
                for (int64_t q = 0; q < c; q++) {
                    float v = g[d * c + q];
                    top[tx.i0 * c + q] += ty.l0 * tx.l0 * v;
                    top[tx.i1 * c + q] += ty.l0 * tx.l1 * v;
                    bot[tx.i0 * c + q] += ty.l1 * tx.l0 * v;
                    bot[tx.i1 * c + q] += ty.l1 * tx.l1 * v;
                }
            }
        });
}

static const px_op_def resize_def = {"resize_bilinear", 0, resize_infer, NULL, resize_forward, resize_backward,
                                     PX_K_RESIZE_BILINEAR};

px_node *px_resize_bilinear(px_node *x, int out_h, int out_w) {
    if (!x) return px_null_input(__func__);
    if (out_h < 1 || out_w < 1) {
        px_set_error(PX_ERR_ARG, "resize_bilinear: output size (%d, %d) must be positive", out_h, out_w);
        return NULL;
    }
    px_shape s = px_node_shape(x);
    char sx[96];
    if (s.rank != 4 || s.dim[1] == PX_UNKNOWN || s.dim[2] == PX_UNKNOWN) {
        px_set_error(PX_ERR_SHAPE, "resize_bilinear: input %s must be (N, H, W, C) with known H and W",
                     px_shape_format(s, sx, sizeof sx));
        return NULL;
    }
    int64_t attr[2] = {out_h, out_w};
    return px_node_make(&resize_def, &x, 1, attr, 2, NULL, 0);
}
