/* The C exporter's Embedding and recurrent layers (SimpleRNN, LSTM, GRU and
 * Bidirectional): each recurrent direction is one function stepping over the
 * sequence with its state in the scratch buffer, in Keras's gate order. */
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "nn/layer_config.h"
#include "saving/export_c_internal.h"

#define P(...) px_cbuf_printf(&x->code, __VA_ARGS__)
#define LL(v) ((long long)(v))


/* Embedding: ids as floats; an id that is not in [0, input_dim) gives a row of
 * NaN (as Plexus does) and makes the function return 1. */
px_status px_xemit_embedding(px_xctx *x, px_xlayer *l) {
    if (l->w[0] == NULL || l->n_w < 1) return px_set_error(PX_ERR_FORMAT, "export: layer '%s' (Embedding) has no weights", l->name);
    px_shape es = px_tensor_shape(l->w[0]);
    const int64_t V = es.dim[0], D = es.dim[1];
    int64_t T = 1;
    for (int i = 0; i < l->in[0].rank; i++) T *= l->in[0].dim[i];
    px_status st = px_xemit_array(x, l->sym, "embeddings", l->w[0]->data, V * D);
    if (st) return st;
    char what[80];
    snprintf(what, sizeof what, "%lld ids -> vectors of %lld", LL(V), LL(D));
    px_xemit_open(x, l, what);
    P("    long t, j;\n    int bad = 0;\n    for (t = 0; t < %lld; t++) {\n        const float v = x[t];\n        float *yt = y + t * %lld;\n", LL(T), LL(D));
    P("        if (!(v >= 0.0f && v < %lld.0f)) {\n            for (j = 0; j < %lld; j++) yt[j] = NAN;\n            bad = 1;\n"
      "        } else {\n            const float *e = %s_embeddings + (long)v * %lld;\n            for (j = 0; j < %lld; j++) yt[j] = e[j];\n        }\n    }\n",
      LL(V), LL(D), l->sym, LL(D), LL(D));
    P("    return bad;\n}\n");
    return PX_OK;
}

typedef enum { CELL_SIMPLE, CELL_LSTM, CELL_GRU } cell_kind;

/* One recurrent direction as the emitter needs it. */
typedef struct rnn_desc {
    cell_kind cell;
    int G;                     /* gate blocks: 1, 4, 3 */
    int64_t T, F, U;
    bool seq, backwards, aligned, reset_after, bias;
    bool masked, zero_out;     /* Embedding(mask_zero) ids; masked steps output 0 rather than h */
    px_activation act, ract;
} rnn_desc;

static px_status describe_rnn(const px_xlayer *l, const px_json *cfg, const char *cls, rnn_desc *d) {
    d->cell = strcmp(cls, "LSTM") == 0 ? CELL_LSTM : strcmp(cls, "GRU") == 0 ? CELL_GRU : CELL_SIMPLE;
    if (strcmp(cls, "LSTM") && strcmp(cls, "GRU") && strcmp(cls, "SimpleRNN"))
        return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' wraps a %s; only SimpleRNN, LSTM and GRU are exported", l->name, cls);
    d->G = d->cell == CELL_LSTM ? 4 : d->cell == CELL_GRU ? 3 : 1;
    if (l->in[0].rank != 2) return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (%s): input is not (timesteps, features)", l->name, l->cls);
    d->T = l->in[0].dim[0];
    d->F = l->in[0].dim[1];
    d->U = px_json_get_int(cfg, "units", 0);
    d->seq = px_json_get_bool(cfg, "return_sequences", false);
    d->backwards = px_json_get_bool(cfg, "go_backwards", false);
    d->reset_after = px_json_get_bool(cfg, "reset_after", false);
    d->bias = px_json_get_bool(cfg, "use_bias", true);
    d->act = PX_TANH;
    d->ract = PX_SIGMOID;
    px_activation a;
    if (px_json_get(cfg, "activation") && !px_json_is_null(px_json_get(cfg, "activation"))) {
        a = PX_LINEAR;
        if (px_lc_get_activation(cfg, "activation", &a)) return px_last_status();
        d->act = a;
    }
    if (px_json_get(cfg, "recurrent_activation") && !px_json_is_null(px_json_get(cfg, "recurrent_activation"))) {
        a = PX_LINEAR;
        if (px_lc_get_activation(cfg, "recurrent_activation", &a)) return px_last_status();
        d->ract = a;
    }
    if (d->U <= 0) return px_set_error(PX_ERR_FORMAT, "export: layer '%s' (%s): no units in its config", l->name, cls);
    /* a masked step keeps the state and outputs it again (or zeros), as Keras */
    d->masked = l->mask_ids != NULL;
    d->zero_out = px_json_get_bool(cfg, "zero_output_for_mask", false);
    return PX_OK;
}

