/* The stateful metrics (AUC ROC and PR, precision, recall, F1, MeanIoU, RMSE) and top-k
 * accuracy against scikit-learn on fixed predictions (tests/data/metric_fixtures.h): a
 * model whose output is its input makes the predictions exactly those of the fixture.
 * Streaming: the value accumulated over batches of 7 equals the whole set's, in evaluate
 * and in fit's epoch logs. Also the pairing errors, and metric settings in model files. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/metric_fixtures.h"
#include "plexus/model_io.h"
#include "px_test.h"

static const px_eval_options WHOLE = {.batch_size = 1000, .verbose = PX_VERBOSE_SILENT};
static const px_eval_options STREAM = {.batch_size = 7, .verbose = PX_VERBOSE_SILENT};

/* Output = input: a linear Activation over inputs of `width` values. */
static px_model *identity(int width) {
    return px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(width), NULL), px_activation_layer(PX_LINEAR), NULL});
}

static double logged(const px_logs *logs, const char *name) {
    double v = NAN;
    if (!px_logs_get(logs, name, &v)) px_test_fail(__FILE__, __LINE__, "no '%s' in the logs", name);
    return v;
}

/* The metrics that add up counts: streamed, they equal the whole set's exactly. */
static bool counted(const char *name) {
    static const char *const words[] = {"auc", "precision", "recall", "f1", "iou", "p03", "r03", NULL};
    for (int i = 0; words[i]; i++)
        if (strstr(name, words[i])) return true;
    return false;
}

/* Evaluates whole and in batches of 7: the counted metrics agree exactly, the means
 * (of float32 batch means) to rounding. */
static void evaluate_both(px_model *m, px_tensor *x, px_tensor *y, px_logs *whole) {
    px_arrays a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1};
    px_logs stream = {0};
    CHECK_OK(px_model_evaluate_arrays(m, &a, &WHOLE, whole));
    CHECK_OK(px_model_evaluate_arrays(m, &a, &STREAM, &stream));
    CHECK(whole->n == stream.n);
    for (int i = 0; i < whole->n; i++) {
        double w = whole->values[i], s = logged(&stream, whole->names[i]);
        if (counted(whole->names[i]) ? w != s : fabs(w - s) > 1e-6 * fmax(1.0, fabs(w)))
            px_test_fail(__FILE__, __LINE__, "%s: whole %.17g, streamed %.17g", whole->names[i], w, s);
        else px_test_passed++;
    }
}

static void test_binary(void) {
    px_tensor *x = px_tensor_from_array(PX_SHAPE(PX_MFIX_NB, 1), px_mfix_bin_pred, PX_MFIX_NB);
    px_tensor *y = px_tensor_from_array(PX_SHAPE(PX_MFIX_NB, 1), px_mfix_bin_true, PX_MFIX_NB);
    px_model *m = identity(1);
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_BINARY_CROSSENTROPY,
                                     .metrics = {PX_AUC, PX_PRECISION, PX_RECALL, PX_F1_SCORE, PX_MEAN_IOU,
                                                 PX_ROOT_MEAN_SQUARED_ERROR, PX_ACCURACY},
                                     .metric_objects = {{.kind = PX_AUC, .curve = PX_CURVE_PR, .name = "pr_auc"}}}));
    px_logs l = {0};
    evaluate_both(m, x, y, &l);
    /* Keras's 200 thresholds: its ROC AUC is a trapezoid sum at 200 points, within 1e-3
     * of scikit-learn's exact one (here 2.4e-5 apart) and equal to Keras's own formula */
    CHECK_NEAR(logged(&l, "auc"), px_mfix_bin_sk_roc_auc, 1e-3);
    CHECK_NEAR(logged(&l, "auc"), px_mfix_bin_keras_roc_auc, 1e-9);
    CHECK_NEAR(logged(&l, "pr_auc"), px_mfix_bin_keras_pr_auc, 1e-9);
    CHECK_NEAR(logged(&l, "precision"), px_mfix_bin_sk_precision, 1e-12);
    CHECK_NEAR(logged(&l, "recall"), px_mfix_bin_sk_recall, 1e-12);
    CHECK_NEAR(logged(&l, "f1_score"), px_mfix_bin_sk_f1, 1e-12);
    CHECK_NEAR(logged(&l, "mean_iou"), px_mfix_bin_sk_mean_iou, 1e-12);
    CHECK_NEAR(logged(&l, "root_mean_squared_error"), px_mfix_bin_sk_rmse, 1e-6);
    CHECK_NEAR(logged(&l, "accuracy"), px_mfix_bin_sk_accuracy, 1e-7); /* a float32 batch mean */

    /* other thresholds */
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_BINARY_CROSSENTROPY,
                                     .metric_objects = {{.kind = PX_PRECISION, .threshold = 0.3f, .name = "p03"},
                                                        {.kind = PX_RECALL, .threshold = 0.3f, .name = "r03"},
                                                        {.kind = PX_AUC, .num_thresholds = 5000}}}));
    memset(&l, 0, sizeof l);
    evaluate_both(m, x, y, &l);
    CHECK_NEAR(logged(&l, "p03"), px_mfix_bin_sk_precision_03, 1e-12);
    CHECK_NEAR(logged(&l, "r03"), px_mfix_bin_sk_recall_03, 1e-12);
    CHECK_NEAR(logged(&l, "auc"), px_mfix_bin_sk_roc_auc, 2e-4); /* finer thresholds: closer */
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
}

