/* Internal: device kernels of the image augmentation ops (random_flip,
 * random_affine, random_crop, random_color; src/ops/augment.c), written once
 * for the reference device and CUDA. The per-image draws run in a kernel of
 * their own from the run's seed, as the CPU draws them (augment_geom.h), into
 * the CPU's state layout. A backward pass that scatters (the sampled taps of
 * an affine map or a crop) runs one thread per (image, channel), adding in the
 * CPU's order, so no two threads write one element and the sums are the CPU's. */
#ifndef PX_BACKEND_KERNELS_AUGMENT_OPS_H
#define PX_BACKEND_KERNELS_AUGMENT_OPS_H

#include "backend/kernels/augment_geom.h"
#include "backend/kernels/elementwise_ops.h"

/* An op's four float attributes, passed by value. */
typedef struct pxk_aug_f {
    float f[4];
} pxk_aug_f;

/* The batch as (n, h, w, c) images; the state's header and what follows it. */
typedef struct pxk_aug {
    int64_t n, h, w, c;
    int kind, fill, interp, width_follows;
    int64_t layer_seed;
    float fill_value;
    pxk_aug_f f;
} pxk_aug;

static pxk_aug pxk_aug_of(const px_kernel *k) {
    const px_tensor *x = k->in[0];
    pxk_aug a;
    a.n = x->shape[0];
    a.c = x->shape[x->rank - 1];
    a.h = x->rank == 4 ? x->shape[1] : 1;
    a.w = x->rank == 4 ? x->shape[2] : (a.n && a.c ? pxk_numel(x) / (a.n * a.c) : 0);
    a.kind = (int)k->iattr[0];
    a.fill = (int)k->iattr[1];
    a.interp = (int)k->iattr[2];
    a.layer_seed = k->iattr[3];
    a.width_follows = (int)k->iattr[4];
    union {
        int32_t i;
        float f;
    } bits;
    bits.i = (int32_t)k->iattr[5];
    a.fill_value = bits.f;
    for (int i = 0; i < 4; i++) a.f.f[i] = k->fattr[i];
    return a;
}

/* Inference (or nothing drawn): the header says so, the input passes through. */
static px_status pxk_aug_copy_through(pxk_ctx *c, const px_kernel *k) {
    px_status st = PXK_RUN(c, k_set_u32, 1, (uint32_t *)k->state, 0u);
    return st == PX_OK ? pxk_copy_forward(c, k) : st;
}

/* ---- flip: one byte per image (flipped) ---- */

PXK_KERNEL(k_flip_draw, (pxk_aug a, uint64_t seed, uint8_t *flips), float u[4];
           pxk_aug_draws(seed, a.layer_seed, i, u);
           flips[i] = u[0] <= 0.5f;)
/* element i reads the flipped element of its image (a flip is its own inverse) */
PXK_FN int64_t pxk_flip_src(const pxk_aug *a, int64_t i, int flipped) {
    int64_t k = i % a->c, x = (i / a->c) % a->w, y = (i / (a->c * a->w)) % a->h, n = i / (a->c * a->w * a->h);
    int fh = flipped && a->fill != PXK_FLIP_VERTICAL, fv = flipped && a->fill != PXK_FLIP_HORIZONTAL;
    return ((n * a->h + (fv ? a->h - 1 - y : y)) * a->w + (fh ? a->w - 1 - x : x)) * a->c + k;
}
PXK_KERNEL(k_flip_fwd, (pxk_aug a, const float *x, float *y, const uint8_t *flips),
           y[i] = x[pxk_flip_src(&a, i, flips[i / (a.h * a.w * a.c)])];)
PXK_KERNEL(k_flip_bwd, (pxk_aug a, const float *g, float *gx, const uint32_t *applied, const uint8_t *flips),
           gx[i] += g[pxk_flip_src(&a, i, *applied && flips[i / (a.h * a.w * a.c)])];)

