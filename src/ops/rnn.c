/* Fused recurrent ops (SimpleRNN, LSTM, GRU in Keras's weight layout): one
 * forward pass over all timesteps and backpropagation through time. */
#include <math.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "ops/op_util.h"

/* Inputs: x (B, T, F), kernel (F, G u), recurrent_kernel (u, G u), optional bias
 * (G u; GRU with reset_after: (2, 3u), row 0 for the input side, row 1 for the
 * recurrent side). G = 1, 4 (i, f, c, o) or 3 (z, r, h).
 * iattr: [0] cell, [1] direction, [2] has bias, [3] GRU reset_after.
 *
 * Output (B, T + S, u): rows 0..T-1 the hidden state of every step, then the S
 * final states (h; for LSTM h and c). One output keeps the op a plain node;
 * px_rnn_sequence and px_rnn_state take the parts. The final states are stored
 * apart from the sequence because with PX_RNN_BACKWARD_ALIGNED the last step's
 * h sits at row 0, and because LSTM's c appears nowhere else.
 *
 * Steps s = 0..T-1 read input time tin(s) and write row pos(s). Buffers indexed
 * by time are indexed by tin(s), so for a batch row b the data of step s is at
 * (b T + tin(s)) * width, and a step's rows are T * width apart: the per-step
 * products are gemms with a leading dimension of T * width, without copies.
 *
 * State (floats, N = B T): P (N, G u) the gate pre-activations, activated in
 * place during forward; Hp (N, u) the h each step started from; X2 (N, u) LSTM's
 * c or GRU's recurrent candidate part; dZ (N, G u), for GRU with reset_after a
 * second dZr (N, G u); dh, dc (B, u); tmp (B, G u). */

enum { CELL_SIMPLE = 0, CELL_LSTM = 1, CELL_GRU = 2 };

static const char *const cell_names[] = {"simple_rnn", "lstm", "gru"};
static const int cell_gates[] = {1, 4, 3};

typedef struct rnn_dims {
    int64_t B, T, F, u, G, Gu, N, S;
    int cell, dir;
    bool bias, reset_after;
} rnn_dims;

static rnn_dims dims_of(const px_node *n, const px_shape *x, const px_shape *U) {
    rnn_dims d;
    d.cell = (int)n->iattr[0];
    d.dir = (int)n->iattr[1];
    d.bias = n->iattr[2];
    d.reset_after = n->iattr[3];
    d.B = x->dim[0];
    d.T = x->dim[1];
    d.F = x->dim[2];
    d.u = U->dim[0];
    d.G = cell_gates[d.cell];
    d.Gu = d.G * d.u;
    d.N = d.B * d.T;
    d.S = d.cell == CELL_LSTM ? 2 : 1;
    return d;
}

static inline int64_t tin(const rnn_dims *d, int64_t s) { return d->dir == PX_RNN_FORWARD ? s : d->T - 1 - s; }
static inline int64_t pos(const rnn_dims *d, int64_t s) {
    return d->dir == PX_RNN_BACKWARD_ALIGNED ? d->T - 1 - s : s;
}
static inline float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

typedef struct rnn_bufs {
    float *P, *Hp, *X2, *dZ, *dZr, *dh, *dc, *tmp;
} rnn_bufs;

static size_t state_floats(const rnn_dims *d) {
    bool two = d->cell == CELL_GRU && d->reset_after;
    return (size_t)(d->N * d->Gu * (two ? 3 : 2) + 2 * d->N * d->u + 2 * d->B * d->u + d->B * d->Gu);
}

static rnn_bufs bufs_of(const rnn_dims *d, void *state) {
    rnn_bufs b;
    float *p = state;
    b.P = p, p += d->N * d->Gu;
    b.Hp = p, p += d->N * d->u;
    b.X2 = p, p += d->N * d->u;
    b.dZ = p, p += d->N * d->Gu;
    b.dZr = NULL;
    if (d->cell == CELL_GRU && d->reset_after) b.dZr = p, p += d->N * d->Gu;
    b.dh = p, p += d->B * d->u;
    b.dc = p, p += d->B * d->u;
    b.tmp = p;
    return b;
}

