/* The activation layers with their own options: ReLU (max_value,
 * negative_slope, threshold), LeakyReLU, PReLU (a learned slope), ELU and
 * Softmax (axis), with Keras's config keys. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

/* ---- ReLU ---- */
typedef struct relu_state {
    px_relu_options o;
} relu_state;
static px_node *relu_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    const px_relu_options *o = &((relu_state *)l->state)->o;
    if (o->max_value == 0 && o->negative_slope == 0 && o->threshold == 0) return px_relu(in[0]);
    if (o->max_value == 6 && o->negative_slope == 0 && o->threshold == 0) return px_relu6(in[0]);
    return px_relu_ex(in[0], o->negative_slope, o->max_value > 0 ? o->max_value : INFINITY, o->threshold);
}
static px_status relu_write_config(const px_layer *l, px_json *c) {
    const px_relu_options *o = &((const relu_state *)l->state)->o;
    px_status st = o->max_value > 0 ? px_lc_set_float(c, "max_value", o->max_value) : px_lc_set_null(c, "max_value");
    if (!st) st = px_lc_set_float(c, "negative_slope", o->negative_slope);
    if (!st) st = px_lc_set_float(c, "threshold", o->threshold);
    return st;
}
static px_layer *relu_from_config(const px_json *c) {
    px_relu_options o = {0};
    const px_json *mv = px_json_get(c, "max_value");
    if ((mv && !px_json_is_null(mv) && px_lc_get_float(c, "max_value", true, &o.max_value)) ||
        px_lc_get_float(c, "negative_slope", false, &o.negative_slope) ||
        px_lc_get_float(c, "threshold", false, &o.threshold))
        return NULL;
    if (mv && !px_json_is_null(mv) && o.max_value <= 0) {
        /* max_value 0 makes every output 0: nobody means that; Keras refuses < 0 */
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (ReLU): config key 'max_value' is %g; it must be positive or null",
                     px_lc_name(c), o.max_value);
        return NULL;
    }
    return px_relu_layer(&o);
}
const px_layer_kind px_relu_kind = {
    .def = {.class_name = "ReLU", .call = relu_call},
    .base_name = "re_lu",
    .state_size = sizeof(relu_state),
    .write_config = relu_write_config,
    .from_config = relu_from_config,
    .mask_mode = PX_MASK_PASS,
};
px_layer *px_relu_layer(const px_relu_options *opts) {
    relu_state s = {0};
    if (opts) s.o = *opts;
    if (!(s.o.max_value >= 0) || isinf(s.o.max_value) || isnan(s.o.negative_slope) || isnan(s.o.threshold) ||
        s.o.negative_slope < 0) {
        px_set_error(PX_ERR_ARG, "ReLU: max_value %g (0: none) and negative_slope %g must be >= 0 and finite",
                     s.o.max_value, s.o.negative_slope);
        return NULL;
    }
    return px_layer_new_kind_copy(&px_relu_kind, &s, sizeof s);
}

/* ---- LeakyReLU and ELU: one float (alpha) each ---- */
typedef struct alpha_state {
    float alpha;
} alpha_state;
static px_node *leaky_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    return px_leaky_relu(in[0], ((alpha_state *)l->state)->alpha);
}
static px_node *elu_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    return px_elu(in[0], ((alpha_state *)l->state)->alpha);
}
static px_status alpha_write_config(const px_layer *l, px_json *c) {
    return px_lc_set_float(c, "alpha", ((const alpha_state *)l->state)->alpha);
}
/* LeakyReLU: Keras 2 "alpha", Keras 3 "negative_slope" (both default 0.3) */
static px_layer *leaky_from_config(const px_json *c) {
    float a = 0.3f;
    if (px_lc_get_float(c, "alpha", false, &a) || px_lc_get_float(c, "negative_slope", false, &a)) return NULL;
    return px_leaky_relu_layer(a);
}
static px_layer *elu_from_config(const px_json *c) {
    float a = 1.0f;
    if (px_lc_get_float(c, "alpha", false, &a)) return NULL;
    return px_elu_layer(a);
}
const px_layer_kind px_leaky_relu_kind = {
    .def = {.class_name = "LeakyReLU", .call = leaky_call},
    .base_name = "leaky_re_lu",
    .state_size = sizeof(alpha_state),
    .write_config = alpha_write_config,
    .from_config = leaky_from_config,
    .mask_mode = PX_MASK_PASS,
};
const px_layer_kind px_elu_kind = {
    .def = {.class_name = "ELU", .call = elu_call},
    .base_name = "elu",
    .state_size = sizeof(alpha_state),
    .write_config = alpha_write_config,
    .from_config = elu_from_config,
    .mask_mode = PX_MASK_PASS,
};
static px_layer *alpha_layer(const px_layer_kind *kind, float alpha) {
    if (!isfinite(alpha)) {
        px_set_error(PX_ERR_ARG, "%s: alpha must be finite, got %g", kind->def.class_name, alpha);
        return NULL;
    }
    alpha_state s = {alpha};
    return px_layer_new_kind_copy(kind, &s, sizeof s);
}
px_layer *px_leaky_relu_layer(float alpha) { return alpha_layer(&px_leaky_relu_kind, alpha); }
px_layer *px_elu_layer(float alpha) { return alpha_layer(&px_elu_kind, alpha); }

