/* The LSTM Fashion-MNIST workload of examples/lstm_fashion.c, timed for
 * bench/run.py: each image is 28 steps of 28 pixels, LSTM(128) -> Dense(10,
 * softmax), Adam lr 1e-3, batch 64, Keras's initialisers (Glorot-uniform kernel,
 * orthogonal recurrent kernel, zero bias with forget-gate bias 1), reshuffled
 * every epoch. Prints seconds per epoch and test accuracy after each epoch,
 * then the epoch's process CPU time.
 * The counterpart is bench/torch_lstm.py.
 * Usage: bench_lstm [--epochs N] [--train N] [--batch B] [--threads T] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>
#include "bench_util.h"

int main(int argc, char **argv) {
    if (bench_help(argc, argv, "usage: bench_lstm [--epochs N] [--train N] [--batch B] [--threads T]\n")) return 0;
    int epochs = 1, batch = 64, threads = 0;
    long n_train = 10000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--train")) n_train = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else return fprintf(stderr, "bench_lstm: unknown option %s\n", argv[i]), 2;
    }
    if (epochs < 1 || batch < 1 || n_train < 1 || n_train > 60000)
        return fprintf(stderr, "bench_lstm: bad --epochs/--batch/--train\n"), 2;
    if (threads > 0) px_set_num_threads(threads);
    px_dataset *train, *test;
    if (px_fashion_mnist_load(NULL, n_train, &train, NULL, &test) != PX_OK)
        return fprintf(stderr, "bench_lstm: %s\n", px_last_error()), 1;
    px_set_random_seed(42);
    px_model *m = px_sequential((px_layer *[]){px_lstm(128, &(px_rnn_options){.input_shape = PX_SHAPE(28, 28)}),
                                               px_dense(10, PX_SOFTMAX), NULL});
    if (!m || px_model_compile(m, &(px_compile_options){
                                      .loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                      .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 1e-3f}),
                                      .metrics = {PX_ACCURACY}}) != PX_OK)
        return fprintf(stderr, "bench_lstm: %s\n", px_last_error()), 1;
    printf("plexus lstm, blas %s (%s), threads %d, adam lr 0.001 batch %d, %ld images\n", px_blas_name(),
           px_blas_kernel(), px_num_threads(), batch, n_train);
    for (int e = 0; e < epochs; e++) {
        double t0 = now(), c0 = cpu_now();
        if (px_model_fit(m, train, &(px_fit_options){.epochs = e + 1, .initial_epoch = e, .batch_size = batch,
                                                      .verbose = PX_VERBOSE_SILENT}) != PX_OK)
            return fprintf(stderr, "bench_lstm: %s\n", px_last_error()), 1;
        double dt = now() - t0, dc = cpu_now() - c0;
        px_logs lt = {0};
        if (px_model_evaluate(m, test, &(px_eval_options){.batch_size = 1000, .verbose = PX_VERBOSE_SILENT}, &lt) !=
            PX_OK)
            return fprintf(stderr, "bench_lstm: %s\n", px_last_error()), 1;
        double ta = 0;
        px_logs_get(&lt, "accuracy", &ta);
        /* cpu_seconds (all threads): on a shared machine, a 1-thread run's CPU time
         * is a steadier measure than the wall clock */
        printf("epoch %d seconds %.3f test_accuracy %.4f cpu_seconds %.3f\n", e + 1, dt, ta, dc);
        fflush(stdout);
    }
    px_model_free(m);
    px_dataset_free(train);
    px_dataset_free(test);
    return 0;
}
