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

int main(void) {
    RUN_TEST(test_causal_conv1d_and_1d_pools);
    return px_test_finish();
}
