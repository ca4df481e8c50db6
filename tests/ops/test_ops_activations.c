/* Activations, softmax, log-softmax and maxout: values from the formulas in
 * double, stability at large inputs, gradient checks and shape errors. */
#include "gradcheck.h"
#include "px_test.h"

enum { A_SIGMOID, A_TANH, A_RELU, A_LEAKY, A_ELU, A_SELU, A_SWISH, A_SOFTPLUS, A_GELU, A_LINEAR,
       A_STEP, A_SIGN, A_COUNT };

static const char *const names[A_COUNT] = {"sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu",
                                           "swish", "softplus", "gelu", "linear", "step", "sign"};

static const double SELU_ALPHA = 1.6732632423543772, SELU_SCALE = 1.0507009873554805;

static px_node *apply(int op, px_node *x) {
    switch (op) {
    case A_SIGMOID: return px_sigmoid(x);
    case A_TANH: return px_tanh(x);
    case A_RELU: return px_relu(x);
    case A_LEAKY: return px_leaky_relu(x, 0.3f);
    case A_ELU: return px_elu(x, 0.7f);
    case A_SELU: return px_selu(x);
    case A_SWISH: return px_swish(x);
    case A_SOFTPLUS: return px_softplus(x);
    case A_GELU: return px_gelu(x);
    case A_LINEAR: return px_linear(x);
    case A_STEP: return px_step(x);
    default: return px_sign(x);
    }
}

static double sigmoid_ref(double x) { return 1.0 / (1.0 + exp(-x)); }

static double reference(int op, double x) {
    switch (op) {
    case A_SIGMOID: return sigmoid_ref(x);
    case A_TANH: return tanh(x);
    case A_RELU: return x > 0 ? x : 0;
    case A_LEAKY: return x > 0 ? x : 0.3 * x;
    case A_ELU: return x > 0 ? x : 0.7 * (exp(x) - 1);
    case A_SELU: return SELU_SCALE * (x > 0 ? x : SELU_ALPHA * (exp(x) - 1));
    case A_SWISH: return x * sigmoid_ref(x);
    case A_SOFTPLUS: return log1p(exp(x));
    case A_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case A_LINEAR: return x;
    case A_STEP: return x >= 0 ? 1 : 0;
    default: return x > 0 ? 1 : (x < 0 ? -1 : 0);
    }
}

/* op applied to values in a session; outputs a new tensor or NULL. */
static px_tensor *run_op(int op, const float *v, int count) {
    px_graph *g = px_graph_new();
    px_tensor *t = px_tensor_from_array(PX_SHAPE(count), v, count);
    px_node *y = apply(op, px_constant(g, t));
    px_tensor *out = NULL;
    CHECK_NOT_NULL(y);
    CHECK_OK(px_run(g, &y, 1, NULL, 0, &out));
    px_tensor_free(t);
    px_graph_free(g);
    return out;
}

static void test_values_follow_the_formulas(void) {
    const float v[] = {-6.0f, -2.0f, -1.0f, -0.3f, 0.0f, 0.4f, 1.0f, 2.5f, 7.0f};
    const int count = (int)(sizeof v / sizeof *v);
    for (int op = 0; op < A_COUNT; op++) {
        px_tensor *out = run_op(op, v, count);
        if (!out) continue;
        for (int i = 0; i < count; i++) {
            double want = reference(op, v[i]), got = px_tensor_f32(out)[i];
            if (fabs(got - want) > 2e-6 + 2e-6 * fabs(want))
                px_test_fail(__FILE__, __LINE__, "%s(%g) = %.9g, expected %.9g", names[op], v[i], got, want);
            else
                px_test_passed++;
        }
        px_tensor_free(out);
    }
}

static double value_of(int op, float x) {
    px_tensor *out = run_op(op, &x, 1);
    double r = out ? px_tensor_f32(out)[0] : NAN;
    px_tensor_free(out);
    return r;
}

