/* Internal: row and shape helpers that the CPU ops (src/ops/) and the device
 * kernels (the *_ops.h files here) share, so both sides read a tensor's rows,
 * a product's dims, a pooling window or a batch-norm state the same way:
 * log-sum-exp and softmax sums, group argmax, embedding row lookup, matmul
 * dims, the batch-norm state layout. */
#ifndef PX_BACKEND_KERNELS_HELPERS_H
#define PX_BACKEND_KERNELS_HELPERS_H

#include "backend/kernels/conv_geom.h"
#include "backend/op_codes.h"

/* The tensor as (outer, len, inner) around `axis` (-1: all elements in one row). */
static inline void pxk_split3(const px_tensor *x, int axis, int64_t *outer, int64_t *len, int64_t *inner) {
    *outer = 1, *inner = 1, *len = pxk_numel(x);
    if (axis < 0) return;
    *len = x->shape[axis];
    for (int i = 0; i < axis; i++) *outer *= x->shape[i];
    for (int i = axis + 1; i < x->rank; i++) *inner *= x->shape[i];
}

/* One row's maximum and sum(exp(x - max)), the sum in double so long rows do
 * not lose the small terms; subtracting the maximum keeps exp from overflowing
 * for logits like 1000. A NaN anywhere makes the maximum NaN. */
PXK_FN void pxk_row_max_sum(const float *x, int64_t len, int64_t stride, float *max, double *sum) {
    float m = -INFINITY;
    for (int64_t l = 0; l < len; l++)
        if (x[l * stride] > m || x[l * stride] != x[l * stride]) m = x[l * stride];
    double s = 0;
    for (int64_t l = 0; l < len; l++) s += expf(x[l * stride] - m);
    *max = m;
    *sum = s;
}

/* Softmax (or log-softmax) of the row of x that starts at `base` with elements
 * `inner` apart, into y. (x - max) is formed first: it is exact for nearby
 * logits, so large logits keep full relative accuracy. */
PXK_FN void pxk_softmax_row(const float *x, float *y, int64_t base, int64_t len, int64_t inner, int log_form) {
    float m;
    double sum;
    pxk_row_max_sum(x + base, len, inner, &m, &sum);
    if (log_form) {
        float ls = (float)log(sum);
        for (int64_t l = 0; l < len; l++) y[base + l * inner] = (x[base + l * inner] - m) - ls;
    } else {
        float inv = (float)(1.0 / sum);
        for (int64_t l = 0; l < len; l++) y[base + l * inner] = expf(x[base + l * inner] - m) * inv;
    }
}

/* Adds the row's input gradient to gx from the output y and its gradient g:
 * softmax dx = y (g - sum(g y)), log_softmax dx = g - exp(y) sum(g). */
PXK_FN void pxk_softmax_row_grad(const float *y, const float *g, float *gx, int64_t base, int64_t len, int64_t inner,
                                 int log_form) {
    double dot = 0;
    for (int64_t l = 0; l < len; l++) {
        int64_t j = base + l * inner;
        dot += log_form ? g[j] : (double)g[j] * y[j];
    }
    float d = (float)dot;
    for (int64_t l = 0; l < len; l++) {
        int64_t j = base + l * inner;
        gx[j] += log_form ? g[j] - expf(y[j]) * d : y[j] * (g[j] - d);
    }
}

/* One output of a reduction (PX_RED_*) over the row p[0], p[inner], ...
 * (len elements), stored at y[at] (float, or int32 for argmax). Sums run in
 * double so sums over whole datasets stay exact enough; a NaN is taken as the
 * maximum; an empty row gives NaN (max) or 0 (argmax) and is never read. */
PXK_FN void pxk_reduce_row(int kind, const float *p, int64_t len, int64_t inner, void *y, int64_t at) {
    if (kind == PX_RED_SUM || kind == PX_RED_MEAN) {
        double acc = 0;
        for (int64_t l = 0; l < len; l++) acc += p[l * inner];
        ((float *)y)[at] = (float)(kind == PX_RED_MEAN && len ? acc / (double)len : acc);
    } else if (len == 0) {
        if (kind == PX_RED_MAX) ((float *)y)[at] = NAN;
        else ((int32_t *)y)[at] = 0;
    } else {
        float best = p[0];
        int64_t arg = 0;
        for (int64_t l = 1; l < len; l++)
            if (p[l * inner] > best || (best != best)) {
                best = p[l * inner];
                arg = l;
            }
        if (kind == PX_RED_MAX) ((float *)y)[at] = best;
        else ((int32_t *)y)[at] = (int32_t)arg;
    }
}

