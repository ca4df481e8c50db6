/* Broadcasting arithmetic: add, sub, mul, div, and the scalar forms x + c, x * c.
 * Each forward pass sits beside its backward pass; the formulas are those of
 * backend/kernels/unary.h, which the device kernels share. */
#include <string.h>

#include "backend/kernels/unary.h"
#include "ops/broadcast.h"
#include "ops/op_util.h"

static px_status binary_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (n->inputs[0]->dtype != PX_F32 || n->inputs[1]->dtype != PX_F32)
        return px_set_error(PX_ERR_ARG, "%s: inputs must be float32", n->op->name);
    *dt = PX_F32;
    return px_broadcast_shape(n->op->name, in[0], in[1], out);
}

/* One row of the output, with each operand's inner stride 0 or 1. The switch is
 * hoisted out of the loop by the compiler since `op` is loop-invariant. */
static void forward_row(int op, int64_t n, const float *a, int64_t sa, const float *b, int64_t sb,
                        float *o) {
    if (sa && sb) {
        for (int64_t i = 0; i < n; i++) o[i] = pxk_binary(op, a[i], b[i]);
    } else if (sa) {
        float y = b[0];
        for (int64_t i = 0; i < n; i++) o[i] = pxk_binary(op, a[i], y);
    } else if (sb) {
        float x = a[0];
        for (int64_t i = 0; i < n; i++) o[i] = pxk_binary(op, x, b[i]);
    } else {
        float v = pxk_binary(op, a[0], b[0]);
        for (int64_t i = 0; i < n; i++) o[i] = v;
    }
}

/* True when a has the output's size and b is one row of the last axis, broadcast
 * over all the others: the bias-add of every Dense layer, worth a direct loop. */
static bool row_broadcast(const px_tensor *a, const px_tensor *b, int64_t total, int64_t inner) {
    return px_tensor_size(a) == total && b->rank >= 1 && b->shape[b->rank - 1] == inner &&
           px_tensor_size(b) == inner && inner > 0;
}

static void binary_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    int op = (int)n->iattr[0];
    const float *a = in[0]->data, *b = in[1]->data;
    float *o = out->data;
    int64_t total = px_tensor_size(out);
    if (px_tensor_size(in[0]) == total && px_tensor_size(in[1]) == total) {
        PX_FOR(i, total, total, o[i] = pxk_binary(op, a[i], b[i]););
        return;
    }
    int64_t inner = out->rank ? out->shape[out->rank - 1] : 1;
    if (row_broadcast(in[0], in[1], total, inner)) { /* x + bias: b repeats along the rows */
        PX_FOR(r, total / inner, total, forward_row(op, inner, a + r * inner, 1, b, 1, o + r * inner););
        return;
    }
    px_bcast p;
    px_bcast_init(&p, in[0], in[1], out);
    int64_t sa = p.sa[p.rank - 1], sb = p.sb[p.rank - 1];
    PX_FOR(r, p.outer, total, 
        int64_t oa, ob;
        px_bcast_row(&p, r, &oa, &ob);
        forward_row(op, p.inner, a + oa, sa, b + ob, sb, o + r * p.inner);
    );
}