static px_status rnn_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    const char *op = cell_names[n->iattr[0]];
    char sx[96], sw[96], su[96];
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i]->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "%s: inputs must be float32", op);
    px_shape x = in[0], W = in[1], U = in[2];
    int64_t G = cell_gates[n->iattr[0]];
    if (x.rank != 3 || W.rank != 2 || U.rank != 2 || U.dim[0] <= 0 || U.dim[1] != G * U.dim[0] ||
        W.dim[1] != U.dim[1] || (x.dim[2] != PX_UNKNOWN && W.dim[0] != x.dim[2]))
        return px_set_error(PX_ERR_SHAPE,
                            "%s: input %s, kernel %s, recurrent kernel %s do not fit: need input (batch, "
                            "timesteps, features), kernel (features, %lld u), recurrent kernel (u, %lld u)",
                            op, px_shape_format(x, sx, sizeof sx), px_shape_format(W, sw, sizeof sw),
                            px_shape_format(U, su, sizeof su), (long long)G, (long long)G);
    if (x.dim[1] == 0) return px_set_error(PX_ERR_SHAPE, "%s: the input %s has no timesteps", op,
                                           px_shape_format(x, sx, sizeof sx));
    if (n->iattr[2]) {
        px_shape b = in[3];
        bool two = n->iattr[0] == CELL_GRU && n->iattr[3];
        bool ok = two ? b.rank == 2 && b.dim[0] == 2 && b.dim[1] == U.dim[1] : b.rank == 1 && b.dim[0] == U.dim[1];
        if (!ok)
            return px_set_error(PX_ERR_SHAPE, "%s: bias has shape %s, expected %s%lld)", op,
                                px_shape_format(b, sx, sizeof sx), two ? "(2, " : "(", (long long)U.dim[1]);
    }
    int64_t S = n->iattr[0] == CELL_LSTM ? 2 : 1;
    *out = PX_SHAPE(x.dim[0], x.dim[1] == PX_UNKNOWN ? PX_UNKNOWN : x.dim[1] + S, U.dim[0]);
    *dt = PX_F32;
    return PX_OK;
}

static size_t rnn_state_bytes(const px_node *n, const px_shape *in, px_shape out) {
    (void)out;
    rnn_dims d = dims_of(n, &in[0], &in[2]);
    return state_floats(&d) * sizeof(float);
}

