/* Training-time ops: inverted dropout, whose mask lives in the op's state
 * buffer between its forward and backward passes, and stop_gradient. */
#include <string.h>

#include "backend/kernels/philox.h"
#include "ops/op_util.h"

/* ---- dropout(x, rate): fattr[0] = rate ----
 *
 * State layout: a header word saying whether this forward pass applied a mask,
 * then one byte per element (1 = kept). The header is needed because backward
 * cannot rely on ex->training: in eager mode the training flag may be switched
 * between the forward pass and the gradient computation.
 *
 * Element i is kept when the counter-based generator's number i for the run's
 * seed (ex->seed) is at least the rate, so the mask depends on neither the
 * thread count nor the backend: a device drops the same units as the CPU. */

enum { MASK_HEADER = 16 }; /* keeps the mask bytes aligned like the rest of the state */

static size_t dropout_state_bytes(const px_node *n, const px_shape *in, px_shape out) {
    (void)in;
    return n->fattr[0] > 0 ? MASK_HEADER + (size_t)px_shape_size(out) : 0;
}

static void dropout_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    const float rate = n->fattr[0];
    const float *x = in[0]->data;
    float *y = out->data;
    int64_t count = px_tensor_size(out);
    if (!ex->state) { /* rate 0, or nothing to mask */
        if (count) memcpy(y, x, (size_t)count * sizeof *y);
        return;
    }
    uint32_t *applied = ex->state;
    uint8_t *mask = (uint8_t *)ex->state + MASK_HEADER;
    *applied = ex->training;
    if (!ex->training) {
        if (count) memcpy(y, x, (size_t)count * sizeof *y);
        return;
    }
    /* one generator call gives four numbers: elements 4q .. 4q + 3 */
    const uint32_t key[2] = {(uint32_t)ex->seed, (uint32_t)(ex->seed >> 32)};
    PX_FOR(q, (count + 3) / 4, count,
        const uint32_t ctr[4] = {(uint32_t)q, (uint32_t)((uint64_t)q >> 32), 0, 0};
        uint32_t w[4];
        pxk_philox4x32(ctr, key, w);
        for (int j = 0; j < 4 && 4 * q + j < count; j++)
            mask[4 * q + j] = pxk_to_uniform(w[j]) >= rate;
    );
    const float scale = 1.0f / (1.0f - rate);
    PX_FOR(i, count, count, y[i] = mask[i] ? x[i] * scale : 0.0f;);
}

static void dropout_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                             const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)in;
    if (!gin[0]) return;
    int64_t count = px_tensor_size(out);
    if (!ex->state || !*(const uint32_t *)ex->state) {
        px_accumulate(gin[0], gout, 1.0f, count);
        return;
    }
    const uint8_t *mask = (const uint8_t *)ex->state + MASK_HEADER;
    const float scale = 1.0f / (1.0f - n->fattr[0]), *g = gout->data;
    float *gx = gin[0]->data;
    PX_FOR(i, count, count, gx[i] += mask[i] ? g[i] * scale : 0.0f;);
}

static const px_op_def dropout_def = {"dropout", PX_OPF_RANDOM, px_infer_same_f32, dropout_state_bytes,
                                      dropout_forward, dropout_backward, PX_K_DROPOUT};

px_node *px_dropout(px_node *x, float rate) {
    if (!x) return px_null_input(__func__);
    if (!(rate >= 0.0f && rate < 1.0f)) {
        px_set_error(PX_ERR_ARG, "dropout: rate must be in [0, 1) (got %g)", rate);
        return NULL;
    }
    return px_node_make(&dropout_def, &x, 1, NULL, 0, &rate, 1);
}

/* ---- stop_gradient(x) ---- */

static void stop_gradient_forward(const px_node *n, const px_tensor *const *in, px_tensor *out,
                                  px_exec *ex) {
    (void)n, (void)ex;
    int64_t count = px_tensor_size(out);
    if (count) memcpy(out->data, in[0]->data, (size_t)count * sizeof(float));
}

/* Never called: NO_GRAD keeps the planner and the tape from scheduling it. */
static void stop_gradient_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                                   const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)in, (void)out, (void)gout, (void)gin, (void)ex;
}

static const px_op_def stop_gradient_def = {"stop_gradient", PX_OPF_NO_GRAD, px_infer_same_f32, NULL,
                                            stop_gradient_forward, stop_gradient_backward, PX_K_STOP_GRADIENT};

px_node *px_stop_gradient(px_node *x) { return px_node_make(&stop_gradient_def, &x, 1, NULL, 0, NULL, 0); }
