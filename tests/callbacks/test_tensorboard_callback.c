/* The TensorBoard callback in a real fit: Keras's run folders and tags, values equal to
 * the History's, weight histograms, all checked by the independent Python/protobuf
 * reader tests/scripts/check_events.py. */
#define _XOPEN_SOURCE 700 /* nftw, for removing the temporary tree */
#include <dirent.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "px_test.h"

#define PYTHON "/usr/bin/python3"

static char tmp_root[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* The single events file in dir (the callback writes one per run per fit). */
static bool find_events(const char *dir, char *out, size_t len, int *count) {
    DIR *d = opendir(dir);
    *count = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, "tfevents")) {
            snprintf(out, len, "%s/%s", dir, e->d_name);
            ++*count;
        }
    if (d) closedir(d);
    return *count > 0;
}

/* Checker output, one line per event. */
typedef struct events {
    int n;
    char **line;
} events;

static void events_free(events *ev) {
    for (int i = 0; i < ev->n; i++) free(ev->line[i]);
    free(ev->line);
    ev->n = 0;
    ev->line = NULL;
}

/* Runs the checker on a file (or, with flags "--projector", a log dir); true when it
 * accepted it. */
static bool check_file_flags(const char *path, const char *flags, events *ev) {
    memset(ev, 0, sizeof *ev);
    if (access(PYTHON, X_OK) != 0) {
        px_test_fail(__FILE__, __LINE__, PYTHON " is missing: the independent event-file check cannot run "
                                                "(apt-get install -y python3 python3-protobuf protobuf-compiler)");
        return false;
    }
    char out[600], err[600], cmd[3000];
    snprintf(out, sizeof out, "%s/checker.out", tmp_root);
    snprintf(err, sizeof err, "%s/checker.err", tmp_root);
    snprintf(cmd, sizeof cmd, "%s '%s' %s '%s' > '%s' 2> '%s'", PYTHON, px_test_data("../scripts/check_events.py"), flags,
             path, out, err);
    int rc = system(cmd);
    rc = rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    FILE *f = fopen(rc == 0 ? out : err, "r");
    char buf[8192];
    while (f && fgets(buf, sizeof buf, f)) {
        if (rc != 0) {
            fputs(buf, stderr);
            continue;
        }
        buf[strcspn(buf, "\n")] = '\0';
        char **g = realloc(ev->line, (size_t)(ev->n + 1) * sizeof *g);
        if (!g) break;
        ev->line = g;
        ev->line[ev->n++] = strdup(buf);
    }
    if (f) fclose(f);
    if (rc != 0) px_test_fail(__FILE__, __LINE__, "check_events.py rejected %s (exit %d)", path, rc);
    return rc == 0;
}

static bool check_file(const char *path, events *ev) { return check_file_flags(path, "", ev); }

/* Index of the first line starting with `prefix` at or after `from`, -1 when none. */
static int find_line(const events *ev, const char *prefix, int from) {
    for (int i = from < 0 ? 0 : from; i < ev->n; i++)
        if (strncmp(ev->line[i], prefix, strlen(prefix)) == 0) return i;
    return -1;
}

/* The value of the scalar `tag` at `step`, NAN when absent; *times counts its records. */
static double scalar(const events *ev, const char *tag, int64_t step, int *times) {
    double v = NAN;
    int k = 0;
    for (int i = 0; i < ev->n; i++) {
        char kind[32], t[256];
        long long s;
        double x;
        if (sscanf(ev->line[i], "%31[^\t]\t%lld\t%255[^\t]\t%lf", kind, &s, t, &x) == 4 && strcmp(kind, "scalar") == 0 &&
            strcmp(t, tag) == 0 && s == step) {
            v = x;
            k++;
        }
    }
    if (times) *times = k;
    return v;
}

/* Number of histograms tagged `tag` at `step` with `num` values. */
static int histograms(const events *ev, const char *tag, int64_t step, int64_t num) {
    int k = 0;
    for (int i = 0; i < ev->n; i++) {
        char kind[32], t[256];
        long long s;
        if (sscanf(ev->line[i], "%31[^\t]\t%lld\t%255[^\t]", kind, &s, t) != 3 || strcmp(kind, "histogram") != 0 ||
            strcmp(t, tag) != 0 || s != step)
            continue;
        const char *p = strstr(ev->line[i], "num=");
        k += p && (int64_t)strtod(p + 4, NULL) == num;
    }
    return k;
}

