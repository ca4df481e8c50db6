/* conv2d's oneDNN path (backend/cpu/conv_dnnl.c) against a double-precision
 * reference written here and against Plexus's own kernels (im2col + GEMM, and
 * the few-channel row kernels), which stay its fallback; and its results bit
 * for bit the same at 1, 2 and 3 threads, and under mixed_bfloat16 as under
 * float32. Finite-difference checks of every
 * path are in test_conv.c (each of its checks runs on this path too). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv_dnnl.h"
#include "backend/cpu/conv_kernels.h"
#include "graph/node.h"
#include "gradcheck.h"
#include "px_test.h"

typedef struct conv_case {
    int n, h, w, c, k, f, s;
    bool same, bias;
} conv_case;

/* The course ConvNet's second and third convolutions (with a batch that leaves
 * a shorter last chunk), a valid-padding case without bias, one image with a
 * stride that leaves input rows and columns unread (valid: negative padding
 * after, for oneDNN), and same padding with a stride on odd sizes. */
static const conv_case cases[] = {
    {9, 28, 28, 4, 4, 8, 2, true, true},
    {9, 14, 14, 8, 4, 12, 2, true, true},
    {5, 9, 7, 5, 3, 6, 1, false, false},
    {1, 10, 9, 5, 4, 6, 3, false, true},
    {2, 7, 9, 6, 3, 5, 2, true, false},
};

static px_node *build(px_node *const *v, void *ctx) {
    const conv_case *c = ctx;
    px_padding pad = c->same ? PX_PADDING_SAME : PX_PADDING_VALID;
    return c->bias ? px_conv2d_bias(v[0], v[1], v[2], c->s, c->s, pad, 1, 1) : px_conv2d(v[0], v[1], c->s, c->s, pad, 1, 1);
}

/* y, dx, dk and db (when there is a bias) of sum(y * r) on `threads` threads
 * with path `impl` (px_conv_set_impl), the convolution made under the
 * mixed_bfloat16 policy when bf16. */
static void run_policy(const conv_case *c, int impl, int threads, bool bf16, px_tensor *const *in, const px_tensor *r,
                       px_tensor **out) {
    px_conv_set_impl(impl);
    px_set_num_threads(threads);
    px_graph *g = px_graph_new();
    px_node *v[3];
    int n = c->bias ? 3 : 2;
    for (int i = 0; i < n; i++) v[i] = px_variable(g, in[i], NULL);
    px_graph_set_compute_bf16(g, bf16);
    px_node *y = build(v, (void *)c);
    px_graph_set_compute_bf16(g, false);
    px_session *s = px_session_new(g, &y, 1, &(px_session_options){.loss = px_sum_all(px_mul(y, px_constant(g, r)))});
    CHECK_OK(s ? px_session_run(s, NULL, 0, NULL) : PX_ERR_ARG);
    out[0] = px_tensor_copy(px_session_fetch(s, 0));
    for (int i = 0; i < n; i++) out[1 + i] = px_tensor_copy(px_session_gradient(s, v[i]));
    px_session_free(s);
    px_graph_free(g);
    px_conv_set_impl(0);
}

static void run(const conv_case *c, int impl, int threads, px_tensor *const *in, const px_tensor *r, px_tensor **out) {
    run_policy(c, impl, threads, false, in, r, out);
}

/* The reference in double, and for each value the sum of its terms' magnitudes
 * (a bound on any float32 summation's error is (terms + 2) * 2^-24 times it). */
typedef struct ref {
    double *y, *gx, *gw, *gb, *ay, *agx, *agw, *agb;
    int64_t oh, ow, terms_y, terms_gx, terms_gw, terms_gb;
} ref;

static int64_t out_len(int64_t n, int k, int s, bool same, int64_t *pad) {
    int64_t o = same ? (n + s - 1) / s : (n - k) / s + 1;
    int64_t total = (o - 1) * s + k - n;
    *pad = same && total > 0 ? total / 2 : 0;
    return o;
}

