/* Image augmentation ops (src/ops/augment.c) on small hand-made images: flips
 * and right-angle rotations move pixels exactly, translations by whole pixels
 * show each fill mode, zoom and crop sample where Keras's matrices say,
 * contrast and brightness keep their structure; every op is the identity in
 * inference, repeats with the same seed, and its gradient matches central
 * finite differences in training (with the draws held fixed). */
#include <string.h>

#include "px_test.h"

typedef px_node *(*aug_fn)(px_node *x, const void *arg);

/* Runs y = fn(x) once (training or not) with the graph seeded, returning a copy of y. */
static px_tensor *run_once(aug_fn fn, const void *arg, const px_tensor *x, bool training, uint64_t seed) {
    px_graph *g = px_graph_new();
    px_graph_set_seed(g, seed);
    px_node *v = px_variable(g, x, "x");
    px_node *y = fn(v, arg);
    px_tensor *out = NULL;
    if (y) {
        px_session *s = px_session_new(g, &y, 1, &(px_session_options){.training = training});
        if (s && px_session_run(s, NULL, 0, NULL) == PX_OK) out = px_tensor_copy(px_session_fetch(s, 0));
        px_session_free(s);
    }
    px_graph_free(g);
    return out;
}

/* (n, h, w, c) from values */
static px_tensor *img(int64_t n, int64_t h, int64_t w, int64_t c, const float *v) {
    return px_tensor_from_array(PX_SHAPE(n, h, w, c), v, n * h * w * c);
}

static float at(const px_tensor *t, int64_t i, int64_t y, int64_t x, int64_t k) {
    return px_tensor_f32(t)[((i * t->shape[1] + y) * t->shape[2] + x) * t->shape[3] + k];
}

/* ---- the ops with their arguments ---- */

typedef struct aff_arg {
    int kind; /* 0 rotation, 1 zoom, 2 translation */
    float a, b, c, d;
    bool follows;
    px_augment_options o;
} aff_arg;

static px_node *aff(px_node *x, const void *p) {
    const aff_arg *a = p;
    if (a->kind == 0) return px_random_rotation(x, a->a, a->b, &a->o);
    if (a->kind == 1) return px_random_zoom(x, a->a, a->b, a->c, a->d, a->follows, &a->o);
    return px_random_translation(x, a->a, a->b, a->c, a->d, &a->o);
}
static px_node *flip_h(px_node *x, const void *p) { (void)p; return px_random_flip(x, PX_FLIP_HORIZONTAL, NULL); }
static px_node *flip_hv(px_node *x, const void *p) { (void)p; return px_random_flip(x, PX_FLIP_HORIZONTAL_AND_VERTICAL, NULL); }
static px_node *crop4(px_node *x, const void *p) { (void)p; return px_random_crop(x, 4, 4, NULL); }
static px_node *crop_wide(px_node *x, const void *p) { (void)p; return px_random_crop(x, 2, 4, NULL); }
static px_node *contrast(px_node *x, const void *p) { (void)p; return px_random_contrast(x, 0.5f, 0.5f, -1e6f, 1e6f, NULL); }
static px_node *contrast_clip(px_node *x, const void *p) { (void)p; return px_random_contrast(x, 0.9f, 2.0f, 0, 255, NULL); }
static px_node *contrast_clip1(px_node *x, const void *p) { (void)p; return px_random_contrast(x, 0.9f, 2.0f, 0, 2.55f, NULL); }
static px_node *bright(px_node *x, const void *p) { (void)p; return px_random_brightness(x, -0.5f, 0.5f, -1e3f, 1e3f, NULL); }
static px_node *bright_small(px_node *x, const void *p) { (void)p; return px_random_brightness(x, -0.2f, 0.2f, -20, 20, NULL); }
static px_node *bright_clip(px_node *x, const void *p) { (void)p; return px_random_brightness(x, -0.5f, 0.5f, 0, 1, NULL); }

