/* Real files written by Keras 2.1 to 3.8 ($PX_SHARED_DIR/data/keras-models): each
 * whose layers Plexus has loads with the right shapes and predicts (checked against
 * plain-C forward passes); the others are reported with what is missing. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/h5util.h"
#include "formats/zipfile.h"
#include "formats/json.h"
#include "model/model_internal.h"
#include "nn/layer_internal.h"
#include "plexus/model_io.h"
#include "px_test.h"

static int loaded, skipped, refused;

/* Layer classes of a model_config that Plexus cannot read, comma-separated into buf. */
static bool unsupported_layers(const char *config, char *buf, size_t len) {
    px_json *root = NULL;
    buf[0] = '\0';
    if (px_json_parse(config, strlen(config), &root) != PX_OK) return false;
    const px_json *cfg = px_json_get(root, "config");
    const px_json *layers = px_json_is_array(cfg) ? cfg : px_json_get(cfg, "layers");
    for (size_t i = 0; i < px_json_len(layers); i++) {
        const char *cls = px_json_get_string(px_json_at(layers, i), "class_name", "?");
        const px_layer_kind *k = px_layer_kind_find(cls);
        if ((!k || !k->from_config) && !strstr(buf, cls)) {
            size_t n = strlen(buf);
            snprintf(buf + n, len - n, "%s%s", n ? ", " : "", cls);
        }
    }
    px_json_free(root);
    return buf[0] != '\0';
}

/* Values (i % 7) / 10, or the whole numbers i % 7 (token ids) for models that
 * start with an Embedding. */
static px_tensor *input_for(px_shape placeholder, bool ids) {
    px_shape s = placeholder;
    s.dim[0] = 2;
    for (int i = 1; i < s.rank; i++)
        if (s.dim[i] < 0) s.dim[i] = 4;
    px_tensor *t = px_tensor_zeros(s);
    for (int64_t i = 0; t && i < px_tensor_size(t); i++) px_tensor_f32(t)[i] = ids ? (float)(i % 7) : (float)((i % 7) * 0.1);
    return t;
}

static void predict_and_check(px_model *m, const char *file) {
    int ni = px_model_input_count(m), no = px_model_output_count(m);
    px_tensor *x[8] = {0}, *y[8] = {0};
    bool ids = false;
    for (int k = 0; k < px_model_layer_count(m) && k < 2; k++)
        ids = ids || strcmp(px_layer_class(px_model_layer(m, k)), "Embedding") == 0;
    for (int i = 0; i < ni; i++) x[i] = input_for(px_node_shape(m->inputs[i]), ids);
    px_status st = px_model_predict_arrays(m, x, ni, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, y);
    CHECK_OK(st);
    bool finite = st == PX_OK;
    for (int i = 0; finite && i < no; i++)
        for (int64_t k = 0; y[i] && k < px_tensor_size(y[i]); k++) finite &= isfinite(px_tensor_f32(y[i])[k]) != 0;
    CHECK(finite);
    if (st == PX_OK) printf("  %s: predicts %d output(s), first of shape (%lld, ...)\n", file, no, (long long)y[0]->shape[0]);
    for (int i = 0; i < 8; i++) px_tensor_free(x[i]), px_tensor_free(y[i]);
}

/* Every weight in the file has the model's shape (the loader checks it; this
 * checks it independently through the h5 helpers). */
static void check_shapes(px_model *m, const char *path) {
    px_h5_file *f = NULL;
    if (px_h5_open(path, &f) != PX_OK) return;
    for (int i = 0; i < px_model_layer_count(m); i++) {
        px_layer *l = px_model_layer(m, i);
        if (px_layer_weight_count(l) == 0) continue;
        char grp[512], **wn = NULL;
        size_t nw = 0;
        snprintf(grp, sizeof grp, "model_weights/%s", px_layer_name(l));
        if (px_h5_read_string_array_attr(f, grp, "weight_names", &wn, &nw) != PX_OK) continue;
        CHECK(nw == (size_t)px_layer_weight_count(l));
        for (size_t k = 0; k < nw && k < (size_t)px_layer_weight_count(l); k++) {
            char p[1024];
            px_shape s;
            snprintf(p, sizeof p, "%s/%s", grp, wn[k]);
            CHECK(px_h5_dataset_shape(f, p, &s) == PX_OK && px_shape_equal(s, px_node_shape(px_layer_weight(l, (int)k))));
        }
        px_h5_free_names(wn, nw);
    }
    px_h5_close(f);
}

