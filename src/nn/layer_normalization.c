/* LayerNormalization: each example normalised over its trailing axes, with a
 * learned scale (gamma) and offset (beta), in Keras's layout and config keys. */
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

typedef struct ln_state {
    px_layer_norm_options o;
    int k;                 /* trailing axes normalised, set by build */
} ln_state;

static px_status ln_build(px_layer *l, const px_shape *in, int n) {
    ln_state *s = l->state;
    char sb[96];
    if (n != 1) return px_set_error(PX_ERR_ARG, "layer '%s' (LayerNormalization): takes one input, got %d", px_layer_name(l), n);
    const int rank = in[0].rank;
    bool used[PX_MAX_RANK] = {false};
    int lo = rank;
    px_shape ps = {.rank = s->o.n_axes};
    for (int i = 0; i < s->o.n_axes; i++) {
        int a = s->o.axes[i] < 0 ? s->o.axes[i] + rank : s->o.axes[i];
        if (a < 1 || a >= rank || used[a] || in[0].dim[a] <= 0)
            return px_set_error(PX_ERR_SHAPE, "layer '%s' (LayerNormalization): axis %d is not a known axis after the batch "
                                "axis of input %s (or is repeated)", px_layer_name(l), s->o.axes[i],
                                px_shape_format(in[0], sb, sizeof sb));
        used[a] = true;
        if (a < lo) lo = a;
        ps.dim[i] = in[0].dim[a];
    }
    /* the axes must be the trailing ones, in order, for the fused op */
    for (int a = lo; a < rank; a++)
        if (!used[a] || (s->o.n_axes > 1 && (s->o.axes[a - lo] < 0 ? s->o.axes[a - lo] + rank : s->o.axes[a - lo]) != a))
            return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (LayerNormalization): axes must be the last axes of input "
                                "%s in order; others are not supported", px_layer_name(l), px_shape_format(in[0], sb, sizeof sb));
    s->k = s->o.n_axes;
    px_initializer gi = s->o.gamma_initializer, bi = s->o.beta_initializer;
    if (gi.kind == PX_INIT_DEFAULT) gi.kind = PX_INIT_ONES;
    if (bi.kind == PX_INIT_DEFAULT) bi.kind = PX_INIT_ZEROS;
    if (!s->o.no_scale && !px_layer_add_weight(l, "gamma", ps, gi, s->o.gamma_regularizer, true)) return px_last_status();
    if (!s->o.no_center && !px_layer_add_weight(l, "beta", ps, bi, s->o.beta_regularizer, true)) return px_last_status();
    return PX_OK;
}

static px_node *ln_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    const ln_state *s = l->state;
    px_node *gamma = s->o.no_scale ? NULL : l->weights[0];
    px_node *beta = s->o.no_center ? NULL : l->weights[s->o.no_scale ? 0 : 1];
    return px_layer_norm(in[0], gamma, beta, s->k, s->o.epsilon);
}

static px_status ln_write_config(const px_layer *l, px_json *c) {
    const px_layer_norm_options *o = &((const ln_state *)l->state)->o;
    px_status st = o->n_axes == 1 ? px_lc_set_int(c, "axis", o->axes[0]) : px_lc_set_ints(c, "axis", o->axes, o->n_axes);
    if (!st) st = px_lc_set_float(c, "epsilon", o->epsilon);
    if (!st) st = px_lc_set_bool(c, "center", !o->no_center);
    if (!st) st = px_lc_set_bool(c, "scale", !o->no_scale);
    if (!st) st = px_lc_set_initializer(c, "beta_initializer", o->beta_initializer, PX_INIT_ZEROS);
    if (!st) st = px_lc_set_initializer(c, "gamma_initializer", o->gamma_initializer, PX_INIT_ONES);
    if (!st) st = px_lc_set_regularizer(c, "beta_regularizer", o->beta_regularizer);
    if (!st) st = px_lc_set_regularizer(c, "gamma_regularizer", o->gamma_regularizer);
    if (!st) st = px_lc_set_null(c, "beta_constraint");
    if (!st) st = px_lc_set_null(c, "gamma_constraint");
    return st;
}

static px_layer *ln_from_config(const px_json *c) {
    px_layer_norm_options o = {.epsilon = 1e-3f};
    bool center = true, scale = true, rms = false;
    const px_json *ax = px_json_get(c, "axis");
    if (!ax || px_json_is_integer(ax)) {
        o.n_axes = 1;
        o.axes[0] = ax ? (int)px_json_int(ax) : -1;
    } else {
        px_shape s;
        if (px_lc_get_shape(c, "axis", true, false, &s)) return NULL;
        o.n_axes = s.rank;
        for (int i = 0; i < s.rank; i++) o.axes[i] = (int)s.dim[i];
    }
    if (px_lc_get_float(c, "epsilon", false, &o.epsilon) || px_lc_get_bool(c, "center", false, &center) ||
        px_lc_get_bool(c, "scale", false, &scale) || px_lc_get_bool(c, "rms_scaling", false, &rms) ||
        px_lc_get_initializer(c, "beta_initializer", &o.beta_initializer) ||
        px_lc_get_initializer(c, "gamma_initializer", &o.gamma_initializer) ||
        px_lc_get_regularizer(c, "beta_regularizer", &o.beta_regularizer) ||
        px_lc_get_regularizer(c, "gamma_regularizer", &o.gamma_regularizer) ||
        px_lc_expect_null(c, "beta_constraint") || px_lc_expect_null(c, "gamma_constraint"))
        return NULL;
    if (rms) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (LayerNormalization): rms_scaling is not supported", px_lc_name(c));
        return NULL;
    }
    o.no_center = !center;
    o.no_scale = !scale;
    px_layer *l = px_layer_normalization(&o);
    if (!l) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        px_set_error(PX_ERR_FORMAT, "layer '%s': %s", px_lc_name(c), msg);
    }
    return l;
}

const px_layer_kind px_layer_normalization_kind = {
    .def = {.class_name = "LayerNormalization", .build = ln_build, .call = ln_call},
    .base_name = "layer_normalization",
    .state_size = sizeof(ln_state),
    .write_config = ln_write_config,
    .from_config = ln_from_config,
    .mask_mode = PX_MASK_PASS,
};

px_layer *px_layer_normalization(const px_layer_norm_options *opts) {
    ln_state s = {.o = {.epsilon = 1e-3f}};
    if (opts) s.o = *opts;
    if (s.o.n_axes == 0) s.o.n_axes = 1, s.o.axes[0] = -1;
    if (s.o.epsilon == 0) s.o.epsilon = 1e-3f;
    if (s.o.n_axes < 0 || s.o.n_axes >= PX_MAX_RANK || !(s.o.epsilon > 0)) {
        px_set_error(PX_ERR_ARG, "LayerNormalization: %d axes and epsilon %g: need 1..%d axes and a positive epsilon",
                     s.o.n_axes, s.o.epsilon, PX_MAX_RANK - 1);
        return NULL;
    }
    s.o.name = NULL;
    px_layer *l = px_layer_new_kind_copy(&px_layer_normalization_kind, &s, sizeof s);
    if (l && opts && opts->name && px_layer_set_name(l, opts->name)) {
        px_layer_free(l);
        return NULL;
    }
    return l;
}
