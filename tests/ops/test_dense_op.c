/* Tests of the fused Dense op (px_dense_op): gradient checks for every activation
 * with and without bias on rank-2 and rank-3 inputs, agreement with the unfused
 * matmul + add + activation graph (also with dX and dW cut in halves by W's rows on two
 * threads), shape errors, the Dense layer using it, and
 * the product paths px_gemm picks for the Dense shapes (row times matrix, builtin). */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "gradcheck.h"
#include "px_test.h"

static const px_activation acts[4] = {PX_LINEAR, PX_RELU, PX_SIGMOID, PX_TANH};

typedef struct { int act; bool bias; } dense_ctx;

static px_node *build_dense(px_node *const *v, void *ctx) {
    dense_ctx *c = ctx;
    return px_dense_op(v[0], v[1], c->bias ? v[2] : NULL, c->act);
}

/* The kernel used twice (and the input twice): the second writer of each
 * gradient adds to what the first stored. */
static px_node *build_shared(px_node *const *v, void *ctx) {
    (void)ctx;
    return px_add(px_dense_op(v[0], v[1], v[2], PX_TANH), px_dense_op(v[0], v[1], NULL, PX_RELU));
}

static void test_gradients(void) {
    px_shape xs[2] = {PX_SHAPE(5, 4), PX_SHAPE(2, 3, 4)};
    for (int r = 0; r < 2; r++)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 2; b++) {
                dense_ctx c = {acts[a], b};
                px_tensor *in[3] = {px_gc_random(xs[r], -1, 1, 10 + a), px_gc_random(PX_SHAPE(4, 3), -1, 1, 20 + a),
                                    px_gc_random(PX_SHAPE(3), -0.5f, 0.5f, 30 + a)};
                char label[64];
                snprintf(label, sizeof label, "dense %s rank %d %s", px_activation_name(acts[a]), xs[r].rank,
                         b ? "bias" : "no bias");
                CHECK(px_gradcheck(label, build_dense, &c, in, b ? 3 : 2, NULL, 1e-3, 1e-2, 1e-3) == 0);
                for (int i = 0; i < 3; i++) px_tensor_free(in[i]);
            }
    px_tensor *in[3] = {px_gc_random(PX_SHAPE(3, 4), -1, 1, 41), px_gc_random(PX_SHAPE(4, 4), -1, 1, 42),
                        px_gc_random(PX_SHAPE(4), -0.5f, 0.5f, 43)};
    CHECK(px_gradcheck("dense shared kernel", build_shared, NULL, in, 3, NULL, 1e-3, 1e-2, 1e-3) == 0);
    for (int i = 0; i < 3; i++) px_tensor_free(in[i]);
}

/* Fused and unfused graphs on the same variables: values and gradients agree. */
static void test_matches_unfused(void) {
    px_shape xs[2] = {PX_SHAPE(33, 70), PX_SHAPE(3, 11, 70)};
    for (int r = 0; r < 2; r++)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 2; b++) {
                px_graph *g = px_graph_new();
                px_tensor *xv = px_gc_random(xs[r], -2, 2, 50 + a), *wv = px_gc_random(PX_SHAPE(70, 45), -0.3f, 0.3f, 60 + a);
                px_tensor *bv = px_gc_random(PX_SHAPE(45), -0.5f, 0.5f, 70 + a);
                px_node *x = px_variable(g, xv, "x"), *w = px_variable(g, wv, "w"), *bias = px_variable(g, bv, "b");
                px_node *fused = px_dense_op(x, w, b ? bias : NULL, acts[a]);
                px_node *plain = px_matmul(x, w);
                if (b) plain = px_add(plain, bias);
                plain = px_activate(plain, acts[a]);
                CHECK_NOT_NULL(fused);
                CHECK_NOT_NULL(plain);
                if (!fused || !plain) {
                    px_graph_free(g);
                    continue;
                }
                CHECK(px_shape_equal(px_node_shape(fused), px_node_shape(plain)));
                px_tensor *rv = px_gc_random(px_node_shape(fused), -1, 1, 80);
                px_node *rc = px_constant(g, rv);
                px_node *wrt[3] = {x, w, bias};
                px_node *ys[2] = {fused, plain};
                px_session *s[2];
                for (int k = 0; k < 2; k++) {
                    px_node *loss = px_sum_all(px_mul(ys[k], rc));
                    s[k] = px_session_new(g, &ys[k], 1, &(px_session_options){.loss = loss, .wrt = wrt, .n_wrt = b ? 3 : 2});
                    CHECK_OK(px_session_run(s[k], NULL, 0, NULL));
                    CHECK_OK(px_session_run(s[k], NULL, 0, NULL)); /* reused gradient buffers */
                }
                double worst = 0;
                const px_tensor *v0 = px_session_fetch(s[0], 0), *v1 = px_session_fetch(s[1], 0);
                for (int64_t i = 0; i < px_tensor_size(v0); i++)
                    worst = fmax(worst, fabs((double)px_tensor_f32(v0)[i] - px_tensor_f32(v1)[i]));
                for (int i = 0; i < (b ? 3 : 2); i++) {
                    const px_tensor *g0 = px_session_gradient(s[0], wrt[i]), *g1 = px_session_gradient(s[1], wrt[i]);
                    CHECK(g0 && g1);
                    for (int64_t j = 0; g0 && g1 && j < px_tensor_size(g0); j++)
                        worst = fmax(worst, fabs((double)px_tensor_f32(g0)[j] - px_tensor_f32(g1)[j]));
                }
                CHECK_NEAR(worst, 0, 1e-6);
                px_session_free(s[0]), px_session_free(s[1]);
                px_graph_free(g);
                px_tensor_free(xv), px_tensor_free(wv), px_tensor_free(bv), px_tensor_free(rv);
            }
}