static void try_file(const char *dir, const char *name) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    px_h5_file *f = NULL;
    if (px_h5_open(path, &f) != PX_OK) {
        printf("skipped %s: %s\n", name, px_last_error());
        skipped++;
        return;
    }
    char *config = NULL, missing[512];
    bool has_config = px_h5_has_attr(f, "/", "model_config") && px_h5_read_string_attr(f, "/", "model_config", &config) == PX_OK;
    px_h5_close(f);
    if (!has_config) {
        printf("skipped %s: weights only, no model_config to build the model from\n", name);
        skipped++;
        return;
    }
    bool bad = unsupported_layers(config, missing, sizeof missing);
    free(config);
    if (bad) {
        printf("skipped %s: layer classes not supported by Plexus yet: %s\n", name, missing);
        skipped++;
        return;
    }
    px_model *m = px_model_load(path);
    if (!m && px_last_status() == PX_ERR_UNSUPPORTED) {
        /* a layer option Plexus lacks (e.g. hard_sigmoid, a relu SimpleRNN): refused,
         * naming the layer and the key, rather than loaded to compute something else */
        printf("refused %s: %s\n", name, px_last_error());
        CHECK_ERROR_HAS("config key");
        refused++;
        return;
    }
    CHECK_NOT_NULL(m);
    if (!m) {
        fprintf(stderr, "  %s: %s\n", name, px_last_error());
        return;
    }
    loaded++;
    printf("loaded %s: model '%s', %d layers, %lld parameters\n", name, px_model_name(m), px_model_layer_count(m),
           (long long)px_model_param_count(m, NULL, NULL));
    check_shapes(m, path);
    predict_and_check(m, name);
    px_model_free(m);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_keras_h5_files(void) {
    const char *dir = px_test_shared("data/keras-models");
    if (!dir) {
        px_test_skip("no Keras files ($PX_SHARED_DIR/data/keras-models is absent)");
        return;
    }
    char d[2048];
    snprintf(d, sizeof d, "%s", dir);
    DIR *dp = opendir(d);
    if (!dp) return;
    char *names[64];
    int n = 0;
    for (struct dirent *e; (e = readdir(dp)) && n < 64;) {
        size_t len = strlen(e->d_name);
        if (len > 3 && strcmp(e->d_name + len - 3, ".h5") == 0 && !strstr(e->d_name, ".weights.h5")) names[n++] = strdup(e->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) {
        try_file(d, names[i]);
        free(names[i]);
    }
    printf("Keras files: %d loaded, %d refused, %d skipped\n", loaded, refused, skipped);
    /* Dense/Dropout, the two-input Functional, Conv2D/MaxPooling2D, LSTM, Conv1D/GAP1D */
    CHECK(loaded >= 5);
}

/* Keras 3's weights-only layout, with the architecture from its to_json file. */
static void test_keras3_weights_only(void) {
    const char *j = px_test_shared("data/keras-models/k3-weights-only-dense.model.json");
    if (!j) {
        px_test_skip("k3-weights-only-dense (no shared data)");
        return;
    }
    char jpath[2048], wpath[2048];
    snprintf(jpath, sizeof jpath, "%s", j);
    snprintf(wpath, sizeof wpath, "%.*s.weights.h5", (int)(strlen(jpath) - strlen(".model.json")), jpath);
    FILE *f = fopen(jpath, "rb");
    static char buf[65536];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    px_model *m = px_model_from_json(buf, n);
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK_OK(px_model_load_weights(m, wpath));
    px_tensor *w = NULL;
    px_layer *d0 = px_model_find_layer(m, "dense");
    CHECK(d0 && px_layer_weight_count(d0) == 2);
    if (d0) w = px_node_value(px_layer_weight(d0, 0));
    bool nonzero = false;
    for (int64_t i = 0; w && i < px_tensor_size(w); i++) nonzero |= px_tensor_f32(w)[i] != 0;
    CHECK(nonzero);
    predict_and_check(m, "k3-weights-only-dense");
    px_model_free(m);
}

/* ---- plain-C forward passes over the weights as the file stores them ---- */

/* Weight k of a layer, read straight from the file by its weight_names entry
 * (under model_weights, or at the root of a weights-only file). */
static px_tensor *file_weight(px_h5_file *f, const char *base, const char *layer, int k) {
    char grp[512], path[1200], **wn = NULL;
    size_t nw = 0;
    px_tensor *t = NULL;
    snprintf(grp, sizeof grp, "%s%s%s", base, *base ? "/" : "", layer);
    if (px_h5_read_string_array_attr(f, grp, "weight_names", &wn, &nw) != PX_OK) return NULL;
    if ((size_t)k < nw) {
        snprintf(path, sizeof path, "%s/%s", grp, wn[k]);
        if (px_h5_read_tensor(f, path, NULL, &t) != PX_OK) t = NULL;
    }
    px_h5_free_names(wn, nw);
    return t;
}

static float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }
static float relu(float v) { return v > 0 ? v : 0; }

