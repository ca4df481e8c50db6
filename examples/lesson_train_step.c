/* Lesson: customizing what happens in fit (Keras's guide of that name): a train_step
 * of our own, here one that updates the hidden layer and the output layer with two
 * optimizers of different learning rates, while fit keeps the epochs, shuffling,
 * validation, callbacks and progress bar. On iris, 120 flowers to train, 30 held out.
 * Usage: lesson_train_step [iris.csv] */
#include <stdio.h>
#include <stdlib.h>

#include <plexus/plexus.h>

/* The step's state: the hidden layer's optimizer (its kernel and bias, the first two
 * trainable weights) and the output layer's. */
typedef struct two_optimizers {
    px_optimizer *hidden, *output;
} two_optimizers;

/* Keras's train_step: gradients of the compiled loss on the batch, each layer's applied
 * by its own optimizer; the batch's loss and metrics go to the logs fit shows. */
static px_status train_step(px_model *m, const px_arrays *batch, px_logs *logs, void *data) {
    two_optimizers *t = data;
    px_tensor **w = NULL, *g[4] = {0};
    int n = 0;
    px_status st = px_model_trainable_weights(m, &w, &n);
    if (st == PX_OK && n != 4) st = px_set_error(PX_ERR_STATE, "train_step: expected 4 trainable weights, got %d", n);
    if (st == PX_OK) st = px_model_compute_gradients(m, batch, g, logs);
    if (st == PX_OK) st = px_optimizer_apply_gradients(t->hidden, g, w, 2);
    if (st == PX_OK) st = px_optimizer_apply_gradients(t->output, g + 2, w + 2, 2);
    for (int i = 0; i < 4; i++) px_tensor_free(g[i]);
    free(w);
    return st;
}

static int fail(const char *what) {
    fprintf(stderr, "lesson_train_step: %s: %s\n", what, px_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/data/iris.csv";
    px_dataset *all = NULL, *train = NULL, *test = NULL;
    px_scaler sc = {0};
    if (px_csv_read(path, &(px_csv_options){.header = true, .label_column = -1}, &all) != PX_OK ||
        px_dataset_train_test_split(all, 0.2, 3, &train, &test) != PX_OK || px_scaler_fit(&sc, train->x) != PX_OK ||
        px_scaler_transform(&sc, train->x) != PX_OK || px_scaler_transform(&sc, test->x) != PX_OK)
        return fail(path);

    px_set_random_seed(9);
    px_model *model = px_sequential((px_layer *[]){
        px_dense_ex(16, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(4)}),
        px_dense(3, PX_SOFTMAX), NULL});
    /* compile still names the loss (differentiated by compute_gradients) and the
     * metrics (validation and evaluate); its optimizer is not used by this step */
    if (!model || px_model_compile(model, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                                .optimizer = px_adam(NULL),
                                                                .metrics = {PX_ACCURACY}}) != PX_OK)
        return fail("model");
    two_optimizers t = {px_adam(&(px_optimizer_options){.learning_rate = 0.02f}),
                        px_adam(&(px_optimizer_options){.learning_rate = 0.005f})};
    px_callback *stop = px_early_stopping(&(px_early_stopping_options){.monitor = "val_loss", .patience = 10,
                                                                       .restore_best_weights = true});
    if (!t.hidden || !t.output || !stop) return fail("optimizers");
    if (px_model_fit(model, train, &(px_fit_options){.epochs = 60, .batch_size = 16, .validation_split = 0.2f,
                                                     .verbose = PX_VERBOSE_SILENT, .callbacks = &stop, .n_callbacks = 1,
                                                     .train_step = train_step, .train_step_data = &t}) != PX_OK)
        return fail("fit");
    int epochs = 0;
    const double *loss = px_history_get(px_model_history(model), "loss", &epochs);
    px_logs logs = {0};
    double acc = 0;
    if (!loss || px_model_evaluate(model, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs) != PX_OK ||
        !px_logs_get(&logs, "accuracy", &acc))
        return fail("evaluate");
    printf("%d epochs, last batch loss %.4f; %lld steps of each optimizer\n", epochs, loss[epochs - 1],
           (long long)px_optimizer_iterations(t.hidden));
    printf("held-out accuracy %.4f on %lld flowers\n", acc, (long long)px_dataset_size(test));
    px_callback_free(stop);
    px_optimizer_free(t.hidden);
    px_optimizer_free(t.output);
    px_model_free(model);
    px_scaler_clear(&sc);
    px_dataset_free(all);
    px_dataset_free(train);
    px_dataset_free(test);
    return 0;
}
