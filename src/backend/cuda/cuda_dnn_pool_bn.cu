/* Average pooling and batch normalization through cuDNN, on channels-last
 * data, where cuDNN computes what Keras does; elsewhere the portable kernels
 * run (cuda_kernels.cu decides with the *_fits functions).
 *
 * Average pooling: Keras averages over the window's part inside the image
 * (padding excluded), cuDNN's AVERAGE_COUNT_EXCLUDE_PADDING. cuDNN pads
 * symmetrically only, so "same" padding with an odd total (TF puts the extra
 * pixel after) stays portable. Max pooling stays portable: cuDNN's backward
 * pass recomputes the argmax from x and y, which the op does not save (it is
 * flagged neither SAVE_INPUTS nor SAVE_OUTPUT). A backend may choose its own
 * state, so x and y could be copied there, but that is an input-sized copy
 * each forward pass and x, y and dy read again in the backward one, against
 * the portable kernels' one int32 argmax per output written forward and read
 * back: more memory traffic for the same result. The portable kernel also
 * gives a tied window's gradient to the first maximum, as the CPU does;
 * cuDNN does not document which element of a tie it picks.
 *
 * Batch normalization over the last axis, as (rows, C, 1, 1) in cuDNN's
 * spatial mode. Training: cuDNN's batch mean and 1/sqrt(var + eps) (biased
 * variance, as Keras) go straight into the op's state (kernels/helpers.h), so
 * the portable backward pass could read them too. Keras's moving statistics
 * are moving = m * moving + (1 - m) * batch with the biased variance, while
 * cuDNN's running variance uses the unbiased one: cuDNN's running averages go
 * to scratch with factor 1 (the batch values), and a kernel makes Keras's
 * update from them (cuda_kernels.cu). The backward pass goes to cuDNN when
 * this module ran the forward pass with batch statistics (remembered per state
 * buffer, since only the device's copy of the state says so); otherwise, and
 * for inference, the portable kernels run. cuDNN needs epsilon >= 1e-5 and at
 * least two rows for an unbiased variance. */
#include <pthread.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"
#include "backend/kernels/helpers.h"

#ifndef PX_HAVE_CUDNN

bool px_cuda_dnn_pool_fits(px_cuda *c, const px_kernel *k) { return (void)c, (void)k, false; }
bool px_cuda_dnn_bn_fits(px_cuda *c, const px_kernel *k, bool backward) {
    return (void)c, (void)k, (void)backward, false;
}
size_t px_cuda_dnn_bn_work(const px_kernel *k) { return (void)k, 0; }
void px_cuda_dnn_bn_forget(const void *state) { (void)state; }
static px_status no_dnn(px_cuda *c, const px_kernel *k) {
    return px_cuda_fail(c, PX_ERR_UNSUPPORTED, k->name, "built without cuDNN", __FILE__, __LINE__);
}
px_status px_cuda_dnn_pool_forward(px_cuda *c, const px_kernel *k) { return no_dnn(c, k); }
px_status px_cuda_dnn_pool_backward(px_cuda *c, const px_kernel *k) { return no_dnn(c, k); }
px_status px_cuda_dnn_bn_forward(px_cuda *c, const px_kernel *k) { return no_dnn(c, k); }
px_status px_cuda_dnn_bn_backward(px_cuda *c, const px_kernel *k) { return no_dnn(c, k); }

#else

/* ------------------------------------------------------ average pooling ---- */

static px_conv_geom pool_geom(const px_kernel *k) {
    const px_tensor *x = k->in[0];
    px_conv_geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], k->iattr[0], k->iattr[1], x->shape[3],
                      k->iattr[2], k->iattr[3], 1, 1, 0, 0, 0, 0};
    px_conv_geom_finish(&g, (int)k->iattr[4]);
    return g;
}

/* Padding after along one axis: what the last window needs beyond the input. */
static int64_t pad_after(int64_t in, int64_t out, int64_t k, int64_t s, int64_t before) {
    return (out - 1) * s + k - in - before;
}