static void test_anchor_values(void) {
    CHECK_NEAR(value_of(A_SIGMOID, 0.0f), 0.5, 0);
    CHECK_NEAR(value_of(A_TANH, 0.0f), 0.0, 0);
    CHECK_NEAR(value_of(A_GELU, 1.0f), 0.8413447460685429, 1e-6);
    CHECK_NEAR(value_of(A_GELU, -1.0f), -0.15865525393145707, 1e-6);
    CHECK_NEAR(value_of(A_SELU, -1.0f), SELU_SCALE * SELU_ALPHA * (exp(-1.0) - 1), 1e-6);
    CHECK_NEAR(value_of(A_SELU, 2.0f), 2 * SELU_SCALE, 1e-6);
    CHECK_NEAR(value_of(A_ELU, -1.0f), 0.7 * (exp(-1.0) - 1), 1e-6);
    CHECK_NEAR(value_of(A_LEAKY, -2.0f), -0.6, 1e-6);
    CHECK_NEAR(value_of(A_SOFTPLUS, 0.0f), log(2.0), 1e-7);
    CHECK_NEAR(value_of(A_STEP, 0.0f), 1.0, 0);
    CHECK_NEAR(value_of(A_STEP, -1e-30f), 0.0, 0);
    CHECK_NEAR(value_of(A_SIGN, 0.0f), 0.0, 0);
    CHECK_NEAR(value_of(A_SIGN, -3.0f), -1.0, 0);
    CHECK_NEAR(value_of(A_SIGN, 0.1f), 1.0, 0);
}

/* Large inputs saturate instead of overflowing to inf / inf. */
static void test_large_inputs_are_stable(void) {
    CHECK_NEAR(value_of(A_SIGMOID, 1000.0f), 1.0, 0);
    CHECK_NEAR(value_of(A_SIGMOID, -1000.0f), 0.0, 0);
    CHECK_NEAR(value_of(A_SOFTPLUS, 1000.0f), 1000.0, 0);
    CHECK_NEAR(value_of(A_SOFTPLUS, -1000.0f), 0.0, 0);
    CHECK_NEAR(value_of(A_SWISH, -1000.0f), 0.0, 0);
    CHECK_NEAR(value_of(A_SWISH, 1000.0f), 1000.0, 0);
    CHECK_NEAR(value_of(A_GELU, -1000.0f), 0.0, 0);
    CHECK_NEAR(value_of(A_TANH, -1000.0f), -1.0, 0);
    CHECK_NEAR(value_of(A_ELU, -1000.0f), -0.7, 1e-7);
    /* gradients at the extremes are finite too */
    const int ops[] = {A_SIGMOID, A_SOFTPLUS, A_SWISH, A_GELU, A_TANH, A_ELU, A_SELU};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        px_graph *g = px_graph_new();
        float v[2] = {-1000.0f, 1000.0f};
        px_tensor *t = px_tensor_from_array(PX_SHAPE(2), v, 2);
        px_node *x = px_variable(g, t, "x");
        px_node *loss = px_sum_all(apply(ops[k], x));
        px_session *s = px_session_new(g, &loss, 1, &(px_session_options){.loss = loss});
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        const px_tensor *gr = px_session_gradient(s, x);
        CHECK_NOT_NULL(gr);
        if (gr) {
            if (!isfinite(px_tensor_f32(gr)[0]) || !isfinite(px_tensor_f32(gr)[1]))
                px_test_fail(__FILE__, __LINE__, "%s: gradient at +-1000 is %g, %g", names[ops[k]],
                             px_tensor_f32(gr)[0], px_tensor_f32(gr)[1]);
            CHECK(isfinite(px_tensor_f32(px_session_fetch(s, 0))[0]));
        }
        px_session_free(s);
        px_tensor_free(t);
        px_graph_free(g);
    }
}

static px_node *build_activation(px_node *const *v, void *ctx) { return apply(*(int *)ctx, v[0]); }

static void test_activation_gradients(void) {
    for (int op = 0; op < A_COUNT; op++) {
        if (op == A_STEP || op == A_SIGN) continue; /* see test_step_and_sign_have_no_gradient */
        /* values kept at least 0.05 away from 0, where relu-like ops have a kink */
        const float v[15] = {-3.0f, -1.7f, -0.9f, -0.45f, -0.1f, 0.08f, 0.3f, 0.77f,
                             1.2f,  2.4f,  -0.6f, 0.55f, -2.2f, 1.9f, -0.25f};
        px_tensor *x = px_tensor_from_array(PX_SHAPE(3, 5), v, 15);
        int ctx = op;
        CHECK(px_gradcheck(names[op], build_activation, &ctx, &x, 1, NULL, 1e-3, 1e-2, 1e-3) == 0);
        px_tensor_free(x);
    }
}

