/* The recurrent layers SimpleRNN, LSTM, GRU and the Bidirectional wrapper, in
 * Keras's weight layout, each applied as one fused op (src/ops/rnn.c). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "graph/node.h"
#include "nn/layer_config.h"
#include "nn/layer_internal.h"

typedef struct rnn_cfg {
    px_rnn_cell cell;
    int units;
    px_rnn_options o;
} rnn_cfg;

typedef struct bidi_state {
    rnn_cfg inner;
    px_merge_mode merge;
    char inner_name[96]; /* the wrapped layer's name, for "forward_<name>/kernel" */
} bidi_state;

static const char *const class_names[] = {"SimpleRNN", "LSTM", "GRU"};
static const char *const base_names[] = {"simple_rnn", "lstm", "gru"};
static const int gates[] = {1, 4, 3};

/* A weight copied from a cloned layer replaces the initialisation: the fix-ups
 * below must leave it alone. */
static bool has_pending(const px_layer *l, int idx) { return idx < l->n_pending && l->pending[idx]; }

static px_status add_rnn_weights(px_layer *l, const rnn_cfg *c, int64_t features, const char *prefix) {
    const int64_t u = c->units, Gu = gates[c->cell] * u;
    char name[160];
    snprintf(name, sizeof name, "%skernel", prefix);
    if (!px_layer_add_weight(l, name, PX_SHAPE(features, Gu), c->o.kernel_initializer, c->o.kernel_regularizer, true))
        return px_last_status();
    snprintf(name, sizeof name, "%srecurrent_kernel", prefix);
    px_initializer ri = c->o.recurrent_initializer;
    if (ri.kind == PX_INIT_DEFAULT) ri.kind = PX_INIT_ORTHOGONAL; /* Keras's default */
    if (!px_layer_add_weight(l, name, PX_SHAPE(u, Gu), ri, c->o.recurrent_regularizer, true)) return px_last_status();
    if (c->o.no_bias) return PX_OK;
    px_initializer bi = c->o.bias_initializer;
    if (bi.kind == PX_INIT_DEFAULT) bi.kind = PX_INIT_ZEROS;
    snprintf(name, sizeof name, "%sbias", prefix);
    int idx = l->n_weights;
    bool two = c->cell == PX_RNN_GRU && !c->o.no_reset_after;
    px_node *b = px_layer_add_weight(l, name, two ? PX_SHAPE(2, Gu) : PX_SHAPE(Gu), bi, c->o.bias_regularizer, true);
    if (!b) return px_last_status();
    if (c->cell == PX_RNN_LSTM && !c->o.no_unit_forget_bias && !has_pending(l, idx)) {
        float *v = px_node_value(b)->data;
        for (int64_t j = 0; j < u; j++) v[u + j] = 1.0f;
    }
    return PX_OK;
}

static px_status check_input(const px_layer *l, const px_shape *in, int n) {
    char sb[96];
    if (n != 1) return px_set_error(PX_ERR_ARG, "layer '%s' (%s): takes one input, got %d", px_layer_name(l),
                                    px_layer_class(l), n);
    if (in[0].rank != 3 || in[0].dim[2] <= 0)
        return px_set_error(PX_ERR_SHAPE,
                            "layer '%s' (%s): input shape %s must be (batch, timesteps, features) with known features",
                            px_layer_name(l), px_layer_class(l), px_shape_format(in[0], sb, sizeof sb));
    return PX_OK;
}

static px_status rnn_build(px_layer *l, const px_shape *in, int n) {
    if (check_input(l, in, n) != PX_OK) return px_last_status();
    return add_rnn_weights(l, l->state, in[0].dim[2], "");
}

/* Applies one direction with the weights starting at w; returns the main
 * output and appends the states to l's extra outputs when asked. */
