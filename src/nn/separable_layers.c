/* Depthwise and separable convolution layers on channels-last input:
 * DepthwiseConv2D/1D (depthwise_kernel (..., in, depth_multiplier), bias) and
 * SeparableConv2D/1D (the depthwise pass, then a pointwise (1x1) convolution:
 * depthwise_kernel, pointwise_kernel (1, [1,] in * M, filters), bias), with
 * Keras's weight names and order. */
#include <stdint.h>
#include <stdlib.h>

#include "nn/conv_config.h"
#include "nn/layer_internal.h"

typedef struct sep_state {
    int rank;                   /* 1 or 2 spatial axes */
    int filters;                /* 0: DepthwiseConv (no pointwise pass) */
    int kernel[2];
    px_separable_conv_options o; /* strides, dilations and depth_multiplier normalised to >= 1 */
} sep_state;

static px_status sep_build(px_layer *l, const px_shape *in, int n) {
    sep_state *s = l->state;
    px_status st = px_cc_check_conv_input(l, in, n, s->rank);
    if (st) return st;
    int64_t ch = in[0].dim[in[0].rank - 1], m = s->o.depth_multiplier;
    px_initializer glorot = {.kind = PX_INIT_GLOROT_UNIFORM}, zeros = {.kind = PX_INIT_ZEROS};
    px_initializer di = s->o.depthwise_initializer.kind ? s->o.depthwise_initializer : glorot;
    px_initializer pi = s->o.pointwise_initializer.kind ? s->o.pointwise_initializer : glorot;
    px_initializer bi = s->o.bias_initializer.kind ? s->o.bias_initializer : zeros;
    px_shape dk = s->rank == 2 ? PX_SHAPE(s->kernel[0], s->kernel[1], ch, m) : PX_SHAPE(s->kernel[0], ch, m);
    if (!px_layer_add_weight(l, "depthwise_kernel", dk, di, s->o.depthwise_regularizer, true)) return px_last_status();
    if (s->filters) {
        px_shape pk = s->rank == 2 ? PX_SHAPE(1, 1, ch * m, s->filters) : PX_SHAPE(1, ch * m, s->filters);
        if (!px_layer_add_weight(l, "pointwise_kernel", pk, pi, s->o.pointwise_regularizer, true)) return px_last_status();
    }
    if (!s->o.no_bias &&
        !px_layer_add_weight(l, "bias", PX_SHAPE(s->filters ? s->filters : ch * m), bi, s->o.bias_regularizer, true))
        return px_last_status();
    return PX_OK;
}

static px_node *sep_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    sep_state *s = l->state;
    const px_separable_conv_options *o = &s->o;
    px_node *dk = px_layer_weight(l, 0), *pk = s->filters ? px_layer_weight(l, 1) : NULL;
    px_node *b = o->no_bias ? NULL : px_layer_weight(l, s->filters ? 2 : 1);
    px_node *y;
    if (s->rank == 2) {
        y = px_depthwise_conv2d(in[0], dk, pk ? NULL : b, o->strides[0], o->strides[1], o->padding,
                                o->dilation_rate[0], o->dilation_rate[1]);
        /* the pointwise pass: a 1x1 convolution, one matrix product */
        if (pk) y = b ? px_conv2d_bias(y, pk, b, 1, 1, PX_PADDING_VALID, 1, 1) : px_conv2d(y, pk, 1, 1, PX_PADDING_VALID, 1, 1);
    } else {
        y = px_depthwise_conv1d(in[0], dk, pk ? NULL : b, o->strides[0], o->padding, o->dilation_rate[0]);
        if (pk) y = px_conv1d_bias(y, pk, b, 1, PX_PADDING_VALID, 1);
    }
    return px_activate(y, o->activation);
}

/* ---- Keras config: K2 spelling written, K2 and K3 read ---- */

/* Keras 2's DepthwiseConv2D keys (Conv2D's, less filters and the kernel_*
 * keys, then the depthwise ones), in its order. */
static px_status depthwise_write_config(const sep_state *s, px_json *c) {
    const px_separable_conv_options *o = &s->o;
    px_status st = px_cc_set_conv_keys(c, s->kernel, o->strides, o->padding, o->dilation_rate, s->rank, o->activation,
                                          !o->no_bias);
    if (!st) st = px_lc_set_initializer(c, "bias_initializer", o->bias_initializer, PX_INIT_ZEROS);
    if (!st) st = px_lc_set_regularizer(c, "bias_regularizer", o->bias_regularizer);
    if (!st) st = px_lc_set_null(c, "activity_regularizer");
    if (!st) st = px_lc_set_null(c, "bias_constraint");
    if (!st) st = px_lc_set_int(c, "depth_multiplier", o->depth_multiplier);
    if (!st) st = px_lc_set_initializer(c, "depthwise_initializer", o->depthwise_initializer, PX_INIT_GLOROT_UNIFORM);
    if (!st) st = px_lc_set_regularizer(c, "depthwise_regularizer", o->depthwise_regularizer);
    if (!st) st = px_lc_set_null(c, "depthwise_constraint");
    return st;
}

