/* Model files: model_config JSON both ways (K2 exact, K2.2/K3 spellings read),
 * HDF5 save/load round trips, weights-only files, bad input of every kind (files
 * that crash or hang libhdf5 included), and an h5py/NumPy check of the layout. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "formats/h5util.h"
#include "plexus/model_io.h"
#include "px_test.h"

#define PYTHON "/usr/bin/python3"


static char *summary_text(const px_model *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    px_model_summary(m, f);
    fclose(f);
    return buf;
}

static px_model *small_sequential(void) {
    px_model *m = px_sequential((px_layer *[]){
        px_dense_ex(8, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(4),
                                           .kernel_regularizer = PX_L2(0.01f)}),
        px_dropout_layer(0.25f), px_dense(3, PX_SOFTMAX), NULL});
    return m;
}

static const px_eval_options silent = {.verbose = PX_VERBOSE_SILENT};

static void test_sequential_round_trip(void) {
    px_set_random_seed(3);
    px_model *m = small_sequential();
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_adam(&(px_optimizer_options){.learning_rate = 0.01f}),
                                                       .metrics = {PX_ACCURACY}}));
    px_tensor *x = px_test_random(PX_SHAPE(40, 4), 1), *y = px_tensor_zeros(PX_SHAPE(40));
    for (int i = 0; i < 40; i++) px_tensor_f32(y)[i] = (float)(i % 3);
    px_dataset *d = px_dataset_new(x, y);
    CHECK_OK(px_model_fit(m, d, &(px_fit_options){.epochs = 2, .batch_size = 8, .verbose = PX_VERBOSE_SILENT}));
    const char *path = px_test_tmp_path("seq.h5");
    CHECK_OK(px_model_save(m, path));
    px_model *b = px_model_load(path);
    CHECK_NOT_NULL(b);
    if (b) {
        px_tensor *p1 = px_model_predict(m, d->x, &silent), *p2 = px_model_predict(b, d->x, &silent);
        CHECK(px_test_same_tensor(p1, p2));
        char *s1 = summary_text(m), *s2 = summary_text(b);
        CHECK(s1 && s2 && strcmp(s1, s2) == 0);
        char *j1 = NULL, *j2 = NULL;
        CHECK_OK(px_model_to_json(m, &j1));
        CHECK_OK(px_model_to_json(b, &j2));
        CHECK(j1 && j2 && strcmp(j1, j2) == 0);
        CHECK(px_optimizer_iterations(px_model_optimizer(b)) == px_optimizer_iterations(px_model_optimizer(m)));
        CHECK(px_optimizer_get_kind(px_model_optimizer(b)) == PX_OPT_ADAM);
        CHECK(px_optimizer_learning_rate(px_model_optimizer(b)) == 0.01f);
        /* the loaded model evaluates as the original (compiled from training_config) */
        px_logs l1 = {0}, l2 = {0};
        CHECK_OK(px_model_evaluate(m, d, &silent, &l1));
        CHECK_OK(px_model_evaluate(b, d, &silent, &l2));
        double a1 = -1, a2 = -2;
        CHECK(px_logs_get(&l1, "accuracy", &a1) && px_logs_get(&l2, "accuracy", &a2) && a1 == a2);
        free(s1), free(s2), free(j1), free(j2);
        px_tensor_free(p1), px_tensor_free(p2);
    }
    px_model_free(b);
    px_model_free(m);
    px_dataset_free(d);
    remove(path);
}

