/* GFLOP/s of the library's matmul path (px_gemm) on the Fashion-MNIST MLP's
 * products, next to the BLAS called directly and the builtin kernel, with 1
 * and 2 threads. Usage: bench_gemm [threads...]   (default: 1 2) */
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
    const char *what;
    bool ta, tb;
    int64_t m, n, k;
    float beta;
} shape;

static float *buf_a, *buf_b, *buf_c;

/* Median seconds per call over 7 timed batches of about 20 ms, after a warm-up batch. */
static double time_call(gemm_fn f, const shape *s) {
    int64_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    long reps = (long)(4e6 / (flops + 2000.0)) + 1;
    double t[7];
    for (int r = -1; r < 7; r++) {
        for (;;) {
            double t0 = now();
            for (long i = 0; i < reps; i++)
                f(s->ta, s->tb, s->m, s->n, s->k, 1.0f, buf_a, lda, buf_b, ldb, s->beta, buf_c, s->n);
            double dt = now() - t0;
            if (r < 0 && dt < 0.02) { /* calibrate in the warm-up */
                reps = reps * 2 + 1;
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
    if (bench_help(argc, argv, "usage: bench_gemm [threads...]   (default: 1 2)\n")) return 0;
    static const shape shapes[] = {
        {"fwd  x@W1   B=32 ", false, false, 32, 300, 784, 0},
        {"dX  dY@W1^T B=32 ", false, true, 32, 784, 300, 1},
        {"dW  X^T@dY  B=32 ", true, false, 784, 300, 32, 1},
        {"fwd h1@W2   B=32 ", false, false, 32, 100, 300, 0},
        {"dX  dY@W2^T B=32 ", false, true, 32, 300, 100, 1},
        {"dW  X^T@dY  B=32 ", true, false, 300, 100, 32, 1},
        {"fwd h2@W3   B=32 ", false, false, 32, 10, 100, 0},
        {"dX  dY@W3^T B=32 ", false, true, 32, 100, 10, 1},
        {"dW  X^T@dY  B=32 ", true, false, 100, 10, 32, 1},
        {"fwd  x@W1   B=256", false, false, 256, 300, 784, 0},
        {"dX  dY@W1^T B=256", false, true, 256, 784, 300, 1},
        {"dW  X^T@dY  B=256", true, false, 784, 300, 256, 1},
        {"fwd h1@W2   B=256", false, false, 256, 100, 300, 0},
        {"dX  dY@W2^T B=256", false, true, 256, 300, 100, 1},
        {"dW  X^T@dY  B=256", true, false, 300, 100, 256, 1},
        {"fwd h2@W3   B=256", false, false, 256, 10, 100, 0},
        {"dX  dY@W3^T B=256", false, true, 256, 100, 10, 1},
        {"dW  X^T@dY  B=256", true, false, 100, 10, 256, 1},
        {"tiny 2x2 @ 2x4   ", false, false, 2, 4, 2, 0},
        {"tiny 4x2 @ 2x4   ", false, false, 4, 4, 2, 0},
        {"tiny 4x4 @ 4x1   ", false, false, 4, 1, 4, 0},
        {"small 32x100@100x10", false, false, 32, 10, 100, 0},
        {"cube 256         ", false, false, 256, 256, 256, 0},
        {"cube 1024        ", false, false, 1024, 1024, 1024, 0},
    };
    int nthreads[8] = {1, 2}, nt = 2;
    if (argc > 1) {
        nt = 0;
        for (int i = 1; i < argc && nt < 8; i++) nthreads[nt++] = atoi(argv[i]);
    }
    size_t big = 1024 * 1024 + 64;
    buf_a = malloc(big * sizeof(float));
    buf_b = malloc(big * sizeof(float));
    buf_c = malloc(big * sizeof(float));
    if (!buf_a || !buf_b || !buf_c) return 1;
    for (size_t i = 0; i < big; i++) {
        buf_a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        buf_b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        buf_c[i] = 0.0f;
    }
    printf("BLAS: %s, kernel: %s\n", px_blas_name(), px_blas_kernel());
    for (int ti = 0; ti < nt; ti++) {
        px_set_num_threads(nthreads[ti]);
        printf("\nthreads: %d\n", px_num_threads());
        printf("%-20s %5s %5s %5s | %9s %9s %9s | %7s | %9s %9s\n", "product", "m", "n", "k",
               "px_gemm", "blas", "builtin", "px/blas", "px us", "blas us");
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
            const shape *s = &shapes[i];
            double fl = 2.0 * (double)s->m * (double)s->n * (double)s->k;
            double tp = time_call(px_gemm_dispatch, s), tb = time_call(px_gemm_blas, s),
                   tk = time_call(px_gemm_builtin, s);
            printf("%-20s %5lld %5lld %5lld | %9.2f %9.2f %9.2f | %7.2f | %9.3f %9.3f\n", s->what,
                   (long long)s->m, (long long)s->n, (long long)s->k, fl / tp * 1e-9, fl / tb * 1e-9,
                   fl / tk * 1e-9, tb / tp, tp * 1e6, tb * 1e6);
            fflush(stdout);
        }
    }
    free(buf_a), free(buf_b), free(buf_c);
    return 0;
}