/* Keras 2's SeparableConv keys: its own list, after Conv's (whose kernel_*
 * keys it carries unused), in its order. */
static px_status separable_write_config(const sep_state *s, px_json *c) {
    const px_separable_conv_options *o = &s->o;
    px_status st = px_lc_set_int(c, "filters", s->filters);
    if (!st) st = px_cc_set_conv_keys(c, s->kernel, o->strides, o->padding, o->dilation_rate, s->rank, o->activation,
                                          !o->no_bias);
    if (!st) st = px_lc_set_initializer(c, "kernel_initializer", (px_initializer){0}, PX_INIT_GLOROT_UNIFORM);
    if (!st) st = px_lc_set_initializer(c, "bias_initializer", o->bias_initializer, PX_INIT_ZEROS);
    if (!st) st = px_lc_set_null(c, "kernel_regularizer");
    if (!st) st = px_lc_set_regularizer(c, "bias_regularizer", o->bias_regularizer);
    if (!st) st = px_lc_set_null(c, "activity_regularizer");
    if (!st) st = px_lc_set_null(c, "kernel_constraint");
    if (!st) st = px_lc_set_null(c, "bias_constraint");
    if (!st) st = px_lc_set_int(c, "depth_multiplier", o->depth_multiplier);
    if (!st) st = px_lc_set_initializer(c, "depthwise_initializer", o->depthwise_initializer, PX_INIT_GLOROT_UNIFORM);
    if (!st) st = px_lc_set_initializer(c, "pointwise_initializer", o->pointwise_initializer, PX_INIT_GLOROT_UNIFORM);
    if (!st) st = px_lc_set_regularizer(c, "depthwise_regularizer", o->depthwise_regularizer);
    if (!st) st = px_lc_set_regularizer(c, "pointwise_regularizer", o->pointwise_regularizer);
    if (!st) st = px_lc_set_null(c, "depthwise_constraint");
    if (!st) st = px_lc_set_null(c, "pointwise_constraint");
    return st;
}

static px_status sep_write_config(const px_layer *l, px_json *c) {
    const sep_state *s = l->state;
    return s->filters ? separable_write_config(s, c) : depthwise_write_config(s, c);
}

extern const px_layer_kind px_depthwise_conv2d_kind, px_depthwise_conv1d_kind, px_separable_conv2d_kind,
    px_separable_conv1d_kind;

static px_layer *sep_from_config(const px_json *c, int rank, bool separable) {
    const char *cls = separable ? (rank == 2 ? "SeparableConv2D" : "SeparableConv1D")
                                : (rank == 2 ? "DepthwiseConv2D" : "DepthwiseConv1D");
    int64_t filters = 0, groups = 1, m = 1;
    int kernel[2] = {0, 0};
    bool use_bias = true;
    px_separable_conv_options o = {.strides = {1, 1}, .dilation_rate = {1, 1}};
    if ((separable && px_lc_get_int(c, "filters", true, &filters)) || px_cc_get_ints(c, "kernel_size", rank, 1, kernel) ||
        px_cc_get_ints(c, "strides", rank, 1, o.strides) || px_cc_get_ints(c, "dilation_rate", rank, 1, o.dilation_rate) ||
        px_cc_get_padding(c, cls, rank == 1, &o.padding) || px_cc_check_channels_last(c, cls) ||
        px_lc_get_int(c, "groups", false, &groups) || px_lc_get_int(c, "depth_multiplier", false, &m) ||
        px_lc_get_activation(c, "activation", &o.activation) || px_lc_get_bool(c, "use_bias", false, &use_bias) ||
        px_lc_get_initializer(c, "depthwise_initializer", &o.depthwise_initializer) ||
        px_lc_get_initializer(c, "pointwise_initializer", &o.pointwise_initializer) ||
        px_lc_get_initializer(c, "bias_initializer", &o.bias_initializer) ||
        px_lc_get_regularizer(c, "depthwise_regularizer", &o.depthwise_regularizer) ||
        px_lc_get_regularizer(c, "pointwise_regularizer", &o.pointwise_regularizer) ||
        px_lc_get_regularizer(c, "bias_regularizer", &o.bias_regularizer) ||
        px_lc_expect_null(c, "activity_regularizer") || px_lc_expect_null(c, "depthwise_constraint") ||
        px_lc_expect_null(c, "pointwise_constraint") || px_lc_expect_null(c, "bias_constraint") ||
        px_lc_expect_null(c, "kernel_constraint"))
        return NULL;
    if (px_cc_check_conv_config(c, cls, separable, filters, groups)) return NULL;
    if (m <= 0 || m > INT32_MAX) {
        px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'depth_multiplier' is %lld; it must be positive",
                     px_lc_name(c), (long long)m);
        return NULL;
    }
    o.depth_multiplier = (int)m;
    o.no_bias = !use_bias;
    px_layer *l = separable ? (rank == 2 ? px_separable_conv2d_layer((int)filters, kernel[0], kernel[1], &o)
                                         : px_separable_conv1d_layer((int)filters, kernel[0], &o))
                            : (rank == 2 ? px_depthwise_conv2d_layer(kernel[0], kernel[1], &o)
                                         : px_depthwise_conv1d_layer(kernel[0], &o));
    return l ? l : px_cc_config_error(c);
}
static px_layer *dw2_from_config(const px_json *c) { return sep_from_config(c, 2, false); }
static px_layer *dw1_from_config(const px_json *c) { return sep_from_config(c, 1, false); }
static px_layer *sep2_from_config(const px_json *c) { return sep_from_config(c, 2, true); }
static px_layer *sep1_from_config(const px_json *c) { return sep_from_config(c, 1, true); }