/* The second layer of the course's MLP at batch 32 (32 x 300 . 300 x 100): its
 * dX and dW products are one-thread products large enough that at two threads
 * the backward cuts both in halves by W's rows, one per thread. The gradients are the same bits as the
 * unfused graph's (which runs them one after the other) at 1 and 2 threads. */
static void test_side_by_side_products(void) {
    int saved = px_num_threads();
    px_graph *g = px_graph_new();
    px_tensor *xv = px_gc_random(PX_SHAPE(32, 300), -1, 1, 91), *wv = px_gc_random(PX_SHAPE(300, 100), -0.3f, 0.3f, 92);
    px_tensor *rv = px_gc_random(PX_SHAPE(32, 100), -1, 1, 93);
    px_node *x = px_variable(g, xv, "x"), *w = px_variable(g, wv, "w"), *rc = px_constant(g, rv);
    px_node *ys[2] = {px_dense_op(x, w, NULL, PX_RELU), px_activate(px_matmul(x, w), PX_RELU)};
    px_node *wrt[2] = {x, w};
    px_session *s[2];
    for (int k = 0; k < 2; k++)
        s[k] = px_session_new(g, &ys[k], 1,
                              &(px_session_options){.loss = px_sum_all(px_mul(ys[k], rc)), .wrt = wrt, .n_wrt = 2});
    for (int threads = 1; threads <= 2; threads++) {
        px_set_num_threads(threads);
        for (int k = 0; k < 2; k++) CHECK_OK(px_session_run(s[k], NULL, 0, NULL));
        int diff = 0;
        for (int i = 0; i < 2; i++) {
            const px_tensor *g0 = px_session_gradient(s[0], wrt[i]), *g1 = px_session_gradient(s[1], wrt[i]);
            CHECK(g0 && g1);
            if (g0 && g1) diff += memcmp(px_tensor_f32(g0), px_tensor_f32(g1), sizeof(float) * px_tensor_size(g0)) != 0;
        }
        CHECK(diff == 0);
    }
    px_set_num_threads(saved);
    px_session_free(s[0]), px_session_free(s[1]);
    px_graph_free(g);
    px_tensor_free(xv), px_tensor_free(wv), px_tensor_free(rv);
}

/* The first two layers of the course's MLP at batch 32 (32 x 784 . 784 x 300
 * and 32 x 300 . 300 x 100): their forward products cut K in fixed parts, and
 * the bias and ReLU run on each thread's rows right after it adds the parts
 * (px_gemm_then_rows). The output is the same bits as the unfused graph's
 * (product, then add, then ReLU, each a pass of its own) at 1 and 2 threads. */
