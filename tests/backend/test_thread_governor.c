/* The adaptive thread policy of fit (src/backend/cpu/thread_governor.c): on by
 * default (it starts at the configured count when a core is free, at one
 * thread when none is, then tries the other count), off with
 * PLEXUS_THREAD_POLICY=fixed (no switch), staying at one thread while the
 * machine has no free core, switching after every step under the
 * test hook "alternate" while training still learns, and the configured count
 * back after fit, for OpenMP and for px_num_threads. That switching changes no
 * result: tests/backend/test_thread_determinism.c. */
#define _XOPEN_SOURCE 700 /* setenv */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/thread_governor.h"
#include "px_test.h"

#define ROWS 512
#define FEATURES 600 /* a batch of 64 x 600 is above PX_PARALLEL_MIN: the loops use threads too */

/* The team size the first batch ran with (from the batch's end hook). */
static int first_batch_threads;
static px_status note_threads(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    (void)cb, (void)m, (void)logs;
    if (batch == 0 && first_batch_threads == 0) first_batch_threads = omp_get_max_threads();
    return PX_OK;
}

static double train(const char *policy, px_dataset *data) {
    first_batch_threads = 0;
    if (policy) setenv("PLEXUS_THREAD_POLICY", policy, 1);
    else unsetenv("PLEXUS_THREAD_POLICY");
    px_set_num_threads(2);
    px_set_random_seed(3);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(FEATURES), "x"), px_dense(128, PX_RELU),
                                               px_dense(10, PX_SOFTMAX), NULL});
    px_compile_options co = {.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = px_adam(NULL),
                             .metrics = {PX_ACCURACY}};
    double acc = -1;
    if (m && px_model_compile(m, &co) == PX_OK &&
        px_model_fit(m, data, &(px_fit_options){.epochs = 3, .batch_size = 64, .verbose = PX_VERBOSE_SILENT,
                                                 .callbacks = (px_callback *[]){&(px_callback){.on_batch_end = note_threads}},
                                                 .n_callbacks = 1}) == PX_OK) {
        int n = 0;
        const double *a = px_history_get(px_model_history(m), "accuracy", &n);
        acc = a && n == 3 ? a[2] : -1;
    }
    px_model_free(m);
    return acc;
}

/* The machine as the governor sees it before a try: a free core, or none. */
static bool a_core(void) { return true; }
static bool no_core(void) { return false; }

static void test_policies(void) {
    px_tensor *x = px_tensor_new(PX_F32, PX_SHAPE(ROWS, FEATURES)), *y = px_tensor_new(PX_I32, PX_SHAPE(ROWS));
    for (int i = 0; i < ROWS; i++) {
        px_tensor_i32(y)[i] = i % 10;
        for (int j = 0; j < FEATURES; j++)
            px_tensor_f32(x)[i * FEATURES + j] = (float)(0.3 * sin(0.01 * i * j) + (i % 10 == j % 10));
    }
    px_dataset *data = px_dataset_new(x, y);
    int64_t s0 = px_thread_governor_switches();
    double a_fixed = train("fixed", data);
    int64_t s1 = px_thread_governor_switches();
    CHECK(s1 == s0); /* fixed: the configured count throughout */
    px_thread_governor_set_probe(no_core);
    double a_busy = train(NULL, data);
    CHECK(px_thread_governor_switches() == s1); /* adaptive, but no free core: one thread throughout */
    CHECK(first_batch_threads == 1);
    px_thread_governor_set_probe(a_core);
    double a_default = train(NULL, data);
    int64_t s2 = px_thread_governor_switches();
    CHECK(first_batch_threads == 2); /* a free core: the configured count from the start */
    CHECK(s2 > s1); /* adaptive by default: 24 steps reach its first try of one thread (after 1 + 8) */
    px_thread_governor_set_probe(NULL);
    CHECK(px_num_threads() == 2 && omp_get_max_threads() == 2); /* the configured count back */
    double a_alt = train("alternate", data);
    int64_t s3 = px_thread_governor_switches();
    CHECK(s3 - s2 >= 3 * ROWS / 64 - 1); /* a switch after every step */
    CHECK(px_num_threads() == 2 && omp_get_max_threads() == 2);
    printf("accuracy after 3 epochs: fixed %.4f, adaptive %.4f, switching every step %.4f\n", a_fixed, a_default,
           a_alt);
    CHECK(a_fixed > 0.9 && a_busy > 0.9 && a_default > 0.9 && a_alt > 0.9);
    px_dataset_free(data);
}

int main(void) {
    RUN_TEST(test_policies);
    return px_test_finish();
}