static void test_multiclass(void) {
    px_tensor *x = px_tensor_from_array(PX_SHAPE(PX_MFIX_NM, PX_MFIX_C), px_mfix_multi_pred, PX_MFIX_NM * PX_MFIX_C);
    px_tensor *y = px_tensor_from_int_array(PX_SHAPE(PX_MFIX_NM), px_mfix_multi_true, PX_MFIX_NM);
    px_model *m = identity(PX_MFIX_C);
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                     .metrics = {PX_ACCURACY, PX_TOP_K, PX_F1_SCORE, PX_MEAN_IOU},
                                     .top_k = 2,
                                     .metric_objects = {{.kind = PX_F1_SCORE, .average = PX_AVERAGE_MICRO, .name = "f1_micro"},
                                                        {.kind = PX_F1_SCORE, .average = PX_AVERAGE_WEIGHTED, .name = "f1_weighted"},
                                                        {.kind = PX_F1_SCORE, .threshold = 0.3f, .name = "f1_03"}}}));
    px_logs l = {0};
    evaluate_both(m, x, y, &l);
    CHECK_NEAR(logged(&l, "accuracy"), px_mfix_multi_sk_accuracy, 1e-7);
    CHECK_NEAR(logged(&l, "top_k_accuracy"), px_mfix_multi_sk_top2, 1e-7);
    CHECK_NEAR(logged(&l, "f1_score"), px_mfix_multi_sk_f1_macro, 1e-12);
    CHECK_NEAR(logged(&l, "f1_micro"), px_mfix_multi_sk_f1_micro, 1e-12);
    CHECK_NEAR(logged(&l, "f1_weighted"), px_mfix_multi_sk_f1_weighted, 1e-12);
    CHECK_NEAR(logged(&l, "f1_03"), px_mfix_multi_sk_f1_macro_03, 1e-12);
    CHECK_NEAR(logged(&l, "mean_iou"), px_mfix_multi_sk_mean_iou, 1e-12);

    /* one-hot targets: categorical top-k, and AUC / precision over all (example, class) pairs */
    px_tensor *onehot = px_tensor_zeros(PX_SHAPE(PX_MFIX_NM, PX_MFIX_C));
    for (int i = 0; i < PX_MFIX_NM; i++) px_tensor_f32(onehot)[i * PX_MFIX_C + px_mfix_multi_true[i]] = 1;
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_CATEGORICAL_CROSSENTROPY,
                                     .metrics = {PX_AUC, PX_PRECISION, PX_TOP_K_ACCURACY, PX_F1_SCORE, PX_MEAN_IOU},
                                     .metric_objects = {{.kind = PX_TOP_K, .k = 2, .name = "top2"}}}));
    memset(&l, 0, sizeof l);
    evaluate_both(m, x, onehot, &l);
    CHECK_NEAR(logged(&l, "auc"), px_mfix_multi_sk_roc_auc, 1e-3);
    CHECK_NEAR(logged(&l, "auc"), px_mfix_multi_keras_roc_auc, 1e-9);
    CHECK_NEAR(logged(&l, "precision"), px_mfix_multi_sk_precision, 1e-12);
    CHECK_NEAR(logged(&l, "top2"), px_mfix_multi_sk_top2, 1e-7);
    CHECK_NEAR(logged(&l, "top_k_categorical_accuracy"), 1.0, 1e-12); /* k = 5 of 4 classes */
    CHECK_NEAR(logged(&l, "f1_score"), px_mfix_multi_sk_f1_macro, 1e-12);
    CHECK_NEAR(logged(&l, "mean_iou"), px_mfix_multi_sk_mean_iou, 1e-12);
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
    px_tensor_free(onehot);
}

