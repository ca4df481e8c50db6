/* The standard callbacks: Keras's stopping, checkpointing, logging and learning-rate
 * rules, driven both hook by hook with chosen log values and through real fits. */
#define _XOPEN_SOURCE 700 /* opendir, access */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model_internal.h"
#include "px_test.h"

/* ---- helpers ---- */

/* What a FILE* opened with tmpfile() received. */
static char *read_back(FILE *f) {
    fflush(f);
    long n = ftell(f);
    char *s = calloc((size_t)(n > 0 ? n : 0) + 1, 1);
    rewind(f);
    if (s && n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
    fclose(f);
    return s;
}

static px_logs logs1(const char *key, double v) {
    px_logs l = {0};
    px_logs_set(&l, key, v);
    return l;
}

/* A tiny compiled model for driving hooks directly (the hooks want a model). */
static px_model *small_model(float lr) {
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(1), "x"),
                                               px_dense_ex(1, &(px_dense_options){.name = "dense"}), NULL});
    if (!m) return NULL;
    px_compile_options c = {.loss = PX_MEAN_SQUARED_ERROR, .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = lr})};
    if (px_model_compile(m, &c) != PX_OK) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

/* Feeds `key` = values[e] at each epoch end as fit would, stopping like fit when asked.
 * Returns the epoch after which training stopped, or -1. */
static int run_sequence(px_callback *cb, px_model *m, const char *key, const double *values, int n) {
    m->stop_training = m->stop_now = false;
    px_logs l = {0};
    if (cb->on_train_begin) CHECK_OK(cb->on_train_begin(cb, m, &l));
    int stopped = -1;
    for (int e = 0; e < n; e++) {
        l = logs1(key, values[e]);
        if (cb->on_epoch_begin) CHECK_OK(cb->on_epoch_begin(cb, m, e, &l));
        CHECK_OK(cb->on_epoch_end(cb, m, e, &l));
        if (m->stop_training) {
            stopped = e;
            break;
        }
    }
    l = (px_logs){0};
    if (cb->on_train_end) CHECK_OK(cb->on_train_end(cb, m, &l));
    return stopped;
}

/* The regression used by the fit tests: one Dense unit from w = b = 0, trained by
 * full-batch SGD (lr 0.2) towards y = x, validated against y = 0.5 x. The weight
 * goes 0.25, 0.4375, 0.578, 0.684, ... so val_loss = 0.625 (w - 0.5)^2 falls for
 * two epochs and then rises for good: epoch 1 (0-based) is the best. */
typedef struct regression {
    px_tensor *x, *y, *vy;
    px_arrays train, val;
} regression;

static void regression_init(regression *r, px_model **m) {
    float xv[4] = {-1, -0.5f, 0.5f, 1}, hv[4] = {-0.5f, -0.25f, 0.25f, 0.5f};
    r->x = px_tensor_from_array(PX_SHAPE(4, 1), xv, 4);
    r->y = px_tensor_from_array(PX_SHAPE(4, 1), xv, 4);
    r->vy = px_tensor_from_array(PX_SHAPE(4, 1), hv, 4);
    r->train = (px_arrays){&r->x, 1, &r->y, 1};
    r->val = (px_arrays){&r->x, 1, &r->vy, 1};
    *m = small_model(0.2f);
    CHECK_NOT_NULL(*m);
    if (!*m) return;
    px_tensor *w[2] = {px_tensor_zeros(PX_SHAPE(1, 1)), px_tensor_zeros(PX_SHAPE(1))};
    CHECK_OK(px_model_set_weights(*m, w, 2));
    px_tensor_free(w[0]);
    px_tensor_free(w[1]);
}

static void regression_free(regression *r) {
    px_tensor_free(r->x);
    px_tensor_free(r->y);
    px_tensor_free(r->vy);
}

static px_fit_options regression_fit(int epochs, px_callback **cbs, int n, const regression *r) {
    return (px_fit_options){.epochs = epochs, .batch_size = 4, .verbose = PX_VERBOSE_SILENT, .no_shuffle = true,
                            .validation_arrays = &r->val, .callbacks = cbs, .n_callbacks = n};
}

/* A custom callback that keeps a copy of the weights at every epoch end. */
#define MAX_SNAP 32
typedef struct snapshots {
    px_tensor **w[MAX_SNAP];
    int n_w, epochs;
} snapshots;

static px_status snap_epoch_end(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)logs;
    snapshots *s = cb->state;
    if (epoch >= MAX_SNAP) return PX_OK;
    for (int i = 0; s->w[epoch] && i < s->n_w; i++) px_tensor_free(s->w[epoch][i]); /* a later fit */
    free(s->w[epoch]);
    px_status st = px_model_get_weights(m, &s->w[epoch], &s->n_w);
    if (epoch + 1 > s->epochs) s->epochs = epoch + 1;
    return st;
}

static void snapshots_free(snapshots *s) {
    for (int e = 0; e < MAX_SNAP; e++) {
        for (int i = 0; s->w[e] && i < s->n_w; i++) px_tensor_free(s->w[e][i]);
        free(s->w[e]);
    }
}

static bool weights_equal(px_model *m, px_tensor **want, int n) {
    px_tensor **w = NULL;
    int k = 0;
    if (px_model_get_weights(m, &w, &k) != PX_OK || k != n) return false;
    bool same = true;
    for (int i = 0; i < n; i++) {
        same &= px_tensor_equal(w[i], want[i]);
        px_tensor_free(w[i]);
    }
    free(w);
    return same;
}

