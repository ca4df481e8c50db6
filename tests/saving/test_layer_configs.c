/* Config hooks of the conv, pooling, BatchNormalization, Embedding and recurrent
 * layers: to_json/from_json and save/load round trips, K3 spellings, refusals. */
#include <stdlib.h>
#include <string.h>

#include "plexus/model_io.h"
#include "layer_config_check.h"
#include "px_test.h"

static void test_conv2d_pool_bn_round_trip(void) {
    px_set_random_seed(1);
    px_model *m = px_functional("convs");
    px_node *x = px_model_input(m, PX_SHAPE(12, 12, 2), "image");
    px_node *h = px_apply(px_conv2d_layer(3, 3, 3, &(px_conv_options){.padding = PX_PADDING_SAME, .activation = PX_RELU,
                                                                     .kernel_regularizer = PX_L2(0.01f),
                                                                     .kernel_initializer = {.kind = PX_INIT_HE_NORMAL}}),
                          x);
    h = px_apply(px_max_pooling2d(2, 2, NULL), h);
    h = px_apply(px_conv2d_layer(4, 2, 3, &(px_conv_options){.dilation_rate = {1, 2}, .no_bias = true}), h);
    h = px_apply(px_average_pooling2d(2, 2, &(px_pool_options){.strides = {1, 1}, .padding = PX_PADDING_SAME}), h);
    h = px_apply(px_conv2d_layer(4, 1, 1, &(px_conv_options){.strides = {2, 1}, .activation = PX_TANH}), h);
    h = px_apply(px_batch_normalization_ex(&(px_batch_norm_options){.momentum = 0.9f, .epsilon = 0.01f, .no_center = true,
                                                                    .gamma_regularizer = PX_L1(0.001f)}),
                 h);
    px_node *a = px_apply(px_global_average_pooling2d(), h), *b = px_apply(px_global_max_pooling2d(), h);
    px_node *y = px_apply(px_dense(2, PX_SOFTMAX), px_apply_n(px_concatenate(-1), (px_node *[]){a, b}, 2));
    CHECK_OK(px_model_set_outputs(m, &y, 1));
    /* non-trivial moving statistics, so the loaded BatchNormalization is tested */
    px_layer *bn = px_model_find_layer(m, "batch_normalization");
    CHECK(bn && px_layer_weight_count(bn) == 3);
    for (int k = 1; bn && k < 3; k++) {
        px_tensor *w = px_node_value(px_layer_weight(bn, k));
        for (int64_t i = 0; i < px_tensor_size(w); i++) px_tensor_f32(w)[i] = 0.5f + 0.25f * (float)i;
    }
    px_tc_round_trip(m, PX_SHAPE(3, 12, 12, 2), 0, "conv2d/pool/bn");
}

static void test_conv1d_round_trip(void) {
    px_set_random_seed(2);
    px_model *m = px_functional("seq1d");
    px_node *x = px_model_input(m, PX_SHAPE(12, 3), "steps");
    px_node *h = px_apply(px_conv1d_layer(4, 3, &(px_conv_options){.padding = PX_PADDING_SAME, .dilation_rate = {2},
                                                                 .activation = PX_RELU}),
                          x);
    h = px_apply(px_conv1d_layer(5, 2, &(px_conv_options){.strides = {2}, .bias_initializer = {.kind = PX_INIT_ONES}}), h);
    px_node *a = px_apply(px_global_average_pooling1d(), h), *b = px_apply(px_global_max_pooling1d(), h);
    px_node *y = px_apply(px_dense(1, PX_SIGMOID), px_apply_n(px_add_layer(), (px_node *[]){a, b}, 2));
    CHECK_OK(px_model_set_outputs(m, &y, 1));
    px_tc_round_trip(m, PX_SHAPE(2, 12, 3), 0, "conv1d/global pools");
}

