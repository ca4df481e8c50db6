/* Lesson: backpropagation with the course's numbers (x = 2, y = 5, weights 1, 2, 3, 4);
 * the forward values, gradients and one SGD step all come from the library. */
#include <stdio.h>

#include <plexus/plexus.h>

static int fail(const char *what) {
    fprintf(stderr, "lesson_backprop: %s: %s\n", what, px_last_error());
    return 1;
}

static px_node *scalar_variable(px_graph *g, float v, const char *name) {
    px_tensor *t = px_tensor_scalar(v);
    px_node *n = t ? px_variable(g, t, name) : NULL;
    px_tensor_free(t);
    return n;
}

int main(void) {
    px_graph *g = px_graph_new();
    if (!g) return fail("making the graph");
    px_node *x = px_constant_scalar(g, 2.0f), *y = px_constant_scalar(g, 5.0f);
    px_node *w[4] = {scalar_variable(g, 1.0f, "w11"), scalar_variable(g, 2.0f, "w12"),
                     scalar_variable(g, 3.0f, "w21"), scalar_variable(g, 4.0f, "w22")};
    /* the network of the course: one hidden unit, one output unit, no activation */
    px_node *h = px_add(px_mul(w[0], x), w[1]);
    px_node *o = px_add(px_mul(w[2], h), w[3]);
    px_node *e = px_square(px_sub(o, y)); /* squared error E = (o - y)^2 */
    if (!e) return fail("building the network");
    px_node *fetches[3] = {h, o, e};
    px_session *s = px_session_new(g, fetches, 3, &(px_session_options){.loss = e});
    if (!s || px_session_run(s, NULL, 0, NULL) != PX_OK) return fail("running the forward and backward pass");
    printf("forward: h = %g, o = %g, E = %g\n", px_tensor_get_flat(px_session_fetch(s, 0), 0),
           px_tensor_get_flat(px_session_fetch(s, 1), 0), px_tensor_get_flat(px_session_fetch(s, 2), 0));

    /* The backward pass goes from E back to the output weights first, then
     * through h to the hidden weights: the chain rule, as the course draws it. */
    const int order[4] = {2, 3, 0, 1};
    printf("backward:");
    for (int k = 0; k < 4; k++) {
        const px_tensor *gr = px_session_gradient(s, w[order[k]]);
        if (!gr) return fail("reading a gradient");
        printf("%s dE/d%s = %g", k ? "," : "", px_node_name(w[order[k]]), px_tensor_get_flat(gr, 0));
    }
    printf("\n");

    /* One plain gradient-descent step, w -= 0.01 dE/dw, by the SGD optimizer
     * on the contiguous parameter block. */
    int64_t n = 0, n_trainable = 0, n_grads = 0;
    float *params = px_graph_params(g, &n, &n_trainable);
    const float *grads = px_session_param_grads(s, &n_grads);
    px_optimizer *sgd = px_sgd(&(px_optimizer_options){.learning_rate = 0.01f});
    if (!params || !grads || !sgd || px_optimizer_step(sgd, params, grads, n_trainable) != PX_OK)
        return fail("the SGD step");
    printf("after one step (learning rate 0.01):");
    for (int k = 0; k < 4; k++) {
        const px_node *v = w[order[k]];
        printf("%s %s = %.2f", k ? "," : "", px_node_name(v), params[px_variable_offset(v)]);
    }
    printf("\n");
    if (px_session_run(s, NULL, 0, NULL) != PX_OK) return fail("running again");
    printf("new forward: h = %.4g, o = %.4g, E = %.4g (was 121)\n", px_tensor_get_flat(px_session_fetch(s, 0), 0),
           px_tensor_get_flat(px_session_fetch(s, 1), 0), px_tensor_get_flat(px_session_fetch(s, 2), 0));
    px_optimizer_free(sgd);
    px_session_free(s);
    px_graph_free(g);
    return 0;
}
