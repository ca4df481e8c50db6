/* Layers and models checked against values worked out by hand: Dense and the core and
 * merge layers, initializers, regularizers, freezing, cloning, user layers, summary, errors. */
#define _GNU_SOURCE /* open_memstream */
#include <stdlib.h>
#include <string.h>

#include "px_test.h"

static const px_eval_options QUIET = {.verbose = PX_VERBOSE_SILENT};

static px_tensor *mat(int rows, int cols, const float *v) {
    return px_tensor_from_array(PX_SHAPE(rows, cols), v, (int64_t)rows * cols);
}

static void test_dense_forward(void) {
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(2, &(px_dense_options){.input_shape = PX_SHAPE(3)}), NULL});
    CHECK_NOT_NULL(m);
    px_layer *d = px_model_layer(m, 0);
    CHECK(px_layer_weight_count(d) == 2);
    CHECK(strcmp(px_layer_weight_name(d, 0), "kernel") == 0 && strcmp(px_layer_weight_name(d, 1), "bias") == 0);
    const float kv[6] = {1, -1, 0.5f, 2, -2, 0.25f}, bv[2] = {0.1f, -0.2f};
    px_tensor *w[2] = {mat(3, 2, kv), px_tensor_from_array(PX_SHAPE(2), bv, 2)};
    CHECK_OK(px_layer_set_weights(d, w, 2));
    const float xv[6] = {1, 2, 3, -1, 0, 4};
    px_tensor *x = mat(2, 3, xv), *y = px_model_predict(m, x, &QUIET);
    /* row 0: (1 + 1 - 6 + 0.1, -1 + 4 + 0.75 - 0.2); row 1: (-1 + 0 - 8 + 0.1, 1 + 0 + 1 - 0.2) */
    const float want[4] = {-3.9f, 3.55f, -8.9f, 1.8f};
    CHECK(y && y->shape[0] == 2 && y->shape[1] == 2);
    for (int i = 0; y && i < 4; i++) CHECK_NEAR(px_tensor_f32(y)[i], want[i], 1e-6);
    px_tensor_free(y);
    /* get_weights returns copies in Keras's order */
    px_tensor **got;
    int n;
    CHECK_OK(px_model_get_weights(m, &got, &n));
    CHECK(n == 2 && px_tensor_equal(got[0], w[0]) && px_tensor_equal(got[1], w[1]));
    for (int i = 0; i < n; i++) px_tensor_free(got[i]);
    free(got);
    px_model_free(m);

    /* use_bias = false: one weight, x @ kernel only */
    m = px_sequential((px_layer *[]){
        px_dense_ex(2, &(px_dense_options){.no_bias = true, .input_shape = PX_SHAPE(3)}), NULL});
    d = px_model_layer(m, 0);
    CHECK(px_layer_weight_count(d) == 1 && px_layer_param_count(d) == 6);
    CHECK(px_model_set_weights(m, w, 2) != PX_OK); /* two given, one wanted */
    CHECK_ERROR_HAS("has 1 weights, 2 given");
    CHECK_OK(px_model_set_weights(m, w, 1));
    y = px_model_predict(m, x, &QUIET);
    for (int i = 0; y && i < 4; i++) CHECK_NEAR(px_tensor_f32(y)[i], want[i] - bv[i % 2], 1e-6);
    px_tensor_free(y);
    px_model_free(m);
    px_tensor_free(x);
    px_tensor_free(w[0]);
    px_tensor_free(w[1]);
}

static double sigm(double x) { return 1 / (1 + exp(-x)); }

static double act_ref(px_activation a, double x) {
    switch (a) {
    case PX_LINEAR: return x;
    case PX_RELU: return x > 0 ? x : 0;
    case PX_SIGMOID: return sigm(x);
    case PX_TANH: return tanh(x);
    case PX_ELU: return x > 0 ? x : exp(x) - 1;
    case PX_SELU: return 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (exp(x) - 1));
    case PX_LEAKY_RELU: return x > 0 ? x : 0.2 * x;
    case PX_SWISH: return x * sigm(x);
    case PX_SOFTPLUS: return log1p(exp(x));
    case PX_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case PX_STEP: return x >= 0 ? 1 : 0;
    case PX_SIGN: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case PX_HARD_SIGMOID: return fmin(fmax(x / 6 + 0.5, 0), 1);
    case PX_HARD_SIGMOID_K2: return fmin(fmax(0.2 * x + 0.5, 0), 1);
    case PX_SOFTSIGN: return x / (1 + fabs(x));
    case PX_MISH: return x * tanh(log1p(exp(x)));
    case PX_EXPONENTIAL: return exp(x);
    case PX_RELU6: return fmin(fmax(x, 0), 6);
    case PX_HARD_SWISH: return x * fmin(fmax(x + 3, 0), 6) / 6;
    default: return NAN;
    }
}

