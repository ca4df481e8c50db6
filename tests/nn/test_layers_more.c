/* The activation, merge, reshaping, noise, preprocessing and LayerNormalization
 * layers: outputs against formulas computed here in double, weight shapes and
 * names, config and file round trips, and refusals. */
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "layer_config_check.h"
#include "px_test.h"

static const px_eval_options silent = {.verbose = PX_VERBOSE_SILENT};

/* A Functional model: inputs of the given shapes, one layer applied to all. */
static px_model *one_layer(px_layer *l, const px_shape *in, int n) {
    px_model *m = px_functional("m");
    px_node *x[4];
    for (int i = 0; i < n; i++) x[i] = px_model_input(m, in[i], NULL);
    px_node *y = px_apply_n(l, x, n);
    if (!y || px_model_set_outputs(m, &y, 1) != PX_OK) {
        fprintf(stderr, "  one_layer: %s\n", px_last_error());
        px_model_free(m);
        return NULL;
    }
    return m;
}

/* Predicts on x and compares every value with want(x) within tol. */
static void check_elementwise(px_model *m, const px_tensor *x, double (*want)(double), double tol, const char *what) {
    px_tensor *y = px_model_predict(m, x, &silent);
    CHECK_NOT_NULL(y);
    int bad = 0;
    for (int64_t i = 0; y && i < px_tensor_size(y); i++) {
        double w = want(px_tensor_f32(x)[i]);
        if (fabs(px_tensor_f32(y)[i] - w) > tol) {
            if (bad++ < 3) fprintf(stderr, "  %s: f(%g) = %g, expected %g\n", what, px_tensor_f32(x)[i], px_tensor_f32(y)[i], w);
        }
    }
    CHECK(bad == 0);
    px_tensor_free(y);
}

static double relu_ref(double x) { /* max 2, slope 0.1, threshold 0.5 */
    double a = x > 0.5 ? x : 0;
    a = fmin(fmax(a, 0), 2);
    return a - 0.1 * fmax(0.5 - x, 0);
}
static double leaky_ref(double x) { return x > 0 ? x : 0.25 * x; }
static double elu_ref(double x) { return x > 0 ? x : 0.5 * (exp(x) - 1); }
static double relu6_ref(double x) { return fmin(fmax(x, 0), 6); }