/* (h, w, c) valid stride-1 convolution with kernel (kh, kw, c, f) + bias, then relu. */
static float *conv_ref(const float *x, int h, int w, int c, const px_tensor *k, const px_tensor *b, int *oh, int *ow) {
    int kh = (int)k->shape[0], kw = (int)k->shape[1], f = (int)k->shape[3];
    *oh = h - kh + 1, *ow = w - kw + 1;
    float *y = calloc((size_t)(*oh * *ow * f), sizeof *y);
    const float *K = px_tensor_f32(k), *B = px_tensor_f32(b);
    for (int i = 0; i < *oh; i++)
        for (int j = 0; j < *ow; j++)
            for (int o = 0; o < f; o++) {
                double acc = B[o];
                for (int a = 0; a < kh; a++)
                    for (int d = 0; d < kw; d++)
                        for (int ci = 0; ci < c; ci++)
                            acc += (double)x[((i + a) * w + j + d) * c + ci] * K[((a * kw + d) * c + ci) * f + o];
                y[(i * *ow + j) * f + o] = relu((float)acc);
            }
    return y;
}

/* 2x2 stride-2 valid pooling, max or average. */
static float *pool_ref(const float *x, int h, int w, int c, bool max, int *oh, int *ow) {
    *oh = h / 2, *ow = w / 2;
    float *y = calloc((size_t)(*oh * *ow * c), sizeof *y);
    for (int i = 0; i < *oh; i++)
        for (int j = 0; j < *ow; j++)
            for (int ci = 0; ci < c; ci++) {
                float v[4];
                for (int q = 0; q < 4; q++) v[q] = x[((2 * i + q / 2) * w + 2 * j + q % 2) * c + ci];
                float m = v[0], s = 0;
                for (int q = 0; q < 4; q++) m = v[q] > m ? v[q] : m, s += v[q];
                y[(i * *ow + j) * c + ci] = max ? m : s / 4;
            }
    return y;
}

/* x (n) @ kernel (n, m) + bias; act 0 linear, 1 relu, 2 sigmoid, 3 softmax. */
static float *dense_ref(const float *x, const px_tensor *k, const px_tensor *b, int act) {
    int n = (int)k->shape[0], m = (int)k->shape[1];
    float *y = calloc((size_t)m, sizeof *y);
    double sum = 0, top = -1e30;
    for (int o = 0; o < m; o++) {
        double acc = px_tensor_f32(b)[o];
        for (int i = 0; i < n; i++) acc += (double)x[i] * px_tensor_f32(k)[(int64_t)i * m + o];
        y[o] = act == 1 ? relu((float)acc) : act == 2 ? sigm((float)acc) : (float)acc;
        top = y[o] > top ? y[o] : top;
    }
    for (int o = 0; act == 3 && o < m; o++) sum += exp(y[o] - top);
    for (int o = 0; act == 3 && o < m; o++) y[o] = (float)(exp(y[o] - top) / sum);
    return y;
}