static px_node *apply_cell(px_layer *l, const rnn_cfg *c, px_node *x, px_node *const *w, px_rnn_direction dir,
                           bool zero_output) {
    const px_rnn_options *o = &c->o;
    /* Keras's mask of the input (Embedding mask_zero), when it fits (batch, timesteps) */
    px_node *mask = x->mask;
    px_shape ms = mask ? px_node_shape(mask) : PX_SCALAR, xs = px_node_shape(x);
    if (mask && (ms.rank != 2 || ms.dim[1] != xs.dim[1])) mask = NULL;
    px_rnn_fused_options fo = {.activation = o->activation, .recurrent_activation = o->recurrent_activation,
                               .linear_activation = o->linear_activation,
                               .linear_recurrent_activation = o->linear_recurrent_activation, .dropout = o->dropout,
                               .recurrent_dropout = o->recurrent_dropout, .reset_after = !o->no_reset_after,
                               .zero_output_for_mask = zero_output || o->zero_output_for_mask, .direction = dir};
    px_node *fused = px_rnn_fused_ex(c->cell, x, w[0], w[1], o->no_bias ? NULL : w[2], mask, &fo);
    px_node *y = c->o.return_sequences ? px_rnn_sequence(fused) : px_rnn_state(fused, 0);
    if (y && c->o.return_sequences) y->mask = mask;
    if (c->o.return_state)
        for (int k = 0; k < (c->cell == PX_RNN_LSTM ? 2 : 1) && l->n_extra < 4; k++)
            l->extra_outputs[l->n_extra++] = px_rnn_state(fused, k);
    return y;
}

static px_node *rnn_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    rnn_cfg *c = l->state;
    l->n_extra = 0;
    return apply_cell(l, c, in[0], l->weights, c->o.go_backwards ? PX_RNN_GO_BACKWARDS : PX_RNN_FORWARD, false);
}

/* ---- Keras config: K2 spelling written, K2 and K3 read ---- */

/* The activation a cell computes with (Keras's defaults for zero). */
static px_activation cell_activation(const px_rnn_options *o, bool recurrent) {
    if (recurrent) return o->linear_recurrent_activation ? PX_LINEAR : o->recurrent_activation ? o->recurrent_activation : PX_SIGMOID;
    return o->linear_activation ? PX_LINEAR : o->activation ? o->activation : PX_TANH;
}

static px_status write_rnn_keys(const rnn_cfg *c, px_json *j) {
    const px_rnn_options *o = &c->o;
    px_status st = px_lc_set_bool(j, "return_sequences", o->return_sequences);
    if (!st) st = px_lc_set_bool(j, "return_state", o->return_state);
    if (!st) st = px_lc_set_bool(j, "go_backwards", o->go_backwards);
    if (!st) st = px_lc_set_bool(j, "stateful", false);
    if (!st) st = px_lc_set_bool(j, "unroll", false);
    if (!st) st = px_lc_set_bool(j, "time_major", false);
    if (!st) st = px_lc_set_int(j, "units", c->units);
    if (!st) st = px_lc_set_activation(j, "activation", cell_activation(o, false));
    if (!st && c->cell != PX_RNN_SIMPLE) st = px_lc_set_activation(j, "recurrent_activation", cell_activation(o, true));
    if (!st) st = px_lc_set_bool(j, "use_bias", !o->no_bias);
    if (!st) st = px_lc_set_initializer(j, "kernel_initializer", o->kernel_initializer, PX_INIT_GLOROT_UNIFORM);
    if (!st) st = px_lc_set_initializer(j, "recurrent_initializer", o->recurrent_initializer, PX_INIT_ORTHOGONAL);
    if (!st) st = px_lc_set_initializer(j, "bias_initializer", o->bias_initializer, PX_INIT_ZEROS);
    if (!st && c->cell == PX_RNN_LSTM) st = px_lc_set_bool(j, "unit_forget_bias", !o->no_unit_forget_bias);
    if (!st) st = px_lc_set_regularizer(j, "kernel_regularizer", o->kernel_regularizer);
    if (!st) st = px_lc_set_regularizer(j, "recurrent_regularizer", o->recurrent_regularizer);
    if (!st) st = px_lc_set_regularizer(j, "bias_regularizer", o->bias_regularizer);
    if (!st) st = px_lc_set_null(j, "activity_regularizer");
    if (!st) st = px_lc_set_null(j, "kernel_constraint");
    if (!st) st = px_lc_set_null(j, "recurrent_constraint");
    if (!st) st = px_lc_set_null(j, "bias_constraint");
    if (!st) st = px_lc_set_float(j, "dropout", o->dropout);
    if (!st) st = px_lc_set_float(j, "recurrent_dropout", o->recurrent_dropout);
    /* a Keras 3 key: written only when set, as Keras 2 refuses unknown ones */
    if (!st && o->zero_output_for_mask) st = px_lc_set_bool(j, "zero_output_for_mask", true);
    if (!st && c->cell != PX_RNN_SIMPLE) st = px_lc_set_int(j, "implementation", 2);
    if (!st && c->cell == PX_RNN_GRU) st = px_lc_set_bool(j, "reset_after", !o->no_reset_after);
    return st;
}

