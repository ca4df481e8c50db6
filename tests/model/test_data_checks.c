/* fit, evaluate and predict refuse data a model cannot mean: class labels
 * outside the output's classes (issue 18 item 3) and embedding ids that name no
 * row of the table (item 13), naming the example, the value and the valid range;
 * predict refuses NaN and infinite inputs, checked batch by batch. */
#include <math.h>
#include <string.h>

#include "px_test.h"

static const px_fit_options quiet = {.verbose = PX_VERBOSE_SILENT};
static const px_eval_options quiet_eval = {.verbose = PX_VERBOSE_SILENT};

/* 4 features -> 3 classes, sparse categorical cross-entropy. */
static px_model *classifier(void) {
    px_model *m = px_sequential((px_layer *[]){
        px_dense_ex(3, &(px_dense_options){.activation = PX_SOFTMAX, .input_shape = PX_SHAPE(4)}), NULL});
    px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = px_sgd(NULL),
                                              .metrics = {PX_ACCURACY}});
    return m;
}

static void test_labels_out_of_range(void) {
    px_model *m = classifier();
    px_tensor *x = px_tensor_zeros(PX_SHAPE(6, 4));
    const int bad[] = {7, -1, 3, 1000000000};
    for (int b = 0; b < 4; b++) {
        px_tensor *y = px_tensor_new(PX_I32, PX_SHAPE(6));
        px_tensor_i32(y)[4] = bad[b];
        px_arrays a = {&x, 1, &y, 1};
        px_clear_error();
        CHECK(px_model_fit_arrays(m, &a, &quiet) == PX_ERR_ARG);
        char want[96];
        snprintf(want, sizeof want, "example 4 has the label %d, outside the valid range [0, 3)", bad[b]);
        CHECK_ERROR_HAS(want);
        px_dataset d = {x, y};
        CHECK(px_model_evaluate(m, &d, &quiet_eval, NULL) == PX_ERR_ARG);
        CHECK_ERROR_HAS(want);
        CHECK_ERROR_HAS("evaluation data");
        /* as validation data too */
        px_tensor *good = px_tensor_new(PX_I32, PX_SHAPE(6));
        px_dataset train = {x, good}, valid = {x, y};
        CHECK(px_model_fit(m, &train, &(px_fit_options){.verbose = PX_VERBOSE_SILENT, .validation = &valid}) == PX_ERR_ARG);
        CHECK_ERROR_HAS("validation data");
        /* the validation split names the example by its place in the whole array */
        CHECK(px_model_fit_arrays(m, &a, &(px_fit_options){.verbose = PX_VERBOSE_SILENT, .validation_split = 0.5f}) ==
              PX_ERR_ARG);
        CHECK_ERROR_HAS("validation split");
        CHECK_ERROR_HAS("example 4 ");
        px_tensor_free(good);
        px_tensor_free(y);
    }
    /* float labels (as a CSV or a C array may give them): fractions and huge values too */
    const float fbad[] = {7.0f, -1.0f, 1e9f, 1e10f, 2.5f};
    for (int b = 0; b < 5; b++) {
        px_tensor *y = px_tensor_zeros(PX_SHAPE(6));
        px_tensor_f32(y)[2] = fbad[b];
        px_arrays a = {&x, 1, &y, 1};
        px_clear_error();
        CHECK(px_model_fit_arrays(m, &a, &quiet) == PX_ERR_ARG);
        CHECK(b >= 3 ? px_test_error_has("must be integers") : px_test_error_has("example 2 has the label"));
        px_tensor_free(y);
    }
    /* labels in range train, and the loss stays finite */
    px_tensor *y = px_tensor_new(PX_I32, PX_SHAPE(6));
    for (int i = 0; i < 6; i++) px_tensor_i32(y)[i] = i % 3;
    px_arrays a = {&x, 1, &y, 1};
    CHECK_OK(px_model_fit_arrays(m, &a, &quiet));
    int n = 0;
    const double *loss = px_history_get(px_model_history(m), "loss", &n);
    CHECK(n == 1 && loss && isfinite(loss[0]));
    px_tensor_free(y);
    px_tensor_free(x);
    px_model_free(m);
}

