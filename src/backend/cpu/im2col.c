/* NHWC im2col / col2im: the window rows a convolution multiplies with its
 * kernel, built so that each tap copies c contiguous floats. */
#include "backend/cpu/im2col.h"
#include "backend/cpu/clones.h"

/* Compiled per instruction set, as the copies are short runs that want whole
 * 512-bit vectors where the CPU has them. */
PX_CLONES
static void im2col_nhwc_clones(const px_conv_geom *g, const float *x, float *cols, int64_t n0, int64_t n1) {
    const int64_t c = g->c, row = g->kh * g->kw * c;
    for (int64_t n = n0; n < n1; n++) {
        const float *xn = x + n * g->h * g->w * c;
        for (int64_t oh = 0; oh < g->oh; oh++) {
            float *dst = cols + ((n - n0) * g->oh + oh) * g->ow * row;
            for (int64_t ow = 0; ow < g->ow; ow++, dst += row) {
                float *d = dst;
                for (int64_t i = 0; i < g->kh; i++) {
                    int64_t ih = oh * g->sh - g->pt + i * g->dh;
                    if (ih < 0 || ih >= g->h) {
                        for (int64_t q = 0; q < g->kw * c; q++) d[q] = 0;
                        d += g->kw * c;
                        continue;
                    }
                    const float *xr = xn + ih * g->w * c;
                    int64_t iw = ow * g->sw - g->pl;
                    if (g->dw == 1 && iw >= 0 && iw + g->kw <= g->w) {
                        /* the whole row of taps is inside: one copy */
                        const float *s = xr + iw * c;
                        for (int64_t q = 0; q < g->kw * c; q++) d[q] = s[q];
                        d += g->kw * c;
                        continue;
                    }
                    /* plain loops: with a few channels a memcpy call costs more than the copy */
                    for (int64_t j = 0; j < g->kw; j++, iw += g->dw, d += c) {
                        if (iw < 0 || iw >= g->w)
                            for (int64_t q = 0; q < c; q++) d[q] = 0;
                        else
                            for (int64_t q = 0; q < c; q++) d[q] = xr[iw * c + q];
                    }
                }
            }
        }
    }
}

void px_im2col_nhwc(const px_conv_geom *g, const float *x, float *cols, int64_t n0, int64_t n1) {
    im2col_nhwc_clones(g, x, cols, n0, n1);
}

PX_CLONES
static void col2im_nhwc_clones(const px_conv_geom *g, const float *dcols, float *dx) {
    const int64_t c = g->c, row = g->kh * g->kw * c;
    for (int64_t oh = 0; oh < g->oh; oh++) {
        const float *src = dcols + oh * g->ow * row;
        for (int64_t ow = 0; ow < g->ow; ow++, src += row) {
            const float *s = src;
            for (int64_t i = 0; i < g->kh; i++) {
                int64_t ih = oh * g->sh - g->pt + i * g->dh;
                if (ih < 0 || ih >= g->h) {
                    s += g->kw * c;
                    continue;
                }
                float *xr = dx + ih * g->w * c;
                int64_t iw = ow * g->sw - g->pl;
                if (g->dw == 1 && iw >= 0 && iw + g->kw <= g->w) {
                    /* the whole row of taps is inside: one run of kw * c */
                    float *d = xr + iw * c;
                    for (int64_t q = 0; q < g->kw * c; q++) d[q] += s[q];
                    s += g->kw * c;
                    continue;
                }
                for (int64_t j = 0; j < g->kw; j++, iw += g->dw, s += c) {
                    if (iw < 0 || iw >= g->w) continue;
                    float *d = xr + iw * c;
                    for (int64_t q = 0; q < c; q++) d[q] += s[q];
                }
            }
        }
    }
}

void px_col2im_nhwc(const px_conv_geom *g, const float *dcols, float *dx) { col2im_nhwc_clones(g, dcols, dx); }
