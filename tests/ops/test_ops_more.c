/* The newer activations (hard_sigmoid in both Keras forms, softsign, mish,
 * exponential, relu6, hard_swish, Keras's ReLU), maximum/minimum,
 * layer_norm and the Gaussian noise ops: values and gradients against PyTorch
 * (tests/data/layer_fixtures.h), finite differences, training vs inference. */
#include <string.h>

#include "../data/layer_fixtures.h"
#include "gradcheck.h"
#include "px_test.h"

#define N_(a) ((int)(sizeof(a) / sizeof *(a)))

typedef px_node *(*build_fn)(px_node *const *v);

/* px_gradcheck's builder calling the build_fn that ctx points to */
static px_node *via(px_node *const *v, void *ctx) { return (*(build_fn *)ctx)(v); }
static int gradcheck(const char *label, build_fn fn, px_tensor *const *ins, int n, double atol) {
    return px_gradcheck(label, via, &fn, ins, n, NULL, 1e-3, 1e-2, atol);
}

/* Runs build on variables holding ins, with loss sum(y * r); checks y and each
 * input's gradient against the references within 1e-4 (relative above 1). */
static void check_against_torch(const char *label, build_fn build, const px_tensor *const *ins, int n, const float *r,
                                const float *want_y, const float *const *want_d) {
    px_graph *g = px_graph_new();
    px_node *v[4];
    for (int i = 0; i < n; i++) v[i] = px_variable(g, ins[i], NULL);
    px_node *y = build(v);
    CHECK_NOT_NULL(y);
    if (!y) {
        px_graph_free(g);
        return;
    }
    px_tensor *rt = px_tensor_from_array(px_node_shape(y), r, px_shape_size(px_node_shape(y)));
    px_node *loss = px_sum_all(px_mul(y, px_constant(g, rt)));
    px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = loss, .wrt = v, .n_wrt = n});
    CHECK_OK(px_session_run(s, NULL, 0, NULL));
    int bad = 0;
    const px_tensor *yt = px_session_fetch(s, 0);
    for (int64_t j = 0; yt && j < px_tensor_size(yt); j++)
        if (fabs(px_tensor_f32(yt)[j] - want_y[j]) > 1e-4 * fmax(1.0, fabs(want_y[j]))) {
            if (bad++ < 5) fprintf(stderr, "  %s: y[%lld] = %.8g, torch %.8g\n", label, (long long)j, px_tensor_f32(yt)[j], want_y[j]);
        }
    for (int i = 0; i < n; i++) {
        const px_tensor *gr = px_session_gradient(s, v[i]);
        for (int64_t j = 0; gr && j < px_tensor_size(gr); j++)
            if (fabs(px_tensor_f32(gr)[j] - want_d[i][j]) > 1e-4 * fmax(1.0, fabs(want_d[i][j]))) {
                if (bad++ < 5)
                    fprintf(stderr, "  %s: d input %d [%lld] = %.8g, torch %.8g\n", label, i, (long long)j,
                            px_tensor_f32(gr)[j], want_d[i][j]);
            }
        if (!gr) bad++;
    }
    if (bad) px_test_fail(__FILE__, __LINE__, "%s: %d values differ from PyTorch", label, bad);
    else px_test_passed++;
    px_session_free(s);
    px_tensor_free(rt);
    px_graph_free(g);
}

static px_node *b_hsig3(px_node *const *v) { return px_hard_sigmoid(v[0], 1.0f / 6.0f, 0.5f); }
static px_node *b_hsig2(px_node *const *v) { return px_hard_sigmoid(v[0], 0.2f, 0.5f); }
static px_node *b_softsign(px_node *const *v) { return px_softsign(v[0]); }
static px_node *b_mish(px_node *const *v) { return px_mish(v[0]); }
static px_node *b_exp(px_node *const *v) { return px_exponential(v[0]); }
static px_node *b_relu6(px_node *const *v) { return px_relu6(px_scale(v[0], 2.5f)); }
static px_node *b_hswish(px_node *const *v) { return px_hard_swish(v[0]); }
static px_node *b_elu(px_node *const *v) { return px_elu(v[0], 0.7f); }
static px_node *b_leaky(px_node *const *v) { return px_leaky_relu(v[0], 0.3f); }
static px_node *b_relu_ex(px_node *const *v) { return px_relu_ex(v[0], 0.2f, 2.0f, 0.5f); }
static px_node *b_relu_ex_nomax(px_node *const *v) { return px_relu_ex(v[0], 0.1f, INFINITY, -0.8f); }
static px_node *b_max(px_node *const *v) { return px_maximum(v[0], v[1]); }
static px_node *b_min(px_node *const *v) { return px_minimum(v[0], v[1]); }
static px_node *b_sm(px_node *const *v) { return px_softmax(v[0], 1); }
static px_node *b_prelu(px_node *const *v) { return px_sub(px_relu(v[0]), px_mul(v[1], px_relu(px_neg(v[0])))); }
static px_node *b_ln(px_node *const *v) { return px_layer_norm(v[0], v[1], v[2], 2, 1e-3f); }
static px_node *b_ln1(px_node *const *v) { return px_layer_norm(v[0], NULL, NULL, 1, 1e-3f); }