static px_status pxk_flip_forward(pxk_ctx *c, const px_kernel *k) {
    if (!k->training) return pxk_aug_copy_through(c, k);
    pxk_aug a = pxk_aug_of(k);
    uint8_t *flips = (uint8_t *)k->state + PXK_AUG_HEADER;
    px_status st = PXK_RUN(c, k_set_u32, 1, (uint32_t *)k->state, 1u);
    if (st == PX_OK) st = PXK_RUN(c, k_flip_draw, a.n, a, k->seed, flips);
    if (st == PX_OK) st = PXK_RUN(c, k_flip_fwd, pxk_numel(k->out), a, pxk_f(k->in[0]), pxk_w(k->out), flips);
    return st;
}
static px_status pxk_flip_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    pxk_aug a = pxk_aug_of(k);
    return PXK_RUN(c, k_flip_bwd, pxk_numel(k->out), a, pxk_f(k->gout), pxk_w(k->gin[0]), (const uint32_t *)k->state,
                   (const uint8_t *)k->state + PXK_AUG_HEADER);
}

/* ---- sampling through a matrix per image (affine) or one window (crop) ---- */

PXK_KERNEL(k_affine_mats, (pxk_aug a, uint64_t seed, double *mats), float u[4];
           pxk_aug_draws(seed, a.layer_seed, i, u);
           pxk_aug_affine(a.kind, a.f.f, a.width_follows, u, a.h, a.w, mats + 6 * i);)
PXK_KERNEL(k_crop_window, (pxk_aug a, uint64_t seed, int training, int64_t th, int64_t tw, uint32_t *state),
           int64_t *win = (int64_t *)((char *)state + PXK_AUG_HEADER);
           state[0] = pxk_aug_crop_window(seed, a.layer_seed, training, a.h, a.w, th, tw, win);)

/* The matrix and window of image n: per image (mats) or the crop's window. */
PXK_FN void pxk_sample_setup(const pxk_aug *a, const double *mats, const int64_t *win, int64_t n, int64_t oh,
                             int64_t ow, double m[6], pxk_aug_window *wd) {
    if (win) {
        pxk_aug_crop_matrix(win, oh, ow, m);
        wd->y0 = win[0], wd->x0 = win[1], wd->h = win[2], wd->w = win[3];
    } else {
        for (int j = 0; j < 6; j++) m[j] = mats[6 * n + j];
        wd->y0 = 0, wd->x0 = 0, wd->h = a->h, wd->w = a->w;
    }
    wd->img_w = a->w;
}

/* Output element (n, y, x, k) of (oh, ow) images: its taps' weighted sum. */
PXK_KERNEL(k_sample_fwd, (pxk_aug a, const double *mats, const int64_t *win, int fill, int interp, float fv, int64_t oh,
                          int64_t ow, const float *img, float *out),
           int64_t k = i % a.c, x = (i / a.c) % ow, y = (i / (a.c * ow)) % oh, n = i / (a.c * ow * oh);
           double m[6];
           pxk_aug_window wd;
           pxk_sample_setup(&a, mats, win, n, oh, ow, m, &wd);
           pxk_taps tp;
           pxk_aug_pixel_taps(m, &wd, fill, interp, y, x, &tp);
           const float *src = img + n * a.h * a.w * a.c;
           float v = 0;
           for (int t = 0; t < tp.n; t++) v += tp.w[t] * (tp.at[t] < 0 ? fv : src[tp.at[t] * a.c + k]);
           out[i] = v;)
/* Image n, channel k (i = n c + k): the output gradient through every pixel's
 * taps, in the CPU's order; without `applied` (inference) it passes through. */
