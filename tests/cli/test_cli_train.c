/* What `plexus train`, `evaluate` and `predict` do with diverging runs, NaN
 * models, Keras 3 compile settings and Fashion-MNIST (issue 18 items 5, 6, 9,
 * 11, 15), how a run is watched: TensorBoard options and --plot (issue 14), and CSV files
 * streamed instead of read whole (issue 13). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "px_test.h"

/* A regression MLP that a learning rate of 1000 sends to inf and NaN in its first epoch. */
static const char *REG_JSON =
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"reg\", \"layers\": [{\"class_name\": \"InputLayer\", "
    "\"config\": {\"batch_input_shape\": [null, 4], \"dtype\": \"float32\", \"name\": \"in\"}}, {\"class_name\": "
    "\"Dense\", \"config\": {\"name\": \"h\", \"units\": 8, \"activation\": \"relu\"}}, {\"class_name\": \"Dense\", "
    "\"config\": {\"name\": \"out\", \"units\": 1, \"activation\": \"linear\"}}]}}";

static void test_divergence(void) {
    cli_write("reg.json", REG_JSON);
    /* a good run first: its checkpoint and model */
    CHECK(cli_runf("train reg.json --train-csv '%s' --header --regression --epochs 2 -v 0 --checkpoint ck.h5 -o good.h5",
                   cli_iris) == 0);
    CHECK(cli_exists("ck.h5") && cli_exists("good.h5"));
    CHECK(cli_sh("cp ck.h5 ck-before.h5 && cp good.h5 out.h5") == 0);
    /* the same with learning rate 1000: stopped at the first NaN loss, exit 1, nothing written */
    CHECK(cli_runf("train reg.json --train-csv '%s' --header --regression --epochs 5 --learning-rate 1000 -v 2 "
                   "--checkpoint ck.h5 -o out.h5",
                   cli_iris) == 1);
    CHECK(cli_one_line_error("training diverged: the loss became"));
    CHECK(strstr(cli_err, "try a smaller --learning-rate than 1000") && strstr(cli_err, "out.h5 was not written"));
    CHECK(strstr(cli_out, "Invalid loss, terminating training") && !strstr(cli_out, "Epoch 2/5"));
    CHECK(!strstr(cli_out, "-nan"));
    CHECK(cli_sh("cmp -s ck.h5 ck-before.h5 && cmp -s out.h5 good.h5") == 0); /* both untouched */

    /* a model with NaN weights: predict prints nan and warns once; evaluate warns */
    const char *make_nan = "/usr/bin/python3 -c \"import h5py,numpy as n; f=h5py.File('nan.h5','a'); "
                           "k=f['model_weights/h/h/kernel:0']; a=k[...]; a[0,0]=n.nan; k[...]=a\"";
    if (system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) {
        px_test_skip("test_divergence: /usr/bin/python3 with h5py is needed to plant a NaN weight");
        return;
    }
    CHECK(cli_sh("cp good.h5 nan.h5 && %s", make_nan) == 0);
    CHECK(cli_runf("predict nan.h5 --csv '%s' --header --label-column -1 --limit 4", cli_iris) == 0);
    CHECK(strstr(cli_out, "\nnan\n") && !strstr(cli_out, "-nan"));
    CHECK(cli_one_line_error("warning: 4 of 4 outputs are NaN"));
    CHECK(cli_runf("predict nan.h5 --csv '%s' --header --label-column -1 --limit 4 --classes", cli_iris) == 0 &&
          cli_one_line_error("outputs are NaN"));
    CHECK(cli_runf("evaluate nan.h5 --test-csv '%s' --header --regression", cli_iris) == 0);
    CHECK(strstr(cli_out, "loss: nan") && cli_one_line_error("warning: loss is NaN"));
}

/* Keras 3's compile_config: the file's loss, metrics and optimizer are used, and said. */
static void test_compile_config(void) {
    CHECK(cli_sh("awk -F, 'NR==1{print;next} {print $1\",\"$2\",\"$3\",\"$4\",\"($5==0?1:0)}' '%s' > setosa.csv", cli_iris) == 0);
    CHECK(cli_runf("train '%s/iris_setosa_k3.json' --train-csv setosa.csv --header --test-csv setosa.csv --epochs 20 -o s.h5",
                   cli_models) == 0);
    CHECK(strstr(cli_out, "compile settings (from ") && strstr(cli_out, "loss binary_crossentropy (file)") &&
          strstr(cli_out, "metrics accuracy (file)") && strstr(cli_out, "optimizer adam at learning rate 0.02 (file)"));
    double acc = cli_value_after(cli_out, "test accuracy: ");
    printf("setosa (binary, sigmoid, from compile_config): accuracy %.4f\n", acc);
    CHECK(acc >= 0.95);
    /* the command line wins where given */
    CHECK(cli_runf("train '%s/iris_setosa_k3.json' --train-csv setosa.csv --header --epochs 1 --optimizer sgd "
                   "--learning-rate 0.1 --metrics mse -o s2.h5",
                   cli_models) == 0);
    CHECK(strstr(cli_out, "loss binary_crossentropy (file)") && strstr(cli_out, "metrics mse (command line)") &&
          strstr(cli_out, "optimizer sgd at learning rate 0.1 (command line)"));
    /* the saved model evaluates with the same compile settings */
    CHECK(cli_run("evaluate s.h5 --test-csv setosa.csv --header") == 0 && strstr(cli_out, "accuracy: "));
}