bool px_cuda_dnn_pool_fits(px_cuda *c, const px_kernel *k) {
    (void)c;
    if (k->code != PX_K_AVG_POOL) return false;
    px_conv_geom g = pool_geom(k);
    return g.n > 0 && g.oh > 0 && g.ow > 0 && g.n <= INT32_MAX && g.h * g.w * g.c <= INT32_MAX &&
           pad_after(g.h, g.oh, g.kh, g.sh, g.pt) <= g.pt && pad_after(g.w, g.ow, g.kw, g.sw, g.pl) <= g.pl;
}

typedef struct pool_desc {
    cudnnPoolingDescriptor_t pool;
    cudnnTensorDescriptor_t x, y;
} pool_desc;

static void pool_free(pool_desc *d) {
    if (d->pool) cudnnDestroyPoolingDescriptor(d->pool);
    if (d->x) cudnnDestroyTensorDescriptor(d->x);
    if (d->y) cudnnDestroyTensorDescriptor(d->y);
}

/* Descriptors are made per call: a few microseconds on the host, and a
 * recorded step replays without calling here at all. */
static px_status pool_describe(px_cuda *c, const px_kernel *k, pool_desc *d) {
    px_conv_geom g = pool_geom(k);
    memset(d, 0, sizeof *d);
    PX_CUDNN_CHECK(c, cudnnCreatePoolingDescriptor(&d->pool));
    PX_CUDNN_CHECK(c, cudnnCreateTensorDescriptor(&d->x));
    PX_CUDNN_CHECK(c, cudnnCreateTensorDescriptor(&d->y));
    PX_CUDNN_CHECK(c, cudnnSetPooling2dDescriptor(d->pool, CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING,
                                                  CUDNN_PROPAGATE_NAN, (int)g.kh, (int)g.kw, (int)g.pt, (int)g.pl,
                                                  (int)g.sh, (int)g.sw));
    PX_CUDNN_CHECK(c, cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, (int)g.n, (int)g.c,
                                                 (int)g.h, (int)g.w));
    PX_CUDNN_CHECK(c, cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, (int)g.n, (int)g.c,
                                                 (int)g.oh, (int)g.ow));
    int n, ch, h, w;
    PX_CUDNN_CHECK(c, cudnnGetPooling2dForwardOutputDim(d->pool, d->x, &n, &ch, &h, &w));
    if (h != g.oh || w != g.ow)
        return px_cuda_fail(c, PX_ERR_STATE, "avg_pool2d", "cuDNN's output size differs from Keras's", __FILE__,
                            __LINE__);
    return PX_OK;
}

px_status px_cuda_dnn_pool_forward(px_cuda *c, const px_kernel *k) {
    pool_desc d;
    px_status st = pool_describe(c, k, &d);
    const float one = 1.0f, zero = 0.0f;
    if (st == PX_OK) {
        cudnnStatus_t e = cudnnPoolingForward(c->dnn, d.pool, &one, d.x, k->in[0]->data, &zero, d.y, k->out->data);
        if (e != CUDNN_STATUS_SUCCESS)
            st = px_cuda_fail(c, PX_ERR_STATE, "cudnnPoolingForward", cudnnGetErrorString(e), __FILE__, __LINE__);
    }
    pool_free(&d);
    return st;
}

/* The gradient is added to (beta 1), as every backward pass does. Averaging
 * reads neither x nor y; cuDNN's interface asks for them all the same, and
 * gets buffers of their sizes. */
px_status px_cuda_dnn_pool_backward(px_cuda *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    pool_desc d;
    px_status st = pool_describe(c, k, &d);
    const float one = 1.0f;
    if (st == PX_OK) {
        cudnnStatus_t e = cudnnPoolingBackward(c->dnn, d.pool, &one, d.y, k->gout->data, d.y, k->gout->data, d.x,
                                               k->gin[0]->data, &one, d.x, k->gin[0]->data);
        if (e != CUDNN_STATUS_SUCCESS)
            st = px_cuda_fail(c, PX_ERR_STATE, "cudnnPoolingBackward", cudnnGetErrorString(e), __FILE__, __LINE__);
    }
    pool_free(&d);
    return st;
}

/* -------------------------------------------------- batch normalization ---- */

