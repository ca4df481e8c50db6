/* User-defined layers in model files (Keras's custom_objects): get_config writes them,
 * px_layer_register reads them back, in .h5, .keras and JSON, Keras 3's
 * registered_name included; without a registration the load names the class. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexus/model_io.h"
#include "px_test.h"

static const px_eval_options silent = {.verbose = PX_VERBOSE_SILENT};

/* MyScale: y = alpha * x + offset, offset a trainable weight over the last axis. */
typedef struct scale_state {
    float alpha;
} scale_state;

static px_status scale_build(px_layer *self, const px_shape *in, int n) {
    (void)n;
    px_initializer ones = {.kind = PX_INIT_ONES};
    return px_layer_add_weight(self, "offset", PX_SHAPE(in[0].dim[in[0].rank - 1]), ones, (px_regularizer){0}, true)
               ? PX_OK
               : px_last_status();
}

static px_node *scale_call(px_layer *self, px_node *const *in, int n) {
    (void)n;
    const scale_state *s = px_layer_state(self);
    return px_add(px_scale(in[0], s->alpha), px_layer_weight(self, 0));
}

static void *scale_clone(const void *state) {
    scale_state *c = malloc(sizeof *c);
    if (c) *c = *(const scale_state *)state;
    return c;
}

static px_status scale_get_config(const px_layer *self, px_layer_config *c) {
    const scale_state *s = px_layer_state(self);
    return px_config_set_float(c, "alpha", s->alpha);
}

static const px_layer_def scale_def = {.class_name = "MyScale", .build = scale_build, .call = scale_call,
                                       .destroy = free, .clone_state = scale_clone, .get_config = scale_get_config};
static const px_layer_def bare_def = {.class_name = "Bare", .build = scale_build, .call = scale_call,
                                      .destroy = free, .clone_state = scale_clone};

static px_layer *my_scale(float alpha, const px_layer_def *def) {
    scale_state *s = malloc(sizeof *s);
    if (!s) return NULL;
    s->alpha = alpha;
    return px_layer_new(def, s, NULL);
}

static int from_config_calls;
static px_layer *scale_from_config(const px_layer_config *c) {
    double alpha;
    if (px_config_get_float(c, "alpha", 1.0, &alpha)) return NULL;
    from_config_calls++;
    return my_scale((float)alpha, &scale_def);
}

static px_model *model_with(const px_layer_def *def) {
    px_set_random_seed(4);
    return px_sequential((px_layer *[]){px_dense_ex(3, &(px_dense_options){.activation = PX_TANH, .input_shape = PX_SHAPE(2)}),
                                        my_scale(2.5f, def), px_dense(2, PX_SOFTMAX), NULL});
}

static void test_round_trips(void) {
    px_model *m = model_with(&scale_def);
    CHECK_NOT_NULL(m);
    if (!m) return;
    CHECK_OK(px_model_compile(m, &(px_compile_options){.loss = PX_CATEGORICAL_CROSSENTROPY, .optimizer = px_adam(NULL)}));
    px_tensor *x = px_tensor_zeros(PX_SHAPE(4, 2)), *y = px_tensor_zeros(PX_SHAPE(4, 2));
    for (int i = 0; i < 8; i++) px_tensor_f32(x)[i] = 0.3f * (float)(i % 5) - 0.5f;
    for (int i = 0; i < 4; i++) px_tensor_f32(y)[i * 2 + i % 2] = 1;
    px_fit_options fo = {.epochs = 3, .batch_size = 2, .verbose = PX_VERBOSE_SILENT};
    CHECK_OK(px_model_fit_arrays(m, &(px_arrays){.x = &x, .n_x = 1, .y = &y, .n_y = 1}, &fo));
    px_tensor *p = px_model_predict(m, x, &silent);
    char *json = NULL;
    CHECK_OK(px_model_to_json(m, &json));
    CHECK(json && strstr(json, "{\"class_name\": \"MyScale\", \"config\": {\"name\": \"my_scale\", \"trainable\": true, "
                               "\"dtype\": \"float32\", \"alpha\": 2.5}}"));
    CHECK_OK(px_layer_register("MyScale", scale_from_config));
    char h5[256], keras[256];
    snprintf(h5, sizeof h5, "/tmp/px_custom_%d.h5", (int)getpid());
    snprintf(keras, sizeof keras, "/tmp/px_custom_%d.keras", (int)getpid());
    const char *files[] = {h5, keras};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(px_model_save(m, files[i]));
        from_config_calls = 0;
        px_model *l = px_model_load(files[i]);
        CHECK_NOT_NULL(l);
        CHECK(from_config_calls >= 1);
        if (!l) continue;
        px_tensor *q = px_model_predict(l, x, &silent);
        CHECK(px_test_same_tensor(p, q));
        px_tensor_free(q);
        px_model_free(l);
    }
    /* JSON too, and without the registration the load names the class and the remedy */
    px_model *j = json ? px_model_from_json(json, strlen(json)) : NULL;
    CHECK_NOT_NULL(j);
    px_model_free(j);
    CHECK_OK(px_layer_register("MyScale", NULL));
    for (int i = 0; i < 2; i++) {
        CHECK(px_model_load(files[i]) == NULL && px_last_status() == PX_ERR_UNSUPPORTED);
        CHECK_ERROR_HAS("MyScale");
        CHECK_ERROR_HAS("px_layer_register");
        remove(files[i]);
    }
    free(json);
    px_tensor_free(p), px_tensor_free(x), px_tensor_free(y);
    px_model_free(m);
}

