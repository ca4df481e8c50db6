/* .keras archives (src/saving/keras_archive.c): the format follows the file name on
 * save; round trips of Sequential and Functional models (a shared layer included);
 * Python's zipfile and h5py read Plexus's archives in Keras's layout; damaged and
 * foreign archives give errors naming the file; Keras 3's weights-only layout. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "formats/zipfile.h"
#include "plexus/model_io.h"
#include "px_test.h"

#define PYTHON "/usr/bin/python3"

static const px_eval_options silent = {.verbose = PX_VERBOSE_SILENT};

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) fwrite(data, 1, n, f), fclose(f);
}

/* An MLP with batch normalization and dropout, trained for one epoch with Adam. */
static px_model *trained_mlp(px_tensor **x_out) {
    px_set_random_seed(31);
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(6, &(px_dense_options){.activation = PX_TANH, .input_shape = PX_SHAPE(3)}),
                                               px_batch_normalization(), px_dense(5, PX_RELU), px_dropout_layer(0.1f),
                                               px_dense(4, PX_SOFTMAX), NULL});
    if (!m) return NULL;
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_CATEGORICAL_CROSSENTROPY, .optimizer = px_adam(NULL),
                                                       .metrics = {PX_ACCURACY}}));
    px_tensor *x = px_test_random(PX_SHAPE(8, 3), 4), *y = px_tensor_zeros(PX_SHAPE(8, 4));
    for (int i = 0; i < 8; i++) px_tensor_f32(y)[i * 4 + i % 4] = 1;
    px_dataset *d = px_dataset_new(px_tensor_copy(x), y);
    CHECK_OK(px_model_fit(m, d, &(px_fit_options){.epochs = 1, .batch_size = 4, .verbose = PX_VERBOSE_SILENT}));
    px_dataset_free(d);
    *x_out = x;
    return m;
}

static void test_format_follows_name(void) {
    px_tensor *x = NULL;
    px_model *m = trained_mlp(&x);
    if (!m) return;
    const char *k = px_test_tmp_path("m.keras"), *h = px_test_tmp_path("m.h5");
    CHECK_OK(px_model_save(m, k));
    CHECK_OK(px_model_save(m, h));
    CHECK(px_zip_is_archive(k));
    CHECK(!px_zip_is_archive(h));
    size_t n = 0;
    unsigned char *b = px_test_read_file(h, &n);
    CHECK(b && n > 8 && memcmp(b, "\x89HDF\r\n\x1a\n", 8) == 0);
    free(b);
    /* both load back to the same predictions, compiled, with the optimizer's step count */
    px_tensor *p = px_model_predict(m, x, &silent);
    const char *paths[] = {k, h};
    for (int i = 0; i < 2; i++) {
        px_model *l = px_model_load(paths[i]);
        CHECK_NOT_NULL(l);
        if (!l) continue;
        px_tensor *q = px_model_predict(l, x, &silent);
        CHECK(px_test_same_tensor(p, q));
        CHECK(px_model_optimizer(l) && px_optimizer_iterations(px_model_optimizer(l)) == 2);
        char *a = NULL, *c = NULL;
        CHECK_OK(px_model_to_json(m, &a));
        CHECK_OK(px_model_to_json(l, &c));
        CHECK(a && c && strcmp(a, c) == 0);
        free(a), free(c);
        px_tensor_free(q);
        px_model_free(l);
    }
    px_tensor_free(p), px_tensor_free(x);
    px_model_free(m);
    remove(k), remove(h);
}

/* zipfile and h5py read the archive as Keras 3 would, and a NumPy forward pass over
 * the weights it finds gives Plexus's predictions. */
static void test_python_reads_archive(void) {
    if (access(PYTHON, X_OK) != 0) {
        px_test_skip(PYTHON " is missing (apt-get install -y python3-h5py python3-numpy)");
        return;
    }
    px_tensor *x = NULL;
    px_model *m = trained_mlp(&x);
    if (!m) return;
    px_tensor *p = px_model_predict(m, x, &silent);
    const char *k = px_test_tmp_path("check.keras"), *io = px_test_tmp_path("check.txt"), *out = px_test_tmp_path("check.out");
    CHECK_OK(px_model_save(m, k));
    FILE *f = fopen(io, "w");
    fprintf(f, "8 3 4\n");
    for (int i = 0; i < 24; i++) fprintf(f, "%.9g\n", px_tensor_f32(x)[i]);
    for (int i = 0; i < 32; i++) fprintf(f, "%.9g\n", px_tensor_f32(p)[i]);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s '%s' '%s' '%s' > '%s' 2>&1", PYTHON, px_test_data("../scripts/check_keras_archive.py"), k, io, out);
    int rc = system(cmd);
    rc = rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
    size_t n = 0;
    unsigned char *text = px_test_read_file(out, &n);
    if (rc == 3) px_test_skip("the archive check needs h5py and numpy for " PYTHON);
    else {
        CHECK(rc == 0);
        if (text) printf("  %.*s", (int)n, text);
    }
    free(text);
    px_tensor_free(p), px_tensor_free(x);
    px_model_free(m);
    remove(k), remove(io), remove(out);
}