/* step and sign are flat: a loss through them does not depend on the input, in
 * a session and on the eager tape; a loss that also uses x directly gets only
 * the direct gradient. */
static void test_step_and_sign_have_no_gradient(void) {
    for (int op = A_STEP; op <= A_SIGN; op++) {
        px_graph *g = px_graph_new();
        float v[4] = {-1.5f, -0.2f, 0.3f, 2.0f};
        px_tensor *t = px_tensor_from_array(PX_SHAPE(4), v, 4);
        px_node *x = px_variable(g, t, "x");
        px_node *loss = px_sum_all(apply(op, x));
        px_session *s = px_session_new(g, &loss, 1, &(px_session_options){.loss = loss, .wrt = &x, .n_wrt = 1});
        CHECK_NOT_NULL(s);
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        CHECK_NEAR(px_tensor_f32(px_session_fetch(s, 0))[0], op == A_STEP ? 2.0 : 0.0, 0);
        CHECK(px_session_gradient(s, x) == NULL);
        CHECK_ERROR_HAS("does not depend");
        px_session_free(s);

        px_node *loss2 = px_sum_all(px_add(apply(op, x), px_scale(x, 2.0f)));
        s = px_session_new(g, &loss2, 1, &(px_session_options){.loss = loss2, .wrt = &x, .n_wrt = 1});
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        const px_tensor *gr = px_session_gradient(s, x);
        CHECK_NOT_NULL(gr);
        for (int i = 0; gr && i < 4; i++) CHECK_NEAR(px_tensor_f32(gr)[i], 2.0, 0);
        px_session_free(s);
        px_graph_free(g);

        px_graph *e = px_graph_new_eager();
        px_node *xe = px_variable(e, t, "x");
        px_node *le = px_sum_all(apply(op, xe));
        px_tensor *ge = NULL;
        CHECK_OK(px_eager_gradients(e, le, &xe, 1, &ge));
        for (int i = 0; ge && i < 4; i++) CHECK_NEAR(px_tensor_f32(ge)[i], 0.0, 0);
        px_tensor_free(ge);
        px_graph_free(e);
        px_tensor_free(t);
    }
}

static void test_int_input_is_refused(void) {
    px_graph *g = px_graph_new();
    int32_t v[2] = {1, 2};
    px_tensor *t = px_tensor_from_int_array(PX_SHAPE(2), v, 2);
    CHECK(px_sigmoid(px_constant(g, t)) == NULL);
    CHECK_ERROR_HAS("sigmoid");
    px_tensor_free(t);
    px_graph_free(g);
}

/* ---- softmax, log_softmax ---- */

static void test_softmax_values(void) {
    px_graph *g = px_graph_new();
    float v[6] = {1, 2, 3, 1000, 1000, -1000};
    px_tensor *t = px_tensor_from_array(PX_SHAPE(2, 3), v, 6);
    px_node *x = px_constant(g, t);
    px_node *f[3] = {px_softmax(x, -1), px_log_softmax(x, 1), px_softmax(x, 0)};
    px_tensor *out[3] = {0};
    CHECK_OK(px_run(g, f, 3, NULL, 0, out));
    if (out[0] && out[1] && out[2]) {
        double z = exp(1.0) + exp(2.0) + exp(3.0);
        const float *sm = px_tensor_f32(out[0]), *ls = px_tensor_f32(out[1]), *s0 = px_tensor_f32(out[2]);
        for (int j = 0; j < 3; j++) {
            CHECK_NEAR(sm[j], exp(j + 1.0) / z, 1e-7);
            CHECK_NEAR(ls[j], (j + 1.0) - log(z), 1e-6);
        }
        /* logits of 1000 neither overflow nor lose the tie */
        CHECK_NEAR(sm[3], 0.5, 1e-7);
        CHECK_NEAR(sm[4], 0.5, 1e-7);
        CHECK_NEAR(sm[5], 0.0, 0);
        CHECK_NEAR(ls[3], -log(2.0), 1e-6);
        CHECK_NEAR(ls[5], -2000.0 - log(2.0), 1e-3);
        for (int i = 0; i < 6; i++) CHECK(isfinite(ls[i]) && isfinite(sm[i]));
        /* axis 0: columns (1, 1000), (2, 1000), (3, -1000) */
        CHECK_NEAR(s0[0], 0.0, 1e-30);
        CHECK_NEAR(s0[3], 1.0, 0);
        CHECK_NEAR(s0[2], 1.0, 0);
        CHECK_NEAR(s0[5], 0.0, 0);
    }
    for (int i = 0; i < 3; i++) px_tensor_free(out[i]);
    px_tensor_free(t);
    px_graph_free(g);
}