static void test_ksplit_epilogue(void) {
    int saved = px_num_threads();
    static const int64_t dims[2][2] = {{784, 300}, {300, 100}};
    for (int d = 0; d < 2; d++) {
        int64_t k = dims[d][0], n = dims[d][1];
        px_graph *g = px_graph_new();
        px_tensor *xv = px_gc_random(PX_SHAPE(32, k), -1, 1, 94 + d), *wv = px_gc_random(PX_SHAPE(k, n), -0.1f, 0.1f, 95);
        px_tensor *bv = px_gc_random(PX_SHAPE(n), -0.5f, 0.5f, 96);
        px_node *x = px_variable(g, xv, "x"), *w = px_variable(g, wv, "w"), *b = px_variable(g, bv, "b");
        px_node *ys[2] = {px_dense_op(x, w, b, PX_RELU), px_activate(px_add(px_matmul(x, w), b), PX_RELU)};
        for (int threads = 1; threads <= 2; threads++) {
            px_set_num_threads(threads);
            px_session *s = px_session_new(g, ys, 2, NULL);
            CHECK_OK(px_session_run(s, NULL, 0, NULL));
            const px_tensor *f = px_session_fetch(s, 0), *u = px_session_fetch(s, 1);
            CHECK(f && u && memcmp(px_tensor_f32(f), px_tensor_f32(u), sizeof(float) * 32 * (size_t)n) == 0);
            int zeros = 0; /* the ReLU ran: about half the outputs are cut to 0 */
            for (int64_t i = 0; f && i < 32 * n; i++) zeros += px_tensor_f32(f)[i] == 0.0f;
            CHECK(zeros > 32 * n / 8 && zeros < 32 * n * 7 / 8);
            px_session_free(s);
        }
        px_graph_free(g);
        px_tensor_free(xv), px_tensor_free(wv), px_tensor_free(bv);
    }
    px_set_num_threads(saved);
}

static void test_errors(void) {
    px_graph *g = px_graph_new();
    px_node *x = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 4), "x");
    px_tensor *wv = px_tensor_zeros(PX_SHAPE(5, 3)), *bv = px_tensor_zeros(PX_SHAPE(2));
    px_node *w = px_variable(g, wv, "w"), *b = px_variable(g, bv, "b");
    CHECK(px_dense_op(x, w, NULL, PX_RELU) == NULL);
    CHECK_ERROR_HAS("dense");
    CHECK_ERROR_HAS("(None, 4)");
    px_tensor *w2v = px_tensor_zeros(PX_SHAPE(4, 3));
    px_node *w2 = px_variable(g, w2v, "w2");
    CHECK(px_dense_op(x, w2, b, PX_RELU) == NULL);
    CHECK_ERROR_HAS("bias");
    CHECK(px_dense_op(x, w2, NULL, PX_SOFTMAX) == NULL);
    CHECK_ERROR_HAS("fused");
    px_node *y = px_dense_op(x, w2, NULL, PX_TANH);
    CHECK_NOT_NULL(y);
    if (y) CHECK(px_shape_equal(px_node_shape(y), PX_SHAPE(PX_UNKNOWN, 3)));
    CHECK(px_dense_op(NULL, w2, NULL, PX_LINEAR) == NULL);
    px_graph_free(g);
    px_tensor_free(wv), px_tensor_free(bv), px_tensor_free(w2v);
}

/* The layer builds on the fused op (sigmoid and softmax as separate nodes, so the
 * losses still find the logits) and predicts what the formula gives. */
static void test_layer(void) {
    px_activation la[3] = {PX_RELU, PX_SIGMOID, PX_SOFTMAX};
    const char *last_op[3] = {"dense", "sigmoid", "softmax"};
    for (int i = 0; i < 3; i++) {
        px_set_random_seed(3);
        px_model *m = px_sequential((px_layer *[]){px_dense_ex(4, &(px_dense_options){.activation = la[i],
                                                                                      .input_shape = PX_SHAPE(3)}),
                                                   NULL});
        CHECK_NOT_NULL(m);
        if (!m) continue;
        px_layer *l = px_model_layer(m, 0);
        px_node *out = px_layer_output(l);
        CHECK(out && strcmp(px_node_op_name(out), last_op[i]) == 0);
        px_tensor *x = px_gc_random(PX_SHAPE(2, 3), -1, 1, 5);
        px_tensor *p = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
        CHECK_NOT_NULL(p);
        const float *w = px_tensor_f32(px_node_value(px_layer_weight(l, 0)));
        for (int r = 0; p && r < 2; r++) {
            float z[4], sum = 0;
            for (int j = 0; j < 4; j++) {
                z[j] = 0;
                for (int k = 0; k < 3; k++) z[j] += px_tensor_f32(x)[r * 3 + k] * w[k * 4 + j];
                sum += expf(z[j]);
            }
            for (int j = 0; j < 4; j++) {
                float want = la[i] == PX_RELU ? fmaxf(z[j], 0) : la[i] == PX_SIGMOID ? 1 / (1 + expf(-z[j])) : expf(z[j]) / sum;
                CHECK_NEAR(px_tensor_f32(p)[r * 4 + j], want, 1e-5);
            }
        }
        px_tensor_free(p), px_tensor_free(x);
        px_model_free(m);
    }
}

