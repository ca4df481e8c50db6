/* Internal: direct convolution kernels for few output channels (F <= 16) and
 * output rows of at most 32 pixels, vectorised along each output row: the
 * input is laid out once per image as zero-padded planes (one per channel and
 * column phase of the stride), so every window tap of an output row is one
 * contiguous run of a plane, read without bounds checks or an im2col matrix. */
#ifndef PX_BACKEND_CPU_CONV_KERNELS_H
#define PX_BACKEND_CPU_CONV_KERNELS_H

#include "backend/cpu/im2col.h"

/* Floats of one image's planes (with slack for whole-vector reads), and of its
 * transposed output gradient (F x OH rows of whole vectors). */
int64_t px_convt_planes_size(const px_conv_geom *g);
int64_t px_convt_dyt_size(const px_conv_geom *g);
/* off[t] = where window tap t = (i, j, c) of output row 0 starts in the planes. */
void px_convt_offsets(const px_conv_geom *g, int64_t *off);
/* The planes of one image (x points at it). */
void px_convt_to_planes(const px_conv_geom *g, const float *x, float *planes);
/* Adds the planes' interior back into one image's gradient dx. */
void px_convt_from_planes_add(const px_conv_geom *g, const float *planes, float *dx);

/* wp: the kernel (K x F) repacked as groups of 4 filters, [F/4][K][4] with
 * zeros past F; bp: the bias padded to a multiple of 4 (zeros when bias is NULL). */
void px_convt_pack(int64_t k, int64_t f, const float *w, const float *bias, float *wp, float *bp);
/* y (one image, OH x OW x F) from its planes, the packed kernel and bias. */
void px_convt_forward(const px_conv_geom *g, const float *planes, const int64_t *off, const float *wp,
                      const float *bp, float *y);
/* dyT = dy transposed to (F, OH, whole vectors), tails zeroed; db[f] += its sum (db may be NULL). */
void px_convt_transpose_grad(const px_conv_geom *g, const float *dy, float *dyT, float *db);
/* dwv (K x F x 16) += the kernel gradient, kept per vector lane (sum the lanes at the end). */
void px_convt_kernel_grad(const px_conv_geom *g, const float *planes, const int64_t *off, const float *dyT,
                          float *dwv);
/* dplanes = the input gradient in plane layout (overwritten), from the kernel w (K x F). */
void px_convt_input_grad(const px_conv_geom *g, const float *w, const int64_t *off, const float *dyT,
                         float *dplanes);

/* (src/ops/conv.c) 0: choose per shape, 1: always im2col + GEMM, 2: these
 * kernels wherever they apply. For tests and benchmarks. */
void px_conv_set_impl(int impl);

#endif