static void test_activation_layers(void) {
    px_tensor *x = px_gc_random(PX_SHAPE(4, 6), -1.0f, 1.0f, 3);
    for (int64_t i = 0; i < 24; i++) px_tensor_f32(x)[i] *= 8; /* past 6 and the thresholds */
    struct {
        px_layer *l;
        double (*ref)(double);
        const char *what;
    } cases[] = {
        {px_relu_layer(&(px_relu_options){.max_value = 2, .negative_slope = 0.1f, .threshold = 0.5f}), relu_ref, "ReLU"},
        {px_relu_layer(&(px_relu_options){.max_value = 6}), relu6_ref, "ReLU(6)"},
        {px_leaky_relu_layer(0.25f), leaky_ref, "LeakyReLU"},
        {px_elu_layer(0.5f), elu_ref, "ELU"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        px_model *m = one_layer(cases[k].l, (px_shape[]){PX_SHAPE(6)}, 1);
        CHECK_NOT_NULL(m);
        if (!m) continue;
        check_elementwise(m, x, cases[k].ref, 1e-5, cases[k].what);
        px_tc_round_trip(m, PX_SHAPE(3, 6), 0, cases[k].what);
    }
    px_tensor_free(x);
    CHECK(px_relu_layer(&(px_relu_options){.max_value = -1}) == NULL);
    CHECK_ERROR_HAS("ReLU");
}

static void test_softmax_layer_axis(void) {
    px_model *m = one_layer(px_softmax_layer(1), (px_shape[]){PX_SHAPE(3, 4)}, 1);
    px_tensor *x = px_gc_random(PX_SHAPE(2, 3, 4), -1.0f, 1.0f, 4);
    px_tensor *y = m ? px_model_predict(m, x, &silent) : NULL;
    CHECK_NOT_NULL(y);
    for (int b = 0; y && b < 2; b++)
        for (int j = 0; j < 4; j++) {
            double z = 0;
            for (int i = 0; i < 3; i++) z += exp(px_tensor_f32(x)[(b * 3 + i) * 4 + j]);
            for (int i = 0; i < 3; i++)
                CHECK_NEAR(px_tensor_f32(y)[(b * 3 + i) * 4 + j], exp(px_tensor_f32(x)[(b * 3 + i) * 4 + j]) / z, 1e-6);
        }
    px_tensor_free(x), px_tensor_free(y);
    px_tc_round_trip(m, PX_SHAPE(2, 3, 4), 0, "Softmax(axis=1)");
}

static void test_prelu_layer(void) {
    px_layer *l = px_prelu_layer(&(px_prelu_options){.shared_axes = {2}, .n_shared_axes = 1,
                                                      .alpha_initializer = {.kind = PX_INIT_RANDOM_UNIFORM, .minval = -0.5f, .maxval = 0.5f}});
    px_model *m = one_layer(l, (px_shape[]){PX_SHAPE(3, 4)}, 1);
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK(px_layer_weight_count(l) == 1 && strcmp(px_layer_weight_name(l, 0), "alpha") == 0);
    px_shape as = px_node_shape(px_layer_weight(l, 0));
    CHECK(as.rank == 2 && as.dim[0] == 3 && as.dim[1] == 1);
    px_tensor *x = px_gc_random(PX_SHAPE(2, 3, 4), -1.0f, 1.0f, 5);
    px_tensor *y = px_model_predict(m, x, &silent);
    const float *alpha = px_tensor_f32(px_node_value(px_layer_weight(l, 0))); /* after predict collated them */
    for (int64_t i = 0; y && i < 24; i++) {
        double v = px_tensor_f32(x)[i];
        CHECK_NEAR(px_tensor_f32(y)[i], v > 0 ? v : alpha[(i / 4) % 3] * v, 1e-6);
    }
    px_tensor_free(x), px_tensor_free(y);
    px_tc_round_trip(m, PX_SHAPE(2, 3, 4), 0, "PReLU");
}

static void test_merge_layers(void) {
    px_tensor *a = px_gc_random(PX_SHAPE(3, 5), -1.0f, 1.0f, 6), *b = px_gc_random(PX_SHAPE(3, 5), -1.0f, 1.0f, 7);
    px_tensor *ab[2] = {a, b};
    px_layer *(*ctor[5])(void) = {px_multiply_layer, px_subtract_layer, px_average_layer, px_maximum_layer, px_minimum_layer};
    const char *names[5] = {"Multiply", "Subtract", "Average", "Maximum", "Minimum"};
    for (int k = 0; k < 5; k++) {
        px_model *m = one_layer(ctor[k](), (px_shape[]){PX_SHAPE(5), PX_SHAPE(5)}, 2);
        px_tensor *y = NULL;
        CHECK_OK(px_model_predict_arrays(m, ab, 2, &silent, &y));
        for (int64_t i = 0; y && i < 15; i++) {
            double p = px_tensor_f32(a)[i], q = px_tensor_f32(b)[i];
            double w = k == 0 ? p * q : k == 1 ? p - q : k == 2 ? (p + q) / 2 : k == 3 ? fmax(p, q) : fmin(p, q);
            CHECK_NEAR(px_tensor_f32(y)[i], w, 1e-6);
        }
        px_tensor_free(y);
        char *j = NULL;
        CHECK_OK(px_model_to_json(m, &j));
        px_model *c = j ? px_model_from_json(j, strlen(j)) : NULL;
        CHECK(c && strcmp(px_layer_class(px_model_layer(c, 2)), names[k]) == 0);
        px_model_free(c);
        free(j);
        px_model_free(m);
    }
    /* Dot of rank 2 (cosine similarity with normalize) and rank 3 */
    px_model *m = one_layer(px_dot_layer(1, 1, true), (px_shape[]){PX_SHAPE(5), PX_SHAPE(5)}, 2);
    px_tensor *y = NULL;
    CHECK_OK(px_model_predict_arrays(m, ab, 2, &silent, &y));
    CHECK(y && y->rank == 2 && y->shape[1] == 1);
    for (int r = 0; y && r < 3; r++) {
        double d = 0, na = 0, nb = 0;
        for (int i = 0; i < 5; i++) {
            double p = px_tensor_f32(a)[r * 5 + i], q = px_tensor_f32(b)[r * 5 + i];
            d += p * q, na += p * p, nb += q * q;
        }
        CHECK_NEAR(px_tensor_f32(y)[r], d / sqrt(na * nb), 1e-6);
    }
    px_tensor_free(y);
    px_model_free(m);
    px_tensor *p = px_gc_random(PX_SHAPE(2, 3, 4), -1.0f, 1.0f, 8), *q = px_gc_random(PX_SHAPE(2, 5, 3), -1.0f, 1.0f, 9);
    m = one_layer(px_dot_layer(1, 2, false), (px_shape[]){PX_SHAPE(3, 4), PX_SHAPE(5, 3)}, 2);
    CHECK_OK(px_model_predict_arrays(m, (px_tensor *[]){p, q}, 2, &silent, &y));
    CHECK(y && y->rank == 3 && y->shape[1] == 4 && y->shape[2] == 5);
    for (int bb = 0; y && bb < 2; bb++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 5; j++) {
                double s = 0;
                for (int k = 0; k < 3; k++) s += px_tensor_f32(p)[(bb * 3 + k) * 4 + i] * px_tensor_f32(q)[(bb * 5 + j) * 3 + k];
                CHECK_NEAR(px_tensor_f32(y)[(bb * 4 + i) * 5 + j], s, 1e-5);
            }
    px_tensor_free(y), px_tensor_free(p), px_tensor_free(q);
    char *j = NULL;
    CHECK_OK(px_model_to_json(m, &j));
    CHECK(j && strstr(j, "\"axes\": [1, 2]"));
    free(j);
    px_model_free(m);
    px_tensor_free(a), px_tensor_free(b);
    /* Subtract takes exactly two */
    m = px_functional("bad");
    px_node *in[3] = {px_model_input(m, PX_SHAPE(2), NULL), px_model_input(m, PX_SHAPE(2), NULL), px_model_input(m, PX_SHAPE(2), NULL)};
    CHECK(px_apply_n(px_subtract_layer(), in, 3) == NULL);
    CHECK_ERROR_HAS("exactly 2 inputs");
    px_model_free(m);
}

static void test_repeat_permute(void) {
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(4), NULL), px_repeat_vector_layer(3),
                                               px_permute_layer((int[]){2, 1}, 2), NULL});
    px_tensor *x = px_gc_random(PX_SHAPE(2, 4), -1.0f, 1.0f, 10);
    px_tensor *y = m ? px_model_predict(m, x, &silent) : NULL;
    CHECK(y && y->rank == 3 && y->shape[1] == 4 && y->shape[2] == 3);
    for (int b = 0; y && b < 2; b++)
        for (int i = 0; i < 4; i++)
            for (int r = 0; r < 3; r++) CHECK(px_tensor_f32(y)[(b * 4 + i) * 3 + r] == px_tensor_f32(x)[b * 4 + i]);
    px_tensor_free(x), px_tensor_free(y);
    px_tc_round_trip(m, PX_SHAPE(2, 4), 0, "RepeatVector + Permute");
    CHECK(px_permute_layer((int[]){1, 1}, 2) == NULL);
    CHECK_ERROR_HAS("permutation");
}

