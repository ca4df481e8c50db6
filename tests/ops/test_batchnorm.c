/* Tests of the batch_norm op and the BatchNormalization layer: PyTorch references
 * in both modes, gradient checks, and the moving statistics over training steps. */
#include <stdlib.h>
#include <string.h>

#include "data/rnn_fixtures.h"
#include "fixture_check.h"
#include "gradcheck.h"
#include "px_test.h"

enum { N = PX_RFIX_BN_N, C = PX_RFIX_BN_C };

static px_tensor *tens(px_shape s, const float *v) { return px_tensor_from_array(s, v, px_shape_size(s)); }

static void check_close(const char *what, const float *got, const float *want, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= 1e-4 * fabs(want[i]) + 1e-5)) {
            if (bad++ < 3) px_test_fail(__FILE__, __LINE__, "%s[%lld] = %.8g, expected %.8g", what, (long long)i, got[i], want[i]);
        }
    if (!bad) px_test_passed++;
}

typedef struct bn_graph {
    px_graph *g;
    px_node *x, *gamma, *beta, *mm, *mv, *y, *loss;
} bn_graph;

static bn_graph bn_make(bool eager, bool affine) {
    bn_graph b;
    b.g = eager ? px_graph_new_eager() : px_graph_new();
    px_tensor *t[6] = {tens(PX_SHAPE(N, C), px_rfix_bn_x), tens(PX_SHAPE(C), px_rfix_bn_gamma),
                       tens(PX_SHAPE(C), px_rfix_bn_beta), tens(PX_SHAPE(C), px_rfix_bn_mm),
                       tens(PX_SHAPE(C), px_rfix_bn_mv), tens(PX_SHAPE(N, C), px_rfix_bn_r)};
    b.x = px_variable(b.g, t[0], "x");
    b.gamma = px_variable(b.g, t[1], "gamma");
    b.beta = px_variable(b.g, t[2], "beta");
    b.mm = px_variable(b.g, t[3], "moving_mean");
    b.mv = px_variable(b.g, t[4], "moving_variance");
    px_variable_set_trainable(b.mm, false);
    px_variable_set_trainable(b.mv, false);
    if (eager) px_eager_set_training(b.g, true);
    b.y = px_batch_norm(b.x, b.mm, b.mv, affine ? b.gamma : NULL, affine ? b.beta : NULL, 0.99f, 1e-3f);
    b.loss = px_sum_all(px_mul(b.y, px_constant(b.g, t[5])));
    for (int i = 0; i < 6; i++) px_tensor_free(t[i]);
    return b;
}

static void test_pytorch_references(void) {
    for (int training = 1; training >= 0; training--) {
        bn_graph b = bn_make(false, true);
        px_node *wrt[3] = {b.x, b.gamma, b.beta};
        px_session *s = px_session_new(b.g, &b.y, 1,
                                       &(px_session_options){.loss = b.loss, .wrt = wrt, .n_wrt = 3, .training = training});
        CHECK_NOT_NULL(s);
        if (!s) continue;
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        const float *y = training ? px_rfix_bn_train_y : px_rfix_bn_infer_y;
        const float *want[3] = {training ? px_rfix_bn_train_dx : px_rfix_bn_infer_dx,
                                training ? px_rfix_bn_train_dgamma : px_rfix_bn_infer_dgamma,
                                training ? px_rfix_bn_train_dbeta : px_rfix_bn_infer_dbeta};
        check_close(training ? "train y" : "infer y", px_tensor_f32(px_session_fetch(s, 0)), y, N * C);
        for (int i = 0; i < 3; i++)
            check_close(training ? "train grad" : "infer grad", px_tensor_f32(px_session_gradient(s, wrt[i])), want[i],
                        i ? C : N * C);
        /* one training run moved the statistics by Keras's formula; inference left them */
        check_close("moving_mean", px_tensor_f32(px_node_value(b.mm)), training ? px_rfix_bn_mm_after : px_rfix_bn_mm, C);
        check_close("moving_variance", px_tensor_f32(px_node_value(b.mv)), training ? px_rfix_bn_mv_after : px_rfix_bn_mv, C);
        px_session_free(s);
        px_graph_free(b.g);
    }
}

/* Inference mode: px_gradcheck (sessions and eager in inference), including the
 * moving statistics, which are plain inputs there. */
