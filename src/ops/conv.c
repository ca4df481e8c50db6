/* 2-D and 1-D convolution on channels-last (NHWC) data with Keras's kernel
 * layout (kh, kw, in, out): forward and backward, through oneDNN's direct
 * convolutions (conv_dnnl.c), the few-channel kernels of conv_kernels.c or
 * im2col and px_gemm. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv_dnnl.h"
#include "backend/cpu/conv_kernels.h"
#include "backend/cpu/gemm.h"
#include "backend/cpu/im2col.h"
#include "ops/conv_plan.h"
#include "ops/op_util.h"

/* The row-vectorised kernels beat im2col + GEMM when the output channels and
 * the window (K = kh * kw * C) are small and an output row fills most of a
 * 16-float vector; then GEMM packing costs as much as its arithmetic.
 * Measured with "bench_convnet layers" (CPU ms per batch of 64, forward +
 * backward, row kernels vs GEMM): 28x28x1 -> 4, 5x5: 1.09 vs 6.5;
 * 28x28x4 -> 8, 4x4/2 (K = 64, rows of 14): 1.25 vs 1.54; 14x14x8 -> 12,
 * 4x4/2 (K = 128, rows of 7): 1.10 vs 0.67. */
#define PX_CONVT_MAX_F 16
#define PX_CONVT_MAX_K 64
#define PX_CONVT_MIN_OW 9

/* iattr: [0] stride_h, [1] stride_w, [2] padding (px_padding), [3] dilation_h, [4] dilation_w.
 * Inputs: x (N, H, W, C), kernel (kh, kw, C, F), optional bias (F). */

static px_conv_geom geom_of(const px_node *nd, px_shape x, px_shape k) {
    px_conv_geom g = {.n = x.dim[0], .h = x.dim[1], .w = x.dim[2], .c = x.dim[3],
                      .kh = k.dim[0], .kw = k.dim[1], .f = k.dim[3],
                      .sh = nd->iattr[0], .sw = nd->iattr[1], .dh = nd->iattr[3], .dw = nd->iattr[4]};
    px_conv_geom_finish(&g, nd->iattr[2]);
    return g;
}

/* A 1x1 window with unit strides multiplies the input itself: no im2col. */
static bool is_pointwise(const px_conv_geom *g) { return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1; }

/* PX_CONV_IMPL=gemm, =tiled or =dnnl in the environment forces one path (for
 * benchmarks; dnnl where oneDNN takes the shape); px_conv_set_impl does the
 * same for tests. */
static int conv_impl = -1;

void px_conv_set_impl(int impl) { conv_impl = impl; }

static int forced_impl(void) {
    if (conv_impl < 0) {
        const char *e = getenv("PX_CONV_IMPL");
        conv_impl = !e                      ? 0
                    : strcmp(e, "gemm") == 0  ? 1
                    : strcmp(e, "tiled") == 0 ? 2
                    : strcmp(e, "dnnl") == 0  ? 3
                                              : 0;
    }
    return conv_impl;
}

/* Whether the few-channel row kernels fit g (and, unless forced, are chosen
 * over im2col + GEMM). */
static bool tiled_fits(const px_conv_geom *g) {
    if (is_pointwise(g) || g->ow > 32) return false; /* the kernels hold an output row in two vectors */
    return g->f <= PX_CONVT_MAX_F && g->kh * g->kw * g->c <= PX_CONVT_MAX_K && g->ow >= PX_CONVT_MIN_OW;
}

/* oneDNN's direct convolutions, where it has a JIT kernel for the shape (plan
 * in *dp), except where the row kernels fit and the input has 1 or 2 channels.
 * Measured one thread, forward + backward ms (docs/performance.md, "oneDNN's
 * convolutions"): the course ConvNet's 28x28x4 -> 8, 4x4/2 0.95 against 1.22
 * (row kernels) and 14x14x8 -> 12, 4x4/2 0.44 against 0.72 (im2col), and
 * against im2col from 1.2x (32x32x3 -> 32, 3x3) to 2x (28x28x16 -> 32, 5x5)
 * and 1.2x on a 1x1 kernel (16x16x64 -> 64); but the row kernels took 0.49 ms
 * against 1.00 for 28x28x1 -> 4, 5x5 and 0.80 against 0.96 for 28x28x2 -> 8,
 * 3x3 (28x28x3 -> 16, 3x3: 1.98 against oneDNN's 1.66). Under the
 * mixed_bfloat16 policy too: there the alternative, im2col with bf16 products,
 * made the course ConvNet's epoch 1.3x slower than float32 on oneDNN (0.272-0.286
 * against 0.206-0.219 s, one thread), and oneDNN's own bf16 convolutions are no
 * faster than its float32 ones on such shapes (bench_bf16_conv: 2.37 against
 * 2.15 ms a batch); float32 is the more exact as well. */
