/* attention_mask(scores, mask, causal): the attention scores with the positions
 * that may not be attended pushed to -1e9 before the softmax, as Keras does
 * (scores - 1e9 * (1 - keep)). The gradient passes to the scores unchanged (the
 * subtracted term is constant); the mask gets none. */
#include "ops/op_util.h"

/* Inputs: scores (B, ..., Tq, Tk); mask when iattr[1]: (B, Tk) (keys, e.g. padding),
 * (B, Tq, Tk) or (B, Tq, 1) (queries), 1 = attend, broadcast over the axes between. iattr[0]: causal
 * (key j > query i is masked, Keras's lower-triangular mask). */

#define MASKED 1e9f

static px_status am_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    char ss[96], sm[96];
    if (in[0].rank < 3) return px_set_error(PX_ERR_SHAPE, "attention_mask: scores %s need (batch, ..., queries, keys)", px_shape_format(in[0], ss, sizeof ss));
    if (n->iattr[1]) {
        px_shape m = in[1];
        int r = in[0].rank;
        bool ok = (m.rank == 2 || m.rank == 3) && (m.dim[m.rank - 1] == in[0].dim[r - 1] || m.dim[m.rank - 1] == PX_UNKNOWN ||
                                                    in[0].dim[r - 1] == PX_UNKNOWN || (m.rank == 3 && m.dim[2] == 1));
        if (ok && m.rank == 3) ok = m.dim[1] == in[0].dim[r - 2] || m.dim[1] == PX_UNKNOWN || in[0].dim[r - 2] == PX_UNKNOWN;
        if (!ok || n->inputs[1]->dtype != PX_F32)
            return px_set_error(PX_ERR_SHAPE, "attention_mask: mask %s must be float32 (batch, keys) or (batch, queries, keys) of scores %s",
                                px_shape_format(m, sm, sizeof sm), px_shape_format(in[0], ss, sizeof ss));
    }
    *out = in[0];
    *dt = PX_F32;
    return PX_OK;
}

static void am_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    const px_tensor *s = in[0];
    const int r = s->rank;
    const int64_t Tq = s->shape[r - 2], Tk = s->shape[r - 1], B = s->shape[0];
    const int64_t per_b = B ? px_tensor_size(s) / B : 0, mats = Tq > 0 && Tk > 0 ? per_b / (Tq * Tk) : 0;
    const bool causal = n->iattr[0];
    const px_tensor *m = n->iattr[1] ? in[1] : NULL;
    const float *x = s->data, *mk = m ? m->data : NULL;
    float *y = out->data;
    const bool full = m && m->rank == 3 && m->shape[2] == Tk, rows = m && m->rank == 3 && !full;
    PX_FOR(b, B, per_b,
        for (int64_t h = 0; h < mats; h++)
            for (int64_t i = 0; i < Tq; i++)
                for (int64_t j = 0; j < Tk; j++) {
                    int64_t o = ((b * mats + h) * Tq + i) * Tk + j;
                    float keep = causal && j > i ? 0.0f : 1.0f;
                    if (mk) keep *= full ? mk[(b * Tq + i) * Tk + j] : rows ? mk[b * Tq + i] : mk[b * Tk + j];
                    y[o] = x[o] - MASKED * (1.0f - keep);
                });
}

static void am_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, const px_tensor *gout,
                        px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)in, (void)ex;
    px_accumulate(gin[0], gout, 1.0f, px_tensor_size(out));
}

static const px_op_def am_def = {"attention_mask", PX_OPF_SAVE_INPUTS, am_infer, NULL, am_forward, am_backward, PX_K_ATTENTION_MASK};

px_node *px_attention_mask(px_node *scores, px_node *mask, bool causal) {
    if (!scores) return px_null_input(__func__);
    int64_t attr[2] = {causal, mask != NULL};
    px_node *ins[2] = {scores, mask};
    return px_node_make(&am_def, ins, mask ? 2 : 1, attr, 2, NULL, 0);
}
