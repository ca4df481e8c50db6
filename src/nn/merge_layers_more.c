/* The merge layers beyond Concatenate and Add: Multiply, Subtract, Average,
 * Maximum, Minimum (elementwise over inputs of one shape) and Dot (a batched
 * dot product over chosen axes, optionally of L2-normalised inputs). */
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

/* ---- the elementwise ones: the kind says which fold ---- */
static px_status need_inputs(const px_layer *l, int n, int lo, int hi) {
    if (n >= lo && n <= hi) return PX_OK;
    if (lo == hi)
        return px_set_error(PX_ERR_ARG, "layer '%s' (%s): needs exactly %d inputs, got %d", px_layer_name(l),
                            px_layer_class(l), lo, n);
    return px_set_error(PX_ERR_ARG, "layer '%s' (%s): needs at least %d inputs, got %d", px_layer_name(l),
                        px_layer_class(l), lo, n);
}

static px_node *fold(px_layer *l, px_node *const *in, int n, px_node *(*op)(px_node *, px_node *)) {
    if (need_inputs(l, n, 2, 64)) return NULL;
    px_node *acc = in[0];
    for (int i = 1; i < n; i++) acc = op(acc, in[i]);
    return acc;
}
static px_node *multiply_call(px_layer *l, px_node *const *in, int n) { return fold(l, in, n, px_mul); }
static px_node *maximum_call(px_layer *l, px_node *const *in, int n) { return fold(l, in, n, px_maximum); }
static px_node *minimum_call(px_layer *l, px_node *const *in, int n) { return fold(l, in, n, px_minimum); }
static px_node *average_call(px_layer *l, px_node *const *in, int n) {
    return px_scale(fold(l, in, n, px_add), 1.0f / (float)n);
}
static px_node *subtract_call(px_layer *l, px_node *const *in, int n) {
    return need_inputs(l, n, 2, 2) ? NULL : px_sub(in[0], in[1]);
}

#define MERGE_KIND(var, cls, base, callfn, ctor)                                                    \
    static px_layer *var##_from_config(const px_json *c) {                                          \
        (void)c;                                                                                    \
        return ctor();                                                                              \
    }                                                                                               \
    const px_layer_kind var = {                                                                     \
        .def = {.class_name = cls, .call = callfn}, .base_name = base, .from_config = var##_from_config}; \
    px_layer *ctor(void) { return px_layer_new_kind(&var, NULL, NULL); }

MERGE_KIND(px_multiply_kind, "Multiply", "multiply", multiply_call, px_multiply_layer)
MERGE_KIND(px_subtract_kind, "Subtract", "subtract", subtract_call, px_subtract_layer)
MERGE_KIND(px_average_kind, "Average", "average", average_call, px_average_layer)
MERGE_KIND(px_maximum_kind, "Maximum", "maximum", maximum_call, px_maximum_layer)
MERGE_KIND(px_minimum_kind, "Minimum", "minimum", minimum_call, px_minimum_layer)

/* ---- Dot ---- */
typedef struct dot_state {
    int axes[2];
    bool normalize;
} dot_state;

/* x / sqrt(max(sum(x^2, axis), 1e-12)), as Keras's l2_normalize */
static px_node *l2_normalize(px_node *x, int axis) {
    px_node *ss = px_sum(px_square(x), axis, true);
    return px_div(x, px_sqrt(px_clip(ss, 1e-12f, 3.0e38f)));
}

static px_node *dot_call(px_layer *l, px_node *const *in, int n) {
    const dot_state *s = l->state;
    if (need_inputs(l, n, 2, 2)) return NULL;
    int r0 = px_node_shape(in[0]).rank, r1 = px_node_shape(in[1]).rank;
    int a0 = s->axes[0] < 0 ? s->axes[0] + r0 : s->axes[0], a1 = s->axes[1] < 0 ? s->axes[1] + r1 : s->axes[1];
    char sa[96], sb[96];
    if (r0 != r1 || (r0 != 2 && r0 != 3) || a0 < 1 || a0 >= r0 || a1 < 1 || a1 >= r1) {
        px_set_error(PX_ERR_SHAPE, "layer '%s' (Dot): inputs %s and %s with axes (%d, %d): Plexus supports two "
                     "inputs of rank 2 or two of rank 3, and axes after the batch axis",
                     px_layer_name(l), px_shape_format(px_node_shape(in[0]), sa, sizeof sa),
                     px_shape_format(px_node_shape(in[1]), sb, sizeof sb), s->axes[0], s->axes[1]);
        return NULL;
    }
    px_node *x = in[0], *y = in[1];
    if (s->normalize) x = l2_normalize(x, a0), y = l2_normalize(y, a1);
    /* (B, d) . (B, d) -> (B, 1); (B, n, d) . (B, m, d) -> (B, n, m) with the
     * contracted axis moved last in x and first in y */
    if (r0 == 2) return px_sum(px_mul(x, y), 1, true);
    return px_matmul_t(x, y, a0 == 1, a1 == 2);
}
static px_status dot_write_config(const px_layer *l, px_json *c) {
    const dot_state *s = l->state;
    px_status st = s->axes[0] == s->axes[1] ? px_lc_set_int(c, "axes", s->axes[0])
                                            : px_lc_set_ints(c, "axes", s->axes, 2);
    if (!st) st = px_lc_set_bool(c, "normalize", s->normalize);
    return st;
}
static px_layer *dot_from_config(const px_json *c) {
    const px_json *ax = px_json_get(c, "axes");
    int axes[2] = {0, 0};
    bool normalize = false;
    if (px_json_is_array(ax) && px_json_len(ax) == 2 && px_json_is_integer(px_json_at(ax, 0)) &&
        px_json_is_integer(px_json_at(ax, 1))) {
        axes[0] = (int)px_json_int(px_json_at(ax, 0));
        axes[1] = (int)px_json_int(px_json_at(ax, 1));
    } else if (px_json_is_integer(ax)) {
        axes[0] = axes[1] = (int)px_json_int(ax);
    } else {
        px_set_error(PX_ERR_FORMAT, "layer '%s' (Dot): config key 'axes' should be an integer or a list of two",
                     px_lc_name(c));
        return NULL;
    }
    if (px_lc_get_bool(c, "normalize", false, &normalize)) return NULL;
    return px_dot_layer(axes[0], axes[1], normalize);
}
const px_layer_kind px_dot_kind = {
    .def = {.class_name = "Dot", .call = dot_call},
    .base_name = "dot",
    .state_size = sizeof(dot_state),
    .write_config = dot_write_config,
    .from_config = dot_from_config,
};
px_layer *px_dot_layer(int axis_a, int axis_b, bool normalize) {
    if (axis_a == 0 || axis_b == 0 || axis_a < -PX_MAX_RANK || axis_b < -PX_MAX_RANK || axis_a >= PX_MAX_RANK ||
        axis_b >= PX_MAX_RANK) {
        px_set_error(PX_ERR_ARG, "Dot: axes (%d, %d) must name axes after the batch axis", axis_a, axis_b);
        return NULL;
    }
    dot_state *s = malloc(sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "Dot: out of memory");
        return NULL;
    }
    *s = (dot_state){{axis_a, axis_b}, normalize};
    return px_layer_new_kind(&px_dot_kind, s, NULL);
}
