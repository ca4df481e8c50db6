/* plexus export --c (px_model_export_c): the generated C for the course's MLP,
 * ConvNet (and LeNet-5 with BatchNormalization folded) and LSTM, and for models
 * of most other layers, compiles with gcc and clang at -std=c99 -Wall -Wextra
 * -Werror -pedantic and gives px_model_predict's outputs within 1e-5 on 1,000
 * inputs; what cannot be exported fails with an error naming it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export_check.h"
#include "plexus/model_io.h"
#include "px_test.h"

/* examples/lenet5.c: BatchNormalization after convolutions and a Dense without bias */
static px_model *lenet5(void) {
    return px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(28, 28), NULL), px_reshape_layer(PX_SHAPE(28, 28, 1)),
        px_conv2d_layer(6, 5, 5, &(px_conv_options){.padding = PX_PADDING_SAME, .no_bias = true}), px_batch_normalization(),
        px_activation_layer(PX_RELU), px_max_pooling2d(2, 2, NULL), px_conv2d_layer(16, 5, 5, &(px_conv_options){.no_bias = true}),
        px_batch_normalization(), px_activation_layer(PX_RELU), px_average_pooling2d(2, 2, NULL), px_flatten(PX_SCALAR),
        px_dense_ex(120, &(px_dense_options){.no_bias = true}), px_batch_normalization(), px_activation_layer(PX_TANH),
        px_dense(84, PX_RELU), px_dense(10, PX_SOFTMAX), NULL});
}

static void test_course_models(void) {
    struct {
        const char *tag;
        px_model *(*make)(void);
    } models[] = {{"MLP", export_course_mlp}, {"ConvNet", export_course_convnet}, {"LeNet-5 (BatchNorm folded)", lenet5}, {"LSTM", export_course_lstm}};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        px_model *m = models[i].make();
        CHECK_NOT_NULL(m);
        if (!m) continue;
        if (!px_model_built(m)) CHECK_OK(px_model_build(m, PX_SHAPE(28, 28)));
        export_randomize(m, 11 + i);
        export_check_model(m, models[i].tag, 0, i == 1 ? &(px_export_c_options){.separate_weights = true} : NULL, 0);
        px_model_free(m);
    }
}

/* Most other layers, 2-D: convolutions of every kind (BatchNormalization folded
 * into a DepthwiseConv2D), padding, cropping, up-sampling, poolings, merges and
 * the activation and normalisation layers, in a Functional graph with branches. */
