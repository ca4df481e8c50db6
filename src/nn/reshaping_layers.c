/* Keras's spatial reshaping layers on channels-last input: ZeroPadding1D/2D,
 * Cropping1D/2D (px_pad with positive or negative amounts) and UpSampling1D/2D
 * (nearest: px_repeat per axis; UpSampling2D bilinear: px_resize_bilinear). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nn/conv_config.h"
#include "nn/layer_internal.h"

typedef struct reshaping_state {
    int rank;                /* spatial axes: 1 (batch, steps, channels) or 2 (batch, h, w, channels) */
    int amounts[4];          /* ZeroPadding / Cropping: before, after per axis */
    int size[2];             /* UpSampling factors */
    px_interpolation interpolation;
} reshaping_state;

static px_status check_rank(const px_layer *l, px_shape s) {
    const reshaping_state *st = l->state;
    char sb[96];
    if (s.rank == st->rank + 2) return PX_OK;
    return px_set_error(PX_ERR_SHAPE, "layer '%s' (%s): input shape %s must be %s", px_layer_name(l),
                        l->def->class_name, px_shape_format(s, sb, sizeof sb),
                        st->rank == 2 ? "(batch, height, width, channels)" : "(batch, steps, channels)");
}

/* ZeroPadding adds, Cropping removes (sign -1) the amounts on the spatial axes. */
static px_node *pad_call(px_layer *l, px_node *const *in, int n, int sign) {
    (void)n;
    const reshaping_state *s = l->state;
    px_shape xs = px_node_shape(in[0]);
    if (check_rank(l, xs)) return NULL;
    int64_t before[4] = {0}, after[4] = {0};
    for (int i = 0; i < s->rank; i++) {
        before[1 + i] = sign * s->amounts[2 * i];
        after[1 + i] = sign * s->amounts[2 * i + 1];
    }
    return px_pad(in[0], before, after);
}
static px_node *zero_padding_call(px_layer *l, px_node *const *in, int n) { return pad_call(l, in, n, 1); }
static px_node *cropping_call(px_layer *l, px_node *const *in, int n) { return pad_call(l, in, n, -1); }

static px_node *up_sampling_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    const reshaping_state *s = l->state;
    px_shape xs = px_node_shape(in[0]);
    if (check_rank(l, xs)) return NULL;
    if (s->interpolation == PX_INTERP_BILINEAR) {
        char sb[96];
        if (xs.dim[1] == PX_UNKNOWN || xs.dim[2] == PX_UNKNOWN) {
            px_set_error(PX_ERR_SHAPE, "layer '%s' (UpSampling2D): bilinear interpolation needs a known height and "
                         "width, not %s", px_layer_name(l), px_shape_format(xs, sb, sizeof sb));
            return NULL;
        }
        return px_resize_bilinear(in[0], (int)(xs.dim[1] * s->size[0]), (int)(xs.dim[2] * s->size[1]));
    }
    /* a factor of 1 still copies: the layer's output is a node of its own */
    px_node *y = in[0];
    for (int i = 0; i < s->rank; i++) y = px_repeat(y, 1 + i, s->size[i]);
    return y;
}

/* ---- Keras config: K2 spelling written, K2 and K3 read ---- */

static px_status zero_padding_write_config(const px_layer *l, px_json *c) {
    const reshaping_state *s = l->state;
    px_status st = px_cc_set_amounts(c, "padding", s->amounts, s->rank);
    if (!st && s->rank == 2) st = px_lc_set_string(c, "data_format", "channels_last");
    return st;
}
static px_status cropping_write_config(const px_layer *l, px_json *c) {
    const reshaping_state *s = l->state;
    px_status st = px_cc_set_amounts(c, "cropping", s->amounts, s->rank);
    if (!st && s->rank == 2) st = px_lc_set_string(c, "data_format", "channels_last");
    return st;
}
/* UpSampling1D writes its size as an int, UpSampling2D as a list (as Keras 2). */
static px_status up_sampling_write_config(const px_layer *l, px_json *c) {
    const reshaping_state *s = l->state;
    if (s->rank == 1) return px_lc_set_int(c, "size", s->size[0]);
    px_status st = px_cc_set_ints(c, "size", s->size, 2);
    if (!st) st = px_lc_set_string(c, "data_format", "channels_last");
    if (!st) st = px_lc_set_string(c, "interpolation", s->interpolation == PX_INTERP_BILINEAR ? "bilinear" : "nearest");
    return st;
}

extern const px_layer_kind px_zero_padding1d_kind, px_zero_padding2d_kind, px_cropping1d_kind, px_cropping2d_kind,
    px_up_sampling1d_kind, px_up_sampling2d_kind;

/* Keras's defaults: padding 1 on every side; Cropping1D 1 each side, Cropping2D none. */
static px_layer *amounts_from_config(const px_json *c, const px_layer_kind *kind, int rank, const char *key, int dflt) {
    int a[4] = {dflt, dflt, dflt, dflt};
    if (px_cc_get_amounts(c, key, rank, a) || px_cc_check_channels_last(c, kind->def.class_name)) return NULL;
    px_layer *l = kind == &px_zero_padding1d_kind   ? px_zero_padding1d(a[0], a[1])
                  : kind == &px_zero_padding2d_kind ? px_zero_padding2d(a[0], a[1], a[2], a[3])
                  : kind == &px_cropping1d_kind     ? px_cropping1d(a[0], a[1])
                                                    : px_cropping2d(a[0], a[1], a[2], a[3]);
    return l ? l : px_cc_config_error(c);
}
static px_layer *zp1_from_config(const px_json *c) { return amounts_from_config(c, &px_zero_padding1d_kind, 1, "padding", 1); }
static px_layer *zp2_from_config(const px_json *c) { return amounts_from_config(c, &px_zero_padding2d_kind, 2, "padding", 1); }
static px_layer *cr1_from_config(const px_json *c) { return amounts_from_config(c, &px_cropping1d_kind, 1, "cropping", 1); }
static px_layer *cr2_from_config(const px_json *c) { return amounts_from_config(c, &px_cropping2d_kind, 2, "cropping", 0); }