static px_model *small_functional(void) {
    px_model *m = px_functional("wide_deep");
    px_node *wide = px_model_input(m, PX_SHAPE(5), "wide_input");
    px_node *deep = px_model_input(m, PX_SHAPE(2, 3), "deep_input");
    px_node *h = px_apply(px_flatten(PX_SCALAR), deep);
    h = px_apply(px_dense(5, PX_TANH), h);
    px_node *sum = px_apply_n(px_add_layer(), (px_node *[]){h, wide}, 2);
    px_node *cat = px_apply_n(px_concatenate(-1), (px_node *[]){wide, sum}, 2);
    px_node *r = px_apply(px_reshape_layer(PX_SHAPE(2, 5)), cat);
    r = px_apply(px_flatten(PX_SCALAR), r);
    px_layer *main_l = px_dense(1, PX_LINEAR);
    px_layer_set_name(main_l, "main_output");
    px_node *out1 = px_apply(main_l, r);
    px_node *a = px_apply(px_activation_layer(PX_SIGMOID), h);
    px_layer *aux = px_dense(1, PX_LINEAR);
    px_layer_set_name(aux, "aux_output");
    px_node *out2 = px_apply(aux, a);
    if (px_model_set_outputs(m, (px_node *[]){out1, out2}, 2) != PX_OK) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

static void test_functional_round_trip(void) {
    px_set_random_seed(5);
    px_model *m = small_functional();
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK_OK(px_model_compile(m, &(px_compile_options){.losses = {{.kind = PX_MEAN_SQUARED_ERROR}, {.kind = PX_HUBER}},
                                                       .loss_weights = {0.9f, 0.1f},
                                                       .optimizer = px_sgd(&(px_optimizer_options){.momentum = 0.5f})}));
    px_tensor *w = px_test_random(PX_SHAPE(6, 5), 2), *dp = px_test_random(PX_SHAPE(6, 2, 3), 3);
    const char *path = px_test_tmp_path("func.h5");
    CHECK_OK(px_model_save(m, path));
    px_model *b = px_model_load(path);
    CHECK_NOT_NULL(b);
    if (b) {
        px_tensor *o1[2] = {0}, *o2[2] = {0};
        CHECK_OK(px_model_predict_arrays(m, (px_tensor *[]){w, dp}, 2, &silent, o1));
        CHECK_OK(px_model_predict_arrays(b, (px_tensor *[]){w, dp}, 2, &silent, o2));
        CHECK(px_test_same_tensor(o1[0], o2[0]) && px_test_same_tensor(o1[1], o2[1]));
        char *s1 = summary_text(m), *s2 = summary_text(b);
        CHECK(s1 && s2 && strcmp(s1, s2) == 0);
        if (s1 && s2 && strcmp(s1, s2) != 0) fprintf(stderr, "%s\n%s\n", s1, s2);
        CHECK(strcmp(px_model_name(b), "wide_deep") == 0);
        CHECK(px_model_input_count(b) == 2 && px_model_output_count(b) == 2);
        CHECK(px_optimizer_get_kind(px_model_optimizer(b)) == PX_OPT_SGD);
        CHECK(px_optimizer_get_options(px_model_optimizer(b))->momentum == 0.5f);
        free(s1), free(s2);
        for (int i = 0; i < 2; i++) px_tensor_free(o1[i]), px_tensor_free(o2[i]);
    }
    px_model_free(b);
    px_model_free(m);
    px_tensor_free(w), px_tensor_free(dp);
    remove(path);
}

/* The exact text Keras 2 writes for this model (keys and order as tf.keras 2.15). */
static void test_to_json_k2_exact(void) {
    px_model *m = px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(3), "x"), px_dense(2, PX_RELU), NULL});
    char *j = NULL;
    CHECK_OK(px_model_to_json(m, &j));
    const char *want =
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"sequential\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3], \"dtype\": \"float32\", "
        "\"sparse\": false, \"ragged\": false, \"name\": \"x\"}}, "
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"trainable\": true, \"dtype\": \"float32\", "
        "\"units\": 2, \"activation\": \"relu\", \"use_bias\": true, \"kernel_initializer\": {\"class_name\": "
        "\"GlorotUniform\", \"config\": {\"seed\": null}}, \"bias_initializer\": {\"class_name\": \"Zeros\", "
        "\"config\": {}}, \"kernel_regularizer\": null, \"bias_regularizer\": null, \"activity_regularizer\": null, "
        "\"kernel_constraint\": null, \"bias_constraint\": null}}]}, \"keras_version\": \"2.15.0\", \"backend\": "
        "\"tensorflow\"}";
    CHECK(j && strcmp(j, want) == 0);
    if (j && strcmp(j, want) != 0) fprintf(stderr, "got  %s\nwant %s\n", j, want);
    free(j);
    px_model_free(m);
}

static px_model *from_json(const char *s) { return px_model_from_json(s, strlen(s)); }

