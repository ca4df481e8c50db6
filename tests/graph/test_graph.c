/* Graphs, sessions, eager mode and reverse-mode autodiff, on the course's examples. */
#include <string.h>

#include "gradcheck.h"
#include "px_test.h"

static void test_session_adds_constants(void) {
    px_graph *g = px_graph_new();
    px_node *a = px_constant_scalar(g, 3.0f), *b = px_constant_scalar(g, 4.0f);
    px_node *total = px_add(a, b);
    px_tensor *out = NULL;
    CHECK_OK(px_run(g, &total, 1, NULL, 0, &out));
    CHECK_NEAR(px_tensor_f32(out)[0], 7.0, 0);
    px_tensor_free(out);
    /* several fetches at once */
    px_node *fetches[3] = {a, b, total};
    px_tensor *outs[3] = {0};
    CHECK_OK(px_run(g, fetches, 3, NULL, 0, outs));
    CHECK_NEAR(px_tensor_f32(outs[0])[0], 3.0, 0);
    CHECK_NEAR(px_tensor_f32(outs[1])[0], 4.0, 0);
    CHECK_NEAR(px_tensor_f32(outs[2])[0], 7.0, 0);
    for (int i = 0; i < 3; i++) px_tensor_free(outs[i]);
    px_graph_free(g);
}

static void test_placeholders_fed_at_run_time(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 2), "x");
    px_node *y = px_scale(px_add_scalar(x, 1.0f), 2.0f);
    CHECK(px_node_shape(y).dim[0] == PX_UNKNOWN && px_node_shape(y).dim[1] == 2);
    px_session *s = px_session_new(g, &y, 1, NULL);
    CHECK_NOT_NULL(s);
    float v[6] = {1, 2, 3, 4, 5, 6};
    for (int rows = 3; rows >= 1; rows--) {
        px_tensor *t = px_tensor_from_array(PX_SHAPE(rows, 2), v, rows * 2);
        px_feed f = {x, t};
        CHECK_OK(px_session_run(s, &f, 1, NULL));
        const px_tensor *o = px_session_fetch(s, 0);
        CHECK(o->shape[0] == rows);
        CHECK_NEAR(px_tensor_f32(o)[2 * rows - 1], 2.0 * (v[2 * rows - 1] + 1), 0);
        px_tensor_free(t);
    }
    /* an unfed placeholder and a wrongly shaped feed are errors */
    CHECK(px_session_run(s, NULL, 0, NULL) != PX_OK);
    CHECK_ERROR_HAS("'x' was not fed");
    px_tensor *bad = px_tensor_zeros(PX_SHAPE(2, 3));
    CHECK(px_session_run(s, &(px_feed){x, bad}, 1, NULL) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("expects shape (None, 2), got (2, 3)");
    px_tensor_free(bad);
    px_session_free(s);
    px_graph_free(g);
}

/* The course's worked example: h = w11*x + w12, o = w21*h + w22, E = (y - o)^2. */
static void test_backpropagation_by_hand(void) {
    px_graph *g = px_graph_new();
    px_tensor *t;
    px_node *w[4];
    const float init[4] = {1, 2, 3, 4};
    const char *names[4] = {"w11", "w12", "w21", "w22"};
    for (int i = 0; i < 4; i++) {
        t = px_tensor_scalar(init[i]);
        w[i] = px_variable(g, t, names[i]);
        px_tensor_free(t);
    }
    px_node *x = px_constant_scalar(g, 2.0f), *y = px_constant_scalar(g, 5.0f);
    px_node *h = px_add(px_mul(w[0], x), w[1]);
    px_node *o = px_add(px_mul(w[2], h), w[3]);
    px_node *e = px_square(px_sub(y, o));
    px_node *fetch[3] = {h, o, e};
    px_session *s = px_session_new(g, fetch, 3, &(px_session_options){.loss = e});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK_NEAR(px_tensor_f32(px_session_fetch(s, 0))[0], 4, 0);
    CHECK_NEAR(px_tensor_f32(px_session_fetch(s, 1))[0], 16, 0);
    CHECK_NEAR(px_tensor_f32(px_session_fetch(s, 2))[0], 121, 0);
    const double want[4] = {132, 66, 88, 22};
    for (int i = 0; i < 4; i++) CHECK_NEAR(px_tensor_f32(px_session_gradient(s, w[i]))[0], want[i], 0);
    /* one step of gradient descent with learning rate 0.01, on the contiguous block */
    int64_t n, nt;
    float *p = px_graph_params(g, &n, &nt);
    const float *gr = px_session_param_grads(s, NULL);
    CHECK(n == 4 && nt == 4);
    for (int64_t i = 0; i < nt; i++) p[i] -= 0.01f * gr[i];
    const double after[4] = {-0.32, 1.34, 2.12, 3.78};
    for (int i = 0; i < 4; i++) CHECK_NEAR(px_tensor_f32(px_node_value(w[i]))[0], after[i], 1e-6);
    px_session_free(s);
    px_graph_free(g);
}

