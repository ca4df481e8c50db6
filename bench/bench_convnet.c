/* Seconds per epoch of the course's Fashion-MNIST ConvNet (batch 64, Adam) on
 * 55,000 images with 1 and 2 threads, and the GFLOP/s that makes; compare with
 * bench/torch_convnet.py. Usage: bench_convnet [epochs per setting (2)] [images] [threads (0: 1 and 2)]
 * or bench_convnet layers (each convolution alone). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>
#include "bench_models.h"
#include "bench_util.h"

/* Multiply-adds x 2 of one training step per image: forward, input gradient
 * (not for the first convolution, whose input is data) and weight gradient. */
static double train_flops_per_image(void) {
    const double conv[3] = {28.0 * 28 * 5 * 5 * 1 * 4, 14.0 * 14 * 4 * 4 * 4 * 8, 7.0 * 7 * 4 * 4 * 8 * 12};
    const double dense[2] = {588.0 * 200, 200.0 * 10};
    double f = 0;
    for (int i = 0; i < 3; i++) f += 2 * conv[i] * (i == 0 ? 2 : 3);
    for (int i = 0; i < 2; i++) f += 2 * dense[i] * 3;
    return f;
}

/* "bench_convnet layers": CPU time of each convolution alone (batch 64, one
 * thread), forward and forward + backward; CPU time rather than wall time so
 * that other programs on the machine disturb it less. */
static int bench_layers(void) {
    const int shapes[3][6] = {{28, 1, 5, 4, 1, 0}, {28, 4, 4, 8, 2, 0}, {14, 8, 4, 12, 2, 0}};
    px_set_num_threads(1);
    for (int l = 0; l < 3; l++) {
        int hw = shapes[l][0], c = shapes[l][1], k = shapes[l][2], f = shapes[l][3], s = shapes[l][4];
        px_graph *g = px_graph_new();
        px_rng rng = px_rng_seeded(1);
        px_tensor *tx = px_tensor_random_uniform(PX_SHAPE(64, hw, hw, c), -1, 1, &rng);
        px_tensor *tk = px_tensor_random_uniform(PX_SHAPE(k, k, c, f), -1, 1, &rng);
        px_tensor *tb = px_tensor_zeros(PX_SHAPE(f));
        px_node *x = px_variable(g, tx, "x"), *kn = px_variable(g, tk, "k"), *b = px_variable(g, tb, "b");
        px_node *y = px_conv2d_bias(x, kn, b, s, s, PX_PADDING_SAME, 1, 1);
        px_node *loss = px_sum_all(y);
        px_session *fwd = px_session_new(g, &y, 1, NULL);
        px_session *both = px_session_new(g, &y, 1, &(px_session_options){.loss = loss});
        double t[2];
        px_session *ss[2] = {fwd, both};
        for (int i = 0; i < 2; i++) {
            px_session_run(ss[i], NULL, 0, NULL);
            double t0 = cpu_now();
            for (int r = 0; r < 200; r++) px_session_run(ss[i], NULL, 0, NULL);
            t[i] = (cpu_now() - t0) / 200;
        }
        double macs = 64.0 * (hw / s) * (hw / s) * k * k * c * f;
        printf("conv %dx%dx%d -> %d filters %dx%d stride %d: forward %.3f ms (%.1f GFLOP/s), "
               "forward+backward %.3f ms (%.1f GFLOP/s)\n",
               hw, hw, c, f, k, k, s, 1e3 * t[0], 2 * macs / t[0] * 1e-9, 1e3 * t[1], 6 * macs / t[1] * 1e-9);
        px_session_free(fwd);
        px_session_free(both);
        px_graph_free(g);
        px_tensor_free(tx), px_tensor_free(tk), px_tensor_free(tb);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv,
                   "usage: bench_convnet [epochs per setting (2)] [images (55000)] [threads (0: 1 and 2)]\n"
                   "                     [float32|mixed_bfloat16]\n"
                   "       bench_convnet layers\n"))
        return 0;
    if (argc > 1 && strcmp(argv[1], "layers") == 0) return bench_layers();
    int epochs = argc > 1 ? atoi(argv[1]) : 2;
    int64_t n = argc > 2 ? atoll(argv[2]) : 55000;
    int only = argc > 3 ? atoi(argv[3]) : 0;
    const char *policy = argc > 4 ? argv[4] : "float32"; /* float32 or mixed_bfloat16 */
    if (px_mixed_precision_set_global_policy(policy) != PX_OK)
        return fprintf(stderr, "bench_convnet: %s\n", px_last_error()), 1;
    px_dataset *train;
    if (epochs < 1 || px_fashion_mnist_load(NULL, n, &train, NULL, NULL) != PX_OK)
        return fprintf(stderr, "bench_convnet: %s\n", px_last_error()), 1;
    double gflop = train_flops_per_image() * (double)n * 1e-9;
    printf("ConvNet on %lld Fashion-MNIST images, batch 64, Adam (%s/%s); %.1f GFLOP per epoch\n", (long long)n,
           px_blas_name(), px_blas_kernel(), gflop);
    for (int threads = only > 0 ? only : 1; threads <= (only > 0 ? only : 2); threads++) {
        px_set_num_threads(threads);
        px_model *m = bench_course_convnet(px_adam(NULL));
        if (!m) return fprintf(stderr, "bench_convnet: %s\n", px_last_error()), 1;
        /* a warm-up epoch on a slice plans the buffers and loads the BLAS */
        px_dataset *warm = px_dataset_slice(train, 0, 640);
        px_model_fit(m, warm, &(px_fit_options){.batch_size = 64, .verbose = PX_VERBOSE_SILENT});
        px_dataset_free(warm);
        double best = 1e30;
        for (int e = 0; e < epochs; e++) {
            double t0 = now();
            if (px_model_fit(m, train, &(px_fit_options){.batch_size = 64, .verbose = PX_VERBOSE_SILENT}) != PX_OK)
                return fprintf(stderr, "bench_convnet: %s\n", px_last_error()), 1;
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        printf("plexus  threads %d: %.3f s/epoch (best of %d), %.1f GFLOP/s, %s\n", threads, best, epochs, gflop / best,
               policy);
        px_model_free(m);
    }
    px_dataset_free(train);
    return 0;
}
