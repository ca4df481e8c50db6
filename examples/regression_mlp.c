/* The course's regression MLP: standard scaling fitted on the training part only,
 * Dense 30 relu -> Dense 1, mean squared error, on the diabetes data.
 * Usage: regression_mlp [data-dir]   (default: tests/data) */
#include <stdio.h>

#include <plexus/plexus.h>

#define CHECK(call)                                                         \
    do {                                                                    \
        if ((call) != PX_OK) {                                              \
            fprintf(stderr, "regression_mlp: %s\n", px_last_error());       \
            return 1;                                                       \
        }                                                                   \
    } while (0)

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/data";
    char xs[1024], ys[1024];
    snprintf(xs, sizeof xs, "%s/diabetes_data_raw.csv.gz", dir);
    snprintf(ys, sizeof ys, "%s/diabetes_target.csv.gz", dir);
    px_dataset *all = NULL, *train_full = NULL, *test = NULL, *train = NULL, *valid = NULL;
    if (!(all = px_dataset_from_xy_files(xs, ys, &(px_csv_options){.delimiter = ' ', .float_labels = true})))
        return fprintf(stderr, "regression_mlp: %s\n", px_last_error()), 1;
    CHECK(px_dataset_train_test_split(all, 0.2, 42, &train_full, &test));
    CHECK(px_dataset_train_test_split(train_full, 0.2, 42, &train, &valid));

    px_scaler scaler = {0};
    CHECK(px_scaler_fit(&scaler, train->x));
    CHECK(px_scaler_transform(&scaler, train->x));
    CHECK(px_scaler_transform(&scaler, valid->x));
    CHECK(px_scaler_transform(&scaler, test->x));

    px_model *model = px_sequential((px_layer *[]){
        px_dense_ex(30, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(10)}),
        px_dense(1, PX_LINEAR), NULL});
    if (!model) return fprintf(stderr, "regression_mlp: %s\n", px_last_error()), 1;
    CHECK(px_model_compile(model, &(px_compile_options){
        .loss = PX_MEAN_SQUARED_ERROR,
        .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 1e-3f}),
        .metrics = {PX_METRIC_MAE}}));
    CHECK(px_model_fit(model, train, &(px_fit_options){.epochs = 20, .validation = valid, .verbose = PX_VERBOSE_EPOCH}));
    px_logs result = {0};
    CHECK(px_model_evaluate(model, test, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &result));
    double mse = 0, mae = 0;
    px_logs_get(&result, "loss", &mse);
    px_logs_get(&result, "mae", &mae);
    printf("test MSE %.1f, MAE %.1f (disease progression units)\n", mse, mae);

    px_tensor *first = px_tensor_slice(test->x, 0, 3);
    px_tensor *pred = px_model_predict(model, first, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    for (int i = 0; pred && i < 3; i++)
        printf("patient %d: predicted %.1f, actual %.1f\n", i, px_tensor_f32(pred)[i], px_tensor_f32(test->y)[i]);
    px_tensor_free(pred);
    px_tensor_free(first);
    px_model_free(model);
    px_scaler_clear(&scaler);
    px_dataset_free(all);
    px_dataset_free(train_full);
    px_dataset_free(train);
    px_dataset_free(valid);
    px_dataset_free(test);
    return 0;
}