static px_status rnn_write_config(const px_layer *l, px_json *j) { return write_rnn_keys(l->state, j); }

/* A cell activation key (absent: Keras's default `def`); null means linear. */
static px_status read_activation(const px_json *c, const char *key, px_activation def, const char *cls,
                                 px_activation *out, bool *linear) {
    px_activation a = def;
    const px_json *v = px_json_get(c, key);
    if (v && px_json_is_null(v)) a = PX_LINEAR;
    else if (px_lc_get_activation(c, key, &a)) return px_last_status();
    if (a == PX_SOFTMAX || a == PX_LOG_SOFTMAX)
        return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (%s): config key '%s' is '%s'; a cell needs an elementwise activation",
                            px_lc_name(c), cls, key, px_activation_name(a));
    *out = a == def ? (px_activation)0 : a;
    *linear = a == PX_LINEAR;
    return PX_OK;
}

/* A key that must be false when present (stateful, time_major). */
static px_status expect_false(const px_json *c, const char *key, const char *cls) {
    bool v = false;
    if (px_lc_get_bool(c, key, false, &v)) return px_last_status();
    if (!v) return PX_OK;
    return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (%s): config key '%s' is true, which Plexus does not support",
                        px_lc_name(c), cls, key);
}

/* dropout / recurrent_dropout: a rate in [0, 1) */
static px_status read_rate(const px_json *c, const char *key, const char *cls, float *out) {
    if (px_lc_get_float(c, key, false, out)) return px_last_status();
    if (*out >= 0 && *out < 1) return PX_OK;
    return px_set_error(PX_ERR_FORMAT, "layer '%s' (%s): config key '%s' is %g; it must be in [0, 1)", px_lc_name(c), cls,
                        key, *out);
}

/* Reads a SimpleRNN / LSTM / GRU config into units and options. */
static px_status read_rnn_keys(const px_json *c, px_rnn_cell cell, int *units, px_rnn_options *o) {
    const char *cls = class_names[cell];
    int64_t u = 0;
    bool use_bias = true, unit_forget_bias = true, reset_after = false, unroll = false;
    *o = (px_rnn_options){0};
    px_status st = px_lc_get_int(c, "units", true, &u);
    if (!st) st = read_activation(c, "activation", PX_TANH, cls, &o->activation, &o->linear_activation);
    if (!st && cell != PX_RNN_SIMPLE)
        st = read_activation(c, "recurrent_activation", PX_SIGMOID, cls, &o->recurrent_activation, &o->linear_recurrent_activation);
    if (!st) st = px_lc_get_bool(c, "return_sequences", false, &o->return_sequences);
    if (!st) st = px_lc_get_bool(c, "return_state", false, &o->return_state);
    if (!st) st = px_lc_get_bool(c, "go_backwards", false, &o->go_backwards);
    if (!st) st = expect_false(c, "stateful", cls);
    if (!st) st = expect_false(c, "time_major", cls);
    if (!st) st = px_lc_get_bool(c, "unroll", false, &unroll); /* unrolling changes speed, not results */
    if (!st) st = px_lc_get_bool(c, "use_bias", false, &use_bias);
    if (!st) st = px_lc_get_initializer(c, "kernel_initializer", &o->kernel_initializer);
    if (!st) st = px_lc_get_initializer(c, "recurrent_initializer", &o->recurrent_initializer);
    if (!st) st = px_lc_get_initializer(c, "bias_initializer", &o->bias_initializer);
    if (!st && cell == PX_RNN_LSTM) st = px_lc_get_bool(c, "unit_forget_bias", false, &unit_forget_bias);
    /* absent before Keras 2.1.3, whose GRU was the reset_after = False kind */
    if (!st && cell == PX_RNN_GRU) st = px_lc_get_bool(c, "reset_after", false, &reset_after);
    if (!st) st = px_lc_get_regularizer(c, "kernel_regularizer", &o->kernel_regularizer);
    if (!st) st = px_lc_get_regularizer(c, "recurrent_regularizer", &o->recurrent_regularizer);
    if (!st) st = px_lc_get_regularizer(c, "bias_regularizer", &o->bias_regularizer);
    if (!st) st = px_lc_expect_null(c, "activity_regularizer");
    if (!st) st = px_lc_expect_null(c, "kernel_constraint");
    if (!st) st = px_lc_expect_null(c, "recurrent_constraint");
    if (!st) st = px_lc_expect_null(c, "bias_constraint");
    if (!st) st = read_rate(c, "dropout", cls, &o->dropout);
    if (!st) st = read_rate(c, "recurrent_dropout", cls, &o->recurrent_dropout);
    if (!st) st = px_lc_get_bool(c, "zero_output_for_mask", false, &o->zero_output_for_mask);
    /* implementation (K2), seed, use_cudnn (K3) do not change the numbers */
    if (st) return st;
    if (u <= 0 || u > INT32_MAX)
        return px_set_error(PX_ERR_FORMAT, "layer '%s': config key 'units' is %lld; it must be positive", px_lc_name(c),
                            (long long)u);
    *units = (int)u;
    o->no_bias = !use_bias;
    o->no_unit_forget_bias = cell == PX_RNN_LSTM && !unit_forget_bias;
    o->no_reset_after = cell == PX_RNN_GRU && !reset_after;
    return PX_OK;
}

