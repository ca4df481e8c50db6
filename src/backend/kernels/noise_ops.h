/* Internal: device kernels of the training-time noise ops (Gaussian noise,
 * Gaussian dropout, spatial dropout), written once for the reference device
 * and CUDA. Their numbers come from the run's seed through the counter-based
 * generator (philox.h), element by element as the CPU ops draw them
 * (ops/noise.c, ops/spatial_dropout.c), so a device adds the same noise as the
 * CPU. The state layouts are the CPU ops': a header word saying whether the
 * forward pass applied the noise, then what it drew. */
#ifndef PX_BACKEND_KERNELS_NOISE_OPS_H
#define PX_BACKEND_KERNELS_NOISE_OPS_H

#include "backend/kernels/elementwise_ops.h"

/* ---- gaussian_noise: x + stddev N(0, 1) in training; the gradient passes unchanged ---- */

PXK_KERNEL(k_gnoise_fwd, (const float *x, float *y, uint64_t seed, float sd), y[i] = x[i] + sd * pxk_normal_at(seed, i);)

static px_status pxk_gnoise_forward(pxk_ctx *c, const px_kernel *k) {
    float sd = k->fattr[0];
    if (!k->training || sd == 0) return pxk_copy_forward(c, k);
    return PXK_RUN(c, k_gnoise_fwd, pxk_numel(k->out), pxk_f(k->in[0]), pxk_w(k->out), k->seed, sd);
}
static px_status pxk_gnoise_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    return PXK_RUN(c, k_axpy, pxk_numel(k->out), pxk_f(k->gout), pxk_w(k->gin[0]), 1.0f, 0);
}

/* ---- gaussian_dropout: x m, m = 1 + sqrt(rate / (1 - rate)) N(0, 1), m kept in the state ---- */

PXK_KERNEL(k_gdrop_fwd, (const float *x, float *y, float *m, uint64_t seed, float sd),
           m[i] = 1.0f + sd * pxk_normal_at(seed, i);
           y[i] = x[i] * m[i];)
PXK_KERNEL(k_gdrop_bwd, (const float *g, float *gx, const uint32_t *applied, const float *m),
           gx[i] += *applied ? g[i] * m[i] : g[i];)

static px_status pxk_gdrop_forward(pxk_ctx *c, const px_kernel *k) {
    if (!k->state) return pxk_copy_forward(c, k); /* rate 0 */
    px_status st = PXK_RUN(c, k_set_u32, 1, (uint32_t *)k->state, (uint32_t)k->training);
    if (st != PX_OK || !k->training) return st != PX_OK ? st : pxk_copy_forward(c, k);
    float rate = k->fattr[0];
    return PXK_RUN(c, k_gdrop_fwd, pxk_numel(k->out), pxk_f(k->in[0]), pxk_w(k->out),
                   (float *)((char *)k->state + PXK_MASK_HEADER), k->seed, sqrtf(rate / (1.0f - rate)));
}
static px_status pxk_gdrop_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    int64_t n = pxk_numel(k->out);
    if (!k->state) return PXK_RUN(c, k_axpy, n, pxk_f(k->gout), pxk_w(k->gin[0]), 1.0f, 0);
    return PXK_RUN(c, k_gdrop_bwd, n, pxk_f(k->gout), pxk_w(k->gin[0]), (const uint32_t *)k->state,
                   (const float *)((const char *)k->state + PXK_MASK_HEADER));
}

/* ---- spatial_dropout: one draw per (example, channel) of x as (N, positions, C) ---- */

PXK_KERNEL(k_sdrop_mask, (uint8_t *mask, uint64_t seed, float rate), mask[i] = pxk_uniform_at(seed, i) >= rate;)
/* element i of (N, positions, C) uses mask entry (i / (p c)) c + i % c */
PXK_KERNEL(k_sdrop_fwd, (const float *x, float *y, const uint8_t *mask, int64_t pc, int64_t c, float scale),
           y[i] = mask[(i / pc) * c + i % c] ? x[i] * scale : 0.0f;)
PXK_KERNEL(k_sdrop_bwd, (const float *g, float *gx, const uint32_t *applied, const uint8_t *mask, int64_t pc,
                         int64_t c, float scale),
           gx[i] += *applied ? (mask[(i / pc) * c + i % c] ? g[i] * scale : 0.0f) : g[i];)

static void pxk_sdrop_dims(const px_tensor *x, int64_t *n, int64_t *pc, int64_t *c) {
    *n = x->shape[0];
    *c = x->shape[x->rank - 1];
    *pc = *n ? pxk_numel(x) / *n : 0;
}
static px_status pxk_sdrop_forward(pxk_ctx *c, const px_kernel *k) {
    if (!k->state) return pxk_copy_forward(c, k); /* rate 0 */
    px_status st = PXK_RUN(c, k_set_u32, 1, (uint32_t *)k->state, (uint32_t)k->training);
    if (st != PX_OK || !k->training) return st != PX_OK ? st : pxk_copy_forward(c, k);
    int64_t n, pc, ch;
    pxk_sdrop_dims(k->in[0], &n, &pc, &ch);
    uint8_t *mask = (uint8_t *)k->state + PXK_MASK_HEADER;
    float rate = k->fattr[0];
    st = PXK_RUN(c, k_sdrop_mask, n * ch, mask, k->seed, rate);
    if (st == PX_OK) st = PXK_RUN(c, k_sdrop_fwd, pxk_numel(k->out), pxk_f(k->in[0]), pxk_w(k->out), mask, pc, ch,
                                  1.0f / (1.0f - rate));
    return st;
}
static px_status pxk_sdrop_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    int64_t count = pxk_numel(k->out), n, pc, ch;
    if (!k->state) return PXK_RUN(c, k_axpy, count, pxk_f(k->gout), pxk_w(k->gin[0]), 1.0f, 0);
    pxk_sdrop_dims(k->in[0], &n, &pc, &ch);
    return PXK_RUN(c, k_sdrop_bwd, count, pxk_f(k->gout), pxk_w(k->gin[0]), (const uint32_t *)k->state,
                   (const uint8_t *)k->state + PXK_MASK_HEADER, pc, ch, 1.0f / (1.0f - k->fattr[0]));
}

#endif