/* Floats of state a direction carries from step to step: h, and c for LSTM. */
static int64_t rnn_state(const rnn_desc *d) { return d->U * (d->cell == CELL_LSTM ? 2 : 1); }

/* Removes four spaces from the start of each line written since `from` (a loop
 * body reused as a function body). */
static void dedent(px_cbuf *b, size_t from) {
    if (b->failed) return;
    size_t w = from;
    bool line_start = from == 0 || b->s[from - 1] == '\n';
    for (size_t r = from; r < b->len;) {
        if (line_start && b->len - r >= 4 && memcmp(b->s + r, "    ", 4) == 0) r += 4;
        line_start = b->s[r] == '\n';
        b->s[w++] = b->s[r++];
    }
    b->len = w;
    b->s[w] = '\0';
}

static int64_t dir_scratch(const rnn_desc *d) {
    /* h, c (LSTM), the gate pre-activations, and GRU's recurrent part apart */
    return d->U * (d->cell == CELL_LSTM ? 2 : 1) + d->G * d->U + (d->cell == CELL_GRU ? d->G * d->U : 0);
}

static int64_t dir_out(const rnn_desc *d) { return (d->seq ? d->T : 1) * d->U; }

/* One direction's weights as arrays `sym`_kernel (F, G u), `sym`_recurrent (u, G u)
 * and `sym`_bias, from w[0], w[1] and w[2], after checking their sizes. */
static px_status emit_weights(px_xctx *x, const px_xlayer *l, const rnn_desc *d, px_tensor *const *w, int n_w, const char *sym) {
    const int64_t U = d->U, GU = d->G * d->U, F = d->F;
    if (n_w < 2 || px_tensor_size(w[0]) != F * GU || px_tensor_size(w[1]) != U * GU)
        return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (%s): weights do not fit %lld features and %lld units", l->name, l->cls,
                            LL(F), LL(U));
    px_status st = px_xemit_array(x, sym, "kernel", w[0]->data, F * GU);
    if (!st) st = px_xemit_array(x, sym, "recurrent", w[1]->data, U * GU);
    const bool two_bias = d->cell == CELL_GRU && d->reset_after;
    if (!st && d->bias) {
        if (n_w < 3 || px_tensor_size(w[2]) != (two_bias ? 2 : 1) * GU)
            return px_set_error(PX_ERR_SHAPE, "export: layer '%s' (%s): bias does not fit %lld units", l->name, l->cls, LL(U));
        st = px_xemit_array(x, sym, "bias", w[2]->data, (two_bias ? 2 : 1) * GU);
    }
    return st;
}

/* The state update of one step's cell, once z (and GRU's q) hold the gates'
 * pre-activations; a and ra name the activation and recurrent activation. */
