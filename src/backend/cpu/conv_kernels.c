/* Direct convolution kernels for few output channels, vectorised along output
 * rows (GCC vector extensions, compiled per instruction set with target_clones
 * and picked at load time). With F = 4..12 channels, vectors along F would be
 * mostly empty, and im2col + GEMM spends as long moving the columns as
 * multiplying them. */
#include "backend/cpu/conv_kernels.h"
#include "backend/cpu/clones.h"

/* ISO C mode turns off a * b + c contraction; these loops want fused
 * multiply-adds (as the builtin GEMM kernel gets through its build flags). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

typedef float v16 __attribute__((vector_size(64), aligned(4), may_alias));

/* macros, not functions: a 64-byte vector passed by value would change the
 * ABI between the instruction-set clones */
#define ld(p) (*(const v16 *)(p))
#define st(p, v) (*(v16 *)(p) = (v))
#define splat(s) ((v16){0} + (s))

/* Vectors per output row (1 or 2) and the row stride of dyT. */
static inline int64_t row_vectors(const px_conv_geom *g) { return (g->ow + 15) / 16; }

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
    l.total = g->c * g->sw * l.plane + 64; /* slack: whole-vector reads run past a row */
    return l;
}

/* Plane pi = q * sw + r holds channel q's input columns iw with
 * (iw + pl) % sw == r: the first is iw0, n of them, sw apart, stored from
 * plane column lo = (iw0 + pl) / sw on. */
typedef struct plane_cols {
    int64_t q, iw0, n, lo;
} plane_cols;

static inline plane_cols plane_cols_of(const px_conv_geom *g, int64_t pi) {
    const int64_t sw = g->sw, r = pi % sw, u0 = g->pl + ((r - g->pl % sw) % sw + sw) % sw;
    plane_cols pc = {pi / sw, u0 - g->pl, 0, 0};
    if (u0 < g->pl + g->w) {
        pc.n = (g->pl + g->w - 1 - u0) / sw + 1;
        pc.lo = u0 / sw;
    }
    return pc;
}

int64_t px_convt_planes_size(const px_conv_geom *g) { return planes_of(g).total; }
int64_t px_convt_dyt_size(const px_conv_geom *g) { return g->f * g->oh * row_vectors(g) * 16; }

void px_convt_offsets(const px_conv_geom *g, int64_t *off) {
    const planes l = planes_of(g);
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++)
            for (int64_t q = 0; q < g->c; q++) {
                int64_t u = j * g->dw;
                off[(i * g->kw + j) * g->c + q] = (q * g->sw + u % g->sw) * l.plane + i * g->dh * l.wq + u / g->sw;
            }
}

PX_CLONES
static void convt_to_planes_clones(const px_conv_geom *g, const float *x, float *pl) {
    const planes l = planes_of(g);
    const int64_t c = g->c, sw = g->sw;
    /* plane by plane and row by row, so that the writes run in order (pixel by
     * pixel they scatter over c x sw planes, and u % sw and u / sw cost a
     * division each); only the cells the copy leaves are zeroed */
    for (int64_t pi = 0; pi < c * sw; pi++) {
        const plane_cols pc = plane_cols_of(g, pi);
        const int64_t n = pc.n, lo = pc.lo, hi = lo + n, step = sw * c;
        float *base = pl + pi * l.plane;
        for (int64_t e = 0; e < g->pt * l.wq; e++) base[e] = 0;
        for (int64_t ih = 0; ih < g->h; ih++) {
            float *row = base + (ih + g->pt) * l.wq;
            const float *s = n ? x + (ih * g->w + pc.iw0) * c + pc.q : x;
            for (int64_t e = 0; e < lo; e++) row[e] = 0;
            for (int64_t j = 0; j < n; j++) row[lo + j] = s[j * step];
            for (int64_t e = hi; e < l.wq; e++) row[e] = 0;
        }
        for (int64_t e = (g->pt + g->h) * l.wq; e < l.plane; e++) base[e] = 0;
    }
    for (int64_t e = c * sw * l.plane; e < l.total; e++) pl[e] = 0;
}

void px_convt_to_planes(const px_conv_geom *g, const float *x, float *pl) { convt_to_planes_clones(g, x, pl); }