static void test_flip(void) {
    enum { N = 64 };
    float v[N * 2 * 3];
    for (int i = 0; i < N * 6; i++) v[i] = (float)i;
    px_tensor *x = img(N, 2, 3, 1, v);
    px_tensor *y = run_once(flip_h, NULL, x, true, 3);
    int flipped = 0, kept = 0, other = 0;
    for (int i = 0; y && i < N; i++) {
        bool same = true, mirror = true;
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 3; c++) {
                same &= at(y, i, r, c, 0) == at(x, i, r, c, 0);
                mirror &= at(y, i, r, c, 0) == at(x, i, r, 2 - c, 0);
            }
        flipped += mirror, kept += same, other += !same && !mirror;
    }
    CHECK(other == 0 && flipped + kept == N);
    CHECK(flipped > N / 4 && kept > N / 4); /* about half each */
    px_tensor_free(y);
    /* horizontal and vertical: both axes or neither (a half turn or nothing) */
    y = run_once(flip_hv, NULL, x, true, 4);
    other = flipped = 0;
    for (int i = 0; y && i < N; i++) {
        bool same = true, turned = true;
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 3; c++) {
                same &= at(y, i, r, c, 0) == at(x, i, r, c, 0);
                turned &= at(y, i, r, c, 0) == at(x, i, 1 - r, 2 - c, 0);
            }
        other += !same && !turned;
        flipped += turned;
    }
    CHECK(other == 0 && flipped > 0 && flipped < N);
    px_tensor_free(y);
    px_tensor_free(x);
}

/* Output (x, y) reads input (cx + cos (x - cx) - sin (y - cy), cy + sin (x - cx)
 * + cos (y - cy)): a quarter turn of a square image moves every pixel exactly. */
static void test_rotation_exact(void) {
    for (int n = 3; n <= 4; n++) {
        float v[16 * 2];
        for (int i = 0; i < n * n * 2; i++) v[i] = (float)(i * 3 + 1);
        px_tensor *x = img(1, n, n, 2, v);
        float turns[3] = {0.25f, -0.25f, 0.5f};
        for (int t = 0; t < 3; t++) {
            aff_arg a = {0, turns[t], turns[t], .o = {.fill_mode = PX_FILL_CONSTANT, .fill_value = -7}};
            px_tensor *y = run_once(aff, &a, x, true, 1);
            bool exact = y != NULL;
            for (int r = 0; exact && r < n; r++)
                for (int c = 0; c < n; c++)
                    for (int k = 0; k < 2; k++) {
                        int sr, sc; /* the source pixel */
                        if (t == 0) sr = c, sc = n - 1 - r;
                        else if (t == 1) sr = n - 1 - c, sc = r;
                        else sr = n - 1 - r, sc = n - 1 - c;
                        exact &= at(y, 0, r, c, k) == at(x, 0, sr, sc, k);
                    }
            CHECK(exact);
            px_tensor_free(y);
        }
        px_tensor_free(x);
    }
}

/* A shift by whole pixels shows each fill mode on a row [1 2 3 4]. */
static void test_fill_modes(void) {
    float v[4] = {1, 2, 3, 4};
    px_tensor *x = img(1, 1, 4, 1, v);
    /* a width factor of 0.25 (or 0.5) of 4 pixels: 1 (or 2) to the right */
    struct {
        px_fill_mode mode;
        float one[4], two[4];
    } cases[4] = {
        {PX_FILL_REFLECT, {1, 1, 2, 3}, {2, 1, 1, 2}},
        {PX_FILL_WRAP, {4, 1, 2, 3}, {3, 4, 1, 2}},
        {PX_FILL_NEAREST, {1, 1, 2, 3}, {1, 1, 1, 2}},
        {PX_FILL_CONSTANT, {9, 1, 2, 3}, {9, 9, 1, 2}},
    };
    for (int m = 0; m < 4; m++)
        for (int s = 1; s <= 2; s++) {
            float f = 0.25f * (float)s;
            aff_arg a = {2, 0, 0, f, f, .o = {.fill_mode = cases[m].mode, .fill_value = 9}};
            px_tensor *y = run_once(aff, &a, x, true, 2);
            const float *want = s == 1 ? cases[m].one : cases[m].two;
            for (int i = 0; y && i < 4; i++) CHECK(px_tensor_f32(y)[i] == want[i]);
            px_tensor_free(y);
            a.o.nearest = true;
            y = run_once(aff, &a, x, true, 2);
            for (int i = 0; y && i < 4; i++) CHECK(px_tensor_f32(y)[i] == want[i]);
            px_tensor_free(y);
        }
    /* half a pixel, bilinear: the mean of neighbours; nearest rounds up at .5 */
    aff_arg a = {2, 0, 0, 0.125f, 0.125f, .o = {.fill_mode = PX_FILL_NEAREST}};
    px_tensor *y = run_once(aff, &a, x, true, 2);
    float want[4] = {1, 1.5f, 2.5f, 3.5f};
    for (int i = 0; y && i < 4; i++) CHECK_NEAR(px_tensor_f32(y)[i], want[i], 1e-6);
    px_tensor_free(y);
    px_tensor_free(x);
}

