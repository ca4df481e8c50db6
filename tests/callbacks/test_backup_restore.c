/* BackupAndRestore: a run killed with SIGKILL at several steps (before a backup,
 * inside one, at an epoch end's) and interrupted once (px_model_interrupt), each
 * time started again with the same backup directory, ends bit-identical to a run
 * that never stopped: weights, History and CSV log. The kill points are hooks at
 * optimizer step counts (PLEXUS_TEST_KILL_AT_STEP, PLEXUS_TEST_KILL_IN_BACKUP),
 * so the test does not depend on the machine's speed. */
#define _XOPEN_SOURCE 700 /* setenv, fork */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "px_test.h"

#define N_ROWS 120
#define EPOCHS 6
#define BATCH 16 /* 96 training rows: 6 steps per epoch, 36 in all */

/* Three classes of 4 features (a fixed pattern plus a deterministic wobble). */
static px_dataset *make_data(void) {
    px_tensor *x = px_tensor_new(PX_F32, PX_SHAPE(N_ROWS, 4)), *y = px_tensor_new(PX_I32, PX_SHAPE(N_ROWS));
    for (int i = 0; i < N_ROWS; i++) {
        int c = (i * 7) % 3;
        px_tensor_i32(y)[i] = c;
        for (int j = 0; j < 4; j++)
            px_tensor_f32(x)[i * 4 + j] = (float)((j == c) * 1.5 + 0.4 * sin(0.37 * i + 1.3 * j));
    }
    return px_dataset_new(x, y);
}

typedef struct run {
    px_model *m;
    px_callback *cbs[6];
    int n_cbs;
} run;

/* The same model, optimizer and callbacks every time (seeded), with a backup in
 * dir when dir is not NULL; interrupt_at > 0 adds a callback that calls
 * px_model_interrupt after that optimizer step. */
static px_callback *interrupter(int64_t at);

static bool run_fit(run *r, const px_dataset *data, const char *dir, int64_t interrupt_at) {
    px_set_random_seed(7);
    r->m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4), "x"),
                                        px_dense_ex(16, &(px_dense_options){.name = "h", .activation = PX_RELU}),
                                        px_dropout_layer(0.2f),
                                        px_dense_ex(3, &(px_dense_options){.name = "out", .activation = PX_SOFTMAX}),
                                        NULL});
    px_compile_options co = {.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.02f}),
                             .metrics = {PX_ACCURACY}};
    if (!r->m || px_model_compile(r->m, &co) != PX_OK) return false;
    r->n_cbs = 0;
    r->cbs[r->n_cbs++] = px_csv_logger(px_test_dir_path(dir ? "resumed.csv" : "straight.csv"), 0, false);
    r->cbs[r->n_cbs++] = px_early_stopping(&(px_early_stopping_options){.patience = 100, .restore_best_weights = true});
    r->cbs[r->n_cbs++] = px_reduce_lr_on_plateau(&(px_reduce_lr_options){.patience = 1, .factor = 0.5, .monitor = "loss"});
    r->cbs[r->n_cbs++] = px_tensorboard_callback(&(px_tensorboard_options){.log_dir = px_test_dir_path("tb"), .update_freq = 4});
    if (dir) r->cbs[r->n_cbs++] = px_backup_and_restore(&(px_backup_options){.backup_dir = dir, .save_freq = 5});
    if (interrupt_at > 0) r->cbs[r->n_cbs++] = interrupter(interrupt_at);
    px_fit_options fo = {.epochs = EPOCHS, .batch_size = BATCH, .validation_split = 0.2f, .verbose = PX_VERBOSE_SILENT,
                         .callbacks = r->cbs, .n_callbacks = r->n_cbs};
    return px_model_fit_arrays(r->m, &(px_arrays){(px_tensor *[]){data->x}, 1, (px_tensor *[]){data->y}, 1}, &fo) == PX_OK;
}

static void run_free(run *r) {
    for (int i = 0; i < r->n_cbs; i++) px_callback_free(r->cbs[i]);
    px_model_free(r->m);
    *r = (run){0};
}

static px_status interrupt_batch_end(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    (void)batch, (void)logs;
    if (px_optimizer_iterations(px_model_optimizer(m)) == *(int64_t *)cb->state) px_model_interrupt(m);
    return PX_OK;
}

static void interrupter_free(px_callback *cb) {
    free(cb->state);
    free(cb);
}

static px_callback *interrupter(int64_t at) {
    px_callback *cb = calloc(1, sizeof *cb);
    int64_t *s = malloc(sizeof *s);
    *s = at;
    *cb = (px_callback){.name = "Interrupter", .state = s, .on_batch_end = interrupt_batch_end, .destroy = interrupter_free};
    return cb;
}

/* A child process trains with the backup and the given hook; it must die of SIGKILL. */
static void killed_run(const px_dataset *data, const char *dir, const char *hook, const char *step) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv(hook, step, 1);
        run r;
        bool ok = run_fit(&r, data, dir, 0);
        _exit(ok ? 0 : 1); /* reached only when the hook did not fire */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        px_test_fail(__FILE__, __LINE__, "%s=%s: the child was not killed (status %#x)", hook, step, status);
    else px_test_passed++;
}

