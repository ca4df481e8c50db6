/* Internal: what the image augmentation ops (src/ops/augment.c) and their
 * device kernels (augment_ops.h) share, so both draw and sample alike: the
 * per-image draws from the run's key, Keras's fill modes, the taps of a
 * sampled point, the affine matrices and the crop window. */
#ifndef PX_BACKEND_KERNELS_AUGMENT_GEOM_H
#define PX_BACKEND_KERNELS_AUGMENT_GEOM_H

#include "backend/kernels/philox.h"

/* iattr: [0] kind, [1] fill mode (the flip mode for flips), [2] interpolation,
 * [3] seed (the layer's), [4] zoom: width follows height, [5] fill value's
 * bits, [6], [7] crop size. State: a 16-byte header (u32: whether the forward
 * pass changed anything; crops: 1 random, 2 centred), then what it drew. */
enum { PXK_AUG_FLIP, PXK_AUG_ROTATE, PXK_AUG_ZOOM, PXK_AUG_TRANSLATE, PXK_AUG_CROP, PXK_AUG_CONTRAST, PXK_AUG_BRIGHTNESS };
enum { PXK_AUG_BILINEAR, PXK_AUG_NEAREST };
/* Keras's fill modes and flip modes, in the order of px_fill_mode and
 * px_flip_mode (plexus/ops.h, checked in ops/augment.c). */
enum { PXK_FILL_REFLECT, PXK_FILL_WRAP, PXK_FILL_CONSTANT, PXK_FILL_NEAREST };
enum { PXK_FLIP_BOTH, PXK_FLIP_HORIZONTAL, PXK_FLIP_VERTICAL };
enum { PXK_AUG_HEADER = 16 };

/* Four uniform numbers in [0, 1) for image i of the run `seed`, for the
 * layer's own seed: independent of the thread count and of the other images. */
PXK_FN void pxk_aug_draws(uint64_t seed, int64_t layer_seed, int64_t i, float u[4]) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)i, (uint32_t)((uint64_t)i >> 32), (uint32_t)layer_seed, 0xa09e667fu};
    uint32_t w[4];
    pxk_philox4x32(ctr, key, w);
    for (int k = 0; k < 4; k++) u[k] = pxk_to_uniform(w[k]);
}

/* A region of the image taken as the whole image (the crop box, or the image). */
typedef struct pxk_aug_window {
    int64_t y0, x0, h, w; /* in the image of width img_w */
    int64_t img_w;
} pxk_aug_window;

/* The pixels a point reads: numbers in the image (y * img_w + x), or -1 for the fill value. */
typedef struct pxk_taps {
    int64_t at[4];
    float w[4];
    int n;
} pxk_taps;

/* Index i along an axis of n under the fill mode, or -1 (the constant). */
PXK_FN int64_t pxk_fill_index(int64_t i, int64_t n, int mode) {
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case PXK_FILL_REFLECT: {
        int64_t p = 2 * n, m = ((i % p) + p) % p;
        return m < n ? m : p - 1 - m;
    }
    case PXK_FILL_WRAP: return ((i % n) + n) % n;
    case PXK_FILL_NEAREST: return i < 0 ? 0 : n - 1;
    default: return -1;
    }
}

/* A coordinate's lower neighbour and weight; within 1e-6 of a pixel centre it
 * is that pixel exactly, so rotations by right angles move pixels exactly. */
PXK_FN void pxk_aug_split(double f, int64_t *lo, float *t) {
    double fl = floor(f), r = f - fl;
    if (r < 1e-6) r = 0;
    else if (r > 1 - 1e-6) r = 0, fl += 1;
    *lo = (int64_t)fl;
    *t = (float)r;
}

PXK_FN void pxk_aug_taps(double fy, double fx, const pxk_aug_window *win, int fill, int interp, pxk_taps *tp) {
    tp->n = 0;
    if (interp == PXK_AUG_NEAREST) {
        int64_t y = pxk_fill_index((int64_t)floor(fy + 0.5), win->h, fill);
        int64_t x = pxk_fill_index((int64_t)floor(fx + 0.5), win->w, fill);
        tp->at[0] = y < 0 || x < 0 ? -1 : (win->y0 + y) * win->img_w + win->x0 + x;
        tp->w[0] = 1;
        tp->n = 1;
        return;
    }
    int64_t ly, lx;
    float ty, tx;
    pxk_aug_split(fy, &ly, &ty);
    pxk_aug_split(fx, &lx, &tx);
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            float w = (dy ? ty : 1 - ty) * (dx ? tx : 1 - tx);
            if (w == 0) continue;
            int64_t y = pxk_fill_index(ly + dy, win->h, fill), x = pxk_fill_index(lx + dx, win->w, fill);
            tp->at[tp->n] = y < 0 || x < 0 ? -1 : (win->y0 + y) * win->img_w + win->x0 + x;
            tp->w[tp->n++] = w;
        }
}

