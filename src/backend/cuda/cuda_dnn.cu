/* Convolution through cuDNN on channels-last data. Keras's kernel layout
 * (kh, kw, C, F) is not one of cuDNN's, so the kernel is transposed to
 * (F, kh, kw, C) in the scratch buffer each pass (and the kernel gradient
 * back). cuDNN pads symmetrically only: "same" padding with an odd total (TF
 * puts the extra pixel after) takes the portable im2col path instead. Only
 * deterministic algorithms with plain float32 arithmetic (no TF32) are used,
 * so results match the CPU to rounding and repeat run to run. */
#include <string.h>

#include "backend/cuda/cuda_internal.h"

#ifndef PX_HAVE_CUDNN

bool px_cuda_dnn_conv_fits(px_cuda *c, const px_kernel *k) {
    (void)c, (void)k;
    return false;
}
size_t px_cuda_dnn_conv_work(px_cuda *c, const px_kernel *k, bool backward) {
    (void)c, (void)k, (void)backward;
    return 0;
}
px_status px_cuda_dnn_conv_forward(px_cuda *c, const px_kernel *k) {
    (void)k;
    return px_cuda_fail(c, PX_ERR_UNSUPPORTED, "conv2d", "built without cuDNN", __FILE__, __LINE__);
}
px_status px_cuda_dnn_conv_backward(px_cuda *c, const px_kernel *k) { return px_cuda_dnn_conv_forward(c, k); }

#else

/* Above this, an algorithm's workspace is not worth it. */
static const size_t MAX_WORKSPACE = (size_t)256 << 20;

typedef struct dnn_conv {
    int64_t key[14]; /* device, n, h, w, c, kh, kw, f, sh, sw, dh, dw, pt, pl */
    bool used, fits;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t data;
    cudnnConvolutionBwdFilterAlgo_t filter;
    size_t ws_fwd, ws_data, ws_filter;
} dnn_conv;

/* A few geometries per host thread (a network has a handful of convolutions);
 * the oldest entry is replaced when full. Per thread, not per process: an entry
 * is used after lookup returns, so another thread's lookup must never replace it
 * then. A thread's entries are not freed when it exits (a handful of cuDNN
 * descriptors; sessions drive a device from one long-lived thread). */
enum { CACHE = 32 };
static __thread dnn_conv cache[CACHE];
static __thread int next_slot;

static void key_of(const px_cuda *c, const px_conv_geom *g, int64_t key[14]) {
    int64_t k[14] = {c->device, g->n, g->h, g->w, g->c, g->kh, g->kw, g->f, g->sh, g->sw, g->dh, g->dw, g->pt, g->pl};
    memcpy(key, k, sizeof k);
}

/* Padding after, along one axis: what the output needs beyond the padding before. */
static int64_t pad_after(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t before) {
    int64_t total = (out - 1) * s + d * (k - 1) + 1 - in;
    return total - before;
}

static void destroy_entry(dnn_conv *e) {
    if (!e->used) return;
    cudnnDestroyTensorDescriptor(e->x);
    cudnnDestroyTensorDescriptor(e->y);
    cudnnDestroyFilterDescriptor(e->w);
    cudnnDestroyConvolutionDescriptor(e->conv);
    memset(e, 0, sizeof *e);
}

/* The first deterministic algorithm within the workspace limit, from cuDNN's heuristics. */
#define PICK(perf, count, out, ws)                                                                 \
    do {                                                                                           \
        bool found_ = false;                                                                       \
        for (int i_ = 0; i_ < (count) && !found_; i_++)                                           \
            if (perf[i_].status == CUDNN_STATUS_SUCCESS && perf[i_].determinism == CUDNN_DETERMINISTIC && \
                perf[i_].memory <= MAX_WORKSPACE) {                                                \
                out = perf[i_].algo;                                                               \
                ws = perf[i_].memory;                                                              \
                found_ = true;                                                                     \
            }                                                                                      \
        if (!found_) return PX_ERR_UNSUPPORTED;                                                    \
    } while (0)

