/* The course's Fashion-MNIST MLP (784-300-100-10) trained with a chosen recipe,
 * printing seconds per epoch, validation and test accuracy after every epoch:
 * the Plexus side of bench/torch_fashion_mlp.py and docs/case-study.md.
 * The images are read with their pixels kept as bytes (px_fashion_mnist_sources:
 * 55 MB for the 70,000), or with --pixels floats as float32 datasets (219 MB).
 * Usage: see USAGE below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>
#include "bench_models.h"
#include "bench_util.h"

#define USAGE                                                                                        \
    "usage: fashion_mlp [--epochs N] [--batch B] [--lr LR] [--optimizer sgd|adam] [--threads T]\n"   \
    "                   [--seed S] [--train N] [--pixels bytes|floats]\n"                            \
    "                   [--dtype-policy float32|mixed_bfloat16]\n"

int main(int argc, char **argv) {
    if (bench_help(argc, argv, USAGE)) return 0;
    for (int i = 1; i < argc; i += 2) /* every argument is an option and its value */
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 == argc)
            return fprintf(stderr, "fashion_mlp: %s %s\n" USAGE, argv[i],
                           strncmp(argv[i], "--", 2) ? "is not an option" : "needs a value"), 2;
    int epochs = 30, batch = 32, threads = 0;
    long seed = 42, n_train = 55000;
    float lr = 0.01f;
    const char *opt_name = "sgd", *pixels = "bytes", *policy = "float32";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lr")) lr = (float)atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--optimizer")) opt_name = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--train")) n_train = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--pixels")) pixels = argv[i + 1];
        else if (!strcmp(argv[i], "--dtype-policy")) policy = argv[i + 1];
        else return fprintf(stderr, "fashion_mlp: unknown option %s\n" USAGE, argv[i]), 2;
    }
    if (threads > 0) px_set_num_threads(threads);
    if (strcmp(pixels, "bytes") != 0 && strcmp(pixels, "floats") != 0)
        return fprintf(stderr, "fashion_mlp: --pixels is bytes or floats\n"), 2;
    /* either way the data end up as sources: the float32 datasets borrowed by them */
    px_dataset *ds[3] = {NULL, NULL, NULL};
    px_source *train = NULL, *valid = NULL, *test = NULL;
    px_status st = pixels[0] == 'b' ? px_fashion_mnist_sources(NULL, 55000, &train, &valid, &test)
                                    : px_fashion_mnist_load(NULL, 55000, &ds[0], &ds[1], &ds[2]);
    px_source **srcs[3] = {&train, &valid, &test};
    for (int i = 0; st == PX_OK && i < 3; i++)
        if (ds[i] && !(*srcs[i] = px_source_dataset(ds[i]))) st = px_last_status();
    if (st == PX_OK && n_train < 55000 && !(train = px_source_take(train, 0, n_train))) st = px_last_status();
    if (st != PX_OK) return fprintf(stderr, "fashion_mlp: %s\n", px_last_error()), 1;
    px_set_random_seed((uint64_t)seed);
    if (px_mixed_precision_set_global_policy(policy) != PX_OK) return fprintf(stderr, "fashion_mlp: %s\n", px_last_error()), 1;
    px_optimizer *opt = px_optimizer_from_name(opt_name, &(px_optimizer_options){.learning_rate = lr});
    px_model *m = opt ? bench_course_mlp(opt) : NULL;
    if (!m) return fprintf(stderr, "fashion_mlp: %s\n", px_last_error()), 1;
    printf("plexus, blas %s (%s), threads %d, %s lr %g batch %d, pixels as %s, dtype policy %s\n", px_blas_name(),
           px_blas_kernel(), px_num_threads(), opt_name, lr, batch, pixels, policy);
    bench_epoch_timer t = {0};
    px_callback cb = bench_epoch_timer_callback(&t);
    px_callback *cbs[1] = {&cb};
    for (int e = 0; e < epochs; e++) {
        /* one epoch per fit call, so test accuracy can be taken after each */
        if (px_model_fit_source(m, train, &(px_fit_options){.epochs = e + 1, .initial_epoch = e, .batch_size = batch,
                                                            .verbose = PX_VERBOSE_SILENT, .callbacks = cbs,
                                                            .n_callbacks = 1}) != PX_OK)
            return fprintf(stderr, "fashion_mlp: %s\n", px_last_error()), 1;
        px_logs lv = {0}, lt = {0};
        px_eval_options q = {.verbose = PX_VERBOSE_SILENT, .batch_size = 1000};
        if (px_model_evaluate_source(m, valid, &q, &lv) != PX_OK || px_model_evaluate_source(m, test, &q, &lt) != PX_OK)
            return fprintf(stderr, "fashion_mlp: %s\n", px_last_error()), 1;
        double va = 0, ta = 0;
        px_logs_get(&lv, "accuracy", &va);
        px_logs_get(&lt, "accuracy", &ta);
        printf("epoch %d seconds %.3f val_accuracy %.4f test_accuracy %.4f cpu_seconds %.3f\n", e + 1, t.last, va, ta,
               t.cpu_last);
        fflush(stdout);
    }
    px_model_free(m);
    for (int i = 0; i < 3; i++) px_source_free(*srcs[i]), px_dataset_free(ds[i]);
    return 0;
}
