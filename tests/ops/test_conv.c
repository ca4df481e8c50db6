/* Convolution ops and layers: PyTorch fixtures (forward and gradients),
 * finite-difference checks over paddings, strides and dilations, Keras output
 * shapes and parameter counts, and a small ConvNet learning the digits. */
#include <stdlib.h>
#include <string.h>

#include "../data/conv_fixtures.h"
#include "backend/cpu/conv_kernels.h"
#include "fixture_check.h"
#include "gradcheck.h"
#include "px_test.h"

static px_tensor *from(px_shape s, const float *v) { return px_tensor_from_array(s, v, px_shape_size(s)); }

/* |a - b| <= 1e-4 * |b| + 1e-5 elementwise (1e-4 relative, with a floor near zero). */
static bool close_to(const px_tensor *a, px_shape s, const float *want) {
    px_tensor *w = from(s, want);
    bool ok = a && px_tensor_allclose(a, w, 1e-4f, 1e-5f);
    px_tensor_free(w);
    return ok;
}

static void test_conv_against_torch(void) {
    int cases = 0;
    for (int i = 0; i < PX_CONV_FIXTURE_COUNT; i++) {
        const px_conv_fixture *f = &px_conv_fixtures[i];
        if (f->kind != PX_CFIX_CONV2D && f->kind != PX_CFIX_CONV1D) continue;
        cases++;
        bool one = f->kind == PX_CFIX_CONV1D;
        px_shape xs = one ? PX_SHAPE(f->n, f->w, f->c) : PX_SHAPE(f->n, f->h, f->w, f->c);
        px_shape ks = one ? PX_SHAPE(f->kw, f->c, f->f) : PX_SHAPE(f->kh, f->kw, f->c, f->f);
        px_shape ys = one ? PX_SHAPE(f->n, f->ow, f->f) : PX_SHAPE(f->n, f->oh, f->ow, f->f);
        px_graph *g = px_graph_new();
        px_tensor *tx = from(xs, f->x), *tk = from(ks, f->k), *tr = from(ys, f->r);
        px_tensor *tb = f->b ? from(PX_SHAPE(f->f), f->b) : NULL;
        px_node *x = px_variable(g, tx, "x"), *k = px_variable(g, tk, "k"), *b = tb ? px_variable(g, tb, "b") : NULL;
        px_padding pad = f->same ? PX_PADDING_SAME : PX_PADDING_VALID;
        px_node *y = one ? px_conv1d_bias(x, k, b, f->sw, pad, f->dw)
                   : b   ? px_conv2d_bias(x, k, b, f->sh, f->sw, pad, f->dh, f->dw)
                         : px_conv2d(x, k, f->sh, f->sw, pad, f->dh, f->dw);
        CHECK_NOT_NULL(y);
        px_node *loss = px_sum_all(px_mul(y, px_constant(g, tr)));
        px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = loss});
        CHECK_NOT_NULL(s);
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        bool ok = close_to(px_session_fetch(s, 0), ys, f->y) && close_to(px_session_gradient(s, x), xs, f->dx) &&
                  close_to(px_session_gradient(s, k), ks, f->dk) &&
                  (!b || close_to(px_session_gradient(s, b), PX_SHAPE(f->f), f->db));
        if (!ok) fprintf(stderr, "  torch fixture %s differs\n", f->name);
        CHECK(ok);
        px_session_free(s);
        px_graph_free(g);
        px_tensor_free(tx), px_tensor_free(tk), px_tensor_free(tr), px_tensor_free(tb);
    }
    CHECK(cases == 9);
}

/* Conv1D with causal padding (dilation and strides too) against PyTorch. */
static px_node *fix_conv1d(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    return px_conv1d_bias(v[0], v[1], v[2], f->p[0], (px_padding)f->p[2], f->p[1]);
}
static void test_conv1d_causal_against_torch(void) {
    CHECK(px_fix_check_all("conv1d", (const char *[]){"x", "k", "b"}, 3, fix_conv1d, false) == 3);
}

typedef struct conv_case {
    int sh, sw, dh, dw;
    px_padding pad;
    bool conv1d, bias;
} conv_case;