/* Zoom out by 2 about the centre of a row of 5: output x reads input 2x - 2. */
static void test_zoom(void) {
    float v[5] = {10, 20, 30, 40, 50};
    px_tensor *x = img(1, 1, 5, 1, v);
    aff_arg a = {1, 0, 0, 1, 1, false, {.fill_mode = PX_FILL_CONSTANT, .fill_value = 0}};
    px_tensor *y = run_once(aff, &a, x, true, 1);
    float want[5] = {0, 10, 30, 50, 0};
    for (int i = 0; y && i < 5; i++) CHECK_NEAR(px_tensor_f32(y)[i], want[i], 1e-5);
    px_tensor_free(y);
    /* zoom in by half: input 0.5 x + 1 */
    a = (aff_arg){1, 0, 0, -0.5f, -0.5f, false, {0}};
    y = run_once(aff, &a, x, true, 1);
    float in[5] = {20, 25, 30, 35, 40};
    for (int i = 0; y && i < 5; i++) CHECK_NEAR(px_tensor_f32(y)[i], in[i], 1e-5);
    px_tensor_free(y);
    px_tensor_free(x);
}

static void test_crop(void) {
    float v[2 * 6 * 6];
    for (int i = 0; i < 72; i++) v[i] = (float)i;
    px_tensor *x = img(2, 6, 6, 1, v);
    /* training on larger images: one window of the input, the same for both images */
    px_tensor *y = run_once(crop4, NULL, x, true, 5);
    CHECK(y && y->shape[1] == 4 && y->shape[2] == 4);
    int64_t y0 = -1, x0 = -1;
    for (int64_t a = 0; y && a <= 2; a++)
        for (int64_t b = 0; b <= 2; b++)
            if (at(y, 0, 0, 0, 0) == at(x, 0, a, b, 0)) y0 = a, x0 = b;
    bool window = y0 >= 0;
    for (int i = 0; window && i < 2; i++)
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) window &= at(y, i, r, c, 0) == at(x, i, y0 + r, x0 + c, 0);
    CHECK(window);
    px_tensor_free(y);
    /* inference: the centred window of the target's shape, resized (6 -> 4: source
     * positions 0.25, 1.75, 3.25, 4.75) */
    y = run_once(crop4, NULL, x, false, 5);
    double pos[4] = {0.25, 1.75, 3.25, 4.75};
    for (int r = 0; y && r < 4; r++)
        for (int c = 0; c < 4; c++) {
            double want = 6 * pos[r] + pos[c]; /* the image is linear: v = 6 row + col */
            CHECK_NEAR(at(y, 0, r, c, 0), want, 1e-4);
        }
    px_tensor_free(y);
    /* another aspect ratio: 6 x 6 to 2 x 4 keeps a centred 3 x 6 band (rows 1..3) */
    y = run_once(crop_wide, NULL, x, false, 5);
    for (int c = 0; y && c < 4; c++) {
        double sx = (c + 0.5) * 1.5 - 0.5, sy0 = 1 + 0.25, sy1 = 1 + 1.75; /* 3 rows -> 2 */
        CHECK_NEAR(at(y, 0, 0, c, 0), 6 * sy0 + sx, 1e-4);
        CHECK_NEAR(at(y, 0, 1, c, 0), 6 * sy1 + sx, 1e-4);
    }
    px_tensor_free(y);
    px_tensor_free(x);
}

static void test_color(void) {
    enum { N = 6 };
    px_tensor *x = px_tensor_random_uniform(PX_SHAPE(N, 3, 4, 2), 10, 200, &(px_rng){5, 7});
    px_tensor *y = run_once(contrast, NULL, x, true, 8);
    bool ok = y != NULL;
    double lo = 1e9, hi = -1e9;
    for (int i = 0; ok && i < N; i++) {
        double f = -1;
        for (int k = 0; k < 2; k++) {
            double mx = 0, my = 0;
            for (int p = 0; p < 12; p++) mx += at(x, i, p / 4, p % 4, k), my += at(y, i, p / 4, p % 4, k);
            mx /= 12, my /= 12;
            ok &= fabs(mx - my) < 1e-3; /* the channel mean stays */
            double fk = (at(y, i, 0, 0, k) - my) / (at(x, i, 0, 0, k) - mx);
            if (f < 0) f = fk;
            ok &= fabs(fk - f) < 1e-3; /* one factor per image, every channel */
            for (int p = 1; p < 12; p++)
                ok &= fabs((at(y, i, p / 4, p % 4, k) - my) - f * (at(x, i, p / 4, p % 4, k) - mx)) < 1e-3;
        }
        lo = f < lo ? f : lo, hi = f > hi ? f : hi;
    }
    CHECK(ok);
    CHECK(lo >= 0.5 && hi <= 1.5 && hi - lo > 0.05);
    px_tensor_free(y);
    y = run_once(contrast_clip, NULL, x, true, 8);
    for (int64_t j = 0; y && j < px_tensor_size(y); j++) CHECK(px_tensor_f32(y)[j] >= 0 && px_tensor_f32(y)[j] <= 255);
    px_tensor_free(y);
    y = run_once(bright, NULL, x, true, 9);
    for (int i = 0; y && i < N; i++) {
        float d = at(y, i, 0, 0, 0) - at(x, i, 0, 0, 0);
        CHECK(fabsf(d) <= 0.5f * 2000 + 1e-3f);
        bool same = true;
        for (int p = 0; p < 24; p++) same &= fabsf(px_tensor_f32(y)[i * 24 + p] - px_tensor_f32(x)[i * 24 + p] - d) < 1e-3f;
        CHECK(same);
    }
    px_tensor_free(y);
    px_tensor_free(x);
}

