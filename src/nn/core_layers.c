/* Layers without weights that reshape or transform their input: InputLayer,
 * Flatten, Activation, Dropout and Reshape. */
#include <stdlib.h>

#include "nn/layer_internal.h"

/* ---- InputLayer: marks the model's input; identity when applied ---- */
static px_node *identity_call(px_layer *l, px_node *const *in, int n) {
    (void)l, (void)n;
    return in[0];
}
const px_layer_kind px_input_kind = {
    .def = {.class_name = "InputLayer", .call = identity_call},
    .base_name = "input",
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
const px_layer_kind px_flatten_kind = {
    .def = {.class_name = "Flatten", .call = flatten_call},
    .base_name = "flatten",
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
const px_layer_kind px_activation_kind = {
    .def = {.class_name = "Activation", .call = activation_call},
    .base_name = "activation",
    .state_size = sizeof(activation_state),
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
const px_layer_kind px_dropout_kind = {
    .def = {.class_name = "Dropout", .call = dropout_call},
    .base_name = "dropout",
    .state_size = sizeof(dropout_state),
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
const px_layer_kind px_reshape_kind = {
    .def = {.class_name = "Reshape", .call = reshape_call},
    .base_name = "reshape",
    .state_size = sizeof(reshape_state),
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
