/* Internal: device kernels of the elementwise ops (activations and math,
 * broadcasting arithmetic, scalar ops, copies, dropout, sigmoid cross-entropy,
 * maximum and minimum, attention masks),
 * written once for the reference device and CUDA (see portable.h). Semantics
 * follow the CPU ops in src/ops/ exactly; a backward pass stores into gin[i]
 * when fresh[i] says so and adds to it otherwise. */
#ifndef PX_BACKEND_KERNELS_ELEMENTWISE_OPS_H
#define PX_BACKEND_KERNELS_ELEMENTWISE_OPS_H

#include "backend/kernels/context.h"
#include "backend/kernels/helpers.h"
#include "backend/kernels/philox.h"
#include "backend/kernels/unary.h"

/* fresh[i] for the kernel descriptor (false without a table) */
static inline bool pxk_fresh(const px_kernel *k, int i) { return k->fresh && k->fresh[i]; }

static inline const float *pxk_f(const px_tensor *t) { return (const float *)t->data; }
static inline float *pxk_w(const px_tensor *t) { return (float *)t->data; }

/* ---- copies ---- */

PXK_KERNEL(k_copy32, (const uint32_t *x, uint32_t *y), y[i] = x[i];)
/* y = (fresh ? 0 : y) + s x */
PXK_KERNEL(k_axpy, (const float *x, float *y, float s, int fresh), y[i] = (fresh ? 0.0f : y[i]) + s * x[i];)

/* ---- unary ops: formulas in unary.h ---- */

PXK_KERNEL(k_unary_fwd, (int code, const float *x, float *y, float p0, float p1),
           y[i] = pxk_unary_fwd(code, x[i], p0, p1);)
PXK_KERNEL(k_unary_bwd, (int code, const float *x, const float *y, const float *g, float *gx, float p0, float p1,
                         int fresh),
           float d = pxk_unary_bwd(code, x[i], y[i], g[i], p0, p1);
           gx[i] = fresh ? d : gx[i] + d;)

static px_status pxk_unary_forward(pxk_ctx *c, const px_kernel *k) {
    return PXK_RUN(c, k_unary_fwd, pxk_numel(k->out), (int)k->code, pxk_f(k->in[0]), pxk_w(k->out), k->fattr[0],
                   k->fattr[1]);
}
static px_status pxk_unary_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    return PXK_RUN(c, k_unary_bwd, pxk_numel(k->out), (int)k->code, pxk_f(k->in[0]), pxk_f(k->out), pxk_f(k->gout),
                   pxk_w(k->gin[0]), k->fattr[0], k->fattr[1], (int)pxk_fresh(k, 0));
}

/* ---- x + c, x * c ---- */

PXK_KERNEL(k_affine, (const float *x, float *y, float a, float b), y[i] = x[i] * a + b;)
PXK_KERNEL(k_add_c, (const float *x, float *y, float b), y[i] = x[i] + b;)

static px_status pxk_scalar_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t n = pxk_numel(k->out);
    if (k->code == PX_K_ADD_SCALAR) return PXK_RUN(c, k_add_c, n, pxk_f(k->in[0]), pxk_w(k->out), k->fattr[0]);
    return PXK_RUN(c, k_affine, n, pxk_f(k->in[0]), pxk_w(k->out), k->fattr[0], 0.0f);
}
static px_status pxk_scalar_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    float s = k->code == PX_K_ADD_SCALAR ? 1.0f : k->fattr[0];
    return PXK_RUN(c, k_axpy, pxk_numel(k->out), pxk_f(k->gout), pxk_w(k->gin[0]), s, 0);
}

/* ---- reshape and stop_gradient: copies (a session aliases reshape instead) ---- */

