/* px_model_export_c: walks a built model's layers in order, folds
 * BatchNormalization into the layer before it, plans one workspace for the
 * intermediate values (buffers whose lifetimes do not overlap share memory),
 * and writes NAME.h and NAME.c (and NAME_weights.c) through the per-layer
 * emitters of export_c_layers.c. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "graph/node.h"
#include "nn/layer_config.h"
#include "saving/export_c_internal.h"

/* At most this many layers before NAME_step's last recurrent layer. */
#define PX_MAX_LAYERS_STEP 64

/* Where a value lives in the generated predict function. */
typedef enum { XV_WS, XV_INPUT, XV_OUTPUT } xv_kind;

typedef struct xval {
    xv_kind kind;
    int64_t off, size;
    int born, last;  /* the layer steps that write it and last read it */
    const px_node *owner;
} xval;

typedef struct xplan {
    px_xlayer *xl;
    int n_xl;
    const px_xkind **kinds;
    bool *folded_away;     /* a BatchNormalization folded into the layer before it */
    const px_node **nodes; /* node -> value */
    int *node_val;
    int n_nodes, cap_nodes;
    xval *vals;
    int n_vals, cap_vals;
    int *out_val, *scratch_val; /* per layer */
    int64_t ws_size;
} xplan;


/* The node's shape without the batch axis; an error when a dimension is unknown. */
static px_status unbatched(const px_node *n, const char *who, px_shape *out) {
    px_shape s = n->shape;
    if (s.rank < 1) return px_set_error(PX_ERR_SHAPE, "export: %s has no batch axis", who);
    out->rank = s.rank - 1;
    for (int i = 1; i < s.rank; i++) {
        if (s.dim[i] < 0)
            return px_set_error(PX_ERR_SHAPE, "export: %s has an unknown dimension (axis %d); the C code needs fixed shapes "
                                "(give the input's full shape, e.g. the number of timesteps)", who, i);
        out->dim[i - 1] = s.dim[i];
    }
    return PX_OK;
}

static int find_node(const xplan *p, const px_node *n) {
    for (int i = 0; i < p->n_nodes; i++)
        if (p->nodes[i] == n) return p->node_val[i];
    return -1;
}

static px_status map_node(xplan *p, const px_node *n, int val) {
    if (p->n_nodes == p->cap_nodes) {
        int cap = p->cap_nodes ? 2 * p->cap_nodes : 32;
        const px_node **nn = realloc(p->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return px_set_error(PX_ERR_NOMEM, "export: out of memory");
        p->nodes = nn;
        int *nv = realloc(p->node_val, (size_t)cap * sizeof *nv);
        if (!nv) return px_set_error(PX_ERR_NOMEM, "export: out of memory");
        p->node_val = nv;
        p->cap_nodes = cap;
    }
    p->nodes[p->n_nodes] = n;
    p->node_val[p->n_nodes++] = val;
    return PX_OK;
}

static int new_val(xplan *p, xv_kind kind, int64_t size, int born, const px_node *owner) {
    if (p->n_vals == p->cap_vals) {
        int cap = p->cap_vals ? 2 * p->cap_vals : 32;
        xval *v = realloc(p->vals, (size_t)cap * sizeof *v);
        if (!v) return px_set_error(PX_ERR_NOMEM, "export: out of memory"), -1;
        p->vals = v;
        p->cap_vals = cap;
    }
    p->vals[p->n_vals] = (xval){.kind = kind, .size = size, .born = born, .last = born, .owner = owner};
    return p->n_vals++;
}

static void plan_free(xplan *p) {
    for (int i = 0; i < p->n_xl; i++) {
        px_json_free(p->xl[i].config);
        for (int k = 0; k < p->xl[i].n_w; k++) px_tensor_free(p->xl[i].w[k]);
        free(p->xl[i].w);
        free((void *)p->xl[i].fold_scale);
        free((void *)p->xl[i].fold_shift);
    }
    free(p->xl);
    free(p->kinds);
    free(p->folded_away);
    free(p->nodes);
    free(p->node_val);
    free(p->vals);
    free(p->out_val);
    free(p->scratch_val);
}

static bool is_input_layer(const px_layer *l) { return strcmp(px_layer_class(l), "InputLayer") == 0; }

/* A recurrent layer's timestep mask: Embedding(mask_zero)'s, whose ids it then
 * reads (the mask is id != 0, carried through return_sequences and the layers
 * that pass masks on). Other layers ignore masks, as in Plexus, but for the
 * attention layers, whose emitters refuse them. */
static px_status mask_source(const px_model *m, px_xlayer *x) {
    const px_node *mask = x->layer->inbound[0]->mask;
    static const char *const recurrent[] = {"SimpleRNN", "LSTM", "GRU", "Bidirectional"};
    bool rnn = false;
    for (size_t i = 0; i < sizeof recurrent / sizeof recurrent[0]; i++) rnn = rnn || strcmp(x->cls, recurrent[i]) == 0;
    if (!mask || !rnn) return PX_OK;
    for (int i = 0; i < m->n_layers; i++) {
        const px_layer *e = m->layers[i];
        if (strcmp(px_layer_class(e), "Embedding") == 0 && e->output && e->output->mask == mask && e->n_inbound == 1) {
            x->mask_ids = e->inbound[0];
            return PX_OK;
        }
    }
    return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s): its input's timestep mask comes from no Embedding "
                        "(mask_zero); only those masks are exported", x->name, x->cls);
}

