/* Config hooks of the convolution-family layers beyond Conv2D / Conv1D /
 * MaxPooling2D: causal Conv1D, the 1-D poolings, padding, cropping and
 * up-sampling, depthwise, separable and transposed convolutions, spatial
 * dropout, BatchNormalization on any axis. Round trips through to_json and
 * model files, Keras 2's exact text, Keras 3's spellings, refusals. */
#include <stdlib.h>
#include <string.h>

#include "layer_config_check.h"
#include "px_test.h"

/* The layer's config text in the model's to_json must contain `want`. */
static void check_text(px_model *m, const char *want) {
    char *j = NULL;
    CHECK_OK(px_model_to_json(m, &j));
    CHECK(j && strstr(j, want));
    if (j && !strstr(j, want)) fprintf(stderr, "  missing %s\n  in %s\n", want, j);
    free(j);
}

static void test_causal_conv1d_and_1d_pools(void) {
    px_set_random_seed(11);
    px_model *m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(12, 3), "steps"),
        px_conv1d_layer(4, 3, &(px_conv_options){.padding = PX_PADDING_CAUSAL, .dilation_rate = {2}, .activation = PX_RELU}),
        px_max_pooling1d(2, NULL),
        px_conv1d_layer(3, 2, &(px_conv_options){.padding = PX_PADDING_CAUSAL, .strides = {2}}),
        px_average_pooling1d(3, &(px_pool_options){.strides = {1}, .padding = PX_PADDING_SAME}),
        px_global_max_pooling1d(), NULL});
    CHECK_NOT_NULL(m);
    check_text(m, "\"padding\": \"causal\", \"data_format\": \"channels_last\", \"dilation_rate\": [2]");
    /* Keras 2's MaxPooling1D: strides first */
    check_text(m, "{\"class_name\": \"MaxPooling1D\", \"config\": {\"name\": \"max_pooling1d\", \"trainable\": true, "
                  "\"dtype\": \"float32\", \"strides\": [2], \"pool_size\": [2], \"padding\": \"valid\", "
                  "\"data_format\": \"channels_last\"}}");
    px_tc_round_trip(m, PX_SHAPE(2, 12, 3), 0, "causal conv1d / 1-d pools");

    /* Keras 3's spellings: dtype policies, upper-case padding, ints for tuples */
    m = px_tc_one_layer("[null, 9, 2]", "AveragePooling1D",
                        "\"name\": \"p\", \"trainable\": true, " K3_DTYPE ", \"pool_size\": 3, \"padding\": \"SAME\", "
                        "\"strides\": 2, \"data_format\": \"channels_last\"");
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[1] == 5);
    px_model_free(m);
    m = px_tc_one_layer("[null, 9, 2]", "Conv1D", "\"name\": \"c\", " K3_DTYPE ", \"filters\": 2, \"kernel_size\": [4], "
                        "\"padding\": \"causal\", \"dilation_rate\": [3]");
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[1] == 9);
    px_model_free(m);
    px_tc_refused("[null, 9, 2]", "MaxPooling1D", "\"name\": \"odd\", \"pool_size\": [2], \"data_format\": \"channels_first\"",
                  "data_format");
    px_tc_refused("[null, 9, 2]", "MaxPooling1D", "\"name\": \"odd\", \"pool_size\": [2], \"padding\": \"causal\"", "padding");
    m = px_tc_one_layer("[null, 9, 2]", "MaxPooling1D", "\"name\": \"bad\", \"pool_size\": [2, 2]");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("pool_size");
}

