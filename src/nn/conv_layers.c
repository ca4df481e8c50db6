/* The convolution layers Conv2D and Conv1D, y = activation(conv(x, kernel) + bias)
 * with the kernel stored (kh, [kw,] in, filters), and their transposes
 * Conv2DTranspose and Conv1DTranspose (Keras's subclasses of them: the same
 * keys plus output_padding), kernel (kh, [kw,] filters, in); channels-last. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/conv_config.h"
#include "nn/layer_internal.h"

typedef struct conv_state {
    int rank;            /* 1 or 2 spatial axes */
    int filters;
    int kernel[2];       /* Conv1D uses kernel[0] */
    bool transpose;      /* Conv2DTranspose / Conv1DTranspose */
    px_conv_options o;   /* strides and dilations normalised to >= 1 */
} conv_state;

static px_status conv_build(px_layer *l, const px_shape *in, int n) {
    conv_state *s = l->state;
    px_status st = px_cc_check_conv_input(l, in, n, s->rank);
    if (st) return st;
    int64_t ch = in[0].dim[in[0].rank - 1], in_ch = s->transpose ? s->filters : ch, out_ch = s->transpose ? ch : s->filters;
    px_shape ks = s->rank == 2 ? PX_SHAPE(s->kernel[0], s->kernel[1], in_ch, out_ch)
                               : PX_SHAPE(s->kernel[0], in_ch, out_ch);
    return px_layer_add_kernel_bias(l, ks, s->filters, s->o.kernel_initializer, s->o.kernel_regularizer,
                                    s->o.no_bias, s->o.bias_initializer, s->o.bias_regularizer);
}

static px_node *conv_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    conv_state *s = l->state;
    px_node *k = px_layer_weight(l, 0), *b = s->o.no_bias ? NULL : px_layer_weight(l, 1);
    px_node *y;
    const px_conv_options *o = &s->o;
    int op0 = o->has_output_padding ? o->output_padding[0] : -1, op1 = o->has_output_padding ? o->output_padding[1] : -1;
    if (s->transpose)
        y = s->rank == 2 ? px_conv2d_transpose(in[0], k, b, o->strides[0], o->strides[1], o->padding, op0, op1,
                                               o->dilation_rate[0], o->dilation_rate[1])
                         : px_conv1d_transpose(in[0], k, b, o->strides[0], o->padding, op0, o->dilation_rate[0]);
    else if (s->rank == 2)
        y = b ? px_conv2d_bias(in[0], k, b, s->o.strides[0], s->o.strides[1], s->o.padding, s->o.dilation_rate[0],
                               s->o.dilation_rate[1])
              : px_conv2d(in[0], k, s->o.strides[0], s->o.strides[1], s->o.padding, s->o.dilation_rate[0],
                          s->o.dilation_rate[1]);
    else
        y = px_conv1d_bias(in[0], k, b, s->o.strides[0], s->o.padding, s->o.dilation_rate[0]);
    return px_activate(y, s->o.activation);
}

/* ---- Keras config: K2 spelling written, K2 and K3 read ---- */

/* Keras 2's Conv2D / Conv1D config keys, in its order; the transposes add output_padding. */
static px_status conv_write_config(const px_layer *l, px_json *c) {
    const conv_state *s = l->state;
    px_status st = px_lc_set_int(c, "filters", s->filters);
    if (!st)
        st = px_cc_set_conv_keys(c, s->kernel, s->o.strides, s->o.padding, s->o.dilation_rate, s->rank, s->o.activation,
                                 !s->o.no_bias);
    if (!st) st = px_lc_set_kernel_bias(c, s->o.kernel_initializer, s->o.bias_initializer, s->o.kernel_regularizer,
                                       s->o.bias_regularizer);
    if (!st && s->transpose)
        st = s->o.has_output_padding ? px_cc_set_ints(c, "output_padding", s->o.output_padding, s->rank)
                                     : px_lc_set_null(c, "output_padding");
    return st;
}

