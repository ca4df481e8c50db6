/* The optimizer step inside the backward pass (px_model_train_run): every
 * variable updated as soon as nothing later reads it, plain SGD folded into the
 * Dense weight-gradient product. Against the step after the run
 * (no_fused_update): bit-identical for Adam, AdamW and SGD with momentum; for
 * folded SGD within the rounding bound of docs/performance.md, checked against
 * the exact update computed in double and against finite differences. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "graph/session_internal.h"
#include "model/model_internal.h"
#include "px_test.h"

enum { ROWS = 96, IN = 12, CLASSES = 3 };

static float xs[ROWS * IN], ys[ROWS];

static void make_data(void) {
    uint32_t r = 12345;
    for (int i = 0; i < ROWS * IN; i++) {
        r = r * 1664525u + 1013904223u;
        xs[i] = (float)((r >> 8) & 0xffff) / 65536.0f * 2.0f - 1.0f;
    }
    for (int i = 0; i < ROWS; i++) ys[i] = (float)((xs[i * IN] + xs[i * IN + 1] > 0) + (xs[i * IN + 2] > 0.5f));
}

static px_dataset *data(void) {
    return px_dataset_new(px_tensor_from_array(PX_SHAPE(ROWS, IN), xs, ROWS * IN),
                          px_tensor_from_array(PX_SHAPE(ROWS, 1), ys, ROWS));
}

/* relu, tanh and softmax Dense layers, one kernel large enough to be updated
 * in chunks on all threads, and one read twice (a shared layer), whose update
 * cannot be folded */
static px_model *build(px_optimizer *opt) {
    px_set_random_seed(5);
    px_model *m = px_functional("fused");
    CHECK_NOT_NULL(m);
    px_node *x = px_model_input(m, PX_SHAPE(IN), "x");
    px_node *h = px_apply(px_dense(2048, PX_RELU), x); /* 2048 x 16 below: updated on all threads */
    h = px_apply(px_dense(16, PX_RELU), h);
    px_layer *shared = px_dense(16, PX_TANH);
    h = px_apply(shared, h);
    h = px_apply(shared, h);
    px_node *y = px_apply(px_dense(CLASSES, PX_SOFTMAX), h);
    CHECK_OK(px_model_set_outputs(m, &y, 1));
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = opt}));
    return m;
}

/* Trains two copies, fused and not, the same way; returns the largest
 * difference of their parameters (0: bit-identical) and of the losses. */
static double train_pair(px_optimizer_options o, px_optimizer *(*make)(const px_optimizer_options *),
                         double *max_abs) {
    px_model *m[2];
    double loss[2] = {0};
    px_dataset *d = data();
    for (int i = 0; i < 2; i++) {
        m[i] = build(make(&o));
        m[i]->no_fused_update = i == 1;
        px_set_random_seed(9);
        CHECK_OK(px_model_fit(m[i], d, &(px_fit_options){.epochs = 3, .batch_size = 16,
                                                            .verbose = PX_VERBOSE_SILENT}));
        int ne = 0;
        const double *l = px_history_get(px_model_history(m[i]), "loss", &ne);
        if (l && ne > 0) loss[i] = l[ne - 1];
    }
    int64_t n0, n1;
    float *p0 = px_graph_params(m[0]->g, &n0, NULL), *p1 = px_graph_params(m[1]->g, &n1, NULL);
    CHECK(n0 == n1 && n0 > 0);
    double diff = 0;
    *max_abs = 0;
    for (int64_t i = 0; p0 && p1 && i < n0; i++) {
        double dd = fabs((double)p0[i] - p1[i]);
        if (dd > diff) diff = dd;
        if (fabs(p1[i]) > *max_abs) *max_abs = fabs(p1[i]);
    }
    CHECK(px_optimizer_iterations(m[0]->opt) == px_optimizer_iterations(m[1]->opt));
    CHECK(px_optimizer_iterations(m[0]->opt) == 3 * ROWS / 16);
    printf("  losses %.9g %.9g, largest parameter difference %.3g\n", loss[0], loss[1], diff);
    px_model_free(m[0]);
    px_model_free(m[1]);
    px_dataset_free(d);
    return diff;
}