static void emit_cell_update(px_xctx *x, const rnn_desc *d, const char *sym, const char *a, const char *ra) {
    const int64_t U = d->U, GU = d->G * d->U;
    switch (d->cell) {
    case CELL_SIMPLE:
        P("        for (j = 0; j < %lld; j++) h[j] = %s(z[j]);\n", LL(U), a);
        break;
    case CELL_LSTM:
        P("        for (j = 0; j < %lld; j++) {\n", LL(U));
        P("            const float i = %s(z[j]), f = %s(z[%lld + j]), g = %s(z[%lld + j]), o = %s(z[%lld + j]);\n", ra, ra, LL(U), a,
          LL(2 * U), ra, LL(3 * U));
        P("            c[j] = f * c[j] + i * g;\n            h[j] = o * %s(c[j]);\n        }\n", a);
        break;
    case CELL_GRU:
        P("        for (j = 0; j < %lld; j++) {\n", LL(U));
        P("            const float u = %s(z[j] + q[j]), r = %s(z[%lld + j] + q[%lld + j]);\n", ra, ra, LL(U), LL(U));
        if (d->reset_after) {
            P("            const float g = %s(z[%lld + j] + r * q[%lld + j]);\n", a, LL(2 * U), LL(2 * U));
            P("            h[j] = u * h[j] + (1.0f - u) * g;\n        }\n");
        } else {
            /* reset before: the candidate's recurrent part is (r * h) U_h, which needs every r
             * first: keep u in q[0, u) and r * h in q[u, 2u), then recompute q[2u, 3u) */
            P("            q[j] = u;\n            q[%lld + j] = r * h[j];\n        }\n", LL(U));
            P("        for (j = 0; j < %lld; j++) q[%lld + j] = 0.0f;\n", LL(U), LL(2 * U));
            P("        for (k = 0; k < %lld; k++) {\n            const float v = q[%lld + k];\n"
              "            const float *w = %s_recurrent + k * %lld + %lld;\n            for (j = 0; j < %lld; j++) q[%lld + j] += v * w[j];\n        }\n",
              LL(U), LL(U), sym, LL(GU), LL(2 * U), LL(U), LL(2 * U));
            P("        for (j = 0; j < %lld; j++) h[j] = q[j] * h[j] + (1.0f - q[j]) * %s(z[%lld + j] + q[%lld + j]);\n", LL(U), a,
              LL(2 * U), LL(2 * U));
        }
        break;
    }
}

/* `fn`_cell(xt, tmp): one step, from x_t and the state (h, and c for LSTM) at
 * the start of tmp. */
static void emit_cell(px_xctx *x, const rnn_desc *d, const char *sym, const char *fn, const char *comment, const char *a,
                      const char *ra) {
    const int64_t U = d->U, GU = d->G * d->U, F = d->F;
    const bool two_bias = d->cell == CELL_GRU && d->reset_after;
    P("\n/* %s: one step; tmp holds the state first */\nstatic void %s_cell(const float *xt, float *tmp) {\n", comment, fn);
    P("    float *h = tmp;\n");
    if (d->cell == CELL_LSTM)
        P("    float *c = tmp + %lld;\n    float *z = tmp + %lld; /* gates i, f, c, o */\n", LL(U), LL(2 * U));
    else
        P("    float *z = tmp + %lld;%s\n", LL(U), d->cell == CELL_GRU ? " /* gates z, r, h: the input part */" : "");
    if (d->cell == CELL_GRU) P("    float *q = z + %lld; /* the recurrent part */\n", LL(GU));
    P("    long k, j;\n");
    const size_t body = x->code.len;
    /* input part (and, but for GRU, the recurrent part) into z */
    if (d->bias)
        P("        for (j = 0; j < %lld; j++) z[j] = %s_bias[j];\n", LL(GU), sym);
    else
        P("        for (j = 0; j < %lld; j++) z[j] = 0.0f;\n", LL(GU));
    P("        for (k = 0; k < %lld; k++) {\n            const float v = xt[k];\n            const float *w = %s_kernel + k * %lld;\n"
      "            for (j = 0; j < %lld; j++) z[j] += v * w[j];\n        }\n",
      LL(F), sym, LL(GU), LL(GU));
    const char *acc = d->cell == CELL_GRU ? "q" : "z";
    if (d->cell == CELL_GRU && two_bias && d->bias)
        P("        for (j = 0; j < %lld; j++) q[j] = %s_bias[%lld + j];\n", LL(GU), sym, LL(GU));
    else if (d->cell == CELL_GRU)
        P("        for (j = 0; j < %lld; j++) q[j] = 0.0f;\n", LL(GU));
    P("        for (k = 0; k < %lld; k++) {\n            const float v = h[k];\n            const float *w = %s_recurrent + k * %lld;\n"
      "            for (j = 0; j < %lld; j++) %s[j] += v * w[j];\n        }\n",
      LL(U), sym, LL(GU), LL(GU), acc);
    emit_cell_update(x, d, sym, a, ra);
    dedent(&x->code, body);
    P("}\n");
}

