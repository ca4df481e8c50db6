/* Layers without weights that reshape or transform their input: InputLayer,
 * Flatten, Activation, Dropout and Reshape. */
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

/* ---- InputLayer: marks the model's input; identity when applied ---- */
static px_node *identity_call(px_layer *l, px_node *const *in, int n) {
    (void)l, (void)n;
    return in[0];
}
/* Keras writes InputLayer's keys itself (no "trainable"); the model-config code
 * writes batch_input_shape, dtype and name around these. */
static px_status input_write_config(const px_layer *l, px_json *c) {
    (void)l;
    px_status st = px_lc_set_bool(c, "sparse", false);
    if (!st) st = px_lc_set_bool(c, "ragged", false);
    return st;
}
static px_layer *input_from_config(const px_json *c) {
    bool flag = false;
    if (px_lc_get_bool(c, "sparse", false, &flag)) return NULL;
    if (!flag && px_lc_get_bool(c, "ragged", false, &flag)) return NULL;
    if (flag) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (InputLayer): sparse or ragged inputs are not supported", px_lc_name(c));
        return NULL;
    }
    px_shape s = PX_SCALAR;
    bool found = px_json_get(c, "batch_input_shape") || px_json_get(c, "batch_shape");
    if (px_lc_get_shape(c, "batch_input_shape", false, true, &s) || px_lc_get_shape(c, "batch_shape", false, true, &s))
        return NULL;
    if (!found && px_lc_get_shape(c, "input_shape", true, false, &s)) return NULL;
    return px_input_layer(s, px_lc_name(c));
}
const px_layer_kind px_input_kind = {
    .def = {.class_name = "InputLayer", .call = identity_call},
    .base_name = "input",
    .write_config = input_write_config,
    .from_config = input_from_config,
};

px_layer *px_input_layer(px_shape shape, const char *name) {
    for (int i = 0; i < shape.rank; i++)
        if (shape.dim[i] <= 0 && shape.dim[i] != PX_UNKNOWN) {
            px_set_error(PX_ERR_ARG, "InputLayer: dimension %d is %lld", i, (long long)shape.dim[i]);
            return NULL;
        }
    px_layer *l = px_layer_new_kind(&px_input_kind, NULL, name);
    if (l) {
        l->input_shape = shape;
        l->has_input_shape = true;
    }
    return l;
}

/* ---- Flatten: (batch, d1, d2, ...) -> (batch, d1*d2*...) ---- */
static px_node *flatten_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    px_shape s = px_node_shape(in[0]);
    int64_t rest = 1;
    for (int i = 1; i < s.rank; i++) {
        if (s.dim[i] < 0) {
            char sb[96];
            px_set_error(PX_ERR_SHAPE, "layer '%s' (Flatten): input %s has an unknown axis besides the batch",
                         px_layer_name(l), px_shape_format(s, sb, sizeof sb));
            return NULL;
        }
        rest *= s.dim[i];
    }
    if (s.rank < 1) {
        px_set_error(PX_ERR_SHAPE, "layer '%s' (Flatten): input needs a batch axis", px_layer_name(l));
        return NULL;
    }
    return px_reshape(in[0], PX_SHAPE(-1, rest));
}
static px_status flatten_write_config(const px_layer *l, px_json *c) {
    (void)l;
    return px_lc_set_string(c, "data_format", "channels_last");
}
static px_layer *flatten_from_config(const px_json *c) {
    const char *fmt = px_json_get_string(c, "data_format", "channels_last");
    if (px_json_get(c, "data_format") && !px_json_is_null(px_json_get(c, "data_format")) &&
        strcmp(fmt, "channels_last") != 0) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (Flatten): data_format '%s' is not supported", px_lc_name(c), fmt);
        return NULL;
    }
    return px_flatten(PX_SCALAR);
}
const px_layer_kind px_flatten_kind = {
    .def = {.class_name = "Flatten", .call = flatten_call},
    .base_name = "flatten",
    .write_config = flatten_write_config,
    .from_config = flatten_from_config,
};

px_layer *px_flatten(px_shape input_shape) {
    px_layer *l = px_layer_new_kind(&px_flatten_kind, NULL, NULL);
    if (l && input_shape.rank > 0) {
        l->input_shape = input_shape;
        l->has_input_shape = true;
    }
    return l;
}

/* ---- Activation ---- */
typedef struct activation_state {
    px_activation a;
} activation_state;
static px_node *activation_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    return px_activate(in[0], ((activation_state *)l->state)->a);
}
static px_status activation_write_config(const px_layer *l, px_json *c) {
    return px_lc_set_activation(c, "activation", ((const activation_state *)l->state)->a);
}
static px_layer *activation_from_config(const px_json *c) {
    px_activation a = PX_LINEAR;
    if (!px_json_get(c, "activation")) {
        px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'activation' is missing", px_lc_name(c));
        return NULL;
    }
    if (px_lc_get_activation(c, "activation", &a)) return NULL;
    return px_activation_layer(a);
}
const px_layer_kind px_activation_kind = {
    .def = {.class_name = "Activation", .call = activation_call},
    .base_name = "activation",
    .state_size = sizeof(activation_state),
    .write_config = activation_write_config,
    .from_config = activation_from_config,
    .mask_mode = PX_MASK_PASS,
};
px_layer *px_activation_layer(px_activation a) {
    if ((unsigned)a >= PX_ACTIVATION_COUNT) {
        px_set_error(PX_ERR_ARG, "Activation: unknown activation %d", (int)a);
        return NULL;
    }
    activation_state *s = malloc(sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "Activation: out of memory");
        return NULL;
    }
    s->a = a;
    return px_layer_new_kind(&px_activation_kind, s, NULL);
}