static px_model *zoo_2d(void) {
    px_model *m = px_functional("zoo_2d");
    px_node *in = px_model_input(m, PX_SHAPE(10, 9, 3), "image");
    px_node *a = px_apply(px_conv2d_layer(6, 3, 3, &(px_conv_options){.dilation_rate = {2, 1}, .activation = PX_ELU}), in);
    a = px_apply(px_depthwise_conv2d_layer(3, 3, &(px_separable_conv_options){.padding = PX_PADDING_SAME, .depth_multiplier = 2}), a);
    a = px_apply(px_batch_normalization(), a);
    a = px_apply(px_separable_conv2d_layer(5, 3, 2, &(px_separable_conv_options){.padding = PX_PADDING_SAME, .strides = {1, 2},
                                                                                 .activation = PX_SWISH}), a);
    a = px_apply(px_zero_padding2d(1, 2, 0, 1), a);
    a = px_apply(px_cropping2d(1, 0, 1, 1), a);
    a = px_apply(px_up_sampling2d(2, 1, PX_INTERP_NEAREST), a);
    a = px_apply(px_conv2d_transpose_layer(4, 3, 3, &(px_conv_options){.strides = {2, 2}, .padding = PX_PADDING_SAME}), a);
    a = px_apply(px_max_pooling2d(3, 3, &(px_pool_options){.strides = {2, 2}, .padding = PX_PADDING_SAME}), a);
    px_node *b = px_apply(px_average_pooling2d(2, 2, &(px_pool_options){.padding = PX_PADDING_SAME}), a);
    b = px_apply(px_conv2d_transpose_layer(4, 2, 2, &(px_conv_options){.strides = {2, 2}, .activation = PX_TANH}), b);
    px_node *gap = px_apply(px_global_average_pooling2d(), b), *gmp = px_apply(px_global_max_pooling2d(), a);
    px_node *pair[2] = {gap, gmp};
    px_node *merged = px_apply_n(px_concatenate(-1), (px_node *[]){px_apply_n(px_add_layer(), pair, 2),
                                                                   px_apply_n(px_subtract_layer(), pair, 2),
                                                                   px_apply_n(px_multiply_layer(), pair, 2),
                                                                   px_apply_n(px_average_layer(), pair, 2),
                                                                   px_apply_n(px_maximum_layer(), pair, 2),
                                                                   px_apply_n(px_minimum_layer(), pair, 2)}, 6);
    px_node *d = px_apply(px_dense(12, PX_LINEAR), merged);
    d = px_apply(px_prelu_layer(NULL), d);
    d = px_apply(px_leaky_relu_layer(0.1f), d);
    d = px_apply(px_layer_normalization(NULL), d);
    d = px_apply(px_relu_layer(&(px_relu_options){.max_value = 0.8f, .negative_slope = 0.1f, .threshold = -0.2f}), d);
    d = px_apply(px_elu_layer(0.7f), d);
    d = px_apply(px_rescaling_layer(0.5f, 0.25f), d);
    d = px_apply(px_batch_normalization(), px_apply(px_activation_layer(PX_SIGMOID), d));
    d = px_apply(px_dense(8, PX_GELU), d);
    d = px_apply(px_softmax_layer(-1), d);
    px_model_set_outputs(m, &d, 1);
    return m;
}

/* 1-D and recurrent: causal and dilated Conv1D, 1-D poolings and reshaping,
 * Bidirectional GRU (concat) and LSTM (sum), SimpleRNN going backwards, a GRU
 * with reset_after false, RepeatVector, Permute, Normalization. */
static px_model *zoo_1d(void) {
    px_model *m = px_functional("zoo_1d");
    px_node *in = px_model_input(m, PX_SHAPE(16, 4), "sequence");
    px_layer *norm = px_normalization_layer(NULL);
    px_tensor *data = px_tensor_zeros(PX_SHAPE(5, 16, 4));
    for (int64_t i = 0; i < px_tensor_size(data); i++) px_tensor_f32(data)[i] = (float)((i * 37) % 11) * 0.3f;
    CHECK_OK(px_normalization_adapt(norm, data));
    px_tensor_free(data);
    px_node *a = px_apply(norm, in);
    a = px_apply(px_conv1d_layer(6, 3, &(px_conv_options){.padding = PX_PADDING_CAUSAL, .dilation_rate = {2}, .activation = PX_RELU}), a);
    a = px_apply(px_max_pooling1d(2, &(px_pool_options){.strides = {1}, .padding = PX_PADDING_SAME}), a);
    a = px_apply(px_separable_conv1d_layer(5, 3, &(px_separable_conv_options){.depth_multiplier = 2, .activation = PX_SOFTPLUS}), a);
    a = px_apply(px_zero_padding1d(2, 1), a);
    a = px_apply(px_cropping1d(1, 2), a);
    a = px_apply(px_up_sampling1d(2), a);
    a = px_apply(px_average_pooling1d(3, &(px_pool_options){.strides = {2}}), a);
    a = px_apply(px_conv1d_transpose_layer(4, 3, &(px_conv_options){.strides = {1}, .activation = PX_SELU}), a);
    px_node *g = px_apply(px_bidirectional(px_gru(5, &(px_rnn_options){.return_sequences = true}), PX_MERGE_CONCAT), a);
    g = px_apply(px_simple_rnn(4, &(px_rnn_options){.return_sequences = true, .go_backwards = true}), g);
    px_node *r = px_apply(px_gru(3, &(px_rnn_options){.return_sequences = true, .no_reset_after = true,
                                                      .recurrent_activation = PX_HARD_SIGMOID}), g);
    r = px_apply(px_permute_layer((int[]){2, 1}, 2), r);
    r = px_apply(px_global_max_pooling1d(), r);
    px_node *l = px_apply(px_bidirectional(px_lstm(6, NULL), PX_MERGE_SUM), g);
    px_node *c = px_apply_n(px_concatenate(-1), (px_node *[]){l, px_apply(px_global_average_pooling1d(), g), r}, 3);
    c = px_apply(px_repeat_vector_layer(3), c);
    c = px_apply(px_lstm(4, &(px_rnn_options){.activation = PX_SOFTSIGN}), c);
    c = px_apply(px_dense(3, PX_SIGMOID), c);
    px_model_set_outputs(m, &c, 1);
    return m;
}