static px_status pxk_copy_forward(pxk_ctx *c, const px_kernel *k) {
    if (k->out->data == k->in[0]->data) return PX_OK;
    return PXK_RUN(c, k_copy32, pxk_numel(k->out), (const uint32_t *)k->in[0]->data, (uint32_t *)k->out->data);
}
static px_status pxk_copy_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0] || k->code == PX_K_STOP_GRADIENT) return PX_OK;
    return PXK_RUN(c, k_axpy, pxk_numel(k->out), pxk_f(k->gout), pxk_w(k->gin[0]), 1.0f, (int)pxk_fresh(k, 0));
}

/* ---- broadcasting arithmetic ---- */

/* The output's shape and each operand's strides aligned to it, 0 on axes the
 * operand is broadcast along (as ops/broadcast.c computes them). */
typedef struct pxk_bcast {
    int rank;
    int64_t shape[PX_MAX_RANK];
    int64_t st[2][PX_MAX_RANK];
} pxk_bcast;

static inline void pxk_bcast_init(pxk_bcast *p, const px_tensor *a, const px_tensor *b, const px_tensor *out) {
    p->rank = out->rank ? out->rank : 1;
    for (int i = 0; i < p->rank; i++) p->shape[i] = out->rank ? out->shape[i] : 1;
    const px_tensor *t[2] = {a, b};
    for (int o = 0; o < 2; o++) {
        int64_t s = 1;
        for (int i = p->rank - 1; i >= 0; i--) {
            int ti = t[o]->rank - p->rank + i;
            int64_t d = ti >= 0 ? t[o]->shape[ti] : 1;
            p->st[o][i] = (d == 1 && p->shape[i] != 1) ? 0 : s;
            s *= d;
        }
    }
}

/* Offsets in a and b of output element o. */
PXK_FN void pxk_bcast_at(const pxk_bcast *p, int64_t o, int64_t *oa, int64_t *ob) {
    int64_t a = 0, b = 0;
    for (int d = p->rank - 1; d >= 0; d--) {
        int64_t idx = o % p->shape[d];
        o /= p->shape[d];
        a += idx * p->st[0][d];
        b += idx * p->st[1][d];
    }
    *oa = a;
    *ob = b;
}

PXK_KERNEL(k_binary_fwd, (int op, pxk_bcast p, const float *a, const float *b, float *y),
           int64_t oa, ob;
           pxk_bcast_at(&p, i, &oa, &ob);
           y[i] = pxk_binary(op, a[oa], b[ob]);)

/* Element i of operand `which` (0: a, 1: b) gathers the gradient of every
 * output element it was broadcast to, in row-major order of those elements. */
PXK_KERNEL(k_binary_bwd, (int op, int which, pxk_bcast p, const float *a, const float *b, const float *g, float *gx,
                          int fresh),
           int64_t idx[PX_MAX_RANK];
           int64_t rest = i, reps = 1;
           const int64_t *st = p.st[which];
           for (int d = p.rank - 1; d >= 0; d--) {
               if (st[d]) {
                   idx[d] = rest % p.shape[d];
                   rest /= p.shape[d];
               } else {
                   idx[d] = 0;
                   reps *= p.shape[d];
               }
           }
           float acc = 0;
           for (int64_t r = 0; r < reps; r++) {
               /* r counts over the broadcast axes, the last fastest */
               int64_t q = r, o = 0, scale = 1;
               for (int d = p.rank - 1; d >= 0; d--) {
                   int64_t v = idx[d];
                   if (!st[d]) {
                       v = q % p.shape[d];
                       q /= p.shape[d];
                   }
                   o += v * scale;
                   scale *= p.shape[d];
               }
               int64_t oa, ob;
               pxk_bcast_at(&p, o, &oa, &ob);
               acc += which ? pxk_binary_gb(op, g[o], a[oa], b[ob]) : pxk_binary_ga(op, g[o], b[ob]);
           }
           gx[i] = fresh ? acc : gx[i] + acc;)

