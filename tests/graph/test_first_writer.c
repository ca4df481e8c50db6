/* A CPU session's plan against eager mode, bit for bit: gradients stored by
 * their first writer instead of added to a zeroed buffer (PX_OPF_OVERWRITES,
 * PX_OPF_OVERWRITES_ON_CPU: no zeroing pass), after a first run has left the
 * previous step's values in every buffer, and elementwise ops written over
 * their dead input (PX_OPF_ELEMENTWISE), are the same bits as eager mode's,
 * whose tape adds every gradient into a fresh zeroed tensor and gives every
 * value its own. Covers conv2d on its three paths (row kernels, im2col + GEMM,
 * pointwise), as first writer and as a later writer, reshape, and ReLU in
 * place and not (its input still read through a reshape). */
#include <string.h>

#include "backend/cpu/conv_kernels.h"
#include "px_test.h"

enum { N_WRT = 7 };

/* x -> conv A (4x4/2, K = 64: the row kernels) -> relu = h (in place); h ->
 * conv B (4x4/2, K = 128: im2col) -> conv C (1x1: pointwise) = yc;
 * loss = sum(reshape(yc) . c) + 0.5 sum(h) + sum(relu(yc)), so h's gradient
 * has two writers (the later sum stores it, conv B adds to it), and the second
 * relu must not overwrite yc, which the reshape made after it still reads.
 * The same seeds give the same values in any graph. wrt: x, the three
 * kernels and the three biases. */
static px_node *build(px_graph *g, px_node **wrt) {
    px_rng rng = px_rng_seeded(7);
    const px_shape shapes[N_WRT] = {PX_SHAPE(3, 18, 18, 4), PX_SHAPE(4, 4, 4, 8),  PX_SHAPE(8),
                                    PX_SHAPE(4, 4, 8, 12),  PX_SHAPE(12),          PX_SHAPE(1, 1, 12, 5),
                                    PX_SHAPE(5)};
    static const char *names[N_WRT] = {"x", "ka", "ba", "kb", "bb", "kc", "bc"};
    for (int i = 0; i < N_WRT; i++) {
        px_tensor *t = px_tensor_random_uniform(shapes[i], -1, 1, &rng);
        wrt[i] = px_variable(g, t, names[i]);
        px_tensor_free(t);
    }
    px_tensor *tc = px_tensor_random_uniform(PX_SHAPE(3, 125), -1, 1, &rng);
    px_node *c = px_constant(g, tc);
    px_tensor_free(tc);
    px_node *h = px_relu(px_conv2d_bias(wrt[0], wrt[1], wrt[2], 2, 2, PX_PADDING_SAME, 1, 1));
    px_node *yb = px_conv2d_bias(h, wrt[3], wrt[4], 2, 2, PX_PADDING_SAME, 1, 1);
    px_node *yc = px_conv2d_bias(yb, wrt[5], wrt[6], 1, 1, PX_PADDING_VALID, 1, 1);
    px_node *r = px_relu(yc);
    px_node *flat = px_reshape(yc, PX_SHAPE(3, 125));
    return px_add(px_add(px_sum_all(px_mul(flat, c)), px_scale(px_sum_all(h), 0.5f)), px_sum_all(r));
}

static bool same_bits(const px_tensor *a, const px_tensor *b) {
    return a && b && px_tensor_size(a) == px_tensor_size(b) &&
           memcmp(px_tensor_f32(a), px_tensor_f32(b), (size_t)px_tensor_size(a) * sizeof(float)) == 0;
}

static void test_stored_gradients_match_eager(void) {
    px_graph *eg = px_graph_new_eager();
    px_node *ew[N_WRT];
    px_node *eloss = build(eg, ew);
    px_tensor *want[N_WRT] = {0};
    CHECK_OK(px_eager_gradients(eg, eloss, ew, N_WRT, want));

    px_graph *g = px_graph_new();
    px_node *w[N_WRT];
    px_node *loss = build(g, w);
    px_session *s = px_session_new(g, &loss, 1, &(px_session_options){.loss = loss});
    CHECK_NOT_NULL(s);
    /* the second run finds the first run's gradients in its buffers: a writer
     * that added to them instead of storing would double them */
    for (int run = 0; s && run < 2; run++) CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(s && same_bits(px_session_fetch(s, 0), px_node_value(eloss)));
    for (int i = 0; s && i < N_WRT; i++) {
        bool ok = same_bits(px_session_gradient(s, w[i]), want[i]);
        if (!ok) printf("  gradient of %s differs from eager mode's\n", px_node_name(w[i]));
        CHECK(ok);
    }
    px_session_free(s);
    for (int i = 0; i < N_WRT; i++) px_tensor_free(want[i]);
    px_graph_free(g);
    px_graph_free(eg);
}

int main(void) {
    /* the choice per shape, then each path forced for every convolution */
    for (int impl = 0; impl <= 2; impl++) {
        px_conv_set_impl(impl);
        RUN_TEST(test_stored_gradients_match_eager);
    }
    px_conv_set_impl(0);
    return px_test_finish();
}