static bool use_dnnl(const px_conv_geom *g, px_conv_dnnl_plan *dp) {
    int f = forced_impl();
    if (f == 1 || f == 2 || (f == 0 && g->c < 3 && tiled_fits(g))) return false;
    return px_conv_dnnl_plan_of(g, dp);
}

static bool use_tiled(const px_conv_geom *g) {
    if (is_pointwise(g) || g->ow > 32) return false;
    return forced_impl() ? forced_impl() == 2 : tiled_fits(g);
}

/* The tiled path's state, in floats: the packed kernel and bias, the tap
 * offsets, every image's planes (written by the forward pass and read again
 * by the backward pass: they are about the size of the input, unlike an im2col
 * matrix), then one scratch slot per thread (at most PX_CONV_SLOTS) holding an
 * image's input gradient in plane layout, its transposed output gradient and
 * the thread's running kernel + bias gradient. */
typedef struct tiled_layout {
    int64_t wp, bp, off, planes, plane_size, slots0, slots, slot, dpl, dyt, part, total;
} tiled_layout;

static tiled_layout tiled_of(const px_conv_geom *g) {
    tiled_layout t;
    int64_t k = g->kh * g->kw * g->c, groups = (g->f + 3) / 4;
    t.wp = 0;
    t.bp = groups * 4 * k;
    t.off = px_conv_align16(t.bp + groups * 4);   /* K int64 offsets = 2K floats */
    t.planes = px_conv_align16(t.off + 2 * k);
    t.plane_size = px_conv_align16(px_convt_planes_size(g));
    t.slots0 = t.planes + g->n * t.plane_size;
    t.slots = g->n < PX_CONV_SLOTS ? g->n : PX_CONV_SLOTS;
    t.dpl = 0;                             /* offsets inside a slot */
    t.dyt = t.plane_size;
    t.part = px_conv_align16(t.dyt + px_convt_dyt_size(g)); /* kernel gradient per lane (K x F x 16), then bias (F) */
    t.slot = px_conv_align16(t.part + (k * 16 + 1) * g->f);
    t.total = t.slots0 + t.slots * t.slot;
    return t;
}

static px_status conv_infer(const px_node *nd, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sx[96], sk[96];
    px_status st = px_conv_check_inputs(nd, in, "conv2d", "(kh, kw, C, F)", 2, 3, sx, sk);
    if (st != PX_OK) return st;
    px_shape x = in[0], k = in[1];
    px_conv_geom g = geom_of(nd, x, k);
    if ((x.dim[1] != PX_UNKNOWN && g.oh <= 0) || (x.dim[2] != PX_UNKNOWN && g.ow <= 0))
        return px_set_error(PX_ERR_SHAPE,
                            "conv2d: input %s is smaller than the %lldx%lld window (dilation %lldx%lld) with "
                            "valid padding",
                            sx, (long long)k.dim[0], (long long)k.dim[1], (long long)g.dh, (long long)g.dw);
    *out = PX_SHAPE(x.dim[0], g.oh, g.ow, k.dim[3]);
    *dt = PX_F32;
    return PX_OK;
}

/* Scratch of the tiled or the chunked GEMM path (none for a pointwise kernel). */
static size_t conv_state_bytes(const px_node *nd, const px_shape *in, px_shape out) {
    px_conv_geom g = geom_of(nd, in[0], in[1]);
    (void)out;
    px_conv_dnnl_plan dp;
    int64_t gemm = is_pointwise(&g) ? 0 : px_conv_gemm_plan_of(&g).total;
    /* the oneDNN path's, or the im2col path's it falls back to (out of memory) */
    if (use_dnnl(&g, &dp)) return (size_t)(dp.total > gemm ? dp.total : gemm) * sizeof(float);
    if (is_pointwise(&g)) return 0;
    if (use_tiled(&g)) return (size_t)tiled_of(&g).total * sizeof(float);
    return (size_t)gemm * sizeof(float);
}