/* The exporter's view of one layer: config, shapes and weight copies. */
static px_status describe(const px_model *m, const px_layer *l, int index, const char *name, px_xlayer *x) {
    x->layer = l;
    x->name = px_layer_name(l);
    x->cls = px_layer_class(l);
    if (!l->kind)
        return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s) is user-defined; only built-in layers can be exported to C",
                            x->name, x->cls);
    if (l->n_inbound < 1 || !l->output)
        return px_set_error(PX_ERR_STATE, "export: layer '%s' (%s) of model '%s' was never applied", x->name, x->cls, px_model_name(m));
    if (l->n_inbound > PX_MAX_INPUTS)
        return px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s) has %d inputs (at most %d)", x->name, x->cls,
                            l->n_inbound, PX_MAX_INPUTS);
    x->config = px_json_new_object();
    if (!x->config) return px_last_status();
    px_status st = l->kind->write_config ? l->kind->write_config(l, x->config) : PX_OK;
    if (st) return st;
    char who[200];
    x->n_in = l->n_inbound;
    for (int i = 0; i < l->n_inbound; i++) {
        snprintf(who, sizeof who, "input %d of layer '%s' (%s)", i, x->name, x->cls);
        if ((st = unbatched(l->inbound[i], who, &x->in[i])) != PX_OK) return st;
    }
    snprintf(who, sizeof who, "the output of layer '%s' (%s)", x->name, x->cls);
    if ((st = unbatched(l->output, who, &x->out)) != PX_OK) return st;
    /* identifiers: NAME_l<index>_<layer name made a C identifier> */
    char id[48];
    size_t k = 0;
    for (const char *c = x->name; *c && k + 1 < sizeof id; c++) id[k++] = isalnum((unsigned char)*c) ? *c : '_';
    id[k] = '\0';
    snprintf(x->fn, sizeof x->fn, "l%d_%s", index, id);
    snprintf(x->sym, sizeof x->sym, "%s_l%d", name, index);
    if ((st = mask_source(m, x)) != PX_OK) return st;
    return px_layer_get_weights(l, &x->w, &x->n_w);
}

/* The consumers of node n among the layers after `from`, and whether it is an output. */
static int consumers(const xplan *p, const px_model *m, const px_node *n, int *only) {
    int c = 0;
    for (int i = 0; i < p->n_xl; i++)
        for (int k = 0; k < p->xl[i].layer->n_inbound; k++)
            if (p->xl[i].layer->inbound[k] == n) {
                c++;
                *only = i;
            }
    for (int o = 0; o < m->n_outputs; o++)
        if (m->outputs[o] == n) c++;
    return c;
}

/* Folds a BatchNormalization on the last axis into the Dense or convolution
 * that feeds only it: y = (xW + b - mean) * g / sqrt(var + eps) + beta. */
static px_status fold_batchnorm(xplan *p, const px_model *m) {
    for (int i = 0; i < p->n_xl; i++) {
        px_xlayer *a = &p->xl[i];
        int j = -1;
        if (!px_xkind_foldable(a) || consumers(p, m, a->layer->output, &j) != 1 || j < 0) continue;
        px_xlayer *b = &p->xl[j];
        if (strcmp(b->cls, "BatchNormalization") != 0 || b->n_in != 1) continue;
        int axis;
        if (px_xget_ints(b, "axis", &axis, 1, -1)) return px_last_status();
        if (!(axis == -1 || axis == b->in[0].rank)) continue;
        int64_t n = b->out.dim[b->out.rank - 1];
        float eps = (float)px_json_get_number(b->config, "epsilon", 1e-3);
        const float *g = NULL, *beta = NULL, *mean = NULL, *var = NULL;
        for (int k = 0; k < b->n_w; k++) {
            const char *wn = px_layer_weight_name(b->layer, k);
            const float *d = b->w[k]->data;
            if (strcmp(wn, "gamma") == 0) g = d;
            else if (strcmp(wn, "beta") == 0) beta = d;
            else if (strcmp(wn, "moving_mean") == 0) mean = d;
            else if (strcmp(wn, "moving_variance") == 0) var = d;
        }
        if (!mean || !var) return px_set_error(PX_ERR_FORMAT, "export: layer '%s' (BatchNormalization) lacks its moving statistics", b->name);
        float *scale = malloc((size_t)n * sizeof *scale), *shift = malloc((size_t)n * sizeof *shift);
        if (!scale || !shift) return free(scale), free(shift), px_set_error(PX_ERR_NOMEM, "export: out of memory");
        for (int64_t c = 0; c < n; c++) {
            scale[c] = (g ? g[c] : 1.0f) / sqrtf(var[c] + eps);
            shift[c] = (beta ? beta[c] : 0.0f) - mean[c] * scale[c];
        }
        a->fold_scale = scale;
        a->fold_shift = shift;
        a->fold_n = n;
        p->folded_away[j] = true;
    }
    return PX_OK;
}