static void test_dense_activations(void) {
    const float xv[8] = {-2, -0.5f, 0.7f, 3, 0, 1.5f, -1, -3};
    const float eye[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    px_tensor *x = mat(2, 4, xv), *k = mat(4, 4, eye);
    for (int a = 0; a < PX_ACTIVATION_COUNT; a++) {
        px_model *m = px_sequential((px_layer *[]){
            px_dense_ex(4, &(px_dense_options){.activation = (px_activation)a, .no_bias = true, .input_shape = PX_SHAPE(4)}),
            NULL});
        CHECK_OK(px_model_set_weights(m, &k, 1));
        px_tensor *y = px_model_predict(m, x, &QUIET);
        CHECK_NOT_NULL(y);
        for (int r = 0; y && r < 2; r++) {
            double want[4], sum = 0;
            for (int j = 0; j < 4; j++) {
                want[j] = a == PX_SOFTMAX || a == PX_LOG_SOFTMAX ? exp(xv[4 * r + j]) : act_ref((px_activation)a, xv[4 * r + j]);
                sum += want[j];
            }
            for (int j = 0; j < 4; j++) {
                double v = px_tensor_f32(y)[4 * r + j], wv = a == PX_SOFTMAX ? want[j] / sum : want[j];
                if (a == PX_LOG_SOFTMAX) wv = xv[4 * r + j] - log(sum);
                if (!(fabs(v - wv) <= 1e-5)) px_test_fail(__FILE__, __LINE__, "%s(%g) = %.7g, expected %.7g",
                                                     px_activation_name((px_activation)a), xv[4 * r + j], v, wv);
                else px_test_passed++;
            }
        }
        /* the name round-trips */
        px_activation back;
        /* "hard_sigmoid" is Keras 2's in Keras 2 files */
        CHECK_OK(px_activation_from_keras(px_activation_name((px_activation)a), a == PX_HARD_SIGMOID_K2 ? 2 : 3, &back));
        CHECK(back == (px_activation)a);
        px_tensor_free(y);
        px_model_free(m);
    }
    px_tensor_free(x);
    px_tensor_free(k);
}

/* Flatten, Dropout, Dense, Activation, Add, Concatenate and Reshape in one graph:
 * x1 (2, 3) -> Flatten -> Dropout(0.5) -> Dense "proj" (2, no bias) -+
 * x2 (2) -> Activation relu --------------------------------------- Add -> Concatenate with x2 -> Reshape (2, 2) */
static void test_core_and_merge_layers(void) {
    px_model *m = px_functional("merge");
    px_node *x1 = px_model_input(m, PX_SHAPE(2, 3), "x1"), *x2 = px_model_input(m, PX_SHAPE(2), "x2");
    px_node *f = px_apply(px_flatten(PX_SCALAR), x1);
    CHECK(f && px_node_shape(f).rank == 2 && px_node_shape(f).dim[1] == 6);
    px_node *dr = px_apply(px_dropout_layer(0.5f), f);
    px_node *p = px_apply(px_dense_ex(2, &(px_dense_options){.no_bias = true, .name = "proj"}), dr);
    px_node *r = px_apply(px_activation_layer(PX_RELU), x2);
    px_node *s = px_apply_n(px_add_layer(), (px_node *[]){p, r}, 2);
    px_node *c = px_apply_n(px_concatenate(-1), (px_node *[]){s, x2}, 2);
    px_node *out = px_apply(px_reshape_layer(PX_SHAPE(2, -1)), c);
    CHECK_NOT_NULL(out);
    CHECK_OK(px_model_set_outputs(m, &out, 1));
    px_shape os = px_node_shape(out);
    CHECK(os.rank == 3 && os.dim[0] == PX_UNKNOWN && os.dim[1] == 2 && os.dim[2] == 2);
    const char *classes[] = {"InputLayer", "InputLayer", "Flatten", "Dropout", "Dense", "Activation", "Add",
                             "Concatenate", "Reshape"};
    CHECK(px_model_layer_count(m) == 9);
    for (int i = 0; i < 9 && i < px_model_layer_count(m); i++)
        CHECK(strcmp(px_layer_class(px_model_layer(m, i)), classes[i]) == 0);
    CHECK(px_model_find_layer(m, "concatenate") && px_model_find_layer(m, "reshape"));

    /* proj sums the even and the odd positions of the flattened x1 */
    const float kv[12] = {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1};
    px_tensor *k = mat(6, 2, kv);
    CHECK_OK(px_layer_set_weights(px_model_find_layer(m, "proj"), &k, 1));
    const float a[12] = {1, 2, 3, 4, 5, 6, 0, -1, 2, 0.5f, -3, 1}, b[4] = {-1, 2, 0.5f, -4};
    px_tensor *xs[2] = {px_tensor_from_array(PX_SHAPE(2, 2, 3), a, 12), mat(2, 2, b)}, *y = NULL;
    CHECK_OK(px_model_predict_arrays(m, xs, 2, &QUIET, &y));
    /* row 0: proj (1+3+5, 2+4+6) = (9, 12) + relu(-1, 2) = (9, 14), then x2 (-1, 2)
     * row 1: proj (0+2-3, -1+0.5+1) = (-1, 0.5) + relu(0.5, -4) = (-0.5, 0.5), then (0.5, -4) */
    const float want[8] = {9, 14, -1, 2, -0.5f, 0.5f, 0.5f, -4};
    CHECK(y && y->rank == 3 && y->shape[1] == 2 && y->shape[2] == 2);
    for (int i = 0; y && i < 8; i++) CHECK_NEAR(px_tensor_f32(y)[i], want[i], 1e-6);
    px_tensor_free(y);
    px_tensor_free(xs[0]);
    px_tensor_free(xs[1]);
    px_tensor_free(k);
    px_model_free(m);

    /* a Reshape that cannot fit is refused with both shapes */
    m = px_functional(NULL);
    px_node *in = px_model_input(m, PX_SHAPE(6), "in");
    CHECK(px_apply(px_reshape_layer(PX_SHAPE(4, -1)), in) == NULL);
    CHECK_ERROR_HAS("cannot reshape (None, 6) into (None, 4, None)");
    CHECK(strstr(px_last_error(), "None))") == NULL); /* balanced parentheses */
    CHECK(px_reshape_layer(PX_SHAPE(-1, -1)) == NULL);
    CHECK(px_dropout_layer(1.0f) == NULL);
    CHECK_ERROR_HAS("rate must be in [0, 1)");
    px_model_free(m);
}

/* Sample mean, variance and largest magnitude of a tensor. */
static void stats(const px_tensor *t, double *mean, double *var, double *maxabs) {
    int64_t n = px_tensor_size(t);
    const float *d = px_tensor_f32(t);
    double s = 0, s2 = 0, mx = 0;
    for (int64_t i = 0; i < n; i++) s += d[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) {
        s2 += (d[i] - *mean) * (d[i] - *mean);
        mx = fmax(mx, fabs(d[i]));
    }
    *var = s2 / (double)n;
    *maxabs = mx;
}

static void test_initializers(void) {
    /* fan_in 200, fan_out 300 */
    px_tensor *t = px_tensor_zeros(PX_SHAPE(200, 300));
    px_rng rng = px_rng_seeded(5);
    double mean, var, mx, fi = 200, fo = 300;
    struct { px_init_kind k; bool uniform; double scale; } cases[] = {
        {PX_INIT_GLOROT_UNIFORM, true, sqrt(6 / (fi + fo))}, /* scale = limit */
        {PX_INIT_DEFAULT, true, sqrt(6 / (fi + fo))},
        {PX_INIT_HE_UNIFORM, true, sqrt(6 / fi)},
        {PX_INIT_LECUN_UNIFORM, true, sqrt(3 / fi)},
        {PX_INIT_GLOROT_NORMAL, false, sqrt(2 / (fi + fo))}, /* scale = stddev */
        {PX_INIT_HE_NORMAL, false, sqrt(2 / fi)},
        {PX_INIT_LECUN_NORMAL, false, sqrt(1 / fi)},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        CHECK_OK(px_initializer_fill((px_initializer){.kind = cases[c].k}, t, &rng));
        stats(t, &mean, &var, &mx);
        double want_var = cases[c].uniform ? cases[c].scale * cases[c].scale / 3 : cases[c].scale * cases[c].scale;
        /* truncated at two standard deviations of the untruncated normal */
        double bound = cases[c].uniform ? cases[c].scale : 2 * cases[c].scale / 0.87962566103423978;
        if (!(fabs(var / want_var - 1) < 0.03 && mx <= bound && mx > 0.9 * bound && fabs(mean) < 0.02 * sqrt(want_var)))
            px_test_fail(__FILE__, __LINE__, "%s: variance %.6g (want %.6g), max %.6g (bound %.6g), mean %.3g",
                         px_init_name(cases[c].k), var, want_var, mx, bound, mean);
        else px_test_passed++;
    }
    /* Orthogonal: seen as (all axes but the last, last), the columns (tall) or rows
     * (wide) are orthonormal, times gain; rank 1 is refused as Keras refuses it */
    px_shape shapes[] = {PX_SHAPE(7, 3), PX_SHAPE(3, 7), PX_SHAPE(2, 2, 3, 4), PX_SHAPE(5, 5)};
    for (int c = 0; c < 4; c++) {
        px_tensor *o = px_tensor_zeros(shapes[c]);
        float gain = c == 3 ? 1.5f : 0;
        CHECK_OK(px_initializer_fill((px_initializer){.kind = PX_INIT_ORTHOGONAL, .gain = gain}, o, &rng));
        int64_t cols = o->shape[o->rank - 1], rows = px_tensor_size(o) / cols;
        bool tall = rows >= cols;
        int64_t n = tall ? cols : rows, len = tall ? rows : cols;
        double worst = 0, g2 = gain ? (double)gain * gain : 1;
        for (int64_t a = 0; a < n; a++)
            for (int64_t b = 0; b < n; b++) {
                double dot = 0;
                for (int64_t k = 0; k < len; k++) {
                    const float *w = px_tensor_f32(o);
                    dot += tall ? (double)w[k * cols + a] * w[k * cols + b] : (double)w[a * cols + k] * w[b * cols + k];
                }
                worst = fmax(worst, fabs(dot - (a == b ? g2 : 0)));
            }
        CHECK(worst < 1e-5);
        px_tensor_free(o);
    }
    px_tensor *v = px_tensor_zeros(PX_SHAPE(4));
    CHECK(px_initializer_fill((px_initializer){.kind = PX_INIT_ORTHOGONAL}, v, &rng) == PX_ERR_ARG);
    CHECK_ERROR_HAS("rank 2");
    px_tensor_free(v);
    CHECK(strcmp(px_init_name(PX_INIT_ORTHOGONAL), "Orthogonal") == 0);
    /* RandomNormal / RandomUniform defaults: stddev 0.05, range [-0.05, 0.05] */
    CHECK_OK(px_initializer_fill((px_initializer){.kind = PX_INIT_RANDOM_NORMAL}, t, &rng));
    stats(t, &mean, &var, &mx);
    CHECK_NEAR(sqrt(var), 0.05, 0.05 * 0.02);
    CHECK_NEAR(mean, 0, 0.001);
    CHECK_OK(px_initializer_fill((px_initializer){.kind = PX_INIT_RANDOM_NORMAL, .mean = 1, .stddev = 2}, t, &rng));
    stats(t, &mean, &var, &mx);
    CHECK_NEAR(mean, 1, 0.05);
    CHECK_NEAR(sqrt(var), 2, 0.04);
    CHECK_OK(px_initializer_fill((px_initializer){.kind = PX_INIT_RANDOM_UNIFORM}, t, &rng));
    stats(t, &mean, &var, &mx);
    CHECK(mx <= 0.05f && mx > 0.049);
    CHECK_NEAR(var, 0.05 * 0.05 / 3, 0.05 * 0.05 / 3 * 0.03);
    CHECK_OK(px_initializer_fill((px_initializer){.kind = PX_INIT_RANDOM_UNIFORM, .minval = 2, .maxval = 3}, t, &rng));
    stats(t, &mean, &var, &mx);
    CHECK_NEAR(mean, 2.5, 0.01);
    CHECK(mx <= 3);
    CHECK(px_initializer_fill((px_initializer){.kind = PX_INIT_RANDOM_UNIFORM, .minval = 1, .maxval = -1}, t, &rng) != PX_OK);
    /* constants */
    const struct { px_initializer init; float v; } consts[] = {
        {{.kind = PX_INIT_ZEROS}, 0}, {{.kind = PX_INIT_ONES}, 1}, {{.kind = PX_INIT_CONSTANT, .value = 0.7f}, 0.7f}};
    for (int c = 0; c < 3; c++) {
        px_tensor_f32(t)[17] = 123;
        CHECK_OK(px_initializer_fill(consts[c].init, t, &rng));
        stats(t, &mean, &var, &mx);
        CHECK(mean == consts[c].v && var == 0);
    }
    px_tensor_free(t);

    /* a convolution kernel (3, 3, 4, 8): fans are 4 * 9 and 8 * 9 */
    px_tensor *conv = px_tensor_zeros(PX_SHAPE(3, 3, 4, 8));
    CHECK_OK(px_initializer_fill((px_initializer){.kind = PX_INIT_GLOROT_UNIFORM}, conv, &rng));
    stats(conv, &mean, &var, &mx);
    double limit = sqrt(6.0 / (36 + 72));
    CHECK(mx <= limit && mx > 0.95 * limit);
    px_tensor_free(conv);
}

static px_model *small_mlp(uint64_t seed, bool set_seed) {
    px_model *m = px_sequential((px_layer *[]){px_dense(16, PX_RELU), px_dense(4, PX_LINEAR), NULL});
    if (set_seed) px_model_set_seed(m, seed);
    CHECK_OK(px_model_build(m, PX_SHAPE(10)));
    return m;
}

static bool same_weights(px_model *a, px_model *b) {
    px_tensor **wa, **wb;
    int na, nb;
    bool same = px_model_get_weights(a, &wa, &na) == PX_OK && px_model_get_weights(b, &wb, &nb) == PX_OK && na == nb;
    for (int i = 0; same && i < na; i++) same = px_tensor_equal(wa[i], wb[i]);
    for (int i = 0; i < na; i++) px_tensor_free(wa[i]);
    for (int i = 0; i < nb; i++) px_tensor_free(wb[i]);
    free(wa);
    free(wb);
    return same;
}

static void test_seeds(void) {
    px_set_random_seed(7);
    px_model *a = small_mlp(0, false), *b = small_mlp(0, false);
    CHECK(same_weights(a, b));
    /* the default kernel initializer is Glorot uniform, the bias zeros */
    px_tensor **w;
    int n;
    CHECK_OK(px_model_get_weights(a, &w, &n));
    double mean, var, mx;
    stats(w[0], &mean, &var, &mx);
    CHECK(mx <= sqrt(6.0 / 26) && mx > 0.7 * sqrt(6.0 / 26));
    stats(w[1], &mean, &var, &mx);
    CHECK(mx == 0);
    for (int i = 0; i < n; i++) px_tensor_free(w[i]);
    free(w);
    px_set_random_seed(8);
    px_model *c = small_mlp(0, false);
    CHECK(!same_weights(a, c));
    px_model *d = small_mlp(99, true), *e = small_mlp(99, true), *f = small_mlp(100, true);
    CHECK(same_weights(d, e));
    CHECK(!same_weights(d, f));
    px_set_random_seed(42);
    px_model_free(a);
    px_model_free(b);
    px_model_free(c);
    px_model_free(d);
    px_model_free(e);
    px_model_free(f);
}

static void test_regularizers(void) {
    /* Dense 2 -> 3 (L1 0.01) -> 3 (L2 0.02) -> 1 (L1L2 0.01, 0.03), all linear */
    px_model *m = px_sequential((px_layer *[]){
        px_dense_ex(3, &(px_dense_options){.kernel_regularizer = PX_L1(0.01f), .input_shape = PX_SHAPE(2)}),
        px_dense_ex(3, &(px_dense_options){.kernel_regularizer = PX_L2(0.02f)}),
        px_dense_ex(1, &(px_dense_options){.kernel_regularizer = PX_L1L2(0.01f, 0.03f)}), NULL});
    const float k1[6] = {0.5f, -1, 2, 1.5f, 0.25f, -0.75f}, b1[3] = {0.1f, 0, -0.1f};
    const float k2[9] = {1, 0, -0.5f, 0.2f, -1, 0, 0.3f, 0.4f, 2}, b2[3] = {0, 0.5f, 0};
    const float k3[3] = {-1, 0.5f, 1.25f}, b3[1] = {0.2f};
    px_tensor *w[6] = {mat(2, 3, k1), px_tensor_from_array(PX_SHAPE(3), b1, 3), mat(3, 3, k2),
                       px_tensor_from_array(PX_SHAPE(3), b2, 3), mat(3, 1, k3), px_tensor_from_array(PX_SHAPE(1), b3, 1)};
    CHECK_OK(px_model_set_weights(m, w, 6));
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .optimizer = px_sgd(NULL)}));
    const float xv[6] = {1, 2, -1, 0.5f, 0, -2}, yv[3] = {1, -2, 0.5f};
    px_tensor *x = mat(3, 2, xv), *y = mat(3, 1, yv);
    double data = 0;
    for (int r = 0; r < 3; r++) {
        double h1[3], h2[3], o = b3[0];
        for (int j = 0; j < 3; j++) h1[j] = b1[j] + xv[2 * r] * k1[j] + xv[2 * r + 1] * k1[3 + j];
        for (int j = 0; j < 3; j++) h2[j] = b2[j] + h1[0] * k2[j] + h1[1] * k2[3 + j] + h1[2] * k2[6 + j];
        for (int j = 0; j < 3; j++) o += h2[j] * k3[j];
        data += (o - yv[r]) * (o - yv[r]) / 3;
    }
    double pen = 0;
    for (int i = 0; i < 6; i++) pen += 0.01 * fabs(k1[i]);
    for (int i = 0; i < 9; i++) pen += 0.02 * k2[i] * k2[i];
    for (int i = 0; i < 3; i++) pen += 0.01 * fabs(k3[i]) + 0.03 * k3[i] * k3[i];
    px_logs logs = {0};
    CHECK_OK(px_model_evaluate_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1}, &QUIET, &logs));
    double loss = NAN;
    CHECK(px_logs_get(&logs, "loss", &loss));
    CHECK_NEAR(loss, data + pen, 1e-5 * (data + pen));
    CHECK(pen > 0.1); /* the penalty is large enough to be noticed */
    for (int i = 0; i < 6; i++) px_tensor_free(w[i]);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

