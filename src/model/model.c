/* Models: Sequential and Functional construction over one graph, layer naming
 * and lookup, weights of the whole model. */
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "model/model_internal.h"

static uint64_t default_seed = 42;

void px_set_random_seed(uint64_t seed) { default_seed = seed; }

static px_model *model_new(const char *name, bool sequential) {
    px_model *m = calloc(1, sizeof *m);
    if (!m || !(m->g = px_graph_new()) || !(m->name = strdup(name))) {
        if (m) px_graph_free(m->g);
        free(m);
        px_set_error(PX_ERR_NOMEM, "model: out of memory");
        return NULL;
    }
    m->g->owner = m;
    m->sequential = sequential;
    m->rng = px_rng_seeded(default_seed);
    px_graph_set_seed(m->g, default_seed ^ 0x9e3779b97f4a7c15ULL);
    return m;
}

void px_model_set_seed(px_model *m, uint64_t seed) {
    if (!m) return;
    m->rng = px_rng_seeded(seed);
    px_graph_set_seed(m->g, seed ^ 0x9e3779b97f4a7c15ULL);
}

void px_model_invalidate(px_model *m) {
    px_session_free(m->train_session);
    px_session_free(m->eval_session);
    px_session_free(m->predict_session);
    m->train_session = m->eval_session = m->predict_session = NULL;
}

void px_model_free(px_model *m) {
    if (!m) return;
    px_model_invalidate(m);
    for (int i = 0; i < m->n_layers; i++) px_layer_free(m->layers[i]);
    free(m->layers);
    px_optimizer_free(m->opt);
    px_history_clear(&m->history);
    px_graph_free(m->g);
    free(m->name);
    free(m);
}

const char *px_model_name(const px_model *m) { return m ? m->name : ""; }
px_status px_model_set_name(px_model *m, const char *name) {
    if (!m || !name || !*name) return px_set_error(PX_ERR_ARG, "model_set_name: empty name");
    char *c = strdup(name);
    if (!c) return px_set_error(PX_ERR_NOMEM, "model_set_name: out of memory");
    free(m->name);
    m->name = c;
    return PX_OK;
}
bool px_model_is_sequential(const px_model *m) { return m && m->sequential; }
bool px_model_built(const px_model *m) { return m && m->built; }
int px_model_layer_count(const px_model *m) { return m ? m->n_layers : 0; }
px_layer *px_model_layer(const px_model *m, int i) {
    if (m && i >= 0 && i < m->n_layers) return m->layers[i];
    if (!m) px_set_error(PX_ERR_ARG, "px_model_layer: model is NULL");
    else px_set_error(PX_ERR_ARG, "px_model_layer: index %d is outside [0, %d)", i, m->n_layers);
    return NULL;
}
int px_model_input_count(const px_model *m) { return m ? m->n_inputs : 0; }
int px_model_output_count(const px_model *m) { return m ? m->n_outputs : 0; }
px_node *px_model_output(const px_model *m, int i) {
    if (m && i >= 0 && i < m->n_outputs) return m->outputs[i];
    if (!m) px_set_error(PX_ERR_ARG, "px_model_output: model is NULL");
    else px_set_error(PX_ERR_ARG, "px_model_output: index %d is outside [0, %d)", i, m->n_outputs);
    return NULL;
}
px_graph *px_model_graph(px_model *m) {
    if (!m) px_set_error(PX_ERR_ARG, "px_model_graph: model is NULL");
    return m ? m->g : NULL;
}

bool px_model_producer(const px_model *m, const px_node *n, const px_layer **layer, int *call, int *tensor) {
    for (int i = 0; i < m->n_layers; i++) {
        const px_layer *l = m->layers[i];
        for (int c = 0; c < l->n_calls; c++)
            for (int t = 0; t < l->calls[c].n_out; t++)
                if (l->calls[c].out[t] == n) {
                    *layer = l, *call = c, *tensor = t;
                    return true;
                }
        if (l->n_calls == 0 && l->output == n) { /* a model input's InputLayer */
            *layer = l, *call = 0, *tensor = 0;
            return true;
        }
    }
    return false;
}

/* NULL when no layer has that name (not an error: the model code asks it to
 * find free names), or with the error set for a NULL argument. */
px_layer *px_model_find_layer(const px_model *m, const char *name) {
    if (!m || !name) return px_set_error(PX_ERR_ARG, "px_model_find_layer: model or name is NULL"), NULL;
    for (int i = 0; i < m->n_layers; i++)
        if (strcmp(px_layer_name(m->layers[i]), name) == 0) return m->layers[i];
    return NULL;
}