#define SEP_KIND(var, cls, base, read_fn)                                                             \
    const px_layer_kind var = {.def = {.class_name = cls, .build = sep_build, .call = sep_call},     \
                               .base_name = base,                                                    \
                               .state_size = sizeof(sep_state),                                      \
                               .write_config = sep_write_config,                                     \
                               .from_config = read_fn}
SEP_KIND(px_depthwise_conv2d_kind, "DepthwiseConv2D", "depthwise_conv2d", dw2_from_config);
SEP_KIND(px_depthwise_conv1d_kind, "DepthwiseConv1D", "depthwise_conv1d", dw1_from_config);
SEP_KIND(px_separable_conv2d_kind, "SeparableConv2D", "separable_conv2d", sep2_from_config);
SEP_KIND(px_separable_conv1d_kind, "SeparableConv1D", "separable_conv1d", sep1_from_config);

static px_layer *sep_new(const px_layer_kind *kind, int rank, int filters, const int *kernel,
                         const px_separable_conv_options *opts) {
    const char *cls = kind->def.class_name;
    px_separable_conv_options o = opts ? *opts : (px_separable_conv_options){0};
    if (o.depth_multiplier < 0) {
        px_set_error(PX_ERR_ARG, "%s: depth_multiplier must be positive, got %d", cls, o.depth_multiplier);
        return NULL;
    }
    if (o.depth_multiplier == 0) o.depth_multiplier = 1;
    if (px_cc_check_conv_args(cls, rank, kernel, o.strides, o.dilation_rate, o.padding, rank == 1, o.activation))
        return NULL;
    sep_state *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", cls);
        return NULL;
    }
    s->rank = rank;
    s->filters = filters;
    s->kernel[0] = kernel[0];
    s->kernel[1] = rank == 2 ? kernel[1] : 1;
    if (rank == 1) o.strides[1] = o.dilation_rate[1] = 1;
    s->o = o;
    s->o.name = NULL; /* the layer keeps its own copy of the name */
    px_layer *l = px_layer_new_kind(kind, s, o.name);
    if (l && o.input_shape.rank > 0) {
        l->input_shape = o.input_shape;
        l->has_input_shape = true;
    }
    return l;
}

px_layer *px_depthwise_conv2d_layer(int kernel_h, int kernel_w, const px_separable_conv_options *opts) {
    return sep_new(&px_depthwise_conv2d_kind, 2, 0, (int[]){kernel_h, kernel_w}, opts);
}
px_layer *px_depthwise_conv1d_layer(int kernel_size, const px_separable_conv_options *opts) {
    return sep_new(&px_depthwise_conv1d_kind, 1, 0, (int[]){kernel_size}, opts);
}
px_layer *px_separable_conv2d_layer(int filters, int kernel_h, int kernel_w, const px_separable_conv_options *opts) {
    if (filters <= 0) {
        px_set_error(PX_ERR_ARG, "SeparableConv2D: filters must be positive, got %d", filters);
        return NULL;
    }
    return sep_new(&px_separable_conv2d_kind, 2, filters, (int[]){kernel_h, kernel_w}, opts);
}
px_layer *px_separable_conv1d_layer(int filters, int kernel_size, const px_separable_conv_options *opts) {
    if (filters <= 0) {
        px_set_error(PX_ERR_ARG, "SeparableConv1D: filters must be positive, got %d", filters);
        return NULL;
    }
    return sep_new(&px_separable_conv1d_kind, 1, filters, (int[]){kernel_size}, opts);
}