/* Random regression data: x (n, in), y (n, out). */
static void make_data(int n, int in, int out, uint64_t seed, px_tensor **x, px_tensor **y) {
    px_rng r = px_rng_seeded(seed);
    *x = px_tensor_random_uniform(PX_SHAPE(n, in), -1, 1, &r);
    *y = px_tensor_random_uniform(PX_SHAPE(n, out), -1, 1, &r);
}

static px_status fit(px_model *m, px_tensor *x, px_tensor *y, int epochs) {
    return px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1},
                               &(px_fit_options){.epochs = epochs, .batch_size = 8, .verbose = PX_VERBOSE_SILENT});
}

static px_tensor **weights_of(const px_layer *l, int *n) {
    px_tensor **w = NULL;
    CHECK_OK(px_layer_get_weights(l, &w, n));
    return w;
}

static bool layer_has(const px_layer *l, px_tensor **w) {
    int n;
    px_tensor **now = weights_of(l, &n);
    bool same = now != NULL;
    for (int i = 0; i < n; i++) {
        same = same && px_tensor_equal(now[i], w[i]);
        px_tensor_free(now[i]);
    }
    free(now);
    return same;
}

static void free_weights(px_tensor **w, int n) {
    for (int i = 0; i < n; i++) px_tensor_free(w[i]);
    free(w);
}

