/* Keras config values shared by the convolution-family layers: per-axis int
 * lists, padding modes, data_format and per-side padding / cropping amounts. */
#include <stdint.h>
#include <stdio.h>
#include <strings.h>

#include "nn/conv_config.h"

px_status px_cc_set_ints(px_json *c, const char *key, const int *v, int rank) {
    px_shape s = {.rank = rank};
    for (int i = 0; i < rank; i++) s.dim[i] = v[i];
    return px_lc_set_shape(c, key, s, false);
}

static bool int_at_least(const px_json *e, int min) {
    return px_json_is_integer(e) && px_json_int(e) >= min && px_json_int(e) <= INT32_MAX;
}

px_status px_cc_get_ints(const px_json *c, const char *key, int rank, int min, int *out) {
    const px_json *v = px_json_get(c, key);
    if (!v || px_json_is_null(v)) return PX_OK;
    bool list = px_json_is_array(v);
    if (list && px_json_len(v) != (size_t)rank)
        return px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' has %zu entries; it needs %d", px_lc_name(c),
                            key, px_json_len(v), rank);
    for (int i = 0; i < rank; i++) {
        const px_json *e = list ? px_json_at(v, (size_t)i) : v;
        if (!int_at_least(e, min))
            return px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' should be an integer >= %d or a list of %d",
                                px_lc_name(c), key, min, rank);
        out[i] = (int)px_json_int(e);
    }
    return PX_OK;
}

px_status px_cc_get_padding(const px_json *c, const char *cls, bool allow_causal, px_padding *out) {
    const char *p = px_json_get_string(c, "padding", "valid");
    if (strcasecmp(p, "valid") == 0) *out = PX_PADDING_VALID;
    else if (strcasecmp(p, "same") == 0) *out = PX_PADDING_SAME;
    else if (allow_causal && strcasecmp(p, "causal") == 0) *out = PX_PADDING_CAUSAL;
    else
        return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (%s): config key 'padding' is '%s'; only 'valid'%s and 'same' are supported",
                            px_lc_name(c), cls, p, allow_causal ? ", 'causal'" : "");
    return PX_OK;
}

const char *px_cc_padding_name(px_padding p) {
    return p == PX_PADDING_SAME ? "same" : p == PX_PADDING_CAUSAL ? "causal" : "valid";
}

px_status px_cc_check_channels_last(const px_json *c, const char *cls) {
    const px_json *v = px_json_get(c, "data_format");
    if (!v || px_json_is_null(v)) return PX_OK;
    const char *f = px_json_string(v);
    if (f && strcasecmp(f, "channels_last") == 0) return PX_OK;
    return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (%s): config key 'data_format' is '%s'; only 'channels_last' is supported",
                        px_lc_name(c), cls, f ? f : px_json_type_name(px_json_typeof(v)));
}

static px_status bad_amounts(const px_json *c, const char *key, int rank) {
    return px_set_error(PX_ERR_FORMAT,
                        rank == 1 ? "layer '%s': config key '%s' should be an integer >= 0 or a list [before, after]"
                                  : "layer '%s': config key '%s' should be an integer >= 0, a list of 2, or a list of "
                                    "two [before, after] lists",
                        px_lc_name(c), key);
}

px_status px_cc_get_amounts(const px_json *c, const char *key, int rank, int *out) {
    const px_json *v = px_json_get(c, key);
    if (!v || px_json_is_null(v)) return PX_OK;
    int got[4];
    if (int_at_least(v, 0)) {
        for (int i = 0; i < 2 * rank; i++) got[i] = (int)px_json_int(v);
    } else if (px_json_is_array(v) && px_json_len(v) == 2 && rank == 1) {
        for (int i = 0; i < 2; i++) {
            if (!int_at_least(px_json_at(v, (size_t)i), 0)) return bad_amounts(c, key, rank);
            got[i] = (int)px_json_int(px_json_at(v, (size_t)i));
        }
    } else if (px_json_is_array(v) && px_json_len(v) == (size_t)rank) {
        for (int i = 0; i < rank; i++) {
            const px_json *e = px_json_at(v, (size_t)i);
            if (int_at_least(e, 0)) {
                got[2 * i] = got[2 * i + 1] = (int)px_json_int(e);
            } else if (px_json_is_array(e) && px_json_len(e) == 2 && int_at_least(px_json_at(e, 0), 0) &&
                       int_at_least(px_json_at(e, 1), 0)) {
                got[2 * i] = (int)px_json_int(px_json_at(e, 0));
                got[2 * i + 1] = (int)px_json_int(px_json_at(e, 1));
            } else {
                return bad_amounts(c, key, rank);
            }
        }
    } else {
        return bad_amounts(c, key, rank);
    }
    for (int i = 0; i < 2 * rank; i++) out[i] = got[i];
    return PX_OK;
}

