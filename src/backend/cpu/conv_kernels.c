/* Convolution kernels for few output channels, vectorised along output pixels
 * (GCC vector extensions, compiled per instruction set with target_clones and
 * picked at load time). With F = 4..12 channels, vectors along F would be
 * mostly empty and a GEMM spends as long packing as multiplying. */
#include "backend/cpu/conv_kernels.h"

#define TILE 32 /* output pixels per register tile: two 16-float vectors */

typedef float v16 __attribute__((vector_size(64), aligned(4), may_alias));

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define PX_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PX_CLONES
#endif

/* macros, not functions: a 64-byte vector passed by value would change the
 * ABI between the instruction-set clones */
#define ld(p) (*(const v16 *)(p))
#define st(p, v) (*(v16 *)(p) = (v))
#define splat(s) ((v16){0} + (s))


int64_t px_convt_stride(const px_conv_geom *g) { return (g->oh * g->ow + TILE - 1) / TILE * TILE; }

/* The planar layout: one zero-padded plane per (channel, column phase), where
 * the phase is the padded column modulo the stride. Every window row of the
 * transposed matrix is then a contiguous run of one plane, copied without
 * bounds checks, and NHWC's interleaving is undone once per image instead of
 * once per window tap. */
typedef struct planes {
    int64_t hp, wq, plane, total;
} planes;

static planes planes_of(const px_conv_geom *g) {
    planes l;
    int64_t hp = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1, wp = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
    l.hp = hp > g->pt + g->h ? hp : g->pt + g->h;
    if (wp < g->pl + g->w) wp = g->pl + g->w;
    l.wq = (wp + g->sw - 1) / g->sw + 1;
    l.plane = l.hp * l.wq;
    l.total = g->c * g->sw * l.plane + 2 * TILE; /* slack: whole-vector reads run past a row */
    return l;
}

int64_t px_convt_planes_size(const px_conv_geom *g) { return planes_of(g).total; }

static inline void to_planes(const px_conv_geom *g, const planes *l, const float *x, float *pl) {
    const int64_t c = g->c, sw = g->sw;
    for (int64_t e = 0; e < l->total; e++) pl[e] = 0;
    for (int64_t ih = 0; ih < g->h; ih++)
        for (int64_t iw = 0; iw < g->w; iw++) {
            int64_t u = iw + g->pl;
            float *d = pl + (u % sw) * l->plane + (ih + g->pt) * l->wq + u / sw;
            const float *s = x + (ih * g->w + iw) * c;
            for (int64_t q = 0; q < c; q++) d[q * sw * l->plane] = s[q];
        }
}

PX_CLONES
void px_im2colt_nhwc(const px_conv_geom *g, const float *x, float *scratch, float *colsT) {
    const planes l = planes_of(g);
    const int64_t c = g->c, p = g->oh * g->ow, pp = px_convt_stride(g), ow = g->ow;
    to_planes(g, &l, x, scratch);
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++) {
            int64_t u = j * g->dw;
            for (int64_t q = 0; q < c; q++) {
                float *row = colsT + ((i * g->kw + j) * c + q) * pp;
                const float *src = scratch + (q * g->sw + u % g->sw) * l.plane + i * g->dh * l.wq + u / g->sw;
                /* whole vectors: what spills past a row's end is overwritten by
                 * the next row, or by the zeroed tail (colsT has slack after it) */
                for (int64_t oh = 0; oh < g->oh; oh++, src += g->sh * l.wq)
                    for (int64_t o = 0; o < ow; o += 16) st(row + oh * ow + o, ld(src + o));
                for (int64_t t = p; t < pp; t++) row[t] = 0;
            }
        }
}