static void test_trainable_flag(void) {
    px_model *m = px_sequential((px_layer *[]){
        px_dense_ex(4, &(px_dense_options){.activation = PX_TANH, .name = "frozen", .input_shape = PX_SHAPE(3)}),
        px_dense_ex(2, &(px_dense_options){.name = "head"}), NULL});
    px_layer *fz = px_model_find_layer(m, "frozen"), *hd = px_model_find_layer(m, "head");
    int64_t tr, nt;
    CHECK(px_model_param_count(m, &tr, &nt) == 26 && tr == 26 && nt == 0);
    px_layer_set_trainable(fz, false);
    CHECK(!px_layer_trainable(fz));
    CHECK(px_model_param_count(m, &tr, &nt) == 26 && tr == 10 && nt == 16);
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_MEAN_SQUARED_ERROR,
                                     .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 0.1f})}));
    int nf, nh;
    px_tensor **wf = weights_of(fz, &nf), **wh = weights_of(hd, &nh);
    px_tensor *x, *y;
    make_data(32, 3, 2, 3, &x, &y);
    CHECK_OK(fit(m, x, y, 3));
    CHECK(layer_has(fz, wf));
    CHECK(!layer_has(hd, wh));
    free_weights(wf, nf);
    free_weights(wh, nh);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