/* Gives a layer Keras's automatic name ("dense", "dense_1", ...) unique in the model. */
static px_status name_layer(px_model *m, px_layer *l) {
    char base[64], cand[96];
    if (l->name) {
        px_layer *other = px_model_find_layer(m, l->name);
        if (other && other != l)
            return px_set_error(PX_ERR_ARG, "model '%s': two layers are named '%s'; layer names must be unique",
                                m->name, l->name);
        return PX_OK;
    }
    if (l->kind && l->kind->base_name) snprintf(base, sizeof base, "%s", l->kind->base_name);
    else px_snake_case(l->def->class_name, base, sizeof base);
    for (int k = 0;; k++) {
        if (k == 0) snprintf(cand, sizeof cand, "%s", base);
        else snprintf(cand, sizeof cand, "%s_%d", base, k);
        if (!px_model_find_layer(m, cand)) break;
    }
    return px_layer_set_name(l, cand);
}

static px_status take_layer(px_model *m, px_layer *l) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i] == l) return PX_OK;
    if (l->model && l->model != m)
        return px_set_error(PX_ERR_ARG, "layer '%s' already belongs to model '%s'; use px_layer_clone",
                            px_layer_name(l), l->model->name);
    if (name_layer(m, l) != PX_OK) return px_last_status();
    if (m->n_layers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 8;
        px_layer **ls = realloc(m->layers, (size_t)cap * sizeof *ls);
        if (!ls) return px_set_error(PX_ERR_NOMEM, "model: out of memory");
        m->layers = ls;
        m->cap_layers = cap;
    }
    m->layers[m->n_layers++] = l;
    l->model = m;
    return PX_OK;
}

px_node *px_model_input(px_model *m, px_shape shape, const char *name) {
    if (!m) {
        px_set_error(PX_ERR_ARG, "model_input: model is NULL");
        return NULL;
    }
    if (m->n_inputs == PX_MAX_INPUTS) {
        px_set_error(PX_ERR_ARG, "model '%s': at most %d inputs", m->name, PX_MAX_INPUTS);
        return NULL;
    }
    px_layer *in = px_input_layer(shape, name);
    if (!in) return NULL;
    if (take_layer(m, in) != PX_OK) {
        px_layer_free(in);
        return NULL;
    }
    px_shape full = {.rank = shape.rank + 1};
    full.dim[0] = PX_UNKNOWN;
    for (int i = 0; i < shape.rank; i++) full.dim[i + 1] = shape.dim[i];
    px_node *ph = px_placeholder(m->g, PX_F32, full, px_layer_name(in));
    if (!ph) return NULL;
    in->output = ph;
    in->built = true;
    in->graph = m->g;
    m->inputs[m->n_inputs++] = ph;
    px_model_invalidate(m);
    return ph;
}

px_node *px_apply_n(px_layer *layer, px_node *const *inputs, int n) {
    if (!layer || !inputs || n < 1) {
        px_set_error(PX_ERR_ARG, "apply: layer or inputs missing");
        if (layer && !layer->model) px_layer_free(layer);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!inputs[i]) {
            if (!layer->model) px_layer_free(layer); /* the model would have owned it */
            /* an earlier op or layer failed: keep its message, or say what is missing */
            if (!px_last_error()[0]) px_set_error(PX_ERR_ARG, "apply: input %d is NULL", i);
            return NULL;
        }
    px_graph *g = px_node_graph(inputs[0]);
    px_model *m = g ? g->owner : NULL;
    if (!m) {
        px_set_error(PX_ERR_ARG, "apply: the input does not belong to a model; create it with px_model_input");
        if (!layer->model) px_layer_free(layer);
        return NULL;
    }
    if (take_layer(m, layer) != PX_OK) {
        if (!layer->model) px_layer_free(layer);
        return NULL;
    }
    px_model_invalidate(m);
    return px_layer_apply(layer, inputs, n, &m->rng);
}

px_node *px_apply(px_layer *layer, px_node *input) { return px_apply_n(layer, &input, 1); }

px_status px_model_set_outputs(px_model *m, px_node *const *outputs, int n) {
    if (!m || !outputs || n < 1 || n > PX_MAX_OUTPUTS)
        return px_set_error(PX_ERR_ARG, "set_outputs: give 1 to %d outputs", PX_MAX_OUTPUTS);
    for (int i = 0; i < n; i++)
        if (!outputs[i] || px_node_graph(outputs[i]) != m->g)
            return px_set_error(PX_ERR_ARG, "set_outputs: output %d is %s", i,
                                outputs[i] ? "not a node of this model" : "NULL (did a layer fail?)");
    memcpy(m->outputs, outputs, (size_t)n * sizeof *outputs);
    m->n_outputs = n;
    m->built = m->n_inputs > 0;
    px_model_invalidate(m);
    return PX_OK;
}

