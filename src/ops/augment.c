/* Image augmentation ops on (N, H, W, C) batches, random in training and the
 * identity in inference, as Keras's preprocessing layers: flips, the affine
 * family (rotation, zoom, translation: each output pixel samples the input at
 * a transformed point, with Keras's fill modes and bilinear or nearest
 * interpolation), crops, contrast and brightness. Each draws its numbers per
 * image from the run's key (ex->seed) with the counter-based generator, keeps
 * what it drew in its state, and its backward pass is the exact transpose of
 * the forward map (finite differences check it), so gradients pass through
 * as they do through Keras's layers. The draws, fill modes, taps, matrices
 * and windows are shared with the device kernels (kernels/augment_geom.h). */
#include <math.h>
#include <string.h>

#include "backend/kernels/augment_geom.h"
#include "ops/op_util.h"

enum { HEADER = PXK_AUG_HEADER };
enum { K_FLIP = PXK_AUG_FLIP, K_ROTATE, K_ZOOM, K_TRANSLATE, K_CROP, K_CONTRAST, K_BRIGHTNESS };
enum { BILINEAR = PXK_AUG_BILINEAR, NEAREST = PXK_AUG_NEAREST };
_Static_assert(PX_FILL_REFLECT == (int)PXK_FILL_REFLECT && PX_FILL_WRAP == (int)PXK_FILL_WRAP &&
                   PX_FILL_CONSTANT == (int)PXK_FILL_CONSTANT && PX_FILL_NEAREST == (int)PXK_FILL_NEAREST &&
                   PX_FLIP_HORIZONTAL == (int)PXK_FLIP_HORIZONTAL && PX_FLIP_VERTICAL == (int)PXK_FLIP_VERTICAL,
               "kernels/augment_geom.h numbers the fill and flip modes as plexus/ops.h");

/* Four uniform numbers in [0, 1) for image i of this run. */
static void draws(const px_node *n, const px_exec *ex, int64_t i, float u[4]) {
    pxk_aug_draws(ex->seed, n->iattr[3], i, u);
}

static float fill_value(const px_node *n) {
    float v;
    int32_t bits = (int32_t)n->iattr[5];
    memcpy(&v, &bits, 4);
    return v;
}

static px_status infer_image(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    char sb[96];
    if (px_node_dtype(n->inputs[0]) != PX_F32 || in[0].rank != 4)
        return px_set_error(PX_ERR_SHAPE, "%s: the input must be float32 images (batch, height, width, channels), "
                            "got %s", n->op->name, px_shape_format(in[0], sb, sizeof sb));
    *out = in[0];
    if (n->iattr[0] == K_CROP) out->dim[1] = n->iattr[6], out->dim[2] = n->iattr[7];
    *dt = PX_F32;
    return PX_OK;
}

/* Whether the forward pass changed anything (the backward pass reads it). */
static bool applied(const px_exec *ex) { return ex->state && *(const uint32_t *)ex->state; }

static void copy_through(const px_tensor *x, px_tensor *y, px_exec *ex) {
    if (ex->state) *(uint32_t *)ex->state = 0;
    int64_t count = px_tensor_size(y);
    if (count) memcpy(y->data, x->data, (size_t)count * sizeof(float));
}

static void grad_through(const px_tensor *gout, px_tensor *gin) {
    if (gin) px_accumulate(gin, gout, 1.0f, px_tensor_size(gout));
}

/* ---- sampling (the taps of a point: kernels/augment_geom.h) ----
 * A point (fy, fx) of a window (a region of the image taken as the whole
 * image: the crop box, or the image itself) reads up to four pixels; points
 * and taps outside the window follow the fill mode:
 *   reflect (d c b a | a b c d | d c b a), wrap (a b c d | a b c d),
 *   nearest (a a | a b c d | d d), constant (the fill value). */

/* out = sample(img) (forward) or gimg += sample^T(gout) (backward), one image:
 * output pixel (y, x) samples the window at a(y, x) = (b0 x + b1 y + b2, a0 x +
 * a1 y + a2) in Keras's [a0 a1 a2 b0 b1 b2] order for (x, y). */