/* Two inputs, a layer shared by both (two calls: Keras's node_index 0 and 1), two outputs. */
static px_model *shared_functional(void) {
    px_set_random_seed(5);
    px_model *m = px_functional("siamese");
    px_node *a = px_model_input(m, PX_SHAPE(4), "left");
    px_node *b = px_model_input(m, PX_SHAPE(4), "right");
    px_layer *shared = px_dense_ex(3, &(px_dense_options){.activation = PX_TANH, .name = "shared"});
    px_node *ea = px_apply(shared, a), *eb = px_apply(shared, b);
    px_node *sum = px_apply_n(px_add_layer(), (px_node *[]){ea, eb}, 2);
    px_node *out1 = px_apply(px_dense(1, PX_SIGMOID), sum);
    px_node *out2 = px_apply(px_dense(2, PX_LINEAR), eb);
    CHECK_OK(px_model_set_outputs(m, (px_node *[]){out1, out2}, 2));
    return m;
}

static void test_shared_layer_round_trip(void) {
    px_model *m = shared_functional();
    if (!m) return;
    px_tensor *x[2] = {px_test_random(PX_SHAPE(5, 4), 1), px_test_random(PX_SHAPE(5, 4), 2)}, *p[2] = {0};
    CHECK_OK(px_model_predict_arrays(m, x, 2, &silent, p));
    const char *files[] = {px_test_tmp_path("shared.keras"), px_test_tmp_path("shared.h5")};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(px_model_save(m, files[i]));
        px_model *l = px_model_load(files[i]);
        CHECK_NOT_NULL(l);
        if (!l) continue;
        /* one layer object, called twice, weights shared */
        px_layer *s = px_model_find_layer(l, "shared");
        CHECK(s && px_layer_weight_count(s) == 2);
        px_tensor *q[2] = {0};
        CHECK_OK(px_model_predict_arrays(l, x, 2, &silent, q));
        CHECK(px_test_same_tensor(p[0], q[0]) && px_test_same_tensor(p[1], q[1]));
        px_tensor_free(q[0]), px_tensor_free(q[1]);
        px_model_free(l);
        remove(files[i]);
    }
    char *json = NULL;
    CHECK_OK(px_model_to_json(m, &json));
    /* the second call of "shared" is node 1 */
    CHECK(json && strstr(json, "[[[\"left\", 0, 0, {}]], [[\"right\", 0, 0, {}]]]") && strstr(json, "[\"shared\", 1, 0, {}]"));
    free(json);
    for (int i = 0; i < 2; i++) px_tensor_free(x[i]), px_tensor_free(p[i]);
    px_model_free(m);
}

