/* Preprocessing layers: Rescaling (x * scale + offset) and Normalization
 * ((x - mean) / sqrt(variance), with the mean and variance as non-trainable
 * weights, set from data with px_normalization_adapt or loaded from a file). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

/* ---- Rescaling ---- */
typedef struct rescaling_state {
    float scale, offset;
} rescaling_state;
static px_node *rescaling_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    const rescaling_state *s = l->state;
    px_node *y = px_scale(in[0], s->scale);
    return s->offset != 0 ? px_add_scalar(y, s->offset) : y;
}
static px_status rescaling_write_config(const px_layer *l, px_json *c) {
    const rescaling_state *s = l->state;
    px_status st = px_lc_set_float(c, "scale", s->scale);
    if (!st) st = px_lc_set_float(c, "offset", s->offset);
    return st;
}
static px_layer *rescaling_from_config(const px_json *c) {
    float scale = 1, offset = 0;
    if (px_lc_get_float(c, "scale", true, &scale) || px_lc_get_float(c, "offset", false, &offset)) return NULL;
    return px_rescaling_layer(scale, offset);
}
const px_layer_kind px_rescaling_kind = {
    .def = {.class_name = "Rescaling", .call = rescaling_call},
    .base_name = "rescaling",
    .state_size = sizeof(rescaling_state),
    .write_config = rescaling_write_config,
    .from_config = rescaling_from_config,
    .mask_mode = PX_MASK_PASS,
};
px_layer *px_rescaling_layer(float scale, float offset) {
    if (!isfinite(scale) || !isfinite(offset)) {
        px_set_error(PX_ERR_ARG, "Rescaling: scale %g and offset %g must be finite", scale, offset);
        return NULL;
    }
    rescaling_state s = {scale, offset};
    return px_layer_new_kind_copy(&px_rescaling_kind, &s, sizeof s);
}

/* ---- Normalization ---- */
#define NORM_EPSILON 1e-7f /* Keras's backend.epsilon(), the floor of the standard deviation */

typedef struct norm_state {
    int axis;          /* the kept axis (batch = 0; negative from the end) */
    bool all_axes;     /* axis None: one mean and variance for everything */
    bool invert;
} norm_state;

/* The kept axis of a rank-`rank` input as a positive index, or -1 when invalid. */
static int kept_axis(const norm_state *s, int rank) {
    int a = s->axis < 0 ? s->axis + rank : s->axis;
    return a >= 1 && a < rank ? a : -1;
}

static px_status norm_build(px_layer *l, const px_shape *in, int n) {
    const norm_state *s = l->state;
    char sb[96];
    (void)n;
    px_shape ms = PX_SCALAR;
    if (!s->all_axes) {
        int a = kept_axis(s, in[0].rank);
        if (a < 0 || in[0].dim[a] <= 0)
            return px_set_error(PX_ERR_SHAPE, "layer '%s' (Normalization): axis %d of input %s is not a known axis after the batch",
                                px_layer_name(l), s->axis, px_shape_format(in[0], sb, sizeof sb));
        ms = PX_SHAPE(in[0].dim[a]);
    }
    px_regularizer none = {0};
    if (!px_layer_add_weight(l, "mean", ms, (px_initializer){.kind = PX_INIT_ZEROS}, none, false) ||
        !px_layer_add_weight(l, "variance", ms, (px_initializer){.kind = PX_INIT_ONES}, none, false) ||
        !px_layer_add_weight(l, "count", PX_SCALAR, (px_initializer){.kind = PX_INIT_ZEROS}, none, false))
        return px_last_status();
    return PX_OK;
}

static px_node *norm_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    const norm_state *s = l->state;
    px_node *mean = l->weights[0], *var = l->weights[1];
    if (!s->all_axes) {
        /* (k,) -> (k, 1, ..., 1) so it broadcasts along the kept axis */
        int rank = px_node_shape(in[0]).rank, a = kept_axis(s, rank);
        px_shape b = {.rank = rank - a};
        for (int i = 0; i < b.rank; i++) b.dim[i] = 1;
        b.dim[0] = px_node_shape(mean).dim[0];
        mean = px_reshape(mean, b);
        var = px_reshape(var, b);
    }
    px_node *sd = px_clip(px_sqrt(var), NORM_EPSILON, 3.0e38f);
    if (s->invert) return px_add(px_mul(in[0], sd), mean);
    return px_div(px_sub(in[0], mean), sd);
}

static px_status norm_write_config(const px_layer *l, px_json *c) {
    const norm_state *s = l->state;
    px_status st = s->all_axes ? px_lc_set_null(c, "axis") : px_lc_set_ints(c, "axis", &s->axis, 1);
    if (!st) st = px_lc_set_null(c, "mean");
    if (!st) st = px_lc_set_null(c, "variance");
    if (!st) st = px_lc_set_bool(c, "invert", s->invert);
    return st;
}