static void test_padding_cropping_upsampling_dropout(void) {
    px_set_random_seed(12);
    px_model *m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(6, 5, 2), "img"), px_zero_padding2d(1, 2, 0, 3), px_cropping2d(2, 0, 1, 1),
        px_up_sampling2d(2, 1, PX_INTERP_NEAREST), px_up_sampling2d(1, 2, PX_INTERP_BILINEAR), px_spatial_dropout2d(0.25f),
        px_conv2d_layer(2, 3, 3, NULL), NULL});
    CHECK_NOT_NULL(m);
    check_text(m, "{\"class_name\": \"ZeroPadding2D\", \"config\": {\"name\": \"zero_padding2d\", \"trainable\": true, "
                  "\"dtype\": \"float32\", \"padding\": [[1, 2], [0, 3]], \"data_format\": \"channels_last\"}}");
    check_text(m, "\"cropping\": [[2, 0], [1, 1]], \"data_format\": \"channels_last\"}}");
    check_text(m, "\"size\": [1, 2], \"data_format\": \"channels_last\", \"interpolation\": \"bilinear\"}}");
    check_text(m, "{\"class_name\": \"SpatialDropout2D\", \"config\": {\"name\": \"spatial_dropout2d\", \"trainable\": "
                  "true, \"dtype\": \"float32\", \"rate\": 0.25, \"noise_shape\": null, \"seed\": null}}");
    px_tc_round_trip(m, PX_SHAPE(2, 6, 5, 2), 0, "padding / cropping / up-sampling 2d");

    px_set_random_seed(13);
    m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(7, 3), "seq"), px_zero_padding1d(2, 1), px_cropping1d(0, 4),
                                     px_up_sampling1d(3), px_spatial_dropout1d(0.5f), px_conv1d_layer(2, 2, NULL), NULL});
    check_text(m, "\"padding\": [2, 1]}}");
    check_text(m, "\"cropping\": [0, 4]}}");
    check_text(m, "{\"class_name\": \"UpSampling1D\", \"config\": {\"name\": \"up_sampling1d\", \"trainable\": true, "
                  "\"dtype\": \"float32\", \"size\": 3}}");
    px_tc_round_trip(m, PX_SHAPE(2, 7, 3), 0, "padding / cropping / up-sampling 1d");

    /* Keras's defaults and shorter spellings: ZeroPadding 1 per side, Cropping1D (1, 1), ints, K3 keys */
    struct {
        const char *shape, *cls, *config;
        int64_t h, w;
    } read[] = {
        {"[null, 4, 5, 2]", "ZeroPadding2D", "\"name\": \"z\"", 6, 7},
        {"[null, 4, 5, 2]", "ZeroPadding2D", "\"name\": \"z\", " K3_DTYPE ", \"padding\": [2, 1], \"data_format\": null", 8, 7},
        {"[null, 4, 5, 2]", "Cropping2D", "\"name\": \"c\", \"cropping\": 1", 2, 3},
        {"[null, 6, 2]", "Cropping1D", "\"name\": \"c\"", 4, 0},
        {"[null, 6, 2]", "ZeroPadding1D", "\"name\": \"z\", \"padding\": 3", 12, 0},
        {"[null, 6, 2]", "UpSampling1D", "\"name\": \"u\"", 12, 0},
        {"[null, 4, 5, 2]", "UpSampling2D", "\"name\": \"u\", " K3_DTYPE ", \"size\": 3, \"interpolation\": \"BILINEAR\"", 12, 15},
        {"[null, 4, 5, 2]", "SpatialDropout2D", "\"name\": \"d\", " K3_DTYPE ", \"rate\": 0.5, \"seed\": 7, \"data_format\": \"channels_last\"", 4, 5},
        {"[null, 6, 2]", "SpatialDropout1D", "\"name\": \"d\", \"rate\": 0.1, \"noise_shape\": null, \"seed\": null", 6, 0},
    };
    for (size_t i = 0; i < sizeof read / sizeof *read; i++) {
        m = px_tc_one_layer(read[i].shape, read[i].cls, read[i].config);
        px_shape s = m ? px_node_shape(px_model_output(m, 0)) : (px_shape){0};
        CHECK(m && s.dim[1] == read[i].h && (s.rank == 3 || s.dim[2] == read[i].w));
        if (!m) fprintf(stderr, "  %s: %s\n", read[i].cls, px_last_error());
        px_model_free(m);
    }
    px_tc_refused("[null, 4, 5, 2]", "UpSampling2D", "\"name\": \"odd\", \"interpolation\": \"bicubic\"", "interpolation");
    px_tc_refused("[null, 4, 5, 2]", "ZeroPadding2D", "\"name\": \"odd\", \"data_format\": \"channels_first\"", "data_format");
    px_tc_refused("[null, 4, 5, 2]", "SpatialDropout2D", "\"name\": \"odd\", \"rate\": 0.5, \"data_format\": \"channels_first\"",
                  "data_format");
    m = px_tc_one_layer("[null, 4, 5, 2]", "Cropping2D", "\"name\": \"bad\", \"cropping\": [[1, -1], [0, 0]]");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("cropping");
    m = px_tc_one_layer("[null, 4, 5, 2]", "ZeroPadding2D", "\"name\": \"bad\", \"padding\": [1, 2, 3]");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("padding");
}

