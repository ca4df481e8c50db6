/* Shared by the C-export tests: exports a model, builds the generated code with
 * gcc and clang at -std=c99 -Wall -Wextra -Werror -pedantic, runs it on 1,000
 * inputs and compares with px_model_predict. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export_check.h"
#include "graph/node.h"
#include "model/model_internal.h"
#include "px_test.h"

#define N_EXAMPLES 1000

static const char *const compilers[] = {"gcc", "clang"};

static bool have(const char *prog) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s > /dev/null 2>&1", prog);
    return system(cmd) == 0;
}

/* Weights that start constant (biases, BatchNormalization's gamma, beta and
 * statistics) get uniform(-0.5, 0.5) added (variances: made 0.5 to 1.5), so that
 * they do something; kernels keep their Glorot initialisation, whose scale is a
 * trained model's. */
void export_randomize(px_model *m, uint64_t seed) {
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
void export_check_model(px_model *m, const char *tag, int ids, const px_export_c_options *extra, int only) {
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
    /* each example is the model's inputs one after the other, as the generated code takes them */
    const int ni = px_model_input_count(m), no = px_model_output_count(m);
    px_tensor *xs[8] = {0}, *refs[8] = {0};
    int64_t in_n = 0, out_n = 0, in_sz[8], out_sz[8];
    px_rng rng = px_rng_seeded(7);
    for (int k = 0; k < ni; k++) {
        px_shape is = m->inputs[k]->shape;
        in_n += in_sz[k] = unbatched_size(is);
        is.dim[0] = N_EXAMPLES;
        xs[k] = px_tensor_zeros(is);
        for (int64_t i = 0; i < px_tensor_size(xs[k]); i++)
            px_tensor_f32(xs[k])[i] = ids > 0 ? (float)px_rng_below(&rng, (uint32_t)ids) : px_rng_uniform(&rng);
    }
    for (int k = 0; k < no; k++) out_n += out_sz[k] = unbatched_size(px_node_shape(px_model_output(m, k)));
    CHECK_OK(px_model_predict_arrays(m, xs, ni, &(px_eval_options){.verbose = PX_VERBOSE_SILENT, .batch_size = 100}, refs));
    float *flat_in = malloc((size_t)(N_EXAMPLES * in_n) * sizeof *flat_in), *want = malloc((size_t)(N_EXAMPLES * out_n) * sizeof *want);
    for (int64_t e = 0, at = 0; e < N_EXAMPLES; e++)
        for (int k = 0; k < ni; k++, at += in_sz[k - 1]) memcpy(flat_in + at, px_tensor_f32(xs[k]) + e * in_sz[k], (size_t)in_sz[k] * sizeof(float));
    for (int64_t e = 0, at = 0; e < N_EXAMPLES; e++)
        for (int k = 0; k < no; k++, at += out_sz[k - 1])
            if (refs[k]) memcpy(want + at, px_tensor_f32(refs[k]) + e * out_sz[k], (size_t)out_sz[k] * sizeof(float));
    snprintf(path, sizeof path, "%s/in.bin", dir);
    CHECK(write_floats(path, flat_in, N_EXAMPLES * in_n));
    free(flat_in);
    for (int k = 0; k < ni; k++) px_tensor_free(xs[k]);
    for (int k = 0; k < no; k++) px_tensor_free(refs[k]);
    snprintf(path, sizeof path, "%s/harness.c", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "#define NET_IN net_INPUT_SIZE\n%s", harness);
    fclose(f);
    float *got = malloc((size_t)(N_EXAMPLES * out_n) * sizeof *got);
    /* under the sanitizers the exporter is what is checked: one compiler is enough */
    const size_t n_cc = getenv("PX_TEST_SANITIZE") ? 1 : sizeof compilers / sizeof compilers[0];
    for (size_t c = 0; c < n_cc; c++) {
        if (only && (int)c != only - 1) continue;
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
        const float *r = want;
        for (int64_t i = 0; i < N_EXAMPLES * out_n; i++) {
            double d = fabs((double)got[i] - r[i]) / fmax(1.0, fabs(r[i]));
            if (!(d <= worst)) worst = d;
        }
        CHECK(worst <= 1e-5);
        printf("  %-28s %-5s %lld inputs -> %lld outputs: largest difference %.2g\n", tag, compilers[c], (long long)in_n,
               (long long)out_n, worst);
    }
    free(got);
    free(want);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (px_test_failed == 0 && system(cmd) != 0) printf("  could not remove %s\n", dir);
}


bool export_run(px_model *m, const px_export_c_options *opts, const float *in, int64_t n, int64_t in_n, float *out,
                int64_t out_n) {
    char dir[] = "/tmp/px_export_run_XXXXXX", path[600], cmd[2400];
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return false;
    }
    px_export_c_options o = opts ? *opts : (px_export_c_options){0};
    o.name = "net";
    px_status st = px_model_export_c(m, dir, &o);
    CHECK_OK(st);
    if (st) return false;
    snprintf(path, sizeof path, "%s/in.bin", dir);
    bool ok = write_floats(path, in, n * in_n);
    snprintf(path, sizeof path, "%s/harness.c", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        CHECK(!"harness");
        return false;
    }
    fprintf(f, "#define NET_IN net_INPUT_SIZE\n%s", harness);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "cd %s && gcc -std=c99 -Wall -Wextra -Werror -pedantic -O2 -o run net.c harness.c -lm 2> cc.log && ./run %lld in.bin out.bin",
             dir, (long long)n);
    ok = ok && system(cmd) == 0;
    snprintf(path, sizeof path, "%s/out.bin", dir);
    ok = ok && read_floats(path, out, n * out_n);
    CHECK(ok);
    if (!ok) printf("  building or running the code in %s failed (see cc.log)\n", dir);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (ok && system(cmd) != 0) printf("  could not remove %s\n", dir);
    return ok;
}

px_model *export_course_mlp(void) {
    return px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(300, PX_RELU), px_dense(100, PX_RELU),
                                        px_dense(10, PX_SOFTMAX), NULL});
}

px_model *export_course_convnet(void) {
    px_conv_options c1 = {.padding = PX_PADDING_SAME, .activation = PX_RELU};
    px_conv_options c2 = {.strides = {2, 2}, .padding = PX_PADDING_SAME, .activation = PX_RELU};
    return px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(28, 28), NULL), px_reshape_layer(PX_SHAPE(28, 28, 1)),
                                        px_conv2d_layer(4, 5, 5, &c1), px_conv2d_layer(8, 4, 4, &c2),
                                        px_conv2d_layer(12, 4, 4, &c2), px_flatten(PX_SCALAR), px_dense(200, PX_RELU),
                                        px_dense(10, PX_SOFTMAX), NULL});
}

px_model *export_course_lstm(void) {
    return px_sequential((px_layer *[]){px_lstm(128, &(px_rnn_options){.input_shape = PX_SHAPE(28, 28)}),
                                        px_dense(10, PX_SOFTMAX), NULL});
}