/* Which state buffers the last forward pass filled with batch statistics
 * through cuDNN: a session's plan keeps one state buffer per op. */
enum { SEEN = 64 };
static struct {
    const void *state;
    bool batch;
} seen[SEEN];
static int seen_next;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static void remember(const void *state, bool batch) {
    pthread_mutex_lock(&seen_lock);
    int at = -1;
    for (int i = 0; i < SEEN && at < 0; i++)
        if (seen[i].state == state) at = i;
    if (at < 0) {
        at = seen_next;
        seen_next = (seen_next + 1) % SEEN;
    }
    seen[at].state = state;
    seen[at].batch = batch;
    pthread_mutex_unlock(&seen_lock);
}

static bool used_batch(const void *state) {
    bool b = false;
    pthread_mutex_lock(&seen_lock);
    for (int i = 0; i < SEEN; i++)
        if (seen[i].state == state) b = seen[i].batch;
    pthread_mutex_unlock(&seen_lock);
    return b;
}

void px_cuda_dnn_bn_forget(const void *state) { remember(state, false); }

static int64_t bn_rows(const px_kernel *k, int64_t *ch) {
    const px_tensor *x = k->in[0];
    *ch = x->shape[x->rank - 1];
    return *ch ? pxk_numel(x) / *ch : 0;
}

/* Whether cuDNN takes this shape and epsilon (whatever the pass). */
static bool bn_shape_fits(const px_kernel *k) {
    int64_t ch, rows = bn_rows(k, &ch);
    return k->code == PX_K_BATCH_NORM && rows >= 2 && rows <= INT32_MAX && ch <= INT32_MAX &&
           (double)k->fattr[1] >= CUDNN_BN_MIN_EPSILON;
}

bool px_cuda_dnn_bn_fits(px_cuda *c, const px_kernel *k, bool backward) {
    (void)c;
    if (!bn_shape_fits(k)) return false;
    if (!backward) return k->training; /* inference: the portable kernels are one pass already */
    return k->gin[0] && used_batch(k->state);
}

/* Scratch: ones (for a missing gamma), zeros (a missing beta), then two
 * arrays for cuDNN's running statistics or its parameter gradients. */
static size_t per_channel(int64_t ch) { return ((size_t)ch * sizeof(float) + 255) & ~(size_t)255; }
size_t px_cuda_dnn_bn_work(const px_kernel *k) {
    int64_t ch;
    bn_rows(k, &ch);
    return bn_shape_fits(k) ? 4 * per_channel(ch) : 0;
}

typedef struct bn_desc {
    cudnnTensorDescriptor_t x, p;
} bn_desc;

static void bn_free(bn_desc *d) {
    if (d->x) cudnnDestroyTensorDescriptor(d->x);
    if (d->p) cudnnDestroyTensorDescriptor(d->p);
}

static px_status bn_describe(px_cuda *c, int64_t rows, int64_t ch, bn_desc *d) {
    memset(d, 0, sizeof *d);
    PX_CUDNN_CHECK(c, cudnnCreateTensorDescriptor(&d->x));
    PX_CUDNN_CHECK(c, cudnnCreateTensorDescriptor(&d->p));
    /* (rows, C, 1, 1) in NCHW is the row-major (rows, C) matrix itself */
    PX_CUDNN_CHECK(c, cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)rows, (int)ch, 1, 1));
    PX_CUDNN_CHECK(c, cudnnDeriveBNTensorDescriptor(d->p, d->x, CUDNN_BATCHNORM_SPATIAL));
    return PX_OK;
}