/* In inference every op but the crop (which resizes) gives its input back. */
static void test_identity_in_inference(void) {
    px_tensor *x = px_tensor_random_uniform(PX_SHAPE(3, 5, 4, 3), 0, 255, &(px_rng){1, 3});
    aff_arg r = {.kind = 0, .a = -0.3f, .b = 0.3f}, z = {.kind = 1, .a = -0.2f, .b = 0.4f, .follows = true},
            t = {.kind = 2, .a = -0.2f, .b = 0.2f, .c = -0.1f, .d = 0.3f};
    struct {
        aug_fn fn;
        const void *arg;
    } ops[] = {{flip_h, NULL}, {flip_hv, NULL}, {aff, &r}, {aff, &z}, {aff, &t}, {contrast, NULL}, {bright_clip, NULL}};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        px_tensor *y = run_once(ops[k].fn, ops[k].arg, x, false, 1);
        CHECK(y && px_tensor_equal(x, y));
        px_tensor_free(y);
        /* training with one seed twice: the same result; another seed: another */
        px_tensor *a = run_once(ops[k].fn, ops[k].arg, x, true, 11), *b = run_once(ops[k].fn, ops[k].arg, x, true, 11);
        px_tensor *c = run_once(ops[k].fn, ops[k].arg, x, true, 12);
        CHECK(a && b && px_tensor_equal(a, b));
        CHECK(a && c && !px_tensor_equal(a, c));
        px_tensor_free(a);
        px_tensor_free(b);
        px_tensor_free(c);
    }
    /* a crop to the input's own size is the identity in inference */
    px_tensor *sq = px_tensor_random_uniform(PX_SHAPE(2, 4, 4, 1), 0, 1, &(px_rng){2, 3});
    px_tensor *y = run_once(crop4, NULL, sq, false, 1);
    CHECK(y && px_tensor_equal(sq, y));
    px_tensor_free(y);
    px_tensor_free(sq);
    px_tensor_free(x);
}

/* d sum(y * R) / dx in training, the draws held fixed (the graph reseeded each run),
 * against central differences. */
static int grad_errors_eps(aug_fn fn, const void *arg, px_shape shape, float lo, float hi, double tol, double eps) {
    px_tensor *x0 = px_tensor_random_uniform(shape, lo, hi, &(px_rng){21, 5});
    px_graph *g = px_graph_new();
    px_node *v = px_variable(g, x0, "x");
    px_node *y = fn(v, arg);
    px_tensor *R = px_tensor_random_uniform(px_node_shape(y), -1, 1, &(px_rng){22, 9});
    px_node *loss = px_sum_all(px_mul(y, px_constant(g, R)));
    px_session *s = px_session_new(g, &loss, 1, &(px_session_options){.loss = loss, .training = true});
    int bad = 0;
    px_graph_set_seed(g, 99);
    if (!s || px_session_run(s, NULL, 0, NULL) != PX_OK) bad = 1000;
    px_tensor *grad = bad ? NULL : px_tensor_copy(px_session_gradient(s, v));
    float *xv = px_tensor_f32(px_node_value(v));
    for (int64_t i = 0; !bad && i < px_tensor_size(x0); i++) {
        float keep = xv[i];
        double f[2];
        for (int k = 0; k < 2; k++) {
            xv[i] = keep + (float)(k ? eps : -eps);
            px_graph_set_seed(g, 99);
            px_session_run(s, NULL, 0, NULL);
            f[k] = px_tensor_f32(px_session_fetch(s, 0))[0];
        }
        xv[i] = keep;
        double fd = (f[1] - f[0]) / (2 * eps), an = px_tensor_f32(grad)[i];
        if (fabs(fd - an) > tol * (1 + fabs(fd))) {
            if (bad < 5) printf("  x[%lld]: analytic %.6g, finite difference %.6g\n", (long long)i, an, fd);
            bad++;
        }
    }
    px_tensor_free(grad);
    px_tensor_free(R);
    px_tensor_free(x0);
    px_session_free(s);
    px_graph_free(g);
    return bad;
}