static void sample_image(const double m[6], const pxk_aug_window *win, int fill, int interp, float fv, int64_t oh, int64_t ow,
                         int64_t c, const float *img, float *out, float *gimg, const float *gout) {
    for (int64_t y = 0; y < oh; y++)
        for (int64_t x = 0; x < ow; x++) {
            pxk_taps tp;
            pxk_aug_pixel_taps(m, win, fill, interp, y, x, &tp);
            int64_t o = (y * ow + x) * c;
            if (out) {
                for (int64_t k = 0; k < c; k++) {
                    float v = 0;
                    for (int t = 0; t < tp.n; t++) v += tp.w[t] * (tp.at[t] < 0 ? fv : img[tp.at[t] * c + k]);
                    out[o + k] = v;
                }
            } else {
                for (int t = 0; t < tp.n; t++)
                    if (tp.at[t] >= 0)
                        for (int64_t k = 0; k < c; k++) gimg[tp.at[t] * c + k] += tp.w[t] * gout[o + k];
            }
        }
}

/* ---- flip: iattr[1] mode; state: header, then one byte per image (flipped) ---- */

static size_t flip_state(const px_node *n, const px_shape *in, px_shape out) {
    (void)n, (void)out;
    return HEADER + (size_t)in[0].dim[0];
}

/* Image i of src flipped (or copied) into dst; also the gradient's transpose, as a flip is its own inverse. */
static void flip_image(const float *src, float *dst, int64_t h, int64_t w, int64_t c, bool fh, bool fv, bool add) {
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            const float *s = src + ((fv ? h - 1 - y : y) * w + (fh ? w - 1 - x : x)) * c;
            float *d = dst + (y * w + x) * c;
            for (int64_t k = 0; k < c; k++) d[k] = add ? d[k] + s[k] : s[k];
        }
}

static void flip_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    if (!ex->training) return copy_through(in[0], out, ex);
    *(uint32_t *)ex->state = 1;
    uint8_t *flips = (uint8_t *)ex->state + HEADER;
    int64_t N = in[0]->shape[0], h = in[0]->shape[1], w = in[0]->shape[2], c = in[0]->shape[3], per = h * w * c;
    int mode = (int)n->iattr[1];
    for (int64_t i = 0; i < N; i++) {
        float u[4];
        draws(n, ex, i, u);
        flips[i] = u[0] <= 0.5f; /* Keras: uniform <= 0.5; both axes flip together in horizontal_and_vertical */
    }
    const float *x = in[0]->data;
    float *y = out->data;
    PX_FOR(i, N, N * per, flip_image(x + i * per, y + i * per, h, w, c, flips[i] && mode != PX_FLIP_VERTICAL,
                                      flips[i] && mode != PX_FLIP_HORIZONTAL, false););
}

static void flip_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, const px_tensor *gout,
                          px_tensor *const *gin, px_exec *ex) {
    (void)out;
    if (!gin[0]) return;
    if (!applied(ex)) return grad_through(gout, gin[0]);
    const uint8_t *flips = (const uint8_t *)ex->state + HEADER;
    int64_t N = in[0]->shape[0], h = in[0]->shape[1], w = in[0]->shape[2], c = in[0]->shape[3], per = h * w * c;
    int mode = (int)n->iattr[1];
    const float *g = gout->data;
    float *gx = gin[0]->data;
    PX_FOR(i, N, N * per, flip_image(g + i * per, gx + i * per, h, w, c, flips[i] && mode != PX_FLIP_VERTICAL,
                                      flips[i] && mode != PX_FLIP_HORIZONTAL, true););
}

/* ---- the affine family: fattr ranges; state: header, then 6 doubles per image ---- */

static size_t affine_state(const px_node *n, const px_shape *in, px_shape out) {
    (void)n, (void)out;
    return HEADER + (size_t)in[0].dim[0] * 6 * sizeof(double);
}

