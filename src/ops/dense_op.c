/* The fused Dense op: activation(x @ kernel + bias) as one node, so the bias and
 * activation are one pass over each output row and the backward pass one pass too. */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/gemm.h"
#include "backend/kernels/unary.h"
#include "ops/op_util.h"
#include "plexus/activations.h"

/* iattr: [0] activation (PX_LINEAR, PX_RELU, PX_SIGMOID, PX_TANH), [1] has bias.
 * The device kernels read the activation as px_dense_act (backend/op_codes.h). */
_Static_assert(PX_LINEAR == (int)PX_DENSE_LINEAR && PX_RELU == (int)PX_DENSE_RELU &&
                   PX_SIGMOID == (int)PX_DENSE_SIGMOID && PX_TANH == (int)PX_DENSE_TANH,
               "px_dense_act mirrors px_activation");

/* The formulas are those of the separate ops (backend/kernels/unary.h), so the fused
 * op gives bit-identical values. */

static px_status dense_infer(const px_node *nd, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sa[96], sb[96];
    for (int i = 0; i < nd->n_inputs; i++)
        if (nd->inputs[i]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "dense: inputs must be float32");
    px_shape x = in[0], w = in[1];
    if (x.rank < 2 || w.rank != 2)
        return px_set_error(PX_ERR_SHAPE, "dense: needs an input of rank >= 2 and a rank-2 kernel, got %s and %s",
                            px_shape_format(x, sa, sizeof sa), px_shape_format(w, sb, sizeof sb));
    int64_t xin = x.dim[x.rank - 1];
    if (xin != w.dim[0] && xin != PX_UNKNOWN && w.dim[0] != PX_UNKNOWN)
        return px_set_error(PX_ERR_SHAPE, "dense: input %s does not fit kernel %s: last axis %lld, kernel rows %lld",
                            px_shape_format(x, sa, sizeof sa), px_shape_format(w, sb, sizeof sb), (long long)xin,
                            (long long)w.dim[0]);
    if (nd->n_inputs == 3) {
        px_shape b = in[2];
        if (b.rank != 1 || (b.dim[0] != w.dim[1] && b.dim[0] != PX_UNKNOWN && w.dim[1] != PX_UNKNOWN))
            return px_set_error(PX_ERR_SHAPE, "dense: bias %s does not match kernel %s (needs (%lld,))",
                                px_shape_format(b, sa, sizeof sa), px_shape_format(w, sb, sizeof sb),
                                (long long)w.dim[1]);
    }
    *out = x;
    out->dim[x.rank - 1] = w.dim[1];
    *dt = PX_F32;
    return PX_OK;
}

/* dZ, the gradient at the pre-activation, is kept in the op's state: the output
 * gradient may be read by others (a wanted gradient), so it is not overwritten. */
static size_t dense_state_bytes(const px_node *nd, const px_shape *in, px_shape out) {
    (void)in;
    return nd->iattr[0] == PX_LINEAR ? 0 : (size_t)px_shape_size(out) * sizeof(float);
}

/* y = act(y + b) on one row, in place, right after the product wrote it. */
static void epilogue_row(int act, const float *restrict b, float *restrict y, int64_t n) {
    if (b) {
        switch (act) {
        case PX_RELU:
            for (int64_t j = 0; j < n; j++) {
                float v = y[j] + b[j];
                y[j] = v > 0 || v != v ? v : 0.0f; /* NaN passes, as in the relu op */
            }
            break;
        case PX_SIGMOID: for (int64_t j = 0; j < n; j++) y[j] = pxk_sigmoid(y[j] + b[j]); break;
        case PX_TANH: for (int64_t j = 0; j < n; j++) y[j] = pxk_unary_fwd(PX_K_TANH, y[j] + b[j], 0, 0); break;
        default: for (int64_t j = 0; j < n; j++) y[j] += b[j]; break;
        }
    } else {
        switch (act) {
        case PX_RELU: for (int64_t j = 0; j < n; j++) y[j] = y[j] > 0 || y[j] != y[j] ? y[j] : 0.0f; break;
        case PX_SIGMOID: for (int64_t j = 0; j < n; j++) y[j] = pxk_sigmoid(y[j]); break;
        case PX_TANH: for (int64_t j = 0; j < n; j++) y[j] = pxk_unary_fwd(PX_K_TANH, y[j], 0, 0); break;
        default: break;
        }
    }
}

typedef struct epilogue_ctx {
    int act;
    const float *b;
    float *y;
    int64_t n;
} epilogue_ctx;