static px_status pxk_binary_forward(pxk_ctx *c, const px_kernel *k) {
    pxk_bcast p;
    pxk_bcast_init(&p, k->in[0], k->in[1], k->out);
    return PXK_RUN(c, k_binary_fwd, pxk_numel(k->out), (int)k->iattr[0], p, pxk_f(k->in[0]), pxk_f(k->in[1]),
                   pxk_w(k->out));
}
static px_status pxk_binary_backward(pxk_ctx *c, const px_kernel *k) {
    pxk_bcast p;
    pxk_bcast_init(&p, k->in[0], k->in[1], k->out);
    px_status st = PX_OK;
    for (int w = 0; w < 2 && st == PX_OK; w++)
        if (k->gin[w])
            st = PXK_RUN(c, k_binary_bwd, pxk_numel(k->in[w]), (int)k->iattr[0], w, p, pxk_f(k->in[0]),
                         pxk_f(k->in[1]), pxk_f(k->gout), pxk_w(k->gin[w]), (int)pxk_fresh(k, w));
    return st;
}

/* ---- dropout: the mask from the run's seed, kept as bytes in the state ---- */

enum { PXK_MASK_HEADER = 16 }; /* as ops/dropout.c */

PXK_KERNEL(k_set_u32, (uint32_t *p, uint32_t v), p[i] = v;)
PXK_KERNEL(k_dropout_fwd, (const float *x, float *y, uint8_t *mask, uint64_t seed, float rate, float scale),
           uint8_t keep = pxk_uniform_at(seed, i) >= rate;
           mask[i] = keep;
           y[i] = keep ? x[i] * scale : 0.0f;)
PXK_KERNEL(k_dropout_bwd, (const float *g, float *gx, const uint32_t *applied, const uint8_t *mask, float scale),
           gx[i] += *applied ? (mask[i] ? g[i] * scale : 0.0f) : g[i];)

static px_status pxk_dropout_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t n = pxk_numel(k->out);
    if (!k->state) return pxk_copy_forward(c, k); /* rate 0 */
    px_status st = PXK_RUN(c, k_set_u32, 1, (uint32_t *)k->state, (uint32_t)k->training);
    if (st != PX_OK || !k->training) return st != PX_OK ? st : pxk_copy_forward(c, k);
    float rate = k->fattr[0];
    return PXK_RUN(c, k_dropout_fwd, n, pxk_f(k->in[0]), pxk_w(k->out), (uint8_t *)k->state + PXK_MASK_HEADER,
                   k->seed, rate, 1.0f / (1.0f - rate));
}
static px_status pxk_dropout_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    int64_t n = pxk_numel(k->out);
    if (!k->state) return PXK_RUN(c, k_axpy, n, pxk_f(k->gout), pxk_w(k->gin[0]), 1.0f, 0);
    return PXK_RUN(c, k_dropout_bwd, n, pxk_f(k->gout), pxk_w(k->gin[0]), (const uint32_t *)k->state,
                   (const uint8_t *)k->state + PXK_MASK_HEADER, 1.0f / (1.0f - k->fattr[0]));
}

/* ---- sigmoid cross-entropy (elementwise) ---- */

PXK_KERNEL(k_bce_fwd, (const float *z, const float *y, float *o),
           o[i] = fmaxf(z[i], 0.0f) - z[i] * y[i] + log1pf(expf(-fabsf(z[i])));)
PXK_KERNEL(k_bce_bwd, (const float *z, const float *y, const float *g, float *gz, float *gy),
           if (gz) gz[i] += g[i] * (pxk_sigmoid_stable(z[i]) - y[i]);
           if (gy) gy[i] -= g[i] * z[i];)

