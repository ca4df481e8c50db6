/* plexus export --c --no-math (px_export_c_options.no_math): the generated
 * code includes no <math.h> and calls no library function, still matches
 * px_model_predict within 1e-5, and its own exp, log, expm1, log1p, tanh, erfc
 * and sqrt stay within the errors docs/export.md gives, against libm in double
 * precision over their useful ranges. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export_check.h"
#include "px_test.h"

/* Every function the no-math code brings: sqrtf (LayerNormalization), erfcf
 * (gelu), expm1f (ELU), log1pf, fabsf, fmaxf (softplus), tanhf (mish, tanh),
 * fminf (ReLU's max_value), INFINITY (MaxPooling1D), logf (log_softmax). */
static px_model *all_math(void) {
    return px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(6, 5), NULL), px_layer_normalization(NULL), px_dense(8, PX_GELU),
                                        px_elu_layer(0.7f), px_activation_layer(PX_SOFTPLUS), px_dense(8, PX_MISH),
                                        px_relu_layer(&(px_relu_options){.max_value = 1.5f}), px_max_pooling1d(2, NULL),
                                        px_dense(6, PX_TANH), px_dense(5, PX_SIGMOID), px_flatten(PX_SCALAR),
                                        px_dense(4, PX_LOG_SOFTMAX), NULL});
}

/* NAN: an Embedding's ids out of range */
static px_model *embedding(void) {
    return px_sequential((px_layer *[]){px_embedding_ex(20, 4, &(px_embedding_options){.input_shape = PX_SHAPE(5)}), px_lstm(3, NULL),
                                        px_dense(2, PX_SOFTMAX), NULL});
}

/* The harness that includes the generated net.c (its functions are static) and
 * prints, per function, the largest relative error against libm's double
 * precision over a range, on 400,001 points spread evenly (and for logf,
 * log-spaced over the whole float range). */
static const char *sweep =
    "#include <math.h>\n#include <stdio.h>\n#include \"net.c\"\n"
    "#define N 400000\n"
    "static double rel(double got, double want) {\n"
    "    double d = fabs(got - want);\n"
    "    return want == 0.0 ? d : d / fabs(want);\n}\n"
    "#define SWEEP(label, f, ref, lo, hi) { double w = 0; int i; for (i = 0; i <= N; i++) { float v = (float)(lo + (hi - lo) * i / N); \\\n"
    "    double e = rel(f(v), ref((double)v)); if (e > w) w = e; } printf(\"%s %.3g\\n\", label, w); }\n"
    "static double ref_sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }\n"
    "int main(void) {\n"
    "    double w = 0;\n    int i;\n"
    "    SWEEP(\"expf\", pxm_expf, exp, -87.0, 88.0)\n"
    "    SWEEP(\"expm1f\", pxm_expm1f, expm1, -20.0, 20.0)\n"
    "    SWEEP(\"expm1f_small\", pxm_expm1f, expm1, -1e-3, 1e-3)\n"
    "    SWEEP(\"log1pf\", pxm_log1pf, log1p, -0.999, 100.0)\n"
    "    SWEEP(\"log1pf_small\", pxm_log1pf, log1p, -1e-3, 1e-3)\n"
    "    SWEEP(\"tanhf\", pxm_tanhf, tanh, -10.0, 10.0)\n"
    "    SWEEP(\"erfcf\", pxm_erfcf, erfc, -4.0, 9.0)\n"
    "    SWEEP(\"sqrtf\", pxm_sqrtf, sqrt, 0.0, 1000.0)\n"
    "    SWEEP(\"sigmoid\", act_sigmoid, ref_sigmoid, -80.0, 80.0)\n"
    "    for (i = 0; i <= N; i++) { /* logf and sqrtf over every binade, subnormals included */\n"
    "        float v = (float)exp(-103.0 + 191.0 * i / N);\n"
    "        double e = rel(pxm_logf(v), log((double)v));\n"
    "        if (e > w) w = e;\n"
    "        e = rel(pxm_sqrtf(v), sqrt((double)v));\n"
    "        if (e > w) w = e;\n"
    "    }\n"
    "    printf(\"logf_sqrtf_all %.3g\\n\", w);\n"
    "    /* the special values */\n"
    "    printf(\"special %d\\n\", pxm_expf(-200.0f) == 0.0f && pxm_expf(100.0f) > 3e38f && pxm_logf(0.0f) < -3e38f &&\n"
    "           pxm_logf(-1.0f) != pxm_logf(-1.0f) && pxm_sqrtf(-1.0f) != pxm_sqrtf(-1.0f) && pxm_sqrtf(0.0f) == 0.0f &&\n"
    "           pxm_tanhf(50.0f) == 1.0f && pxm_tanhf(-50.0f) == -1.0f && pxm_expm1f(-100.0f) == -1.0f &&\n"
    "           pxm_erfcf(-20.0f) == 2.0f && pxm_expf(pxm_nan_check()) != pxm_expf(pxm_nan_check()));\n"
    "    return 0;\n}\n";

