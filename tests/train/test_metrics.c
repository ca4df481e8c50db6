/* Metrics: the accuracy variant Keras picks from the loss, metric values from evaluate
 * on models with hand-set weights, multi-output names, the metric ops and their names. */
#include <string.h>

#include "px_test.h"

/* Scores chosen so argmax and top-2 are clear: argmax per row is 0, 1, 2, 0, 2. */
static const float X[15] = {2, 1, 0, 0, 3, 1, 1, 0, 5, 4, 2, 3, 0, 1, 2};
static const int32_t LABELS[5] = {0, 2, 2, 1, 0};
/* hits: rows 0 and 2 -> 2 / 5; within the top 2: rows 0, 1, 2 -> 3 / 5 */
#define WANT_ACC 0.4
#define WANT_TOP2 0.6

static const px_eval_options QUIET = {.verbose = PX_VERBOSE_SILENT};

/* A model whose output is act(x @ kernel): one Dense layer without bias. */
static px_model *dense_model(int in, int out, px_activation act, const float *kernel) {
    px_model *m = px_sequential((px_layer *[]){
        px_dense_ex(out, &(px_dense_options){.activation = act, .no_bias = true, .input_shape = PX_SHAPE(in)}),
        NULL});
    CHECK_NOT_NULL(m);
    if (!m) return NULL;
    px_tensor *k = px_tensor_from_array(PX_SHAPE(in, out), kernel, (int64_t)in * out);
    CHECK_OK(px_model_set_weights(m, &k, 1));
    px_tensor_free(k);
    return m;
}

static const float EYE3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};

static double logged(const px_logs *logs, const char *name) {
    double v = NAN;
    if (!px_logs_get(logs, name, &v)) px_test_fail(__FILE__, __LINE__, "no '%s' in the logs", name);
    return v;
}

static double softmax_ce(const float *row, int label) {
    double m = fmax(row[0], fmax(row[1], row[2])), s = 0;
    for (int j = 0; j < 3; j++) s += exp(row[j] - m);
    return m + log(s) - row[label];
}

static px_status evaluate(px_model *m, px_tensor *x, px_tensor *y, px_logs *logs) {
    px_arrays a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1};
    return px_model_evaluate_arrays(m, &a, &QUIET, logs);
}