/* Embedding ids into a GRU (Keras 2's default hard_sigmoid gates) and SimpleRNN. */
static px_model *embedding_rnn(void) {
    return px_sequential((px_layer *[]){px_embedding_ex(50, 8, &(px_embedding_options){.input_shape = PX_SHAPE(12)}),
                                        px_gru(6, &(px_rnn_options){.return_sequences = true, .recurrent_activation = PX_HARD_SIGMOID_K2}),
                                        px_simple_rnn(5, &(px_rnn_options){.activation = PX_RELU}), px_dense(2, PX_LOG_SOFTMAX), NULL});
}

/* Attention (dot with scale; concat, causal), MultiHeadAttention (cross with
 * value_dim and output_dim; self, causal, without bias), Dot (over timesteps,
 * over features, normalized, rank 1), TimeDistributed(Dense) and
 * UpSampling2D's bilinear mode, with several outputs. */
static px_model *attention_zoo(void) {
    px_model *m = px_functional("attention_zoo");
    px_node *q = px_model_input(m, PX_SHAPE(6, 8), "q"), *v = px_model_input(m, PX_SHAPE(5, 8), "v");
    px_node *img = px_model_input(m, PX_SHAPE(3, 4, 2), "image");
    px_node *a1 = px_apply_n(px_attention_layer(&(px_attention_options){.use_scale = true}), (px_node *[]){q, v}, 2);
    px_node *a2 = px_apply_n(px_attention_layer(&(px_attention_options){.use_scale = true, .score_concat = true, .causal = true}),
                             (px_node *[]){q, v, v}, 3);
    px_node *a3 = px_apply_n(px_multi_head_attention(2, 3, &(px_mha_options){.value_dim = 4, .output_dim = 5}), (px_node *[]){q, v, v}, 3);
    px_node *a4 = px_apply_n(px_multi_head_attention(3, 2, &(px_mha_options){.causal = true, .no_bias = true}), (px_node *[]){q}, 1);
    px_node *td = px_apply(px_time_distributed(px_dense(4, PX_TANH)), q);
    px_node *d1 = px_apply_n(px_dot_layer(2, 2, false), (px_node *[]){a1, a2}, 2);            /* (6, 6) */
    /* normalized over timesteps: inputs whose columns are not near 0 (where float's rounding would be magnified) */
    px_node *d2 = px_apply_n(px_dot_layer(1, 1, true), (px_node *[]){a1, td}, 2);             /* (8, 4) */
    px_node *d3 = px_apply_n(px_dot_layer(-1, -1, true), (px_node *[]){px_apply(px_global_average_pooling1d(), a4),
                                                                      px_apply(px_global_max_pooling1d(), a2)}, 2); /* (1) */
    px_node *d4 = px_apply_n(px_dot_layer(1, 2, false), (px_node *[]){a3, px_apply(px_permute_layer((int[]){2, 1}, 2), a3)}, 2);
    px_node *up = px_apply(px_up_sampling2d(3, 2, PX_INTERP_BILINEAR), img);
    up = px_apply(px_up_sampling2d(2, 3, PX_INTERP_BILINEAR), px_apply(px_conv2d_layer(3, 2, 2, NULL), up));
    px_model_set_outputs(m, (px_node *[]){d1, d2, d3, d4, a4, up}, 6);
    return m;
}

