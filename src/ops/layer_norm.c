/* Layer normalization over the trailing axes of each example: gamma * (x - mean)
 * / sqrt(var + epsilon) + beta with the biased variance, forward beside backward. */
#include <math.h>
#include <string.h>

#include "ops/op_util.h"

/* Inputs: x, then gamma when iattr[1], then beta when iattr[2]; both of the
 * shape of x's last iattr[0] axes. fattr[0]: epsilon. State: per row the mean
 * and 1 / sqrt(var + eps), for the backward pass. */

static px_status ln_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    const int k = (int)n->iattr[0];
    char sx[96], sp[96];
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "layer_norm: inputs must be float32");
    if (k < 1 || k >= in[0].rank + (in[0].rank == 0))
        return px_set_error(PX_ERR_SHAPE, "layer_norm: cannot normalise the last %d axes of %s", k,
                            px_shape_format(in[0], sx, sizeof sx));
    for (int j = 1; j < n->n_inputs; j++) {
        bool ok = in[j].rank == k;
        for (int i = 0; ok && i < k; i++) {
            int64_t want = in[0].dim[in[0].rank - k + i];
            ok = want == PX_UNKNOWN || in[j].dim[i] == want;
        }
        if (!ok)
            return px_set_error(PX_ERR_SHAPE, "layer_norm: %s has shape %s; it must be the last %d axes of input %s",
                                j == 1 && n->iattr[1] ? "gamma" : "beta", px_shape_format(in[j], sp, sizeof sp), k,
                                px_shape_format(in[0], sx, sizeof sx));
    }
    *out = in[0];
    *dt = PX_F32;
    return PX_OK;
}

static int64_t row_len(const px_node *n, const px_tensor *x) {
    int64_t d = 1;
    for (int i = x->rank - (int)n->iattr[0]; i < x->rank; i++) d *= x->shape[i];
    return d;
}

static size_t ln_state_bytes(const px_node *n, const px_shape *in, px_shape out) {
    (void)out;
    int64_t d = 1;
    for (int i = in[0].rank - (int)n->iattr[0]; i < in[0].rank; i++) d *= in[0].dim[i];
    return d > 0 ? 2 * (size_t)(px_shape_size(in[0]) / d) * sizeof(float) : 0;
}

static void ln_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    const int64_t D = row_len(n, in[0]), rows = D ? px_tensor_size(in[0]) / D : 0;
    const float *x = in[0]->data, eps = n->fattr[0];
    const float *gamma = n->iattr[1] ? in[1]->data : NULL;
    const float *beta = n->iattr[2] ? in[1 + (n->iattr[1] != 0)]->data : NULL;
    float *y = out->data, *stat = ex->state;
    PX_FOR(r, rows, rows * D,
        const float *xr = x + r * D;
        float *yr = y + r * D;
        double s = 0, ss = 0;
        for (int64_t i = 0; i < D; i++) s += xr[i];
        const double mean = s / (double)D;
        for (int64_t i = 0; i < D; i++) ss += (xr[i] - mean) * (xr[i] - mean);
        const float m = (float)mean, rstd = (float)(1.0 / sqrt(ss / (double)D + eps));
        stat[2 * r] = m, stat[2 * r + 1] = rstd;
        for (int64_t i = 0; i < D; i++) {
            float v = (xr[i] - m) * rstd;
            if (gamma) v *= gamma[i];
            if (beta) v += beta[i];
            yr[i] = v;
        });
}

static void ln_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, const px_tensor *gout,
                        px_tensor *const *gin, px_exec *ex) {
    (void)out;
    const int64_t D = row_len(n, in[0]), rows = D ? px_tensor_size(in[0]) / D : 0;
    const float *x = in[0]->data, *g = gout->data, *stat = ex->state;
    const float *gamma = n->iattr[1] ? in[1]->data : NULL;
    px_tensor *ggamma = n->iattr[1] ? gin[1] : NULL, *gbeta = n->iattr[2] ? gin[1 + (n->iattr[1] != 0)] : NULL;
    if (gin[0]) {
        float *gx = gin[0]->data;
        /* dx = rstd (dxh - mean(dxh) - xh mean(dxh xh)) with dxh = g gamma */
        PX_FOR(r, rows, rows * D,
            const float *xr = x + r * D, *gr = g + r * D;
            const float m = stat[2 * r], rstd = stat[2 * r + 1];
            double a = 0, b = 0;
            for (int64_t i = 0; i < D; i++) {
                float dxh = gamma ? gr[i] * gamma[i] : gr[i];
                a += dxh;
                b += dxh * (xr[i] - m) * rstd;
            }
            const float ma = (float)(a / (double)D), mb = (float)(b / (double)D);
            for (int64_t i = 0; i < D; i++) {
                float dxh = gamma ? gr[i] * gamma[i] : gr[i];
                gx[r * D + i] += rstd * (dxh - ma - (xr[i] - m) * rstd * mb);
            });
    }
    /* parameter gradients sum over rows: one serial pass, deterministic */
    if (ggamma || gbeta) {
        float *gg = ggamma ? ggamma->data : NULL, *gb = gbeta ? gbeta->data : NULL;
        for (int64_t r = 0; r < rows; r++) {
            const float m = stat[2 * r], rstd = stat[2 * r + 1];
            const float *xr = x + r * D, *gr = g + r * D;
            if (gg)
                for (int64_t i = 0; i < D; i++) gg[i] += gr[i] * (xr[i] - m) * rstd;
            if (gb)
                for (int64_t i = 0; i < D; i++) gb[i] += gr[i];
        }
    }
}

static const px_op_def ln_def = {"layer_norm", PX_OPF_SAVE_INPUTS, ln_infer, ln_state_bytes, ln_forward, ln_backward, PX_K_LAYER_NORM};

px_node *px_layer_norm(px_node *x, px_node *gamma, px_node *beta, int axes, float epsilon) {
    if (!x) return px_null_input(__func__);
    if (!(epsilon > 0) || isinf(epsilon)) {
        px_set_error(PX_ERR_ARG, "layer_norm: epsilon must be positive, got %g", epsilon);
        return NULL;
    }
    int64_t attr[3] = {axes, gamma != NULL, beta != NULL};
    px_node *ins[3] = {x};
    int k = 1;
    if (gamma) ins[k++] = gamma;
    if (beta) ins[k++] = beta;
    return px_node_make(&ln_def, ins, k, attr, 3, &epsilon, 1);
}
