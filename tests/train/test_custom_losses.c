/* User-defined losses and metrics (px_loss_register, px_metric_register): built from
 * graph ops, their gradients from the ops' backward passes checked by finite
 * differences, training through fit as the built-in loss of the same formula does,
 * their values in the logs, and model files that store them by name. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gradcheck.h"
#include "plexus/model_io.h"
#include "px_test.h"

/* log(cosh(pred - true)), per element: Keras's LogCosh, written by a user. */
static px_node *log_cosh(px_node *y_true, px_node *y_pred, void *user) {
    (void)user;
    px_node *d = px_sub(y_pred, y_true);
    return px_log(px_scale(px_add(px_exp(d), px_exp(px_neg(d))), 0.5f));
}

/* A focal-style binary loss with a weight read from `user`: -w (1 - p)^2 y log p - (1 - y) log(1 - p). */
static px_node *weighted_focal(px_node *y_true, px_node *y_pred, void *user) {
    float w = *(const float *)user;
    px_node *p = px_clip(y_pred, 1e-6f, 1 - 1e-6f);
    px_node *pos = px_mul(px_mul(y_true, px_square(px_add_scalar(px_neg(p), 1))), px_log(p));
    px_node *neg = px_mul(px_add_scalar(px_neg(y_true), 1), px_log(px_add_scalar(px_neg(p), 1)));
    return px_neg(px_add(px_scale(pos, w), neg));
}

/* The same formula as the built-in mean squared error. */
static px_node *my_mse(px_node *y_true, px_node *y_pred, void *user) {
    (void)user;
    return px_square(px_sub(y_pred, y_true));
}

/* A metric: the largest absolute error of each batch, averaged over the batches. */
static px_node *max_abs_error(px_node *y_true, px_node *y_pred, void *user) {
    (void)user;
    return px_max_all(px_abs(px_sub(y_pred, y_true)));
}

static float focal_weight = 2.5f;

typedef struct loss_case {
    px_loss_fn fn;
    void *user;
} loss_case;

static px_node *build_loss(px_node *const *vars, void *ctx) {
    const loss_case *c = ctx;
    return c->fn(vars[1], vars[0], c->user);
}

/* d(loss)/d(predictions) from autodiff against central differences, through the
 * registered loss as compile builds it (px_loss_node). */
static px_node *build_registered(px_node *const *vars, void *ctx) {
    return px_loss_node((px_loss){.kind = PX_LOSS_CUSTOM, .name = ctx}, vars[1], vars[0]);
}

static void test_gradients(void) {
    px_tensor *pred = px_gc_random(PX_SHAPE(6, 3), -1.5f, 1.5f, 11), *tgt = px_gc_random(PX_SHAPE(6, 3), -1, 1, 12);
    px_tensor *ins[2] = {pred, tgt};
    loss_case lc = {log_cosh, NULL};
    CHECK(px_gradcheck("log_cosh", build_loss, &lc, ins, 2, NULL, 1e-3, 1e-3, 1e-4) == 0);
    CHECK(px_gradcheck("registered log_cosh", build_registered, "log_cosh", ins, 2, NULL, 1e-3, 1e-3, 1e-4) == 0);
    px_tensor *prob = px_gc_random(PX_SHAPE(8, 1), 0.05f, 0.95f, 13), *lab = px_gc_random(PX_SHAPE(8, 1), 0, 1, 14);
    for (int i = 0; i < 8; i++) px_tensor_f32(lab)[i] = px_tensor_f32(lab)[i] > 0.5f;
    px_tensor *ins2[2] = {prob, lab};
    bool skip[2] = {false, true};
    loss_case fc = {weighted_focal, &focal_weight};
    CHECK(px_gradcheck("weighted_focal", build_loss, &fc, ins2, 2, skip, 1e-3, 1e-3, 1e-4) == 0);
    px_tensor_free(pred), px_tensor_free(tgt), px_tensor_free(prob), px_tensor_free(lab);
}

static px_model *regressor(void) {
    px_set_random_seed(21);
    return px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4), NULL), px_dense(8, PX_TANH), px_dense(2, PX_LINEAR),
                                        NULL});
}

static px_dataset *regression_data(void) {
    px_rng r = px_rng_seeded(5);
    px_tensor *x = px_tensor_random_uniform(PX_SHAPE(64, 4), -1, 1, &r), *y = px_tensor_zeros(PX_SHAPE(64, 2));
    for (int i = 0; i < 64; i++) {
        const float *xi = px_tensor_f32(x) + 4 * i;
        px_tensor_f32(y)[2 * i] = xi[0] - 0.5f * xi[1];
        px_tensor_f32(y)[2 * i + 1] = xi[2] * xi[3];
    }
    return px_dataset_new(x, y);
}

/* A custom loss of the built-in formula trains to the same weights, bit for bit. */
static void test_trains_like_builtin(void) {
    px_dataset *d = regression_data();
    px_model *a = regressor(), *b = regressor();
    CHECK_OK(px_model_compile(a, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR,
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.01f})}));
    CHECK_OK(px_model_compile(b, &(px_compile_options){.losses = {{.kind = PX_LOSS_CUSTOM, .name = "my_mse"}},
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.01f})}));
    px_fit_options fo = {.epochs = 5, .batch_size = 16, .verbose = PX_VERBOSE_SILENT};
    CHECK_OK(px_model_fit(a, d, &fo));
    CHECK_OK(px_model_fit(b, d, &fo));
    px_tensor **wa = NULL, **wb = NULL;
    int na = 0, nb = 0;
    CHECK_OK(px_model_get_weights(a, &wa, &na));
    CHECK_OK(px_model_get_weights(b, &wb, &nb));
    CHECK(na == nb && na == 4);
    for (int i = 0; i < na && i < nb; i++) CHECK(px_tensor_equal(wa[i], wb[i]));
    for (int i = 0; i < na; i++) px_tensor_free(wa[i]);
    for (int i = 0; i < nb; i++) px_tensor_free(wb[i]);
    free(wa), free(wb);
    int n = 0;
    const double *la = px_history_get(px_model_history(a), "loss", &n), *lb = px_history_get(px_model_history(b), "loss", NULL);
    CHECK(n == 5 && la && lb && la[4] == lb[4] && la[4] < la[0]);
    px_model_free(a), px_model_free(b);
    px_dataset_free(d);
}