/* First fit: the lowest offset where value v overlaps no value alive with it. */
static void place(xplan *p, int v) {
    xval *x = &p->vals[v];
    int64_t off = 0;
    for (bool moved = true; moved;) {
        moved = false;
        for (int k = 0; k < p->n_vals; k++) {
            const xval *o = &p->vals[k];
            if (k == v || o->kind != XV_WS || o->off < 0 || o->born > x->last || x->born > o->last) continue;
            if (off < o->off + o->size && o->off < off + x->size) {
                off = o->off + o->size;
                moved = true;
            }
        }
    }
    x->off = off;
    if (off + x->size > p->ws_size) p->ws_size = off + x->size;
}

static px_status plan_buffers(xplan *p, const px_model *m) {
    int64_t off = 0;
    for (int k = 0; k < m->n_inputs; k++) {
        px_shape s;
        if (unbatched(m->inputs[k], "a model input", &s)) return px_last_status();
        int v = new_val(p, XV_INPUT, px_xshape_size(s), -1, m->inputs[k]);
        if (v < 0 || map_node(p, m->inputs[k], v)) return px_last_status();
        p->vals[v].off = off;
        off += px_xshape_size(s);
    }
    for (int i = 0; i < p->n_xl; i++) {
        const px_layer *l = p->xl[i].layer;
        for (int k = 0; k < l->n_inbound; k++) {
            int v = find_node(p, l->inbound[k]);
            if (v < 0)
                return px_set_error(PX_ERR_UNSUPPORTED,
                                    "export: input %d of layer '%s' (%s) comes from no exported layer (a layer applied twice, a "
                                    "return_state output or a raw graph op); only graphs of layers applied once can be exported",
                                    k, p->xl[i].name, p->xl[i].cls);
            if (p->vals[v].last < i) p->vals[v].last = i;
        }
        if (p->xl[i].mask_ids) { /* the ids a masked recurrent layer reads */
            int v = find_node(p, p->xl[i].mask_ids);
            if (v < 0) return px_set_error(PX_ERR_UNSUPPORTED, "export: the mask of layer '%s' comes from no exported value", p->xl[i].name);
            if (p->vals[v].last < i) p->vals[v].last = i;
        }
        p->scratch_val[i] = -1;
        if (p->kinds[i]->alias || p->folded_away[i]) {
            if (map_node(p, l->output, find_node(p, l->inbound[0]))) return px_last_status();
            p->out_val[i] = -1;
            continue;
        }
        int v = new_val(p, XV_WS, px_xshape_size(p->xl[i].out), i, l->output);
        if (v < 0 || map_node(p, l->output, v)) return px_last_status();
        p->out_val[i] = v;
        if (p->kinds[i]->scratch && (p->xl[i].scratch = p->kinds[i]->scratch(&p->xl[i])) > 0) {
            if ((p->scratch_val[i] = new_val(p, XV_WS, p->xl[i].scratch, i, NULL)) < 0) return px_last_status();
        }
    }
    /* outputs a layer writes straight into `output`; the rest are copied at the end */
    off = 0;
    for (int o = 0; o < m->n_outputs; o++) {
        int v = find_node(p, m->outputs[o]);
        if (v < 0) return px_set_error(PX_ERR_UNSUPPORTED, "export: output %d of model '%s' comes from no exported layer", o, m->name);
        px_shape s;
        if (unbatched(m->outputs[o], "a model output", &s)) return px_last_status();
        /* an alias (Flatten, a folded BatchNormalization) holds the same floats */
        if (p->vals[v].kind == XV_WS) {
            p->vals[v].kind = XV_OUTPUT;
            p->vals[v].owner = m->outputs[o];
            p->vals[v].off = off;
        } else {
            p->vals[v].last = INT_MAX;
        }
        off += px_xshape_size(s);
    }
    for (int v = 0; v < p->n_vals; v++)
        if (p->vals[v].kind == XV_WS) p->vals[v].off = -1;
    for (int v = 0; v < p->n_vals; v++)
        if (p->vals[v].kind == XV_WS) place(p, v);
    return PX_OK;
}

static void val_expr(const xplan *p, int v, char *buf, size_t len) {
    const xval *x = &p->vals[v];
    const char *base = x->kind == XV_INPUT ? "input" : x->kind == XV_OUTPUT ? "output" : "ws";
    snprintf(buf, len, "%s + %lld", base, (long long)x->off);
}

/* The calls of the layer functions from layer `from` on, then the copies of
 * the outputs no layer wrote in place (the body of predict, and of step after
 * its recurrent layers). */
