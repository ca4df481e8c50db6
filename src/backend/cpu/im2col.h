/* Internal: convolution geometry (Keras/TF "valid" and "same" padding) and the
 * NHWC im2col / col2im transforms that turn a convolution into one px_gemm. */
#ifndef PX_BACKEND_CPU_IM2COL_H
#define PX_BACKEND_CPU_IM2COL_H

#include <stdbool.h>
#include <stdint.h>

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
bool px_conv_axis(int64_t size, int64_t k, int64_t stride, int64_t dilation, int padding, int64_t *out,
                  int64_t *pad_before);

/* Fills g->oh, ow, pt, pl from the other fields; false when the output is empty. */
bool px_conv_geom_finish(px_conv_geom *g, int padding);

/* Rows (n, oh, ow) of cols, each kh*kw*c long in (kh, kw, c) order, for images
 * [n0, n1); padding reads as zero. cols points at image n0's first row. */
void px_im2col_nhwc(const px_conv_geom *g, const float *x, float *cols, int64_t n0, int64_t n1);

/* Adds the rows of dcols back into dx (one image: dx and dcols point at it). */
void px_col2im_nhwc(const px_conv_geom *g, const float *dcols, float *dx);

#endif
