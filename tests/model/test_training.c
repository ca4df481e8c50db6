/* Training end to end on real data: XOR, iris, Wide & Deep on the diabetes data
 * and a Fashion-MNIST subset, each with a stated accuracy or loss to reach. */
#include <math.h>
#include <string.h>

#include "px_test.h"

static const px_fit_options quiet = {.verbose = PX_VERBOSE_SILENT};

static void test_xor_reaches_full_accuracy(void) {
    float xv[8] = {0, 0, 0, 1, 1, 0, 1, 1}, yv[4] = {0, 1, 1, 0};
    px_tensor *x = px_tensor_from_array(PX_SHAPE(4, 2), xv, 8), *y = px_tensor_from_array(PX_SHAPE(4, 1), yv, 4);
    px_dataset *d = px_dataset_new(x, y);
    px_set_random_seed(7);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(2), "x"), px_dense(2, PX_TANH),
                                               px_dense(1, PX_SIGMOID), NULL});
    CHECK_NOT_NULL(m);
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY,
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.05f}),
                                                       .metrics = {PX_ACCURACY}}));
    px_fit_options o = quiet;
    o.epochs = 500;
    o.batch_size = 4;
    CHECK_OK(px_model_fit(m, d, &o));
    px_logs logs = {0};
    CHECK_OK(px_model_evaluate(m, d, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    double acc = 0, loss = 1;
    CHECK(px_logs_get(&logs, "accuracy", &acc) && px_logs_get(&logs, "loss", &loss));
    CHECK_NEAR(acc, 1.0, 0);
    CHECK(loss < 0.1);
    px_model_free(m);
    px_dataset_free(d);
}

static void test_iris_held_out_accuracy(void) {
    px_dataset *all = NULL, *train = NULL, *test = NULL;
    CHECK_OK(px_csv_read(px_test_data("iris.csv"), &(px_csv_options){.header = true, .label_column = -1}, &all));
    if (!all) return;
    CHECK_OK(px_dataset_train_test_split(all, 0.2, 3, &train, &test));
    px_scaler sc = {0};
    CHECK_OK(px_scaler_fit(&sc, train->x)); /* fitted on training data only */
    CHECK_OK(px_scaler_transform(&sc, train->x));
    CHECK_OK(px_scaler_transform(&sc, test->x));
    px_set_random_seed(1);
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(16, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(4)}),
                                               px_dense(3, PX_SOFTMAX), NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.01f}),
                                                       .metrics = {PX_ACCURACY}}));
    px_fit_options o = quiet;
    o.epochs = 100;
    o.batch_size = 16;
    CHECK_OK(px_model_fit(m, train, &o));
    px_logs logs = {0};
    CHECK_OK(px_model_evaluate(m, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    double acc = 0;
    px_logs_get(&logs, "accuracy", &acc);
    printf("iris: held-out accuracy %.4f on %lld flowers\n", acc, (long long)px_dataset_size(test));
    CHECK(acc >= 0.95);
    px_scaler_clear(&sc);
    px_model_free(m);
    px_dataset_free(all);
    px_dataset_free(train);
    px_dataset_free(test);
}

/* Columns [from, to) of x, x[:, from:to], as a strided view (fit copies it once). */
static px_tensor *columns(const px_tensor *x, int from, int to) {
    return px_tensor_view_ranges(x, (px_range[]){PX_ALL, PX_RANGE(from, to)}, 2);
}

/* The course's Wide & Deep model with an auxiliary output, losses weighted 0.9 / 0.1. */
static void test_wide_and_deep_two_losses(void) {
    px_dataset *feat = NULL, *target = NULL;
    CHECK_OK(px_csv_read(px_test_data("diabetes_data_raw.csv.gz"), &(px_csv_options){.delimiter = ' ', .no_label = true}, &feat));
    CHECK_OK(px_csv_read(px_test_data("diabetes_target.csv.gz"),
                         &(px_csv_options){.delimiter = ' ', .no_label = true}, &target));
    if (!feat || !target) return;
    px_scaler sc = {0};
    CHECK_OK(px_scaler_fit(&sc, feat->x));
    CHECK_OK(px_scaler_transform(&sc, feat->x));
    px_scaler ts = {0}; /* scaled targets keep the learning rate sensible */
    CHECK_OK(px_scaler_fit(&ts, target->x));
    CHECK_OK(px_scaler_transform(&ts, target->x));
    px_tensor *xa = columns(feat->x, 0, 5), *xb = columns(feat->x, 4, 10);

    px_set_random_seed(5);
    px_model *m = px_functional("wide_deep");
    px_node *in_a = px_model_input(m, PX_SHAPE(5), "wide_input");
    px_node *in_b = px_model_input(m, PX_SHAPE(6), "deep_input");
    px_node *h1 = px_apply(px_dense(30, PX_RELU), in_b);
    px_node *h2 = px_apply(px_dense(30, PX_RELU), h1);
    px_node *cat = px_apply_n(px_concatenate(-1), (px_node *[]){in_a, h2}, 2);
    px_node *out = px_apply(px_dense_ex(1, &(px_dense_options){.name = "main_output"}), cat);
    px_node *aux = px_apply(px_dense_ex(1, &(px_dense_options){.name = "aux_output"}), h2);
    CHECK_OK(px_model_set_outputs(m, (px_node *[]){out, aux}, 2));
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .loss_weights = {0.9f, 0.1f},
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.003f})}));
    px_tensor *xs[2] = {xa, xb}, *ys[2] = {target->x, target->x};
    px_arrays data = {xs, 2, ys, 2};
    px_fit_options o = quiet;
    o.epochs = 30;
    o.validation_split = 0.2f;
    CHECK_OK(px_model_fit_arrays(m, &data, &o));
    const px_history *h = px_model_history(m);
    int n = 0;
    const double *loss = px_history_get(h, "loss", &n), *main_loss = px_history_get(h, "main_output_loss", NULL),
                 *aux_loss = px_history_get(h, "aux_output_loss", NULL), *val = px_history_get(h, "val_loss", NULL);
    CHECK(n == 30 && loss && main_loss && aux_loss && val);
    if (loss && main_loss && aux_loss && val) {
        printf("wide & deep: loss %.4f -> %.4f (main %.4f, aux %.4f), val_loss %.4f\n", loss[0], loss[n - 1],
               main_loss[n - 1], aux_loss[n - 1], val[n - 1]);
        CHECK(loss[n - 1] < 0.7 * loss[0]);
        CHECK(val[n - 1] < 0.7);                                        /* explains a third of the variance */
        CHECK_NEAR(loss[n - 1], 0.9 * main_loss[n - 1] + 0.1 * aux_loss[n - 1], 1e-3 * loss[n - 1]);
    }
    px_tensor *preds[2] = {0};
    CHECK_OK(px_model_predict_arrays(m, xs, 2, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, preds));
    CHECK(preds[0] && preds[1] && preds[0]->shape[0] == 442 && preds[1]->shape[1] == 1);
    px_tensor_free(preds[0]);
    px_tensor_free(preds[1]);
    px_model_free(m);
    px_tensor_free(xa);
    px_tensor_free(xb);
    px_scaler_clear(&sc);
    px_scaler_clear(&ts);
    px_dataset_free(feat);
    px_dataset_free(target);
}

