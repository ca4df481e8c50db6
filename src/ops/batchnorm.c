/* Batch normalization over the last axis, fused: batch statistics and the
 * moving-average update in training, moving statistics in inference; any
 * other axis through transposes around it. */
#include <math.h>
#include <string.h>

#include "backend/kernels/helpers.h"
#include "ops/op_util.h"

/* Inputs: x, moving_mean, moving_variance, then gamma when iattr[0], then beta
 * when iattr[1]. fattr: [0] momentum, [1] epsilon.
 *
 * Side effect (why the op is not pure): a training-mode forward pass writes the
 * updated moving statistics straight into the values of its moving_mean and
 * moving_variance inputs, which are non-trainable variables. Doing it inside the
 * op keeps the update to one pass over the batch and needs no assign op; the
 * variables' values are the buffers that sessions and eager mode hand the op.
 *
 * State: the layout of pxk_bn (backend/kernels/helpers.h), which the device
 * kernels share.
 *
 * Data-parallel training (ex->replicas): the statistics are those of the whole
 * global batch, as if one process trained on it (synchronized batch
 * normalization, like PyTorch's SyncBatchNorm). Each replica gathers every
 * replica's row count, mean and sum of squared deviations and combines them in
 * rank order (Chan, Golub and LeVeque's pairwise formula), so every replica gets
 * the same mean and variance, and so the same moving statistics; the backward
 * pass gathers the two per-channel sums its formula needs the same way. (The
 * device kernels of backend/kernels do not gather yet: a model with
 * BatchNormalization trains data-parallel on the CPU backend.) */

typedef pxk_bn bn_view;

static size_t bn_state_bytes(const px_node *n, const px_shape *in, px_shape out) {
    (void)n, (void)out;
    return pxk_bn_state_bytes(in[0].dim[in[0].rank - 1]);
}

/* Global batch statistics from the replicas: on entry s1 = local mean and s2 =
 * local sum of squared deviations over `rows`; on exit the global mean and the
 * global biased variance. Returns the global row count (0: the replicas cannot
 * talk; the local values are kept and the step fails after the run). */
static double bn_global_stats(const px_replica_hooks *rh, int64_t rows, int64_t c, double *s1, double *s2,
                              double *mine) {
    double n_mine = rh->stand_in ? 0.0 : (double)rows;
    mine[0] = n_mine;
    for (int64_t j = 0; j < c; j++) {
        mine[1 + j] = n_mine > 0 ? s1[j] : 0.0;
        mine[1 + c + j] = n_mine > 0 ? s2[j] : 0.0;
    }
    const double *all = rh->allgather(rh->ctx, mine, (int)(1 + 2 * c));
    if (!all) {
        for (int64_t j = 0; j < c; j++) s2[j] /= (double)(rows > 0 ? rows : 1);
        return 0.0;
    }
    double n = 0.0;
    for (int r = 0; r < rh->size; r++) {
        const double *a = all + (size_t)r * (size_t)(1 + 2 * c);
        double nb = a[0];
        if (nb <= 0) continue;
        double nab = n + nb;
        for (int64_t j = 0; j < c; j++) {
            double mean_a = n == 0 ? 0.0 : s1[j], m2_a = n == 0 ? 0.0 : s2[j];
            double delta = a[1 + j] - mean_a;
            s1[j] = mean_a + delta * (nb / nab);
            s2[j] = m2_a + a[1 + c + j] + delta * delta * (n * nb / nab);
        }
        n = nab;
    }
    for (int64_t j = 0; j < c; j++) s2[j] /= n;
    return n;
}

/* The backward pass's per-channel sums s1 and s2 over the global batch, in
 * place; returns the global row count (0: the replicas cannot talk). */
static double bn_global_sums(const px_replica_hooks *rh, int64_t rows, int64_t c, double *s1, double *s2,
                             double *mine) {
    mine[0] = rh->stand_in ? 0.0 : (double)rows;
    memcpy(mine + 1, s1, (size_t)c * sizeof *s1);
    memcpy(mine + 1 + c, s2, (size_t)c * sizeof *s2);
    const double *all = rh->allgather(rh->ctx, mine, (int)(1 + 2 * c));
    if (!all) return 0.0;
    double n = 0.0;
    memset(s1, 0, (size_t)c * sizeof *s1);
    memset(s2, 0, (size_t)c * sizeof *s2);
    for (int r = 0; r < rh->size; r++) {
        const double *a = all + (size_t)r * (size_t)(1 + 2 * c);
        n += a[0];
        for (int64_t j = 0; j < c; j++) {
            s1[j] += a[1 + j];
            s2[j] += a[1 + c + j];
        }
    }
    return n;
}

