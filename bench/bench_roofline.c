/* The GEMM roofline of one training epoch of the course's Fashion-MNIST MLP
 * (784-300-100-10) for bench/run.py: the nine matrix products of one training
 * step (forward x@W, weight gradients X^T@dY, input gradients dY@W^T for the
 * two upper layers; the first layer's input gradient is not needed), timed with
 * the BLAS called directly (px_gemm_blas), and Plexus's own dispatch (px_gemm)
 * for comparison. Prints the seconds one epoch of 55,000 images would take if
 * it were only these products, and their GFLOP/s: the bound a training step
 * can approach on this machine.
 * Usage: bench_roofline [--batch B] [--threads T] [--images N]
 * Prints "flops_per_image F", "blas_epoch_s S gflops G", "px_gemm_epoch_s S gflops G". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/gemm.h"
#include "plexus/backend.h"
#include "bench_util.h"

typedef void (*gemm_fn)(bool, bool, int64_t, int64_t, int64_t, float, const float *, int64_t,
                        const float *, int64_t, float, float *, int64_t);

typedef struct shape {
    bool ta, tb;
    int64_t m, n, k;
    float beta;
} shape;

static float *buf_a, *buf_b, *buf_c;

/* Median seconds for one pass over all products, 7 timed batches of ~30 ms. */
static double time_step(gemm_fn f, const shape *s, int ns) {
    long reps = 1;
    double t[7];
    for (int r = -1; r < 7; r++) {
        for (;;) {
            double t0 = now();
            for (long i = 0; i < reps; i++)
                for (int j = 0; j < ns; j++) {
                    int64_t lda = s[j].ta ? s[j].m : s[j].k, ldb = s[j].tb ? s[j].k : s[j].n;
                    f(s[j].ta, s[j].tb, s[j].m, s[j].n, s[j].k, 1.0f, buf_a, lda, buf_b, ldb, s[j].beta, buf_c,
                      s[j].n);
                }
            double dt = now() - t0;
            if (r < 0 && dt < 0.03) { /* calibrate in the warm-up */
                reps = reps * 2;
                continue;
            }
            if (r >= 0) t[r] = dt / (double)reps;
            break;
        }
    }
    qsort(t, 7, sizeof *t, by_value);
    return t[3];
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv, "usage: bench_roofline [--batch B] [--threads T] [--images N]\n")) return 0;
    int64_t b = 32;
    int threads = 0;
    long images = 55000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) b = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--images")) images = atol(argv[i + 1]);
        else return fprintf(stderr, "bench_roofline: unknown option %s\n", argv[i]), 2;
    }
    if (b < 1 || b > 4096 || images < 1) return fprintf(stderr, "bench_roofline: bad --batch/--images\n"), 2;
    if (threads > 0) px_set_num_threads(threads);
    const int64_t d[4] = {784, 300, 100, 10};
    shape s[9];
    int ns = 0;
    for (int l = 0; l < 3; l++) {
        s[ns++] = (shape){false, false, b, d[l + 1], d[l], 0};          /* forward X@W */
        s[ns++] = (shape){true, false, d[l], d[l + 1], b, 0};           /* dW = X^T@dY */
        if (l > 0) s[ns++] = (shape){false, true, b, d[l], d[l + 1], 0}; /* dX = dY@W^T */
    }
    double flops = 0;
    for (int j = 0; j < ns; j++) flops += 2.0 * (double)s[j].m * (double)s[j].n * (double)s[j].k;
    size_t big = (size_t)(4096 * 784 + 64);
    buf_a = malloc(big * sizeof(float));
    buf_b = malloc(big * sizeof(float));
    buf_c = malloc(big * sizeof(float));
    if (!buf_a || !buf_b || !buf_c) return 1;
    for (size_t i = 0; i < big; i++) {
        buf_a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        buf_b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        buf_c[i] = 0.0f;
    }
    printf("plexus mlp gemm roofline, blas %s (%s), threads %d, batch %lld\n", px_blas_name(), px_blas_kernel(),
           px_num_threads(), (long long)b);
    double steps = (double)((images + b - 1) / b);
    printf("flops_per_image %.0f\n", flops / (double)b);
    double tb = time_step(px_gemm_blas, s, ns), tp = time_step(px_gemm_dispatch, s, ns);
    printf("blas_epoch_s %.4f gflops %.2f\n", tb * steps, flops / tb * 1e-9);
    printf("px_gemm_epoch_s %.4f gflops %.2f\n", tp * steps, flops / tp * 1e-9);
    free(buf_a), free(buf_b), free(buf_c);
    return 0;
}