/* Noise layers: identity in predict; in training the loss moves. */
static void test_noise_layers(void) {
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(8), NULL), px_gaussian_noise_layer(0.3f),
                                               px_gaussian_dropout_layer(0.2f), NULL});
    px_tensor *x = px_gc_random(PX_SHAPE(5, 8), -1.0f, 1.0f, 12);
    px_tensor *y = m ? px_model_predict(m, x, &silent) : NULL;
    CHECK(y && px_tensor_equal(x, y));
    px_tensor_free(x), px_tensor_free(y);
    px_tc_round_trip(m, PX_SHAPE(2, 8), 0, "GaussianNoise + GaussianDropout");
}

static void test_rescaling_normalization(void) {
    px_tensor *data = px_gc_random(PX_SHAPE(50, 3), -1.0f, 1.0f, 13);
    for (int64_t i = 0; i < 150; i++) px_tensor_f32(data)[i] = px_tensor_f32(data)[i] * (float)(1 + i % 3) + (float)(i % 3) * 10;
    px_layer *norm = px_normalization_layer(NULL);
    CHECK_OK(px_normalization_adapt(norm, data)); /* before the build: kept for it */
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(3), NULL), px_rescaling_layer(2.0f, 1.0f), norm, NULL});
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK(px_layer_weight_count(norm) == 3 && strcmp(px_layer_weight_name(norm, 2), "count") == 0);
    CHECK(!px_variable_trainable(px_layer_weight(norm, 0)));
    px_layer_set_trainable(norm, true); /* statistics stay non-trainable */
    CHECK(!px_variable_trainable(px_layer_weight(norm, 1)));
    double mean[3] = {0}, var[3] = {0};
    for (int i = 0; i < 50; i++)
        for (int j = 0; j < 3; j++) mean[j] += px_tensor_f32(data)[i * 3 + j] / 50.0;
    for (int i = 0; i < 50; i++)
        for (int j = 0; j < 3; j++) var[j] += pow(px_tensor_f32(data)[i * 3 + j] - mean[j], 2) / 50.0;
    for (int j = 0; j < 3; j++) {
        CHECK_NEAR(px_tensor_f32(px_node_value(px_layer_weight(norm, 0)))[j], mean[j], 1e-4);
        CHECK_NEAR(px_tensor_f32(px_node_value(px_layer_weight(norm, 1)))[j], var[j], 1e-3);
    }
    CHECK_NEAR(px_tensor_f32(px_node_value(px_layer_weight(norm, 2)))[0], 50, 0);
    px_tensor *y = px_model_predict(m, data, &silent);
    for (int i = 0; y && i < 50; i++)
        for (int j = 0; j < 3; j++)
            CHECK_NEAR(px_tensor_f32(y)[i * 3 + j], (2 * px_tensor_f32(data)[i * 3 + j] + 1 - mean[j]) / sqrt(var[j]), 1e-4);
    px_tensor_free(y);
    /* adapting a built layer sets its weights at once */
    CHECK_OK(px_normalization_adapt(norm, data));
    px_tensor_free(data);
    px_tc_round_trip(m, PX_SHAPE(4, 3), 0, "Rescaling + Normalization");
}