static void test_embedding_rnn_round_trip(void) {
    px_set_random_seed(3);
    /* Sequential with the input shape on the Embedding (Keras's input_length) */
    px_model *m = px_sequential((px_layer *[]){
        px_embedding_ex(10, 4, &(px_embedding_options){.input_shape = PX_SHAPE(6), .embeddings_regularizer = PX_L2(0.1f)}),
        px_lstm(5, &(px_rnn_options){.return_sequences = true, .no_unit_forget_bias = true}),
        px_gru(3, &(px_rnn_options){.return_sequences = true, .no_reset_after = true, .recurrent_regularizer = PX_L2(0.01f)}),
        px_gru(3, &(px_rnn_options){.go_backwards = true}),
        px_dense(2, PX_LINEAR), NULL});
    px_tc_round_trip(m, PX_SHAPE(4, 6), 10, "embedding/lstm/gru");

    px_set_random_seed(4);
    m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(5, 3), "seq"),
        px_simple_rnn(4, &(px_rnn_options){.return_sequences = true, .go_backwards = true, .no_bias = true,
                                           .recurrent_initializer = {.kind = PX_INIT_GLOROT_NORMAL}}),
        px_bidirectional(px_lstm(3, &(px_rnn_options){.return_sequences = true}), PX_MERGE_CONCAT),
        px_bidirectional(px_gru(2, NULL), PX_MERGE_AVE), px_dense(1, PX_LINEAR), NULL});
    px_tc_round_trip(m, PX_SHAPE(2, 5, 3), 0, "simple_rnn/bidirectional");

    px_set_random_seed(5);
    m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4, 2), "in"),
                                     px_bidirectional(px_simple_rnn(3, NULL), PX_MERGE_SUM),
                                     px_batch_normalization(), NULL});
    px_tc_round_trip(m, PX_SHAPE(3, 4, 2), 0, "bidirectional sum/bn");
    m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4, 2), "in"),
                                     px_bidirectional(px_gru(3, &(px_rnn_options){.no_reset_after = true}), PX_MERGE_MUL),
                                     NULL});
    px_tc_round_trip(m, PX_SHAPE(3, 4, 2), 0, "bidirectional mul");
}

/* The exact Keras 2 text of Conv2D and MaxPooling2D (as §1.5 of the format notes). */
static void test_k2_exact_text(void) {
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(28, 28, 1), "input_1"),
                                               px_conv2d_layer(32, 3, 3, &(px_conv_options){.activation = PX_RELU}),
                                               px_max_pooling2d(2, 2, NULL), NULL});
    char *j = NULL;
    CHECK_OK(px_model_to_json(m, &j));
    const char *want[] = {
        "{\"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv2d\", \"trainable\": true, \"dtype\": \"float32\", "
        "\"filters\": 32, \"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"valid\", \"data_format\": "
        "\"channels_last\", \"dilation_rate\": [1, 1], \"groups\": 1, \"activation\": \"relu\", \"use_bias\": true, "
        "\"kernel_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}, \"bias_initializer\": "
        "{\"class_name\": \"Zeros\", \"config\": {}}, \"kernel_regularizer\": null, \"bias_regularizer\": null, "
        "\"activity_regularizer\": null, \"kernel_constraint\": null, \"bias_constraint\": null}}",
        "{\"class_name\": \"MaxPooling2D\", \"config\": {\"name\": \"max_pooling2d\", \"trainable\": true, \"dtype\": "
        "\"float32\", \"pool_size\": [2, 2], \"padding\": \"valid\", \"strides\": [2, 2], \"data_format\": \"channels_last\"}}"};
    for (int i = 0; i < 2; i++) {
        CHECK(j && strstr(j, want[i]));
        if (j && !strstr(j, want[i])) fprintf(stderr, "  missing %s\n  in %s\n", want[i], j);
    }
    free(j);
    px_model_free(m);
    /* the recurrent keys, in tf.keras 2's order */
    m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(3, 2), "in"), px_bidirectional(px_gru(2, NULL), PX_MERGE_CONCAT), NULL});
    CHECK_OK(px_model_to_json(m, &j));
    const char *gru =
        "\"layer\": {\"class_name\": \"GRU\", \"config\": {\"name\": \"gru\", \"trainable\": true, \"dtype\": \"float32\", "
        "\"return_sequences\": false, \"return_state\": false, \"go_backwards\": false, \"stateful\": false, \"unroll\": "
        "false, \"time_major\": false, \"units\": 2, \"activation\": \"tanh\", \"recurrent_activation\": \"sigmoid\", "
        "\"use_bias\": true, \"kernel_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}, "
        "\"recurrent_initializer\": {\"class_name\": \"Orthogonal\", \"config\": {\"gain\": 1.0, \"seed\": null}}, "
        "\"bias_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, \"kernel_regularizer\": null, "
        "\"recurrent_regularizer\": null, \"bias_regularizer\": null, \"activity_regularizer\": null, \"kernel_constraint\": "
        "null, \"recurrent_constraint\": null, \"bias_constraint\": null, \"dropout\": 0.0, \"recurrent_dropout\": 0.0, "
        "\"implementation\": 2, \"reset_after\": true}}, \"merge_mode\": \"concat\"}";
    CHECK(j && strstr(j, gru));
    if (j && !strstr(j, gru)) fprintf(stderr, "  missing %s\n  in %s\n", gru, j);
    free(j);
    px_model_free(m);
}


