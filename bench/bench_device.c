/* Seconds per training epoch of the course's MLP (784-300-100-10, SGD) or
 * ConvNet (three convolutions, Adam) on one device (cpu, ref, cuda:N), on
 * synthetic 28x28 images: the Plexus side of bench/torch_device.py, which
 * trains the same models on the same number of images with PyTorch.
 * scripts/gpu-check.sh runs both on a GPU and prints the ratios.
 * Usage: bench_device DEVICE mlp|convnet BATCH [images (10000)] [timed epochs (3)]
 * Prints one line: "plexus DEVICE MODEL batch B images N epoch_s S step_ms T"
 * with S the median of the timed epochs (one untimed epoch first: it plans the
 * session and records the device's step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>
#include "bench_models.h"
#include "bench_util.h"

/* Uniform images and uniform labels: the speed of an epoch does not depend on
 * what the model learns. */
static px_dataset *synthetic(int64_t n) {
    px_rng r = px_rng_seeded(1);
    px_tensor *x = px_tensor_random_uniform(PX_SHAPE(n, 28, 28), 0, 1, &r);
    px_tensor *y = px_tensor_new(PX_I32, PX_SHAPE(n));
    if (!x || !y) {
        px_tensor_free(x);
        px_tensor_free(y);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) px_tensor_i32(y)[i] = (int32_t)px_rng_below(&r, 10);
    return px_dataset_new(x, y);
}

/* The course's MLP with SGD (learning rate 0.01) or ConvNet with Adam. */
static px_model *make_model(bool convnet) {
    px_set_random_seed(7);
    if (convnet) return bench_course_convnet(px_adam(NULL));
    return bench_course_mlp(px_sgd(&(px_optimizer_options){.learning_rate = 0.01f}));
}

static int usage(void) {
    fprintf(stderr, "usage: bench_device DEVICE mlp|convnet BATCH [images (10000)] [timed epochs (3)]\n");
    return 2;
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv, "usage: bench_device DEVICE mlp|convnet BATCH [images (10000)] [timed epochs (3)]\n"))
        return 0;
    if (argc < 4 || argc > 6) return usage();
    const char *device = argv[1], *model = argv[2];
    bool convnet = !strcmp(model, "convnet");
    int batch = atoi(argv[3]), epochs = argc > 5 ? atoi(argv[5]) : 3;
    long images = argc > 4 ? atol(argv[4]) : 10000;
    if ((!convnet && strcmp(model, "mlp")) || batch < 1 || images < batch || epochs < 1 || epochs > 99)
        return usage();
    if (px_set_device(device) != PX_OK) return fprintf(stderr, "bench_device: %s\n", px_last_error()), 1;
    px_dataset *data = synthetic(images);
    px_model *m = make_model(convnet);
    if (!data || !m) return fprintf(stderr, "bench_device: %s\n", px_last_error()), 1;
    bench_epoch_timer t = {0};
    px_callback cb = bench_epoch_timer_callback(&t);
    px_callback *cbs[1] = {&cb};
    double times[100];
    for (int e = 0; e <= epochs; e++) {
        px_fit_options o = {.epochs = e + 1, .initial_epoch = e, .batch_size = batch, .verbose = PX_VERBOSE_SILENT,
                            .callbacks = cbs, .n_callbacks = 1};
        if (px_model_fit(m, data, &o) != PX_OK) return fprintf(stderr, "bench_device: %s\n", px_last_error()), 1;
        if (e > 0) times[e - 1] = t.last;
    }
    qsort(times, (size_t)epochs, sizeof *times, by_value);
    double s = times[epochs / 2];
    long steps = (images + batch - 1) / batch;
    printf("plexus %s %s batch %d images %ld epoch_s %.4f step_ms %.4f\n", device, model, batch, images, s,
           1e3 * s / (double)steps);
    px_model_free(m);
    px_dataset_free(data);
    return 0;
}
