/* Per-step overhead: one compiled forward+backward session run plus a plain
 * SGD update of a tiny 2-4-1 network on XOR, in microseconds per step, where
 * the arithmetic is negligible and the framework's fixed costs show. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "plexus/plexus.h"
#include "bench_util.h"

int main(int argc, char **argv) {
    if (bench_help(argc, argv, "usage: bench_overhead [steps (200000)]\n")) return 0;
    long steps = argc > 1 ? atol(argv[1]) : 200000;
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(4, 2), "x");
    px_node *y = px_placeholder(g, PX_F32, PX_SHAPE(4, 1), "y");
    float w1v[8] = {0.5f, -0.4f, 0.3f, 0.8f, -0.6f, 0.7f, 0.2f, -0.9f}, b1v[4] = {0};
    float w2v[4] = {0.6f, -0.5f, 0.4f, -0.3f}, b2v[1] = {0};
    px_tensor *tw1 = px_tensor_from_array(PX_SHAPE(2, 4), w1v, 8);
    px_tensor *tb1 = px_tensor_from_array(PX_SHAPE(1, 4), b1v, 4);
    px_tensor *tw2 = px_tensor_from_array(PX_SHAPE(4, 1), w2v, 4);
    px_tensor *tb2 = px_tensor_from_array(PX_SHAPE(1, 1), b2v, 1);
    px_node *w1 = px_variable(g, tw1, "w1"), *b1 = px_variable(g, tb1, "b1");
    px_node *w2 = px_variable(g, tw2, "w2"), *b2 = px_variable(g, tb2, "b2");
    px_node *h = px_sigmoid(px_add(px_matmul(x, w1), b1));
    px_node *out = px_sigmoid(px_add(px_matmul(h, w2), b2));
    px_node *loss = px_mean_all(px_square(px_sub(out, y)));
    px_session *s = px_session_new(g, &loss, 1, &(px_session_options){.loss = loss});
    if (!s) {
        fprintf(stderr, "bench_overhead: %s\n", px_last_error());
        return 1;
    }
    float xv[8] = {0, 0, 0, 1, 1, 0, 1, 1}, yv[4] = {0, 1, 1, 0};
    px_tensor *tx = px_tensor_from_array(PX_SHAPE(4, 2), xv, 8);
    px_tensor *ty = px_tensor_from_array(PX_SHAPE(4, 1), yv, 4);
    px_feed feeds[2] = {{x, tx}, {y, ty}};
    int64_t n_params = 0, n_train = 0;
    float *params = px_graph_params(g, &n_params, &n_train);
    const float lr = 0.5f;
    double t[7];
    for (int r = -1; r < 7; r++) { /* r = -1: warm-up */
        double t0 = now();
        for (long i = 0; i < steps; i++) {
            if (px_session_run(s, feeds, 2, NULL) != PX_OK) {
                fprintf(stderr, "bench_overhead: %s\n", px_last_error());
                return 1;
            }
            const float *grads = px_session_param_grads(s, NULL);
            for (int64_t p = 0; p < n_train; p++) params[p] -= lr * grads[p];
        }
        if (r >= 0) t[r] = (now() - t0) / (double)steps;
    }
    qsort(t, 7, sizeof *t, by_value);
    printf("BLAS: %s (%s), threads: %d\n", px_blas_name(), px_blas_kernel(), px_num_threads());
    printf("loss after training: %.5f\n", px_tensor_f32(px_session_fetch(s, 0))[0]);
    printf("per step (forward + backward + SGD), median of 7: %.3f us (min %.3f, max %.3f)\n",
           t[3] * 1e6, t[0] * 1e6, t[6] * 1e6);
    px_session_free(s);
    px_graph_free(g);
    px_tensor_free(tw1), px_tensor_free(tb1), px_tensor_free(tw2), px_tensor_free(tb2);
    px_tensor_free(tx), px_tensor_free(ty);
    return 0;
}
