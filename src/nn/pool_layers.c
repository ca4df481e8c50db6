/* Pooling layers: MaxPooling2D, AveragePooling2D and the global poolings
 * (GlobalAveragePooling2D/1D, GlobalMaxPooling2D/1D), all channels-last. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

typedef struct pool_state {
    int pool[2];
    px_pool_options o;  /* strides normalised: 0 became the pool size */
} pool_state;

static px_node *maxpool_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    pool_state *s = l->state;
    return px_max_pool2d(in[0], s->pool[0], s->pool[1], s->o.strides[0], s->o.strides[1], s->o.padding);
}
static px_node *avgpool_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    pool_state *s = l->state;
    return px_avg_pool2d(in[0], s->pool[0], s->pool[1], s->o.strides[0], s->o.strides[1], s->o.padding);
}

/* ---- Keras config: K2 spelling written, K2 and K3 read ---- */

/* Plexus pools channels-last input only; a null data_format is Keras's default. */
static px_status check_channels_last(const px_json *c, const char *cls) {
    const px_json *v = px_json_get(c, "data_format");
    if (!v || px_json_is_null(v)) return PX_OK;
    const char *f = px_json_string(v);
    if (f && strcmp(f, "channels_last") == 0) return PX_OK;
    return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (%s): config key 'data_format' is '%s'; only 'channels_last' is supported",
                        px_lc_name(c), cls, f ? f : px_json_type_name(px_json_typeof(v)));
}

/* pool_size / strides: an int (both axes) or a list of two positive ints;
 * absent or null leaves out[] as it is. */
static px_status get_pair(const px_json *c, const char *key, int *out) {
    const px_json *v = px_json_get(c, key);
    if (!v || px_json_is_null(v)) return PX_OK;
    bool list = px_json_is_array(v);
    if (list && px_json_len(v) != 2)
        return px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' has %zu entries; it needs 2", px_lc_name(c), key,
                            px_json_len(v));
    for (int i = 0; i < 2; i++) {
        const px_json *e = list ? px_json_at(v, (size_t)i) : v;
        if (!px_json_is_integer(e) || px_json_int(e) <= 0 || px_json_int(e) > INT32_MAX)
            return px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' should be a positive integer or a list of 2",
                                px_lc_name(c), key);
        out[i] = (int)px_json_int(e);
    }
    return PX_OK;
}

/* Keras 2's MaxPooling2D / AveragePooling2D keys, in its order. */
static px_status pool_write_config(const px_layer *l, px_json *c) {
    const pool_state *s = l->state;
    px_status st = px_lc_set_shape(c, "pool_size", PX_SHAPE(s->pool[0], s->pool[1]), false);
    if (!st) st = px_lc_set_string(c, "padding", s->o.padding == PX_PADDING_SAME ? "same" : "valid");
    if (!st) st = px_lc_set_shape(c, "strides", PX_SHAPE(s->o.strides[0], s->o.strides[1]), false);
    if (!st) st = px_lc_set_string(c, "data_format", "channels_last");
    return st;
}

static px_layer *pool_from_config(const px_json *c, bool max) {
    const char *cls = max ? "MaxPooling2D" : "AveragePooling2D";
    int pool[2] = {2, 2}; /* Keras's default pool_size */
    px_pool_options o = {0};
    if (get_pair(c, "pool_size", pool) || get_pair(c, "strides", o.strides) || check_channels_last(c, cls))
        return NULL;
    const char *p = px_json_get_string(c, "padding", "valid");
    if (strcmp(p, "same") == 0) o.padding = PX_PADDING_SAME;
    else if (strcmp(p, "valid") != 0) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (%s): config key 'padding' is '%s'; only 'valid' and 'same' are supported",
                     px_lc_name(c), cls, p);
        return NULL;
    }
    return max ? px_max_pooling2d(pool[0], pool[1], &o) : px_average_pooling2d(pool[0], pool[1], &o);
}
static px_layer *maxpool_from_config(const px_json *c) { return pool_from_config(c, true); }
static px_layer *avgpool_from_config(const px_json *c) { return pool_from_config(c, false); }

extern const px_layer_kind px_max_pooling2d_kind, px_average_pooling2d_kind;
const px_layer_kind px_max_pooling2d_kind = {
    .def = {.class_name = "MaxPooling2D", .call = maxpool_call},
    .base_name = "max_pooling2d",
    .state_size = sizeof(pool_state),
    .write_config = pool_write_config,
    .from_config = maxpool_from_config,
};
const px_layer_kind px_average_pooling2d_kind = {
    .def = {.class_name = "AveragePooling2D", .call = avgpool_call},
    .base_name = "average_pooling2d",
    .state_size = sizeof(pool_state),
    .write_config = pool_write_config,
    .from_config = avgpool_from_config,
};

