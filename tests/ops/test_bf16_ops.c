/* The ops with a bf16 path (mixed_bfloat16: Dense, MatMul, Conv2D and Conv1D on the
 * im2col and pointwise paths, Conv2DTranspose), forward and backward, against the
 * same op in float32, within the bf16 tolerance derived in docs/mixed-precision.md:
 * |c_bf16 - c_f32| <= (2u + u^2 + 2.1 K 2^-24) sum_i |a_i b_i|, u = 2^-8, where
 * sum |a_i b_i| is the op run in float32 on |inputs| (and |output gradient|). A
 * second, tighter check shows the inputs are rounded to bf16 and nothing else: the
 * float32 op on pre-rounded inputs agrees to float32 accumulation error. The ops'
 * backward formulas are the float32 ones (finite differences in their own tests);
 * only their products change. Skips (77) where bf16 cannot run. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv_kernels.h"
#include "backend/cpu/gemm_bf16.h"
#include "graph/node.h"
#include "gradcheck.h"
#include "px_test.h"

#define MAX_IN 3
#define KMAX 4096.0 /* the longest dot product of these cases, rounded up */

typedef px_node *(*build_fn)(px_node *const *v);

enum { RUN_BF16, RUN_F32, RUN_ABS, RUN_ROUNDED };

typedef struct result {
    px_tensor *y, *g[MAX_IN];
} result;

static px_tensor *transformed(const px_tensor *t, int mode, bool round) {
    px_tensor *c = px_tensor_new(PX_F32, px_tensor_shape(t));
    const float *s = px_tensor_f32(t);
    float *d = px_tensor_f32(c);
    for (int64_t i = 0; i < px_tensor_size(t); i++)
        d[i] = mode == RUN_ABS ? fabsf(s[i]) : mode == RUN_ROUNDED && round ? px_bf16_round(s[i]) : s[i];
    return c;
}

/* y = build(inputs) and the gradients of sum(y * R) in an eager graph. Inputs listed
 * in no_round (biases, added in float32) are not pre-rounded in the RUN_ROUNDED run. */
static result run(build_fn build, px_tensor *const *in, int n, const px_tensor *r, int mode, unsigned no_round) {
    result out = {0};
    px_graph *g = px_graph_new_eager();
    px_node *v[MAX_IN];
    for (int i = 0; i < n; i++) {
        px_tensor *t = transformed(in[i], mode, !(no_round >> i & 1));
        v[i] = px_variable(g, t, NULL);
        px_tensor_free(t);
    }
    px_graph_set_compute_bf16(g, mode == RUN_BF16);
    px_node *y = build(v);
    px_graph_set_compute_bf16(g, false);
    CHECK_NOT_NULL(y);
    if (y) out.y = px_tensor_copy(px_node_value(y));
    if (y && r) { /* r NULL: the output's shape is all that is wanted */
        px_tensor *rt = transformed(r, mode, true);
        px_node *loss = px_sum_all(px_mul(y, px_constant(g, rt)));
        px_tensor_free(rt);
        CHECK_NOT_NULL(loss);
        if (loss) CHECK_OK(px_eager_gradients(g, loss, v, n, out.g));
    }
    px_graph_free(g);
    return out;
}

static void result_free(result *r, int n) {
    px_tensor_free(r->y);
    for (int i = 0; i < n; i++) px_tensor_free(r->g[i]);
}

/* Counts the elements of a outside the bound; *maxdiff gets the largest |a - b|. */
static int outside(const px_tensor *a, const px_tensor *b, const px_tensor *abs, double factor, double *maxdiff) {
    int bad = 0;
    for (int64_t i = 0; i < px_tensor_size(a); i++) {
        double d = fabs((double)px_tensor_f32(a)[i] - px_tensor_f32(b)[i]);
        if (d > *maxdiff) *maxdiff = d;
        if (d > factor * px_tensor_f32(abs)[i] + 1e-6) bad++;
    }
    return bad;
}

static void check_op(const char *label, build_fn build, const px_shape *shapes, int n, unsigned no_round) {
    px_tensor *in[MAX_IN];
    for (int i = 0; i < n; i++) in[i] = px_gc_random(shapes[i], -1.0f, 1.0f, 100 + (uint64_t)i);
    result f = run(build, in, n, NULL, RUN_F32, no_round); /* shape of y first */
    px_tensor *r = f.y ? px_gc_random(px_tensor_shape(f.y), -1.0f, 1.0f, 7) : NULL;
    result_free(&f, n);
    if (!r) return;
    result h = run(build, in, n, r, RUN_BF16, no_round), s = run(build, in, n, r, RUN_F32, no_round);
    result a = run(build, in, n, r, RUN_ABS, no_round), q = run(build, in, n, r, RUN_ROUNDED, no_round);
    const double u = 1.0 / 256, acc = 2.1 * KMAX / 16777216.0;
    const double bf16_tol = 2 * u + u * u + acc;
    for (int i = -1; i < n; i++) {
        const px_tensor *th = i < 0 ? h.y : h.g[i], *ts = i < 0 ? s.y : s.g[i];
        const px_tensor *ta = i < 0 ? a.y : a.g[i], *tq = i < 0 ? q.y : q.g[i];
        if (!th || !ts || !ta || !tq) {
            CHECK(!"a result is missing");
            continue;
        }
        double d_f32 = 0, d_rounded = 0;
        bool bias = i >= 0 && (no_round >> i & 1); /* its gradient sums R, which the rounded run rounded */
        int bad = outside(th, ts, ta, bf16_tol, &d_f32), bad_q = bias ? 0 : outside(th, tq, ta, acc, &d_rounded);
        if (bad || bad_q)
            printf("  %s %s%d: %d outside the bf16 tolerance (max diff %.3g), %d outside float32 accumulation "
                   "of the rounded inputs (max %.3g)\n", label, i < 0 ? "y" : "grad ", i < 0 ? 0 : i, bad, d_f32,
                   bad_q, d_rounded);
        CHECK(bad == 0);
        CHECK(bad_q == 0);
        /* a bias's gradient has no product: exact; anything else must show bf16 */
        if (bias) CHECK(d_f32 == 0.0);
        else CHECK(d_f32 > 0.0);
    }
    result_free(&h, n), result_free(&s, n), result_free(&a, n), result_free(&q, n);
    px_tensor_free(r);
    for (int i = 0; i < n; i++) px_tensor_free(in[i]);
}