static px_status bn_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sa[96], sb[96];
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "batch_norm: inputs must be float32");
    if (in[0].rank < 1)
        return px_set_error(PX_ERR_SHAPE, "batch_norm: input must have rank >= 1, got a scalar");
    int64_t c = in[0].dim[in[0].rank - 1];
    for (int i = 1; i < n->n_inputs; i++) {
        px_shape s = in[i];
        if (s.rank != 1 || (c != PX_UNKNOWN && s.dim[0] != PX_UNKNOWN && s.dim[0] != c))
            return px_set_error(PX_ERR_SHAPE,
                                "batch_norm: parameter %d has shape %s; it must be (C,) with C = %lld, the last axis of x %s",
                                i, px_shape_format(s, sa, sizeof sa), (long long)c,
                                px_shape_format(in[0], sb, sizeof sb));
    }
    *out = in[0];
    *dt = PX_F32;
    return PX_OK;
}

static void bn_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    const bool has_g = n->iattr[0], has_b = n->iattr[1];
    const float momentum = n->fattr[0], eps = n->fattr[1];
    bn_view v = pxk_bn_split(in[0], ex->state);
    const float *x = in[0]->data;
    float *mm = in[1]->data, *mv = in[2]->data;
    const float *gamma = has_g ? in[3]->data : NULL;
    const float *beta = has_b ? in[3 + has_g]->data : NULL;
    float *y = out->data;
    const int64_t rows = v.rows, c = v.c;
    /* a replica meets the others' gathers even with no rows of its own */
    *v.used_batch = ex->training && (rows > 0 || ex->replicas);
    if (*v.used_batch) {
        /* two passes in double: the one-pass formula loses the variance when the
         * mean is large compared with the spread */
        memset(v.s1, 0, (size_t)c * sizeof(double));
        memset(v.s2, 0, (size_t)c * sizeof(double));
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < c; j++) v.s1[j] += x[r * c + j];
        for (int64_t j = 0; j < c; j++) v.s1[j] /= (double)rows;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < c; j++) {
                double d = x[r * c + j] - v.s1[j];
                v.s2[j] += d * d;
            }
        if (ex->replicas) bn_global_stats(ex->replicas, rows, c, v.s1, v.s2, v.send);
        else
            for (int64_t j = 0; j < c; j++) v.s2[j] /= (double)rows;
        for (int64_t j = 0; j < c; j++) {
            double var = v.s2[j]; /* biased, as Keras uses for both normalising and the update */
            v.mean[j] = (float)v.s1[j];
            v.inv_std[j] = (float)(1.0 / sqrt(var + (double)eps));
            mm[j] = (float)(mm[j] * (double)momentum + v.s1[j] * (1.0 - momentum));
            mv[j] = (float)(mv[j] * (double)momentum + var * (1.0 - momentum));
        }
    } else {
        for (int64_t j = 0; j < c; j++) {
            v.mean[j] = mm[j];
            v.inv_std[j] = (float)(1.0 / sqrt((double)mv[j] + (double)eps));
        }
    }
    int64_t total = rows * c;
    PX_FOR(r, rows, total,
        for (int64_t j = 0; j < c; j++) {
            float h = (x[r * c + j] - v.mean[j]) * v.inv_std[j];
            y[r * c + j] = (gamma ? h * gamma[j] : h) + (beta ? beta[j] : 0.0f);
        });
}