/* The model's predictions on input_for(shape) against `ref` (row r: ref(r's input)). */
typedef float *(*ref_fn)(px_h5_file *f, const char *base, const float *x);
static void compare_with_reference(px_model *m, px_shape in, int int_max, px_h5_file *f, const char *base, ref_fn ref,
                                   const char *what) {
    px_tensor *x = input_for(in, false), *y = NULL;
    /* rows that differ (uniform in [0, 1)), or indices for an Embedding */
    px_rng r = px_rng_seeded(7);
    for (int64_t i = 0; i < px_tensor_size(x); i++) {
        float u = px_rng_uniform(&r);
        px_tensor_f32(x)[i] = int_max ? (float)(int)(u * int_max) : u;
    }
    CHECK_OK(px_model_predict_arrays(m, &x, 1, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &y));
    int64_t per_in = px_tensor_size(x) / x->shape[0], per_out = y ? px_tensor_size(y) / y->shape[0] : 0;
    double worst = 0;
    bool ok = y != NULL;
    for (int64_t r = 0; ok && r < x->shape[0]; r++) {
        float *want = ref(f, base, px_tensor_f32(x) + r * per_in);
        ok = want != NULL;
        for (int64_t k = 0; ok && k < per_out; k++) {
            double d = fabs((double)px_tensor_f32(y)[r * per_out + k] - want[k]) / (1 + fabs(want[k]));
            worst = d > worst ? d : worst;
        }
        free(want);
    }
    CHECK(ok && worst < 1e-4);
    printf("  %s: largest difference from the plain-C forward pass %.2g\n", what, worst);
    px_tensor_free(x), px_tensor_free(y);
}

#define W(layer, k) (t[n_t++] = file_weight(f, base, layer, k))
#define FREE_W() free_all(t, n_t)
static void free_all(px_tensor **t, int n) {
    for (int i = 0; i < n; i++) px_tensor_free(t[i]);
}

/* k2.11.0: (conv 3x3 + relu, maxpool) x3, flatten, dense relu x2, dense softmax. */
static float *ref_conv2d_maxpool(px_h5_file *f, const char *base, const float *x) {
    px_tensor *t[12] = {0};
    int n_t = 0, h = 28, w = 28, c = 1, oh, ow;
    const char *convs[] = {"conv2d", "conv2d_1", "conv2d_2"};
    float *cur = malloc(28 * 28 * sizeof *cur), *nx;
    memcpy(cur, x, 28 * 28 * sizeof *cur);
    for (int i = 0; i < 3; i++) {
        px_tensor *k = W(convs[i], 0), *b = W(convs[i], 1);
        if (!k || !b) return FREE_W(), free(cur), NULL;
        nx = conv_ref(cur, h, w, c, k, b, &oh, &ow), free(cur), cur = nx, h = oh, w = ow, c = (int)k->shape[3];
        nx = pool_ref(cur, h, w, c, true, &oh, &ow), free(cur), cur = nx, h = oh, w = ow;
    }
    const char *dense[] = {"dense", "dense_1", "dense_2"};
    for (int i = 0; i < 3; i++) {
        px_tensor *k = W(dense[i], 0), *b = W(dense[i], 1);
        if (!k || !b) return FREE_W(), free(cur), NULL;
        nx = dense_ref(cur, k, b, i < 2 ? 1 : 3), free(cur), cur = nx;
    }
    FREE_W();
    return cur;
}