static int count_kind(const events *ev, const char *kind) {
    int k = 0;
    for (int i = 0; i < ev->n; i++) k += strncmp(ev->line[i], kind, strlen(kind)) == 0;
    return k;
}

static void test_tensorboard_callback_runs(void) {
    /* two Gaussian blobs, a small classifier with accuracy, validation on held-out points */
    enum { N = 64, NV = 32 };
    float xv[N * 2], yv[N], vx[NV * 2], vy[NV];
    px_rng rng = px_rng_seeded(11);
    for (int i = 0; i < N + NV; i++) {
        int c = i % 2;
        float a = (c ? 1.f : -1.f) + 0.7f * (float)px_rng_normal(&rng), b = (c ? 1.f : -1.f) + 0.7f * (float)px_rng_normal(&rng);
        if (i < N) {
            xv[2 * i] = a, xv[2 * i + 1] = b, yv[i] = (float)c;
        } else {
            vx[2 * (i - N)] = a, vx[2 * (i - N) + 1] = b, vy[i - N] = (float)c;
        }
    }
    px_tensor *x = px_tensor_from_array(PX_SHAPE(N, 2), xv, N * 2), *y = px_tensor_from_array(PX_SHAPE(N, 1), yv, N);
    px_tensor *xval = px_tensor_from_array(PX_SHAPE(NV, 2), vx, NV * 2), *yval = px_tensor_from_array(PX_SHAPE(NV, 1), vy, NV);
    px_arrays train = {&x, 1, &y, 1}, val = {&xval, 1, &yval, 1};
    px_set_random_seed(3);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(2), "x"), px_dense(8, PX_RELU),
                                               px_dense(1, PX_SIGMOID), NULL});
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY,
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.01f}),
                                                       .metrics = {PX_ACCURACY}}));
    char log_dir[512];
    snprintf(log_dir, sizeof log_dir, "%s/logs/fit", tmp_root); /* parents do not exist yet */
    px_callback *tb = px_tensorboard_callback(&(px_tensorboard_options){.log_dir = log_dir, .histogram_freq = 2});
    /* ReduceLROnPlateau first, so its "lr" reaches the TensorBoard callback */
    px_callback *rl = px_reduce_lr_on_plateau(&(px_reduce_lr_options){.monitor = "loss", .patience = 1, .factor = 0.5,
                                                                       .min_delta = 100});
    CHECK_NOT_NULL(tb);
    px_callback *cbs[2] = {rl, tb};
    enum { EPOCHS = 5 };
    px_fit_options o = {.epochs = EPOCHS, .batch_size = 16, .verbose = PX_VERBOSE_SILENT, .validation_arrays = &val,
                        .callbacks = cbs, .n_callbacks = 2};
    CHECK_OK(px_model_fit_arrays(m, &train, &o));

    char dir[600], path[1200];
    int files = 0;
    events tr = {0}, va = {0};
    snprintf(dir, sizeof dir, "%s/train", log_dir);
    CHECK(find_events(dir, path, sizeof path, &files) && files == 1);
    bool ok_tr = files == 1 && check_file(path, &tr);
    snprintf(dir, sizeof dir, "%s/validation", log_dir);
    CHECK(find_events(dir, path, sizeof path, &files) && files == 1);
    bool ok_va = files == 1 && check_file(path, &va);
    CHECK(ok_tr && ok_va);

    const px_history *h = px_model_history(m);
    int n = 0;
    const double *loss = px_history_get(h, "loss", &n), *acc = px_history_get(h, "accuracy", NULL),
                 *vloss = px_history_get(h, "val_loss", NULL), *vacc = px_history_get(h, "val_accuracy", NULL),
                 *lr = px_history_get(h, "lr", NULL);
    CHECK(n == EPOCHS && loss && acc && vloss && vacc && lr);
    for (int e = 0; ok_tr && ok_va && n == EPOCHS && loss && acc && vloss && vacc && lr && e < EPOCHS; e++) {
        int times = 0;
        /* float32 in the file: the History's values rounded to float */
        CHECK(scalar(&tr, "epoch_loss", e, &times) == (double)(float)loss[e] && times == 1);
        CHECK(scalar(&tr, "epoch_accuracy", e, &times) == (double)(float)acc[e] && times == 1);
        CHECK(scalar(&tr, "epoch_lr", e, &times) == (double)(float)lr[e] && times == 1);
        CHECK(scalar(&va, "epoch_loss", e, &times) == (double)(float)vloss[e] && times == 1);
        CHECK(scalar(&va, "epoch_accuracy", e, &times) == (double)(float)vacc[e] && times == 1);
        /* the rate after the epoch's reduction, as Keras reads it at epoch end */
        double want_lr = e + 1 < EPOCHS ? lr[e + 1] : lr[e] * 0.5;
        CHECK(scalar(&tr, "epoch_learning_rate", e, &times) == (double)(float)want_lr && times == 1);
        /* nothing of validation in train/ and the reverse */
        CHECK(isnan(scalar(&tr, "epoch_val_loss", e, NULL)) && isnan(scalar(&va, "epoch_learning_rate", e, NULL)));
        CHECK(isnan(scalar(&va, "epoch_val_loss", e, NULL)));
        /* evaluation_<key>_vs_iterations: step = optimizer iterations (4 batches per epoch) */
        CHECK(scalar(&va, "evaluation_loss_vs_iterations", 4 * (e + 1), &times) == (double)(float)vloss[e] && times == 1);
    }
    /* histograms of each weight at epochs 0, 2 and 4, Keras 3 tags */
    for (int i = 0; ok_tr && i < px_model_layer_count(m); i++) {
        px_layer *l = px_model_layer(m, i);
        for (int j = 0; j < px_layer_weight_count(l); j++) {
            char tag[256];
            snprintf(tag, sizeof tag, "%s/%s/histogram", px_layer_name(l), px_layer_weight_name(l, j));
            int64_t size = px_tensor_size(px_node_value(px_layer_weight(l, j)));
            for (int e = 0; e < EPOCHS; e++) CHECK(histograms(&tr, tag, e, size) == (e % 2 == 0));
        }
    }
    CHECK(count_kind(&tr, "histogram") == 3 * 4); /* two Dense layers, kernel and bias */
    CHECK(histograms(&tr, "dense/kernel/histogram", 0, 16) == 1);
    CHECK(count_kind(&va, "histogram") == 0);
    CHECK(count_kind(&tr, "scalar") == EPOCHS * 4 && count_kind(&va, "scalar") == EPOCHS * 4);
    events_free(&tr);
    events_free(&va);

    /* a second fit writes a new file in each run; batch scalars with update_freq */
    px_callback_free(tb);
    tb = px_tensorboard_callback(&(px_tensorboard_options){.log_dir = log_dir, .update_freq = 3});
    o.callbacks = &tb;
    o.n_callbacks = 1;
    o.epochs = 2;
    CHECK_OK(px_model_fit_arrays(m, &train, &o));
    snprintf(dir, sizeof dir, "%s/train", log_dir);
    CHECK(find_events(dir, path, sizeof path, &files) && files == 2);
    DIR *d = opendir(dir);
    int batch_steps = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strstr(e->d_name, "tfevents")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        events ev;
        if (check_file(path, &ev)) {
            /* 8 batches in all: batch_loss at global batches 3 and 6 */
            if (!isnan(scalar(&ev, "batch_loss", 3, NULL)) && !isnan(scalar(&ev, "batch_loss", 6, NULL))) batch_steps++;
            CHECK(isnan(scalar(&ev, "batch_loss", 4, NULL)));
        }
        events_free(&ev);
    }
    if (d) closedir(d);
    CHECK(batch_steps == 1);

    /* an unusable log_dir stops fit with an error */
    px_callback_free(tb);
    tb = px_tensorboard_callback(&(px_tensorboard_options){.log_dir = "/proc/no_such/logs"});
    o.callbacks = &tb;
    CHECK(px_model_fit_arrays(m, &train, &o) != PX_OK);
    CHECK(px_tensorboard_callback(&(px_tensorboard_options){.histogram_freq = -1}) == NULL);

    px_callback_free(tb);
    px_callback_free(rl);
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
    px_tensor_free(xval);
    px_tensor_free(yval);
}