static void rnn_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    px_shape xs = px_tensor_shape(in[0]), us = px_tensor_shape(in[2]);
    rnn_dims d = dims_of(n, &xs, &us);
    rnn_bufs b = bufs_of(&d, ex->state);
    const int64_t B = d.B, T = d.T, u = d.u, Gu = d.Gu, TO = T + d.S;
    const float *x = in[0]->data, *W = in[1]->data, *U = in[2]->data;
    const float *bias = d.bias ? in[3]->data : NULL;
    float *y = out->data;
    if (B == 0) return;
    /* the input projection of all timesteps at once: the one large product */
    px_gemm(false, false, d.N, Gu, d.F, 1.0f, x, d.F, W, Gu, 0.0f, b.P, Gu);
    if (bias)
        for (int64_t r = 0; r < d.N; r++)
            for (int64_t j = 0; j < Gu; j++) b.P[r * Gu + j] += bias[j];
    const float *brec = bias && d.cell == CELL_GRU && d.reset_after ? bias + Gu : NULL;
    for (int64_t bb = 0; bb < B; bb++) memset(b.Hp + (bb * T + tin(&d, 0)) * u, 0, (size_t)u * sizeof(float));

    for (int64_t s = 0; s < T; s++) {
        const int64_t t = tin(&d, s);
        float *Pt = b.P + t * Gu, *Ht = b.Hp + t * u, *Xt = b.X2 + t * u;
        const int64_t ldP = T * Gu, ldH = T * u;
        if (d.cell != CELL_GRU) {
            px_gemm(false, false, B, Gu, u, 1.0f, Ht, ldH, U, Gu, 1.0f, Pt, ldP);
        } else if (d.reset_after) {
            px_gemm(false, false, B, Gu, u, 1.0f, Ht, ldH, U, Gu, 0.0f, b.tmp, Gu);
        } else {
            px_gemm(false, false, B, 2 * u, u, 1.0f, Ht, ldH, U, Gu, 1.0f, Pt, ldP);
        }
        for (int64_t bb = 0; bb < B; bb++) {
            float *p = Pt + bb * ldP, *hp = Ht + bb * ldH, *x2 = Xt + bb * ldH;
            float *h = y + (bb * TO + pos(&d, s)) * u;
            if (d.cell == CELL_SIMPLE) {
                for (int64_t j = 0; j < u; j++) h[j] = p[j] = tanhf(p[j]);
            } else if (d.cell == CELL_LSTM) {
                const float *cp = s > 0 ? b.X2 + (bb * T + tin(&d, s - 1)) * u : NULL;
                for (int64_t j = 0; j < u; j++) {
                    float ig = sigm(p[j]), fg = sigm(p[u + j]), cg = tanhf(p[2 * u + j]), og = sigm(p[3 * u + j]);
                    float c = fg * (cp ? cp[j] : 0.0f) + ig * cg;
                    p[j] = ig, p[u + j] = fg, p[2 * u + j] = cg, p[3 * u + j] = og;
                    x2[j] = c;
                    h[j] = og * tanhf(c);
                }
            } else if (d.reset_after) {
                const float *rec = b.tmp + bb * Gu;
                for (int64_t j = 0; j < u; j++) {
                    float rz = rec[j], rr = rec[u + j], rh = rec[2 * u + j];
                    if (brec) rz += brec[j], rr += brec[u + j], rh += brec[2 * u + j];
                    float z = sigm(p[j] + rz), r = sigm(p[u + j] + rr), hh = tanhf(p[2 * u + j] + r * rh);
                    p[j] = z, p[u + j] = r, p[2 * u + j] = hh;
                    x2[j] = rh;
                    h[j] = z * hp[j] + (1.0f - z) * hh;
                }
            } else {
                for (int64_t j = 0; j < u; j++) {
                    p[j] = sigm(p[j]);
                    p[u + j] = sigm(p[u + j]);
                    x2[j] = p[u + j] * hp[j];
                }
            }
        }
        if (d.cell == CELL_GRU && !d.reset_after) {
            /* the reset gate acts before the recurrent product of the candidate */
            px_gemm(false, false, B, u, u, 1.0f, Xt, ldH, U + 2 * u, Gu, 1.0f, Pt + 2 * u, ldP);
            for (int64_t bb = 0; bb < B; bb++) {
                float *p = Pt + bb * ldP, *hp = Ht + bb * ldH, *h = y + (bb * TO + pos(&d, s)) * u;
                for (int64_t j = 0; j < u; j++) {
                    float hh = p[2 * u + j] = tanhf(p[2 * u + j]);
                    h[j] = p[j] * hp[j] + (1.0f - p[j]) * hh;
                }
            }
        }
        if (s + 1 < T)
            for (int64_t bb = 0; bb < B; bb++)
                memcpy(b.Hp + (bb * T + tin(&d, s + 1)) * u, y + (bb * TO + pos(&d, s)) * u,
                       (size_t)u * sizeof(float));
    }
    for (int64_t bb = 0; bb < B; bb++) {
        memcpy(y + (bb * TO + T) * u, y + (bb * TO + pos(&d, T - 1)) * u, (size_t)u * sizeof(float));
        if (d.cell == CELL_LSTM)
            memcpy(y + (bb * TO + T + 1) * u, b.X2 + (bb * T + tin(&d, T - 1)) * u, (size_t)u * sizeof(float));
    }
}

/* Column sums of an (rows, cols) matrix added into g. */
static void add_col_sums(float *g, const float *m, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) g[j] += m[r * cols + j];
}