/* The first n images of the course's training part (the 55,000 after its 5,000
 * validation images), the validation images, and the test set. */
static bool course_subset(int64_t n, px_dataset **train, px_dataset **valid, px_dataset **test) {
    px_dataset *all = NULL;
    if (px_fashion_mnist_load(NULL, 55000, &all, valid, test) != PX_OK) return false;
    *train = px_dataset_slice(all, 0, n);
    px_dataset_free(all);
    return *train != NULL;
}

static void test_fashion_mnist_subset(void) {
    px_dataset *train = NULL, *rest = NULL, *test = NULL;
    if (!course_subset(5000, &train, &rest, &test)) {
        px_test_skip("fashion-mnist subset: %s", px_last_error());
        return;
    }
    px_dataset *test_part = px_dataset_slice(test, 0, 2000);
    px_set_random_seed(11);
    px_model *m = px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(300, PX_RELU),
                                               px_dense(100, PX_RELU), px_dense(10, PX_SOFTMAX), NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 0.01f}),
                                                       .metrics = {PX_ACCURACY}}));
    px_fit_options o = quiet;
    o.epochs = 4;
    CHECK_OK(px_model_fit(m, train, &o));
    px_logs logs = {0};
    CHECK_OK(px_model_evaluate(m, test_part, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    double acc = 0;
    px_logs_get(&logs, "accuracy", &acc);
    printf("fashion-mnist: 5,000 images, 4 epochs: test accuracy %.4f\n", acc);
    CHECK(acc >= 0.76);
    px_model_free(m);
    px_dataset_free(train);
    px_dataset_free(rest);
    px_dataset_free(test);
    px_dataset_free(test_part);
}

/* The course's ConvNet, short: 4,000 images, 3 epochs, Adam, batch 64. */
static void test_course_convnet_short(void) {
    px_dataset *train = NULL, *rest = NULL, *test = NULL;
    if (!course_subset(4000, &train, &rest, &test)) {
        px_test_skip("course ConvNet: %s", px_last_error());
        return;
    }
    px_dataset *test_part = px_dataset_slice(test, 0, 1000);
    px_set_random_seed(3);
    px_conv_options c1 = {.padding = PX_PADDING_SAME, .activation = PX_RELU};
    px_conv_options c2 = {.strides = {2, 2}, .padding = PX_PADDING_SAME, .activation = PX_RELU};
    px_model *m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(28, 28), NULL), px_reshape_layer(PX_SHAPE(28, 28, 1)),
        px_conv2d_layer(4, 5, 5, &c1), px_conv2d_layer(8, 4, 4, &c2), px_conv2d_layer(12, 4, 4, &c2),
        px_flatten(PX_SCALAR), px_dense(200, PX_RELU), px_dense(10, PX_SOFTMAX), NULL});
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_adam(NULL), .metrics = {PX_ACCURACY}}));
    px_fit_options o = quiet;
    o.epochs = 3;
    o.batch_size = 64;
    CHECK_OK(px_model_fit(m, train, &o));
    px_logs logs = {0};
    CHECK_OK(px_model_evaluate(m, test_part, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    double acc = 0;
    px_logs_get(&logs, "accuracy", &acc);
    printf("course ConvNet: 4,000 images, 3 epochs: test accuracy %.4f\n", acc);
    CHECK(acc >= 0.72);
    px_model_free(m);
    px_dataset_free(train);
    px_dataset_free(rest);
    px_dataset_free(test);
    px_dataset_free(test_part);
}

int main(void) {
    RUN_TEST(test_xor_reaches_full_accuracy);
    RUN_TEST(test_iris_held_out_accuracy);
    RUN_TEST(test_wide_and_deep_two_losses);
    RUN_TEST(test_fashion_mnist_subset);
    RUN_TEST(test_course_convnet_short);
    return px_test_finish();
}
