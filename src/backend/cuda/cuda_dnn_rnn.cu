/* The fused recurrent op (PX_K_RNN) through cuDNN's RNN where it fits:
 * SimpleRNN (tanh), LSTM and GRU with reset_after (Keras's default), forward
 * in time, one layer, Keras's default activations. Everything else (GRU with
 * reset_after false, whose reset gate acts before the recurrent product while
 * cuDNN's acts after it; go_backwards; masks and other activations, which are
 * the general op) runs the portable kernels (kernels/rnn_ops.h).
 *
 * Keras's weights are packed into cuDNN's weight space each pass and the
 * gradients scattered back, added. Keras keeps a gate block as the columns
 * g u .. g u + u - 1 of kernel (F, G u) and recurrent kernel (u, G u), used as
 * x W; cuDNN keeps each gate's matrix as (u, in) rows, used as A x: cuDNN's
 * matrix is the transposed block. The gates map so:
 *   LSTM: Keras i, f, c, o = cuDNN linear layers 0, 1, 2, 3 (input side) and
 *         4, 5, 6, 7 (recurrent side): cuDNN's "new memory" gate g is Keras's c,
 *         the order is the same; Keras's one bias goes to the input side
 *         (CUDNN_RNN_SINGLE_INP_BIAS).
 *   GRU:  Keras z, r, h (blocks 0, 1, 2) = cuDNN 1, 0, 2 (input) and 4, 3, 5
 *         (recurrent): cuDNN orders reset, update, new memory. cuDNN's
 *         h' = tanh(W_h x + b_Wh + r (R_h h + b_Rh)) and
 *         h = (1 - z) h' + z h_prev are Keras's reset_after formulas, with
 *         Keras's bias rows 0 and 1 as cuDNN's input and recurrent biases
 *         (CUDNN_RNN_DOUBLE_BIAS).
 *   SimpleRNN: CUDNN_RNN_TANH, linear layers 0 (input) and 1 (recurrent).
 *
 * cuDNN writes the sequence (B, T, u) and the final states into scratch,
 * copied into the op's (B, T + S, u) result; the sequence and cuDNN's reserve
 * space stay in the op's state for the backward pass. Only the standard
 * algorithm and plain float32 arithmetic (no TF32) are used.
 *
 * This file has been compiled (with and without cuDNN) but has never run: no
 * GPU was lent to the sessions that wrote it. */
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

#ifndef PX_HAVE_CUDNN

bool px_cuda_dnn_rnn_fits(px_cuda *c, const px_kernel *k) {
    (void)c, (void)k;
    return false;
}
size_t px_cuda_dnn_rnn_state(px_cuda *c, const px_kernel *k) {
    (void)c, (void)k;
    return 0;
}
size_t px_cuda_dnn_rnn_work(px_cuda *c, const px_kernel *k, bool backward) {
    (void)c, (void)k, (void)backward;
    return 0;
}
px_status px_cuda_dnn_rnn_forward(px_cuda *c, const px_kernel *k) {
    (void)k;
    return px_cuda_fail(c, PX_ERR_UNSUPPORTED, "rnn", "built without cuDNN", __FILE__, __LINE__);
}
px_status px_cuda_dnn_rnn_backward(px_cuda *c, const px_kernel *k) { return px_cuda_dnn_rnn_forward(c, k); }

#else

enum { CELL_SIMPLE = 0, CELL_LSTM = 1, CELL_GRU = 2 };

typedef struct dnn_rnn {
    int64_t key[7]; /* device, cell, B, T, F, u, has bias */
    bool used, fits;
    cudnnRNNDescriptor_t rnn;
    cudnnRNNDataDescriptor_t x, y;
    cudnnTensorDescriptor_t h;
    cudnnTensorDescriptor_t m, b; /* for cudnnGetRNNWeightParams */
    size_t weights, work_train, reserve;
} dnn_rnn;

/* A few shapes per host thread, the oldest replaced when full (as cuda_dnn.cu's
 * convolutions, and per thread for the same reason). */
enum { CACHE = 16 };
static __thread dnn_rnn cache[CACHE];
static __thread int next_slot;

typedef struct rnn_dims {
    int64_t B, T, F, u, G, Gu, TO;
    int cell;
    bool bias;
} rnn_dims;