static void test_no_math(void) {
    px_model *m = all_math();
    CHECK_NOT_NULL(m);
    export_randomize(m, 5);
    /* matches px_model_predict within 1e-5 with gcc and clang */
    export_check_model(m, "no <math.h>", 0, &(px_export_c_options){.no_math = true}, 0);
    px_model *e = embedding();
    export_randomize(e, 6);
    export_check_model(e, "no <math.h>, Embedding", 20, &(px_export_c_options){.no_math = true}, 1);
    px_model_free(e);

    char dir[] = "/tmp/px_export_nomath_XXXXXX", cmd[1200], path[600];
    CHECK(mkdtemp(dir) != NULL);
    CHECK_OK(px_model_export_c(m, dir, &(px_export_c_options){.name = "net", .no_math = true}));
    /* no <math.h>, and no symbol from outside but what a compiler may itself call for loops */
    snprintf(cmd, sizeof cmd, "cd %s && ! grep -n 'math.h>' net.c && cc -std=c99 -Wall -Wextra -Werror -pedantic -O1 -c net.c -o net.o && "
                              "nm -u net.o | grep -v -w -E 'memset|memcpy|memmove' > undefined.txt; test ! -s undefined.txt", dir);
    CHECK(system(cmd) == 0);
    /* the approximations against libm */
    snprintf(path, sizeof path, "%s/sweep.c", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        /* a NaN the compiler cannot fold away */
        fprintf(f, "static volatile float pxm_nan_src = 0.0f;\nstatic float pxm_nan_check(void) { return pxm_nan_src / pxm_nan_src; }\n%s", sweep);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "cd %s && cc -std=c99 -O2 -o sweep sweep.c -lm && ./sweep > sweep.txt", dir);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/sweep.txt", dir);
    f = fopen(path, "r");
    CHECK(f != NULL);
    /* the bounds docs/export.md gives */
    static const struct {
        const char *fn;
        double bound;
    } bounds[] = {{"expf", 3e-7},     {"expm1f", 5e-7}, {"expm1f_small", 3e-7}, {"log1pf", 3e-7}, {"log1pf_small", 3e-7},
                  {"tanhf", 5e-7},    {"erfcf", 1e-6},  {"sqrtf", 1.2e-7},      {"sigmoid", 5e-7}, {"logf_sqrtf_all", 3e-7},
                  {"special", -1}};
    char label[64];
    double v;
    size_t seen = 0;
    while (f && fscanf(f, "%63s %lf", label, &v) == 2) {
        for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
            if (strcmp(label, bounds[k].fn) != 0) continue;
            seen++;
            if (bounds[k].bound < 0) {
                CHECK(v == 1);
                printf("  special values (0, infinities, NaN, saturation): %s\n", v == 1 ? "right" : "WRONG");
            } else {
                CHECK(v <= bounds[k].bound);
                printf("  %-16s largest relative error against libm %.2g (bound %.2g)\n", label, v, bounds[k].bound);
            }
        }
    }
    if (f) fclose(f);
    CHECK(seen == sizeof bounds / sizeof bounds[0]);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (px_test_failed == 0 && system(cmd) != 0) printf("  could not remove %s\n", dir);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_no_math);
    return px_test_finish();
}