static void test_clone_for_transfer(void) {
    px_model *a = px_sequential((px_layer *[]){
        px_dense_ex(8, &(px_dense_options){.activation = PX_RELU, .name = "base", .input_shape = PX_SHAPE(4)}),
        px_dense_ex(3, &(px_dense_options){.name = "old_head"}), NULL});
    CHECK_OK(px_model_compile(a, &(px_compile_options){.loss = PX_MEAN_SQUARED_ERROR, .optimizer = px_sgd(NULL)}));
    px_tensor *x, *y, *y1;
    make_data(32, 4, 3, 4, &x, &y);
    CHECK_OK(fit(a, x, y, 2));
    px_layer *base = px_model_find_layer(a, "base");
    int nb;
    px_tensor **wb = weights_of(base, &nb);

    px_layer *copy = px_layer_clone(base);
    CHECK_NOT_NULL(copy);
    CHECK(copy != base && px_layer_weight_count(copy) == 0); /* unbuilt until added */
    px_model *b = px_sequential((px_layer *[]){copy, px_dense_ex(1, &(px_dense_options){.name = "new_head"}), NULL});
    CHECK_NOT_NULL(b);
    CHECK(b && px_model_find_layer(b, "base") == copy);
    CHECK(layer_has(copy, wb)); /* the trained weights came along */
    px_layer_set_trainable(copy, false);
    CHECK_OK(px_model_compile(b, &(px_compile_options){
                                     .loss = PX_MEAN_SQUARED_ERROR,
                                     .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 0.1f})}));
    px_layer *head = px_model_find_layer(b, "new_head");
    int nh;
    px_tensor **wh = weights_of(head, &nh);
    px_rng r = px_rng_seeded(6);
    y1 = px_tensor_random_uniform(PX_SHAPE(32, 1), -1, 1, &r);
    CHECK_OK(fit(b, x, y1, 3));
    CHECK(layer_has(copy, wb));
    CHECK(layer_has(base, wb)); /* the original is untouched too */
    CHECK(!layer_has(head, wh));
    free_weights(wb, nb);
    free_weights(wh, nh);
    px_tensor_free(x);
    px_tensor_free(y);
    px_tensor_free(y1);
    px_model_free(a);
    px_model_free(b);
}