/* Embedding(mask_zero): the recurrent layers after it skip the steps whose id
 * is 0 (state kept; outputs repeated, or zeros with zero_output_for_mask and
 * in Bidirectional's sequences), through return_sequences and go_backwards. */
static px_model *masked_rnn(void) {
    return px_sequential((px_layer *[]){px_embedding_ex(30, 6, &(px_embedding_options){.input_shape = PX_SHAPE(10), .mask_zero = true}),
                                        px_lstm(5, &(px_rnn_options){.return_sequences = true}),
                                        px_bidirectional(px_gru(4, &(px_rnn_options){.return_sequences = true}), PX_MERGE_CONCAT),
                                        px_dropout_layer(0.5f),
                                        px_simple_rnn(4, &(px_rnn_options){.return_sequences = true, .go_backwards = true,
                                                                           .zero_output_for_mask = true}),
                                        px_bidirectional(px_lstm(3, NULL), PX_MERGE_SUM), px_dense(2, PX_SOFTMAX), NULL});
}

static void test_other_layers(void) {
    struct {
        const char *tag;
        px_model *(*make)(void);
        int ids;
    } models[] = {{"2-D layers and merges", zoo_2d, 0}, {"1-D and recurrent layers", zoo_1d, 0}, {"Embedding + RNNs", embedding_rnn, 50},
                  {"attention, Dot, TimeDistributed, bilinear", attention_zoo, 0}, {"masked recurrent layers", masked_rnn, 3}};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        px_model *m = models[i].make();
        CHECK_NOT_NULL(m);
        if (!m) {
            printf("  %s: %s\n", models[i].tag, px_last_error());
            continue;
        }
        export_randomize(m, 21 + i);
        /* one compiler each (the course's models and the Keras files take both), to keep the suite short */
        export_check_model(m, models[i].tag, models[i].ids, &(px_export_c_options){.static_workspace = i == 0}, 1 + (int)(i % 2));
        px_model_free(m);
    }
}

/* Streaming: NAME_step fed the timesteps one by one ends where NAME_predict
 * does; also after an Embedding whose mask_zero makes the steps of id 0 leave
 * the state alone. */
