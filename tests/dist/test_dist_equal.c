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
 * its own tiny values).
 * Also: replicas that start unlike rank 0 (weights, optimizer state, learning
 * rate, shuffling) train as rank 0's model; evaluate with the strategy gives
 * one process's loss and accuracy; chief-only callbacks run on rank 0 only.
 * With PX_DEVICE=ref (test_dist_equal_np2_on_ref) every replica trains on the
 * reference device and the devices sum the gradients between the processes
 * (src/backend/ref/ref_comm.c, where a GPU uses NCCL), bucket by bucket as the
 * backward pass fills them (small buckets, so there are several), or the whole
 * block after the run (no_overlap, the dense Adam case); the model without
 * batch normalization has no op on the CPU, so its steps are recorded once and
 * replayed with their sums in them. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/ref/ref.h"
#include "dist/dist_internal.h"
#include "px_test.h"

static int rank_, size_;
static bool plain_; /* the dense model without batch normalization */

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

static px_model *make_model(bool image, uint64_t seed) {
    px_set_random_seed(seed);
    if (!image && plain_)
        return px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(FEAT), "x"), px_dense(16, PX_RELU),
                                            px_dense(CLASSES, PX_SOFTMAX), NULL});
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

/* The model of seed `seed`, compiled with the case's optimizer; NULL (and a
 * failed check) when that fails. */
static px_model *compiled(bool image, bool adam, uint64_t seed, float learning_rate) {
    px_model *m = make_model(image, seed);
    px_optimizer *opt = adam ? px_adam(&(px_optimizer_options){.learning_rate = learning_rate})
                             : px_sgd(&(px_optimizer_options){.learning_rate = learning_rate, .momentum = 0.5f});
    if (!m || px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = opt,
                                                        .metrics = {PX_ACCURACY}}) != PX_OK) {
        px_test_fail(__FILE__, __LINE__, "cannot build the model: %s", px_last_error());
        px_model_free(m);
        return NULL;
    }
    return m;
}

static px_model *train(bool image, bool adam, const px_dataset *d, px_strategy *s, bool freeze) {
    px_model *m = compiled(image, adam, 11, adam ? 0.01f : 0.05f);
    if (!m) return NULL;
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

/* Gathers n doubles from every rank; whether all ranks sent the same bits. */
static bool same_on_every_rank(const double *mine, int n) {
    double all[3 * 12];
    if (size_ > 3 || n > 12) return true; /* the suite runs 1 to 3 ranks */
    if (px_comm_allgather(px_dist_job(0), mine, (size_t)n * sizeof *mine, all) != PX_OK) return false;
    for (int r = 1; r < size_; r++)
        if (memcmp(all, all + r * n, (size_t)n * sizeof *mine) != 0) return false;
    return true;
}

static void check_case(bool image, bool adam, bool freeze) {
    const char *name = freeze ? "dense+bn adam, last layer frozen after an epoch"
                       : plain_ ? "dense sgd"
                       : image ? (adam ? "conv+bn adam" : "conv+bn sgd")
                               : (adam ? "dense+bn adam" : "dense+bn sgd");
    px_dataset *d = make_data(image);
    /* on the reference device (PX_DEVICE=ref) the devices sum the gradients
     * themselves, as GPUs do through NCCL; on the CPU the host does */
    const char *dev = getenv("PX_DEVICE");
    bool device_sums = dev && strcmp(dev, "ref") == 0, whole = device_sums && adam && !image && !freeze;
    px_strategy *s = px_dist_strategy(&(px_dist_options){.bucket_bytes = device_sums ? 16 : 0, .no_overlap = whole});
    CHECK_NOT_NULL(s);
    int replays = px_ref_replays();
    px_model *alone = train(image, adam, d, NULL, freeze), *replica = s ? train(image, adam, d, s, freeze) : NULL;
    px_dist_stats stats = {0};
    CHECK_OK(px_dist_get_stats(s, &stats));
    CHECK(stats.steps > 0 && stats.device_steps == (device_sums ? stats.steps : 0));
    /* a device sums in buckets (of 4 floats: one per layer here) while the backward pass goes on, or in one piece after it */
    if (device_sums) CHECK(whole ? stats.buckets == 1 : stats.buckets > 1);
    if (device_sums && plain_) CHECK(px_ref_replays() > replays); /* recorded steps, their sums in them */
    if (alone && replica) {
        double err = weight_error(alone, replica);
        if (rank_ == 0) printf("%s, %d ranks: weights within %.2e of one process\n", name, size_, err);
        CHECK(err <= 1e-5);
        /* the History: close to one process's, and the same bits on every rank */
        const px_history *ha = px_model_history(alone), *hr = px_model_history(replica);
        CHECK(px_history_key_count(ha) == px_history_key_count(hr) && px_history_key_count(hr) == 4);
        double mine[4 * 3] = {0};
        for (int k = 0; k < px_history_key_count(hr) && k < 4; k++) {
            int n1 = 0, n2 = 0;
            const double *va = px_history_get(ha, px_history_key(hr, k), &n1), *vr = px_history_get(hr, px_history_key(hr, k), &n2);
            CHECK(va && vr && n1 == 3 && n2 == 3);
            for (int e = 0; va && vr && e < 3 && e < n2; e++) {
                CHECK_NEAR(vr[e], va[e], 1e-5 * fmax(1, fabs(va[e])));
                mine[k * 3 + e] = vr[e];
            }
        }
        CHECK(same_on_every_rank(mine, 12));
    }
    px_model_free(alone);
    px_model_free(replica);
    px_strategy_free(s);
    px_dataset_free(d);
}

static px_status count_epoch(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)m, (void)epoch, (void)logs;
    (*(int *)cb->state)++;
    return PX_OK;
}