static void test_depthwise_separable(void) {
    px_set_random_seed(14);
    px_model *m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(8, 7, 3), "img"),
        px_depthwise_conv2d_layer(3, 3, &(px_separable_conv_options){.depth_multiplier = 2, .padding = PX_PADDING_SAME,
                                                                      .depthwise_regularizer = PX_L2(0.01f)}),
        px_separable_conv2d_layer(4, 3, 2, &(px_separable_conv_options){.strides = {2, 1}, .activation = PX_RELU,
                                                                        .pointwise_initializer = {.kind = PX_INIT_HE_NORMAL}}),
        px_separable_conv2d_layer(2, 2, 2, &(px_separable_conv_options){.no_bias = true, .depth_multiplier = 3}), NULL});
    CHECK_NOT_NULL(m);
    /* Keras 2's DepthwiseConv2D: Conv2D's keys less filters and kernel_*, then the depthwise ones */
    check_text(m, "{\"class_name\": \"DepthwiseConv2D\", \"config\": {\"name\": \"depthwise_conv2d\", \"trainable\": true, "
                  "\"dtype\": \"float32\", \"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"same\", "
                  "\"data_format\": \"channels_last\", \"dilation_rate\": [1, 1], \"groups\": 1, \"activation\": \"linear\", "
                  "\"use_bias\": true, \"bias_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, \"bias_regularizer\": "
                  "null, \"activity_regularizer\": null, \"bias_constraint\": null, \"depth_multiplier\": 2, "
                  "\"depthwise_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}, "
                  "\"depthwise_regularizer\": {\"class_name\": \"L1L2\", \"config\": {\"l1\": 0.0, \"l2\": 0.01}}, "
                  "\"depthwise_constraint\": null}}");
    check_text(m, "\"depth_multiplier\": 1, \"depthwise_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": "
                  "{\"seed\": null}}, \"pointwise_initializer\": {\"class_name\": \"HeNormal\", \"config\": {\"seed\": null}}");
    px_tc_round_trip(m, PX_SHAPE(2, 8, 7, 3), 0, "depthwise / separable 2d");

    px_set_random_seed(15);
    m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(9, 3), "seq"),
        px_separable_conv1d_layer(4, 3, &(px_separable_conv_options){.padding = PX_PADDING_CAUSAL, .depth_multiplier = 2}),
        px_depthwise_conv1d_layer(2, &(px_separable_conv_options){.strides = {2}, .activation = PX_TANH}), NULL});
    px_tc_round_trip(m, PX_SHAPE(2, 9, 3), 0, "depthwise / separable 1d");

    /* Keras 3's keys */
    m = px_tc_one_layer("[null, 6, 6, 2]", "DepthwiseConv2D",
                        "\"name\": \"d\", \"trainable\": true, " K3_DTYPE ", \"depth_multiplier\": 3, \"kernel_size\": [3, 3], "
                        "\"strides\": [1, 1], \"padding\": \"valid\", \"data_format\": \"channels_last\", \"dilation_rate\": [1, 1], "
                        "\"activation\": \"linear\", \"use_bias\": true, \"depthwise_initializer\": " K3_INIT("GlorotUniform")
                        ", \"bias_initializer\": " K3_INIT("Zeros") ", \"depthwise_regularizer\": null, \"bias_regularizer\": null, "
                        "\"activity_regularizer\": null, \"depthwise_constraint\": null, \"bias_constraint\": null");
    CHECK(m && px_shape_equal(px_node_shape(px_model_output(m, 0)), PX_SHAPE(PX_UNKNOWN, 4, 4, 6)));
    CHECK(m && px_model_param_count(m, NULL, NULL) == 3 * 3 * 2 * 3 + 6);
    px_model_free(m);
    m = px_tc_one_layer("[null, 6, 6, 2]", "SeparableConv2D",
                        "\"name\": \"s\", " K3_DTYPE ", \"depth_multiplier\": 1, \"filters\": 5, \"kernel_size\": [3, 3], "
                        "\"strides\": [1, 1], \"padding\": \"same\", \"pointwise_initializer\": " K3_INIT("GlorotUniform")
                        ", \"pointwise_regularizer\": null, \"pointwise_constraint\": null");
    CHECK(m && px_shape_equal(px_node_shape(px_model_output(m, 0)), PX_SHAPE(PX_UNKNOWN, 6, 6, 5)));
    px_model_free(m);
    px_tc_refused("[null, 6, 6, 2]", "DepthwiseConv2D", "\"name\": \"odd\", \"kernel_size\": 3, \"data_format\": \"channels_first\"",
                  "data_format");
    /* a constraint only changes training: left out with a warning (layer_config.c) */
    m = px_tc_one_layer("[null, 6, 6, 2]", "SeparableConv2D", "\"name\": \"c\", \"filters\": 2, \"kernel_size\": 3, "
                        "\"pointwise_constraint\": {\"class_name\": \"MaxNorm\"}");
    CHECK_NOT_NULL(m);
    px_model_free(m);
    px_tc_refused("[null, 6, 6, 2]", "SeparableConv2D", "\"name\": \"odd\", \"filters\": 2, \"kernel_size\": 3, "
                  "\"padding\": \"causal\"", "padding");
    m = px_tc_one_layer("[null, 6, 6, 2]", "SeparableConv2D", "\"name\": \"bad\", \"kernel_size\": 3");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("filters");
    m = px_tc_one_layer("[null, 6, 6, 2]", "DepthwiseConv2D", "\"name\": \"bad\", \"kernel_size\": 3, \"depth_multiplier\": 0");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("depth_multiplier");
}

