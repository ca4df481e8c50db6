/* px_tune_model: the successive-halving schedule against the documented table, and a
 * search over a small ConvNet's model JSON (filters, kernel size, dropout, learning
 * rate) on a Fashion-MNIST subset that follows the schedule (trials and epochs per
 * rung, survivors the best of their rung), trains fewer epochs than the same trials
 * run to the end, and whose best model reaches a stated test accuracy. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexus/model_io.h"
#include "plexus/tune.h"
#include "px_test.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static void check_schedule(int trials, int min_e, int max_e, int eta, const px_halving_rung *want, int n_want) {
    px_halving_rung got[PX_TUNE_MAX_RUNGS];
    int n = 0;
    CHECK_OK(px_halving_schedule(trials, min_e, max_e, eta, got, PX_TUNE_MAX_RUNGS, &n));
    CHECK(n == n_want);
    for (int i = 0; i < n && i < n_want; i++) CHECK(got[i].trials == want[i].trials && got[i].epochs == want[i].epochs);
}

/* The table in tune.h's comment, and the rule at its edges. */
static void test_schedule(void) {
    check_schedule(9, 1, 9, 3, (px_halving_rung[]){{9, 1}, {3, 3}, {1, 9}}, 3);
    check_schedule(10, 1, 9, 3, (px_halving_rung[]){{10, 1}, {3, 3}, {1, 9}}, 3);
    check_schedule(27, 2, 10, 3, (px_halving_rung[]){{27, 2}, {9, 6}, {3, 10}}, 3); /* the last rung capped */
    check_schedule(9, 1, 9, 2, (px_halving_rung[]){{9, 1}, {4, 2}, {2, 4}, {1, 8}, {1, 9}}, 5);
    check_schedule(5, 1, 9, 1, (px_halving_rung[]){{5, 9}}, 1); /* eta 1: no halving */
    check_schedule(4, 3, 3, 3, (px_halving_rung[]){{4, 3}}, 1);
    px_halving_rung r[2];
    int n;
    CHECK(px_halving_schedule(9, 1, 9, 3, r, 2, &n) == PX_ERR_ARG);
    CHECK_ERROR_HAS("more than 2 rungs");
    CHECK(px_halving_schedule(9, 4, 2, 3, r, 2, &n) == PX_ERR_ARG);
    CHECK_ERROR_HAS("1 <= min_epochs <= max_epochs");
}

/* Conv2D -> MaxPooling2D -> Flatten -> Dropout -> Dense(10, softmax), as JSON. */
static char *convnet_json(void) {
    px_model *m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(28, 28), NULL), px_reshape_layer(PX_SHAPE(28, 28, 1)),
        px_conv2d_layer(8, 3, 3, &(px_conv_options){.activation = PX_RELU}), px_max_pooling2d(2, 2, NULL),
        px_flatten(PX_SCALAR), px_dropout_layer(0.2f), px_dense(10, PX_SOFTMAX), NULL});
    char *json = NULL;
    CHECK_OK(px_model_to_json(m, &json));
    px_model_free(m);
    return json;
}

static const char *SPACE = "{\"conv2d.filters\": [4, 8], \"conv2d.kernel_size\": [[3, 3], [5, 5]],"
                           " \"dropout.rate\": {\"uniform\": [0, 0.5]},"
                           " \"optimizer.learning_rate\": {\"log_uniform\": [0.0003, 0.003]}}";