/* The 8-bit value the callback's images hold for v scaled from [lo, hi], by hand. */
static int expect_byte(float v, float lo, float hi) { return (int)((v - lo) / (hi - lo) * 255.f + 0.5f); }

/* Pixels of a "pixels <i> <hex>" line equal `want` (n bytes) within `tol`. */
static bool pixels_match(const char *line, const int *want, int n, int tol) {
    const char *hex = strrchr(line, '\t');
    if (!hex || (int)strlen(hex + 1) != 2 * n) return false;
    for (int i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 1 + 2 * i, "%2x", &v) != 1 || abs((int)v - want[i]) > tol) return false;
    }
    return true;
}

/* A Conv2D model with write_images and sample images, and an Embedding model with the
 * projector: the graph (one node per layer, each fed by the one before), the keras
 * config, the images decoded by Pillow against pixels computed here from the samples and
 * the final kernel, TF2 histograms of every weight, and the projector's TSV. */
static void test_tensorboard_graph_images_projector(void) {
    enum { N = 8 };
    float xv[N * 36], yv[N];
    px_rng rng = px_rng_seeded(5);
    for (int i = 0; i < N * 36; i++) xv[i] = (float)px_rng_uniform(&rng);
    for (int i = 0; i < N; i++) yv[i] = (float)(i % 2);
    px_tensor *x = px_tensor_from_array(PX_SHAPE(N, 6, 6, 1), xv, N * 36), *y = px_tensor_from_array(PX_SHAPE(N, 1), yv, N);
    px_arrays train = {&x, 1, &y, 1};
    px_set_random_seed(4);
    px_model *m = px_sequential((px_layer *[]){
        px_conv2d_layer(4, 3, 3, &(px_conv_options){.input_shape = PX_SHAPE(6, 6, 1), .activation = PX_RELU}),
        px_flatten(PX_SCALAR), px_dense(1, PX_SIGMOID), NULL});
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY, .optimizer = px_sgd(NULL)}));
    char log_dir[512], dir[600], path[1200];
    snprintf(log_dir, sizeof log_dir, "%s/conv", tmp_root);
    px_callback *tb = px_tensorboard_callback(&(px_tensorboard_options){
        .log_dir = log_dir, .histogram_freq = 1, .write_images = true, .image_samples = x});
    CHECK_NOT_NULL(tb);
    px_fit_options o = {.epochs = 2, .batch_size = 4, .verbose = PX_VERBOSE_SILENT, .callbacks = &tb, .n_callbacks = 1};
    CHECK_OK(px_model_fit_arrays(m, &train, &o));
    int files = 0;
    events ev = {0};
    snprintf(dir, sizeof dir, "%s/train", log_dir);
    CHECK(find_events(dir, path, sizeof path, &files) && files == 1);
    if (files == 1 && check_file_flags(path, "--pixels", &ev)) {
        /* the graph: every layer a node fed by the layer before it */
        CHECK(find_line(&ev, "graph\t", 0) >= 0);
        for (int i = 0; i < px_model_layer_count(m); i++) {
            px_layer *l = px_model_layer(m, i);
            char want[300];
            if (i == 0)
                snprintf(want, sizeof want, "node\t%s\t%s\t", px_layer_name(l), px_layer_class(l));
            else
                snprintf(want, sizeof want, "node\t%s\t%s\t%s", px_layer_name(l), px_layer_class(l),
                         px_layer_name(px_model_layer(m, i - 1)));
            CHECK(find_line(&ev, want, 0) >= 0);
        }
        CHECK(find_line(&ev, "keras_model\t0\tkeras\tSequential\t", 0) >= 0);
        /* the 8 samples, values in [0, 1] times 255 */
        int at = find_line(&ev, "image\t0\tinput_samples\t6\t6\t8\tL", 0);
        CHECK(at >= 8);
        int want[36], bad = 0;
        for (int i = 0; at >= 8 && i < N; i++) {
            for (int p = 0; p < 36; p++) want[p] = (int)(xv[i * 36 + p] * 255.f + 0.5f);
            bad += !pixels_match(ev.line[at - 8 + i], want, 36, 0);
        }
        CHECK(bad == 0);
        /* the final kernel's 4 filters, min-max scaled over the whole kernel */
        px_layer *conv = px_model_layer(m, 0);
        char tag[300];
        snprintf(tag, sizeof tag, "image\t1\t%s/kernel/image\t3\t3\t4\tL", px_layer_name(conv));
        at = find_line(&ev, tag, 0);
        CHECK(at >= 4);
        const px_tensor *k = px_node_value(px_layer_weight(conv, 0));
        const float *kv = px_tensor_f32(k);
        float lo = kv[0], hi = kv[0];
        for (int i = 0; i < 36; i++) lo = kv[i] < lo ? kv[i] : lo, hi = kv[i] > hi ? kv[i] : hi;
        for (int f = 0; at >= 4 && f < 4; f++) {
            for (int p = 0; p < 9; p++) want[p] = expect_byte(kv[p * 4 + f], lo, hi);
            bad += !pixels_match(ev.line[at - 4 + f], want, 9, 1);
        }
        CHECK(bad == 0);
        snprintf(tag, sizeof tag, "image\t0\t%s/kernel/image\t", px_layer_name(conv));
        CHECK(find_line(&ev, tag, 0) >= 0);
        /* TF2 histograms of every weight at both epochs, counts adding up to its size */
        int hist = 0;
        for (int i = 0; i < px_model_layer_count(m); i++) {
            px_layer *l = px_model_layer(m, i);
            for (int j = 0; j < px_layer_weight_count(l); j++) {
                snprintf(tag, sizeof tag, "%s/%s/histogram", px_layer_name(l), px_layer_weight_name(l, j));
                int64_t size = px_tensor_size(px_node_value(px_layer_weight(l, j)));
                for (int e = 0; e < 2; e++) hist += histograms(&ev, tag, e, size);
            }
        }
        CHECK(hist == 2 * 4 && count_kind(&ev, "histogram") == 2 * 4);
    }
    events_free(&ev);
    px_callback_free(tb);
    px_model_free(m);

    /* Embedding: projector files every epoch, the TSV holding the final matrix */
    float ids[N * 4];
    for (int i = 0; i < N * 4; i++) ids[i] = (float)((i * 7) % 10);
    px_tensor *xi = px_tensor_from_array(PX_SHAPE(N, 4), ids, N * 4);
    px_arrays emb_train = {&xi, 1, &y, 1};
    m = px_sequential((px_layer *[]){px_embedding_ex(10, 3, &(px_embedding_options){.input_shape = PX_SHAPE(4)}),
                                     px_flatten(PX_SCALAR), px_dense(1, PX_SIGMOID), NULL});
    CHECK_NOT_NULL(m);
    if (m) {
        CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY, .optimizer = px_sgd(NULL)}));
        snprintf(log_dir, sizeof log_dir, "%s/emb", tmp_root);
        tb = px_tensorboard_callback(&(px_tensorboard_options){.log_dir = log_dir, .embeddings_freq = 1,
                                                               .embeddings_metadata = "labels.tsv"});
        o.callbacks = &tb;
        CHECK_OK(px_model_fit_arrays(m, &emb_train, &o));
        px_layer *emb = px_model_layer(m, 0);
        const px_tensor *e = px_node_value(px_layer_weight(emb, 0));
        double sum = 0;
        for (int i = 0; i < 30; i++) sum += px_tensor_f32(e)[i];
        if (check_file_flags(log_dir, "--projector", &ev)) {
            char want[300];
            snprintf(want, sizeof want, "embedding\t%s/embeddings\t10\t3\t", px_layer_name(emb));
            int at = find_line(&ev, want, 0);
            CHECK(at >= 0 && fabs(strtod(strrchr(ev.line[at], '\t') + 1, NULL) - sum) < 1e-9);
            CHECK(find_line(&ev, "metadata_missing\tlabels.tsv", 0) >= 0);
        }
        events_free(&ev);
        px_callback_free(tb);
        px_model_free(m);
    }
    CHECK(px_tensorboard_callback(&(px_tensorboard_options){.embeddings_freq = -1}) == NULL);
    CHECK(px_tensorboard_callback(&(px_tensorboard_options){.image_samples = y}) == NULL);
    CHECK_ERROR_HAS("image_samples");
    px_tensor_free(x);
    px_tensor_free(y);
    px_tensor_free(xi);
}

