/* Internal: convolution and pooling geometry (Keras/TF "valid", "same" and
 * "causal" padding), shared by the CPU kernels (backend/cpu/im2col.c) and the device
 * kernels (image_ops.h) so that every backend pads alike. */
#ifndef PX_BACKEND_KERNELS_CONV_GEOM_H
#define PX_BACKEND_KERNELS_CONV_GEOM_H

#include "backend/kernels/portable.h"

typedef struct px_conv_geom {
    int64_t n, h, w, c;      /* input (N, H, W, C) */
    int64_t kh, kw, f;       /* window and output channels */
    int64_t sh, sw, dh, dw;  /* strides, dilations */
    int64_t oh, ow;          /* output size */
    int64_t pt, pl;          /* padding before (top, left); TF puts the odd pixel after */
} px_conv_geom;

/* Padding modes, as px_padding (plexus/ops.h): 0 valid, 1 same, 2 causal
 * (all the padding before, Keras's Conv1D "causal"). */
enum { PX_CONV_PAD_VALID = 0, PX_CONV_PAD_SAME = 1, PX_CONV_PAD_CAUSAL = 2 };

/* Output length and padding before along one axis; size may be -1 (unknown)
 * and gives -1. Returns false when the window does not fit ("valid"). */
PXK_FN bool px_conv_axis(int64_t size, int64_t k, int64_t stride, int64_t dilation, int padding, int64_t *out,
                         int64_t *pad_before) {
    int64_t span = dilation * (k - 1) + 1;
    *pad_before = 0;
    if (size < 0) {
        *out = -1;
        return true;
    }
    if (padding == PX_CONV_PAD_CAUSAL) {
        /* span - 1 zeros before, then a valid window: output ceil(size / stride) */
        *out = (size + stride - 1) / stride;
        *pad_before = span - 1;
    } else if (padding == PX_CONV_PAD_SAME) {
        *out = (size + stride - 1) / stride;
        int64_t total = (*out - 1) * stride + span - size;
        /* TF "same": the odd pixel of padding goes after (bottom / right) */
        *pad_before = total > 0 ? total / 2 : 0;
    } else {
        *out = size >= span ? (size - span) / stride + 1 : 0;
    }
    return *out > 0;
}

/* The output that reads input position `in` through window tap `tap` along
 * one axis (in = o stride - pad + tap dilation), or -1 when none does. */
PXK_FN int64_t px_conv_output_of_tap(int64_t in, int64_t pad, int64_t tap, int64_t dilation, int64_t stride,
                                     int64_t out) {
    int64_t a = in + pad - tap * dilation;
    if (a < 0 || a % stride) return -1;
    a /= stride;
    return a < out ? a : -1;
}

/* Fills g->oh, ow, pt, pl from the other fields; false when the output is empty. */
PXK_FN bool px_conv_geom_finish(px_conv_geom *g, int padding) {
    bool a = px_conv_axis(g->h, g->kh, g->sh, g->dh, padding, &g->oh, &g->pt);
    bool b = px_conv_axis(g->w, g->kw, g->sw, g->dw, padding, &g->ow, &g->pl);
    return a && b;
}

#endif
