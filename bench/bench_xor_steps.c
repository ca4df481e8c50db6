/* Per-step overhead on XOR for bench/run.py: a 2-2-1 network (sigmoid hidden
 * and output units, MSE, plain SGD lr 0.5), batch 4, timed over blocks of
 * `steps` training steps in two ways:
 *   graph: a compiled session (forward + backward) plus the SGD update loop,
 *          the C-level equivalent of PyTorch's zero_grad/forward/backward/step;
 *   fit:   the Keras-level path, px_model_fit_arrays over 4 examples with
 *          batch 4 for `steps` epochs (one step per epoch, no shuffling).
 * The counterpart is bench/torch_micro.py xor.
 * Usage: bench_xor_steps [--steps N] [--reps R] [--threads T]
 * Prints "graph_us_per_step MEDIAN MIN MAX" and "fit_us_per_step MEDIAN MIN MAX". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <plexus/plexus.h>
#include "bench_util.h"

#define MAX_REPS 64
static const float XV[8] = {0, 0, 0, 1, 1, 0, 1, 1}, YV[4] = {0, 1, 1, 0};
/* The same starting weights as torch_micro.py (w1 is 2x2 in x@W layout). */
static const float W1[4] = {0.5f, -0.4f, 0.3f, 0.8f}, W2[2] = {0.6f, -0.5f};

static int fail(const char *what) {
    fprintf(stderr, "bench_xor_steps: %s: %s\n", what, px_last_error());
    return 1;
}

static int graph_path(long steps, int reps, double *t, float *final_loss) {
    float b1v[2] = {0}, b2v[1] = {0};
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(4, 2), "x");
    px_node *y = px_placeholder(g, PX_F32, PX_SHAPE(4, 1), "y");
    px_tensor *tw1 = px_tensor_from_array(PX_SHAPE(2, 2), W1, 4);
    px_tensor *tb1 = px_tensor_from_array(PX_SHAPE(1, 2), b1v, 2);
    px_tensor *tw2 = px_tensor_from_array(PX_SHAPE(2, 1), W2, 2);
    px_tensor *tb2 = px_tensor_from_array(PX_SHAPE(1, 1), b2v, 1);
    px_node *w1 = px_variable(g, tw1, "w1"), *b1 = px_variable(g, tb1, "b1");
    px_node *w2 = px_variable(g, tw2, "w2"), *b2 = px_variable(g, tb2, "b2");
    px_node *h = px_sigmoid(px_add(px_matmul(x, w1), b1));
    px_node *out = px_sigmoid(px_add(px_matmul(h, w2), b2));
    px_node *loss = px_mean_all(px_square(px_sub(out, y)));
    px_session *s = loss ? px_session_new(g, &loss, 1, &(px_session_options){.loss = loss}) : NULL;
    if (!s) return fail("graph");
    px_tensor *tx = px_tensor_from_array(PX_SHAPE(4, 2), XV, 8);
    px_tensor *ty = px_tensor_from_array(PX_SHAPE(4, 1), YV, 4);
    px_feed feeds[2] = {{x, tx}, {y, ty}};
    int64_t n_params = 0, n_train = 0;
    float *params = px_graph_params(g, &n_params, &n_train);
    const float lr = 0.5f;
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        double t0 = now();
        for (long i = 0; i < steps; i++) {
            if (px_session_run(s, feeds, 2, NULL) != PX_OK) return fail("session run");
            const float *grads = px_session_param_grads(s, NULL);
            for (int64_t p = 0; p < n_train; p++) params[p] -= lr * grads[p];
        }
        if (r >= 0) t[r] = (now() - t0) / (double)steps;
    }
    *final_loss = px_tensor_f32(px_session_fetch(s, 0))[0];
    px_session_free(s);
    px_graph_free(g);
    px_tensor_free(tw1), px_tensor_free(tb1), px_tensor_free(tw2), px_tensor_free(tb2);
    px_tensor_free(tx), px_tensor_free(ty);
    return 0;
}

static int fit_path(long steps, int reps, double *t, float *final_loss) {
    px_tensor *tx = px_tensor_from_array(PX_SHAPE(4, 2), XV, 8);
    px_tensor *ty = px_tensor_from_array(PX_SHAPE(4, 1), YV, 4);
    px_set_random_seed(7);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(2), "x"), px_dense(2, PX_SIGMOID),
                                               px_dense(1, PX_SIGMOID), NULL});
    if (!m || px_model_compile(m, &(px_compile_options){
                                      .loss = PX_MEAN_SQUARED_ERROR,
                                      .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 0.5f})}) != PX_OK)
        return fail("model");
    px_arrays data = {.x = &tx, .n_x = 1, .y = &ty, .n_y = 1};
    int done = 0;
    for (int r = -1; r < reps; r++) {
        double t0 = now();
        if (px_model_fit_arrays(m, &data, &(px_fit_options){.epochs = done + (int)steps, .initial_epoch = done,
                                                             .batch_size = 4, .no_shuffle = true,
                                                             .verbose = PX_VERBOSE_SILENT}) != PX_OK)
            return fail("fit");
        done += (int)steps;
        if (r >= 0) t[r] = (now() - t0) / (double)steps;
    }
    int n = 0;
    const double *l = px_history_get(px_model_history(m), "loss", &n);
    *final_loss = l && n > 0 ? (float)l[n - 1] : -1.0f;
    px_model_free(m);
    px_tensor_free(tx), px_tensor_free(ty);
    return 0;
}

static void report(const char *name, double *t, int reps, float loss) {
    qsort(t, (size_t)reps, sizeof *t, by_value);
    double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    printf("%s %.4f %.4f %.4f loss %.5f\n", name, med * 1e6, t[0] * 1e6, t[reps - 1] * 1e6, loss);
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv, "usage: bench_xor_steps [--steps N] [--reps R] [--threads T]\n")) return 0;
    long steps = 1000;
    int reps = 7, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--steps")) steps = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else return fprintf(stderr, "bench_xor_steps: unknown option %s\n", argv[i]), 2;
    }
    if (steps < 1 || reps < 1 || reps > MAX_REPS) return fprintf(stderr, "bench_xor_steps: bad --steps/--reps\n"), 2;
    if (threads > 0) px_set_num_threads(threads);
    printf("plexus xor 2-2-1 batch 4, blas %s (%s), threads %d, %ld steps x %d reps\n", px_blas_name(),
           px_blas_kernel(), px_num_threads(), steps, reps);
    double t[MAX_REPS];
    float loss = 0;
    if (graph_path(steps, reps, t, &loss)) return 1;
    report("graph_us_per_step", t, reps, loss);
    if (fit_path(steps, reps, t, &loss)) return 1;
    report("fit_us_per_step", t, reps, loss);
    return 0;
}