PX_CLONES
static void convt_from_planes_add_clones(const px_conv_geom *g, const float *pl, float *dx) {
    const planes l = planes_of(g);
    const int64_t c = g->c, sw = g->sw;
    /* the copy of convt_to_planes backwards, plane by plane (each dx element
     * gets one addition, so the order changes nothing) */
    for (int64_t pi = 0; pi < c * sw; pi++) {
        const plane_cols pc = plane_cols_of(g, pi);
        const int64_t n = pc.n, step = sw * c;
        if (!n) continue;
        const float *base = pl + pi * l.plane + g->pt * l.wq + pc.lo;
        for (int64_t ih = 0; ih < g->h; ih++) {
            const float *row = base + ih * l.wq;
            float *d = dx + (ih * g->w + pc.iw0) * c + pc.q;
            for (int64_t j = 0; j < n; j++) d[j * step] += row[j];
        }
    }
}

void px_convt_from_planes_add(const px_conv_geom *g, const float *pl, float *dx) {
    convt_from_planes_add_clones(g, pl, dx);
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
static void convt_forward_clones(const px_conv_geom *g, const float *pl, const int64_t *off, const float *wp,
                                 const float *bp, float *y) {
    const planes l = planes_of(g);
    const int64_t k = g->kh * g->kw * g->c, f = g->f, groups = (f + 3) / 4, ow = g->ow;
    const bool two = row_vectors(g) == 2;
    for (int64_t oh = 0; oh < g->oh; oh++) {
        const float *base = pl + oh * g->sh * l.wq;
        for (int64_t gi = 0; gi < groups; gi++) {
            const float *w4 = wp + gi * k * 4;
            v16 a0 = splat(bp[gi * 4]), a1 = splat(bp[gi * 4 + 1]), a2 = splat(bp[gi * 4 + 2]),
                a3 = splat(bp[gi * 4 + 3]);
            v16 b0 = a0, b1 = a1, b2 = a2, b3 = a3;
            if (two)
                for (int64_t t = 0; t < k; t++, w4 += 4) {
                    const float *s = base + off[t];
                    v16 u = ld(s), v = ld(s + 16);
                    a0 += u * w4[0], a1 += u * w4[1], a2 += u * w4[2], a3 += u * w4[3];
                    b0 += v * w4[0], b1 += v * w4[1], b2 += v * w4[2], b3 += v * w4[3];
                }
            else
                for (int64_t t = 0; t < k; t++, w4 += 4) {
                    v16 u = ld(base + off[t]);
                    a0 += u * w4[0], a1 += u * w4[1], a2 += u * w4[2], a3 += u * w4[3];
                }
            /* back to channels-last: each pixel's filters are f apart */
            int64_t nf = f - gi * 4 < 4 ? f - gi * 4 : 4;
            v16 acc[8] = {a0, a1, a2, a3, b0, b1, b2, b3};
            float *yo = y + oh * ow * f + gi * 4;
            for (int64_t t = 0; t < ow; t++)
                for (int64_t j = 0; j < nf; j++) yo[t * f + j] = acc[j + (t >= 16 ? 4 : 0)][t & 15];
        }
    }
}

void px_convt_forward(const px_conv_geom *g, const float *pl, const int64_t *off, const float *wp, const float *bp,
                      float *y) {
    convt_forward_clones(g, pl, off, wp, bp, y);
}

PX_CLONES
static void convt_transpose_grad_clones(const px_conv_geom *g, const float *dy, float *dyT, float *db) {
    const int64_t f = g->f, ow = g->ow, owp = row_vectors(g) * 16;
    /* pixels outside, filters inside: dy is read in order, each row written in order */
    for (int64_t oh = 0; oh < g->oh; oh++) {
        const float *src = dy + oh * ow * f;
        for (int64_t t = 0; t < ow; t++)
            for (int64_t j = 0; j < f; j++) dyT[(j * g->oh + oh) * owp + t] = src[t * f + j];
        for (int64_t j = 0; j < f; j++)
            for (int64_t t = ow; t < owp; t++) dyT[(j * g->oh + oh) * owp + t] = 0;
    }
    if (!db) return;
    /* the bias gradient from whole vectors (the zeroed tails add nothing); a
     * scalar running sum would wait on each addition in turn */
    for (int64_t j = 0; j < f; j++) {
        v16 acc = {0};
        const float *row = dyT + j * g->oh * owp;
        for (int64_t e = 0; e < g->oh * owp; e += 16) acc += ld(row + e);
        float s = 0;
        for (int lane = 0; lane < 16; lane++) s += acc[lane];
        db[j] += s;
    }
}

void px_convt_transpose_grad(const px_conv_geom *g, const float *dy, float *dyT, float *db) {
    convt_transpose_grad_clones(g, dy, dyT, db);
}

PX_CLONES
static void convt_kernel_grad_clones(const px_conv_geom *g, const float *pl, const int64_t *off, const float *dyT,
                                     float *dwv) {
    /* 4 x 4 blocks of (tap, filter) dot products; rows past the end repeat the
     * last one and their results are dropped, so every block has the full shape.
     * The plane values past a row's end meet dyT's zeroed tail. */
    const planes l = planes_of(g);
    const int64_t k = g->kh * g->kw * g->c, f = g->f, nv = row_vectors(g), owp = nv * 16, rs = g->sh * l.wq;
    for (int64_t r0 = 0; r0 < k; r0 += 4)
        for (int64_t f0 = 0; f0 < f; f0 += 4) {
            const float *a[4], *b[4];
            for (int j = 0; j < 4; j++) {
                a[j] = pl + off[r0 + j < k ? r0 + j : k - 1];
                b[j] = dyT + (f0 + j < f ? f0 + j : f - 1) * g->oh * owp;
            }
            /* sixteen named accumulators: GCC keeps an array of vectors on the stack */
            v16 s00 = {0}, s01 = {0}, s02 = {0}, s03 = {0}, s10 = {0}, s11 = {0}, s12 = {0}, s13 = {0};
            v16 s20 = {0}, s21 = {0}, s22 = {0}, s23 = {0}, s30 = {0}, s31 = {0}, s32 = {0}, s33 = {0};
            for (int64_t oh = 0; oh < g->oh; oh++)
                for (int64_t v = 0; v < nv; v++) {
                    int64_t xo = oh * rs + v * 16, yo = oh * owp + v * 16;
                    v16 x0 = ld(a[0] + xo), x1 = ld(a[1] + xo), x2 = ld(a[2] + xo), x3 = ld(a[3] + xo);
                    v16 y0 = ld(b[0] + yo), y1 = ld(b[1] + yo), y2 = ld(b[2] + yo), y3 = ld(b[3] + yo);
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

void px_convt_kernel_grad(const px_conv_geom *g, const float *pl, const int64_t *off, const float *dyT, float *dwv) {
    convt_kernel_grad_clones(g, pl, off, dyT, dwv);
}

PX_CLONES
static void convt_input_grad_clones(const px_conv_geom *g, const float *w, const int64_t *off, const float *dyT,
                                    float *dpl) {
    const planes l = planes_of(g);
    const int64_t k = g->kh * g->kw * g->c, f = g->f, nv = row_vectors(g), owp = nv * 16, rs = g->sh * l.wq;
    for (int64_t e = 0; e < l.total; e++) dpl[e] = 0;
    /* each tap's row gets sum_f w[t][f] * dy[f]; the lanes past the row's end
     * carry dyT's zeros, so they add nothing to the neighbouring cells. Taps
     * outside, rows inside: neighbouring taps overlap by a column, and reading
     * back a vector just stored at an offset of one float stalls the CPU. */
    for (int64_t t = 0; t < k; t++)
        for (int64_t oh = 0; oh < g->oh; oh++) {
            float *d = dpl + off[t] + oh * rs;
            const float *wt = w + t * f, *dy = dyT + oh * owp;
            v16 u = {0}, v = {0};
            if (nv == 2)
                for (int64_t j = 0; j < f; j++) {
                    u += ld(dy + j * g->oh * owp) * wt[j];
                    v += ld(dy + j * g->oh * owp + 16) * wt[j];
                }
            else
                for (int64_t j = 0; j < f; j++) u += ld(dy + j * g->oh * owp) * wt[j];
            st(d, ld(d) + u);
            if (nv == 2) st(d + 16, ld(d + 16) + v);
        }
}

void px_convt_input_grad(const px_conv_geom *g, const float *w, const int64_t *off, const float *dyT, float *dpl) {
    convt_input_grad_clones(g, w, off, dyT, dpl);
}
