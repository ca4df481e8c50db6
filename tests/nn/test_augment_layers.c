/* The augmentation layers (src/nn/augment_layers.c) in models: the identity
 * in predict and evaluate, active in fit, the same run twice with one seed,
 * Keras's config keys written and read (Keras 2 and 3 spellings), saved and
 * loaded, and their argument errors. */
#include <stdlib.h>
#include <string.h>

#include "layer_config_check.h"
#include "px_test.h"

/* A one-layer model of 6 x 5 x 3 images; the layer is named 'odd'. */
static px_model *one(const char *cls, const char *config) {
    char buf[2048];
    snprintf(buf, sizeof buf, "\"name\": \"odd\", %s", config);
    return px_tc_one_layer("[null, 6, 5, 3]", cls, buf);
}
static void refused(const char *cls, const char *config, const char *key) {
    char buf[2048];
    snprintf(buf, sizeof buf, "\"name\": \"odd\", %s", config);
    px_tc_refused("[null, 6, 5, 3]", cls, buf, key);
}

static px_model *model_with(px_layer *aug, px_shape in) {
    return px_sequential((px_layer *[]){px_input_layer(in, NULL), aug, px_flatten(PX_SCALAR), px_dense(3, PX_SOFTMAX), NULL});
}

/* predict gives what the model without the layer gives: the layer is the
 * identity in inference (the crop keeps the input's size here). */
static void test_identity_in_predict(void) {
    px_shape in = PX_SHAPE(6, 6, 3);
    px_layer *layers[] = {
        px_random_flip_layer(PX_FLIP_HORIZONTAL_AND_VERTICAL, NULL),
        px_random_rotation_layer(PX_FACTOR(0.2f), NULL),
        px_random_zoom_layer(PX_FACTOR(0.3f), NULL, NULL),
        px_random_translation_layer(PX_FACTOR(0.2f), PX_FACTOR_PAIR(-0.1f, 0.3f), NULL),
        px_random_crop_layer(6, 6, NULL),
        px_random_contrast_layer(PX_FACTOR(0.4f), 0, 0, NULL),
        px_random_brightness_layer(PX_FACTOR(0.3f), 0, 0, NULL),
    };
    px_tensor *x = px_tensor_random_uniform(PX_SHAPE(5, 6, 6, 3), 0, 255, &(px_rng){3, 5});
    for (size_t k = 0; k < sizeof layers / sizeof layers[0]; k++) {
        CHECK_NOT_NULL(layers[k]);
        px_set_random_seed(17);
        px_model *with = model_with(layers[k], in);
        px_set_random_seed(17);
        px_model *without = px_sequential((px_layer *[]){px_input_layer(in, NULL), px_flatten(PX_SCALAR),
                                                         px_dense(3, PX_SOFTMAX), NULL});
        px_eval_options quiet = {.verbose = PX_VERBOSE_SILENT};
        px_tensor *a = with ? px_model_predict(with, x, &quiet) : NULL, *b = px_model_predict(without, x, &quiet);
        CHECK(a && b && px_tensor_equal(a, b));
        px_tensor_free(a);
        px_tensor_free(b);
        px_model_free(with);
        px_model_free(without);
    }
    px_tensor_free(x);
}

/* fit with an augmentation layer: the same weights from the same seed; other
 * weights than without the layer (it did act in training). */
static px_tensor *train(bool augment, uint64_t seed) {
    px_set_random_seed(seed);
    px_shape in = PX_SHAPE(4, 4, 1);
    px_model *m = augment ? model_with(px_random_rotation_layer(PX_FACTOR(0.25f), NULL), in)
                          : px_sequential((px_layer *[]){px_input_layer(in, NULL), px_flatten(PX_SCALAR),
                                                         px_dense(3, PX_SOFTMAX), NULL});
    px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                              .optimizer = px_sgd(&(px_optimizer_options){.learning_rate = 0.1f})});
    px_tensor *x = px_tensor_random_uniform(PX_SHAPE(20, 4, 4, 1), 0, 1, &(px_rng){8, 1});
    int32_t lab[20];
    for (int i = 0; i < 20; i++) lab[i] = i % 3;
    px_tensor *y = px_tensor_from_int_array(PX_SHAPE(20), lab, 20);
    px_dataset *d = px_dataset_new(x, y);
    px_status st = px_model_fit(m, d, &(px_fit_options){.epochs = 2, .batch_size = 5, .verbose = PX_VERBOSE_SILENT});
    CHECK_OK(st);
    px_tensor **w = NULL;
    int n = 0;
    px_tensor *kernel = NULL;
    if (px_model_get_weights(m, &w, &n) == PX_OK && n > 0) {
        kernel = w[0];
        for (int i = 1; i < n; i++) px_tensor_free(w[i]);
        free(w);
    }
    px_dataset_free(d);
    px_model_free(m);
    return kernel;
}

static void test_training_repeats(void) {
    px_tensor *a = train(true, 5), *b = train(true, 5), *plain = train(false, 5);
    CHECK(a && b && px_tensor_equal(a, b));
    CHECK(a && plain && !px_tensor_equal(a, plain));
    px_tensor_free(a);
    px_tensor_free(b);
    px_tensor_free(plain);
}

