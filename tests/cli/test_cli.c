/* The `plexus` command end to end: runs <build>/tools/plexus (found from this
 * program's own path) on small data and checks outputs, files and exit codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "px_test.h"

static void test_help(void) {
    CHECK(cli_run("--help") == 0 && strstr(cli_out, "Commands:") && strstr(cli_out, "tune"));
    const char *cmds[] = {"train", "evaluate", "predict", "summary", "tune"};
    for (int i = 0; i < 5; i++) {
        char a[64], want[64];
        snprintf(a, sizeof a, "%s --help", cmds[i]);
        snprintf(want, sizeof want, "Usage: plexus %s", cmds[i]);
        CHECK(cli_run(a) == 0 && strstr(cli_out, want) && strstr(cli_out, "Exit codes"));
        snprintf(a, sizeof a, "help %s", cmds[i]);
        CHECK(cli_run(a) == 0 && strstr(cli_out, want));
    }
    CHECK(cli_run("--version") == 0 && strstr(cli_out, "plexus"));
}

static void test_bad_usage(void) {
    char a[8192];
    CHECK(cli_run("") == 2);
    CHECK(cli_run("frobnicate") == 2 && cli_one_line_error("unknown command 'frobnicate'"));
    CHECK(cli_run("train --bogus") == 2 && cli_one_line_error("unknown option '--bogus'"));
    CHECK(cli_run("train --epochs") == 2 && cli_one_line_error("needs a value"));
    CHECK(cli_run("train --epochs abc") == 2 && cli_one_line_error("--epochs needs an integer"));
    CHECK(cli_run("train --verbose 7") == 2 && cli_one_line_error("--verbose"));
    CHECK(cli_run("train --optimizer sgdd") == 2 && cli_one_line_error("unknown optimizer 'sgdd'"));
    CHECK(cli_run("train --loss nope") == 2 && cli_one_line_error("unknown loss 'nope'"));
    CHECK(cli_run("train --metrics accuracy,nope") == 2 && cli_one_line_error("unknown metric 'nope'"));
    CHECK(cli_run("train --data mnist") == 2 && cli_one_line_error("fashion-mnist"));
    CHECK(cli_run("train --train-idx only-one.gz") == 2 && cli_one_line_error("two files"));
    CHECK(cli_run("train a.json b.json") == 2 && cli_one_line_error("unexpected argument 'b.json'"));
    snprintf(a, sizeof a, "train --train-csv '%s' --train-idx x y", cli_iris);
    CHECK(cli_run(a) == 2 && cli_one_line_error("give one training set"));
    CHECK(cli_run("evaluate") == 2 && cli_one_line_error("model file"));
    CHECK(cli_run("evaluate m.h5") == 2 && cli_one_line_error("no test data"));
    CHECK(cli_run("predict m.h5") == 2 && cli_one_line_error("--csv"));
    CHECK(cli_run("summary") == 2);
    CHECK(cli_run("tune") == 2 && cli_one_line_error("--space"));
    snprintf(a, sizeof a, "tune --space s.json --train-csv '%s' --folds 3 --validation-split 0.2", cli_iris);
    CHECK(cli_run(a) == 2 && cli_one_line_error("not both"));
    CHECK(cli_run("tune --space s.json --search bayes") == 2 && cli_one_line_error("'grid' or 'random'"));
}

static void test_bad_files(void) {
    char a[8192];
    snprintf(a, sizeof a, "train missing.json --train-csv '%s' --header", cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("missing.json"));
    snprintf(a, sizeof a, "train '%s/iris_mlp.json' --train-csv missing.csv", cli_models);
    CHECK(cli_run(a) == 1 && cli_one_line_error("missing.csv"));
    CHECK(cli_run("evaluate missing.h5 --test-csv x.csv") == 1 && cli_one_line_error("missing.h5"));
    CHECK(cli_run("summary missing.h5") == 1 && cli_one_line_error("missing.h5"));

    cli_write("broken.json", "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [\n");
    snprintf(a, sizeof a, "train broken.json --train-csv '%s' --header", cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("broken.json") && strstr(cli_err, "line"));
    CHECK(cli_run("summary broken.json") == 1 && cli_one_line_error("broken.json"));

    cli_write("unknown.json",
               "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
               "{\"class_name\": \"Frobnicator\", \"config\": {\"name\": \"frob\", \"trainable\": true, "
               "\"dtype\": \"float32\", \"batch_input_shape\": [null, 4]}}]}}");
    snprintf(a, sizeof a, "train unknown.json --train-csv '%s' --header", cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("Frobnicator"));

    /* cli_iris has 4 features; the Fashion-MNIST model wants 28x28 */
    snprintf(a, sizeof a, "train '%s/fashion_mlp.json' --train-csv '%s' --header", cli_models, cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("features"));
    /* the default model only fits Fashion-MNIST, and says so */
    snprintf(a, sizeof a, "train --train-csv '%s' --header", cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("MODEL.json"));
    /* a CSV whose labels are not numbers */
    cli_write("words.csv", "1,2,3,4,setosa\n");
    snprintf(a, sizeof a, "train '%s/iris_mlp.json' --train-csv words.csv", cli_models);
    CHECK(cli_run(a) == 1 && cli_one_line_error("words.csv"));

    cli_write("bad_space.json", "{\"layers\": [1], \"colour\": [\"red\"]}");
    snprintf(a, sizeof a, "tune --space bad_space.json --train-csv '%s' --header", cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("unknown key 'colour'"));
    cli_write("range_space.json", "{\"learning_rate\": {\"log_uniform\": [1e-4, 1e-1]}}");
    snprintf(a, sizeof a, "tune --space range_space.json --train-csv '%s' --header", cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("grid search needs lists"));
}