/* Fashion-MNIST: evaluate --data fashion-mnist works (item 9); train validates
 * on the first 5,000 training images (item 15). */
static void test_fashion(void) {
    if (!cli_have_fashion) {
        px_test_skip("test_fashion: no Fashion-MNIST in %s", cli_fashion_dir);
        return;
    }
    CHECK(cli_run("train --limit 500 --epochs 1 -v 2 -o f.h5") == 0);
    CHECK(strstr(cli_out, "val_accuracy") != NULL);
    CHECK(cli_run("evaluate f.h5 --data fashion-mnist --limit 300") == 0 && strstr(cli_out, "examples: 300"));
    CHECK(cli_run("evaluate f.h5 --data fashion-mnist --limit 300 --batch-size 64") == 0);
}

/* The numbers of a checker's "scalar <step> <tag> <value>" lines for `tag`, by step. */
static int scalars(const char *out, const char *tag, double *v, int max) {
    int n = 0;
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        char t[128];
        int step;
        double x;
        if (sscanf(p, "scalar\t%d\t%127[^\t]\t%lf", &step, t, &x) == 3 && !strcmp(t, tag) && step >= 0 && step < max) {
            v[step] = x;
            n++;
        }
    }
    return n;
}

/* The y coordinates of the plot's polyline `key` ("polyline <class> <key> <n> <ys>"). */
static int plot_ys(const char *out, const char *key, double *y, int max) {
    char want[80];
    snprintf(want, sizeof want, "\t%s\t", key);
    const char *p = strstr(out, want);
    if (!p) return -1;
    p += strlen(want);
    int n = atoi(p);
    p = strchr(p, '\t');
    for (int i = 0; p && i < n && i < max; i++) {
        y[i] = strtod(p + 1, (char **)&p);
        if (*p != ',') break;
    }
    return n;
}

/* --tensorboard with --histogram-freq, --update-freq and --plot: the event files pass the
 * independent reader (graph, TF2 histograms, batch scalars), and the picture's curves have
 * one point per epoch at heights that the TensorBoard scalars of the same run give. */
static void test_watching_a_run(void) {
    char a[8192], checker[PATH_MAX], plotter[PATH_MAX];
    if (!realpath(px_test_data("../scripts/check_events.py"), checker) ||
        !realpath(px_test_data("../scripts/check_plot.py"), plotter)) {
        CHECK(!"tests/scripts/check_events.py and check_plot.py are there");
        return;
    }
    snprintf(a, sizeof a,
             "train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 3 --validation-split 0.2 --batch-size 16 "
             "--tensorboard tb --histogram-freq 2 --update-freq 3 --plot curves.svg --seed 3 -v 0 -o w.h5",
             cli_models, cli_iris);
    CHECK(cli_run(a) == 0 && strstr(cli_out, "plotted curves.svg"));
    CHECK(cli_sh("/usr/bin/python3 '%s' tb/train/*tfevents*", checker) == 0);
    CHECK(strstr(cli_out, "\ngraph\t") && strstr(cli_out, "\nkeras_model\t0\tkeras\tSequential\t"));
    /* histograms at epochs 0 and 2, not 1; batch_loss every 3 batches (120 rows: 8 per epoch) */
    CHECK(strstr(cli_out, "\nhistogram\t0\t") && strstr(cli_out, "\nhistogram\t2\t") && !strstr(cli_out, "\nhistogram\t1\t"));
    double loss[3] = {NAN, NAN, NAN}, vloss[3] = {NAN, NAN, NAN}, batch[32];
    CHECK(scalars(cli_out, "batch_loss", batch, 32) == 8); /* global batches 3, 6, ..., 24 */
    CHECK(scalars(cli_out, "epoch_loss", loss, 3) == 3);
    CHECK(cli_sh("/usr/bin/python3 '%s' tb/validation/*tfevents*", checker) == 0);
    CHECK(scalars(cli_out, "epoch_loss", vloss, 3) == 3);
    CHECK(cli_sh("/usr/bin/python3 '%s' curves.svg", plotter) == 0);
    CHECK(strstr(cli_out, "polyline\ttrain\taccuracy\t3\t") && strstr(cli_out, "polyline\tvalidation\tval_accuracy\t3\t"));
    CHECK(strstr(cli_out, "\nok\t4"));
    /* heights: the panel spans [lo, hi] of both loss curves over 210 pixels from y = 40 */
    double ty[3] = {0}, vy[3] = {0}, lo = INFINITY, hi = -INFINITY;
    CHECK(plot_ys(cli_out, "loss", ty, 3) == 3 && plot_ys(cli_out, "val_loss", vy, 3) == 3);
    for (int e = 0; e < 3; e++) lo = fmin(lo, fmin(loss[e], vloss[e])), hi = fmax(hi, fmax(loss[e], vloss[e]));
    for (int e = 0; e < 3; e++) {
        CHECK(fabs(ty[e] - (40 + (1 - (loss[e] - lo) / (hi - lo)) * 210)) < 0.02);
        CHECK(fabs(vy[e] - (40 + (1 - (vloss[e] - lo) / (hi - lo)) * 210)) < 0.02);
    }
    /* the TensorBoard options need --tensorboard; bad values are usage errors */
    CHECK(cli_runf("train --histogram-freq 1 -v 0") == 2 && cli_one_line_error("--tensorboard"));
    CHECK(cli_runf("train --tensorboard tb --update-freq sometimes -v 0") == 2 && cli_one_line_error("update-freq"));
}

