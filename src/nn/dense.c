/* The Dense layer: y = activation(x @ kernel + bias), kernel stored (in, units) as Keras does. */
#include <stdint.h>
#include <stdlib.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

typedef struct dense_state {
    int units;
    px_dense_options o;
} dense_state;

static px_status dense_build(px_layer *l, const px_shape *in, int n) {
    dense_state *s = l->state;
    if (n != 1) return px_set_error(PX_ERR_ARG, "layer '%s' (Dense): takes one input, got %d", px_layer_name(l), n);
    if (in[0].rank < 2 || in[0].dim[in[0].rank - 1] <= 0) {
        char sb[96];
        return px_set_error(PX_ERR_SHAPE, "layer '%s' (Dense): input shape %s needs a known last axis (add a Flatten before it?)",
                            px_layer_name(l), px_shape_format(in[0], sb, sizeof sb));
    }
    int64_t fan_in = in[0].dim[in[0].rank - 1];
    return px_layer_add_kernel_bias(l, PX_SHAPE(fan_in, s->units), s->units, s->o.kernel_initializer,
                                    s->o.kernel_regularizer, s->o.no_bias, s->o.bias_initializer,
                                    s->o.bias_regularizer);
}

static px_node *dense_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    dense_state *s = l->state;
    px_activation a = s->o.activation;
    px_node *bias = s->o.no_bias ? NULL : px_layer_weight(l, 1);
    /* relu and tanh run inside the fused op. Sigmoid stays its own node, as
     * softmax and the rest do: the cross-entropy losses look for that node to
     * work from the logits (src/train/losses.c). */
    bool fused = a == PX_LINEAR || a == PX_RELU || a == PX_TANH;
    px_node *y = px_dense_op(in[0], px_layer_weight(l, 0), bias, fused ? a : PX_LINEAR);
    return fused ? y : px_activate(y, a);
}

/* Keras 2's Dense config keys, in its order. */
static px_status dense_write_config(const px_layer *l, px_json *c) {
    const dense_state *s = l->state;
    px_status st = px_lc_set_int(c, "units", s->units);
    if (!st) st = px_lc_set_activation(c, "activation", s->o.activation);
    if (!st) st = px_lc_set_bool(c, "use_bias", !s->o.no_bias);
    if (!st) st = px_lc_set_kernel_bias(c, s->o.kernel_initializer, s->o.bias_initializer, s->o.kernel_regularizer,
                                       s->o.bias_regularizer);
    return st;
}

static px_layer *dense_from_config(const px_json *c) {
    int64_t units = 0;
    bool use_bias = true;
    px_dense_options o = {0};
    if (px_lc_get_int(c, "units", true, &units) || px_lc_get_activation(c, "activation", &o.activation) ||
        px_lc_get_bool(c, "use_bias", false, &use_bias) ||
        px_lc_get_kernel_bias(c, &o.kernel_initializer, &o.bias_initializer, &o.kernel_regularizer,
                              &o.bias_regularizer))
        return NULL;
    if (units <= 0 || units > INT32_MAX) {
        px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'units' is %lld; it must be from 1 to %d", px_lc_name(c),
                     (long long)units, INT32_MAX);
        return NULL;
    }
    o.no_bias = !use_bias;
    return px_dense_ex((int)units, &o);
}

extern const px_layer_kind px_dense_kind;
const px_layer_kind px_dense_kind = {
    .def = {.class_name = "Dense", .build = dense_build, .call = dense_call},
    .base_name = "dense",
    .state_size = sizeof(dense_state),
    .write_config = dense_write_config,
    .from_config = dense_from_config,
    .mask_mode = PX_MASK_PASS,
};

px_layer *px_dense_ex(int units, const px_dense_options *opts) {
    if (units <= 0) {
        px_set_error(PX_ERR_ARG, "Dense: units must be positive, got %d", units);
        return NULL;
    }
    if (opts && (unsigned)opts->activation >= PX_ACTIVATION_COUNT) {
        px_set_error(PX_ERR_ARG, "Dense: unknown activation %d", (int)opts->activation);
        return NULL;
    }
    dense_state *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "Dense: out of memory");
        return NULL;
    }
    s->units = units;
    if (opts) s->o = *opts;
    s->o.name = NULL; /* the layer keeps its own copy of the name */
    px_layer *l = px_layer_new_kind(&px_dense_kind, s, opts ? opts->name : NULL);
    if (l && opts && opts->input_shape.rank > 0) {
        l->input_shape = opts->input_shape;
        l->has_input_shape = true;
    }
    return l;
}

px_layer *px_dense(int units, px_activation activation) {
    return px_dense_ex(units, &(px_dense_options){.activation = activation});
}