static void emit_calls(const xplan *p, const px_model *m, px_cbuf *b, int from) {
    for (int i = from; i < p->n_xl; i++) {
        if (p->kinds[i]->alias || p->folded_away[i]) continue;
        const px_layer *l = p->xl[i].layer;
        char e[64];
        px_cbuf_printf(b, "    %s%s(", strcmp(p->xl[i].cls, "Embedding") == 0 ? "rc |= " : "", p->xl[i].fn);
        for (int k = 0; k < l->n_inbound; k++) {
            val_expr(p, find_node(p, l->inbound[k]), e, sizeof e);
            px_cbuf_printf(b, "%s, ", e);
        }
        if (p->xl[i].mask_ids) {
            val_expr(p, find_node(p, p->xl[i].mask_ids), e, sizeof e);
            px_cbuf_printf(b, "%s, ", e);
        }
        val_expr(p, p->out_val[i], e, sizeof e);
        px_cbuf_printf(b, "%s", e);
        if (p->scratch_val[i] >= 0) {
            val_expr(p, p->scratch_val[i], e, sizeof e);
            px_cbuf_printf(b, ", %s", e);
        }
        px_cbuf_printf(b, ");\n");
    }
    int64_t out_size = 0;
    for (int k = 0; k < m->n_outputs; k++) {
        int v = find_node(p, m->outputs[k]);
        px_shape s;
        unbatched(m->outputs[k], "a model output", &s);
        if (!(p->vals[v].kind == XV_OUTPUT && p->vals[v].off == out_size)) {
            char e[64];
            val_expr(p, v, e, sizeof e);
            px_cbuf_printf(b, "    {\n        const float *src = %s;\n        long i;\n"
                              "        for (i = 0; i < %lld; i++) output[%lld + i] = src[i];\n    }\n",
                           e, (long long)px_xshape_size(s), (long long)out_size);
        }
        out_size += px_xshape_size(s);
    }
}

static bool is_recurrent(const char *cls) { return !strcmp(cls, "SimpleRNN") || !strcmp(cls, "LSTM") || !strcmp(cls, "GRU"); }

/* Streaming: the model's first layers when they can run one timestep at a
 * time: layers that work per timestep (an Embedding, the inference no-ops)
 * then SimpleRNN / LSTM / GRU layers going forwards, each but the last
 * returning sequences, each feeding only the next; their count, or 0 with the
 * reason in `why`. */
static int stream_prefix(const xplan *p, const px_model *m, char *why, size_t n) {
    const px_node *prev = m->n_inputs == 1 ? m->inputs[0] : NULL;
    bool rnn = false;
    if (!prev) return snprintf(why, n, "model '%s' has %d inputs (streaming takes one sequence)", m->name, m->n_inputs), 0;
    bool any = false;
    for (int r = 0; r < p->n_xl; r++) any = any || is_recurrent(p->xl[r].cls) || strcmp(p->xl[r].cls, "Bidirectional") == 0;
    if (!any) return snprintf(why, n, "model '%s' has no recurrent layer", m->name), 0;
    for (int r = 0; r < p->n_xl; r++) {
        const px_xlayer *l = &p->xl[r];
        if (l->layer->n_inbound != 1 || l->layer->inbound[0] != prev)
            return snprintf(why, n, "layer '%s' (%s) does not take the previous layer's output alone", l->name, l->cls), 0;
        for (int j = 0; j < p->n_xl; j++) /* its output feeds only the next layer */
            for (int k = 0; j != r + 1 && k < p->xl[j].layer->n_inbound; k++)
                if (p->xl[j].layer->inbound[k] == l->layer->output)
                    return snprintf(why, n, "the output of layer '%s' (%s) feeds more than the next layer", l->name, l->cls), 0;
        prev = l->layer->output;
        if (is_recurrent(l->cls)) {
            if (px_json_get_bool(l->config, "go_backwards", false))
                return snprintf(why, n, "layer '%s' (%s) goes backwards: its first step reads the sequence's last timestep, "
                                "so nothing can be computed before the sequence ends", l->name, l->cls), 0;
            rnn = true;
            if (!px_json_get_bool(l->config, "return_sequences", false)) return r + 1;
        } else if (strcmp(l->cls, "Bidirectional") == 0) {
            return snprintf(why, n, "layer '%s' (Bidirectional): its backward direction starts from the sequence's last timestep, "
                            "so its outputs exist only once the whole sequence is in", l->name), 0;
        } else if (!(p->kinds[r]->alias && strcmp(l->cls, "Flatten") && strcmp(l->cls, "Reshape")) &&
                   !(strcmp(l->cls, "Embedding") == 0 && !rnn && l->in[0].rank == 1)) {
            return snprintf(why, n, "layer '%s' (%s) %s", l->name, l->cls,
                            rnn ? "follows a recurrent layer that returns sequences: only recurrent layers (and Dropout) may "
                                  "continue the chain"
                                : "comes before the recurrent layers and does not work one timestep at a time (an Embedding "
                                  "or Dropout may)"), 0;
        }
    }
    return snprintf(why, n, "no recurrent layer ends the model's first chain of layers (one without return_sequences)"), 0;
}

/* NAME_reset and NAME_step: one timestep through the first r layers (the
 * recurrent layers' state kept by the caller), then the rest of the model as
 * predict runs it. An Embedding among them gets a one-timestep twin of its
 * function (its weights are the whole model's). */