/* Keras's matrix for image i (output (x, y) -> input (x', y')). */
static void affine_matrix(const px_node *n, const px_exec *ex, int64_t i, int64_t h, int64_t w, double m[6]) {
    float u[4];
    draws(n, ex, i, u);
    pxk_aug_affine((int)n->iattr[0], n->fattr, (int)n->iattr[4], u, h, w, m);
}

static void affine_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    if (!ex->training) return copy_through(in[0], out, ex);
    *(uint32_t *)ex->state = 1;
    double *mats = (double *)((char *)ex->state + HEADER);
    int64_t N = in[0]->shape[0], h = in[0]->shape[1], w = in[0]->shape[2], c = in[0]->shape[3], per = h * w * c;
    for (int64_t i = 0; i < N; i++) affine_matrix(n, ex, i, h, w, mats + 6 * i);
    pxk_aug_window win = {0, 0, h, w, w};
    int fill = (int)n->iattr[1], interp = (int)n->iattr[2];
    float fv = fill_value(n);
    const float *x = in[0]->data;
    float *y = out->data;
    PX_FOR(i, N, N * per * 4,
           sample_image(mats + 6 * i, &win, fill, interp, fv, h, w, c, x + i * per, y + i * per, NULL, NULL););
}

static void affine_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, const px_tensor *gout,
                            px_tensor *const *gin, px_exec *ex) {
    (void)out;
    if (!gin[0]) return;
    if (!applied(ex)) return grad_through(gout, gin[0]);
    const double *mats = (const double *)((const char *)ex->state + HEADER);
    int64_t N = in[0]->shape[0], h = in[0]->shape[1], w = in[0]->shape[2], c = in[0]->shape[3], per = h * w * c;
    pxk_aug_window win = {0, 0, h, w, w};
    int fill = (int)n->iattr[1], interp = (int)n->iattr[2];
    const float *g = gout->data;
    float *gx = gin[0]->data;
    PX_FOR(i, N, N * per * 4,
           sample_image(mats + 6 * i, &win, fill, interp, 0, h, w, c, NULL, NULL, gx + i * per, g + i * per););
}

/* ---- crop: iattr[6], [7] the size; state: header (1: a random crop, 2: a centred
 * crop resized), then the window (y0, x0, h, w) as int64 ---- */

static size_t crop_state(const px_node *n, const px_shape *in, px_shape out) {
    (void)n, (void)in, (void)out;
    return HEADER + 4 * sizeof(int64_t);
}

/* Keras's crop window for this run (kernels/augment_geom.h). */
static void crop_window(const px_node *n, const px_exec *ex, int64_t H, int64_t W, int64_t win[4], uint32_t *kind) {
    *kind = pxk_aug_crop_window(ex->seed, n->iattr[3], ex->training, H, W, n->iattr[6], n->iattr[7], win);
}

/* The window resized to the output: TensorFlow's half-pixel bilinear resize,
 * edges clamped to the window (or a plain copy of a window of the output's size). */
static void crop_image(const int64_t win4[4], int64_t W, int64_t oh, int64_t ow, int64_t c, const float *img, float *out,
                       float *gimg, const float *gout) {
    pxk_aug_window win = {win4[0], win4[1], win4[2], win4[3], W};
    double m[6];
    pxk_aug_crop_matrix(win4, oh, ow, m);
    sample_image(m, &win, PX_FILL_NEAREST, BILINEAR, 0, oh, ow, c, img, out, gimg, gout);
}

static void crop_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    int64_t N = in[0]->shape[0], H = in[0]->shape[1], W = in[0]->shape[2], c = in[0]->shape[3];
    int64_t oh = out->shape[1], ow = out->shape[2], per = H * W * c, oper = oh * ow * c;
    int64_t *win = (int64_t *)((char *)ex->state + HEADER);
    uint32_t kind;
    crop_window(n, ex, H, W, win, &kind);
    *(uint32_t *)ex->state = kind;
    const float *x = in[0]->data;
    float *y = out->data;
    PX_FOR(i, N, N * oper * 4, crop_image(win, W, oh, ow, c, x + i * per, y + i * oper, NULL, NULL););
}

