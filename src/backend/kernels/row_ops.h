/* Internal: device kernels of the ops that work along rows or axes
 * (reductions, softmax, maxout, the softmax cross-entropies, accuracy,
 * embedding, layer normalization) and of the shape ops (transpose, concat,
 * slice, pad, repeat), written once for
 * the reference device and CUDA. One index owns one output (or one row), and
 * loops over its row in order, so sums are the same however the work is split;
 * semantics follow src/ops/ (NaN handling included). */
#ifndef PX_BACKEND_KERNELS_ROW_OPS_H
#define PX_BACKEND_KERNELS_ROW_OPS_H

#include "backend/kernels/elementwise_ops.h"

/* ---- sum, mean, max, argmax over an axis or all elements ---- */

/* Sums over all elements: partial sums of a fixed number of strided slices,
 * then their sum, so a long reduction is spread over many threads yet always
 * adds in the same order. */
enum { PXK_PARTS = PX_REDUCE_PARTS };
PXK_KERNEL(k_partial_sums, (const float *x, int64_t n, double *part),
           double acc = 0;
           for (int64_t j = i; j < n; j += PXK_PARTS) acc += x[j];
           part[i] = acc;)
PXK_KERNEL(k_finish_sum, (const double *part, int64_t len, int mean, float *y),
           double acc = 0;
           for (int j = 0; j < PXK_PARTS; j++) acc += part[j];
           y[i] = (float)(mean && len ? acc / (double)len : acc);)

PXK_KERNEL(k_reduce_fwd, (int kind, const float *x, int64_t len, int64_t inner, void *y),
           pxk_reduce_row(kind, x + (i / inner) * len * inner + i % inner, len, inner, y, i);)
/* sum and mean: every input element takes its output's gradient (divided by
 * len in float for the mean, as the CPU does) */
PXK_KERNEL(k_reduce_bwd_spread, (const float *g, float *gx, int64_t len, int64_t inner, int mean),
           float v = g[(i / (len * inner)) * inner + i % inner];
           gx[i] += mean ? v / (float)len : v;)
/* max: the first maximal element of each row takes the gradient */
PXK_KERNEL(k_reduce_bwd_max, (const float *x, const float *y, const float *g, float *gx, int64_t len, int64_t inner),
           int64_t base = (i / inner) * len * inner + i % inner;
           for (int64_t l = 0; l < len; l++)
               if (x[base + l * inner] == y[i]) {
                   gx[base + l * inner] += g[i];
                   break;
               })

static bool pxk_reduce_parted(const px_kernel *k, int64_t len) {
    return k->iattr[0] < 0 && (k->iattr[2] == PX_RED_SUM || k->iattr[2] == PX_RED_MEAN) && len > 4 * PXK_PARTS;
}

static px_status pxk_reduce_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t outer, len, inner;
    pxk_split3(k->in[0], (int)k->iattr[0], &outer, &len, &inner);
    int kind = (int)k->iattr[2];
    if (pxk_reduce_parted(k, len)) {
        px_status st = PXK_RUN(c, k_partial_sums, PXK_PARTS, pxk_f(k->in[0]), len, (double *)k->work);
        return st ? st : PXK_RUN(c, k_finish_sum, 1, (const double *)k->work, len, kind == PX_RED_MEAN, pxk_w(k->out));
    }
    return PXK_RUN(c, k_reduce_fwd, outer * inner, kind, pxk_f(k->in[0]), len, inner, k->out->data);
}
static px_status pxk_reduce_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    int64_t outer, len, inner;
    pxk_split3(k->in[0], (int)k->iattr[0], &outer, &len, &inner);
    int kind = (int)k->iattr[2];
    if (kind == PX_RED_MAX)
        return PXK_RUN(c, k_reduce_bwd_max, outer * inner, pxk_f(k->in[0]), pxk_f(k->out), pxk_f(k->gout),
                       pxk_w(k->gin[0]), len, inner);
    return PXK_RUN(c, k_reduce_bwd_spread, pxk_numel(k->in[0]), pxk_f(k->gout), pxk_w(k->gin[0]), len, inner,
                   kind == PX_RED_MEAN);
}

/* ---- softmax and log-softmax over an axis ---- */