static px_status emit_step(const xplan *p, const px_model *m, px_xctx *x, px_cbuf *h, px_cbuf *c, int r, bool static_ws) {
    const char *name = x->name;
    int64_t state = 0, feat = 1, off[PX_MAX_LAYERS_STEP];
    const px_shape is = m->inputs[0]->shape;
    for (int d = 2; d < is.rank; d++) feat *= is.dim[d];
    if (r > PX_MAX_LAYERS_STEP) return px_set_error(PX_ERR_UNSUPPORTED, "export: more than %d layers before the step", PX_MAX_LAYERS_STEP);
    for (int i = 0; i < r; i++) {
        off[i] = state;
        if (is_recurrent(p->xl[i].cls))
            state += px_json_get_int(p->xl[i].config, "units", 0) * (strcmp(p->xl[i].cls, "LSTM") == 0 ? 2 : 1);
    }
    px_cbuf_printf(h, "/* Streaming, for the layers this model starts with (up to its last recurrent layer): feed one\n"
                      " * timestep of %s_STEP_INPUT_SIZE floats at a time; after each, output holds what %s_predict gives\n"
                      " * for the sequence so far. The state (%s_STATE_SIZE floats, the recurrent layers' h and c) is the\n"
                      " * caller's; %s_reset zeroes it to start a sequence. */\n"
                      "#define %s_STEP_INPUT_SIZE %lld\n#define %s_STATE_SIZE %lld\n"
                      "void %s_reset(float *state);\nint %s_step(const float *input, float *output, float *state);\n\n",
                   name, name, name, name, name, (long long)feat, name, (long long)state, name, name);
    px_cbuf_printf(c, "\nvoid %s_reset(float *state) {\n    long i;\n    for (i = 0; i < %lld; i++) state[i] = 0.0f;\n}\n", name,
                   (long long)state);
    px_cbuf_printf(c, "\nint %s_step(const float *input, float *output, float *state) {\n    %sfloat ws[%s_WORKSPACE_SIZE];\n"
                      "    int rc = 0;\n    long j;\n",
                   name, static_ws ? "static " : "", name);
    for (int i = 0; i < r; i++) {
        const px_xlayer *l = &p->xl[i];
        if (p->kinds[i]->alias) continue;
        char in[64], tmp[64], out[64];
        const int v = find_node(p, l->layer->inbound[0]);
        if (p->vals[v].kind == XV_INPUT) snprintf(in, sizeof in, "input");
        else val_expr(p, v, in, sizeof in);
        val_expr(p, p->out_val[i], out, sizeof out);
        if (!is_recurrent(l->cls)) { /* an Embedding: its function on one id, the weights already written */
            px_xlayer one = *l;
            one.in[0].dim[0] = 1;
            one.out.dim[0] = 1;
            snprintf(one.fn, sizeof one.fn, "%.80s_one_step", l->fn);
            px_cbuf keep = x->weights, keep_decls = x->weight_decls;
            x->weights = (px_cbuf){0};
            x->weight_decls = (px_cbuf){0};
            px_status st = p->kinds[i]->emit(x, &one);
            px_cbuf_free(&x->weights);
            px_cbuf_free(&x->weight_decls);
            x->weights = keep;
            x->weight_decls = keep_decls;
            if (st) return st;
            px_cbuf_printf(c, "    rc |= %s(%s, %s);\n", one.fn, in, out);
            continue;
        }
        int64_t n = px_json_get_int(l->config, "units", 0) * (strcmp(l->cls, "LSTM") == 0 ? 2 : 1), u = px_json_get_int(l->config, "units", 0);
        val_expr(p, p->scratch_val[i], tmp, sizeof tmp);
        px_cbuf_printf(c, "    /* %s */\n    for (j = 0; j < %lld; j++) (%s)[j] = state[%lld + j];\n", l->name, (long long)n, tmp,
                       (long long)off[i]);
        /* a step whose id is 0 (Embedding mask_zero) leaves the state as it is */
        px_cbuf_printf(c, "    %s%s_cell(%s, %s);\n", l->mask_ids ? "if (input[0] != 0.0f) " : "", l->fn, in, tmp);
        px_cbuf_printf(c, "    for (j = 0; j < %lld; j++) state[%lld + j] = (%s)[j];\n    for (j = 0; j < %lld; j++) (%s)[j] = (%s)[j];\n",
                       (long long)n, (long long)off[i], tmp, (long long)u, out, tmp);
    }
    emit_calls(p, m, c, r);
    px_cbuf_printf(c, "    (void)ws;\n    return rc;\n}\n");
    return PX_OK;
}

static px_status write_file(const char *dir, const char *name, const char *suffix, px_cbuf *b) {
    if (b->failed) return px_set_error(PX_ERR_NOMEM, "export: out of memory writing %s%s", name, suffix);
    size_t len = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    char *path = malloc(len);
    if (!path) return px_set_error(PX_ERR_NOMEM, "export: out of memory");
    snprintf(path, len, "%s/%s%s", dir, name, suffix);
    px_status st = px_atomic_write_file(path, "export", b->s, b->len);
    free(path);
    return st;
}

/* NAME.h up to its function declarations: the guard, each input's and output's
 * size (and their sums), the workspace size and the predict functions. */
