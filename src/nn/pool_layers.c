/* Pooling layers: MaxPooling2D/1D, AveragePooling2D/1D and the global poolings
 * (GlobalAveragePooling2D/1D, GlobalMaxPooling2D/1D), all channels-last. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/conv_config.h"
#include "nn/layer_internal.h"

typedef struct pool_state {
    int rank;           /* 1 or 2 spatial axes */
    int pool[2];        /* 1-D: pool[0] */
    px_pool_options o;  /* strides normalised: 0 became the pool size */
} pool_state;

static px_node *pool_call(px_layer *l, px_node *const *in, int n, bool max) {
    (void)n;
    pool_state *s = l->state;
    if (s->rank == 1)
        return max ? px_max_pool1d(in[0], s->pool[0], s->o.strides[0], s->o.padding)
                   : px_avg_pool1d(in[0], s->pool[0], s->o.strides[0], s->o.padding);
    return max ? px_max_pool2d(in[0], s->pool[0], s->pool[1], s->o.strides[0], s->o.strides[1], s->o.padding)
               : px_avg_pool2d(in[0], s->pool[0], s->pool[1], s->o.strides[0], s->o.strides[1], s->o.padding);
}
static px_node *maxpool_call(px_layer *l, px_node *const *in, int n) { return pool_call(l, in, n, true); }
static px_node *avgpool_call(px_layer *l, px_node *const *in, int n) { return pool_call(l, in, n, false); }

/* ---- Keras config: K2 spelling written, K2 and K3 read ---- */

/* Keras 2's keys, in its order: MaxPooling2D / AveragePooling2D write pool_size,
 * padding, strides; the 1-D poolings strides, pool_size, padding. */
static px_status pool_write_config(const px_layer *l, px_json *c) {
    const pool_state *s = l->state;
    px_status st = PX_OK;
    if (s->rank == 1) st = px_cc_set_ints(c, "strides", s->o.strides, 1);
    if (!st) st = px_cc_set_ints(c, "pool_size", s->pool, s->rank);
    if (!st) st = px_lc_set_string(c, "padding", px_cc_padding_name(s->o.padding));
    if (!st && s->rank == 2) st = px_cc_set_ints(c, "strides", s->o.strides, 2);
    if (!st) st = px_lc_set_string(c, "data_format", "channels_last");
    return st;
}

static px_layer *pool_from_config(const px_json *c, int rank, bool max) {
    const char *cls = rank == 1 ? (max ? "MaxPooling1D" : "AveragePooling1D") : (max ? "MaxPooling2D" : "AveragePooling2D");
    int pool[2] = {2, 2}; /* Keras's default pool_size */
    px_pool_options o = {0};
    if (px_cc_get_ints(c, "pool_size", rank, 1, pool) || px_cc_get_ints(c, "strides", rank, 1, o.strides) ||
        px_cc_check_channels_last(c, cls) || px_cc_get_padding(c, cls, false, &o.padding))
        return NULL;
    px_layer *l = rank == 1 ? (max ? px_max_pooling1d(pool[0], &o) : px_average_pooling1d(pool[0], &o))
                            : (max ? px_max_pooling2d(pool[0], pool[1], &o) : px_average_pooling2d(pool[0], pool[1], &o));
    return l ? l : px_cc_config_error(c);
}
static px_layer *maxpool2_from_config(const px_json *c) { return pool_from_config(c, 2, true); }
static px_layer *avgpool2_from_config(const px_json *c) { return pool_from_config(c, 2, false); }
static px_layer *maxpool1_from_config(const px_json *c) { return pool_from_config(c, 1, true); }
static px_layer *avgpool1_from_config(const px_json *c) { return pool_from_config(c, 1, false); }

extern const px_layer_kind px_max_pooling2d_kind, px_average_pooling2d_kind, px_max_pooling1d_kind,
    px_average_pooling1d_kind;