static px_status pxk_bce_forward(pxk_ctx *c, const px_kernel *k) {
    return PXK_RUN(c, k_bce_fwd, pxk_numel(k->out), pxk_f(k->in[0]), pxk_f(k->in[1]), pxk_w(k->out));
}
static px_status pxk_bce_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0] && !k->gin[1]) return PX_OK;
    return PXK_RUN(c, k_bce_bwd, pxk_numel(k->out), pxk_f(k->in[0]), pxk_f(k->in[1]), pxk_f(k->gout),
                   k->gin[0] ? pxk_w(k->gin[0]) : (float *)NULL, k->gin[1] ? pxk_w(k->gin[1]) : (float *)NULL);
}

/* ---- maximum, minimum of two same-shape tensors (iattr[0] 1: maximum); on a
 * tie the gradient goes to the first input, as ops/extrema.c ---- */

PXK_FN bool pxk_picks_a(int is_max, float a, float b) { return is_max ? a >= b : a <= b; }
PXK_KERNEL(k_extrema_fwd, (int is_max, const float *a, const float *b, float *y),
           y[i] = pxk_picks_a(is_max, a[i], b[i]) ? a[i] : b[i];)
PXK_KERNEL(k_extrema_bwd, (int is_max, const float *a, const float *b, const float *g, float *ga, float *gb),
           bool pa = pxk_picks_a(is_max, a[i], b[i]);
           if (ga && pa) ga[i] += g[i];
           if (gb && !pa) gb[i] += g[i];)

static px_status pxk_extrema_forward(pxk_ctx *c, const px_kernel *k) {
    return PXK_RUN(c, k_extrema_fwd, pxk_numel(k->out), (int)k->iattr[0], pxk_f(k->in[0]), pxk_f(k->in[1]),
                   pxk_w(k->out));
}
static px_status pxk_extrema_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0] && !k->gin[1]) return PX_OK;
    return PXK_RUN(c, k_extrema_bwd, pxk_numel(k->out), (int)k->iattr[0], pxk_f(k->in[0]), pxk_f(k->in[1]),
                   pxk_f(k->gout), k->gin[0] ? pxk_w(k->gin[0]) : (float *)NULL,
                   k->gin[1] ? pxk_w(k->gin[1]) : (float *)NULL);
}

/* ---- attention scores with masked positions pushed to -1e9 (ops/attention.c):
 * iattr[0] causal, [1] has a mask: (B, Tk), (B, Tq, Tk) or (B, Tq, 1) ---- */

typedef struct pxk_amask {
    int64_t tq, tk, mats; /* score matrices per batch row */
    int causal, kind;     /* kind: 0 no mask, 1 keys (B, Tk), 2 full (B, Tq, Tk), 3 queries (B, Tq, 1) */
} pxk_amask;

PXK_KERNEL(k_amask_fwd, (pxk_amask a, const float *x, const float *m, float *y),
           int64_t j = i % a.tk, q = (i / a.tk) % a.tq, b = i / (a.tk * a.tq * a.mats);
           float keep = a.causal && j > q ? 0.0f : 1.0f;
           if (a.kind == 1) keep *= m[b * a.tk + j];
           else if (a.kind == 2) keep *= m[(b * a.tq + q) * a.tk + j];
           else if (a.kind == 3) keep *= m[b * a.tq + q];
           y[i] = x[i] - 1e9f * (1.0f - keep);)

static px_status pxk_amask_forward(pxk_ctx *c, const px_kernel *k) {
    const px_tensor *s = k->in[0];
    pxk_amask a;
    a.tq = s->shape[s->rank - 2];
    a.tk = s->shape[s->rank - 1];
    int64_t per_b = s->shape[0] ? pxk_numel(s) / s->shape[0] : 0;
    a.mats = a.tq > 0 && a.tk > 0 ? per_b / (a.tq * a.tk) : 0;
    a.causal = (int)k->iattr[0];
    const px_tensor *m = k->iattr[1] ? k->in[1] : NULL;
    a.kind = !m ? 0 : m->rank == 2 ? 1 : m->shape[2] == a.tk ? 2 : 3;
    return PXK_RUN(c, k_amask_fwd, pxk_numel(k->out), a, pxk_f(s), m ? pxk_f(m) : (const float *)NULL, pxk_w(k->out));
}
/* the subtracted term is constant: the scores' gradient passes unchanged, the mask gets none */
static px_status pxk_amask_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    return PXK_RUN(c, k_axpy, pxk_numel(k->out), pxk_f(k->gout), pxk_w(k->gin[0]), 1.0f, (int)pxk_fresh(k, 0));
}

