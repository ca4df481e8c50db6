/* The general recurrent op: SimpleRNN, LSTM and GRU cells with any elementwise
 * activation and recurrent activation, a timestep mask (masked steps keep the
 * previous state, as Keras does), and Keras's per-sequence dropout masks on the
 * inputs and the recurrent state (training only), with backpropagation through
 * time. Cells with Keras's default activations and none of these options take
 * the vectorised fused op in rnn.c instead (px_rnn_fused_ex chooses). */
#include <math.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "plexus/activations.h"
#include "ops/op_util.h"
#include "ops/activation_scalar.h"
#include "ops/rnn_general.h"

/* Inputs: x (B, T, F), kernel (F, G u), recurrent_kernel (u, G u), bias when
 * iattr[2] ((G u), GRU reset_after (2, G u)), mask (B, T) when iattr[6].
 * iattr: [0] cell, [1] direction, [2] has bias, [3] GRU reset_after,
 * [4] activation, [5] recurrent activation (px_activation), [6] has mask,
 * [7] masked steps output zeros (zero_output_for_mask).
 * fattr: [0] input dropout, [1] recurrent dropout.
 * Output as the fused op's: (B, T + S, u), every step's output then the S final
 * states. Gate order as Keras's: i f c o (LSTM), z r h (GRU).
 *
 * Dropout follows Keras's implementation 1 (which Keras uses whenever
 * recurrent_dropout is set): one mask per gate, drawn once per sequence, for
 * the inputs (B, F) and for h_prev (B, u). */

enum { CELL_SIMPLE = 0, CELL_LSTM = 1, CELL_GRU = 2 };
static const int n_gates[] = {1, 4, 3};

typedef struct gdims {
    int64_t B, T, F, u, G, Gu, N, S;
    int cell, dir, act, ract;
    bool bias, reset_after, mask, zero_out;
    float pdrop, rdrop;
} gdims;

static gdims dims_of(const px_node *n, const px_shape *x, const px_shape *U) {
    gdims d;
    d.cell = (int)n->iattr[0];
    d.dir = (int)n->iattr[1];
    d.bias = n->iattr[2];
    d.reset_after = n->iattr[3];
    d.act = (int)n->iattr[4];
    d.ract = (int)n->iattr[5];
    d.mask = n->iattr[6];
    d.zero_out = n->iattr[7];
    d.pdrop = n->fattr[0];
    d.rdrop = n->fattr[1];
    d.B = x->dim[0], d.T = x->dim[1], d.F = x->dim[2], d.u = U->dim[0];
    d.G = n_gates[d.cell];
    d.Gu = d.G * d.u;
    d.N = d.B * d.T;
    d.S = d.cell == CELL_LSTM ? 2 : 1;
    return d;
}

static inline int64_t tin(const gdims *d, int64_t s) { return d->dir == PX_RNN_FORWARD ? s : d->T - 1 - s; }
static inline int64_t pos(const gdims *d, int64_t s) { return d->dir == PX_RNN_BACKWARD_ALIGNED ? d->T - 1 - s : s; }

bool px_rnn_activation_ok(int k) { return px_activation_scalar((px_activation)k, NULL, NULL); }

/* The cell's two activations as scalar functions (from the activation table). */
typedef struct acts {
    px_act_f f, rf;
    px_act_df d, rd;
} acts;
static acts acts_of(const gdims *d) {
    acts a;
    px_activation_scalar((px_activation)d->act, &a.f, &a.d);
    px_activation_scalar((px_activation)d->ract, &a.rf, &a.rd);
    return a;
}

/* ---- state layout (floats) ----
 * A (N, Gu) pre-activations, Y (N, Gu) gate outputs, Hp (N, u) the h each step
 * started from, C (N, u) LSTM's c, R (N, u) GRU's recurrent candidate (reset_after:
 * U_h h + b; reset_before: r * h_dropped), Mx (G, B, F), Mh (G, B, u) dropout
 * factors, dh, dc (B, u), rows (B, 3u): each batch row's running h, c and
 * dropped h in the forward pass; scratch (Gu + 2u) for the backward pass; then
 * one float: 1 when the dropout masks were drawn. */