static void test_accuracy_from_sparse_loss(void) {
    px_model *m = dense_model(3, 3, PX_SOFTMAX, EYE3);
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                     .optimizer = px_sgd(NULL),
                                     .metrics = {PX_ACCURACY, PX_SPARSE_TOP_K_ACCURACY},
                                     .top_k = 2}));
    px_tensor *x = px_tensor_from_array(PX_SHAPE(5, 3), X, 15);
    px_tensor *y = px_tensor_from_int_array(PX_SHAPE(5), LABELS, 5);
    px_logs logs = {0};
    CHECK_OK(evaluate(m, x, y, &logs));
    double loss = 0;
    for (int r = 0; r < 5; r++) loss += softmax_ce(X + 3 * r, LABELS[r]) / 5;
    CHECK_NEAR(logged(&logs, "loss"), loss, 1e-5);
    CHECK_NEAR(logged(&logs, "accuracy"), WANT_ACC, 1e-6);
    CHECK_NEAR(logged(&logs, "sparse_top_k_categorical_accuracy"), WANT_TOP2, 1e-6);
    CHECK(logs.n == 3);
    /* (batch, 1) labels as Keras also accepts */
    px_tensor *y1 = px_tensor_from_int_array(PX_SHAPE(5, 1), LABELS, 5);
    px_logs logs1 = {0};
    CHECK_OK(evaluate(m, x, y1, &logs1));
    CHECK_NEAR(logged(&logs1, "accuracy"), WANT_ACC, 1e-6);
    CHECK_NEAR(logged(&logs1, "loss"), loss, 1e-5);
    px_tensor_free(y1);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_accuracy_from_categorical_loss(void) {
    px_model *m = dense_model(3, 3, PX_SOFTMAX, EYE3);
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_CATEGORICAL_CROSSENTROPY,
                                     .optimizer = px_sgd(NULL),
                                     .metrics = {PX_ACCURACY, PX_TOP_K_ACCURACY, PX_CATEGORICAL_ACCURACY},
                                     .top_k = 2}));
    float oh[15] = {0};
    for (int r = 0; r < 5; r++) oh[3 * r + LABELS[r]] = 1;
    px_tensor *x = px_tensor_from_array(PX_SHAPE(5, 3), X, 15), *y = px_tensor_from_array(PX_SHAPE(5, 3), oh, 15);
    px_logs logs = {0};
    CHECK_OK(evaluate(m, x, y, &logs));
    double loss = 0;
    for (int r = 0; r < 5; r++) loss += softmax_ce(X + 3 * r, LABELS[r]) / 5;
    CHECK_NEAR(logged(&logs, "loss"), loss, 1e-5);
    /* binary accuracy on these one-hot rows would be 9 / 15 */
    CHECK_NEAR(logged(&logs, "accuracy"), WANT_ACC, 1e-6);
    CHECK_NEAR(logged(&logs, "categorical_accuracy"), WANT_ACC, 1e-6);
    CHECK_NEAR(logged(&logs, "top_k_categorical_accuracy"), WANT_TOP2, 1e-6);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_accuracy_from_binary_loss(void) {
    const float one = 1;
    px_model *m = dense_model(1, 1, PX_SIGMOID, &one);
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_BINARY_CROSSENTROPY, .optimizer = px_sgd(NULL), .metrics = {PX_ACCURACY}}));
    const float z[4] = {2, -1, 0.5f, -3}, yv[4] = {1, 1, 0, 0};
    px_tensor *x = px_tensor_from_array(PX_SHAPE(4, 1), z, 4), *y = px_tensor_from_array(PX_SHAPE(4, 1), yv, 4);
    px_logs logs = {0};
    CHECK_OK(evaluate(m, x, y, &logs));
    double loss = 0;
    for (int i = 0; i < 4; i++) loss += (fmax(z[i], 0) - z[i] * yv[i] + log1p(exp(-fabs(z[i])))) / 4;
    CHECK_NEAR(logged(&logs, "loss"), loss, 1e-5);
    /* sigmoid > 0.5 for rows 0 and 2: rows 0 and 3 right (categorical accuracy on one column would say 1) */
    CHECK_NEAR(logged(&logs, "accuracy"), 0.5, 1e-6);
    px_model_free(m);

    /* with from_logits the threshold is 0 on the logits: 0.3 counts as class 1 */
    m = dense_model(1, 1, PX_LINEAR, &one);
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY,
                                                       .from_logits = true,
                                                       .optimizer = px_sgd(NULL),
                                                       .metrics = {PX_ACCURACY}}));
    const float z2[4] = {0.3f, -0.2f, 0.7f, 2}, y2[4] = {0, 0, 1, 1};
    px_tensor *x2 = px_tensor_from_array(PX_SHAPE(4, 1), z2, 4), *yt2 = px_tensor_from_array(PX_SHAPE(4, 1), y2, 4);
    px_logs logs2 = {0};
    CHECK_OK(evaluate(m, x2, yt2, &logs2));
    CHECK_NEAR(logged(&logs2, "accuracy"), 0.75, 1e-6);
    px_tensor_free(x2);
    px_tensor_free(yt2);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_regression_metrics(void) {
    /* y = x @ [[1, 2], [0, -1]] + [0.5, 0] */
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(2, &(px_dense_options){.input_shape = PX_SHAPE(2)}), NULL});
    const float kv[4] = {1, 2, 0, -1}, bv[2] = {0.5f, 0};
    px_tensor *w[2] = {px_tensor_from_array(PX_SHAPE(2, 2), kv, 4), px_tensor_from_array(PX_SHAPE(2), bv, 2)};
    CHECK_OK(px_model_set_weights(m, w, 2));
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_MEAN_SQUARED_ERROR, .optimizer = px_sgd(NULL),
                                     .metrics = {PX_METRIC_MAE, PX_METRIC_MSE}}));
    const float xv[6] = {1, 2, -1, 0.5f, 3, -2}, yv[6] = {1, 0.9f, -1, 0, 4, 8};
    px_tensor *x = px_tensor_from_array(PX_SHAPE(3, 2), xv, 6), *y = px_tensor_from_array(PX_SHAPE(3, 2), yv, 6);
    double mse = 0, mae = 0;
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < 2; j++) {
            double p = xv[2 * r] * kv[j] + xv[2 * r + 1] * kv[2 + j] + bv[j], e = p - yv[2 * r + j];
            mse += e * e / 6;
            mae += fabs(e) / 6;
        }
    px_logs logs = {0};
    CHECK_OK(evaluate(m, x, y, &logs));
    CHECK_NEAR(logged(&logs, "loss"), mse, 1e-5);
    CHECK_NEAR(logged(&logs, "mse"), mse, 1e-5);
    CHECK_NEAR(logged(&logs, "mae"), mae, 1e-5);
    /* accuracy after an MSE loss: Keras picks categorical for several columns */
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_MEAN_SQUARED_ERROR, .optimizer = px_sgd(NULL), .metrics = {PX_ACCURACY}}));
    px_logs logs2 = {0};
    CHECK_OK(evaluate(m, x, y, &logs2));
    /* predictions (1.5, 0), (-0.5, -2.5), (3.5, 8): argmax 0, 0, 1; targets' 0, 1, 1
     * (binary accuracy would give 5 / 6) */
    CHECK_NEAR(logged(&logs2, "accuracy"), 2.0 / 3.0, 1e-6);
    px_tensor_free(w[0]);
    px_tensor_free(w[1]);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_multi_output_names(void) {
    px_model *m = px_functional("two_heads");
    px_node *in = px_model_input(m, PX_SHAPE(3), "x");
    px_node *a = px_apply(px_dense_ex(3, &(px_dense_options){.activation = PX_SOFTMAX, .no_bias = true, .name = "class_out"}), in);
    px_node *b = px_apply(px_dense_ex(1, &(px_dense_options){.activation = PX_SIGMOID, .no_bias = true, .name = "flag_out"}), in);
    CHECK_OK(px_model_set_outputs(m, (px_node *[]){a, b}, 2));
    px_tensor *ka = px_tensor_from_array(PX_SHAPE(3, 3), EYE3, 9);
    const float kb[3] = {1, -1, 0}; /* flag logit x0 - x1: 1, -3, 1, 2, -1 */
    px_tensor *kbt = px_tensor_from_array(PX_SHAPE(3, 1), kb, 3);
    CHECK_OK(px_layer_set_weights(px_model_find_layer(m, "class_out"), &ka, 1));
    CHECK_OK(px_layer_set_weights(px_model_find_layer(m, "flag_out"), &kbt, 1));
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .losses = {{.kind = PX_SPARSE_CATEGORICAL_CROSSENTROPY}, {.kind = PX_BINARY_CROSSENTROPY}},
                                     .loss_weights = {1.0f, 0.5f},
                                     .optimizer = px_sgd(NULL),
                                     .metrics = {PX_ACCURACY}}));
    const float flags[5] = {1, 1, 1, 0, 0};
    px_tensor *x = px_tensor_from_array(PX_SHAPE(5, 3), X, 15);
    px_tensor *ys[2] = {px_tensor_from_int_array(PX_SHAPE(5), LABELS, 5), px_tensor_from_array(PX_SHAPE(5, 1), flags, 5)};
    px_arrays arr = {.x = &x, .n_x = 1, .y = ys, .n_y = 2};
    px_logs logs = {0};
    CHECK_OK(px_model_evaluate_arrays(m, &arr, &QUIET, &logs));
    double la = 0, lb = 0;
    for (int r = 0; r < 5; r++) {
        double z = X[3 * r] - X[3 * r + 1];
        la += softmax_ce(X + 3 * r, LABELS[r]) / 5;
        lb += (fmax(z, 0) - z * flags[r] + log1p(exp(-fabs(z)))) / 5;
    }
    CHECK_NEAR(logged(&logs, "class_out_loss"), la, 1e-5);
    CHECK_NEAR(logged(&logs, "flag_out_loss"), lb, 1e-5);
    CHECK_NEAR(logged(&logs, "loss"), la + 0.5 * lb, 1e-5);
    CHECK_NEAR(logged(&logs, "class_out_accuracy"), WANT_ACC, 1e-6);
    /* flag predictions 1, 0, 1, 1, 0 against 1, 1, 1, 0, 0 */
    CHECK_NEAR(logged(&logs, "flag_out_accuracy"), 0.6, 1e-6);
    CHECK(!px_logs_get(&logs, "accuracy", &(double){0}));
    CHECK(logs.n == 5);
    px_tensor_free(ka);
    px_tensor_free(kbt);
    px_tensor_free(x);
    px_tensor_free(ys[0]);
    px_tensor_free(ys[1]);
    px_model_free(m);
}