/* k3.6.0: conv1d 3 + relu x2, global average, dense relu, dense sigmoid. */
static float *ref_conv1d_gap(px_h5_file *f, const char *base, const float *x) {
    px_tensor *t[8] = {0};
    int n_t = 0, len = 60, c = 4, oh, ow;
    float *cur = malloc(60 * 4 * sizeof *cur), *nx;
    memcpy(cur, x, 60 * 4 * sizeof *cur);
    const char *convs[] = {"conv1d_15", "conv1d_16"};
    for (int i = 0; i < 2; i++) {
        px_tensor *k = W(convs[i], 0), *b = W(convs[i], 1);
        if (!k || !b) return FREE_W(), free(cur), NULL;
        /* (k, c, f) is the (1, k, c, f) kernel of a height-1 image */
        px_tensor *k4 = px_tensor_from_array(PX_SHAPE(1, k->shape[0], k->shape[1], k->shape[2]), px_tensor_f32(k), px_tensor_size(k));
        nx = conv_ref(cur, 1, len, c, k4, b, &oh, &ow), free(cur), cur = nx, len = ow, c = (int)k->shape[2];
        px_tensor_free(k4);
    }
    float *g = calloc((size_t)c, sizeof *g);
    for (int s = 0; s < len; s++)
        for (int ci = 0; ci < c; ci++) g[ci] += cur[s * c + ci] / (float)len;
    free(cur), cur = g;
    px_tensor *k = W("dense_15", 0), *b = W("dense_15", 1);
    if (!k || !b) return FREE_W(), free(cur), NULL;
    nx = dense_ref(cur, k, b, 1), free(cur), cur = nx;
    /* dense_16 as test_reference_outputs sets it (the file's saturates the sigmoid) */
    px_tensor *k2 = t[n_t++] = px_tensor_zeros(PX_SHAPE(16, 1)), *b2 = t[n_t++] = px_tensor_zeros(PX_SHAPE(1));
    for (int i = 0; i < 16; i++) px_tensor_f32(k2)[i] = 0.05f * (float)(i % 5) - 0.1f;
    nx = dense_ref(cur, k2, b2, 2), free(cur), cur = nx;
    FREE_W();
    return cur;
}

/* k2.3.1: one LSTM step from zero state (blocks i, f, c, o), then dense. */
static float *ref_lstm(px_h5_file *f, const char *base, const float *x) {
    px_tensor *t[6] = {0};
    int n_t = 0;
    px_tensor *k = W("lstm_1", 0), *b = W("lstm_1", 2), *dk = W("dense_1", 0), *db = W("dense_1", 1);
    if (!k || !b || !dk || !db) return FREE_W(), NULL;
    int n = (int)k->shape[0], u = (int)k->shape[1] / 4;
    float *h = calloc((size_t)u, sizeof *h);
    for (int j = 0; j < u; j++) {
        double g[4];
        for (int q = 0; q < 4; q++) {
            g[q] = px_tensor_f32(b)[q * u + j];
            for (int i = 0; i < n; i++) g[q] += (double)x[i] * px_tensor_f32(k)[(int64_t)i * 4 * u + q * u + j];
        }
        float cc = sigm((float)g[0]) * tanhf((float)g[2]);
        h[j] = sigm((float)g[3]) * tanhf(cc);
    }
    float *y = dense_ref(h, dk, db, 0);
    free(h);
    FREE_W();
    return y;
}

/* k2.2.4 LeNet as built below: (conv 5x5 + relu, avgpool) x2, conv 5x5 + relu, dense relu, dense softmax. */
static float *ref_lenet(px_h5_file *f, const char *base, const float *x) {
    px_tensor *t[12] = {0};
    int n_t = 0, h = 32, w = 32, c = 1, oh, ow;
    float *cur = malloc(32 * 32 * sizeof *cur), *nx;
    memcpy(cur, x, 32 * 32 * sizeof *cur);
    const char *convs[] = {"conv2d_1", "conv2d_2", "conv2d_3"};
    for (int i = 0; i < 3; i++) {
        px_tensor *k = W(convs[i], 0), *b = W(convs[i], 1);
        if (!k || !b) return FREE_W(), free(cur), NULL;
        nx = conv_ref(cur, h, w, c, k, b, &oh, &ow), free(cur), cur = nx, h = oh, w = ow, c = (int)k->shape[3];
        if (i < 2) nx = pool_ref(cur, h, w, c, false, &oh, &ow), free(cur), cur = nx, h = oh, w = ow;
    }
    px_tensor *k = W("dense_1", 0), *b = W("dense_1", 1), *k2 = W("dense_2", 0), *b2 = W("dense_2", 1);
    if (!k || !b || !k2 || !b2) return FREE_W(), free(cur), NULL;
    nx = dense_ref(cur, k, b, 1), free(cur), cur = nx;
    nx = dense_ref(cur, k2, b2, 3), free(cur), cur = nx;
    FREE_W();
    return cur;
}

