/* Internal: device kernels of the recurrent ops (rnn, rnn_general, rnn_take):
 * SimpleRNN, LSTM and GRU (reset_after true and false) cells in Keras's weight
 * layout, any elementwise activation, timestep masks, every direction, forward
 * and backpropagation through time, written once for the reference device and
 * CUDA. The inputs of every step are projected in one product; each step then
 * runs its recurrent product through the backend's pxk_gemm and one
 * elementwise kernel over (batch, units) for the gates and the state. The
 * formulas and the output layout follow the CPU ops (ops/rnn.c,
 * ops/rnn_general.c); input and recurrent dropout stay on the CPU (its masks
 * come from the graph's serial generator). */
#ifndef PX_BACKEND_KERNELS_RNN_OPS_H
#define PX_BACKEND_KERNELS_RNN_OPS_H

#include <string.h>

#include "backend/kernels/product_ops.h"

enum { PXK_RNN_SIMPLE = 0, PXK_RNN_LSTM = 1, PXK_RNN_GRU = 2 };
/* px_rnn_direction's values (plexus/ops.h) */
enum { PXK_RNN_FORWARD = 0, PXK_RNN_BACKWARD = 1, PXK_RNN_BACKWARD_ALIGNED = 2 };

/* An op's sizes and options, from its descriptor. */
typedef struct pxk_rnn {
    int64_t B, T, F, u, G, Gu, N, S, TO;
    int cell, dir, act, ract;
    float a0, r0;
    bool bias, reset_after, zero_out, general;
    const float *mask; /* (B, T), or NULL */
} pxk_rnn;

PXK_FN float pxk_rnn_p1(int code) { return code == PX_K_HARD_SIGMOID ? 0.5f : 0.0f; }

static inline pxk_rnn pxk_rnn_of(const px_kernel *k) {
    pxk_rnn d;
    const px_tensor *x = k->in[0], *U = k->in[2];
    d.general = k->code == PX_K_RNN_GENERAL;
    d.cell = (int)k->iattr[0];
    d.dir = (int)k->iattr[1];
    d.bias = k->iattr[2] != 0;
    d.reset_after = k->iattr[3] != 0;
    d.zero_out = d.general && k->iattr[7] != 0;
    d.act = d.general ? (int)k->iattr[8] : PX_K_TANH;
    d.ract = d.general ? (int)k->iattr[9] : PX_K_SIGMOID;
    d.a0 = d.general ? k->fattr[2] : 0.0f;
    d.r0 = d.general ? k->fattr[3] : 0.0f;
    d.mask = d.general && k->iattr[6] ? pxk_f(k->in[3 + (int)d.bias]) : (const float *)NULL;
    d.B = x->shape[0], d.T = x->shape[1], d.F = x->shape[2], d.u = U->shape[0];
    d.G = d.cell == PXK_RNN_LSTM ? 4 : d.cell == PXK_RNN_GRU ? 3 : 1;
    d.Gu = d.G * d.u;
    d.N = d.B * d.T;
    d.S = d.cell == PXK_RNN_LSTM ? 2 : 1;
    d.TO = d.T + d.S;
    return d;
}

static inline int64_t pxk_rnn_tin(const pxk_rnn *d, int64_t s) { return d->dir == PXK_RNN_FORWARD ? s : d->T - 1 - s; }
static inline int64_t pxk_rnn_pos(const pxk_rnn *d, int64_t s) {
    return d->dir == PXK_RNN_BACKWARD_ALIGNED ? d->T - 1 - s : s;
}

/* The state (floats), rows indexed by (batch row, input time) as the CPU's:
 * A (N, Gu) the gates' pre-activations (bias and recurrent part included),
 * Y (N, Gu) their activations, dZ (N, Gu) the gradients of A, dZr (N, Gu,
 * GRU reset_after only) those of the recurrent product, Hp (N, u) the h each
 * step started from, C (N, u) LSTM's c after the step (a masked step's is the
 * c carried through it) or GRU's recurrent candidate part (reset_after:
 * U_h h + b_h; reset_before: r h), dh and dc (B, u) the running gradients,
 * tmp (B, Gu) a step's recurrent product (GRU reset_after) or d(r h). */
typedef struct pxk_rnn_bufs {
    float *A, *Y, *dZ, *dZr, *Hp, *C, *dh, *dc, *tmp;
} pxk_rnn_bufs;