static ref reference(const conv_case *c, const float *x, const float *w, const float *b, const float *r) {
    ref q = {0};
    int64_t pt, pl;
    q.oh = out_len(c->h, c->k, c->s, c->same, &pt);
    q.ow = out_len(c->w, c->k, c->s, c->same, &pl);
    int64_t ny = (int64_t)c->n * q.oh * q.ow * c->f, nx = (int64_t)c->n * c->h * c->w * c->c, nw = (int64_t)c->k * c->k * c->c * c->f;
    q.y = calloc((size_t)ny, sizeof(double)), q.ay = calloc((size_t)ny, sizeof(double));
    q.gx = calloc((size_t)nx, sizeof(double)), q.agx = calloc((size_t)nx, sizeof(double));
    q.gw = calloc((size_t)nw, sizeof(double)), q.agw = calloc((size_t)nw, sizeof(double));
    q.gb = calloc((size_t)c->f, sizeof(double)), q.agb = calloc((size_t)c->f, sizeof(double));
    q.terms_y = (int64_t)c->k * c->k * c->c + 1;
    q.terms_gx = (int64_t)c->k * c->k * c->f; /* at most */
    q.terms_gw = (int64_t)c->n * q.oh * q.ow;
    q.terms_gb = q.terms_gw;
    for (int n = 0; n < c->n; n++)
        for (int64_t oy = 0; oy < q.oh; oy++)
            for (int64_t ox = 0; ox < q.ow; ox++)
                for (int f = 0; f < c->f; f++) {
                    int64_t yi = ((n * q.oh + oy) * q.ow + ox) * c->f + f;
                    double rv = r[yi];
                    q.y[yi] = b ? b[f] : 0, q.ay[yi] = b ? fabs(b[f]) : 0;
                    q.gb[f] += rv, q.agb[f] += fabs(rv);
                    for (int i = 0; i < c->k; i++)
                        for (int j = 0; j < c->k; j++) {
                            int64_t iy = oy * c->s + i - pt, ix = ox * c->s + j - pl;
                            if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
                            for (int ch = 0; ch < c->c; ch++) {
                                int64_t xi = ((n * c->h + iy) * c->w + ix) * c->c + ch;
                                int64_t wi = ((i * c->k + j) * c->c + ch) * c->f + f;
                                q.y[yi] += (double)x[xi] * w[wi], q.ay[yi] += fabs((double)x[xi] * w[wi]);
                                q.gx[xi] += rv * w[wi], q.agx[xi] += fabs(rv * w[wi]);
                                q.gw[wi] += rv * x[xi], q.agw[wi] += fabs(rv * x[xi]);
                            }
                        }
                }
    return q;
}

static void ref_free(ref *q) {
    free(q->y), free(q->ay), free(q->gx), free(q->agx), free(q->gw), free(q->agw), free(q->gb), free(q->agb);
}

/* Elements of t beyond the float32 summation bound of the reference. */
static int64_t beyond(const px_tensor *t, const double *want, const double *mag, int64_t terms) {
    if (!t) return -1;
    const float *v = px_tensor_f32(t);
    int64_t bad = 0, n = px_tensor_size(t);
    double u = ldexp(1.0, -24);
    for (int64_t i = 0; i < n; i++)
        if (fabs(v[i] - want[i]) > (double)(terms + 2) * u * mag[i] + 1e-30) bad++;
    return bad;
}

static bool same_bits(const px_tensor *a, const px_tensor *b) {
    return a && b && px_tensor_size(a) == px_tensor_size(b) &&
           !memcmp(px_tensor_f32(a), px_tensor_f32(b), (size_t)px_tensor_size(a) * sizeof(float));
}

static bool dnnl_takes(const conv_case *c) {
    px_conv_geom g = {.n = c->n, .h = c->h, .w = c->w, .c = c->c, .kh = c->k, .kw = c->k, .f = c->f,
                      .sh = c->s, .sw = c->s, .dh = 1, .dw = 1};
    px_conv_geom_finish(&g, c->same ? PX_CONV_PAD_SAME : PX_CONV_PAD_VALID);
    px_conv_dnnl_plan p;
    return px_conv_dnnl_plan_of(&g, &p);
}

/* Each path within the summation bound of the reference: the oneDNN path
 * (3) where it takes the shape, and the fallbacks (1: im2col + GEMM, 2: the
 * row kernels) everywhere. */
static void test_paths_against_reference(void) {
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const conv_case *c = &cases[ci];
        int64_t pt, pl, oh = out_len(c->h, c->k, c->s, c->same, &pt), ow = out_len(c->w, c->k, c->s, c->same, &pl);
        px_tensor *in[3] = {px_gc_random(PX_SHAPE(c->n, c->h, c->w, c->c), -1, 1, 40 + (int)ci),
                            px_gc_random(PX_SHAPE(c->k, c->k, c->c, c->f), -1, 1, 50 + (int)ci),
                            px_gc_random(PX_SHAPE(c->f), -1, 1, 60 + (int)ci)};
        px_tensor *r = px_gc_random(PX_SHAPE(c->n, oh, ow, c->f), -1, 1, 70 + (int)ci);
        ref q = reference(c, px_tensor_f32(in[0]), px_tensor_f32(in[1]), c->bias ? px_tensor_f32(in[2]) : NULL,
                          px_tensor_f32(r));
        bool dnnl = dnnl_takes(c);
        if (ci == 0) printf("  oneDNN path %s\n", dnnl ? "available: compared" : "not in this build or processor: fallbacks only");
        for (int impl = 1; impl <= 3; impl++) {
            if (impl == 3 && !dnnl) continue;
            px_tensor *out[4] = {0};
            run(c, impl, 2, in, r, out);
            CHECK(beyond(out[0], q.y, q.ay, q.terms_y) == 0);
            CHECK(beyond(out[1], q.gx, q.agx, q.terms_gx) == 0);
            CHECK(beyond(out[2], q.gw, q.agw, q.terms_gw) == 0);
            if (c->bias) CHECK(beyond(out[3], q.gb, q.agb, q.terms_gb) == 0);
            for (int i = 0; i < 4; i++) px_tensor_free(out[i]);
        }
        ref_free(&q);
        px_tensor_free(r);
        for (int i = 0; i < 3; i++) px_tensor_free(in[i]);
    }
}

