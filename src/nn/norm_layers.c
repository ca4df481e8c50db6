/* The BatchNormalization layer: gamma, beta and the non-trainable moving
 * statistics around the fused batch_norm op (which updates them in training). */
#include <stdlib.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

typedef struct bn_state {
    px_batch_norm_options o; /* o.axis as given (0 became -1); resolved against the input at build */
    int axis;                /* the resolved axis, once built */
} bn_state;

static px_initializer or_default(px_initializer i, px_init_kind k) {
    if (i.kind == PX_INIT_DEFAULT) i.kind = k;
    return i;
}

static px_status bn_build(px_layer *l, const px_shape *in, int n) {
    bn_state *s = l->state;
    char sb[96];
    if (n != 1)
        return px_set_error(PX_ERR_ARG, "layer '%s' (BatchNormalization): takes one input, got %d", px_layer_name(l), n);
    int a = s->o.axis < 0 ? s->o.axis + in[0].rank : s->o.axis;
    if (in[0].rank < 2 || a < 1 || a >= in[0].rank)
        return px_set_error(PX_ERR_SHAPE, "layer '%s' (BatchNormalization): axis %d is not a feature axis of input shape %s",
                            px_layer_name(l), s->o.axis, px_shape_format(in[0], sb, sizeof sb));
    if (in[0].dim[a] <= 0)
        return px_set_error(PX_ERR_SHAPE, "layer '%s' (BatchNormalization): input shape %s needs a known size on axis %d",
                            px_layer_name(l), px_shape_format(in[0], sb, sizeof sb), a);
    s->axis = a;
    px_shape c = PX_SHAPE(in[0].dim[a]);
    px_regularizer none = {0};
    if (!s->o.no_scale &&
        !px_layer_add_weight(l, "gamma", c, or_default(s->o.gamma_initializer, PX_INIT_ONES), s->o.gamma_regularizer, true))
        return px_last_status();
    if (!s->o.no_center &&
        !px_layer_add_weight(l, "beta", c, or_default(s->o.beta_initializer, PX_INIT_ZEROS), s->o.beta_regularizer, true))
        return px_last_status();
    if (!px_layer_add_weight(l, "moving_mean", c, or_default(s->o.moving_mean_initializer, PX_INIT_ZEROS), none, false) ||
        !px_layer_add_weight(l, "moving_variance", c, or_default(s->o.moving_variance_initializer, PX_INIT_ONES), none,
                             false))
        return px_last_status();
    return PX_OK;
}

static px_node *bn_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    bn_state *s = l->state;
    int k = 0;
    px_node *gamma = s->o.no_scale ? NULL : l->weights[k++];
    px_node *beta = s->o.no_center ? NULL : l->weights[k++];
    return px_batch_norm_axis(in[0], l->weights[k], l->weights[k + 1], gamma, beta, s->o.momentum, s->o.epsilon,
                              s->axis);
}

/* ---- Keras config: K2 spelling written, K2 and K3 read ---- */

/* Keras 2's BatchNormalization keys, in its order. */
static px_status bn_write_config(const px_layer *l, px_json *c) {
    const bn_state *s = l->state;
    const px_batch_norm_options *o = &s->o;
    px_status st = px_lc_set_int(c, "axis", s->o.axis);
    if (!st) st = px_lc_set_float(c, "momentum", o->momentum);
    if (!st) st = px_lc_set_float(c, "epsilon", o->epsilon);
    if (!st) st = px_lc_set_bool(c, "center", !o->no_center);
    if (!st) st = px_lc_set_bool(c, "scale", !o->no_scale);
    if (!st) st = px_lc_set_initializer(c, "beta_initializer", o->beta_initializer, PX_INIT_ZEROS);
    if (!st) st = px_lc_set_initializer(c, "gamma_initializer", o->gamma_initializer, PX_INIT_ONES);
    if (!st) st = px_lc_set_initializer(c, "moving_mean_initializer", o->moving_mean_initializer, PX_INIT_ZEROS);
    if (!st) st = px_lc_set_initializer(c, "moving_variance_initializer", o->moving_variance_initializer, PX_INIT_ONES);
    if (!st) st = px_lc_set_regularizer(c, "beta_regularizer", o->beta_regularizer);
    if (!st) st = px_lc_set_regularizer(c, "gamma_regularizer", o->gamma_regularizer);
    if (!st) st = px_lc_set_null(c, "beta_constraint");
    if (!st) st = px_lc_set_null(c, "gamma_constraint");
    return st;
}

