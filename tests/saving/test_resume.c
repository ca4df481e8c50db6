/* Checkpoints: training resumed from a saved file ends bit for bit where
 * uninterrupted training ends, and a save killed midway never harms the previous file. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plexus/model_io.h"
#include "px_test.h"

static px_dataset *make_data(void) {
    px_tensor *x = px_tensor_zeros(PX_SHAPE(96, 6)), *y = px_tensor_zeros(PX_SHAPE(96));
    px_rng r = px_rng_seeded(77);
    for (int i = 0; i < 96; i++) {
        float s = 0;
        for (int j = 0; j < 6; j++) s += px_tensor_f32(x)[i * 6 + j] = 2 * px_rng_uniform(&r) - 1;
        px_tensor_f32(y)[i] = s > 0.3f ? 2.0f : s > -0.3f ? 1.0f : 0.0f;
    }
    return px_dataset_new(x, y);
}

static px_model *make_model(void) {
    px_set_random_seed(1234);
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(16, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(6)}),
                                               px_dropout_layer(0.2f), px_dense(3, PX_SOFTMAX), NULL});
    if (m && px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.01f}),
                                                       .metrics = {PX_ACCURACY}}) != PX_OK) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

static bool same_weights(px_model *a, px_model *b) {
    px_tensor **wa = NULL, **wb = NULL;
    int na = 0, nb = 0;
    if (px_model_get_weights(a, &wa, &na) || px_model_get_weights(b, &wb, &nb)) return false;
    bool same = na == nb && na > 0;
    for (int i = 0; same && i < na; i++)
        same = px_shape_equal(px_tensor_shape(wa[i]), px_tensor_shape(wb[i])) &&
               memcmp(wa[i]->data, wb[i]->data, (size_t)px_tensor_size(wa[i]) * 4) == 0;
    for (int i = 0; i < na; i++) px_tensor_free(wa[i]);
    for (int i = 0; i < nb; i++) px_tensor_free(wb[i]);
    free(wa), free(wb);
    return same;
}

/* 4 epochs at once == 2 epochs, save, load into a new model, 2 more (Adam,
 * shuffling and dropout on), through a .h5 file and through a .keras archive. */
static void resume_through(const char *file) {
    px_dataset *d = make_data();
    px_model *full = make_model(), *half = make_model();
    CHECK_NOT_NULL(full);
    CHECK_NOT_NULL(half);
    if (!full || !half) return;
    px_fit_options o = {.epochs = 4, .batch_size = 10, .verbose = PX_VERBOSE_SILENT};
    CHECK_OK(px_model_fit(full, d, &o));
    o.epochs = 2;
    CHECK_OK(px_model_fit(half, d, &o));
    const char *path = px_test_tmp_path(file);
    CHECK_OK(px_model_save(half, path));
    px_model_free(half);
    px_model *resumed = px_model_load(path);
    CHECK_NOT_NULL(resumed);
    if (resumed) {
        CHECK(px_optimizer_iterations(px_model_optimizer(resumed)) == 20);
        o.epochs = 4;
        o.initial_epoch = 2;
        CHECK_OK(px_model_fit(resumed, d, &o));
        CHECK(px_optimizer_iterations(px_model_optimizer(resumed)) == px_optimizer_iterations(px_model_optimizer(full)));
        CHECK(same_weights(full, resumed));
    }
    px_model_free(resumed);
    px_model_free(full);
    px_dataset_free(d);
    remove(path);
}

/* A model like make_model's, compiled with the given optimizer. */
static px_model *model_with(px_optimizer *opt) {
    px_set_random_seed(1234);
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(16, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(6)}),
                                               px_dropout_layer(0.2f), px_dense(3, PX_SOFTMAX), NULL});
    if (m && px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = opt}) != PX_OK) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

/* Issue 18 item 4: every optimizer (every kind the library knows, so new ones
 * are covered as they are added), with and without a learning-rate schedule and
 * with each kind of gradient clipping, resumes bit for bit: the iteration count
 * (which drives the schedule and the bias corrections) and every slot survive
 * the file. Plain SGD, which has no slots, lost its count before. */
