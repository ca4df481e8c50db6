/* Pooling ops and layers: PyTorch fixtures (forward and gradients, TF "same"
 * padding), finite-difference checks, global pooling and Keras output shapes. */
#include <string.h>

#include "../data/conv_fixtures.h"
#include "fixture_check.h"
#include "gradcheck.h"
#include "px_test.h"

static px_tensor *from(px_shape s, const float *v) { return px_tensor_from_array(s, v, px_shape_size(s)); }

static bool close_to(const px_tensor *a, px_shape s, const float *want) {
    px_tensor *w = from(s, want);
    bool ok = a && px_tensor_allclose(a, w, 1e-4f, 1e-5f);
    px_tensor_free(w);
    return ok;
}

static void test_pool_against_torch(void) {
    int cases = 0;
    for (int i = 0; i < PX_CONV_FIXTURE_COUNT; i++) {
        const px_conv_fixture *f = &px_conv_fixtures[i];
        if (f->kind != PX_CFIX_MAX_POOL && f->kind != PX_CFIX_AVG_POOL) continue;
        cases++;
        px_shape xs = PX_SHAPE(f->n, f->h, f->w, f->c), ys = PX_SHAPE(f->n, f->oh, f->ow, f->c);
        px_graph *g = px_graph_new();
        px_tensor *tx = from(xs, f->x), *tr = from(ys, f->r);
        px_node *x = px_variable(g, tx, "x");
        px_padding pad = f->same ? PX_PADDING_SAME : PX_PADDING_VALID;
        px_node *y = f->kind == PX_CFIX_MAX_POOL ? px_max_pool2d(x, f->kh, f->kw, f->sh, f->sw, pad)
                                                 : px_avg_pool2d(x, f->kh, f->kw, f->sh, f->sw, pad);
        CHECK_NOT_NULL(y);
        px_node *loss = px_sum_all(px_mul(y, px_constant(g, tr)));
        px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = loss});
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        bool ok = close_to(px_session_fetch(s, 0), ys, f->y) && close_to(px_session_gradient(s, x), xs, f->dx);
        if (!ok) fprintf(stderr, "  torch fixture %s differs\n", f->name);
        CHECK(ok);
        px_session_free(s);
        px_graph_free(g);
        px_tensor_free(tx);
        px_tensor_free(tr);
    }
    CHECK(cases == 5);
}

/* MaxPooling1D / AveragePooling1D against PyTorch (TF padding rules, as above). */
static px_node *fix_pool1d(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    return strcmp(f->op, "max_pool1d") == 0 ? px_max_pool1d(v[0], f->p[0], f->p[1], (px_padding)f->p[2])
                                            : px_avg_pool1d(v[0], f->p[0], f->p[1], (px_padding)f->p[2]);
}
static void test_pool1d_against_torch(void) {
    CHECK(px_fix_check_all("max_pool1d", (const char *[]){"x"}, 1, fix_pool1d, false) == 2);
    CHECK(px_fix_check_all("avg_pool1d", (const char *[]){"x"}, 1, fix_pool1d, false) == 2);
}

typedef struct pool_case {
    int kind; /* 0 max, 1 avg, 2 global avg 2d, 3 global max 2d, 4 global avg 1d, 5 global max 1d,
               * 6 max 1d, 7 avg 1d (pool ph, stride sh) */
    int ph, pw, sh, sw;
    px_padding pad;
} pool_case;

static px_node *build_pool(px_node *const *v, void *ctx) {
    pool_case *c = ctx;
    switch (c->kind) {
    case 0: return px_max_pool2d(v[0], c->ph, c->pw, c->sh, c->sw, c->pad);
    case 1: return px_avg_pool2d(v[0], c->ph, c->pw, c->sh, c->sw, c->pad);
    case 2: return px_global_avg_pool2d(v[0]);
    case 3: return px_global_max_pool2d(v[0]);
    case 4: return px_global_avg_pool1d(v[0]);
    case 5: return px_global_max_pool1d(v[0]);
    case 6: return px_max_pool1d(v[0], c->ph, c->sh, c->pad);
    default: return px_avg_pool1d(v[0], c->ph, c->sh, c->pad);
    }
}