PX_CLONES
void px_col2imt_nhwc(const px_conv_geom *g, const float *dcolsT, float *scratch, float *dx) {
    const planes l = planes_of(g);
    const int64_t c = g->c, sw = g->sw, pp = px_convt_stride(g), ow = g->ow;
    for (int64_t e = 0; e < l.total; e++) scratch[e] = 0;
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++) {
            int64_t u = j * g->dw;
            for (int64_t q = 0; q < c; q++) {
                const float *row = dcolsT + ((i * g->kw + j) * c + q) * pp;
                float *dst = scratch + (q * sw + u % sw) * l.plane + i * g->dh * l.wq + u / sw;
                for (int64_t oh = 0; oh < g->oh; oh++, dst += g->sh * l.wq)
                    for (int64_t o = 0; o < ow; o++) dst[o] += row[oh * ow + o];
            }
        }
    for (int64_t ih = 0; ih < g->h; ih++)
        for (int64_t iw = 0; iw < g->w; iw++) {
            int64_t u = iw + g->pl;
            const float *s = scratch + (u % sw) * l.plane + (ih + g->pt) * l.wq + u / sw;
            float *d = dx + (ih * g->w + iw) * c;
            for (int64_t q = 0; q < c; q++) d[q] += s[q * sw * l.plane];
        }
}

void px_convt_pack(int64_t k, int64_t f, const float *w, const float *bias, float *wp, float *bp) {
    int64_t groups = (f + 3) / 4;
    for (int64_t gi = 0; gi < groups; gi++)
        for (int64_t r = 0; r < k; r++)
            for (int64_t j = 0; j < 4; j++) {
                int64_t col = gi * 4 + j;
                wp[(gi * k + r) * 4 + j] = col < f ? w[r * f + col] : 0.0f;
            }
    for (int64_t j = 0; j < groups * 4; j++) bp[j] = bias && j < f ? bias[j] : 0.0f;
}

PX_CLONES
void px_convt_forward(int64_t k, int64_t f, int64_t p, int64_t pp, const float *colsT, const float *wp,
                      const float *bp, float *y) {
    int64_t groups = (f + 3) / 4;
    for (int64_t p0 = 0; p0 < pp; p0 += TILE)
        for (int64_t gi = 0; gi < groups; gi++) {
            const float *w4 = wp + gi * k * 4;
            v16 a0 = splat(bp[gi * 4]), a1 = splat(bp[gi * 4 + 1]), a2 = splat(bp[gi * 4 + 2]),
                a3 = splat(bp[gi * 4 + 3]);
            v16 b0 = a0, b1 = a1, b2 = a2, b3 = a3;
            const float *col = colsT + p0;
            for (int64_t r = 0; r < k; r++, col += pp, w4 += 4) {
                v16 u = ld(col), v = ld(col + 16);
                a0 += u * w4[0], a1 += u * w4[1], a2 += u * w4[2], a3 += u * w4[3];
                b0 += v * w4[0], b1 += v * w4[1], b2 += v * w4[2], b3 += v * w4[3];
            }
            /* back to channels-last: each pixel's filters are f apart */
            int64_t nf = f - gi * 4 < 4 ? f - gi * 4 : 4, np = p - p0 < TILE ? p - p0 : TILE;
            v16 acc[8] = {a0, a1, a2, a3, b0, b1, b2, b3};
            float *yo = y + p0 * f + gi * 4;
            for (int64_t t = 0; t < np; t++)
                for (int64_t j = 0; j < nf; j++) yo[t * f + j] = acc[j + (t >= 16 ? 4 : 0)][t & 15];
        }
}

void px_convt_transpose_grad(int64_t f, int64_t p, int64_t pp, const float *dy, float *dyT, float *db) {
    for (int64_t j = 0; j < f; j++) {
        float *row = dyT + j * pp, s = 0;
        for (int64_t t = 0; t < p; t++) {
            row[t] = dy[t * f + j];
            s += row[t];
        }
        for (int64_t t = p; t < pp; t++) row[t] = 0;
        if (db) db[j] += s;
    }
}

