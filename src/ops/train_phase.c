/* in_train_phase(x, alt): Keras's backend.in_train_phase, the join of a layer's call
 * that branches on the training flag (x in training runs, alt in inference). */
#include <string.h>

#include "ops/op_util.h"

/* State: one word saying which input the forward pass passed on, because backward
 * cannot rely on ex->training (eager mode may switch it in between). */
enum { PHASE_STATE = 16 };

static px_status phase_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (n->inputs[0]->dtype != PX_F32 || n->inputs[1]->dtype != PX_F32)
        return px_set_error(PX_ERR_ARG, "in_train_phase: both branches must be float32");
    if (in[0].rank != in[1].rank)
        return px_set_error(PX_ERR_SHAPE, "in_train_phase: the branches have ranks %d and %d", in[0].rank, in[1].rank);
    *out = in[0];
    for (int i = 0; i < in[0].rank; i++) {
        int64_t a = in[0].dim[i], b = in[1].dim[i];
        if (a != b && a != PX_UNKNOWN && b != PX_UNKNOWN)
            return px_set_error(PX_ERR_SHAPE, "in_train_phase: the branches differ on axis %d (%lld and %lld)", i,
                                (long long)a, (long long)b);
        if (a == PX_UNKNOWN) out->dim[i] = b;
    }
    *dt = PX_F32;
    return PX_OK;
}

static size_t phase_state_bytes(const px_node *n, const px_shape *in, px_shape out) {
    (void)n, (void)in, (void)out;
    return PHASE_STATE;
}

static void phase_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)n;
    int pick = ex->training ? 0 : 1;
    if (ex->state) memcpy(ex->state, &pick, sizeof pick);
    int64_t count = px_tensor_size(out);
    if (count) memcpy(out->data, in[pick]->data, (size_t)count * sizeof(float));
}

/* The branch passed on gets the gradient; the other gets none (it did not reach the output). */
static void phase_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, const px_tensor *gout,
                           px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)in, (void)out;
    int pick = ex->training ? 0 : 1;
    if (ex->state) memcpy(&pick, ex->state, sizeof pick);
    px_accumulate(gin[pick], gout, 1.0f, px_tensor_size(gout));
}

static const px_op_def phase_def = {"in_train_phase", 0, phase_infer, phase_state_bytes,
                                    phase_forward, phase_backward, PX_K_TRAIN_PHASE};

px_node *px_in_train_phase(px_node *x, px_node *alt) {
    if (x && alt && x == alt) return x;
    return px_node_make(&phase_def, (px_node *const[]){x, alt}, 2, NULL, 0, NULL, 0);
}
