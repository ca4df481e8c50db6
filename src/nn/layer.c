/* The generic layer object: naming, weights, building on first application,
 * trainable flags, weight copies and cloning. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/node.h"
#include "nn/layer_internal.h"
#include "plexus/ops.h"

static px_layer *layer_alloc(const px_layer_def *def, void *state, const char *name) {
    px_layer *l = calloc(1, sizeof *l);
    if (!l) {
        px_set_error(PX_ERR_NOMEM, "layer: out of memory");
        return NULL;
    }
    l->def = def;
    l->state = state;
    l->trainable = true;
    l->bf16 = px_dtype_policy_global_bf16(); /* Keras: the global policy when the layer is made */
    if (name && !(l->name = strdup(name))) {
        free(l);
        px_set_error(PX_ERR_NOMEM, "layer: out of memory");
        return NULL;
    }
    return l;
}

px_layer *px_layer_new(const px_layer_def *def, void *state, const char *name) {
    if (!def || !def->class_name || !def->call == !def->call_training) {
        px_set_error(PX_ERR_ARG, "layer_new: the definition needs a class_name and one of call and call_training");
        return NULL;
    }
    return layer_alloc(def, state, name);
}

px_layer *px_layer_new_kind(const px_layer_kind *kind, void *state, const char *name) {
    px_layer *l = layer_alloc(&kind->def, state, name);
    if (l) l->kind = kind;
    else if (kind->def.destroy) kind->def.destroy(state);
    else free(state);
    return l;
}

void px_layer_free(px_layer *l) {
    if (!l) return;
    if (l->def->destroy) l->def->destroy(l->state);
    else if (l->kind) free(l->state);
    for (int i = 0; i < l->n_weights; i++) free(l->weight_names[i]);
    free(l->weights);
    free(l->weight_names);
    free(l->regs);
    free(l->fixed);
    for (int i = 0; i < l->n_pending; i++) px_tensor_free(l->pending[i]);
    free(l->pending);
    free(l->inbound);
    for (int i = 0; i < l->n_calls; i++) free(l->calls[i].in);
    free(l->calls);
    for (int i = 0; i < l->n_subs; i++) px_layer_free(l->subs[i]);
    free(l->subs);
    free(l->name);
    free(l);
}

void *px_layer_state(const px_layer *l) {
    if (!l) px_set_error(PX_ERR_ARG, "px_layer_state: layer is NULL");
    return l ? l->state : NULL;
}
const char *px_layer_name(const px_layer *l) { return l && l->name ? l->name : ""; }
const char *px_layer_class(const px_layer *l) { return l ? l->def->class_name : ""; }

px_status px_layer_set_name(px_layer *l, const char *name) {
    if (!l || !name || !*name) return px_set_error(PX_ERR_ARG, "layer_set_name: layer or name is NULL or empty");
    char *copy = strdup(name);
    if (!copy) return px_set_error(PX_ERR_NOMEM, "layer_set_name: out of memory");
    free(l->name);
    l->name = copy;
    return PX_OK;
}

void px_snake_case(const char *cls, char *out, size_t len) {
    /* Keras's naming.to_snake_case: drop non-word characters, then "_" before an
     * upper-case letter that starts a capitalised word ("(.)([A-Z][a-z]+)") or
     * follows a lower-case one ("([a-z])([A-Z])"), all lower-cased:
     * Conv2D -> conv2d, SimpleRNN -> simple_rnn, Conv1DTranspose -> conv1d_transpose */
    char w[256];
    size_t n = 0;
    for (size_t i = 0; cls[i] && n + 1 < sizeof w; i++)
        if (isalnum((unsigned char)cls[i]) || cls[i] == '_') w[n++] = cls[i];
    w[n] = '\0';
    size_t o = 0;
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        unsigned char c = (unsigned char)w[i];
        bool starts_word = i > 0 && isupper(c) && islower((unsigned char)w[i + 1]);
        bool after_lower = i > 0 && isupper(c) && islower((unsigned char)w[i - 1]);
        if (starts_word || after_lower) out[o++] = '_';
        out[o++] = (char)tolower(c);
    }
    out[o] = '\0';
}

void px_layer_set_trainable(px_layer *l, bool trainable) {
    if (!l) return;
    l->trainable = trainable;
    for (int i = 0; i < l->n_weights; i++) {
        /* weights created non-trainable (moving statistics, adapted means) stay so */
        if (l->fixed[i]) continue;
        px_variable_set_trainable(l->weights[i], trainable);
    }
}

