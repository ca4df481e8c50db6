/* Fused losses (softmax / sparse softmax / sigmoid cross-entropy), dropout and
 * stop_gradient: known values, stability at logits of +-1000, gradient checks. */
#include <string.h>

#include "gradcheck.h"
#include "px_test.h"

/* Runs one fetch in a fresh session; a new tensor or NULL. */
static px_tensor *run1(px_graph *g, px_node *y) {
    px_tensor *out = NULL;
    CHECK_NOT_NULL(y);
    if (y) CHECK_OK(px_run(g, &y, 1, NULL, 0, &out));
    return out;
}

static void test_softmax_cross_entropy_values(void) {
    px_graph *g = px_graph_new();
    float lv[6] = {1, 2, 3, 1, 2, 3}, yv[6] = {0, 0, 1, 0.25f, 0.25f, 0.5f};
    px_tensor *lt = px_tensor_from_array(PX_SHAPE(2, 3), lv, 6), *yt = px_tensor_from_array(PX_SHAPE(2, 3), yv, 6);
    px_node *ce = px_softmax_cross_entropy(px_constant(g, lt), px_constant(g, yt));
    CHECK(ce && px_node_shape(ce).rank == 1 && px_node_shape(ce).dim[0] == 2);
    px_tensor *out = run1(g, ce);
    if (out) {
        double lse = log(exp(1.0) + exp(2.0) + exp(3.0));
        CHECK_NEAR(px_tensor_f32(out)[0], 0.40760596444438, 1e-6);
        CHECK_NEAR(px_tensor_f32(out)[1], 0.25 * (lse - 1) + 0.25 * (lse - 2) + 0.5 * (lse - 3), 1e-6);
    }
    px_tensor_free(out);
    px_tensor_free(lt);
    px_tensor_free(yt);
    px_graph_free(g);
}

static void test_sparse_softmax_cross_entropy_values(void) {
    px_graph *g = px_graph_new();
    float lv[6] = {1, 2, 3, 1, 2, 3};
    int32_t yv[2] = {2, 0};
    px_tensor *lt = px_tensor_from_array(PX_SHAPE(2, 3), lv, 6), *yt = px_tensor_from_int_array(PX_SHAPE(2), yv, 2);
    px_node *ce = px_sparse_softmax_cross_entropy(px_constant(g, lt), px_constant(g, yt));
    px_tensor *out = run1(g, ce);
    if (out) {
        double lse = log(exp(1.0) + exp(2.0) + exp(3.0));
        CHECK_NEAR(px_tensor_f32(out)[0], 0.40760596444438, 1e-6);
        CHECK_NEAR(px_tensor_f32(out)[1], lse - 1.0, 1e-6);
    }
    px_tensor_free(out);
    px_tensor_free(lt);
    px_tensor_free(yt);
    px_graph_free(g);
}

static double bce_ref(double z, double y) { return fmax(z, 0) - z * y + log1p(exp(-fabs(z))); }

static void test_sigmoid_cross_entropy_values(void) {
    px_graph *g = px_graph_new();
    float zv[5] = {0, 2, -1.5f, 0.3f, -4}, yv[5] = {1, 0.3f, 0, 1, 0.8f};
    px_tensor *zt = px_tensor_from_array(PX_SHAPE(5), zv, 5), *yt = px_tensor_from_array(PX_SHAPE(5), yv, 5);
    px_tensor *out = run1(g, px_sigmoid_cross_entropy(px_constant(g, zt), px_constant(g, yt)));
    CHECK_NEAR(out ? px_tensor_f32(out)[0] : NAN, log(2.0), 1e-7);
    for (int i = 0; out && i < 5; i++) CHECK_NEAR(px_tensor_f32(out)[i], bce_ref(zv[i], yv[i]), 1e-6);
    /* equals -y log(sigmoid z) - (1 - y) log(1 - sigmoid z) away from saturation */
    if (out) {
        double s = 1 / (1 + exp(-2.0));
        CHECK_NEAR(px_tensor_f32(out)[1], -0.3 * log(s) - 0.7 * log(1 - s), 1e-6);
    }
    px_tensor_free(out);
    px_tensor_free(zt);
    px_tensor_free(yt);
    px_graph_free(g);
}