PXK_KERNEL(k_softmax_fwd, (const float *x, float *y, int64_t len, int64_t inner, int log_form),
           pxk_softmax_row(x, y, (i / inner) * len * inner + i % inner, len, inner, log_form);)
PXK_KERNEL(k_softmax_bwd, (const float *y, const float *g, float *gx, int64_t len, int64_t inner, int log_form),
           pxk_softmax_row_grad(y, g, gx, (i / inner) * len * inner + i % inner, len, inner, log_form);)

static px_status pxk_softmax_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t outer, len, inner;
    pxk_split3(k->in[0], (int)k->iattr[0], &outer, &len, &inner);
    return PXK_RUN(c, k_softmax_fwd, outer * inner, pxk_f(k->in[0]), pxk_w(k->out), len, inner, (int)k->iattr[1]);
}
static px_status pxk_softmax_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    int64_t outer, len, inner;
    pxk_split3(k->in[0], (int)k->iattr[0], &outer, &len, &inner);
    return PXK_RUN(c, k_softmax_bwd, outer * inner, pxk_f(k->out), pxk_f(k->gout), pxk_w(k->gin[0]), len, inner,
                   (int)k->iattr[1]);
}

/* ---- maxout: the first maximum of each group of `pieces` ---- */

PXK_KERNEL(k_maxout_fwd, (const float *x, float *y, int64_t pieces),
           const float *grp = x + i * pieces;
           y[i] = grp[pxk_group_argmax(grp, pieces)];)
PXK_KERNEL(k_maxout_bwd, (const float *x, const float *g, float *gx, int64_t pieces),
           gx[i * pieces + pxk_group_argmax(x + i * pieces, pieces)] += g[i];)

static px_status pxk_maxout_forward(pxk_ctx *c, const px_kernel *k) {
    return PXK_RUN(c, k_maxout_fwd, pxk_numel(k->out), pxk_f(k->in[0]), pxk_w(k->out), k->iattr[0]);
}
static px_status pxk_maxout_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    return PXK_RUN(c, k_maxout_bwd, pxk_numel(k->out), pxk_f(k->in[0]), pxk_f(k->gout), pxk_w(k->gin[0]),
                   k->iattr[0]);
}

/* ---- softmax cross-entropy with float or int32 labels; state: lse per row ---- */

PXK_KERNEL(k_sce_fwd, (const float *x, const float *y, float *loss, float *lse, int64_t c),
           const float *xr = x + i * c, *yr = y + i * c;
           float l = pxk_row_logsumexp(xr, c);
           double acc = 0;
           for (int64_t j = 0; j < c; j++)
               if (yr[j] != 0) acc += (double)yr[j] * (l - xr[j]);
           lse[i] = l;
           loss[i] = (float)acc;)
PXK_KERNEL(k_sce_bwd, (const float *x, const float *y, const float *g, const float *lse, float *gx, float *gy,
                       int64_t c),
           const float *xr = x + i * c, *yr = y + i * c;
           if (gx) {
               double ysum = 0;
               for (int64_t j = 0; j < c; j++) ysum += yr[j];
               for (int64_t j = 0; j < c; j++) gx[i * c + j] += g[i] * (expf(xr[j] - lse[i]) * (float)ysum - yr[j]);
           }
           if (gy)
               for (int64_t j = 0; j < c; j++) gy[i * c + j] += g[i] * (lse[i] - xr[j]);)
PXK_KERNEL(k_ssce_fwd, (const float *x, const int32_t *lab, float *loss, float *lse, int64_t c),
           lse[i] = pxk_row_logsumexp(x + i * c, c);
           loss[i] = lab[i] >= 0 && lab[i] < c ? lse[i] - x[i * c + lab[i]] : NAN;)
PXK_KERNEL(k_ssce_bwd, (const float *x, const int32_t *lab, const float *g, const float *lse, float *gx, int64_t c),
           float *gr = gx + i * c;
           if (lab[i] < 0 || lab[i] >= c) {
               for (int64_t j = 0; j < c; j++) gr[j] += NAN;
           } else {
               for (int64_t j = 0; j < c; j++) gr[j] += g[i] * expf(x[i * c + j] - lse[i]);
               gr[lab[i]] -= g[i];
           })

