/* Custom training loops: apply_gradients against SGD's formulas worked by hand, a
 * from-scratch loop (compute_gradients, apply_gradients) giving fit's weights bit for
 * bit, and the model called with and without training behaviour. */
#include <math.h>
#include <stdlib.h>

#include "px_test.h"

/* SGD with momentum 0.5, lr 0.1, clipnorm 1 over two variables: each gradient is
 * clipped by its own norm (Keras's clipnorm is per variable), v = 0.5 v - 0.1 g,
 * w += v. By hand: g_a = (3, 4) has norm 5 and becomes (0.6, 0.8); g_b = (0.5) stays. */
static void test_apply_gradients_by_hand(void) {
    px_tensor *a = px_tensor_from_array(PX_SHAPE(2), (const float[]){1, 2}, 2);
    px_tensor *b = px_tensor_from_array(PX_SHAPE(1, 1), (const float[]){-1}, 1);
    px_tensor *ga = px_tensor_from_array(PX_SHAPE(2), (const float[]){3, 4}, 2);
    px_tensor *gb = px_tensor_from_array(PX_SHAPE(1, 1), (const float[]){0.5f}, 1);
    px_optimizer *opt = px_sgd(&(px_optimizer_options){.learning_rate = 0.1f, .momentum = 0.5f, .clipnorm = 1});
    px_tensor *vars[2] = {a, b}, *grads[2] = {ga, gb};
    CHECK_OK(px_optimizer_apply_gradients(opt, grads, vars, 2));
    /* step 1: v_a = (-0.06, -0.08), v_b = -0.05 */
    CHECK_NEAR(px_tensor_f32(a)[0], 0.94, 1e-6);
    CHECK_NEAR(px_tensor_f32(a)[1], 1.92, 1e-6);
    CHECK_NEAR(px_tensor_f32(b)[0], -1.05, 1e-6);
    CHECK_OK(px_optimizer_apply_gradients(opt, grads, vars, 2));
    /* step 2: v_a = 0.5 v_a - (0.06, 0.08) = (-0.09, -0.12), v_b = -0.025 - 0.05 */
    CHECK_NEAR(px_tensor_f32(a)[0], 0.85, 1e-6);
    CHECK_NEAR(px_tensor_f32(a)[1], 1.80, 1e-6);
    CHECK_NEAR(px_tensor_f32(b)[0], -1.125, 1e-6);
    CHECK(px_optimizer_iterations(opt) == 2);

    /* the state belongs to the first call's variables, in their order */
    px_tensor *swapped_v[2] = {b, a}, *swapped_g[2] = {gb, ga};
    CHECK(px_optimizer_apply_gradients(opt, swapped_g, swapped_v, 2) == PX_ERR_ARG);
    CHECK_ERROR_HAS("pass the same variables in the same order");
    CHECK(px_optimizer_apply_gradients(opt, grads, vars, 1) == PX_ERR_ARG);
    px_tensor *wrong[2] = {gb, ga};
    CHECK(px_optimizer_apply_gradients(opt, wrong, vars, 2) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("gradient 0 has shape (1, 1), its variable (2,)");
    CHECK(px_optimizer_apply_gradients(opt, grads, vars, 0) == PX_ERR_ARG);
    CHECK(px_optimizer_apply_gradients(NULL, grads, vars, 2) == PX_ERR_ARG);
    /* nothing moved on the refused calls */
    CHECK_NEAR(px_tensor_f32(a)[0], 0.85, 1e-6);
    px_optimizer_free(opt);
    px_tensor *all[] = {a, b, ga, gb};
    for (int i = 0; i < 4; i++) px_tensor_free(all[i]);
}

static px_model *small_classifier(uint64_t seed, float clipnorm) {
    px_set_random_seed(seed);
    px_model *m = px_sequential((px_layer *[]){
        px_dense_ex(8, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(5)}),
        px_dense_ex(3, &(px_dense_options){.activation = PX_SOFTMAX,
                                           .kernel_regularizer = PX_L2(1e-3f)}),
        NULL});
    if (m && px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                        .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.01f,
                                                                                                  .clipnorm = clipnorm}),
                                                        .metrics = {PX_ACCURACY}}) != PX_OK) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

/* Keras's "writing a training loop from scratch": for each batch, the loss's gradients
 * and apply_gradients. Unshuffled batches of 16 of 70 rows (the last one short), two
 * epochs: the weights are fit's, bit for bit. With a clipnorm that binds, fit clips each
 * variable's gradient by its own norm, as apply_gradients (and Keras) do. */