static void test_transposed(void) {
    px_set_random_seed(16);
    px_model *m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(4, 3, 2), "img"),
        px_conv2d_transpose_layer(3, 3, 3, &(px_conv_options){.strides = {2, 2}, .padding = PX_PADDING_SAME,
                                                                         .activation = PX_RELU}),
        px_conv2d_transpose_layer(2, 2, 3, &(px_conv_options){.strides = {2, 1}, .output_padding = {1, 0},
                                                                         .has_output_padding = true, .no_bias = true}),
        NULL});
    CHECK_NOT_NULL(m);
    /* Keras 2: Conv2D's keys, then output_padding */
    check_text(m, "{\"class_name\": \"Conv2DTranspose\", \"config\": {\"name\": \"conv2d_transpose\", \"trainable\": true, "
                  "\"dtype\": \"float32\", \"filters\": 3, \"kernel_size\": [3, 3], \"strides\": [2, 2], \"padding\": \"same\", "
                  "\"data_format\": \"channels_last\", \"dilation_rate\": [1, 1], \"groups\": 1, \"activation\": \"relu\", "
                  "\"use_bias\": true, \"kernel_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}, "
                  "\"bias_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, \"kernel_regularizer\": null, "
                  "\"bias_regularizer\": null, \"activity_regularizer\": null, \"kernel_constraint\": null, \"bias_constraint\": "
                  "null, \"output_padding\": null}}");
    check_text(m, "\"output_padding\": [1, 0]}}");
    px_tc_round_trip(m, PX_SHAPE(2, 4, 3, 2), 0, "conv2d transpose");
    px_set_random_seed(17);
    m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(5, 3), "seq"),
                                     px_conv1d_transpose_layer(2, 3, &(px_conv_options){.strides = {2}}), NULL});
    px_tc_round_trip(m, PX_SHAPE(2, 5, 3), 0, "conv1d transpose");

    /* Keras 3's keys (output_padding next to padding, no groups), an int output_padding */
    m = px_tc_one_layer("[null, 3, 3, 2]", "Conv2DTranspose",
                        "\"name\": \"t\", \"trainable\": true, " K3_DTYPE ", \"filters\": 4, \"kernel_size\": [3, 3], "
                        "\"strides\": [2, 2], \"padding\": \"same\", \"output_padding\": 1, \"data_format\": \"channels_last\", "
                        "\"dilation_rate\": [1, 1], \"activation\": \"linear\", \"use_bias\": true, \"kernel_initializer\": "
                        K3_INIT("GlorotUniform") ", \"bias_initializer\": " K3_INIT("Zeros") ", \"kernel_regularizer\": null, "
                        "\"bias_regularizer\": null, \"activity_regularizer\": null, \"kernel_constraint\": null, "
                        "\"bias_constraint\": null");
    CHECK(m && px_shape_equal(px_node_shape(px_model_output(m, 0)), PX_SHAPE(PX_UNKNOWN, 6, 6, 4)));
    px_model_free(m);
    m = px_tc_one_layer("[null, 5, 2]", "Conv1DTranspose", "\"name\": \"t\", \"filters\": 3, \"kernel_size\": [4], "
                        "\"strides\": [3], \"output_padding\": [2]");
    CHECK(m && px_shape_equal(px_node_shape(px_model_output(m, 0)), PX_SHAPE(PX_UNKNOWN, 18, 3)));
    px_model_free(m);
    m = px_tc_one_layer("[null, 3, 3, 2]", "Conv2DTranspose", "\"name\": \"bad\", \"filters\": 4, \"kernel_size\": 3, "
                        "\"strides\": 2, \"output_padding\": [2, 0]");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("output_padding");
    px_tc_refused("[null, 5, 2]", "Conv1DTranspose", "\"name\": \"odd\", \"filters\": 3, \"kernel_size\": 2, "
                  "\"padding\": \"causal\"", "padding");
    px_tc_refused("[null, 3, 3, 2]", "Conv2DTranspose", "\"name\": \"odd\", \"filters\": 3, \"kernel_size\": 2, "
                  "\"data_format\": \"channels_first\"", "data_format");
}