static void test_streaming(void) {
    px_model *models[3] = {
        px_sequential((px_layer *[]){px_lstm(16, &(px_rnn_options){.input_shape = PX_SHAPE(9, 5)}), px_dense(3, PX_SOFTMAX), NULL}),
        px_sequential((px_layer *[]){px_gru(6, &(px_rnn_options){.input_shape = PX_SHAPE(9, 5), .return_sequences = true}),
                                     px_simple_rnn(4, &(px_rnn_options){.return_sequences = true}),
                                     px_lstm(5, NULL), px_dense(2, PX_TANH), NULL}),
        px_sequential((px_layer *[]){px_embedding_ex(20, 5, &(px_embedding_options){.input_shape = PX_SHAPE(9), .mask_zero = true}),
                                     px_dropout_layer(0.3f), px_lstm(6, &(px_rnn_options){.return_sequences = true}), px_gru(4, NULL),
                                     px_dense(3, PX_SOFTMAX), NULL})};
    for (int i = 0; i < 3; i++) {
        px_model *m = models[i];
        export_randomize(m, 31 + (uint64_t)i);
        char dir[] = "/tmp/px_export_step_XXXXXX", cmd[1200], path[600];
        CHECK(mkdtemp(dir) != NULL);
        CHECK_OK(px_model_export_c(m, dir, &(px_export_c_options){.name = "net", .streaming = true}));
        const int feat = i == 2 ? 1 : 5; /* ids, a third of them 0 */
        px_tensor *x = px_tensor_zeros(i == 2 ? PX_SHAPE(50, 9) : PX_SHAPE(50, 9, 5));
        px_rng rng = px_rng_seeded(8);
        for (int64_t k = 0; k < px_tensor_size(x); k++) px_tensor_f32(x)[k] = i == 2 ? (float)px_rng_below(&rng, 3) : px_rng_uniform(&rng) - 0.5f;
        px_tensor *ref = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
        snprintf(path, sizeof path, "%s/main.c", dir);
        FILE *f = fopen(path, "w");
        fprintf(f, "#include <stdio.h>\n#include \"net.h\"\nint main(void) {\n    static float x[50 * 45];\n"
                   "    float out[net_OUTPUT_SIZE], state[net_STATE_SIZE];\n    int e, t, i;\n    FILE *f = fopen(\"in.bin\", \"rb\");\n"
                   "    if (!f || fread(x, sizeof(float), 50 * 9 * net_STEP_INPUT_SIZE, f) != 50 * 9 * net_STEP_INPUT_SIZE) return 2;\n    fclose(f);\n"
                   "    for (e = 0; e < 50; e++) {\n        net_reset(state);\n"
                   "        for (t = 0; t < 9; t++) if (net_step(x + (e * 9 + t) * net_STEP_INPUT_SIZE, out, state)) return 3;\n"
                   "        for (i = 0; i < net_OUTPUT_SIZE; i++) printf(\"%%.9g\\n\", out[i]);\n    }\n    return 0;\n}\n");
        fclose(f);
        snprintf(path, sizeof path, "%s/in.bin", dir);
        f = fopen(path, "wb");
        fwrite(px_tensor_f32(x), sizeof(float), (size_t)(50 * 9 * feat), f);
        fclose(f);
        snprintf(cmd, sizeof cmd, "cd %s && cc -std=c99 -Wall -Wextra -Werror -pedantic -O1 -o run main.c net.c -lm && ./run > out.txt", dir);
        CHECK(system(cmd) == 0);
        snprintf(path, sizeof path, "%s/out.txt", dir);
        f = fopen(path, "r");
        double worst = 0;
        int64_t n = ref ? px_tensor_size(ref) : 0, got = 0;
        for (int64_t k = 0; f && k < n; k++) {
            double v;
            if (fscanf(f, "%lf", &v) != 1) break;
            got++;
            double d = fabs(v - px_tensor_f32(ref)[k]);
            if (!(d <= worst)) worst = d;
        }
        if (f) fclose(f);
        CHECK(got == n && n > 0);
        CHECK(worst <= 1e-5);
        printf("  streaming model %d: net_step over 9 steps vs px_model_predict, 50 sequences: largest difference %.2g\n", i, worst);
        if (i == 2) {
            /* the step function is written without being asked */
            snprintf(cmd, sizeof cmd, "grep -q net_step %s/net.h", dir);
            CHECK(system(cmd) == 0);
        }
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (px_test_failed == 0 && system(cmd) != 0) printf("  could not remove %s\n", dir);
        px_tensor_free(x);
        px_tensor_free(ref);
        px_model_free(m);
    }
}

static px_node *twice_call(px_layer *self, px_node *const *in, int n) {
    (void)self, (void)n;
    return px_add(in[0], in[0]);
}