/* Describes the convolution to cuDNN and picks its algorithms. PX_OK when
 * cuDNN takes it, PX_ERR_UNSUPPORTED when it does not (no error recorded). */
static px_status describe(px_cuda *c, const px_conv_geom *g, dnn_conv *e) {
    if (g->n > INT32_MAX || g->h * g->w * g->c > INT32_MAX || g->oh * g->ow * g->f > INT32_MAX) return PX_ERR_UNSUPPORTED;
    if (cudnnCreateTensorDescriptor(&e->x) || cudnnCreateTensorDescriptor(&e->y) || cudnnCreateFilterDescriptor(&e->w) ||
        cudnnCreateConvolutionDescriptor(&e->conv))
        return PX_ERR_UNSUPPORTED;
    e->used = true;
    if (cudnnSetTensor4dDescriptor(e->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, (int)g->n, (int)g->c, (int)g->h, (int)g->w) ||
        cudnnSetTensor4dDescriptor(e->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, (int)g->n, (int)g->f, (int)g->oh,
                                   (int)g->ow) ||
        cudnnSetFilter4dDescriptor(e->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, (int)g->f, (int)g->c, (int)g->kh,
                                   (int)g->kw) ||
        /* Keras's convolution is cuDNN's cross-correlation */
        cudnnSetConvolution2dDescriptor(e->conv, (int)g->pt, (int)g->pl, (int)g->sh, (int)g->sw, (int)g->dh,
                                        (int)g->dw, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT) ||
        cudnnSetConvolutionMathType(e->conv, CUDNN_FMA_MATH))
        return PX_ERR_UNSUPPORTED;
    int n, h, w, f;
    if (cudnnGetConvolution2dForwardOutputDim(e->conv, e->x, e->w, &n, &f, &h, &w) || h != g->oh || w != g->ow)
        return PX_ERR_UNSUPPORTED;
    cudnnConvolutionFwdAlgoPerf_t pf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    cudnnConvolutionBwdDataAlgoPerf_t pd[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    cudnnConvolutionBwdFilterAlgoPerf_t pw[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int nf = 0, nd = 0, nw = 0;
    if (cudnnGetConvolutionForwardAlgorithm_v7(c->dnn, e->x, e->w, e->conv, e->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &nf, pf) ||
        cudnnGetConvolutionBackwardDataAlgorithm_v7(c->dnn, e->w, e->y, e->conv, e->x,
                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &nd, pd) ||
        cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->dnn, e->x, e->y, e->conv, e->w,
                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &nw, pw))
        return PX_ERR_UNSUPPORTED;
    PICK(pf, nf, e->fwd, e->ws_fwd);
    PICK(pd, nd, e->data, e->ws_data);
    PICK(pw, nw, e->filter, e->ws_filter);
    return PX_OK;
}

/* The cached description of this convolution (made on first use), or NULL when
 * cuDNN does not take it. */
static const dnn_conv *lookup(px_cuda *c, const px_kernel *k) {
    px_conv_geom g = px_cuda_conv_geom(k);
    if (pad_after(g.h, g.oh, g.kh, g.sh, g.dh, g.pt) > g.pt || pad_after(g.w, g.ow, g.kw, g.sw, g.dw, g.pl) > g.pl ||
        g.n == 0 || g.oh <= 0 || g.ow <= 0)
        return NULL; /* asymmetric padding, or nothing to compute */
    int64_t key[14];
    key_of(c, &g, key);
    dnn_conv *hit = NULL;
    for (int i = 0; i < CACHE && !hit; i++)
        if (cache[i].used && memcmp(cache[i].key, key, sizeof key) == 0) hit = &cache[i];
    if (!hit) {
        hit = &cache[next_slot];
        next_slot = (next_slot + 1) % CACHE;
        destroy_entry(hit);
        hit->fits = describe(c, &g, hit) == PX_OK;
        hit->used = true;
        memcpy(hit->key, key, sizeof key);
    }
    return hit->fits ? hit : NULL;
}

/* Scratch: the transposed kernel, the transposed kernel gradient, then cuDNN's workspace. */
static size_t kernel_bytes(const px_conv_geom *g) {
    return ((size_t)(g->kh * g->kw * g->c * g->f) * sizeof(float) + 255) & ~(size_t)255;
}

bool px_cuda_dnn_conv_fits(px_cuda *c, const px_kernel *k) { return lookup(c, k) != NULL; }

size_t px_cuda_dnn_conv_work(px_cuda *c, const px_kernel *k, bool backward) {
    const dnn_conv *e = lookup(c, k);
    if (!e) return 0;
    px_conv_geom g = px_cuda_conv_geom(k);
    size_t ws = backward ? (e->ws_data > e->ws_filter ? e->ws_data : e->ws_filter) : e->ws_fwd;
    return 2 * kernel_bytes(&g) + ws;
}

px_status px_cuda_dnn_conv_forward(px_cuda *c, const px_kernel *k) {
    const dnn_conv *e = lookup(c, k);
    if (!e) return px_cuda_fail(c, PX_ERR_STATE, "conv2d", "cuDNN does not take this convolution", __FILE__, __LINE__);
    px_conv_geom g = px_cuda_conv_geom(k);
    const int64_t taps = g.kh * g.kw * g.c;
    float *wt = (float *)k->work;
    char *ws = (char *)k->work + 2 * kernel_bytes(&g);
    px_status st = px_cuda_transpose2d(c, (const float *)k->in[1]->data, wt, taps, g.f, false);
    if (st != PX_OK) return st;
    const float one = 1.0f, zero = 0.0f;
    PX_CUDNN_CHECK(c, cudnnConvolutionForward(c->dnn, &one, e->x, k->in[0]->data, e->w, wt, e->conv, e->fwd, ws,
                                              e->ws_fwd, &zero, e->y, k->out->data));
    if (k->n_in == 3)
        st = px_cuda_bias_add(c, (float *)k->out->data, (const float *)k->in[2]->data, g.n * g.oh * g.ow, g.f);
    return st;
}

/* Gradients are added to (a convolution's backward pass accumulates, as on the CPU). */
px_status px_cuda_dnn_conv_backward(px_cuda *c, const px_kernel *k) {
    const dnn_conv *e = lookup(c, k);
    if (!e) return px_cuda_fail(c, PX_ERR_STATE, "conv2d", "cuDNN does not take this convolution", __FILE__, __LINE__);
    px_conv_geom g = px_cuda_conv_geom(k);
    const int64_t taps = g.kh * g.kw * g.c;
    float *wt = (float *)k->work, *dwt = (float *)((char *)k->work + kernel_bytes(&g));
    char *ws = (char *)k->work + 2 * kernel_bytes(&g);
    const float one = 1.0f, zero = 0.0f;
    px_status st = PX_OK;
    if (k->n_in == 3 && k->gin[2])
        st = px_cuda_bias_grad(c, (const float *)k->gout->data, (float *)k->gin[2]->data, g.n * g.oh * g.ow, g.f);
    if (st == PX_OK && k->gin[0]) {
        st = px_cuda_transpose2d(c, (const float *)k->in[1]->data, wt, taps, g.f, false);
        if (st != PX_OK) return st;
        PX_CUDNN_CHECK(c, cudnnConvolutionBackwardData(c->dnn, &one, e->w, wt, e->y, k->gout->data, e->conv, e->data,
                                                       ws, e->ws_data, &one, e->x, k->gin[0]->data));
    }
    if (st == PX_OK && k->gin[1]) {
        PX_CUDNN_CHECK(c, cudnnConvolutionBackwardFilter(c->dnn, &one, e->x, k->in[0]->data, e->y, k->gout->data,
                                                         e->conv, e->filter, ws, e->ws_filter, &zero, e->w, dwt));
        /* (F, taps) back to Keras's (taps, F), added */
        st = px_cuda_transpose2d(c, dwt, (float *)k->gin[1]->data, g.f, taps, true);
    }
    return st;
}

#endif
