/* The convolution layers Conv2D and Conv1D: y = activation(conv(x, kernel) + bias)
 * on channels-last input, kernel stored (kh, kw, in, filters) as Keras does. */
#include <stdlib.h>

#include "nn/layer_internal.h"

typedef struct conv_state {
    int rank;            /* 1 or 2 spatial axes */
    int filters;
    int kernel[2];       /* Conv1D uses kernel[0] */
    px_conv_options o;   /* strides and dilations normalised to >= 1 */
} conv_state;

static px_status conv_build(px_layer *l, const px_shape *in, int n) {
    conv_state *s = l->state;
    const char *cls = l->def->class_name;
    char sb[96];
    if (n != 1) return px_set_error(PX_ERR_ARG, "layer '%s' (%s): takes one input, got %d", px_layer_name(l), cls, n);
    if (in[0].rank != s->rank + 2 || in[0].dim[in[0].rank - 1] <= 0)
        return px_set_error(PX_ERR_SHAPE, "layer '%s' (%s): input shape %s must be %s with known channels",
                            px_layer_name(l), cls, px_shape_format(in[0], sb, sizeof sb),
                            s->rank == 2 ? "(batch, height, width, channels)" : "(batch, steps, channels)");
    int64_t ch = in[0].dim[in[0].rank - 1];
    px_shape ks = s->rank == 2 ? PX_SHAPE(s->kernel[0], s->kernel[1], ch, s->filters)
                               : PX_SHAPE(s->kernel[0], ch, s->filters);
    if (!px_layer_add_weight(l, "kernel", ks, s->o.kernel_initializer, s->o.kernel_regularizer, true))
        return px_last_status();
    if (!s->o.no_bias) {
        px_initializer b = s->o.bias_initializer;
        if (b.kind == PX_INIT_DEFAULT) b.kind = PX_INIT_ZEROS;
        if (!px_layer_add_weight(l, "bias", PX_SHAPE(s->filters), b, s->o.bias_regularizer, true))
            return px_last_status();
    }
    return PX_OK;
}

static px_node *conv_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    conv_state *s = l->state;
    px_node *k = px_layer_weight(l, 0), *b = s->o.no_bias ? NULL : px_layer_weight(l, 1);
    px_node *y;
    if (s->rank == 2)
        y = b ? px_conv2d_bias(in[0], k, b, s->o.strides[0], s->o.strides[1], s->o.padding, s->o.dilation_rate[0],
                               s->o.dilation_rate[1])
              : px_conv2d(in[0], k, s->o.strides[0], s->o.strides[1], s->o.padding, s->o.dilation_rate[0],
                          s->o.dilation_rate[1]);
    else
        y = px_conv1d_bias(in[0], k, b, s->o.strides[0], s->o.padding, s->o.dilation_rate[0]);
    return px_activate(y, s->o.activation);
}

extern const px_layer_kind px_conv2d_kind, px_conv1d_kind;
const px_layer_kind px_conv2d_kind = {
    .def = {.class_name = "Conv2D", .build = conv_build, .call = conv_call},
    .base_name = "conv2d",
    .state_size = sizeof(conv_state),
};
const px_layer_kind px_conv1d_kind = {
    .def = {.class_name = "Conv1D", .build = conv_build, .call = conv_call},
    .base_name = "conv1d",
    .state_size = sizeof(conv_state),
};

static px_layer *conv_new(const px_layer_kind *kind, int rank, int filters, const int *kernel,
                          const px_conv_options *opts) {
    const char *cls = kind->def.class_name;
    if (filters <= 0) {
        px_set_error(PX_ERR_ARG, "%s: filters must be positive, got %d", cls, filters);
        return NULL;
    }
    px_conv_options o = opts ? *opts : (px_conv_options){0};
    bool strided = false, dilated = false;
    for (int i = 0; i < rank; i++) {
        if (kernel[i] <= 0 || o.strides[i] < 0 || o.dilation_rate[i] < 0) {
            px_set_error(PX_ERR_ARG, "%s: kernel size %d, stride %d and dilation %d (axis %d) must be positive", cls,
                         kernel[i], o.strides[i], o.dilation_rate[i], i);
            return NULL;
        }
        if (o.strides[i] == 0) o.strides[i] = 1;
        if (o.dilation_rate[i] == 0) o.dilation_rate[i] = 1;
        strided |= o.strides[i] > 1;
        dilated |= o.dilation_rate[i] > 1;
    }
    if (strided && dilated) {
        /* Keras refuses this combination too */
        px_set_error(PX_ERR_ARG, "%s: strides > 1 cannot be combined with dilation_rate > 1", cls);
        return NULL;
    }
    if (o.padding != PX_PADDING_VALID && o.padding != PX_PADDING_SAME) {
        px_set_error(PX_ERR_ARG, "%s: unknown padding %d", cls, (int)o.padding);
        return NULL;
    }
    if ((unsigned)o.activation >= PX_ACTIVATION_COUNT) {
        px_set_error(PX_ERR_ARG, "%s: unknown activation %d", cls, (int)o.activation);
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

px_layer *px_conv2d_layer(int filters, int kernel_h, int kernel_w, const px_conv_options *opts) {
    return conv_new(&px_conv2d_kind, 2, filters, (int[]){kernel_h, kernel_w}, opts);
}

px_layer *px_conv1d_layer(int filters, int kernel_size, const px_conv_options *opts) {
    return conv_new(&px_conv1d_kind, 1, filters, (int[]){kernel_size}, opts);
}

/* Accessors for the model-file code. */
int px_conv_filters(const px_layer *l) { return ((const conv_state *)l->state)->filters; }
int px_conv_rank(const px_layer *l) { return ((const conv_state *)l->state)->rank; }
void px_conv_kernel_size(const px_layer *l, int out[2]) {
    const conv_state *s = l->state;
    out[0] = s->kernel[0];
    out[1] = s->kernel[1];
}
const px_conv_options *px_conv_get_options(const px_layer *l) { return &((const conv_state *)l->state)->o; }
