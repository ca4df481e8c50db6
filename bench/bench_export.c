/* Single-image latency of the exported C (float and int8) against
 * px_model_predict at batch 1, for the course's MLP and ConvNet (Glorot
 * weights, untrained: speed does not depend on the values). The exported code
 * is built with the system's cc (-O2, and -O3 -march=native) in a temporary
 * directory and timed there.
 * Usage: bench_export [--reps R]   (run it under flock /work/wt/bench.lock)
 * Prints one line per model: "MODEL plexus_us X c_float_us[FLAGS] Y c_int8_us[FLAGS] Z ..." (medians). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <plexus/plexus.h>
#include "bench_util.h"

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, by_value);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* The timing program: the median of R single-image predictions, in microseconds. */
static const char *timer =
    "#define _POSIX_C_SOURCE 199309L\n#include <stdio.h>\n#include <stdlib.h>\n#include <time.h>\n#include \"net.h\"\n"
    "static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }\n"
    "static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }\n"
    "int main(int argc, char **argv) {\n    int r, reps = atoi(argv[1]), i;\n    static float in[net_INPUT_SIZE], out[net_OUTPUT_SIZE];\n"
    "    double *t = malloc(sizeof(double) * reps), sink = 0;\n    (void)argc;\n"
    "    for (i = 0; i < net_INPUT_SIZE; i++) in[i] = (float)(i %% 17) / 17.0f;\n"
    "    for (r = -reps / 10 - 1; r < reps; r++) {\n        double t0 = now();\n        net_predict(in, out);\n"
    "        if (r >= 0) t[r] = now() - t0;\n        sink += out[0];\n    }\n"
    "    qsort(t, reps, sizeof *t, cmp);\n    printf(\"%%.2f %%g\\n\", 1e6 * t[reps / 2], sink);\n    return 0;\n}\n";

static double time_exported(px_model *m, const px_export_c_options *o, int reps, const char *cflags) {
    char dir[] = "/tmp/px_bench_export_XXXXXX", cmd[1200], path[600];
    if (!mkdtemp(dir)) return -1;
    px_export_c_options opts = *o;
    opts.name = "net";
    if (px_model_export_c(m, dir, &opts) != PX_OK) return fprintf(stderr, "bench_export: %s\n", px_last_error()), -1;
    snprintf(path, sizeof path, "%s/timer.c", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, timer, 0);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd %s && cc -std=c99 %s -o timer timer.c net.c -lm && ./timer %d > t.txt", dir, cflags, reps);
    double us = -1;
    if (system(cmd) == 0) {
        snprintf(path, sizeof path, "%s/t.txt", dir);
        f = fopen(path, "r");
        if (f && fscanf(f, "%lf", &us) != 1) us = -1;
        if (f) fclose(f);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_export: could not remove %s\n", dir);
    return us;
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv, "usage: bench_export [--reps R]\n")) return 0;
    int reps = 2000;
    for (int i = 1; i + 1 < argc; i += 2)
        if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
    if (reps < 10) reps = 10;
    px_set_num_threads(1);
    px_conv_options c1 = {.padding = PX_PADDING_SAME, .activation = PX_RELU};
    px_conv_options c2 = {.strides = {2, 2}, .padding = PX_PADDING_SAME, .activation = PX_RELU};
    struct {
        const char *name;
        px_model *m;
    } models[] = {
        {"mlp", px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(300, PX_RELU), px_dense(100, PX_RELU),
                                             px_dense(10, PX_SOFTMAX), NULL})},
        {"convnet", px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(28, 28), NULL), px_reshape_layer(PX_SHAPE(28, 28, 1)),
                                                 px_conv2d_layer(4, 5, 5, &c1), px_conv2d_layer(8, 4, 4, &c2),
                                                 px_conv2d_layer(12, 4, 4, &c2), px_flatten(PX_SCALAR), px_dense(200, PX_RELU),
                                                 px_dense(10, PX_SOFTMAX), NULL})},
    };
    px_tensor *cal = px_tensor_zeros(PX_SHAPE(200, 28, 28));
    px_rng rng = px_rng_seeded(1);
    for (int64_t i = 0; i < px_tensor_size(cal); i++) px_tensor_f32(cal)[i] = px_rng_uniform(&rng);
    for (size_t k = 0; k < 2; k++) {
        px_model *m = models[k].m;
        if (!m || (!px_model_built(m) && px_model_build(m, PX_SHAPE(28, 28)) != PX_OK))
            return fprintf(stderr, "bench_export: %s\n", px_last_error()), 1;
        px_tensor *one = px_tensor_slice(cal, 0, 1);
        double *t = malloc((size_t)reps * sizeof *t);
        for (int r = -reps / 10 - 1; r < reps; r++) {
            double t0 = now();
            px_tensor *y = px_model_predict(m, one, &(px_eval_options){.verbose = PX_VERBOSE_SILENT, .batch_size = 1});
            if (r >= 0) t[r] = now() - t0;
            px_tensor_free(y);
        }
        double plexus = 1e6 * median(t, reps);
        printf("%s plexus_us %.2f", models[k].name, plexus);
        static const char *const flags[2] = {"-O2", "-O3 -march=native"};
        for (int fl = 0; fl < 2; fl++) {
            double cf = time_exported(m, &(px_export_c_options){0}, reps, flags[fl]);
            double cq = time_exported(m, &(px_export_c_options){.int8 = true, .calibration = cal}, reps, flags[fl]);
            printf(" c_float_us[%s] %.2f c_int8_us[%s] %.2f", flags[fl], cf, flags[fl], cq);
        }
        printf("\n");
        free(t);
        px_tensor_free(one);
        px_model_free(m);
    }
    px_tensor_free(cal);
    return 0;
}