static void test_eager_mode_and_tape(void) {
    px_graph *g = px_graph_new_eager();
    px_tensor *t = px_tensor_scalar(3.0f);
    px_node *a = px_variable(g, t, "a");
    px_tensor_free(t);
    px_node *b = px_constant_scalar(g, 4.0f);
    px_node *total = px_add(a, b);
    CHECK_NEAR(px_tensor_f32(px_node_value(total))[0], 7.0, 0); /* computed at once */
    px_node *loss = px_mul(total, a);                          /* (a + 4) a */
    px_tensor *grad = NULL;
    CHECK_OK(px_eager_gradients(g, loss, &a, 1, &grad));
    CHECK_NEAR(px_tensor_f32(grad)[0], 2 * 3.0 + 4.0, 1e-6);
    px_tensor_free(grad);
    px_eager_clear_tape(g);
    CHECK(px_graph_node_count(g) == 2);
    px_graph_free(g);
}

/* eager placeholders with a None batch axis take the fed value's shape */
static void test_eager_placeholder_with_unknown_batch(void) {
    px_graph *g = px_graph_new_eager();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 2), "x");
    float v[6] = {1, 2, 3, 4, 5, 6};
    px_tensor *t = px_tensor_from_array(PX_SHAPE(3, 2), v, 6);
    CHECK_OK(px_eager_feed(x, t));
    px_tensor *wt = px_tensor_ones(PX_SHAPE(2, 1));
    px_node *w = px_variable(g, wt, "w");
    px_node *y = px_matmul(px_scale(x, 2.0f), w);
    CHECK_NOT_NULL(y);
    if (y) {
        CHECK(px_node_value(y)->shape[0] == 3);
        CHECK_NEAR(px_tensor_f32(px_node_value(y))[2], 22, 0);
        px_tensor *grad = NULL;
        CHECK_OK(px_eager_gradients(g, px_sum_all(y), &w, 1, &grad));
        CHECK(grad && px_tensor_f32(grad)[0] == 18 && px_tensor_f32(grad)[1] == 24);
        px_tensor_free(grad);
    }
    px_tensor_free(t);
    px_tensor_free(wt);
    px_graph_free(g);
}