const px_layer_kind px_max_pooling2d_kind = {
    .def = {.class_name = "MaxPooling2D", .call = maxpool_call},
    .base_name = "max_pooling2d",
    .state_size = sizeof(pool_state),
    .write_config = pool_write_config,
    .from_config = maxpool2_from_config,
};
const px_layer_kind px_average_pooling2d_kind = {
    .def = {.class_name = "AveragePooling2D", .call = avgpool_call},
    .base_name = "average_pooling2d",
    .state_size = sizeof(pool_state),
    .write_config = pool_write_config,
    .from_config = avgpool2_from_config,
};
const px_layer_kind px_max_pooling1d_kind = {
    .def = {.class_name = "MaxPooling1D", .call = maxpool_call},
    .base_name = "max_pooling1d",
    .state_size = sizeof(pool_state),
    .write_config = pool_write_config,
    .from_config = maxpool1_from_config,
};
const px_layer_kind px_average_pooling1d_kind = {
    .def = {.class_name = "AveragePooling1D", .call = avgpool_call},
    .base_name = "average_pooling1d",
    .state_size = sizeof(pool_state),
    .write_config = pool_write_config,
    .from_config = avgpool1_from_config,
};

static px_layer *pool_new(const px_layer_kind *kind, int rank, int ph, int pw, const px_pool_options *opts) {
    const char *cls = kind->def.class_name;
    px_pool_options o = opts ? *opts : (px_pool_options){0};
    if (rank == 1) o.strides[1] = 0;
    if (ph <= 0 || pw <= 0 || o.strides[0] < 0 || o.strides[1] < 0) {
        if (rank == 1)
            px_set_error(PX_ERR_ARG, "%s: pool size %d and stride %d must be positive", cls, ph, o.strides[0]);
        else
            px_set_error(PX_ERR_ARG, "%s: pool size (%d, %d) and strides (%d, %d) must be positive", cls, ph, pw,
                         o.strides[0], o.strides[1]);
        return NULL;
    }
    if (o.padding != PX_PADDING_VALID && o.padding != PX_PADDING_SAME) {
        px_set_error(PX_ERR_ARG, "%s: padding %d is not valid or same", cls, (int)o.padding);
        return NULL;
    }
    pool_state *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", cls);
        return NULL;
    }
    s->rank = rank;
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
    return pool_new(&px_max_pooling2d_kind, 2, pool_h, pool_w, opts);
}
px_layer *px_average_pooling2d(int pool_h, int pool_w, const px_pool_options *opts) {
    return pool_new(&px_average_pooling2d_kind, 2, pool_h, pool_w, opts);
}
px_layer *px_max_pooling1d(int pool_size, const px_pool_options *opts) {
    return pool_new(&px_max_pooling1d_kind, 1, pool_size, 1, opts);
}
px_layer *px_average_pooling1d(int pool_size, const px_pool_options *opts) {
    return pool_new(&px_average_pooling1d_kind, 1, pool_size, 1, opts);
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
    if (px_cc_check_channels_last(c, cls) || px_lc_get_bool(c, "keepdims", false, &keepdims)) return false;
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
/* The state of a MaxPooling/AveragePooling layer, or NULL with the error set. */
static const pool_state *pool_of(const px_layer *l, const char *fn) {
    if (l && (l->kind == &px_max_pooling2d_kind || l->kind == &px_average_pooling2d_kind ||
              l->kind == &px_max_pooling1d_kind || l->kind == &px_average_pooling1d_kind))
        return l->state;
    px_set_error(PX_ERR_ARG, "%s: %s is not a MaxPooling or AveragePooling layer", fn, l ? px_layer_class(l) : "NULL");
    return NULL;
}

void px_pool_size(const px_layer *l, int out[2]) {
    const pool_state *s = pool_of(l, "px_pool_size");
    if (!s || !out) {
        if (s) px_set_error(PX_ERR_ARG, "px_pool_size: out is NULL");
        return;
    }
    out[0] = s->pool[0];
    out[1] = s->pool[1];
}
const px_pool_options *px_pool_get_options(const px_layer *l) {
    const pool_state *s = pool_of(l, "px_pool_get_options");
    return s ? &s->o : NULL;
}