/* ---- Softmax ---- */
typedef struct softmax_state {
    int axis;
} softmax_state;
static px_node *softmax_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    return px_softmax(in[0], ((softmax_state *)l->state)->axis);
}
static px_status softmax_write_config(const px_layer *l, px_json *c) {
    return px_lc_set_int(c, "axis", ((const softmax_state *)l->state)->axis);
}
static px_layer *softmax_from_config(const px_json *c) {
    int axis = -1;
    if (px_lc_get_axis(c, "axis", false, &axis)) return NULL;
    return px_softmax_layer(axis);
}
const px_layer_kind px_softmax_layer_kind = {
    .def = {.class_name = "Softmax", .call = softmax_call},
    .base_name = "softmax",
    .state_size = sizeof(softmax_state),
    .write_config = softmax_write_config,
    .from_config = softmax_from_config,
    .mask_mode = PX_MASK_PASS,
};
px_layer *px_softmax_layer(int axis) {
    softmax_state s = {axis};
    return px_layer_new_kind_copy(&px_softmax_layer_kind, &s, sizeof s);
}

/* ---- PReLU: relu(x) - alpha relu(-x), alpha of the input's shape without the
 * batch axis, 1 along the shared axes (as Keras builds it) ---- */
typedef struct prelu_state {
    px_prelu_options o;
} prelu_state;
static px_status prelu_build(px_layer *l, const px_shape *in, int n) {
    const px_prelu_options *o = &((prelu_state *)l->state)->o;
    char sb[96];
    if (n != 1 || in[0].rank < 2)
        return px_set_error(PX_ERR_SHAPE, "layer '%s' (PReLU): needs one input with a batch axis, got %s",
                            px_layer_name(l), n == 1 ? px_shape_format(in[0], sb, sizeof sb) : "several");
    px_shape ps = {.rank = in[0].rank - 1};
    for (int i = 1; i < in[0].rank; i++) ps.dim[i - 1] = in[0].dim[i];
    for (int k = 0; k < o->n_shared_axes; k++) {
        int a = o->shared_axes[k];
        if (a < 0) a += in[0].rank;
        if (a < 1 || a >= in[0].rank)
            return px_set_error(PX_ERR_SHAPE, "layer '%s' (PReLU): shared axis %d is outside input %s (axis 0 is the batch)",
                                px_layer_name(l), o->shared_axes[k], px_shape_format(in[0], sb, sizeof sb));
        ps.dim[a - 1] = 1;
    }
    px_initializer init = o->alpha_initializer;
    if (init.kind == PX_INIT_DEFAULT) init.kind = PX_INIT_ZEROS;
    return px_layer_add_weight(l, "alpha", ps, init, o->alpha_regularizer, true) ? PX_OK : px_last_status();
}
static px_node *prelu_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    return px_sub(px_relu(in[0]), px_mul(l->weights[0], px_relu(px_neg(in[0]))));
}
static px_status prelu_write_config(const px_layer *l, px_json *c) {
    const px_prelu_options *o = &((const prelu_state *)l->state)->o;
    px_status st = px_lc_set_initializer(c, "alpha_initializer", o->alpha_initializer, PX_INIT_ZEROS);
    if (!st) st = px_lc_set_regularizer(c, "alpha_regularizer", o->alpha_regularizer);
    if (!st) st = px_lc_set_null(c, "alpha_constraint");
    if (!st && o->n_shared_axes == 0) st = px_lc_set_null(c, "shared_axes");
    else if (!st) st = px_lc_set_ints(c, "shared_axes", o->shared_axes, o->n_shared_axes);
    return st;
}
static px_layer *prelu_from_config(const px_json *c) {
    px_prelu_options o = {0};
    if (px_lc_get_initializer(c, "alpha_initializer", &o.alpha_initializer) ||
        px_lc_get_regularizer(c, "alpha_regularizer", &o.alpha_regularizer) || px_lc_expect_null(c, "alpha_constraint"))
        return NULL;
    const px_json *sa = px_json_get(c, "shared_axes");
    if (px_json_is_integer(sa)) {
        o.shared_axes[0] = (int)px_json_int(sa);
        o.n_shared_axes = 1;
    } else if (sa && !px_json_is_null(sa)) {
        px_shape s;
        if (px_lc_get_shape(c, "shared_axes", true, false, &s)) return NULL;
        o.n_shared_axes = s.rank;
        for (int i = 0; i < s.rank; i++) o.shared_axes[i] = (int)s.dim[i];
    }
    return px_prelu_layer(&o);
}
const px_layer_kind px_prelu_kind = {
    .def = {.class_name = "PReLU", .build = prelu_build, .call = prelu_call},
    .base_name = "p_re_lu",
    .state_size = sizeof(prelu_state),
    .write_config = prelu_write_config,
    .from_config = prelu_from_config,
    .mask_mode = PX_MASK_PASS,
};
px_layer *px_prelu_layer(const px_prelu_options *opts) {
    prelu_state s = {0};
    if (opts) s.o = *opts;
    if (s.o.n_shared_axes < 0 || s.o.n_shared_axes > PX_MAX_RANK) {
        px_set_error(PX_ERR_ARG, "PReLU: n_shared_axes must be 0..%d, got %d", PX_MAX_RANK, s.o.n_shared_axes);
        return NULL;
    }
    s.o.name = NULL;
    px_layer *l = px_layer_new_kind_copy(&px_prelu_kind, &s, sizeof s);
    if (l && opts && opts->name && px_layer_set_name(l, opts->name)) {
        px_layer_free(l);
        return NULL;
    }
    return l;
}