static void test_reads_k2_and_k3_spellings(void) {
    /* K3 Conv1D: list kernel_size, dtype policy, initializers with module keys */
    px_model *m = px_tc_one_layer("[null, 10, 4]", "Conv1D",
                            "\"name\": \"c\", \"trainable\": true, " K3_DTYPE ", \"filters\": 6, \"kernel_size\": [3], "
                            "\"strides\": [1], \"padding\": \"causal_not\", \"data_format\": \"channels_last\"");
    CHECK(!m && px_last_status() == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("'padding'");
    m = px_tc_one_layer("[null, 10, 4]", "Conv1D",
                  "\"name\": \"c\", " K3_DTYPE ", \"filters\": 6, \"kernel_size\": [3], \"strides\": [2], \"padding\": "
                  "\"same\", \"data_format\": \"channels_last\", \"dilation_rate\": [1], \"groups\": 1, \"activation\": "
                  "\"relu\", \"use_bias\": false, \"kernel_initializer\": " K3_INIT("HeUniform") ", \"bias_initializer\": "
                  K3_INIT("Zeros") ", \"kernel_regularizer\": null, \"bias_regularizer\": null, \"kernel_constraint\": null, "
                  "\"bias_constraint\": null");
    CHECK_NOT_NULL(m);
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[1] == 5 && px_model_param_count(m, NULL, NULL) == 3 * 4 * 6);
    px_model_free(m);
    /* ints instead of lists (older spellings), strides null on a pooling */
    m = px_tc_one_layer("[null, 8, 8, 3]", "Conv2D", "\"name\": \"c\", \"filters\": 2, \"kernel_size\": 3, \"strides\": 1");
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[1] == 6);
    px_model_free(m);
    m = px_tc_one_layer("[null, 8, 8, 3]", "MaxPooling2D", "\"name\": \"p\", \"pool_size\": 4, \"strides\": null, \"data_format\": null");
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[1] == 2);
    px_model_free(m);
    m = px_tc_one_layer("[null, 8, 3]", "GlobalAveragePooling1D", "\"name\": \"g\", " K3_DTYPE ", \"data_format\": \"channels_last\", \"keepdims\": false");
    CHECK(m && px_node_shape(px_model_output(m, 0)).rank == 2);
    px_model_free(m);
    /* a built K2 BatchNormalization names the last axis by its index, in a list */
    m = px_tc_one_layer("[null, 5, 4]", "BatchNormalization", "\"name\": \"bn\", \"axis\": [2], \"momentum\": 0.9, \"epsilon\": 0.001, "
                  "\"center\": true, \"scale\": false, \"fused\": null, \"synchronized\": false");
    CHECK_NOT_NULL(m);
    CHECK(m && px_model_param_count(m, NULL, NULL) == 12);
    px_model_free(m);
    /* K2.1 Embedding: input_length alone gives the input shape */
    m = px_tc_from_json("{\"class_name\": \"Sequential\", \"config\": [{\"class_name\": \"Embedding\", \"config\": {\"name\": "
                  "\"e\", \"input_dim\": 7, \"output_dim\": 3, \"input_length\": 5, \"mask_zero\": false, "
                  "\"embeddings_initializer\": {\"class_name\": \"RandomUniform\", \"config\": {\"maxval\": 0.05, \"minval\": "
                  "-0.05, \"seed\": null}}}}, {\"class_name\": \"GRU\", \"config\": {\"name\": \"g\", \"units\": 4, "
                  "\"recurrent_initializer\": {\"class_name\": \"Orthogonal\", \"config\": {\"gain\": 1.0, \"seed\": null}}, "
                  "\"implementation\": 1, \"dropout\": 0.0}}]}");
    CHECK_NOT_NULL(m);
    px_layer *g = m ? px_model_find_layer(m, "g") : NULL;
    /* no reset_after key: the K2.1 kind, with a flat (3u,) bias */
    CHECK(g && px_layer_weight_count(g) == 3 && px_node_shape(px_layer_weight(g, 2)).rank == 1 &&
          px_node_shape(px_layer_weight(g, 2)).dim[0] == 12);
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[1] == 4);
    px_model_free(m);
    /* K3 LSTM keys and a K3 Bidirectional with its backward_layer */
    const char *lstm = "\"units\": 3, " K3_DTYPE ", \"return_sequences\": true, \"zero_output_for_mask\": false, "
                       "\"seed\": null, \"use_cudnn\": \"auto\", \"unit_forget_bias\": true, \"recurrent_initializer\": "
                       "{\"module\": \"keras.initializers\", \"class_name\": \"Orthogonal\", \"config\": {\"seed\": null, "
                       "\"gain\": 1.0}, \"registered_name\": null}";
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "\"name\": \"bi\", " K3_DTYPE ", \"merge_mode\": \"concat\", \"layer\": {\"module\": \"keras.layers\", "
             "\"class_name\": \"LSTM\", \"config\": {\"name\": \"fwd\", \"go_backwards\": false, %s}}, \"backward_layer\": "
             "{\"module\": \"keras.layers\", \"class_name\": \"LSTM\", \"config\": {\"name\": \"backward_fwd\", "
             "\"go_backwards\": true, %s}}",
             lstm, lstm);
    m = px_tc_one_layer("[null, 4, 2]", "Bidirectional", cfg);
    CHECK_NOT_NULL(m);
    px_layer *bi = m ? px_model_find_layer(m, "bi") : NULL;
    CHECK(bi && px_layer_weight_count(bi) == 6 && strcmp(px_layer_weight_name(bi, 3), "backward_fwd/kernel") == 0);
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[2] == 6);
    px_model_free(m);
    snprintf(cfg, sizeof cfg,
             "\"name\": \"bi\", \"layer\": {\"class_name\": \"LSTM\", \"config\": {\"name\": \"fwd\", %s}}, "
             "\"backward_layer\": {\"class_name\": \"LSTM\", \"config\": {\"name\": \"b\", \"go_backwards\": true, "
             "\"units\": 7}}",
             lstm);
    m = px_tc_one_layer("[null, 4, 2]", "Bidirectional", cfg);
    CHECK(!m && px_last_status() == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("backward_layer");
}