/* A user-defined layer: y = x * w with w of shape (units,), the last input axis. */
static px_status scale_build(px_layer *self, const px_shape *in, int n) {
    (void)n;
    int64_t units = in[0].dim[in[0].rank - 1];
    return px_layer_add_weight(self, "w", PX_SHAPE(units), (px_initializer){.kind = PX_INIT_ONES}, (px_regularizer){0},
                               true)
               ? PX_OK
               : px_last_status();
}
static px_node *scale_call(px_layer *self, px_node *const *in, int n) {
    (void)n;
    return px_mul(in[0], px_layer_weight(self, 0));
}
static const px_layer_def scale_def = {.class_name = "Scale", .build = scale_build, .call = scale_call};

static void test_user_layer(void) {
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(3), "in"), px_layer_new(&scale_def, NULL, NULL),
                                               NULL});
    CHECK_NOT_NULL(m);
    px_layer *s = px_model_layer(m, 1);
    CHECK(strcmp(px_layer_name(s), "scale") == 0 && strcmp(px_layer_class(s), "Scale") == 0);
    CHECK(px_layer_weight_count(s) == 1 && px_layer_param_count(s) == 3);
    CHECK(strcmp(px_layer_weight_name(s, 0), "w") == 0);
    const float w0[3] = {0.5f, -1, 2};
    px_tensor *wt = px_tensor_from_array(PX_SHAPE(3), w0, 3);
    CHECK_OK(px_layer_set_weights(s, &wt, 1));
    const float lr = 0.1f;
    CHECK_OK(px_model_compile(m, &(px_compile_options){
                                     .loss = PX_MEAN_SQUARED_ERROR,
                                     .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = lr})}));
    const float xv[12] = {1, 2, -1, 0.5f, 0, 3, -2, 1, 1, 4, -1, 0.25f}, yv[12] = {1, 1, 1, 0, -1, 2, 3, 0, 0, 1, 1, 1};
    px_tensor *x = mat(4, 3, xv), *y = mat(4, 3, yv);
    /* one full-batch SGD step: dL/dw_j = 2/12 * sum_r (x_rj w_j - y_rj) x_rj */
    double want[3];
    for (int j = 0; j < 3; j++) {
        double g = 0;
        for (int r = 0; r < 4; r++) g += 2.0 / 12 * (xv[3 * r + j] * w0[j] - yv[3 * r + j]) * xv[3 * r + j];
        want[j] = w0[j] - lr * g;
    }
    CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1},
                                 &(px_fit_options){.epochs = 1, .batch_size = 4, .no_shuffle = true,
                                                   .verbose = PX_VERBOSE_SILENT}));
    int n;
    px_tensor **w = weights_of(s, &n);
    for (int j = 0; w && j < 3; j++) CHECK_NEAR(px_tensor_f32(w[0])[j], want[j], 1e-6);
    free_weights(w, n);
    /* it keeps learning: the loss falls over further epochs */
    const px_history *h = NULL;
    CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1},
                                 &(px_fit_options){.epochs = 5, .batch_size = 4, .verbose = PX_VERBOSE_SILENT}));
    h = px_model_history(m);
    int ne = 0;
    const double *loss = h ? px_history_get(h, "loss", &ne) : NULL;
    CHECK(loss && ne == 5 && loss[4] < loss[0]);
    px_tensor_free(wt);
    px_tensor_free(x);
    px_tensor_free(y);
    px_model_free(m);
}

/* The text px_model_summary writes (caller frees). */
static char *summary_text(const px_model *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_OK(px_model_summary(m, f));
    fclose(f);
    return buf;
}

