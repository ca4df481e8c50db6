/* Conv2DTranspose and Conv1DTranspose layers: Keras's kernel layout (kh, kw,
 * filters, in), output shapes, the layer's output against the PyTorch
 * fixtures, a small autoencoder of the digits that learns, errors. */
#include <string.h>

#include "fixture_check.h"
#include "px_test.h"

static const px_eval_options QUIET = {.verbose = PX_VERBOSE_SILENT};

static void test_weights_and_shapes(void) {
    px_model *m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(4, 5, 3), "img"),
        px_conv2d_transpose_layer(6, 3, 3, &(px_conv_options){.strides = {2, 2}, .padding = PX_PADDING_SAME}),
        px_conv2d_transpose_layer(2, 2, 3, &(px_conv_options){.strides = {3, 2}, .output_padding = {1, 0},
                                                                         .has_output_padding = true, .no_bias = true}),
        NULL});
    CHECK_OK(px_model_build(m, PX_SHAPE(4, 5, 3)));
    px_layer *a = px_model_layer(m, 1), *b = px_model_layer(m, 2);
    CHECK(strcmp(px_layer_name(a), "conv2d_transpose") == 0 && strcmp(px_layer_class(a), "Conv2DTranspose") == 0);
    CHECK(px_layer_weight_count(a) == 2 && strcmp(px_layer_weight_name(a, 0), "kernel") == 0);
    CHECK(px_shape_equal(px_node_shape(px_layer_weight(a, 0)), PX_SHAPE(3, 3, 6, 3)));
    CHECK(px_layer_weight_count(b) == 1 && px_shape_equal(px_node_shape(px_layer_weight(b, 0)), PX_SHAPE(2, 3, 2, 6)));
    /* same: 4*2, 5*2; valid with output_padding: (8-1)*3 + 2 + 1, (10-1)*2 + 3 + 0 */
    CHECK(px_shape_equal(px_node_shape(px_layer_output(a)), PX_SHAPE(PX_UNKNOWN, 8, 10, 6)));
    CHECK(px_shape_equal(px_node_shape(px_layer_output(b)), PX_SHAPE(PX_UNKNOWN, 24, 21, 2)));
    CHECK(px_layer_param_count(a) == 3 * 3 * 6 * 3 + 6);
    px_model_free(m);

    m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(6, 4), "seq"),
                                     px_conv1d_transpose_layer(3, 4, &(px_conv_options){.strides = {3}}), NULL});
    CHECK_OK(px_model_build(m, PX_SHAPE(6, 4)));
    CHECK(px_shape_equal(px_node_shape(px_layer_weight(px_model_layer(m, 1), 0)), PX_SHAPE(4, 3, 4)));
    CHECK(px_shape_equal(px_node_shape(px_layer_output(px_model_layer(m, 1))), PX_SHAPE(PX_UNKNOWN, 19, 3)));
    px_model_free(m);

    CHECK(px_conv2d_transpose_layer(2, 3, 3, &(px_conv_options){.strides = {2, 2}, .output_padding = {2, 0},
                                                                           .has_output_padding = true}) == NULL);
    CHECK_ERROR_HAS("Conv2DTranspose: output_padding 2 (axis 0) must be in [0, stride 2)");
    CHECK(px_conv1d_transpose_layer(0, 3, NULL) == NULL);
    CHECK_ERROR_HAS("Conv1DTranspose: filters must be positive");
    m = px_sequential((px_layer *[]){px_conv2d_transpose_layer(2, 3, 3, NULL), NULL});
    CHECK(px_model_build(m, PX_SHAPE(5, 3)) != PX_OK);
    CHECK_ERROR_HAS("(batch, height, width, channels)");
    px_model_free(m);
}