static void test_unsupported_options(void) {
    const char *img = "[null, 8, 8, 3]", *seq = "[null, 5, 3]";
    px_tc_refused(img, "Conv2D", "\"name\": \"odd\", \"filters\": 2, \"kernel_size\": [3, 3], \"data_format\": \"channels_first\"", "data_format");
    px_tc_refused(img, "Conv2D", "\"name\": \"odd\", \"filters\": 4, \"kernel_size\": [3, 3], \"groups\": 2", "groups");
    px_tc_refused(img, "Conv2D", "\"name\": \"odd\", \"filters\": 4, \"kernel_size\": [3, 3], \"padding\": \"causal\"", "padding");
    px_tc_refused(img, "MaxPooling2D", "\"name\": \"odd\", \"pool_size\": [2, 2], \"data_format\": \"channels_first\"", "data_format");
    px_tc_refused(img, "AveragePooling2D", "\"name\": \"odd\", \"pool_size\": [2, 2], \"padding\": \"full\"", "padding");
    px_tc_refused(img, "GlobalAveragePooling2D", "\"name\": \"odd\", \"keepdims\": true", "keepdims");
    px_tc_refused(img, "GlobalMaxPooling2D", "\"name\": \"odd\", \"data_format\": \"channels_first\"", "data_format");
    px_tc_refused(seq, "GlobalMaxPooling1D", "\"name\": \"odd\", \"keepdims\": true", "keepdims");
    px_tc_refused(seq, "BatchNormalization", "\"name\": \"odd\", \"axis\": 0", "axis");
    px_tc_refused(seq, "BatchNormalization", "\"name\": \"odd\", \"renorm\": true", "renorm");
    px_tc_refused(seq, "LSTM", "\"name\": \"odd\", \"units\": 2, \"stateful\": true", "stateful");
    px_tc_refused(seq, "SimpleRNN", "\"name\": \"odd\", \"units\": 2, \"time_major\": true", "time_major");
    px_tc_refused(seq, "SimpleRNN", "\"name\": \"odd\", \"units\": 2, \"activation\": \"softmax\"", "activation");
    px_tc_refused(seq, "GRU", "\"name\": \"odd\", \"units\": 2, \"recurrent_activation\": \"log_softmax\"", "recurrent_activation");
    px_tc_refused(seq, "Bidirectional", "\"name\": \"odd\", \"merge_mode\": null, \"layer\": {\"class_name\": \"GRU\", \"config\": {\"name\": \"g\", \"units\": 2}}", "merge_mode");
    px_tc_refused(seq, "Bidirectional", "\"name\": \"odd\", \"layer\": {\"class_name\": \"Dense\", \"config\": {\"name\": \"g\", \"units\": 2}}", "layer");
    px_tc_refused(seq, "Bidirectional", "\"name\": \"odd\", \"layer\": {\"class_name\": \"GRU\", \"config\": {\"name\": \"g\", \"units\": 2, \"stateful\": true}}", "stateful");
    /* malformed values are format errors naming the key */
    px_model *m = px_tc_one_layer(img, "Conv2D", "\"name\": \"bad\", \"filters\": 2, \"kernel_size\": [3, 3, 3]");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("kernel_size");
    m = px_tc_one_layer(img, "Conv2D", "\"name\": \"bad\", \"filters\": 2");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("kernel_size");
    m = px_tc_one_layer(seq, "LSTM", "\"name\": \"bad\", \"units\": -3");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("units");
    m = px_tc_one_layer("[null, 5]", "Embedding", "\"name\": \"bad\", \"output_dim\": 2");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("input_dim");
    m = px_tc_one_layer(seq, "Bidirectional", "\"name\": \"bad\", \"layer\": 3");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("'layer'");
}

