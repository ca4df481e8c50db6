/* fit, evaluate and predict on sources (src/model/batches.c, fit.c): bytes
 * scaled in the gather train as their floats do, generators, prefetching and
 * validation splits; Keras's sample_weight, class_weight and weighted_metrics
 * against values worked out from the predictions; flattened features feeding
 * an input of another shape; bad data met while reading, named. */
#include <stdlib.h>
#include <string.h>

#include "px_test.h"

static const px_fit_options quiet = {.verbose = PX_VERBOSE_SILENT};
static const px_eval_options silent = {.verbose = PX_VERBOSE_SILENT};

enum { N = 96, F = 12, K = 3 };

/* Bytes whose class is told by which third of the features is brightest. */
static void make_bytes(uint8_t *x, int32_t *y) {
    px_rng r = px_rng_seeded(4);
    for (int i = 0; i < N; i++) {
        y[i] = i % K;
        for (int j = 0; j < F; j++) x[i * F + j] = (uint8_t)(px_rng_below(&r, 120) + (j / (F / K) == y[i] ? 120 : 0));
    }
}

static px_model *mlp(uint64_t seed, px_shape in) {
    px_set_random_seed(seed);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(in, NULL), px_flatten(PX_SCALAR), px_dense(8, PX_RELU),
                                               px_dense(K, PX_SOFTMAX), NULL});
    px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                              .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 0.05f}),
                                              .metrics = {PX_ACCURACY}});
    return m;
}

/* All weights of a model as one flat copy. */
static px_tensor *flat_weights(px_model *m) {
    px_tensor **w = NULL;
    int n = 0;
    if (px_model_get_weights(m, &w, &n) != PX_OK) return NULL;
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += px_tensor_size(w[i]);
    px_tensor *f = px_tensor_new(PX_F32, PX_SHAPE(total));
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        memcpy(px_tensor_f32(f) + at, w[i]->data, (size_t)px_tensor_size(w[i]) * 4);
        at += px_tensor_size(w[i]);
        px_tensor_free(w[i]);
    }
    free(w);
    return f;
}

/* Bytes scaled as they are gathered train exactly as the same values stored as floats. */
static void test_bytes_as_floats(void) {
    uint8_t xb[N * F];
    int32_t y[N];
    make_bytes(xb, y);
    px_array ax = {PX_ELEM_U8, PX_SHAPE(N, F), xb, 1.0f / 255, false}, ay = {PX_ELEM_I32, PX_SHAPE(N), y, 0, false};
    px_source *s = px_source_arrays(&ax, 1, &ay, 1, NULL);
    px_model *a = mlp(9, PX_SHAPE(F));
    CHECK_OK(px_model_fit_source(a, s, &(px_fit_options){.epochs = 3, .batch_size = 10, .verbose = PX_VERBOSE_SILENT}));
    px_tensor *xf = px_tensor_new(PX_F32, PX_SHAPE(N, F));
    for (int i = 0; i < N * F; i++) px_tensor_f32(xf)[i] = (float)xb[i] * (1.0f / 255);
    px_dataset *d = px_dataset_new(xf, px_tensor_from_int_array(PX_SHAPE(N), y, N));
    px_model *b = mlp(9, PX_SHAPE(F));
    CHECK_OK(px_model_fit(b, d, &(px_fit_options){.epochs = 3, .batch_size = 10, .verbose = PX_VERBOSE_SILENT}));
    px_tensor *wa = flat_weights(a), *wb = flat_weights(b);
    CHECK(wa && wb && px_tensor_equal(wa, wb));
    /* evaluate and predict on the bytes give the floats' results */
    px_logs la = {0}, lb = {0};
    CHECK_OK(px_model_evaluate_source(a, s, &silent, &la));
    CHECK_OK(px_model_evaluate(a, d, &silent, &lb));
    double va = 0, vb = 1;
    CHECK(px_logs_get(&la, "loss", &va) && px_logs_get(&lb, "loss", &vb) && va == vb);
    px_tensor *pa = NULL, *pb = px_model_predict(a, d->x, &silent);
    CHECK_OK(px_model_predict_source(a, s, &silent, &pa));
    CHECK(pa && pb && px_tensor_equal(pa, pb));
    /* prefetched: the same training */
    px_model *c = mlp(9, PX_SHAPE(F));
    px_source *pf = px_source_prefetch(s, 3);
    CHECK_OK(px_model_fit_source(c, pf, &(px_fit_options){.epochs = 3, .batch_size = 10, .verbose = PX_VERBOSE_SILENT}));
    px_tensor *wc = flat_weights(c);
    CHECK(wa && wc && px_tensor_equal(wa, wc));
    px_tensor_free(wa), px_tensor_free(wb), px_tensor_free(wc), px_tensor_free(pa), px_tensor_free(pb);
    px_model_free(a), px_model_free(b), px_model_free(c);
    px_dataset_free(d);
    px_source_free(pf);
}