static void test_convnet_search(void) {
    if (access(FASHION_DIR "/train-labels-idx1-ubyte.gz", R_OK) != 0) {
        px_test_skip("test_convnet_search: %s is absent (Debian package dataset-fashion-mnist)", FASHION_DIR);
        return;
    }
    px_dataset *full = NULL, *test_full = NULL;
    CHECK_OK(px_fashion_mnist_load(NULL, 60000, &full, NULL, &test_full));
    if (!full || !test_full) return;
    /* a subset: 1,500 images (1,200 train the trials, 300 score them), 1,000 test */
    px_dataset *train = px_dataset_slice(full, 0, 1500), *test = px_dataset_slice(test_full, 0, 1000);
    px_dataset_free(full);
    px_dataset_free(test_full);
    char *json = convnet_json();
    px_tune_model_result r = {0};
    px_tune_model_options o = {.trials = 9, .min_epochs = 1, .max_epochs = 9, .eta = 3, .seed = 7,
                               .verbose = PX_VERBOSE_SILENT};
    CHECK_OK(px_tune_model(json, strlen(json), SPACE, strlen(SPACE), train, &o, &r));
    /* the schedule: 9 trials 1 epoch, the best 3 on to 3, the best one on to 9 */
    CHECK(r.n_trials == 9 && r.total_epochs == 9 + 3 * 2 + 1 * 6 && r.total_epochs < 9 * 9);
    int reached[3] = {0};
    for (int i = 0; i < r.n_trials; i++) {
        const px_tune_model_trial *t = &r.trials[i];
        for (int k = 0; k <= t->rung && k < 3; k++) reached[k]++;
        static const int rung_epochs[3] = {1, 3, 9};
        CHECK(t->rung >= 0 && t->rung < 3 && t->epochs == rung_epochs[t->rung]);
    }
    CHECK(reached[0] == 9 && reached[1] == 3 && reached[2] == 1);
    /* those promoted from each rung were its best */
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < r.n_trials; i++)
            for (int j = 0; j < r.n_trials; j++)
                if (r.trials[i].rung > k && r.trials[j].rung == k)
                    CHECK(r.trials[i].rung_scores[k] >= r.trials[j].rung_scores[k]);
    CHECK(r.higher_is_better && strcmp(r.score_name, "val_accuracy") == 0 && r.trials[0].rung == 2);
    /* the best model is the best point's: its filters and kernel size */
    CHECK_NOT_NULL(r.best_model);
    px_layer *conv = r.best_model ? px_model_find_layer(r.best_model, "conv2d") : NULL;
    char want[64];
    int ks[2] = {0};
    if (conv) {
        px_conv_kernel_size(conv, ks);
        snprintf(want, sizeof want, "\"conv2d.filters\": %d, \"conv2d.kernel_size\": [%d, %d]", px_conv_filters(conv),
                 ks[0], ks[1]);
        CHECK(r.trials[0].params && strstr(r.trials[0].params, want));
    }
    /* stated accuracy: the best model, 9 epochs on 1,200 images, on 1,000 test images */
    px_logs logs = {0};
    double acc = 0;
    CHECK_OK(px_model_evaluate(r.best_model, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    CHECK(px_logs_get(&logs, "accuracy", &acc) && acc >= 0.78);
    printf("best %s: val_accuracy %.4f, test accuracy %.4f, %lld epochs in all\n", r.trials[0].params,
           r.trials[0].score, acc, (long long)r.total_epochs);
    px_tune_model_result_clear(&r);

    /* errors name the key */
    const char *bad[] = {"{\"conv2d_9.filters\": [4]}", "{\"epochs\": [1, 2]}", "{\"conv2d.filters\": {\"normal\": [1, 2]}}",
                         "{\"conv2d.filters\": [-4]}"};
    const char *msg[] = {"space: 'conv2d_9.filters': the model has no layer named 'conv2d_9'",
                         "space: 'epochs' is the halving budget", "space: 'conv2d.filters' must be a list of values",
                         "tune: trial 1 ({\"conv2d.filters\": -4})"};
    px_dataset *few = px_dataset_slice(train, 0, 50);
    for (int i = 0; i < 4; i++) {
        CHECK(px_tune_model(json, strlen(json), bad[i], strlen(bad[i]), few,
                            &(px_tune_model_options){.trials = 1, .max_epochs = 1, .verbose = PX_VERBOSE_SILENT}, &r) != PX_OK);
        CHECK_ERROR_HAS(msg[i]);
        CHECK(r.trials == NULL && r.best_model == NULL);
    }
    px_dataset_free(few);
    free(json);
    px_dataset_free(train);
    px_dataset_free(test);
}

int main(void) {
    px_set_num_threads(1); /* small matrices: one thread is faster, and the same on any machine */
    RUN_TEST(test_schedule);
    RUN_TEST(test_convnet_search);
    return px_test_finish();
}
