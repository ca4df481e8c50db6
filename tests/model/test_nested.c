/* Models used as layers (src/model/nested.c): the nested layer computes what the
 * model computed, trains its weights (or not, frozen), survives .h5 and .keras round
 * trips, and a Functional model with two inputs and two outputs nests too. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexus/model_io.h"
#include "px_test.h"

static const px_eval_options silent = {.verbose = PX_VERBOSE_SILENT};

static px_model *encoder(void) {
    return px_sequential((px_layer *[]){px_dense_ex(4, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(3)}),
                                        px_batch_normalization(), px_dense(2, PX_LINEAR), NULL});
}

static void test_nested_sequential(void) {
    px_set_random_seed(3);
    px_model *inner = encoder();
    px_tensor *x = px_test_random(PX_SHAPE(6, 3), 1), *y = px_test_random(PX_SHAPE(6, 1), 2);
    px_tensor *p_inner = px_model_predict(inner, x, &silent);
    px_layer *enc = px_model_as_layer(inner);
    CHECK_NOT_NULL(enc);
    px_model *m = px_sequential((px_layer *[]){enc, px_dense_ex(1, &(px_dense_options){.name = "head"}), NULL});
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK(strcmp(px_layer_class(enc), "Sequential") == 0 && px_layer_weight_count(enc) == 8);
    CHECK(strcmp(px_layer_weight_name(enc, 0), "dense/kernel") == 0);
    /* outer = head(inner(x)), head computed here from its weights */
    px_tensor *p = px_model_predict(m, x, &silent);
    px_layer *head = px_model_find_layer(m, "head");
    const float *k = px_tensor_f32(px_node_value(px_layer_weight(head, 0))), *b = px_tensor_f32(px_node_value(px_layer_weight(head, 1)));
    double worst = 0;
    for (int i = 0; p && i < 6; i++) {
        double want = b[0] + px_tensor_f32(p_inner)[i * 2] * k[0] + px_tensor_f32(p_inner)[i * 2 + 1] * k[1];
        worst = fmax(worst, fabs(want - px_tensor_f32(p)[i]));
    }
    CHECK(p && worst < 1e-6);
    /* training reaches the nested weights; frozen, it does not */
    int64_t trainable = 0, frozen = 0;
    px_model_param_count(m, &trainable, &frozen);
    CHECK(trainable == 16 + 8 + 10 + 3 && frozen == 8);
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .optimizer = px_sgd(NULL)}));
    px_tensor *k0 = px_tensor_copy(px_node_value(px_layer_weight(enc, 0)));
    px_fit_options fo = {.epochs = 2, .batch_size = 3, .verbose = PX_VERBOSE_SILENT};
    CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1}, &fo));
    CHECK(!px_test_same_tensor(k0, px_node_value(px_layer_weight(enc, 0))));
    px_layer_set_trainable(enc, false);
    px_model_param_count(m, &trainable, &frozen);
    CHECK(trainable == 3 && frozen == 42);
    px_tensor_free(k0);
    k0 = px_tensor_copy(px_node_value(px_layer_weight(enc, 0)));
    CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1}, &fo));
    CHECK(px_test_same_tensor(k0, px_node_value(px_layer_weight(enc, 0))));
    px_tensor_free(k0);
    px_tensor_free(p);
    /* both formats bring it back whole */
    p = px_model_predict(m, x, &silent);
    const char *files[] = {px_test_tmp_path("n.h5"), px_test_tmp_path("n.keras")};
    for (int f = 0; f < 2; f++) {
        CHECK_OK(px_model_save(m, files[f]));
        px_model *l = px_model_load(files[f]);
        CHECK_NOT_NULL(l);
        if (!l) continue;
        px_layer *e = px_model_layer(l, 0);
        CHECK(strcmp(px_layer_class(e), "Sequential") == 0 && px_layer_weight_count(e) == 8 && !px_layer_trainable(e));
        px_tensor *q = px_model_predict(l, x, &silent);
        CHECK(px_test_same_tensor(p, q));
        px_tensor_free(q);
        px_model_free(l);
        remove(files[f]);
    }
    /* a clone keeps the weights */
    px_layer *c = px_layer_clone(enc);
    px_model *m2 = px_sequential((px_layer *[]){c, NULL});
    px_model *ref = encoder();
    CHECK(m2 && px_model_built(m2));
    px_tensor *q = m2 ? px_model_predict(m2, x, &silent) : NULL, *r = NULL;
    px_tensor **w = NULL;
    int n = 0;
    if (px_layer_get_weights(enc, &w, &n) == PX_OK && px_model_set_weights(ref, w, n) == PX_OK) r = px_model_predict(ref, x, &silent);
    for (int i = 0; i < n; i++) px_tensor_free(w[i]);
    free(w);
    CHECK(q && r && px_test_same_tensor(q, r));
    px_tensor_free(q), px_tensor_free(r);
    px_model_free(m2), px_model_free(ref);
    px_tensor_free(p), px_tensor_free(p_inner), px_tensor_free(x), px_tensor_free(y);
    px_model_free(m);
}