/* Losses and their gradients at logits of +-1000 are finite. */
static void test_losses_are_stable_for_large_logits(void) {
    px_graph *g = px_graph_new();
    float lv[6] = {1000, -1000, 0, -1000, -1000, 1000}, yv[6] = {0, 1, 0, 1, 0, 0};
    int32_t sv[2] = {1, 0};
    px_tensor *lt = px_tensor_from_array(PX_SHAPE(2, 3), lv, 6), *yt = px_tensor_from_array(PX_SHAPE(2, 3), yv, 6),
              *st = px_tensor_from_int_array(PX_SHAPE(2), sv, 2);
    px_node *logits = px_variable(g, lt, "logits"), *labels = px_variable(g, yt, "labels");
    px_node *ce = px_softmax_cross_entropy(logits, labels);
    px_node *sce = px_sparse_softmax_cross_entropy(logits, px_constant(g, st));
    px_node *bce = px_sigmoid_cross_entropy(logits, labels);
    px_node *loss = px_add(px_add(px_sum_all(ce), px_sum_all(sce)), px_sum_all(bce));
    px_node *fetch[3] = {ce, sce, bce};
    px_session *s = px_session_new(g, fetch, 3, &(px_session_options){.loss = loss});
    CHECK_NOT_NULL(s);
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    const px_tensor *c = px_session_fetch(s, 0), *sc = px_session_fetch(s, 1), *b = px_session_fetch(s, 2);
    CHECK_NEAR(px_tensor_f32(c)[0], 2000.0, 1e-3);
    CHECK_NEAR(px_tensor_f32(c)[1], 2000.0, 1e-3);
    CHECK_NEAR(px_tensor_f32(sc)[0], 2000.0, 1e-3);
    CHECK_NEAR(px_tensor_f32(sc)[1], 2000.0, 1e-3);
    const double bwant[6] = {1000, 1000, log(2.0), 1000, 0, 1000};
    for (int i = 0; i < 6; i++) CHECK_NEAR(px_tensor_f32(b)[i], bwant[i], 1e-3);
    const px_tensor *gl = px_session_gradient(s, logits), *gy = px_session_gradient(s, labels);
    CHECK(gl && gy);
    for (int i = 0; gl && gy && i < 6; i++) CHECK(isfinite(px_tensor_f32(gl)[i]) && isfinite(px_tensor_f32(gy)[i]));
    /* d ce / d logits = softmax - labels: (1, 0, 0) - (0, 1, 0) for row 0, with
     * sparse label 1 the same again, plus sigmoid's (1 - 0) */
    if (gl) {
        CHECK_NEAR(px_tensor_f32(gl)[0], 1 + 1 + 1, 1e-6);
        CHECK_NEAR(px_tensor_f32(gl)[1], -1 - 1 + (0 - 1), 1e-6);
    }
    px_session_free(s);
    px_tensor_free(lt);
    px_tensor_free(yt);
    px_tensor_free(st);
    px_graph_free(g);
}

static px_node *build_loss(px_node *const *v, void *ctx) {
    switch (*(int *)ctx) {
    case 0: return px_softmax_cross_entropy(v[0], v[1]);
    case 1: return px_sparse_softmax_cross_entropy(v[0], v[1]);
    default: return px_sigmoid_cross_entropy(v[0], v[1]);
    }
}