static rnn_dims dims_of(const px_kernel *k) {
    rnn_dims d;
    d.cell = (int)k->iattr[0];
    d.bias = k->iattr[2] != 0;
    d.B = k->in[0]->shape[0], d.T = k->in[0]->shape[1], d.F = k->in[0]->shape[2], d.u = k->in[2]->shape[0];
    d.G = d.cell == CELL_LSTM ? 4 : d.cell == CELL_GRU ? 3 : 1;
    d.Gu = d.G * d.u;
    d.TO = d.T + (d.cell == CELL_LSTM ? 2 : 1);
    return d;
}

static void destroy_entry(dnn_rnn *e) {
    if (!e->used) return;
    cudnnDestroyRNNDescriptor(e->rnn);
    cudnnDestroyRNNDataDescriptor(e->x);
    cudnnDestroyRNNDataDescriptor(e->y);
    cudnnDestroyTensorDescriptor(e->h);
    cudnnDestroyTensorDescriptor(e->m);
    cudnnDestroyTensorDescriptor(e->b);
    memset(e, 0, sizeof *e);
}

/* Describes the op to cuDNN; PX_OK when cuDNN takes it, PX_ERR_UNSUPPORTED
 * when not (no error recorded). */
static px_status describe(px_cuda *c, const rnn_dims *d, dnn_rnn *e) {
    if (d->B > INT32_MAX || d->T > INT32_MAX || d->F > INT32_MAX || d->u > INT32_MAX) return PX_ERR_UNSUPPORTED;
    if (cudnnCreateRNNDescriptor(&e->rnn) || cudnnCreateRNNDataDescriptor(&e->x) ||
        cudnnCreateRNNDataDescriptor(&e->y) || cudnnCreateTensorDescriptor(&e->h) ||
        cudnnCreateTensorDescriptor(&e->m) || cudnnCreateTensorDescriptor(&e->b))
        return PX_ERR_UNSUPPORTED;
    e->used = true;
    cudnnRNNMode_t mode = d->cell == CELL_LSTM ? CUDNN_LSTM : d->cell == CELL_GRU ? CUDNN_GRU : CUDNN_RNN_TANH;
    cudnnRNNBiasMode_t bias = !d->bias ? CUDNN_RNN_NO_BIAS
                              : d->cell == CELL_GRU ? CUDNN_RNN_DOUBLE_BIAS
                                                    : CUDNN_RNN_SINGLE_INP_BIAS;
    if (cudnnSetRNNDescriptor_v8(e->rnn, CUDNN_RNN_ALGO_STANDARD, mode, bias, CUDNN_UNIDIRECTIONAL,
                                 CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH, (int32_t)d->F,
                                 (int32_t)d->u, (int32_t)d->u, 1, NULL, CUDNN_RNN_PADDED_IO_DISABLED))
        return PX_ERR_UNSUPPORTED;
    int *lens = (int *)malloc((size_t)d->B * sizeof(int));
    if (!lens) return PX_ERR_UNSUPPORTED;
    for (int64_t i = 0; i < d->B; i++) lens[i] = (int)d->T;
    float pad = 0.0f;
    /* batch-major: Plexus's (B, T, F) input as it lies */
    cudnnStatus_t s1 = cudnnSetRNNDataDescriptor(e->x, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED,
                                                 (int)d->T, (int)d->B, (int)d->F, lens, &pad);
    cudnnStatus_t s2 = cudnnSetRNNDataDescriptor(e->y, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED,
                                                 (int)d->T, (int)d->B, (int)d->u, lens, &pad);
    free(lens);
    int hd[3] = {1, (int)d->B, (int)d->u}, hs[3] = {(int)(d->B * d->u), (int)d->u, 1};
    if (s1 || s2 || cudnnSetTensorNdDescriptor(e->h, CUDNN_DATA_FLOAT, 3, hd, hs) ||
        cudnnGetRNNWeightSpaceSize(c->dnn, e->rnn, &e->weights) ||
        cudnnGetRNNTempSpaceSizes(c->dnn, e->rnn, CUDNN_FWD_MODE_TRAINING, e->x, &e->work_train, &e->reserve))
        return PX_ERR_UNSUPPORTED;
    return PX_OK;
}

