/* Spatial dropout: inverted dropout of whole channels, one draw per (example,
 * channel) shared by every position between the batch and channel axes (Keras's
 * SpatialDropout1D/2D/3D noise shape (N, 1, ..., 1, C)); forward and backward. */
#include <string.h>

#include "backend/kernels/philox.h"
#include "ops/op_util.h"

/* fattr[0] = rate. State: a header word (1 = this forward pass applied a mask;
 * backward cannot rely on ex->training, which eager mode may switch in between),
 * then one byte per (example, channel), 1 = kept. */

enum { MASK_HEADER = 16 };

static px_status sdrop_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sx[96];
    if (in[0].rank < 2)
        return px_set_error(PX_ERR_SHAPE, "spatial_dropout: input %s must be (N, ..., C)",
                            px_shape_format(in[0], sx, sizeof sx));
    return px_infer_same_f32(n, in, out, dt);
}

static size_t sdrop_state_bytes(const px_node *n, const px_shape *in, px_shape out) {
    (void)out;
    return n->fattr[0] > 0 ? MASK_HEADER + (size_t)(in[0].dim[0] * in[0].dim[in[0].rank - 1]) : 0;
}

/* x as (N, positions, C). */
static void sdrop_dims(const px_tensor *x, int64_t *n, int64_t *p, int64_t *c) {
    *n = x->shape[0];
    *c = x->shape[x->rank - 1];
    *p = *n && *c ? px_tensor_size(x) / (*n * *c) : 0;
}

static void sdrop_forward(const px_node *nd, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    const float *x = in[0]->data;
    float *y = out->data;
    int64_t count = px_tensor_size(out), n, p, c;
    sdrop_dims(in[0], &n, &p, &c);
    if (!ex->state || !ex->training) {
        if (ex->state) *(uint32_t *)ex->state = 0;
        if (count) memcpy(y, x, (size_t)count * sizeof *y);
        return;
    }
    uint8_t *mask = (uint8_t *)ex->state + MASK_HEADER;
    *(uint32_t *)ex->state = 1;
    const float rate = nd->fattr[0], scale = 1.0f / (1.0f - rate);
    /* entry i is kept when the counter-based generator's number i for the run's
     * seed is at least the rate: the same mask on every backend and thread count */
    for (int64_t i = 0; i < n * c; i++) mask[i] = pxk_uniform_at(ex->seed, i) >= rate;
    PX_FOR(r, n * p, count,
        const uint8_t *m = mask + (r / p) * c;
        for (int64_t q = 0; q < c; q++) y[r * c + q] = m[q] ? x[r * c + q] * scale : 0.0f;);
}

static void sdrop_backward(const px_node *nd, const px_tensor *const *in, const px_tensor *out,
                           const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    if (!gin[0]) return;
    int64_t count = px_tensor_size(out), n, p, c;
    sdrop_dims(in[0], &n, &p, &c);
    if (!ex->state || !*(const uint32_t *)ex->state) {
        px_accumulate(gin[0], gout, 1.0f, count);
        return;
    }
    const uint8_t *mask = (const uint8_t *)ex->state + MASK_HEADER;
    const float scale = 1.0f / (1.0f - nd->fattr[0]), *g = gout->data;
    float *gx = gin[0]->data;
    PX_FOR(r, n * p, count,
        const uint8_t *m = mask + (r / p) * c;
        for (int64_t q = 0; q < c; q++) gx[r * c + q] += m[q] ? g[r * c + q] * scale : 0.0f;);
}

static const px_op_def sdrop_def = {"spatial_dropout", PX_OPF_RANDOM, sdrop_infer, sdrop_state_bytes, sdrop_forward,
                                    sdrop_backward, PX_K_SPATIAL_DROPOUT};

px_node *px_spatial_dropout(px_node *x, float rate) {
    if (!x) return px_null_input(__func__);
    if (!(rate >= 0.0f && rate < 1.0f)) {
        px_set_error(PX_ERR_ARG, "spatial_dropout: rate must be in [0, 1) (got %g)", rate);
        return NULL;
    }
    return px_node_make(&sdrop_def, &x, 1, NULL, 0, &rate, 1);
}