bool px_layer_trainable(const px_layer *l) { return l && l->trainable; }
int px_layer_weight_count(const px_layer *l) { return l ? l->n_weights : 0; }
px_node *px_layer_weight(const px_layer *l, int i) {
    if (l && i >= 0 && i < l->n_weights) return l->weights[i];
    if (!l) px_set_error(PX_ERR_ARG, "px_layer_weight: layer is NULL");
    else px_set_error(PX_ERR_ARG, "px_layer_weight: layer '%s' has %d weights, not %d", px_layer_name(l), l->n_weights, i + 1);
    return NULL;
}
const char *px_layer_weight_name(const px_layer *l, int i) {
    return l && i >= 0 && i < l->n_weights ? l->weight_names[i] : NULL;
}
px_node *px_layer_output(const px_layer *l) {
    if (!l) px_set_error(PX_ERR_ARG, "px_layer_output: layer is NULL");
    return l ? l->output : NULL; /* NULL before the layer is applied, without an error */
}

int64_t px_layer_param_count(const px_layer *l) {
    int64_t n = 0;
    for (int i = 0; l && i < l->n_weights; i++) n += px_shape_size(px_node_shape(l->weights[i]));
    return n;
}

px_node *px_layer_add_weight(px_layer *l, const char *name, px_shape shape, px_initializer init,
                             px_regularizer reg, bool trainable) {
    if (!l || !l->graph || !name) {
        px_set_error(PX_ERR_STATE, "add_weight: only inside a layer's build, with a name");
        return NULL;
    }
    for (int i = 0; i < shape.rank; i++)
        if (shape.dim[i] <= 0) {
            char sb[96];
            px_set_error(PX_ERR_SHAPE, "layer '%s': weight '%s' would have shape %s; every dimension must be known and positive",
                         px_layer_name(l), name, px_shape_format(shape, sb, sizeof sb));
            return NULL;
        }
    /* the size is checked before anything is allocated: a layer far too big for
     * the machine is an error naming it, not a kill by the out-of-memory killer */
    uint64_t count = 1;
    for (int i = 0; i < shape.rank; i++)
        count = count > UINT64_MAX / 16 / (uint64_t)shape.dim[i] ? UINT64_MAX / 16 : count * (uint64_t)shape.dim[i];
    if (count * 4 >= PX_MEMORY_CHECK_MIN / 2) {
        /* with its gradient, the least that training it takes (optimizer slots
         * and activations come on top and are checked when they are allocated) */
        char what[256], sb[96], b1[32];
        snprintf(what, sizeof what, "layer '%s': weight '%s' of shape %s (%s) with its gradient", px_layer_name(l), name,
                 px_shape_format(shape, sb, sizeof sb), px_format_bytes(count * 4, b1, sizeof b1));
        if (px_memory_check(count * 8, what) != PX_OK) return NULL;
    }
    if (l->n_weights == l->cap_weights) {
        int cap = l->cap_weights ? 2 * l->cap_weights : 4;
        px_node **w = realloc(l->weights, (size_t)cap * sizeof *w);
        if (w) l->weights = w;
        char **nm = realloc(l->weight_names, (size_t)cap * sizeof *nm);
        if (nm) l->weight_names = nm;
        px_regularizer *r = realloc(l->regs, (size_t)cap * sizeof *r);
        if (r) l->regs = r;
        bool *fx = realloc(l->fixed, (size_t)cap * sizeof *fx);
        if (fx) l->fixed = fx;
        if (!w || !nm || !r || !fx) {
            px_set_error(PX_ERR_NOMEM, "add_weight: out of memory");
            return NULL;
        }
        l->cap_weights = cap;
    }
    px_tensor *t = px_tensor_zeros(shape);
    if (!t) return NULL;
    px_rng fallback = px_rng_seeded(0);
    if (px_initializer_fill(init, t, l->rng ? l->rng : &fallback) != PX_OK) {
        px_tensor_free(t);
        return NULL;
    }
    /* weights from a cloned layer replace the fresh initialisation */
    int idx = l->n_weights;
    if (idx < l->n_pending && l->pending[idx]) {
        if (!px_shape_equal(px_tensor_shape(l->pending[idx]), shape)) {
            char sa[96], sb[96];
            px_set_error(PX_ERR_SHAPE, "layer '%s': copied weight '%s' has shape %s, the layer needs %s",
                         px_layer_name(l), name, px_shape_format(px_tensor_shape(l->pending[idx]), sa, sizeof sa),
                         px_shape_format(shape, sb, sizeof sb));
            px_tensor_free(t);
            return NULL;
        }
        px_tensor_copy_into(t, l->pending[idx]);
    }
    char full[256];
    snprintf(full, sizeof full, "%s/%s", px_layer_name(l), name);
    px_node *v = px_variable(l->graph, t, full);
    px_tensor_free(t);
    if (!v) return NULL;
    char *nm = strdup(name);
    if (!nm) {
        px_set_error(PX_ERR_NOMEM, "add_weight: out of memory");
        return NULL;
    }
    px_variable_set_trainable(v, trainable && l->trainable);
    l->weights[idx] = v;
    l->weight_names[idx] = nm;
    l->regs[idx] = reg;
    l->fixed[idx] = !trainable;
    l->n_weights++;
    return v;
}