#define ELEMENTWISE(name, fn) {#name, fn, px_lfix_##name##_r, px_lfix_##name##_y, px_lfix_##name##_d0}
static void test_activations_match_torch(void) {
    struct {
        const char *name;
        build_fn fn;
        const float *r, *y, *d;
    } cases[] = {ELEMENTWISE(hsig3, b_hsig3), ELEMENTWISE(hsig2, b_hsig2), ELEMENTWISE(softsign, b_softsign),
                 ELEMENTWISE(mish, b_mish), ELEMENTWISE(exponential, b_exp), ELEMENTWISE(relu6, b_relu6),
                 ELEMENTWISE(hswish, b_hswish), ELEMENTWISE(elu, b_elu), ELEMENTWISE(leaky, b_leaky),
                 ELEMENTWISE(relu_ex, b_relu_ex), ELEMENTWISE(relu_ex_nomax, b_relu_ex_nomax)};
    px_tensor *x = px_tensor_from_array(PX_SHAPE(N_(px_lfix_x)), px_lfix_x, N_(px_lfix_x));
    for (int i = 0; i < N_(cases); i++) {
        const float *d[1] = {cases[i].d};
        check_against_torch(cases[i].name, cases[i].fn, (const px_tensor *const *)&x, 1, cases[i].r, cases[i].y, d);
        /* and by finite differences (inputs are away from the kinks) */
        build_fn fn = cases[i].fn;
        CHECK(gradcheck(cases[i].name, fn, &x, 1, 2e-3) == 0);
    }
    px_tensor_free(x);
}

static void test_extrema_softmax_prelu_layer_norm_match_torch(void) {
    px_tensor *a = px_tensor_from_array(PX_SHAPE(3, 4), px_lfix_ma, 12), *b = px_tensor_from_array(PX_SHAPE(3, 4), px_lfix_mb, 12);
    px_tensor *ab[2] = {a, b};
    check_against_torch("maximum", b_max, (const px_tensor *const *)ab, 2, px_lfix_max_r, px_lfix_max_y,
                        (const float *const[]){px_lfix_max_d0, px_lfix_max_d1});
    check_against_torch("minimum", b_min, (const px_tensor *const *)ab, 2, px_lfix_min_r, px_lfix_min_y,
                        (const float *const[]){px_lfix_min_d0, px_lfix_min_d1});
    CHECK(gradcheck("maximum", b_max, ab, 2, 1e-3) == 0);

    px_tensor *s = px_tensor_from_array(PX_SHAPE(2, 3, 4), px_lfix_sm_x, 24);
    check_against_torch("softmax axis 1", b_sm, (const px_tensor *const *)&s, 1, px_lfix_sm_r, px_lfix_sm_y,
                        (const float *const[]){px_lfix_sm_d0});

    px_tensor *p[2] = {px_tensor_from_array(PX_SHAPE(2, 3, 4), px_lfix_prelu_x, 24),
                       px_tensor_from_array(PX_SHAPE(3, 1), px_lfix_prelu_alpha, 3)};
    check_against_torch("prelu", b_prelu, (const px_tensor *const *)p, 2, px_lfix_prelu_r, px_lfix_prelu_y,
                        (const float *const[]){px_lfix_prelu_d0, px_lfix_prelu_d1});

    px_tensor *l[3] = {px_tensor_from_array(PX_SHAPE(2, 3, 4), px_lfix_ln_x, 24),
                       px_tensor_from_array(PX_SHAPE(3, 4), px_lfix_ln_gamma, 12),
                       px_tensor_from_array(PX_SHAPE(3, 4), px_lfix_ln_beta, 12)};
    check_against_torch("layer_norm", b_ln, (const px_tensor *const *)l, 3, px_lfix_ln_r, px_lfix_ln_y,
                        (const float *const[]){px_lfix_ln_d0, px_lfix_ln_d1, px_lfix_ln_d2});
    check_against_torch("layer_norm, last axis, no gamma/beta", b_ln1, (const px_tensor *const *)l, 1, px_lfix_ln1_r,
                        px_lfix_ln1_y, (const float *const[]){px_lfix_ln1_d0});
    CHECK(gradcheck("layer_norm", b_ln, l, 3, 1e-3) == 0);
    for (int i = 0; i < 3; i++) px_tensor_free(l[i]);
    px_tensor_free(p[0]), px_tensor_free(p[1]), px_tensor_free(s), px_tensor_free(a), px_tensor_free(b);
}