/* `fn`(x, y, tmp): the whole sequence, the state from zeros, one step per
 * timestep (backwards for go_backwards; masked steps as Keras). */
static void emit_sequence(px_xctx *x, const rnn_desc *d, const char *fn, const char *comment) {
    const int64_t U = d->U, F = d->F, T = d->T;
    P("\n/* %s%s */\nstatic void %s(const float *x, %sfloat *y, float *tmp) {\n    long s, j;\n", comment,
      d->masked ? d->zero_out ? "; a step whose id is 0 keeps the state and outputs zeros" : "; a step whose id is 0 keeps the state" : "",
      fn, d->masked ? "const float *ids, " : "");
    P("    for (j = 0; j < %lld; j++) tmp[j] = 0.0f;\n", LL(rnn_state(d)));
    P("    for (s = 0; s < %lld; s++) {\n", LL(T));
    if (d->backwards)
        P("        const long t = %lld - 1 - s; /* go_backwards */\n", LL(T));
    else
        P("        const long t = s;\n");
    if (d->masked) {
        P("        if (ids[t] == 0.0f) {\n");
        if (d->seq)
            P("            for (j = 0; j < %lld; j++) y[%s * %lld + j] = %s;\n", LL(U), d->aligned ? "t" : "s", LL(U),
              d->zero_out ? "0.0f" : "tmp[j]");
        P("            continue;\n        }\n");
    }
    P("        %s_cell(x + t * %lld, tmp);\n", fn, LL(F));
    if (d->seq) P("        for (j = 0; j < %lld; j++) y[%s * %lld + j] = tmp[j];\n", LL(U), d->aligned ? "t" : "s", LL(U));
    P("    }\n");
    if (!d->seq) P("    for (j = 0; j < %lld; j++) y[j] = tmp[j];\n", LL(U));
    P("}\n");
}

/* The function `fn(const float *x, float *y, float *tmp)` of one direction with
 * weights w[0] kernel (F, G u), w[1] recurrent (u, G u), w[2] bias. */
static px_status emit_direction(px_xctx *x, const px_xlayer *l, const rnn_desc *d, px_tensor *const *w, int n_w, const char *sym,
                                const char *fn, const char *comment) {
    px_status st = emit_weights(x, l, d, w, n_w, sym);
    if (st) return st;
    /* SimpleRNN has no gates: registering their activation would leave an unused function */
    const char *a = px_xact_fn(x, l, d->act), *ra = d->cell == CELL_SIMPLE ? "" : px_xact_fn(x, l, d->ract);
    if (!a || !ra) return px_last_status();
    emit_cell(x, d, sym, fn, comment, a, ra);
    emit_sequence(x, d, fn, comment);
    return PX_OK;
}

int64_t px_xrnn_scratch(const px_xlayer *l) {
    rnn_desc d = {0};
    if (strcmp(l->cls, "Bidirectional") == 0) {
        const px_json *inner = px_json_get(l->config, "layer");
        if (describe_rnn(l, px_json_get(inner, "config"), px_json_get_string(inner, "class_name", ""), &d)) return 0;
        return 2 * dir_out(&d) + dir_scratch(&d);
    }
    if (describe_rnn(l, l->config, l->cls, &d)) return 0;
    return dir_scratch(&d);
}