px_status px_layer_add_kernel_bias(px_layer *l, px_shape kernel_shape, int64_t units, px_initializer kernel_init,
                                   px_regularizer kernel_reg, bool no_bias, px_initializer bias_init,
                                   px_regularizer bias_reg) {
    if (!px_layer_add_weight(l, "kernel", kernel_shape, kernel_init, kernel_reg, true)) return px_last_status();
    if (no_bias) return PX_OK;
    if (bias_init.kind == PX_INIT_DEFAULT) bias_init.kind = PX_INIT_ZEROS;
    return px_layer_add_weight(l, "bias", PX_SHAPE(units), bias_init, bias_reg, true) ? PX_OK : px_last_status();
}

/* A call that branches on the training flag: both branches, the second built as
 * inference (its ops run so even in training runs), joined by in_train_phase. */
static px_node *call_both_phases(px_layer *l, px_node *const *inputs, int n) {
    px_node *train = l->def->call_training(l, inputs, n, true);
    if (!train) return NULL;
    px_graph *g = px_node_graph(inputs[0]);
    px_graph_inference_scope(g, true);
    px_node *infer = l->def->call_training(l, inputs, n, false);
    px_graph_inference_scope(g, false);
    return infer ? px_in_train_phase(train, infer) : NULL;
}

px_node *px_layer_apply(px_layer *l, px_node *const *inputs, int n, px_rng *rng) {
    if (!l) {
        px_set_error(PX_ERR_ARG, "apply: layer is NULL");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!inputs[i]) return NULL; /* an earlier step failed; keep its message */
    px_graph *g = px_node_graph(inputs[0]);
    if (!l->built) {
        l->graph = g;
        l->rng = rng;
        px_shape shapes[16];
        if (n > 16) {
            px_set_error(PX_ERR_ARG, "layer '%s': at most 16 inputs", px_layer_name(l));
            return NULL;
        }
        for (int i = 0; i < n; i++) shapes[i] = px_node_shape(inputs[i]);
        if (l->def->build && l->def->build(l, shapes, n) != PX_OK) {
            /* keep the message, adding the layer when the build did not name it */
            if (!strstr(px_last_error(), px_layer_name(l)))
                px_error_prefix("layer '%s' (%s)", px_layer_name(l), l->def->class_name);
            for (int i = 0; i < l->n_weights; i++) free(l->weight_names[i]);
            l->n_weights = 0;
            l->graph = NULL;
            return NULL;
        }
        l->built = true;
        for (int i = 0; i < l->n_pending; i++) px_tensor_free(l->pending[i]);
        free(l->pending);
        l->pending = NULL;
        l->n_pending = 0;
    } else if (l->graph != g) {
        px_set_error(PX_ERR_ARG, "layer '%s' belongs to another model; use px_layer_clone to reuse it",
                     px_layer_name(l));
        return NULL;
    }
    /* the call may build sublayers (a nested model's), which need the generator too */
    l->rng = rng;
    /* the layer's dtype policy holds for the ops its call makes (a sublayer sets its own) */
    bool was_bf16 = px_graph_set_compute_bf16(g, l->bf16);
    px_node *out = l->def->call ? l->def->call(l, inputs, n) : call_both_phases(l, inputs, n);
    px_graph_set_compute_bf16(g, was_bf16);
    l->rng = NULL;
    if (out && !l->subs_adopted && px_layer_adopt_sublayers(l)) out = NULL;
    if (!out) {
        if (!strstr(px_last_error(), px_layer_name(l)))
            px_error_prefix("layer '%s' (%s)", px_layer_name(l), l->def->class_name);
        return NULL;
    }
    /* Keras's masks: only a new node is given one, so an identity layer never
     * changes its input's */
    bool fresh = true;
    for (int i = 0; i < n; i++) fresh = fresh && out != inputs[i];
    if (fresh && l->kind && l->kind->mask_mode == PX_MASK_PASS) out->mask = inputs[0]->mask;
    px_node **in = realloc(l->inbound, (size_t)n * sizeof *in);
    px_node **rec = malloc((size_t)n * sizeof *rec);
    px_layer_call *calls = realloc(l->calls, (size_t)(l->n_calls + 1) * sizeof *calls);
    if (in) l->inbound = in;
    if (calls) l->calls = calls;
    if (!in || !rec || !calls) {
        free(rec);
        px_set_error(PX_ERR_NOMEM, "apply: out of memory");
        return NULL;
    }
    memcpy(in, inputs, (size_t)n * sizeof *in);
    memcpy(rec, inputs, (size_t)n * sizeof *rec);
    l->n_inbound = n;
    l->output = out;
    px_layer_call *c = &l->calls[l->n_calls++];
    *c = (px_layer_call){.in = rec, .n_in = n, .out = {out}, .n_out = 1};
    for (int i = 0; i < l->n_extra && c->n_out < 5; i++) c->out[c->n_out++] = l->extra_outputs[i];
    return out;
}