static void crop_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, const px_tensor *gout,
                          px_tensor *const *gin, px_exec *ex) {
    (void)n;
    if (!gin[0]) return;
    int64_t N = in[0]->shape[0], H = in[0]->shape[1], W = in[0]->shape[2], c = in[0]->shape[3];
    int64_t oh = out->shape[1], ow = out->shape[2], per = H * W * c, oper = oh * ow * c;
    const int64_t *win = (const int64_t *)((const char *)ex->state + HEADER);
    const float *g = gout->data;
    float *gx = gin[0]->data;
    PX_FOR(i, N, N * oper * 4, crop_image(win, W, oh, ow, c, NULL, NULL, gx + i * per, g + i * oper););
}

/* ---- contrast and brightness: fattr lower, upper, value range; state:
 * header, one float per image, one byte per element (not clipped) ---- */

static size_t color_state(const px_node *n, const px_shape *in, px_shape out) {
    (void)n, (void)out;
    return pxk_aug_color_mask_at(in[0].dim[0]) + (size_t)px_shape_size(in[0]);
}

static float *color_factors(px_exec *ex) { return (float *)((char *)ex->state + HEADER); }
static uint8_t *color_mask(px_exec *ex, int64_t N) {
    return (uint8_t *)ex->state + pxk_aug_color_mask_at(N);
}

/* Clips y[0..count) to [lo, hi], marking the values that were inside. */
static void clip_mark(float *y, uint8_t *mask, int64_t count, float lo, float hi) {
    for (int64_t j = 0; j < count; j++) {
        float v = y[j];
        mask[j] = v >= lo && v <= hi;
        y[j] = v < lo ? lo : v > hi ? hi : v;
    }
}

static void contrast_image(const float *x, float *y, uint8_t *mask, int64_t hw, int64_t c, float f, float lo, float hi) {
    for (int64_t k = 0; k < c; k++) {
        double s = 0;
        for (int64_t p = 0; p < hw; p++) s += x[p * c + k];
        float mean = (float)(s / (double)hw);
        for (int64_t p = 0; p < hw; p++) y[p * c + k] = (x[p * c + k] - mean) * f + mean;
    }
    clip_mark(y, mask, hw * c, lo, hi);
}

static void color_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    if (!ex->training) return copy_through(in[0], out, ex);
    *(uint32_t *)ex->state = 1;
    int64_t N = in[0]->shape[0], count = px_tensor_size(in[0]), per = N ? count / N : 0;
    float *fac = color_factors(ex);
    uint8_t *mask = color_mask(ex, N);
    const float *f = n->fattr;
    bool contrast = n->iattr[0] == K_CONTRAST;
    for (int64_t i = 0; i < N; i++) {
        float u[4];
        draws(n, ex, i, u);
        fac[i] = pxk_aug_color_factor((int)n->iattr[0], f, u);
    }
    const float *x = in[0]->data;
    float *y = out->data;
    int64_t c = in[0]->shape[in[0]->rank - 1], hw = c ? per / c : 0;
    if (contrast) {
        PX_FOR(i, N, count, contrast_image(x + i * per, y + i * per, mask + i * per, hw, c, fac[i], f[2], f[3]););
    } else {
        PX_FOR(i, N, count, for (int64_t j = 0; j < per; j++) y[i * per + j] = x[i * per + j] + fac[i];
               clip_mark(y + i * per, mask + i * per, per, f[2], f[3]););
    }
}