PX_CLONES
void px_convt_kernel_grad(int64_t k, int64_t f, int64_t pp, const float *colsT, const float *dyT, float *dwv) {
    /* 4 x 4 blocks of (tap, filter) dot products; rows past the end repeat the
     * last one and their results are dropped, so every block has the full shape */
    for (int64_t r0 = 0; r0 < k; r0 += 4)
        for (int64_t f0 = 0; f0 < f; f0 += 4) {
            const float *a[4], *b[4];
            for (int j = 0; j < 4; j++) {
                a[j] = colsT + (r0 + j < k ? r0 + j : k - 1) * pp;
                b[j] = dyT + (f0 + j < f ? f0 + j : f - 1) * pp;
            }
            /* sixteen named accumulators: GCC keeps an array of vectors on the stack */
            v16 s00 = {0}, s01 = {0}, s02 = {0}, s03 = {0}, s10 = {0}, s11 = {0}, s12 = {0}, s13 = {0};
            v16 s20 = {0}, s21 = {0}, s22 = {0}, s23 = {0}, s30 = {0}, s31 = {0}, s32 = {0}, s33 = {0};
            for (int64_t t = 0; t < pp; t += 16) {
                v16 x0 = ld(a[0] + t), x1 = ld(a[1] + t), x2 = ld(a[2] + t), x3 = ld(a[3] + t);
                v16 y0 = ld(b[0] + t), y1 = ld(b[1] + t), y2 = ld(b[2] + t), y3 = ld(b[3] + t);
                s00 += x0 * y0, s01 += x0 * y1, s02 += x0 * y2, s03 += x0 * y3;
                s10 += x1 * y0, s11 += x1 * y1, s12 += x1 * y2, s13 += x1 * y3;
                s20 += x2 * y0, s21 += x2 * y1, s22 += x2 * y2, s23 += x2 * y3;
                s30 += x3 * y0, s31 += x3 * y1, s32 += x3 * y2, s33 += x3 * y3;
            }
            /* lanes are summed once at the end, not per image: with few output
             * pixels the horizontal sums would cost more than the products */
            v16 acc[4][4] = {{s00, s01, s02, s03}, {s10, s11, s12, s13}, {s20, s21, s22, s23}, {s30, s31, s32, s33}};
            for (int i = 0; i < 4 && r0 + i < k; i++)
                for (int j = 0; j < 4 && f0 + j < f; j++) {
                    float *d = dwv + ((r0 + i) * f + f0 + j) * 16;
                    st(d, ld(d) + acc[i][j]);
                }
        }
}

PX_CLONES
void px_convt_input_grad(int64_t k, int64_t f, int64_t pp, const float *w, const float *dyT, float *dcolsT) {
    for (int64_t p0 = 0; p0 < pp; p0 += TILE)
        for (int64_t r0 = 0; r0 < k; r0 += 4) {
            int64_t rr[4];
            for (int j = 0; j < 4; j++) rr[j] = r0 + j < k ? r0 + j : k - 1;
            v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
            for (int64_t j = 0; j < f; j++) {
                const float *d = dyT + j * pp + p0;
                v16 u = ld(d), v = ld(d + 16);
                float w0 = w[rr[0] * f + j], w1 = w[rr[1] * f + j], w2 = w[rr[2] * f + j], w3 = w[rr[3] * f + j];
                a0 += u * w0, a1 += u * w1, a2 += u * w2, a3 += u * w3;
                b0 += v * w0, b1 += v * w1, b2 += v * w2, b3 += v * w3;
            }
            v16 lo[4] = {a0, a1, a2, a3}, hi[4] = {b0, b1, b2, b3};
            for (int i = 0; i < 4 && r0 + i < k; i++) {
                st(dcolsT + (r0 + i) * pp + p0, lo[i]);
                st(dcolsT + (r0 + i) * pp + p0 + 16, hi[i]);
            }
        }
}