/* Whether cuDNN's formulation is the op's: see the top of the file. */
static bool op_fits(const px_kernel *k, const rnn_dims *d) {
    bool reset_after = k->iattr[3] != 0;
    return k->code == PX_K_RNN && k->iattr[1] == 0 /* forward in time */ && d->B > 0 &&
           (d->cell != CELL_GRU || reset_after);
}

static const dnn_rnn *lookup(px_cuda *c, const px_kernel *k) {
    rnn_dims d = dims_of(k);
    if (!op_fits(k, &d)) return NULL;
    int64_t key[7] = {c->device, d.cell, d.B, d.T, d.F, d.u, d.bias};
    dnn_rnn *hit = NULL;
    for (int i = 0; i < CACHE && !hit; i++)
        if (cache[i].used && memcmp(cache[i].key, key, sizeof key) == 0) hit = &cache[i];
    if (!hit) {
        hit = &cache[next_slot];
        next_slot = (next_slot + 1) % CACHE;
        destroy_entry(hit);
        hit->fits = describe(c, &d, hit) == PX_OK;
        hit->used = true;
        memcpy(hit->key, key, sizeof key);
    }
    return hit->fits ? hit : NULL;
}

static size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

/* The state: cuDNN's reserve space, the sequence (B, T, u) and the sequence
 * lengths (B int32, on the device: cuDNN reads them there, so a recorded step
 * needs no host copy). */
typedef struct rnn_state {
    void *reserve;
    float *y;
    int32_t *lens;
} rnn_state;

static size_t state_bytes(const dnn_rnn *e, const rnn_dims *d) {
    return align256(e->reserve) + align256((size_t)(d->B * d->T * d->u) * sizeof(float)) +
           align256((size_t)d->B * sizeof(int32_t));
}
static rnn_state state_of(const dnn_rnn *e, const rnn_dims *d, void *p) {
    rnn_state s;
    char *q = (char *)p;
    s.reserve = q, q += align256(e->reserve);
    s.y = (float *)q, q += align256((size_t)(d->B * d->T * d->u) * sizeof(float));
    s.lens = (int32_t *)q;
    return s;
}

/* The scratch: the weight space, its gradient, cuDNN's workspace, the input's
 * gradient (B, T, F), the sequence's gradient (B, T, u), and four (B, u)
 * blocks: the final h and c, and their gradients. */
typedef struct rnn_work {
    void *w, *dw, *ws;
    float *dx, *dy, *hy, *cy, *dhy, *dcy;
} rnn_work;

static size_t work_bytes(const dnn_rnn *e, const rnn_dims *d) {
    return 2 * align256(e->weights) + align256(e->work_train) +
           align256((size_t)(d->B * d->T * d->F) * sizeof(float)) +
           align256((size_t)(d->B * d->T * d->u) * sizeof(float)) + 4 * align256((size_t)(d->B * d->u) * sizeof(float));
}
static rnn_work work_of(const dnn_rnn *e, const rnn_dims *d, void *p) {
    rnn_work w;
    char *q = (char *)p;
    size_t bu = align256((size_t)(d->B * d->u) * sizeof(float));
    w.w = q, q += align256(e->weights);
    w.dw = q, q += align256(e->weights);
    w.ws = q, q += align256(e->work_train);
    w.dx = (float *)q, q += align256((size_t)(d->B * d->T * d->F) * sizeof(float));
    w.dy = (float *)q, q += align256((size_t)(d->B * d->T * d->u) * sizeof(float));
    w.hy = (float *)q, q += bu;
    w.cy = (float *)q, q += bu;
    w.dhy = (float *)q, q += bu;
    w.dcy = (float *)q;
    return w;
}

bool px_cuda_dnn_rnn_fits(px_cuda *c, const px_kernel *k) { return lookup(c, k) != NULL; }

size_t px_cuda_dnn_rnn_state(px_cuda *c, const px_kernel *k) {
    const dnn_rnn *e = lookup(c, k);
    rnn_dims d = dims_of(k);
    return e ? state_bytes(e, &d) : 0;
}