static void pxk_rows_of(const px_tensor *logits, int64_t *rows, int64_t *classes) {
    *classes = logits->rank ? logits->shape[logits->rank - 1] : 1;
    *rows = *classes ? pxk_numel(logits) / *classes : 0;
}

static px_status pxk_xent_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t rows, cl;
    pxk_rows_of(k->in[0], &rows, &cl);
    if (k->code == PX_K_SPARSE_CE)
        return PXK_RUN(c, k_ssce_fwd, rows, pxk_f(k->in[0]), (const int32_t *)k->in[1]->data, pxk_w(k->out),
                       (float *)k->state, cl);
    return PXK_RUN(c, k_sce_fwd, rows, pxk_f(k->in[0]), pxk_f(k->in[1]), pxk_w(k->out), (float *)k->state, cl);
}
static px_status pxk_xent_backward(pxk_ctx *c, const px_kernel *k) {
    int64_t rows, cl;
    pxk_rows_of(k->in[0], &rows, &cl);
    float *gx = k->gin[0] ? pxk_w(k->gin[0]) : (float *)NULL;
    if (k->code == PX_K_SPARSE_CE)
        return gx ? PXK_RUN(c, k_ssce_bwd, rows, pxk_f(k->in[0]), (const int32_t *)k->in[1]->data, pxk_f(k->gout),
                            (const float *)k->state, gx, cl)
                  : PX_OK;
    float *gy = k->gin[1] ? pxk_w(k->gin[1]) : (float *)NULL;
    if (!gx && !gy) return PX_OK;
    return PXK_RUN(c, k_sce_bwd, rows, pxk_f(k->in[0]), pxk_f(k->in[1]), pxk_f(k->gout), (const float *)k->state, gx,
                   gy, cl);
}

/* ---- accuracy (no gradient) ---- */

PXK_KERNEL(k_acc_binary, (const float *p, const float *y, float *o, int64_t n, int64_t np, int64_t ny, float thr),
           o[i] = (float)((p[np == n ? i : i % np] > thr) == (y[ny == n ? i : i % ny] > 0.5f));)
PXK_KERNEL(k_acc_rows, (int mode, const float *p, const void *labels, float *o, int64_t classes, int64_t k_top),
           const float *row = p + i * classes;
           int64_t label;
           if (mode == PX_ACC_CATEGORICAL) {
               const float *lr = (const float *)labels + i * classes;
               label = 0;
               for (int64_t c = 1; c < classes; c++)
                   if (lr[c] > lr[label]) label = c;
           } else {
               label = ((const int32_t *)labels)[i];
           }
           if (label < 0 || label >= classes) {
               o[i] = 0;
           } else if (mode == PX_ACC_TOP_K) {
               int64_t higher = 0;
               for (int64_t c = 0; c < classes; c++) higher += row[c] > row[label];
               o[i] = (float)(higher < k_top);
           } else {
               int64_t best = 0;
               for (int64_t c = 1; c < classes; c++)
                   if (row[c] > row[best]) best = c;
               o[i] = (float)(best == label);
           })

static px_status pxk_accuracy_forward(pxk_ctx *c, const px_kernel *k) {
    int mode = (int)k->iattr[0];
    int64_t n = pxk_numel(k->out);
    if (mode == PX_ACC_BINARY)
        return PXK_RUN(c, k_acc_binary, n, pxk_f(k->in[0]), pxk_f(k->in[1]), pxk_w(k->out), n, pxk_numel(k->in[0]),
                       pxk_numel(k->in[1]), k->fattr[0]);
    int64_t classes = k->in[0]->shape[k->in[0]->rank - 1];
    return PXK_RUN(c, k_acc_rows, n, mode, pxk_f(k->in[0]), (const void *)k->in[1]->data, pxk_w(k->out), classes,
                   mode == PX_ACC_TOP_K ? k->iattr[1] : (int64_t)0);
}

/* ---- embedding: rows of a table picked by int32 or whole float indices ---- */

PXK_KERNEL(k_emb_fwd, (const void *idx, int is_int, const float *table, float *y, int64_t rows, int64_t d),
           int64_t r = pxk_row_of(idx, is_int, i / d, rows);
           y[i] = r >= 0 ? table[r * d + i % d] : NAN;)