static void test_bit_identical_when_nothing_folds(void) {
    double mx;
    printf("adam\n");
    CHECK(train_pair((px_optimizer_options){.learning_rate = 0.01f}, px_adam, &mx) == 0);
    printf("adam amsgrad\n");
    CHECK(train_pair((px_optimizer_options){.learning_rate = 0.01f, .amsgrad = true}, px_adam, &mx) == 0);
    printf("adamw\n");
    CHECK(train_pair((px_optimizer_options){.learning_rate = 0.01f}, px_adamw, &mx) == 0);
    printf("sgd momentum\n");
    CHECK(train_pair((px_optimizer_options){.learning_rate = 0.05f, .momentum = 0.9f}, px_sgd, &mx) == 0);
    printf("sgd nesterov\n");
    CHECK(train_pair((px_optimizer_options){.learning_rate = 0.05f, .momentum = 0.9f, .nesterov = true}, px_sgd,
                     &mx) == 0);
    printf("sgd with weight decay (not folded)\n");
    CHECK(train_pair((px_optimizer_options){.learning_rate = 0.05f, .weight_decay = 0.01f}, px_sgd, &mx) == 0);
    printf("rmsprop (stepped after the run)\n");
    CHECK(train_pair((px_optimizer_options){.learning_rate = 0.01f}, px_rmsprop, &mx) == 0);
    printf("adam with clipnorm (stepped after the run)\n");
    CHECK(train_pair((px_optimizer_options){.learning_rate = 0.01f, .clipnorm = 0.5f}, px_adam, &mx) == 0);
}

/* Plain SGD: the Dense kernels read once are folded (the shared one is not);
 * 18 steps later the two runs differ only by rounding. */
static void test_folded_sgd_close_to_separate_step(void) {
    px_model *m = build(px_sgd(&(px_optimizer_options){.learning_rate = 0.1f}));
    px_session *s = px_model_train_session(m);
    CHECK_NOT_NULL(s);
    int folds = 0, vars = 0;
    for (int k = 0; s && k < s->n; k++) {
        folds += s->pn[k].folded;
        vars += s->pn[k].node->kind == PX_NODE_VARIABLE && s->pn[k].node->trainable;
    }
    CHECK(vars == 8);
    CHECK(folds == 3); /* the kernels read once; not the shared one, no bias */
    px_model_free(m);
    double mx, diff = train_pair((px_optimizer_options){.learning_rate = 0.1f}, px_sgd, &mx);
    CHECK(diff <= 1e-5 * mx);
}

/* One step of a linear Dense layer under MSE from known weights: the exact
 * update in double, and the folded one, which differs from it by the
 * product's rounding: |W1 - exact| <= 2^-24 |W0 - lr g| + (k + 2) 2^-24 lr
 * sum_r |x_r dz_r| (k = rows). The gradient it applied also matches central
 * finite differences of the loss. */