/* ---- a generator of the same data, 16 rows a batch ---- */

typedef struct gen {
    const uint8_t *x;
    const int32_t *y;
    int nan_at; /* example made NaN, or -1 */
    int ends;
} gen;

static px_status gen_get(void *user, int64_t index, px_batch *b) {
    gen *g = user;
    int64_t first = index * 16;
    b->rows = N - first < 16 ? N - first : 16;
    for (int64_t i = 0; i < b->rows; i++) {
        for (int j = 0; j < F; j++) px_tensor_f32(&b->x[0])[i * F + j] = g->x[(first + i) * F + j] / 255.0f;
        if (first + i == g->nan_at) px_tensor_f32(&b->x[0])[i * F + 3] = NAN;
        px_tensor_i32(&b->y[0])[i] = g->y[first + i];
    }
    return PX_OK;
}
static void gen_end(void *user, int epoch) {
    (void)epoch;
    ((gen *)user)->ends++;
}

static px_source *gen_source(gen *g) {
    px_generator spec = {.batches = (N + 15) / 16, .batch_size = 16, .get = gen_get, .on_epoch_end = gen_end, .user = g};
    spec.spec = (px_source_spec){.n_x = 1, .n_y = 1, .x = {PX_SHAPE(F)}, .y = {PX_SCALAR}, .x_dtype = {PX_F32},
                                 .y_dtype = {PX_I32}};
    return px_source_generator(&spec);
}

static void test_generator_fit(void) {
    uint8_t xb[N * F];
    int32_t y[N];
    make_bytes(xb, y);
    gen g = {xb, y, -1, 0};
    px_source *s = gen_source(&g);
    px_model *m = mlp(3, PX_SHAPE(F));
    CHECK_OK(px_model_fit_source(m, s, &(px_fit_options){.epochs = 30, .verbose = PX_VERBOSE_SILENT,
                                                         .validation_source = s}));
    CHECK(g.ends >= 30); /* on_epoch_end after every epoch */
    const px_history *h = px_model_history(m);
    int n = 0;
    const double *acc = px_history_get(h, "val_accuracy", &n);
    CHECK(n == 30 && acc && acc[29] >= 0.95);
    if (acc) printf("generator: accuracy %.4f after 30 epochs of 6 batches\n", acc[n - 1]);
    px_tensor *p = NULL;
    CHECK_OK(px_model_predict_source(m, s, &silent, &p));
    CHECK(p && p->shape[0] == N && p->shape[1] == K);
    px_tensor_free(p);
    /* a NaN made by the generator stops training, naming the example */
    g.nan_at = 37;
    CHECK(px_model_fit_source(m, s, &quiet) == PX_ERR_NUMERIC);
    CHECK_ERROR_HAS("NaN at example 37, position 3");
    /* validation_split needs random access to examples */
    px_source *st = px_source_shuffle(px_source_arrays(&(px_array){PX_ELEM_U8, PX_SHAPE(N, F), xb, 0, false}, 1,
                                                       &(px_array){PX_ELEM_I32, PX_SHAPE(N), y, 0, false}, 1, NULL), 8, 1);
    CHECK(px_model_fit_source(m, st, &(px_fit_options){.validation_split = 0.2f, .verbose = PX_VERBOSE_SILENT}) ==
          PX_ERR_ARG);
    CHECK_ERROR_HAS("validation_split needs data with random access");
    px_source_free(st);
    px_model_free(m);
    px_source_free(s);
}