static void test_reads_other_spellings(void) {
    /* K2.2: bare-list Sequential, VarianceScaling, input shape on the first layer */
    px_model *m = from_json(
        "{\"class_name\": \"Sequential\", \"config\": [{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", "
        "\"trainable\": true, \"batch_input_shape\": [null, 6], \"dtype\": \"float32\", \"units\": 4, \"activation\": "
        "\"relu\", \"use_bias\": true, \"kernel_initializer\": {\"class_name\": \"VarianceScaling\", \"config\": "
        "{\"scale\": 1.0, \"mode\": \"fan_avg\", \"distribution\": \"uniform\", \"seed\": null}}, \"bias_initializer\": "
        "{\"class_name\": \"Zeros\", \"config\": {}}, \"kernel_regularizer\": null, \"bias_regularizer\": null, "
        "\"activity_regularizer\": null, \"kernel_constraint\": null, \"bias_constraint\": null}}, {\"class_name\": "
        "\"Dropout\", \"config\": {\"name\": \"dropout_1\", \"trainable\": true, \"rate\": 0.5, \"noise_shape\": null, "
        "\"seed\": null}}]}");
    CHECK_NOT_NULL(m);
    CHECK(m && px_model_built(m) && px_model_layer_count(m) == 2);
    CHECK(m && px_model_param_count(m, NULL, NULL) == 28);
    px_model_free(m);
    /* K3: batch_shape, dtype policy objects, initializers with module keys */
    m = from_json(
        "{\"module\": \"keras\", \"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"trainable\": true, "
        "\"dtype\": {\"module\": \"keras\", \"class_name\": \"DTypePolicy\", \"config\": {\"name\": \"float32\"}, "
        "\"registered_name\": null}, \"layers\": [{\"module\": \"keras.layers\", \"class_name\": \"InputLayer\", "
        "\"config\": {\"batch_shape\": [null, 8], \"dtype\": \"float32\", \"sparse\": false, \"name\": \"input_layer\"}, "
        "\"registered_name\": null}, {\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": "
        "\"dense\", \"trainable\": false, \"dtype\": {\"module\": \"keras\", \"class_name\": \"DTypePolicy\", \"config\": "
        "{\"name\": \"float32\"}, \"registered_name\": null}, \"units\": 2, \"activation\": \"sigmoid\", \"use_bias\": true, "
        "\"kernel_initializer\": {\"module\": \"keras.initializers\", \"class_name\": \"HeNormal\", \"config\": {\"seed\": "
        "null}, \"registered_name\": null}, \"kernel_regularizer\": {\"module\": \"keras.regularizers\", \"class_name\": "
        "\"L2\", \"config\": {\"l2\": 0.01}, \"registered_name\": null}, \"quantization_config\": null}, "
        "\"registered_name\": null, \"build_config\": {\"input_shape\": [null, 8]}}], \"build_input_shape\": [null, 8]}}");
    CHECK_NOT_NULL(m);
    CHECK(m && px_model_param_count(m, NULL, NULL) == 18);
    CHECK(m && !px_layer_trainable(px_model_find_layer(m, "dense")));
    px_model_free(m);
    /* K3 Functional: __keras_tensor__ inbound nodes, bare input/output references */
    m = from_json(
        "{\"class_name\": \"Functional\", \"config\": {\"name\": \"f\", \"layers\": [{\"class_name\": \"InputLayer\", "
        "\"config\": {\"batch_shape\": [null, 3], \"name\": \"in\"}, \"name\": \"in\", \"inbound_nodes\": []}, "
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 2}, \"name\": \"d\", \"inbound_nodes\": "
        "[{\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": {\"shape\": [null, 3], \"dtype\": \"float32\", "
        "\"keras_history\": [\"in\", 0, 0]}}], \"kwargs\": {}}]}, {\"class_name\": \"Concatenate\", \"config\": "
        "{\"name\": \"c\", \"axis\": -1}, \"name\": \"c\", \"inbound_nodes\": [{\"args\": [[{\"class_name\": "
        "\"__keras_tensor__\", \"config\": {\"keras_history\": [\"d\", 0, 0]}}, {\"class_name\": \"__keras_tensor__\", "
        "\"config\": {\"keras_history\": [\"in\", 0, 0]}}]], \"kwargs\": {}}]}], \"input_layers\": [\"in\", 0, 0], "
        "\"output_layers\": [\"c\", 0, 0]}}");
    CHECK_NOT_NULL(m);
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[1] == 5);
    px_model_free(m);
    /* the real Keras 3 to_json file, when the shared data is there */
    const char *p = px_test_shared("data/keras-models/k3-weights-only-dense.model.json");
    if (!p) {
        px_test_skip("the Keras 3 model.json (no $PX_SHARED_DIR/data/keras-models)");
        return;
    }
    FILE *f = fopen(p, "rb");
    char buf[16384];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    m = px_model_from_json(buf, n);
    CHECK_NOT_NULL(m);
    px_model_free(m);
}