static void emit_header(const xplan *p, const px_model *m, const char *name, const px_export_c_options *o, px_cbuf *h) {
    int64_t in_size = 0, out_size = 0;
    px_cbuf_printf(h, "/* %s.h: model '%s' exported by Plexus (plexus export) as dependency-free C99. */\n", name, m->name);
    px_cbuf_printf(h, "#ifndef %s_H\n#define %s_H\n\n", name, name);
    for (int k = 0; k < m->n_inputs; k++) {
        px_shape s;
        unbatched(m->inputs[k], "a model input", &s);
        char d[160] = "";
        for (int i = 0; i < s.rank; i++) snprintf(d + strlen(d), sizeof d - strlen(d), "%s%lld", i ? " x " : "", (long long)s.dim[i]);
        px_cbuf_printf(h, "/* input %d: %s floats, channels last (as Keras), at input + %lld */\n#define %s_INPUT%d_SIZE %lld\n", k, d,
                       (long long)in_size, name, k, (long long)px_xshape_size(s));
        in_size += px_xshape_size(s);
    }
    for (int k = 0; k < m->n_outputs; k++) {
        px_shape s;
        unbatched(m->outputs[k], "a model output", &s);
        char d[160] = "";
        for (int i = 0; i < s.rank; i++) snprintf(d + strlen(d), sizeof d - strlen(d), "%s%lld", i ? " x " : "", (long long)s.dim[i]);
        px_cbuf_printf(h, "/* output %d: %s floats, at output + %lld */\n#define %s_OUTPUT%d_SIZE %lld\n", k, d,
                       (long long)out_size, name, k, (long long)px_xshape_size(s));
        out_size += px_xshape_size(s);
    }
    int64_t ws = p->ws_size > 0 ? p->ws_size : 1;
    px_cbuf_printf(h,
                   "/* all inputs, one after the other, and all outputs */\n#define %s_INPUT_SIZE %lld\n#define %s_OUTPUT_SIZE %lld\n"
                   "/* floats of workspace one prediction needs */\n#define %s_WORKSPACE_SIZE %lld\n\n",
                   name, (long long)in_size, name, (long long)out_size, name, (long long)ws);
    px_cbuf_printf(h, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
                      "/* One example: reads %s_INPUT_SIZE floats, writes %s_OUTPUT_SIZE floats (input and output must not\n"
                      " * overlap). Returns 0, or 1 when an input was invalid (an Embedding index out of range: its rows are NaN).\n"
                      " * The workspace is %s. */\n"
                      "int %s_predict(const float *input, float *output);\n"
                      "/* The same with the caller's workspace of %s_WORKSPACE_SIZE floats (reentrant). */\n"
                      "int %s_predict_ws(const float *input, float *output, float *workspace);\n"
                      "/* n examples, one after the other; returns 0 or 1 as %s_predict (1 when any example failed). */\n"
                      "int %s_predict_batch(const float *input, float *output, int n);\n\n",
                   name, name, o->static_workspace ? "a static buffer (not reentrant)" : "on the stack", name, name, name, name, name);
}

/* NAME.c's opening: the comment on what it is, its includes, and the weights (or,
 * when they are in NAME_weights.c, their declarations). */
static void emit_c_prologue(const px_model *m, const px_xctx *x, const char *name, const px_export_c_options *o, px_cbuf *c) {
    const bool q = x->helpers & PX_CH_QUANTIZE;
    if (o->no_math)
        px_cbuf_printf(c, "/* %s.c: model '%s' exported by Plexus (plexus export --no-math): one function per layer, then\n"
                          " * %s_predict. C99; allocates nothing; calls no library function (its own exp, log, tanh, erfc and\n"
                          " * sqrt, below) and includes only <stdint.h>. */\n#include <stdint.h>\n\n#include \"%s.h\"\n",
                       name, m->name, name, name);
    else
        px_cbuf_printf(c, "/* %s.c: model '%s' exported by Plexus (plexus export): one function per layer, then\n"
                          " * %s_predict. C99; allocates nothing; uses only <math.h>%s. */\n#include <math.h>\n%s\n#include \"%s.h\"\n",
                       name, m->name, name, q ? " and <stdint.h>" : "", q ? "#include <stdint.h>\n" : "", name);
    if (x->separate_weights)
        px_cbuf_printf(c, "\n/* the weights, in %s_weights.c */\n%s", name, x->weight_decls.s ? x->weight_decls.s : "");
    else
        px_cbuf_printf(c, "\n/* ---- weights ---- */\n%s", x->weights.s ? x->weights.s : "");
}

