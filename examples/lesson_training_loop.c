/* Lesson: a training loop written from scratch (Keras's guide of that name) on iris:
 * each step gathers a shuffled batch, asks the model for the compiled loss's gradients
 * and hands them to the optimizer with apply_gradients; the model is then called
 * on the data without training behaviour to measure the accuracy.
 * Usage: lesson_training_loop [iris.csv] */
#include <stdio.h>
#include <stdlib.h>

#include <plexus/plexus.h>

static int fail(const char *what) {
    fprintf(stderr, "lesson_training_loop: %s: %s\n", what, px_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/data/iris.csv";
    enum { EPOCHS = 60, BATCH = 16 };
    px_dataset *iris = NULL;
    px_scaler sc = {0};
    if (px_csv_read(path, &(px_csv_options){.header = true, .label_column = -1}, &iris) != PX_OK ||
        px_scaler_fit(&sc, iris->x) != PX_OK || px_scaler_transform(&sc, iris->x) != PX_OK)
        return fail(path);
    int64_t n = iris->x->shape[0];

    px_set_random_seed(4);
    px_model *model = px_sequential((px_layer *[]){
        px_dense_ex(16, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(4)}),
        px_dense(3, PX_SOFTMAX), NULL});
    /* compile gives the loss the gradients are taken of, and the optimizer */
    if (!model || px_model_compile(model, &(px_compile_options){
                      .loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                      .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.01f}),
                      .metrics = {PX_ACCURACY}}) != PX_OK ||
        px_model_build(model, PX_SHAPE(4)) != PX_OK)
        return fail("model");
    px_tensor **weights = NULL;
    int n_weights = 0;
    if (px_model_trainable_weights(model, &weights, &n_weights) != PX_OK) return fail("trainable_weights");
    px_tensor **grads = calloc((size_t)n_weights, sizeof *grads);
    int64_t *order = malloc(sizeof *order * (size_t)n);
    if (!grads || !order) return fail("memory");
    px_optimizer *opt = px_model_optimizer(model);
    px_rng rng = px_rng_seeded(1);

    for (int epoch = 1; epoch <= EPOCHS; epoch++) {
        for (int64_t i = 0; i < n; i++) order[i] = i;
        px_rng_shuffle_i64(&rng, order, n);
        double loss_sum = 0;
        for (int64_t start = 0; start < n; start += BATCH) {
            int64_t rows = n - start < BATCH ? n - start : BATCH;
            /* the batch: rows order[start .. start + rows) of x and y */
            px_tensor *xb = px_tensor_gather(iris->x, 0, order + start, rows);
            px_tensor *yb = px_tensor_gather(iris->y, 0, order + start, rows);
            px_logs logs = {0};
            double loss = 0;
            if (!xb || !yb || px_model_compute_gradients(model, &(px_arrays){&xb, 1, &yb, 1}, grads, &logs) != PX_OK ||
                px_optimizer_apply_gradients(opt, grads, weights, n_weights) != PX_OK)
                return fail("training step");
            px_logs_get(&logs, "loss", &loss);
            loss_sum += loss * (double)rows;
            for (int i = 0; i < n_weights; i++) px_tensor_free(grads[i]);
            px_tensor_free(xb);
            px_tensor_free(yb);
        }
        if (epoch % 20 == 0) printf("epoch %d: mean loss %.4f\n", epoch, loss_sum / (double)n);
    }

    /* model(x, training=False), and the accuracy of its most probable classes */
    px_tensor *probs = NULL;
    if (px_model_call(model, &iris->x, 1, false, &probs) != PX_OK) return fail("call");
    int64_t right = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *p = px_tensor_f32(probs) + i * 3;
        int best = p[1] > p[0] ? 1 : 0;
        if (p[2] > p[best]) best = 2;
        right += best == (int)px_tensor_get_flat(iris->y, i);
    }
    printf("training accuracy %.4f on %lld flowers\n", (double)right / (double)n, (long long)n);
    px_tensor_free(probs);
    free(order);
    free(grads);
    free(weights);
    px_model_free(model);
    px_scaler_clear(&sc);
    px_dataset_free(iris);
    return 0;
}