static void test_pool_gradcheck(void) {
    const pool_case cases[] = {
        {0, 2, 2, 0, 0, PX_PADDING_VALID}, {0, 2, 2, 0, 0, PX_PADDING_SAME}, {0, 3, 3, 2, 2, PX_PADDING_SAME},
        {0, 3, 2, 1, 1, PX_PADDING_VALID}, {1, 2, 2, 0, 0, PX_PADDING_VALID}, {1, 2, 2, 0, 0, PX_PADDING_SAME},
        {1, 3, 3, 2, 2, PX_PADDING_SAME},  {1, 2, 3, 1, 2, PX_PADDING_VALID}, {2, 0, 0, 0, 0, 0},
        {3, 0, 0, 0, 0, 0},                {4, 0, 0, 0, 0, 0},                {5, 0, 0, 0, 0, 0},
        {6, 3, 0, 2, 0, PX_PADDING_SAME},  {6, 2, 0, 0, 0, PX_PADDING_VALID}, {7, 3, 0, 1, 0, PX_PADDING_SAME},
        {7, 2, 0, 3, 0, PX_PADDING_VALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pool_case c = cases[i];
        px_shape xs = c.kind >= 4 ? PX_SHAPE(2, 7, 3) : PX_SHAPE(2, 5, 7, 3);
        /* values spread far apart compared with eps, so no maximum ties under the perturbation */
        px_tensor *x = px_gc_random(xs, -3, 3, 40 + i);
        char label[64];
        snprintf(label, sizeof label, "pool case %zu", i);
        CHECK(px_gradcheck(label, build_pool, &c, &x, 1, NULL, 1e-3, 1e-2, 1e-3) == 0);
        px_tensor_free(x);
    }
}

static void test_pool_values_and_errors(void) {
    /* 3x3 image, 2x2 average pooling with "same": windows clipped at the bottom/right edge */
    px_graph *g = px_graph_new_eager();
    const float v[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    px_tensor *t = px_tensor_from_array(PX_SHAPE(1, 3, 3, 1), v, 9);
    px_node *x = px_constant(g, t);
    px_node *a = px_avg_pool2d(x, 2, 2, 0, 0, PX_PADDING_SAME);
    px_node *m = px_max_pool2d(x, 2, 2, 1, 1, PX_PADDING_SAME);
    CHECK_NOT_NULL(a);
    CHECK_NOT_NULL(m);
    const float want_a[4] = {3, 4.5f, 7.5f, 9}, want_m[9] = {5, 6, 6, 8, 9, 9, 8, 9, 9};
    for (int i = 0; i < 4; i++) CHECK_NEAR(px_tensor_f32(px_node_value(a))[i], want_a[i], 1e-6);
    for (int i = 0; i < 9; i++) CHECK_NEAR(px_tensor_f32(px_node_value(m))[i], want_m[i], 0);
    px_node *ga = px_global_avg_pool2d(x), *gm = px_global_max_pool2d(x);
    CHECK(px_node_shape(ga).rank == 2 && px_node_shape(ga).dim[1] == 1);
    CHECK_NEAR(px_tensor_f32(px_node_value(ga))[0], 5, 1e-6);
    CHECK_NEAR(px_tensor_f32(px_node_value(gm))[0], 9, 0);
    CHECK(px_max_pool2d(x, 4, 4, 0, 0, PX_PADDING_VALID) == NULL);
    CHECK_ERROR_HAS("max_pool2d: input (1, 3, 3, 1) is smaller than the 4x4 pool");
    CHECK(px_avg_pool2d(x, 0, 2, 0, 0, PX_PADDING_VALID) == NULL);
    CHECK_ERROR_HAS("avg_pool2d: pool size (0, 2)");
    px_tensor *t3 = px_tensor_zeros(PX_SHAPE(2, 3));
    CHECK(px_global_avg_pool1d(px_constant(g, t3)) == NULL);
    CHECK_ERROR_HAS("global_avg_pool1d: input (2, 3) must be (N, L, C)");
    px_tensor_free(t3);
    px_tensor_free(t);
    px_graph_free(g);
}

static void test_pool_layers(void) {
    px_model *m = px_sequential((px_layer *[]){
        px_max_pooling2d(2, 2, &(px_pool_options){.input_shape = PX_SHAPE(7, 9, 3)}),
        px_average_pooling2d(3, 3, &(px_pool_options){.strides = {1, 2}, .padding = PX_PADDING_SAME}),
        px_max_pooling2d(2, 2, &(px_pool_options){.padding = PX_PADDING_SAME}),
        px_global_max_pooling2d(),
        NULL});
    CHECK_NOT_NULL(m);
    CHECK_OK(px_model_build(m, PX_SHAPE(7, 9, 3)));
    /* valid: floor((7 - 2) / 2) + 1 = 3, floor((9 - 2) / 2) + 1 = 4; same: ceil(n / s) */
    const int64_t want[3][2] = {{3, 4}, {3, 2}, {2, 1}};
    for (int i = 0; i < 3; i++) {
        px_shape s = px_node_shape(px_layer_output(px_model_layer(m, i)));
        CHECK(s.rank == 4 && s.dim[1] == want[i][0] && s.dim[2] == want[i][1] && s.dim[3] == 3);
        CHECK(px_layer_param_count(px_model_layer(m, i)) == 0);
    }
    px_shape gs = px_node_shape(px_layer_output(px_model_layer(m, 3)));
    CHECK(gs.rank == 2 && gs.dim[1] == 3);
    px_layer *l0 = px_model_layer(m, 0), *l1 = px_model_layer(m, 1);
    CHECK(strcmp(px_layer_name(l0), "max_pooling2d") == 0 && strcmp(px_layer_class(l0), "MaxPooling2D") == 0);
    CHECK(strcmp(px_layer_name(l1), "average_pooling2d") == 0);
    CHECK(strcmp(px_layer_name(px_model_layer(m, 3)), "global_max_pooling2d") == 0);
    int ps[2];
    px_pool_size(l1, ps);
    CHECK(ps[0] == 3 && ps[1] == 3 && px_pool_get_options(l1)->strides[1] == 2);
    CHECK(px_pool_get_options(l0)->strides[0] == 2 && px_pool_get_options(l1)->padding == PX_PADDING_SAME);
    /* a pooled batch through predict */
    px_tensor *x = px_gc_random(PX_SHAPE(5, 7, 9, 3), -1, 1, 8);
    px_tensor *y = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    CHECK(y && y->rank == 2 && y->shape[0] == 5 && y->shape[1] == 3);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);

    px_model *m2 = px_sequential((px_layer *[]){px_global_average_pooling2d(), NULL});
    CHECK_OK(px_model_build(m2, PX_SHAPE(4, 4, 6)));
    CHECK(strcmp(px_layer_class(px_model_layer(m2, 0)), "GlobalAveragePooling2D") == 0);
    CHECK(px_node_shape(px_layer_output(px_model_layer(m2, 0))).dim[1] == 6);
    px_model_free(m2);
    CHECK(px_max_pooling2d(2, -1, NULL) == NULL);
    CHECK_ERROR_HAS("MaxPooling2D: pool size (2, -1)");

    /* the 1-D poolings on (batch, steps, channels): valid floor((n - k) / s) + 1, same ceil(n / s) */
    px_model *m3 = px_sequential((px_layer *[]){
        px_max_pooling1d(3, &(px_pool_options){.strides = {2}, .input_shape = PX_SHAPE(10, 4)}),
        px_average_pooling1d(2, &(px_pool_options){.padding = PX_PADDING_SAME}), NULL});
    CHECK_OK(px_model_build(m3, PX_SHAPE(PX_UNKNOWN, 10, 4)));
    px_shape s0 = px_node_shape(px_layer_output(px_model_layer(m3, 0)));
    px_shape s1 = px_node_shape(px_layer_output(px_model_layer(m3, 1)));
    CHECK(s0.rank == 3 && s0.dim[1] == 4 && s0.dim[2] == 4);
    CHECK(s1.rank == 3 && s1.dim[1] == 2 && s1.dim[2] == 4);
    CHECK(strcmp(px_layer_name(px_model_layer(m3, 0)), "max_pooling1d") == 0);
    CHECK(strcmp(px_layer_class(px_model_layer(m3, 1)), "AveragePooling1D") == 0);
    px_pool_size(px_model_layer(m3, 1), ps);
    CHECK(ps[0] == 2 && ps[1] == 1 && px_pool_get_options(px_model_layer(m3, 1))->strides[0] == 2);
    px_model_free(m3);
    CHECK(px_average_pooling1d(0, NULL) == NULL);
    CHECK_ERROR_HAS("AveragePooling1D: pool size 0");
}

int main(void) {
    RUN_TEST(test_pool_against_torch);
    RUN_TEST(test_pool1d_against_torch);
    RUN_TEST(test_pool_gradcheck);
    RUN_TEST(test_pool_values_and_errors);
    RUN_TEST(test_pool_layers);
    return px_test_finish();
}