size_t px_cuda_dnn_rnn_work(px_cuda *c, const px_kernel *k, bool backward) {
    (void)backward;
    const dnn_rnn *e = lookup(c, k);
    rnn_dims d = dims_of(k);
    return e ? work_bytes(e, &d) : 0;
}

/* cuDNN's linear layer of Keras's gate block g: the input side (rec false) or the recurrent side. */
static int lin_layer(const rnn_dims *d, int g, bool rec) {
    static const int gru[3] = {1, 0, 2}; /* Keras z, r, h -> cuDNN r, z, h' order */
    int id = d->cell == CELL_GRU ? gru[g] : g;
    return id + (rec ? d->G : 0);
}

/* The addresses of one linear layer's matrix and bias inside a weight space (bias NULL when it has none). */
static px_status params(px_cuda *c, const dnn_rnn *e, const void *space, int id, float **m, float **b) {
    void *pm = NULL, *pb = NULL;
    PX_CUDNN_CHECK(c, cudnnGetRNNWeightParams(c->dnn, e->rnn, 0, e->weights, space, id, e->m, &pm, e->b, &pb));
    *m = (float *)pm, *b = (float *)pb;
    return PX_OK;
}

/* Keras's kernel, recurrent kernel and bias into cuDNN's weight space (to_keras
 * false), or the weight space's gradient into Keras's gradients (true; added
 * where add[i], stored elsewhere; NULL gradients are skipped). */
static px_status convert(px_cuda *c, const dnn_rnn *e, const rnn_dims *d, void *space, float *W, float *U,
                         float *bias, bool to_keras, const bool add[3]) {
    const int64_t u = d->u, F = d->F, Gu = d->Gu;
    px_status st = PX_OK;
    if (!to_keras) PX_CUDA_CHECK(c, cudaMemsetAsync(space, 0, e->weights, c->stream));
    for (int g = 0; g < d->G && st == PX_OK; g++)
        for (int rec = 0; rec < 2 && st == PX_OK; rec++) {
            float *m = NULL, *b = NULL;
            st = params(c, e, space, lin_layer(d, g, rec), &m, &b);
            if (st != PX_OK) break;
            float *K = rec ? U : W;
            const int64_t in = rec ? u : F;
            /* cuDNN's m[j in + f] is Keras's K[f Gu + g u + j] */
            if (m && K)
                st = to_keras ? px_cuda_copy_block(c, m, in, 1, K + g * u, 1, Gu, u, in, add[rec])
                              : px_cuda_copy_block(c, K + g * u, 1, Gu, m, in, 1, u, in, false);
            /* Keras's bias: (G u), or GRU's (2, G u) with the recurrent side in row 1 */
            float *kb = !bias ? NULL : rec ? (d->cell == CELL_GRU ? bias + Gu : NULL) : bias;
            if (st == PX_OK && b && kb)
                st = to_keras ? px_cuda_copy_block(c, b, 1, 1, kb + g * u, 1, 1, u, 1, add[2])
                              : px_cuda_copy_block(c, kb + g * u, 1, 1, b, 1, 1, u, 1, false);
        }
    return st;
}

px_status px_cuda_dnn_rnn_forward(px_cuda *c, const px_kernel *k) {
    const dnn_rnn *e = lookup(c, k);
    if (!e) return px_cuda_fail(c, PX_ERR_STATE, "rnn", "cuDNN does not take this recurrent op", __FILE__, __LINE__);
    rnn_dims d = dims_of(k);
    rnn_state s = state_of(e, &d, k->state);
    rnn_work w = work_of(e, &d, k->work);
    float *out = (float *)k->out->data;
    const bool lstm = d.cell == CELL_LSTM;
    px_status st = px_cuda_fill_i32(c, s.lens, d.B, (int32_t)d.T);
    if (st == PX_OK)
        st = convert(c, e, &d, w.w, (float *)k->in[1]->data, (float *)k->in[2]->data,
                     d.bias ? (float *)k->in[3]->data : NULL, false, NULL);
    if (st != PX_OK) return st;
    /* zero initial states (hx, cx NULL); the reserve space only in training */
    PX_CUDNN_CHECK(c, cudnnRNNForward(c->dnn, e->rnn, k->training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                                      s.lens, e->x, k->in[0]->data, e->y, s.y, e->h, NULL, w.hy, e->h, NULL,
                                      lstm ? w.cy : NULL, e->weights, w.w, e->work_train, w.ws,
                                      k->training ? e->reserve : 0, k->training ? s.reserve : NULL));
    /* the sequence into rows 0 .. T-1 of each example, then h (and c) */
    st = px_cuda_copy_block(c, s.y, d.T * d.u, 1, out, d.TO * d.u, 1, d.B, d.T * d.u, false);
    if (st == PX_OK) st = px_cuda_copy_block(c, w.hy, d.u, 1, out + d.T * d.u, d.TO * d.u, 1, d.B, d.u, false);
    if (st == PX_OK && lstm)
        st = px_cuda_copy_block(c, w.cy, d.u, 1, out + (d.T + 1) * d.u, d.TO * d.u, 1, d.B, d.u, false);
    return st;
}

