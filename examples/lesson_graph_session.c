/* Lesson: tensors, a graph and a session — constants added in a graph, several
 * fetches in one run, placeholders fed at run time, and the same in eager mode. */
#include <stdio.h>

#include <plexus/plexus.h>

static int fail(const char *what) {
    fprintf(stderr, "lesson_graph_session: %s: %s\n", what, px_last_error());
    return 1;
}

static void print_vector(const char *label, const px_tensor *t) {
    printf("%s [", label);
    for (int64_t i = 0; i < px_tensor_size(t); i++) printf("%s%g", i ? ", " : "", px_tensor_get_flat(t, i));
    printf("]\n");
}

int main(void) {
    /* 1. Building a graph computes nothing: a, b and total are only nodes until a session runs them. */
    px_graph *g = px_graph_new();
    px_node *a = px_constant_scalar(g, 3.0f), *b = px_constant_scalar(g, 4.0f);
    px_node *total = px_add(a, b);
    px_node *product = px_mul(a, b);
    if (!total || !product) return fail("building a + b");
    px_tensor *out = NULL;
    if (px_run(g, &total, 1, NULL, 0, &out) != PX_OK) return fail("running a + b");
    printf("graph: a = 3, b = 4, total = a + b\n");
    printf("session: total = %g\n", px_tensor_get_flat(out, 0));
    px_tensor_free(out);

    /* 2. One run can fetch several tensors; shared parts are computed once. */
    px_node *fetches[4] = {a, b, total, product};
    px_tensor *outs[4] = {0};
    if (px_run(g, fetches, 4, NULL, 0, outs) != PX_OK) return fail("fetching several tensors");
    printf("fetched together: a = %g, b = %g, a + b = %g, a * b = %g\n", px_tensor_get_flat(outs[0], 0),
           px_tensor_get_flat(outs[1], 0), px_tensor_get_flat(outs[2], 0), px_tensor_get_flat(outs[3], 0));
    for (int i = 0; i < 4; i++) px_tensor_free(outs[i]);

    /* 3. A placeholder is a value given at run time; its length may stay unknown
     * (PX_UNKNOWN), so one compiled session serves vectors of any length. */
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN), "x");
    px_node *y = px_add_scalar(px_scale(x, 2.0f), 1.0f);
    if (!y) return fail("building x * 2 + 1");
    px_session *s = px_session_new(g, &y, 1, NULL);
    if (!s) return fail("compiling x * 2 + 1");
    float v1[3] = {1, 2, 3}, v2[2] = {10, 20};
    px_tensor *f1 = px_tensor_from_array(PX_SHAPE(3), v1, 3), *f2 = px_tensor_from_array(PX_SHAPE(2), v2, 2);
    if (!f1 || !f2) return fail("making the feeds");
    if (px_session_run(s, &(px_feed){x, f1}, 1, NULL) != PX_OK) return fail("running with x = [1, 2, 3]");
    print_vector("placeholder: x = [1, 2, 3] -> x * 2 + 1 =", px_session_fetch(s, 0));
    if (px_session_run(s, &(px_feed){x, f2}, 1, NULL) != PX_OK) return fail("running with x = [10, 20]");
    print_vector("placeholder: x = [10, 20] -> x * 2 + 1 =", px_session_fetch(s, 0));
    px_session_free(s);
    px_tensor_free(f1);
    px_tensor_free(f2);
    px_graph_free(g);

    /* 4. Eager mode: each op computes at once, and the graph records a tape that
     * gives gradients afterwards (as TensorFlow 2's GradientTape does). */
    px_graph *e = px_graph_new_eager();
    px_tensor *three = px_tensor_scalar(3.0f);
    if (!e || !three) return fail("making the eager graph");
    px_node *ea = px_variable(e, three, "a");
    px_tensor_free(three);
    px_node *eb = px_constant_scalar(e, 4.0f);
    px_node *esum = px_add(ea, eb);
    if (!esum) return fail("eager a + b");
    printf("eager: a + b = %g (computed at once)\n", px_tensor_get_flat(px_node_value(esum), 0));
    px_node *f = px_mul(px_mul(ea, ea), eb); /* f = a^2 b, so df/da = 2ab = 24 */
    px_tensor *grad = NULL;
    if (!f || px_eager_gradients(e, f, &ea, 1, &grad) != PX_OK) return fail("eager gradient");
    printf("eager: f = a * a * b = %g, df/da = %g (from the tape)\n", px_tensor_get_flat(px_node_value(f), 0),
           px_tensor_get_flat(grad, 0));
    px_tensor_free(grad);
    px_graph_free(e);
    return 0;
}
