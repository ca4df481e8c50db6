/* plexus export --onnx (px_model_export_onnx): the course's MLP, ConvNet and
 * LSTM (and a model of the other ONNX layers) pass onnx.checker (Debian's
 * python3-onnx) and, run by ONNX Runtime (npm's onnxruntime-node, in
 * build/onnxruntime or $PX_ONNXRUNTIME_DIR), give px_model_predict's outputs
 * within 1e-5. Each part skips when its tool is missing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export_check.h"
#include "graph/node.h"
#include "model/model_internal.h"
#include "px_test.h"

#define N 200

static char ort_dir[1024];

/* node_modules holding onnxruntime-node, or false. */
static bool find_ort(void) {
    const char *env = getenv("PX_ONNXRUNTIME_DIR");
    const char *cands[] = {env, "../build/onnxruntime/node_modules", "../build-sanitize/onnxruntime/node_modules"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (!cands[i]) continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/onnxruntime-node/package.json", cands[i]);
        if (access(p, R_OK) == 0 && realpath(cands[i], ort_dir)) return true;
    }
    return false;
}

static const char *runner =
    "const ort = require('onnxruntime-node'); const fs = require('fs');\n"
    "(async () => {\n"
    "  const [model, input, output, n] = process.argv.slice(2);\n"
    "  const s = await ort.InferenceSession.create(model);\n"
    "  const buf = fs.readFileSync(input); const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);\n"
    "  const dims = JSON.parse(process.argv[6]);\n"
    "  const r = await s.run({[s.inputNames[0]]: new ort.Tensor('float32', x, [Number(n), ...dims])});\n"
    "  fs.writeFileSync(output, Buffer.from(r[s.outputNames[0]].data.buffer));\n"
    "})().catch(e => { console.error(e.message); process.exit(1); });\n";

static void check_onnx(px_model *m, const char *tag, bool have_ort, bool have_checker) {
    char dir[] = "/tmp/px_onnx_XXXXXX", path[600], cmd[3000], dims[200] = "[";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    px_status st = px_model_export_onnx(m, path);
    CHECK_OK(st);
    if (st) {
        printf("  %s: %s\n", tag, px_last_error());
        return;
    }
    if (have_checker) {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\" %s", path);
        CHECK(system(cmd) == 0);
    }
    if (!have_ort) return;
    px_shape is = m->inputs[0]->shape;
    for (int i = 1; i < is.rank; i++) snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%lld", i > 1 ? "," : "", (long long)is.dim[i]);
    strcat(dims, "]");
    is.dim[0] = N;
    px_tensor *x = px_tensor_zeros(is);
    px_rng rng = px_rng_seeded(3);
    for (int64_t i = 0; i < px_tensor_size(x); i++) px_tensor_f32(x)[i] = px_rng_uniform(&rng);
    px_tensor *ref = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    CHECK_NOT_NULL(ref);
    snprintf(path, sizeof path, "%s/in.bin", dir);
    FILE *f = fopen(path, "wb");
    fwrite(px_tensor_f32(x), sizeof(float), (size_t)px_tensor_size(x), f);
    fclose(f);
    snprintf(path, sizeof path, "%s/run.js", dir);
    f = fopen(path, "w");
    fputs(runner, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd %s && NODE_PATH=%s node run.js model.onnx in.bin out.bin %d '%s'", dir, ort_dir, N, dims);
    int rc = system(cmd);
    CHECK(rc == 0);
    if (rc == 0 && ref) {
        int64_t n = px_tensor_size(ref);
        float *got = malloc((size_t)n * sizeof *got);
        snprintf(path, sizeof path, "%s/out.bin", dir);
        f = fopen(path, "rb");
        CHECK(f && fread(got, sizeof(float), (size_t)n, f) == (size_t)n);
        if (f) fclose(f);
        double worst = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = fabs((double)got[i] - px_tensor_f32(ref)[i]) / fmax(1.0, fabs(px_tensor_f32(ref)[i]));
            if (!(d <= worst)) worst = d;
        }
        CHECK(worst <= 1e-5);
        printf("  %-26s ONNX Runtime vs px_model_predict on %d inputs: largest difference %.2g\n", tag, N, worst);
        free(got);
    }
    px_tensor_free(x);
    px_tensor_free(ref);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (px_test_failed == 0 && system(cmd) != 0) printf("  could not remove %s\n", dir);
}

/* The other layers ONNX gets: Conv1D (causal), poolings, BatchNormalization,
 * GRU (both reset modes), SimpleRNN with sequences, merges. */
static px_model *others(void) {
    px_model *m = px_functional("others");
    px_node *in = px_model_input(m, PX_SHAPE(12, 3), "seq");
    px_node *a = px_apply(px_conv1d_layer(5, 3, &(px_conv_options){.padding = PX_PADDING_CAUSAL, .activation = PX_ELU}), in);
    a = px_apply(px_batch_normalization(), a);
    a = px_apply(px_max_pooling1d(2, NULL), a);
    px_node *g1 = px_apply(px_gru(4, &(px_rnn_options){.return_sequences = true}), a);
    px_node *g2 = px_apply(px_gru(4, &(px_rnn_options){.return_sequences = true, .no_reset_after = true}), a);
    px_node *s = px_apply_n(px_add_layer(), (px_node *[]){g1, g2}, 2);
    s = px_apply(px_simple_rnn(3, &(px_rnn_options){.return_sequences = true}), s);
    px_node *p = px_apply(px_global_average_pooling1d(), s), *q = px_apply(px_global_max_pooling1d(), s);
    px_node *c = px_apply_n(px_concatenate(-1), (px_node *[]){p, q, px_apply_n(px_multiply_layer(), (px_node *[]){p, q}, 2)}, 3);
    c = px_apply(px_dropout_layer(0.5f), c);
    c = px_apply(px_dense(2, PX_SIGMOID), c);
    px_model_set_outputs(m, &c, 1);
    return m;
}