/* Runs one metric op on constants; a new tensor or NULL. */
static px_tensor *run_metric(px_graph *g, px_node *n) {
    px_tensor *out = NULL;
    CHECK_NOT_NULL(n);
    if (n) CHECK_OK(px_run(g, &n, 1, NULL, 0, &out));
    return out;
}

static void test_metric_ops(void) {
    px_graph *g = px_graph_new();
    px_tensor *xt = px_tensor_from_array(PX_SHAPE(5, 3), X, 15);
    px_node *pred = px_constant(g, xt);
    px_tensor *l1 = px_tensor_from_int_array(PX_SHAPE(5), LABELS, 5), *l2 = px_tensor_from_int_array(PX_SHAPE(5, 1), LABELS, 5);
    const float want[5] = {1, 0, 1, 0, 0};
    for (int k = 0; k < 2; k++) {
        px_tensor *o = run_metric(g, px_sparse_accuracy(pred, px_constant(g, k ? l2 : l1)));
        CHECK(o && o->rank == 1 && o->shape[0] == 5);
        for (int i = 0; o && i < 5; i++) CHECK_NEAR(px_tensor_f32(o)[i], want[i], 0);
        px_tensor_free(o);
    }
    /* ties: a label tied with the best is within the top 1; three tied above the
     * label keep it out of the top 3 */
    const float tv[8] = {0.5f, 0.5f, 0.5f, 0.1f, 0.2f, 0.9f, 0.9f, 0.9f};
    const int32_t tl[2] = {2, 0};
    px_tensor *tt = px_tensor_from_array(PX_SHAPE(2, 4), tv, 8), *tlt = px_tensor_from_int_array(PX_SHAPE(2), tl, 2);
    px_node *tp = px_constant(g, tt), *tlab = px_constant(g, tlt);
    px_tensor *k1 = run_metric(g, px_in_top_k(tp, tlab, 1)), *k3 = run_metric(g, px_in_top_k(tp, tlab, 3)),
              *k4 = run_metric(g, px_in_top_k(tp, tlab, 4));
    CHECK(k1 && px_tensor_f32(k1)[0] == 1 && px_tensor_f32(k1)[1] == 0);
    CHECK(k3 && px_tensor_f32(k3)[0] == 1 && px_tensor_f32(k3)[1] == 0);
    CHECK(k4 && px_tensor_f32(k4)[1] == 1);
    px_tensor_free(k1);
    px_tensor_free(k3);
    px_tensor_free(k4);
    CHECK(px_in_top_k(tp, tlab, 0) == NULL);
    CHECK_ERROR_HAS("k must be at least 1");

    /* binary accuracy: prediction above the threshold against label above 0.5 */
    const float bp[4] = {0.6f, 0.6f, 0.2f, 0.75f}, bl[4] = {1, 0, 0, 1};
    px_tensor *bpt = px_tensor_from_array(PX_SHAPE(4), bp, 4), *blt = px_tensor_from_array(PX_SHAPE(4), bl, 4);
    px_tensor *b5 = run_metric(g, px_binary_accuracy(px_constant(g, bpt), px_constant(g, blt), 0.5f));
    px_tensor *b7 = run_metric(g, px_binary_accuracy(px_constant(g, bpt), px_constant(g, blt), 0.7f));
    const float w5[4] = {1, 0, 1, 1}, w7[4] = {0, 1, 1, 1};
    for (int i = 0; b5 && b7 && i < 4; i++) {
        CHECK_NEAR(px_tensor_f32(b5)[i], w5[i], 0);
        CHECK_NEAR(px_tensor_f32(b7)[i], w7[i], 0);
    }
    px_tensor_free(b5);
    px_tensor_free(b7);

    /* categorical accuracy takes the argmax of the one-hot (or soft) row */
    const float soft[15] = {0.8f, 0.1f, 0.1f, 0, 0.2f, 0.8f, 0, 0, 1, 0.1f, 0.6f, 0.3f, 0.9f, 0, 0.1f};
    px_tensor *st = px_tensor_from_array(PX_SHAPE(5, 3), soft, 15);
    px_tensor *ca = run_metric(g, px_categorical_accuracy(pred, px_constant(g, st)));
    for (int i = 0; ca && i < 5; i++) CHECK_NEAR(px_tensor_f32(ca)[i], want[i], 0);
    px_tensor_free(ca);

    /* float labels for the sparse op are refused with the shapes */
    CHECK(px_sparse_accuracy(pred, px_constant(g, st)) == NULL);
    CHECK_ERROR_HAS("labels (5, 3) (float32) do not fit predictions (5, 3)");
    px_tensor *bad = px_tensor_from_int_array(PX_SHAPE(4), LABELS, 4);
    CHECK(px_sparse_accuracy(pred, px_constant(g, bad)) == NULL);
    CHECK_ERROR_HAS("do not fit predictions");
    px_tensor_free(bad);
    px_tensor_free(st);
    px_tensor_free(bpt);
    px_tensor_free(blt);
    px_tensor_free(tt);
    px_tensor_free(tlt);
    px_tensor_free(l1);
    px_tensor_free(l2);
    px_tensor_free(xt);
    px_graph_free(g);
}