/* A label outside the output's classes, met in a batch, is named. */
static void test_label_out_of_range(void) {
    uint8_t xb[N * F];
    int32_t y[N];
    make_bytes(xb, y);
    y[50] = 7;
    px_array ax = {PX_ELEM_U8, PX_SHAPE(N, F), xb, 1.0f / 255, false}, ay = {PX_ELEM_I32, PX_SHAPE(N), y, 0, false};
    px_source *s = px_source_arrays(&ax, 1, &ay, 1, NULL);
    px_model *m = mlp(3, PX_SHAPE(F));
    CHECK(px_model_fit_source(m, s, &quiet) == PX_ERR_ARG);
    CHECK_ERROR_HAS("example 50 has the label 7, outside the valid range [0, 3)");
    px_model_free(m);
    px_source_free(s);
}

/* ---- weights ---- */

/* A linear model y = x w + b with mse. */
static px_model *linear(void) {
    px_set_random_seed(1);
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(1, &(px_dense_options){.input_shape = PX_SHAPE(2)}), NULL});
    px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR,
                                              .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 0.1f}),
                                              .metrics = {PX_METRIC_MAE}, .weighted_metrics = {PX_METRIC_MAE}});
    return m;
}

/* Keras's weighted loss: sum(w_i (y_i - p_i)^2) / n, not over sum(w); weighted
 * metrics: sum(w_i |e_i|) / sum(w); plain metrics ignore the weights. */
