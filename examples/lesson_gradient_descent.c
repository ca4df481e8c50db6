/* Lesson: linear regression by gradient descent from scratch — an MSE loss built
 * from graph ops, gradients from a session, updates written into px_graph_params. */
#include <stdio.h>
#include <stdlib.h>

#include <plexus/plexus.h>

enum { N = 100 };

static int fail(const char *what) {
    fprintf(stderr, "lesson_gradient_descent: %s: %s\n", what, px_last_error());
    return 1;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 300;
    const float lr = 0.1f;

    /* Synthetic data y = 3x + 2 plus small noise; the seeded generator makes
     * every run (and so the printed coefficients) the same. */
    px_rng rng = px_rng_seeded(42);
    float xv[N], yv[N];
    for (int i = 0; i < N; i++) {
        xv[i] = 2.0f * px_rng_uniform(&rng) - 1.0f;
        yv[i] = 3.0f * xv[i] + 2.0f + 0.1f * px_rng_normal(&rng);
    }

    px_graph *g = px_graph_new();
    px_tensor *xt = px_tensor_from_array(PX_SHAPE(N), xv, N), *yt = px_tensor_from_array(PX_SHAPE(N), yv, N);
    px_tensor *zero = px_tensor_scalar(0.0f);
    if (!g || !xt || !yt || !zero) return fail("making the data");
    px_node *x = px_constant(g, xt), *y = px_constant(g, yt);
    px_node *w = px_variable(g, zero, "w"), *b = px_variable(g, zero, "b");
    px_tensor_free(xt);
    px_tensor_free(yt);
    px_tensor_free(zero);
    /* prediction w x + b, loss = mean((prediction - y)^2) */
    px_node *pred = px_add(px_mul(x, w), b);
    px_node *loss = px_mean_all(px_square(px_sub(pred, y)));
    if (!loss) return fail("building the loss");
    px_session *s = px_session_new(g, &loss, 1, &(px_session_options){.loss = loss});
    if (!s) return fail("compiling the session");

    /* All variables live in one block, and the session's gradients are laid out
     * the same way, so one step is a loop p[i] -= lr * grad[i]. */
    int64_t n_params = 0, n_trainable = 0, n_grads = 0;
    float *params = px_graph_params(g, &n_params, &n_trainable);
    if (!params) return fail("getting the parameter block");
    int64_t ow = px_variable_offset(w), ob = px_variable_offset(b);
    printf("fitting y = w x + b to %d points of y = 3x + 2 + noise, learning rate %g\n", N, lr);
    for (int epoch = 1; epoch <= epochs; epoch++) {
        if (px_session_run(s, NULL, 0, NULL) != PX_OK) return fail("running the session");
        const float *grads = px_session_param_grads(s, &n_grads);
        if (!grads) return fail("reading the gradients");
        if (epoch == 1 || epoch % 50 == 0)
            printf("epoch %4d  loss %.6f  w %.4f  b %.4f\n", epoch, px_tensor_get_flat(px_session_fetch(s, 0), 0),
                   params[ow], params[ob]);
        for (int64_t i = 0; i < n_trainable; i++) params[i] -= lr * grads[i];
    }
    printf("learned w = %.4f, b = %.4f (true 3, 2)\n", params[ow], params[ob]);
    px_session_free(s);
    px_graph_free(g);
    return 0;
}