/* A Functional model's graph: a merge node fed by both branches, the input feeding two. */
static void test_tensorboard_functional_graph(void) {
    enum { N = 8 };
    float xv[N * 3], yv[N];
    for (int i = 0; i < N * 3; i++) xv[i] = (float)(i % 5) * 0.25f;
    for (int i = 0; i < N; i++) yv[i] = (float)(i % 2);
    px_tensor *x = px_tensor_from_array(PX_SHAPE(N, 3), xv, N * 3), *y = px_tensor_from_array(PX_SHAPE(N, 1), yv, N);
    px_arrays train = {&x, 1, &y, 1};
    px_model *m = px_functional("branches");
    px_node *in = px_model_input(m, PX_SHAPE(3), "features");
    px_node *a = px_apply(px_dense_ex(4, &(px_dense_options){.activation = PX_RELU, .name = "left"}), in);
    px_node *b = px_apply(px_dense_ex(4, &(px_dense_options){.activation = PX_RELU, .name = "right"}), in);
    px_layer *add = px_add_layer();
    px_node *sum = px_apply_n(add, (px_node *[]){a, b}, 2);
    px_node *out = px_apply(px_dense_ex(1, &(px_dense_options){.activation = PX_SIGMOID, .name = "out"}), sum);
    CHECK_OK(px_model_set_outputs(m, &out, 1));
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY, .optimizer = px_sgd(NULL)}));
    char log_dir[512], dir[600], path[1200];
    snprintf(log_dir, sizeof log_dir, "%s/functional", tmp_root);
    px_callback *tb = px_tensorboard_callback(&(px_tensorboard_options){.log_dir = log_dir});
    px_fit_options o = {.epochs = 1, .batch_size = 4, .verbose = PX_VERBOSE_SILENT, .callbacks = &tb, .n_callbacks = 1};
    CHECK_OK(px_model_fit_arrays(m, &train, &o));
    int files = 0;
    events ev = {0};
    snprintf(dir, sizeof dir, "%s/train", log_dir);
    CHECK(find_events(dir, path, sizeof path, &files) && files == 1);
    if (files == 1 && check_file(path, &ev)) {
        char want[300];
        CHECK(find_line(&ev, "node\tfeatures\tInputLayer\t", 0) >= 0);
        CHECK(find_line(&ev, "node\tleft\tDense\tfeatures", 0) >= 0 && find_line(&ev, "node\tright\tDense\tfeatures", 0) >= 0);
        snprintf(want, sizeof want, "node\t%s\tAdd\tleft,right", px_layer_name(add));
        CHECK(find_line(&ev, want, 0) >= 0);
        snprintf(want, sizeof want, "node\tout\tDense\t%s", px_layer_name(add));
        CHECK(find_line(&ev, want, 0) >= 0);
        CHECK(find_line(&ev, "graph\t5", 0) >= 0 && find_line(&ev, "keras_model\t0\tkeras\tFunctional\t5", 0) >= 0);
    }
    events_free(&ev);
    px_callback_free(tb);
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(y);
}

int main(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/px_test_tb_callback_%ld", (long)getpid());
    mkdir(tmp_root, 0700);
    RUN_TEST(test_tensorboard_callback_runs);
    RUN_TEST(test_tensorboard_graph_images_projector);
    RUN_TEST(test_tensorboard_functional_graph);
    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return px_test_finish();
}