/* NAME_predict_ws (the layers' calls in order), NAME_predict and NAME_predict_batch. */
static void emit_predict(const xplan *p, const px_model *m, const char *name, const px_export_c_options *o, px_cbuf *pred) {
    px_cbuf_printf(pred, "\nint %s_predict_ws(const float *input, float *output, float *ws) {\n    int rc = 0;\n", name);
    px_cbuf_printf(pred, "    (void)input;\n    (void)output;\n    (void)ws;\n");
    emit_calls(p, m, pred, 0);
    px_cbuf_printf(pred, "    return rc;\n}\n");
    px_cbuf_printf(pred, "\nint %s_predict(const float *input, float *output) {\n    %sfloat ws[%s_WORKSPACE_SIZE];\n"
                         "    return %s_predict_ws(input, output, ws);\n}\n",
                   name, o->static_workspace ? "static " : "", name, name);
    px_cbuf_printf(pred, "\nint %s_predict_batch(const float *input, float *output, int n) {\n    int i, rc = 0;\n"
                         "    for (i = 0; i < n; i++)\n"
                         "        rc |= %s_predict(input + (long)i * %s_INPUT_SIZE, output + (long)i * %s_OUTPUT_SIZE);\n"
                         "    return rc;\n}\n",
                   name, name, name, name);
}

/* Appends the body (helpers, layers, the model) to c; with --no-math its math
 * calls go to the code's own functions, written before it. */
static px_status append_body(px_cbuf *c, px_cbuf *body, bool no_math) {
    if (!no_math) {
        px_cbuf_printf(c, "%s", body->s ? body->s : "");
        return PX_OK;
    }
    px_cbuf math = {0}, renamed = {0};
    px_status st = px_xnomath(body, &math, &renamed);
    px_cbuf_printf(c, "\n/* ---- math: the code's own, no libm ---- */%s%s", math.s ? math.s : "", renamed.s ? renamed.s : "");
    px_cbuf_free(&math);
    px_cbuf_free(&renamed);
    return st;
}

static px_status emit_all(xplan *p, const px_model *m, px_xctx *x, const char *dir, const px_export_c_options *o) {
    const char *name = x->name;
    px_cbuf h = {0}, c = {0}, pred = {0};
    px_status st = PX_OK;
    for (int i = 0; i < p->n_xl && !st; i++)
        if (!p->kinds[i]->alias && !p->folded_away[i]) st = p->kinds[i]->emit(x, &p->xl[i]);
    if (st) return st;

    /* NAME.h */
    emit_header(p, m, name, o, &h);
    char why[300] = "";
    const int r = stream_prefix(p, m, why, sizeof why);
    px_cbuf step = {0};
    if (r == 0 && o->streaming)
        st = px_set_error(PX_ERR_UNSUPPORTED, "export: no step function (streaming) for model '%s': %s", m->name, why);
    if (r > 0) st = emit_step(p, m, x, &h, &step, r, o->static_workspace);
    if (st) {
        px_cbuf_free(&h);
        px_cbuf_free(&step);
        return st;
    }
    px_cbuf_printf(&h, "#ifdef __cplusplus\n}\n#endif\n#endif\n");

    /* NAME.c: the prologue and weights, then the body (helpers, layers, the model) */
    emit_c_prologue(m, x, name, o, &c);
    px_cbuf body = {0};
    px_cbuf_printf(&body, "\n/* ---- helpers ---- */");
    px_xemit_helpers(&body, x->helpers);
    px_cbuf_printf(&body, "\n/* ---- layers ---- */%s", x->code.s ? x->code.s : "");
    emit_predict(p, m, name, o, &pred);
    px_cbuf_printf(&body, "\n/* ---- the model ---- */%s%s", pred.s ? pred.s : "", step.s ? step.s : "");
    px_cbuf_free(&step);
    st = append_body(&c, &body, o->no_math);
    px_cbuf_free(&body);

    px_cbuf wfile = {0};
    if (x->separate_weights)
        px_cbuf_printf(&wfile, "/* %s_weights.c: the weights of model '%s' (plexus export), Keras's layouts. */\n%s%s", name, m->name,
                       x->helpers & PX_CH_QUANTIZE ? "#include <stdint.h>\n\n" : "", x->weights.s ? x->weights.s : "");
    if (!st) st = write_file(dir, name, ".h", &h);
    if (!st && x->separate_weights) st = write_file(dir, name, "_weights.c", &wfile);
    if (!st) st = write_file(dir, name, ".c", &c);
    px_cbuf_free(&h);
    px_cbuf_free(&c);
    px_cbuf_free(&pred);
    px_cbuf_free(&wfile);
    return st;
}

/* int8: the range of every quantized layer's input over the calibration data
 * (the float model run in batches), as scale and zero point of an asymmetric
 * int8 code that holds 0 exactly. */
