/* Helpers shared by the op files. */
#include "ops/op_util.h"

#include "backend/cpu/gemm_bf16.h"

px_status px_infer_same_f32(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (n->inputs[0]->dtype != PX_F32)
        return px_set_error(PX_ERR_ARG, "%s: input must be float32 (got int32)", n->op->name);
    *out = in[0];
    *dt = PX_F32;
    return PX_OK;
}

void px_accumulate(px_tensor *g, const px_tensor *src, float scale, int64_t count) {
    if (!g) return;
    float *d = g->data;
    const float *s = src->data;
    PX_FOR(i, count, count, d[i] += scale * s[i];);
}

void px_op_gemm(const px_node *nd, const px_gemm_args *g) {
    if (nd->bf16)
        px_gemm_bf16(g);
    else
        px_gemm(g);
}

bool px_op_gemm_then_rows(const px_node *nd, const px_gemm_args *g, px_gemm_rows_fn rows, const void *ctx) {
    if (!nd->bf16) return px_gemm_then_rows(g, rows, ctx);
    px_gemm_bf16(g);
    return false;
}
