/* Depthwise convolution: PyTorch fixtures (grouped convolution), the
 * depthwise + pointwise composition of SeparableConv2D, finite-difference
 * checks over multipliers, paddings, strides and dilations, thread counts, errors. */
#include <string.h>

#include "fixture_check.h"
#include "px_test.h"

static px_node *fix_dw2(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    return px_depthwise_conv2d(v[0], v[1], v[2], f->p[0], f->p[1], (px_padding)f->p[2], f->p[3], f->p[4]);
}
static px_node *fix_dw1(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    return px_depthwise_conv1d(v[0], v[1], v[2], f->p[0], (px_padding)f->p[1], f->p[2]);
}
/* SeparableConv2D's two passes, as the layer runs them. */
static px_node *fix_sep2(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    px_node *mid = px_depthwise_conv2d(v[0], v[1], NULL, f->p[0], f->p[1], (px_padding)f->p[2], 1, 1);
    return v[3] ? px_conv2d_bias(mid, v[2], v[3], 1, 1, PX_PADDING_VALID, 1, 1) : px_conv2d(mid, v[2], 1, 1, PX_PADDING_VALID, 1, 1);
}

static void test_against_torch(void) {
    CHECK(px_fix_check_all("depthwise_conv2d", (const char *[]){"x", "k", "b"}, 3, fix_dw2, false) == 3);
    CHECK(px_fix_check_all("depthwise_conv1d", (const char *[]){"x", "k", "b"}, 3, fix_dw1, false) == 2);
    CHECK(px_fix_check_all("separable_conv2d", (const char *[]){"x", "dk", "pk", "b"}, 4, fix_sep2, false) == 2);
}

typedef struct dw_case {
    int m, sh, sw, dh, dw;
    px_padding pad;
    bool one_d, bias;
} dw_case;

static px_node *build(px_node *const *v, void *ctx) {
    const dw_case *c = ctx;
    if (c->one_d) return px_depthwise_conv1d(v[0], v[1], c->bias ? v[2] : NULL, c->sw, c->pad, c->dw);
    return px_depthwise_conv2d(v[0], v[1], c->bias ? v[2] : NULL, c->sh, c->sw, c->pad, c->dh, c->dw);
}

static void test_gradcheck(void) {
    const dw_case cases[] = {
        {1, 1, 1, 1, 1, PX_PADDING_VALID, false, true}, {2, 1, 1, 1, 1, PX_PADDING_SAME, false, true},
        {3, 2, 2, 1, 1, PX_PADDING_SAME, false, false}, {1, 2, 1, 1, 1, PX_PADDING_VALID, false, true},
        {2, 1, 1, 2, 2, PX_PADDING_SAME, false, true},  {2, 1, 2, 1, 1, PX_PADDING_SAME, true, true},
        {1, 1, 1, 1, 2, PX_PADDING_CAUSAL, true, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dw_case c = cases[i];
        px_shape xs = c.one_d ? PX_SHAPE(2, 7, 3) : PX_SHAPE(2, 6, 5, 3);
        px_shape ks = c.one_d ? PX_SHAPE(3, 3, c.m) : PX_SHAPE(3, 2, 3, c.m);
        px_tensor *in[3] = {px_gc_random(xs, -1, 1, 10 + i), px_gc_random(ks, -1, 1, 20 + i),
                            px_gc_random(PX_SHAPE(3 * c.m), -1, 1, 30 + i)};
        char label[64];
        snprintf(label, sizeof label, "depthwise case %zu", i);
        CHECK(px_gradcheck(label, build, &c, in, c.bias ? 3 : 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
        for (int j = 0; j < 3; j++) px_tensor_free(in[j]);
    }
}

static px_node *build_threads(px_node *const *v, void *ctx) {
    (void)ctx;
    return px_depthwise_conv2d(v[0], v[1], v[2], 2, 2, PX_PADDING_SAME, 1, 1);
}

/* A batch large enough for several threads gives the one-thread result. */
static void test_threads_agree(void) {
    px_tensor *in[3] = {px_gc_random(PX_SHAPE(12, 20, 18, 8), -1, 1, 1), px_gc_random(PX_SHAPE(3, 3, 8, 2), -1, 1, 2),
                        px_gc_random(PX_SHAPE(16), -1, 1, 3)};
    CHECK(px_gc_threads_agree("depthwise_conv2d", build_threads, NULL, in, 3) == 0);
    for (int i = 0; i < 3; i++) px_tensor_free(in[i]);
}

static void test_errors(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 5, 5, 3), "x");
    px_tensor *k = px_tensor_zeros(PX_SHAPE(3, 3, 2, 2)), *k6 = px_tensor_zeros(PX_SHAPE(6, 6, 3, 1));
    px_tensor *b = px_tensor_zeros(PX_SHAPE(3));
    CHECK(px_depthwise_conv2d(x, px_variable(g, k, "k"), NULL, 1, 1, PX_PADDING_VALID, 1, 1) == NULL);
    CHECK_ERROR_HAS("depthwise_conv2d: input (None, 5, 5, 3) has 3 channels but kernel (3, 3, 2, 2) expects 2");
    CHECK(px_depthwise_conv2d(x, px_variable(g, k6, "k6"), NULL, 1, 1, PX_PADDING_VALID, 1, 1) == NULL);
    CHECK_ERROR_HAS("smaller than the 6x6 window");
    px_tensor *k1 = px_tensor_zeros(PX_SHAPE(3, 3, 3, 2));
    CHECK(px_depthwise_conv2d(x, px_variable(g, k1, "k1"), px_variable(g, b, "b"), 1, 1, PX_PADDING_SAME, 1, 1) == NULL);
    CHECK_ERROR_HAS("bias (3,) must be (6)");
    CHECK(px_depthwise_conv2d(x, px_variable(g, k1, "k2"), NULL, 0, 1, PX_PADDING_SAME, 1, 1) == NULL);
    CHECK_ERROR_HAS("strides (0, 1)");
    px_graph_free(g);
    px_tensor_free(k), px_tensor_free(k6), px_tensor_free(k1), px_tensor_free(b);
}

int main(void) {
    RUN_TEST(test_against_torch);
    RUN_TEST(test_gradcheck);
    RUN_TEST(test_threads_agree);
    RUN_TEST(test_errors);
    return px_test_finish();
}