static void bn_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                        const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out;
    const bool has_g = n->iattr[0], has_b = n->iattr[1];
    bn_view v = pxk_bn_split(in[0], ex->state);
    const int64_t rows = v.rows, c = v.c;
    const float *x = in[0]->data, *g = gout->data;
    const float *gamma = has_g ? in[3]->data : NULL;
    px_tensor *gx = gin[0], *gmm = gin[1], *gmv = gin[2];
    px_tensor *ggamma = has_g ? gin[3] : NULL, *gbeta = has_b ? gin[3 + has_g] : NULL;
    /* s1 = sum(g), s2 = sum(g * xhat) per channel: every gradient is built from them */
    memset(v.s1, 0, (size_t)c * sizeof(double));
    memset(v.s2, 0, (size_t)c * sizeof(double));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < c; j++) {
            double gg = g[r * c + j];
            v.s1[j] += gg;
            v.s2[j] += gg * ((x[r * c + j] - v.mean[j]) * v.inv_std[j]);
        }
    if (gbeta)
        for (int64_t j = 0; j < c; j++) ((float *)gbeta->data)[j] += (float)v.s1[j];
    if (ggamma)
        for (int64_t j = 0; j < c; j++) ((float *)ggamma->data)[j] += (float)v.s2[j];
    if (*v.used_batch) {
        /* dx = gamma * inv_std / N * (N g - sum(g) - xhat sum(g xhat)); the moving
         * statistics do not reach the output in training mode */
        double n_all = (double)rows;
        if (ex->replicas) {
            /* the sums and N of the global batch (gamma's and beta's gradients stay
             * this replica's share: the gradient all-reduce adds the replicas up) */
            n_all = bn_global_sums(ex->replicas, rows, c, v.s1, v.s2, v.send);
            if (n_all <= 0) n_all = (double)(rows > 0 ? rows : 1);
            /* a stand-in row is no part of the batch: the other rows' terms must not reach it */
            if (ex->replicas->stand_in) return;
        }
        if (!gx) return;
        float *dx = gx->data;
        const double inv_n = 1.0 / n_all;
        PX_FOR(r, rows, rows * c,
            for (int64_t j = 0; j < c; j++) {
                double xh = (x[r * c + j] - v.mean[j]) * (double)v.inv_std[j];
                double k = (gamma ? gamma[j] : 1.0) * v.inv_std[j];
                dx[r * c + j] += (float)(k * (g[r * c + j] - v.s1[j] * inv_n - xh * v.s2[j] * inv_n));
            });
        return;
    }
    /* inference: y = gamma (x - m) / sqrt(v + eps) + beta with m, v fixed inputs */
    if (gx) {
        float *dx = gx->data;
        PX_FOR(r, rows, rows * c,
            for (int64_t j = 0; j < c; j++)
                dx[r * c + j] += g[r * c + j] * (gamma ? gamma[j] : 1.0f) * v.inv_std[j];);
    }
    for (int64_t j = 0; j < c; j++) {
        double k = gamma ? gamma[j] : 1.0;
        if (gmm) ((float *)gmm->data)[j] += (float)(-k * v.inv_std[j] * v.s1[j]);
        /* d/dv of (v + eps)^-1/2 is -1/2 (v + eps)^-3/2 = -inv_std^3 / 2, and sum(g (x - m)) = s2 / inv_std */
        double is = v.inv_std[j];
        if (gmv) ((float *)gmv->data)[j] += (float)(-0.5 * k * is * is * v.s2[j]);
    }
}

static const px_op_def bn_def = {"batch_norm", PX_OPF_SAVE_INPUTS | PX_OPF_WRITES_INPUTS | PX_OPF_REPLICAS, bn_infer,
                                 bn_state_bytes, bn_forward, bn_backward, PX_K_BATCH_NORM};

px_node *px_batch_norm(px_node *x, px_node *moving_mean, px_node *moving_variance, px_node *gamma,
                       px_node *beta, float momentum, float epsilon) {
    if (!x || !moving_mean || !moving_variance) return px_null_input(__func__);
    if (!(momentum >= 0.0f && momentum <= 1.0f) || !(epsilon > 0.0f)) {
        px_set_error(PX_ERR_ARG, "batch_norm: momentum must be in [0, 1] and epsilon positive (got %g, %g)",
                     momentum, epsilon);
        return NULL;
    }
    px_node *ins[5] = {x, moving_mean, moving_variance};
    int n = 3;
    if (gamma) ins[n++] = gamma;
    if (beta) ins[n++] = beta;
    int64_t attr[2] = {gamma != NULL, beta != NULL};
    float f[2] = {momentum, epsilon};
    return px_node_make(&bn_def, ins, n, attr, 2, f, 2);
}

/* Another axis: moved last, normalised, moved back. The two copies cost less
 * than a second kernel would to keep: the channels-last path stays the fast one. */
px_node *px_batch_norm_axis(px_node *x, px_node *moving_mean, px_node *moving_variance, px_node *gamma, px_node *beta,
                            float momentum, float epsilon, int axis) {
    if (!x) return px_null_input(__func__);
    int rank = px_node_shape(x).rank, a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
        char sx[96];
        px_set_error(PX_ERR_ARG, "batch_norm: axis %d is outside input %s", axis,
                     px_shape_format(px_node_shape(x), sx, sizeof sx));
        return NULL;
    }
    if (a == rank - 1) return px_batch_norm(x, moving_mean, moving_variance, gamma, beta, momentum, epsilon);
    int to_last[PX_MAX_RANK], back[PX_MAX_RANK];
    for (int i = 0, k = 0; i < rank; i++)
        if (i != a) to_last[k++] = i;
    to_last[rank - 1] = a;
    for (int i = 0; i < rank; i++) back[to_last[i]] = i;
    px_node *y = px_batch_norm(px_transpose(x, to_last), moving_mean, moving_variance, gamma, beta, momentum, epsilon);
    return px_transpose(y, back);
}