static void test_metric_names(void) {
    for (int k = PX_METRIC_NONE + 1; k < PX_METRIC_COUNT; k++) {
        if (k == PX_METRIC_CUSTOM) continue; /* named by the registry */
        px_metric_kind back = PX_METRIC_NONE;
        CHECK_OK(px_metric_from_name(px_metric_name((px_metric_kind)k), &back));
        CHECK(back == (px_metric_kind)k);
    }
    static const struct { const char *name; px_metric_kind k; } names[] = {
        {"accuracy", PX_ACCURACY}, {"acc", PX_ACCURACY}, {"mse", PX_METRIC_MSE},
        {"mean_squared_error", PX_METRIC_MSE}, {"mae", PX_METRIC_MAE}, {"mean_absolute_error", PX_METRIC_MAE},
        {"sparse_categorical_accuracy", PX_SPARSE_CATEGORICAL_ACCURACY},
        {"top_k_categorical_accuracy", PX_TOP_K_ACCURACY}, {"binary_accuracy", PX_BINARY_ACCURACY},
        {"top_k_accuracy", PX_TOP_K}, {"AUC", PX_AUC}, {"rmse", PX_ROOT_MEAN_SQUARED_ERROR},
        {"mean_io_u", PX_MEAN_IOU}, {"F1Score", PX_F1_SCORE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        px_metric_kind k = PX_METRIC_NONE;
        CHECK_OK(px_metric_from_name(names[i].name, &k));
        CHECK(k == names[i].k);
    }
    px_metric_kind k = PX_METRIC_MAE;
    CHECK(px_metric_from_name("precisoin", &k) == PX_ERR_ARG);
    CHECK_ERROR_HAS("unknown metric 'precisoin'");
    CHECK(k == PX_METRIC_MAE);
    CHECK(px_metric_from_name(NULL, &k) != PX_OK);
}

int main(void) {
    RUN_TEST(test_accuracy_from_sparse_loss);
    RUN_TEST(test_accuracy_from_categorical_loss);
    RUN_TEST(test_accuracy_from_binary_loss);
    RUN_TEST(test_regression_metrics);
    RUN_TEST(test_multi_output_names);
    RUN_TEST(test_metric_ops);
    RUN_TEST(test_metric_names);
    return px_test_finish();
}