static px_status calibrate(xplan *p, px_model *m, const px_tensor *data) {
    enum { BATCH = 256 };
    px_node *fetch[256];
    int which[256], n = 0;
    for (int i = 0; i < p->n_xl && n < 256; i++) {
        px_xlayer *l = &p->xl[i];
        if (p->folded_away[i] || !px_xkind_quantizable(l)) continue;
        l->int8 = true;
        which[n] = i;
        fetch[n++] = l->layer->inbound[0];
    }
    if (n == 0) return PX_OK;
    px_shape ds = px_tensor_shape(data), is = m->inputs[0]->shape;
    bool fits = ds.rank == is.rank && ds.dim[0] > 0;
    for (int d = 1; fits && d < ds.rank; d++) fits = is.dim[d] == PX_UNKNOWN || is.dim[d] == ds.dim[d];
    if (!fits) {
        char a[96], b[96];
        return px_set_error(PX_ERR_SHAPE, "export: calibration data %s do not fit the model's input %s", px_shape_format(ds, a, sizeof a),
                            px_shape_format(is, b, sizeof b));
    }
    float lo[256], hi[256];
    for (int k = 0; k < n; k++) lo[k] = hi[k] = 0.0f; /* the range holds 0 */
    px_session *s = px_session_new(m->g, fetch, n, NULL);
    if (!s) return px_last_status();
    px_status st = PX_OK;
    for (int64_t at = 0; at < ds.dim[0] && !st; at += BATCH) {
        int64_t stop = at + BATCH < ds.dim[0] ? at + BATCH : ds.dim[0];
        px_tensor *batch = px_tensor_slice(data, at, stop);
        if (!batch) {
            st = px_last_status();
            break;
        }
        px_feed feed = {m->inputs[0], batch};
        st = px_session_run(s, &feed, 1, NULL);
        for (int k = 0; k < n && !st; k++) {
            const px_tensor *v = px_session_fetch(s, k);
            const float *d = v->data;
            for (int64_t i = 0; i < px_tensor_size(v); i++) {
                if (!isfinite(d[i])) {
                    st = px_set_error(PX_ERR_NUMERIC, "export: the input of layer '%s' is not finite on the calibration data",
                                      p->xl[which[k]].name);
                    break;
                }
                lo[k] = fminf(lo[k], d[i]);
                hi[k] = fmaxf(hi[k], d[i]);
            }
        }
        px_tensor_free(batch);
    }
    px_session_free(s);
    for (int k = 0; k < n && !st; k++) {
        px_xlayer *l = &p->xl[which[k]];
        float scale = (hi[k] - lo[k]) / 255.0f;
        if (!(scale > 0)) scale = 1.0f;
        float z = roundf(-128.0f - lo[k] / scale);
        l->in_scale = scale;
        l->in_zero = (int)fminf(fmaxf(z, -128.0f), 127.0f);
    }
    return st;
}

static bool valid_identifier(const char *s) {
    if (!s || !*s || !(isalpha((unsigned char)*s) || *s == '_')) return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_')) return false;
    return true;
}

px_status px_model_export_c(px_model *m, const char *dir, const px_export_c_options *opts) {
    px_export_c_options o = opts ? *opts : (px_export_c_options){0};
    if (!m || !dir) return px_set_error(PX_ERR_ARG, "px_model_export_c: model and directory must not be NULL");
    const char *name = o.name ? o.name : "model";
    if (!valid_identifier(name) || strlen(name) > 40)
        return px_set_error(PX_ERR_ARG, "export: name '%s' must be a C identifier of at most 40 characters", name);
    if (!m->built) return px_set_error(PX_ERR_STATE, "export: model '%s' is not built (its input shape is unknown)", m->name);
    xplan p = {0};
    px_xctx x = {.name = name, .separate_weights = o.separate_weights};
    px_status st = PX_OK;
    p.xl = calloc((size_t)m->n_layers + 1, sizeof *p.xl);
    p.kinds = calloc((size_t)m->n_layers + 1, sizeof *p.kinds);
    p.folded_away = calloc((size_t)m->n_layers + 1, sizeof *p.folded_away);
    p.out_val = calloc((size_t)m->n_layers + 1, sizeof *p.out_val);
    p.scratch_val = calloc((size_t)m->n_layers + 1, sizeof *p.scratch_val);
    if (!p.xl || !p.kinds || !p.folded_away || !p.out_val || !p.scratch_val) st = px_set_error(PX_ERR_NOMEM, "export: out of memory");
    int prev_major = px_lc_set_keras_major(2); /* Plexus writes configs as Keras 2 does */
    for (int i = 0; i < m->n_layers && !st; i++) {
        const px_layer *l = m->layers[i];
        if (is_input_layer(l)) continue;
        px_xlayer *xl = &p.xl[p.n_xl];
        p.n_xl++;
        st = describe(m, l, p.n_xl, name, xl);
        if (st) break;
        if (!(p.kinds[p.n_xl - 1] = px_xkind_find(xl->cls)))
            st = px_set_error(PX_ERR_UNSUPPORTED, "export: layer '%s' (%s) cannot be exported to C: the exporter has no %s yet",
                              xl->name, xl->cls, xl->cls);
    }
    if (!st) st = fold_batchnorm(&p, m);
    if (!st && o.int8) {
        if (!o.calibration)
            st = px_set_error(PX_ERR_ARG, "export: int8 needs calibration data (examples of the model's input)");
        else if (m->n_inputs != 1)
            st = px_set_error(PX_ERR_UNSUPPORTED, "export: int8 is for models of one input (model '%s' has %d)", m->name, m->n_inputs);
        else
            st = calibrate(&p, m, o.calibration);
    }
    if (!st) st = plan_buffers(&p, m);
    if (!st) st = emit_all(&p, m, &x, dir, &o);
    px_lc_set_keras_major(prev_major);
    px_cbuf_free(&x.weights);
    px_cbuf_free(&x.code);
    px_cbuf_free(&x.weight_decls);
    plan_free(&p);
    return st;
}