/* ---- hinge labels: {0, 1} to {-1, 1} when every label is 0 or 1 ---- */

PXK_KERNEL(k_all_binary, (const float *y, int64_t n, uint32_t *flag),
           uint32_t b = 1;
           for (int64_t j = 0; j < n && b; j++) b = y[j] == 0.0f || y[j] == 1.0f;
           flag[i] = b;)
PXK_KERNEL(k_signed, (const float *y, float *o, const uint32_t *flag), o[i] = *flag ? 2.0f * y[i] - 1.0f : y[i];)

static px_status pxk_signed_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t n = pxk_numel(k->out);
    px_status st = PXK_RUN(c, k_all_binary, 1, pxk_f(k->in[0]), n, (uint32_t *)k->work);
    return st ? st : PXK_RUN(c, k_signed, n, pxk_f(k->in[0]), pxk_w(k->out), (const uint32_t *)k->work);
}

/* ---- Keras's ReLU with four parameters (PX_K_RELU_EX) ---- */

PXK_KERNEL(k_relu_ex_fwd, (const float *x, float *y, float s, float t, float m, float h),
           y[i] = pxk_relu_ex(x[i], s, t, m, h);)
PXK_KERNEL(k_relu_ex_bwd, (const float *x, const float *g, float *gx, float s, float t, float m, float h, int fresh),
           float d = g[i] * pxk_relu_ex_grad(x[i], s, t, m, h);
           gx[i] = fresh ? d : gx[i] + d;)

static px_status pxk_relu_ex_forward(pxk_ctx *c, const px_kernel *k) {
    const float *f = k->fattr;
    return PXK_RUN(c, k_relu_ex_fwd, pxk_numel(k->out), pxk_f(k->in[0]), pxk_w(k->out), f[0], f[1], f[2], f[3]);
}
static px_status pxk_relu_ex_backward(pxk_ctx *c, const px_kernel *k) {
    const float *f = k->fattr;
    if (!k->gin[0]) return PX_OK;
    return PXK_RUN(c, k_relu_ex_bwd, pxk_numel(k->out), pxk_f(k->in[0]), pxk_f(k->gout), pxk_w(k->gin[0]), f[0], f[1],
                   f[2], f[3], (int)pxk_fresh(k, 0));
}

/* ---- in_train_phase: the branch of the run's phase, and its gradient ---- */

/* the gradient goes to the branch the forward pass passed on (its index in the state) */
PXK_KERNEL(k_phase_bwd, (const uint32_t *pick, const float *g, float *g0, float *g1),
           float *t = *pick == 0 ? g0 : g1;
           if (t) t[i] += g[i];)

static px_status pxk_phase_forward(pxk_ctx *c, const px_kernel *k) {
    uint32_t pick = k->training ? 0u : 1u;
    px_status st = PXK_RUN(c, k_set_u32, 1, (uint32_t *)k->state, pick);
    if (st != PX_OK) return st;
    return PXK_RUN(c, k_copy32, pxk_numel(k->out), (const uint32_t *)k->in[pick]->data, (uint32_t *)k->out->data);
}
static px_status pxk_phase_backward(pxk_ctx *c, const px_kernel *k) {
    return PXK_RUN(c, k_phase_bwd, pxk_numel(k->out), (const uint32_t *)k->state, pxk_f(k->gout),
                   k->gin[0] ? pxk_w(k->gin[0]) : (float *)NULL, k->gin[1] ? pxk_w(k->gin[1]) : (float *)NULL);
}

#endif