static void test_sample_weight_values(void) {
    float xv[10], yv[5], w[5] = {0, 1, 2, 0.5f, 3};
    for (int i = 0; i < 10; i++) xv[i] = (float)(i % 4) - 1.5f;
    for (int i = 0; i < 5; i++) yv[i] = (float)i * 0.7f - 1;
    px_tensor *x = px_tensor_from_array(PX_SHAPE(5, 2), xv, 10), *y = px_tensor_from_array(PX_SHAPE(5, 1), yv, 5);
    px_model *m = linear();
    px_tensor *p = px_model_predict(m, x, &silent);
    double sq = 0, ab = 0, wab = 0, sw = 0;
    for (int i = 0; p && i < 5; i++) {
        double e = px_tensor_f32(p)[i] - yv[i];
        sq += w[i] * e * e, ab += fabs(e), wab += w[i] * fabs(e), sw += w[i];
    }
    px_arrays a = {&x, 1, &y, 1};
    px_logs logs = {0};
    CHECK_OK(px_model_evaluate_arrays(m, &a, &(px_eval_options){.verbose = PX_VERBOSE_SILENT, .batch_size = 2,
                                                                 .sample_weight = w}, &logs));
    double v = 0;
    CHECK(px_logs_get(&logs, "loss", &v));
    CHECK_NEAR(v, sq / 5, 1e-5);
    CHECK(px_logs_get(&logs, "mae", &v));
    CHECK_NEAR(v, ab / 5, 1e-5);
    CHECK(px_logs_get(&logs, "weighted_mae", &v));
    CHECK_NEAR(v, wab / sw, 1e-5);
    /* without weights every weighted value is the plain one */
    CHECK_OK(px_model_evaluate_arrays(m, &a, &silent, &logs));
    double plain = 0;
    CHECK(px_logs_get(&logs, "mae", &plain) && px_logs_get(&logs, "weighted_mae", &v));
    CHECK_NEAR(v, plain, 1e-6);
    px_tensor_free(p);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

/* Training: weights of 2 are plain SGD at twice the rate; class_weight is the
 * sample weights it stands for. */
static void test_weights_in_training(void) {
    float xv[40], yv[20], two[20];
    px_rng r = px_rng_seeded(2);
    for (int i = 0; i < 40; i++) xv[i] = px_rng_uniform(&r) * 2 - 1;
    for (int i = 0; i < 20; i++) yv[i] = xv[2 * i] - 0.5f * xv[2 * i + 1], two[i] = 2;
    px_tensor *x = px_tensor_from_array(PX_SHAPE(20, 2), xv, 40), *y = px_tensor_from_array(PX_SHAPE(20, 1), yv, 20);
    px_arrays a = {&x, 1, &y, 1};
    px_model *m1 = linear(), *m2 = linear();
    CHECK_OK(px_model_fit_arrays(m1, &a, &(px_fit_options){.epochs = 2, .batch_size = 4, .no_shuffle = true,
                                                           .verbose = PX_VERBOSE_SILENT, .sample_weight = two}));
    px_optimizer_set_learning_rate(px_model_optimizer(m2), 0.2f);
    CHECK_OK(px_model_fit_arrays(m2, &a, &(px_fit_options){.epochs = 2, .batch_size = 4, .no_shuffle = true,
                                                           .verbose = PX_VERBOSE_SILENT}));
    px_tensor *w1 = flat_weights(m1), *w2 = flat_weights(m2);
    CHECK(w1 && w2 && px_tensor_allclose(w1, w2, 1e-5f, 1e-6f));
    px_tensor_free(w1), px_tensor_free(w2);
    px_model_free(m1), px_model_free(m2);
    px_tensor_free(x), px_tensor_free(y);

    /* class_weight {0.5, 2, 1} is the sample weights 0.5, 2 or 1 by class */
    uint8_t xb[N * F];
    int32_t lab[N];
    make_bytes(xb, lab);
    float cw[K] = {0.5f, 2, 1}, sw[N];
    for (int i = 0; i < N; i++) sw[i] = cw[lab[i]];
    px_tensor *xf = px_tensor_new(PX_F32, PX_SHAPE(N, F)), *yl = px_tensor_from_int_array(PX_SHAPE(N), lab, N);
    for (int i = 0; i < N * F; i++) px_tensor_f32(xf)[i] = xb[i] / 255.0f;
    px_arrays b = {&xf, 1, &yl, 1};
    px_model *c1 = mlp(6, PX_SHAPE(F)), *c2 = mlp(6, PX_SHAPE(F));
    CHECK_OK(px_model_fit_arrays(c1, &b, &(px_fit_options){.epochs = 2, .verbose = PX_VERBOSE_SILENT, .class_weight = cw,
                                                           .n_class_weight = K}));
    CHECK_OK(px_model_fit_arrays(c2, &b, &(px_fit_options){.epochs = 2, .verbose = PX_VERBOSE_SILENT, .sample_weight = sw}));
    w1 = flat_weights(c1), w2 = flat_weights(c2);
    CHECK(w1 && w2 && px_tensor_equal(w1, w2));
    px_tensor_free(w1), px_tensor_free(w2);
    /* a class class_weight does not cover, or a negative weight, is refused */
    CHECK(px_model_fit_arrays(c1, &b, &(px_fit_options){.verbose = PX_VERBOSE_SILENT, .class_weight = cw,
                                                        .n_class_weight = 2}) == PX_ERR_ARG);
    CHECK_ERROR_HAS("class_weight (2 classes) does not give");
    float neg[K] = {1, -1, 1};
    CHECK(px_model_fit_arrays(c1, &b, &(px_fit_options){.verbose = PX_VERBOSE_SILENT, .class_weight = neg,
                                                        .n_class_weight = K}) == PX_ERR_ARG);
    px_model_free(c1), px_model_free(c2);
    px_tensor_free(xf), px_tensor_free(yl);
}

/* 784 features in a row feed a (28, 28) input: reshaped, with a note. */
static void test_flattened_features(void) {
    enum { M = 6 };
    px_tensor *x = px_tensor_random_uniform(PX_SHAPE(M, 784), 0, 1, &(px_rng){3, 1});
    px_tensor *y = px_tensor_new(PX_I32, PX_SHAPE(M));
    px_tensor *x2 = px_tensor_reshape(x, PX_SHAPE(M, 28, 28)), *x2c = px_tensor_copy(x2);
    px_model *m = mlp(2, PX_SHAPE(28, 28));
    FILE *note = tmpfile();
    px_arrays a = {&x, 1, &y, 1};
    CHECK_OK(px_model_fit_arrays(m, &a, &(px_fit_options){.verbose = PX_VERBOSE_EPOCH, .out = note}));
    char text[4096] = {0};
    if (note) {
        rewind(note);
        size_t got = fread(text, 1, sizeof text - 1, note);
        text[got] = '\0';
        fclose(note);
    }
    CHECK(strstr(text, "has examples of shape (784,); they are reshaped to the model's (28, 28)") != NULL);
    px_tensor *p1 = px_model_predict(m, x, &silent), *p2 = px_model_predict(m, x2c, &silent);
    CHECK(p1 && p2 && px_tensor_equal(p1, p2));
    /* counts that do not match are refused as before */
    px_tensor *bad = px_tensor_zeros(PX_SHAPE(M, 700));
    CHECK(px_model_predict(m, bad, &silent) == NULL);
    CHECK_ERROR_HAS("has shape (6, 700), the model expects (None, 28, 28)");
    px_tensor_free(bad), px_tensor_free(p1), px_tensor_free(p2), px_tensor_free(x2), px_tensor_free(x2c);
    px_tensor_free(x), px_tensor_free(y);
    px_model_free(m);
}

/* A validation split of a source takes its tail, before shuffling, as Keras does. */
static void test_validation_split_of_a_source(void) {
    uint8_t xb[N * F];
    int32_t y[N];
    make_bytes(xb, y);
    px_array ax = {PX_ELEM_U8, PX_SHAPE(N, F), xb, 1.0f / 255, false}, ay = {PX_ELEM_I32, PX_SHAPE(N), y, 0, false};
    px_source *s = px_source_arrays(&ax, 1, &ay, 1, NULL);
    px_model *m = mlp(3, PX_SHAPE(F));
    CHECK_OK(px_model_fit_source(m, s, &(px_fit_options){.epochs = 2, .validation_split = 0.25f,
                                                         .verbose = PX_VERBOSE_SILENT}));
    /* the last quarter, evaluated alone, gives the logged val_loss */
    px_source *tail = px_source_take(px_source_arrays(&ax, 1, &ay, 1, NULL), 72, 96);
    px_logs logs = {0};
    CHECK_OK(px_model_evaluate_source(m, tail, &silent, &logs));
    int n = 0;
    const double *vl = px_history_get(px_model_history(m), "val_loss", &n);
    double l = 0;
    CHECK(vl && n == 2 && px_logs_get(&logs, "loss", &l));
    if (vl) CHECK_NEAR(vl[1], l, 1e-9);
    px_source_free(tail);
    px_source_free(s);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_bytes_as_floats);
    RUN_TEST(test_generator_fit);
    RUN_TEST(test_label_out_of_range);
    RUN_TEST(test_sample_weight_values);
    RUN_TEST(test_weights_in_training);
    RUN_TEST(test_flattened_features);
    RUN_TEST(test_validation_split_of_a_source);
    return px_test_finish();
}
