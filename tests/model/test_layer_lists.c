/* A failed layer constructor never silently shortens a model (issue 18 item
 * 10): px_sequential counts its list and refuses a NULL before the end, and a
 * model given a NULL layer refuses to build, compile or fit. */
#include <stdlib.h>
#include <string.h>

#include "px_test.h"

static void test_null_in_the_list(void) {
    /* the model: Dense(0) returns NULL in the middle of the list */
    px_clear_error();
    px_model *m = px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(0, PX_RELU),
                                               px_dense(10, PX_SOFTMAX), NULL});
    CHECK(m == NULL && px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("px_sequential: layer 2 of 3 is NULL: its constructor failed");
    CHECK_ERROR_HAS("units must be positive");
    px_model_free(m);
    /* the last layer failing */
    m = px_sequential((px_layer *[]){px_dense(4, PX_RELU), px_dense(-1, PX_SOFTMAX), NULL});
    CHECK(m == NULL);
    CHECK_ERROR_HAS("layer 2 of 2 is NULL");
    /* the first */
    m = px_sequential((px_layer *[]){px_dropout_layer(1.5f), px_dense(2, PX_RELU), NULL});
    CHECK(m == NULL);
    CHECK_ERROR_HAS("layer 1 of 2 is NULL");
    /* px_sequential_n directly: a NULL in the last place is a terminator */
    px_layer *two[2] = {px_dense(3, PX_RELU), NULL};
    m = px_sequential_n(two, 2);
    CHECK(m && px_model_layer_count(m) == 1);
    px_model_free(m);
}

static void test_good_lists(void) {
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(3, &(px_dense_options){.input_shape = PX_SHAPE(4)}),
                                               px_dense(2, PX_SOFTMAX), NULL});
    CHECK_NOT_NULL(m);
    CHECK(px_model_layer_count(m) == 2 && px_model_built(m));
    px_model_free(m);
    /* an array variable with exactly its layers (no terminator) */
    px_layer *exact[2] = {px_dense(3, PX_RELU), px_dense(2, PX_SOFTMAX)};
    m = px_sequential(exact);
    CHECK(m && px_model_layer_count(m) == 2);
    px_model_free(m);
    /* a pointer: read up to its NULL */
    px_layer **list = calloc(3, sizeof *list);
    list[0] = px_dense(3, PX_RELU);
    list[1] = px_dense(2, PX_SOFTMAX);
    m = px_sequential(list);
    CHECK(m && px_model_layer_count(m) == 2);
    px_model_free(m);
    free(list);
    /* no list: layers come later */
    m = px_sequential(NULL);
    CHECK(m && px_model_layer_count(m) == 0);
    CHECK_OK(px_sequential_add(m, px_dense(2, PX_SOFTMAX)));
    px_model_free(m);
    px_layer *three[] = {px_dense(3, PX_RELU), px_dense(2, PX_RELU), px_dense(2, PX_SOFTMAX)};
    m = px_sequential_n(three, 3);
    CHECK(m && px_model_layer_count(m) == 3);
    px_model_free(m);
}

static void test_null_added_later(void) {
    px_model *m = px_sequential(NULL);
    CHECK_OK(px_sequential_add(m, px_dense_ex(3, &(px_dense_options){.input_shape = PX_SHAPE(4)})));
    px_clear_error();
    CHECK(px_sequential_add(m, px_dense(0, PX_RELU)) == PX_ERR_ARG);
    CHECK_ERROR_HAS("layer 2 was NULL (its constructor failed: Dense: units must be positive");
    CHECK_OK(px_sequential_add(m, px_dense(2, PX_SOFTMAX)));
    /* the model is incomplete: compile, build and fit refuse it */
    CHECK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = px_sgd(NULL)}) ==
          PX_ERR_STATE);
    CHECK_ERROR_HAS("compile: model 'sequential' is incomplete: layer 2 was NULL");
    CHECK(px_model_build(m, PX_SHAPE(4)) == PX_ERR_STATE || px_model_built(m));
    px_tensor *x = px_tensor_zeros(PX_SHAPE(4, 4)), *y = px_tensor_new(PX_I32, PX_SHAPE(4));
    px_dataset d = {x, y};
    CHECK(px_model_fit(m, &d, &(px_fit_options){.verbose = PX_VERBOSE_SILENT}) != PX_OK);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
    /* an unbuilt one refuses to build */
    m = px_sequential(NULL);
    CHECK(px_sequential_add(m, NULL) == PX_ERR_ARG);
    CHECK_OK(px_sequential_add(m, px_dense(2, PX_SOFTMAX)));
    CHECK(px_model_build(m, PX_SHAPE(4)) == PX_ERR_STATE);
    CHECK_ERROR_HAS("build: model 'sequential' is incomplete");
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_null_in_the_list);
    RUN_TEST(test_good_lists);
    RUN_TEST(test_null_added_later);
    return px_test_finish();
}