/* --csv-stream, and a CSV too large for the memory allowed (PX_MAX_MEMORY) streamed without it. */
static void test_csv_stream(void) {
    CHECK(cli_runf("train '%s/iris_mlp.json' --train-csv '%s' --header --test-csv '%s' --csv-stream --epochs 40 "
                   "--optimizer adam --learning-rate 0.02 --seed 1 -o iris_s.h5",
                   cli_models, cli_iris, cli_iris) == 0);
    CHECK(cli_value_after(cli_out, "test accuracy: ") >= 0.9);
    /* evaluate streamed gives what evaluate on the file read whole gives */
    CHECK(cli_runf("evaluate iris_s.h5 --test-csv '%s' --header", cli_iris) == 0);
    double whole = cli_value_after(cli_out, "accuracy: "), whole_loss = cli_value_after(cli_out, "loss: ");
    CHECK(cli_runf("evaluate iris_s.h5 --test-csv '%s' --header --csv-stream", cli_iris) == 0);
    CHECK(strstr(cli_out, "examples: 150") && cli_value_after(cli_out, "accuracy: ") == whole &&
          cli_value_after(cli_out, "loss: ") == whole_loss);
    /* half the memory allowed is less than the file: streamed, and said */
    setenv("PX_MAX_MEMORY", "4K", 1);
    CHECK(cli_runf("train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 1 -o iris_a.h5", cli_models, cli_iris) == 0);
    CHECK(strstr(cli_out, "is larger than half the memory available") && strstr(cli_out, "streamed (--csv-stream)"));
    unsetenv("PX_MAX_MEMORY");
    CHECK(cli_runf("train '%s/iris_mlp.json' --train-csv '%s' --header --epochs 1 -o iris_a.h5", cli_models, cli_iris) == 0);
    CHECK(!strstr(cli_out, "streamed"));
    /* what a stream cannot do */
    CHECK(cli_runf("train '%s/iris_mlp.json' --train-csv '%s' --header --csv-stream --limit 10", cli_models, cli_iris) == 2);
    CHECK(cli_one_line_error("--limit"));
    CHECK(cli_runf("train '%s/iris_mlp.json' --train-csv '%s' --header --csv-stream --validation-split 0.2 --epochs 1",
                   cli_models, cli_iris) == 1);
    CHECK(cli_one_line_error("random access"));
    CHECK(cli_run("train --csv-stream --epochs 1") == 2 && cli_one_line_error("--csv-stream is for CSV files"));
    /* a pipe cannot be read again every epoch */
    CHECK(cli_sh("cat '%s' | \"$PLEXUS\" train '%s/iris_mlp.json' --train-csv - --header --csv-stream --epochs 1",
                 cli_iris, cli_models) == 1);
    CHECK(cli_one_line_error("standard input, a pipe or a device cannot give"));
}

int main(int argc, char **argv) {
    (void)argc;
    if (!cli_setup(argv[0])) return 1;
    RUN_TEST(test_divergence);
    RUN_TEST(test_compile_config);
    RUN_TEST(test_fashion);
    RUN_TEST(test_watching_a_run);
    RUN_TEST(test_csv_stream);
    cli_teardown();
    return px_test_finish();
}
