/* XOR cannot be computed by one threshold unit, but a 2-2-1 network learns it. */
#include <stdio.h>

#include <plexus/plexus.h>

int main(void) {
    float xv[8] = {0, 0, 0, 1, 1, 0, 1, 1}, yv[4] = {0, 1, 1, 0};
    px_dataset *data = px_dataset_new(px_tensor_from_array(PX_SHAPE(4, 2), xv, 8),
                                      px_tensor_from_array(PX_SHAPE(4, 1), yv, 4));
    px_set_random_seed(7);
    px_model *model = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(2), "x"), px_dense(2, PX_TANH), px_dense(1, PX_SIGMOID), NULL});
    if (!data || !model ||
        px_model_compile(model, &(px_compile_options){
            .loss = PX_BINARY_CROSSENTROPY,
            .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.05f}),
            .metrics = {PX_ACCURACY}}) != PX_OK ||
        px_model_fit(model, data, &(px_fit_options){.epochs = 500, .batch_size = 4, .verbose = PX_VERBOSE_SILENT}) != PX_OK)
        return fprintf(stderr, "xor: %s\n", px_last_error()), 1;
    px_tensor *p = px_model_predict(model, data->x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    if (!p) return fprintf(stderr, "xor: %s\n", px_last_error()), 1;
    printf("x1 x2 | xor | network\n");
    for (int i = 0; i < 4; i++)
        printf(" %g  %g |  %g  | %.3f -> %d\n", xv[2 * i], xv[2 * i + 1], yv[i], px_tensor_f32(p)[i],
               px_tensor_f32(p)[i] > 0.5f);
    px_tensor_free(p);
    px_model_free(model);
    px_dataset_free(data);
    return 0;
}