/* Inputs: x, moving mean, moving variance, then gamma and beta when iattr[0], iattr[1]. */
px_status px_cuda_dnn_bn_forward(px_cuda *c, const px_kernel *k) {
    int64_t ch, rows = bn_rows(k, &ch);
    bool has_g = k->iattr[0], has_b = k->iattr[1];
    pxk_bn v = pxk_bn_split(k->in[0], k->state);
    char *w = (char *)k->work;
    float *ones = (float *)w, *zeros = (float *)(w + per_channel(ch));
    float *run_mean = (float *)(w + 2 * per_channel(ch)), *run_var = (float *)(w + 3 * per_channel(ch));
    const float *gamma = has_g ? (const float *)k->in[3]->data : ones;
    const float *beta = has_b ? (const float *)k->in[3 + has_g]->data : zeros;
    px_status st = PX_OK;
    if (!has_g) st = px_cuda_fill(c, ones, ch, 1.0f);
    if (st == PX_OK && !has_b) st = px_cuda_fill(c, zeros, ch, 0.0f);
    /* factor 1 makes the running statistics the batch's (0 * old: old must not be NaN) */
    if (st == PX_OK) st = px_cuda_fill(c, run_mean, 2 * (int64_t)(per_channel(ch) / sizeof(float)), 0.0f);
    if (st == PX_OK) st = px_cuda_set_u32(c, v.used_batch, 1);
    if (st != PX_OK) return st;
    bn_desc d;
    st = bn_describe(c, rows, ch, &d);
    const float one = 1.0f, zero = 0.0f;
    if (st == PX_OK) {
        cudnnStatus_t e = cudnnBatchNormalizationForwardTraining(
            c->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, k->in[0]->data, d.x, k->out->data, d.p, gamma, beta,
            1.0, run_mean, run_var, (double)k->fattr[1], v.mean, v.inv_std);
        if (e != CUDNN_STATUS_SUCCESS)
            st = px_cuda_fail(c, PX_ERR_STATE, "cudnnBatchNormalizationForwardTraining", cudnnGetErrorString(e),
                              __FILE__, __LINE__);
    }
    bn_free(&d);
    if (st == PX_OK)
        st = px_cuda_bn_moving_update(c, (float *)k->in[1]->data, (float *)k->in[2]->data, run_mean, run_var, ch,
                                      k->fattr[0], rows);
    if (st == PX_OK) remember(k->state, true);
    return st;
}

/* Gradients are added to: dx with beta 1; gamma's and beta's through scratch
 * when there is no place for them (cuDNN always writes both). */
px_status px_cuda_dnn_bn_backward(px_cuda *c, const px_kernel *k) {
    int64_t ch, rows = bn_rows(k, &ch);
    bool has_g = k->iattr[0], has_b = k->iattr[1];
    pxk_bn v = pxk_bn_split(k->in[0], k->state);
    char *w = (char *)k->work;
    float *ones = (float *)w;
    float *gg_scratch = (float *)(w + 2 * per_channel(ch)), *gb_scratch = (float *)(w + 3 * per_channel(ch));
    const float *gamma = has_g ? (const float *)k->in[3]->data : ones;
    float *ggamma = has_g && k->gin[3] ? (float *)k->gin[3]->data : NULL;
    float *gbeta = has_b && k->gin[3 + has_g] ? (float *)k->gin[3 + has_g]->data : NULL;
    px_status st = has_g ? PX_OK : px_cuda_fill(c, ones, ch, 1.0f);
    if (st != PX_OK) return st;
    /* both parameter gradients land in one place each: the real ones added to
     * (beta 1), else scratch (overwritten: cuDNN has one beta for both, so when
     * only one is real the other is added into zeroed scratch) */
    if (!ggamma || !gbeta) {
        st = px_cuda_fill(c, gg_scratch, 2 * (int64_t)(per_channel(ch) / sizeof(float)), 0.0f);
        if (st != PX_OK) return st;
    }
    bn_desc d;
    st = bn_describe(c, rows, ch, &d);
    const float one = 1.0f;
    if (st == PX_OK) {
        cudnnStatus_t e = cudnnBatchNormalizationBackward(
            c->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &one, &one, &one, d.x, k->in[0]->data, d.x, k->gout->data, d.x,
            k->gin[0]->data, d.p, gamma, ggamma ? ggamma : gg_scratch, gbeta ? gbeta : gb_scratch,
            (double)k->fattr[1], v.mean, v.inv_std);
        if (e != CUDNN_STATUS_SUCCESS)
            st = px_cuda_fail(c, PX_ERR_STATE, "cudnnBatchNormalizationBackward", cudnnGetErrorString(e), __FILE__,
                              __LINE__);
    }
    bn_free(&d);
    return st;
}

#endif
