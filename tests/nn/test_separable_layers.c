/* DepthwiseConv2D/1D and SeparableConv2D/1D layers: Keras's weight names,
 * shapes and order, output shapes, the layer's output against the PyTorch
 * fixture for SeparableConv2D, errors. */
#include <string.h>

#include "fixture_check.h"
#include "px_test.h"

static const px_eval_options QUIET = {.verbose = PX_VERBOSE_SILENT};

static bool shape_is(px_shape s, px_shape want) { return px_shape_equal(s, want); }

static void test_weights_and_shapes(void) {
    px_model *m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(9, 8, 3), "img"),
        px_depthwise_conv2d_layer(3, 3, &(px_separable_conv_options){.depth_multiplier = 2, .padding = PX_PADDING_SAME}),
        px_separable_conv2d_layer(5, 3, 3, &(px_separable_conv_options){.strides = {2, 2}, .activation = PX_RELU}),
        px_separable_conv2d_layer(4, 2, 2, &(px_separable_conv_options){.depth_multiplier = 3, .no_bias = true}), NULL});
    CHECK_OK(px_model_build(m, PX_SHAPE(9, 8, 3)));
    px_layer *dw = px_model_layer(m, 1), *s1 = px_model_layer(m, 2), *s2 = px_model_layer(m, 3);
    CHECK(strcmp(px_layer_name(dw), "depthwise_conv2d") == 0 && strcmp(px_layer_class(dw), "DepthwiseConv2D") == 0);
    CHECK(strcmp(px_layer_name(s2), "separable_conv2d_1") == 0);
    CHECK(px_layer_weight_count(dw) == 2 && strcmp(px_layer_weight_name(dw, 0), "depthwise_kernel") == 0 &&
          strcmp(px_layer_weight_name(dw, 1), "bias") == 0);
    CHECK(shape_is(px_node_shape(px_layer_weight(dw, 0)), PX_SHAPE(3, 3, 3, 2)) &&
          shape_is(px_node_shape(px_layer_weight(dw, 1)), PX_SHAPE(6)));
    CHECK(px_layer_weight_count(s1) == 3 && strcmp(px_layer_weight_name(s1, 1), "pointwise_kernel") == 0);
    CHECK(shape_is(px_node_shape(px_layer_weight(s1, 0)), PX_SHAPE(3, 3, 6, 1)) &&
          shape_is(px_node_shape(px_layer_weight(s1, 1)), PX_SHAPE(1, 1, 6, 5)) &&
          shape_is(px_node_shape(px_layer_weight(s1, 2)), PX_SHAPE(5)));
    CHECK(px_layer_weight_count(s2) == 2 && shape_is(px_node_shape(px_layer_weight(s2, 1)), PX_SHAPE(1, 1, 15, 4)));
    /* same keeps 9x8; valid 3x3 stride 2: 4x3; valid 2x2: 3x2 */
    CHECK(shape_is(px_node_shape(px_layer_output(dw)), PX_SHAPE(PX_UNKNOWN, 9, 8, 6)));
    CHECK(shape_is(px_node_shape(px_layer_output(s1)), PX_SHAPE(PX_UNKNOWN, 4, 3, 5)));
    CHECK(shape_is(px_node_shape(px_layer_output(s2)), PX_SHAPE(PX_UNKNOWN, 3, 2, 4)));
    CHECK(px_layer_param_count(s1) == 3 * 3 * 6 + 6 * 5 + 5);
    px_model_free(m);

    m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(10, 4), "seq"),
        px_separable_conv1d_layer(6, 3, &(px_separable_conv_options){.padding = PX_PADDING_CAUSAL, .dilation_rate = {2},
                                                                     .depth_multiplier = 2}),
        px_depthwise_conv1d_layer(2, &(px_separable_conv_options){.strides = {2}}), NULL});
    CHECK_OK(px_model_build(m, PX_SHAPE(10, 4)));
    px_layer *s = px_model_layer(m, 1), *d1 = px_model_layer(m, 2);
    CHECK(shape_is(px_node_shape(px_layer_weight(s, 0)), PX_SHAPE(3, 4, 2)) &&
          shape_is(px_node_shape(px_layer_weight(s, 1)), PX_SHAPE(1, 8, 6)));
    CHECK(shape_is(px_node_shape(px_layer_output(s)), PX_SHAPE(PX_UNKNOWN, 10, 6)));
    CHECK(shape_is(px_node_shape(px_layer_output(d1)), PX_SHAPE(PX_UNKNOWN, 5, 6)));
    CHECK(strcmp(px_layer_class(d1), "DepthwiseConv1D") == 0);
    px_model_free(m);

    CHECK(px_separable_conv2d_layer(0, 3, 3, NULL) == NULL);
    CHECK_ERROR_HAS("SeparableConv2D: filters must be positive");
    CHECK(px_depthwise_conv2d_layer(3, 3, &(px_separable_conv_options){.strides = {2, 2}, .dilation_rate = {2, 2}}) == NULL);
    CHECK_ERROR_HAS("cannot be combined");
    CHECK(px_depthwise_conv2d_layer(3, 3, &(px_separable_conv_options){.padding = PX_PADDING_CAUSAL}) == NULL);
    CHECK_ERROR_HAS("causal is for the 1-D convolutions only");
}

/* The layer with the fixture's weights predicts the fixture's output. */
static void test_separable_layer_against_torch(void) {
    int cases = 0;
    for (int i = 0; i < PX_FIXTURE_COUNT; i++) {
        const px_fixture *f = px_fixture_at(i);
        if (strcmp(f->op, "separable_conv2d") != 0) continue;
        cases++;
        const px_fix_array *x = px_fix_get(f, "x"), *dk = px_fix_get(f, "dk"), *pk = px_fix_get(f, "pk");
        const px_fix_array *b = px_fix_get(f, "b"), *y = px_fix_get(f, "y");
        px_model *m = px_sequential((px_layer *[]){
            px_input_layer(PX_SHAPE(x->shape[1], x->shape[2], x->shape[3]), NULL),
            px_separable_conv2d_layer((int)pk->shape[3], (int)dk->shape[0], (int)dk->shape[1],
                                      &(px_separable_conv_options){.strides = {f->p[0], f->p[1]},
                                                                   .padding = (px_padding)f->p[2],
                                                                   .depth_multiplier = (int)dk->shape[3],
                                                                   .no_bias = b == NULL}),
            NULL});
        px_tensor *w[3] = {px_fix_tensor(dk), px_fix_tensor(pk), b ? px_fix_tensor(b) : NULL};
        CHECK_OK(px_layer_set_weights(px_model_layer(m, 1), w, b ? 3 : 2));
        px_tensor *tx = px_fix_tensor(x), *want = px_fix_tensor(y);
        px_tensor *got = px_model_predict(m, tx, &QUIET);
        CHECK(got && px_tensor_allclose(got, want, 1e-4f, 1e-5f));
        for (int k = 0; k < 3; k++) px_tensor_free(w[k]);
        px_tensor_free(tx), px_tensor_free(want), px_tensor_free(got);
        px_model_free(m);
    }
    CHECK(cases == 2);
}

int main(void) {
    RUN_TEST(test_weights_and_shapes);
    RUN_TEST(test_separable_layer_against_torch);
    return px_test_finish();
}
