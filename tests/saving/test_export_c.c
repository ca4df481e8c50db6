/* plexus export --c (px_model_export_c): the generated C for the course's MLP,
 * ConvNet (and LeNet-5 with BatchNormalization folded) and LSTM, for a model of
 * most other layers, and for the real Keras files that load, compiles with gcc
 * and clang at -std=c99 -Wall -Wextra -Werror -pedantic and gives
 * px_model_predict's outputs within 1e-5 on 1,000 inputs; layers it cannot
 * export fail with errors naming them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plexus/export_c.h"
#include "graph/node.h"
#include "model/model_internal.h"
#include "plexus/model_io.h"
#include "px_test.h"

#define N_EXAMPLES 1000

static const char *compilers[] = {"gcc", "clang"};

static bool have(const char *prog) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s > /dev/null 2>&1", prog);
    return system(cmd) == 0;
}

/* Weights that start constant (biases, BatchNormalization's gamma, beta and
 * statistics) get uniform(-0.5, 0.5) added (variances: made 0.5 to 1.5), so that
 * they do something; kernels keep their Glorot initialisation, whose scale is a
 * trained model's. */
static void randomize(px_model *m, uint64_t seed) {
    px_rng rng = px_rng_seeded(seed);
    for (int i = 0; i < px_model_layer_count(m); i++) {
        px_layer *l = px_model_layer(m, i);
        px_tensor **w = NULL;
        int n = 0;
        if (px_layer_get_weights(l, &w, &n) != PX_OK) continue;
        for (int k = 0; k < n; k++) {
            float *d = px_tensor_f32(w[k]);
            bool constant = true;
            for (int64_t j = 1; j < px_tensor_size(w[k]); j++) constant = constant && d[j] == d[0];
            if (!constant) continue;
            bool var = strstr(px_layer_weight_name(l, k), "variance") != NULL;
            for (int64_t j = 0; j < px_tensor_size(w[k]); j++) d[j] = (var ? 1.0f : d[j]) + (px_rng_uniform(&rng) - 0.5f);
        }
        CHECK_OK(px_layer_set_weights(l, w, n));
        for (int k = 0; k < n; k++) px_tensor_free(w[k]);
        free(w);
    }
}

static int64_t unbatched_size(px_shape s) {
    int64_t n = 1;
    for (int i = 1; i < s.rank; i++) n *= s.dim[i];
    return n;
}

static bool write_floats(const char *path, const float *v, int64_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(v, sizeof *v, (size_t)n, f) == (size_t)n;
    return fclose(f) == 0 && ok;
}

static bool read_floats(const char *path, float *v, int64_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    bool ok = fread(v, sizeof *v, (size_t)n, f) == (size_t)n;
    fclose(f);
    return ok;
}

/* The harness: N examples from in.bin through net_predict_batch into out.bin;
 * also checks that net_predict_ws with a caller's workspace agrees. */
static const char *harness =
    "#include <stdio.h>\n#include <stdlib.h>\n#include \"net.h\"\n"
    "int main(int argc, char **argv) {\n"
    "    int n = atoi(argv[1]), i, rc;\n"
    "    float *in = malloc(sizeof(float) * NET_IN * n), *out = malloc(sizeof(float) * net_OUTPUT_SIZE * n);\n"
    "    static float ws[net_WORKSPACE_SIZE], one[net_OUTPUT_SIZE];\n"
    "    FILE *f = fopen(argv[2], \"rb\");\n"
    "    (void)argc;\n"
    "    if (!f || fread(in, sizeof(float), (size_t)NET_IN * n, f) != (size_t)NET_IN * n) return 2;\n"
    "    fclose(f);\n"
    "    rc = net_predict_batch(in, out, n);\n"
    "    if (net_predict_ws(in, one, ws) != rc && n == 1) return 4;\n"
    "    for (i = 0; i < net_OUTPUT_SIZE; i++) if (one[i] != out[i] && one[i] == one[i]) return 5;\n"
    "    f = fopen(argv[3], \"wb\");\n"
    "    if (!f || fwrite(out, sizeof(float), (size_t)net_OUTPUT_SIZE * n, f) != (size_t)net_OUTPUT_SIZE * n) return 3;\n"
    "    fclose(f);\n    free(in);\n    free(out);\n    return rc ? 6 : 0;\n}\n";

/* Exports m, builds the code with each compiler and compares N_EXAMPLES outputs
 * with px_model_predict's. ids > 0: inputs are whole numbers in [0, ids). */