/* log(sum(exp(x))) of one contiguous row, from the maximum so logits of +-1000 stay finite. */
PXK_FN float pxk_row_logsumexp(const float *x, int64_t len) {
    float m;
    double s;
    pxk_row_max_sum(x, len, 1, &m, &s);
    return m + (float)log(s);
}

/* Index of the first maximum of one group; a NaN is taken as the maximum so
 * that it propagates instead of being skipped. */
PXK_FN int64_t pxk_group_argmax(const float *x, int64_t pieces) {
    int64_t best = 0;
    for (int64_t p = 1; p < pieces && x[best] == x[best]; p++)
        if (x[p] > x[best] || x[p] != x[p]) best = p;
    return best;
}

/* The table row index i names, or -1 when it names none: out of [0, rows),
 * NaN, or not a whole number (floats carry integers exactly up to 2^24). */
PXK_FN int64_t pxk_row_of(const void *idx, int is_int, int64_t i, int64_t rows) {
    if (is_int) {
        int32_t r = ((const int32_t *)idx)[i];
        return r >= 0 && r < rows ? r : -1;
    }
    float f = ((const float *)idx)[i];
    if (!(f >= 0.0f && f < (float)rows) || f != floorf(f)) return -1;
    return (int64_t)f;
}

/* The window of output (oh, ow) clipped to the image: rows [i0, i1), columns [j0, j1). */
PXK_FN void pxk_window(const px_conv_geom *g, int64_t oh, int64_t ow, int64_t *i0, int64_t *i1, int64_t *j0,
                       int64_t *j1) {
    int64_t h0 = oh * g->sh - g->pt, w0 = ow * g->sw - g->pl;
    *i0 = h0 < 0 ? 0 : h0;
    *i1 = h0 + g->kh > g->h ? g->h : h0 + g->kh;
    *j0 = w0 < 0 ? 0 : w0;
    *j1 = w0 + g->kw > g->w ? g->w : w0 + g->kw;
}

/* Bilinear resizing with half-pixel centres (TF2's tf.image.resize, PyTorch's
 * align_corners=False): output pixel d of `out` reads input position
 * (d + 0.5) in / out - 0.5, clamped at 0, between rows i0 and i1 (the last
 * row repeated at the far edge) with weights l0 and l1. */
typedef struct pxk_tap {
    int64_t i0, i1;
    float l0, l1;
} pxk_tap;

PXK_FN pxk_tap pxk_resize_tap(int64_t d, int64_t in, int64_t out) {
    float scale = (float)in / (float)out, src = ((float)d + 0.5f) * scale - 0.5f;
    if (src < 0) src = 0;
    pxk_tap t;
    t.i0 = (int64_t)src;
    if (t.i0 > in - 1) t.i0 = in - 1;
    t.i1 = t.i0 < in - 1 ? t.i0 + 1 : t.i0;
    t.l1 = src - (float)t.i0;
    t.l0 = 1.0f - t.l1;
    return t;
}

/* The outputs d whose taps may hold input row i: [lo, hi] with a margin of one
 * on each side for rounding (callers check the taps themselves). */
PXK_FN void pxk_resize_readers(int64_t i, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
    float scale = (float)in / (float)out;
    int64_t a = (int64_t)floorf(((float)i - 0.5f) / scale - 0.5f) - 1, b = (int64_t)ceilf(((float)i + 1.5f) / scale - 0.5f) + 1;
    *lo = a < 0 ? 0 : a;
    *hi = b > out - 1 ? out - 1 : b;
}