static void loop_from_scratch_equals_fit(float clipnorm) {
    enum { N = 70, BATCH = 16, EPOCHS = 2 };
    px_rng rng = px_rng_seeded(11);
    px_tensor *x = px_tensor_random_normal(PX_SHAPE(N, 5), 0, 1, &rng);
    px_tensor *y = px_tensor_new(PX_I32, PX_SHAPE(N));
    CHECK_NOT_NULL(x);
    CHECK_NOT_NULL(y);
    if (!x || !y) return;
    for (int i = 0; i < N; i++) /* the class of the larger of three sums */
        px_tensor_i32(y)[i] = px_tensor_f32(x)[i * 5] > 0 ? (px_tensor_f32(x)[i * 5 + 1] > 0 ? 2 : 1) : 0;

    px_model *fitted = small_classifier(5, clipnorm), *looped = small_classifier(5, clipnorm);
    CHECK_NOT_NULL(fitted);
    CHECK_NOT_NULL(looped);
    if (!fitted || !looped) return;
    CHECK_OK(px_model_fit_arrays(fitted, &(px_arrays){&x, 1, &y, 1},
                                 &(px_fit_options){.epochs = EPOCHS, .batch_size = BATCH, .no_shuffle = true,
                                                   .verbose = PX_VERBOSE_SILENT}));

    CHECK_OK(px_model_build(looped, PX_SHAPE(5)));
    px_tensor **weights = NULL;
    int n_w = 0;
    CHECK_OK(px_model_trainable_weights(looped, &weights, &n_w));
    CHECK(n_w == 4); /* two kernels, two biases */
    px_tensor *grads[4] = {0};
    px_optimizer *opt = px_model_optimizer(looped);
    double first_loss = NAN;
    for (int epoch = 0; epoch < EPOCHS; epoch++)
        for (int start = 0; start < N; start += BATCH) {
            int stop = start + BATCH < N ? start + BATCH : N;
            px_tensor *xb = px_tensor_slice(x, start, stop), *yb = px_tensor_slice(y, start, stop);
            px_logs logs = {0};
            CHECK_OK(px_model_compute_gradients(looped, &(px_arrays){&xb, 1, &yb, 1}, grads, &logs));
            if (epoch == 0 && start == 0) px_logs_get(&logs, "loss", &first_loss);
            CHECK_OK(px_optimizer_apply_gradients(opt, grads, weights, n_w));
            for (int i = 0; i < n_w; i++) px_tensor_free(grads[i]);
            px_tensor_free(xb);
            px_tensor_free(yb);
        }
    free(weights);

    px_tensor **wf = NULL, **wl = NULL;
    int nf = 0, nl = 0;
    CHECK_OK(px_model_get_weights(fitted, &wf, &nf));
    CHECK_OK(px_model_get_weights(looped, &wl, &nl));
    CHECK(nf == nl && nf == 4);
    for (int i = 0; i < nf && i < nl; i++) CHECK(px_tensor_equal(wf[i], wl[i]));
    for (int i = 0; i < nf; i++) px_tensor_free(wf[i]);
    for (int i = 0; i < nl; i++) px_tensor_free(wl[i]);
    free(wf);
    free(wl);

    /* the logged loss of a batch is the one evaluate gives on it before any update */
    px_model *fresh = small_classifier(5, clipnorm);
    px_tensor *x0 = px_tensor_slice(x, 0, BATCH), *y0 = px_tensor_slice(y, 0, BATCH);
    px_logs ev = {0};
    double ev_loss = NAN;
    CHECK_OK(px_model_evaluate_arrays(fresh, &(px_arrays){&x0, 1, &y0, 1},
                                      &(px_eval_options){.batch_size = BATCH, .verbose = PX_VERBOSE_SILENT}, &ev));
    CHECK(px_logs_get(&ev, "loss", &ev_loss));
    CHECK_NEAR(first_loss, ev_loss, 1e-6);

    /* errors: an uncompiled model has no loss to differentiate */
    px_model *bare = px_sequential((px_layer *[]){px_dense_ex(2, &(px_dense_options){.input_shape = PX_SHAPE(5)}), NULL});
    CHECK(px_model_compute_gradients(bare, &(px_arrays){&x0, 1, &y0, 1}, grads, NULL) == PX_ERR_STATE);
    CHECK_ERROR_HAS("must be compiled first");
    px_model_free(bare);
    px_tensor_free(x0);
    px_tensor_free(y0);
    px_model_free(fresh);
    px_model_free(fitted);
    px_model_free(looped);
    px_tensor_free(x);
    px_tensor_free(y);
}

static void test_loop_from_scratch_equals_fit(void) {
    loop_from_scratch_equals_fit(0);
    loop_from_scratch_equals_fit(0.05f);
}

/* model(x, training=...): Dropout(0.5) alone passes x at inference and, in training,
 * zeroes entries or doubles them (Keras scales the kept ones by 1 / (1 - rate)). */
static void test_call_training_flag(void) {
    px_set_random_seed(3);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(50), "x"), px_dropout_layer(0.5f), NULL});
    CHECK_NOT_NULL(m);
    px_rng rng = px_rng_seeded(2);
    px_tensor *x = px_tensor_random_uniform(PX_SHAPE(4, 50), 1, 2, &rng);
    px_tensor *out = NULL;
    CHECK_OK(px_model_call(m, &x, 1, false, &out));
    CHECK(out && px_tensor_equal(out, x));
    px_tensor_free(out);
    out = NULL;
    CHECK_OK(px_model_call(m, &x, 1, true, &out));
    int zeros = 0, doubled = 0;
    for (int i = 0; out && i < 200; i++) {
        float o = px_tensor_f32(out)[i], v = px_tensor_f32(x)[i];
        zeros += o == 0;
        doubled += o == 2 * v;
    }
    CHECK(zeros + doubled == 200);
    CHECK(zeros > 50 && doubled > 50); /* 200 fair coins: fewer than 51 of either is below 1e-12 */
    px_tensor_free(out);
    CHECK(px_model_call(m, NULL, 1, true, &out) == PX_ERR_ARG);
    px_tensor_free(x);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_apply_gradients_by_hand);
    RUN_TEST(test_loop_from_scratch_equals_fit);
    RUN_TEST(test_call_training_flag);
    return px_test_finish();
}