typedef struct gc_ctx {
    bool affine;
} gc_ctx;

static px_node *build_bn(px_node *const *v, void *ctx) {
    gc_ctx *c = ctx;
    return px_batch_norm(v[0], v[1], v[2], c->affine ? v[3] : NULL, c->affine ? v[4] : NULL, 0.9f, 1e-3f);
}

static void test_gradcheck_inference(void) {
    for (int affine = 0; affine < 2; affine++) {
        gc_ctx c = {affine};
        px_tensor *in[5] = {px_gc_random(PX_SHAPE(3, 2, 4), -2, 2, 1), px_gc_random(PX_SHAPE(4), -1, 1, 2),
                            px_gc_random(PX_SHAPE(4), 0.5f, 2, 3), px_gc_random(PX_SHAPE(4), 0.5f, 1.5f, 4),
                            px_gc_random(PX_SHAPE(4), -1, 1, 5)};
        CHECK(px_gradcheck(affine ? "batch_norm inference" : "batch_norm inference, no gamma/beta", build_bn, &c, in,
                           affine ? 5 : 3, NULL, 1e-3, 1e-2, 1e-3) == 0);
        for (int i = 0; i < 5; i++) px_tensor_free(in[i]);
    }
}

/* Central differences of the training-mode loss (session f fetches it) against
 * the gradients session s computed; returns the mismatches, printing a few. */
static int fd_training(px_session *s, px_session *f, px_node *const *wrt, int nw) {
    int bad = 0;
        for (int i = 0; i < nw; i++) {
            px_tensor *ga = px_tensor_copy(px_session_gradient(s, wrt[i]));
            float *v = px_tensor_f32(px_node_value(wrt[i]));
            for (int64_t j = 0; j < px_tensor_size(ga); j++) {
                const float eps = 1e-2f, saved = v[j];
                v[j] = saved + eps;
                px_session_run(f, NULL, 0, NULL);
                double up = px_tensor_f32(px_session_fetch(f, 0))[0];
                v[j] = saved - eps;
                px_session_run(f, NULL, 0, NULL);
                double down = px_tensor_f32(px_session_fetch(f, 0))[0];
                v[j] = saved;
                double fd = (up - down) / (2.0 * eps), an = px_tensor_f32(ga)[j];
                if (fabs(fd - an) > 2e-3 + 1e-2 * fabs(fd) && bad++ < 5)
                    printf("  batch_norm training: input %d element %lld: analytic %.6g, finite difference %.6g\n", i,
                           (long long)j, an, fd);
            }
            px_tensor_free(ga);
        }
    return bad;
}

/* Training mode: finite differences through a training-mode session (px_gradcheck
 * runs in inference), and the eager tape in training mode against the session. */
static void test_gradcheck_training(void) {
    for (int affine = 0; affine < 2; affine++) {
        bn_graph b = bn_make(false, affine);
        px_node *wrt[3] = {b.x, b.gamma, b.beta};
        int nw = affine ? 3 : 1;
        px_session *s = px_session_new(b.g, &b.y, 1,
                                       &(px_session_options){.loss = b.loss, .wrt = wrt, .n_wrt = nw, .training = true});
        px_session *f = px_session_new(b.g, &b.loss, 1, &(px_session_options){.training = true});
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        int bad = fd_training(s, f, wrt, nw);
        CHECK(bad == 0);
        /* eager tape in training mode */
        bn_graph e = bn_make(true, affine);
        px_tensor *eg[3] = {0};
        CHECK_OK(px_eager_gradients(e.g, e.loss, (px_node *[]){e.x, e.gamma, e.beta}, nw, eg));
        for (int i = 0; i < nw; i++)
            if (eg[i]) CHECK(px_tensor_allclose(eg[i], px_session_gradient(s, wrt[i]), 1e-5f, 1e-6f));
        for (int i = 0; i < 3; i++) px_tensor_free(eg[i]);
        check_close("eager moving_mean", px_tensor_f32(px_node_value(e.mm)), px_rfix_bn_mm_after, C);
        px_graph_free(e.g);
        px_session_free(s);
        px_session_free(f);
        px_graph_free(b.g);
    }
}

/* Another axis than the last (Keras's axis=1 on (N, T, F), ...): PyTorch in
 * both modes (statistics over every other axis), with the moving statistics
 * after a training run; finite differences in both modes. */