static void test_layer_normalization(void) {
    px_layer *l = px_layer_normalization(&(px_layer_norm_options){
        .epsilon = 0.01f, .gamma_initializer = {.kind = PX_INIT_RANDOM_UNIFORM, .minval = 0.5f, .maxval = 1.5f},
        .beta_initializer = {.kind = PX_INIT_RANDOM_UNIFORM, .minval = -1, .maxval = 1}});
    px_model *m = one_layer(l, (px_shape[]){PX_SHAPE(3, 4)}, 1);
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK(px_layer_weight_count(l) == 2 && strcmp(px_layer_weight_name(l, 0), "gamma") == 0 &&
          strcmp(px_layer_weight_name(l, 1), "beta") == 0);
    px_tensor *x = px_gc_random(PX_SHAPE(2, 3, 4), -1.0f, 1.0f, 14);
    px_tensor *y = px_model_predict(m, x, &silent);
    const float *g = px_tensor_f32(px_node_value(px_layer_weight(l, 0))), *b = px_tensor_f32(px_node_value(px_layer_weight(l, 1)));
    for (int r = 0; y && r < 6; r++) {
        double mu = 0, v = 0;
        for (int j = 0; j < 4; j++) mu += px_tensor_f32(x)[r * 4 + j] / 4;
        for (int j = 0; j < 4; j++) v += pow(px_tensor_f32(x)[r * 4 + j] - mu, 2) / 4;
        for (int j = 0; j < 4; j++)
            CHECK_NEAR(px_tensor_f32(y)[r * 4 + j], (px_tensor_f32(x)[r * 4 + j] - mu) / sqrt(v + 0.01) * g[j] + b[j], 1e-5);
    }
    px_tensor_free(x), px_tensor_free(y);
    px_tc_round_trip(m, PX_SHAPE(2, 3, 4), 0, "LayerNormalization");
    /* two trailing axes, no center */
    px_tc_round_trip(one_layer(px_layer_normalization(&(px_layer_norm_options){.axes = {1, 2}, .n_axes = 2, .no_center = true}),
                               (px_shape[]){PX_SHAPE(3, 4)}, 1),
                     PX_SHAPE(2, 3, 4), 0, "LayerNormalization(axis=[1, 2])");
    /* not the trailing axes */
    m = px_functional("bad");
    CHECK(px_apply(px_layer_normalization(&(px_layer_norm_options){.axes = {1}, .n_axes = 1}), px_model_input(m, PX_SHAPE(3, 4), NULL)) == NULL);
    CHECK_ERROR_HAS("last axes");
    px_model_free(m);
}