/* train -> evaluate -> predict -> summary on cli_iris with a hand-written Keras config. */
static void test_iris_round_trip(void) {
    char a[8192];
    snprintf(a, sizeof a,
             "train '%s/iris_mlp.json' --train-csv '%s' --header --test-csv '%s' --epochs 40 --batch-size 16 "
             "--optimizer adam --learning-rate 0.02 -v 0 -o iris.h5",
             cli_models, cli_iris, cli_iris);
    CHECK(cli_run(a) == 0);
    CHECK(strstr(cli_out, "saved iris.h5") && cli_exists("iris.h5"));
    double acc = cli_value_after(cli_out, "test accuracy: ");
    printf("iris: accuracy after 40 epochs %.4f\n", acc);
    CHECK(acc >= 0.8);
    CHECK(strstr(cli_out, "test example 0: predicted 0, true 0") != NULL);
    CHECK(cli_err[0] == '\0');

    snprintf(a, sizeof a, "evaluate iris.h5 --test-csv '%s' --header", cli_iris);
    CHECK(cli_run(a) == 0 && strstr(cli_out, "examples: 150"));
    CHECK_NEAR(cli_value_after(cli_out, "accuracy: "), acc, 1e-4);

    snprintf(a, sizeof a, "predict iris.h5 --csv '%s' --header --label-column -1 --classes -o classes.csv", cli_iris);
    CHECK(cli_run(a) == 0 && strstr(cli_out, "wrote 150 predictions to classes.csv"));
    char p[512];
    snprintf(p, sizeof p, "%s/classes.csv", cli_tmp);
    char *csv = cli_slurp(p);
    int lines = 0;
    for (char *c = csv; *c; c++) lines += *c == '\n';
    CHECK(lines == 151 && strncmp(csv, "class\n0\n", 8) == 0);
    free(csv);

    snprintf(a, sizeof a, "predict iris.h5 --csv '%s' --header --label-column -1 --limit 2", cli_iris);
    CHECK(cli_run(a) == 0 && strncmp(cli_out, "output_0,output_1,output_2\n", 27) == 0);
    double p0, p1, p2;
    CHECK(sscanf(cli_out + 27, "%lf,%lf,%lf", &p0, &p1, &p2) == 3);
    CHECK_NEAR(p0 + p1 + p2, 1.0, 1e-4);

    /* the label column counted as a feature: 5 columns for a 4-input model */
    snprintf(a, sizeof a, "predict iris.h5 --csv '%s' --header", cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("(5 features)"));
    snprintf(a, sizeof a, "evaluate '%s/iris_mlp.json' --test-csv '%s' --header", cli_models, cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("without weights"));

    CHECK(cli_run("summary iris.h5") == 0 && strstr(cli_out, "Total params: 131"));
    snprintf(a, sizeof a, "summary '%s/iris_mlp.json'", cli_models);
    CHECK(cli_run(a) == 0 && strstr(cli_out, "dense_1 (Dense)") && strstr(cli_out, "Total params: 131"));
}