static px_layer *rnn_new(px_rnn_cell cell, int units, const px_rnn_options *opts);

static px_layer *rnn_from_config(const px_json *c, px_rnn_cell cell) {
    int units = 0;
    px_rnn_options o;
    if (read_rnn_keys(c, cell, &units, &o)) return NULL;
    return rnn_new(cell, units, &o);
}
static px_layer *simple_rnn_from_config(const px_json *c) { return rnn_from_config(c, PX_RNN_SIMPLE); }
static px_layer *lstm_from_config(const px_json *c) { return rnn_from_config(c, PX_RNN_LSTM); }
static px_layer *gru_from_config(const px_json *c) { return rnn_from_config(c, PX_RNN_GRU); }

/* Keras 3 keeps a recurrent layer's weights in its cell; Bidirectional's in the
 * cells of its forward_layer and backward_layer (the forward copy's weights first). */
static const char *rnn_k3_vars(const px_layer *l, int i, int *index) {
    (void)l;
    *index = i;
    return "cell/vars";
}
static const char *bidi_k3_vars(const px_layer *l, int i, int *index) {
    int half = l->n_weights / 2;
    *index = i < half ? i : i - half;
    return i < half ? "forward_layer/cell/vars" : "backward_layer/cell/vars";
}

#define RNN_KIND(var, i, from)                                                                      \
    extern const px_layer_kind var;                                                                 \
    const px_layer_kind var = {                                                                     \
        .def = {.class_name = class_names_lit_##i, .build = rnn_build, .call = rnn_call},           \
        .base_name = base_names_lit_##i,                                                            \
        .state_size = sizeof(rnn_cfg),                                                              \
        .write_config = rnn_write_config,                                                           \
        .from_config = from,                                                                        \
        .mask_mode = PX_MASK_OWN,                                                                   \
        .k3_vars = rnn_k3_vars,                                                                     \
    };
#define class_names_lit_0 "SimpleRNN"
#define class_names_lit_1 "LSTM"
#define class_names_lit_2 "GRU"
#define base_names_lit_0 "simple_rnn"
#define base_names_lit_1 "lstm"
#define base_names_lit_2 "gru"
RNN_KIND(px_simple_rnn_kind, 0, simple_rnn_from_config)
RNN_KIND(px_lstm_kind, 1, lstm_from_config)
RNN_KIND(px_gru_kind, 2, gru_from_config)
static const px_layer_kind *const rnn_kinds[] = {&px_simple_rnn_kind, &px_lstm_kind, &px_gru_kind};

static px_layer *rnn_new(px_rnn_cell cell, int units, const px_rnn_options *opts) {
    if (units <= 0) {
        px_set_error(PX_ERR_ARG, "%s: units must be positive, got %d", class_names[cell], units);
        return NULL;
    }
    if (opts && opts->input_shape.rank != 0 && opts->input_shape.rank != 2) {
        char sb[96];
        px_set_error(PX_ERR_SHAPE, "%s: input_shape %s must be (timesteps, features)", class_names[cell],
                     px_shape_format(opts->input_shape, sb, sizeof sb));
        return NULL;
    }
    rnn_cfg *c = calloc(1, sizeof *c);
    if (!c) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", class_names[cell]);
        return NULL;
    }
    c->cell = cell;
    c->units = units;
    if (opts) c->o = *opts;
    c->o.name = NULL; /* the layer keeps its own copy of the name */
    px_layer *l = px_layer_new_kind(rnn_kinds[cell], c, opts ? opts->name : NULL);
    if (l && opts && opts->input_shape.rank > 0) {
        l->input_shape = opts->input_shape;
        l->has_input_shape = true;
    }
    return l;
}

