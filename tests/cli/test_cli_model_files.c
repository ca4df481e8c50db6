/* Model files on the command line: -o follows the name (.keras writes a Keras 3
 * archive), every command reads archives, and MODEL.json --weights FILE stands for a
 * model file, Keras's own weights-only files included (matched by position as Keras
 * does, or --by-name). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "plexus/model_io.h"
#include "px_test.h"

static void test_archives(void) {
    CHECK(cli_runf("train '%s/iris_mlp.json' --train-csv '%s' --header --test-csv '%s' --epochs 20 --batch-size 16 "
                   "--optimizer adam --learning-rate 0.02 -v 0 --seed 7 -o iris.keras",
                   cli_models, cli_iris, cli_iris) == 0);
    CHECK(strstr(cli_out, "saved iris.keras") != NULL);
    double acc = cli_value_after(cli_out, "test accuracy: ");
    char *bytes = cli_slurp(cli_path("iris.keras"));
    CHECK(strncmp(bytes, "PK\x03\x04", 4) == 0); /* a zip, not HDF5 under a .keras name */
    free(bytes);
    CHECK(cli_runf("evaluate iris.keras --test-csv '%s' --header", cli_iris) == 0);
    CHECK_NEAR(cli_value_after(cli_out, "accuracy: "), acc, 1e-4);
    CHECK(cli_run("summary iris.keras") == 0 && strstr(cli_out, "Total params: 131"));
}

static void test_weights(void) {
    CHECK(cli_runf("predict iris.keras --csv '%s' --header --label-column -1 --limit 3", cli_iris) == 0);
    char *want = strdup(cli_out);
    /* the same weights as weights-only files, given with the model's config */
    px_model *m = px_model_load(cli_path("iris.keras"));
    CHECK_NOT_NULL(m);
    const char *wfiles[] = {"iris.weights.h5", "iris_w.h5"};
    for (int i = 0; m && i < 2; i++) {
        CHECK_OK(px_model_save_weights(m, cli_path(wfiles[i])));
        CHECK(cli_runf("predict '%s/iris_mlp.json' --weights %s --csv '%s' --header --label-column -1 --limit 3", cli_models,
                       wfiles[i], cli_iris) == 0);
        CHECK(strcmp(cli_out, want) == 0);
    }
    px_model_free(m);
    CHECK(cli_runf("predict '%s/iris_mlp.json' --weights iris_w.h5 --by-name --csv '%s' --header --label-column -1 --limit 3",
                   cli_models, cli_iris) == 0);
    CHECK(strcmp(cli_out, want) == 0);
    free(want);
    CHECK(cli_runf("evaluate iris.keras --test-csv '%s' --header", cli_iris) == 0);
    double acc = cli_value_after(cli_out, "accuracy: ");
    CHECK(cli_runf("evaluate '%s/iris_mlp.json' --weights iris.keras --test-csv '%s' --header", cli_models, cli_iris) == 0);
    CHECK_NEAR(cli_value_after(cli_out, "accuracy: "), acc, 1e-4);
    /* weights of another model, or --by-name alone: one clear line */
    CHECK(cli_runf("predict '%s/fashion_mlp.json' --weights iris_w.h5 --csv '%s' --header", cli_models, cli_iris) == 1);
    CHECK(cli_one_line_error("matched by position"));
    CHECK(cli_run("summary iris.keras --by-name") == 2 && cli_one_line_error("--weights"));
    CHECK(cli_runf("evaluate '%s/iris_mlp.json' --test-csv '%s' --header", cli_models, cli_iris) == 1);
    CHECK(cli_one_line_error("--weights FILE"));
}

/* Keras's own weights-only files: a Keras 2.2 LeNet whose layers are named conv2d_1, ...
 * into a config whose layers are conv2d, conv2d_1, ...: by position it fits, by name
 * conv2d_1 would get another layer's kernel; and Keras 3's model.json + .weights.h5. */
static void test_keras_weights_files(void) {
    char lenet[1024], k3json[1024], k3w[1024];
    const char *lp = px_test_shared("data/keras-models/k2.2.4-weights-only-lenet-conv2d-avgpool.h5");
    if (!lp) {
        px_test_skip("Keras weights-only files (no shared data)");
        return;
    }
    snprintf(lenet, sizeof lenet, "%s", lp);
    snprintf(k3json, sizeof k3json, "%s", px_test_shared("data/keras-models/k3-weights-only-dense.model.json"));
    snprintf(k3w, sizeof k3w, "%s", px_test_shared("data/keras-models/k3-weights-only-dense.weights.h5"));
    CHECK(cli_runf("summary '%s/lenet5.json' --weights '%s'", cli_models, lenet) == 0);
    CHECK(strstr(cli_out, "Total params: 61,706") != NULL);
    CHECK(cli_runf("summary '%s/lenet5.json' --weights '%s' --by-name", cli_models, lenet) == 1);
    CHECK(cli_one_line_error("conv2d_1"));
    CHECK(cli_runf("summary '%s' --weights '%s'", k3json, k3w) == 0 && strstr(cli_out, "Total params: 221"));
}

int main(int argc, char **argv) {
    (void)argc;
    if (!cli_setup(argv[0])) return 1;
    RUN_TEST(test_archives);
    RUN_TEST(test_weights);
    RUN_TEST(test_keras_weights_files);
    cli_teardown();
    return px_test_finish();
}