static void test_bad_archives(void) {
    px_tensor *x = NULL;
    px_model *m = trained_mlp(&x);
    if (!m) return;
    const char *k = px_test_tmp_path("bad.keras"), *bad = px_test_tmp_path("broken.keras");
    CHECK_OK(px_model_save(m, k));
    size_t n = 0;
    unsigned char *b = px_test_read_file(k, &n);
    /* cut short */
    write_bytes(bad, b, n / 2);
    px_model *l = px_model_load(bad);
    CHECK(!l && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS(bad);
    /* a byte of the weights changed: the CRC catches it */
    size_t at = n - 1200;
    b[at] ^= 0x5a;
    write_bytes(bad, b, n);
    l = px_model_load(bad);
    CHECK(!l && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS(bad);
    free(b);
    /* a zip without config.json */
    px_zip_member other[] = {{"readme.txt", "hello", 5}};
    CHECK_OK(px_zip_write_atomic(bad, other, 1));
    l = px_model_load(bad);
    CHECK(!l && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("config.json");
    /* weights for another model: the count is checked, naming the layer */
    px_model *other_model = px_sequential((px_layer *[]){px_dense_ex(6, &(px_dense_options){.input_shape = PX_SHAPE(3)}),
                                                         px_dense(4, PX_SOFTMAX), NULL});
    px_status st = px_model_load_weights(other_model, k);
    CHECK(st == PX_ERR_FORMAT || st == PX_ERR_SHAPE);
    CHECK_ERROR_HAS(k);
    px_model_free(other_model);
    /* a failed save leaves the previous archive as it was */
    size_t n0 = 0, n1 = 0;
    unsigned char *before = px_test_read_file(k, &n0);
    CHECK(px_model_save(m, "/nonexistent-dir/x.keras") == PX_ERR_IO);
    CHECK_ERROR_HAS("/nonexistent-dir/x.keras");
    unsigned char *after = px_test_read_file(k, &n1);
    CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
    free(before), free(after);
    px_tensor_free(x);
    px_model_free(m);
    remove(k), remove(bad);
}

static int warnings;
static void count_warning(const char *msg, void *user) {
    (void)user;
    printf("  warning: %s\n", msg);
    warnings++;
}

/* save_weights("*.weights.h5") writes Keras 3's layout; loading takes it, a .keras
 * archive, or a full .h5 file; legacy files match by position or by name. */
static void test_weights_layouts(void) {
    px_tensor *x = NULL;
    px_model *m = trained_mlp(&x);
    if (!m) return;
    px_tensor *p = px_model_predict(m, x, &silent);
    const char *k3 = px_test_tmp_path("w.weights.h5"), *k2 = px_test_tmp_path("w.h5"), *arch = px_test_tmp_path("w.keras");
    CHECK_OK(px_model_save_weights(m, k3));
    CHECK_OK(px_model_save_weights(m, k2));
    CHECK_OK(px_model_save(m, arch));
    const char *paths[] = {k3, k2, arch};
    for (int i = 0; i < 3; i++) {
        /* the same architecture with other layer names: position decides */
        px_set_random_seed(99);
        px_model *b = px_sequential((px_layer *[]){px_dense_ex(6, &(px_dense_options){.activation = PX_TANH, .input_shape = PX_SHAPE(3), .name = "a"}),
                                                   px_batch_normalization(), px_dense_ex(5, &(px_dense_options){.activation = PX_RELU, .name = "b"}),
                                                   px_dropout_layer(0.1f), px_dense_ex(4, &(px_dense_options){.activation = PX_SOFTMAX, .name = "c"}),
                                                   NULL});
        CHECK_OK(px_model_load_weights(b, paths[i]));
        px_tensor *q = px_model_predict(b, x, &silent);
        CHECK(px_test_same_tensor(p, q));
        px_tensor_free(q);
        if (i == 1) {
            /* by name only batch_normalization matches: the Dense layers keep their
             * weights, one warning each */
            px_model *fresh = px_sequential((px_layer *[]){px_dense_ex(6, &(px_dense_options){.input_shape = PX_SHAPE(3), .name = "a"}),
                                                           px_batch_normalization(), px_dense_ex(4, &(px_dense_options){.name = "c"}), NULL});
            px_tensor **before = NULL, **after = NULL;
            int nb = 0, na = 0;
            CHECK_OK(px_model_get_weights(fresh, &before, &nb));
            warnings = 0;
            px_set_warning_handler(count_warning, NULL);
            CHECK_OK(px_model_load_weights_ex(fresh, k2, &(px_load_weights_options){.by_name = true}));
            px_set_warning_handler(NULL, NULL);
            CHECK(warnings == 2);
            CHECK_OK(px_model_get_weights(fresh, &after, &na));
            CHECK(na == 8 && nb == 8 && px_test_same_tensor(before[0], after[0]) && !px_test_same_tensor(before[2], after[2]));
            for (int w = 0; w < na; w++) px_tensor_free(before[w]), px_tensor_free(after[w]);
            free(before), free(after);
            px_model_free(fresh);
            /* and a model none of whose layers is in the file is refused */
            px_model *none = px_sequential((px_layer *[]){px_dense_ex(4, &(px_dense_options){.input_shape = PX_SHAPE(3), .name = "z"}), NULL});
            CHECK(px_model_load_weights_ex(none, k2, &(px_load_weights_options){.by_name = true}) == PX_ERR_FORMAT);
            CHECK_ERROR_HAS("by_name");
            px_model_free(none);
        }
        px_model_free(b);
    }
    /* by order, a model with one Dense layer too few is refused naming both lists */
    px_model *c = px_sequential((px_layer *[]){px_dense_ex(6, &(px_dense_options){.input_shape = PX_SHAPE(3)}),
                                               px_batch_normalization(), px_dense(4, PX_SOFTMAX), NULL});
    CHECK(px_model_load_weights(c, k2) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("matched by position");
    px_model_free(c);
    px_tensor_free(p), px_tensor_free(x);
    px_model_free(m);
    remove(k3), remove(k2), remove(arch);
}

int main(void) {
    RUN_TEST(test_format_follows_name);
    RUN_TEST(test_python_reads_archive);
    RUN_TEST(test_shared_layer_round_trip);
    RUN_TEST(test_bad_archives);
    RUN_TEST(test_weights_layouts);
    return px_test_finish();
}
