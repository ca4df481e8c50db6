/* fit, evaluate and predict reject bad input before training starts, with a
 * message naming the argument and the shapes. */
#include <math.h>
#include <string.h>

#include "px_test.h"

static px_model *small_model(void) {
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(3, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(4)}),
                                               px_dense(2, PX_SOFTMAX), NULL});
    px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = px_sgd(NULL),
                                              .metrics = {PX_ACCURACY}});
    return m;
}

static const px_fit_options quiet = {.verbose = PX_VERBOSE_SILENT};

static void test_label_count_mismatch(void) {
    px_model *m = small_model();
    px_tensor *x = px_tensor_zeros(PX_SHAPE(10, 4)), *y = px_tensor_new(PX_I32, PX_SHAPE(9));
    px_arrays a = {&x, 1, &y, 1};
    CHECK(px_model_fit_arrays(m, &a, &quiet) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("target 0 has 9 examples but the first input has 10");
    /* px_dataset_new refuses the pair too */
    CHECK(px_dataset_new(px_tensor_copy(x), px_tensor_copy(y)) == NULL);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_input_of_wrong_shape(void) {
    px_model *m = small_model();
    px_tensor *x = px_tensor_zeros(PX_SHAPE(10, 5)), *y = px_tensor_new(PX_I32, PX_SHAPE(10));
    px_arrays a = {&x, 1, &y, 1};
    CHECK(px_model_fit_arrays(m, &a, &quiet) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("has shape (10, 5), the model expects (None, 4)");
    px_tensor *p = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    CHECK(p == NULL);
    CHECK_ERROR_HAS("(None, 4)");
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_loss_that_does_not_fit_the_output(void) {
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(2, &(px_dense_options){.activation = PX_SOFTMAX, .input_shape = PX_SHAPE(4)}), NULL});
    /* categorical cross-entropy wants one-hot float targets of the output's shape;
     * with int labels the message points at the sparse loss */
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_CATEGORICAL_CROSSENTROPY, .optimizer = px_sgd(NULL)}));
    px_tensor *x = px_tensor_zeros(PX_SHAPE(6, 4)), *y = px_tensor_zeros(PX_SHAPE(6, 3));
    px_arrays a = {&x, 1, &y, 1};
    CHECK(px_model_fit_arrays(m, &a, &quiet) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("(6, 3)");
    CHECK_ERROR_HAS("(None, 2)");
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_empty_dataset(void) {
    px_model *m = small_model();
    px_tensor *x = px_tensor_zeros(PX_SHAPE(0, 4)), *y = px_tensor_new(PX_I32, PX_SHAPE(0));
    px_arrays a = {&x, 1, &y, 1};
    CHECK(px_model_fit_arrays(m, &a, &quiet) == PX_ERR_ARG);
    CHECK_ERROR_HAS("is empty");
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_nan_in_inputs(void) {
    px_model *m = small_model();
    px_tensor *x = px_tensor_ones(PX_SHAPE(5, 4)), *y = px_tensor_new(PX_I32, PX_SHAPE(5));
    px_tensor_f32(x)[2 * 4 + 1] = NAN;
    px_arrays a = {&x, 1, &y, 1};
    CHECK(px_model_fit_arrays(m, &a, &quiet) == PX_ERR_NUMERIC);
    CHECK_ERROR_HAS("NaN at index (2, 1)");
    CHECK_ERROR_HAS("training data input 0");
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_bad_options_and_state(void) {
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(2, &(px_dense_options){.input_shape = PX_SHAPE(4)}), NULL});
    px_tensor *x = px_tensor_zeros(PX_SHAPE(4, 4)), *y = px_tensor_zeros(PX_SHAPE(4, 2));
    px_arrays a = {&x, 1, &y, 1};
    CHECK(px_model_fit_arrays(m, &a, &quiet) == PX_ERR_STATE); /* not compiled */
    CHECK_ERROR_HAS("must be compiled first");
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR}));
    px_fit_options o = quiet;
    o.validation_split = 1.5f;
    CHECK(px_model_fit_arrays(m, &a, &o) == PX_ERR_ARG);
    CHECK_ERROR_HAS("validation_split");
    o = quiet;
    o.batch_size = -3;
    CHECK(px_model_fit_arrays(m, &a, &o) == PX_ERR_ARG);
    /* a failed fit leaves the model usable */
    CHECK_OK(px_model_fit_arrays(m, &a, &quiet));
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_label_that_is_not_an_integer(void) {
    px_model *m = small_model();
    px_tensor *x = px_tensor_zeros(PX_SHAPE(3, 4));
    float yv[3] = {0, 1.5f, 1};
    px_tensor *y = px_tensor_from_array(PX_SHAPE(3), yv, 3);
    px_arrays a = {&x, 1, &y, 1};
    CHECK(px_model_fit_arrays(m, &a, &quiet) == PX_ERR_ARG);
    CHECK_ERROR_HAS("target 0: example 1 holds 1.5");
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

/* An input declared with a None axis besides the batch (timesteps) accepts any size there. */
static void test_unknown_timesteps_take_the_data_shape(void) {
    px_model *m = px_functional("seq");
    px_node *in = px_model_input(m, PX_SHAPE(PX_UNKNOWN, 3), "steps");
    px_node *out = px_apply(px_dense(2, PX_SOFTMAX), px_apply(px_lstm(4, NULL), in));
    CHECK_OK(px_model_set_outputs(m, &out, 1));
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY}));
    px_tensor *x = px_tensor_ones(PX_SHAPE(5, 7, 3)), *y = px_tensor_new(PX_I32, PX_SHAPE(5));
    px_arrays a = {&x, 1, &y, 1};
    CHECK_OK(px_model_fit_arrays(m, &a, &quiet));
    px_tensor *x9 = px_tensor_ones(PX_SHAPE(2, 9, 3));
    px_tensor *p = px_model_predict(m, x9, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    CHECK(p && p->shape[0] == 2 && p->shape[1] == 2);
    px_tensor *bad = px_tensor_ones(PX_SHAPE(2, 9, 4));
    CHECK(px_model_predict(m, bad, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}) == NULL);
    CHECK_ERROR_HAS("(None, None, 3)");
    px_tensor_free(p);
    px_tensor_free(bad);
    px_tensor_free(x9);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_label_count_mismatch);
    RUN_TEST(test_input_of_wrong_shape);
    RUN_TEST(test_loss_that_does_not_fit_the_output);
    RUN_TEST(test_empty_dataset);
    RUN_TEST(test_nan_in_inputs);
    RUN_TEST(test_bad_options_and_state);
    RUN_TEST(test_label_that_is_not_an_integer);
    RUN_TEST(test_unknown_timesteps_take_the_data_shape);
    return px_test_finish();
}