/* Checks that `text` has `line` as one of its lines. */
static void check_line(const char *text, const char *line, int src_line) {
    size_t n = strlen(line);
    for (const char *p = text; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, line, n) == 0) {
            px_test_passed++;
            return;
        }
        p = end ? end + 1 : NULL;
    }
    px_test_fail(__FILE__, src_line, "summary lacks the line \"%s\" in:\n%s", line, text ? text : "(null)");
}
#define CHECK_LINE(text, line) check_line(text, line, __LINE__)

static void test_summary(void) {
    px_model *m = px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(300, PX_RELU),
                                               px_dense(100, PX_RELU), px_dense(10, PX_SOFTMAX), NULL});
    char *s = summary_text(m);
    const char *rule65 = "_________________________________________________________________";
    const char *eq65 = "=================================================================";
    CHECK(s && strncmp(s, "Model: \"sequential\"\n", 20) == 0);
    CHECK_LINE(s, rule65);
    CHECK_LINE(s, eq65);
    CHECK_LINE(s, " Layer (type)                Output Shape              Param #   ");
    CHECK_LINE(s, " flatten (Flatten)           (None, 784)               0         ");
    CHECK_LINE(s, " dense (Dense)               (None, 300)               235,500   ");
    CHECK_LINE(s, " dense_1 (Dense)             (None, 100)               30,100    ");
    CHECK_LINE(s, " dense_2 (Dense)             (None, 10)                1,010     ");
    CHECK_LINE(s, "Total params: 266,610");
    CHECK_LINE(s, "Trainable params: 266,610");
    CHECK_LINE(s, "Non-trainable params: 0");
    /* the rows come in order, and the text ends with the closing rule */
    CHECK(s && strstr(s, "flatten (") < strstr(s, "dense (") && strstr(s, "dense (") < strstr(s, "dense_2 ("));
    CHECK(s && strlen(s) > 66 && strcmp(s + strlen(s) - 66, "_________________________________________________________________\n") == 0);
    free(s);
    /* freezing moves parameters to the non-trainable count */
    px_layer_set_trainable(px_model_find_layer(m, "dense"), false);
    s = summary_text(m);
    CHECK_LINE(s, "Trainable params: 31,110");
    CHECK_LINE(s, "Non-trainable params: 235,500");
    free(s);
    px_model_free(m);

    /* a Functional model lists where each layer's inputs come from */
    m = px_functional("wide_deep");
    px_node *in = px_model_input(m, PX_SHAPE(8), "input_1");
    px_node *h = px_apply(px_dense(30, PX_RELU), in);
    px_node *c = px_apply_n(px_concatenate(-1), (px_node *[]){in, h}, 2);
    px_node *o = px_apply(px_dense(1, PX_LINEAR), c);
    CHECK_OK(px_model_set_outputs(m, &o, 1));
    s = summary_text(m);
    CHECK(s && strncmp(s, "Model: \"wide_deep\"\n", 19) == 0);
    CHECK(s && strstr(s, "Connected to") != NULL);
    /* the rows and their inbound layers, whatever the column widths */
    const char *expect[][4] = {{"input_1 (InputLayer)", "(None, 8)", "0", "[]"},
                               {"dense (Dense)", "(None, 30)", "270", "['input_1[0][0]']"},
                               {"concatenate (Concatenate)", "(None, 38)", "0", "['input_1[0][0]',"},
                               {"dense_1 (Dense)", "(None, 1)", "39", "['concatenate[0][0]']"}};
    for (int i = 0; s && i < 4; i++) {
        const char *row = strstr(s, expect[i][0]);
        char *eol = row ? strchr(row, '\n') : NULL;
        char line[256] = "";
        if (eol && eol - row < 255) memcpy(line, row, (size_t)(eol - row)), line[eol - row] = '\0';
        char want_tail[64];
        snprintf(want_tail, sizeof want_tail, "%s", expect[i][3]);
        bool ok = row && strstr(line, expect[i][1]) && strstr(line, want_tail) &&
                  strstr(line, expect[i][1]) < strstr(line, want_tail);
        /* the parameter count stands alone between the shape and the connections */
        char params[32];
        snprintf(params, sizeof params, " %s ", expect[i][2]);
        ok = ok && strstr(strstr(line, expect[i][1]) + strlen(expect[i][1]), params) != NULL;
        if (ok) px_test_passed++;
        else px_test_fail(__FILE__, __LINE__, "summary row for %s wrong:\n%s", expect[i][0], s);
    }
    /* the concatenation's second input follows on a line of its own (lines are
     * padded to the table's width, as Keras pads them) */
    const char *first_in = s ? strstr(s, "['input_1[0][0]',") : NULL;
    size_t pad = first_in ? strspn(first_in + 17, " ") : 0;
    CHECK(first_in && first_in[17 + pad] == '\n' && strstr(s, " 'dense[0][0]']") > first_in);
    CHECK_LINE(s, "Total params: 309");
    free(s);
    px_model_free(m);

    /* an unbuilt model has no summary yet */
    m = px_sequential((px_layer *[]){px_dense(3, PX_RELU), NULL});
    FILE *devnull = fopen("/dev/null", "w");
    CHECK(px_model_summary(m, devnull) == PX_ERR_STATE);
    CHECK_ERROR_HAS("not built yet");
    fclose(devnull);
    px_model_free(m);
}

