/* The recurrent layers SimpleRNN, LSTM, GRU and the Bidirectional wrapper, in
 * Keras's weight layout, each applied as one fused op (src/ops/rnn.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Keras's Orthogonal(gain 1): a normal (max, min) matrix's Q factor with the
 * signs of R's diagonal folded in (what Gram-Schmidt yields), transposed when
 * the weight has fewer rows than columns, so rows or columns are orthonormal. */
static void fill_orthogonal(px_tensor *t, px_rng *rng) {
    int64_t rows = t->shape[0], cols = t->shape[1];
    int64_t big = rows > cols ? rows : cols, small = rows > cols ? cols : rows;
    double *q = malloc((size_t)(big * small) * sizeof *q);
    if (!q) return; /* keeps the glorot values already there */
    for (int64_t i = 0; i < big * small; i++) q[i] = px_rng_normal(rng);
    /* modified Gram-Schmidt on the columns of the (big, small) matrix, twice for
     * orthogonality to float precision */
    for (int64_t j = 0; j < small; j++)
        for (int pass = 0; pass < 2; pass++) {
            for (int64_t k = 0; k < j; k++) {
                double dot = 0;
                for (int64_t i = 0; i < big; i++) dot += q[i * small + j] * q[i * small + k];
                for (int64_t i = 0; i < big; i++) q[i * small + j] -= dot * q[i * small + k];
            }
            double norm = 0;
            for (int64_t i = 0; i < big; i++) norm += q[i * small + j] * q[i * small + j];
            norm = sqrt(norm);
            for (int64_t i = 0; i < big; i++) q[i * small + j] = norm > 0 ? q[i * small + j] / norm : 0;
        }
    float *w = t->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) w[r * cols + c] = (float)(rows >= cols ? q[r * small + c] : q[c * small + r]);
    free(q);
}

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
    int idx = l->n_weights;
    bool ortho = c->o.recurrent_initializer.kind == PX_INIT_DEFAULT;
    px_node *rk = px_layer_add_weight(l, name, PX_SHAPE(u, Gu), ortho ? (px_initializer){.kind = PX_INIT_ZEROS}
                                                                      : c->o.recurrent_initializer,
                                      c->o.recurrent_regularizer, true);
    if (!rk) return px_last_status();
    if (ortho && !has_pending(l, idx)) {
        px_rng fallback = px_rng_seeded(1);
        fill_orthogonal(px_node_value(rk), l->rng ? l->rng : &fallback);
    }
    if (c->o.no_bias) return PX_OK;
    px_initializer bi = c->o.bias_initializer;
    if (bi.kind == PX_INIT_DEFAULT) bi.kind = PX_INIT_ZEROS;
    snprintf(name, sizeof name, "%sbias", prefix);
    idx = l->n_weights;
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
static px_node *apply_cell(px_layer *l, const rnn_cfg *c, px_node *x, px_node *const *w, px_rnn_direction dir) {
    px_node *fused = px_rnn_fused(c->cell, x, w[0], w[1], c->o.no_bias ? NULL : w[2], !c->o.no_reset_after, dir);
    px_node *y = c->o.return_sequences ? px_rnn_sequence(fused) : px_rnn_state(fused, 0);
    if (c->o.return_state)
        for (int k = 0; k < (c->cell == PX_RNN_LSTM ? 2 : 1) && l->n_extra < 4; k++)
            l->extra_outputs[l->n_extra++] = px_rnn_state(fused, k);
    return y;
}

static px_node *rnn_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    rnn_cfg *c = l->state;
    l->n_extra = 0;
    return apply_cell(l, c, in[0], l->weights, c->o.go_backwards ? PX_RNN_GO_BACKWARDS : PX_RNN_FORWARD);
}

#define RNN_KIND(var, i)                                                                            \
    extern const px_layer_kind var;                                                                 \
    const px_layer_kind var = {                                                                     \
        .def = {.class_name = class_names_lit_##i, .build = rnn_build, .call = rnn_call},           \
        .base_name = base_names_lit_##i,                                                            \
        .state_size = sizeof(rnn_cfg),                                                              \
    };
#define class_names_lit_0 "SimpleRNN"
#define class_names_lit_1 "LSTM"
#define class_names_lit_2 "GRU"
#define base_names_lit_0 "simple_rnn"
#define base_names_lit_1 "lstm"
#define base_names_lit_2 "gru"
RNN_KIND(px_simple_rnn_kind, 0)
RNN_KIND(px_lstm_kind, 1)
RNN_KIND(px_gru_kind, 2)
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
    px_node *f = apply_cell(l, &s->inner, in[0], l->weights, PX_RNN_FORWARD);
    px_node *b = apply_cell(l, &s->inner, in[0], l->weights + weights_per_copy(&s->inner),
                            s->inner.o.return_sequences ? PX_RNN_BACKWARD_ALIGNED : PX_RNN_GO_BACKWARDS);
    switch (s->merge) {
    case PX_MERGE_SUM: return px_add(f, b);
    case PX_MERGE_MUL: return px_mul(f, b);
    case PX_MERGE_AVE: return px_scale(px_add(f, b), 0.5f);
    default: return px_concat((px_node *[]){f, b}, 2, -1);
    }
}

extern const px_layer_kind px_bidirectional_kind;
const px_layer_kind px_bidirectional_kind = {
    .def = {.class_name = "Bidirectional", .build = bidi_build, .call = bidi_call},
    .base_name = "bidirectional",
    .state_size = sizeof(bidi_state),
};

px_layer *px_bidirectional(px_layer *layer, px_merge_mode merge_mode) {
    if (!layer) return NULL; /* keeps the constructor's error */
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
    return l && i >= 0 && i < l->n_extra ? l->extra_outputs[i] : NULL;
}

/* Accessors for the model-file code. */
px_rnn_cell px_rnn_layer_cell(const px_layer *l) { return ((const rnn_cfg *)l->state)->cell; }
int px_rnn_layer_units(const px_layer *l) { return ((const rnn_cfg *)l->state)->units; }
const px_rnn_options *px_rnn_layer_options(const px_layer *l) { return &((const rnn_cfg *)l->state)->o; }
px_merge_mode px_bidirectional_merge_mode(const px_layer *l) { return ((const bidi_state *)l->state)->merge; }
const px_layer *px_bidirectional_inner_config(const px_layer *l, int *units, px_rnn_cell *cell,
                                              const px_rnn_options **opts) {
    const bidi_state *s = l->state;
    *units = s->inner.units;
    *cell = s->inner.cell;
    *opts = &s->inner.o;
    return l;
}