/* --metrics by Keras's names: top_k_accuracy resolved from the loss (sparse here, k = 5
 * of 3 classes: every example counts), and a metric that does not fit the loss refused
 * naming ones that do. */
static void test_metrics_option(void) {
    char a[8192];
    snprintf(a, sizeof a,
             "train '%s/iris_mlp.json' --train-csv '%s' --header --test-csv '%s' --epochs 1 "
             "--metrics top_k_accuracy,f1_score -v 0 -o m.h5",
             cli_models, cli_iris, cli_iris);
    CHECK(cli_run(a) == 0);
    CHECK_NEAR(cli_value_after(cli_out, "test top_k_accuracy: "), 1.0, 1e-9);
    double f1 = cli_value_after(cli_out, "test f1_score: ");
    CHECK(f1 >= 0 && f1 <= 1);
    snprintf(a, sizeof a, "train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 1 --metrics auc -v 0",
             cli_models, cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("metric 'auc' does not fit loss sparse_categorical_crossentropy"));
    CHECK(strstr(cli_err, "use sparse_categorical_accuracy") != NULL);
}

/* `plexus devices`, and --device: an unknown name or a missing GPU fails at
 * once with one line; a model trained on the reference device is evaluated
 * on the CPU from its file. */
static void test_devices(void) {
    CHECK(cli_run("devices") == 0 && strstr(cli_out, "cpu ") && strstr(cli_out, "ref "));
    char a[8192];
    snprintf(a, sizeof a, "train '%s/iris_mlp.json' --train-csv '%s' --header --device tpu -v 0", cli_models, cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("--device: unknown device 'tpu'"));
    if (!strstr(cli_out, "cuda:")) { /* no GPU here */
        snprintf(a, sizeof a, "train '%s/iris_mlp.json' --train-csv '%s' --header --device cuda -v 0", cli_models,
                 cli_iris);
        CHECK(cli_run(a) == 1 && cli_one_line_error("no CUDA device"));
    }
    snprintf(a, sizeof a,
             "train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 40 --batch-size 16 --optimizer adam "
             "--learning-rate 0.02 --device ref -v 0 -o iris_ref.h5",
             cli_models, cli_iris);
    CHECK(cli_run(a) == 0 && cli_exists("iris_ref.h5"));
    snprintf(a, sizeof a, "evaluate iris_ref.h5 --test-csv '%s' --header", cli_iris);
    CHECK(cli_run(a) == 0 && cli_value_after(cli_out, "accuracy: ") >= 0.8);
}

/* The callbacks' options: early stopping, checkpoints, TensorBoard, a validation split. */
static void test_train_callbacks(void) {
    char a[8192];
    snprintf(a, sizeof a,
             "train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 3 --validation-split 0.2 "
             "--early-stopping 5 --checkpoint 'ckpt-{epoch:02d}.h5' --tensorboard tb --seed 3 --threads 1 -v 2 "
             "-o cb.h5",
             cli_models, cli_iris);
    CHECK(cli_run(a) == 0);
    CHECK(strstr(cli_out, "Epoch 3/3") && strstr(cli_out, "val_loss"));
    CHECK(cli_exists("ckpt-01.h5") && cli_exists("ckpt-03.h5") && cli_exists("tb/train") && cli_exists("cb.h5"));
    /* a pattern naming a value that is not logged fails the job, not the program */
    snprintf(a, sizeof a, "train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 1 --checkpoint 'c-{nope}.h5' -v 0",
             cli_models, cli_iris);
    CHECK(cli_run(a) == 1 && cli_one_line_error("nope"));
}

/* Scores in table rows ("rank  score  ..."), in order; returns how many. */
static int table_scores(const char *text, double *scores, int max, char rows[][256]) {
    const char *p = strstr(text, "\nrank ");
    int n = 0;
    if (!p) return 0;
    p = strchr(p + 1, '\n');
    while (p && n < max) {
        p++;
        int rank;
        double s;
        if (sscanf(p, "%d %lf", &rank, &s) != 2 || rank != n + 1) break;
        scores[n] = s;
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        /* the row without its last column (seconds, which varies from run to run) */
        while (len > 0 && p[len - 1] != ' ') len--;
        if (len > 255) len = 255;
        memcpy(rows[n], p, len);
        rows[n][len] = '\0';
        n++;
        p = e;
    }
    return n;
}

