/* Fused recurrent ops (SimpleRNN, LSTM, GRU in Keras's weight layout): one
 * forward pass over all timesteps and backpropagation through time. */
#include <string.h>

#include "plexus/activations.h"
#include "backend/cpu/gemm.h"
#include "ops/op_util.h"
#include "ops/rnn_general.h"
#include "ops/rnn_kernels.h"

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
 * State (floats, N = B T): P (N, G u) the gate pre-activations without the
 * bias, which the step kernels (rnn_kernels.c) add as they activate P in
 * place; Hp (N, u) the h each step started from; X2 (N, u) LSTM's c or GRU's
 * recurrent candidate part; dZ (N, G u), for GRU with reset_after a second
 * dZr (N, G u); dh, dc (B, u); tmp (B, G u). */

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

px_status px_rnn_infer_common(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
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

/* Runs kernel k on every batch row of a step, on several threads when the step
 * is large enough (rows are independent, so the split does not change results). */
static void step_rows(px_rnn_kernel k, const px_rnn_step *st, int64_t B, int64_t Gu) {
    PX_FOR(bb, B, B * Gu, px_rnn_rows(k, st, bb, bb + 1););
}

static void rnn_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    px_shape xs = px_tensor_shape(in[0]), us = px_tensor_shape(in[2]);
    rnn_dims d = dims_of(n, &xs, &us);
    rnn_bufs b = bufs_of(&d, ex->state);
    const int64_t B = d.B, T = d.T, u = d.u, Gu = d.Gu, TO = T + d.S, ldP = T * Gu, ldH = T * u;
    const float *x = in[0]->data, *W = in[1]->data, *U = in[2]->data;
    const float *bias = d.bias ? in[3]->data : NULL;
    float *y = out->data;
    if (B == 0) return;
    /* the input projection of all timesteps at once: the one large product; the
     * bias is added by the step kernels as they read the gates */
    px_gemm(&(px_gemm_args){.m = d.N, .n = Gu, .k = d.F, .a = x, .lda = d.F, .b = W, .ldb = Gu, .c = b.P, .ldc = Gu});
    for (int64_t bb = 0; bb < B; bb++) memset(b.Hp + (bb * T + tin(&d, 0)) * u, 0, (size_t)u * sizeof(float));

    px_rnn_step st = {.u = u, .ldp = ldP, .bias = bias, .ldh = ldH, .ldrec = Gu, .ldy = TO * u};
    if (d.cell == CELL_GRU && d.reset_after && bias) st.brec = bias + Gu;
    for (int64_t s = 0; s < T; s++) {
        const int64_t t = tin(&d, s);
        float *Pt = b.P + t * Gu, *Ht = b.Hp + t * u, *Xt = b.X2 + t * u;
        st.p = Pt, st.hp = Ht, st.x2 = Xt, st.rec = b.tmp;
        st.cp = s > 0 ? b.X2 + tin(&d, s - 1) * u : NULL;
        st.h = y + pos(&d, s) * u;
        st.hn = s + 1 < T ? b.Hp + tin(&d, s + 1) * u : NULL;
        if (d.cell == CELL_SIMPLE) {
            px_gemm(&(px_gemm_args){.m = B, .n = Gu, .k = u, .a = Ht, .lda = ldH, .b = U, .ldb = Gu, .beta = 1.0f,
                    .c = Pt, .ldc = ldP});
            step_rows(PX_RK_SIMPLE_FWD, &st, B, Gu);
        } else if (d.cell == CELL_LSTM) {
            px_gemm(&(px_gemm_args){.m = B, .n = Gu, .k = u, .a = Ht, .lda = ldH, .b = U, .ldb = Gu, .beta = 1.0f,
                    .c = Pt, .ldc = ldP});
            step_rows(PX_RK_LSTM_FWD, &st, B, Gu);
        } else if (d.reset_after) {
            px_gemm(&(px_gemm_args){.m = B, .n = Gu, .k = u, .a = Ht, .lda = ldH, .b = U, .ldb = Gu, .c = b.tmp,
                    .ldc = Gu});
            step_rows(PX_RK_GRU_FWD, &st, B, Gu);
        } else {
            px_gemm(&(px_gemm_args){.m = B, .n = 2 * u, .k = u, .a = Ht, .lda = ldH, .b = U, .ldb = Gu, .beta = 1.0f,
                    .c = Pt, .ldc = ldP});
            step_rows(PX_RK_GRUB_GATES, &st, B, Gu);
            /* the reset gate acts before the recurrent product of the candidate */
            px_gemm(&(px_gemm_args){.m = B, .n = u, .k = u, .a = Xt, .lda = ldH, .b = U + 2 * u, .ldb = Gu,
                    .beta = 1.0f, .c = Pt + 2 * u, .ldc = ldP});
            step_rows(PX_RK_GRUB_CAND, &st, B, Gu);
        }
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
    px_rnn_step st = {.u = u, .ldp = ldP, .ldh = ldH, .ldy = TO * u, .dh = b.dh, .dc = b.dc, .drh = b.tmp};
    for (int64_t s = T - 1; s >= 0; s--) {
        const int64_t t = tin(&d, s);
        float *Zt = b.dZ + t * Gu, *Zr = b.dZr ? b.dZr + t * Gu : NULL;
        st.p = b.P + t * Gu, st.hp = b.Hp + t * u, st.x2 = b.X2 + t * u;
        st.cp = s > 0 ? b.X2 + tin(&d, s - 1) * u : NULL;
        st.gh = g + pos(&d, s) * u;
        st.z = Zt, st.zr = Zr;
        if (d.cell == CELL_SIMPLE) {
            step_rows(PX_RK_SIMPLE_BWD, &st, B, Gu);
            px_gemm(&(px_gemm_args){.trans_b = true, .m = B, .n = u, .k = Gu, .a = Zt, .lda = ldP, .b = U, .ldb = Gu,
                    .c = b.dh, .ldc = u});
        } else if (d.cell == CELL_LSTM) {
            step_rows(PX_RK_LSTM_BWD, &st, B, Gu);
            px_gemm(&(px_gemm_args){.trans_b = true, .m = B, .n = u, .k = Gu, .a = Zt, .lda = ldP, .b = U, .ldb = Gu,
                    .c = b.dh, .ldc = u});
        } else if (d.reset_after) {
            step_rows(PX_RK_GRU_BWD, &st, B, Gu);
            px_gemm(&(px_gemm_args){.trans_b = true, .m = B, .n = u, .k = Gu, .a = Zr, .lda = ldP, .b = U, .ldb = Gu,
                    .beta = 1.0f, .c = b.dh, .ldc = u});
        } else {
            step_rows(PX_RK_GRU_BWD, &st, B, Gu);
            /* d(r h_prev) through the candidate's recurrent product, then the gates */
            px_gemm(&(px_gemm_args){.trans_b = true, .m = B, .n = u, .k = u, .a = Zt + 2 * u, .lda = ldP,
                    .b = U + 2 * u, .ldb = Gu, .c = b.tmp, .ldc = u});
            step_rows(PX_RK_GRUB_RESET, &st, B, Gu);
            px_gemm(&(px_gemm_args){.trans_b = true, .m = B, .n = u, .k = 2 * u, .a = Zt, .lda = ldP, .b = U,
                    .ldb = Gu, .beta = 1.0f, .c = b.dh, .ldc = u});
        }
    }
    if (gin[0]) px_gemm(&(px_gemm_args){.trans_b = true, .m = d.N, .n = d.F, .k = Gu, .a = b.dZ, .lda = Gu, .b = W,
            .ldb = Gu, .beta = 1.0f, .c = gin[0]->data, .ldc = d.F});
    if (gin[1]) px_gemm(&(px_gemm_args){.trans_a = true, .m = d.F, .n = Gu, .k = d.N, .a = x, .lda = d.F, .b = b.dZ,
            .ldb = Gu, .beta = 1.0f, .c = gin[1]->data, .ldc = Gu});
    if (gin[2]) {
        float *gU = gin[2]->data;
        if (d.cell != CELL_GRU) {
            px_gemm(&(px_gemm_args){.trans_a = true, .m = u, .n = Gu, .k = d.N, .a = b.Hp, .lda = u, .b = b.dZ,
                    .ldb = Gu, .beta = 1.0f, .c = gU, .ldc = Gu});
        } else if (d.reset_after) {
            px_gemm(&(px_gemm_args){.trans_a = true, .m = u, .n = Gu, .k = d.N, .a = b.Hp, .lda = u, .b = b.dZr,
                    .ldb = Gu, .beta = 1.0f, .c = gU, .ldc = Gu});
        } else {
            px_gemm(&(px_gemm_args){.trans_a = true, .m = u, .n = 2 * u, .k = d.N, .a = b.Hp, .lda = u, .b = b.dZ,
                    .ldb = Gu, .beta = 1.0f, .c = gU, .ldc = Gu});
            px_gemm(&(px_gemm_args){.trans_a = true, .m = u, .n = u, .k = d.N, .a = b.X2, .lda = u, .b = b.dZ + 2 * u,
                    .ldb = Gu, .beta = 1.0f, .c = gU + 2 * u, .ldc = Gu});
        }
    }
    if (d.bias && gin[3]) {
        float *gb = gin[3]->data;
        add_col_sums(gb, b.dZ, d.N, Gu);
        if (b.dZr) add_col_sums(gb + Gu, b.dZr, d.N, Gu);
    }
}

static const px_op_def rnn_def = {"rnn", PX_OPF_SAVE_INPUTS, px_rnn_infer_common, rnn_state_bytes, rnn_forward,
                                  rnn_backward, PX_K_RNN};

px_node *px_rnn_fused(px_rnn_cell cell, px_node *x, px_node *kernel, px_node *recurrent_kernel, px_node *bias,
                      bool reset_after, px_rnn_direction direction) {
    if (!x || !kernel || !recurrent_kernel) return px_null_input(__func__);
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

static const px_op_def take_def = {"rnn_take", 0, take_infer, NULL, take_forward, take_backward, PX_K_RNN_TAKE};

static px_node *take(px_node *fused, int k) {
    if (!fused) return px_null_input(__func__);
    if (fused->op != &rnn_def && !px_rnn_is_general(fused)) {
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

px_node *px_rnn_fused_ex(px_rnn_cell cell, px_node *x, px_node *kernel, px_node *recurrent_kernel, px_node *bias,
                         px_node *mask, const px_rnn_fused_options *opts) {
    px_rnn_fused_options o = opts ? *opts : (px_rnn_fused_options){0};
    if (!x || !kernel || !recurrent_kernel) return px_null_input(__func__);
    px_activation act = o.activation ? o.activation : PX_TANH;
    px_activation ract = o.recurrent_activation ? o.recurrent_activation : PX_SIGMOID;
    if (o.linear_activation) act = PX_LINEAR;
    if (o.linear_recurrent_activation) ract = PX_LINEAR;
    if (!px_rnn_activation_ok(act) || !px_rnn_activation_ok(ract) || !(o.dropout >= 0 && o.dropout < 1) ||
        !(o.recurrent_dropout >= 0 && o.recurrent_dropout < 1)) {
        px_set_error(PX_ERR_ARG, "rnn: activation '%s', recurrent activation '%s', dropout %g, recurrent dropout %g: "
                     "activations must be elementwise and rates in [0, 1)", px_activation_name(act),
                     px_activation_name(ract), o.dropout, o.recurrent_dropout);
        return NULL;
    }
    /* Keras's defaults and no options: the vectorised kernels */
    if (act == PX_TANH && (ract == PX_SIGMOID || cell == PX_RNN_SIMPLE) && !mask && o.dropout == 0 &&
        o.recurrent_dropout == 0)
        return px_rnn_fused(cell, x, kernel, recurrent_kernel, bias, o.reset_after, o.direction);
    if ((unsigned)cell > PX_RNN_GRU || (unsigned)o.direction > PX_RNN_BACKWARD_ALIGNED) {
        px_set_error(PX_ERR_ARG, "rnn: unknown cell %d or direction %d", (int)cell, (int)o.direction);
        return NULL;
    }
    int64_t attr[8] = {cell, o.direction, bias != NULL, cell == PX_RNN_GRU && o.reset_after, act, ract, mask != NULL,
                       o.zero_output_for_mask};
    float fattr[2] = {o.dropout, o.recurrent_dropout};
    px_node *ins[5] = {x, kernel, recurrent_kernel};
    int k = 3;
    if (bias) ins[k++] = bias;
    if (mask) ins[k++] = mask;
    return px_rnn_general_make(ins, k, attr, fattr);
}

px_node *px_rnn_sequence(px_node *fused) { return take(fused, -1); }
px_node *px_rnn_state(px_node *fused, int k) { return k < 0 ? (px_set_error(PX_ERR_ARG, "rnn_state: index %d", k), NULL) : take(fused, k); }