static px_layer *conv_from_config(const px_json *c, int rank, bool transpose) {
    const char *cls = transpose ? (rank == 2 ? "Conv2DTranspose" : "Conv1DTranspose") : (rank == 2 ? "Conv2D" : "Conv1D");
    int64_t filters = 0, groups = 1;
    int kernel[2] = {0, 0};
    bool use_bias = true;
    px_conv_options o = {.strides = {1, 1}, .dilation_rate = {1, 1}, .output_padding = {-1, -1}};
    if (px_lc_get_int(c, "filters", true, &filters) || px_cc_get_ints(c, "kernel_size", rank, 1, kernel) ||
        px_cc_get_ints(c, "strides", rank, 1, o.strides) || px_cc_get_ints(c, "dilation_rate", rank, 1, o.dilation_rate) ||
        px_cc_get_padding(c, cls, rank == 1 && !transpose, &o.padding) ||
        (transpose && px_cc_get_ints(c, "output_padding", rank, 0, o.output_padding)) || px_cc_check_channels_last(c, cls) || px_lc_get_int(c, "groups", false, &groups) ||
        px_lc_get_activation(c, "activation", &o.activation) || px_lc_get_bool(c, "use_bias", false, &use_bias) ||
        px_lc_get_kernel_bias(c, &o.kernel_initializer, &o.bias_initializer, &o.kernel_regularizer,
                              &o.bias_regularizer) ||
        px_lc_expect_null(c, "lora_rank"))
        return NULL;
    if (px_cc_check_conv_config(c, cls, true, filters, groups)) return NULL;
    o.no_bias = !use_bias;
    o.has_output_padding = o.output_padding[0] >= 0;
    if (!o.has_output_padding) o.output_padding[0] = o.output_padding[1] = 0;
    px_layer *l = transpose ? (rank == 2 ? px_conv2d_transpose_layer((int)filters, kernel[0], kernel[1], &o)
                                         : px_conv1d_transpose_layer((int)filters, kernel[0], &o))
                            : (rank == 2 ? px_conv2d_layer((int)filters, kernel[0], kernel[1], &o)
                                         : px_conv1d_layer((int)filters, kernel[0], &o));
    /* e.g. strides and dilation both > 1: the constructor's message, as a config error */
    return l ? l : px_cc_config_error(c);
}
static px_layer *conv2d_from_config(const px_json *c) { return conv_from_config(c, 2, false); }
static px_layer *conv1d_from_config(const px_json *c) { return conv_from_config(c, 1, false); }
static px_layer *conv2dt_from_config(const px_json *c) { return conv_from_config(c, 2, true); }
static px_layer *conv1dt_from_config(const px_json *c) { return conv_from_config(c, 1, true); }

extern const px_layer_kind px_conv2d_kind, px_conv1d_kind, px_conv2d_transpose_kind, px_conv1d_transpose_kind;
const px_layer_kind px_conv2d_kind = {
    .def = {.class_name = "Conv2D", .build = conv_build, .call = conv_call},
    .base_name = "conv2d",
    .state_size = sizeof(conv_state),
    .write_config = conv_write_config,
    .from_config = conv2d_from_config,
};
const px_layer_kind px_conv1d_kind = {
    .def = {.class_name = "Conv1D", .build = conv_build, .call = conv_call},
    .base_name = "conv1d",
    .state_size = sizeof(conv_state),
    .write_config = conv_write_config,
    .from_config = conv1d_from_config,
};
const px_layer_kind px_conv2d_transpose_kind = {
    .def = {.class_name = "Conv2DTranspose", .build = conv_build, .call = conv_call},
    .base_name = "conv2d_transpose",
    .state_size = sizeof(conv_state),
    .write_config = conv_write_config,
    .from_config = conv2dt_from_config,
};
const px_layer_kind px_conv1d_transpose_kind = {
    .def = {.class_name = "Conv1DTranspose", .build = conv_build, .call = conv_call},
    .base_name = "conv1d_transpose",
    .state_size = sizeof(conv_state),
    .write_config = conv_write_config,
    .from_config = conv1dt_from_config,
};

