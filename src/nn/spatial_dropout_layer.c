/* SpatialDropout1D / SpatialDropout2D: dropout of whole feature maps (one draw
 * per example and channel) on (batch, steps, channels) or (batch, h, w, channels). */
#include <stdlib.h>

#include "nn/conv_config.h"
#include "nn/layer_internal.h"

typedef struct sdrop_state {
    int rank; /* spatial axes */
    float rate;
} sdrop_state;

static px_node *sdrop_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    const sdrop_state *s = l->state;
    px_shape xs = px_node_shape(in[0]);
    char sb[96];
    if (xs.rank != s->rank + 2) {
        px_set_error(PX_ERR_SHAPE, "layer '%s' (%s): input shape %s must be %s", px_layer_name(l), l->def->class_name,
                     px_shape_format(xs, sb, sizeof sb),
                     s->rank == 2 ? "(batch, height, width, channels)" : "(batch, steps, channels)");
        return NULL;
    }
    return px_spatial_dropout(in[0], s->rate);
}

/* Keras 2 writes Dropout's keys (rate, noise_shape, seed); Keras 3 adds
 * data_format to SpatialDropout2D and drops noise_shape. */
static px_status sdrop_write_config(const px_layer *l, px_json *c) {
    px_status st = px_lc_set_float(c, "rate", ((const sdrop_state *)l->state)->rate);
    if (!st) st = px_lc_set_null(c, "noise_shape");
    if (!st) st = px_lc_set_null(c, "seed");
    return st;
}

static px_layer *sdrop_from_config(const px_json *c, int rank) {
    const char *cls = rank == 1 ? "SpatialDropout1D" : "SpatialDropout2D";
    float rate = 0;
    if (px_lc_get_float(c, "rate", true, &rate) || px_lc_expect_null(c, "noise_shape") ||
        px_cc_check_channels_last(c, cls))
        return NULL;
    px_layer *l = rank == 1 ? px_spatial_dropout1d(rate) : px_spatial_dropout2d(rate);
    return l ? l : px_cc_config_error(c);
}
static px_layer *sdrop1_from_config(const px_json *c) { return sdrop_from_config(c, 1); }
static px_layer *sdrop2_from_config(const px_json *c) { return sdrop_from_config(c, 2); }

extern const px_layer_kind px_spatial_dropout1d_kind, px_spatial_dropout2d_kind;
const px_layer_kind px_spatial_dropout1d_kind = {
    .def = {.class_name = "SpatialDropout1D", .call = sdrop_call},
    .base_name = "spatial_dropout1d",
    .state_size = sizeof(sdrop_state),
    .write_config = sdrop_write_config,
    .from_config = sdrop1_from_config,
};
const px_layer_kind px_spatial_dropout2d_kind = {
    .def = {.class_name = "SpatialDropout2D", .call = sdrop_call},
    .base_name = "spatial_dropout2d",
    .state_size = sizeof(sdrop_state),
    .write_config = sdrop_write_config,
    .from_config = sdrop2_from_config,
};

static px_layer *sdrop_new(const px_layer_kind *kind, int rank, float rate) {
    if (!(rate >= 0 && rate < 1)) {
        px_set_error(PX_ERR_ARG, "%s: rate must be in [0, 1), got %g", kind->def.class_name, rate);
        return NULL;
    }
    sdrop_state *s = malloc(sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", kind->def.class_name);
        return NULL;
    }
    s->rank = rank;
    s->rate = rate;
    return px_layer_new_kind(kind, s, NULL);
}

px_layer *px_spatial_dropout1d(float rate) { return sdrop_new(&px_spatial_dropout1d_kind, 1, rate); }
px_layer *px_spatial_dropout2d(float rate) { return sdrop_new(&px_spatial_dropout2d_kind, 2, rate); }