typedef struct gbufs {
    float *A, *Y, *Hp, *C, *R, *Mx, *Mh, *dh, *dc, *rows, *scratch, *applied;
} gbufs;

static size_t state_floats(const gdims *d) {
    return (size_t)(2 * d->N * d->Gu + 3 * d->N * d->u + d->G * d->B * (d->F + d->u) + 5 * d->B * d->u + d->Gu +
                    2 * d->u + 1);
}
static gbufs bufs_of(const gdims *d, void *state) {
    gbufs b;
    float *p = state;
    b.A = p, p += d->N * d->Gu;
    b.Y = p, p += d->N * d->Gu;
    b.Hp = p, p += d->N * d->u;
    b.C = p, p += d->N * d->u;
    b.R = p, p += d->N * d->u;
    b.Mx = p, p += d->G * d->B * d->F;
    b.Mh = p, p += d->G * d->B * d->u;
    b.dh = p, p += d->B * d->u;
    b.dc = p, p += d->B * d->u;
    b.rows = p, p += 3 * d->B * d->u;
    b.scratch = p, p += d->Gu + 2 * d->u;
    b.applied = p;
    return b;
}

static size_t general_state_bytes(const px_node *n, const px_shape *in, px_shape out) {
    (void)out;
    gdims d = dims_of(n, &in[0], &in[2]);
    return state_floats(&d) * sizeof(float);
}

/* Dropout factor of gate g for batch row b, input feature j (or recurrent unit j). */
static inline float mx(const gdims *d, const gbufs *b, bool on, int g, int64_t bb, int64_t j) {
    return on ? b->Mx[(g * d->B + bb) * d->F + j] : 1.0f;
}
static inline float mh(const gdims *d, const gbufs *b, bool on, int g, int64_t bb, int64_t j) {
    return on ? b->Mh[(g * d->B + bb) * d->u + j] : 1.0f;
}

/* What one run of the op reads and writes, shared by the pieces of the forward
 * and backward passes. pd, rd: whether the input and recurrent dropout masks
 * apply. */
typedef struct gctx {
    gdims d;
    gbufs b;
    acts ac;
    const float *x, *W, *U, *bias, *brec, *mask;
    bool pd, rd;
    float *y;                                 /* forward: the output */
    const float *g;                           /* backward: the output's gradient */
    float *gx, *gW, *gU, *gb, *gbrec;         /* backward: the gradients wanted (NULL: not) */
} gctx;

static gctx ctx_of(const px_node *n, const px_tensor *const *in, px_exec *ex) {
    px_shape xs = px_tensor_shape(in[0]), us = px_tensor_shape(in[2]);
    gctx c = {.d = dims_of(n, &xs, &us)};
    c.b = bufs_of(&c.d, ex->state);
    c.ac = acts_of(&c.d);
    c.x = in[0]->data, c.W = in[1]->data, c.U = in[2]->data;
    c.bias = c.d.bias ? in[3]->data : NULL;
    c.brec = c.d.bias && c.d.cell == CELL_GRU && c.d.reset_after ? c.bias + c.d.Gu : NULL;
    c.mask = c.d.mask ? in[3 + c.d.bias]->data : NULL;
    return c;
}

/* Keras's per-sequence dropout masks, drawn serially so that a seed gives the
 * same masks whatever the threads; zeros when off. */
static void draw_dropout(gctx *c, px_exec *ex) {
    const gdims *d = &c->d;
    c->pd = ex->training && d->pdrop > 0, c->rd = ex->training && d->rdrop > 0;
    *c->b.applied = (float)(c->pd || c->rd);
    if (c->pd)
        for (int64_t i = 0; i < d->G * d->B * d->F; i++)
            c->b.Mx[i] = px_rng_uniform(ex->rng) >= d->pdrop ? 1.0f / (1.0f - d->pdrop) : 0.0f;
    if (c->rd)
        for (int64_t i = 0; i < d->G * d->B * d->u; i++)
            c->b.Mh[i] = px_rng_uniform(ex->rng) >= d->rdrop ? 1.0f / (1.0f - d->rdrop) : 0.0f;
    if (!c->pd && !c->rd) memset(c->b.Mx, 0, (size_t)(d->G * d->B * (d->F + d->u)) * sizeof(float));
}