/* What cannot be exported fails with an error naming the layer, writing nothing. */
static void test_errors(void) {
    char dir[] = "/tmp/px_export_err_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    /* a user-defined layer */
    static const px_layer_def twice = {.class_name = "Twice", .call = twice_call};
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(3, &(px_dense_options){.input_shape = PX_SHAPE(2)}),
                                               px_layer_new(&twice, NULL, "twice"), NULL});
    CHECK(px_model_export_c(m, dir, NULL) == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("layer 'twice' (Twice) is user-defined");
    px_model_free(m);
    /* a layer without an emitter */
    m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4, 4, 1), NULL), px_random_flip_layer(PX_FLIP_HORIZONTAL, NULL), NULL});
    CHECK(px_model_export_c(m, dir, NULL) == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("(RandomFlip) cannot be exported to C");
    px_model_free(m);
    /* a timestep mask into an attention layer */
    m = px_functional("attn");
    px_node *q = px_apply(px_embedding_ex(9, 4, &(px_embedding_options){.mask_zero = true}), px_model_input(m, PX_SHAPE(3), "ids"));
    px_node *a = px_apply_n(px_attention_layer(NULL), (px_node *[]){q, q}, 2);
    px_model_set_outputs(m, &a, 1);
    CHECK(px_model_export_c(m, dir, NULL) == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("layer 'attention' (Attention): input 0 carries a timestep mask");
    px_model_free(m);
    /* streaming asked of models that cannot stream, with the reason */
    px_model *nostream[3] = {
        px_sequential((px_layer *[]){px_bidirectional(px_lstm(3, &(px_rnn_options){.input_shape = PX_SHAPE(5, 2)}), PX_MERGE_CONCAT), NULL}),
        px_sequential((px_layer *[]){px_gru(3, &(px_rnn_options){.input_shape = PX_SHAPE(5, 2), .go_backwards = true}), NULL}),
        px_sequential((px_layer *[]){px_conv1d_layer(3, 2, &(px_conv_options){.input_shape = PX_SHAPE(5, 2)}), px_lstm(2, NULL), NULL})};
    const char *reason[3] = {"its backward direction starts from the sequence's last timestep", "goes backwards",
                             "does not work one timestep at a time"};
    for (int i = 0; i < 3; i++) {
        CHECK(px_model_export_c(nostream[i], dir, &(px_export_c_options){.streaming = true}) == PX_ERR_UNSUPPORTED);
        CHECK_ERROR_HAS("no step function (streaming)");
        CHECK_ERROR_HAS(reason[i]);
        px_model_free(nostream[i]);
    }
    /* timesteps unknown: the C needs fixed shapes */
    m = px_sequential((px_layer *[]){px_simple_rnn(2, &(px_rnn_options){.input_shape = PX_SHAPE(PX_UNKNOWN, 3)}), NULL});
    CHECK(px_model_export_c(m, dir, NULL) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("unknown dimension");
    px_model_free(m);
    /* not built; a name that is no C identifier; a NaN weight */
    m = px_sequential((px_layer *[]){px_dense(2, PX_RELU), NULL});
    CHECK(px_model_export_c(m, dir, NULL) == PX_ERR_STATE);
    CHECK_OK(px_model_build(m, PX_SHAPE(3)));
    CHECK(px_model_export_c(m, dir, &(px_export_c_options){.name = "my-net"}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("C identifier");
    px_tensor **w = NULL;
    int n = 0;
    px_layer *d = px_model_layer(m, px_model_layer_count(m) - 1);
    CHECK_OK(px_layer_get_weights(d, &w, &n));
    px_tensor_f32(w[0])[1] = NAN;
    CHECK_OK(px_layer_set_weights(d, w, n));
    for (int k = 0; k < n; k++) px_tensor_free(w[k]);
    free(w);
    CHECK(px_model_export_c(m, dir, NULL) == PX_ERR_NUMERIC);
    CHECK_ERROR_HAS("NaN at index 1");
    px_model_free(m);
    char path[128];
    snprintf(path, sizeof path, "%s/model.c", dir);
    CHECK(access(path, F_OK) != 0);
    rmdir(dir);
}

int main(void) {
    RUN_TEST(test_course_models);
    RUN_TEST(test_other_layers);
    RUN_TEST(test_streaming);
    RUN_TEST(test_errors);
    return px_test_finish();
}