static void epilogue_rows(const void *ctx, int64_t r0, int64_t r1) {
    const epilogue_ctx *e = ctx;
    for (int64_t r = r0; r < r1; r++) epilogue_row(e->act, e->b, e->y + r * e->n, e->n);
}

static void dense_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    const px_tensor *w = in[1];
    int64_t k = w->shape[0], n = w->shape[1];
    int64_t m = k ? px_tensor_size(in[0]) / k : px_tensor_size(out) / (n ? n : 1);
    float *y = out->data;
    const float *b = nd->n_inputs == 3 ? in[2]->data : NULL;
    int act = (int)nd->iattr[0];
    px_gemm_args g = {.m = m, .n = n, .k = k, .a = in[0]->data, .lda = k, .b = w->data, .ldb = n, .c = y, .ldc = n,
                      .b_fixed = nd->inputs[1]->kind == PX_NODE_VARIABLE};
    if (!b && act == PX_LINEAR) {
        px_op_gemm(nd, &g);
        return;
    }
    /* the epilogue on each tile of the product while it is in cache where the
     * product is cut in row tiles (batch-1,000 inference) or its K split
     * (the first layer at batch 32), on the thread that holds the rows; else
     * one pass after */
    epilogue_ctx e = {act, b, y, n};
    if (px_op_gemm_then_rows(nd, &g, epilogue_rows, &e)) return;
    PX_FOR(r, m, m * n, epilogue_row(act, b, y + r * n, n););
}

/* dz = g * act'(y) on one row (y is the op's output), vectorized: a branchy
 * scalar relu loop mispredicts on every sign change. */
static void dz_row(int act, const float *restrict g, const float *restrict y, float *restrict dz, int64_t n) {
    switch (act) {
    case PX_RELU: /* g read unconditionally: a conditional load would not vectorize */
        for (int64_t j = 0; j < n; j++) {
            float gj = g[j];
            dz[j] = y[j] > 0 ? gj : 0.0f;
        }
        break;
    case PX_SIGMOID: for (int64_t j = 0; j < n; j++) dz[j] = g[j] * y[j] * (1.0f - y[j]); break;
    case PX_TANH: for (int64_t j = 0; j < n; j++) dz[j] = g[j] * (1.0f - y[j] * y[j]); break;
    default: memcpy(dz, g, (size_t)n * sizeof *dz); break;
    }
}

/* dX and dW read nothing the other writes (W is read, not written, without
 * the SGD fold). When each is a product px_gemm runs on one thread anyway and
 * large enough to be worth a hand-off (the MLP's second layer at batch 32:
 * 0.96M multiply-adds each), both are cut near W's middle row (on a multiple
 * of 16, so the halves of dX's rows do not share a cache line), fixed by the
 * shape: half h computes dW's rows and dX's columns (dZ times those rows of W,
 * transposed) of its half, on thread h at two threads, one after the other at
 * one. Run side by side whole, dX and dW took about the same time as the
 * halves, but thread h now writes most of the rows of dW that Adam's slice on
 * thread h then reads (optim_split.c): that update went from 17-19 to 10 us
 * per step. A part of a product is one BLAS call over the whole inner axis,
 * whose elements get the same bits as in the whole product (test_dense_op
 * compares them with the unfused graph's). */
#define HALVES_MIN_MACS (1 << 18)

static bool in_halves(const px_gemm_args *gx, const px_gemm_args *gw) {
    return (double)gx->m * (double)gx->n * (double)gx->k >= HALVES_MIN_MACS &&
           (double)gw->m * (double)gw->n * (double)gw->k >= HALVES_MIN_MACS && px_gemm_one_thread(gx) &&
           px_gemm_one_thread(gw);
}

/* Half h of dX = dZ W^T (its columns) and of dW = X^T dZ (its rows): W's rows [r0, r1). */
static void backward_half(const px_node *nd, const px_gemm_args *gx, const px_gemm_args *gw, int64_t k, int h) {
    int64_t r0 = px_gemm_tile_cut(k, 2, h), r1 = px_gemm_tile_cut(k, 2, h + 1);
    px_gemm_args x = *gx, w = *gw;
    x.n = r1 - r0, x.b = gx->b + r0 * gx->ldb, x.c = gx->c + r0;
    w.m = r1 - r0, w.a = gw->a + r0, w.c = gw->c + r0 * gw->ldc;
    px_op_gemm(nd, &x);
    px_op_gemm(nd, &w);
}