static inline size_t pxk_rnn_state_floats(const pxk_rnn *d) {
    bool two = d->cell == PXK_RNN_GRU && d->reset_after;
    return (size_t)(d->N * d->Gu * (two ? 4 : 3) + 2 * d->N * d->u + 2 * d->B * d->u + d->B * d->Gu);
}

static inline pxk_rnn_bufs pxk_rnn_bufs_of(const pxk_rnn *d, void *state) {
    pxk_rnn_bufs b;
    float *p = (float *)state;
    b.A = p, p += d->N * d->Gu;
    b.Y = p, p += d->N * d->Gu;
    b.dZ = p, p += d->N * d->Gu;
    b.dZr = NULL;
    if (d->cell == PXK_RNN_GRU && d->reset_after) b.dZr = p, p += d->N * d->Gu;
    b.Hp = p, p += d->N * d->u;
    b.C = p, p += d->N * d->u;
    b.dh = p, p += d->B * d->u;
    b.dc = p, p += d->B * d->u;
    b.tmp = p;
    return b;
}

/* One step's operands, each at batch row 0 of the step's time; row b lies b
 * strides further on: A, Y, dZ, dZr ldA (T Gu) apart, Hp, C, Cp ldH (T u)
 * apart, the output row y and its gradient g ldy ((T + S) u) apart, hn ldn
 * apart, mask entries T apart; dh, dc, tmp are (B, .) and contiguous. */
typedef struct pxk_rnn_step {
    int64_t u, ldA, ldH, ldy, ldn, ldm;
    int cell, reset_after, zero_out, act, ract;
    float a0, a1, r0, r1;
    float *A, *Y, *dZ, *dZr, *Hp, *C, *y, *hn, *dh, *dc;
    const float *Cp, *bias, *brec, *rec, *mask, *g, *drh;
} pxk_rnn_step;

/* The two activations, forward, and their derivative times g at pre-activation a with output y. */
PXK_FN float pxk_rnn_f(const pxk_rnn_step *s, float a) { return pxk_unary_fwd(s->act, a, s->a0, s->a1); }
PXK_FN float pxk_rnn_rf(const pxk_rnn_step *s, float a) { return pxk_unary_fwd(s->ract, a, s->r0, s->r1); }
PXK_FN float pxk_rnn_df(const pxk_rnn_step *s, float a, float y, float g) {
    return pxk_unary_bwd(s->act, a, y, g, s->a0, s->a1);
}
PXK_FN float pxk_rnn_drf(const pxk_rnn_step *s, float a, float y, float g) {
    return pxk_unary_bwd(s->ract, a, y, g, s->r0, s->r1);
}

enum {
    PXK_RNN_MAIN = 0, /* forward: the whole cell (GRU reset_before: after the candidate's product);
                         backward: the gates' gradients and d h_prev's direct part */
    PXK_RNN_GATES = 1 /* GRU reset_before: forward z, r and r h before the candidate's product;
                         backward the reset gate's gradient and d h_prev through r h */
};

/* Forward of step element (b, j). A holds the input projection plus, for every
 * cell but GRU reset_after, the recurrent product of the gates that see h. */