static px_node *build_conv(px_node *const *v, void *ctx) {
    conv_case *c = ctx;
    if (c->conv1d) return px_conv1d_bias(v[0], v[1], c->bias ? v[2] : NULL, c->sw, c->pad, c->dw);
    if (c->bias) return px_conv2d_bias(v[0], v[1], v[2], c->sh, c->sw, c->pad, c->dh, c->dw);
    return px_conv2d(v[0], v[1], c->sh, c->sw, c->pad, c->dh, c->dw);
}

static void test_conv_gradcheck(void) {
    const conv_case cases[] = {
        {1, 1, 1, 1, PX_PADDING_VALID, false, true}, {1, 1, 1, 1, PX_PADDING_SAME, false, false},
        {2, 2, 1, 1, PX_PADDING_VALID, false, true}, {2, 2, 1, 1, PX_PADDING_SAME, false, true},
        {2, 1, 1, 1, PX_PADDING_SAME, false, false}, {1, 1, 2, 2, PX_PADDING_VALID, false, true},
        {1, 1, 2, 1, PX_PADDING_SAME, false, true},  {1, 2, 1, 2, PX_PADDING_SAME, true, true},
        {1, 1, 1, 1, PX_PADDING_VALID, true, false}, {1, 1, 1, 2, PX_PADDING_CAUSAL, true, true},
        {1, 2, 1, 1, PX_PADDING_CAUSAL, true, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        conv_case c = cases[i];
        px_shape xs = c.conv1d ? PX_SHAPE(2, 7, 2) : PX_SHAPE(2, 6, 5, 2);
        px_shape ks = c.conv1d ? PX_SHAPE(3, 2, 3) : PX_SHAPE(3, 2, 2, 3);
        px_tensor *in[3] = {px_gc_random(xs, -1, 1, 10 + i), px_gc_random(ks, -1, 1, 20 + i),
                            px_gc_random(PX_SHAPE(3), -1, 1, 30 + i)};
        char label[64];
        snprintf(label, sizeof label, "conv case %zu", i);
        CHECK(px_gradcheck(label, build_conv, &c, in, c.bias ? 3 : 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
        for (int j = 0; j < 3; j++) px_tensor_free(in[j]);
    }
    /* more than 16 filters take im2col + GEMM, with each padding */
    for (int same = 0; same < 2; same++) {
        conv_case c = {2, 1, 1, 1, same ? PX_PADDING_SAME : PX_PADDING_VALID, false, true};
        px_tensor *in[3] = {px_gc_random(PX_SHAPE(2, 5, 4, 2), -1, 1, 11), px_gc_random(PX_SHAPE(2, 3, 2, 17), -1, 1, 12),
                            px_gc_random(PX_SHAPE(17), -1, 1, 13)};
        CHECK(px_gradcheck("conv 17 filters", build_conv, &c, in, 3, NULL, 1e-3, 1e-2, 1e-3) == 0);
        for (int j = 0; j < 3; j++) px_tensor_free(in[j]);
    }
    /* a pointwise (1x1) kernel takes the path without im2col */
    conv_case c = {1, 1, 1, 1, PX_PADDING_SAME, false, true};
    px_tensor *in[3] = {px_gc_random(PX_SHAPE(2, 3, 3, 4), -1, 1, 1), px_gc_random(PX_SHAPE(1, 1, 4, 3), -1, 1, 2),
                        px_gc_random(PX_SHAPE(3), -1, 1, 3)};
    CHECK(px_gradcheck("pointwise conv", build_conv, &c, in, 3, NULL, 1e-3, 1e-2, 1e-3) == 0);
    for (int j = 0; j < 3; j++) px_tensor_free(in[j]);
}

static void test_conv_eager_and_unknown_batch(void) {
    /* eager mode computes at once and keeps the im2col state for its tape */
    px_graph *e = px_graph_new_eager();
    px_tensor *tx = px_gc_random(PX_SHAPE(1, 4, 4, 1), -1, 1, 5), *tk = px_tensor_ones(PX_SHAPE(2, 2, 1, 1));
    px_node *y = px_conv2d(px_variable(e, tx, "x"), px_variable(e, tk, "k"), 2, 2, PX_PADDING_VALID, 1, 1);
    CHECK_NOT_NULL(y);
    const float *xv = px_tensor_f32(tx);
    CHECK_NEAR(px_tensor_f32(px_node_value(y))[3], xv[10] + xv[11] + xv[14] + xv[15], 1e-6);
    px_graph_free(e);
    px_tensor_free(tx);
    px_tensor_free(tk);

    /* a placeholder with an unknown batch runs with batches of different sizes */
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 5, 5, 2), "x");
    px_tensor *k0 = px_gc_random(PX_SHAPE(3, 3, 2, 4), -1, 1, 6);
    px_node *out = px_conv2d(x, px_variable(g, k0, "k"), 2, 2, PX_PADDING_SAME, 1, 1);
    px_shape os = px_node_shape(out);
    CHECK(os.rank == 4 && os.dim[0] == PX_UNKNOWN && os.dim[1] == 3 && os.dim[2] == 3 && os.dim[3] == 4);
    px_session *s = px_session_new(g, &out, 1, NULL);
    for (int n = 3; n >= 1; n -= 2) {
        px_tensor *feed = px_gc_random(PX_SHAPE(n, 5, 5, 2), -1, 1, 7);
        CHECK_OK(px_session_run(s, &(px_feed){x, feed}, 1, NULL));
        CHECK(px_session_fetch(s, 0)->shape[0] == n);
        px_tensor_free(feed);
    }
    px_session_free(s);
    px_tensor_free(k0);

    /* errors name the op and the shapes */
    px_node *bad = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 5, 5, 3), "bad");
    px_tensor *k1 = px_tensor_zeros(PX_SHAPE(3, 3, 2, 4));
    CHECK(px_conv2d(bad, px_variable(g, k1, "k1"), 1, 1, PX_PADDING_VALID, 1, 1) == NULL);
    CHECK_ERROR_HAS("conv2d: input (None, 5, 5, 3) has 3 channels but kernel (3, 3, 2, 4) expects 2");
    px_tensor *k2 = px_tensor_zeros(PX_SHAPE(6, 6, 2, 1));
    CHECK(px_conv2d(x, px_variable(g, k2, "k2"), 1, 1, PX_PADDING_VALID, 1, 1) == NULL);
    CHECK_ERROR_HAS("smaller than the 6x6 window");
    CHECK(px_conv2d(x, px_variable(g, k1, "k3"), 0, 1, PX_PADDING_VALID, 1, 1) == NULL);
    CHECK_ERROR_HAS("conv2d: strides (0, 1)");
    px_tensor_free(k1);
    px_tensor_free(k2);
    px_graph_free(g);
}

