/* Transposed convolution on channels-last data (Keras's Conv2DTranspose and
 * Conv1DTranspose), kernel (kh, kw, filters, in) as Keras stores it: the
 * input-gradient of the convolution that maps the output back to the input, as
 * TF's conv2d_transpose computes it. Forward is that convolution's backward
 * pass (x @ kernel^T, then col2im), backward its forward pass (im2col of the
 * output gradient, times the kernel) and its kernel gradient, all through
 * im2col.c and px_gemm on chunks of images. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "backend/cpu/im2col.h"
#include "ops/conv_plan.h"
#include "ops/op_util.h"

/* iattr: [0] stride_h, [1] stride_w, [2] padding (valid or same), [3] output
 * height, [4] output width, [5] dilation_h, [6] dilation_w.
 * Inputs: x (N, H, W, C), kernel (kh, kw, F, C), optional bias (F); output (N, OH, OW, F).
 *
 * The geometry is that of the forward convolution from the output (OH, OW, F)
 * to the input (H, W, C): g.h, g.w are OH, OW, g.c = F, g.f = C and g.oh, g.ow
 * must come out as H, W (checked when the node is made). */

static px_conv_geom ct_geom(const px_node *nd, px_shape x, px_shape k) {
    px_conv_geom g = {.n = x.dim[0], .h = nd->iattr[3], .w = nd->iattr[4], .c = k.dim[2], .kh = k.dim[0],
                      .kw = k.dim[1], .f = k.dim[3], .sh = nd->iattr[0], .sw = nd->iattr[1], .dh = nd->iattr[5],
                      .dw = nd->iattr[6]};
    px_conv_geom_finish(&g, (int)nd->iattr[2]);
    return g;
}

static px_status ct_infer(const px_node *nd, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sx[96], sk[96];
    px_status st = px_conv_check_inputs(nd, in, "conv2d_transpose", "(kh, kw, F, C)", 3, 2, sx, sk);
    if (st != PX_OK) return st;
    px_shape x = in[0], k = in[1];
    px_conv_geom g = ct_geom(nd, x, k);
    if ((x.dim[1] != PX_UNKNOWN && g.oh != x.dim[1]) || (x.dim[2] != PX_UNKNOWN && g.ow != x.dim[2]))
        return px_set_error(PX_ERR_SHAPE, "conv2d_transpose: an output of %lldx%lld does not convolve back to input %s",
                            (long long)g.h, (long long)g.w, sx);
    *out = PX_SHAPE(x.dim[0], g.h, g.w, k.dim[2]);
    *dt = PX_F32;
    return PX_OK;
}

static size_t ct_state_bytes(const px_node *nd, const px_shape *in, px_shape out) {
    (void)out;
    px_conv_geom g = ct_geom(nd, in[0], in[1]);
    return (size_t)px_conv_gemm_plan_of(&g).total * sizeof(float);
}

static void ct_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    px_conv_geom g = ct_geom(nd, px_tensor_shape(in[0]), px_tensor_shape(in[1]));
    px_conv_gemm_plan t = px_conv_gemm_plan_of(&g);
    const int64_t k = g.kh * g.kw * g.c, p = g.oh * g.ow, img = g.h * g.w * g.c;
    const float *x = in[0]->data, *w = in[1]->data, *b = nd->n_inputs == 3 ? in[2]->data : NULL;
    float *y = out->data;
    if (g.n == 0) return; /* an empty batch: nothing to compute, and no scratch was planned */
    int threads = px_conv_threads(t.slots, g.n * p * k * g.f);
    px_conv_balance_chunks(&t, g.n);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        float *cols = (float *)ex->state + px_conv_thread_id() * t.slot;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t ch = 0; ch < t.chunks; ch++) {
            int64_t n0 = ch * t.per_chunk, n1 = n0 + t.per_chunk < g.n ? n0 + t.per_chunk : g.n;
            /* cols (rows, kh*kw*F) = x (rows, C) @ kernel^T, kernel viewed as (kh*kw*F, C) */
            px_op_gemm(nd, &(px_gemm_args){.trans_b = true, .m = (n1 - n0) * p, .n = k, .k = g.f, .a = x + n0 * p * g.f,
                    .lda = g.f, .b = w, .ldb = g.f, .c = cols, .ldc = k});
            for (int64_t n = n0; n < n1; n++) {
                float *yn = y + n * img;
                if (b)
                    for (int64_t e = 0; e < g.h * g.w; e++) memcpy(yn + e * g.c, b, (size_t)g.c * sizeof *yn);
                else
                    memset(yn, 0, (size_t)img * sizeof *yn);
                px_col2im_nhwc(&g, cols + (n - n0) * p * k, yn);
            }
        }
    }
}