px_model *px_functional(const char *name) { return model_new(name ? name : "model", false); }

/* ---- Sequential ---- */

/* Applies a layer on top of a built Sequential model. */
static px_status sequential_push(px_model *m, px_layer *l) {
    px_node *out = px_layer_apply(l, &m->outputs[0], 1, &m->rng);
    if (!out) return px_last_status();
    m->outputs[0] = out;
    m->n_outputs = 1;
    return PX_OK;
}

px_status px_model_build(px_model *m, px_shape input_shape) {
    if (!m) return px_set_error(PX_ERR_ARG, "build: model is NULL");
    if (px_model_check_complete(m, "build") != PX_OK) return px_last_status();
    if (m->built) return PX_OK;
    if (!m->sequential) return px_set_error(PX_ERR_STATE, "build: Functional model '%s' has no outputs yet", m->name);
    if (m->n_layers == 0) return px_set_error(PX_ERR_STATE, "build: Sequential model '%s' has no layers", m->name);
    px_shape full = {.rank = input_shape.rank + 1};
    full.dim[0] = PX_UNKNOWN;
    for (int i = 0; i < input_shape.rank; i++) full.dim[i + 1] = input_shape.dim[i];
    px_layer *first = m->layers[0];
    char nm[96];
    if (first->kind && strcmp(first->def->class_name, "InputLayer") == 0) snprintf(nm, sizeof nm, "%s", px_layer_name(first));
    else snprintf(nm, sizeof nm, "%s_input", px_layer_name(first));
    px_node *ph = px_placeholder(m->g, PX_F32, full, nm);
    if (!ph) return px_last_status();
    m->inputs[0] = ph;
    m->n_inputs = 1;
    m->outputs[0] = ph;
    m->n_outputs = 1;
    for (int i = 0; i < m->n_layers; i++)
        if (sequential_push(m, m->layers[i]) != PX_OK) {
            m->n_inputs = m->n_outputs = 0;
            return px_last_status();
        }
    m->built = true;
    px_model_invalidate(m);
    return PX_OK;
}

px_status px_sequential_add(px_model *m, px_layer *l) {
    if (!m || !l) {
        if (l && !l->model) px_layer_free(l);
        if (!m) return px_set_error(PX_ERR_ARG, "sequential_add: model is NULL");
        /* the layer's constructor failed: the model must not train without it */
        const char *why = px_last_error();
        snprintf(m->broken, sizeof m->broken, "layer %d was NULL (its constructor failed%s%s)", m->n_layers + 1,
                 *why ? ": " : "", why);
        return px_set_error(PX_ERR_ARG, "sequential_add: model '%s': %s", m->name, m->broken);
    }
    if (!m->sequential) {
        if (!l->model) px_layer_free(l);
        return px_set_error(PX_ERR_STATE, "sequential_add: model '%s' is Functional", m->name);
    }
    if (take_layer(m, l) != PX_OK) {
        if (!l->model) px_layer_free(l);
        return px_last_status();
    }
    px_model_invalidate(m);
    if (m->built) {
        if (sequential_push(m, l) == PX_OK) return PX_OK;
        m->n_layers--; /* the model stays as it was */
        l->model = NULL;
        px_status st = px_last_status();
        px_layer_free(l);
        return st;
    }
    /* the first layer's declared input shape builds the model at once, as in Keras */
    if (m->n_layers == 1 && l->has_input_shape) return px_model_build(m, l->input_shape);
    return PX_OK;
}

px_status px_model_check_complete(const px_model *m, const char *what) {
    if (m && m->broken[0]) return px_set_error(PX_ERR_STATE, "%s: model '%s' is incomplete: %s", what, m->name, m->broken);
    return PX_OK;
}

/* Frees the layers at [from, n) (or up to the NULL terminator when n < 0) that
 * no model owns, each once (a list may name one layer twice). */
static void free_rest(px_layer *const *layers, int from, int n) {
    for (int j = from; layers && (n < 0 ? layers[j] != NULL : j < n); j++) {
        bool seen = !layers[j] || layers[j]->model;
        for (int k = 0; k < j && !seen; k++) seen = layers[k] == layers[j];
        if (!seen) px_layer_free(layers[j]);
    }
}