/* px_gemm on one shape against a double reference: C's padding untouched, beta 0
 * ignoring NaN/inf in C. Returns the number of wrong elements. */
static int gemm_case(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta, int64_t pad) {
    int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int64_t lda = ac + pad, ldb = bc + pad, ldc = n + pad;
    px_tensor *ta_ = px_gc_random(PX_SHAPE(ar * lda + 1), -1, 1, 200 + (uint64_t)n);
    px_tensor *tb_ = px_gc_random(PX_SHAPE(br * ldb + 1), -1, 1, 300 + (uint64_t)k);
    px_tensor *tc = px_gc_random(PX_SHAPE(m * ldc + 1), -1, 1, 400);
    float *a = px_tensor_f32(ta_), *b = px_tensor_f32(tb_), *c = px_tensor_f32(tc);
    float *c0 = malloc((size_t)(m * ldc + 1) * sizeof *c0);
    if (beta == 0.0f)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] = (i + j) % 2 ? NAN : INFINITY;
    memcpy(c0, c, (size_t)(m * ldc + 1) * sizeof *c0);
    px_gemm(&(px_gemm_args){.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .alpha = alpha, .a = a, .lda = lda,
            .b = b, .ldb = ldb, .beta = beta, .c = c, .ldc = ldc});
    int bad = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            int64_t at = i * ldc + j;
            if (j >= n) {
                bad += memcmp(&c[at], &c0[at], sizeof *c) != 0;
                continue;
            }
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
            double want = alpha * s + (beta == 0.0f ? 0.0 : (double)beta * c0[at]);
            bad += !(fabs(c[at] - want) <= 1e-5 * (double)(k + 2) * (1 + fabs(want)));
        }
    bad += memcmp(&c[m * ldc], &c0[m * ldc], sizeof *c) != 0;
    free(c0);
    px_tensor_free(ta_), px_tensor_free(tb_), px_tensor_free(tc);
    return bad;
}

static void test_gemm_paths(void) {
    int saved = px_num_threads();
    for (int threads = 1; threads <= 2; threads++) {
        px_set_num_threads(threads);
        /* one row times a matrix: strips of 16 columns, masked tails, split over threads */
        static const int64_t ns[] = {32, 44, 100, 257, 300, 517};
        static const int64_t ks[] = {1, 100, 784};
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 3; j++) {
                CHECK(gemm_case(false, false, 1, ns[i], ks[j], 1.0f, 0.0f, 0) == 0);
                CHECK(gemm_case(false, false, 1, ns[i], ks[j], -0.5f, 1.5f, 3) == 0);
                CHECK(gemm_case(true, false, 1, ns[i], ks[j], 2.0f, 1.0f, 0) == 0);
            }
        CHECK(gemm_case(true, false, 1, 300, 50, 1.0f, 0.0f, 2) == 0); /* transposed row with a stride */
        /* the builtin kernel's shapes: Dense forward at batch <= 64, dW on two threads */
        CHECK(gemm_case(false, false, 32, 300, 784, 1.0f, 0.0f, 0) == 0);
        CHECK(gemm_case(false, false, 24, 260, 520, 1.0f, 1.0f, 5) == 0);
        CHECK(gemm_case(true, false, 784, 300, 32, 1.0f, 0.0f, 0) == 0);
        CHECK(gemm_case(true, false, 700, 300, 200, 1.0f, 1.0f, 1) == 0);
    }
    px_set_num_threads(saved);
}

int main(void) {
    RUN_TEST(test_gradients);
    RUN_TEST(test_matches_unfused);
    RUN_TEST(test_side_by_side_products);
    RUN_TEST(test_ksplit_epilogue);
    RUN_TEST(test_errors);
    RUN_TEST(test_layer);
    RUN_TEST(test_gemm_paths);
    return px_test_finish();
}