/* Keras 3 spellings and null keys load. */
static void test_keras_configs(void) {
    const char *json =
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 4], \"name\": \"in\"}},"
        "{\"class_name\": \"LeakyReLU\", \"config\": {\"name\": \"lr\", \"negative_slope\": 0.2}},"
        "{\"class_name\": \"ReLU\", \"config\": {\"name\": \"r\", \"max_value\": null, \"negative_slope\": 0.0, \"threshold\": 0.0}},"
        "{\"class_name\": \"PReLU\", \"config\": {\"name\": \"p\", \"alpha_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, \"shared_axes\": null}},"
        "{\"class_name\": \"LayerNormalization\", \"config\": {\"name\": \"ln\", \"axis\": [-1], \"epsilon\": 0.001, \"rms_scaling\": false}},"
        "{\"class_name\": \"Normalization\", \"config\": {\"name\": \"n\", \"axis\": [-1], \"mean\": null, \"variance\": null, \"invert\": false}},"
        "{\"class_name\": \"Rescaling\", \"config\": {\"name\": \"rs\", \"scale\": 0.5, \"offset\": 0.0}},"
        "{\"class_name\": \"RepeatVector\", \"config\": {\"name\": \"rv\", \"n\": 2}}]}}";
    px_model *m = px_model_from_json(json, strlen(json));
    CHECK_NOT_NULL(m);
    if (m) CHECK(px_model_layer_count(m) == 8);
    px_model_free(m);
    const char *bad = "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                      "{\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 4], \"name\": \"in\"}},"
                      "{\"class_name\": \"LayerNormalization\", \"config\": {\"name\": \"ln\", \"rms_scaling\": true}}]}}";
    CHECK(px_model_from_json(bad, strlen(bad)) == NULL);
    CHECK_ERROR_HAS("rms_scaling");
}

/* TimeDistributed(Dense) equals the Dense applied to each step; the weights
 * are the wrapper's under the Dense's names; TimeDistributed(Conv2D) on a clip. */
