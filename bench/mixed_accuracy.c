/* Trains the course's MLP (SGD 0.01, batch 32) or ConvNet (Adam, batch 64) under a
 * dtype policy and prints the test accuracy: bench/bf16_accuracy.py runs it for
 * float32 and mixed_bfloat16 over the same seeds and epochs.
 * Usage: mixed_accuracy mlp|convnet float32|mixed_bfloat16 SEED EPOCHS [training images (55000)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>
#include "bench_models.h"

int main(int argc, char **argv) {
    if (argc < 5 || (strcmp(argv[1], "mlp") && strcmp(argv[1], "convnet")))
        return fprintf(stderr, "usage: mixed_accuracy mlp|convnet POLICY SEED EPOCHS [IMAGES]\n"), 2;
    bool mlp = !strcmp(argv[1], "mlp");
    int epochs = atoi(argv[4]);
    int64_t n = argc > 5 ? atoll(argv[5]) : 55000;
    px_dataset *train = NULL, *valid = NULL, *test = NULL;
    if (px_mixed_precision_set_global_policy(argv[2]) != PX_OK ||
        px_fashion_mnist_load(NULL, 55000, &train, &valid, &test) != PX_OK)
        return fprintf(stderr, "mixed_accuracy: %s\n", px_last_error()), 1;
    px_dataset *part = px_dataset_slice(train, 0, n);
    px_set_random_seed(strtoull(argv[3], NULL, 10));
    px_model *m = mlp ? bench_course_mlp(px_sgd(&(px_optimizer_options){.learning_rate = 0.01f}))
                      : bench_course_convnet(px_adam(NULL));
    px_logs logs = {0};
    if (!m || !part ||
        px_model_fit(m, part, &(px_fit_options){.epochs = epochs, .batch_size = mlp ? 32 : 64,
                                                .verbose = PX_VERBOSE_SILENT}) != PX_OK ||
        px_model_evaluate(m, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs) != PX_OK)
        return fprintf(stderr, "mixed_accuracy: %s\n", px_last_error()), 1;
    double acc = 0;
    px_logs_get(&logs, "accuracy", &acc);
    printf("%s %s seed %s epochs %d images %lld: test accuracy %.4f\n", argv[1], argv[2], argv[3], epochs,
           (long long)n, acc);
    px_model_free(m);
    px_dataset_free(part), px_dataset_free(train), px_dataset_free(valid), px_dataset_free(test);
    return 0;
}