static void test_resume_matrix(void) {
    px_dataset *d = make_data();
    const px_lr_schedule sched = {.kind = PX_SCHEDULE_EXPONENTIAL, .initial_learning_rate = 0.05f, .decay_steps = 7,
                                  .decay_rate = 0.5f};
    const char *path = px_test_tmp_path("matrix.h5");
    int kinds = 0, cases = 0, exact = 0;
    for (int k = 0;; k++) {
        px_optimizer *probe = px_optimizer_new((px_optimizer_kind)k, NULL);
        if (!probe) break; /* past the last kind */
        const char *name = px_optimizer_name(probe);
        char kname[32];
        snprintf(kname, sizeof kname, "%s", name ? name : "?");
        px_optimizer_free(probe);
        kinds++;
        for (int variant = 0; variant < (k == PX_OPT_SGD ? 2 : 1); variant++) /* SGD: plain and with momentum */
            for (int with_sched = 0; with_sched < 2; with_sched++)
                for (int clip = 0; clip < 4; clip++) {
                    px_optimizer_options o = {.learning_rate = 0.02f, .schedule = with_sched ? &sched : NULL,
                                              .momentum = variant ? 0.9f : 0.0f, .nesterov = variant == 1,
                                              .clipnorm = clip == 1 ? 0.5f : 0.0f, .clipvalue = clip == 2 ? 0.05f : 0.0f,
                                              .global_clipnorm = clip == 3 ? 0.5f : 0.0f};
                    px_model *full = model_with(px_optimizer_new((px_optimizer_kind)k, &o));
                    px_model *half = model_with(px_optimizer_new((px_optimizer_kind)k, &o));
                    cases++;
                    if (!full || !half) {
                        printf("  %s variant %d schedule %d clip %d: cannot build: %s\n", kname, variant, with_sched, clip,
                               px_last_error());
                        CHECK(false);
                        px_model_free(full), px_model_free(half);
                        continue;
                    }
                    px_fit_options fo = {.epochs = 4, .batch_size = 16, .verbose = PX_VERBOSE_SILENT};
                    px_status fst = px_model_fit(full, d, &fo);
                    if (fst == PX_ERR_UNSUPPORTED && getenv("PX_DEVICE")) { /* a kind the device has no update for */
                        printf("  %s: skipped here: %s\n", kname, px_last_error());
                        cases--;
                        px_model_free(full), px_model_free(half);
                        continue;
                    }
                    CHECK_OK(fst);
                    fo.epochs = 2;
                    CHECK_OK(px_model_fit(half, d, &fo));
                    CHECK_OK(px_model_save(half, path));
                    px_model_free(half);
                    px_model *resumed = px_model_load(path);
                    CHECK_NOT_NULL(resumed);
                    bool same = false;
                    if (resumed) {
                        px_optimizer *ro = px_model_optimizer(resumed);
                        CHECK(ro && px_optimizer_iterations(ro) == 12);
                        fo.epochs = 4;
                        fo.initial_epoch = 2;
                        CHECK_OK(px_model_fit(resumed, d, &fo));
                        same = px_optimizer_iterations(ro) == px_optimizer_iterations(px_model_optimizer(full)) &&
                               same_weights(full, resumed);
                        if (!same)
                            printf("  %s variant %d schedule %d clip %d: resumed training differs (iterations %lld)\n", kname,
                                   variant, with_sched, clip, (long long)px_optimizer_iterations(ro));
                    }
                    CHECK(same);
                    exact += same;
                    px_model_free(resumed);
                    px_model_free(full);
                }
    }
    printf("resume matrix: %d optimizers, %d cases, %d bit-exact\n", kinds, cases, exact);
    CHECK(kinds >= 7);
    px_dataset_free(d);
    remove(path);
}

static void test_resume_is_bit_exact(void) {
    resume_through("ckpt.h5");
    resume_through("ckpt.keras");
}

/* A child saves over and over and is killed at a random moment; the file on
 * disk must always be a complete earlier checkpoint. */
static void killed_save(const char *file) {
    px_dataset *d = make_data();
    px_model *m = make_model();
    if (!m) return;
    CHECK_OK(px_model_fit(m, d, &(px_fit_options){.epochs = 1, .batch_size = 10, .verbose = PX_VERBOSE_SILENT}));
    const char *path = px_test_tmp_path(file);
    CHECK_OK(px_model_save(m, path));
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int kills = 0;
    for (int round = 0; round < 6; round++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            for (;;)
                if (px_model_save(m, path) != PX_OK) _exit(1);
        }
        CHECK(pid > 0);
        if (pid <= 0) break;
        usleep((useconds_t)(1000 + rand() % 20000));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        kills += WIFSIGNALED(status);
        /* the real file is intact (the killed child's temporary directory is
         * removed by the next save to the same path) */

        /* the real file is intact (what the killed save left behind, the next save removes) */
        px_model *b = px_model_load(path);
        CHECK_NOT_NULL(b);
        if (b) CHECK(same_weights(m, b));
        px_model_free(b);
    }
    CHECK(kills == 6);
    /* one more save removes what the killed saves left */
    CHECK_OK(px_model_save(m, path));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -d '%s'.tmp* 2>/dev/null | grep -q .", path);
    CHECK(system(cmd) != 0);

    CHECK_OK(px_model_save(m, path));
    px_model_free(m);
    px_dataset_free(d);
    remove(path);
}

static void test_killed_save_keeps_previous_file(void) {
    killed_save("killed.h5");
    killed_save("killed.keras");
}

int main(void) {
    RUN_TEST(test_resume_is_bit_exact);
    RUN_TEST(test_resume_matrix);
    RUN_TEST(test_killed_save_keeps_previous_file);
    return px_test_finish();
}
