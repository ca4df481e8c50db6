/* Pooling layers: MaxPooling2D, AveragePooling2D and the global poolings
 * (GlobalAveragePooling2D/1D, GlobalMaxPooling2D/1D), all channels-last. */
#include <stdlib.h>

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

extern const px_layer_kind px_max_pooling2d_kind, px_average_pooling2d_kind;
const px_layer_kind px_max_pooling2d_kind = {
    .def = {.class_name = "MaxPooling2D", .call = maxpool_call},
    .base_name = "max_pooling2d",
    .state_size = sizeof(pool_state),
};
const px_layer_kind px_average_pooling2d_kind = {
    .def = {.class_name = "AveragePooling2D", .call = avgpool_call},
    .base_name = "average_pooling2d",
    .state_size = sizeof(pool_state),
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

extern const px_layer_kind px_global_average_pooling2d_kind, px_global_max_pooling2d_kind,
    px_global_average_pooling1d_kind, px_global_max_pooling1d_kind;
const px_layer_kind px_global_average_pooling2d_kind = {
    .def = {.class_name = "GlobalAveragePooling2D", .call = gap2_call},
    .base_name = "global_average_pooling2d",
};
const px_layer_kind px_global_max_pooling2d_kind = {
    .def = {.class_name = "GlobalMaxPooling2D", .call = gmp2_call},
    .base_name = "global_max_pooling2d",
};
const px_layer_kind px_global_average_pooling1d_kind = {
    .def = {.class_name = "GlobalAveragePooling1D", .call = gap1_call},
    .base_name = "global_average_pooling1d",
};
const px_layer_kind px_global_max_pooling1d_kind = {
    .def = {.class_name = "GlobalMaxPooling1D", .call = gmp1_call},
    .base_name = "global_max_pooling1d",
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