/* ---- Dropout ---- */
typedef struct dropout_state {
    float rate;
} dropout_state;
static px_node *dropout_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    return px_dropout(in[0], ((dropout_state *)l->state)->rate);
}
static px_status dropout_write_config(const px_layer *l, px_json *c) {
    px_status st = px_lc_set_float(c, "rate", ((const dropout_state *)l->state)->rate);
    if (!st) st = px_lc_set_null(c, "noise_shape");
    if (!st) st = px_lc_set_null(c, "seed");
    return st;
}
static px_layer *dropout_from_config(const px_json *c) {
    float rate = 0;
    if (px_lc_get_float(c, "rate", true, &rate) || px_lc_expect_null(c, "noise_shape")) return NULL;
    if (!(rate >= 0 && rate < 1)) {
        px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'rate' is %g; it must be in [0, 1)", px_lc_name(c), rate);
        return NULL;
    }
    return px_dropout_layer(rate);
}
const px_layer_kind px_dropout_kind = {
    .def = {.class_name = "Dropout", .call = dropout_call},
    .base_name = "dropout",
    .state_size = sizeof(dropout_state),
    .write_config = dropout_write_config,
    .from_config = dropout_from_config,
    .mask_mode = PX_MASK_PASS,
};
px_layer *px_dropout_layer(float rate) {
    if (!(rate >= 0 && rate < 1)) {
        px_set_error(PX_ERR_ARG, "Dropout: rate must be in [0, 1), got %g", rate);
        return NULL;
    }
    dropout_state *s = malloc(sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "Dropout: out of memory");
        return NULL;
    }
    s->rate = rate;
    return px_layer_new_kind(&px_dropout_kind, s, NULL);
}

/* ---- Reshape: target shape excludes the batch axis ---- */
typedef struct reshape_state {
    px_shape target;
} reshape_state;
static px_node *reshape_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    px_shape t = ((reshape_state *)l->state)->target, s = px_node_shape(in[0]);
    char sa[96], sb[96];
    int64_t have = 1, known = 1;
    int infer = -1;
    for (int i = 1; i < s.rank; i++) have *= s.dim[i];
    for (int i = 0; i < t.rank; i++) {
        if (t.dim[i] == -1) infer = i;
        else known *= t.dim[i];
    }
    if (infer >= 0 && known > 0 && have > 0 && have % known == 0) t.dim[infer] = have / known;
    if (have <= 0 || px_shape_size(t) != have) {
        px_set_error(PX_ERR_SHAPE, "layer '%s' (Reshape): cannot reshape %s into (None, %s", px_layer_name(l),
                     px_shape_format(s, sa, sizeof sa), px_shape_format(t, sb, sizeof sb) + 1);
        return NULL;
    }
    px_shape full = {.rank = t.rank + 1};
    full.dim[0] = -1;
    for (int i = 0; i < t.rank; i++) full.dim[i + 1] = t.dim[i];
    return px_reshape(in[0], full);
}
static px_status reshape_write_config(const px_layer *l, px_json *c) {
    return px_lc_set_shape(c, "target_shape", ((const reshape_state *)l->state)->target, false);
}
static px_layer *reshape_from_config(const px_json *c) {
    px_shape t = PX_SCALAR;
    if (px_lc_get_shape(c, "target_shape", true, false, &t)) return NULL;
    px_layer *l = px_reshape_layer(t);
    if (!l) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'target_shape': %s", px_lc_name(c), msg);
    }
    return l;
}
const px_layer_kind px_reshape_kind = {
    .def = {.class_name = "Reshape", .call = reshape_call},
    .base_name = "reshape",
    .state_size = sizeof(reshape_state),
    .write_config = reshape_write_config,
    .from_config = reshape_from_config,
};
px_layer *px_reshape_layer(px_shape target) {
    int unknown = 0;
    for (int i = 0; i < target.rank; i++) {
        if (target.dim[i] == -1) unknown++;
        else if (target.dim[i] <= 0) unknown = 2;
    }
    if (target.rank < 1 || target.rank >= PX_MAX_RANK || unknown > 1) {
        px_set_error(PX_ERR_ARG, "Reshape: the target needs rank 1..7, positive sizes and at most one -1");
        return NULL;
    }
    reshape_state *s = malloc(sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "Reshape: out of memory");
        return NULL;
    }
    s->target = target;
    return px_layer_new_kind(&px_reshape_kind, s, NULL);
}
