/* Spatial dropout: whole channels dropped per example, kept ones scaled by
 * 1 / (1 - rate), the gradient the same mask and scale, fresh masks per run,
 * identity in inference; finite differences in inference. */
#include <math.h>
#include <string.h>

#include "gradcheck.h"
#include "px_test.h"

/* x (n, p, c) with values in [0.5, 1.5) (never 0), y and its gradient: each
 * (example, channel) is either all dropped or all kept, over every position. */
static void check_masks(const px_tensor *x, const px_tensor *y, const px_tensor *grad, float rate, int64_t n, int64_t p,
                        int64_t c) {
    const float scale = 1.0f / (1.0f - rate);
    int64_t kept = 0;
    int mixed = 0, bad = 0;
    for (int64_t b = 0; b < n; b++)
        for (int64_t q = 0; q < c; q++) {
            int64_t k = 0;
            for (int64_t i = 0; i < p; i++) {
                int64_t e = (b * p + i) * c + q;
                float xv = px_tensor_f32(x)[e], yv = px_tensor_f32(y)[e], gv = px_tensor_f32(grad)[e];
                if (yv != 0) {
                    k++;
                    if (fabsf(yv - xv * scale) > 1e-6f * fabsf(yv)) bad++;
                }
                if (fabsf(gv - yv / xv) > 1e-5f * scale) bad++;
            }
            if (k != 0 && k != p) mixed++;
            kept += k == p;
        }
    CHECK(mixed == 0);
    CHECK(bad == 0);
    /* four standard deviations of the kept fraction: a fixed 0.05 was under two for 300 draws */
    CHECK_NEAR((double)kept / (double)(n * c), 1.0 - rate, 4.0 * sqrt(rate * (1.0 - rate) / (double)(n * c)));
}

static void test_training_masks(void) {
    const float rate = 0.4f;
    px_tensor *t = px_gc_random(PX_SHAPE(40, 3, 5, 20), 0.5f, 1.5f, 7);
    px_graph *g = px_graph_new();
    px_graph_set_seed(g, 77);
    px_node *x = px_variable(g, t, "x");
    px_node *y = px_spatial_dropout(x, rate);
    px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = px_sum_all(y), .training = true});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    px_tensor *first = px_tensor_copy(px_session_fetch(s, 0));
    check_masks(t, px_session_fetch(s, 0), px_session_gradient(s, x), rate, 40, 15, 20);
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(!px_tensor_equal(first, px_session_fetch(s, 0)));
    px_session_set_training(s, false);
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    CHECK(px_tensor_equal(px_session_fetch(s, 0), t));
    px_session_free(s);
    px_graph_free(g);
    px_tensor_free(first);

    /* eager: the mask stays with the node for its gradient */
    g = px_graph_new_eager();
    px_graph_set_seed(g, 5);
    px_eager_set_training(g, true);
    px_tensor *t1 = px_gc_random(PX_SHAPE(30, 6, 10), 0.5f, 1.5f, 8);
    x = px_variable(g, t1, "x");
    y = px_spatial_dropout(x, rate);
    px_node *loss = px_sum_all(y);
    px_eager_set_training(g, false);
    px_tensor *ge = NULL;
    CHECK_OK(px_eager_gradients(g, loss, &x, 1, &ge));
    if (y && ge) check_masks(t1, px_node_value(y), ge, rate, 30, 6, 10);
    px_tensor_free(ge);
    px_tensor_free(t1);
    px_graph_free(g);
    px_tensor_free(t);
}

static px_node *build(px_node *const *v, void *ctx) { return px_spatial_dropout(v[0], *(const float *)ctx); }

static void test_inference_and_errors(void) {
    float rate = 0.5f;
    px_tensor *x = px_gc_random(PX_SHAPE(2, 3, 4), -1, 1, 3);
    CHECK(px_gradcheck("spatial dropout (inference)", build, &rate, &x, 1, NULL, 1e-3, 1e-2, 1e-3) == 0);
    px_graph *g = px_graph_new();
    px_node *c = px_constant(g, x);
    CHECK(px_spatial_dropout(c, 1.0f) == NULL);
    CHECK_ERROR_HAS("spatial_dropout: rate must be in [0, 1)");
    px_tensor *v = px_tensor_zeros(PX_SHAPE(5));
    CHECK(px_spatial_dropout(px_constant(g, v), 0.5f) == NULL);
    CHECK_ERROR_HAS("spatial_dropout: input (5,) must be (N, ..., C)");
    px_graph_free(g);
    px_tensor_free(v);
    px_tensor_free(x);
}

int main(void) {
    RUN_TEST(test_training_masks);
    RUN_TEST(test_inference_and_errors);
    return px_test_finish();
}
