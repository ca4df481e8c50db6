/* Elementwise math and scalar arithmetic: known values and gradient checks. */
#include "gradcheck.h"
#include "px_test.h"

enum { M_EXP, M_LOG, M_SQRT, M_SQUARE, M_POW, M_POW_ONE, M_ABS, M_NEG, M_CLIP, M_ADD_SCALAR, M_SCALE, M_COUNT };

static const char *const names[M_COUNT] = {"exp", "log", "sqrt", "square", "pow", "pow(x, 1)",
                                           "abs", "neg", "clip", "add_scalar", "scale"};

static px_node *apply(int op, px_node *x) {
    switch (op) {
    case M_EXP: return px_exp(x);
    case M_LOG: return px_log(x);
    case M_SQRT: return px_sqrt(x);
    case M_SQUARE: return px_square(x);
    case M_POW: return px_pow(x, 2.5f);
    case M_POW_ONE: return px_pow(x, 1.0f);
    case M_ABS: return px_abs(x);
    case M_NEG: return px_neg(x);
    case M_CLIP: return px_clip(x, -0.5f, 0.75f);
    case M_ADD_SCALAR: return px_add_scalar(x, 1.5f);
    default: return px_scale(x, -3.0f);
    }
}

static double reference(int op, double x) {
    switch (op) {
    case M_EXP: return exp(x);
    case M_LOG: return log(x);
    case M_SQRT: return sqrt(x);
    case M_SQUARE: return x * x;
    case M_POW: return pow(x, 2.5);
    case M_POW_ONE: return x;
    case M_ABS: return fabs(x);
    case M_NEG: return -x;
    case M_CLIP: return x < -0.5 ? -0.5 : (x > 0.75 ? 0.75 : x);
    case M_ADD_SCALAR: return x + 1.5;
    default: return -3.0 * x;
    }
}

/* Runs op on the values in a graph session and compares with the double reference. */
static void check_values(int op, const float *v, int count) {
    px_graph *g = px_graph_new();
    px_tensor *t = px_tensor_from_array(PX_SHAPE(count), v, count);
    px_node *y = apply(op, px_constant(g, t));
    px_tensor *out = NULL;
    CHECK_NOT_NULL(y);
    CHECK_OK(px_run(g, &y, 1, NULL, 0, &out));
    if (out) {
        for (int i = 0; i < count; i++) {
            double want = reference(op, v[i]);
            if (fabs(px_tensor_f32(out)[i] - want) > 1e-6 + 1e-6 * fabs(want))
                px_test_fail(__FILE__, __LINE__, "%s(%g) = %.9g, expected %.9g", names[op], v[i],
                             px_tensor_f32(out)[i], want);
            else
                px_test_passed++;
        }
    }
    px_tensor_free(out);
    px_tensor_free(t);
    px_graph_free(g);
}

static void test_known_values(void) {
    const float general[] = {-2.5f, -1.0f, -0.25f, 0.0f, 0.5f, 1.0f, 3.0f};
    const float positive[] = {1e-3f, 0.25f, 1.0f, 2.0f, 9.0f, 100.0f};
    for (int op = 0; op < M_COUNT; op++) {
        if (op == M_LOG || op == M_SQRT || op == M_POW)
            check_values(op, positive, (int)(sizeof positive / sizeof *positive));
        else
            check_values(op, general, (int)(sizeof general / sizeof *general));
    }
    /* exact anchors */
    const float one[] = {1.0f};
    check_values(M_LOG, one, 1);
    const float four[] = {4.0f};
    check_values(M_SQRT, four, 1);
}

static px_node *build_math(px_node *const *v, void *ctx) { return apply(*(int *)ctx, v[0]); }

static void test_gradients(void) {
    for (int op = 0; op < M_COUNT; op++) {
        px_tensor *x;
        if (op == M_LOG || op == M_SQRT || op == M_POW) {
            x = px_gc_random(PX_SHAPE(3, 4), 0.5f, 2.0f, 10 + op);
        } else if (op == M_CLIP || op == M_ABS) {
            /* values near 0 (abs) or the bounds (clip) would straddle a kink */
            const float v[12] = {-1.5f, -0.9f, -0.3f, 0.2f, 0.6f, 1.1f, -2.0f, 0.35f, -0.15f, 1.6f, 0.45f, -0.7f};
            x = px_tensor_from_array(PX_SHAPE(3, 4), v, 12);
        } else {
            x = px_gc_random(PX_SHAPE(3, 4), -1.5f, 1.5f, 10 + op);
        }
        int ctx = op;
        CHECK(px_gradcheck(names[op], build_math, &ctx, &x, 1, NULL, 1e-3, 1e-2, 1e-3) == 0);
        px_tensor_free(x);
    }
}

/* pow(x, 1) at x = 0 must give slope 1 rather than 1 * 0^0 computed as NaN. */
static void test_pow_one_at_zero(void) {
    px_graph *g = px_graph_new();
    px_tensor *t = px_tensor_zeros(PX_SHAPE(2));
    px_node *x = px_variable(g, t, "x");
    px_node *loss = px_sum_all(px_pow(x, 1.0f));
    px_session *s = px_session_new(g, &loss, 1, &(px_session_options){.loss = loss});
    CHECK_NOT_NULL(s);
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    const px_tensor *gr = px_session_gradient(s, x);
    CHECK_NOT_NULL(gr);
    if (gr) CHECK_NEAR(px_tensor_f32(gr)[0], 1.0, 0);
    px_session_free(s);
    px_tensor_free(t);
    px_graph_free(g);
}

static void test_clip_rejects_reversed_bounds(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_constant_scalar(g, 1.0f);
    CHECK(px_clip(x, 2.0f, 1.0f) == NULL);
    CHECK(px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("clip");
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_known_values);
    RUN_TEST(test_gradients);
    RUN_TEST(test_pow_one_at_zero);
    RUN_TEST(test_clip_rejects_reversed_bounds);
    return px_test_finish();
}