static px_node *fix_bn(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    return px_batch_norm_axis(v[0], v[1], v[2], v[3], v[4], 0.9f, 1e-3f, f->p[0]);
}

typedef struct axis_ctx {
    int axis;
} axis_ctx;
static px_node *build_bn_axis(px_node *const *v, void *ctx) {
    return px_batch_norm_axis(v[0], v[1], v[2], v[3], v[4], 0.9f, 1e-3f, ((axis_ctx *)ctx)->axis);
}

static void test_other_axes(void) {
    int cases = 0;
    for (int i = 0; i < PX_FIXTURE_COUNT; i++) {
        const px_fixture *f = px_fixture_at(i);
        if (strcmp(f->op, "batch_norm") != 0) continue;
        cases++;
        CHECK(px_fix_check(f, (const char *[]){"x", "mean", "var", "gamma", "beta"}, 5, fix_bn, f->p[1]) == 0);
    }
    CHECK(cases == 5);
    for (int axis = -2; axis <= 1; axis += 3) {
        axis_ctx c = {axis};
        px_tensor *in[5] = {px_gc_random(PX_SHAPE(3, 4, 2), -2, 2, 11), px_gc_random(PX_SHAPE(4), -1, 1, 12),
                            px_gc_random(PX_SHAPE(4), 0.5f, 2, 13), px_gc_random(PX_SHAPE(4), 0.5f, 1.5f, 14),
                            px_gc_random(PX_SHAPE(4), -1, 1, 15)};
        CHECK(px_gradcheck("batch_norm axis 1, inference", build_bn_axis, &c, in, 5, NULL, 1e-3, 1e-2, 1e-3) == 0);
        /* training mode */
        px_graph *g = px_graph_new();
        px_node *v[5];
        for (int k = 0; k < 5; k++) v[k] = px_variable(g, in[k], NULL);
        px_variable_set_trainable(v[1], false);
        px_variable_set_trainable(v[2], false);
        px_node *y = build_bn_axis(v, &c);
        px_tensor *r = px_gc_random(PX_SHAPE(3, 4, 2), -1, 1, 16);
        px_node *loss = px_sum_all(px_mul(y, px_constant(g, r)));
        px_node *wrt[3] = {v[0], v[3], v[4]};
        px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = loss, .wrt = wrt, .n_wrt = 3, .training = true});
        px_session *f = px_session_new(g, &loss, 1, &(px_session_options){.training = true});
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        CHECK(fd_training(s, f, wrt, 3) == 0);
        px_session_free(s);
        px_session_free(f);
        px_graph_free(g);
        px_tensor_free(r);
        for (int k = 0; k < 5; k++) px_tensor_free(in[k]);
    }
}

static void test_errors(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 5), "x");
    px_tensor *t = px_tensor_ones(PX_SHAPE(4));
    px_node *m = px_constant(g, t);
    CHECK(px_batch_norm(x, m, m, NULL, NULL, 0.99f, 1e-3f) == NULL);
    CHECK_ERROR_HAS("batch_norm");
    CHECK_ERROR_HAS("(None, 5)");
    CHECK(px_batch_norm(x, m, m, NULL, NULL, 0.99f, 0.0f) == NULL);
    CHECK_ERROR_HAS("epsilon");
    CHECK(px_batch_norm_axis(x, m, m, NULL, NULL, 0.99f, 1e-3f, 2) == NULL);
    CHECK_ERROR_HAS("batch_norm: axis 2 is outside input (None, 5)");
    px_tensor_free(t);
    px_graph_free(g);
}

/* The layer: weights and flags, moving statistics after k full-batch training
 * steps (mean (1 - 0.99^k) * batch_mean from zeros, variance 0.99^k + (1 - 0.99^k)
 * * batch_var from ones), and inference through the moving statistics. */