/* The oneDNN path, and the default choice, give the same bits at 1, 2 and 3
 * threads: the chunks and the kernel gradient's groups depend on the batch and
 * the machine, never on the thread count. */
static void test_same_bits_at_any_thread_count(void) {
    int before = px_num_threads();
    const conv_case big = {64, 14, 14, 8, 4, 12, 2, true, true}; /* the ConvNet's batch */
    const conv_case *all[] = {&cases[0], &cases[1], &cases[2], &big};
    for (size_t ci = 0; ci < sizeof all / sizeof *all; ci++) {
        const conv_case *c = all[ci];
        int64_t pt, pl, oh = out_len(c->h, c->k, c->s, c->same, &pt), ow = out_len(c->w, c->k, c->s, c->same, &pl);
        px_tensor *in[3] = {px_gc_random(PX_SHAPE(c->n, c->h, c->w, c->c), -1, 1, 80), px_gc_random(PX_SHAPE(c->k, c->k, c->c, c->f), -1, 1, 81),
                            px_gc_random(PX_SHAPE(c->f), -1, 1, 82)};
        px_tensor *r = px_gc_random(PX_SHAPE(c->n, oh, ow, c->f), -1, 1, 83);
        for (int impl = 0; impl <= 3; impl += 3) {
            if (impl == 3 && !dnnl_takes(c)) continue;
            px_tensor *one[4] = {0}, *more[4] = {0};
            run(c, impl, 1, in, r, one);
            for (int t = 2; t <= 3; t++) {
                run(c, impl, t, in, r, more);
                for (int i = 0; i < (c->bias ? 4 : 3); i++) {
                    if (!same_bits(one[i], more[i]))
                        fprintf(stderr, "case %zu path %d: output %d differs at %d threads\n", ci, impl, i, t);
                    CHECK(same_bits(one[i], more[i]));
                }
                for (int i = 0; i < 4; i++) px_tensor_free(more[i]), more[i] = NULL;
            }
            for (int i = 0; i < 4; i++) px_tensor_free(one[i]);
        }
        px_tensor_free(r);
        for (int i = 0; i < 3; i++) px_tensor_free(in[i]);
    }
    px_set_num_threads(before);
}

/* Under mixed_bfloat16 the convolutions oneDNN takes stay float32 (conv.c's
 * use_dnnl says why): the same bits as the float32 policy, where the im2col
 * path's bf16 products would differ. */
static void test_float32_under_mixed_bfloat16(void) {
    const conv_case *c = &cases[1];
    if (!dnnl_takes(c)) return;
    int64_t pt, pl, oh = out_len(c->h, c->k, c->s, c->same, &pt), ow = out_len(c->w, c->k, c->s, c->same, &pl);
    px_tensor *in[3] = {px_gc_random(PX_SHAPE(c->n, c->h, c->w, c->c), -1, 1, 90),
                        px_gc_random(PX_SHAPE(c->k, c->k, c->c, c->f), -1, 1, 91), px_gc_random(PX_SHAPE(c->f), -1, 1, 92)};
    px_tensor *r = px_gc_random(PX_SHAPE(c->n, oh, ow, c->f), -1, 1, 93);
    px_tensor *f32[4] = {0}, *mixed[4] = {0};
    run_policy(c, 0, 2, false, in, r, f32);
    run_policy(c, 0, 2, true, in, r, mixed);
    for (int i = 0; i < 4; i++) CHECK(same_bits(f32[i], mixed[i]));
    for (int i = 0; i < 4; i++) px_tensor_free(f32[i]), px_tensor_free(mixed[i]);
    px_tensor_free(r);
    for (int i = 0; i < 3; i++) px_tensor_free(in[i]);
}

int main(void) {
    RUN_TEST(test_paths_against_reference);
    RUN_TEST(test_same_bits_at_any_thread_count);
    RUN_TEST(test_float32_under_mixed_bfloat16);
    return px_test_finish();
}