px_layer *px_simple_rnn(int units, const px_rnn_options *opts) { return rnn_new(PX_RNN_SIMPLE, units, opts); }
px_layer *px_lstm(int units, const px_rnn_options *opts) { return rnn_new(PX_RNN_LSTM, units, opts); }
px_layer *px_gru(int units, const px_rnn_options *opts) { return rnn_new(PX_RNN_GRU, units, opts); }

/* ---------------------------------------------------------- Bidirectional ---- */

static int weights_per_copy(const rnn_cfg *c) { return c->o.no_bias ? 2 : 3; }

static px_status bidi_build(px_layer *l, const px_shape *in, int n) {
    bidi_state *s = l->state;
    if (check_input(l, in, n) != PX_OK) return px_last_status();
    char prefix[128];
    snprintf(prefix, sizeof prefix, "forward_%s/", s->inner_name);
    if (add_rnn_weights(l, &s->inner, in[0].dim[2], prefix) != PX_OK) return px_last_status();
    snprintf(prefix, sizeof prefix, "backward_%s/", s->inner_name);
    return add_rnn_weights(l, &s->inner, in[0].dim[2], prefix);
}

static px_node *bidi_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    bidi_state *s = l->state;
    l->n_extra = 0;
    /* Keras reverses the backward copy's sequence back into input order; the
     * aligned direction writes it that way directly */
    /* with a mask Keras's Bidirectional zeroes masked outputs of both copies */
    bool zero = s->inner.o.return_sequences;
    px_node *f = apply_cell(l, &s->inner, in[0], l->weights, PX_RNN_FORWARD, zero);
    px_node *b = apply_cell(l, &s->inner, in[0], l->weights + weights_per_copy(&s->inner),
                            s->inner.o.return_sequences ? PX_RNN_BACKWARD_ALIGNED : PX_RNN_GO_BACKWARDS, zero);
    px_node *mask = f ? f->mask : NULL;
    px_node *y;
    switch (s->merge) {
    case PX_MERGE_SUM: y = px_add(f, b); break;
    case PX_MERGE_MUL: y = px_mul(f, b); break;
    case PX_MERGE_AVE: y = px_scale(px_add(f, b), 0.5f); break;
    default: y = px_concat((px_node *[]){f, b}, 2, -1); break;
    }
    if (y) y->mask = mask;
    return y;
}

static const char *const merge_names[] = {"concat", "sum", "mul", "ave"};