static void ct_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                        const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out;
    px_conv_geom g = ct_geom(nd, px_tensor_shape(in[0]), px_tensor_shape(in[1]));
    px_conv_gemm_plan t = px_conv_gemm_plan_of(&g);
    const int64_t k = g.kh * g.kw * g.c, p = g.oh * g.ow;
    const float *x = in[0]->data, *w = in[1]->data, *gy = gout->data;
    float *gx = gin[0] ? gin[0]->data : NULL, *gw = gin[1] ? gin[1]->data : NULL;
    float *gb = nd->n_inputs == 3 && gin[2] ? gin[2]->data : NULL;
    if (gb)
        for (int64_t e = 0; e < g.n * g.h * g.w; e++)
            for (int64_t j = 0; j < g.c; j++) gb[j] += gy[e * g.c + j];
    if (!gx && !gw) return;
    if (g.n == 0) return; /* an empty batch: no scratch was planned */
    int threads = px_conv_threads(t.slots, g.n * p * k * g.f);
    px_conv_balance_chunks(&t, g.n);
    for (int i = 0; gw && i < t.slots; i++) memset((float *)ex->state + i * t.slot + t.part, 0, (size_t)(k * g.f) * sizeof(float));
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        float *cols = (float *)ex->state + px_conv_thread_id() * t.slot;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t grp = 0; grp < t.slots; grp++) { /* groups fixed by the shape (px_conv_group) */
            float *pw = (float *)ex->state + grp * t.slot + t.part;
            int64_t c0, c1;
            px_conv_group(t.chunks, t.slots, grp, &c0, &c1);
            for (int64_t ch = c0; ch < c1; ch++) {
                int64_t n0 = ch * t.per_chunk, n1 = n0 + t.per_chunk < g.n ? n0 + t.per_chunk : g.n, rows = (n1 - n0) * p;
                /* the columns of the output gradient, as a forward convolution reads them */
                px_im2col_nhwc(&g, gy, cols, n0, n1);
                if (gx) px_op_gemm(nd, &(px_gemm_args){.m = rows, .n = g.f, .k = k, .a = cols, .lda = k, .b = w, .ldb = g.f,
                        .beta = 1.0f, .c = gx + n0 * p * g.f, .ldc = g.f});
                /* dkernel (kh*kw*F, C) += cols^T @ x */
                if (gw) px_op_gemm(nd, &(px_gemm_args){.trans_a = true, .m = k, .n = g.f, .k = rows, .a = cols, .lda = k,
                        .b = x + n0 * p * g.f, .ldb = g.f, .beta = 1.0f, .c = pw, .ldc = g.f});
            }
        }
    }
    /* the groups' partial sums, added in a fixed order (the same at any thread count) */
    for (int i = 0; gw && i < t.slots; i++) {
        const float *pw = (float *)ex->state + i * t.slot + t.part;
        for (int64_t e = 0; e < k * g.f; e++) gw[e] += pw[e];
    }
}

static const px_op_def ct_def = {"conv2d_transpose", PX_OPF_SAVE_INPUTS, ct_infer, ct_state_bytes, ct_forward,
                                 ct_backward, PX_K_CONV_TRANSPOSE};

/* Keras's output length (conv_utils.deconv_output_length, and Keras 3's rule
 * for the TF backend): output_padding < 0 is Keras's None. */
static int64_t transpose_length(int64_t n, int k, int s, int d, px_padding padding, int output_padding) {
    int64_t span = (int64_t)d * (k - 1) + 1;
    if (n < 0) return -1;
    if (output_padding < 0) return padding == PX_PADDING_VALID ? n * s + (span > s ? span - s : 0) : n * s;
    int64_t pad = padding == PX_PADDING_SAME ? span / 2 : 0;
    return (n - 1) * s + span - 2 * pad + output_padding;
}