static void check_model(px_model *m, const char *tag, int ids, const px_export_c_options *extra) {
    char dir[] = "/tmp/px_export_XXXXXX", path[600], cmd[2400];
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    px_export_c_options o = extra ? *extra : (px_export_c_options){0};
    o.name = "net";
    px_status st = px_model_export_c(m, dir, &o);
    CHECK_OK(st);
    if (st) {
        printf("  %s: %s\n", tag, px_last_error());
        return;
    }
    CHECK(px_model_input_count(m) == 1 && px_model_output_count(m) == 1);
    px_shape is = m->inputs[0]->shape, os = px_node_shape(px_model_output(m, 0));
    int64_t in_n = unbatched_size(is), out_n = unbatched_size(os);
    is.dim[0] = N_EXAMPLES;
    px_tensor *x = px_tensor_zeros(is);
    px_rng rng = px_rng_seeded(7);
    for (int64_t i = 0; i < px_tensor_size(x); i++)
        px_tensor_f32(x)[i] = ids > 0 ? (float)px_rng_below(&rng, (uint32_t)ids) : px_rng_uniform(&rng);
    px_tensor *ref = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT, .batch_size = 100});
    CHECK_NOT_NULL(ref);
    snprintf(path, sizeof path, "%s/in.bin", dir);
    CHECK(write_floats(path, px_tensor_f32(x), px_tensor_size(x)));
    snprintf(path, sizeof path, "%s/harness.c", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f || !ref) return;
    fprintf(f, "#define NET_IN net_INPUT_SIZE\n%s", harness);
    fclose(f);
    float *got = malloc((size_t)(N_EXAMPLES * out_n) * sizeof *got);
    for (size_t c = 0; c < sizeof compilers / sizeof compilers[0]; c++) {
        if (!have(compilers[c])) {
            px_test_skip("%s: %s is not installed", tag, compilers[c]);
            continue;
        }
        snprintf(cmd, sizeof cmd,
                 "cd %s && %s -std=c99 -Wall -Wextra -Werror -pedantic -O1 -o run_%s net.c %s harness.c -lm 2> cc_%s.log"
                 " && ./run_%s %d in.bin out.bin",
                 dir, compilers[c], compilers[c], o.separate_weights ? "net_weights.c" : "", compilers[c], compilers[c], N_EXAMPLES);
        int rc = system(cmd);
        CHECK(rc == 0);
        if (rc != 0) {
            printf("  %s with %s: exit %d (see %s/cc_%s.log)\n", tag, compilers[c], rc, dir, compilers[c]);
            continue;
        }
        snprintf(path, sizeof path, "%s/out.bin", dir);
        CHECK(read_floats(path, got, N_EXAMPLES * out_n));
        double worst = 0;
        const float *r = px_tensor_f32(ref);
        for (int64_t i = 0; i < N_EXAMPLES * out_n; i++) {
            double d = fabs((double)got[i] - r[i]) / fmax(1.0, fabs(r[i]));
            if (!(d <= worst)) worst = d;
        }
        CHECK(worst <= 1e-5);
        printf("  %-28s %-5s %lld inputs -> %lld outputs: largest difference %.2g\n", tag, compilers[c], (long long)in_n,
               (long long)out_n, worst);
    }
    free(got);
    px_tensor_free(x);
    px_tensor_free(ref);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (px_test_failed == 0 && system(cmd) != 0) printf("  could not remove %s\n", dir);
}

static px_model *mlp(void) {
    return px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(300, PX_RELU), px_dense(100, PX_RELU),
                                        px_dense(10, PX_SOFTMAX), NULL});
}

/* examples/convnet.c */
static px_model *convnet(void) {
    px_conv_options c1 = {.padding = PX_PADDING_SAME, .activation = PX_RELU};
    px_conv_options c2 = {.strides = {2, 2}, .padding = PX_PADDING_SAME, .activation = PX_RELU};
    return px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(28, 28), NULL), px_reshape_layer(PX_SHAPE(28, 28, 1)),
                                        px_conv2d_layer(4, 5, 5, &c1), px_conv2d_layer(8, 4, 4, &c2),
                                        px_conv2d_layer(12, 4, 4, &c2), px_flatten(PX_SCALAR), px_dense(200, PX_RELU),
                                        px_dense(10, PX_SOFTMAX), NULL});
}

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

/* examples/lstm_fashion.c */
static px_model *lstm(void) {
    return px_sequential((px_layer *[]){px_lstm(128, &(px_rnn_options){.input_shape = PX_SHAPE(28, 28)}),
                                        px_dense(10, PX_SOFTMAX), NULL});
}

static void test_course_models(void) {
    struct {
        const char *tag;
        px_model *(*make)(void);
    } models[] = {{"MLP", mlp}, {"ConvNet", convnet}, {"LeNet-5 (BatchNorm folded)", lenet5}, {"LSTM", lstm}};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        px_model *m = models[i].make();
        CHECK_NOT_NULL(m);
        if (!m) continue;
        if (!px_model_built(m)) CHECK_OK(px_model_build(m, PX_SHAPE(28, 28)));
        randomize(m, 11 + i);
        check_model(m, models[i].tag, 0, i == 1 ? &(px_export_c_options){.separate_weights = true} : NULL);
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

static void test_other_layers(void) {
    struct {
        const char *tag;
        px_model *(*make)(void);
        int ids;
    } models[] = {{"2-D layers and merges", zoo_2d, 0}, {"1-D and recurrent layers", zoo_1d, 0}, {"Embedding + RNNs", embedding_rnn, 50}};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        px_model *m = models[i].make();
        CHECK_NOT_NULL(m);
        if (!m) {
            printf("  %s: %s\n", models[i].tag, px_last_error());
            continue;
        }
        randomize(m, 21 + i);
        check_model(m, models[i].tag, models[i].ids, &(px_export_c_options){.static_workspace = i == 0});
        px_model_free(m);
    }
}

int main(void) {
    RUN_TEST(test_course_models);
    RUN_TEST(test_other_layers);
    return px_test_finish();
}
