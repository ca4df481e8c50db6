/* Inference speed of the course's Fashion-MNIST MLP (784-300-100-10, Glorot
 * weights, untrained: speed does not depend on the values) for bench/run.py:
 * images per second through px_model_predict over the test images at batch 1
 * and batch 1,000, and the latency of one px_model_predict call on a single
 * image (median and 99th percentile). The counterpart is bench/torch_micro.py infer.
 * Usage: bench_infer [--images N] [--reps R] [--threads T] [--only b1|b1000|latency]
 * Prints "batch1_images_per_s X", "batch1000_images_per_s X", "latency_us MEDIAN P99". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <plexus/plexus.h>
#include "bench_util.h"

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, by_value);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static int fail(const char *what) {
    fprintf(stderr, "bench_infer: %s: %s\n", what, px_last_error());
    return 1;
}

/* Median seconds of `reps` predictions of all of x at the given batch size. */
static int time_predict(px_model *m, const px_tensor *x, int batch, int reps, double *out) {
    double t[64];
    for (int r = -1; r < reps; r++) {
        double t0 = now();
        px_tensor *p = px_model_predict(m, x, &(px_eval_options){.batch_size = batch, .verbose = PX_VERBOSE_SILENT});
        if (!p) return fail("predict");
        if (r >= 0) t[r] = now() - t0;
        px_tensor_free(p);
    }
    *out = median(t, reps);
    return 0;
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv, "usage: bench_infer [--images N] [--reps R] [--threads T] [--only b1|b1000|latency]\n"))
        return 0;
    long images = 10000;
    int reps = 5, threads = 0;
    const char *only = NULL; /* one part alone, for profiling */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--images")) images = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
        else return fprintf(stderr, "bench_infer: unknown option %s\n", argv[i]), 2;
    }
    if (images < 1 || images > 10000 || reps < 1 || reps > 64)
        return fprintf(stderr, "bench_infer: bad --images/--reps\n"), 2;
    if (threads > 0) px_set_num_threads(threads);
    px_dataset *train, *valid, *test;
    if (px_fashion_mnist_load(NULL, 55000, &train, &valid, &test) != PX_OK) return fail("load");
    px_tensor *x = px_tensor_slice(test->x, 0, images);
    px_set_random_seed(42);
    px_model *m = px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(300, PX_RELU),
                                               px_dense(100, PX_RELU), px_dense(10, PX_SOFTMAX), NULL});
    if (!x || !m || px_model_build(m, PX_SHAPE(28, 28)) != PX_OK) return fail("model");
    printf("plexus mlp inference, blas %s (%s), threads %d, %ld images\n", px_blas_name(), px_blas_kernel(),
           px_num_threads(), images);
    double t1, t1000;
    if (!only || !strcmp(only, "b1")) {
        if (time_predict(m, x, 1, reps, &t1)) return 1;
        printf("batch1_images_per_s %.1f\n", (double)images / t1);
    }
    if (!only || !strcmp(only, "b1000")) {
        if (time_predict(m, x, 1000, reps, &t1000)) return 1;
        printf("batch1000_images_per_s %.1f\n", (double)images / t1000);
    }
    if (only && strcmp(only, "latency")) return 0;

    /* Latency: one predict call on one image, timed call by call. */
    enum { CALLS = 2000 };
    static double lat[CALLS];
    px_tensor *one = px_tensor_slice(test->x, 0, 1);
    if (!one) return fail("slice");
    for (int i = -200; i < CALLS; i++) {
        double t0 = now();
        px_tensor *p = px_model_predict(m, one, &(px_eval_options){.batch_size = 1, .verbose = PX_VERBOSE_SILENT});
        double dt = now() - t0;
        if (!p) return fail("predict one");
        px_tensor_free(p);
        if (i >= 0) lat[i] = dt;
    }
    double med = median(lat, CALLS);
    printf("latency_us %.2f %.2f\n", med * 1e6, lat[CALLS * 99 / 100] * 1e6);
    px_tensor_free(one);
    px_tensor_free(x);
    px_model_free(m);
    px_dataset_free(train), px_dataset_free(valid), px_dataset_free(test);
    return 0;
}
