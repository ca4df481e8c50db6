/* fit with a user's train_step (Keras's "customizing what happens in fit"): a
 * two-optimizer step (the hidden layer and the output layer each with its own
 * optimizer) gives the built-in step's weights bit for bit when both optimizers are
 * the compiled one's twins, reaches a stated accuracy with two learning rates, keeps
 * callbacks, validation and the history, and stops fit with its error. */
#include <stdlib.h>
#include <string.h>

#include "px_test.h"

/* The step's state: two optimizers, the first for weights [0, split), the second
 * for the rest. */
typedef struct two_opts {
    px_optimizer *opt[2];
    int split, steps;
    bool fail_at_3;
} two_opts;

static px_status two_optimizer_step(px_model *m, const px_arrays *batch, px_logs *logs, void *data) {
    two_opts *t = data;
    if (t->fail_at_3 && ++t->steps == 3) return px_set_error(PX_ERR_ARG, "two_optimizer_step: stopped at step 3");
    px_tensor **w = NULL, *g[8] = {0};
    int n = 0;
    px_status st = px_model_trainable_weights(m, &w, &n);
    if (st == PX_OK && n > 8) st = px_set_error(PX_ERR_ARG, "two_optimizer_step: %d weights", n);
    if (st == PX_OK) st = px_model_compute_gradients(m, batch, g, logs);
    if (st == PX_OK) st = px_optimizer_apply_gradients(t->opt[0], g, w, t->split);
    if (st == PX_OK) st = px_optimizer_apply_gradients(t->opt[1], g + t->split, w + t->split, n - t->split);
    for (int i = 0; i < n && i < 8; i++) px_tensor_free(g[i]);
    free(w);
    return st;
}

/* Counts the batches and checks that each one's logs carry the step's loss. */
typedef struct batch_counter {
    px_callback cb;
    int batches, with_loss;
} batch_counter;

static px_status count_batch(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    (void)m;
    (void)batch;
    batch_counter *c = (batch_counter *)cb;
    double loss = 0;
    c->batches++;
    c->with_loss += px_logs_get(logs, "loss", &loss) && loss > 0;
    return PX_OK;
}

static px_model *iris_model(float lr) {
    px_set_random_seed(9);
    px_model *m = px_sequential((px_layer *[]){
        px_dense_ex(16, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(4)}),
        px_dense(3, PX_SOFTMAX), NULL});
    if (m && px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                        .optimizer = px_adam(&(px_optimizer_options){.learning_rate = lr}),
                                                        .metrics = {PX_ACCURACY}}) != PX_OK) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

static void test_two_optimizers(void) {
    px_dataset *all = NULL, *train = NULL, *test = NULL;
    CHECK_OK(px_csv_read(px_test_data("iris.csv"), &(px_csv_options){.header = true, .label_column = -1}, &all));
    if (!all) return;
    CHECK_OK(px_dataset_train_test_split(all, 0.2, 3, &train, &test));
    px_scaler sc = {0};
    CHECK_OK(px_scaler_fit(&sc, train->x));
    CHECK_OK(px_scaler_transform(&sc, train->x));
    CHECK_OK(px_scaler_transform(&sc, test->x));

    /* twins of the compiled Adam: the same weights as fit's own step, shuffled alike */
    px_model *builtin = iris_model(0.01f), *custom = iris_model(0.01f);
    CHECK_NOT_NULL(builtin);
    CHECK_NOT_NULL(custom);
    if (!builtin || !custom) return;
    px_fit_options o = {.epochs = 3, .batch_size = 16, .verbose = PX_VERBOSE_SILENT};
    CHECK_OK(px_model_fit(builtin, train, &o));
    two_opts t = {{px_adam(&(px_optimizer_options){.learning_rate = 0.01f}),
                   px_adam(&(px_optimizer_options){.learning_rate = 0.01f})}, 2, 0, false};
    batch_counter counter = {.cb = {.on_batch_end = count_batch}};
    px_callback *cbs[1] = {&counter.cb};
    px_fit_options oc = o;
    oc.train_step = two_optimizer_step;
    oc.train_step_data = &t;
    oc.callbacks = cbs;
    oc.n_callbacks = 1;
    CHECK_OK(px_model_fit(custom, train, &oc));
    px_tensor **wb = NULL, **wc = NULL;
    int nb = 0, nc = 0;
    CHECK_OK(px_model_get_weights(builtin, &wb, &nb));
    CHECK_OK(px_model_get_weights(custom, &wc, &nc));
    CHECK(nb == 4 && nc == 4);
    for (int i = 0; i < nb && i < nc; i++) CHECK(px_tensor_equal(wb[i], wc[i]));
    for (int i = 0; i < nb; i++) px_tensor_free(wb[i]);
    for (int i = 0; i < nc; i++) px_tensor_free(wc[i]);
    free(wb);
    free(wc);
    /* 120 flowers in batches of 16: 8 batches an epoch, each logging the step's loss */
    CHECK(counter.batches == 24 && counter.with_loss == 24);
    CHECK(px_optimizer_iterations(t.opt[0]) == 24 && px_optimizer_iterations(t.opt[1]) == 24);
    int epochs = 0;
    CHECK(px_history_get(px_model_history(custom), "loss", &epochs) && epochs == 3);
    px_optimizer_free(t.opt[0]);
    px_optimizer_free(t.opt[1]);
    px_model_free(builtin);
    px_model_free(custom);

    /* two learning rates, a validation split evaluated with the compiled metrics:
     * held-out accuracy of at least 0.9 on the 30 test flowers */
    px_model *m = iris_model(0.01f);
    two_opts t2 = {{px_adam(&(px_optimizer_options){.learning_rate = 0.02f}),
                    px_adam(&(px_optimizer_options){.learning_rate = 0.005f})}, 2, 0, false};
    px_fit_options o2 = {.epochs = 60, .batch_size = 16, .verbose = PX_VERBOSE_SILENT, .validation_split = 0.2f,
                         .train_step = two_optimizer_step, .train_step_data = &t2};
    CHECK_OK(px_model_fit(m, train, &o2));
    int n = 0;
    CHECK(px_history_get(px_model_history(m), "val_accuracy", &n) && n == 60);
    px_logs logs = {0};
    double acc = 0;
    CHECK_OK(px_model_evaluate(m, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    CHECK(px_logs_get(&logs, "accuracy", &acc));
    printf("two optimizers (0.02 hidden, 0.005 output): held-out accuracy %.4f\n", acc);
    CHECK(acc >= 0.9);

    /* a failing step stops fit with its own error */
    two_opts t3 = {{t2.opt[0], t2.opt[1]}, 2, 0, true};
    o2.train_step_data = &t3;
    CHECK(px_model_fit(m, train, &o2) == PX_ERR_ARG);
    CHECK_ERROR_HAS("two_optimizer_step: stopped at step 3");
    px_optimizer_free(t2.opt[0]);
    px_optimizer_free(t2.opt[1]);
    px_model_free(m);
    px_scaler_clear(&sc);
    px_dataset_free(all);
    px_dataset_free(train);
    px_dataset_free(test);
}

int main(void) {
    RUN_TEST(test_two_optimizers);
    return px_test_finish();
}