static px_node *b_gnoise(px_node *const *v) { return px_gaussian_noise(v[0], 0.5f); }
static px_node *b_gdrop(px_node *const *v) { return px_gaussian_dropout(v[0], 0.3f); }

/* Inference: identity with gradient 1 (finite differences agree). Training:
 * noise of the stated spread, gradient 1 for the additive noise and y / x for
 * the multiplicative one. */
static void test_gaussian_noise_ops(void) {
    px_tensor *small = px_gc_random(PX_SHAPE(3, 4), 0.5f, 1.5f, 6);
    CHECK(gradcheck("gaussian_noise inference", b_gnoise, &small, 1, 1e-3) == 0);
    CHECK(gradcheck("gaussian_dropout inference", b_gdrop, &small, 1, 1e-3) == 0);
    px_tensor_free(small);
    px_tensor *x = px_gc_random(PX_SHAPE(200, 50), 0.5f, 1.5f, 7);
    for (int kind = 0; kind < 2; kind++) {
        px_graph *g = px_graph_new();
        px_graph_set_seed(g, 99);
        px_node *v = px_variable(g, x, "x");
        px_node *y = kind ? px_gaussian_dropout(v, 0.3f) : px_gaussian_noise(v, 0.5f);
        px_node *loss = px_sum_all(y);
        px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = loss});
        px_session_set_training(s, true);
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        const px_tensor *yt = px_session_fetch(s, 0), *gr = px_session_gradient(s, v);
        double sum = 0, sum2 = 0;
        int bad_grad = 0;
        const int64_t n = px_tensor_size(x);
        for (int64_t i = 0; yt && gr && i < n; i++) {
            double xv = px_tensor_f32(x)[i], yv = px_tensor_f32(yt)[i];
            double e = kind ? yv / xv - 1 : yv - xv; /* the noise: N(0, 0.3 / 0.7) or N(0, 0.25) */
            sum += e, sum2 += e * e;
            double want_g = kind ? yv / xv : 1.0;
            if (fabs(px_tensor_f32(gr)[i] - want_g) > 1e-5 * fmax(1, fabs(want_g))) bad_grad++;
        }
        double mean = sum / (double)n, var = sum2 / (double)n - mean * mean, want_var = kind ? 0.3 / 0.7 : 0.25;
        CHECK_NEAR(mean, 0.0, 0.03);
        CHECK_NEAR(var, want_var, 0.05 * want_var);
        CHECK(bad_grad == 0);
        px_session_set_training(s, false);
        CHECK_OK(px_session_run(s, NULL, 0, NULL));
        CHECK(px_tensor_equal(px_session_fetch(s, 0), x));
        px_session_free(s);
        px_graph_free(g);
    }
    px_tensor_free(x);
}

static void test_bad_arguments(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_constant_scalar(g, 1.0f);
    CHECK(px_relu_ex(x, 0, -1.0f, 0) == NULL);
    CHECK_ERROR_HAS("max_value");
    CHECK(px_gaussian_dropout(x, 1.0f) == NULL);
    CHECK_ERROR_HAS("gaussian_dropout: rate");
    CHECK(px_gaussian_noise(x, -1.0f) == NULL);
    CHECK(px_layer_norm(x, NULL, NULL, 1, 0.0f) == NULL);
    CHECK_ERROR_HAS("epsilon");
    px_tensor *t = px_tensor_zeros(PX_SHAPE(2, 3)), *u = px_tensor_zeros(PX_SHAPE(3, 2));
    CHECK(px_maximum(px_constant(g, t), px_constant(g, u)) == NULL);
    CHECK_ERROR_HAS("same shape");
    CHECK(px_layer_norm(px_constant(g, t), px_constant(g, u), NULL, 1, 1e-3f) == NULL);
    CHECK_ERROR_HAS("gamma");
    px_tensor_free(t), px_tensor_free(u);
    px_graph_free(g);
}

int main(void) {
    RUN_TEST(test_activations_match_torch);
    RUN_TEST(test_extrema_softmax_prelu_layer_norm_match_torch);
    RUN_TEST(test_gaussian_noise_ops);
    RUN_TEST(test_bad_arguments);
    return px_test_finish();
}