static void test_folded_sgd_step_exact_and_finite_differences(void) {
    enum { B = 32, K = IN, U = 4 };
    px_set_random_seed(3);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(K), "x"),
                                               px_dense_ex(U, &(px_dense_options){.no_bias = true}), NULL});
    CHECK_NOT_NULL(m);
    const float lr = 0.25f;
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR,
                                                       .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = lr})}));
    float yv[B * U];
    for (int i = 0; i < B * U; i++) yv[i] = (float)sin(0.37 * i);
    px_tensor *x = px_tensor_from_array(PX_SHAPE(B, K), xs, B * K), *y = px_tensor_from_array(PX_SHAPE(B, U), yv, B * U);
    px_dataset *d = px_dataset_new(x, y);
    int64_t n;
    float *w = px_graph_params(m->g, &n, NULL);
    CHECK(n == K * U);
    float w0[K * U];
    memcpy(w0, w, sizeof w0);
    /* the exact gradient: dz = 2 (x W0 - y) / (B U), g = x^T dz */
    double dz[B * U], g[K * U] = {0}, mag[K * U] = {0};
    for (int r = 0; r < B; r++)
        for (int u = 0; u < U; u++) {
            double z = 0;
            for (int k = 0; k < K; k++) z += (double)xs[r * K + k] * w0[k * U + u];
            dz[r * U + u] = 2.0 * (z - yv[r * U + u]) / (B * U);
        }
    for (int k = 0; k < K; k++)
        for (int u = 0; u < U; u++)
            for (int r = 0; r < B; r++) {
                g[k * U + u] += xs[r * K + k] * dz[r * U + u];
                mag[k * U + u] += fabs(xs[r * K + k] * dz[r * U + u]);
            }
    CHECK_OK(px_model_fit(m, d, &(px_fit_options){.epochs = 1, .batch_size = B, .verbose = PX_VERBOSE_SILENT}));
    px_session *s = px_model_train_session(m);
    int folds = 0;
    for (int k = 0; s && k < s->n; k++) folds += s->pn[k].folded;
    CHECK(folds == 1);
    w = px_graph_params(m->g, NULL, NULL);
    const double u24 = ldexp(1.0, -24);
    double worst = 0;
    for (int i = 0; i < K * U; i++) {
        double exact = w0[i] - lr * g[i];
        double bound = u24 * fabs(exact) + (K + 2) * u24 * lr * mag[i] + 1e-30;
        double e = fabs(w[i] - exact) / bound;
        if (e > worst) worst = e;
    }
    printf("folded step: worst error %.3g of the bound\n", worst);
    CHECK(worst <= 1.0);
    /* finite differences of the loss at W0, against the gradient the step applied */
    float w1[K * U];
    memcpy(w1, w, sizeof w1);
    for (int i = 0; i < K * U; i += 5) {
        const float h = 1e-2f;
        double lp = 0, lm = 0;
        px_logs logs = {0};
        memcpy(w, w0, sizeof w0);
        w[i] = w0[i] + h;
        CHECK_OK(px_model_evaluate(m, d, &(px_eval_options){.verbose = PX_VERBOSE_SILENT, .batch_size = B}, &logs));
        px_logs_get(&logs, "loss", &lp);
        w[i] = w0[i] - h;
        CHECK_OK(px_model_evaluate(m, d, &(px_eval_options){.verbose = PX_VERBOSE_SILENT, .batch_size = B}, &logs));
        px_logs_get(&logs, "loss", &lm);
        double fd = (lp - lm) / (2 * h), applied = (w0[i] - (double)w1[i]) / lr;
        CHECK(fabs(fd - applied) <= 1e-3 + 1e-2 * fabs(fd));
    }
    px_model_free(m);
    px_dataset_free(d);
}

/* fit builds the optimizer's state at its set-up (px_model_build_optimizer), as
 * Keras's fit builds its optimizer before the first step: at on_train_begin
 * Adam's slots exist, one float per trainable parameter, zero, at iteration 0
 * (before, the first step made them); the training is the same as before
 * (test_bit_identical_when_nothing_folds). */
static int slots_seen; /* 1: ready and zero; -1: missing or wrong */

static px_status check_slots(px_callback *cb, px_model *m, px_logs *logs) {
    (void)cb, (void)logs;
    int64_t trainable = 0;
    px_model_param_count(m, &trainable, NULL);
    slots_seen = px_optimizer_slot_count(m->opt) == 2 && px_optimizer_iterations(m->opt) == 0 ? 1 : -1;
    for (int i = 0; i < 2 && slots_seen == 1; i++) {
        int64_t n = -1;
        const float *s = px_optimizer_slot(m->opt, i, NULL, &n);
        if (!s || n != trainable) slots_seen = -1;
        for (int64_t j = 0; s && j < n && slots_seen == 1; j++)
            if (s[j] != 0.0f) slots_seen = -1;
    }
    return PX_OK;
}

static void test_optimizer_built_at_fit_start(void) {
    px_model *m = build(px_adam(&(px_optimizer_options){.learning_rate = 0.01f}));
    px_dataset *d = data();
    px_callback cb = {.name = "check_slots", .on_train_begin = check_slots};
    px_callback *cbs[1] = {&cb};
    slots_seen = 0;
    CHECK_OK(px_model_fit(
        m, d,
        &(px_fit_options){
            .epochs = 1, .batch_size = 16, .verbose = PX_VERBOSE_SILENT, .callbacks = cbs, .n_callbacks = 1}));
    CHECK(slots_seen == 1);
    CHECK(px_optimizer_iterations(m->opt) == ROWS / 16);
    px_model_free(m);
    px_dataset_free(d);
}

int main(void) {
    make_data();
    RUN_TEST(test_optimizer_built_at_fit_start);
    RUN_TEST(test_bit_identical_when_nothing_folds);
    RUN_TEST(test_folded_sgd_close_to_separate_step);
    RUN_TEST(test_folded_sgd_step_exact_and_finite_differences);
    return px_test_finish();
}
