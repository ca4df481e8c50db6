/* Layers that merge several inputs: Concatenate and Add. */
#include <stdlib.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

typedef struct concat_state {
    int axis;
} concat_state;

static px_node *concat_call(px_layer *l, px_node *const *in, int n) {
    if (n < 2) {
        px_set_error(PX_ERR_ARG, "layer '%s' (Concatenate): needs at least two inputs, got %d", px_layer_name(l), n);
        return NULL;
    }
    return px_concat(in, n, ((concat_state *)l->state)->axis);
}
static px_status concat_write_config(const px_layer *l, px_json *c) {
    return px_lc_set_int(c, "axis", ((const concat_state *)l->state)->axis);
}
static px_layer *concat_from_config(const px_json *c) {
    int axis = -1;
    if (px_lc_get_axis(c, "axis", false, &axis)) return NULL;
    return px_concatenate(axis);
}
const px_layer_kind px_concatenate_kind = {
    .def = {.class_name = "Concatenate", .call = concat_call},
    .base_name = "concatenate",
    .state_size = sizeof(concat_state),
    .write_config = concat_write_config,
    .from_config = concat_from_config,
};
px_layer *px_concatenate(int axis) {
    concat_state *s = malloc(sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "Concatenate: out of memory");
        return NULL;
    }
    s->axis = axis;
    return px_layer_new_kind(&px_concatenate_kind, s, NULL);
}

static px_node *add_call(px_layer *l, px_node *const *in, int n) {
    if (n < 2) {
        px_set_error(PX_ERR_ARG, "layer '%s' (Add): needs at least two inputs, got %d", px_layer_name(l), n);
        return NULL;
    }
    px_node *sum = in[0];
    for (int i = 1; i < n; i++) sum = px_add(sum, in[i]);
    return sum;
}
static px_layer *add_from_config(const px_json *c) {
    (void)c;
    return px_add_layer();
}
const px_layer_kind px_add_kind = {
    .def = {.class_name = "Add", .call = add_call},
    .base_name = "add",
    .from_config = add_from_config,
};
px_layer *px_add_layer(void) { return px_layer_new_kind(&px_add_kind, NULL, NULL); }