px_model *px_sequential_n(px_layer *const *layers, int n) {
    if (!layers) n = 0;
    int count = n;
    if (n < 0)
        for (count = 0; layers[count]; count++) {}
    else if (n > 0 && !layers[n - 1])
        count = n - 1; /* the terminator */
    for (int i = 0; i < count; i++)
        if (!layers[i]) {
            /* the first failed constructor's message is still the last error */
            char why[700];
            snprintf(why, sizeof why, "%s", px_last_error());
            free_rest(layers, 0, n < 0 ? count : n);
            return px_set_error(PX_ERR_ARG, "px_sequential: layer %d of %d is NULL: its constructor failed%s%s", i + 1,
                                count, *why ? ": " : "", why),
                   NULL;
        }
    px_model *m = model_new("sequential", true);
    if (!m) {
        free_rest(layers, 0, count);
        return NULL;
    }
    for (int i = 0; i < count; i++)
        if (px_sequential_add(m, layers[i]) != PX_OK) {
            px_status st = px_last_status();
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", px_last_error());
            free_rest(layers, i + 1, count);
            px_model_free(m);
            px_set_error(st, "%s", msg);
            return NULL;
        }
    return m;
}

/* The name in parentheses: model.h makes px_sequential a macro for GCC and Clang. */
px_model *(px_sequential)(px_layer *const *layers) { return px_sequential_n(layers, -1); }

int64_t px_model_param_count(const px_model *m, int64_t *trainable, int64_t *non_trainable) {
    int64_t t = 0, nt = 0;
    for (int i = 0; m && i < m->n_layers; i++) {
        px_layer *l = m->layers[i];
        for (int k = 0; k < l->n_weights; k++) {
            int64_t sz = px_shape_size(px_node_shape(l->weights[k]));
            if (px_variable_trainable(l->weights[k])) t += sz;
            else nt += sz;
        }
    }
    if (trainable) *trainable = t;
    if (non_trainable) *non_trainable = nt;
    return t + nt;
}

px_status px_model_get_weights(const px_model *m, px_tensor ***out, int *n) {
    if (!m || !out || !n) return px_set_error(PX_ERR_ARG, "get_weights: NULL argument");
    int total = 0;
    for (int i = 0; i < m->n_layers; i++) total += m->layers[i]->n_weights;
    *out = NULL;
    *n = 0;
    px_tensor **w = calloc((size_t)total + 1, sizeof *w);
    if (!w) return px_set_error(PX_ERR_NOMEM, "get_weights: out of memory");
    int k = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int j = 0; j < m->layers[i]->n_weights; j++) {
            if (!(w[k] = px_tensor_copy(px_node_value(m->layers[i]->weights[j])))) {
                for (int q = 0; q < k; q++) px_tensor_free(w[q]);
                free(w);
                return px_last_status();
            }
            k++;
        }
    *out = w;
    *n = total;
    return PX_OK;
}

px_status px_model_set_weights(px_model *m, px_tensor *const *w, int n) {
    if (!m) return px_set_error(PX_ERR_ARG, "set_weights: model is NULL");
    if (!w && n != 0) return px_set_error(PX_ERR_ARG, "set_weights: %d weights announced but the array is NULL", n);
    int total = 0;
    for (int i = 0; i < m->n_layers; i++) total += m->layers[i]->n_weights;
    if (n != total)
        return px_set_error(PX_ERR_ARG, "set_weights: model '%s' has %d weights, %d given", m->name, total, n);
    /* check everything first so a failure changes nothing */
    for (int i = 0, k = 0; i < m->n_layers; i++)
        for (int j = 0; j < m->layers[i]->n_weights; j++, k++) {
            px_shape want = px_node_shape(m->layers[i]->weights[j]);
            if (!w[k] || !px_shape_equal(want, px_tensor_shape(w[k]))) {
                char sa[96], sb[96];
                return px_set_error(PX_ERR_SHAPE, "set_weights: weight %d (layer '%s', '%s') has shape %s, got %s", k,
                                    px_layer_name(m->layers[i]), m->layers[i]->weight_names[j],
                                    px_shape_format(want, sa, sizeof sa),
                                    w[k] ? px_shape_format(px_tensor_shape(w[k]), sb, sizeof sb) : "NULL");
            }
        }
    for (int i = 0, k = 0; i < m->n_layers; i++)
        for (int j = 0; j < m->layers[i]->n_weights; j++, k++)
            px_tensor_copy_into(px_node_value(m->layers[i]->weights[j]), w[k]);
    return PX_OK;
}

int px_model_fit_epochs(const px_model *m) { return m ? m->fit_epochs : 0; }
int px_model_fit_steps(const px_model *m) { return m ? m->fit_steps : 0; }