/* Keras 2's Bidirectional keys: the wrapped layer's full entry, then merge_mode. */
static px_status bidi_write_config(const px_layer *l, px_json *c) {
    const bidi_state *s = l->state;
    px_json *layer = px_json_new_object(), *inner = px_json_new_object();
    if (!layer || !inner) {
        px_json_free(layer), px_json_free(inner);
        return px_last_status();
    }
    px_status st = px_lc_set_string(layer, "class_name", class_names[s->inner.cell]);
    if (!st) st = px_lc_set_string(inner, "name", s->inner_name);
    if (!st) st = px_lc_set_bool(inner, "trainable", true);
    if (!st) st = px_lc_set_string(inner, "dtype", "float32");
    if (!st) st = write_rnn_keys(&s->inner, inner);
    if (st) px_json_free(inner);
    else st = px_json_set(layer, "config", inner); /* owns inner, also on failure */
    if (st) px_json_free(layer);
    else st = px_json_set(c, "layer", layer);
    if (!st) st = px_lc_set_string(c, "merge_mode", merge_names[s->merge]);
    return st;
}

static bool same_init(px_initializer a, px_initializer b) {
    return a.kind == b.kind && a.value == b.value && a.mean == b.mean && a.stddev == b.stddev &&
           a.minval == b.minval && a.maxval == b.maxval;
}
static bool same_reg(px_regularizer a, px_regularizer b) { return a.l1 == b.l1 && a.l2 == b.l2; }

/* K3 writes the backward copy's config too: Plexus builds it from the forward
 * one, so it must be that one run backwards. */
static px_status check_backward(const px_json *c, px_rnn_cell cell, int units, const px_rnn_options *f) {
    const px_json *b = px_json_get(c, "backward_layer");
    if (!b || px_json_is_null(b)) return PX_OK;
    const px_json *bc = px_json_get(b, "config");
    int bu = 0;
    px_rnn_options o;
    bool same = strcmp(px_json_get_string(b, "class_name", ""), class_names[cell]) == 0 && px_json_is_object(bc) &&
                read_rnn_keys(bc, cell, &bu, &o) == PX_OK && bu == units && o.go_backwards &&
                o.return_sequences == f->return_sequences && o.return_state == f->return_state &&
                o.no_bias == f->no_bias && o.no_unit_forget_bias == f->no_unit_forget_bias &&
                o.no_reset_after == f->no_reset_after && same_init(o.kernel_initializer, f->kernel_initializer) &&
                same_init(o.recurrent_initializer, f->recurrent_initializer) &&
                same_init(o.bias_initializer, f->bias_initializer) && o.activation == f->activation &&
                o.recurrent_activation == f->recurrent_activation && o.linear_activation == f->linear_activation &&
                o.linear_recurrent_activation == f->linear_recurrent_activation && o.dropout == f->dropout &&
                o.recurrent_dropout == f->recurrent_dropout && same_reg(o.kernel_regularizer, f->kernel_regularizer) &&
                same_reg(o.recurrent_regularizer, f->recurrent_regularizer) && same_reg(o.bias_regularizer, f->bias_regularizer);
    if (same) return PX_OK;
    return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (Bidirectional): config key 'backward_layer' is not the forward layer "
                        "run backwards; a different backward layer is not supported", px_lc_name(c));
}

static px_layer *bidi_from_config(const px_json *c) {
    const px_json *layer = px_json_get(c, "layer"), *inner = px_json_get(layer, "config");
    const char *cls = px_json_get_string(layer, "class_name", NULL);
    if (!cls || !px_json_is_object(inner)) {
        px_set_error(PX_ERR_FORMAT, "layer '%s' (Bidirectional): config key 'layer' should be {\"class_name\", \"config\"}",
                     px_lc_name(c));
        return NULL;
    }
    int cell = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(cls, class_names[i]) == 0) cell = i;
    if (cell < 0) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (Bidirectional): config key 'layer' wraps a %s; only SimpleRNN, LSTM and GRU are supported",
                     px_lc_name(c), cls);
        return NULL;
    }
    const char *inner_name = px_json_get_string(inner, "name", base_names[cell]);
    const px_json *mm = px_json_get(c, "merge_mode");
    int merge = -1;
    if (!mm) merge = PX_MERGE_CONCAT;
    for (int i = 0; px_json_is_string(mm) && i < 4; i++)
        if (strcmp(px_json_string(mm), merge_names[i]) == 0) merge = i;
    if (merge < 0) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (Bidirectional): config key 'merge_mode' is %s%s%s; only concat, sum, mul and ave are supported",
                     px_lc_name(c), px_json_is_string(mm) ? "'" : "", px_json_is_string(mm) ? px_json_string(mm) : px_json_type_name(px_json_typeof(mm)),
                     px_json_is_string(mm) ? "'" : "");
        return NULL;
    }
    const px_json *nc = px_json_get(c, "num_constants");
    if (nc && !px_json_is_null(nc) && !(px_json_is_integer(nc) && px_json_int(nc) == 0)) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (Bidirectional): config key 'num_constants' is set, which Plexus does not support",
                     px_lc_name(c));
        return NULL;
    }
    int units = 0;
    px_rnn_options o;
    if (px_lc_check_dtype(inner) || read_rnn_keys(inner, (px_rnn_cell)cell, &units, &o) ||
        check_backward(c, (px_rnn_cell)cell, units, &o))
        return NULL;
    if (o.go_backwards) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (Bidirectional): the wrapped layer '%s' has go_backwards true, which is not supported",
                     px_lc_name(c), inner_name);
        return NULL;
    }
    px_layer *l = rnn_new((px_rnn_cell)cell, units, &o);
    if (l && px_layer_set_name(l, inner_name)) {
        px_layer_free(l);
        return NULL;
    }
    return l ? px_bidirectional(l, (px_merge_mode)merge) : NULL;
}