px_status px_xemit_rnn(px_xctx *x, px_xlayer *l) {
    rnn_desc d = {0};
    if (describe_rnn(l, l->config, l->cls, &d)) return px_last_status();
    char what[160];
    snprintf(what, sizeof what, "%s (%s, %s): (%lld, %lld) -> %s%lld units%s", l->name, l->cls, d.backwards ? "go_backwards" : "forward",
             LL(d.T), LL(d.F), d.seq ? "every step's " : "", LL(d.U), d.seq ? "" : " (the last step)");
    return emit_direction(x, l, &d, l->w, l->n_w, l->sym, l->fn, what);
}

/* Bidirectional: a forward and a backward (go_backwards, outputs realigned to
 * the inputs' order) direction into the scratch buffer, then merged. */
px_status px_xemit_bidirectional(px_xctx *x, px_xlayer *l) {
    const px_json *inner = px_json_get(l->config, "layer");
    const char *icls = px_json_get_string(inner, "class_name", "");
    rnn_desc fw = {0};
    if (describe_rnn(l, px_json_get(inner, "config"), icls, &fw)) return px_last_status();
    /* with a mask Keras's Bidirectional zeroes both copies' masked outputs */
    fw.zero_out = fw.zero_out || fw.seq;
    rnn_desc bw = fw;
    bw.backwards = true;
    bw.aligned = true;
    const char *mode = px_json_get_string(l->config, "merge_mode", "concat");
    int half = l->n_w / 2;
    char sym[128], fn[128], what[160];
    snprintf(sym, sizeof sym, "%s_fw", l->sym);
    snprintf(fn, sizeof fn, "%s_forward", l->fn);
    snprintf(what, sizeof what, "%s (Bidirectional %s): the forward direction", l->name, icls);
    px_status st = emit_direction(x, l, &fw, l->w, half, sym, fn, what);
    if (st) return st;
    snprintf(sym, sizeof sym, "%s_bw", l->sym);
    snprintf(fn, sizeof fn, "%s_backward", l->fn);
    snprintf(what, sizeof what, "%s (Bidirectional %s): the backward direction, outputs in the inputs' order", l->name, icls);
    if ((st = emit_direction(x, l, &bw, l->w + half, l->n_w - half, sym, fn, what)) != PX_OK) return st;
    const int64_t n = dir_out(&fw), U = fw.U, steps = n / U;
    px_xemit_open(x, l, mode);
    P("    float *f = tmp, *b = tmp + %lld;\n    long p, j;\n", LL(n));
    const char *ids = fw.masked ? "ids, " : "";
    P("    %s_forward(x, %sf, tmp + %lld);\n    %s_backward(x, %sb, tmp + %lld);\n", l->fn, ids, LL(2 * n), l->fn, ids, LL(2 * n));
    P("    for (p = 0; p < %lld; p++)\n        for (j = 0; j < %lld; j++) {\n", LL(steps), LL(U));
    if (strcmp(mode, "concat") == 0)
        P("            y[p * %lld + j] = f[p * %lld + j];\n            y[p * %lld + %lld + j] = b[p * %lld + j];\n", LL(2 * U), LL(U),
          LL(2 * U), LL(U), LL(U));
    else if (strcmp(mode, "sum") == 0)
        P("            y[p * %lld + j] = f[p * %lld + j] + b[p * %lld + j];\n", LL(U), LL(U), LL(U));
    else if (strcmp(mode, "mul") == 0)
        P("            y[p * %lld + j] = f[p * %lld + j] * b[p * %lld + j];\n", LL(U), LL(U), LL(U));
    else if (strcmp(mode, "ave") == 0)
        P("            y[p * %lld + j] = 0.5f * (f[p * %lld + j] + b[p * %lld + j]);\n", LL(U), LL(U), LL(U));
    else
        return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (Bidirectional): merge_mode '%s' is not exported", l->name, mode);
    P("        }\n}\n");
    return PX_OK;
}