/* ---- Python formatting ---- */

static void test_python_float_repr(void) {
    char b[64];
    CHECK(strcmp(px_python_float_repr(0.1, b, sizeof b), "0.1") == 0);
    CHECK(strcmp(px_python_float_repr(1.0 / 3, b, sizeof b), "0.3333333333333333") == 0);
    CHECK(strcmp(px_python_float_repr(3, b, sizeof b), "3.0") == 0);
    CHECK(strcmp(px_python_float_repr(-0.0, b, sizeof b), "-0.0") == 0);
    CHECK(strcmp(px_python_float_repr(1e-5, b, sizeof b), "1e-05") == 0);
    CHECK(strcmp(px_python_float_repr(0.0001, b, sizeof b), "0.0001") == 0);
    CHECK(strcmp(px_python_float_repr(1e16, b, sizeof b), "1e+16") == 0);
    CHECK(strcmp(px_python_float_repr(123456789012345.0, b, sizeof b), "123456789012345.0") == 0);
    CHECK(strcmp(px_python_float_repr(1.5e300, b, sizeof b), "1.5e+300") == 0);
    CHECK(strcmp(px_python_float_repr((double)0.1f, b, sizeof b), "0.10000000149011612") == 0);
    CHECK(strcmp(px_python_float_repr(NAN, b, sizeof b), "nan") == 0);
    CHECK(strcmp(px_python_float_repr(-INFINITY, b, sizeof b), "-inf") == 0);
}

