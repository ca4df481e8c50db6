/* `plexus export`: --c writes NAME.h / NAME.c that build with -std=c99
 * -pedantic -Werror and predict as the model file does (--int8 closely),
 * --onnx writes an ONNX file; bad command lines and models it cannot export
 * fail with one line naming the problem, writing nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "px_test.h"

/* A small model saved as model.h5 in the test directory; its prediction for x. */
static bool save_model(const char *file, bool unexportable, const float *x, float *want) {
    px_model *m;
    if (unexportable) { /* a layer the exporter has no emitter for */
        m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4, 4, 1), NULL), px_random_flip_layer(PX_FLIP_HORIZONTAL, NULL), NULL});
    } else {
        m = px_sequential((px_layer *[]){px_dense_ex(8, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(4)}),
                                         px_dense(3, PX_SOFTMAX), NULL});
    }
    if (!m) return false;
    bool ok = px_model_save(m, cli_path(file)) == PX_OK;
    if (ok && want) {
        px_tensor *t = px_tensor_from_array(PX_SHAPE(1, 4), x, 4), *y = px_model_predict(m, t, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
        ok = y != NULL;
        for (int i = 0; ok && i < 3; i++) want[i] = px_tensor_f32(y)[i];
        px_tensor_free(t);
        px_tensor_free(y);
    }
    px_model_free(m);
    return ok;
}

/* Builds and runs the program of `cmd`, which prints the three outputs. */
static void check_run(const char *cmd, const float *want) {
    int rc = cli_sh("%s", cmd);
    CHECK(rc == 0);
    if (rc != 0) return;
    char *p = cli_out;
    for (int i = 0; i < 3; i++) {
        double v = strtod(p, &p);
        CHECK_NEAR(v, want[i], 1e-6);
    }
}

static void test_export_builds_and_predicts(void) {
    const float x[4] = {5.1f, 3.5f, 1.4f, 0.2f};
    float want[3];
    CHECK(save_model("model.h5", false, x, want));
    CHECK(cli_sh("mkdir -p out") == 0);
    CHECK(cli_run("export model.h5 --c out --name iris") == 0);
    CHECK(strstr(cli_out, "out/iris.h") != NULL);
    cli_write("main.c", "#include <stdio.h>\n#include \"out/iris.h\"\n"
                        "int main(void) {\n    const float x[iris_INPUT_SIZE] = {5.1f, 3.5f, 1.4f, 0.2f};\n"
                        "    float y[iris_OUTPUT_SIZE];\n    int i, rc = iris_predict(x, y);\n"
                        "    for (i = 0; i < iris_OUTPUT_SIZE; i++) printf(\"%.9g\\n\", y[i]);\n    return rc;\n}\n");
    check_run("cc -std=c99 -Wall -Wextra -Werror -pedantic -o run main.c out/iris.c -lm && ./run", want);
    /* the weights apart */
    CHECK(cli_run("export model.h5 --c out --name apart --separate-weights --static-workspace") == 0);
    CHECK(cli_exists("out/apart_weights.c"));
    CHECK(cli_sh("cc -std=c99 -Wall -Wextra -Werror -pedantic -c out/apart.c out/apart_weights.c") == 0);
    /* without <math.h>: linked without -lm, the same outputs (its own expf in the softmax) */
    CHECK(cli_run("export model.h5 --c out --name iris --no-math") == 0);
    CHECK(cli_sh("! grep -q 'math.h>' out/iris.c") == 0);
    check_run("cc -std=c99 -Wall -Wextra -Werror -pedantic -o run_nm main.c out/iris.c && ./run_nm", want);
    CHECK(cli_run("export model.h5 --onnx m.onnx --no-math") == 2);
}

/* --int8 with a CSV of calibration rows, and --onnx. */
static void test_export_int8_and_onnx(void) {
    const float x[4] = {5.1f, 3.5f, 1.4f, 0.2f};
    float want[3];
    CHECK(save_model("model.h5", false, x, want));
    cli_write("cal.csv", "5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n7.7,3.0,6.1,2.3\n4.9,3.1,1.5,0.1\n");
    CHECK(cli_sh("mkdir -p q") == 0);
    CHECK(cli_run("export model.h5 --c q --name iris --int8 --calibration cal.csv") == 0);
    cli_write("mainq.c", "#include <stdio.h>\n#include \"q/iris.h\"\n"
                         "int main(void) {\n    const float x[iris_INPUT_SIZE] = {5.1f, 3.5f, 1.4f, 0.2f};\n"
                         "    float y[iris_OUTPUT_SIZE];\n    int i, rc = iris_predict(x, y);\n"
                         "    for (i = 0; i < iris_OUTPUT_SIZE; i++) printf(\"%.9g\\n\", y[i]);\n    return rc;\n}\n");
    int rc = cli_sh("cc -std=c99 -Wall -Wextra -Werror -pedantic -o runq mainq.c q/iris.c -lm && ./runq");
    CHECK(rc == 0);
    if (rc == 0) {
        char *p = cli_out;
        for (int i = 0; i < 3; i++) {
            double v = strtod(p, &p);
            CHECK_NEAR(v, want[i], 0.05); /* int8: close, not equal */
        }
    }
    CHECK(cli_sh("grep -q 'int8_t' q/iris.c") == 0);
    CHECK(cli_run("export model.h5 --onnx model.onnx") == 0);
    CHECK(strstr(cli_out, "wrote model.onnx") != NULL);
    CHECK(cli_exists("model.onnx"));
    CHECK(cli_run("export model.h5 --c q --int8") == 2);
    CHECK(strstr(cli_err, "--int8 and --calibration DATA go together") != NULL);
    CHECK(cli_run("export model.h5 --onnx m.onnx --name x") == 2);
    CHECK(cli_run("export model.h5 --onnx m.onnx --c q") == 2);
}

static void test_export_errors(void) {
    CHECK(save_model("model.h5", false, NULL, NULL));
    CHECK(save_model("flip.h5", true, NULL, NULL));
    CHECK(cli_sh("mkdir -p out2") == 0);
    CHECK(cli_run("export model.h5") == 2);
    CHECK(strstr(cli_err, "--c DIR") != NULL);
    CHECK(cli_run("export --c out2") == 2);
    CHECK(cli_run("export model.h5 --c nowhere") == 1);
    CHECK(strstr(cli_err, "nowhere: not a directory") != NULL);
    CHECK(cli_run("export model.h5 --c out2 --name 9lives") == 1);
    CHECK(strstr(cli_err, "C identifier") != NULL);
    CHECK(cli_run("export flip.h5 --c out2") == 1);
    CHECK(strstr(cli_err, "(RandomFlip) cannot be exported") != NULL);
    /* --streaming for a model without recurrent layers: the reason */
    CHECK(cli_run("export model.h5 --c out2 --streaming") == 1);
    CHECK(strstr(cli_err, "no step function (streaming)") != NULL);
    CHECK(cli_run("export missing.h5 --c out2") == 1);
    CHECK(!cli_exists("out2/model.h") && !cli_exists("out2/model.c"));
}

int main(int argc, char **argv) {
    (void)argc;
    if (!cli_setup(argv[0])) return 1;
    RUN_TEST(test_export_builds_and_predicts);
    RUN_TEST(test_export_int8_and_onnx);
    RUN_TEST(test_export_errors);
    cli_teardown();
    return px_test_finish();
}