/* A layer without get_config cannot go into a model config, but its weights save. */
static void test_without_get_config(void) {
    px_model *m = model_with(&bare_def);
    CHECK_NOT_NULL(m);
    if (!m) return;
    char path[256];
    snprintf(path, sizeof path, "/tmp/px_bare_%d.keras", (int)getpid());
    CHECK(px_model_save(m, path) == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("get_config");
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "/tmp/px_bare_%d.weights.h5", (int)getpid());
    CHECK_OK(px_model_save_weights(m, path));
    CHECK_OK(px_model_load_weights(m, path));
    remove(path);
    px_model_free(m);
}

/* Keras 3 writes a registered class with its package in registered_name; a registered
 * class also takes precedence over a built-in one of the same name, as in Keras. */
static void test_registered_name(void) {
    static const char *k3 =
        "{\"module\": \"keras\", \"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"trainable\": true, "
        "\"layers\": [{\"module\": \"keras.layers\", \"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 3], "
        "\"dtype\": \"float32\", \"sparse\": false, \"name\": \"input_layer\"}, \"registered_name\": null}, "
        "{\"module\": \"my_project.layers\", \"class_name\": \"ScaleLayer\", \"config\": {\"name\": \"scale\", "
        "\"trainable\": true, \"dtype\": {\"module\": \"keras\", \"class_name\": \"DTypePolicy\", \"config\": "
        "{\"name\": \"float32\"}, \"registered_name\": null}, \"alpha\": -1.5}, \"registered_name\": \"my_project>MyScale\", "
        "\"build_config\": {\"input_shape\": [null, 3]}}]}, \"registered_name\": null}";
    CHECK(px_model_from_json(k3, strlen(k3)) == NULL && px_last_status() == PX_ERR_UNSUPPORTED);
    CHECK_ERROR_HAS("my_project>MyScale");
    CHECK_OK(px_layer_register("MyScale", scale_from_config));
    px_model *m = px_model_from_json(k3, strlen(k3));
    CHECK_NOT_NULL(m);
    if (m) {
        px_tensor *x = px_tensor_zeros(PX_SHAPE(1, 3));
        px_tensor_f32(x)[0] = 2;
        px_tensor *y = px_model_predict(m, x, &silent);
        /* -1.5 * x + 1 (the offset starts at ones) */
        CHECK(y && px_tensor_f32(y)[0] == -2.0f && px_tensor_f32(y)[1] == 1.0f);
        px_tensor_free(x), px_tensor_free(y);
    }
    px_model_free(m);
    /* precedence over Plexus's own Dense */
    CHECK_OK(px_layer_register("Dense", scale_from_config));
    from_config_calls = 0;
    px_model *d = px_sequential((px_layer *[]){px_dense_ex(3, &(px_dense_options){.input_shape = PX_SHAPE(3)}), NULL});
    char *json = NULL;
    CHECK_OK(px_model_to_json(d, &json));
    px_model *e = json ? px_model_from_json(json, strlen(json)) : NULL;
    CHECK(e && from_config_calls == 1 && strcmp(px_layer_class(px_model_layer(e, 0)), "MyScale") == 0);
    px_model_free(e), px_model_free(d);
    free(json);
    CHECK_OK(px_layer_register("Dense", NULL));
    CHECK_OK(px_layer_register("MyScale", NULL));
}

int main(void) {
    RUN_TEST(test_round_trips);
    RUN_TEST(test_without_get_config);
    RUN_TEST(test_registered_name);
    return px_test_finish();
}