static int grad_errors(aug_fn fn, const void *arg, px_shape shape, float lo, float hi, double tol) {
    return grad_errors_eps(fn, arg, shape, lo, hi, tol, 1e-2);
}

static void test_gradients(void) {
    aff_arg r = {0, -0.2f, 0.2f, .o = {.fill_mode = PX_FILL_REFLECT}};
    aff_arg rc = {0, -0.2f, 0.2f, .o = {.fill_mode = PX_FILL_CONSTANT, .fill_value = 3}};
    aff_arg rw = {0, 0.1f, 0.3f, .o = {.fill_mode = PX_FILL_WRAP}};
    aff_arg rn = {0, -0.2f, 0.2f, .o = {.fill_mode = PX_FILL_NEAREST, .nearest = true}};
    aff_arg z = {1, -0.3f, 0.3f, -0.2f, 0.5f, false, {.fill_mode = PX_FILL_NEAREST}};
    aff_arg t = {2, -0.3f, 0.3f, -0.3f, 0.3f, false, {.fill_mode = PX_FILL_REFLECT}};
    px_shape s = PX_SHAPE(3, 5, 6, 2);
    CHECK(grad_errors(flip_h, NULL, s, -1, 1, 1e-3) == 0);
    CHECK(grad_errors(flip_hv, NULL, s, -1, 1, 1e-3) == 0);
    CHECK(grad_errors(aff, &r, s, -1, 1, 1e-3) == 0);
    CHECK(grad_errors(aff, &rc, s, -1, 1, 1e-3) == 0);
    CHECK(grad_errors(aff, &rw, s, -1, 1, 1e-3) == 0);
    CHECK(grad_errors(aff, &rn, s, -1, 1, 1e-3) == 0);
    CHECK(grad_errors(aff, &z, s, -1, 1, 1e-3) == 0);
    CHECK(grad_errors(aff, &t, s, -1, 1, 1e-3) == 0);
    CHECK(grad_errors(crop4, NULL, PX_SHAPE(2, 6, 7, 2), -1, 1, 1e-3) == 0);   /* a random window */
    CHECK(grad_errors(crop4, NULL, PX_SHAPE(2, 3, 5, 2), -1, 1, 1e-3) == 0);   /* centred and resized */
    CHECK(grad_errors(contrast, NULL, s, -1, 1, 1e-3) == 0);
    CHECK(grad_errors(bright_small, NULL, s, -1, 1, 1e-3) == 0);
    /* clipping: away from the bounds the gradient passes or stops */
    CHECK(grad_errors_eps(contrast_clip1, NULL, s, 0.2f, 2.3f, 2e-3, 1e-3) == 0);
}

static void test_errors(void) {
    px_graph *g = px_graph_new();
    px_node *flat = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 10), "flat");
    CHECK(px_random_flip(flat, PX_FLIP_HORIZONTAL, NULL) == NULL);
    CHECK_ERROR_HAS("(batch, height, width, channels)");
    px_node *im = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 4, 4, 3), "im");
    CHECK(px_random_rotation(im, 0.2f, 0.1f, NULL) == NULL);
    CHECK(px_random_zoom(im, -2, 0, 0, 0, true, NULL) == NULL);
    CHECK(px_random_crop(im, 0, 3, NULL) == NULL);
    CHECK(px_random_contrast(im, 1.5f, 1, 0, 255, NULL) == NULL);
    CHECK(px_random_brightness(im, -0.1f, 0.1f, 5, 1, NULL) == NULL);
    CHECK(px_random_flip(im, (px_flip_mode)7, NULL) == NULL);
    CHECK(px_random_translation(im, 0, 0, 0, 0, &(px_augment_options){.fill_mode = (px_fill_mode)9}) == NULL);
    CHECK(px_random_crop(im, 2, 2, NULL) != NULL);
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_flip);
    RUN_TEST(test_rotation_exact);
    RUN_TEST(test_fill_modes);
    RUN_TEST(test_zoom);
    RUN_TEST(test_crop);
    RUN_TEST(test_color);
    RUN_TEST(test_identity_in_inference);
    RUN_TEST(test_gradients);
    RUN_TEST(test_errors);
    return px_test_finish();
}