/* Element (row, j) of the table's gradient sums the gradients of every index
 * naming that row, in index order: no two threads write one element. */
PXK_KERNEL(k_emb_bwd, (const void *idx, int is_int, const float *g, float *gt, int64_t count, int64_t rows, int64_t d),
           int64_t row = i / d, j = i % d;
           float acc = 0;
           for (int64_t q = 0; q < count; q++)
               if (pxk_row_of(idx, is_int, q, rows) == row) acc += g[q * d + j];
           gt[i] += acc;)

static px_status pxk_embedding_forward(pxk_ctx *c, const px_kernel *k) {
    const px_tensor *t = k->in[1];
    return PXK_RUN(c, k_emb_fwd, pxk_numel(k->out), (const void *)k->in[0]->data, (int)(k->in[0]->dtype == PX_I32),
                   pxk_f(t), pxk_w(k->out), t->shape[0], t->shape[1]);
}
static px_status pxk_embedding_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[1]) return PX_OK;
    const px_tensor *t = k->in[1];
    return PXK_RUN(c, k_emb_bwd, pxk_numel(t), (const void *)k->in[0]->data, (int)(k->in[0]->dtype == PX_I32),
                   pxk_f(k->gout), pxk_w(k->gin[1]), pxk_numel(k->in[0]), t->shape[0], t->shape[1]);
}

/* ---- a rows x cols matrix transposed into dst (cols x rows), stored or added ---- */

PXK_KERNEL(k_transpose2d, (const float *src, float *dst, int64_t rows, int64_t cols, int add),
           int64_t r = i % rows, col = i / rows; /* i walks dst in order */
           float v = src[r * cols + col];
           dst[i] = add ? dst[i] + v : v;)

/* ---- transpose, concat, slice: 4-byte words, so float32 and int32 alike ---- */

typedef struct pxk_perm {
    int rank;
    int64_t dims[PX_MAX_RANK];   /* output dims */
    int64_t stride[PX_MAX_RANK]; /* input stride of each output axis */
} pxk_perm;

PXK_FN int64_t pxk_perm_src(const pxk_perm *p, int64_t o) {
    int64_t off = 0;
    for (int d = p->rank - 1; d >= 0; d--) {
        off += (o % p->dims[d]) * p->stride[d];
        o /= p->dims[d];
    }
    return off;
}
PXK_KERNEL(k_transpose_fwd, (pxk_perm p, const uint32_t *x, uint32_t *y), y[i] = x[pxk_perm_src(&p, i)];)
/* a permutation is a bijection: output element i feeds exactly one input element */
PXK_KERNEL(k_transpose_bwd, (pxk_perm p, const float *g, float *gx), gx[pxk_perm_src(&p, i)] += g[i];)

static void pxk_perm_init(pxk_perm *p, const px_kernel *k) {
    const px_tensor *x = k->in[0];
    int64_t in_stride[PX_MAX_RANK], s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        in_stride[i] = s;
        s *= x->shape[i];
    }
    p->rank = x->rank;
    for (int i = 0; i < x->rank; i++) {
        int a = (int)k->iattr[1 + i];
        p->dims[i] = x->shape[a];
        p->stride[i] = in_stride[a];
    }
}
static px_status pxk_transpose_forward(pxk_ctx *c, const px_kernel *k) {
    pxk_perm p;
    pxk_perm_init(&p, k);
    return PXK_RUN(c, k_transpose_fwd, pxk_numel(k->out), p, (const uint32_t *)k->in[0]->data,
                   (uint32_t *)k->out->data);
}
static px_status pxk_transpose_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    pxk_perm p;
    pxk_perm_init(&p, k);
    return PXK_RUN(c, k_transpose_bwd, pxk_numel(k->out), p, pxk_f(k->gout), pxk_w(k->gin[0]));
}

static int64_t pxk_span(const int64_t *dims, int from, int to) {
    int64_t n = 1;
    for (int i = from; i < to; i++) n *= dims[i];
    return n;
}

