/* Internal: convolution kernels for few output channels (F <= 16), working per
 * image on a transposed im2col matrix (window taps x output pixels) so that the
 * vectors run along the many output pixels instead of the few channels. */
#ifndef PX_BACKEND_CPU_CONV_KERNELS_H
#define PX_BACKEND_CPU_CONV_KERNELS_H

#include "backend/cpu/im2col.h"

/* Output pixels per row of the transposed matrices: P rounded up to a whole
 * vector tile, the tail kept at zero. */
int64_t px_convt_stride(const px_conv_geom *g);

/* Floats of the per-image scratch that the two transforms below need. */
int64_t px_convt_planes_size(const px_conv_geom *g);
/* colsT (K x Pp) of one image (x points at it); the tail columns are zeroed.
 * colsT must have 16 floats of room after its end. */
void px_im2colt_nhwc(const px_conv_geom *g, const float *x, float *scratch, float *colsT);
/* Adds dcolsT (K x Pp) of one image back into dx (pointing at the image). */
void px_col2imt_nhwc(const px_conv_geom *g, const float *dcolsT, float *scratch, float *dx);

/* wp: the kernel (K x F) repacked as groups of 4 filters, [F/4][K][4] with
 * zeros past F; bp: the bias padded to a multiple of 4 (zeros when bias is NULL). */
void px_convt_pack(int64_t k, int64_t f, const float *w, const float *bias, float *wp, float *bp);
/* y (P x F, one image) = colsT^T . w + bias, from the packed kernel. */
void px_convt_forward(int64_t k, int64_t f, int64_t p, int64_t pp, const float *colsT, const float *wp,
                      const float *bp, float *y);
/* dyT (F x Pp) = dy^T (dy is P x F, one image), tail zeroed; db[f] += sum over pixels (db may be NULL). */
void px_convt_transpose_grad(int64_t f, int64_t p, int64_t pp, const float *dy, float *dyT, float *db);
/* dwv (K x F x 16) += colsT . dyT^T, kept per vector lane (sum the 16 lanes at the end). */
void px_convt_kernel_grad(int64_t k, int64_t f, int64_t pp, const float *colsT, const float *dyT, float *dwv);
/* dcolsT (K x Pp) = w (K x F) . dyT (overwritten). */
void px_convt_input_grad(int64_t k, int64_t f, int64_t pp, const float *w, const float *dyT, float *dcolsT);

#endif