static void test_time_distributed(void) {
    px_layer *td = px_time_distributed(px_dense_ex(3, &(px_dense_options){.activation = PX_RELU}));
    px_model *m = one_layer(td, (px_shape[]){PX_SHAPE(5, 4)}, 1);
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK(px_layer_weight_count(td) == 2 && strcmp(px_layer_weight_name(td, 0), "kernel") == 0 &&
          strcmp(px_layer_weight_name(td, 1), "bias") == 0);
    CHECK(strcmp(px_layer_name(td), "time_distributed") == 0);
    px_tensor *b = px_node_value(px_layer_weight(td, 1));
    for (int j = 0; j < 3; j++) px_tensor_f32(b)[j] = 0.1f * (float)j - 0.05f;
    px_tensor *x = px_gc_random(PX_SHAPE(2, 5, 4), -1.0f, 1.0f, 15);
    px_tensor *y = px_model_predict(m, x, &silent);
    CHECK(y && y->rank == 3 && y->shape[1] == 5 && y->shape[2] == 3);
    const float *k = px_tensor_f32(px_node_value(px_layer_weight(td, 0))), *bb = px_tensor_f32(px_node_value(px_layer_weight(td, 1)));
    for (int r = 0; y && r < 10; r++)
        for (int j = 0; j < 3; j++) {
            double a = bb[j];
            for (int i = 0; i < 4; i++) a += px_tensor_f32(x)[r * 4 + i] * k[i * 3 + j];
            CHECK_NEAR(px_tensor_f32(y)[r * 3 + j], fmax(a, 0), 1e-5);
        }
    px_tensor_free(x), px_tensor_free(y);
    px_tc_round_trip(m, PX_SHAPE(2, 5, 4), 0, "TimeDistributed(Dense)");
    m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(3, 6, 6, 2), NULL),
                                     px_time_distributed(px_conv2d_layer(4, 3, 3, NULL)),
                                     px_time_distributed(px_flatten(PX_SCALAR)), NULL});
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[2] == 64);
    px_tc_round_trip(m, PX_SHAPE(2, 3, 6, 6, 2), 0, "TimeDistributed(Conv2D), TimeDistributed(Flatten)");
    const char *json = "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
                       "{\"class_name\": \"TimeDistributed\", \"config\": {\"name\": \"td\", \"batch_input_shape\": [null, 7, 3], "
                       "\"layer\": {\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 2, \"activation\": \"softsign\"}}}}]}}";
    m = px_model_from_json(json, strlen(json));
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[1] == 7);
    px_model_free(m);
    CHECK(px_time_distributed(NULL) == NULL);
}

/* "hard_sigmoid" is 0.2 x + 0.5 in a Keras 2 config and relu6(x + 3) / 6 in a
 * Keras 3 one; Keras 3's survives Plexus's (Keras 2.15) config and file. */
static void test_hard_sigmoid_by_keras_version(void) {
    const char *fmt = "{\"class_name\": \"Sequential\", %s \"config\": {\"name\": \"s\", \"layers\": ["
                      "{\"class_name\": \"Activation\", \"config\": {\"name\": \"a\", \"batch_input_shape\": [null, 1], "
                      "\"activation\": \"hard_sigmoid\"}}]}}";
    const char *heads[3] = {"\"keras_version\": \"2.4.0\",", "\"keras_version\": \"3.1.0\",", "\"module\": \"keras\","};
    const double want[3] = {0.7, 4.0 / 6.0, 4.0 / 6.0};
    float one = 1.0f;
    px_tensor *x = px_tensor_from_array(PX_SHAPE(1, 1), &one, 1);
    for (int k = 0; k < 3; k++) {
        char json[1024];
        snprintf(json, sizeof json, fmt, heads[k]);
        px_model *m = px_model_from_json(json, strlen(json));
        px_tensor *y = m ? px_model_predict(m, x, &silent) : NULL;
        CHECK(y && fabs(px_tensor_f32(y)[0] - want[k]) < 1e-6);
        px_tensor_free(y);
        px_tc_round_trip(m, PX_SHAPE(2, 1), 0, "hard_sigmoid");
    }
    px_tensor_free(x);
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(1), NULL), px_activation_layer(PX_HARD_SIGMOID), NULL});
    char *j = NULL;
    CHECK_OK(px_model_to_json(m, &j));
    CHECK(j && strstr(j, "\"module\": \"keras.activations\""));
    free(j);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_activation_layers);
    RUN_TEST(test_softmax_layer_axis);
    RUN_TEST(test_prelu_layer);
    RUN_TEST(test_merge_layers);
    RUN_TEST(test_repeat_permute);
    RUN_TEST(test_noise_layers);
    RUN_TEST(test_rescaling_normalization);
    RUN_TEST(test_layer_normalization);
    RUN_TEST(test_keras_configs);
    RUN_TEST(test_time_distributed);
    RUN_TEST(test_hard_sigmoid_by_keras_version);
    return px_test_finish();
}
