/* Fashion-MNIST read row by row: each image is a sequence of 28 steps of 28 pixels,
 * classified by LSTM(128) -> Dense(10 softmax) with Adam.
 * Usage: lstm_fashion [epochs] [training images] [data-dir] */
#include <stdio.h>
#include <stdlib.h>

#include <plexus/plexus.h>

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 2;
    long n_train = argc > 2 ? atol(argv[2]) : 10000;
    const char *dir = argc > 3 ? argv[3] : NULL;
    if (epochs <= 0 || n_train <= 0 || n_train > 60000)
        return fprintf(stderr, "usage: lstm_fashion [epochs >= 1] [training images 1..60000] [data-dir]\n"), 2;
    px_dataset *train, *test;
    /* the images already are (n, 28, 28): 28 timesteps of 28 features */
    if (px_fashion_mnist_load(dir, n_train, &train, NULL, &test) != PX_OK)
        return fprintf(stderr, "lstm_fashion: %s\n", px_last_error()), 1;

    px_set_random_seed(42);
    px_model *model = px_sequential((px_layer *[]){
        px_lstm(128, &(px_rnn_options){.input_shape = PX_SHAPE(28, 28)}),
        px_dense(10, PX_SOFTMAX),
        NULL});
    if (!model || px_model_summary(model, stdout) != PX_OK ||
        px_model_compile(model, &(px_compile_options){
            .loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
            .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 1e-3f}),
            .metrics = {PX_ACCURACY}}) != PX_OK ||
        px_model_fit(model, train, &(px_fit_options){.epochs = epochs, .batch_size = 64}) != PX_OK)
        return fprintf(stderr, "lstm_fashion: %s\n", px_last_error()), 1;

    px_logs result = {0};
    if (px_model_evaluate(model, test, &(px_eval_options){.batch_size = 256, .verbose = PX_VERBOSE_SILENT},
                          &result) != PX_OK)
        return fprintf(stderr, "lstm_fashion: %s\n", px_last_error()), 1;
    double loss = 0, acc = 0;
    px_logs_get(&result, "loss", &loss);
    px_logs_get(&result, "accuracy", &acc);
    printf("test loss %.4f, test accuracy %.4f (%ld training images, %d epochs)\n", loss, acc, n_train, epochs);
    px_model_free(model);
    px_dataset_free(train);
    px_dataset_free(test);
    return 0;
}
