/* Data-parallel training gives the one-process result: under mpirun with 1, 2
 * or 3 ranks (CTest runs each), every rank trains a model alone on the whole
 * global batch and the same model as a replica, and the weights must agree
 * within 1e-5 (relative to the largest weight of each tensor) for SGD with
 * momentum and Adam, with Dense, Conv2D and BatchNormalization layers; the
 * History must be the same bits on every rank. Why not bit-equal: each rank
 * sums its own rows' gradients, then the ranks' sums are added, a different
 * order of float additions than one sum over the whole batch (also in the
 * loss's mean: 1/rows times the rank's share is not 1/global rows in float).
 * With one rank the result is bit-identical. The Dense layer in front of
 * BatchNormalization has no bias: that bias's true gradient is zero (the
 * normalization removes any shift), so it would move by rounding noise alone,
 * which differs with the order of the sums (it measured up to 9e-6 relative to
 * its own tiny values). */
#include <stdlib.h>
#include <string.h>

#include "dist/dist_internal.h"
#include "px_test.h"

static int rank_, size_;

enum { N = 80 + 21, FEAT = 12, SIDE = 6, CLASSES = 3 };

/* Inputs from a fixed generator; the label is the largest of three linear
 * scores, so there is something to learn. */
static px_dataset *make_data(bool image) {
    px_rng r = px_rng_seeded(5);
    int per = image ? SIDE * SIDE : FEAT;
    px_tensor *x = image ? px_tensor_zeros(PX_SHAPE(N, SIDE, SIDE, 1)) : px_tensor_zeros(PX_SHAPE(N, FEAT));
    px_tensor *y = px_tensor_new(PX_I32, PX_SHAPE(N));
    for (int i = 0; i < N; i++) {
        float score[CLASSES] = {0};
        for (int j = 0; j < per; j++) {
            float v = px_rng_normal(&r) + 0.5f;
            px_tensor_f32(x)[i * per + j] = v;
            for (int k = 0; k < CLASSES; k++) score[k] += v * (float)(((j * 7 + k * 3) % 5) - 2);
        }
        int best = 0;
        for (int k = 1; k < CLASSES; k++)
            if (score[k] > score[best]) best = k;
        px_tensor_i32(y)[i] = best;
    }
    return px_dataset_new(x, y);
}

static px_model *make_model(bool image) {
    px_set_random_seed(11);
    if (!image)
        /* no bias in front of BatchNormalization, as Keras advises: its true
         * gradient is zero, so it would move by rounding noise alone */
        return px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(FEAT), "x"),
                                            px_dense_ex(16, &(px_dense_options){.activation = PX_RELU, .no_bias = true}),
                                            px_batch_normalization(), px_dense(CLASSES, PX_SOFTMAX), NULL});
    return px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(SIDE, SIDE, 1), "x"),
                                        px_conv2d_layer(4, 3, 3, &(px_conv_options){.activation = PX_RELU}),
                                        px_batch_normalization(), px_flatten(PX_SCALAR),
                                        px_dense(CLASSES, PX_SOFTMAX), NULL});
}

/* Freezes the last layer when the second epoch begins: the parameter block is
 * laid out anew in the middle of fit (every replica's callback does it). */
static px_status freeze_last(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)cb, (void)logs;
    if (epoch == 1) px_layer_set_trainable(px_model_layer(m, px_model_layer_count(m) - 1), false);
    return PX_OK;
}

static px_model *train(bool image, bool adam, const px_dataset *d, px_strategy *s, bool freeze) {
    px_model *m = make_model(image);
    px_optimizer *opt = adam ? px_adam(&(px_optimizer_options){.learning_rate = 0.01f})
                             : px_sgd(&(px_optimizer_options){.learning_rate = 0.05f, .momentum = 0.5f});
    if (!m || px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = opt,
                                                        .metrics = {PX_ACCURACY}}) != PX_OK) {
        px_test_fail(__FILE__, __LINE__, "cannot build the model: %s", px_last_error());
        px_model_free(m);
        return NULL;
    }
    /* 80 training rows in global batches of 26: the last batch has 2 rows, so with
     * 3 ranks one rank has none and runs a stand-in row */
    px_callback cb = {.name = "freeze", .on_epoch_begin = freeze_last};
    px_callback *cbs[] = {&cb};
    px_status st = px_model_fit(m, d, &(px_fit_options){.epochs = 3, .batch_size = 26, .validation_split = 21.0f / N,
                                                        .verbose = PX_VERBOSE_SILENT, .strategy = s,
                                                        .callbacks = cbs, .n_callbacks = freeze});
    if (st != PX_OK) {
        px_test_fail(__FILE__, __LINE__, "fit: %s", px_last_error());
        px_model_free(m);
        return NULL;
    }
    return m;
}