static void test_layer_moving_statistics(void) {
    const int n = 16, c = 3, steps = 4;
    px_tensor *x = px_gc_random(PX_SHAPE(n, c), -1, 3, 11), *y = px_gc_random(PX_SHAPE(n, c), -1, 1, 12);
    px_layer *bn = px_batch_normalization_ex(&(px_batch_norm_options){.input_shape = PX_SHAPE(c)});
    px_model *m = px_sequential((px_layer *[]){bn, NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR,
                                                      .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 0.1f})}));
    CHECK(px_layer_weight_count(bn) == 4);
    CHECK(strcmp(px_layer_weight_name(bn, 0), "gamma") == 0 && strcmp(px_layer_weight_name(bn, 3), "moving_variance") == 0);
    CHECK(px_variable_trainable(px_layer_weight(bn, 0)) && !px_variable_trainable(px_layer_weight(bn, 2)));
    int64_t tr = 0, ntr = 0;
    CHECK(px_model_param_count(m, &tr, &ntr) == 4 * c);
    CHECK(tr == 2 * c && ntr == 2 * c);
    CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1},
                                 &(px_fit_options){.epochs = steps, .batch_size = n, .verbose = PX_VERBOSE_SILENT}));
    const float *xv = px_tensor_f32(x), *mm = px_tensor_f32(px_node_value(px_layer_weight(bn, 2))),
                *mv = px_tensor_f32(px_node_value(px_layer_weight(bn, 3)));
    double keep = pow(0.99, steps);
    for (int j = 0; j < c; j++) {
        double mean = 0, var = 0;
        for (int i = 0; i < n; i++) mean += xv[i * c + j] / n;
        for (int i = 0; i < n; i++) var += (xv[i * c + j] - mean) * (xv[i * c + j] - mean) / n;
        CHECK_NEAR(mm[j], (1 - keep) * mean, 1e-5);
        CHECK_NEAR(mv[j], keep + (1 - keep) * var, 1e-5);
    }
    px_tensor *p = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    CHECK_NOT_NULL(p);
    const float *gm = px_tensor_f32(px_node_value(px_layer_weight(bn, 0))),
                *bt = px_tensor_f32(px_node_value(px_layer_weight(bn, 1)));
    for (int i = 0; p && i < n * c; i++) {
        int j = i % c;
        CHECK_NEAR(px_tensor_f32(p)[i], (xv[i] - mm[j]) / sqrt(mv[j] + 1e-3) * gm[j] + bt[j], 1e-4);
    }
    /* freezing the layer keeps the moving statistics non-trainable */
    px_layer_set_trainable(bn, true);
    CHECK(!px_variable_trainable(px_layer_weight(bn, 3)));
    px_tensor_free(p);
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
    CHECK(px_batch_normalization_ex(&(px_batch_norm_options){.momentum = 1.5f}) == NULL);
    CHECK_ERROR_HAS("BatchNormalization");
}

/* channels-last 4-D input: statistics over batch, height and width */
static void test_layer_4d(void) {
    px_model *m = px_functional("bn4");
    px_node *in = px_model_input(m, PX_SHAPE(5, 5, 2), "in");
    px_layer *bn = px_batch_normalization_ex(&(px_batch_norm_options){.no_center = true, .no_scale = true});
    px_node *y = px_apply(bn, in);
    CHECK_NOT_NULL(y);
    CHECK(px_layer_weight_count(bn) == 2);
    px_model_free(m);

    /* axis 1 of (N, T, F): one statistic per step, weights (T,) */
    m = px_functional("bn_axis");
    in = px_model_input(m, PX_SHAPE(6, 3), "in");
    bn = px_batch_normalization_ex(&(px_batch_norm_options){.axis = 1});
    y = px_apply(bn, in);
    CHECK(y && px_shape_equal(px_node_shape(y), PX_SHAPE(PX_UNKNOWN, 6, 3)));
    CHECK(px_layer_weight_count(bn) == 4 && px_shape_equal(px_node_shape(px_layer_weight(bn, 0)), PX_SHAPE(6)));
    px_model_free(m);
    m = px_functional("bn_axis0");
    in = px_model_input(m, PX_SHAPE(6, 3), "in");
    CHECK(px_apply(px_batch_normalization_ex(&(px_batch_norm_options){.axis = 3}), in) == NULL);
    CHECK_ERROR_HAS("axis 3 is not a feature axis of input shape (None, 6, 3)");
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_pytorch_references);
    RUN_TEST(test_gradcheck_inference);
    RUN_TEST(test_gradcheck_training);
    RUN_TEST(test_other_axes);
    RUN_TEST(test_errors);
    RUN_TEST(test_layer_moving_statistics);
    RUN_TEST(test_layer_4d);
    return px_test_finish();
}