static px_layer *bn_from_config(const px_json *c) {
    int axis = -1;
    bool center = true, scale = true, renorm = false;
    px_batch_norm_options o = {.momentum = 0.99f, .epsilon = 1e-3f};
    if (px_lc_get_axis(c, "axis", false, &axis) || px_lc_get_float(c, "momentum", false, &o.momentum) ||
        px_lc_get_float(c, "epsilon", false, &o.epsilon) || px_lc_get_bool(c, "center", false, &center) ||
        px_lc_get_bool(c, "scale", false, &scale) || px_lc_get_initializer(c, "beta_initializer", &o.beta_initializer) ||
        px_lc_get_initializer(c, "gamma_initializer", &o.gamma_initializer) ||
        px_lc_get_initializer(c, "moving_mean_initializer", &o.moving_mean_initializer) ||
        px_lc_get_initializer(c, "moving_variance_initializer", &o.moving_variance_initializer) ||
        px_lc_get_regularizer(c, "beta_regularizer", &o.beta_regularizer) ||
        px_lc_get_regularizer(c, "gamma_regularizer", &o.gamma_regularizer) ||
        px_lc_expect_null(c, "beta_constraint") || px_lc_expect_null(c, "gamma_constraint") ||
        px_lc_expect_null(c, "activity_regularizer") || px_lc_get_bool(c, "renorm", false, &renorm) ||
        px_lc_expect_null(c, "virtual_batch_size") || px_lc_expect_null(c, "adjustment"))
        return NULL;
    /* "fused" (K2) and "synchronized" (K3) choose an implementation, not the numbers */
    if (renorm) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (BatchNormalization): config key 'renorm' is true, which Plexus does not support",
                     px_lc_name(c));
        return NULL;
    }
    if (axis == 0) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (BatchNormalization): config key 'axis' is 0, the batch axis",
                     px_lc_name(c));
        return NULL;
    }
    if (!(o.momentum > 0.0f && o.momentum <= 1.0f) || !(o.epsilon > 0.0f)) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (BatchNormalization): config keys 'momentum' %g and 'epsilon' %g: "
                     "momentum must be in (0, 1] and epsilon positive", px_lc_name(c), o.momentum, o.epsilon);
        return NULL;
    }
    o.no_center = !center;
    o.no_scale = !scale;
    o.axis = axis;
    return px_batch_normalization_ex(&o);
}

extern const px_layer_kind px_batch_normalization_kind;
const px_layer_kind px_batch_normalization_kind = {
    .def = {.class_name = "BatchNormalization", .build = bn_build, .call = bn_call},
    .base_name = "batch_normalization",
    .state_size = sizeof(bn_state),
    .write_config = bn_write_config,
    .from_config = bn_from_config,
    .mask_mode = PX_MASK_PASS,
};

px_layer *px_batch_normalization_ex(const px_batch_norm_options *opts) {
    bn_state *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "BatchNormalization: out of memory");
        return NULL;
    }
    if (opts) s->o = *opts;
    if (s->o.momentum == 0.0f) s->o.momentum = 0.99f;
    if (s->o.epsilon == 0.0f) s->o.epsilon = 1e-3f;
    if (s->o.axis == 0) s->o.axis = -1;
    if (!(s->o.momentum > 0.0f && s->o.momentum <= 1.0f) || !(s->o.epsilon > 0.0f)) {
        px_set_error(PX_ERR_ARG, "BatchNormalization: momentum must be in (0, 1] and epsilon positive (got %g, %g)",
                     s->o.momentum, s->o.epsilon);
        free(s);
        return NULL;
    }
    s->o.name = NULL; /* the layer keeps its own copy of the name */
    px_layer *l = px_layer_new_kind(&px_batch_normalization_kind, s, opts ? opts->name : NULL);
    if (l && opts && opts->input_shape.rank > 0) {
        l->input_shape = opts->input_shape;
        l->has_input_shape = true;
    }
    return l;
}

px_layer *px_batch_normalization(void) { return px_batch_normalization_ex(NULL); }