/* The input projections of every step into A: one product when no input dropout. */
static void project_inputs(const gctx *c) {
    const gdims *d = &c->d;
    const int64_t F = d->F, u = d->u, Gu = d->Gu;
    if (!c->pd) {
        px_gemm(&(px_gemm_args){.m = d->N, .n = Gu, .k = F, .a = c->x, .lda = F, .b = c->W, .ldb = Gu, .c = c->b.A,
                .ldc = Gu});
        return;
    }
    for (int64_t r = 0; r < d->N; r++)
        for (int g = 0; g < d->G; g++)
            for (int64_t k = 0; k < u; k++) {
                float s = 0;
                for (int64_t j = 0; j < F; j++)
                    s += c->x[r * F + j] * mx(d, &c->b, true, g, r / d->T, j) * c->W[j * Gu + g * u + k];
                c->b.A[r * Gu + g * u + k] = s;
            }
}

/* Step s of batch row bb: h and cs (LSTM's c) are the row's running state, hm
 * scratch for the dropped h. Saves what the backward pass needs in the state. */
static void forward_step(const gctx *c, int64_t bb, int64_t s, float *h, float *cs, float *hm) {
    const gdims *d = &c->d;
    const gbufs *b = &c->b;
    const acts *ac = &c->ac;
    const int64_t T = d->T, u = d->u, Gu = d->Gu, TO = T + d->S, t = tin(d, s), r = bb * T + t;
    const float *U = c->U;
    float *A = b->A + r * Gu, *Y = b->Y + r * Gu, *Hp = b->Hp + r * u, *C = b->C + r * u, *R = b->R + r * u;
    float *yo = c->y + (bb * TO + pos(d, s)) * u;
    memcpy(Hp, h, (size_t)u * sizeof(float));
    if (d->cell == CELL_LSTM) memcpy(C, cs, (size_t)u * sizeof(float)); /* c_prev, replaced below when stepped */
    if (c->mask && c->mask[bb * T + t] == 0) {
        for (int64_t j = 0; j < u; j++) yo[j] = d->zero_out ? 0.0f : h[j];
        return;
    }
    if (c->bias)
        for (int64_t k = 0; k < Gu; k++) A[k] += c->bias[k];
    /* recurrent products of the gates that see h directly */
    const int direct = d->cell == CELL_GRU && !d->reset_after ? 2 : d->G;
    for (int g = 0; g < direct; g++) {
        for (int64_t j = 0; j < u; j++) hm[j] = h[j] * mh(d, b, c->rd, g, bb, j);
        for (int64_t k = 0; k < u; k++) {
            float sacc = 0;
            for (int64_t j = 0; j < u; j++) sacc += hm[j] * U[j * Gu + g * u + k];
            if (d->cell == CELL_GRU && g == 2) R[k] = sacc + (c->brec ? c->brec[2 * u + k] : 0.0f);
            else A[g * u + k] += sacc + (c->brec ? c->brec[g * u + k] : 0.0f);
        }
    }
    if (d->cell == CELL_SIMPLE) {
        for (int64_t k = 0; k < u; k++) h[k] = Y[k] = ac->f(A[k]);
    } else if (d->cell == CELL_LSTM) {
        for (int64_t k = 0; k < Gu; k++) Y[k] = (k >= 2 * u && k < 3 * u ? ac->f : ac->rf)(A[k]);
        for (int64_t k = 0; k < u; k++) {
            cs[k] = Y[u + k] * cs[k] + Y[k] * Y[2 * u + k];
            h[k] = Y[3 * u + k] * ac->f(cs[k]);
        }
        memcpy(C, cs, (size_t)u * sizeof(float));
    } else {
        for (int64_t k = 0; k < 2 * u; k++) Y[k] = ac->rf(A[k]);
        if (!d->reset_after) {
            /* the reset gate acts on h before the candidate's product */
            for (int64_t j = 0; j < u; j++) R[j] = Y[u + j] * h[j] * mh(d, b, c->rd, 2, bb, j);
            for (int64_t k = 0; k < u; k++) {
                float sacc = 0;
                for (int64_t j = 0; j < u; j++) sacc += R[j] * U[j * Gu + 2 * u + k];
                A[2 * u + k] += sacc;
            }
        } else {
            for (int64_t k = 0; k < u; k++) A[2 * u + k] += Y[u + k] * R[k];
        }
        for (int64_t k = 0; k < u; k++) {
            Y[2 * u + k] = ac->f(A[2 * u + k]);
            h[k] = Y[k] * h[k] + (1.0f - Y[k]) * Y[2 * u + k];
        }
    }
    memcpy(yo, h, (size_t)u * sizeof(float));
}

