/* Layers that rearrange the axes of their input without weights: RepeatVector
 * (n copies along a new time axis) and Permute (reorders the axes after the batch). */
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

/* ---- RepeatVector: (B, F) -> (B, n, F) ---- */
typedef struct repeat_state {
    int n;
} repeat_state;
static px_node *repeat_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    if (px_node_shape(in[0]).rank != 2) {
        char sb[96];
        px_set_error(PX_ERR_SHAPE, "layer '%s' (RepeatVector): input %s must be (batch, features)", px_layer_name(l),
                     px_shape_format(px_node_shape(in[0]), sb, sizeof sb));
        return NULL;
    }
    /* (B, F) -> (B, 1, F) -> n copies along axis 1 */
    int64_t f = px_node_shape(in[0]).dim[1];
    return px_repeat(px_reshape(in[0], PX_SHAPE(-1, 1, f)), 1, ((repeat_state *)l->state)->n);
}
static px_status repeat_write_config(const px_layer *l, px_json *c) {
    return px_lc_set_int(c, "n", ((const repeat_state *)l->state)->n);
}
static px_layer *repeat_from_config(const px_json *c) {
    int64_t n = 0;
    if (px_lc_get_int(c, "n", true, &n)) return NULL;
    if (n < 1 || n > INT32_MAX) {
        px_set_error(PX_ERR_FORMAT, "layer '%s' (RepeatVector): config key 'n' is %lld; it must be positive",
                     px_lc_name(c), (long long)n);
        return NULL;
    }
    return px_repeat_vector_layer((int)n);
}
const px_layer_kind px_repeat_vector_kind = {
    .def = {.class_name = "RepeatVector", .call = repeat_call},
    .base_name = "repeat_vector",
    .state_size = sizeof(repeat_state),
    .write_config = repeat_write_config,
    .from_config = repeat_from_config,
};
px_layer *px_repeat_vector_layer(int n) {
    if (n < 1) {
        px_set_error(PX_ERR_ARG, "RepeatVector: n must be positive, got %d", n);
        return NULL;
    }
    repeat_state s = {n};
    return px_layer_new_kind_copy(&px_repeat_vector_kind, &s, sizeof s);
}

/* ---- Permute: dims is a permutation of 1..k (the batch axis stays first) ---- */
typedef struct permute_state {
    int dims[PX_MAX_RANK];
    int k;
} permute_state;
static px_node *permute_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    const permute_state *s = l->state;
    px_shape x = px_node_shape(in[0]);
    if (x.rank != s->k + 1) {
        char sb[96];
        px_set_error(PX_ERR_SHAPE, "layer '%s' (Permute): input %s must have %d axes after the batch axis",
                     px_layer_name(l), px_shape_format(x, sb, sizeof sb), s->k);
        return NULL;
    }
    int perm[PX_MAX_RANK] = {0};
    for (int i = 0; i < s->k; i++) perm[i + 1] = s->dims[i];
    return px_transpose(in[0], perm);
}
static px_status permute_write_config(const px_layer *l, px_json *c) {
    const permute_state *s = l->state;
    return px_lc_set_ints(c, "dims", s->dims, s->k);
}
static px_layer *permute_from_config(const px_json *c) {
    px_shape d;
    if (px_lc_get_shape(c, "dims", true, false, &d)) return NULL;
    int dims[PX_MAX_RANK];
    for (int i = 0; i < d.rank; i++) dims[i] = (int)d.dim[i];
    px_layer *l = px_permute_layer(dims, d.rank);
    if (!l) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'dims': %s", px_lc_name(c), msg);
    }
    return l;
}
const px_layer_kind px_permute_kind = {
    .def = {.class_name = "Permute", .call = permute_call},
    .base_name = "permute",
    .state_size = sizeof(permute_state),
    .write_config = permute_write_config,
    .from_config = permute_from_config,
};
px_layer *px_permute_layer(const int *dims, int k) {
    permute_state s = {.k = k};
    bool seen[PX_MAX_RANK + 1] = {false};
    bool ok = dims && k >= 1 && k < PX_MAX_RANK;
    for (int i = 0; ok && i < k; i++) {
        ok = dims[i] >= 1 && dims[i] <= k && !seen[dims[i]];
        if (ok) seen[dims[i]] = true, s.dims[i] = dims[i];
    }
    if (!ok) {
        px_set_error(PX_ERR_ARG, "Permute: dims must be a permutation of 1..%d (axis 0 is the batch)", k);
        return NULL;
    }
    return px_layer_new_kind_copy(&px_permute_kind, &s, sizeof s);
}