static void conv_forward_untiled(const px_node *nd, const px_conv_geom *gp, const px_tensor *const *in, float *y,
                                 px_exec *ex);

static void conv_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    px_conv_geom g = geom_of(nd, px_tensor_shape(in[0]), px_tensor_shape(in[1]));
    if (g.n == 0) return; /* an empty batch: nothing to compute, and no scratch was planned */
    const int64_t m = g.n * g.oh * g.ow, k = g.kh * g.kw * g.c, f = g.f;
    const float *x = in[0]->data, *w = in[1]->data;
    float *y = out->data;
    px_conv_dnnl_plan dp;
    if (use_dnnl(&g, &dp)) {
        if (!px_conv_dnnl_forward(&dp, &g, x, w, nd->n_inputs == 3 ? in[2]->data : NULL, y, ex->state,
                                  px_conv_threads(dp.slots, m * k)))
            conv_forward_untiled(nd, &g, in, y, ex); /* oneDNN out of memory */
        return;
    }
    if (use_tiled(&g)) {
        tiled_layout t = tiled_of(&g);
        float *st = ex->state;
        int64_t *off = (int64_t *)(st + t.off);
        px_convt_pack(k, f, w, nd->n_inputs == 3 ? in[2]->data : NULL, st + t.wp, st + t.bp);
        px_convt_offsets(&g, off);
        const int64_t img = g.h * g.w * g.c, p = g.oh * g.ow;
        PX_PARALLEL_FOR(m * k)
        for (int64_t n = 0; n < g.n; n++) {
            float *pl = st + t.planes + n * t.plane_size;
            px_convt_to_planes(&g, x + n * img, pl);
            px_convt_forward(&g, pl, off, st + t.wp, st + t.bp, y + n * p * f);
        }
        return;
    }
    conv_forward_untiled(nd, &g, in, y, ex);
}

/* The forward pass through im2col and px_gemm (or px_gemm alone for a
 * pointwise kernel), the bias added. */
static void conv_forward_untiled(const px_node *nd, const px_conv_geom *gp, const px_tensor *const *in, float *y,
                                 px_exec *ex) {
    const px_conv_geom g = *gp;
    const int64_t m = g.n * g.oh * g.ow, k = g.kh * g.kw * g.c, f = g.f;
    const float *x = in[0]->data, *w = in[1]->data;
    if (is_pointwise(&g)) {
        px_op_gemm(nd, &(px_gemm_args){.m = m, .n = f, .k = k, .a = x, .lda = k, .b = w, .ldb = f, .c = y, .ldc = f});
    } else {
        px_conv_gemm_plan t = px_conv_gemm_plan_of(&g);
        const int64_t p = g.oh * g.ow;
        int threads = px_conv_threads(t.slots, m * k);
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
                px_im2col_nhwc(&g, x, cols, n0, n1);
                float *yc = y + n0 * p * f;
                px_op_gemm(nd, &(px_gemm_args){.m = (n1 - n0) * p, .n = f, .k = k, .a = cols, .lda = k, .b = w, .ldb = f,
                        .c = yc, .ldc = f});
                if (nd->n_inputs == 3) /* while the chunk's output is still in cache */
                    for (int64_t r = 0; r < (n1 - n0) * p; r++)
                        for (int64_t j = 0; j < f; j++) yc[r * f + j] += ((const float *)in[2]->data)[j];
            }
        }
        return;
    }
    if (nd->n_inputs == 3) {
        const float *b = in[2]->data;
        PX_PARALLEL_FOR(m * f)
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < f; j++) y[r * f + j] += b[j];
    }
}

/* Backward on the tiled path: each group of images (px_conv_group, one per
 * slot) sums its kernel and bias gradients in its slot (16 lanes per weight);
 * the slots are added up in order, so the result is the same at any thread
 * count. A thread's own scratch (dpl, dyt) is in the slot of its number.
 * clear_x: gx holds garbage (this op is its first writer): each image's part is
 * zeroed on the threads just before it is summed into, while it is in cache. */