/* Rows of width w at column `col` of rows of width `width`, both ways. */
PXK_KERNEL(k_put_cols, (const uint32_t *x, uint32_t *o, int64_t w, int64_t width, int64_t col),
           o[(i / w) * width + col + i % w] = x[i];)
PXK_KERNEL(k_add_cols, (const float *g, float *gx, int64_t w, int64_t width, int64_t col),
           gx[i] += g[(i / w) * width + col + i % w];)

static px_status pxk_concat_forward(pxk_ctx *c, const px_kernel *k) {
    int axis = (int)k->iattr[0];
    int64_t inner = pxk_span(k->out->shape, axis + 1, k->out->rank), width = k->out->shape[axis] * inner, col = 0;
    px_status st = PX_OK;
    for (int i = 0; i < k->n_in && st == PX_OK; i++) {
        int64_t w = k->in[i]->shape[axis] * inner;
        if (w) st = PXK_RUN(c, k_put_cols, pxk_numel(k->in[i]), (const uint32_t *)k->in[i]->data,
                            (uint32_t *)k->out->data, w, width, col);
        col += w;
    }
    return st;
}
static px_status pxk_concat_backward(pxk_ctx *c, const px_kernel *k) {
    int axis = (int)k->iattr[0];
    int64_t inner = pxk_span(k->out->shape, axis + 1, k->out->rank), width = k->out->shape[axis] * inner, col = 0;
    px_status st = PX_OK;
    for (int i = 0; i < k->n_in && st == PX_OK; i++) {
        int64_t w = k->in[i]->shape[axis] * inner;
        if (w && k->gin[i])
            st = PXK_RUN(c, k_add_cols, pxk_numel(k->in[i]), pxk_f(k->gout), pxk_w(k->gin[i]), w, width, col);
        col += w;
    }
    return st;
}

/* slice: the output's rows of width wo are columns [start * inner, ...) of the input's rows of width wi */
PXK_KERNEL(k_take_cols, (const uint32_t *x, uint32_t *o, int64_t wo, int64_t wi, int64_t col),
           o[i] = x[(i / wo) * wi + col + i % wo];)
PXK_KERNEL(k_give_cols, (const float *g, float *gx, int64_t wo, int64_t wi, int64_t col),
           gx[(i / wo) * wi + col + i % wo] += g[i];)

static void pxk_slice_dims(const px_kernel *k, int64_t *wo, int64_t *wi, int64_t *col) {
    int axis = (int)k->iattr[0];
    int64_t dim = k->in[0]->shape[axis], s = k->iattr[1];
    if (s < 0) s += dim;
    int64_t inner = pxk_span(k->out->shape, axis + 1, k->out->rank);
    *wo = k->out->shape[axis] * inner;
    *wi = dim * inner;
    *col = s * inner;
}
static px_status pxk_slice_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t wo, wi, col;
    pxk_slice_dims(k, &wo, &wi, &col);
    if (!wo) return PX_OK;
    return PXK_RUN(c, k_take_cols, pxk_numel(k->out), (const uint32_t *)k->in[0]->data, (uint32_t *)k->out->data, wo,
                   wi, col);
}
static px_status pxk_slice_backward(pxk_ctx *c, const px_kernel *k) {
    int64_t wo, wi, col;
    pxk_slice_dims(k, &wo, &wi, &col);
    if (!wo || !k->gin[0]) return PX_OK;
    return PXK_RUN(c, k_give_cols, pxk_numel(k->out), pxk_f(k->gout), pxk_w(k->gin[0]), wo, wi, col);
}

/* ---- pad: iattr [0, 8) before, [8, 16) after each axis; negative amounts crop ---- */

typedef struct pxk_pad {
    int rank;
    int64_t xs[PX_MAX_RANK], ys[PX_MAX_RANK], before[PX_MAX_RANK];
} pxk_pad;

/* The element of a tensor with dims `to_dims` at the position of element `from`
 * of one with dims `from_dims`, moved by sign * before along each axis (-1 from
 * the output to the input, +1 back); -1 when that position falls outside. */