static px_node *dense_linear(px_node *const *v) { return px_dense_op(v[0], v[1], v[2], PX_LINEAR); }
static px_node *matmul_nn(px_node *const *v) { return px_matmul_t(v[0], v[1], false, false); }
static px_node *matmul_tt(px_node *const *v) { return px_matmul_t(v[0], v[1], true, true); }
static px_node *matmul_batched_nt(px_node *const *v) { return px_matmul_t(v[0], v[1], false, true); }
static px_node *conv_3x3(px_node *const *v) { return px_conv2d_bias(v[0], v[1], v[2], 1, 1, PX_PADDING_SAME, 1, 1); }
static px_node *conv_1x1(px_node *const *v) { return px_conv2d(v[0], v[1], 1, 1, PX_PADDING_VALID, 1, 1); }
static px_node *conv_strided(px_node *const *v) { return px_conv2d(v[0], v[1], 2, 2, PX_PADDING_VALID, 1, 1); }
static px_node *conv1d_k5(px_node *const *v) { return px_conv1d(v[0], v[1], 1, PX_PADDING_VALID, 1); }
static px_node *conv_t(px_node *const *v) {
    return px_conv2d_transpose(v[0], v[1], v[2], 2, 2, PX_PADDING_SAME, -1, -1, 1, 1);
}

static void test_dense(void) {
    /* the MLP's first layer at batch 64 (K = 784 forward, 300 for dX, 64 for dW), and odd sizes */
    check_op("dense 64x784x300", dense_linear, (px_shape[]){PX_SHAPE(64, 784), PX_SHAPE(784, 300), PX_SHAPE(300)},
             3, 4u);
    check_op("dense 7x33x5", dense_linear, (px_shape[]){PX_SHAPE(7, 33), PX_SHAPE(33, 5), PX_SHAPE(5)}, 3, 4u);
    check_op("dense 300x17x130", dense_linear, (px_shape[]){PX_SHAPE(300, 17), PX_SHAPE(17, 130), PX_SHAPE(130)}, 3,
             4u);
}

static void test_matmul(void) {
    check_op("matmul 40x50 @ 50x60", matmul_nn, (px_shape[]){PX_SHAPE(40, 50), PX_SHAPE(50, 60)}, 2, 0);
    check_op("matmul (50x40)^T @ (60x50)^T", matmul_tt, (px_shape[]){PX_SHAPE(50, 40), PX_SHAPE(60, 50)}, 2, 0);
    check_op("matmul batched 3x20x30 @ (3x25x30)^T", matmul_batched_nt,
             (px_shape[]){PX_SHAPE(3, 20, 30), PX_SHAPE(3, 25, 30)}, 2, 0);
}

static void test_conv(void) {
    /* the float32 runs on the im2col path too, as the bf16 ones: the bias
     * gradient's sums then come in the same order (oneDNN's float32 path, which
     * conv2d would otherwise take for 8+ channels, sums them in its own) */
    px_conv_set_impl(1);
    /* im2col path: K = 3*3*8 = 72 window taps */
    check_op("conv2d 3x3 same 8->16", conv_3x3,
             (px_shape[]){PX_SHAPE(4, 10, 10, 8), PX_SHAPE(3, 3, 8, 16), PX_SHAPE(16)}, 3, 4u);
    check_op("conv2d 1x1 12->20", conv_1x1, (px_shape[]){PX_SHAPE(3, 6, 7, 12), PX_SHAPE(1, 1, 12, 20)}, 2, 0);
    check_op("conv2d 4x4/2 16->32", conv_strided, (px_shape[]){PX_SHAPE(2, 12, 12, 16), PX_SHAPE(4, 4, 16, 32)}, 2,
             0);
    check_op("conv1d k5 10->24", conv1d_k5, (px_shape[]){PX_SHAPE(3, 40, 10), PX_SHAPE(5, 10, 24)}, 2, 0);
    check_op("conv2d_transpose 3x3/2 6->10", conv_t,
             (px_shape[]){PX_SHAPE(2, 5, 5, 6), PX_SHAPE(3, 3, 10, 6), PX_SHAPE(10)}, 3, 4u);
    px_conv_set_impl(0);
}

int main(void) {
    const char *why = NULL;
    if (!px_bf16_supported(&why)) {
        printf("skipped: %s\n", why);
        return PX_TEST_SKIP_CODE;
    }
    RUN_TEST(test_dense);
    RUN_TEST(test_matmul);
    RUN_TEST(test_conv);
    return px_test_finish();
}