px_status px_cc_set_amounts(px_json *c, const char *key, const int *v, int rank) {
    if (rank == 1) return px_lc_set_shape(c, key, PX_SHAPE(v[0], v[1]), false);
    px_json *a = px_json_new_array();
    if (!a) return px_last_status();
    for (int i = 0; i < rank; i++) {
        px_json *pair = px_json_new_array();
        px_status st = pair ? px_json_push(pair, px_json_new_int(v[2 * i])) : px_last_status();
        if (!st) st = px_json_push(pair, px_json_new_int(v[2 * i + 1]));
        if (st) px_json_free(pair);
        else st = px_json_push(a, pair); /* takes pair, also on failure */
        if (st) return px_json_free(a), st;
    }
    return px_json_set(c, key, a);
}

px_status px_cc_check_conv_args(const char *cls, int rank, const int *kernel, int *strides, int *dilation,
                                px_padding padding, bool allow_causal, px_activation activation) {
    bool strided = false, dilated = false;
    for (int i = 0; i < rank; i++) {
        if (kernel[i] <= 0 || strides[i] < 0 || dilation[i] < 0)
            return px_set_error(PX_ERR_ARG, "%s: kernel size %d, stride %d and dilation %d (axis %d) must be positive",
                                cls, kernel[i], strides[i], dilation[i], i);
        if (strides[i] == 0) strides[i] = 1;
        if (dilation[i] == 0) dilation[i] = 1;
        strided |= strides[i] > 1;
        dilated |= dilation[i] > 1;
    }
    if (strided && dilated) return px_set_error(PX_ERR_ARG, "%s: strides > 1 cannot be combined with dilation_rate > 1", cls);
    if (padding != PX_PADDING_VALID && padding != PX_PADDING_SAME && (!allow_causal || padding != PX_PADDING_CAUSAL))
        return px_set_error(PX_ERR_ARG, "%s: padding %d is not valid or same%s", cls, (int)padding,
                            allow_causal ? " or causal" : " (causal is for the 1-D convolutions only)");
    if ((unsigned)activation >= PX_ACTIVATION_COUNT)
        return px_set_error(PX_ERR_ARG, "%s: unknown activation %d", cls, (int)activation);
    return PX_OK;
}

px_status px_cc_check_conv_config(const px_json *c, const char *cls, bool has_filters, int64_t filters, int64_t groups) {
    if (!px_json_get(c, "kernel_size"))
        return px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'kernel_size' is missing", px_lc_name(c));
    if (has_filters && (filters <= 0 || filters > INT32_MAX))
        return px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'filters' is %lld; it must be positive", px_lc_name(c),
                            (long long)filters);
    if (groups != 1)
        return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (%s): config key 'groups' is %lld; only 1 (no grouped "
                            "convolution) is supported", px_lc_name(c), cls, (long long)groups);
    return PX_OK;
}

px_layer *px_cc_config_error(const px_json *c) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", px_last_error());
    px_set_error(PX_ERR_FORMAT, "layer '%s': %s", px_lc_name(c), msg);
    return NULL;
}

px_status px_cc_check_conv_input(const px_layer *l, const px_shape *in, int n, int rank) {
    const char *cls = l->def->class_name;
    char sb[96];
    if (n != 1) return px_set_error(PX_ERR_ARG, "layer '%s' (%s): takes one input, got %d", px_layer_name(l), cls, n);
    if (in[0].rank != rank + 2 || in[0].dim[in[0].rank - 1] <= 0)
        return px_set_error(PX_ERR_SHAPE, "layer '%s' (%s): input shape %s must be %s with known channels",
                            px_layer_name(l), cls, px_shape_format(in[0], sb, sizeof sb),
                            rank == 2 ? "(batch, height, width, channels)" : "(batch, steps, channels)");
    return PX_OK;
}

px_status px_cc_set_conv_keys(px_json *c, const int *kernel, const int *strides, px_padding padding,
                              const int *dilation, int rank, px_activation activation, bool use_bias) {
    px_status st = px_cc_set_ints(c, "kernel_size", kernel, rank);
    if (!st) st = px_cc_set_ints(c, "strides", strides, rank);
    if (!st) st = px_lc_set_string(c, "padding", px_cc_padding_name(padding));
    if (!st) st = px_lc_set_string(c, "data_format", "channels_last");
    if (!st) st = px_cc_set_ints(c, "dilation_rate", dilation, rank);
    if (!st) st = px_lc_set_int(c, "groups", 1);
    if (!st) st = px_lc_set_activation(c, "activation", activation);
    if (!st) st = px_lc_set_bool(c, "use_bias", use_bias);
    return st;
}