static void binary_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                            const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    int op = (int)n->iattr[0];
    const float *a = in[0]->data, *b = in[1]->data, *g = gout->data;
    float *ga = gin[0] ? gin[0]->data : NULL, *gb = gin[1] ? gin[1]->data : NULL;
    /* fresh gradients are stored where a loop writes each element once, else zeroed first */
    bool fresh_a = ga && ex->fresh && ex->fresh[0], fresh_b = gb && ex->fresh && ex->fresh[1];
    int64_t total = px_tensor_size(out);
    if (px_tensor_size(in[0]) == total && px_tensor_size(in[1]) == total) {
        if (fresh_a) PX_FOR(i, total, total, ga[i] = pxk_binary_ga(op, g[i], b[i]););
        else if (ga) PX_FOR(i, total, total, ga[i] += pxk_binary_ga(op, g[i], b[i]););
        if (fresh_b) PX_FOR(i, total, total, gb[i] = pxk_binary_gb(op, g[i], a[i], b[i]););
        else if (gb) PX_FOR(i, total, total, gb[i] += pxk_binary_gb(op, g[i], a[i], b[i]););
        return;
    }
    if (fresh_b) memset(gb, 0, (size_t)px_tensor_size(in[1]) * sizeof *gb);
    int64_t inner = out->rank ? out->shape[out->rank - 1] : 1;
    if (row_broadcast(in[0], in[1], total, inner)) {
        int64_t rows = total / inner;
        if (fresh_a)
            PX_FOR(r, rows, total, for (int64_t j = 0; j < inner; j++) ga[r * inner + j] = pxk_binary_ga(op, g[r * inner + j], b[j]););
        else if (ga)
            PX_FOR(r, rows, total, for (int64_t j = 0; j < inner; j++) ga[r * inner + j] += pxk_binary_ga(op, g[r * inner + j], b[j]););
        if (gb)
            for (int64_t r = 0; r < rows; r++)
                for (int64_t j = 0; j < inner; j++) gb[j] += pxk_binary_gb(op, g[r * inner + j], a[r * inner + j], b[j]);
        return;
    }
    if (fresh_a) memset(ga, 0, (size_t)px_tensor_size(in[0]) * sizeof *ga);
    /* Broadcast operands receive sums over the broadcast axes; rows may scatter
     * into the same elements, so this path stays serial. */
    px_bcast p;
    px_bcast_init(&p, in[0], in[1], out);
    int64_t sa = p.sa[p.rank - 1], sb = p.sb[p.rank - 1];
    for (int64_t r = 0; r < p.outer; r++) {
        int64_t oa, ob;
        px_bcast_row(&p, r, &oa, &ob);
        const float *gr = g + r * p.inner;
        if (ga) {
            if (sa) {
                for (int64_t i = 0; i < p.inner; i++) ga[oa + i] += pxk_binary_ga(op, gr[i], b[ob + i * sb]);
            } else {
                float acc = 0;
                for (int64_t i = 0; i < p.inner; i++) acc += pxk_binary_ga(op, gr[i], b[ob + i * sb]);
                ga[oa] += acc;
            }
        }
        if (gb) {
            if (sb) {
                for (int64_t i = 0; i < p.inner; i++)
                    gb[ob + i] += pxk_binary_gb(op, gr[i], a[oa + i * sa], b[ob + i]);
            } else {
                float acc = 0;
                for (int64_t i = 0; i < p.inner; i++) acc += pxk_binary_gb(op, gr[i], a[oa + i * sa], b[ob]);
                gb[ob] += acc;
            }
        }
    }
}

#define BINARY_OP(NAME, CODE, FLAGS)                                                                 \
    static const px_op_def NAME##_def = {#NAME, (FLAGS) | PX_OPF_OVERWRITES, binary_infer, NULL,     \
                                         binary_forward, binary_backward, PX_K_BINARY};              \
    px_node *px_##NAME(px_node *a, px_node *b) {                                                     \
        int64_t code = CODE;                                                                         \
        return px_node_make(&NAME##_def, (px_node *[]){a, b}, 2, &code, 1, NULL, 0);                 \
    }

BINARY_OP(add, PX_BIN_ADD, 0)
BINARY_OP(sub, PX_BIN_SUB, 0)
BINARY_OP(mul, PX_BIN_MUL, PX_OPF_SAVE_INPUTS)
BINARY_OP(div, PX_BIN_DIV, PX_OPF_SAVE_INPUTS)

/* ---- x + c and x * c ---- */

static void add_scalar_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    const float *x = in[0]->data, c = n->fattr[0];
    float *o = out->data;
    int64_t total = px_tensor_size(out);
    PX_FOR(i, total, total, o[i] = x[i] + c;);
}
static void add_scalar_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                                const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)in, (void)ex;
    px_accumulate(gin[0], gout, 1.0f, px_tensor_size(out));
}
static void scale_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    const float *x = in[0]->data, c = n->fattr[0];
    float *o = out->data;
    int64_t total = px_tensor_size(out);
    PX_FOR(i, total, total, o[i] = x[i] * c;);
}
static void scale_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                           const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)in, (void)ex;
    px_accumulate(gin[0], gout, n->fattr[0], px_tensor_size(out));
}

static const px_op_def add_scalar_def = {"add_scalar", 0, px_infer_same_f32, NULL, add_scalar_forward,
                                         add_scalar_backward, PX_K_ADD_SCALAR};
static const px_op_def scale_def = {"scale", 0, px_infer_same_f32, NULL, scale_forward, scale_backward, PX_K_SCALE};

px_node *px_add_scalar(px_node *x, float c) {
    return px_node_make(&add_scalar_def, &x, 1, NULL, 0, &c, 1);
}
px_node *px_scale(px_node *x, float c) { return px_node_make(&scale_def, &x, 1, NULL, 0, &c, 1); }
