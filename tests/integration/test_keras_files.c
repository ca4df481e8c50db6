/* Real files written by Keras 2.1 to 3.8 ($PX_SHARED_DIR/data/keras-models): each
 * whose layers Plexus has loads with the right shapes and predicts; the others are
 * reported as skipped with the layer classes that are missing. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "io/json.h"
#include "nn/layer_internal.h"
#include "plexus/model_io.h"
#include "px_test.h"

static int loaded, skipped;

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

static px_tensor *input_for(px_shape placeholder) {
    px_shape s = placeholder;
    s.dim[0] = 2;
    for (int i = 1; i < s.rank; i++)
        if (s.dim[i] < 0) s.dim[i] = 4;
    px_tensor *t = px_tensor_zeros(s);
    for (int64_t i = 0; t && i < px_tensor_size(t); i++) px_tensor_f32(t)[i] = (float)((i % 7) * 0.1);
    return t;
}

static void predict_and_check(px_model *m, const char *file) {
    int ni = px_model_input_count(m), no = px_model_output_count(m);
    px_tensor *x[8] = {0}, *y[8] = {0};
    for (int i = 0; i < ni; i++) {
        /* the InputLayers' outputs are the model's placeholders, in input order */
        px_node *ph = NULL;
        int seen = 0;
        for (int k = 0; k < px_model_layer_count(m) && !ph; k++) {
            px_layer *l = px_model_layer(m, k);
            if (strcmp(px_layer_class(l), "InputLayer") == 0 && seen++ == i) ph = px_layer_output(l);
        }
        px_shape s;
        if (ph) s = px_node_shape(ph);
        else {
            /* a Sequential built from its first layer's input shape */
            px_layer *first = px_model_layer(m, 0);
            s = (px_shape){.rank = first->input_shape.rank + 1};
            s.dim[0] = -1;
            for (int d = 0; d < first->input_shape.rank; d++) s.dim[d + 1] = first->input_shape.dim[d];
        }
        x[i] = input_for(s);
    }
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
        printf("skipped: no Keras files ($PX_SHARED_DIR/data/keras-models is absent)\n");
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
    printf("Keras files: %d loaded, %d skipped\n", loaded, skipped);
    CHECK(loaded >= 2); /* the Dense/Dropout and the two-input Functional files at least */
}

/* Keras 3's weights-only layout, with the architecture from its to_json file. */
static void test_keras3_weights_only(void) {
    const char *j = px_test_shared("data/keras-models/k3-weights-only-dense.model.json");
    if (!j) {
        printf("skipped: k3-weights-only-dense (no shared data)\n");
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

int main(void) {
    RUN_TEST(test_keras_h5_files);
    RUN_TEST(test_keras3_weights_only);
    return px_test_finish();
}
