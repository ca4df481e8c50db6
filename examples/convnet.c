/* The course's ConvNet on Fashion-MNIST: three "same" convolutions (5x5x4,
 * 4x4x8 stride 2, 4x4x12 stride 2, relu) -> Dense 200 relu -> Dense 10 softmax, Adam.
 * Usage: convnet [epochs (10)] [training images (55000)] [data-dir] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <plexus/plexus.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 10;
    int64_t n_train = argc > 2 ? atoll(argv[2]) : 55000;
    const char *dir = argc > 3 ? argv[3] : NULL;
    if (epochs < 1 || n_train < 1 || n_train > 55000)
        return fprintf(stderr, "usage: convnet [epochs >= 1] [training images 1..55000] [data-dir]\n"), 2;
    /* the course's split (the first 5,000 images validate), then the first
     * n_train of the other 55,000 for a shorter run */
    px_dataset *all, *valid, *test;
    if (px_fashion_mnist_load(dir, 55000, &all, &valid, &test) != PX_OK)
        return fprintf(stderr, "convnet: %s\n", px_last_error()), 1;
    px_dataset *train = n_train < 55000 ? px_dataset_slice(all, 0, n_train) : all;
    if (train != all) px_dataset_free(all);
    if (!train) return fprintf(stderr, "convnet: %s\n", px_last_error()), 1;

    px_conv_options c1 = {.padding = PX_PADDING_SAME, .activation = PX_RELU};
    px_conv_options c2 = {.strides = {2, 2}, .padding = PX_PADDING_SAME, .activation = PX_RELU};
    px_model *model = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(28, 28), NULL),
        px_reshape_layer(PX_SHAPE(28, 28, 1)), /* one channel, channels-last */
        px_conv2d_layer(4, 5, 5, &c1),
        px_conv2d_layer(8, 4, 4, &c2),
        px_conv2d_layer(12, 4, 4, &c2),
        px_flatten(PX_SCALAR),
        px_dense(200, PX_RELU),
        px_dense(10, PX_SOFTMAX),
        NULL});
    if (!model || px_model_summary(model, stdout) != PX_OK ||
        px_model_compile(model, &(px_compile_options){
            .loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
            .optimizer = px_adam(NULL),
            .metrics = {PX_ACCURACY}}) != PX_OK)
        return fprintf(stderr, "convnet: %s\n", px_last_error()), 1;
    double t0 = now();
    if (px_model_fit(model, train, &(px_fit_options){.epochs = epochs, .batch_size = 64,
                                                     .validation = valid && px_dataset_size(valid) > 0 ? valid : NULL,
                                                     .verbose = PX_VERBOSE_EPOCH}) != PX_OK)
        return fprintf(stderr, "convnet: %s\n", px_last_error()), 1;
    double secs = now() - t0;

    px_logs result = {0};
    double loss = 0, acc = 0;
    if (px_model_evaluate(model, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &result) != PX_OK)
        return fprintf(stderr, "convnet: %s\n", px_last_error()), 1;
    px_logs_get(&result, "loss", &loss);
    px_logs_get(&result, "accuracy", &acc);
    printf("trained %d epochs on %lld images in %.1f s (%.2f s/epoch, %d threads)\n", epochs, (long long)n_train,
           secs, secs / epochs, px_num_threads());
    printf("test loss %.4f, test accuracy %.4f\n", loss, acc);
    px_model_free(model);
    px_dataset_free(train);
    px_dataset_free(valid);
    px_dataset_free(test);
    return 0;
}
