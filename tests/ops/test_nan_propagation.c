/* NaN passes through every activation (issue 18 item 5), as in TensorFlow and
 * PyTorch: a model whose weights hold a NaN must predict NaN, not look healthy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "px_test.h"

/* Every activation the library names, run on [NaN, -2, 0.5, NaN] as a graph op. */
static void test_every_activation(void) {
    int n = 0;
    for (int a = 0;; a++) {
        const char *name = px_activation_name((px_activation)a);
        if (!name || !*name) break; /* past the last one */
        n++;
        px_graph *g = px_graph_new();
        px_tensor *t = px_tensor_from_array(PX_SHAPE(1, 4), (const float[]){NAN, -2.0f, 0.5f, NAN}, 4);
        px_node *y = px_activate(px_constant(g, t), (px_activation)a);
        px_tensor *out = NULL;
        CHECK_NOT_NULL(y);
        if (y && px_run(g, &y, 1, NULL, 0, &out) == PX_OK) {
            const float *v = px_tensor_f32(out);
            bool ok = isnan(v[0]) && isnan(v[3]);
            /* softmax and log_softmax mix the row: all of it is NaN; elementwise ones keep the others finite */
            if (!strstr(name, "softmax")) ok = ok && isfinite(v[1]) && isfinite(v[2]);
            if (!ok) printf("  %s: [%g, %g, %g, %g]\n", name, v[0], v[1], v[2], v[3]);
            CHECK(ok);
        }
        px_tensor_free(out);
        px_tensor_free(t);
        px_graph_free(g);
    }
    CHECK(n >= 13);
}

/* The fused Dense op (product, bias and activation in one pass). */
static void test_fused_dense(void) {
    const int acts[] = {PX_LINEAR, PX_RELU, PX_SIGMOID, PX_TANH};
    for (int i = 0; i < 4; i++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            px_graph *g = px_graph_new();
            px_tensor *x = px_tensor_from_array(PX_SHAPE(2, 2), (const float[]){1, 2, -1, -3}, 4);
            /* column 0 of the kernel holds a NaN; column 1 is finite */
            px_tensor *w = px_tensor_from_array(PX_SHAPE(2, 2), (const float[]){NAN, 1, -5, 1}, 4);
            px_tensor *b = px_tensor_from_array(PX_SHAPE(2), (const float[]){-100, 0}, 2);
            px_node *y = px_dense_op(px_constant(g, x), px_constant(g, w), with_bias ? px_constant(g, b) : NULL, acts[i]);
            px_tensor *out = NULL;
            if (y && px_run(g, &y, 1, NULL, 0, &out) == PX_OK) {
                const float *v = px_tensor_f32(out);
                bool ok = isnan(v[0]) && isnan(v[2]) && isfinite(v[1]) && isfinite(v[3]);
                if (!ok) printf("  dense act %d bias %d: [%g, %g, %g, %g]\n", acts[i], with_bias, v[0], v[1], v[2], v[3]);
                CHECK(ok);
            } else {
                CHECK(false);
            }
            px_tensor_free(out);
            px_tensor_free(x), px_tensor_free(w), px_tensor_free(b);
            px_graph_free(g);
        }
}

/* The case: the first kernel of an MLP holds a NaN; predict gives NaN. */
static void test_model_with_nan_weight(void) {
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(4, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(3)}),
                                               px_dense(2, PX_SOFTMAX), NULL});
    CHECK_NOT_NULL(m);
    if (!m) return;
    px_tensor **w = NULL;
    int n = 0;
    CHECK_OK(px_model_get_weights(m, &w, &n));
    px_tensor_f32(w[0])[0] = NAN; /* input 0 -> unit 0 */
    CHECK_OK(px_model_set_weights(m, w, n));
    for (int i = 0; i < n; i++) px_tensor_free(w[i]);
    free(w);
    /* an input that drives unit 0 negative: relu of a finite value would hide it */
    px_tensor *x = px_tensor_from_array(PX_SHAPE(1, 3), (const float[]){-1, 0, 0}, 3);
    px_tensor *p = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
    CHECK_NOT_NULL(p);
    if (p) CHECK(isnan(px_tensor_f32(p)[0]) && isnan(px_tensor_f32(p)[1]));
    px_tensor_free(p);
    px_tensor_free(x);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_every_activation);
    RUN_TEST(test_fused_dense);
    RUN_TEST(test_model_with_nan_weight);
    return px_test_finish();
}