static void test_tune(void) {
    char a[8192];
    double sc[16];
    char rows[16][256], rows2[16][256];
    cli_write("grid.json", "{\"layers\": [1], \"units\": [8, 32], \"learning_rate\": [0.01, 0.05], \"optimizer\": \"adam\"}");
    snprintf(a, sizeof a, "tune --space grid.json --train-csv '%s' --header --folds 3 --epochs 15 -o best.h5", cli_iris);
    CHECK(cli_run(a) == 0);
    int n = table_scores(cli_out, sc, 16, rows);
    CHECK(n == 4);
    for (int i = 1; i < n; i++) CHECK(sc[i - 1] >= sc[i]);
    CHECK(strstr(cli_out, "trial 4/4") && strstr(cli_out, "best: layers=1") && cli_exists("best.h5"));
    CHECK(strstr(cli_out, "retrained on all 150 training examples") != NULL);
    CHECK(cli_run("summary best.h5") == 0 && strstr(cli_out, "Dense"));

    /* random search: the same seed gives the same trials and scores */
    cli_write("rand.json", "{\"layers\": [1, 2], \"units\": [16, 32], \"activation\": [\"relu\", \"tanh\"], "
                            "\"learning_rate\": {\"log_uniform\": [1e-3, 1e-1]}, \"batch_size\": [16, 32], "
                            "\"dropout\": [0, 0.2], \"optimizer\": \"adam\"}");
    snprintf(a, sizeof a,
             "tune --space rand.json --search random --trials 3 --seed 11 --train-csv '%s' --header "
             "--validation-split 0.2 --epochs 5 -v 0 -o r.h5",
             cli_iris);
    CHECK(cli_run(a) == 0);
    int n1 = table_scores(cli_out, sc, 16, rows);
    CHECK(cli_run(a) == 0);
    int n2 = table_scores(cli_out, sc, 16, rows2);
    CHECK(n1 == 3 && n2 == 3);
    for (int i = 0; i < n1 && i < n2; i++) CHECK(strcmp(rows[i], rows2[i]) == 0);
    CHECK(strstr(cli_out, "trial 1/3") == NULL); /* -v 0: the table only */
}

/* The library side of the search, as C users call it. */
static void test_tune_api(void) {
    px_tune_space sp;
    const char *good = "{\"layers\": [1, 2], \"units\": 16, \"activation\": [\"relu\", \"tanh\"], "
                       "\"learning_rate\": {\"log_uniform\": [1e-4, 1e-1]}, \"dropout\": [0, 0.2]}";
    CHECK_OK(px_tune_space_from_json(good, strlen(good), &sp));
    CHECK(sp.layers.n == 2 && sp.units.n == 1 && sp.n_activations == 2 && sp.activations[1] == PX_TANH);
    CHECK(sp.learning_rate.n == 0 && sp.learning_rate.log && sp.learning_rate.low == 1e-4);
    const char *bad[] = {"{\"units\": [1.5]}", "{\"dropout\": [1.2]}", "{\"activation\": \"frob\"}",
                         "{\"optimizer\": [\"sgd\", \"nope\"]}", "{\"learning_rate\": {\"log_uniform\": [0, 1]}}",
                         "{\"units\": {\"normal\": [1, 2]}}", "{\"layers\": []}", "[1]", "{\"units\": "};
    for (int i = 0; i < 9; i++) {
        px_clear_error();
        CHECK(px_tune_space_from_json(bad[i], strlen(bad[i]), &sp) != PX_OK && px_last_error()[0]);
    }

    px_dataset *d = NULL;
    CHECK_OK(px_csv_read(cli_iris, &(px_csv_options){.header = true, .label_column = -1}, &d));
    if (!d) return;
    const char *grid = "{\"units\": [8, 16], \"learning_rate\": 0.05, \"optimizer\": \"adam\"}";
    CHECK_OK(px_tune_space_from_json(grid, strlen(grid), &sp));
    px_tune_result r;
    CHECK_OK(px_tune(d, &sp, &(px_tune_options){.folds = 3, .epochs = 5, .seed = 1, .retrain = true}, &r));
    CHECK(r.n_trials == 2 && r.higher_is_better && r.best_model && strcmp(r.score_name, "val_accuracy") == 0);
    if (r.n_trials == 2) CHECK(r.trials[0].score >= r.trials[1].score);
    int64_t params = r.best_model ? px_model_param_count(r.best_model, NULL, NULL) : 0;
    CHECK(params == 4 * 8 + 8 + 8 * 3 + 3 || params == 4 * 16 + 16 + 16 * 3 + 3);
    px_tune_result_clear(&r);
    CHECK(r.trials == NULL && r.best_model == NULL);
    /* a grid over a range, too many folds: errors, not crashes */
    const char *range = "{\"units\": {\"uniform\": [8, 16]}}";
    CHECK_OK(px_tune_space_from_json(range, strlen(range), &sp));
    CHECK(px_tune(d, &sp, &(px_tune_options){.folds = 3}, &r) == PX_ERR_ARG);
    CHECK(px_tune(d, &sp, &(px_tune_options){.search = PX_SEARCH_RANDOM, .trials = 2, .folds = 500}, &r) == PX_ERR_ARG);
    px_dataset_free(d);
}