static void test_matmul_shape_error_names_shapes(void) {
    px_graph *g = px_graph_new();
    px_node *a = px_placeholder(g, PX_F32, PX_SHAPE(32, 784), "x");
    px_node *b = px_placeholder(g, PX_F32, PX_SHAPE(300, 100), "w");
    CHECK(px_matmul(a, b) == NULL);
    CHECK(px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("matmul: cannot multiply (32, 784) by (300, 100)");
    /* NULL propagates and keeps the first message */
    CHECK(px_relu(px_matmul(a, b)) == NULL);
    CHECK_ERROR_HAS("matmul");
    px_graph_free(g);
}

static px_node *build_binary(px_node *const *v, void *ctx) {
    switch (*(int *)ctx) {
    case 0: return px_add(v[0], v[1]);
    case 1: return px_sub(v[0], v[1]);
    case 2: return px_mul(v[0], v[1]);
    default: return px_div(v[0], v[1]);
    }
}

static void test_binary_gradients_with_broadcasting(void) {
    const px_shape pairs[][2] = {
        {PX_SHAPE(3, 4), PX_SHAPE(3, 4)}, {PX_SHAPE(3, 4), PX_SHAPE(4)},     {PX_SHAPE(3, 1), PX_SHAPE(1, 4)},
        {PX_SHAPE(2, 3, 4), PX_SHAPE(3, 1)}, {PX_SCALAR, PX_SHAPE(2, 3)}, {PX_SHAPE(4, 1), PX_SCALAR},
    };
    for (int op = 0; op < 4; op++)
        for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
            px_tensor *in[2] = {px_gc_random(pairs[p][0], 0.5f, 2.0f, 1 + p),
                                px_gc_random(pairs[p][1], 0.5f, 2.0f, 7 + p)};
            char label[64];
            snprintf(label, sizeof label, "binary op %d pair %zu", op, p);
            CHECK(px_gradcheck(label, build_binary, &op, in, 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
            px_tensor_free(in[0]);
            px_tensor_free(in[1]);
        }
}

typedef struct { bool ta, tb; } mm_ctx;
static px_node *build_matmul(px_node *const *v, void *ctx) {
    mm_ctx *c = ctx;
    return px_matmul_t(v[0], v[1], c->ta, c->tb);
}

static void test_matmul_gradients(void) {
    for (int t = 0; t < 4; t++) {
        mm_ctx c = {t & 1, t >> 1};
        px_shape sa = c.ta ? PX_SHAPE(4, 3) : PX_SHAPE(3, 4), sb = c.tb ? PX_SHAPE(5, 4) : PX_SHAPE(4, 5);
        px_tensor *in[2] = {px_gc_random(sa, -1, 1, 3), px_gc_random(sb, -1, 1, 4)};
        CHECK(px_gradcheck("matmul", build_matmul, &c, in, 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
        px_tensor_free(in[0]);
        px_tensor_free(in[1]);
    }
    /* batched, and rank-3 by shared rank-2 weights */
    mm_ctx c = {false, false};
    px_tensor *in[2] = {px_gc_random(PX_SHAPE(2, 3, 4), -1, 1, 5), px_gc_random(PX_SHAPE(2, 4, 2), -1, 1, 6)};
    CHECK(px_gradcheck("batched matmul", build_matmul, &c, in, 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
    px_tensor_free(in[1]);
    in[1] = px_gc_random(PX_SHAPE(4, 2), -1, 1, 8);
    CHECK(px_gradcheck("matmul shared weights", build_matmul, &c, in, 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
    px_tensor_free(in[0]);
    px_tensor_free(in[1]);
}

static px_node *build_reduce(px_node *const *v, void *ctx) {
    switch (*(int *)ctx) {
    case 0: return px_sum(v[0], 1, false);
    case 1: return px_mean(v[0], 0, true);
    case 2: return px_max(v[0], -1, false);
    case 3: return px_sum_all(v[0]);
    case 4: return px_mean_all(v[0]);
    default: return px_max_all(v[0]);
    }
}

static void test_reduction_gradients(void) {
    for (int k = 0; k < 6; k++) {
        px_tensor *in = px_gc_random(PX_SHAPE(3, 4, 2), -1, 1, 11 + k);
        CHECK(px_gradcheck("reduce", build_reduce, &k, &in, 1, NULL, 1e-3, 1e-2, 1e-3) == 0);
        px_tensor_free(in);
    }
}

/* A node used twice by one op and again by another: y = x * x + x, dy/dx = 2x + 1,
 * the same on every run (gradient buffers are reused between runs). */
static void test_gradient_of_a_node_used_several_times(void) {
    px_graph *g = px_graph_new();
    float v[3] = {1, -2, 0.5f};
    px_tensor *t = px_tensor_from_array(PX_SHAPE(3), v, 3);
    px_node *x = px_variable(g, t, "x");
    px_node *y = px_sum_all(px_add(px_mul(x, x), x));
    px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = y});
    for (int run = 0; run < 3; run++) {
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        const px_tensor *gx = px_session_gradient(s, x);
        for (int i = 0; i < 3; i++) CHECK_NEAR(px_tensor_f32(gx)[i], 2 * v[i] + 1, 1e-6);
    }
    px_session_free(s);
    px_tensor_free(t);
    px_graph_free(g);
}

static void test_argmax(void) {
    px_graph *g = px_graph_new();
    float v[6] = {1, 5, 2, 9, 0, 3};
    px_tensor *t = px_tensor_from_array(PX_SHAPE(2, 3), v, 6);
    px_node *am = px_argmax(px_constant(g, t), 1);
    px_tensor *out = NULL;
    CHECK_OK(px_run(g, &am, 1, NULL, 0, &out));
    CHECK(out->dtype == PX_I32 && px_tensor_i32(out)[0] == 1 && px_tensor_i32(out)[1] == 0);
    px_tensor_free(out);
    px_tensor_free(t);
    px_graph_free(g);
}

/* A buffer whose lifetime has ended is reused: a chain of 50 elementwise ops
 * needs a handful of buffers, not 50. */
static void test_memory_plan_reuses_buffers(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(1000), "x");
    px_node *y = x;
    for (int i = 0; i < 50; i++) y = px_add_scalar(y, 1.0f);
    px_session *s = px_session_new(g, &y, 1, NULL);
    px_tensor *t = px_tensor_zeros(PX_SHAPE(1000));
    CHECK_OK(px_session_run(s, &(px_feed){x, t}, 1, NULL));
    CHECK_NEAR(px_tensor_f32(px_session_fetch(s, 0))[999], 50, 0);
    CHECK(px_session_arena_bytes(s) <= 3 * 4096);
    px_tensor_free(t);
    px_session_free(s);
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_session_adds_constants);
    RUN_TEST(test_placeholders_fed_at_run_time);
    RUN_TEST(test_backpropagation_by_hand);
    RUN_TEST(test_eager_mode_and_tape);
    RUN_TEST(test_eager_placeholder_with_unknown_batch);
    RUN_TEST(test_matmul_shape_error_names_shapes);
    RUN_TEST(test_binary_gradients_with_broadcasting);
    RUN_TEST(test_matmul_gradients);
    RUN_TEST(test_reduction_gradients);
    RUN_TEST(test_gradient_of_a_node_used_several_times);
    RUN_TEST(test_argmax);
    RUN_TEST(test_memory_plan_reuses_buffers);
    return px_test_finish();
}