PXK_FN int64_t pxk_pad_map(const pxk_pad *p, int64_t from, const int64_t *from_dims, const int64_t *to_dims, int sign) {
    int64_t to = 0, stride = 1;
    for (int a = p->rank - 1; a >= 0; a--) {
        int64_t j = from % from_dims[a] + sign * p->before[a];
        from /= from_dims[a];
        if (j < 0 || j >= to_dims[a]) return -1;
        to += j * stride;
        stride *= to_dims[a];
    }
    return to;
}
/* every output element reads at most one input element, and every input element
 * feeds at most one output element: both passes gather */
PXK_KERNEL(k_pad_fwd, (pxk_pad p, const float *x, float *y),
           int64_t s = pxk_pad_map(&p, i, p.ys, p.xs, -1);
           y[i] = s < 0 ? 0.0f : x[s];)
PXK_KERNEL(k_pad_bwd, (pxk_pad p, const float *g, float *gx),
           int64_t o = pxk_pad_map(&p, i, p.xs, p.ys, 1);
           if (o >= 0) gx[i] += g[o];)

static pxk_pad pxk_pad_init(const px_kernel *k) {
    pxk_pad p;
    p.rank = k->in[0]->rank;
    for (int a = 0; a < PX_MAX_RANK; a++) {
        p.xs[a] = a < p.rank ? k->in[0]->shape[a] : 1;
        p.ys[a] = a < p.rank ? k->out->shape[a] : 1;
        p.before[a] = a < p.rank ? k->iattr[a] : 0;
    }
    return p;
}
static px_status pxk_pad_forward(pxk_ctx *c, const px_kernel *k) {
    return PXK_RUN(c, k_pad_fwd, pxk_numel(k->out), pxk_pad_init(k), pxk_f(k->in[0]), pxk_w(k->out));
}
static px_status pxk_pad_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    return PXK_RUN(c, k_pad_bwd, pxk_numel(k->in[0]), pxk_pad_init(k), pxk_f(k->gout), pxk_w(k->gin[0]));
}

/* ---- layer normalization over the last iattr[0] axes: inputs x, gamma when
 * iattr[1], beta when iattr[2]; fattr[0] epsilon; state per row the mean and
 * 1/sqrt(var + eps), as ops/layer_norm.c, whose arithmetic this follows ---- */

typedef struct pxk_ln {
    int64_t rows, d;
    const float *gamma, *beta;
    float *gamma_grad, *beta_grad;
} pxk_ln;

static pxk_ln pxk_ln_init(const px_kernel *k, bool backward) {
    pxk_ln v;
    const px_tensor *x = k->in[0];
    v.d = 1;
    for (int i = x->rank - (int)k->iattr[0]; i < x->rank; i++) v.d *= x->shape[i];
    v.rows = v.d ? pxk_numel(x) / v.d : 0;
    int bi = 1 + (k->iattr[1] != 0);
    v.gamma = k->iattr[1] ? pxk_f(k->in[1]) : NULL;
    v.beta = k->iattr[2] ? pxk_f(k->in[bi]) : NULL;
    v.gamma_grad = backward && k->iattr[1] && k->gin[1] ? pxk_w(k->gin[1]) : NULL;
    v.beta_grad = backward && k->iattr[2] && k->gin[bi] ? pxk_w(k->gin[bi]) : NULL;
    return v;
}

PXK_KERNEL(k_ln_fwd, (pxk_ln v, const float *x, float *y, float *stat, float eps),
           const float *xr = x + i * v.d;
           float *yr = y + i * v.d;
           double s = 0, ss = 0;
           for (int64_t j = 0; j < v.d; j++) s += xr[j];
           const double mean = s / (double)v.d;
           for (int64_t j = 0; j < v.d; j++) ss += (xr[j] - mean) * (xr[j] - mean);
           const float m = (float)mean, rstd = (float)(1.0 / sqrt(ss / (double)v.d + eps));
           stat[2 * i] = m, stat[2 * i + 1] = rstd;
           for (int64_t j = 0; j < v.d; j++) {
               float t = (xr[j] - m) * rstd;
               if (v.gamma) t *= v.gamma[j];
               if (v.beta) t += v.beta[j];
               yr[j] = t;
           })