PXK_FN void pxk_rnn_fwd_at(const pxk_rnn_step *s, int phase, int64_t i) {
    const int64_t u = s->u, b = i / u, j = i % u;
    float *A = s->A + b * s->ldA, *Y = s->Y + b * s->ldA, *C = s->C + b * s->ldH;
    const float *hp = s->Hp + b * s->ldH, *bias = s->bias;
    if (phase == PXK_RNN_GATES) {
        float az = A[j] + (bias ? bias[j] : 0.0f), ar = A[u + j] + (bias ? bias[u + j] : 0.0f);
        A[j] = az, A[u + j] = ar;
        Y[j] = pxk_rnn_rf(s, az), Y[u + j] = pxk_rnn_rf(s, ar);
        C[j] = Y[u + j] * hp[j];
        return;
    }
    float h;
    if (s->mask && s->mask[b * s->ldm] == 0) { /* a masked step keeps the state */
        h = hp[j];
        if (s->cell == PXK_RNN_LSTM) C[j] = s->Cp ? s->Cp[b * s->ldH + j] : 0.0f;
        s->y[b * s->ldy + j] = s->zero_out ? 0.0f : h;
    } else {
        if (s->cell == PXK_RNN_SIMPLE) {
            float a = A[j] + (bias ? bias[j] : 0.0f);
            A[j] = a;
            h = Y[j] = pxk_rnn_f(s, a);
        } else if (s->cell == PXK_RNN_LSTM) {
            for (int g = 0; g < 4; g++) {
                float a = A[g * u + j] + (bias ? bias[g * u + j] : 0.0f);
                A[g * u + j] = a;
                Y[g * u + j] = g == 2 ? pxk_rnn_f(s, a) : pxk_rnn_rf(s, a);
            }
            float c = Y[j] * Y[2 * u + j];
            if (s->Cp) c += Y[u + j] * s->Cp[b * s->ldH + j];
            C[j] = c;
            h = Y[3 * u + j] * pxk_rnn_f(s, c);
        } else {
            float ah;
            if (s->reset_after) {
                const float *rec = s->rec + b * 3 * u, *br = s->brec;
                float az = A[j] + (bias ? bias[j] : 0.0f) + rec[j] + (br ? br[j] : 0.0f);
                float ar = A[u + j] + (bias ? bias[u + j] : 0.0f) + rec[u + j] + (br ? br[u + j] : 0.0f);
                float rh = rec[2 * u + j] + (br ? br[2 * u + j] : 0.0f);
                A[j] = az, A[u + j] = ar;
                Y[j] = pxk_rnn_rf(s, az), Y[u + j] = pxk_rnn_rf(s, ar);
                C[j] = rh;
                ah = A[2 * u + j] + (bias ? bias[2 * u + j] : 0.0f) + Y[u + j] * rh;
            } else {
                ah = A[2 * u + j] + (bias ? bias[2 * u + j] : 0.0f);
            }
            A[2 * u + j] = ah;
            float hh = Y[2 * u + j] = pxk_rnn_f(s, ah), z = Y[j];
            h = z * hp[j] + (1.0f - z) * hh;
        }
        s->y[b * s->ldy + j] = h;
    }
    if (s->hn) s->hn[b * s->ldn + j] = h;
}

/* Backward of step element (b, j): from dh (the gradient of the step's h from
 * the later steps) and the output's gradient, the gates' gradients dZ (dZr);
 * dh becomes the part of d h_prev that does not go through a product (the
 * caller adds dZ U^T), dc is carried to the step before. */
PXK_FN void pxk_rnn_bwd_at(const pxk_rnn_step *s, int phase, int64_t i) {
    const int64_t u = s->u, b = i / u, j = i % u;
    const float *A = s->A + b * s->ldA, *Y = s->Y + b * s->ldA, *C = s->C + b * s->ldH;
    const float *hp = s->Hp + b * s->ldH;
    float *Z = s->dZ + b * s->ldA, *dh = s->dh + b * u, *dc = s->dc + b * u;
    const bool masked = s->mask && s->mask[b * s->ldm] == 0;
    if (phase == PXK_RNN_GATES) {
        if (masked) return;
        float r = Y[u + j], dr = s->drh[b * u + j];
        Z[u + j] = pxk_rnn_drf(s, A[u + j], r, dr * hp[j]);
        dh[j] += dr * r;
        return;
    }
    const int G = s->cell == PXK_RNN_LSTM ? 4 : s->cell == PXK_RNN_GRU ? 3 : 1;
    float d = dh[j] + (masked && s->zero_out ? 0.0f : s->g[b * s->ldy + j]);
    if (masked) { /* the output was h_prev, and the state passed through */
        for (int g = 0; g < G; g++) Z[g * u + j] = 0.0f;
        if (s->dZr)
            for (int g = 0; g < G; g++) s->dZr[b * s->ldA + g * u + j] = 0.0f;
        dh[j] = d;
        return;
    }
    if (s->cell == PXK_RNN_SIMPLE) {
        Z[j] = pxk_rnn_df(s, A[j], Y[j], d);
        dh[j] = 0.0f;
    } else if (s->cell == PXK_RNN_LSTM) {
        float ig = Y[j], fg = Y[u + j], cg = Y[2 * u + j], og = Y[3 * u + j], c = C[j], tc = pxk_rnn_f(s, c);
        float dcc = dc[j] + pxk_rnn_df(s, c, tc, d * og);
        float cp = s->Cp ? s->Cp[b * s->ldH + j] : 0.0f;
        Z[j] = pxk_rnn_drf(s, A[j], ig, dcc * cg);
        Z[u + j] = pxk_rnn_drf(s, A[u + j], fg, dcc * cp);
        Z[2 * u + j] = pxk_rnn_df(s, A[2 * u + j], cg, dcc * ig);
        Z[3 * u + j] = pxk_rnn_drf(s, A[3 * u + j], og, d * tc);
        dc[j] = dcc * fg;
        dh[j] = 0.0f;
    } else {
        float z = Y[j], hh = Y[2 * u + j];
        float dah = pxk_rnn_df(s, A[2 * u + j], hh, d * (1.0f - z));
        float dz = pxk_rnn_drf(s, A[j], z, d * (hp[j] - hh));
        Z[j] = dz;
        Z[2 * u + j] = dah;
        if (s->reset_after) {
            float r = Y[u + j], dr = pxk_rnn_drf(s, A[u + j], r, dah * C[j]);
            float *Zr = s->dZr + b * s->ldA;
            Z[u + j] = dr;
            Zr[j] = dz, Zr[u + j] = dr, Zr[2 * u + j] = dah * r;
        } else {
            Z[u + j] = 0.0f; /* PXK_RNN_GATES sets it, after d(r h) */
        }
        dh[j] = d * z; /* the direct path of h = z h_prev + (1 - z) hh */
    }
}