/* Every step of batch row bb, then its final states after the step outputs. */
static void forward_row(const gctx *c, int64_t bb) {
    const int64_t T = c->d.T, u = c->d.u, TO = T + c->d.S;
    float *h = c->b.rows + bb * 3 * u, *cs = h + u, *hm = cs + u;
    for (int64_t j = 0; j < u; j++) h[j] = cs[j] = 0.0f;
    for (int64_t s = 0; s < T; s++) forward_step(c, bb, s, h, cs, hm);
    memcpy(c->y + (bb * TO + T) * u, h, (size_t)u * sizeof(float));
    if (c->d.cell == CELL_LSTM) memcpy(c->y + (bb * TO + T + 1) * u, cs, (size_t)u * sizeof(float));
}

static void general_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    gctx c = ctx_of(n, in, ex);
    c.y = out->data;
    draw_dropout(&c, ex);
    if (c.d.B == 0) return;
    project_inputs(&c);
    PX_FOR(bb, c.d.B, c.d.B * c.d.T * c.d.Gu * (c.d.u + 4), forward_row(&c, bb););
}

/* The gradients of step s's gate pre-activations (dA) from dh, the gradient of
 * the step's h; dc (LSTM) is carried to the step before, dnext gets what flows
 * to h_prev through the cell itself, drh (GRU reset_after) the gradient of the
 * candidate's recurrent part. GRU reset_before adds its candidate's U gradient. */
