/* in_train_phase(x, alt): the branch a run passes on (x in training, alt in
 * inference) in sessions and eager mode, its gradient by finite differences, the
 * inference scope that makes a branch's ops run as in inference, and its shape checks. */
#include "gradcheck.h"
#include "graph/node.h"
#include "px_test.h"

/* y = in_train_phase(2 * a * b, a - b) */
static px_node *build(px_node *const *v, void *ctx) {
    (void)ctx;
    return px_in_train_phase(px_scale(px_mul(v[0], v[1]), 2.0f), px_sub(v[0], v[1]));
}

static void test_values_and_gradients(void) {
    float av[3] = {1.0f, -2.0f, 0.5f}, bv[3] = {3.0f, 0.25f, -1.0f};
    px_tensor *ta = px_tensor_from_array(PX_SHAPE(3), av, 3), *tb = px_tensor_from_array(PX_SHAPE(3), bv, 3);
    for (int training = 0; training < 2; training++) {
        px_graph *g = px_graph_new();
        px_node *v[2] = {px_variable(g, ta, "a"), px_variable(g, tb, "b")};
        px_node *y = build(v, NULL), *loss = px_sum_all(y);
        px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = loss, .training = training});
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        const px_tensor *out = px_session_fetch(s, 0);
        const px_tensor *ga = px_session_gradient(s, v[0]), *gb = px_session_gradient(s, v[1]);
        for (int i = 0; out && ga && gb && i < 3; i++) {
            /* training: 2ab, d/da = 2b, d/db = 2a; inference: a - b, d/da = 1, d/db = -1 */
            CHECK_NEAR(px_tensor_f32(out)[i], training ? 2 * av[i] * bv[i] : av[i] - bv[i], 1e-6);
            CHECK_NEAR(px_tensor_f32(ga)[i], training ? 2 * bv[i] : 1.0f, 1e-6);
            CHECK_NEAR(px_tensor_f32(gb)[i], training ? 2 * av[i] : -1.0f, 1e-6);
        }
        px_session_free(s);
        px_graph_free(g);

        /* eager: the branch chosen at the forward pass gets the gradient */
        px_graph *e = px_graph_new_eager();
        px_eager_set_training(e, training);
        px_node *ve[2] = {px_variable(e, ta, "a"), px_variable(e, tb, "b")};
        px_node *le = px_sum_all(build(ve, NULL));
        px_eager_set_training(e, !training); /* switched after the forward pass: no effect */
        px_tensor *ge[2] = {0};
        CHECK_OK(px_eager_gradients(e, le, ve, 2, ge));
        for (int i = 0; ge[0] && ge[1] && i < 3; i++) {
            CHECK_NEAR(px_tensor_f32(ge[0])[i], training ? 2 * bv[i] : 1.0f, 1e-6);
            CHECK_NEAR(px_tensor_f32(ge[1])[i], training ? 2 * av[i] : -1.0f, 1e-6);
        }
        px_tensor_free(ge[0]);
        px_tensor_free(ge[1]);
        px_graph_free(e);
    }
    px_tensor *ins[2] = {ta, tb};
    CHECK(px_gradcheck("in_train_phase", build, NULL, ins, 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
    px_tensor_free(ta);
    px_tensor_free(tb);
}

/* Ops made inside an inference scope run as in inference in a training run: a dropout
 * of rate 0.9 there passes its input unchanged, one outside drops. */
static void test_inference_scope(void) {
    px_graph *g = px_graph_new();
    px_tensor *ones = px_tensor_fill(PX_SHAPE(1000), 1.0f);
    px_node *x = px_variable(g, ones, "x");
    px_graph_inference_scope(g, true);
    px_node *kept = px_dropout(x, 0.9f);
    px_graph_inference_scope(g, false);
    px_node *dropped = px_dropout(x, 0.9f);
    px_node *fetch[2] = {kept, dropped};
    px_session *s = px_session_new(g, fetch, 2, &(px_session_options){.training = true});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(px_tensor_equal(px_session_fetch(s, 0), ones));
    int zeros = 0;
    for (int i = 0; px_session_fetch(s, 1) && i < 1000; i++) zeros += px_tensor_f32(px_session_fetch(s, 1))[i] == 0;
    CHECK(zeros > 800);
    px_session_free(s);
    px_graph_free(g);
    px_tensor_free(ones);
}

static void test_shape_checks(void) {
    px_graph *g = px_graph_new();
    px_node *a = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 3), "a");
    px_node *b = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 4), "b");
    CHECK(px_in_train_phase(a, b) == NULL);
    CHECK_ERROR_HAS("in_train_phase: the branches differ on axis 1 (3 and 4)");
    CHECK(px_in_train_phase(a, a) == a);
    CHECK(px_in_train_phase(a, NULL) == NULL);
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_values_and_gradients);
    RUN_TEST(test_inference_scope);
    RUN_TEST(test_shape_checks);
    return px_test_finish();
}