px_status px_layer_get_weights(const px_layer *l, px_tensor ***out, int *n) {
    if (!l || !out || !n) return px_set_error(PX_ERR_ARG, "get_weights: NULL argument");
    *out = NULL;
    *n = 0;
    if (l->n_weights == 0) return PX_OK;
    px_tensor **w = calloc((size_t)l->n_weights, sizeof *w);
    if (!w) return px_set_error(PX_ERR_NOMEM, "get_weights: out of memory");
    for (int i = 0; i < l->n_weights; i++) {
        if (!(w[i] = px_tensor_copy(px_node_value(l->weights[i])))) {
            for (int j = 0; j < i; j++) px_tensor_free(w[j]);
            free(w);
            return px_last_status();
        }
    }
    *out = w;
    *n = l->n_weights;
    return PX_OK;
}

px_status px_layer_set_weights(px_layer *l, px_tensor *const *w, int n) {
    if (!l) return px_set_error(PX_ERR_ARG, "set_weights: layer is NULL");
    if (n != l->n_weights)
        return px_set_error(PX_ERR_ARG, "set_weights: layer '%s' has %d weights, %d given", px_layer_name(l),
                            l->n_weights, n);
    /* check every shape before changing anything */
    for (int i = 0; i < n; i++) {
        px_shape want = px_node_shape(l->weights[i]);
        if (!w[i] || !px_shape_equal(px_tensor_shape(w[i]), want) || w[i]->dtype != PX_F32) {
            char sa[96], sb[96];
            return px_set_error(PX_ERR_SHAPE, "set_weights: layer '%s' weight '%s' has shape %s, got %s",
                                px_layer_name(l), l->weight_names[i], px_shape_format(want, sa, sizeof sa),
                                w[i] ? px_shape_format(px_tensor_shape(w[i]), sb, sizeof sb) : "NULL");
        }
    }
    for (int i = 0; i < n; i++) px_tensor_copy_into(px_node_value(l->weights[i]), w[i]);
    return PX_OK;
}

px_layer *px_layer_clone(const px_layer *l) {
    if (!l) {
        px_set_error(PX_ERR_ARG, "layer_clone: layer is NULL");
        return NULL;
    }
    void *state = l->state;
    if (l->kind) {
        if (l->kind->state_size) {
            if (!(state = malloc(l->kind->state_size))) {
                px_set_error(PX_ERR_NOMEM, "layer_clone: out of memory");
                return NULL;
            }
            memcpy(state, l->state, l->kind->state_size);
        }
    } else if (l->def->clone_state) {
        if (!(state = l->def->clone_state(l->state))) return NULL;
    } else if (l->def->destroy) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer_clone: layer '%s' cannot copy its state", px_layer_name(l));
        return NULL;
    }
    px_layer *c = layer_alloc(l->def, state, l->name);
    if (!c) {
        if (state != l->state) {
            if (l->def->destroy) l->def->destroy(state);
            else free(state);
        }
        return NULL;
    }
    c->kind = l->kind;
    c->trainable = l->trainable;
    c->bf16 = l->bf16;
    c->input_shape = l->input_shape;
    c->has_input_shape = l->has_input_shape;
    if (px_layer_clone_sublayers(l, c)) {
        px_layer_free(c);
        return NULL;
    }
    if (l->n_weights) {
        px_tensor **w;
        int n;
        if (px_layer_get_weights(l, &w, &n) != PX_OK) {
            px_layer_free(c);
            return NULL;
        }
        c->pending = w;
        c->n_pending = n;
    }
    return c;
}

px_node *px_layer_penalty(px_layer *l, bool *none) {
    px_node *total = NULL;
    *none = true;
    for (int i = 0; i < l->n_weights; i++) {
        px_regularizer r = l->regs[i];
        if (r.l1 == 0 && r.l2 == 0) continue;
        *none = false;
        px_node *w = l->weights[i], *p = NULL;
        if (r.l1 != 0) p = px_scale(px_sum_all(px_abs(w)), r.l1);
        if (r.l2 != 0) {
            px_node *q = px_scale(px_sum_all(px_square(w)), r.l2);
            p = p ? px_add(p, q) : q;
        }
        total = total ? px_add(total, p) : p;
        if (!total) return NULL;
    }
    return total;
}

px_layer *px_layer_new_kind_copy(const px_layer_kind *kind, const void *state, size_t size) {
    void *s = malloc(size);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", kind->def.class_name);
        return NULL;
    }
    memcpy(s, state, size);
    return px_layer_new_kind(kind, s, NULL);
}