static void gate_grads(const gctx *c, int64_t bb, int64_t s, const float *dh, float *dc, float *dA, float *dnext,
                       float *drh) {
    const gdims *d = &c->d;
    const acts *ac = &c->ac;
    const int64_t T = d->T, u = d->u, Gu = d->Gu, r = bb * T + tin(d, s);
    const float *A = c->b.A + r * Gu, *Y = c->b.Y + r * Gu, *Hp = c->b.Hp + r * u, *C = c->b.C + r * u;
    const float *R = c->b.R + r * u;
    if (d->cell == CELL_SIMPLE) {
        for (int64_t k = 0; k < u; k++) dA[k] = dh[k] * ac->d(A[k], Y[k]);
    } else if (d->cell == CELL_LSTM) {
        const float *cp = s > 0 ? c->b.C + (bb * T + tin(d, s - 1)) * u : NULL;
        for (int64_t k = 0; k < u; k++) {
            float ct = C[k], tc = ac->f(ct);
            float dcc = dc[k] + dh[k] * Y[3 * u + k] * ac->d(ct, tc);
            /* C of a masked step holds the c carried through it */
            float cprev = cp ? cp[k] : 0.0f;
            dA[k] = dcc * Y[2 * u + k] * ac->rd(A[k], Y[k]);
            dA[u + k] = dcc * cprev * ac->rd(A[u + k], Y[u + k]);
            dA[2 * u + k] = dcc * Y[k] * ac->d(A[2 * u + k], Y[2 * u + k]);
            dA[3 * u + k] = dh[k] * tc * ac->rd(A[3 * u + k], Y[3 * u + k]);
            dc[k] = dcc * Y[u + k];
        }
    } else {
        for (int64_t k = 0; k < u; k++) {
            float z = Y[k], hh = Y[2 * u + k];
            float dhh = dh[k] * (1.0f - z);
            dA[k] = dh[k] * (Hp[k] - hh) * ac->rd(A[k], z);
            dA[2 * u + k] = dhh * ac->d(A[2 * u + k], hh);
            dnext[k] = dh[k] * z; /* h = z h_prev + ... */
        }
        if (d->reset_after) {
            for (int64_t k = 0; k < u; k++) {
                dA[u + k] = dA[2 * u + k] * R[k] * ac->rd(A[u + k], Y[u + k]);
                drh[k] = dA[2 * u + k] * Y[u + k];
            }
        } else {
            /* d(r h_dropped) = dA_h U_h^T; R holds r h_dropped */
            for (int64_t j = 0; j < u; j++) {
                float sacc = 0;
                for (int64_t k = 0; k < u; k++) sacc += dA[2 * u + k] * c->U[j * Gu + 2 * u + k];
                float hd = Hp[j] * mh(d, &c->b, c->rd, 2, bb, j);
                dA[u + j] = sacc * hd * ac->rd(A[u + j], Y[u + j]);
                dnext[j] += sacc * Y[u + j] * mh(d, &c->b, c->rd, 2, bb, j);
                if (c->gU)
                    for (int64_t k = 0; k < u; k++) c->gU[j * Gu + 2 * u + k] += R[j] * dA[2 * u + k];
            }
        }
    }
}

/* From step s's dA: what flows to h_prev through the recurrent products (into
 * dnext), and the gradients of U, the biases, x and W. */
static void step_grads(const gctx *c, int64_t bb, int64_t s, const float *dA, const float *drh, float *dnext) {
    const gdims *d = &c->d;
    const int64_t F = d->F, u = d->u, Gu = d->Gu, r = bb * d->T + tin(d, s);
    const float *Hp = c->b.Hp + r * u;
    /* recurrent products: gates that saw h directly, and the GRU reset_after candidate */
    const int direct = d->cell == CELL_GRU && !d->reset_after ? 2 : d->G;
    for (int gg = 0; gg < direct; gg++) {
        const float *dz = d->cell == CELL_GRU && gg == 2 ? drh : dA + gg * u;
        for (int64_t j = 0; j < u; j++) {
            const float m = mh(d, &c->b, c->rd, gg, bb, j);
            float sacc = 0;
            for (int64_t k = 0; k < u; k++) sacc += dz[k] * c->U[j * Gu + gg * u + k];
            dnext[j] += sacc * m;
            if (c->gU)
                for (int64_t k = 0; k < u; k++) c->gU[j * Gu + gg * u + k] += Hp[j] * m * dz[k];
        }
        if (c->gbrec)
            for (int64_t k = 0; k < u; k++) c->gbrec[gg * u + k] += dz[k];
    }
    /* input side */
    if (c->gb)
        for (int64_t k = 0; k < Gu; k++) c->gb[k] += dA[k];
    const float *xr = c->x + r * F;
    for (int gg = 0; gg < d->G; gg++)
        for (int64_t j = 0; j < F; j++) {
            const float m = mx(d, &c->b, c->pd, gg, bb, j);
            if (c->gx) {
                float sacc = 0;
                for (int64_t k = 0; k < u; k++) sacc += dA[gg * u + k] * c->W[j * Gu + gg * u + k];
                c->gx[r * F + j] += sacc * m;
            }
            if (c->gW)
                for (int64_t k = 0; k < u; k++) c->gW[j * Gu + gg * u + k] += xr[j] * m * dA[gg * u + k];
        }
}