static void test_regression(void) {
    px_tensor *x = px_tensor_from_array(PX_SHAPE(PX_MFIX_NR, 3), px_mfix_reg_pred, PX_MFIX_NR * 3);
    px_tensor *y = px_tensor_from_array(PX_SHAPE(PX_MFIX_NR, 3), px_mfix_reg_true, PX_MFIX_NR * 3);
    px_model *m = identity(3);
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR,
                                                       .metrics = {PX_ROOT_MEAN_SQUARED_ERROR, PX_METRIC_MAE}}));
    px_logs l = {0};
    evaluate_both(m, x, y, &l);
    CHECK_NEAR(logged(&l, "root_mean_squared_error"), px_mfix_reg_sk_rmse, 1e-6);
    CHECK_NEAR(logged(&l, "mae"), px_mfix_reg_sk_mae, 1e-6);
    CHECK_NEAR(logged(&l, "loss"), px_mfix_reg_sk_rmse * px_mfix_reg_sk_rmse, 1e-5);
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
}

/* fit's epoch logs are the epoch's accumulated value: with nothing to train, the
 * shuffled batches of 16 add up to the whole set's AUC and F1. */
static void test_fit_accumulates(void) {
    px_tensor *x = px_tensor_from_array(PX_SHAPE(PX_MFIX_NB, 1), px_mfix_bin_pred, PX_MFIX_NB);
    px_tensor *y = px_tensor_from_array(PX_SHAPE(PX_MFIX_NB, 1), px_mfix_bin_true, PX_MFIX_NB);
    px_model *m = identity(1);
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY,
                                                       .metrics = {PX_AUC, PX_F1_SCORE, PX_PRECISION}}));
    px_arrays a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1};
    CHECK_OK(px_model_fit_arrays(m, &a, &(px_fit_options){.epochs = 2, .batch_size = 16, .verbose = PX_VERBOSE_SILENT,
                                                          .validation_arrays = &a}));
    int n = 0;
    const double *auc = px_history_get(px_model_history(m), "auc", &n);
    const double *val_auc = px_history_get(px_model_history(m), "val_auc", NULL);
    const double *f1 = px_history_get(px_model_history(m), "f1_score", NULL);
    CHECK(n == 2 && auc && val_auc && f1);
    if (auc && val_auc && f1) {
        CHECK_NEAR(auc[1], px_mfix_bin_keras_roc_auc, 1e-12);
        CHECK_NEAR(val_auc[1], px_mfix_bin_keras_roc_auc, 1e-12);
        CHECK_NEAR(f1[0], px_mfix_bin_sk_f1, 1e-12);
    }
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
}

/* A metric that does not fit the loss's targets is refused at compile, naming one that fits. */
static void test_pairing_errors(void) {
    px_model *m = identity(4);
    CHECK(px_model_compile(m, &(px_compile_options){.loss = PX_CATEGORICAL_CROSSENTROPY,
                                                    .metrics = {PX_SPARSE_CATEGORICAL_ACCURACY}}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("metric 'sparse_categorical_accuracy' does not fit loss categorical_crossentropy");
    CHECK_ERROR_HAS("use categorical_accuracy");
    CHECK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                    .metrics = {PX_TOP_K_ACCURACY}}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("use sparse_top_k_categorical_accuracy");
    CHECK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                    .metrics = {PX_AUC}}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("int32 class indices");
    CHECK_ERROR_HAS("use sparse_categorical_accuracy, f1_score or mean_iou");
    CHECK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                    .metrics = {PX_METRIC_MSE}}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("metric 'mse' does not fit");
    px_model_free(m);
    m = identity(1);
    CHECK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY,
                                                    .metrics = {PX_CATEGORICAL_ACCURACY}}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("use binary_accuracy");
    CHECK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY, .metrics = {PX_TOP_K}}) ==
          PX_ERR_ARG);
    CHECK_ERROR_HAS("use binary_accuracy");
    CHECK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY,
                                                    .metric_objects = {{.kind = PX_AUC, .num_thresholds = 1}}}) ==
          PX_ERR_ARG);
    CHECK_ERROR_HAS("num_thresholds");
    CHECK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY,
                                                    .metric_objects = {{.kind = PX_PRECISION, .threshold = 1.5f}}}) ==
          PX_ERR_ARG);
    CHECK_ERROR_HAS("threshold must be in [0, 1)");
    /* the model is still usable after a refused compile */
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY, .metrics = {PX_ACCURACY, PX_AUC}}));
    px_model_free(m);
}