static void test_checkpoint_filepath_patterns(void) {
    px_logs l = {0};
    px_logs_set(&l, "loss", 0.25);
    px_logs_set(&l, "val_loss", 0.123456);
    px_logs_set(&l, "val_accuracy", 0.875);
    char p[256];
    CHECK_OK(px_checkpoint_filepath("ckpt-{epoch:02d}-{val_loss:.4f}.h5", 2, -1, &l, p, sizeof p));
    CHECK(strcmp(p, "ckpt-03-0.1235.h5") == 0);
    CHECK_OK(px_checkpoint_filepath("w{epoch}_{loss}.weights.h5", 9, -1, &l, p, sizeof p));
    CHECK(strcmp(p, "w10_0.25.weights.h5") == 0);
    CHECK_OK(px_checkpoint_filepath("{{literal}}-{epoch:>4}-{val_accuracy:.1%}-{val_loss:.2e}", 0, -1, &l, p, sizeof p));
    CHECK(strcmp(p, "{literal}-   1-87.5%-1.23e-01") == 0);
    CHECK_OK(px_checkpoint_filepath("e{epoch:03d}b{batch}-{loss:08.3f}-{epoch:x<3}", 4, 6, &l, p, sizeof p));
    CHECK(strcmp(p, "e005b7-0000.250-5xx") == 0);
    CHECK_OK(px_checkpoint_filepath("{val_loss:g}|{val_loss:.3}|{epoch:+d}", 0, -1, &l, p, sizeof p));
    CHECK(strcmp(p, "0.123456|0.123|+1") == 0);
    /* Python's results for these, from format() itself */
    px_logs q = {0};
    px_logs_set(&q, "a", 100.0);
    px_logs_set(&q, "b", 1234.5);
    px_logs_set(&q, "c", 1.0);
    px_logs_set(&q, "d", -0.25);
    px_logs_set(&q, "e", 1.5);
    CHECK_OK(px_checkpoint_filepath("{a:.3}|{b:.3}|{c:.3}|{c:.0}|{d:08.3f}|{d:<08.3f}|{e:.3}|{b:G}|{a:^7.1f}", 0, -1, &q,
                                    p, sizeof p));
    CHECK(strcmp(p, "1e+02|1.23e+03|1.0|1e+00|-000.250|-0.25000|1.5|1234.5| 100.0 ") == 0);

    /* unknown keys and malformed patterns: clear errors quoting the pattern */
    CHECK(px_checkpoint_filepath("m-{val_auc:.3f}.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG);
    CHECK_ERROR_HAS("m-{val_auc:.3f}.h5");
    CHECK_ERROR_HAS("no value 'val_auc'");
    CHECK_ERROR_HAS("val_loss");
    CHECK(px_checkpoint_filepath("m-{batch}.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG); /* epoch-end save: no batch */
    CHECK(px_checkpoint_filepath("m-{epoch.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG);
    CHECK_ERROR_HAS("single '{'");
    CHECK(px_checkpoint_filepath("m-epoch}.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG);
    CHECK_ERROR_HAS("single '}'");
    CHECK(px_checkpoint_filepath("m-{}.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG);
    CHECK_ERROR_HAS("empty field name");
    CHECK(px_checkpoint_filepath("m-{epoch!r}.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG);
    CHECK(px_checkpoint_filepath("m-{epoch:q}.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG);
    CHECK_ERROR_HAS("format specifier");
    CHECK(px_checkpoint_filepath("m-{epoch:.}.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG);
    CHECK(px_checkpoint_filepath("m-{val_loss:d}.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG);
    CHECK_ERROR_HAS("'d'");
    CHECK(px_checkpoint_filepath("m-{epoch:.2d}.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG);
    CHECK(px_checkpoint_filepath("m-{a{b}}.h5", 0, -1, &l, p, sizeof p) == PX_ERR_ARG);
    CHECK(px_checkpoint_filepath("{epoch:0100d}", 0, -1, &l, p, 16) == PX_ERR_ARG); /* does not fit */
    CHECK_ERROR_HAS("too long");
    /* the constructor rejects malformed patterns before any training */
    px_clear_error();
    CHECK(px_model_checkpoint(&(px_model_checkpoint_options){.filepath = "ck-{epoch"}) == NULL);
    CHECK_ERROR_HAS("ck-{epoch");
    CHECK(px_model_checkpoint(&(px_model_checkpoint_options){0}) == NULL);
}

/* ---- EarlyStopping, hook by hook ---- */

static void test_early_stopping_rules(void) {
    px_model *m = small_model(0.1f);
    CHECK_NOT_NULL(m);
    if (!m) return;
    px_callback *es;
    /* patience 2: two epochs without improvement after the best */
    es = px_early_stopping(&(px_early_stopping_options){.patience = 2});
    CHECK(run_sequence(es, m, "val_loss", (double[]){1.0, 0.9, 0.95, 0.96, 0.5}, 5) == 3);
    CHECK(px_early_stopping_stopped_epoch(es) == 3 && px_early_stopping_best_epoch(es) == 1);
    px_callback_free(es);
    /* patience 0 (Keras's default) stops at the first non-improvement, never after epoch 0 */
    es = px_early_stopping(NULL);
    CHECK(run_sequence(es, m, "val_loss", (double[]){1.0, 0.9, 0.9}, 3) == 2);
    px_callback_free(es);
    /* min_delta: improvements smaller than 0.2 do not count */
    es = px_early_stopping(&(px_early_stopping_options){.patience = 2, .min_delta = -0.2 /* sign ignored */});
    CHECK(run_sequence(es, m, "val_loss", (double[]){1.0, 0.9, 0.85, 0.7, 0.6}, 5) == 2);
    px_callback_free(es);
    es = px_early_stopping(&(px_early_stopping_options){.patience = 2});
    CHECK(run_sequence(es, m, "val_loss", (double[]){1.0, 0.9, 0.85, 0.7, 0.6}, 5) == -1);
    px_callback_free(es);
    /* baseline: improving epochs that do not beat it keep counting */
    es = px_early_stopping(&(px_early_stopping_options){.patience = 2, .baseline = 0.5, .has_baseline = true});
    CHECK(run_sequence(es, m, "val_loss", (double[]){1.0, 0.9, 0.95, 0.85, 0.96}, 5) == 2);
    px_callback_free(es);
    es = px_early_stopping(&(px_early_stopping_options){.patience = 2});
    CHECK(run_sequence(es, m, "val_loss", (double[]){1.0, 0.9, 0.95, 0.85, 0.96}, 5) == -1);
    px_callback_free(es);
    es = px_early_stopping(&(px_early_stopping_options){.patience = 2, .baseline = 0.92, .has_baseline = true});
    CHECK(run_sequence(es, m, "val_loss", (double[]){1.0, 0.9, 0.95, 0.85, 0.96}, 5) == -1);
    px_callback_free(es);
    /* auto mode maximises accuracy; explicit min on the same values stops sooner */
    const double acc[4] = {0.5, 0.6, 0.55, 0.58};
    es = px_early_stopping(&(px_early_stopping_options){.monitor = "val_accuracy", .patience = 2});
    CHECK(run_sequence(es, m, "val_accuracy", acc, 4) == 3);
    CHECK(px_early_stopping_best_epoch(es) == 1);
    px_callback_free(es);
    es = px_early_stopping(&(px_early_stopping_options){.monitor = "val_accuracy", .mode = PX_MODE_MAX, .patience = 2});
    CHECK(run_sequence(es, m, "val_accuracy", acc, 4) == 3);
    px_callback_free(es);
    es = px_early_stopping(&(px_early_stopping_options){.monitor = "val_accuracy", .mode = PX_MODE_MIN, .patience = 1});
    CHECK(run_sequence(es, m, "val_accuracy", acc, 4) == 1);
    px_callback_free(es);
    /* start_from_epoch: the first epochs are not watched at all */
    const double worse[5] = {1, 2, 3, 4, 5};
    es = px_early_stopping(&(px_early_stopping_options){.monitor = "loss", .patience = 1});
    CHECK(run_sequence(es, m, "loss", worse, 5) == 1);
    px_callback_free(es);
    es = px_early_stopping(&(px_early_stopping_options){.monitor = "loss", .patience = 1, .start_from_epoch = 2});
    CHECK(run_sequence(es, m, "loss", worse, 5) == 3);
    CHECK(px_early_stopping_best_epoch(es) == 2);
    px_callback_free(es);
    /* a missing monitor warns (as Keras) and never stops; messages go to `out` */
    FILE *out = tmpfile();
    es = px_early_stopping(&(px_early_stopping_options){.monitor = "val_auc", .verbose = 1, .out = out});
    CHECK(run_sequence(es, m, "val_loss", worse, 2) == -1);
    px_callback_free(es);
    char *text = read_back(out);
    CHECK(text && strstr(text, "Early stopping conditioned on metric `val_auc` which is not available. "
                               "Available metrics are: val_loss\n"));
    free(text);
    out = tmpfile();
    es = px_early_stopping(&(px_early_stopping_options){.patience = 1, .verbose = 1, .out = out});
    CHECK(run_sequence(es, m, "val_loss", (double[]){1.0, 0.9, 0.95}, 3) == 2);
    px_callback_free(es);
    text = read_back(out);
    CHECK(text && strcmp(text, "Epoch 3: early stopping\n") == 0);
    free(text);
    /* invalid options */
    CHECK(px_early_stopping(&(px_early_stopping_options){.patience = -1}) == NULL);
    CHECK(px_early_stopping(&(px_early_stopping_options){.mode = (px_monitor_mode)7}) == NULL);
    px_model_free(m);
}

/* ---- EarlyStopping in a real fit ---- */

static void test_early_stopping_restores_best_weights(void) {
    regression r;
    px_model *m = NULL;
    regression_init(&r, &m);
    if (!m) return;
    snapshots snaps = {0};
    px_callback snap = {.name = "snapshots", .state = &snaps, .on_epoch_end = snap_epoch_end};
    FILE *out = tmpfile();
    px_callback *es = px_early_stopping(&(px_early_stopping_options){.patience = 2, .restore_best_weights = true,
                                                                      .verbose = 1, .out = out});
    px_callback *cbs[2] = {&snap, es};
    px_fit_options o = regression_fit(20, cbs, 2, &r);
    CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
    const px_history *h = px_model_history(m);
    int n = 0;
    const double *val = px_history_get(h, "val_loss", &n);
    CHECK(n == 4 && snaps.epochs == 4); /* best at epoch 1, patience 2: stops after epoch 3 */
    if (val && n == 4) {
        printf("early stopping: val_loss %.5f %.5f %.5f %.5f\n", val[0], val[1], val[2], val[3]);
        CHECK(val[1] < val[0] && val[2] > val[1] && val[3] > val[2]);
    }
    CHECK(px_early_stopping_best_epoch(es) == 1 && px_early_stopping_stopped_epoch(es) == 3);
    CHECK(snaps.w[1] && weights_equal(m, snaps.w[1], snaps.n_w));
    CHECK(snaps.w[3] && !weights_equal(m, snaps.w[3], snaps.n_w));
    char *text = read_back(out);
    CHECK(text && strcmp(text, "Epoch 4: early stopping\nRestoring model weights from the end of the best epoch: 2.\n") == 0);
    free(text);
    px_callback_free(es);
    snapshots_free(&snaps);

    /* Keras 3 restores at train end even when training ran all its epochs; the
     * tf.keras 2 choice (restore_only_if_stopped) leaves the last weights then */
    for (int k2 = 0; k2 < 2; k2++) {
        px_tensor *w0[2] = {px_tensor_zeros(PX_SHAPE(1, 1)), px_tensor_zeros(PX_SHAPE(1))};
        CHECK_OK(px_model_set_weights(m, w0, 2));
        px_tensor_free(w0[0]);
        px_tensor_free(w0[1]);
        snapshots s2 = {0};
        snap.state = &s2;
        es = px_early_stopping(&(px_early_stopping_options){.patience = 10, .restore_best_weights = true,
                                                             .restore_only_if_stopped = k2 == 1});
        cbs[1] = es;
        o = regression_fit(5, cbs, 2, &r);
        CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
        CHECK(s2.epochs == 5 && px_early_stopping_stopped_epoch(es) == 0);
        CHECK(s2.w[1] && s2.w[4] && weights_equal(m, k2 ? s2.w[4] : s2.w[1], s2.n_w));
        px_callback_free(es);
        snapshots_free(&s2);
    }
    /* tf.keras 2 restores at the end of the stopping epoch, when it stopped */
    {
        px_tensor *w0[2] = {px_tensor_zeros(PX_SHAPE(1, 1)), px_tensor_zeros(PX_SHAPE(1))};
        CHECK_OK(px_model_set_weights(m, w0, 2));
        px_tensor_free(w0[0]);
        px_tensor_free(w0[1]);
        snapshots s3 = {0};
        snap.state = &s3;
        es = px_early_stopping(&(px_early_stopping_options){.patience = 2, .restore_best_weights = true,
                                                             .restore_only_if_stopped = true});
        cbs[1] = es;
        o = regression_fit(20, cbs, 2, &r);
        CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
        CHECK(s3.epochs == 4 && s3.w[1] && weights_equal(m, s3.w[1], s3.n_w));
        px_callback_free(es);
        snapshots_free(&s3);
    }
    px_model_free(m);
    regression_free(&r);
}

/* ---- CSVLogger ---- */

static void csv_epoch(px_callback *cb, px_model *m, int epoch, const char *const *keys, const double *v, int n) {
    px_logs l = {0};
    for (int i = 0; i < n; i++) px_logs_set(&l, keys[i], v[i]);
    CHECK_OK(cb->on_epoch_end(cb, m, epoch, &l));
}

static void test_csv_logger_contents(void) {
    px_model *m = small_model(0.1f);
    if (!m) return;
    const char *path = px_test_dir_path("csv/training.log"); /* the folder is created */
    px_callback *cb = px_csv_logger(path, 0, false);
    CHECK_NOT_NULL(cb);
    px_logs none = {0};
    const char *k2[2] = {"loss", "accuracy"};
    CHECK_OK(cb->on_train_begin(cb, m, &none));
    csv_epoch(cb, m, 0, k2, (double[]){0.5, 0.25}, 2);
    /* flushed per row: readable before train end */
    char *s = (char *)px_test_read_file(path, NULL);
    CHECK(s && strcmp(s, "epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.25,0.5,NA,NA\r\n") == 0);
    free(s);
    csv_epoch(cb, m, 1, k2, (double[]){0.1, 1.0 / 3}, 2);
    CHECK_OK(cb->on_train_end(cb, m, &none));
    const char *first = "epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.25,0.5,NA,NA\r\n1,0.3333333333333333,0.1,NA,NA\r\n";
    s = (char *)px_test_read_file(path, NULL);
    CHECK(s && strcmp(s, first) == 0);
    free(s);
    px_callback_free(cb);

    /* append: an existing file gets rows only; validation values fill their columns */
    cb = px_csv_logger(path, 0, true);
    const char *k4[4] = {"val_loss", "loss", "val_accuracy", "accuracy"};
    CHECK_OK(cb->on_train_begin(cb, m, &none));
    csv_epoch(cb, m, 0, k4, (double[]){2, 1e-5, NAN, INFINITY}, 4);
    CHECK_OK(cb->on_train_end(cb, m, &none));
    px_callback_free(cb);
    s = (char *)px_test_read_file(path, NULL);
    char want[512];
    snprintf(want, sizeof want, "%s0,inf,1e-05,nan,2.0\r\n", first);
    CHECK(s && strcmp(s, want) == 0);
    free(s);

    /* append to a missing file writes the header; a separator, a missing key and a
     * key needing quotes; the columns are those of the first epoch */
    const char *p2 = px_test_dir_path("csv/semi.csv");
    cb = px_csv_logger(p2, ';', true);
    const char *k3[3] = {"val_loss", "loss", "a;b"};
    CHECK_OK(cb->on_train_begin(cb, m, &none));
    csv_epoch(cb, m, 0, k3, (double[]){0.75, 0.5, 1}, 3);
    csv_epoch(cb, m, 1, k3, (double[]){0.25, 0.125, 2}, 2);
    CHECK_OK(cb->on_train_end(cb, m, &none));
    px_callback_free(cb);
    s = (char *)px_test_read_file(p2, NULL);
    CHECK(s && strcmp(s, "epoch;\"a;b\";loss;val_loss\r\n0;1.0;0.5;0.75\r\n1;NA;0.125;0.25\r\n") == 0);
    free(s);

    /* without append an existing file is replaced */
    cb = px_csv_logger(p2, ';', false);
    CHECK_OK(cb->on_train_begin(cb, m, &none));
    csv_epoch(cb, m, 0, k3 + 1, (double[]){0.5}, 1);
    CHECK_OK(cb->on_train_end(cb, m, &none));
    px_callback_free(cb);
    s = (char *)px_test_read_file(p2, NULL);
    CHECK(s && strcmp(s, "epoch;loss;val_loss\r\n0;0.5;NA\r\n") == 0);
    free(s);

    /* an unwritable file stops fit with an error */
    cb = px_csv_logger("/proc/no/such/dir/x.csv", 0, false);
    CHECK(cb->on_train_begin(cb, m, &none) != PX_OK);
    px_callback_free(cb);
    CHECK(px_csv_logger(NULL, 0, false) == NULL);
    px_model_free(m);
}

static void test_csv_logger_in_fit(void) {
    regression r;
    px_model *m = NULL;
    regression_init(&r, &m);
    if (!m) return;
    const char *path = px_test_dir_path("fit.csv");
    px_callback *cb = px_csv_logger(path, 0, false);
    px_fit_options o = regression_fit(3, &cb, 1, &r);
    CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
    const px_history *h = px_model_history(m);
    int n = 0;
    const double *loss = px_history_get(h, "loss", &n), *val = px_history_get(h, "val_loss", NULL);
    char want[1024] = "epoch,loss,val_loss\r\n";
    for (int e = 0; loss && val && e < n; e++) {
        char a[64], b[64];
        snprintf(want + strlen(want), sizeof want - strlen(want), "%d,%s,%s\r\n", e,
                 px_python_float_repr(loss[e], a, sizeof a), px_python_float_repr(val[e], b, sizeof b));
    }
    char *s = (char *)px_test_read_file(path, NULL);
    CHECK(n == 3 && s && strcmp(s, want) == 0);
    free(s);
    px_callback_free(cb);
    px_model_free(m);
    regression_free(&r);
}

/* ---- ReduceLROnPlateau ---- */

/* Runs constant val_loss epochs and records the learning rate after each. */
static void plateau(px_callback *cb, px_model *m, int epochs, float *lr_after, double *logged) {
    px_logs l = {0};
    CHECK_OK(cb->on_train_begin(cb, m, &l));
    for (int e = 0; e < epochs; e++) {
        l = logs1("val_loss", 1.0);
        CHECK_OK(cb->on_epoch_end(cb, m, e, &l));
        lr_after[e] = px_optimizer_learning_rate(px_model_optimizer(m));
        if (logged) CHECK(px_logs_get(&l, "lr", &logged[e]));
    }
}

static void test_reduce_lr_on_plateau_rules(void) {
    px_model *m = small_model(0.1f);
    if (!m) return;
    float lr[12];
    double logged[12];
    FILE *out = tmpfile();
    px_callback *cb = px_reduce_lr_on_plateau(&(px_reduce_lr_options){.patience = 2, .factor = 0.5, .verbose = 1,
                                                                       .out = out});
    plateau(cb, m, 5, lr, logged);
    CHECK(lr[0] == 0.1f && lr[1] == 0.1f && lr[2] == (float)(0.1f * 0.5) && lr[3] == lr[2] &&
          lr[4] == (float)((double)lr[2] * 0.5));
    CHECK(logged[0] == (double)0.1f && logged[2] == (double)0.1f && logged[3] == (double)lr[2]); /* before reducing */
    px_callback_free(cb);
    char *text = read_back(out);
    const char *want = "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.05000000074505806.\n"
                       "\nEpoch 5: ReduceLROnPlateau reducing learning rate to ";
    CHECK(text && strncmp(text, want, strlen(want)) == 0);
    free(text);

    /* cooldown 2: after a reduction two epochs pass without counting */
    px_optimizer_set_learning_rate(px_model_optimizer(m), 0.1f);
    cb = px_reduce_lr_on_plateau(&(px_reduce_lr_options){.patience = 2, .factor = 0.5, .cooldown = 2});
    plateau(cb, m, 8, lr, NULL);
    int reductions[12], nr = 0;
    float prev = 0.1f;
    for (int e = 0; e < 8; e++) {
        if (lr[e] < prev) reductions[nr++] = e;
        prev = lr[e];
    }
    CHECK(nr == 2 && reductions[0] == 2 && reductions[1] == 5);
    px_callback_free(cb);

    /* min_lr bounds the rate; once there, no more reductions */
    px_optimizer_set_learning_rate(px_model_optimizer(m), 0.1f);
    cb = px_reduce_lr_on_plateau(&(px_reduce_lr_options){.patience = 1, .min_lr = 0.005});
    plateau(cb, m, 6, lr, NULL);
    CHECK(lr[0] == 0.1f && lr[1] == (float)((double)0.1f * 0.1) && lr[2] == (float)0.005 && lr[5] == (float)0.005);
    px_callback_free(cb);

    /* improvements (beyond min_delta) reset the wait; accuracy is maximised */
    px_optimizer_set_learning_rate(px_model_optimizer(m), 0.1f);
    cb = px_reduce_lr_on_plateau(&(px_reduce_lr_options){.monitor = "val_accuracy", .patience = 2, .min_delta = 0.01});
    px_logs l = {0};
    CHECK_OK(cb->on_train_begin(cb, m, &l));
    const double acc[6] = {0.5, 0.6, 0.605, 0.7, 0.69, 0.7};
    int first_cut = -1;
    for (int e = 0; e < 6; e++) {
        l = logs1("val_accuracy", acc[e]);
        CHECK_OK(cb->on_epoch_end(cb, m, e, &l));
        if (first_cut < 0 && px_optimizer_learning_rate(px_model_optimizer(m)) < 0.1f) first_cut = e;
    }
    CHECK(first_cut == 5); /* 0.605 is within min_delta of 0.6: waits at 2, resets at 3, waits at 4 and 5 */
    px_callback_free(cb);

    /* defaults and errors */
    CHECK(px_reduce_lr_on_plateau(&(px_reduce_lr_options){.factor = 1.0}) == NULL);
    CHECK_ERROR_HAS("factor >= 1.0");
    CHECK(px_reduce_lr_on_plateau(&(px_reduce_lr_options){.factor = 2.5}) == NULL);
    px_optimizer_set_learning_rate(px_model_optimizer(m), 0.1f);
    cb = px_reduce_lr_on_plateau(NULL); /* patience 10, factor 0.1 */
    plateau(cb, m, 11, lr, NULL);
    CHECK(lr[9] == 0.1f && lr[10] == (float)((double)0.1f * 0.1));
    px_callback_free(cb);
    px_model_free(m);
}

static void test_reduce_lr_in_fit(void) {
    regression r;
    px_model *m = NULL;
    regression_init(&r, &m);
    if (!m) return;
    /* a min_delta no loss can beat: every epoch after the first waits, patience 1 cuts each time */
    px_callback *cb = px_reduce_lr_on_plateau(&(px_reduce_lr_options){.monitor = "loss", .patience = 1, .factor = 0.5,
                                                                       .min_delta = 10});
    px_fit_options o = regression_fit(4, &cb, 1, &r);
    CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
    int n = 0;
    const double *lr = px_history_get(px_model_history(m), "lr", &n);
    CHECK(n == 4 && lr);
    if (lr && n == 4) CHECK(lr[0] == (double)0.2f && lr[1] == (double)0.2f && lr[2] == (double)(float)(0.2f * 0.5));
    CHECK(px_optimizer_learning_rate(px_model_optimizer(m)) == (float)(0.2f * 0.5f * 0.5f * 0.5f));
    px_callback_free(cb);
    px_model_free(m);
    regression_free(&r);
}

/* ---- LearningRateScheduler ---- */

static double halve_from(int epoch, double lr, void *user) {
    (void)lr;
    return *(double *)user * pow(0.5, epoch);
}
static double keep_but_nan_at_2(int epoch, double lr, void *user) {
    (void)user;
    return epoch == 2 ? NAN : lr;
}

static void test_learning_rate_scheduler(void) {
    regression r;
    px_model *m = NULL;
    regression_init(&r, &m);
    if (!m) return;
    double start = 0.1;
    px_callback *cb = px_learning_rate_scheduler(halve_from, &start, 0);
    px_fit_options o = regression_fit(3, &cb, 1, &r);
    CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
    int n = 0;
    const double *lr = px_history_get(px_model_history(m), "lr", &n);
    CHECK(n == 3 && lr);
    if (lr && n == 3) CHECK(lr[0] == (double)0.1f && lr[1] == (double)0.05f && lr[2] == (double)0.025f);
    CHECK(px_optimizer_learning_rate(px_model_optimizer(m)) == 0.025f);
    px_callback_free(cb);

    /* a bad rate stops fit with an error */
    cb = px_learning_rate_scheduler(keep_but_nan_at_2, NULL, 0);
    o = regression_fit(5, &cb, 1, &r);
    CHECK(px_model_fit_arrays(m, &r.train, &o) == PX_ERR_ARG);
    CHECK_ERROR_HAS("epoch 2");
    CHECK(px_history_epochs(px_model_history(m)) == 2);
    px_callback_free(cb);
    CHECK(px_learning_rate_scheduler(NULL, NULL, 0) == NULL);
    px_model_free(m);
    regression_free(&r);
}

/* ---- TerminateOnNaN ---- */

typedef struct batch_trace {
    int epoch, n;
    int epoch_of[256], batch_of[256];
    double loss[256];
} batch_trace;

static px_status trace_epoch_begin(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)m, (void)logs;
    ((batch_trace *)cb->state)->epoch = epoch;
    return PX_OK;
}
static px_status trace_batch_end(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    (void)m;
    batch_trace *t = cb->state;
    if (t->n < 256) {
        t->epoch_of[t->n] = t->epoch;
        t->batch_of[t->n] = batch;
        px_logs_get(logs, "loss", &t->loss[t->n]);
        t->n++;
    }
    return PX_OK;
}

static void test_terminate_on_nan(void) {
    /* SGD far too fast for inputs this large: the weight grows ~200-fold per step */
    float xv[16];
    for (int i = 0; i < 16; i++) xv[i] = (float)(i % 2 ? 10 : -10);
    px_tensor *x = px_tensor_from_array(PX_SHAPE(16, 1), xv, 16), *y = px_tensor_from_array(PX_SHAPE(16, 1), xv, 16);
    px_arrays a = {&x, 1, &y, 1};
    px_model *m = small_model(1.0f);
    if (!m) return;
    batch_trace t = {0};
    px_callback trace = {.name = "trace", .state = &t, .on_epoch_begin = trace_epoch_begin, .on_batch_end = trace_batch_end};
    px_callback *nan_cb = px_terminate_on_nan();
    px_callback *cbs[2] = {&trace, nan_cb};
    px_fit_options o = {.epochs = 50, .batch_size = 4, .verbose = PX_VERBOSE_SILENT, .no_shuffle = true,
                        .callbacks = cbs, .n_callbacks = 2};
    CHECK_OK(px_model_fit_arrays(m, &a, &o));
    CHECK(t.n > 1 && t.n < 200);
    if (t.n > 1) {
        int last = t.n - 1;
        CHECK(!isfinite(t.loss[last]));
        for (int i = 0; i < last; i++) CHECK(isfinite(t.loss[i])); /* the first invalid batch was the last */
        printf("terminate on nan: stopped after epoch %d batch %d (loss %g)\n", t.epoch_of[last], t.batch_of[last],
               t.loss[last]);
        CHECK(px_history_epochs(px_model_history(m)) == t.epoch_of[last] + 1);
    }
    px_callback_free(nan_cb);
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
}

/* ---- ModelCheckpoint ---- */

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static bool is_hdf5(const char *path) {
    size_t n = 0;
    char *s = (char *)px_test_read_file(path, &n);
    bool ok = s && n > 8 && memcmp(s, "\x89HDF\r\n\x1a\n", 8) == 0;
    free(s);
    return ok;
}

static void test_model_checkpoint(void) {
    regression r;
    px_model *m = NULL;
    regression_init(&r, &m);
    if (!m) return;
    snapshots snaps = {0};
    px_callback snap = {.name = "snapshots", .state = &snaps, .on_epoch_end = snap_epoch_end};

    /* every epoch, named by epoch and val_loss */
    char pattern[600];
    snprintf(pattern, sizeof pattern, "%s/all/model-{epoch:02d}-{val_loss:.4f}.h5", px_test_dir());
    FILE *out = tmpfile();
    px_callback *ck = px_model_checkpoint(&(px_model_checkpoint_options){.filepath = pattern, .verbose = 1, .out = out});
    CHECK_NOT_NULL(ck);
    px_callback *cbs[2] = {&snap, ck};
    px_fit_options o = regression_fit(4, cbs, 2, &r);
    CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
    int n = 0;
    const double *val = px_history_get(px_model_history(m), "val_loss", &n);
    char want_log[4096] = "";
    for (int e = 0; val && e < n; e++) {
        char path[700];
        snprintf(path, sizeof path, "%s/all/model-%02d-%.4f.h5", px_test_dir(), e + 1, val[e]);
        CHECK(is_hdf5(path));
        snprintf(want_log + strlen(want_log), sizeof want_log - strlen(want_log), "\nEpoch %d: saving model to %s\n",
                 e + 1, path);
    }
    CHECK(count_files(px_test_dir_path("all")) == 4);
    char *text = read_back(out);
    CHECK(text && strcmp(text, want_log) == 0);
    free(text);
    px_callback_free(ck);
    snapshots_free(&snaps);
    memset(&snaps, 0, sizeof snaps);

    /* save_best_only: files only for improving epochs (0 and 1), K2 messages */
    px_tensor *w0[2] = {px_tensor_zeros(PX_SHAPE(1, 1)), px_tensor_zeros(PX_SHAPE(1))};
    CHECK_OK(px_model_set_weights(m, w0, 2));
    snprintf(pattern, sizeof pattern, "%s/best/w-{epoch}.weights.h5", px_test_dir());
    out = tmpfile();
    ck = px_model_checkpoint(&(px_model_checkpoint_options){.filepath = pattern, .save_best_only = true,
                                                            .save_weights_only = true, .verbose = 1, .out = out});
    cbs[1] = ck;
    o = regression_fit(4, cbs, 2, &r);
    CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
    val = px_history_get(px_model_history(m), "val_loss", &n);
    CHECK(count_files(px_test_dir_path("best")) == 2);
    CHECK(access(px_test_dir_path("best/w-1.weights.h5"), F_OK) == 0 && access(px_test_dir_path("best/w-2.weights.h5"), F_OK) == 0);
    if (val && n == 4) {
        char want[2048];
        snprintf(want, sizeof want,
                 "\nEpoch 1: val_loss improved from inf to %.5f, saving model to %s/best/w-1.weights.h5\n"
                 "\nEpoch 2: val_loss improved from %.5f to %.5f, saving model to %s/best/w-2.weights.h5\n"
                 "\nEpoch 3: val_loss did not improve from %.5f\n"
                 "\nEpoch 4: val_loss did not improve from %.5f\n",
                 val[0], px_test_dir(), val[0], val[1], px_test_dir(), val[1], val[1]);
        text = read_back(out);
        CHECK(text && strcmp(text, want) == 0);
        free(text);
    } else {
        fclose(out);
    }
    /* the weights file holds the weights of epoch 2 (index 1) */
    px_model *m2 = small_model(0.1f);
    if (m2) {
        CHECK_OK(px_model_load_weights(m2, px_test_dir_path("best/w-2.weights.h5")));
        CHECK(snaps.w[1] && weights_equal(m2, snaps.w[1], snaps.n_w));
        px_model_free(m2);
    }
    px_callback_free(ck);

    /* initial_value_threshold: nothing beats 1e-9 */
    snprintf(pattern, sizeof pattern, "%s/thr/m.h5", px_test_dir());
    ck = px_model_checkpoint(&(px_model_checkpoint_options){.filepath = pattern, .save_best_only = true,
                                                            .initial_value_threshold = 1e-9,
                                                            .has_initial_value_threshold = true});
    cbs[1] = ck;
    CHECK_OK(px_model_set_weights(m, w0, 2));
    CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
    CHECK(access(pattern, F_OK) != 0);
    px_callback_free(ck);

    /* every 3 batches (2 per epoch): after global batches 3 and 6 */
    snprintf(pattern, sizeof pattern, "%s/freq/e{epoch}-b{batch}-{loss:.3f}.h5", px_test_dir());
    ck = px_model_checkpoint(&(px_model_checkpoint_options){.filepath = pattern, .save_freq = 3});
    cbs[1] = ck;
    o = regression_fit(3, cbs, 2, &r);
    o.batch_size = 2;
    CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
    CHECK(count_files(px_test_dir_path("freq")) == 2);
    DIR *d = opendir(px_test_dir_path("freq"));
    int seen = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        seen |= strncmp(e->d_name, "e2-b1-", 6) == 0;
        seen |= (strncmp(e->d_name, "e3-b2-", 6) == 0) << 1;
    }
    if (d) closedir(d);
    CHECK(seen == 3);
    px_callback_free(ck);

    /* a pattern naming a value that is not logged stops fit with the error */
    snprintf(pattern, sizeof pattern, "%s/bad/m-{val_auc:.2f}.h5", px_test_dir());
    ck = px_model_checkpoint(&(px_model_checkpoint_options){.filepath = pattern});
    cbs[1] = ck;
    o = regression_fit(3, cbs, 2, &r);
    CHECK(px_model_fit_arrays(m, &r.train, &o) == PX_ERR_ARG);
    CHECK_ERROR_HAS("val_auc");
    px_callback_free(ck);

    /* save_best_only with a missing monitor: K2 warns and skips */
    snprintf(pattern, sizeof pattern, "%s/skip/m.h5", px_test_dir());
    out = tmpfile();
    ck = px_model_checkpoint(&(px_model_checkpoint_options){.filepath = pattern, .monitor = "val_auc",
                                                            .save_best_only = true, .out = out});
    cbs[1] = ck;
    o = regression_fit(1, cbs, 2, &r);
    CHECK_OK(px_model_fit_arrays(m, &r.train, &o));
    CHECK(access(pattern, F_OK) != 0);
    text = read_back(out);
    CHECK(text && strstr(text, "Can save best model only with val_auc available, skipping.\n"));
    free(text);
    px_callback_free(ck);

    px_tensor_free(w0[0]);
    px_tensor_free(w0[1]);
    snapshots_free(&snaps);
    px_model_free(m);
    regression_free(&r);
}

int main(void) {
    if (!px_test_dir()) return 1;
    RUN_TEST(test_python_float_repr);
    RUN_TEST(test_checkpoint_filepath_patterns);
    RUN_TEST(test_early_stopping_rules);
    RUN_TEST(test_early_stopping_restores_best_weights);
    RUN_TEST(test_csv_logger_contents);
    RUN_TEST(test_csv_logger_in_fit);
    RUN_TEST(test_reduce_lr_on_plateau_rules);
    RUN_TEST(test_reduce_lr_in_fit);
    RUN_TEST(test_learning_rate_scheduler);
    RUN_TEST(test_terminate_on_nan);
    RUN_TEST(test_model_checkpoint);
    px_test_dir_remove();
    return px_test_finish();
}
