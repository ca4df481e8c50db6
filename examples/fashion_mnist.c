/* The course's Fashion-MNIST classifier: Flatten -> Dense 300 relu -> Dense 100
 * relu -> Dense 10 softmax, SGD, 55,000 training images, 5,000 for validation
 * (the first 5,000, as the course splits them).
 * Usage: fashion_mnist [epochs] [data-dir] */
#include <stdio.h>
#include <stdlib.h>

#include <plexus/plexus.h>

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 30;
    const char *dir = argc > 2 ? argv[2] : NULL;
    px_dataset *train, *valid, *test;
    if (px_fashion_mnist_load(dir, 55000, &train, &valid, &test) != PX_OK)
        return fprintf(stderr, "fashion_mnist: %s\n", px_last_error()), 1;

    px_model *model = px_sequential((px_layer *[]){
        px_flatten(PX_SHAPE(28, 28)),
        px_dense(300, PX_RELU),
        px_dense(100, PX_RELU),
        px_dense(10, PX_SOFTMAX),
        NULL});
    if (!model || px_model_summary(model, stdout) != PX_OK ||
        px_model_compile(model, &(px_compile_options){
            .loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
            .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 0.01f}),
            .metrics = {PX_ACCURACY}}) != PX_OK ||
        px_model_fit(model, train, &(px_fit_options){.epochs = epochs, .validation = valid}) != PX_OK)
        return fprintf(stderr, "fashion_mnist: %s\n", px_last_error()), 1;

    px_logs result = {0};
    if (px_model_evaluate(model, test, NULL, &result) != PX_OK)
        return fprintf(stderr, "fashion_mnist: %s\n", px_last_error()), 1;
    double loss = 0, acc = 0;
    px_logs_get(&result, "loss", &loss);
    px_logs_get(&result, "accuracy", &acc);
    printf("test loss %.4f, test accuracy %.4f\n", loss, acc);

    /* the class names predicted for the first three test images */
    px_tensor *first = px_tensor_slice(test->x, 0, 3);
    px_tensor *classes = px_model_predict_classes(model, first, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    for (int i = 0; classes && i < 3; i++)
        printf("image %d: predicted %-12s true %s\n", i, px_fashion_mnist_class_name(px_tensor_i32(classes)[i]),
               px_fashion_mnist_class_name(px_tensor_i32(test->y)[i]));
    px_tensor_free(classes);
    px_tensor_free(first);
    px_model_free(model);
    px_dataset_free(train);
    px_dataset_free(valid);
    px_dataset_free(test);
    return 0;
}