static void rnn_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                         const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out;
    px_shape xs = px_tensor_shape(in[0]), us = px_tensor_shape(in[2]);
    rnn_dims d = dims_of(n, &xs, &us);
    rnn_bufs b = bufs_of(&d, ex->state);
    const int64_t B = d.B, T = d.T, u = d.u, Gu = d.Gu, TO = T + d.S, ldP = T * Gu, ldH = T * u;
    const float *x = in[0]->data, *W = in[1]->data, *U = in[2]->data, *g = gout->data;
    if (B == 0) return;
    for (int64_t bb = 0; bb < B; bb++) {
        memcpy(b.dh + bb * u, g + (bb * TO + T) * u, (size_t)u * sizeof(float));
        if (d.cell == CELL_LSTM) memcpy(b.dc + bb * u, g + (bb * TO + T + 1) * u, (size_t)u * sizeof(float));
    }
    for (int64_t s = T - 1; s >= 0; s--) {
        const int64_t t = tin(&d, s);
        const float *Pt = b.P + t * Gu, *Ht = b.Hp + t * u, *Xt = b.X2 + t * u;
        float *Zt = b.dZ + t * Gu, *Zr = b.dZr ? b.dZr + t * Gu : NULL;
        for (int64_t bb = 0; bb < B; bb++) {
            const float *p = Pt + bb * ldP, *hp = Ht + bb * ldH, *x2 = Xt + bb * ldH;
            const float *gh = g + (bb * TO + pos(&d, s)) * u;
            float *dh = b.dh + bb * u, *z = Zt + bb * ldP;
            for (int64_t j = 0; j < u; j++) dh[j] += gh[j];
            if (d.cell == CELL_SIMPLE) {
                for (int64_t j = 0; j < u; j++) z[j] = dh[j] * (1.0f - p[j] * p[j]);
            } else if (d.cell == CELL_LSTM) {
                const float *cp = s > 0 ? b.X2 + (bb * T + tin(&d, s - 1)) * u : NULL;
                float *dc = b.dc + bb * u;
                for (int64_t j = 0; j < u; j++) {
                    float ig = p[j], fg = p[u + j], cg = p[2 * u + j], og = p[3 * u + j];
                    float tc = tanhf(x2[j]);
                    float dcc = dc[j] + dh[j] * og * (1.0f - tc * tc);
                    z[j] = dcc * cg * ig * (1.0f - ig);
                    z[u + j] = dcc * (cp ? cp[j] : 0.0f) * fg * (1.0f - fg);
                    z[2 * u + j] = dcc * ig * (1.0f - cg * cg);
                    z[3 * u + j] = dh[j] * tc * og * (1.0f - og);
                    dc[j] = dcc * fg;
                }
            } else {
                float *zr = Zr ? Zr + bb * ldP : NULL;
                for (int64_t j = 0; j < u; j++) {
                    float zg = p[j], hh = p[2 * u + j];
                    float dah = dh[j] * (1.0f - zg) * (1.0f - hh * hh);
                    z[j] = dh[j] * (hp[j] - hh) * zg * (1.0f - zg);
                    z[2 * u + j] = dah;
                    if (zr) {
                        float r = p[u + j];
                        z[u + j] = dah * x2[j] * r * (1.0f - r);
                        zr[j] = z[j], zr[u + j] = z[u + j], zr[2 * u + j] = dah * r;
                    }
                    dh[j] *= zg; /* the direct path h = z h_prev + ... */
                }
            }
        }
        if (d.cell != CELL_GRU) {
            px_gemm(false, true, B, u, Gu, 1.0f, Zt, ldP, U, Gu, 0.0f, b.dh, u);
        } else if (d.reset_after) {
            px_gemm(false, true, B, u, Gu, 1.0f, Zr, ldP, U, Gu, 1.0f, b.dh, u);
        } else {
            /* d(r h_prev) through the candidate's recurrent product, then the gates */
            px_gemm(false, true, B, u, u, 1.0f, Zt + 2 * u, ldP, U + 2 * u, Gu, 0.0f, b.tmp, u);
            for (int64_t bb = 0; bb < B; bb++) {
                const float *p = Pt + bb * ldP, *hp = Ht + bb * ldH, *drh = b.tmp + bb * u;
                float *z = Zt + bb * ldP, *dh = b.dh + bb * u;
                for (int64_t j = 0; j < u; j++) {
                    float r = p[u + j];
                    z[u + j] = drh[j] * hp[j] * r * (1.0f - r);
                    dh[j] += drh[j] * r;
                }
            }
            px_gemm(false, true, B, u, 2 * u, 1.0f, Zt, ldP, U, Gu, 1.0f, b.dh, u);
        }
    }
    if (gin[0]) px_gemm(false, true, d.N, d.F, Gu, 1.0f, b.dZ, Gu, W, Gu, 1.0f, gin[0]->data, d.F);
    if (gin[1]) px_gemm(true, false, d.F, Gu, d.N, 1.0f, x, d.F, b.dZ, Gu, 1.0f, gin[1]->data, Gu);
    if (gin[2]) {
        float *gU = gin[2]->data;
        if (d.cell != CELL_GRU) {
            px_gemm(true, false, u, Gu, d.N, 1.0f, b.Hp, u, b.dZ, Gu, 1.0f, gU, Gu);
        } else if (d.reset_after) {
            px_gemm(true, false, u, Gu, d.N, 1.0f, b.Hp, u, b.dZr, Gu, 1.0f, gU, Gu);
        } else {
            px_gemm(true, false, u, 2 * u, d.N, 1.0f, b.Hp, u, b.dZ, Gu, 1.0f, gU, Gu);
            px_gemm(true, false, u, u, d.N, 1.0f, b.X2, u, b.dZ + 2 * u, Gu, 1.0f, gU + 2 * u, Gu);
        }
    }
    if (d.bias && gin[3]) {
        float *gb = gin[3]->data;
        add_col_sums(gb, b.dZ, d.N, Gu);
        if (b.dZr) add_col_sums(gb + Gu, b.dZr, d.N, Gu);
    }
}