static void color_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out, const px_tensor *gout,
                           px_tensor *const *gin, px_exec *ex) {
    (void)out;
    if (!gin[0]) return;
    if (!applied(ex)) return grad_through(gout, gin[0]);
    int64_t N = in[0]->shape[0], count = px_tensor_size(in[0]), per = N ? count / N : 0;
    int64_t c = in[0]->shape[in[0]->rank - 1], hw = c ? per / c : 0;
    const float *fac = color_factors(ex), *g = gout->data;
    const uint8_t *mask = color_mask(ex, N);
    float *gx = gin[0]->data;
    if (n->iattr[0] == K_BRIGHTNESS) {
        PX_FOR(j, count, count, if (mask[j]) gx[j] += g[j];);
        return;
    }
    /* y = f x + (1 - f) mean(x) per channel: dx = f gz + (1 - f) / HW * sum(gz) */
    PX_FOR(i, N, count,
        for (int64_t k = 0; k < c; k++) {
            double s = 0;
            for (int64_t p = 0; p < hw; p++) {
                int64_t j = i * per + p * c + k;
                if (mask[j]) s += g[j];
            }
            float shared = (float)((1.0 - fac[i]) * s / (double)hw);
            for (int64_t p = 0; p < hw; p++) {
                int64_t j = i * per + p * c + k;
                gx[j] += (mask[j] ? fac[i] * g[j] : 0.0f) + shared;
            }
        });
}

static px_status infer_any(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (n->iattr[0] == K_CONTRAST) return infer_image(n, in, out, dt);
    char sb[96];
    if (px_node_dtype(n->inputs[0]) != PX_F32 || in[0].rank < 1)
        return px_set_error(PX_ERR_SHAPE, "%s: the input must be a float32 batch, got %s", n->op->name,
                            px_shape_format(in[0], sb, sizeof sb));
    *out = in[0];
    *dt = PX_F32;
    return PX_OK;
}

static const px_op_def flip_def = {"random_flip", PX_OPF_RANDOM, infer_image, flip_state, flip_forward, flip_backward,
                                   PX_K_RANDOM_FLIP};
static const px_op_def affine_def = {"random_affine", PX_OPF_RANDOM, infer_image, affine_state, affine_forward,
                                     affine_backward, PX_K_RANDOM_AFFINE};
static const px_op_def crop_def = {"random_crop", PX_OPF_RANDOM, infer_image, crop_state, crop_forward, crop_backward,
                                   PX_K_RANDOM_CROP};
static const px_op_def color_def = {"random_color", PX_OPF_RANDOM, infer_any, color_state, color_forward,
                                    color_backward, PX_K_RANDOM_COLOR};

/* ---- constructors ---- */

static px_status check_common(const char *who, const px_augment_options *o) {
    if ((unsigned)o->fill_mode > PX_FILL_NEAREST) return px_set_error(PX_ERR_ARG, "%s: unknown fill mode %d", who, (int)o->fill_mode);
    if (!isfinite(o->fill_value)) return px_set_error(PX_ERR_ARG, "%s: fill_value %g is not finite", who, o->fill_value);
    return PX_OK;
}

static bool in_range(float lo, float hi, float min, float max) {
    return isfinite(lo) && isfinite(hi) && lo <= hi && lo >= min && hi <= max;
}

static px_node *make(const px_op_def *def, px_node *x, int kind, const px_augment_options *o, const float *f, int nf,
                     int64_t extra4, int64_t crop_h, int64_t crop_w) {
    px_augment_options d = o ? *o : (px_augment_options){0};
    int32_t bits;
    memcpy(&bits, &d.fill_value, 4);
    int64_t attr[8] = {kind, d.fill_mode, d.nearest ? NEAREST : BILINEAR, (int64_t)d.seed, extra4, bits, crop_h, crop_w};
    return px_node_make(def, &x, 1, attr, 8, f, nf);
}

px_node *px_random_flip(px_node *x, px_flip_mode mode, const px_augment_options *o) {
    if (!x) return px_null_input(__func__);
    if ((unsigned)mode > PX_FLIP_VERTICAL) {
        px_set_error(PX_ERR_ARG, "random_flip: unknown mode %d", (int)mode);
        return NULL;
    }
    px_augment_options d = o ? *o : (px_augment_options){0};
    d.fill_mode = (px_fill_mode)mode; /* iattr[1] holds the flip mode */
    return make(&flip_def, x, K_FLIP, &d, NULL, 0, 0, 0, 0);
}

