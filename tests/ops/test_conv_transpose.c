/* Transposed convolution: PyTorch fixtures (conv_transpose cropped and
 * zero-extended as TF's conv2d_transpose), Keras's output sizes for every
 * padding / output_padding rule, finite-difference checks on both GEMM
 * paths' shapes, thread counts, errors. */
#include <string.h>

#include "fixture_check.h"
#include "px_test.h"

static px_node *fix_t2(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    return px_conv2d_transpose(v[0], v[1], v[2], f->p[0], f->p[1], (px_padding)f->p[2], f->p[3], f->p[4], f->p[5],
                               f->p[6]);
}
static px_node *fix_t1(px_node *const *v, void *ctx) {
    const px_fixture *f = ctx;
    return px_conv1d_transpose(v[0], v[1], v[2], f->p[0], (px_padding)f->p[1], f->p[2], f->p[3]);
}

static void test_against_torch(void) {
    CHECK(px_fix_check_all("conv2d_transpose", (const char *[]){"x", "k", "b"}, 3, fix_t2, false) == 8);
    CHECK(px_fix_check_all("conv1d_transpose", (const char *[]){"x", "k", "b"}, 3, fix_t1, false) == 2);
}

/* Keras's deconv_output_length: valid n*s + max(k - s, 0), same n*s; with
 * output_padding p: (n - 1)*s + k - 2*(k/2 for same) + p. */
static void test_output_sizes(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 5, 5, 2), "x");
    px_tensor *k3 = px_tensor_zeros(PX_SHAPE(3, 3, 4, 2)), *k2 = px_tensor_zeros(PX_SHAPE(2, 2, 4, 2));
    px_node *v3 = px_variable(g, k3, "k3"), *v2 = px_variable(g, k2, "k2");
    struct {
        px_node *k;
        int s;
        px_padding pad;
        int op, d;
        int64_t want;
    } cases[] = {
        {v3, 1, PX_PADDING_VALID, -1, 1, 7}, {v3, 2, PX_PADDING_VALID, -1, 1, 11}, {v2, 3, PX_PADDING_VALID, -1, 1, 15},
        {v3, 2, PX_PADDING_SAME, -1, 1, 10}, {v3, 2, PX_PADDING_SAME, 1, 1, 10},   {v3, 2, PX_PADDING_SAME, 0, 1, 9},
        {v3, 2, PX_PADDING_VALID, 1, 1, 12}, {v3, 1, PX_PADDING_SAME, -1, 2, 5},   {v3, 1, PX_PADDING_VALID, -1, 2, 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        px_node *y = px_conv2d_transpose(x, cases[i].k, NULL, cases[i].s, cases[i].s, cases[i].pad, cases[i].op,
                                         cases[i].op, cases[i].d, cases[i].d);
        px_shape s = y ? px_node_shape(y) : (px_shape){0};
        CHECK(y && s.dim[0] == PX_UNKNOWN && s.dim[1] == cases[i].want && s.dim[2] == cases[i].want && s.dim[3] == 4);
        if (!y || s.dim[1] != cases[i].want) fprintf(stderr, "  case %zu: %lld (%s)\n", i, (long long)s.dim[1], px_last_error());
    }
    /* errors */
    CHECK(px_conv2d_transpose(x, v3, NULL, 2, 2, PX_PADDING_SAME, 2, 0, 1, 1) == NULL);
    CHECK_ERROR_HAS("output padding (2, 0) must be smaller than the strides (2, 2)");
    px_tensor *bad = px_tensor_zeros(PX_SHAPE(3, 3, 4, 3));
    CHECK(px_conv2d_transpose(x, px_variable(g, bad, "bad"), NULL, 1, 1, PX_PADDING_VALID, -1, -1, 1, 1) == NULL);
    CHECK_ERROR_HAS("conv2d_transpose: input (None, 5, 5, 2) has 2 channels but kernel (3, 3, 4, 3) expects 3");
    CHECK(px_conv2d_transpose(x, v3, NULL, 1, 1, PX_PADDING_CAUSAL, -1, -1, 1, 1) == NULL);
    CHECK_ERROR_HAS("not valid or same");
    px_graph_free(g);
    px_tensor_free(k3), px_tensor_free(k2), px_tensor_free(bad);
}

typedef struct ct_case {
    int s, d, op;
    px_padding pad;
    bool one_d, bias;
    int filters;
} ct_case;

static px_node *build(px_node *const *v, void *ctx) {
    const ct_case *c = ctx;
    if (c->one_d) return px_conv1d_transpose(v[0], v[1], c->bias ? v[2] : NULL, c->s, c->pad, c->op, c->d);
    return px_conv2d_transpose(v[0], v[1], c->bias ? v[2] : NULL, c->s, c->s, c->pad, c->op, c->op, c->d, c->d);
}

static void test_gradcheck(void) {
    const ct_case cases[] = {
        {1, 1, -1, PX_PADDING_VALID, false, true, 3}, {2, 1, -1, PX_PADDING_SAME, false, true, 2},
        {2, 1, 1, PX_PADDING_VALID, false, false, 3}, {3, 1, -1, PX_PADDING_VALID, false, true, 2},
        {1, 2, -1, PX_PADDING_SAME, false, true, 2},  {2, 1, 0, PX_PADDING_SAME, true, true, 3},
        {1, 1, -1, PX_PADDING_VALID, false, true, 19},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ct_case c = cases[i];
        px_shape xs = c.one_d ? PX_SHAPE(2, 4, 3) : PX_SHAPE(2, 3, 4, 3);
        px_shape ks = c.one_d ? PX_SHAPE(3, c.filters, 3) : PX_SHAPE(3, 2, c.filters, 3);
        px_tensor *in[3] = {px_gc_random(xs, -1, 1, 10 + i), px_gc_random(ks, -1, 1, 20 + i),
                            px_gc_random(PX_SHAPE(c.filters), -1, 1, 30 + i)};
        char label[64];
        snprintf(label, sizeof label, "conv transpose case %zu", i);
        CHECK(px_gradcheck(label, build, &c, in, c.bias ? 3 : 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
        for (int j = 0; j < 3; j++) px_tensor_free(in[j]);
    }
}

static px_node *build_threads(px_node *const *v, void *ctx) {
    (void)ctx;
    return px_conv2d_transpose(v[0], v[1], v[2], 2, 2, PX_PADDING_SAME, -1, -1, 1, 1);
}

/* A batch large enough for several threads gives the one-thread result. */
static void test_threads_agree(void) {
    px_tensor *in[3] = {px_gc_random(PX_SHAPE(16, 14, 12, 6), -1, 1, 1), px_gc_random(PX_SHAPE(3, 3, 5, 6), -1, 1, 2),
                        px_gc_random(PX_SHAPE(5), -1, 1, 3)};
    CHECK(px_gc_threads_agree("conv2d_transpose", build_threads, NULL, in, 3) == 0);
    for (int i = 0; i < 3; i++) px_tensor_free(in[i]);
}

int main(void) {
    RUN_TEST(test_against_torch);
    RUN_TEST(test_output_sizes);
    RUN_TEST(test_gradcheck);
    RUN_TEST(test_threads_agree);
    return px_test_finish();
}
