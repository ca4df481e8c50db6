/* Internal: the NHWC im2col / col2im transforms that turn a convolution into
 * one px_gemm (the geometry, shared with the device kernels, in
 * backend/kernels/conv_geom.h). */
#ifndef PX_BACKEND_CPU_IM2COL_H
#define PX_BACKEND_CPU_IM2COL_H

#include "backend/kernels/conv_geom.h"

/* Rows (n, oh, ow) of cols, each kh*kw*c long in (kh, kw, c) order, for images
 * [n0, n1); padding reads as zero. cols points at image n0's first row. */
void px_im2col_nhwc(const px_conv_geom *g, const float *x, float *cols, int64_t n0, int64_t n1);

/* Adds the rows of dcols back into dx (one image: dx and dcols point at it). */
void px_col2im_nhwc(const px_conv_geom *g, const float *dcols, float *dx);

#endif