static px_layer *norm_from_config(const px_json *c) {
    px_normalization_options o = {0};
    const px_json *ax = px_json_get(c, "axis");
    if (ax && px_json_is_null(ax)) o.all_axes = true;
    else if (ax && px_lc_get_axis(c, "axis", true, &o.axis)) return NULL;
    else if (!ax) o.axis = -1;
    if (px_lc_get_bool(c, "invert", false, &o.invert)) return NULL;
    const px_json *mean = px_json_get(c, "mean"), *var = px_json_get(c, "variance");
    if ((mean && !px_json_is_null(mean)) || (var && !px_json_is_null(var))) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (Normalization): a mean and variance given in the config are not "
                     "supported (Plexus reads them as the layer's weights, as adapt() leaves them)", px_lc_name(c));
        return NULL;
    }
    if (o.axis == 0 && !o.all_axes) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (Normalization): config key 'axis' names the batch axis", px_lc_name(c));
        return NULL;
    }
    return px_normalization_layer(&o);
}

const px_layer_kind px_normalization_kind = {
    .def = {.class_name = "Normalization", .build = norm_build, .call = norm_call},
    .base_name = "normalization",
    .state_size = sizeof(norm_state),
    .write_config = norm_write_config,
    .from_config = norm_from_config,
    .mask_mode = PX_MASK_PASS,
};

px_layer *px_normalization_layer(const px_normalization_options *opts) {
    norm_state s = {.axis = -1};
    if (opts) s = (norm_state){opts->axis ? opts->axis : -1, opts->all_axes, opts->invert};
    return px_layer_new_kind_copy(&px_normalization_kind, &s, sizeof s);
}

px_status px_normalization_adapt(px_layer *l, const px_tensor *data) {
    if (!l || l->kind != &px_normalization_kind || !data || data->dtype != PX_F32)
        return px_set_error(PX_ERR_ARG, "normalization_adapt: needs a Normalization layer and float32 data");
    const norm_state *s = l->state;
    char sb[96];
    int a = s->all_axes ? 0 : kept_axis(s, data->rank);
    if (a < 0 || px_tensor_size(data) == 0)
        return px_set_error(PX_ERR_SHAPE, "normalization_adapt: layer '%s': data %s has no axis %d after the batch axis, or no values",
                            px_layer_name(l), px_shape_format(px_tensor_shape(data), sb, sizeof sb), s->axis);
    int64_t k = s->all_axes ? 1 : data->shape[a], inner = 1;
    for (int i = a + 1; !s->all_axes && i < data->rank; i++) inner *= data->shape[i];
    int64_t total = px_tensor_size(data), per = total / k;
    px_tensor *w[3] = {px_tensor_zeros(s->all_axes ? PX_SCALAR : PX_SHAPE(k)),
                       px_tensor_zeros(s->all_axes ? PX_SCALAR : PX_SHAPE(k)), px_tensor_zeros(PX_SCALAR)};
    px_status st = w[0] && w[1] && w[2] ? PX_OK : px_last_status();
    double *sum = st ? NULL : calloc((size_t)(2 * k), sizeof *sum);
    if (!st && !sum) st = px_set_error(PX_ERR_NOMEM, "normalization_adapt: out of memory");
    if (!st) {
        /* element i lies on kept index (i / inner) % k; two passes keep the
         * variance accurate when the mean is large */
        const float *x = data->data;
        for (int64_t i = 0; i < total; i++) sum[(i / inner) % k] += x[i];
        for (int64_t j = 0; j < k; j++) sum[j] /= (double)per;
        for (int64_t i = 0; i < total; i++) {
            double d = x[i] - sum[(i / inner) % k];
            sum[k + (i / inner) % k] += d * d;
        }
        for (int64_t j = 0; j < k; j++) {
            px_tensor_f32(w[0])[j] = (float)sum[j];
            px_tensor_f32(w[1])[j] = (float)(sum[k + j] / (double)per);
        }
        px_tensor_f32(w[2])[0] = (float)per;
        if (l->built) {
            st = px_layer_set_weights(l, w, 3);
        } else {
            /* taken over by the build, like a cloned layer's weights */
            for (int i = 0; i < l->n_pending; i++) px_tensor_free(l->pending[i]);
            free(l->pending);
            if (!(l->pending = malloc(3 * sizeof *l->pending))) {
                l->n_pending = 0;
                st = px_set_error(PX_ERR_NOMEM, "normalization_adapt: out of memory");
            } else {
                memcpy(l->pending, w, sizeof w);
                l->n_pending = 3;
                w[0] = w[1] = w[2] = NULL;
            }
        }
    }
    free(sum);
    for (int i = 0; i < 3; i++) px_tensor_free(w[i]);
    return st;
}