static px_layer *pool_new(const px_layer_kind *kind, int ph, int pw, const px_pool_options *opts) {
    const char *cls = kind->def.class_name;
    px_pool_options o = opts ? *opts : (px_pool_options){0};
    if (ph <= 0 || pw <= 0 || o.strides[0] < 0 || o.strides[1] < 0) {
        px_set_error(PX_ERR_ARG, "%s: pool size (%d, %d) and strides (%d, %d) must be positive", cls, ph, pw,
                     o.strides[0], o.strides[1]);
        return NULL;
    }
    if (o.padding != PX_PADDING_VALID && o.padding != PX_PADDING_SAME) {
        px_set_error(PX_ERR_ARG, "%s: unknown padding %d", cls, (int)o.padding);
        return NULL;
    }
    pool_state *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", cls);
        return NULL;
    }
    s->pool[0] = ph;
    s->pool[1] = pw;
    if (o.strides[0] == 0) o.strides[0] = ph;
    if (o.strides[1] == 0) o.strides[1] = pw;
    s->o = o;
    s->o.name = NULL;
    px_layer *l = px_layer_new_kind(kind, s, o.name);
    if (l && o.input_shape.rank > 0) {
        l->input_shape = o.input_shape;
        l->has_input_shape = true;
    }
    return l;
}

px_layer *px_max_pooling2d(int pool_h, int pool_w, const px_pool_options *opts) {
    return pool_new(&px_max_pooling2d_kind, pool_h, pool_w, opts);
}
px_layer *px_average_pooling2d(int pool_h, int pool_w, const px_pool_options *opts) {
    return pool_new(&px_average_pooling2d_kind, pool_h, pool_w, opts);
}

/* ---- global poolings: no configuration beyond the class ---- */
static px_node *gap2_call(px_layer *l, px_node *const *in, int n) {
    (void)l, (void)n;
    return px_global_avg_pool2d(in[0]);
}
static px_node *gmp2_call(px_layer *l, px_node *const *in, int n) {
    (void)l, (void)n;
    return px_global_max_pool2d(in[0]);
}
static px_node *gap1_call(px_layer *l, px_node *const *in, int n) {
    (void)l, (void)n;
    return px_global_avg_pool1d(in[0]);
}
static px_node *gmp1_call(px_layer *l, px_node *const *in, int n) {
    (void)l, (void)n;
    return px_global_max_pool1d(in[0]);
}

/* data_format and keepdims (K2.6+ and K3): Plexus drops the pooled axes. */
static px_status global_write_config(const px_layer *l, px_json *c) {
    (void)l;
    px_status st = px_lc_set_string(c, "data_format", "channels_last");
    if (!st) st = px_lc_set_bool(c, "keepdims", false);
    return st;
}
static bool global_config_ok(const px_json *c, const char *cls) {
    bool keepdims = false;
    if (check_channels_last(c, cls) || px_lc_get_bool(c, "keepdims", false, &keepdims)) return false;
    if (keepdims) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (%s): config key 'keepdims' is true; only false is supported",
                     px_lc_name(c), cls);
        return false;
    }
    return true;
}
static px_layer *gap2_from_config(const px_json *c) {
    return global_config_ok(c, "GlobalAveragePooling2D") ? px_global_average_pooling2d() : NULL;
}
static px_layer *gmp2_from_config(const px_json *c) {
    return global_config_ok(c, "GlobalMaxPooling2D") ? px_global_max_pooling2d() : NULL;
}
static px_layer *gap1_from_config(const px_json *c) {
    return global_config_ok(c, "GlobalAveragePooling1D") ? px_global_average_pooling1d() : NULL;
}
static px_layer *gmp1_from_config(const px_json *c) {
    return global_config_ok(c, "GlobalMaxPooling1D") ? px_global_max_pooling1d() : NULL;
}

extern const px_layer_kind px_global_average_pooling2d_kind, px_global_max_pooling2d_kind,
    px_global_average_pooling1d_kind, px_global_max_pooling1d_kind;
const px_layer_kind px_global_average_pooling2d_kind = {
    .def = {.class_name = "GlobalAveragePooling2D", .call = gap2_call},
    .base_name = "global_average_pooling2d",
    .write_config = global_write_config,
    .from_config = gap2_from_config,
};
const px_layer_kind px_global_max_pooling2d_kind = {
    .def = {.class_name = "GlobalMaxPooling2D", .call = gmp2_call},
    .base_name = "global_max_pooling2d",
    .write_config = global_write_config,
    .from_config = gmp2_from_config,
};
const px_layer_kind px_global_average_pooling1d_kind = {
    .def = {.class_name = "GlobalAveragePooling1D", .call = gap1_call},
    .base_name = "global_average_pooling1d",
    .write_config = global_write_config,
    .from_config = gap1_from_config,
};
const px_layer_kind px_global_max_pooling1d_kind = {
    .def = {.class_name = "GlobalMaxPooling1D", .call = gmp1_call},
    .base_name = "global_max_pooling1d",
    .write_config = global_write_config,
    .from_config = gmp1_from_config,
};

px_layer *px_global_average_pooling2d(void) { return px_layer_new_kind(&px_global_average_pooling2d_kind, NULL, NULL); }
px_layer *px_global_max_pooling2d(void) { return px_layer_new_kind(&px_global_max_pooling2d_kind, NULL, NULL); }
px_layer *px_global_average_pooling1d(void) { return px_layer_new_kind(&px_global_average_pooling1d_kind, NULL, NULL); }
px_layer *px_global_max_pooling1d(void) { return px_layer_new_kind(&px_global_max_pooling1d_kind, NULL, NULL); }

/* Accessors for the model-file code. */
void px_pool_size(const px_layer *l, int out[2]) {
    const pool_state *s = l->state;
    out[0] = s->pool[0];
    out[1] = s->pool[1];
}
const px_pool_options *px_pool_get_options(const px_layer *l) { return &((const pool_state *)l->state)->o; }