static void test_batch_norm_axes(void) {
    px_set_random_seed(18);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(5, 4, 3), "x"),
                                               px_batch_normalization_ex(&(px_batch_norm_options){.axis = 1}),
                                               px_batch_normalization_ex(&(px_batch_norm_options){.axis = -2, .no_center = true}),
                                               px_batch_normalization(), NULL});
    check_text(m, "\"axis\": 1, \"momentum\": 0.99");
    check_text(m, "\"axis\": -2, \"momentum\": 0.99");
    /* non-trivial moving statistics, so the loaded layers are tested */
    for (int i = 1; i <= 2; i++) {
        px_layer *bn = px_model_layer(m, i);
        int n = px_layer_weight_count(bn);
        for (int k = n - 2; k < n; k++) {
            px_tensor *w = px_node_value(px_layer_weight(bn, k));
            for (int64_t e = 0; e < px_tensor_size(w); e++) px_tensor_f32(w)[e] = 0.5f + 0.25f * (float)e;
        }
    }
    px_tc_round_trip(m, PX_SHAPE(2, 5, 4, 3), 0, "batch normalization axes");
    /* a built Keras 2 layer names its axis by index, in a list */
    m = px_tc_one_layer("[null, 6, 3]", "BatchNormalization", "\"name\": \"bn\", \"axis\": [1], \"momentum\": 0.9");
    CHECK(m && px_model_param_count(m, NULL, NULL) == 4 * 6);
    px_model_free(m);
    px_tc_refused("[null, 6, 3]", "BatchNormalization", "\"name\": \"odd\", \"axis\": 0", "axis");
    m = px_tc_one_layer("[null, 6, 3]", "BatchNormalization", "\"name\": \"bad\", \"axis\": 3");
    CHECK(!m && px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("axis 3 is not a feature axis");
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_causal_conv1d_and_1d_pools);
    RUN_TEST(test_padding_cropping_upsampling_dropout);
    RUN_TEST(test_depthwise_separable);
    RUN_TEST(test_transposed);
    RUN_TEST(test_batch_norm_axes);
    return px_test_finish();
}