/* Gradients are added (the CPU op accumulates too). cuDNN's backward passes
 * need the training forward pass's reserve space: a session runs backward
 * only after a training forward pass. */
px_status px_cuda_dnn_rnn_backward(px_cuda *c, const px_kernel *k) {
    const dnn_rnn *e = lookup(c, k);
    if (!e) return px_cuda_fail(c, PX_ERR_STATE, "rnn", "cuDNN does not take this recurrent op", __FILE__, __LINE__);
    rnn_dims d = dims_of(k);
    rnn_state s = state_of(e, &d, k->state);
    rnn_work w = work_of(e, &d, k->work);
    const float *g = (const float *)k->gout->data;
    const bool lstm = d.cell == CELL_LSTM;
    bool add[4];
    for (int i = 0; i < 4; i++) add[i] = !(k->fresh && k->fresh[i]);
    px_status st = convert(c, e, &d, w.w, (float *)k->in[1]->data, (float *)k->in[2]->data,
                           d.bias ? (float *)k->in[3]->data : NULL, false, NULL);
    /* the gradients of the sequence and of the final states, out of the (B, T + S, u) layout */
    if (st == PX_OK) st = px_cuda_copy_block(c, g, d.TO * d.u, 1, w.dy, d.T * d.u, 1, d.B, d.T * d.u, false);
    if (st == PX_OK) st = px_cuda_copy_block(c, g + d.T * d.u, d.TO * d.u, 1, w.dhy, d.u, 1, d.B, d.u, false);
    if (st == PX_OK && lstm)
        st = px_cuda_copy_block(c, g + (d.T + 1) * d.u, d.TO * d.u, 1, w.dcy, d.u, 1, d.B, d.u, false);
    if (st != PX_OK) return st;
    PX_CUDNN_CHECK(c, cudnnRNNBackwardData_v8(c->dnn, e->rnn, s.lens, e->y, s.y, w.dy, e->x, w.dx, e->h, NULL, w.dhy,
                                              NULL, e->h, NULL, lstm ? w.dcy : NULL, NULL, e->weights, w.w,
                                              e->work_train, w.ws, e->reserve, s.reserve));
    if (k->gin[0])
        st = px_cuda_copy_block(c, w.dx, 1, 1, (float *)k->gin[0]->data, 1, 1, d.B * d.T * d.F, 1, add[0]);
    if (st != PX_OK || (!k->gin[1] && !k->gin[2] && !(d.bias && k->gin[3]))) return st;
    PX_CUDA_CHECK(c, cudaMemsetAsync(w.dw, 0, e->weights, c->stream));
    PX_CUDNN_CHECK(c, cudnnRNNBackwardWeights_v8(c->dnn, e->rnn, CUDNN_WGRAD_MODE_ADD, s.lens, e->x, k->in[0]->data,
                                                 e->h, NULL, e->y, s.y, e->weights, w.dw, e->work_train, w.ws,
                                                 e->reserve, s.reserve));
    return convert(c, e, &d, w.dw, k->gin[1] ? (float *)k->gin[1]->data : NULL,
                   k->gin[2] ? (float *)k->gin[2]->data : NULL,
                   d.bias && k->gin[3] ? (float *)k->gin[3]->data : NULL, true, add + 1);
}

#endif