/* Metric settings survive a model file: the loaded model logs the same values. */
static void test_saved_settings(void) {
    px_tensor *x = px_tensor_from_array(PX_SHAPE(PX_MFIX_NM, PX_MFIX_C), px_mfix_multi_pred, PX_MFIX_NM * PX_MFIX_C);
    px_tensor *y = px_tensor_from_int_array(PX_SHAPE(PX_MFIX_NM), px_mfix_multi_true, PX_MFIX_NM);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(PX_MFIX_C), NULL),
                                               px_dense(PX_MFIX_C, PX_SOFTMAX), NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .top_k = 3,
                                     .metrics = {PX_ACCURACY, PX_SPARSE_TOP_K_ACCURACY, PX_MEAN_IOU},
                                     .metric_objects = {{.kind = PX_F1_SCORE, .average = PX_AVERAGE_WEIGHTED, .name = "wf1"},
                                                        {.kind = PX_F1_SCORE, .threshold = 0.25f}}}));
    char path[512];
    snprintf(path, sizeof path, "%s/px_metrics_%d.h5", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    CHECK_OK(px_model_save(m, path));
    px_model *b = px_model_load(path);
    CHECK_NOT_NULL(b);
    if (b) {
        px_arrays a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1};
        px_logs l1 = {0}, l2 = {0};
        CHECK_OK(px_model_evaluate_arrays(m, &a, &WHOLE, &l1));
        CHECK_OK(px_model_evaluate_arrays(b, &a, &WHOLE, &l2));
        CHECK(l1.n == l2.n && l1.n == 6);
        for (int i = 0; i < l1.n; i++) CHECK(logged(&l2, l1.names[i]) == l1.values[i]);
    }
    px_model_free(b);
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
    remove(path);
}

/* The counting ops themselves, on a hand-checked batch. */
static void test_count_ops(void) {
    px_graph *g = px_graph_new_eager();
    px_tensor *p = px_tensor_from_array(PX_SHAPE(5), (float[]){0.1f, 0.4f, 0.35f, 0.8f, NAN}, 5);
    px_tensor *t = px_tensor_from_int_array(PX_SHAPE(5), (int32_t[]){0, 0, 1, 1, 1}, 5);
    px_node *c = px_threshold_counts(px_constant(g, p), px_constant(g, t), (float[]){0.0f, 0.3f, 0.5f}, 3);
    CHECK_NOT_NULL(c);
    if (c) {
        /* rows tp, fp, tn, fn at 0, 0.3, 0.5; NaN is never above a threshold */
        static const float want[12] = {2, 2, 1, 2, 1, 0, 0, 1, 2, 1, 1, 2};
        for (int i = 0; i < 12; i++) CHECK(px_tensor_f32(px_node_value(c))[i] == want[i]);
    }
    CHECK(px_threshold_counts(px_constant(g, p), px_constant(g, t), (float[]){0.5f, 0.3f}, 2) == NULL);
    CHECK_ERROR_HAS("ascending");
    px_tensor *p2 = px_tensor_from_array(PX_SHAPE(3, 3), (float[]){0.7f, 0.2f, 0.1f, 0.3f, 0.3f, 0.4f, 0.1f, 0.8f, 0.1f}, 9);
    px_tensor *t2 = px_tensor_from_int_array(PX_SHAPE(3), (int32_t[]){0, 2, 2}, 3);
    px_node *cm = px_confusion_matrix(px_constant(g, p2), px_constant(g, t2), 3);
    CHECK_NOT_NULL(cm);
    if (cm) {
        static const float want[9] = {1, 0, 0, 0, 0, 0, 0, 1, 1};
        for (int i = 0; i < 9; i++) CHECK(px_tensor_f32(px_node_value(cm))[i] == want[i]);
    }
    px_node *cc = px_class_counts(px_constant(g, p2), px_constant(g, t2), 0);
    CHECK_NOT_NULL(cc);
    if (cc) { /* tp, fp, fn per class */
        static const float want[9] = {1, 0, 1, 0, 1, 0, 0, 0, 1};
        for (int i = 0; i < 9; i++) CHECK(px_tensor_f32(px_node_value(cc))[i] == want[i]);
    }
    CHECK(px_confusion_matrix(px_constant(g, p2), px_constant(g, t2), 1) == NULL);
    CHECK(px_class_counts(px_constant(g, p2), px_constant(g, p), 0) == NULL);
    CHECK_ERROR_HAS("do not fit");
    px_tensor_free(p), px_tensor_free(t), px_tensor_free(p2), px_tensor_free(t2);
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_count_ops);
    RUN_TEST(test_binary);
    RUN_TEST(test_multiclass);
    RUN_TEST(test_regression);
    RUN_TEST(test_fit_accumulates);
    RUN_TEST(test_pairing_errors);
    RUN_TEST(test_saved_settings);
    return px_test_finish();
}