static void test_config_errors(void) {
    px_model *m = from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Conv9D\", "
                            "\"config\": {\"name\": \"weird\"}}]}}");
    CHECK(!m && px_last_status() == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("Conv9D");
    CHECK_ERROR_HAS("weird");
    m = from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Dense\", "
                  "\"config\": {\"name\": \"d7\", \"batch_input_shape\": [null, 2]}}]}}");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("units");
    CHECK_ERROR_HAS("d7");
    m = from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Dense\", "
                  "\"config\": {\"name\": \"d8\", \"units\": \"ten\"}}]}}");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("'units'");
    m = from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Dense\", "
                  "\"config\": {\"units\": 3}}]}}");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("'name'");
    m = from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("line 1");
    m = from_json("{\"class_name\": \"Subclassed\", \"config\": {}}");
    CHECK(!m && px_last_status() == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("Subclassed");
    m = from_json("{\"class_name\": \"Functional\", \"config\": {\"name\": \"f\", \"layers\": [{\"class_name\": "
                  "\"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3], \"name\": \"in\"}, \"inbound_nodes\": []}, "
                  "{\"class_name\": \"Dense\", \"config\": {\"name\": \"d\", \"units\": 2}, \"inbound_nodes\": "
                  "[[[\"nowhere\", 0, 0, {}]]]}], \"input_layers\": [[\"in\", 0, 0]], \"output_layers\": [[\"d\", 0, 0]]}}");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("nowhere");
    m = from_json("[1, 2]");
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    m = from_json("{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Dense\", "
                  "\"config\": {\"name\": \"h\", \"units\": 3, \"dtype\": \"string\"}}]}}");
    CHECK(!m && px_last_status() == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("string");
}

static bool file_loads_as(const char *path, const px_tensor *x, const px_tensor *want) {
    px_model *b = px_model_load(path);
    if (!b) return false;
    px_tensor *p = px_model_predict(b, x, &silent);
    bool ok = px_test_same_tensor(p, want);
    px_tensor_free(p);
    px_model_free(b);
    return ok;
}

static void write_bytes(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

static void test_weights_only_and_bad_files(void) {
    px_set_random_seed(11);
    px_model *m = small_sequential();
    px_tensor *x = px_test_random(PX_SHAPE(5, 4), 9);
    px_tensor *want = px_model_predict(m, x, &silent);
    const char *wpath = px_test_tmp_path("w.h5"), *path = px_test_tmp_path("full.h5"), *bad = px_test_tmp_path("bad.h5");
    CHECK_OK(px_model_save_weights(m, wpath));
    CHECK_OK(px_model_save(m, path));
    /* weights into a fresh model of the same architecture */
    px_set_random_seed(12);
    px_model *b = small_sequential();
    CHECK_OK(px_model_load_weights(b, wpath));
    px_tensor *got = px_model_predict(b, x, &silent);
    CHECK(px_test_same_tensor(got, want));
    px_tensor_free(got);
    /* a full-model file's weights load too (descending into model_weights) */
    CHECK_OK(px_model_load_weights(b, path));
    /* a weight whose shape does not match: error naming both shapes; nothing changes */
    px_model *c = px_sequential((px_layer *[]){px_dense_ex(9, &(px_dense_options){.activation = PX_RELU, .input_shape = PX_SHAPE(4)}),
                                               px_dropout_layer(0.25f), px_dense(3, PX_SOFTMAX), NULL});
    px_tensor *before = px_model_predict(c, x, &silent);
    CHECK(px_model_load_weights(c, wpath) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("dense");
    CHECK_ERROR_HAS("kernel");
    CHECK_ERROR_HAS("(4, 8)");
    CHECK_ERROR_HAS("(4, 9)");
    px_tensor *after = px_model_predict(c, x, &silent);
    CHECK(px_test_same_tensor(before, after));
    px_tensor_free(before), px_tensor_free(after);
    /* a full model file loaded as a model needs model_config; a weights file has none */
    CHECK(!px_model_load(wpath) && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("weights-only");

    size_t n = 0;
    unsigned char *bytes = px_test_read_file(path, &n);
    CHECK(bytes && n > 2000);
    if (bytes) {
        /* truncated at several points */
        size_t cuts[] = {0, 7, 512, n / 3, n / 2, n - 100};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            write_bytes(bad, bytes, cuts[i]);
            px_model *t = px_model_load(bad);
            CHECK(!t);
            CHECK_ERROR_HAS(bad);
            px_model_free(t);
        }
        /* corrupt bytes: every outcome but a crash is fine; a load that succeeds must give a model */
        for (int round = 0; round < 24; round++) {
            unsigned char *copy = malloc(n);
            memcpy(copy, bytes, n);
            px_rng r = px_rng_seeded((uint64_t)round);
            for (int k = 0; k < 16; k++) copy[px_rng_below(&r, (uint32_t)n)] ^= (unsigned char)(1 + px_rng_below(&r, 255));
            write_bytes(bad, copy, n);
            px_model *t = px_model_load(bad);
            if (!t) CHECK(px_last_status() != PX_OK);
            px_model_free(t);
            free(copy);
        }
        free(bytes);
    }
    write_bytes(bad, (const unsigned char *)"not an HDF5 file at all\n", 24);
    CHECK(!px_model_load(bad) && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS(bad);
    CHECK(px_model_load_weights(b, bad) == PX_ERR_FORMAT);
    CHECK(!px_model_load(px_test_tmp_path("does-not-exist.h5")) && px_last_status() == PX_ERR_IO);

    /* a failed save leaves the previous file as it was */
    px_model *unbuilt = px_sequential((px_layer *[]){px_dense(2, PX_RELU), NULL});
    CHECK(px_model_save(unbuilt, path) != PX_OK);
    CHECK(px_model_save(m, "/nonexistent-dir/x.h5") == PX_ERR_IO);
    CHECK(file_loads_as(path, x, want));
    px_model_free(unbuilt);

    /* model_config naming an unknown layer class, or not JSON at all */
    const char *cfgs[] = {"{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Capsule\", \"config\": {\"name\": \"caps\"}}]}}",
                          "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [}"};
    for (int i = 0; i < 2; i++) {
        px_h5_file *f = NULL;
        CHECK_OK(px_h5_create(bad, &f));
        CHECK_OK(px_h5_write_string_attr(f, "/", "keras_version", "2.15.0", PX_H5_UTF8));
        CHECK_OK(px_h5_write_string_attr(f, "/", "model_config", cfgs[i], PX_H5_ASCII));
        px_h5_close(f);
        CHECK(!px_model_load(bad) && px_last_status() == (i == 0 ? PX_ERR_UNSUPPORTED : PX_ERR_FORMAT));
        CHECK_ERROR_HAS(i == 0 ? "Capsule" : "model_config");
        CHECK_ERROR_HAS(bad);
    }
    px_tensor_free(x), px_tensor_free(want);
    px_model_free(m), px_model_free(b), px_model_free(c);
    remove(wpath), remove(path), remove(bad);
}

/* Runs px_model_load(path) in a forked process with isolation off; true when
 * libhdf5 kills it (the fixture still crashes this libhdf5 in-process). */
static bool crashes_in_process(const char *path, int *sig) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("PX_LOAD_ISOLATION", "0", 1);
        /* the plain signal, not a sanitizer's report and exit(1) */
        signal(SIGSEGV, SIG_DFL), signal(SIGBUS, SIG_DFL);
        alarm(20);
        px_model_free(px_model_load(path));
        _exit(0);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return false;
    *sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    return WIFSIGNALED(st) && WTERMSIG(st) != SIGALRM;
}

/* tests/data/corrupt/h5lexists-segv.h5: fuzz_model's seed (a Plexus Sequential
 * save) with one byte changed (offset 841, 0xff -> 0xd8); libhdf5 1.10.8 SEGVs in
 * H5F__accum_read under H5Lexists. Isolated, it is a clean PX_ERR_FORMAT. */
static void test_isolation_crash(void) {
    const char *path = px_test_data("corrupt/h5lexists-segv.h5");
    int sig = 0;
    bool crashes = crashes_in_process(path, &sig);
    if (!crashes) printf("note: %s no longer crashes libhdf5 in-process (signal %d)\n", path, sig);
    px_model *m = px_model_load(path);
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS(path);
    if (crashes) {
        char want[64];
        snprintf(want, sizeof want, "libhdf5 crashed (signal %d) reading", sig);
        CHECK_ERROR_HAS(want);
        CHECK_ERROR_HAS("the file is corrupt");
    }
    px_model_free(m);
    /* the weights path is isolated too, and the model keeps its weights */
    px_set_random_seed(31);
    px_model *w = small_sequential();
    px_tensor *x = px_test_random(PX_SHAPE(3, 4), 5), *before = px_model_predict(w, x, &silent);
    CHECK(px_model_load_weights(w, path) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS(path);
    if (crashes) CHECK_ERROR_HAS("libhdf5 crashed");
    px_tensor *after = px_model_predict(w, x, &silent);
    CHECK(px_test_same_tensor(before, after));
    /* a host that ignores SIGCHLD (children reaped by the kernel) still gets
     * results: success from the child's report, a crash as an abnormal end */
    void (*old)(int) = signal(SIGCHLD, SIG_IGN);
    const char *good = px_test_tmp_path("sigchld.h5");
    CHECK_OK(px_model_save(w, good));
    px_model *g = px_model_load(good);
    CHECK_NOT_NULL(g);
    px_model_free(g);
    CHECK(!px_model_load(path) && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS(path);
    signal(SIGCHLD, old);
    remove(good);
    px_tensor_free(x), px_tensor_free(before), px_tensor_free(after);
    px_model_free(w);
}

/* tests/data/corrupt/vlen-attr-hang.h5: the same seed with one byte changed
 * (offset 395, 0x00 -> 0x39): libhdf5 never returns from H5Aread of the vlen
 * model_config. The child is killed after PX_LOAD_TIMEOUT seconds. */
static void test_isolation_timeout(void) {
    const char *path = px_test_data("corrupt/vlen-attr-hang.h5");
    const char *old = getenv("PX_LOAD_TIMEOUT");
    char *saved = old ? strdup(old) : NULL;
    setenv("PX_LOAD_TIMEOUT", "0.5", 1);
    double t0 = px_clock_seconds();
    px_model *m = px_model_load(path);
    double s = px_clock_seconds() - t0;
    CHECK(!m && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS(path);
    CHECK_ERROR_HAS("did not finish reading");
    CHECK_ERROR_HAS("within 0.5 s");
    CHECK(s >= 0.5 && s < 10);
    px_model_free(m);
    if (saved) setenv("PX_LOAD_TIMEOUT", saved, 1);
    else unsetenv("PX_LOAD_TIMEOUT");
    free(saved);
}

/* Isolation changes nothing for files that load or fail ordinarily: the same
 * error texts, the same model, and training resumed from it bit for bit the same. */
static void test_isolation_transparent(void) {
    px_set_random_seed(41);
    px_model *m = small_sequential();
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = px_adam(NULL)}));
    px_tensor *x = px_test_random(PX_SHAPE(24, 4), 6), *y = px_tensor_zeros(PX_SHAPE(24));
    for (int i = 0; i < 24; i++) px_tensor_f32(y)[i] = (float)(i % 3);
    px_dataset *d = px_dataset_new(x, y);
    const px_fit_options fo = {.epochs = 1, .batch_size = 8, .verbose = PX_VERBOSE_SILENT};
    CHECK_OK(px_model_fit(m, d, &fo));
    const char *path = px_test_tmp_path("iso.h5"), *bad = px_test_tmp_path("iso-bad.h5");
    CHECK_OK(px_model_save(m, path));
    px_model *b[2] = {0};
    char err[2][6][1100];
    px_status est[2][6];
    size_t n = 0;
    unsigned char *bytes = px_test_read_file(path, &n);
    for (int iso = 0; iso < 2; iso++) {
        setenv("PX_LOAD_ISOLATION", iso ? "1" : "0", 1);
        px_set_random_seed(99); /* the child's use of the generators must not show here */
        b[iso] = px_model_load(path);
        CHECK_NOT_NULL(b[iso]);
        if (b[iso]) CHECK_OK(px_model_fit(b[iso], d, &fo));
        size_t cuts[] = {7, 512, n / 3, n / 2, n - 100};
        for (int k = 0; k < 5; k++) {
            write_bytes(bad, bytes, cuts[k]);
            px_model *t = px_model_load(bad);
            CHECK(!t);
            px_model_free(t);
            est[iso][k] = px_last_status();
            snprintf(err[iso][k], sizeof err[iso][k], "%s", px_last_error());
        }
        est[iso][5] = px_model_load_weights(m, px_test_tmp_path("missing.h5"));
        snprintf(err[iso][5], sizeof err[iso][5], "%s", px_last_error());
    }
    unsetenv("PX_LOAD_ISOLATION");
    for (int k = 0; k < 6; k++) {
        CHECK(est[0][k] != PX_OK && est[0][k] == est[1][k] && strcmp(err[0][k], err[1][k]) == 0);
        if (strcmp(err[0][k], err[1][k]) != 0) fprintf(stderr, "in-process: %s\nisolated:   %s\n", err[0][k], err[1][k]);
    }
    if (b[0] && b[1]) {
        px_tensor *p0 = px_model_predict(b[0], x, &silent), *p1 = px_model_predict(b[1], x, &silent);
        CHECK(px_test_same_tensor(p0, p1));
        CHECK(px_optimizer_iterations(px_model_optimizer(b[0])) == px_optimizer_iterations(px_model_optimizer(b[1])));
        px_tensor_free(p0), px_tensor_free(p1);
    }
    free(bytes);
    px_model_free(b[0]), px_model_free(b[1]), px_model_free(m);
    px_dataset_free(d);
    remove(path), remove(bad);
}

/* h5py reads the file as Keras would and a NumPy forward pass over its weights
 * gives Plexus's predictions. */
static void test_h5py_check(void) {
    if (access(PYTHON, X_OK) != 0) {
        px_test_skip(PYTHON " is missing (apt-get install -y python3-h5py python3-numpy)");
        return;
    }
    px_set_random_seed(21);
    px_model *m = px_sequential((px_layer *[]){px_dense_ex(6, &(px_dense_options){.activation = PX_TANH, .input_shape = PX_SHAPE(3)}),
                                               px_dense(5, PX_RELU), px_dropout_layer(0.1f), px_dense(4, PX_SOFTMAX), NULL});
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_CATEGORICAL_CROSSENTROPY, .optimizer = px_adam(NULL),
                                                       .metrics = {PX_ACCURACY}}));
    px_tensor *x = px_test_random(PX_SHAPE(7, 3), 4), *y = px_tensor_zeros(PX_SHAPE(7, 4));
    for (int i = 0; i < 7; i++) px_tensor_f32(y)[i * 4 + i % 4] = 1;
    px_dataset *d = px_dataset_new(px_tensor_copy(x), y);
    CHECK_OK(px_model_fit(m, d, &(px_fit_options){.epochs = 1, .batch_size = 4, .verbose = PX_VERBOSE_SILENT}));
    px_tensor *p = px_model_predict(m, x, &silent);
    const char *h5 = px_test_tmp_path("check.h5"), *io = px_test_tmp_path("check.txt"), *out = px_test_tmp_path("check.out");
    CHECK_OK(px_model_save(m, h5));
    FILE *f = fopen(io, "w");
    fprintf(f, "%d %d %d\n", 7, 3, 4);
    for (int i = 0; i < 21; i++) fprintf(f, "%.9g\n", px_tensor_f32(x)[i]);
    for (int i = 0; i < 28; i++) fprintf(f, "%.9g\n", px_tensor_f32(p)[i]);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s '%s' '%s' '%s' > '%s' 2>&1", PYTHON, px_test_data("../scripts/check_model_h5.py"), h5, io, out);
    int rc = system(cmd);
    rc = rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
    size_t n = 0;
    unsigned char *text = px_test_read_file(out, &n);
    if (rc == 3) px_test_skip("the h5py check needs h5py and numpy for " PYTHON);
    else {
        CHECK(rc == 0);
        if (rc != 0 && text) fprintf(stderr, "%.*s\n", (int)n, text);
    }
    free(text);
    px_tensor_free(p), px_tensor_free(x);
    px_dataset_free(d);
    px_model_free(m);
    remove(h5), remove(io), remove(out);
}

int main(void) {
    RUN_TEST(test_to_json_k2_exact);
    RUN_TEST(test_reads_other_spellings);
    RUN_TEST(test_config_errors);
    RUN_TEST(test_sequential_round_trip);
    RUN_TEST(test_functional_round_trip);
    RUN_TEST(test_weights_only_and_bad_files);
    RUN_TEST(test_isolation_crash);
    RUN_TEST(test_isolation_timeout);
    RUN_TEST(test_isolation_transparent);
    RUN_TEST(test_h5py_check);
    return px_test_finish();
}