PXK_KERNEL(k_sample_bwd, (pxk_aug a, const double *mats, const int64_t *win, int fill, int interp, int64_t oh,
                          int64_t ow, const uint32_t *applied, const float *g, float *gx),
           int64_t k = i % a.c, n = i / a.c;
           float *gi = gx + n * a.h * a.w * a.c;
           const float *go = g + n * oh * ow * a.c;
           if (applied && !*applied) {
               for (int64_t p = 0; p < oh * ow; p++) gi[p * a.c + k] += go[p * a.c + k];
           } else {
               double m[6];
               pxk_aug_window wd;
               pxk_sample_setup(&a, mats, win, n, oh, ow, m, &wd);
               for (int64_t y = 0; y < oh; y++)
                   for (int64_t x = 0; x < ow; x++) {
                       pxk_taps tp;
                       pxk_aug_pixel_taps(m, &wd, fill, interp, y, x, &tp);
                       for (int t = 0; t < tp.n; t++)
                           if (tp.at[t] >= 0) gi[tp.at[t] * a.c + k] += tp.w[t] * go[(y * ow + x) * a.c + k];
                   }
           })

static px_status pxk_affine_forward(pxk_ctx *c, const px_kernel *k) {
    if (!k->training) return pxk_aug_copy_through(c, k);
    pxk_aug a = pxk_aug_of(k);
    double *mats = (double *)((char *)k->state + PXK_AUG_HEADER);
    px_status st = PXK_RUN(c, k_set_u32, 1, (uint32_t *)k->state, 1u);
    if (st == PX_OK) st = PXK_RUN(c, k_affine_mats, a.n, a, k->seed, mats);
    if (st == PX_OK)
        st = PXK_RUN(c, k_sample_fwd, pxk_numel(k->out), a, (const double *)mats, (const int64_t *)NULL, a.fill, a.interp,
                     a.fill_value, a.h, a.w, pxk_f(k->in[0]), pxk_w(k->out));
    return st;
}
static px_status pxk_affine_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    pxk_aug a = pxk_aug_of(k);
    return PXK_RUN(c, k_sample_bwd, a.n * a.c, a, (const double *)((const char *)k->state + PXK_AUG_HEADER),
                   (const int64_t *)NULL, a.fill, a.interp, a.h, a.w, (const uint32_t *)k->state, pxk_f(k->gout),
                   pxk_w(k->gin[0]));
}

static px_status pxk_crop_forward(pxk_ctx *c, const px_kernel *k) {
    pxk_aug a = pxk_aug_of(k);
    const int64_t *win = (const int64_t *)((const char *)k->state + PXK_AUG_HEADER);
    px_status st = PXK_RUN(c, k_crop_window, 1, a, k->seed, (int)k->training, k->iattr[6], k->iattr[7],
                           (uint32_t *)k->state);
    if (st == PX_OK)
        st = PXK_RUN(c, k_sample_fwd, pxk_numel(k->out), a, (const double *)NULL, win, (int)PXK_FILL_NEAREST,
                     (int)PXK_AUG_BILINEAR, 0.0f, k->out->shape[1], k->out->shape[2], pxk_f(k->in[0]), pxk_w(k->out));
    return st;
}
static px_status pxk_crop_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    pxk_aug a = pxk_aug_of(k);
    return PXK_RUN(c, k_sample_bwd, a.n * a.c, a, (const double *)NULL,
                   (const int64_t *)((const char *)k->state + PXK_AUG_HEADER), (int)PXK_FILL_NEAREST,
                   (int)PXK_AUG_BILINEAR, k->out->shape[1], k->out->shape[2], (const uint32_t *)NULL, pxk_f(k->gout),
                   pxk_w(k->gin[0]));
}

/* ---- contrast and brightness: a factor per image, then the clipped values
 * and a byte per element (1: inside the value range, not clipped) ---- */

PXK_KERNEL(k_color_factors, (pxk_aug a, uint64_t seed, float *fac), float u[4];
           pxk_aug_draws(seed, a.layer_seed, i, u);
           fac[i] = pxk_aug_color_factor(a.kind, a.f.f, u);)
/* y = v clipped to [lo, hi], marking whether v was inside */
PXK_FN void pxk_clip_mark(float v, float lo, float hi, float *y, uint8_t *mask) {
    *mask = v >= lo && v <= hi;
    *y = v < lo ? lo : v > hi ? hi : v;
}
PXK_KERNEL(k_brightness_fwd, (pxk_aug a, const float *x, float *y, const float *fac, uint8_t *mask, int64_t per),
           pxk_clip_mark(x[i] + fac[i / per], a.f.f[2], a.f.f[3], &y[i], &mask[i]);)