static void conv_backward_tiled(const px_conv_geom *gp, const float *w, const float *gy, float *gx, bool clear_x,
                                float *gw, float *gb, void *state) {
    const px_conv_geom g = *gp;
    const int64_t m = g.n * g.oh * g.ow, k = g.kh * g.kw * g.c, f = g.f;
    tiled_layout t = tiled_of(&g);
    const int64_t img = g.h * g.w * g.c, p = g.oh * g.ow, part = (k * 16 + 1) * f;
    const float *planes = (const float *)state + t.planes;
    const int64_t *off = (const int64_t *)((float *)state + t.off);
    float *slots = (float *)state + t.slots0;
    int threads = px_conv_threads(t.slots, m * k);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        float *sl = slots + px_conv_thread_id() * t.slot;
        float *dpl = sl + t.dpl, *dyt = sl + t.dyt;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t grp = 0; grp < t.slots; grp++) {
            float *pn = slots + grp * t.slot + t.part;
            /* cleared here, not before the parallel region: on the threads, and
             * just before the group's first image sums into it (still in cache) */
            for (int64_t e = 0; e < part; e++) pn[e] = 0;
            int64_t lo, hi;
            px_conv_group(g.n, t.slots, grp, &lo, &hi);
            for (int64_t n = lo; n < hi; n++) {
                px_convt_transpose_grad(&g, gy + n * p * f, dyt, pn + k * f * 16);
                if (gw) px_convt_kernel_grad(&g, planes + n * t.plane_size, off, dyt, pn);
                if (gx) {
                    px_convt_input_grad(&g, w, off, dyt, dpl);
                    if (clear_x) memset(gx + n * img, 0, (size_t)img * sizeof *gx);
                    px_convt_from_planes_add(&g, dpl, gx + n * img);
                }
            }
            /* the group's lanes summed here, on the threads: pn[e] = the sum of
             * pn[e * 16 ...], in place (element e's lanes are read before
             * pn[e] is written, and those of e / 16 < e were read before) */
            if (gw)
                for (int64_t e = 0; e < k * f; e++) {
                    float s = 0;
                    for (int lane = 0; lane < 16; lane++) s += pn[e * 16 + lane];
                    pn[e] = s;
                }
        }
    }
    /* the groups' partial sums, added in a fixed order */
    for (int64_t i = 0; i < t.slots; i++) {
        const float *pn = slots + i * t.slot + t.part;
        if (gw)
            for (int64_t e = 0; e < k * f; e++) gw[e] += pn[e];
        if (gb)
            for (int64_t e = 0; e < f; e++) gb[e] += pn[k * f * 16 + e];
    }
}

/* Backward on the im2col path, chunks of images in groups fixed by the shape
 * (px_conv_group, one per slot): dW from each chunk's columns into its group's
 * partial sum, the groups added in order; dX through col2im (each image's part
 * zeroed just before when clear_x, as in conv_backward_tiled). A thread's
 * column buffer is in the slot of its number. */