static const px_op_def rnn_def = {"rnn", PX_OPF_SAVE_INPUTS, rnn_infer, rnn_state_bytes, rnn_forward,
                                  rnn_backward};

px_node *px_rnn_fused(px_rnn_cell cell, px_node *x, px_node *kernel, px_node *recurrent_kernel, px_node *bias,
                      bool reset_after, px_rnn_direction direction) {
    if (!x || !kernel || !recurrent_kernel) return NULL;
    if ((unsigned)cell > PX_RNN_GRU || (unsigned)direction > PX_RNN_BACKWARD_ALIGNED) {
        px_set_error(PX_ERR_ARG, "rnn: unknown cell %d or direction %d", (int)cell, (int)direction);
        return NULL;
    }
    int64_t attr[4] = {cell, direction, bias != NULL, cell == PX_RNN_GRU && reset_after};
    px_node *ins[4] = {x, kernel, recurrent_kernel, bias};
    return px_node_make(&rnn_def, ins, bias ? 4 : 3, attr, 4, NULL, 0);
}

/* ---- rnn_take: the sequence or one final state from a fused output ----
 * iattr: [0] S (number of state rows), [1] -1 for the sequence, else the state. */

static px_status take_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    int64_t S = n->iattr[0], k = n->iattr[1];
    *dt = PX_F32;
    if (k < 0) *out = PX_SHAPE(in[0].dim[0], in[0].dim[1] == PX_UNKNOWN ? PX_UNKNOWN : in[0].dim[1] - S, in[0].dim[2]);
    else *out = PX_SHAPE(in[0].dim[0], in[0].dim[2]);
    return PX_OK;
}

static void take_rows(const px_node *n, const px_tensor *src, int64_t *B, int64_t *TO, int64_t *u, int64_t *start,
                      int64_t *len) {
    int64_t S = n->iattr[0], k = n->iattr[1];
    *B = src->shape[0], *TO = src->shape[1], *u = src->shape[2];
    *start = k < 0 ? 0 : *TO - S + k;
    *len = k < 0 ? *TO - S : 1;
}

static void take_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    int64_t B, TO, u, start, len;
    take_rows(n, in[0], &B, &TO, &u, &start, &len);
    const float *src = in[0]->data;
    float *y = out->data;
    for (int64_t bb = 0; bb < B; bb++)
        memcpy(y + bb * len * u, src + (bb * TO + start) * u, (size_t)(len * u) * sizeof(float));
}

static void take_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                          const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out, (void)ex;
    if (!gin[0]) return;
    int64_t B, TO, u, start, len;
    take_rows(n, in[0], &B, &TO, &u, &start, &len);
    const float *g = gout->data;
    float *gx = gin[0]->data;
    for (int64_t bb = 0; bb < B; bb++)
        for (int64_t i = 0; i < len * u; i++) gx[(bb * TO + start) * u + i] += g[bb * len * u + i];
}

static const px_op_def take_def = {"rnn_take", 0, take_infer, NULL, take_forward, take_backward};

static px_node *take(px_node *fused, int k) {
    if (!fused) return NULL;
    if (fused->op != &rnn_def) {
        px_set_error(PX_ERR_ARG, "rnn_take: the input must be the output of px_rnn_fused, got '%s'",
                     px_node_op_name(fused));
        return NULL;
    }
    int64_t S = fused->iattr[0] == CELL_LSTM ? 2 : 1;
    if (k >= S) {
        px_set_error(PX_ERR_ARG, "rnn_take: %s has %lld states, state %d asked for", cell_names[fused->iattr[0]],
                     (long long)S, k);
        return NULL;
    }
    int64_t attr[2] = {S, k};
    return px_node_make(&take_def, &fused, 1, attr, 2, NULL, 0);
}

px_node *px_rnn_sequence(px_node *fused) { return take(fused, -1); }
px_node *px_rnn_state(px_node *fused, int k) { return k < 0 ? (px_set_error(PX_ERR_ARG, "rnn_state: index %d", k), NULL) : take(fused, k); }