PXK_KERNEL(k_rnn_fwd, (pxk_rnn_step s, int phase), pxk_rnn_fwd_at(&s, phase, i);)
PXK_KERNEL(k_rnn_bwd, (pxk_rnn_step s, int phase), pxk_rnn_bwd_at(&s, phase, i);)
/* rows of u floats ld apart: dst = 0, or dst = src (src's rows lds apart) */
PXK_KERNEL(k_rnn_rows, (float *dst, int64_t ld, const float *src, int64_t lds, int64_t u),
           dst[(i / u) * ld + i % u] = src ? src[(i / u) * lds + i % u] : 0.0f;)

static pxk_rnn_step pxk_rnn_step_of(const px_kernel *k, const pxk_rnn *d, const pxk_rnn_bufs *b, int64_t s) {
    const int64_t t = pxk_rnn_tin(d, s), u = d->u, Gu = d->Gu;
    pxk_rnn_step st;
    memset(&st, 0, sizeof st);
    st.u = u, st.ldA = d->T * Gu, st.ldH = d->T * u, st.ldy = d->TO * u, st.ldm = d->T;
    st.cell = d->cell, st.reset_after = d->reset_after, st.zero_out = d->zero_out;
    st.act = d->act, st.ract = d->ract, st.a0 = d->a0, st.r0 = d->r0;
    st.a1 = pxk_rnn_p1(d->act), st.r1 = pxk_rnn_p1(d->ract);
    st.A = b->A + t * Gu, st.Y = b->Y + t * Gu, st.dZ = b->dZ + t * Gu;
    st.dZr = b->dZr ? b->dZr + t * Gu : NULL;
    st.Hp = b->Hp + t * u, st.C = b->C + t * u;
    st.Cp = s > 0 && d->cell == PXK_RNN_LSTM ? b->C + pxk_rnn_tin(d, s - 1) * u : (const float *)NULL;
    st.bias = d->bias ? pxk_f(k->in[3]) : (const float *)NULL;
    st.brec = st.bias && d->cell == PXK_RNN_GRU && d->reset_after ? st.bias + Gu : (const float *)NULL;
    st.rec = b->tmp, st.drh = b->tmp;
    st.mask = d->mask ? d->mask + t : (const float *)NULL;
    st.y = pxk_w(k->out) + pxk_rnn_pos(d, s) * u;
    /* h goes on to the next step's Hp, and after the last step to the final state row */
    st.hn = s + 1 < d->T ? b->Hp + pxk_rnn_tin(d, s + 1) * u : pxk_w(k->out) + d->T * u;
    st.ldn = s + 1 < d->T ? st.ldH : st.ldy;
    st.dh = b->dh, st.dc = b->dc;
    st.g = k->gout ? pxk_f(k->gout) + pxk_rnn_pos(d, s) * u : (const float *)NULL;
    return st;
}