/* Above PX_PARALLEL_MIN elements the loops run on several threads; the rows
 * still sum to 1 and agree with the serial log-softmax. */
static void test_softmax_large_tensor(void) {
    px_tensor *t = px_gc_random(PX_SHAPE(300, 200), -5.0f, 5.0f, 55);
    px_graph *g = px_graph_new();
    px_node *x = px_constant(g, t);
    px_node *f[3] = {px_softmax(x, 1), px_log_softmax(x, 1), px_softmax(x, 0)};
    px_tensor *out[3] = {0};
    CHECK_OK(px_run(g, f, 3, NULL, 0, out));
    if (out[0] && out[1] && out[2]) {
        int bad = 0;
        for (int r = 0; r < 300; r++) {
            double s = 0;
            for (int c = 0; c < 200; c++) {
                s += px_tensor_f32(out[0])[r * 200 + c];
                if (fabs(log(px_tensor_f32(out[0])[r * 200 + c]) - px_tensor_f32(out[1])[r * 200 + c]) > 1e-4) bad++;
            }
            if (fabs(s - 1) > 1e-5) bad++;
        }
        for (int c = 0; c < 200; c++) {
            double s = 0;
            for (int r = 0; r < 300; r++) s += px_tensor_f32(out[2])[r * 200 + c];
            if (fabs(s - 1) > 1e-5) bad++;
        }
        CHECK(bad == 0);
    }
    for (int i = 0; i < 3; i++) px_tensor_free(out[i]);
    px_tensor_free(t);
    px_graph_free(g);
}

typedef struct {
    int kind; /* 0 softmax, 1 log_softmax, 2 maxout */
    int arg;  /* axis or pieces */
} sm_ctx;

static px_node *build_softmax(px_node *const *v, void *ctx) {
    sm_ctx *c = ctx;
    if (c->kind == 0) return px_softmax(v[0], c->arg);
    if (c->kind == 1) return px_log_softmax(v[0], c->arg);
    return px_maxout(v[0], c->arg);
}

static void test_softmax_gradients(void) {
    const int axes[] = {0, 1, 2, -1, -2};
    for (int kind = 0; kind < 2; kind++)
        for (size_t a = 0; a < sizeof axes / sizeof *axes; a++) {
            sm_ctx c = {kind, axes[a]};
            px_tensor *x = px_gc_random(PX_SHAPE(2, 3, 4), -2.0f, 2.0f, 40 + a);
            char label[64];
            snprintf(label, sizeof label, "%s axis %d", kind ? "log_softmax" : "softmax", axes[a]);
            CHECK(px_gradcheck(label, build_softmax, &c, &x, 1, NULL, 1e-3, 1e-2, 1e-3) == 0);
            px_tensor_free(x);
        }
    /* rank 1 */
    for (int kind = 0; kind < 2; kind++) {
        sm_ctx c = {kind, 0};
        px_tensor *x = px_gc_random(PX_SHAPE(5), -3.0f, 3.0f, 50);
        CHECK(px_gradcheck("softmax rank 1", build_softmax, &c, &x, 1, NULL, 1e-3, 1e-2, 1e-3) == 0);
        px_tensor_free(x);
    }
}

static void test_softmax_axis_out_of_range(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 3), "x");
    CHECK(px_softmax(x, 2) == NULL);
    CHECK(px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("softmax: axis 2");
    CHECK(px_log_softmax(x, -3) == NULL);
    CHECK_ERROR_HAS("log_softmax");
    px_graph_free(g);
}