/* The layers with the fixtures' weights predict the fixtures' outputs. */
static void test_layers_against_torch(void) {
    int cases = 0;
    for (int i = 0; i < PX_FIXTURE_COUNT; i++) {
        const px_fixture *f = px_fixture_at(i);
        bool two = strcmp(f->op, "conv2d_transpose") == 0;
        if (!two && strcmp(f->op, "conv1d_transpose") != 0) continue;
        cases++;
        const px_fix_array *x = px_fix_get(f, "x"), *k = px_fix_get(f, "k"), *b = px_fix_get(f, "b"), *y = px_fix_get(f, "y");
        px_conv_options o = {.no_bias = b == NULL};
        px_layer *l;
        px_shape in;
        if (two) {
            o.strides[0] = f->p[0], o.strides[1] = f->p[1], o.padding = (px_padding)f->p[2];
            o.has_output_padding = f->p[3] >= 0;
            o.output_padding[0] = f->p[3], o.output_padding[1] = f->p[4];
            o.dilation_rate[0] = f->p[5], o.dilation_rate[1] = f->p[6];
            l = px_conv2d_transpose_layer((int)k->shape[2], (int)k->shape[0], (int)k->shape[1], &o);
            in = PX_SHAPE(x->shape[1], x->shape[2], x->shape[3]);
        } else {
            o.strides[0] = f->p[0], o.padding = (px_padding)f->p[1];
            o.has_output_padding = f->p[2] >= 0, o.output_padding[0] = f->p[2], o.dilation_rate[0] = f->p[3];
            l = px_conv1d_transpose_layer((int)k->shape[1], (int)k->shape[0], &o);
            in = PX_SHAPE(x->shape[1], x->shape[2]);
        }
        px_model *m = px_sequential((px_layer *[]){px_input_layer(in, NULL), l, NULL});
        px_tensor *w[2] = {px_fix_tensor(k), b ? px_fix_tensor(b) : NULL};
        CHECK_OK(px_layer_set_weights(px_model_layer(m, 1), w, b ? 2 : 1));
        px_tensor *tx = px_fix_tensor(x), *want = px_fix_tensor(y), *got = px_model_predict(m, tx, &QUIET);
        bool ok = got && px_tensor_allclose(got, want, 1e-4f, 1e-5f);
        CHECK(ok);
        if (!ok) fprintf(stderr, "  fixture %s: the layer differs (%s)\n", f->name, got ? "values" : px_last_error());
        px_tensor_free(w[0]), px_tensor_free(w[1]);
        px_tensor_free(tx), px_tensor_free(want), px_tensor_free(got);
        px_model_free(m);
    }
    CHECK(cases == 10);
}

/* An autoencoder of the 8x8 digits (scaled to [0, 1]): a strided Conv2D down
 * to 4x4x8, a strided Conv2DTranspose back to 8x8x1. Trained 15 epochs on 600
 * images, its reconstruction error on 300 others goes from above 0.1 (untrained)
 * to below the stated 0.01. */
static void test_autoencoder_learns(void) {
    px_dataset *all = NULL;
    CHECK_OK(px_csv_read(px_test_data("digits.csv.gz"), &(px_csv_options){.label_column = -1}, &all));
    if (!all) return;
    px_tensor *x = px_tensor_reshape(all->x, PX_SHAPE(-1, 8, 8, 1));
    float *xv = px_tensor_f32(x);
    for (int64_t i = 0, n = px_tensor_size(x); i < n; i++) xv[i] /= 16.0f;
    px_dataset *d = px_dataset_new(x, px_tensor_copy(x));
    px_dataset *train = px_dataset_slice(d, 0, 600), *test = px_dataset_slice(d, 600, 900);
    px_set_random_seed(5);
    px_model *m = px_sequential((px_layer *[]){
        px_conv2d_layer(8, 3, 3, &(px_conv_options){.strides = {2, 2}, .padding = PX_PADDING_SAME, .activation = PX_RELU,
                                                    .input_shape = PX_SHAPE(8, 8, 1)}),
        px_conv2d_transpose_layer(1, 3, 3, &(px_conv_options){.strides = {2, 2}, .padding = PX_PADDING_SAME,
                                                                         .activation = PX_SIGMOID}),
        NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR,
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.01f})}));
    px_logs before = {0}, after = {0};
    double mse0 = 0, mse1 = 0;
    CHECK_OK(px_model_evaluate(m, test, &QUIET, &before));
    CHECK_OK(px_model_fit(m, train, &(px_fit_options){.epochs = 15, .batch_size = 32, .verbose = PX_VERBOSE_SILENT}));
    CHECK_OK(px_model_evaluate(m, test, &QUIET, &after));
    px_logs_get(&before, "loss", &mse0);
    px_logs_get(&after, "loss", &mse1);
    printf("  digits autoencoder: test MSE %.4f -> %.4f (stated maximum 0.01)\n", mse0, mse1);
    CHECK(mse0 > 0.1 && mse1 < 0.01);
    px_model_free(m);
    px_dataset_free(train);
    px_dataset_free(test);
    px_dataset_free(d);
    px_dataset_free(all);
}

int main(void) {
    RUN_TEST(test_weights_and_shapes);
    RUN_TEST(test_layers_against_torch);
    RUN_TEST(test_autoencoder_learns);
    return px_test_finish();
}