/* Rank 0's state is every replica's: the other ranks start from other initial
 * weights, another shuffling seed and another learning rate, and rank 0's Adam
 * has taken an epoch of steps (iterations and moment slots) that theirs has
 * not. Fit must start every replica from rank 0's weights, optimizer state and
 * generator, so that every rank ends as one process that went on training rank
 * 0's model. Then evaluate with the strategy (each rank evaluates its share):
 * the loss and accuracy of one process, the same bits on every rank. On the
 * way: chief-only callbacks (a CSVLogger, the progress display) run on rank 0
 * only, the others on every rank. */
static void check_rank0_state(px_model *alone, px_model *replica, const px_dataset *d, px_strategy *s) {
    char dir[] = "/tmp/px_dist_XXXXXX", csv[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(csv, sizeof csv, "%s/log.csv", dir);
    int chief_epochs = 0, every_epochs = 0;
    px_callback chief = {.name = "chief", .state = &chief_epochs, .on_epoch_end = count_epoch, .chief_only = true};
    px_callback every = {.name = "every", .state = &every_epochs, .on_epoch_end = count_epoch};
    px_callback *logger = px_csv_logger(csv, 0, false);
    px_callback *cbs[] = {&chief, &every, logger};
    FILE *out = tmpfile();
    px_fit_options more = {.epochs = 2, .batch_size = 26, .validation_split = 21.0f / N, .verbose = PX_VERBOSE_EPOCH,
                           .out = out, .callbacks = cbs, .n_callbacks = 3};
    CHECK_OK(px_model_fit(alone, d, &(px_fit_options){.epochs = 2, .batch_size = 26, .validation_split = 21.0f / N,
                                                       .verbose = PX_VERBOSE_SILENT}));
    more.strategy = s;
    CHECK_OK(px_model_fit(replica, d, &more));
    double err = weight_error(alone, replica);
    if (rank_ == 0) printf("rank 0's state, %d ranks: weights within %.2e of one process\n", size_, err);
    CHECK(err <= 1e-5);
    CHECK(chief_epochs == (rank_ == 0 ? 2 : 0) && every_epochs == 2);
    CHECK(access(csv, F_OK) == (rank_ == 0 ? 0 : -1));
    CHECK(out && (ftell(out) > 0) == (rank_ == 0));

    /* evaluate: the replica's own weights alone and with the strategy */
    px_logs one = {0}, shared = {0};
    CHECK_OK(px_model_evaluate(replica, d, &(px_eval_options){.batch_size = 26, .verbose = PX_VERBOSE_SILENT}, &one));
    CHECK_OK(px_model_evaluate(replica, d, &(px_eval_options){.batch_size = 26, .verbose = PX_VERBOSE_SILENT,
                                                               .strategy = s}, &shared));
    double v[4] = {NAN, NAN, NAN, NAN};
    CHECK(px_logs_get(&one, "loss", &v[0]) && px_logs_get(&shared, "loss", &v[1]));
    CHECK(px_logs_get(&one, "accuracy", &v[2]) && px_logs_get(&shared, "accuracy", &v[3]));
    /* float sums of per-batch values in another order: 2e-8 measured; one example
     * more or less right would move the accuracy by 1/101 */
    CHECK_NEAR(v[1], v[0], 1e-6 * fmax(1, fabs(v[0])));
    CHECK_NEAR(v[3], v[2], 1e-6);
    CHECK(same_on_every_rank(&v[1], 1) && same_on_every_rank(&v[3], 1));
    if (out) fclose(out);
    px_callback_free(logger);
    unlink(csv);
    rmdir(dir);
}

static void test_rank0_state(void) {
    px_dataset *d = make_data(false);
    px_strategy *s = px_dist_strategy(NULL);
    px_model *alone = compiled(false, true, 11, 0.01f);
    px_model *replica = rank_ == 0 ? compiled(false, true, 11, 0.01f) : compiled(false, true, 11 + 100 * (uint64_t)rank_, 0.3f);
    px_fit_options first = {.epochs = 1, .batch_size = 26, .validation_split = 21.0f / N, .verbose = PX_VERBOSE_SILENT};
    if (!s || !alone || !replica || px_model_fit(alone, d, &first) != PX_OK ||
        (rank_ == 0 && px_model_fit(replica, d, &first) != PX_OK))
        px_test_fail(__FILE__, __LINE__, "setting up: %s", px_last_error());
    else
        check_rank0_state(alone, replica, d, s);
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
static void test_dense_plain(void) {
    plain_ = true;
    check_case(false, false, false);
    plain_ = false;
}

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
    RUN_TEST(test_dense_plain);
    RUN_TEST(test_rank0_state);
    int rc = px_test_finish();
    return px_dist_finalize(rc == 0 ? PX_OK : PX_ERR_STATE) == PX_OK ? rc : 1;
}
