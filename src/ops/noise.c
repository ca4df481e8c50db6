/* Training-time noise ops: additive Gaussian noise and multiplicative Gaussian
 * dropout (Keras's GaussianNoise and GaussianDropout); identity in inference.
 * Element i's normal number is the counter-based generator's number i for the
 * run's seed (ex->seed, pxk_normal_at), so the noise depends on neither the
 * thread count nor the backend: a device adds the same noise as the CPU
 * (kernels/noise_ops.h). */
#include <math.h>
#include <string.h>

#include "backend/kernels/philox.h"
#include "ops/op_util.h"

/* ---- gaussian_noise(x, stddev): x + stddev N(0, 1); the gradient is g in
 * either mode, so no state is kept ---- */
static void noise_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    const float *x = in[0]->data, sd = n->fattr[0];
    float *y = out->data;
    int64_t count = px_tensor_size(out);
    if (!ex->training || sd == 0) {
        if (count) memcpy(y, x, (size_t)count * sizeof *y);
        return;
    }
    const uint64_t seed = ex->seed;
    PX_FOR(i, count, count, y[i] = x[i] + sd * pxk_normal_at(seed, i););
}
static void noise_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, const px_tensor *gout,
                           px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)in, (void)ex;
    px_accumulate(gin[0], gout, 1.0f, px_tensor_size(out));
}
static const px_op_def noise_def = {"gaussian_noise", PX_OPF_RANDOM, px_infer_same_f32, NULL, noise_forward,
                                    noise_backward, PX_K_GAUSSIAN_NOISE};

px_node *px_gaussian_noise(px_node *x, float stddev) {
    if (!x) return px_null_input(__func__);
    if (!(stddev >= 0) || isinf(stddev)) {
        px_set_error(PX_ERR_ARG, "gaussian_noise: stddev must be >= 0 and finite, got %g", stddev);
        return NULL;
    }
    return px_node_make(&noise_def, &x, 1, NULL, 0, &stddev, 1);
}

/* ---- gaussian_dropout(x, rate): x m with m ~ N(1, rate / (1 - rate)) ----
 * State: a header word saying whether the forward pass applied the noise (the
 * training flag may change before an eager backward pass), then the factors. */
enum { HEADER = 16 };

static size_t gdrop_state_bytes(const px_node *n, const px_shape *in, px_shape out) {
    (void)in;
    return n->fattr[0] > 0 ? HEADER + (size_t)px_shape_size(out) * sizeof(float) : 0;
}
static void gdrop_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    const float *x = in[0]->data;
    float *y = out->data;
    int64_t count = px_tensor_size(out);
    if (ex->state) *(uint32_t *)ex->state = ex->training;
    if (!ex->state || !ex->training) {
        if (count) memcpy(y, x, (size_t)count * sizeof *y);
        return;
    }
    float *m = (float *)((char *)ex->state + HEADER);
    const float rate = n->fattr[0], sd = sqrtf(rate / (1.0f - rate));
    const uint64_t seed = ex->seed;
    PX_FOR(i, count, count, m[i] = 1.0f + sd * pxk_normal_at(seed, i); y[i] = x[i] * m[i];);
}
static void gdrop_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, const px_tensor *gout,
                           px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)in;
    if (!gin[0]) return;
    int64_t count = px_tensor_size(out);
    if (!ex->state || !*(const uint32_t *)ex->state) {
        px_accumulate(gin[0], gout, 1.0f, count);
        return;
    }
    const float *m = (const float *)((const char *)ex->state + HEADER), *g = gout->data;
    float *gx = gin[0]->data;
    PX_FOR(i, count, count, gx[i] += g[i] * m[i];);
}
static const px_op_def gdrop_def = {"gaussian_dropout", PX_OPF_RANDOM, px_infer_same_f32, gdrop_state_bytes,
                                    gdrop_forward, gdrop_backward, PX_K_GAUSSIAN_DROPOUT};

px_node *px_gaussian_dropout(px_node *x, float rate) {
    if (!x) return px_null_input(__func__);
    if (!(rate >= 0 && rate < 1)) {
        px_set_error(PX_ERR_ARG, "gaussian_dropout: rate must be in [0, 1), got %g", rate);
        return NULL;
    }
    return px_node_make(&gdrop_def, &x, 1, NULL, 0, &rate, 1);
}