/* Each loadable file against its plain-C forward pass. */
static void test_reference_outputs(void) {
    static const struct {
        const char *file;
        ref_fn ref;
        px_shape in;
    } cases[] = {{"k2.11.0-sequential-conv2d-maxpool.h5", ref_conv2d_maxpool, PX_SHAPE(-1, 28, 28, 1)},
                 {"k3.6.0-sequential-conv1d-gap1d.h5", ref_conv1d_gap, PX_SHAPE(-1, 60, 4)},
                 {"k2.3.1-sequential-lstm.h5", ref_lstm, PX_SHAPE(-1, 1, 56)}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rel[256], path[2048];
        snprintf(rel, sizeof rel, "data/keras-models/%s", cases[i].file);
        const char *p = px_test_shared(rel);
        if (!p) {
            px_test_skip("%s (no shared data)", cases[i].file);
            continue;
        }
        snprintf(path, sizeof path, "%s", p);
        px_model *m = px_model_load(path);
        CHECK_NOT_NULL(m);
        px_h5_file *f = NULL;
        px_layer *last = m ? px_model_find_layer(m, "dense_16") : NULL;
        if (last && px_layer_weight_count(last) == 2) {
            /* the file's last Dense saturates its sigmoid to 0 on every input tried,
             * which would hide the layers before it: both sides use this one instead */
            px_tensor *k = px_node_value(px_layer_weight(last, 0)), *b = px_node_value(px_layer_weight(last, 1));
            for (int q = 0; q < 16; q++) px_tensor_f32(k)[q] = 0.05f * (float)(q % 5) - 0.1f;
            px_tensor_f32(b)[0] = 0;
        }
        if (m && px_h5_open(path, &f) == PX_OK) {
            compare_with_reference(m, cases[i].in, 0, f, "model_weights", cases[i].ref, cases[i].file);
            px_h5_close(f);
        }
        px_model_free(m);
    }
}