static px_layer *conv_new(const px_layer_kind *kind, int rank, bool transpose, int filters, const int *kernel,
                          const px_conv_options *opts) {
    const char *cls = kind->def.class_name;
    if (filters <= 0) {
        px_set_error(PX_ERR_ARG, "%s: filters must be positive, got %d", cls, filters);
        return NULL;
    }
    px_conv_options o = opts ? *opts : (px_conv_options){0};
    if (px_cc_check_conv_args(cls, rank, kernel, o.strides, o.dilation_rate, o.padding, rank == 1 && !transpose,
                              o.activation))
        return NULL;
    for (int i = 0; o.has_output_padding && i < rank; i++)
        if (!transpose || o.output_padding[i] < 0 || o.output_padding[i] >= o.strides[i]) {
            /* Keras refuses it: the extra rows would lie a whole stride past the last window */
            px_set_error(PX_ERR_ARG, transpose ? "%s: output_padding %d (axis %d) must be in [0, stride %d)"
                                               : "%s: output_padding is for the transposed convolutions only",
                         cls, o.output_padding[i], i, o.strides[i]);
            return NULL;
        }
    conv_state *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", cls);
        return NULL;
    }
    s->rank = rank;
    s->filters = filters;
    s->kernel[0] = kernel[0];
    s->kernel[1] = rank == 2 ? kernel[1] : 1;
    s->transpose = transpose;
    if (rank == 1) o.strides[1] = o.dilation_rate[1] = 1, o.output_padding[1] = 0;
    if (!o.has_output_padding) o.output_padding[0] = o.output_padding[1] = 0;
    s->o = o;
    s->o.name = NULL; /* the layer keeps its own copy of the name */
    px_layer *l = px_layer_new_kind(kind, s, o.name);
    if (l && o.input_shape.rank > 0) {
        l->input_shape = o.input_shape;
        l->has_input_shape = true;
    }
    return l;
}

px_layer *px_conv2d_layer(int filters, int kernel_h, int kernel_w, const px_conv_options *opts) {
    return conv_new(&px_conv2d_kind, 2, false, filters, (int[]){kernel_h, kernel_w}, opts);
}

px_layer *px_conv1d_layer(int filters, int kernel_size, const px_conv_options *opts) {
    return conv_new(&px_conv1d_kind, 1, false, filters, (int[]){kernel_size}, opts);
}

px_layer *px_conv2d_transpose_layer(int filters, int kernel_h, int kernel_w, const px_conv_options *opts) {
    return conv_new(&px_conv2d_transpose_kind, 2, true, filters, (int[]){kernel_h, kernel_w}, opts);
}

px_layer *px_conv1d_transpose_layer(int filters, int kernel_size, const px_conv_options *opts) {
    return conv_new(&px_conv1d_transpose_kind, 1, true, filters, (int[]){kernel_size}, opts);
}

/* Accessors for the model-file code. */
/* The state of a Conv1D/Conv2D layer, or NULL with the error set (another
 * layer's state is another struct: reading it as this one would be garbage). */
static const conv_state *conv_of(const px_layer *l, const char *fn) {
    if (l && (l->kind == &px_conv2d_kind || l->kind == &px_conv1d_kind)) return l->state;
    px_set_error(PX_ERR_ARG, "%s: %s is not a Conv1D or Conv2D layer", fn, l ? px_layer_class(l) : "NULL");
    return NULL;
}

int px_conv_filters(const px_layer *l) {
    const conv_state *s = conv_of(l, "px_conv_filters");
    return s ? s->filters : 0;
}
int px_conv_rank(const px_layer *l) {
    const conv_state *s = conv_of(l, "px_conv_rank");
    return s ? s->rank : 0;
}
void px_conv_kernel_size(const px_layer *l, int out[2]) {
    const conv_state *s = conv_of(l, "px_conv_kernel_size");
    if (!s || !out) {
        if (s) px_set_error(PX_ERR_ARG, "px_conv_kernel_size: out is NULL");
        return;
    }
    out[0] = s->kernel[0];
    out[1] = s->kernel[1];
}
const px_conv_options *px_conv_get_options(const px_layer *l) {
    const conv_state *s = conv_of(l, "px_conv_get_options");
    return s ? &s->o : NULL;
}