static void conv_backward_gemm(const px_node *nd, const px_conv_geom *gp, const float *x, const float *w, const float *gy, float *gx,
                               bool clear_x, float *gw, void *state) {
    const px_conv_geom g = *gp;
    const int64_t m = g.n * g.oh * g.ow, k = g.kh * g.kw * g.c, f = g.f;
    px_conv_gemm_plan t = px_conv_gemm_plan_of(&g);
    const int64_t img = g.h * g.w * g.c, p = g.oh * g.ow;
    int threads = px_conv_threads(t.slots, m * k);
    px_conv_balance_chunks(&t, g.n); /* more chunks than before: still at least one per slot */
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        float *cols = (float *)state + px_conv_thread_id() * t.slot;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t grp = 0; grp < t.slots; grp++) {
            float *pw = (float *)state + grp * t.slot + t.part;
            for (int64_t e = 0; e < k * f; e++) pw[e] = 0; /* on the threads, as in conv_backward_tiled */
            int64_t c0, c1;
            px_conv_group(t.chunks, t.slots, grp, &c0, &c1);
            for (int64_t ch = c0; ch < c1; ch++) {
                int64_t n0 = ch * t.per_chunk, n1 = n0 + t.per_chunk < g.n ? n0 + t.per_chunk : g.n, rows = (n1 - n0) * p;
                const float *gyc = gy + n0 * p * f;
                if (gw) {
                    px_im2col_nhwc(&g, x, cols, n0, n1);
                    px_op_gemm(nd, &(px_gemm_args){.trans_a = true, .m = k, .n = f, .k = rows, .a = cols, .lda = k, .b = gyc,
                            .ldb = f, .beta = 1.0f, .c = pw, .ldc = f});
                }
                if (gx) {
                    /* the chunk's columns are spent: their memory takes dcols */
                    px_op_gemm(nd, &(px_gemm_args){.trans_b = true, .m = rows, .n = k, .k = f, .a = gyc, .lda = f, .b = w,
                            .ldb = f, .c = cols, .ldc = k});
                    for (int64_t n = n0; n < n1; n++) {
                        if (clear_x) memset(gx + n * img, 0, (size_t)img * sizeof *gx);
                        px_col2im_nhwc(&g, cols + (n - n0) * p * k, gx + n * img);
                    }
                }
            }
        }
    }
    /* the groups' partial sums, added in a fixed order */
    for (int64_t i = 0; gw && i < t.slots; i++) {
        const float *pw = (float *)state + i * t.slot + t.part;
        for (int64_t e = 0; e < k * f; e++) gw[e] += pw[e];
    }
}

static void conv_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                          const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out;
    px_conv_geom g = geom_of(nd, px_tensor_shape(in[0]), px_tensor_shape(in[1]));
    const int64_t m = g.n * g.oh * g.ow, k = g.kh * g.kw * g.c, f = g.f;
    const float *w = in[1]->data, *gy = gout->data;
    float *gx = gin[0] ? gin[0]->data : NULL, *gw = gin[1] ? gin[1]->data : NULL;
    float *gb = nd->n_inputs == 3 && gin[2] ? gin[2]->data : NULL;
    /* fresh gradients (PX_OPF_OVERWRITES_ON_CPU: this op is their first writer)
     * hold garbage: the kernel's and bias's (small) are zeroed here, the
     * input's image by image where it is summed (clear_x; oneDNN's chunks
     * store 0 + dx), so that the sums are those of the session's zeroing, bit
     * for bit */
    bool clear_x = gx && ex->fresh && ex->fresh[0];
    if (gw && ex->fresh && ex->fresh[1]) memset(gw, 0, (size_t)(k * f) * sizeof *gw);
    if (gb && ex->fresh && ex->fresh[2]) memset(gb, 0, (size_t)f * sizeof *gb);
    if (g.n == 0) return; /* an empty batch adds nothing to the kernel's and bias's gradients */
    px_conv_dnnl_plan dp;
    bool dnnl = use_dnnl(&g, &dp);
    if (dnnl && px_conv_dnnl_backward(&dp, &g, in[0]->data, w, gy, gx, clear_x, gw, gb, ex->state,
                                      px_conv_threads(dp.slots, m * k)))
        return; /* (when oneDNN fails, out of memory, it has added nothing: the im2col path below) */
    if (!dnnl && use_tiled(&g)) {
        conv_backward_tiled(&g, w, gy, gx, clear_x, gw, gb, ex->state);
        return;
    }
    if (clear_x && is_pointwise(&g)) memset(gx, 0, (size_t)(g.n * g.h * g.w * g.c) * sizeof *gx);
    if (gb)
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < f; j++) gb[j] += gy[r * f + j];
    if (is_pointwise(&g)) {
        if (gw) px_op_gemm(nd, &(px_gemm_args){.trans_a = true, .m = k, .n = f, .k = m, .a = in[0]->data, .lda = k, .b = gy,
                .ldb = f, .beta = 1.0f, .c = gw, .ldc = f});
        if (gx) px_op_gemm(nd, &(px_gemm_args){.trans_b = true, .m = m, .n = k, .k = f, .a = gy, .lda = f, .b = w, .ldb = f,
                .beta = 1.0f, .c = gx, .ldc = k});
        return;
    }
    conv_backward_gemm(nd, &g, in[0]->data, w, gy, gx, clear_x, gw, ex->state);
}