/* ---- maxout ---- */

static void test_maxout_values_and_shape(void) {
    px_graph *g = px_graph_new();
    /* two rows of 6 = 2 units x 3 pieces */
    float v[12] = {1, 5, 2, -1, -3, -2, 0, 0, 7, 4, 9, 9};
    px_tensor *t = px_tensor_from_array(PX_SHAPE(2, 6), v, 12);
    px_node *y = px_maxout(px_constant(g, t), 3);
    CHECK_NOT_NULL(y);
    CHECK(px_node_shape(y).rank == 2 && px_node_shape(y).dim[1] == 2);
    px_tensor *out = NULL;
    CHECK_OK(px_run(g, &y, 1, NULL, 0, &out));
    const float want[4] = {5, -1, 7, 9};
    for (int i = 0; out && i < 4; i++) CHECK_NEAR(px_tensor_f32(out)[i], want[i], 0);
    px_tensor_free(out);
    /* unknown batch: the output keeps it */
    px_node *p = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 8), "p");
    px_node *m = px_maxout(p, 4);
    CHECK(m && px_node_shape(m).dim[0] == PX_UNKNOWN && px_node_shape(m).dim[1] == 2);
    px_tensor_free(t);
    px_graph_free(g);
}

static void test_maxout_errors(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(4, 10), "x");
    CHECK(px_maxout(x, 3) == NULL);
    CHECK(px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("maxout");
    CHECK_ERROR_HAS("(4, 10)");
    CHECK(px_maxout(x, 0) == NULL);
    CHECK(px_last_status() == PX_ERR_ARG);
    /* an unknown last axis is checked when the shape is known, at run time */
    px_node *u = px_placeholder(g, PX_F32, PX_SHAPE(2, PX_UNKNOWN), "u");
    px_node *m = px_maxout(u, 3);
    CHECK_NOT_NULL(m);
    px_session *s = px_session_new(g, &m, 1, NULL);
    px_tensor *bad = px_tensor_zeros(PX_SHAPE(2, 7));
    CHECK(px_session_run(s, &(px_feed){u, bad}, 1, NULL) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("(2, 7)");
    px_tensor *good = px_tensor_zeros(PX_SHAPE(2, 9));
    CHECK_OK(px_session_run(s, &(px_feed){u, good}, 1, NULL));
    CHECK(px_session_fetch(s, 0)->shape[1] == 3);
    px_tensor_free(bad);
    px_tensor_free(good);
    px_session_free(s);
    px_graph_free(g);
}

static void test_maxout_gradients(void) {
    const int pieces[] = {1, 2, 3};
    for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
        sm_ctx c = {2, pieces[k]};
        /* distinct values 0.3 apart, shuffled, so no group has a near-tie for the
         * finite differences to straddle */
        float d[12];
        for (int i = 0; i < 12; i++) d[i] = 0.3f * (float)i - 1.5f;
        px_rng r = px_rng_seeded(60 + k);
        for (int i = 11; i > 0; i--) {
            int j = (int)px_rng_below(&r, (uint32_t)i + 1);
            float tmp = d[i];
            d[i] = d[j];
            d[j] = tmp;
        }
        px_tensor *x = px_tensor_from_array(PX_SHAPE(2, 6), d, 12);
        CHECK(px_gradcheck("maxout", build_softmax, &c, &x, 1, NULL, 1e-3, 1e-2, 1e-3) == 0);
        px_tensor_free(x);
    }
}

int main(void) {
    RUN_TEST(test_values_follow_the_formulas);
    RUN_TEST(test_anchor_values);
    RUN_TEST(test_large_inputs_are_stable);
    RUN_TEST(test_activation_gradients);
    RUN_TEST(test_step_and_sign_have_no_gradient);
    RUN_TEST(test_int_input_is_refused);
    RUN_TEST(test_softmax_values);
    RUN_TEST(test_softmax_gradients);
    RUN_TEST(test_softmax_large_tensor);
    RUN_TEST(test_softmax_axis_out_of_range);
    RUN_TEST(test_maxout_values_and_shape);
    RUN_TEST(test_maxout_errors);
    RUN_TEST(test_maxout_gradients);
    return px_test_finish();
}