static void test_errors(void) {
    CHECK(px_dense(0, PX_RELU) == NULL);
    CHECK_ERROR_HAS("Dense: units must be positive, got 0");
    CHECK(px_dense(-3, PX_RELU) == NULL);

    /* duplicate names */
    px_model *m = px_sequential((px_layer *[]){
        px_dense_ex(2, &(px_dense_options){.name = "same", .input_shape = PX_SHAPE(3)}),
        px_dense_ex(2, &(px_dense_options){.name = "same"}), NULL});
    CHECK(m == NULL);
    CHECK_ERROR_HAS("two layers are named 'same'");

    /* a layer of one model added to another */
    px_model *a = px_sequential((px_layer *[]){px_dense_ex(2, &(px_dense_options){.input_shape = PX_SHAPE(3)}), NULL});
    px_model *b = px_sequential(NULL);
    px_layer *shared = px_model_layer(a, 0);
    CHECK(px_sequential_add(b, shared) != PX_OK);
    CHECK_ERROR_HAS("layer 'dense' already belongs to model 'sequential'");
    CHECK(px_model_layer(a, 0) == shared && px_model_layer_count(b) == 0);
    /* ... or applied to another model's node */
    px_model *f = px_functional("other");
    px_node *fin = px_model_input(f, PX_SHAPE(3), "x");
    CHECK(px_apply(shared, fin) == NULL);
    CHECK_ERROR_HAS("already belongs to model");

    /* set_weights with a wrong shape names the layer, the weight and both shapes */
    px_tensor *bad = px_tensor_zeros(PX_SHAPE(2, 3)), *bias = px_tensor_zeros(PX_SHAPE(2));
    CHECK(px_layer_set_weights(shared, (px_tensor *[]){bad, bias}, 2) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("layer 'dense' weight 'kernel' has shape (3, 2), got (2, 3)");
    CHECK(px_model_set_weights(a, (px_tensor *[]){bad, bias}, 2) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("'dense', 'kernel') has shape (3, 2), got (2, 3)");
    px_tensor_free(bad);
    px_tensor_free(bias);

    /* a node that belongs to no model */
    px_graph *g = px_graph_new();
    px_node *loose = px_placeholder(g, PX_F32, PX_SHAPE(PX_UNKNOWN, 3), "loose");
    CHECK(px_apply(px_dense(2, PX_RELU), loose) == NULL);
    CHECK_ERROR_HAS("does not belong to a model");
    px_graph_free(g);

    /* a Dense after an input whose last axis is unknown */
    px_node *open = px_model_input(f, PX_SHAPE(PX_UNKNOWN), "open");
    CHECK(px_apply(px_dense_ex(2, &(px_dense_options){.name = "after_open"}), open) == NULL);
    CHECK_ERROR_HAS("layer 'after_open' (Dense): input shape (None, None) needs a known last axis");
    /* ... and after a rank-1 input Flatten gives a clear message */
    px_model *s = px_sequential((px_layer *[]){px_dense(2, PX_RELU), NULL});
    CHECK(px_model_build(s, PX_SCALAR) != PX_OK);
    CHECK_ERROR_HAS("needs a known last axis");
    px_model_free(s);
    px_model_free(f);
    px_model_free(a);
    px_model_free(b);
}

/* A layer's failure gets the layer in front of the op's message, once and intact
 * (formatting into the buffer being read once garbled it into "layer 'conv1d_3'
 * (Conv1D): layer 'conv1d_3' (Conv1D): 1) needs ..."); warnings go to the handler. */
static int n_warnings;
static void on_warning(const char *msg, void *user) {
    CHECK(strcmp(msg, "ignored: 42") == 0 && user == &n_warnings);
    n_warnings++;
}

static void test_error_messages(void) {
    px_model *m = px_sequential((px_layer *[]){px_conv1d_layer(4, 3, &(px_conv_options){.input_shape = PX_SHAPE(-1, 3), .name = "conv1d_3"}),
                                               NULL});
    CHECK(m == NULL);
    CHECK(strcmp(px_last_error(), "layer 'conv1d_3' (Conv1D): conv1d: input (None, None, 3) needs a known batch or length") == 0);
    px_set_error(PX_ERR_SHAPE, "inner %s", "detail");
    CHECK(px_error_prefix("outer '%s'", px_last_error()) == PX_ERR_SHAPE);
    CHECK(strcmp(px_last_error(), "outer 'inner detail': inner detail") == 0);
    /* px_set_error given its own message as an argument (as wrappers do) */
    px_set_error(PX_ERR_ARG, "wrapped: %s (%d)", px_last_error(), 7);
    CHECK(strcmp(px_last_error(), "wrapped: outer 'inner detail': inner detail (7)") == 0);
    CHECK(px_last_status() == PX_ERR_ARG);
    px_set_warning_handler(on_warning, &n_warnings);
    px_warn("ignored: %d", 42);
    px_set_warning_handler(NULL, NULL);
    CHECK(n_warnings == 1);
}

int main(void) {
    RUN_TEST(test_dense_forward);
    RUN_TEST(test_error_messages);
    RUN_TEST(test_dense_activations);
    RUN_TEST(test_core_and_merge_layers);
    RUN_TEST(test_initializers);
    RUN_TEST(test_seeds);
    RUN_TEST(test_regularizers);
    RUN_TEST(test_trainable_flag);
    RUN_TEST(test_clone_for_transfer);
    RUN_TEST(test_user_layer);
    RUN_TEST(test_summary);
    RUN_TEST(test_errors);
    return px_test_finish();
}