/* Orthogonal with any gain, under Keras 3.0/3.1's class name OrthogonalInitializer
 * too, for recurrent and other kernels; the gain is written back. */
static void test_orthogonal_configs(void) {
    px_model *m = px_tc_one_layer("[null, 5, 3]", "LSTM",
                                  "\"name\": \"l\", \"units\": 2, \"recurrent_initializer\": {\"module\": \"keras.initializers\", "
                                  "\"class_name\": \"OrthogonalInitializer\", \"config\": {\"gain\": 2.0, \"seed\": null}, "
                                  "\"registered_name\": null}");
    CHECK_NOT_NULL(m);
    char *json = NULL;
    if (m) CHECK_OK(px_model_to_json(m, &json));
    CHECK(json && strstr(json, "\"recurrent_initializer\": {\"class_name\": \"Orthogonal\", \"config\": {\"gain\": 2.0, \"seed\": null}}"));
    /* the recurrent kernel (2, 8) has orthogonal rows of norm 2 */
    px_tensor *rk = m ? px_node_value(px_layer_weight(px_model_find_layer(m, "l"), 1)) : NULL;
    CHECK(rk != NULL);
    for (int a = 0; rk && a < 2; a++)
        for (int b = 0; b < 2; b++) {
            double dot = 0;
            for (int k = 0; k < 8; k++) dot += (double)px_tensor_f32(rk)[a * 8 + k] * px_tensor_f32(rk)[b * 8 + k];
            CHECK_NEAR(dot, a == b ? 4.0 : 0.0, 1e-5);
        }
    free(json);
    px_model_free(m);
    m = px_tc_one_layer("[null, 4]", "Dense", "\"name\": \"d\", \"units\": 3, \"kernel_initializer\": \"orthogonal\"");
    CHECK_NOT_NULL(m);
    px_model_free(m);
}

