/* Matrix product on the last two axes, with optional transposes and batch axes,
 * forward and backward, through px_gemm. */
#include "backend/cpu/gemm.h"
#include "backend/kernels/helpers.h"
#include "ops/op_util.h"

/* iattr: [0] transpose_a, [1] transpose_b */

typedef pxk_mm mm_dims; /* backend/kernels/helpers.h, shared with the device kernels */

static px_status mm_shapes(const px_node *nd, px_shape a, px_shape b, px_shape *out) {
    bool ta = nd->iattr[0], tb = nd->iattr[1];
    char sa[96], sb[96];
    if (a.rank < 2 || b.rank < 2)
        return px_set_error(PX_ERR_SHAPE, "matmul: both operands need rank >= 2, got %s and %s",
                            px_shape_format(a, sa, sizeof sa), px_shape_format(b, sb, sizeof sb));
    int64_t ar = a.dim[a.rank - 2], ac = a.dim[a.rank - 1];
    int64_t br = b.dim[b.rank - 2], bc = b.dim[b.rank - 1];
    int64_t m = ta ? ac : ar, ka = ta ? ar : ac, kb = tb ? bc : br, n = tb ? br : bc;
    if (ka != kb && ka != PX_UNKNOWN && kb != PX_UNKNOWN)
        return px_set_error(PX_ERR_SHAPE,
                            "matmul: cannot multiply %s%s by %s%s: inner dimensions %lld and %lld differ",
                            px_shape_format(a, sa, sizeof sa), ta ? " (transposed)" : "",
                            px_shape_format(b, sb, sizeof sb), tb ? " (transposed)" : "",
                            (long long)ka, (long long)kb);
    px_shape o;
    if (b.rank == 2 && !ta) {
        /* shared weights: A's leading axes ride along as extra rows */
        o = a;
        o.dim[a.rank - 1] = n;

    } else {
        px_shape lead = a.rank >= b.rank ? a : b;
        if (a.rank != b.rank && a.rank != 2 && b.rank != 2)
            return px_set_error(PX_ERR_SHAPE, "matmul: batch axes of %s and %s do not match",
                                px_shape_format(a, sa, sizeof sa), px_shape_format(b, sb, sizeof sb));
        if (a.rank == b.rank)
            for (int i = 0; i < a.rank - 2; i++)
                if (a.dim[i] != b.dim[i] && a.dim[i] != PX_UNKNOWN && b.dim[i] != PX_UNKNOWN)
                    return px_set_error(PX_ERR_SHAPE, "matmul: batch axes of %s and %s differ at axis %d",
                                        px_shape_format(a, sa, sizeof sa),
                                        px_shape_format(b, sb, sizeof sb), i);
        o = lead;
        o.dim[o.rank - 2] = m;
        o.dim[o.rank - 1] = n;

    }
    *out = o;
    return PX_OK;
}

/* The dims for tensors at run time. Same rules as mm_shapes (which infer has
 * already checked), read straight from the tensors: this runs every step. */
static void mm_dims_of(const px_node *nd, const px_tensor *a, const px_tensor *b, mm_dims *d) {
    pxk_mm_dims(nd->iattr[0], nd->iattr[1], a, b, d);
}

static px_status matmul_infer(const px_node *nd, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (nd->inputs[0]->dtype != PX_F32 || nd->inputs[1]->dtype != PX_F32)
        return px_set_error(PX_ERR_ARG, "matmul: inputs must be float32");
    *dt = PX_F32;
    return mm_shapes(nd, in[0], in[1], out);
}

static void matmul_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    mm_dims d;
    mm_dims_of(nd, in[0], in[1], &d);
    bool ta = nd->iattr[0], tb = nd->iattr[1];
    const float *a = in[0]->data, *b = in[1]->data;
    float *c = out->data;
    for (int64_t i = 0; i < d.batch; i++)
        px_op_gemm(nd, &(px_gemm_args){.trans_a = ta, .trans_b = tb, .m = d.m, .n = d.n, .k = d.k, .a = a + i * d.a_stride,
                .lda = d.lda, .b = b + i * d.b_stride, .ldb = d.ldb, .c = c + i * d.m * d.n, .ldc = d.n});
}

static void matmul_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                            const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out;
    mm_dims d;
    mm_dims_of(nd, in[0], in[1], &d);
    bool ta = nd->iattr[0], tb = nd->iattr[1];
    const float *a = in[0]->data, *b = in[1]->data, *g = gout->data;
    /* a fresh gradient is stored (beta 0) by its first product, then accumulated */
    bool fresh_a = ex->fresh && ex->fresh[0], fresh_b = ex->fresh && ex->fresh[1];
    for (int64_t i = 0; i < d.batch; i++) {
        const float *ai = a + i * d.a_stride, *bi = b + i * d.b_stride, *gi = g + i * d.m * d.n;
        if (gin[0]) {
            float *ga = (float *)gin[0]->data + i * d.a_stride;
            float beta = fresh_a && (i == 0 || d.a_stride) ? 0.0f : 1.0f;
            /* A is stored m x k (or k x m when transposed) */
            if (!ta) px_op_gemm(nd, &(px_gemm_args){.trans_b = !tb, .m = d.m, .n = d.k, .k = d.n, .a = gi, .lda = d.n,
                    .b = bi, .ldb = d.ldb, .beta = beta, .c = ga, .ldc = d.lda});
            else px_op_gemm(nd, &(px_gemm_args){.trans_a = tb, .trans_b = true, .m = d.k, .n = d.m, .k = d.n, .a = bi,
                    .lda = d.ldb, .b = gi, .ldb = d.n, .beta = beta, .c = ga, .ldc = d.lda});
        }
        if (gin[1]) {
            float *gb = (float *)gin[1]->data + i * d.b_stride;
            float beta = fresh_b && (i == 0 || d.b_stride) ? 0.0f : 1.0f;
            if (!tb) px_op_gemm(nd, &(px_gemm_args){.trans_a = !ta, .m = d.k, .n = d.n, .k = d.m, .a = ai, .lda = d.lda,
                    .b = gi, .ldb = d.n, .beta = beta, .c = gb, .ldc = d.ldb});
            else px_op_gemm(nd, &(px_gemm_args){.trans_a = true, .trans_b = ta, .m = d.n, .n = d.k, .k = d.m, .a = gi,
                    .lda = d.n, .b = ai, .ldb = d.lda, .beta = beta, .c = gb, .ldc = d.ldb});
        }
    }
}

static const px_op_def matmul_def = {"matmul", PX_OPF_SAVE_INPUTS | PX_OPF_OVERWRITES, matmul_infer, NULL, matmul_forward,
                                     matmul_backward, PX_K_MATMUL};

px_node *px_matmul_t(px_node *a, px_node *b, bool transpose_a, bool transpose_b) {
    int64_t attr[2] = {transpose_a, transpose_b};
    return px_node_make(&matmul_def, (px_node *[]){a, b}, 2, attr, 2, NULL, 0);
}

px_node *px_matmul(px_node *a, px_node *b) { return px_matmul_t(a, b, false, false); }