static px_status pxk_rnn_forward(pxk_ctx *c, const px_kernel *k) {
    pxk_rnn d = pxk_rnn_of(k);
    pxk_rnn_bufs b = pxk_rnn_bufs_of(&d, k->state);
    const int64_t B = d.B, T = d.T, u = d.u, Gu = d.Gu, BU = B * u;
    const float *U = pxk_f(k->in[2]);
    if (B == 0) return PX_OK;
    /* every step's input projection in one product */
    px_status st = pxk_gemm(c, false, false, d.N, Gu, d.F, 1.0f, pxk_f(k->in[0]), d.F, pxk_f(k->in[1]), Gu, 0.0f,
                            b.A, Gu);
    if (st == PX_OK) st = PXK_RUN(c, k_rnn_rows, BU, b.Hp + pxk_rnn_tin(&d, 0) * u, T * u, (const float *)NULL, 0, u);
    for (int64_t s = 0; s < T && st == PX_OK; s++) {
        pxk_rnn_step p = pxk_rnn_step_of(k, &d, &b, s);
        if (d.cell != PXK_RNN_GRU) {
            st = pxk_gemm(c, false, false, B, Gu, u, 1.0f, p.Hp, p.ldH, U, Gu, 1.0f, p.A, p.ldA);
        } else if (d.reset_after) {
            st = pxk_gemm(c, false, false, B, Gu, u, 1.0f, p.Hp, p.ldH, U, Gu, 0.0f, b.tmp, Gu);
        } else { /* the reset gate acts before the candidate's recurrent product */
            st = pxk_gemm(c, false, false, B, 2 * u, u, 1.0f, p.Hp, p.ldH, U, Gu, 1.0f, p.A, p.ldA);
            if (st == PX_OK) st = PXK_RUN(c, k_rnn_fwd, BU, p, (int)PXK_RNN_GATES);
            if (st == PX_OK)
                st = pxk_gemm(c, false, false, B, u, u, 1.0f, p.C, p.ldH, U + 2 * u, Gu, 1.0f, p.A + 2 * u, p.ldA);
        }
        if (st == PX_OK) st = PXK_RUN(c, k_rnn_fwd, BU, p, (int)PXK_RNN_MAIN);
    }
    /* LSTM's final c: the C of the last step */
    if (st == PX_OK && d.cell == PXK_RNN_LSTM)
        st = PXK_RUN(c, k_rnn_rows, BU, pxk_w(k->out) + (T + 1) * u, d.TO * u,
                     (const float *)(b.C + pxk_rnn_tin(&d, T - 1) * u), T * u, u);
    return st;
}

static px_status pxk_rnn_backward(pxk_ctx *c, const px_kernel *k) {
    pxk_rnn d = pxk_rnn_of(k);
    pxk_rnn_bufs b = pxk_rnn_bufs_of(&d, k->state);
    const int64_t B = d.B, T = d.T, u = d.u, Gu = d.Gu, BU = B * u, N = d.N, F = d.F;
    const float *x = pxk_f(k->in[0]), *W = pxk_f(k->in[1]), *U = pxk_f(k->in[2]), *g = pxk_f(k->gout);
    /* the final states' gradients start dh and dc */
    px_status st = PXK_RUN(c, k_rnn_rows, BU, b.dh, u, g + T * u, d.TO * u, u);
    if (st == PX_OK)
        st = PXK_RUN(c, k_rnn_rows, BU, b.dc, u, d.cell == PXK_RNN_LSTM ? g + (T + 1) * u : (const float *)NULL,
                     d.TO * u, u);
    for (int64_t s = T - 1; s >= 0 && st == PX_OK && B > 0; s--) {
        pxk_rnn_step p = pxk_rnn_step_of(k, &d, &b, s);
        st = PXK_RUN(c, k_rnn_bwd, BU, p, (int)PXK_RNN_MAIN);
        if (st != PX_OK) break;
        if (d.cell != PXK_RNN_GRU) {
            st = pxk_gemm(c, false, true, B, u, Gu, 1.0f, p.dZ, p.ldA, U, Gu, 1.0f, b.dh, u);
        } else if (d.reset_after) {
            st = pxk_gemm(c, false, true, B, u, Gu, 1.0f, p.dZr, p.ldA, U, Gu, 1.0f, b.dh, u);
        } else { /* d(r h) through the candidate's product, then the reset gate, then z's and r's products */
            st = pxk_gemm(c, false, true, B, u, u, 1.0f, p.dZ + 2 * u, p.ldA, U + 2 * u, Gu, 0.0f, b.tmp, u);
            if (st == PX_OK) st = PXK_RUN(c, k_rnn_bwd, BU, p, (int)PXK_RNN_GATES);
            if (st == PX_OK) st = pxk_gemm(c, false, true, B, u, 2 * u, 1.0f, p.dZ, p.ldA, U, Gu, 1.0f, b.dh, u);
        }
    }
    /* the inputs' and weights' gradients: products over all steps at once */
    float keep[4];
    for (int i = 0; i < 4; i++) keep[i] = pxk_fresh(k, i) ? 0.0f : 1.0f;
    if (st == PX_OK && k->gin[0])
        st = pxk_gemm(c, false, true, N, F, Gu, 1.0f, b.dZ, Gu, W, Gu, keep[0], pxk_w(k->gin[0]), F);
    if (st == PX_OK && k->gin[1])
        st = pxk_gemm(c, true, false, F, Gu, N, 1.0f, x, F, b.dZ, Gu, keep[1], pxk_w(k->gin[1]), Gu);
    if (st == PX_OK && k->gin[2]) {
        float *gU = pxk_w(k->gin[2]);
        if (d.cell != PXK_RNN_GRU) {
            st = pxk_gemm(c, true, false, u, Gu, N, 1.0f, b.Hp, u, b.dZ, Gu, keep[2], gU, Gu);
        } else if (d.reset_after) {
            st = pxk_gemm(c, true, false, u, Gu, N, 1.0f, b.Hp, u, b.dZr, Gu, keep[2], gU, Gu);
        } else {
            st = pxk_gemm(c, true, false, u, 2 * u, N, 1.0f, b.Hp, u, b.dZ, Gu, keep[2], gU, Gu);
            if (st == PX_OK)
                st = pxk_gemm(c, true, false, u, u, N, 1.0f, b.C, u, b.dZ + 2 * u, Gu, keep[2], gU + 2 * u, Gu);
        }
    }
    if (st == PX_OK && d.bias && k->gin[3]) {
        float *gb = pxk_w(k->gin[3]);
        st = PXK_RUN(c, k_col_sums, Gu, b.dZ, gb, N, Gu, (int)pxk_fresh(k, 3));
        if (st == PX_OK && b.dZr) st = PXK_RUN(c, k_col_sums, Gu, b.dZr, gb + Gu, N, Gu, (int)pxk_fresh(k, 3));
    }
    return st;
}