static int warnings;
static char last_warning[1024];
static void on_warning(const char *msg, void *user) {
    (void)user;
    warnings++;
    snprintf(last_warning, sizeof last_warning, "%s", msg);
}

/* What only training needs (constraints, activity regularizers, dropout's noise shape)
 * loads with one warning each; other float dtypes load with one warning per model;
 * integer InputLayers (token ids for an Embedding) load silently. */
static void test_training_only_options(void) {
    px_set_warning_handler(on_warning, NULL);
    warnings = 0;
    px_model *m = px_tc_one_layer("[null, 5, 3]", "Conv1D",
                                  "\"name\": \"c\", \"filters\": 4, \"kernel_size\": [3], \"kernel_constraint\": {\"class_name\": "
                                  "\"MaxNorm\", \"config\": {\"max_value\": 2, \"axis\": 0}}, \"activity_regularizer\": {\"class_name\": "
                                  "\"L2\", \"config\": {\"l2\": 0.01}}");
    CHECK_NOT_NULL(m);
    CHECK(warnings == 2 && strstr(last_warning, "kernel_constraint") && strstr(last_warning, "MaxNorm"));
    px_model_free(m);
    warnings = 0;
    m = px_tc_one_layer("[null, 4]", "Dropout", "\"name\": \"d\", \"rate\": 0.5, \"noise_shape\": [null, 1]");
    CHECK(m && warnings == 1 && strstr(last_warning, "noise_shape"));
    px_model_free(m);
    static const char *mixed =
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"mp\", \"layers\": [{\"class_name\": \"Dense\", "
        "\"config\": {\"name\": \"a\", \"units\": 3, \"batch_input_shape\": [null, 2], \"dtype\": {\"class_name\": "
        "\"Policy\", \"config\": {\"name\": \"mixed_float16\"}}}}, {\"class_name\": \"Dense\", \"config\": {\"name\": "
        "\"b\", \"units\": 1, \"dtype\": \"mixed_float16\"}}]}}";
    warnings = 0;
    m = px_tc_from_json(mixed);
    CHECK(m && warnings == 1 && strstr(last_warning, "2 layers have dtype policy 'mixed_float16'"));
    px_model_free(m);
    static const char *ids =
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"t\", \"layers\": [{\"class_name\": \"InputLayer\", "
        "\"name\": \"tokens\", \"config\": {\"batch_input_shape\": [null, 6], \"dtype\": \"int32\", \"name\": \"tokens\"}, "
        "\"inbound_nodes\": []}, {\"class_name\": \"Embedding\", \"name\": \"e\", \"config\": {\"name\": \"e\", "
        "\"input_dim\": 10, \"output_dim\": 2}, \"inbound_nodes\": [[[\"tokens\", 0, 0, {}]]]}], \"input_layers\": "
        "[[\"tokens\", 0, 0]], \"output_layers\": [[\"e\", 0, 0]]}}";
    warnings = 0;
    m = px_tc_from_json(ids);
    CHECK(m && warnings == 0);
    px_model_free(m);
    m = px_tc_one_layer("[null, 4]", "Dense", "\"name\": \"odd\", \"units\": 2, \"dtype\": \"int32\"");
    CHECK(!m && px_last_status() == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("int32");
    px_set_warning_handler(NULL, NULL);
}

int main(void) {
    RUN_TEST(test_conv2d_pool_bn_round_trip);
    RUN_TEST(test_conv1d_round_trip);
    RUN_TEST(test_embedding_rnn_round_trip);
    RUN_TEST(test_k2_exact_text);
    RUN_TEST(test_reads_k2_and_k3_spellings);
    RUN_TEST(test_unsupported_options);
    RUN_TEST(test_orthogonal_configs);
    RUN_TEST(test_training_only_options);
    return px_test_finish();
}
