/* Regularisation layers that add noise in training and pass the input through
 * in inference: GaussianNoise (additive) and GaussianDropout (multiplicative). */
#include <math.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

typedef struct noise_state {
    float value; /* stddev or rate */
} noise_state;

static px_node *noise_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    return px_gaussian_noise(in[0], ((noise_state *)l->state)->value);
}
static px_node *gdrop_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    return px_gaussian_dropout(in[0], ((noise_state *)l->state)->value);
}
static px_status noise_write_config(const px_layer *l, px_json *c) {
    px_status st = px_lc_set_float(c, "stddev", ((const noise_state *)l->state)->value);
    if (!st) st = px_lc_set_null(c, "seed");
    return st;
}
static px_status gdrop_write_config(const px_layer *l, px_json *c) {
    px_status st = px_lc_set_float(c, "rate", ((const noise_state *)l->state)->value);
    if (!st) st = px_lc_set_null(c, "seed");
    return st;
}
static px_layer *noise_from_config(const px_json *c) {
    float v = 0;
    if (px_lc_get_float(c, "stddev", true, &v)) return NULL;
    return px_gaussian_noise_layer(v);
}
static px_layer *gdrop_from_config(const px_json *c) {
    float v = 0;
    if (px_lc_get_float(c, "rate", true, &v)) return NULL;
    return px_gaussian_dropout_layer(v);
}
const px_layer_kind px_gaussian_noise_kind = {
    .def = {.class_name = "GaussianNoise", .call = noise_call},
    .base_name = "gaussian_noise",
    .state_size = sizeof(noise_state),
    .write_config = noise_write_config,
    .from_config = noise_from_config,
    .mask_mode = PX_MASK_PASS,
};
const px_layer_kind px_gaussian_dropout_kind = {
    .def = {.class_name = "GaussianDropout", .call = gdrop_call},
    .base_name = "gaussian_dropout",
    .state_size = sizeof(noise_state),
    .write_config = gdrop_write_config,
    .from_config = gdrop_from_config,
    .mask_mode = PX_MASK_PASS,
};

px_layer *px_gaussian_noise_layer(float stddev) {
    if (!(stddev >= 0) || isinf(stddev)) {
        px_set_error(PX_ERR_ARG, "GaussianNoise: stddev must be >= 0 and finite, got %g", stddev);
        return NULL;
    }
    noise_state s = {stddev};
    return px_layer_new_kind_copy(&px_gaussian_noise_kind, &s, sizeof s);
}
px_layer *px_gaussian_dropout_layer(float rate) {
    if (!(rate >= 0 && rate < 1)) {
        px_set_error(PX_ERR_ARG, "GaussianDropout: rate must be in [0, 1), got %g", rate);
        return NULL;
    }
    noise_state s = {rate};
    return px_layer_new_kind_copy(&px_gaussian_dropout_kind, &s, sizeof s);
}