static void dense_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                           const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    const px_tensor *x = in[0], *w = in[1];
    int64_t k = w->shape[0], n = w->shape[1];
    int64_t m = k ? px_tensor_size(x) / k : px_tensor_size(out) / (n ? n : 1);
    int act = (int)nd->iattr[0];
    const float *g = gout->data, *y = out->data;
    bool has_b = nd->n_inputs == 3;
    float *gb = has_b && gin[2] ? gin[2]->data : NULL;
    bool fresh_x = ex->fresh && ex->fresh[0], fresh_w = ex->fresh && ex->fresh[1];
    bool fresh_b = gb && ex->fresh && ex->fresh[2];
    /* dZ: the incoming gradient itself for a linear layer, else g * act'(y) */
    const float *dz = g;
    if (act != PX_LINEAR) {
        float *d = ex->state;
        PX_FOR(r, m, m * n, dz_row(act, g + r * n, y + r * n, d + r * n, n););
        dz = d;
    }
    /* db = column sums of dZ, rows added in order (as the broadcasting add does) */
    if (gb) {
        if (fresh_b) memset(gb, 0, (size_t)n * sizeof *gb);
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < n; j++) gb[j] += dz[r * n + j];
    }
    /* dX = dZ W^T */
    px_gemm_args gx = {.trans_b = true, .m = m, .n = k, .k = n, .a = dz, .lda = n, .b = w->data, .ldb = n,
                       .beta = fresh_x ? 0.0f : 1.0f, .c = gin[0] ? gin[0]->data : NULL, .ldc = k};
    if (ex->fold_lr > 0) { /* plain SGD folded in, after dX read the old W: W -= lr X^T dZ */
        if (gin[0]) px_op_gemm(nd, &gx);
        px_op_gemm(nd, &(px_gemm_args){.trans_a = true, .m = k, .n = n, .k = m, .alpha = -ex->fold_lr, .a = x->data,
                .lda = k, .b = dz, .ldb = n, .beta = 1.0f, .c = (float *)w->data, .ldc = n});
        return;
    }
    /* dW = X^T dZ */
    px_gemm_args gw = {.trans_a = true, .m = k, .n = n, .k = m, .a = x->data, .lda = k, .b = dz, .ldb = n,
                       .beta = fresh_w ? 0.0f : 1.0f, .c = gin[1] ? gin[1]->data : NULL, .ldc = n};
    if (gin[0] && gin[1] && k >= 2 && in_halves(&gx, &gw)) {
#ifdef _OPENMP
        bool two = omp_get_max_threads() >= 2 && !omp_in_parallel();
#pragma omp parallel for num_threads(2) schedule(static) if (two)
#endif
        for (int h = 0; h < 2; h++) backward_half(nd, &gx, &gw, k, h);
        return;
    }
    if (gin[0]) px_op_gemm(nd, &gx);
    if (gin[1]) px_op_gemm(nd, &gw);
}

/* One definition per activation: a linear layer's backward reads neither its
 * output nor any state, so its output need not outlive the next op. */
#define DENSE_DEF(OUTFLAG, STATE) \
    {"dense", PX_OPF_SAVE_INPUTS | PX_OPF_OVERWRITES | PX_OPF_FOLDS_SGD | (OUTFLAG), dense_infer, STATE, dense_forward, dense_backward, \
     PX_K_DENSE}
static const px_op_def dense_defs[4] = {
    [PX_LINEAR] = DENSE_DEF(0, NULL),
    [PX_RELU] = DENSE_DEF(PX_OPF_SAVE_OUTPUT, dense_state_bytes),
    [PX_SIGMOID] = DENSE_DEF(PX_OPF_SAVE_OUTPUT, dense_state_bytes),
    [PX_TANH] = DENSE_DEF(PX_OPF_SAVE_OUTPUT, dense_state_bytes),
};

px_node *px_dense_op(px_node *x, px_node *kernel, px_node *bias, int activation) {
    if (activation != PX_LINEAR && activation != PX_RELU && activation != PX_SIGMOID && activation != PX_TANH) {
        if (!x || !kernel) return px_null_input(__func__); /* keep the first error, as every op does */
        px_set_error(PX_ERR_ARG, "dense: activation %d cannot be fused (only linear, relu, sigmoid, tanh)",
                     activation);
        return NULL;
    }
    int64_t attr[2] = {activation, bias != NULL};
    return px_node_make(&dense_defs[activation], (px_node *[]){x, kernel, bias}, bias ? 3 : 2, attr, 2, NULL, 0);
}