static px_node *build_threads(px_node *const *v, void *ctx) {
    (void)ctx;
    return px_conv2d_bias(v[0], v[1], v[2], 2, 1, PX_PADDING_SAME, 1, 1);
}

/* A batch big enough to be split between threads gives the one-thread result
 * (both paths: 8 filters take the few-channel kernels, 20 the GEMM). */
static void test_conv_threads_agree(void) {
    for (int filters = 8; filters <= 20; filters += 12) {
        px_tensor *in[3] = {px_gc_random(PX_SHAPE(16, 32, 30, 3), -1, 1, 71),
                            px_gc_random(PX_SHAPE(3, 3, 3, filters), -1, 1, 72), px_gc_random(PX_SHAPE(filters), -1, 1, 73)};
        CHECK(px_gc_threads_agree("conv2d", build_threads, NULL, in, 3) == 0);
        for (int i = 0; i < 3; i++) px_tensor_free(in[i]);
    }
}

/* Keras's output length: valid ceil((n - d(k-1)) / s), same ceil(n / s). */
static void test_conv_layer_shapes_and_params(void) {
    px_model *m = px_sequential((px_layer *[]){
        px_conv2d_layer(4, 5, 5, &(px_conv_options){.padding = PX_PADDING_SAME, .activation = PX_RELU,
                                                    .input_shape = PX_SHAPE(28, 28, 1)}),
        px_conv2d_layer(8, 4, 4, &(px_conv_options){.strides = {2, 2}, .padding = PX_PADDING_SAME}),
        px_conv2d_layer(12, 4, 4, &(px_conv_options){.strides = {2, 2}, .no_bias = true}),
        px_conv2d_layer(3, 3, 3, &(px_conv_options){.dilation_rate = {2, 2}}),
        NULL});
    CHECK_NOT_NULL(m);
    CHECK_OK(px_model_build(m, PX_SHAPE(PX_UNKNOWN, 28, 28, 1)));
    const int64_t want[4][3] = {{28, 28, 4}, {14, 14, 8}, {6, 6, 12}, {2, 2, 3}};
    const int64_t params[4] = {5 * 5 * 1 * 4 + 4, 4 * 4 * 4 * 8 + 8, 4 * 4 * 8 * 12, 3 * 3 * 12 * 3 + 3};
    for (int i = 0; i < 4; i++) {
        px_layer *l = px_model_layer(m, i);
        px_shape s = px_node_shape(px_layer_output(l));
        CHECK(s.rank == 4 && s.dim[1] == want[i][0] && s.dim[2] == want[i][1] && s.dim[3] == want[i][2]);
        CHECK(px_layer_param_count(l) == params[i]);
        CHECK(strcmp(px_layer_class(l), "Conv2D") == 0);
    }
    px_layer *l0 = px_model_layer(m, 0), *l1 = px_model_layer(m, 1);
    CHECK(strcmp(px_layer_name(l0), "conv2d") == 0 && strcmp(px_layer_name(l1), "conv2d_1") == 0);
    CHECK(strcmp(px_layer_weight_name(l0, 0), "kernel") == 0 && strcmp(px_layer_weight_name(l0, 1), "bias") == 0);
    px_shape ks = px_node_shape(px_layer_weight(l1, 0));
    CHECK(ks.rank == 4 && ks.dim[0] == 4 && ks.dim[1] == 4 && ks.dim[2] == 4 && ks.dim[3] == 8);
    int kz[2];
    px_conv_kernel_size(l1, kz);
    CHECK(px_conv_filters(l1) == 8 && kz[0] == 4 && kz[1] == 4 && px_conv_rank(l1) == 2);
    CHECK(px_conv_get_options(l1)->strides[0] == 2 && px_conv_get_options(l0)->dilation_rate[1] == 1);
    px_model_free(m);

    /* Conv1D: (batch, steps, channels), kernel (k, in, filters) */
    px_model *m1 = px_sequential((px_layer *[]){
        px_conv1d_layer(6, 3, &(px_conv_options){.strides = {2}, .padding = PX_PADDING_SAME,
                                                 .input_shape = PX_SHAPE(11, 4)}),
        px_conv1d_layer(2, 2, &(px_conv_options){.dilation_rate = {2}}),
        px_global_average_pooling1d(),
        NULL});
    CHECK_NOT_NULL(m1);
    CHECK_OK(px_model_build(m1, PX_SHAPE(PX_UNKNOWN, 11, 4)));
    px_shape s0 = px_node_shape(px_layer_output(px_model_layer(m1, 0)));
    px_shape s1 = px_node_shape(px_layer_output(px_model_layer(m1, 1)));
    px_shape s2 = px_node_shape(px_layer_output(px_model_layer(m1, 2)));
    CHECK(s0.rank == 3 && s0.dim[1] == 6 && s0.dim[2] == 6);
    CHECK(s1.rank == 3 && s1.dim[1] == 4 && s1.dim[2] == 2);
    CHECK(s2.rank == 2 && s2.dim[1] == 2);
    CHECK(px_layer_param_count(px_model_layer(m1, 0)) == 3 * 4 * 6 + 6);
    CHECK(strcmp(px_layer_name(px_model_layer(m1, 0)), "conv1d") == 0);
    px_model_free(m1);

    /* causal: output length ceil(n / s), the window only over the past */
    px_model *m3 = px_sequential((px_layer *[]){
        px_conv1d_layer(3, 4, &(px_conv_options){.padding = PX_PADDING_CAUSAL, .dilation_rate = {2},
                                                 .input_shape = PX_SHAPE(9, 2)}),
        px_conv1d_layer(2, 3, &(px_conv_options){.padding = PX_PADDING_CAUSAL, .strides = {2}}), NULL});
    CHECK_OK(px_model_build(m3, PX_SHAPE(PX_UNKNOWN, 9, 2)));
    CHECK(px_node_shape(px_layer_output(px_model_layer(m3, 0))).dim[1] == 9);
    CHECK(px_node_shape(px_layer_output(px_model_layer(m3, 1))).dim[1] == 5);
    px_model_free(m3);
    CHECK(px_conv2d_layer(4, 3, 3, &(px_conv_options){.padding = PX_PADDING_CAUSAL}) == NULL);
    CHECK_ERROR_HAS("causal is for the 1-D convolutions only");

    /* bad configurations */
    CHECK(px_conv2d_layer(0, 3, 3, NULL) == NULL);
    CHECK_ERROR_HAS("Conv2D: filters must be positive");
    CHECK(px_conv2d_layer(4, 3, 3, &(px_conv_options){.strides = {2, 2}, .dilation_rate = {2, 2}}) == NULL);
    CHECK_ERROR_HAS("cannot be combined");
    px_model *m2 = px_sequential((px_layer *[]){px_conv2d_layer(4, 3, 3, NULL), NULL});
    CHECK(px_model_build(m2, PX_SHAPE(8, 8)) != PX_OK); /* no channel axis */
    CHECK_ERROR_HAS("(batch, height, width, channels)");
    px_model_free(m2);
}

