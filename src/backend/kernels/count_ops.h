/* Internal: device kernels of the counting ops behind the stateful metrics
 * (threshold_counts for AUC, precision and recall at thresholds; class_counts
 * for precision, recall and F1; confusion_matrix for MeanIoU), written once for
 * the reference device and CUDA. Each output is gathered by its own index,
 * reading every example in order, so no count is scattered with atomics; the
 * formulas are the CPU's (ops/confusion_ops.c). No gradients. */
#ifndef PX_BACKEND_KERNELS_COUNT_OPS_H
#define PX_BACKEND_KERNELS_COUNT_OPS_H

#include "backend/kernels/elementwise_ops.h"

/* ---- threshold_counts: inputs pred, labels, thresholds (T) ascending; output
 * (4, T): true positives, false positives, true negatives, false negatives,
 * an element predicted positive at threshold j when thresholds[j] < pred (NaN: never) ---- */

PXK_KERNEL(k_thr_counts, (const float *p, const void *labels, int is_int, const float *thr, int64_t count, int64_t T,
                          float *o),
           int64_t tp = 0, fp = 0, pos = 0, neg = 0;
           for (int64_t e = 0; e < count; e++) {
               bool positive = pxk_label_at(labels, is_int, e) != 0, above = thr[i] < p[e];
               pos += positive;
               neg += !positive;
               tp += positive && above;
               fp += !positive && above;
           }
           o[i] = (float)tp;
           o[T + i] = (float)fp;
           o[2 * T + i] = (float)(neg - fp);
           o[3 * T + i] = (float)(pos - tp);)

static px_status pxk_thr_counts_forward(pxk_ctx *c, const px_kernel *k) {
    int64_t T = k->in[2]->shape[0];
    return PXK_RUN(c, k_thr_counts, T, pxk_f(k->in[0]), (const void *)k->in[1]->data, (int)(k->in[1]->dtype == PX_I32),
                   pxk_f(k->in[2]), pxk_numel(k->in[0]), T, pxk_w(k->out));
}

/* ---- class_counts: fattr[0] threshold (<= 0: the row's largest); output (3, C):
 * per class the sums of yp yt, yp (1 - yt), (1 - yp) yt over the rows, in
 * row order in double as on the CPU ---- */

PXK_KERNEL(k_cls_counts, (const float *p, const void *labels, int sparse, float thr, int64_t rows, int64_t C, float *o),
           double tp = 0, fp = 0, fn = 0;
           for (int64_t r = 0; r < rows; r++) {
               const float *row = p + r * C;
               double yp = pxk_class_predicted(row[i], pxk_row_largest(row, C), thr);
               double yt = pxk_class_true(labels, sparse, r, C, i);
               tp += yp * yt;
               fp += yp * (1 - yt);
               fn += (1 - yp) * yt;
           }
           o[i] = (float)tp;
           o[C + i] = (float)fp;
           o[2 * C + i] = (float)fn;)

static px_status pxk_cls_counts_forward(pxk_ctx *c, const px_kernel *k) {
    const px_tensor *p = k->in[0];
    int64_t C = p->shape[p->rank - 1], rows = C ? pxk_numel(p) / C : 0;
    return PXK_RUN(c, k_cls_counts, C, pxk_f(p), (const void *)k->in[1]->data, (int)(k->in[1]->dtype == PX_I32),
                   k->fattr[0], rows, C, pxk_w(k->out));
}

/* ---- confusion_matrix: iattr[0] classes C; output (C, C), rows the true class.
 * First each row's predicted and true class into the scratch (2 int32 per
 * row), then each true class gathers its row of the matrix. ---- */

PXK_KERNEL(k_cm_classes, (const float *p, const void *labels, int sparse, int64_t W, int32_t *cls),
           cls[2 * i] = (int32_t)pxk_row_class(p + i * W, W);
           cls[2 * i + 1] = sparse ? ((const int32_t *)labels)[i] : (int32_t)pxk_row_class((const float *)labels + i * W, W);)
PXK_KERNEL(k_cm_rows, (const int32_t *cls, int64_t rows, int64_t C, float *o),
           for (int64_t q = 0; q < C; q++) o[i * C + q] = 0.0f;
           for (int64_t r = 0; r < rows; r++) {
               int64_t pc = cls[2 * r];
               if (cls[2 * r + 1] == i && pc >= 0 && pc < C) o[i * C + pc] += 1.0f;
           })

static int64_t pxk_cm_rows(const px_kernel *k) {
    const px_tensor *p = k->in[0];
    int64_t W = p->shape[p->rank - 1];
    return W ? pxk_numel(p) / W : 0;
}

static px_status pxk_cm_forward(pxk_ctx *c, const px_kernel *k) {
    const px_tensor *p = k->in[0];
    int64_t W = p->shape[p->rank - 1], rows = pxk_cm_rows(k), C = k->iattr[0];
    int32_t *cls = (int32_t *)k->work;
    px_status st = PXK_RUN(c, k_cm_classes, rows, pxk_f(p), (const void *)k->in[1]->data,
                           (int)(k->in[1]->dtype == PX_I32), W, cls);
    if (st != PX_OK) return st;
    return PXK_RUN(c, k_cm_rows, C, (const int32_t *)cls, rows, C, pxk_w(k->out));
}

#endif