static bool same_weights(px_model *a, px_model *b) {
    px_tensor **wa = NULL, **wb = NULL;
    int na = 0, nb = 0;
    bool same = px_model_get_weights(a, &wa, &na) == PX_OK && px_model_get_weights(b, &wb, &nb) == PX_OK && na == nb;
    for (int i = 0; same && i < na; i++)
        same = px_tensor_size(wa[i]) == px_tensor_size(wb[i]) &&
               memcmp(px_tensor_f32(wa[i]), px_tensor_f32(wb[i]), (size_t)px_tensor_size(wa[i]) * sizeof(float)) == 0;
    for (int i = 0; i < na; i++) px_tensor_free(wa[i]);
    for (int i = 0; i < nb; i++) px_tensor_free(wb[i]);
    free(wa);
    free(wb);
    return same;
}

static bool same_history(const px_model *a, const px_model *b) {
    const px_history *ha = px_model_history(a), *hb = px_model_history(b);
    if (px_history_epochs(ha) != px_history_epochs(hb) || px_history_key_count(ha) != px_history_key_count(hb)) return false;
    for (int k = 0; k < px_history_key_count(ha); k++) {
        int n1 = 0, n2 = 0;
        const double *v1 = px_history_get(ha, px_history_key(ha, k), &n1), *v2 = px_history_get(hb, px_history_key(ha, k), &n2);
        if (!v1 || !v2 || n1 != n2 || memcmp(v1, v2, (size_t)n1 * sizeof *v1) != 0) return false;
    }
    return true;
}

static void test_kill_and_resume(void) {
    px_set_num_threads(1); /* results are bit-identical for a given thread count; and fork stays simple */
    px_dataset *data = make_data();
    run straight;
    CHECK(run_fit(&straight, data, NULL, 0));
    CHECK(px_history_epochs(px_model_history(straight.m)) == EPOCHS);
    char dir[512]; /* tmp_path's buffers are reused */
    snprintf(dir, sizeof dir, "%s", px_test_dir_path("backup"));
    /* killed before the first backup (step 4: it starts over), after a few, inside the
     * step-20 backup (between its model file and state.json), inside an epoch end's
     * (step 24: 4 epochs of 6 steps, not a multiple of 5) */
    killed_run(data, dir, "PLEXUS_TEST_KILL_AT_STEP", "4");
    killed_run(data, dir, "PLEXUS_TEST_KILL_AT_STEP", "13");
    killed_run(data, dir, "PLEXUS_TEST_KILL_IN_BACKUP", "20");
    killed_run(data, dir, "PLEXUS_TEST_KILL_IN_BACKUP", "24");
    /* interrupted after step 28 (mid-epoch 5): fit returns, the epoch has no end */
    run r;
    CHECK(run_fit(&r, data, dir, 28));
    CHECK(px_model_interrupted(r.m));
    CHECK(px_history_epochs(px_model_history(r.m)) == 4);
    CHECK(px_optimizer_iterations(px_model_optimizer(r.m)) == 28);
    run_free(&r);
    struct stat sb;
    CHECK(stat(px_test_dir_path("backup/state.json"), &sb) == 0);
    /* the last run completes: the same weights, History and CSV log as the straight one */
    CHECK(run_fit(&r, data, dir, 0));
    CHECK(!px_model_interrupted(r.m));
    CHECK(same_weights(straight.m, r.m));
    CHECK(same_history(straight.m, r.m));
    CHECK(px_optimizer_iterations(px_model_optimizer(r.m)) == 36);
    char *c1 = (char *)px_test_read_file(px_test_dir_path("straight.csv"), NULL);
    char *c2 = (char *)px_test_read_file(px_test_dir_path("resumed.csv"), NULL);
    CHECK(c1 && c2 && strlen(c1) > 100 && strcmp(c1, c2) == 0);
    if (c1 && c2 && strcmp(c1, c2) != 0) printf("straight:\n%s\nresumed:\n%s\n", c1, c2);
    free(c1);
    free(c2);
    /* the ReduceLROnPlateau state came through: the rate was cut and is the same */
    CHECK(px_optimizer_learning_rate(px_model_optimizer(r.m)) == px_optimizer_learning_rate(px_model_optimizer(straight.m)));
    /* training completed: the backup is gone */
    CHECK(stat(dir, &sb) != 0);
    run_free(&r);
    run_free(&straight);
    px_dataset_free(data);
}

/* A backup made with another batch size (other steps per epoch) is refused by name. */
static void test_mismatch(void) {
    px_dataset *data = make_data();
    char dir[512];
    snprintf(dir, sizeof dir, "%s", px_test_dir_path("backup2"));
    run r;
    CHECK(run_fit(&r, data, dir, 8));
    run_free(&r);
    px_set_random_seed(7);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4), "x"),
                                               px_dense_ex(3, &(px_dense_options){.name = "out"}), NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_adam(NULL)}));
    px_callback *b = px_backup_and_restore(&(px_backup_options){.backup_dir = dir});
    px_fit_options fo = {.epochs = 2, .batch_size = 8, .verbose = PX_VERBOSE_SILENT, .callbacks = &b, .n_callbacks = 1};
    CHECK(px_model_fit(m, data, &fo) != PX_OK);
    CHECK_ERROR_HAS("steps per epoch");
    CHECK(px_backup_and_restore(&(px_backup_options){0}) == NULL);
    CHECK_ERROR_HAS("backup_dir is required");
    px_callback_free(b);
    px_model_free(m);
    px_dataset_free(data);
}

int main(void) {
    if (!px_test_dir()) return 1;
    RUN_TEST(test_kill_and_resume);
    RUN_TEST(test_mismatch);
    px_test_dir_remove();
    return px_test_finish();
}