/* Device support: the general op's dropout masks come from the graph's serial
 * generator, which only the CPU has, so an op with dropout runs on the CPU. */
static bool pxk_rnn_supported(const px_kernel *k) {
    if (k->code != PX_K_RNN_GENERAL) return true;
    return k->fattr[0] == 0 && k->fattr[1] == 0 && k->iattr[8] >= PX_K_SIGMOID && k->iattr[8] <= PX_K_UNARY_LAST &&
           k->iattr[9] >= PX_K_SIGMOID && k->iattr[9] <= PX_K_UNARY_LAST;
}

/* ---- rnn_take: the sequence (iattr[1] -1) or final state iattr[1] of a
 * (B, T + S, u) result, S = iattr[0] ---- */

static void pxk_take_rows(const px_kernel *k, int64_t *B, int64_t *TO, int64_t *u, int64_t *start, int64_t *len) {
    const px_tensor *src = k->in[0];
    int64_t S = k->iattr[0], which = k->iattr[1];
    *B = src->shape[0], *TO = src->shape[1], *u = src->shape[2];
    *start = which < 0 ? 0 : *TO - S + which;
    *len = which < 0 ? *TO - S : 1;
}

/* forward over the result's B len u elements; backward over the whole input's,
 * rows outside the taken ones left alone (stored as 0 when fresh) */
PXK_KERNEL(k_take_fwd, (const float *src, float *y, int64_t TO, int64_t start, int64_t len, int64_t u),
           int64_t b = i / (len * u);
           y[i] = src[(b * TO + start) * u + i % (len * u)];)
PXK_KERNEL(k_take_bwd, (const float *g, float *gx, int64_t TO, int64_t start, int64_t len, int64_t u, int fresh),
           int64_t b = i / (TO * u), q = i % (TO * u), row = q / u;
           bool in = row >= start && row < start + len;
           float v = in ? g[(b * len + row - start) * u + q % u] : 0.0f;
           if (fresh) gx[i] = v;
           else if (in) gx[i] += v;)

static px_status pxk_take_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t B, TO, u, start, len;
    pxk_take_rows(k, &B, &TO, &u, &start, &len);
    return PXK_RUN(c, k_take_fwd, B * len * u, pxk_f(k->in[0]), pxk_w(k->out), TO, start, len, u);
}

static px_status pxk_take_backward(pxk_ctx *c, const px_kernel *k) {
    int64_t B, TO, u, start, len;
    if (!k->gin[0]) return PX_OK;
    pxk_take_rows(k, &B, &TO, &u, &start, &len);
    return PXK_RUN(c, k_take_bwd, B * TO * u, pxk_f(k->gout), pxk_w(k->gin[0]), TO, start, len, u,
                   (int)pxk_fresh(k, 0));
}

#endif