/* An Embedding over 10 ids, averaged, then 2 classes. */
static px_model *embedder(void) {
    px_model *m = px_functional("emb");
    px_node *in = px_model_input(m, PX_SHAPE(5), "ids");
    px_node *e = px_apply(px_embedding(10, 3), in);
    px_node *avg = px_apply(px_global_average_pooling1d(), e);
    px_node *out = px_apply(px_dense(2, PX_SOFTMAX), avg);
    px_model_set_outputs(m, &out, 1);
    px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = px_sgd(NULL)});
    return m;
}

static void test_embedding_ids(void) {
    px_model *m = embedder();
    CHECK_NOT_NULL(m);
    if (!m || !px_model_built(m)) {
        px_model_free(m);
        return;
    }
    px_tensor *y = px_tensor_new(PX_I32, PX_SHAPE(4));
    const float bad[] = {10.0f, -1.0f, 2.5f, NAN};
    for (int b = 0; b < 4; b++) {
        px_tensor *x = px_tensor_zeros(PX_SHAPE(4, 5));
        px_tensor_f32(x)[3 * 5 + 2] = bad[b];
        px_arrays a = {&x, 1, &y, 1};
        px_clear_error();
        px_status st = px_model_fit_arrays(m, &a, &quiet);
        if (b == 3) { /* NaN is refused before, as any NaN input is */
            CHECK(st == PX_ERR_NUMERIC);
        } else {
            CHECK(st == PX_ERR_ARG);
            CHECK_ERROR_HAS("example 3 holds the id");
            CHECK_ERROR_HAS("at position 2, outside the rows [0, 10) of the embedding table");
            px_tensor *p = px_model_predict(m, x, &quiet_eval);
            CHECK(p == NULL);
            CHECK_ERROR_HAS("prediction inputs");
            px_tensor_free(p);
        }
        px_tensor_free(x);
    }
    /* int32 ids, and valid ones, pass; the outputs are finite */
    px_tensor *ids = px_tensor_new(PX_I32, PX_SHAPE(4, 5));
    for (int i = 0; i < 20; i++) px_tensor_i32(ids)[i] = i % 10;
    px_tensor *p = px_model_predict(m, ids, &quiet_eval);
    CHECK_NOT_NULL(p);
    for (int64_t i = 0; p && i < px_tensor_size(p); i++) CHECK(isfinite(px_tensor_f32(p)[i]));
    px_tensor_i32(ids)[7] = 10;
    px_tensor *q = px_model_predict(m, ids, &quiet_eval);
    CHECK(q == NULL);
    CHECK_ERROR_HAS("example 1 holds the id 10 at position 2");
    px_tensor_free(p);
    px_tensor_free(ids);
    px_tensor_free(y);
    px_model_free(m);
}

/* predict checks each batch just before its products (not the whole array up
 * front): a NaN or infinity in a later batch is still refused, naming the example
 * and the position, and no output is returned. */
static void test_predict_non_finite(void) {
    px_model *m = classifier();
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int b = 0; b < 3; b++) {
        px_tensor *x = px_tensor_zeros(PX_SHAPE(6, 4));
        px_tensor_f32(x)[4 * 4 + 2] = bad[b];
        px_clear_error();
        px_tensor *p = px_model_predict(m, x, &(px_eval_options){.batch_size = 2, .verbose = PX_VERBOSE_SILENT});
        CHECK(p == NULL);
        CHECK(px_last_status() == PX_ERR_NUMERIC);
        CHECK_ERROR_HAS("prediction inputs input 0");
        CHECK_ERROR_HAS(b ? "infinity at example 4, position 2" : "NaN at example 4, position 2");
        px_tensor_free(p);
        px_tensor_free(x);
    }
    px_tensor *x = px_tensor_zeros(PX_SHAPE(6, 4)); /* and finite inputs pass */
    px_tensor *p = px_model_predict(m, x, &(px_eval_options){.batch_size = 2, .verbose = PX_VERBOSE_SILENT});
    CHECK_NOT_NULL(p);
    px_tensor_free(p);
    px_tensor_free(x);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_labels_out_of_range);
    RUN_TEST(test_embedding_ids);
    RUN_TEST(test_predict_non_finite);
    return px_test_finish();
}
