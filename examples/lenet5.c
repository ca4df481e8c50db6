/* A LeNet-5-style convolutional network with batch normalization on Fashion-MNIST:
 * conv 6@5x5 -> BN -> relu -> maxpool, conv 16@5x5 -> BN -> relu -> maxpool, then
 * Dense 120 -> BN -> relu, Dense 84 relu, Dense 10 softmax.
 * Usage: lenet5 [epochs] [training images] [data-dir] */
#include <stdio.h>
#include <stdlib.h>

#include <plexus/plexus.h>

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 2;
    long n_train = argc > 2 ? atol(argv[2]) : 10000;
    const char *dir = argc > 3 ? argv[3] : NULL;
    if (epochs <= 0 || n_train <= 0 || n_train > 60000)
        return fprintf(stderr, "usage: lenet5 [epochs >= 1] [training images 1..60000] [data-dir]\n"), 2;
    px_dataset *train, *test;
    if (px_fashion_mnist_load(dir, n_train, &train, NULL, &test) != PX_OK)
        return fprintf(stderr, "lenet5: %s\n", px_last_error()), 1;

    px_set_random_seed(42);
    /* the convolutions go without bias: the batch normalization after them has its own offset */
    px_model *model = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(28, 28), NULL),
        px_reshape_layer(PX_SHAPE(28, 28, 1)),
        px_conv2d_layer(6, 5, 5, &(px_conv_options){.padding = PX_PADDING_SAME, .no_bias = true}),
        px_batch_normalization(),
        px_activation_layer(PX_RELU),
        px_max_pooling2d(2, 2, NULL),
        px_conv2d_layer(16, 5, 5, &(px_conv_options){.no_bias = true}),
        px_batch_normalization(),
        px_activation_layer(PX_RELU),
        px_max_pooling2d(2, 2, NULL),
        px_flatten(PX_SCALAR),
        px_dense_ex(120, &(px_dense_options){.no_bias = true}),
        px_batch_normalization(),
        px_activation_layer(PX_RELU),
        px_dense(84, PX_RELU),
        px_dense(10, PX_SOFTMAX),
        NULL});
    if (!model || px_model_summary(model, stdout) != PX_OK ||
        px_model_compile(model, &(px_compile_options){
            .loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
            .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 1e-3f}),
            .metrics = {PX_ACCURACY}}) != PX_OK ||
        px_model_fit(model, train, &(px_fit_options){.epochs = epochs}) != PX_OK)
        return fprintf(stderr, "lenet5: %s\n", px_last_error()), 1;

    px_logs result = {0};
    if (px_model_evaluate(model, test, &(px_eval_options){.batch_size = 256, .verbose = PX_VERBOSE_SILENT},
                          &result) != PX_OK)
        return fprintf(stderr, "lenet5: %s\n", px_last_error()), 1;
    double loss = 0, acc = 0;
    px_logs_get(&result, "loss", &loss);
    px_logs_get(&result, "accuracy", &acc);
    printf("test loss %.4f, test accuracy %.4f (%ld training images, %d epochs)\n", loss, acc, n_train, epochs);
    px_model_free(model);
    px_dataset_free(train);
    px_dataset_free(test);
    return 0;
}