static void test_loss_gradients(void) {
    /* dense labels: a probability row and arbitrary non-negative weights, both
     * inputs checked */
    int op = 0;
    px_tensor *in[2] = {px_gc_random(PX_SHAPE(4, 5), -3.0f, 3.0f, 70), px_gc_random(PX_SHAPE(4, 5), 0.0f, 1.0f, 71)};
    CHECK(px_gradcheck("softmax_cross_entropy", build_loss, &op, in, 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
    px_tensor_free(in[0]);
    px_tensor_free(in[1]);
    in[0] = px_gc_random(PX_SHAPE(2, 3, 4), -3.0f, 3.0f, 72);
    in[1] = px_gc_random(PX_SHAPE(2, 3, 4), 0.0f, 1.0f, 73);
    CHECK(px_gradcheck("softmax_cross_entropy rank 3", build_loss, &op, in, 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
    px_tensor_free(in[0]);
    px_tensor_free(in[1]);

    /* sparse: the int32 labels become a constant and are skipped */
    op = 1;
    int32_t lab[4] = {0, 4, 2, 2};
    in[0] = px_gc_random(PX_SHAPE(4, 5), -3.0f, 3.0f, 74);
    in[1] = px_tensor_from_int_array(PX_SHAPE(4), lab, 4);
    const bool skip[2] = {false, true};
    CHECK(px_gradcheck("sparse_softmax_cross_entropy", build_loss, &op, in, 2, skip, 1e-3, 1e-2, 1e-3) == 0);
    px_tensor_free(in[0]);
    px_tensor_free(in[1]);

    op = 2;
    in[0] = px_gc_random(PX_SHAPE(3, 4), -4.0f, 4.0f, 75);
    in[1] = px_gc_random(PX_SHAPE(3, 4), 0.0f, 1.0f, 76);
    CHECK(px_gradcheck("sigmoid_cross_entropy", build_loss, &op, in, 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
    px_tensor_free(in[0]);
    px_tensor_free(in[1]);
}

static void test_loss_shape_errors(void) {
    px_graph *g = px_graph_new();
    px_node *l = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 10), "logits");
    px_node *y = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 9), "y");
    px_node *iy = px_placeholder(g, PX_I32, PX_SHAPE(PX_UNKNOWN, 10), "iy");
    CHECK(px_softmax_cross_entropy(l, y) == NULL);
    CHECK(px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("softmax_cross_entropy: logits of shape (None, 10) and labels of shape (None, 9)");
    CHECK(px_sigmoid_cross_entropy(l, y) == NULL);
    CHECK_ERROR_HAS("sigmoid_cross_entropy");
    CHECK(px_sparse_softmax_cross_entropy(l, iy) == NULL);
    CHECK(px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("sparse_softmax_cross_entropy");
    /* float labels to the sparse loss, int labels to the dense one */
    px_node *fy = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN), "fy");
    CHECK(px_sparse_softmax_cross_entropy(l, fy) == NULL);
    CHECK(px_last_status() == PX_ERR_ARG);
    CHECK(px_softmax_cross_entropy(l, iy) == NULL);
    CHECK(px_last_status() == PX_ERR_ARG);
    /* an unknown batch is fine and stays unknown */
    px_node *ok = px_sparse_softmax_cross_entropy(l, px_placeholder(g, PX_I32, PX_SHAPE(PX_UNKNOWN), "lab"));
    CHECK(ok && px_node_shape(ok).rank == 1 && px_node_shape(ok).dim[0] == PX_UNKNOWN);
    px_graph_free(g);
}

/* Out-of-range labels: refused when known at build time, NaN (not a crash, not
 * a clamp) when fed at run time. */
static void test_sparse_labels_out_of_range(void) {
    px_graph *g = px_graph_new();
    float lv[6] = {1, 2, 3, 1, 2, 3};
    px_tensor *lt = px_tensor_from_array(PX_SHAPE(2, 3), lv, 6);
    px_node *logits = px_variable(g, lt, "logits");
    int32_t bad[2] = {1, 3};
    px_tensor *bt = px_tensor_from_int_array(PX_SHAPE(2), bad, 2);
    CHECK(px_sparse_softmax_cross_entropy(logits, px_constant(g, bt)) == NULL);
    CHECK(px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("label 3 at position 1 is out of range for 3 classes");

    px_node *lab = px_placeholder(g, PX_I32, PX_SHAPE(2), "labels");
    px_node *ce = px_sparse_softmax_cross_entropy(logits, lab);
    px_node *loss = px_sum_all(ce);
    px_session *s = px_session_new(g, &ce, 1, &(px_session_options){.loss = loss});
    CHECK_NOT_NULL(s);
    const int32_t cases[2][2] = {{1, 3}, {-1, 0}};
    for (int c = 0; c < 2; c++) {
        px_tensor *t = px_tensor_from_int_array(PX_SHAPE(2), cases[c], 2);
        CHECK_OK(px_session_run(s, &(px_feed){lab, t}, 1, NULL));
        const float *o = px_tensor_f32(px_session_fetch(s, 0));
        int badrow = c == 0 ? 1 : 0;
        CHECK(isnan(o[badrow]));
        CHECK(isfinite(o[1 - badrow]));
        const float *gr = px_tensor_f32(px_session_gradient(s, logits));
        CHECK(isnan(gr[badrow * 3]) && isfinite(gr[(1 - badrow) * 3]));
        px_tensor_free(t);
    }
    px_session_free(s);
    px_tensor_free(bt);
    px_graph_free(g);

    /* eager: every value is known, so the op is refused */
    px_graph *e = px_graph_new_eager();
    px_tensor *bt2 = px_tensor_from_int_array(PX_SHAPE(2), bad, 2);
    CHECK(px_sparse_softmax_cross_entropy(px_variable(e, lt, "l"), px_constant(e, bt2)) == NULL);
    CHECK_ERROR_HAS("out of range");
    px_tensor_free(bt2);
    px_tensor_free(lt);
    px_graph_free(e);
}

/* ---- dropout ---- */

static void test_dropout_inference_is_identity(void) {
    px_graph *g = px_graph_new();
    px_tensor *t = px_gc_random(PX_SHAPE(50, 20), -1.0f, 1.0f, 80);
    px_node *x = px_variable(g, t, "x");
    px_node *y = px_dropout(x, 0.5f);
    px_node *loss = px_sum_all(y);
    px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = loss});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(px_tensor_equal(px_session_fetch(s, 0), t));
    const px_tensor *gr = px_session_gradient(s, x);
    bool ones = gr != NULL;
    for (int64_t i = 0; ones && i < px_tensor_size(gr); i++) ones = px_tensor_f32(gr)[i] == 1.0f;
    CHECK(ones);
    px_session_free(s);
    /* rate 0 in training is the identity too */
    px_node *y0 = px_dropout(x, 0.0f);
    s = px_session_new(g, &y0, 1, &(px_session_options){.training = true});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(px_tensor_equal(px_session_fetch(s, 0), t));
    px_session_free(s);
    px_tensor_free(t);
    px_graph_free(g);
}

static void test_dropout_rate_must_be_in_range(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_constant_scalar(g, 1.0f);
    const float bad[3] = {1.0f, -0.1f, NAN};
    for (int i = 0; i < 3; i++) {
        CHECK(px_dropout(x, bad[i]) == NULL);
        CHECK(px_last_status() == PX_ERR_ARG);
        CHECK_ERROR_HAS("dropout: rate");
    }
    px_graph_free(g);
}

/* In training about 1 - rate of the values are kept, scaled by 1 / (1 - rate),
 * and the gradient is the same mask times the same scale: output / input. */
static void check_dropout_training(const px_tensor *x, const px_tensor *y, const px_tensor *grad, float rate) {
    int64_t n = px_tensor_size(x), kept = 0;
    int bad_value = 0, bad_grad = 0;
    const float scale = 1.0f / (1.0f - rate);
    for (int64_t i = 0; i < n; i++) {
        float xv = px_tensor_f32(x)[i], yv = px_tensor_f32(y)[i], gv = px_tensor_f32(grad)[i];
        if (yv != 0) {
            kept++;
            if (fabsf(yv - xv * scale) > 1e-6f * fabsf(yv)) bad_value++;
        }
        if (fabsf(gv - yv / xv) > 1e-5f * scale) bad_grad++;
    }
    double frac = (double)kept / (double)n;
    CHECK_NEAR(frac, 1.0 - rate, 0.02);
    CHECK(bad_value == 0);
    CHECK(bad_grad == 0);
}

static void test_dropout_training(void) {
    const float rate = 0.3f;
    /* inputs in [0.5, 1.5): never 0, so a zero output means dropped */
    px_tensor *t = px_gc_random(PX_SHAPE(100, 100), 0.5f, 1.5f, 81);
    px_graph *g = px_graph_new();
    px_graph_set_seed(g, 1234);
    px_node *x = px_variable(g, t, "x");
    px_node *y = px_dropout(x, rate);
    px_node *loss = px_sum_all(y);
    px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = loss});
    px_session_set_training(s, true);
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    px_tensor *first = px_tensor_copy(px_session_fetch(s, 0));
    check_dropout_training(t, px_session_fetch(s, 0), px_session_gradient(s, x), rate);
    /* the next run draws a fresh mask */
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(!px_tensor_equal(first, px_session_fetch(s, 0)));
    check_dropout_training(t, px_session_fetch(s, 0), px_session_gradient(s, x), rate);
    /* back to inference: identity */
    px_session_set_training(s, false);
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(px_tensor_equal(px_session_fetch(s, 0), t));
    px_session_free(s);
    px_graph_free(g);

    /* the same seed gives the same mask */
    g = px_graph_new();
    px_graph_set_seed(g, 1234);
    y = px_dropout(px_variable(g, t, "x"), rate);
    s = px_session_new(g, &y, 1, &(px_session_options){.training = true});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(px_tensor_equal(first, px_session_fetch(s, 0)));
    px_session_free(s);
    px_graph_free(g);
    px_tensor_free(first);

    /* eager: the mask is kept with the node until the gradient is taken, even
     * when training is switched off in between */
    g = px_graph_new_eager();
    px_graph_set_seed(g, 99);
    px_eager_set_training(g, true);
    x = px_variable(g, t, "x");
    y = px_dropout(x, rate);
    loss = px_sum_all(y);
    px_eager_set_training(g, false);
    px_tensor *ge = NULL;
    CHECK_OK(px_eager_gradients(g, loss, &x, 1, &ge));
    if (y && ge) check_dropout_training(t, px_node_value(y), ge, rate);
    px_tensor_free(ge);
    px_graph_free(g);
    px_tensor_free(t);
}