/* The weights-only LeNet loads into a Plexus LeNet whose layer names match the file's. */
static void test_lenet_weights_only(void) {
    const char *p = px_test_shared("data/keras-models/k2.2.4-weights-only-lenet-conv2d-avgpool.h5");
    if (!p) {
        px_test_skip("k2.2.4 LeNet (no shared data)");
        return;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s", p);
    px_layer *layers[] = {
        px_conv2d_layer(6, 5, 5, &(px_conv_options){.activation = PX_RELU, .name = "conv2d_1", .input_shape = PX_SHAPE(32, 32, 1)}),
        px_average_pooling2d(2, 2, &(px_pool_options){.name = "average_pooling2d_1"}),
        px_conv2d_layer(16, 5, 5, &(px_conv_options){.activation = PX_RELU, .name = "conv2d_2"}),
        px_average_pooling2d(2, 2, &(px_pool_options){.name = "average_pooling2d_2"}),
        px_conv2d_layer(120, 5, 5, &(px_conv_options){.activation = PX_RELU, .name = "conv2d_3"}),
        px_flatten(PX_SCALAR),
        px_dense_ex(84, &(px_dense_options){.activation = PX_RELU, .name = "dense_1"}),
        px_dense_ex(10, &(px_dense_options){.activation = PX_SOFTMAX, .name = "dense_2"}),
        NULL};
    px_layer_set_name(layers[5], "flatten_1");
    px_model *m = px_sequential(layers);
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK_OK(px_model_load_weights(m, path));
    px_h5_file *f = NULL;
    if (px_h5_open(path, &f) == PX_OK) {
        compare_with_reference(m, PX_SHAPE(-1, 32, 32, 1), 0, f, "", ref_lenet, "k2.2.4 LeNet (weights only)");
        px_h5_close(f);
    }
    px_model_free(m);
}

/* Writes x, runs tests/scripts/keras_numpy_forward.py over the file (an
 * independent NumPy forward pass from Keras's equations) and returns its
 * predictions, or NULL when python3 with h5py is missing. */
static px_tensor *numpy_forward(const char *h5, const px_tensor *x) {
    char in[512], out[512], cmd[5200];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(in, sizeof in, "%s/px_npf_in_%d.txt", tmp, (int)getpid());
    snprintf(out, sizeof out, "%s/px_npf_out_%d.txt", tmp, (int)getpid());
    FILE *f = fopen(in, "w");
    if (!f) return NULL;
    for (int i = 0; i < x->rank; i++) fprintf(f, "%lld ", (long long)x->shape[i]);
    fprintf(f, "\n");
    for (int64_t i = 0; i < px_tensor_size(x); i++) fprintf(f, "%.9g ", px_tensor_f32(x)[i]);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 scripts/keras_numpy_forward.py '%s' '%s' '%s'", h5, in, out);
    px_tensor *y = NULL;
    if (system(cmd) == 0 && (f = fopen(out, "r"))) {
        px_shape s = {0};
        char line[256];
        if (fgets(line, sizeof line, f)) {
            char *p = line, *e;
            for (long v; s.rank < PX_MAX_RANK && (v = strtol(p, &e, 10), e != p); p = e) s.dim[s.rank++] = v;
        }
        y = px_tensor_zeros(s);
        for (int64_t i = 0; y && i < px_tensor_size(y); i++)
            if (fscanf(f, "%f", &px_tensor_f32(y)[i]) != 1) {
                px_tensor_free(y);
                y = NULL;
            }
        fclose(f);
    }
    remove(in), remove(out);
    return y;
}

/* Files with options Plexus once lacked (K2.1's GRU with hard_sigmoid gates and
 * dropout, K3.8's relu SimpleRNN) load and predict as NumPy computes them. */
static void test_recurrent_option_files(void) {
    const char *names[2] = {"k2.1.4-sequential-embedding-gru.h5", "k3.8.0-sequential-simplernn.h5"};
    const px_shape shapes[2] = {PX_SHAPE(4, 80), PX_SHAPE(4, 3, 1)};
    for (int k = 0; k < 2; k++) {
        char rel[256], path[2048];
        snprintf(rel, sizeof rel, "data/keras-models/%s", names[k]);
        const char *p = px_test_shared(rel);
        if (!p) {
            px_test_skip("%s (no shared data)", names[k]);
            continue;
        }
        snprintf(path, sizeof path, "%s", p);
        px_model *m = px_model_load(path);
        CHECK_NOT_NULL(m);
        if (!m) continue;
        px_rng r = px_rng_seeded(40 + (uint64_t)k);
        px_tensor *x = px_tensor_random_uniform(shapes[k], k == 0 ? 0.0f : -2.0f, k == 0 ? 7.0f : 2.0f, &r);
        for (int64_t i = 0; k == 0 && i < px_tensor_size(x); i++) px_tensor_f32(x)[i] = floorf(px_tensor_f32(x)[i]);
        px_tensor *got = px_model_predict(m, x, &(px_eval_options){.verbose = PX_VERBOSE_SILENT});
        px_tensor *want = numpy_forward(path, x);
        if (!want) {
            px_test_skip("%s: no NumPy forward pass (python3 with h5py missing?)", names[k]);
        } else {
            CHECK(got && px_tensor_size(got) == px_tensor_size(want));
            double worst = 0;
            for (int64_t i = 0; got && i < px_tensor_size(got) && i < px_tensor_size(want); i++)
                worst = fmax(worst, fabs(px_tensor_f32(got)[i] - px_tensor_f32(want)[i]));
            CHECK(worst < 1e-5);
            printf("  %s: largest difference from the NumPy forward pass %.2g\n", names[k], worst);
        }
        px_tensor_free(x), px_tensor_free(got), px_tensor_free(want);
        px_model_free(m);
    }
}

/* Keras 3's layout: layers/<group>/vars/<k>. */
static px_tensor *k3_weight(px_h5_file *f, const char *group, int k) {
    char path[300];
    px_tensor *t = NULL;
    snprintf(path, sizeof path, "layers/%s/vars/%d", group, k);
    return px_h5_read_tensor(f, path, NULL, &t) == PX_OK ? t : NULL;
}

/* (x - mean) / sqrt(var + 1e-3) * gamma + beta, Keras's inference-mode batch norm. */
static void bn_ref(float *x, int n, px_tensor *const *w) {
    for (int i = 0; i < n; i++)
        x[i] = (float)(((double)x[i] - px_tensor_f32(w[2])[i]) / sqrt((double)px_tensor_f32(w[3])[i] + 1e-3) *
                           px_tensor_f32(w[0])[i] + px_tensor_f32(w[1])[i]);
}

/* The file's last Dense saturates its sigmoid on every input tried, which would hide
 * the layers before it: both sides scale its kernel by 0.01 and zero its bias. */
static void soften(px_tensor *k, px_tensor *b) {
    for (int64_t q = 0; q < px_tensor_size(k); q++) px_tensor_f32(k)[q] *= 0.01f;
    for (int64_t q = 0; q < px_tensor_size(b); q++) px_tensor_f32(b)[q] = 0;
}

/* k3.5.0 .keras: dense relu, batch norm, dropout, dense relu, batch norm, dropout, dense sigmoid;
 * the weight groups are named dense, dense_1, ... (the layers are dense_6, dense_7, ...). */
static float *ref_dense_batchnorm(px_h5_file *f, const char *base, const float *x) {
    (void)base;
    px_tensor *t[16] = {0};
    int n_t = 0;
    const char *dense[] = {"dense", "dense_1", "dense_2"}, *bn[] = {"batch_normalization", "batch_normalization_1"};
    float *cur = malloc(4 * sizeof *cur), *nx;
    memcpy(cur, x, 4 * sizeof *cur);
    for (int i = 0; i < 3; i++) {
        px_tensor *k = t[n_t++] = k3_weight(f, dense[i], 0), *b = t[n_t++] = k3_weight(f, dense[i], 1);
        if (!k || !b) return FREE_W(), free(cur), NULL;
        if (i == 2) soften(k, b);
        nx = dense_ref(cur, k, b, i < 2 ? 1 : 2), free(cur), cur = nx;
        if (i == 2) break;
        px_tensor *w[4];
        for (int q = 0; q < 4; q++) w[q] = t[n_t++] = k3_weight(f, bn[i], q);
        if (!w[0] || !w[1] || !w[2] || !w[3]) return FREE_W(), free(cur), NULL;
        bn_ref(cur, (int)k->shape[1], w);
    }
    FREE_W();
    return cur;
}

/* The real Keras 3.5 .keras archive loads (its Adam with a CosineDecay schedule
 * included) and predicts what a plain-C pass over its model.weights.h5 computes. */
static void test_keras_archive_file(void) {
    const char *p = px_test_shared("data/keras-models/k3.5.0-sequential-dense-batchnorm.keras");
    if (!p) {
        px_test_skip("k3.5.0 .keras (no shared data)");
        return;
    }
    char path[2048];
    snprintf(path, sizeof path, "%s", p);
    px_model *m = px_model_load(path);
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK(px_model_layer_count(m) == 8 && px_model_find_layer(m, "dense_8") != NULL);
    CHECK(px_model_optimizer(m) != NULL);
    px_layer *last = px_model_find_layer(m, "dense_8");
    if (last) soften(px_node_value(px_layer_weight(last, 0)), px_node_value(px_layer_weight(last, 1)));
    px_zip *z = NULL;
    char *data = NULL;
    size_t size = 0;
    px_h5_file *f = NULL;
    if (px_zip_open(path, &z) == PX_OK && px_zip_read(z, "model.weights.h5", &data, &size) == PX_OK &&
        px_h5_open_image(data, size, "model.weights.h5", &f) == PX_OK)
        compare_with_reference(m, PX_SHAPE(-1, 4), 0, f, "", ref_dense_batchnorm, "k3.5.0 .keras");
    else CHECK(false);
    px_h5_close(f);
    free(data);
    px_zip_close(z);
    px_model_free(m);
}

int main(void) {
    RUN_TEST(test_keras_h5_files);
    RUN_TEST(test_keras3_weights_only);
    RUN_TEST(test_reference_outputs);
    RUN_TEST(test_lenet_weights_only);
    RUN_TEST(test_recurrent_option_files);
    RUN_TEST(test_keras_archive_file);
    return px_test_finish();
}