static px_layer *up_sampling_from_config(const px_json *c, int rank) {
    const char *cls = rank == 1 ? "UpSampling1D" : "UpSampling2D";
    int size[2] = {2, 2};
    px_interpolation interp = PX_INTERP_NEAREST;
    if (px_cc_get_ints(c, "size", rank, 1, size) || px_cc_check_channels_last(c, cls)) return NULL;
    const char *name = px_json_get_string(c, "interpolation", "nearest");
    if (rank == 2 && strcasecmp(name, "bilinear") == 0) {
        interp = PX_INTERP_BILINEAR;
    } else if (strcasecmp(name, "nearest") != 0) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (%s): config key 'interpolation' is '%s'; only 'nearest' and "
                     "'bilinear' are supported", px_lc_name(c), cls, name);
        return NULL;
    }
    px_layer *l = rank == 1 ? px_up_sampling1d(size[0]) : px_up_sampling2d(size[0], size[1], interp);
    return l ? l : px_cc_config_error(c);
}
static px_layer *up1_from_config(const px_json *c) { return up_sampling_from_config(c, 1); }
static px_layer *up2_from_config(const px_json *c) { return up_sampling_from_config(c, 2); }

#define RESHAPING_KIND(var, cls, base, call_fn, write_fn, read_fn)                                   \
    const px_layer_kind var = {.def = {.class_name = cls, .call = call_fn},                          \
                               .base_name = base,                                                    \
                               .state_size = sizeof(reshaping_state),                                \
                               .write_config = write_fn,                                             \
                               .from_config = read_fn}
RESHAPING_KIND(px_zero_padding1d_kind, "ZeroPadding1D", "zero_padding1d", zero_padding_call, zero_padding_write_config, zp1_from_config);
RESHAPING_KIND(px_zero_padding2d_kind, "ZeroPadding2D", "zero_padding2d", zero_padding_call, zero_padding_write_config, zp2_from_config);
RESHAPING_KIND(px_cropping1d_kind, "Cropping1D", "cropping1d", cropping_call, cropping_write_config, cr1_from_config);
RESHAPING_KIND(px_cropping2d_kind, "Cropping2D", "cropping2d", cropping_call, cropping_write_config, cr2_from_config);
RESHAPING_KIND(px_up_sampling1d_kind, "UpSampling1D", "up_sampling1d", up_sampling_call, up_sampling_write_config, up1_from_config);
RESHAPING_KIND(px_up_sampling2d_kind, "UpSampling2D", "up_sampling2d", up_sampling_call, up_sampling_write_config, up2_from_config);

static px_layer *reshaping_new(const px_layer_kind *kind, int rank, const int *amounts, const int *size,
                               px_interpolation interp) {
    const char *cls = kind->def.class_name;
    for (int i = 0; amounts && i < 2 * rank; i++)
        if (amounts[i] < 0) {
            px_set_error(PX_ERR_ARG, "%s: amounts must be >= 0, got %d", cls, amounts[i]);
            return NULL;
        }
    for (int i = 0; size && i < rank; i++)
        if (size[i] < 1) {
            px_set_error(PX_ERR_ARG, "%s: size must be >= 1, got %d", cls, size[i]);
            return NULL;
        }
    if (interp != PX_INTERP_NEAREST && interp != PX_INTERP_BILINEAR) {
        px_set_error(PX_ERR_ARG, "%s: unknown interpolation %d", cls, (int)interp);
        return NULL;
    }
    reshaping_state *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", cls);
        return NULL;
    }
    s->rank = rank;
    if (amounts) memcpy(s->amounts, amounts, (size_t)(2 * rank) * sizeof *amounts);
    s->size[0] = s->size[1] = 1;
    if (size) memcpy(s->size, size, (size_t)rank * sizeof *size);
    s->interpolation = interp;
    return px_layer_new_kind(kind, s, NULL);
}

px_layer *px_zero_padding1d(int left, int right) {
    return reshaping_new(&px_zero_padding1d_kind, 1, (int[]){left, right}, NULL, PX_INTERP_NEAREST);
}
px_layer *px_zero_padding2d(int top, int bottom, int left, int right) {
    return reshaping_new(&px_zero_padding2d_kind, 2, (int[]){top, bottom, left, right}, NULL, PX_INTERP_NEAREST);
}
px_layer *px_cropping1d(int left, int right) {
    return reshaping_new(&px_cropping1d_kind, 1, (int[]){left, right}, NULL, PX_INTERP_NEAREST);
}
px_layer *px_cropping2d(int top, int bottom, int left, int right) {
    return reshaping_new(&px_cropping2d_kind, 2, (int[]){top, bottom, left, right}, NULL, PX_INTERP_NEAREST);
}
px_layer *px_up_sampling1d(int size) {
    return reshaping_new(&px_up_sampling1d_kind, 1, NULL, (int[]){size}, PX_INTERP_NEAREST);
}
px_layer *px_up_sampling2d(int size_h, int size_w, px_interpolation interpolation) {
    return reshaping_new(&px_up_sampling2d_kind, 2, NULL, (int[]){size_h, size_w}, interpolation);
}