/* The taps of output pixel (y, x) under m: it samples the window at
 * (b0 x + b1 y + b2, a0 x + a1 y + a2), Keras's [a0 a1 a2 b0 b1 b2] order for (x, y). */
PXK_FN void pxk_aug_pixel_taps(const double m[6], const pxk_aug_window *win, int fill, int interp, int64_t y, int64_t x,
                               pxk_taps *tp) {
    double fx = m[0] * (double)x + m[1] * (double)y + m[2];
    double fy = m[3] * (double)x + m[4] * (double)y + m[5];
    pxk_aug_taps(fy, fx, win, fill, interp, tp);
}

/* Keras's matrix for one image of an affine op (output (x, y) -> input (x', y')):
 * kind, the factor ranges f, width following height, the image's draws u. */
PXK_FN void pxk_aug_affine(int kind, const float *f, int width_follows, const float u[4], int64_t h, int64_t w,
                           double m[6]) {
    for (int k = 0; k < 6; k++) m[k] = 0;
    m[0] = m[4] = 1;
    double cx = 0.5 * (double)(w - 1), cy = 0.5 * (double)(h - 1);
    if (kind == PXK_AUG_ROTATE) {
        /* factor is a fraction of a full turn; positive turns counter-clockwise */
        double deg = (f[0] + u[0] * (f[1] - f[0])) * 360.0, a = deg * (3.14159265358979323846 / 180.0);
        double co = cos(a), si = sin(a);
        m[0] = co, m[1] = -si, m[2] = cx - cx * co + cy * si;
        m[3] = si, m[4] = co, m[5] = cy - cx * si - cy * co;
    } else if (kind == PXK_AUG_ZOOM) {
        /* above 1 zooms out; width follows height when no width factor is given */
        double zy = 1.0 + f[0] + u[0] * (f[1] - f[0]);
        double zx = width_follows ? zy : 1.0 + f[2] + u[1] * (f[3] - f[2]);
        m[0] = zx, m[2] = cx * (1.0 - zx);
        m[4] = zy, m[5] = cy * (1.0 - zy);
    } else { /* PXK_AUG_TRANSLATE: fractions of the height and width */
        double dy = (f[0] + u[0] * (f[1] - f[0])) * (double)h, dx = (f[2] + u[1] * (f[3] - f[2])) * (double)w;
        m[2] = -dx, m[5] = -dy;
    }
}

/* Keras: a random window (th, tw) (the same for the whole batch) when training
 * on larger images; otherwise the largest centred window of the target's
 * aspect ratio, resized to the target. win: y0, x0, h, w; returns the state's
 * kind (1 random, 2 centred). */
PXK_FN uint32_t pxk_aug_crop_window(uint64_t seed, int64_t layer_seed, int training, int64_t H, int64_t W, int64_t th,
                                    int64_t tw, int64_t win[4]) {
    if (training && H > th && W > tw) {
        float u[4];
        pxk_aug_draws(seed, layer_seed, 0, u);
        win[0] = (int64_t)(u[0] * (float)(H - th + 1));
        win[1] = (int64_t)(u[1] * (float)(W - tw + 1));
        if (win[0] > H - th) win[0] = H - th;
        if (win[1] > W - tw) win[1] = W - tw;
        win[2] = th, win[3] = tw;
        return 1;
    }
    int64_t ch = (int64_t)((double)(W * th) / (double)tw), cw = (int64_t)((double)(H * tw) / (double)th);
    ch = ch > H ? H : ch < 1 ? 1 : ch;
    cw = cw > W ? W : cw < 1 ? 1 : cw;
    win[0] = (H - ch) / 2, win[1] = (W - cw) / 2, win[2] = ch, win[3] = cw;
    return 2;
}

/* The crop window resized to (oh, ow): TensorFlow's half-pixel bilinear
 * resize, x' = (x + 0.5) sx - 0.5 within the window, edges clamped. */
PXK_FN void pxk_aug_crop_matrix(const int64_t win[4], int64_t oh, int64_t ow, double m[6]) {
    double sy = (double)win[2] / (double)oh, sx = (double)win[3] / (double)ow;
    m[0] = sx, m[1] = 0, m[2] = 0.5 * sx - 0.5, m[3] = 0, m[4] = sy, m[5] = 0.5 * sy - 0.5;
}

/* The factor of a color op for one image: contrast in [1 - lower, 1 + upper];
 * brightness a shift in the value range's units. f: lower, upper, min, max. */
PXK_FN float pxk_aug_color_factor(int kind, const float *f, const float u[4]) {
    if (kind == PXK_AUG_CONTRAST) return 1.0f - f[0] + u[0] * (f[0] + f[1]);
    return (f[0] + u[0] * (f[1] - f[0])) * (f[3] - f[2]);
}

/* The offset of the per-element mask in a color op's state (after the header and N factors). */
PXK_FN size_t pxk_aug_color_mask_at(int64_t n) { return PXK_AUG_HEADER + ((size_t)n * sizeof(float) + 15) / 16 * 16; }

#endif
