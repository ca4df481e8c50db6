/* The course's Wide & Deep model: a wide path (5 features straight to the output)
 * and a deep path (6 features through two hidden layers), with an auxiliary
 * output on the deep path; losses weighted 0.9 and 0.1. On the diabetes data.
 * Usage: wide_deep [data-dir]   (default: tests/data) */
#include <stdio.h>

#include <plexus/plexus.h>

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/data";
    char xs[1024], ys[1024];
    snprintf(xs, sizeof xs, "%s/diabetes_data_raw.csv.gz", dir);
    snprintf(ys, sizeof ys, "%s/diabetes_target.csv.gz", dir);
    px_dataset *all = NULL;
    px_scaler sx = {0}, sy = {0};
    if (!(all = px_dataset_from_xy_files(xs, ys, &(px_csv_options){.delimiter = ' ', .float_labels = true})) ||
        px_scaler_fit(&sx, all->x) != PX_OK || px_scaler_transform(&sx, all->x) != PX_OK ||
        px_scaler_fit(&sy, all->y) != PX_OK || px_scaler_transform(&sy, all->y) != PX_OK)
        return fprintf(stderr, "wide_deep: %s\n", px_last_error()), 1;

    px_model *m = px_functional("wide_deep");
    px_node *input_a = px_model_input(m, PX_SHAPE(5), "wide_input");
    px_node *input_b = px_model_input(m, PX_SHAPE(6), "deep_input");
    px_node *hidden1 = px_apply(px_dense(30, PX_RELU), input_b);
    px_node *hidden2 = px_apply(px_dense(30, PX_RELU), hidden1);
    px_node *concat = px_apply_n(px_concatenate(-1), (px_node *[]){input_a, hidden2}, 2);
    px_node *output = px_apply(px_dense_ex(1, &(px_dense_options){.name = "main_output"}), concat);
    px_node *aux = px_apply(px_dense_ex(1, &(px_dense_options){.name = "aux_output"}), hidden2);
    if (px_model_set_outputs(m, (px_node *[]){output, aux}, 2) != PX_OK ||
        px_model_summary(m, stdout) != PX_OK ||
        px_model_compile(m, &(px_compile_options){
            .loss = PX_MEAN_SQUARED_ERROR, .loss_weights = {0.9f, 0.1f},
            .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 1e-2f})}) != PX_OK)
        return fprintf(stderr, "wide_deep: %s\n", px_last_error()), 1;

    /* x[:, 0:5] and x[:, 4:10] as strided views of the data (fit copies them once) */
    px_tensor *xa = px_tensor_view_ranges(all->x, (px_range[]){PX_ALL, PX_RANGE(0, 5)}, 2);
    px_tensor *xb = px_tensor_view_ranges(all->x, (px_range[]){PX_ALL, PX_RANGE(4, 10)}, 2);
    if (!xa || !xb) return fprintf(stderr, "wide_deep: %s\n", px_last_error()), 1;
    px_tensor *x[2] = {xa, xb}, *y[2] = {all->y, all->y};
    if (px_model_fit_arrays(m, &(px_arrays){x, 2, y, 2},
                            &(px_fit_options){.epochs = 20, .validation_split = 0.2f, .verbose = PX_VERBOSE_EPOCH}) != PX_OK)
        return fprintf(stderr, "wide_deep: %s\n", px_last_error()), 1;
    int n = 0;
    const px_history *h = px_model_history(m);
    const double *main_loss = px_history_get(h, "main_output_loss", &n), *aux_loss = px_history_get(h, "aux_output_loss", NULL);
    printf("last epoch: main_output_loss %.4f, aux_output_loss %.4f (scaled targets)\n", main_loss[n - 1], aux_loss[n - 1]);
    px_tensor_free(xa);
    px_tensor_free(xb);
    px_model_free(m);
    px_scaler_clear(&sx);
    px_scaler_clear(&sy);
    px_dataset_free(all);
    return 0;
}