/* Keras's keys: a config from each Keras version reads, and writes back as Keras 2 writes it. */
static void test_configs(void) {
    struct {
        const char *cls, *config, *expect;
    } cases[] = {
        {"RandomFlip", "\"mode\": \"horizontal\", \"seed\": null", "\"mode\": \"horizontal\", \"seed\": null"},
        {"RandomRotation", "\"factor\": [-0.1, 0.25], \"fill_mode\": \"constant\", \"fill_value\": 1.5, "
                           "\"interpolation\": \"nearest\", \"seed\": 7, \"data_format\": \"channels_last\"",
         "\"factor\": [-0.1, 0.25], \"fill_mode\": \"constant\", \"fill_value\": 1.5, \"interpolation\": \"nearest\", \"seed\": 7"},
        {"RandomZoom", "\"height_factor\": 0.2, \"width_factor\": null",
         "\"height_factor\": 0.2, \"width_factor\": null, \"fill_mode\": \"reflect\", \"fill_value\": 0.0, "
         "\"interpolation\": \"bilinear\", \"seed\": null"},
        {"RandomTranslation", "\"height_factor\": [-0.2, 0.1], \"width_factor\": 0.3, \"fill_mode\": \"wrap\"",
         "\"height_factor\": [-0.2, 0.1], \"width_factor\": 0.3, \"fill_mode\": \"wrap\""},
        {"RandomCrop", "\"height\": 4, \"width\": 3, \"seed\": null", "\"height\": 4, \"width\": 3, \"seed\": null"},
        {"RandomContrast", "\"factor\": 0.5, \"value_range\": [0, 255], \"seed\": null", "\"factor\": 0.5, \"seed\": null"},
        {"RandomContrast", "\"factor\": [0.2, 0.6], \"value_range\": [0, 1]", "\"factor\": [0.2, 0.6], \"value_range\": [0.0, 1.0]"},
        {"RandomBrightness", "\"factor\": 0.2", "\"factor\": 0.2, \"value_range\": [0.0, 255.0], \"seed\": null"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        px_model *m = one(cases[k].cls, cases[k].config);
        CHECK_NOT_NULL(m);
        if (!m) continue;
        char *json = NULL;
        CHECK_OK(px_model_to_json(m, &json));
        if (json && !strstr(json, cases[k].expect)) {
            px_test_fail(__FILE__, __LINE__, "%s: '%s' not in %s", cases[k].cls, cases[k].expect, json);
        }
        free(json);
        px_tc_round_trip(m, PX_SHAPE(2, 6, 5, 3), 0, cases[k].cls);
    }
    /* RandomCrop's output shape follows its size */
    px_model *m = one("RandomCrop", "\"height\": 4, \"width\": 3");
    CHECK(m && px_node_shape(px_model_output(m, 0)).dim[1] == 4 && px_node_shape(px_model_output(m, 0)).dim[2] == 3);
    px_model_free(m);
    /* wrong values are named */
    refused("RandomFlip", "\"mode\": \"diagonal\"", "mode");
    refused("RandomRotation", "\"factor\": 0.1, \"fill_mode\": \"mirror\"", "fill_mode");
    refused("RandomZoom", "\"height_factor\": 0.1, \"data_format\": \"channels_first\"",
                  "data_format");
    CHECK(one("RandomZoom", "\"height_factor\": 2.0") == NULL);
    CHECK(one("RandomRotation", "\"factor\": \"big\"") == NULL);
    CHECK_ERROR_HAS("factor");
    CHECK(one("RandomCrop", "\"height\": 4") == NULL);
    CHECK_ERROR_HAS("width");
    CHECK(px_tc_one_layer("[null, 30]", "RandomFlip", "\"name\": \"odd\", \"mode\": \"horizontal\"") == NULL);
    CHECK_ERROR_HAS("(batch, height, width, channels)");
}

static void test_arguments(void) {
    CHECK(px_random_flip_layer((px_flip_mode)5, NULL) == NULL);
    CHECK(px_random_zoom_layer(PX_FACTOR(1.5f), NULL, NULL) == NULL);
    CHECK(px_random_translation_layer(PX_FACTOR(0.1f), PX_FACTOR_PAIR(-2, 0), NULL) == NULL);
    CHECK(px_random_crop_layer(0, 4, NULL) == NULL);
    CHECK(px_random_contrast_layer(PX_FACTOR(-0.1f), 0, 0, NULL) == NULL);
    CHECK(px_random_contrast_layer(PX_FACTOR(0.1f), 1, 0, NULL) == NULL);
    CHECK(px_random_brightness_layer(PX_FACTOR(1.5f), 0, 0, NULL) == NULL);
    CHECK(px_random_rotation_layer(PX_FACTOR(NAN), NULL) == NULL);
    CHECK(px_random_rotation_layer(PX_FACTOR(0.1f), &(px_augment_options){.fill_value = INFINITY}) == NULL);
}

int main(void) {
    RUN_TEST(test_identity_in_predict);
    RUN_TEST(test_training_repeats);
    RUN_TEST(test_configs);
    RUN_TEST(test_arguments);
    return px_test_finish();
}