static const px_op_def conv2d_def = {"conv2d", PX_OPF_SAVE_INPUTS | PX_OPF_OVERWRITES_ON_CPU, conv_infer, conv_state_bytes, conv_forward,
                                     conv_backward, PX_K_CONV2D};

static px_node *make_conv2d(const char *op, px_node *x, px_node *kernel, px_node *bias, int sh, int sw,
                            px_padding padding, int dh, int dw) {
    if (!x || !kernel) return px_null_input(__func__);
    if (sh < 1 || sw < 1 || dh < 1 || dw < 1) {
        px_set_error(PX_ERR_ARG, "%s: strides (%d, %d) and dilation (%d, %d) must be at least 1", op, sh, sw, dh, dw);
        return NULL;
    }
    if (padding != PX_PADDING_VALID && padding != PX_PADDING_SAME && padding != PX_PADDING_CAUSAL) {
        px_set_error(PX_ERR_ARG, "%s: unknown padding %d", op, (int)padding);
        return NULL;
    }
    int64_t attr[5] = {sh, sw, padding, dh, dw};
    px_node *ins[3] = {x, kernel, bias};
    return px_node_make(&conv2d_def, ins, bias ? 3 : 2, attr, 5, NULL, 0);
}

px_node *px_conv2d(px_node *x, px_node *kernel, int stride_h, int stride_w, px_padding padding, int dilation_h,
                   int dilation_w) {
    return make_conv2d("conv2d", x, kernel, NULL, stride_h, stride_w, padding, dilation_h, dilation_w);
}

px_node *px_conv2d_bias(px_node *x, px_node *kernel, px_node *bias, int stride_h, int stride_w, px_padding padding,
                        int dilation_h, int dilation_w) {
    if (!bias) return px_null_input(__func__);
    return make_conv2d("conv2d", x, kernel, bias, stride_h, stride_w, padding, dilation_h, dilation_w);
}

/* Conv1D is Conv2D over a height of one: (N, L, C) -> (N, 1, L, C), kernel (1, k, C, F). */
px_node *px_conv1d_bias(px_node *x, px_node *kernel, px_node *bias, int stride, px_padding padding, int dilation) {
    if (!x || !kernel) return px_null_input(__func__);
    px_shape xs = px_node_shape(x), ks = px_node_shape(kernel);
    char sx[96], sk[96];
    if (xs.rank != 3 || ks.rank != 3) {
        px_set_error(PX_ERR_SHAPE, "conv1d: input %s must be (N, L, C) and kernel %s (k, C, F)",
                     px_shape_format(xs, sx, sizeof sx), px_shape_format(ks, sk, sizeof sk));
        return NULL;
    }
    if (xs.dim[0] == PX_UNKNOWN && xs.dim[1] == PX_UNKNOWN) {
        px_set_error(PX_ERR_SHAPE, "conv1d: input %s needs a known batch or length",
                     px_shape_format(xs, sx, sizeof sx));
        return NULL;
    }
    px_node *x4 = px_reshape(x, PX_SHAPE(xs.dim[0] == PX_UNKNOWN ? -1 : xs.dim[0], 1,
                                         xs.dim[0] == PX_UNKNOWN ? xs.dim[1] : -1, xs.dim[2]));
    px_node *k4 = px_reshape(kernel, PX_SHAPE(1, ks.dim[0], ks.dim[1], ks.dim[2]));
    px_node *y = make_conv2d("conv1d", x4, k4, bias, 1, stride, padding, 1, dilation);
    if (!y) return px_null_input(__func__);
    px_shape ys = px_node_shape(y);
    return px_reshape(y, PX_SHAPE(ys.dim[0] == PX_UNKNOWN ? -1 : ys.dim[0], ys.dim[0] == PX_UNKNOWN ? ys.dim[2] : -1,
                                  ys.dim[3]));
}

px_node *px_conv1d(px_node *x, px_node *kernel, int stride, px_padding padding, int dilation) {
    return px_conv1d_bias(x, kernel, NULL, stride, padding, dilation);
}