/* A small ConvNet on 800 of the 8x8 digits (scaled to [0, 1], shape (8, 8, 1));
 * tested on the next 300. */
static void test_convnet_learns_digits(void) {
    px_dataset *all = NULL;
    CHECK_OK(px_csv_read(px_test_data("digits.csv.gz"), &(px_csv_options){.label_column = -1}, &all));
    if (!all) return;
    px_tensor *x4 = px_tensor_reshape(all->x, PX_SHAPE(-1, 8, 8, 1));
    float *xv = px_tensor_f32(x4);
    for (int64_t i = 0, n = px_tensor_size(x4); i < n; i++) xv[i] /= 16.0f;
    px_tensor *y = px_tensor_copy(all->y);
    px_dataset *d = px_dataset_new(x4, y);
    px_dataset *train = px_dataset_slice(d, 0, 800), *test = px_dataset_slice(d, 800, 1100);
    px_set_random_seed(3);
    px_model *m = px_sequential((px_layer *[]){
        px_conv2d_layer(8, 3, 3, &(px_conv_options){.padding = PX_PADDING_SAME, .activation = PX_RELU,
                                                    .input_shape = PX_SHAPE(8, 8, 1)}),
        px_max_pooling2d(2, 2, NULL),
        px_conv2d_layer(16, 3, 3, &(px_conv_options){.padding = PX_PADDING_SAME, .activation = PX_RELU}),
        px_flatten(PX_SCALAR),
        px_dense(10, PX_SOFTMAX),
        NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.005f}),
                                                       .metrics = {PX_ACCURACY}}));
    CHECK_OK(px_model_fit(m, train, &(px_fit_options){.epochs = 12, .verbose = PX_VERBOSE_SILENT}));
    int n;
    const double *loss = px_history_get(px_model_history(m), "loss", &n);
    CHECK(n == 12 && loss && loss[n - 1] < 0.5 * loss[0]);
    px_logs logs = {0};
    double acc = 0;
    CHECK_OK(px_model_evaluate(m, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    px_logs_get(&logs, "accuracy", &acc);
    printf("  digits ConvNet: loss %.3f -> %.3f, test accuracy %.3f (stated minimum 0.90)\n", loss ? loss[0] : 0, loss ? loss[n - 1] : 0, acc);
    CHECK(acc >= 0.9);
    px_model_free(m);
    px_dataset_free(train);
    px_dataset_free(test);
    px_dataset_free(d);
    px_dataset_free(all);
}

int main(void) {
    /* each check on every path (the choice per shape, im2col + GEMM, row kernels,
     * oneDNN where the build and processor have it) */
    for (int impl = 0; impl <= 3; impl++) {
        px_conv_set_impl(impl);
        RUN_TEST(test_conv_against_torch);
        RUN_TEST(test_conv1d_causal_against_torch);
        RUN_TEST(test_conv_gradcheck);
        RUN_TEST(test_conv_threads_agree);
    }
    px_conv_set_impl(0);
    RUN_TEST(test_conv_eager_and_unknown_batch);
    RUN_TEST(test_conv_layer_shapes_and_params);
    RUN_TEST(test_convnet_learns_digits);
    return px_test_finish();
}