/* max |a - b| / max |a| over each weight tensor, the worst tensor's. */
static double weight_error(px_model *a, px_model *b) {
    px_tensor **wa = NULL, **wb = NULL;
    int na = 0, nb = 0;
    double worst = 0;
    if (px_model_get_weights(a, &wa, &na) != PX_OK || px_model_get_weights(b, &wb, &nb) != PX_OK || na != nb) return 1e9;
    for (int i = 0; i < na; i++) {
        double diff = 0, scale = 0;
        for (int64_t j = 0; j < px_tensor_size(wa[i]); j++) {
            double x = px_tensor_f32(wa[i])[j], y = px_tensor_f32(wb[i])[j];
            diff = fmax(diff, fabs(x - y));
            scale = fmax(scale, fabs(x));
        }
        worst = fmax(worst, diff / fmax(scale, 1e-12));
    }
    for (int i = 0; i < na; i++) px_tensor_free(wa[i]), px_tensor_free(wb[i]);
    free(wa);
    free(wb);
    return worst;
}

static void check_case(bool image, bool adam, bool freeze) {
    const char *name = freeze ? "dense+bn adam, last layer frozen after an epoch"
                       : image ? (adam ? "conv+bn adam" : "conv+bn sgd")
                               : (adam ? "dense+bn adam" : "dense+bn sgd");
    px_dataset *d = make_data(image);
    px_strategy *s = px_dist_strategy(NULL);
    CHECK_NOT_NULL(s);
    px_model *alone = train(image, adam, d, NULL, freeze), *replica = s ? train(image, adam, d, s, freeze) : NULL;
    if (alone && replica) {
        double err = weight_error(alone, replica);
        if (rank_ == 0) printf("%s, %d ranks: weights within %.2e of one process\n", name, size_, err);
        CHECK(err <= 1e-5);
        /* the History: close to one process's, and the same bits on every rank */
        const px_history *ha = px_model_history(alone), *hr = px_model_history(replica);
        CHECK(px_history_key_count(ha) == px_history_key_count(hr) && px_history_key_count(hr) == 4);
        double mine[4 * 3] = {0}, all[3 * 4 * 3];
        for (int k = 0; k < px_history_key_count(hr) && k < 4; k++) {
            int n1 = 0, n2 = 0;
            const double *va = px_history_get(ha, px_history_key(hr, k), &n1), *vr = px_history_get(hr, px_history_key(hr, k), &n2);
            CHECK(va && vr && n1 == 3 && n2 == 3);
            for (int e = 0; va && vr && e < 3 && e < n2; e++) {
                CHECK_NEAR(vr[e], va[e], 1e-5 * fmax(1, fabs(va[e])));
                mine[k * 3 + e] = vr[e];
            }
        }
        if (size_ <= 3) {
            CHECK_OK(px_comm_allgather(px_dist_job(0), mine, sizeof mine, all));
            for (int r = 1; r < size_; r++) CHECK(memcmp(all, all + r * 12, sizeof mine) == 0);
        }
    }
    px_model_free(alone);
    px_model_free(replica);
    px_strategy_free(s);
    px_dataset_free(d);
}

static void test_dense_sgd(void) { check_case(false, false, false); }
static void test_dense_adam(void) { check_case(false, true, false); }
static void test_conv_sgd(void) { check_case(true, false, false); }
static void test_conv_adam(void) { check_case(true, true, false); }
static void test_dense_adam_freeze(void) { check_case(false, true, true); }

int main(int argc, char **argv) {
    if (!px_dist_available()) {
        px_test_skip("this build has no MPI");
        return px_test_finish();
    }
    if (px_dist_init(&argc, &argv) != PX_OK) {
        fprintf(stderr, "%s\n", px_last_error());
        return 1;
    }
    rank_ = px_dist_rank();
    size_ = px_dist_size();
    px_set_num_threads(1);
    RUN_TEST(test_dense_sgd);
    RUN_TEST(test_dense_adam);
    RUN_TEST(test_conv_sgd);
    RUN_TEST(test_conv_adam);
    RUN_TEST(test_dense_adam_freeze);
    int rc = px_test_finish();
    return px_dist_finalize(rc == 0 ? PX_OK : PX_ERR_STATE) == PX_OK ? rc : 1;
}