/* one row per index: dx = rstd (dxh - mean(dxh) - xh mean(dxh xh)), dxh = g gamma */
PXK_KERNEL(k_ln_dx, (pxk_ln v, const float *x, const float *g, const float *stat, float *gx),
           const float *xr = x + i * v.d, *gr = g + i * v.d;
           const float m = stat[2 * i], rstd = stat[2 * i + 1];
           double a = 0, b = 0;
           for (int64_t j = 0; j < v.d; j++) {
               float dxh = v.gamma ? gr[j] * v.gamma[j] : gr[j];
               a += dxh;
               b += dxh * (xr[j] - m) * rstd;
           }
           const float ma = (float)(a / (double)v.d), mb = (float)(b / (double)v.d);
           for (int64_t j = 0; j < v.d; j++) {
               float dxh = v.gamma ? gr[j] * v.gamma[j] : gr[j];
               gx[i * v.d + j] += rstd * (dxh - ma - (xr[j] - m) * rstd * mb);
           })
/* one column per index, rows in order (the CPU's order, so the same sums) */
PXK_KERNEL(k_ln_params, (pxk_ln v, const float *x, const float *g, const float *stat),
           for (int64_t r = 0; r < v.rows; r++) {
               const float m = stat[2 * r], rstd = stat[2 * r + 1];
               const int64_t at = r * v.d + i;
               if (v.gamma_grad) v.gamma_grad[i] += g[at] * (x[at] - m) * rstd;
               if (v.beta_grad) v.beta_grad[i] += g[at];
           })

static px_status pxk_ln_forward(pxk_ctx *c, const px_kernel *k) {
    pxk_ln v = pxk_ln_init(k, false);
    return PXK_RUN(c, k_ln_fwd, v.rows, v, pxk_f(k->in[0]), pxk_w(k->out), (float *)k->state, k->fattr[0]);
}
static px_status pxk_ln_backward(pxk_ctx *c, const px_kernel *k) {
    pxk_ln v = pxk_ln_init(k, true);
    const float *stat = (const float *)k->state;
    px_status st = PX_OK;
    if (k->gin[0]) st = PXK_RUN(c, k_ln_dx, v.rows, v, pxk_f(k->in[0]), pxk_f(k->gout), stat, pxk_w(k->gin[0]));
    if (st == PX_OK && (v.gamma_grad || v.beta_grad))
        st = PXK_RUN(c, k_ln_params, v.d, v, pxk_f(k->in[0]), pxk_f(k->gout), stat);
    return st;
}

/* ---- repeat: iattr[0] axis, [1] times; x as (outer, n, inner) around the axis ---- */

PXK_KERNEL(k_repeat_fwd, (const float *x, float *y, int64_t n, int64_t inner, int64_t times),
           int64_t e = i % inner, rest = i / inner, k = rest % (n * times), o = rest / (n * times);
           y[i] = x[(o * n + k / times) * inner + e];)
/* one input element gathers its copies in order, as the CPU adds them */
PXK_KERNEL(k_repeat_bwd, (const float *g, float *gx, int64_t inner, int64_t times),
           int64_t e = i % inner, row = i / inner;
           float acc = gx[i];
           for (int64_t k = 0; k < times; k++) acc += g[(row * times + k) * inner + e];
           gx[i] = acc;)

static void pxk_repeat_dims(const px_kernel *k, int64_t *n, int64_t *inner) {
    const px_tensor *x = k->in[0];
    int a = (int)k->iattr[0];
    *inner = 1;
    for (int i = a + 1; i < x->rank; i++) *inner *= x->shape[i];
    *n = x->shape[a];
}
static px_status pxk_repeat_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t n, inner;
    pxk_repeat_dims(k, &n, &inner);
    return PXK_RUN(c, k_repeat_fwd, pxk_numel(k->out), pxk_f(k->in[0]), pxk_w(k->out), n, inner, k->iattr[1]);
}
static px_status pxk_repeat_backward(pxk_ctx *c, const px_kernel *k) {
    if (!k->gin[0]) return PX_OK;
    int64_t n, inner;
    pxk_repeat_dims(k, &n, &inner);
    return PXK_RUN(c, k_repeat_bwd, pxk_numel(k->in[0]), pxk_f(k->gout), pxk_w(k->gin[0]), inner, k->iattr[1]);
}

#endif
