/* Tests of the embedding lookup op and the Embedding layer: lookups with int32
 * and float indices, NaN rows for bad indices, the scattered gradient, training. */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "px_test.h"

enum { V = 5, D = 3 };

static void test_lookup_values(void) {
    px_tensor *table = px_gc_random(PX_SHAPE(V, D), -1, 1, 1);
    px_tensor *ii = px_tensor_from_int_array(PX_SHAPE(2, 3), (int32_t[]){4, 0, 2, 2, 1, 4}, 6);
    px_tensor *fi = px_tensor_from_array(PX_SHAPE(2, 3), (float[]){4, 0, 2, 2, 1, 4}, 6);
    px_tensor *bad = px_tensor_from_array(PX_SHAPE(5), (float[]){-1, 5, 2.5f, NAN, 3}, 5);
    px_graph *g = px_graph_new_eager();
    px_node *t = px_constant(g, table);
    px_node *a = px_embedding_lookup(px_constant(g, ii), t), *b = px_embedding_lookup(px_constant(g, fi), t);
    px_node *c = px_embedding_lookup(px_constant(g, bad), t);
    CHECK_NOT_NULL(c);
    if (a && b && c) {
        CHECK(px_shape_equal(px_node_shape(a), PX_SHAPE(2, 3, D)));
        CHECK(px_tensor_equal(px_node_value(a), px_node_value(b)));
        const int32_t *idx = px_tensor_i32(ii);
        int wrong = 0;
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < D; j++)
                wrong += px_tensor_f32(px_node_value(a))[i * D + j] != px_tensor_f32(table)[idx[i] * D + j];
        CHECK(wrong == 0);
        const float *cv = px_tensor_f32(px_node_value(c));
        for (int i = 0; i < 4; i++) CHECK(isnan(cv[i * D]) && isnan(cv[i * D + D - 1]));
        CHECK(cv[4 * D] == px_tensor_f32(table)[3 * D]);
    }
    px_graph_free(g);
    px_tensor *m = px_tensor_zeros(PX_SHAPE(3));
    g = px_graph_new();
    CHECK(px_embedding_lookup(px_constant(g, fi), px_constant(g, m)) == NULL);
    CHECK_ERROR_HAS("embedding");
    CHECK_ERROR_HAS("(3,)");
    px_graph_free(g);
    px_tensor_free(m), px_tensor_free(table), px_tensor_free(ii), px_tensor_free(fi), px_tensor_free(bad);
}

/* The gradient sums the output gradients of every index naming a row; bad
 * indices contribute nothing. */
static void test_scatter_gradient(void) {
    px_tensor *table = px_gc_random(PX_SHAPE(V, D), -1, 1, 2);
    px_tensor *idx = px_tensor_from_array(PX_SHAPE(4), (float[]){1, 3, 1, 9}, 4);
    px_tensor *r = px_gc_random(PX_SHAPE(4, D), -1, 1, 3);
    px_graph *g = px_graph_new();
    px_node *t = px_variable(g, table, "table");
    px_node *y = px_embedding_lookup(px_constant(g, idx), t);
    /* NaN rows would poison the sum: weight them by zero via a slice of the valid rows */
    px_node *valid = px_slice(y, 0, 0, 3);
    px_tensor *r3 = px_tensor_slice(r, 0, 3);
    px_node *loss = px_sum_all(px_mul(valid, px_constant(g, r3)));
    px_session *s = px_session_new(g, &loss, 1, &(px_session_options){.loss = loss});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    const px_tensor *gt = px_session_gradient(s, t);
    CHECK_NOT_NULL(gt);
    if (gt) {
        const float *gv = px_tensor_f32(gt), *rv = px_tensor_f32(r);
        for (int j = 0; j < D; j++) {
            CHECK_NEAR(gv[1 * D + j], rv[0 * D + j] + rv[2 * D + j], 1e-6);
            CHECK_NEAR(gv[3 * D + j], rv[1 * D + j], 1e-6);
            CHECK(gv[0 * D + j] == 0 && gv[2 * D + j] == 0 && gv[4 * D + j] == 0);
        }
    }
    px_session_free(s);
    px_graph_free(g);
    px_tensor_free(table), px_tensor_free(idx), px_tensor_free(r), px_tensor_free(r3);
}

static px_node *build_lookup(px_node *const *v, void *ctx) {
    (void)ctx;
    return px_embedding_lookup(v[1], v[0]);
}

static void test_gradcheck(void) {
    px_tensor *in[2] = {px_gc_random(PX_SHAPE(V, D), -1, 1, 4),
                        px_tensor_from_int_array(PX_SHAPE(2, 3), (int32_t[]){0, 4, 4, 2, 0, 1}, 6)};
    CHECK(px_gradcheck("embedding", build_lookup, NULL, in, 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
    px_tensor_free(in[0]), px_tensor_free(in[1]);
}

/* The layer takes the model's float inputs; a tiny model learns to tell tokens
 * below 5 from the others through their embeddings. */
static void test_layer(void) {
    const int n = 200, T = 4, vocab = 10;
    px_rng rng = px_rng_seeded(9);
    px_tensor *x = px_tensor_zeros(PX_SHAPE(n, T)), *y = px_tensor_zeros(PX_SHAPE(n, 1));
    for (int i = 0; i < n; i++) {
        for (int t = 0; t < T; t++) px_tensor_f32(x)[i * T + t] = (float)px_rng_below(&rng, vocab);
        px_tensor_f32(y)[i] = px_tensor_f32(x)[i * T] < 5;
    }
    px_set_random_seed(1);
    px_layer *emb = px_embedding_ex(vocab, 4, &(px_embedding_options){.input_shape = PX_SHAPE(T)});
    px_model *m = px_sequential((px_layer *[]){emb, px_flatten(PX_SCALAR), px_dense(1, PX_SIGMOID), NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_BINARY_CROSSENTROPY,
                                                      .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.05f}),
                                                      .metrics = {PX_ACCURACY}}));
    CHECK(strcmp(px_layer_class(emb), "Embedding") == 0);
    CHECK(strcmp(px_layer_weight_name(emb, 0), "embeddings") == 0);
    CHECK(px_shape_equal(px_node_shape(px_layer_weight(emb, 0)), PX_SHAPE(vocab, 4)));
    const float *w = px_tensor_f32(px_node_value(px_layer_weight(emb, 0)));
    float lo = 1, hi = -1;
    for (int i = 0; i < vocab * 4; i++) lo = fminf(lo, w[i]), hi = fmaxf(hi, w[i]);
    CHECK(lo >= -0.05f && hi <= 0.05f && hi > lo);
    CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1},
                                 &(px_fit_options){.epochs = 20, .verbose = PX_VERBOSE_SILENT}));
    px_logs logs = {0};
    double acc = 0;
    CHECK_OK(px_model_evaluate_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1},
                                      &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    px_logs_get(&logs, "accuracy", &acc);
    CHECK(acc >= 0.95);
    px_model_free(m);
    px_tensor_free(x), px_tensor_free(y);
    CHECK(px_embedding(0, 3) == NULL);
    CHECK_ERROR_HAS("Embedding");
}

int main(void) {
    RUN_TEST(test_lookup_values);
    RUN_TEST(test_scatter_gradient);
    RUN_TEST(test_gradcheck);
    RUN_TEST(test_layer);
    return px_test_finish();
}