/* Fashion-MNIST: the default model (the case study) and the hand-written Keras configs. */
static void test_fashion(void) {
    if (!cli_have_fashion) {
        px_test_skip("test_fashion: no Fashion-MNIST in %s", cli_fashion_dir);
        return;
    }
    char a[8192];
    CHECK(cli_run("train --limit 300 --epochs 1 -v 0 -o default.h5") == 0);
    CHECK(strstr(cli_out, "test accuracy: ") && strstr(cli_out, "test example 0: predicted ") &&
          strstr(cli_out, ", true Ankle boot") && cli_exists("default.h5"));

    snprintf(a, sizeof a, "train '%s/fashion_mlp.json' --data fashion-mnist --limit 300 --epochs 1 -v 1 -o mlp.h5", cli_models);
    CHECK(cli_run(a) == 0 && strstr(cli_out, "Total params: 266,610") && strstr(cli_out, "10/10 [====") &&
          cli_exists("mlp.h5"));

    /* the same data through the IDX options; the two-file option before and after MODEL.json */
    snprintf(a, sizeof a,
             "train --train-idx '%s/train-images-idx3-ubyte.gz' '%s/train-labels-idx1-ubyte.gz' '%s/fashion_mlp.json' "
             "--test-idx '%s/t10k-images-idx3-ubyte.gz' '%s/t10k-labels-idx1-ubyte.gz' --limit 200 --epochs 1 -v 0 -o idx.h5",
             cli_fashion_dir, cli_fashion_dir, cli_models, cli_fashion_dir, cli_fashion_dir);
    CHECK(cli_run(a) == 0 && strstr(cli_out, "test accuracy: ") && strstr(cli_out, "true 9"));
    snprintf(a, sizeof a, "evaluate idx.h5 --test-idx '%s/t10k-images-idx3-ubyte.gz' '%s/t10k-labels-idx1-ubyte.gz' --limit 100",
             cli_fashion_dir, cli_fashion_dir);
    CHECK(cli_run(a) == 0 && strstr(cli_out, "examples: 100"));
    snprintf(a, sizeof a, "predict idx.h5 --idx '%s/t10k-images-idx3-ubyte.gz' --limit 5 --classes", cli_fashion_dir);
    CHECK(cli_run(a) == 0 && strncmp(cli_out, "class\n", 6) == 0);

    snprintf(a, sizeof a, "train '%s/fashion_convnet.json' --data fashion-mnist --limit 200 --epochs 1 -v 0 -o conv.h5",
             cli_models);
    int rc = cli_run(a);
    if (rc == 1 && strstr(cli_err, "is not supported")) {
        /* Conv2D/MaxPooling2D have no config reader yet: the CLI must still fail cleanly */
        CHECK(cli_one_line_error("Conv2D"));
        printf("NOTE: fashion_convnet.json not trainable yet: %s", cli_err);
    } else {
        CHECK(rc == 0 && strstr(cli_out, "test accuracy: ") && cli_exists("conv.h5"));
    }
}

int main(int argc, char **argv) {
    (void)argc;
    if (!cli_setup(argv[0])) return 1;
    RUN_TEST(test_help);
    RUN_TEST(test_bad_usage);
    RUN_TEST(test_bad_files);
    RUN_TEST(test_iris_round_trip);
    RUN_TEST(test_metrics_option);
    RUN_TEST(test_devices);
    RUN_TEST(test_train_callbacks);
    RUN_TEST(test_tune);
    RUN_TEST(test_tune_api);
    RUN_TEST(test_fashion);
    cli_teardown();
    return px_test_finish();
}