/* The counting ops' rules (ops/confusion_ops.c and kernels/count_ops.h). */
/* Element i of a label tensor (int32 or float) as a float. */
PXK_FN float pxk_label_at(const void *labels, int is_int, int64_t i) {
    return is_int ? (float)((const int32_t *)labels)[i] : ((const float *)labels)[i];
}
/* The class of a (width) row: the first largest, or value > 0.5 for one column. */
PXK_FN int64_t pxk_row_class(const float *row, int64_t width) {
    if (width == 1) return row[0] > 0.5f;
    int64_t best = 0;
    for (int64_t q = 1; q < width; q++)
        if (row[q] > row[best]) best = q;
    return best;
}
/* class_counts: the largest of a row of C, then whether class c counts as
 * predicted (Keras: y_pred > threshold, or y_pred >= the row's largest with
 * |y_pred| > 1e-9) and as true (float labels as given; int32 labels name the
 * class, or with one unit are the binary label itself). */
PXK_FN float pxk_row_largest(const float *row, int64_t C) {
    float best = row[0];
    for (int64_t q = 1; q < C; q++) best = row[q] > best ? row[q] : best;
    return best;
}
PXK_FN double pxk_class_predicted(float v, float best, float thr) {
    return thr > 0 ? v > thr : (v >= best && fabsf(v) > 1e-9f);
}
PXK_FN double pxk_class_true(const void *labels, int sparse, int64_t r, int64_t C, int64_t c) {
    if (!sparse) return ((const float *)labels)[r * C + c];
    int32_t label = ((const int32_t *)labels)[r];
    return C == 1 ? (double)(label != 0) : (double)(label == c);
}

/* A matmul's dims at run time: op(A) is m x k, op(B) k x n, `batch` products
 * with a_stride, b_stride elements between their matrices (0 = shared). */
typedef struct pxk_mm {
    int64_t m, n, k, batch, a_stride, b_stride, lda, ldb;
} pxk_mm;

static inline void pxk_mm_dims(bool ta, bool tb, const px_tensor *a, const px_tensor *b, pxk_mm *d) {
    int64_t ar = a->shape[a->rank - 2], ac = a->shape[a->rank - 1];
    int64_t br = b->shape[b->rank - 2], bc = b->shape[b->rank - 1];
    d->m = ta ? ac : ar;
    d->k = ta ? ar : ac;
    d->n = tb ? br : bc;
    d->lda = ac;
    d->ldb = bc;
    d->batch = 1;
    d->a_stride = d->b_stride = 0;
    if (b->rank == 2 && !ta) { /* shared weights: A's leading axes ride along as extra rows */
        for (int i = 0; i < a->rank - 2; i++) d->m *= a->shape[i];
        return;
    }
    const px_tensor *lead = a->rank >= b->rank ? a : b;
    for (int i = 0; i < lead->rank - 2; i++) d->batch *= lead->shape[i];
    d->a_stride = a->rank == 2 ? 0 : ar * ac;
    d->b_stride = b->rank == 2 ? 0 : br * bc;
}

/* Batch normalization's state: a header word (1 = the forward pass used batch
 * statistics; backward cannot rely on the training flag, which eager mode may
 * switch in between), then per channel the mean and 1/sqrt(var + eps) that the
 * forward pass used, then double-precision scratch for per-channel sums. */
enum { PXK_BN_HEADER = 16 };

typedef struct pxk_bn {
    int64_t rows, c;
    uint32_t *used_batch;
    float *mean, *inv_std;
    double *s1, *s2;
    double *send; /* 1 + 2c doubles: what a replica sends to the others (data-parallel training) */
} pxk_bn;

static inline size_t pxk_bn_state_bytes(int64_t c) {
    return PXK_BN_HEADER + 2 * (size_t)c * sizeof(float) + (4 * (size_t)c + 1) * sizeof(double) + 16;
}

static inline pxk_bn pxk_bn_split(const px_tensor *x, void *state) {
    pxk_bn v;
    v.c = x->shape[x->rank - 1];
    v.rows = v.c ? pxk_numel(x) / v.c : 0;
    char *p = (char *)state;
    v.used_batch = (uint32_t *)p;
    v.mean = (float *)(p + PXK_BN_HEADER);
    v.inv_std = v.mean + v.c;
    /* doubles start on an 8-byte boundary after the two float arrays */
    size_t off = PXK_BN_HEADER + 2 * (size_t)v.c * sizeof(float);
    off = (off + 7) & ~(size_t)7;
    v.s1 = (double *)(p + off);
    v.s2 = v.s1 + v.c;
    v.send = v.s2 + v.c;
    return v;
}

#endif