/* Training with log-cosh lowers it; the custom metric logs the mean of batch maxima. */
static void test_fit_and_metric(void) {
    px_dataset *d = regression_data();
    px_model *m = regressor();
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .losses = {{.kind = PX_LOSS_CUSTOM, .name = "log_cosh"}},
                                     .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.02f}),
                                     .metrics = {PX_METRIC_MAE},
                                     .metric_objects = {{.kind = PX_METRIC_CUSTOM, .name = "max_abs_error"}}}));
    CHECK_OK(px_model_fit(m, d, &(px_fit_options){.epochs = 30, .batch_size = 16, .verbose = PX_VERBOSE_SILENT}));
    int n = 0;
    const double *loss = px_history_get(px_model_history(m), "loss", &n);
    CHECK(n == 30 && loss && loss[29] < 0.5 * loss[0]);
    /* evaluate in batches of 16: the metric is the mean of the four batch maxima */
    px_logs logs = {0};
    CHECK_OK(px_model_evaluate(m, d, &(px_eval_options){.batch_size = 16, .verbose = PX_VERBOSE_SILENT}, &logs));
    px_tensor *p = px_model_predict(m, d->x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    double want = 0, lc = 0;
    for (int b = 0; p && b < 4; b++) {
        double mx = 0;
        for (int i = 32 * b; i < 32 * b + 32; i++) {
            double e = fabs((double)px_tensor_f32(p)[i] - px_tensor_f32(d->y)[i]);
            mx = fmax(mx, e);
            lc += log(cosh(e)) / 128;
        }
        want += mx / 4;
    }
    double got = NAN, got_loss = NAN;
    CHECK(px_logs_get(&logs, "max_abs_error", &got) && px_logs_get(&logs, "loss", &got_loss));
    CHECK_NEAR(got, want, 1e-5);
    CHECK_NEAR(got_loss, lc, 1e-5);
    px_tensor_free(p);

    /* saved by name: reloads compiled where the names are registered */
    char path[512];
    snprintf(path, sizeof path, "%s/px_custom_%d.h5", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    CHECK_OK(px_model_save(m, path));
    px_model *b = px_model_load(path);
    CHECK_NOT_NULL(b);
    if (b) {
        px_logs l2 = {0};
        CHECK_OK(px_model_evaluate(b, d, &(px_eval_options){.batch_size = 16, .verbose = PX_VERBOSE_SILENT}, &l2));
        CHECK(l2.n == logs.n);
        for (int i = 0; i < logs.n; i++) {
            double v = NAN;
            CHECK(px_logs_get(&l2, logs.names[i], &v) && v == logs.values[i]);
        }
        px_model_free(b);
    }
    /* without the registration the file cannot compile: the loss is named (the load
     * either fails or gives an uncompiled model) */
    CHECK_OK(px_loss_register("log_cosh", NULL, NULL));
    px_clear_error();
    b = px_model_load(path);
    CHECK(b ? px_model_optimizer(b) == NULL : strstr(px_last_error(), "log_cosh") != NULL);
    px_model_free(b);
    CHECK_OK(px_loss_register("log_cosh", log_cosh, NULL));
    px_model_free(m);
    px_dataset_free(d);
    remove(path);
}

static void test_errors(void) {
    CHECK(px_loss_register("mse", my_mse, NULL) == PX_ERR_ARG);
    CHECK_ERROR_HAS("built-in loss");
    CHECK(px_metric_register("auc", max_abs_error, NULL) == PX_ERR_ARG);
    CHECK_ERROR_HAS("built-in metric");
    CHECK(px_loss_register("", my_mse, NULL) == PX_ERR_ARG);
    CHECK(px_loss_register(NULL, my_mse, NULL) == PX_ERR_ARG);
    px_model *m = regressor();
    CHECK(px_model_compile(m, &(px_compile_options){.losses = {{.kind = PX_LOSS_CUSTOM, .name = "nobody"}}}) != PX_OK);
    CHECK_ERROR_HAS("loss 'nobody' is not registered");
    CHECK(px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR,
                                                    .metric_objects = {{.kind = PX_METRIC_CUSTOM, .name = "nobody"}}}) ==
          PX_ERR_ARG);
    CHECK_ERROR_HAS("metric 'nobody' is not registered");
    px_model_free(m);
    px_loss_kind k;
    CHECK_OK(px_loss_from_name("log_cosh", &k));
    CHECK(k == PX_LOSS_CUSTOM);
    px_metric_kind mk;
    CHECK_OK(px_metric_from_name("max_abs_error", &mk));
    CHECK(mk == PX_METRIC_CUSTOM);
}

int main(void) {
    CHECK_OK(px_loss_register("log_cosh", log_cosh, NULL));
    CHECK_OK(px_loss_register("my_mse", my_mse, NULL));
    CHECK_OK(px_metric_register("max_abs_error", max_abs_error, NULL));
    RUN_TEST(test_gradients);
    RUN_TEST(test_trains_like_builtin);
    RUN_TEST(test_fit_and_metric);
    RUN_TEST(test_errors);
    return px_test_finish();
}