/* Backpropagation through time over batch row bb, from its last step to its first. */
static void backward_row(const gctx *c, int64_t bb) {
    const gdims *d = &c->d;
    const int64_t T = d->T, u = d->u, TO = T + d->S;
    float *dh = c->b.dh + bb * u, *dc = c->b.dc + bb * u;
    memcpy(dh, c->g + (bb * TO + T) * u, (size_t)u * sizeof(float));
    if (d->cell == CELL_LSTM) memcpy(dc, c->g + (bb * TO + T + 1) * u, (size_t)u * sizeof(float));
    else memset(dc, 0, (size_t)u * sizeof(float));
    float *dA = c->b.scratch, *dnext = dA + d->Gu, *drh = dnext + u;
    for (int64_t s = T - 1; s >= 0; s--) {
        const float *go = c->g + (bb * TO + pos(d, s)) * u;
        if (c->mask && c->mask[bb * T + tin(d, s)] == 0) {
            /* output = h_prev (unless zeros) and the state passes through */
            if (!d->zero_out)
                for (int64_t j = 0; j < u; j++) dh[j] += go[j];
            continue;
        }
        for (int64_t j = 0; j < u; j++) dh[j] += go[j];
        memset(dnext, 0, (size_t)u * sizeof(float));
        gate_grads(c, bb, s, dh, dc, dA, dnext, drh);
        step_grads(c, bb, s, dA, drh, dnext);
        memcpy(dh, dnext, (size_t)u * sizeof(float));
    }
}

static void general_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                             const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out;
    gctx c = ctx_of(n, in, ex);
    const bool on = *c.b.applied != 0;
    c.pd = on && c.d.pdrop > 0, c.rd = on && c.d.rdrop > 0;
    c.g = gout->data;
    c.gx = gin[0] ? gin[0]->data : NULL, c.gW = gin[1] ? gin[1]->data : NULL, c.gU = gin[2] ? gin[2]->data : NULL;
    c.gb = c.d.bias && gin[3] ? gin[3]->data : NULL;
    c.gbrec = c.gb && c.d.cell == CELL_GRU && c.d.reset_after ? c.gb + c.d.Gu : NULL;
    /* serial over the batch: the weight gradients sum over rows in one order */
    for (int64_t bb = 0; bb < c.d.B; bb++) backward_row(&c, bb);
}

static px_status general_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    px_status st = px_rnn_infer_common(n, in, out, dt);
    if (st || !n->iattr[6]) return st;
    px_shape m = in[3 + n->iattr[2]];
    char sm[96], sx[96];
    if (m.rank != 2 || (m.dim[0] != in[0].dim[0] && m.dim[0] != PX_UNKNOWN && in[0].dim[0] != PX_UNKNOWN) ||
        (m.dim[1] != in[0].dim[1] && m.dim[1] != PX_UNKNOWN && in[0].dim[1] != PX_UNKNOWN))
        return px_set_error(PX_ERR_SHAPE, "rnn: mask %s must be (batch, timesteps) of input %s", px_shape_format(m, sm, sizeof sm),
                            px_shape_format(in[0], sx, sizeof sx));
    return PX_OK;
}

static const px_op_def general_def = {"rnn_general", PX_OPF_SAVE_INPUTS, general_infer, general_state_bytes,
                                      general_forward, general_backward, PX_K_RNN_GENERAL};

bool px_rnn_is_general(const px_node *n) { return n && n->op == &general_def; }

/* attr[0..8) and fattr[0..2) as documented above; the activations are added
 * as the device kernels' elementwise codes (backend/op_codes.h, PX_K_RNN_GENERAL). */
px_node *px_rnn_general_make(px_node *const *ins, int n_ins, const int64_t *attr, const float *fattr) {
    int64_t a[10];
    float f[4] = {fattr[0], fattr[1], 0.0f, 0.0f};
    memcpy(a, attr, 8 * sizeof *a);
    int code[2];
    for (int i = 0; i < 2; i++)
        if (!px_activation_kernel((px_activation)attr[4 + i], &code[i], &f[2 + i])) code[i] = PX_K_NONE;
    a[8] = code[0], a[9] = code[1];
    return px_node_make(&general_def, ins, n_ins, a, 10, f, 4);
}