/* A Functional model with two inputs and two outputs inside a Functional model. */
static void test_nested_functional(void) {
    px_set_random_seed(8);
    px_model *inner = px_functional("pair");
    px_node *a = px_model_input(inner, PX_SHAPE(3), "a"), *b = px_model_input(inner, PX_SHAPE(2), "b");
    px_node *cat = px_apply_n(px_concatenate(-1), (px_node *[]){a, b}, 2);
    px_node *o1 = px_apply(px_dense(2, PX_TANH), cat), *o2 = px_apply(px_dense(1, PX_LINEAR), o1);
    CHECK_OK(px_model_set_outputs(inner, (px_node *[]){o2, o1}, 2));
    px_tensor *xa = px_test_random(PX_SHAPE(4, 3), 5), *xb = px_test_random(PX_SHAPE(4, 2), 6), *pi[2] = {0};
    CHECK_OK(px_model_predict_arrays(inner, (px_tensor *[]){xa, xb}, 2, &silent, pi));
    px_layer *pair = px_model_as_layer(inner);
    px_model *m = px_functional("outer");
    px_node *ia = px_model_input(m, PX_SHAPE(3), "ia"), *ib = px_model_input(m, PX_SHAPE(2), "ib");
    px_node *out = px_apply_n(pair, (px_node *[]){ia, ib}, 2);
    CHECK(out && px_layer_extra_output_count(pair) == 1);
    CHECK_OK(px_model_set_outputs(m, (px_node *[]){out, px_layer_extra_output(pair, 0)}, 2));
    px_tensor *p[2] = {0};
    CHECK_OK(px_model_predict_arrays(m, (px_tensor *[]){xa, xb}, 2, &silent, p));
    CHECK(px_test_same_tensor(p[0], pi[0]) && px_test_same_tensor(p[1], pi[1]));
    /* Keras counts a nested Functional model's calls from 1 (it has a node of its own) */
    char *json = NULL;
    CHECK_OK(px_model_to_json(m, &json));
    CHECK(json && strstr(json, "\"output_layers\": [[\"pair\", 1, 0], [\"pair\", 1, 1]]"));
    free(json);
    const char *f = px_test_tmp_path("f.keras");
    CHECK_OK(px_model_save(m, f));
    px_model *l = px_model_load(f);
    CHECK_NOT_NULL(l);
    if (l) {
        px_tensor *q[2] = {0};
        CHECK_OK(px_model_predict_arrays(l, (px_tensor *[]){xa, xb}, 2, &silent, q));
        CHECK(px_test_same_tensor(p[0], q[0]) && px_test_same_tensor(p[1], q[1]));
        px_tensor_free(q[0]), px_tensor_free(q[1]);
    }
    px_model_free(l);
    remove(f);
    /* wrong input count: a clear error */
    px_model *bad = px_functional("bad");
    px_node *only = px_model_input(bad, PX_SHAPE(3), "x");
    px_layer *pair2 = px_layer_clone(pair);
    CHECK(px_apply(pair2, only) == NULL);
    CHECK_ERROR_HAS("takes 2 inputs");
    px_model_free(bad);
    for (int i = 0; i < 2; i++) px_tensor_free(p[i]), px_tensor_free(pi[i]);
    px_tensor_free(xa), px_tensor_free(xb);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_nested_sequential);
    RUN_TEST(test_nested_functional);
    return px_test_finish();
}