/* image n, channel k (i = n c + k): the channel's mean, then (x - mean) f + mean, clipped */
PXK_KERNEL(k_contrast_fwd, (pxk_aug a, const float *x, float *y, const float *fac, uint8_t *mask),
           int64_t k = i % a.c, n = i / a.c, hw = a.h * a.w, base = n * hw * a.c + k;
           double s = 0;
           for (int64_t p = 0; p < hw; p++) s += x[base + p * a.c];
           float mean = (float)(s / (double)hw);
           for (int64_t p = 0; p < hw; p++) {
               int64_t j = base + p * a.c;
               pxk_clip_mark((x[j] - mean) * fac[n] + mean, a.f.f[2], a.f.f[3], &y[j], &mask[j]);
           })
PXK_KERNEL(k_brightness_bwd, (const float *g, float *gx, const uint32_t *applied, const uint8_t *mask),
           if (!*applied || mask[i]) gx[i] += g[i];)
/* y = f x + (1 - f) mean(x) per channel: dx = f gz + (1 - f) / HW sum(gz), gz the unclipped part */
PXK_KERNEL(k_contrast_bwd, (pxk_aug a, const float *g, float *gx, const uint32_t *applied, const float *fac,
                            const uint8_t *mask),
           int64_t k = i % a.c, n = i / a.c, hw = a.h * a.w, base = n * hw * a.c + k;
           if (!*applied) {
               for (int64_t p = 0; p < hw; p++) gx[base + p * a.c] += g[base + p * a.c];
           } else {
               double s = 0;
               for (int64_t p = 0; p < hw; p++)
                   if (mask[base + p * a.c]) s += g[base + p * a.c];
               float shared = (float)((1.0 - fac[n]) * s / (double)hw);
               for (int64_t p = 0; p < hw; p++) {
                   int64_t j = base + p * a.c;
                   gx[j] += (mask[j] ? fac[n] * g[j] : 0.0f) + shared;
               }
           })

static px_status pxk_color_forward(pxk_ctx *c, const px_kernel *k) {
    if (!k->training) return pxk_aug_copy_through(c, k);
    pxk_aug a = pxk_aug_of(k);
    float *fac = (float *)((char *)k->state + PXK_AUG_HEADER);
    uint8_t *mask = (uint8_t *)k->state + pxk_aug_color_mask_at(a.n);
    px_status st = PXK_RUN(c, k_set_u32, 1, (uint32_t *)k->state, 1u);
    if (st == PX_OK) st = PXK_RUN(c, k_color_factors, a.n, a, k->seed, fac);
    if (st != PX_OK) return st;
    if (a.kind == PXK_AUG_CONTRAST)
        return PXK_RUN(c, k_contrast_fwd, a.n * a.c, a, pxk_f(k->in[0]), pxk_w(k->out), (const float *)fac, mask);
    int64_t count = pxk_numel(k->out);
    return PXK_RUN(c, k_brightness_fwd, count, a, pxk_f(k->in[0]), pxk_w(k->out), (const float *)fac, mask,
                   a.n ? count / a.n : 1);
}
static px_status pxk_color_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    pxk_aug a = pxk_aug_of(k);
    const uint32_t *applied = (const uint32_t *)k->state;
    const uint8_t *mask = (const uint8_t *)k->state + pxk_aug_color_mask_at(a.n);
    if (a.kind == PXK_AUG_CONTRAST)
        return PXK_RUN(c, k_contrast_bwd, a.n * a.c, a, pxk_f(k->gout), pxk_w(k->gin[0]), applied,
                       (const float *)((const char *)k->state + PXK_AUG_HEADER), mask);
    return PXK_RUN(c, k_brightness_bwd, pxk_numel(k->out), pxk_f(k->gout), pxk_w(k->gin[0]), applied, mask);
}

#endif