/* ---- stop_gradient ---- */

static void test_stop_gradient(void) {
    px_graph *g = px_graph_new();
    float v[3] = {1.5f, -2.0f, 0.5f};
    px_tensor *t = px_tensor_from_array(PX_SHAPE(3), v, 3);
    px_node *x = px_variable(g, t, "x");
    px_node *sg = px_stop_gradient(x);
    /* loss = sum(sg(x) * x): only the direct path counts, so d/dx = x (not 2x) */
    px_node *loss = px_sum_all(px_mul(sg, x));
    px_node *fetch[2] = {sg, loss};
    px_session *s = px_session_new(g, fetch, 2, &(px_session_options){.loss = loss});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(px_tensor_equal(px_session_fetch(s, 0), t));
    const px_tensor *gr = px_session_gradient(s, x);
    for (int i = 0; gr && i < 3; i++) CHECK_NEAR(px_tensor_f32(gr)[i], v[i], 0);
    px_session_free(s);
    /* through stop_gradient alone the loss does not depend on x */
    px_node *l2 = px_sum_all(px_square(sg));
    s = px_session_new(g, &l2, 1, &(px_session_options){.loss = l2, .wrt = &x, .n_wrt = 1});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(px_session_gradient(s, x) == NULL);
    px_session_free(s);
    px_graph_free(g);

    px_graph *e = px_graph_new_eager();
    px_node *xe = px_variable(e, t, "x");
    px_node *le = px_sum_all(px_mul(px_stop_gradient(xe), xe));
    px_tensor *ge = NULL;
    CHECK_OK(px_eager_gradients(e, le, &xe, 1, &ge));
    for (int i = 0; ge && i < 3; i++) CHECK_NEAR(px_tensor_f32(ge)[i], v[i], 0);
    px_tensor_free(ge);
    px_graph_free(e);
    px_tensor_free(t);
}

int main(void) {
    RUN_TEST(test_softmax_cross_entropy_values);
    RUN_TEST(test_sparse_softmax_cross_entropy_values);
    RUN_TEST(test_sigmoid_cross_entropy_values);
    RUN_TEST(test_losses_are_stable_for_large_logits);
    RUN_TEST(test_loss_gradients);
    RUN_TEST(test_loss_shape_errors);
    RUN_TEST(test_sparse_labels_out_of_range);
    RUN_TEST(test_dropout_inference_is_identity);
    RUN_TEST(test_dropout_rate_must_be_in_range);
    RUN_TEST(test_dropout_training);
    RUN_TEST(test_stop_gradient);
    return px_test_finish();
}