px_node *px_conv2d_transpose(px_node *x, px_node *kernel, px_node *bias, int stride_h, int stride_w, px_padding padding,
                             int output_padding_h, int output_padding_w, int dilation_h, int dilation_w) {
    if (!x || !kernel) return px_null_input(__func__);
    const char *op = "conv2d_transpose";
    if (stride_h < 1 || stride_w < 1 || dilation_h < 1 || dilation_w < 1) {
        px_set_error(PX_ERR_ARG, "%s: strides (%d, %d) and dilation (%d, %d) must be at least 1", op, stride_h,
                     stride_w, dilation_h, dilation_w);
        return NULL;
    }
    if (padding != PX_PADDING_VALID && padding != PX_PADDING_SAME) {
        px_set_error(PX_ERR_ARG, "%s: padding %d is not valid or same", op, (int)padding);
        return NULL;
    }
    if (output_padding_h >= stride_h || output_padding_w >= stride_w) {
        /* TF refuses it: the extra rows would be a whole stride past the last window */
        px_set_error(PX_ERR_ARG, "%s: output padding (%d, %d) must be smaller than the strides (%d, %d)", op,
                     output_padding_h, output_padding_w, stride_h, stride_w);
        return NULL;
    }
    px_shape xs = px_node_shape(x), ks = px_node_shape(kernel);
    char sx[96], sk[96];
    if (xs.rank != 4 || ks.rank != 4 || xs.dim[1] == PX_UNKNOWN || xs.dim[2] == PX_UNKNOWN) {
        px_set_error(PX_ERR_SHAPE, "%s: input %s must be (N, H, W, C) with known H and W, and kernel %s (kh, kw, F, C)",
                     op, px_shape_format(xs, sx, sizeof sx), px_shape_format(ks, sk, sizeof sk));
        return NULL;
    }
    int64_t oh = transpose_length(xs.dim[1], (int)ks.dim[0], stride_h, dilation_h, padding, output_padding_h);
    int64_t ow = transpose_length(xs.dim[2], (int)ks.dim[1], stride_w, dilation_w, padding, output_padding_w);
    if (oh <= 0 || ow <= 0) {
        px_set_error(PX_ERR_SHAPE, "%s: input %s and kernel %s give an empty output", op,
                     px_shape_format(xs, sx, sizeof sx), px_shape_format(ks, sk, sizeof sk));
        return NULL;
    }
    int64_t attr[7] = {stride_h, stride_w, padding, oh, ow, dilation_h, dilation_w};
    px_node *ins[3] = {x, kernel, bias};
    return px_node_make(&ct_def, ins, bias ? 3 : 2, attr, 7, NULL, 0);
}

/* 1-D is 2-D over a height of one: (N, L, C) -> (N, 1, L, C), kernel (1, k, F, C). */
px_node *px_conv1d_transpose(px_node *x, px_node *kernel, px_node *bias, int stride, px_padding padding,
                             int output_padding, int dilation) {
    if (!x || !kernel) return px_null_input(__func__);
    px_shape xs = px_node_shape(x), ks = px_node_shape(kernel);
    char sx[96], sk[96];
    if (xs.rank != 3 || ks.rank != 3 || xs.dim[1] == PX_UNKNOWN) {
        px_set_error(PX_ERR_SHAPE, "conv1d_transpose: input %s must be (N, L, C) with a known length, and kernel %s "
                     "(k, F, C)", px_shape_format(xs, sx, sizeof sx), px_shape_format(ks, sk, sizeof sk));
        return NULL;
    }
    px_node *x4 = px_reshape(x, PX_SHAPE(-1, 1, xs.dim[1], xs.dim[2]));
    px_node *k4 = px_reshape(kernel, PX_SHAPE(1, ks.dim[0], ks.dim[1], ks.dim[2]));
    /* the height of one needs no padding: output_padding 0 keeps it one */
    px_node *y = px_conv2d_transpose(x4, k4, bias, 1, stride, padding, output_padding < 0 ? -1 : 0, output_padding, 1,
                                     dilation);
    if (!y) return NULL;
    px_shape ys = px_node_shape(y);
    return px_reshape(y, PX_SHAPE(-1, ys.dim[2], ys.dim[3]));
}