extern const px_layer_kind px_bidirectional_kind;
const px_layer_kind px_bidirectional_kind = {
    .def = {.class_name = "Bidirectional", .build = bidi_build, .call = bidi_call},
    .base_name = "bidirectional",
    .state_size = sizeof(bidi_state),
    .write_config = bidi_write_config,
    .from_config = bidi_from_config,
    .mask_mode = PX_MASK_OWN,
    .k3_vars = bidi_k3_vars,
};

px_layer *px_bidirectional(px_layer *layer, px_merge_mode merge_mode) {
    if (!layer) { /* keeps the constructor's error, or says what is missing */
        if (!px_last_error()[0]) px_set_error(PX_ERR_ARG, "Bidirectional: the layer is NULL");
        return NULL;
    }
    px_layer *out = NULL;
    int cell = -1;
    for (int i = 0; i < 3; i++)
        if (layer->kind == rnn_kinds[i]) cell = i;
    if (cell < 0) {
        px_set_error(PX_ERR_ARG, "Bidirectional: wraps SimpleRNN, LSTM or GRU layers, got '%s' (%s)",
                     px_layer_name(layer), px_layer_class(layer));
    } else if (layer->built) {
        px_set_error(PX_ERR_ARG, "Bidirectional: layer '%s' is already in a model", px_layer_name(layer));
    } else if ((unsigned)merge_mode > PX_MERGE_AVE) {
        px_set_error(PX_ERR_ARG, "Bidirectional: unknown merge mode %d", (int)merge_mode);
    } else if (((rnn_cfg *)layer->state)->o.go_backwards) {
        px_set_error(PX_ERR_UNSUPPORTED, "Bidirectional: wrapping a go_backwards layer ('%s') is not supported",
                     px_layer_name(layer));
    } else {
        bidi_state *s = calloc(1, sizeof *s);
        if (!s) {
            px_set_error(PX_ERR_NOMEM, "Bidirectional: out of memory");
        } else {
            s->inner = *(rnn_cfg *)layer->state;
            s->merge = merge_mode;
            snprintf(s->inner_name, sizeof s->inner_name, "%s", layer->name ? layer->name : base_names[cell]);
            out = px_layer_new_kind(&px_bidirectional_kind, s, NULL);
            if (out && layer->has_input_shape) {
                out->input_shape = layer->input_shape;
                out->has_input_shape = true;
            }
        }
    }
    px_layer_free(layer);
    return out;
}

int px_layer_extra_output_count(const px_layer *l) { return l ? l->n_extra : 0; }
px_node *px_layer_extra_output(const px_layer *l, int i) {
    if (l && i >= 0 && i < l->n_extra) return l->extra_outputs[i];
    if (!l) px_set_error(PX_ERR_ARG, "px_layer_extra_output: layer is NULL");
    else px_set_error(PX_ERR_ARG, "px_layer_extra_output: layer '%s' has %d extra outputs, not %d", px_layer_name(l), l->n_extra, i + 1);
    return NULL;
}