px_node *px_random_rotation(px_node *x, float lower, float upper, const px_augment_options *o) {
    if (!x) return px_null_input(__func__);
    px_augment_options d = o ? *o : (px_augment_options){0};
    if (check_common("random_rotation", &d) != PX_OK) return NULL;
    if (!in_range(lower, upper, -1e6f, 1e6f)) {
        px_set_error(PX_ERR_ARG, "random_rotation: the factor range [%g, %g] must be finite and ordered", lower, upper);
        return NULL;
    }
    float f[2] = {lower, upper};
    return make(&affine_def, x, K_ROTATE, &d, f, 2, 0, 0, 0);
}

px_node *px_random_zoom(px_node *x, float h_lower, float h_upper, float w_lower, float w_upper, bool width_follows,
                        const px_augment_options *o) {
    if (!x) return px_null_input(__func__);
    px_augment_options d = o ? *o : (px_augment_options){0};
    if (check_common("random_zoom", &d) != PX_OK) return NULL;
    if (!in_range(h_lower, h_upper, -1, 1) || (!width_follows && !in_range(w_lower, w_upper, -1, 1))) {
        px_set_error(PX_ERR_ARG, "random_zoom: factor ranges [%g, %g] and [%g, %g] must be ordered within [-1, 1]",
                     h_lower, h_upper, w_lower, w_upper);
        return NULL;
    }
    float f[4] = {h_lower, h_upper, w_lower, w_upper};
    return make(&affine_def, x, K_ZOOM, &d, f, 4, width_follows, 0, 0);
}

px_node *px_random_translation(px_node *x, float h_lower, float h_upper, float w_lower, float w_upper,
                               const px_augment_options *o) {
    if (!x) return px_null_input(__func__);
    px_augment_options d = o ? *o : (px_augment_options){0};
    if (check_common("random_translation", &d) != PX_OK) return NULL;
    if (!in_range(h_lower, h_upper, -1, 1) || !in_range(w_lower, w_upper, -1, 1)) {
        px_set_error(PX_ERR_ARG, "random_translation: factor ranges [%g, %g] and [%g, %g] must be ordered within [-1, 1]",
                     h_lower, h_upper, w_lower, w_upper);
        return NULL;
    }
    float f[4] = {h_lower, h_upper, w_lower, w_upper};
    return make(&affine_def, x, K_TRANSLATE, &d, f, 4, 0, 0, 0);
}

px_node *px_random_crop(px_node *x, int height, int width, const px_augment_options *o) {
    if (!x) return px_null_input(__func__);
    if (height < 1 || width < 1) {
        px_set_error(PX_ERR_ARG, "random_crop: size %d x %d must be positive", height, width);
        return NULL;
    }
    return make(&crop_def, x, K_CROP, o, NULL, 0, 0, height, width);
}

px_node *px_random_contrast(px_node *x, float lower, float upper, float value_min, float value_max,
                            const px_augment_options *o) {
    if (!x) return px_null_input(__func__);
    if (!in_range(lower, lower, 0, 1) || !in_range(upper, upper, 0, 1e6f) || !in_range(value_min, value_max, -3e38f, 3e38f)) {
        px_set_error(PX_ERR_ARG, "random_contrast: lower %g must be in [0, 1], upper %g >= 0, value range [%g, %g] ordered",
                     lower, upper, value_min, value_max);
        return NULL;
    }
    float f[4] = {lower, upper, value_min, value_max};
    return make(&color_def, x, K_CONTRAST, o, f, 4, 0, 0, 0);
}

px_node *px_random_brightness(px_node *x, float lower, float upper, float value_min, float value_max,
                              const px_augment_options *o) {
    if (!x) return px_null_input(__func__);
    if (!in_range(lower, upper, -1, 1) || !in_range(value_min, value_max, -3e38f, 3e38f)) {
        px_set_error(PX_ERR_ARG, "random_brightness: factor range [%g, %g] must be ordered within [-1, 1], value range "
                     "[%g, %g] ordered", lower, upper, value_min, value_max);
        return NULL;
    }
    float f[4] = {lower, upper, value_min, value_max};
    return make(&color_def, x, K_BRIGHTNESS, o, f, 4, 0, 0, 0);
}
