/* Internal: every optimizer's update as one device kernel per step, written
 * once for the reference device and CUDA. The formulas are those of
 * src/train/optimizer.c element by element; the per-step numbers (learning
 * rate, bias corrections) are read from backend memory (px_optim_kernel.coef),
 * so a recorded step replays with each step's values. */
#ifndef PX_BACKEND_KERNELS_OPTIM_OPS_H
#define PX_BACKEND_KERNELS_OPTIM_OPS_H

#include "backend/kernels/row_ops.h"

PXK_KERNEL(k_sum_squares_parts, (const float *g, int64_t n, double *part),
           double acc = 0;
           for (int64_t j = i; j < n; j += PXK_PARTS) acc += (double)g[j] * g[j];
           part[i] = acc;)
/* Keras: c * min(1/norm, 1/c) + (norm - norm), which turns an infinite or NaN
 * norm into NaN gradients rather than silently zeroing them */
PXK_KERNEL(k_global_clip_scale, (const double *part, const float *coef, float *scale),
           double ss = 0;
           for (int j = 0; j < PXK_PARTS; j++) ss += part[j];
           double c = coef[PX_OC_CLIP], norm = sqrt(ss);
           scale[i] = (float)(c * fmin(1.0 / norm, 1.0 / c) + (norm - norm));)
/* per variable (segment s): g * c / max(|g|, c) */
PXK_KERNEL(k_segment_clip_scale, (const float *g, int64_t n, const int64_t *seg, int n_seg, const float *coef,
                                  float *scale),
           int64_t a = seg ? seg[i] : 0, b = seg && i + 1 < n_seg ? seg[i + 1] : n;
           double ss = 0;
           for (int64_t j = a; j < b; j++) ss += (double)g[j] * g[j];
           double norm = ss > 0 ? sqrt(ss) : ss, c = coef[PX_OC_CLIP];
           scale[i] = (float)(c / (norm > c || norm != norm ? norm : c));)

/* The segment holding element i (segments sorted, seg[0] == 0). */
PXK_FN int pxk_segment_of(const int64_t *seg, int n_seg, int64_t i) {
    int lo = 0, hi = n_seg - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (seg[mid] <= i) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

typedef struct pxk_opt {
    int kind, clip;
    bool momentum, nesterov, amsgrad, centered;
    int n_seg;
} pxk_opt;

PXK_KERNEL(k_optimizer, (pxk_opt o, float *p, const float *grads, float *s0, float *s1, float *s2, const float *coef,
                         const int64_t *seg, const float *scale),
           float g = grads[i];
           if (o.clip == PX_CLIP_VALUE) {
               float c = coef[PX_OC_CLIP];
               g = g < -c ? -c : g > c ? c : g;
           } else if (o.clip == PX_CLIP_GLOBAL_NORM) {
               g = g * scale[0];
           } else if (o.clip == PX_CLIP_NORM) {
               g = g * scale[seg ? pxk_segment_of(seg, o.n_seg, i) : 0];
           }
           const float lr = coef[PX_OC_LR], keep = coef[PX_OC_KEEP], eps = coef[PX_OC_EPS];
           switch (o.kind) {
           case PX_OPTK_SGD:
               if (!o.momentum) {
                   p[i] = p[i] * keep - lr * g;
               } else {
                   float mu = coef[PX_OC_MU], m = mu * s0[i] - lr * g;
                   s0[i] = m;
                   p[i] = p[i] * keep + (o.nesterov ? mu * m - lr * g : m);
               }
               break;
           case PX_OPTK_ADAGRAD: {
               float a = s0[i] + g * g;
               s0[i] = a;
               p[i] = p[i] * keep - lr * g / sqrtf(a + eps);
               break;
           }
           case PX_OPTK_RMSPROP: {
               /* slots: velocity, then momentum if used, then the average gradient if centered */
               float rho = coef[PX_OC_RHO], v = rho * s0[i] + (1.0f - rho) * g * g;
               s0[i] = v;
               float denom = v + eps;
               if (o.centered) {
                   float *avg = o.momentum ? s2 : s1;
                   float a = rho * avg[i] + (1.0f - rho) * g;
                   avg[i] = a;
                   denom = v - a * a + eps;
               }
               float inc = lr * g / sqrtf(denom);
               if (o.momentum) {
                   float m = coef[PX_OC_MU] * s1[i] + inc;
                   s1[i] = m;
                   inc = m;
               }
               p[i] = p[i] * keep - inc;
               break;
           }
           case PX_OPTK_ADADELTA: {
               float rho = coef[PX_OC_RHO], eg = rho * s0[i] + (1.0f - rho) * g * g;
               s0[i] = eg;
               float d = -sqrtf(s1[i] + eps) / sqrtf(eg + eps) * g;
               s1[i] = rho * s1[i] + (1.0f - rho) * d * d;
               p[i] = p[i] * keep + lr * d;
               break;
           }
           default: { /* Adam, AdamW, Nadam: slots momentum, velocity (, velocity_hat) */
               float c1 = 1.0f - coef[PX_OC_B1], c2 = 1.0f - coef[PX_OC_B2];
               float m = s0[i] + (g - s0[i]) * c1, v = s1[i] + (g * g - s1[i]) * c2;
               s0[i] = m;
               s1[i] = v;
               if (o.amsgrad) {
                   v = s2[i] > v ? s2[i] : v;
                   s2[i] = v;
               }
               if (o.kind == PX_OPTK_NADAM)
                   p[i] = p[i] * keep - (coef[PX_OC_CM] * m + coef[PX_OC_CG] * g) * lr / (sqrtf(v / coef[PX_OC_BC2]) + eps);
               else
                   p[i] = p[i] * keep - m * lr / (sqrtf(v) + eps);
               break;
           }
           })

static px_status pxk_optimizer_step(pxk_ctx *c, const px_optim_kernel *k) {
    pxk_opt o = {k->kind, k->clip, k->momentum, k->nesterov, k->amsgrad, k->centered, k->n_segments};
    double *part = (double *)k->work;
    float *scale = (float *)((char *)k->work + PXK_PARTS * sizeof(double));
    px_status st = PX_OK;
    if (k->clip == PX_CLIP_GLOBAL_NORM) {
        st = PXK_RUN(c, k_sum_squares_parts, PXK_PARTS, k->grads, k->n, part);
        if (st == PX_OK) st = PXK_RUN(c, k_global_clip_scale, 1, part, k->coef, scale);
    } else if (k->clip == PX_CLIP_NORM) {
        int segs = k->segments ? k->n_segments : 1;
        st = PXK_RUN(c, k_segment_clip_scale, segs, k->grads, k->n, k->segments, segs, k->coef, scale);
    }
    if (st != PX_OK) return st;
    return PXK_RUN(c, k_optimizer, k->n, o, k->params, k->grads, k->slots[0], k->slots[1], k->slots[2], k->coef,
                   k->segments, (const float *)scale);
}

#endif