/* Attention (dot with scale; concat with scale, causal), MultiHeadAttention
 * (value_dim, output_dim; causal without bias), Dot (over features, over
 * timesteps normalized, rank 1 normalized) and TimeDistributed(Dense). */
static px_model *attention(void) {
    px_model *m = px_functional("attention");
    px_node *q = px_model_input(m, PX_SHAPE(6, 8), "q");
    px_node *a1 = px_apply_n(px_attention_layer(&(px_attention_options){.use_scale = true}), (px_node *[]){q, q}, 2);
    px_node *a2 = px_apply_n(px_attention_layer(&(px_attention_options){.use_scale = true, .score_concat = true, .causal = true}),
                             (px_node *[]){q, q, q}, 3);
    px_node *a3 = px_apply_n(px_multi_head_attention(2, 3, &(px_mha_options){.value_dim = 4, .output_dim = 5}), (px_node *[]){q, q}, 2);
    px_node *a4 = px_apply_n(px_multi_head_attention(3, 2, &(px_mha_options){.causal = true, .no_bias = true}), (px_node *[]){q}, 1);
    px_node *td = px_apply(px_time_distributed(px_dense(4, PX_TANH)), q);
    px_node *d1 = px_apply_n(px_dot_layer(2, 2, false), (px_node *[]){a1, a2}, 2);
    px_node *d2 = px_apply_n(px_dot_layer(1, 1, true), (px_node *[]){a1, td}, 2);
    px_node *d3 = px_apply_n(px_dot_layer(-1, -1, true), (px_node *[]){px_apply(px_global_average_pooling1d(), a4),
                                                                      px_apply(px_global_max_pooling1d(), a2)}, 2);
    px_node *parts[5] = {px_apply(px_flatten(PX_SCALAR), d1), px_apply(px_flatten(PX_SCALAR), d2), d3,
                         px_apply(px_flatten(PX_SCALAR), a3), px_apply(px_flatten(PX_SCALAR), a4)};
    px_node *c = px_apply_n(px_concatenate(-1), parts, 5);
    px_model_set_outputs(m, &c, 1);
    return m;
}

/* UpSampling2D, bilinear (half-pixel centres) and nearest: ONNX's Resize. */
static px_model *upsampling(void) {
    return px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(3, 4, 2), NULL), px_up_sampling2d(3, 2, PX_INTERP_BILINEAR),
                                        px_conv2d_layer(3, 2, 2, NULL), px_up_sampling2d(2, 3, PX_INTERP_NEAREST),
                                        px_up_sampling2d(2, 2, PX_INTERP_BILINEAR), px_flatten(PX_SCALAR), NULL});
}

static void test_onnx(void) {
    bool have_checker = system("/usr/bin/python3 -c 'import onnx' 2>/dev/null") == 0;
    bool have_ort = system("command -v node > /dev/null") == 0 && find_ort();
    if (!have_checker) px_test_skip("python3-onnx is not installed: no onnx.checker");
    if (!have_ort) px_test_skip("onnxruntime-node is not in build/onnxruntime or $PX_ONNXRUNTIME_DIR (see docs/export.md)");
    struct {
        const char *tag;
        px_model *(*make)(void);
    } models[] = {{"MLP", export_course_mlp}, {"ConvNet", export_course_convnet}, {"LSTM", export_course_lstm}, {"Conv1D, GRU, merges", others},
                  {"attention, Dot, TimeDistributed", attention}, {"UpSampling2D", upsampling}};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        px_model *m = models[i].make();
        if (!px_model_built(m)) CHECK_OK(px_model_build(m, PX_SHAPE(28, 28)));
        export_randomize(m, 5 + i);
        check_onnx(m, models[i].tag, have_ort, have_checker);
        px_model_free(m);
    }
}

static void test_onnx_errors(void) {
    /* a layer the table gives no ONNX writer */
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4, 4, 1), NULL), px_random_flip_layer(PX_FLIP_HORIZONTAL, NULL), NULL});
    CHECK(px_model_export_onnx(m, "/tmp/px_never.onnx") == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("(RandomFlip) cannot be exported to ONNX");
    CHECK(access("/tmp/px_never.onnx", F_OK) != 0);
    px_model_free(m);
    /* TimeDistributed around a layer without an ONNX writer */
    m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(3, 4), NULL), px_time_distributed(px_prelu_layer(NULL)), NULL});
    CHECK(px_model_export_onnx(m, "/tmp/px_never.onnx") == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("wraps a PReLU, which cannot be exported to ONNX");
    CHECK(access("/tmp/px_never.onnx", F_OK) != 0);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_onnx_errors);
    RUN_TEST(test_onnx);
    return px_test_finish();
}
