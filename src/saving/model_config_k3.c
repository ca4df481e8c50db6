/* config.json of .keras archives: models as Keras 3's serialization_lib writes them
 * (module, class_name, config, registered_name and build_config on every object),
 * built from the Keras 2 keys the layer kinds write; and compile_config <->
 * training_config. */
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "nn/layer_config.h"
#include "nn/user_layers.h"
#include "saving/model_config.h"

static bool is_input_layer(const px_layer *l) { return l->kind && strcmp(l->def->class_name, "InputLayer") == 0; }

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* {"module": ..., "class_name": ..., "config": config, "registered_name": null}; takes config. */
static px_json *k3_object(const char *module, const char *cls, px_json *config) {
    px_json *o = px_json_new_object();
    if (!o || px_lc_set_string(o, "module", module) || px_lc_set_string(o, "class_name", cls) ||
        px_json_set(o, "config", config) || px_lc_set_null(o, "registered_name")) {
        if (!o) px_json_free(config);
        px_json_free(o);
        return NULL;
    }
    return o;
}

/* Keras 3's DTypePolicy object of the policy `name` ("float32", "mixed_bfloat16"). */
static px_json *dtype_policy(const char *name) {
    px_json *c = px_json_new_object();
    if (!c || px_lc_set_string(c, "name", name)) {
        px_json_free(c);
        return NULL;
    }
    return k3_object("keras", "DTypePolicy", c);
}

/* Keras 2 keys that Keras 3's constructors reject ("Unrecognized keyword arguments"). */
static bool dropped(const char *cls, const char *key) {
    static const struct { const char *cls, *key; } table[] = {
        {NULL, "batch_input_shape"}, {"LSTM", "time_major"}, {"GRU", "time_major"},
        {"SimpleRNN", "time_major"}, {"SimpleRNN", "implementation"}, {"InputLayer", "ragged"}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if ((!table[i].cls || strcmp(table[i].cls, cls) == 0) && strcmp(table[i].key, key) == 0) return true;
    return false;
}

/* The Keras 3 module of a serialized object found under `key` of a layer config. */
static const char *module_for(const char *key) {
    if (ends_with(key, "_initializer")) return "keras.initializers";
    if (ends_with(key, "_regularizer")) return "keras.regularizers";
    if (ends_with(key, "_constraint")) return "keras.constraints";
    if (strcmp(key, "layer") == 0 || strcmp(key, "backward_layer") == 0 || strcmp(key, "cell") == 0) return "keras.layers";
    return "keras";
}

static px_json *k3_value(const char *key, const px_json *v);

/* A Keras 2 layer config as Keras 3 writes it: a DTypePolicy dtype, nested objects
 * with their module, no keys Keras 3 rejects. */
static px_json *k3_config(const char *cls, const px_json *c) {
    px_json *out = px_json_new_object();
    for (px_json_member m = px_json_first(c); out && m.key; m = px_json_next(c, m)) {
        const char *key = m.key;
        const px_json *v = m.value;
        if (dropped(cls, key)) continue;
        /* a Keras 2 dtype (a name, or a Policy object) becomes a DTypePolicy */
        const char *policy = strcmp(key, "dtype") == 0 ? px_lc_dtype_name(c) : NULL;
        px_json *nv = policy ? dtype_policy(policy) : k3_value(key, v);
        if (px_json_set(out, key, nv)) {
            px_json_free(out);
            return NULL;
        }
    }
    return out;
}

static px_json *k3_value(const char *key, const px_json *v) {
    const char *cls = px_json_get_string(v, "class_name", NULL);
    const px_json *c = px_json_get(v, "config");
    if (!px_json_is_object(v) || !cls || !px_json_is_object(c) || px_json_get(v, "module")) return px_json_copy(v);
    const char *module = module_for(key);
    px_json *nc = strcmp(module, "keras.layers") == 0 ? k3_config(cls, c) : px_json_copy(c);
    return nc ? k3_object(module, cls, nc) : NULL;
}

/* [null, d1, d2, ...] of a node's shape (its batch axis unknown). */
static px_json *shape_json(px_shape s) {
    px_json *a = px_json_new_array();
    for (int i = 0; a && i < s.rank; i++)
        if (px_json_push(a, i == 0 || s.dim[i] < 0 ? px_json_new_null() : px_json_new_int(s.dim[i]))) {
            px_json_free(a);
            return NULL;
        }
    return a;
}

static px_json *input_layer_config(const char *name, px_shape batch_shape) {
    px_json *c = px_json_new_object();
    if (!c || px_json_set(c, "batch_shape", shape_json(batch_shape)) || px_lc_set_string(c, "dtype", "float32") ||
        px_lc_set_bool(c, "sparse", false) || px_lc_set_string(c, "name", name)) {
        px_json_free(c);
        return NULL;
    }
    return c;
}

/* {"input_shape": ...} of the layer's first call: one shape, or a list of them. */
static px_json *build_config(const px_layer *l) {
    px_json *b = px_json_new_object(), *shape = NULL;
    if (!b) return NULL;
    const px_layer_call *c = &l->calls[0];
    if (c->n_in == 1) {
        shape = shape_json(px_node_shape(c->in[0]));
    } else {
        shape = px_json_new_array();
        for (int i = 0; shape && i < c->n_in; i++)
            if (px_json_push(shape, shape_json(px_node_shape(c->in[i])))) {
                px_json_free(shape);
                shape = NULL;
            }
    }
    if (px_json_set(b, "input_shape", shape)) {
        px_json_free(b);
        return NULL;
    }
    return b;
}

/* Keras 3 counts a nested Functional model's calls from 1 (it starts with a node of
 * its own); a Sequential's from 0. */
static int node_offset(const px_layer *l) {
    const px_model *inner = px_layer_inner_model(l);
    return inner && !inner->sequential ? 1 : 0;
}

static px_json *keras_tensor(const px_model *m, const px_node *n) {
    const px_layer *p;
    int call, tensor;
    if (!px_model_producer(m, n, &p, &call, &tensor)) {
        px_set_error(PX_ERR_STATE, "config.json: model '%s': a layer input comes from no layer", m->name);
        return NULL;
    }
    px_json *h = px_json_new_array(), *c = px_json_new_object(), *t = px_json_new_object();
    px_status st = h && c && t ? PX_OK : px_last_status();
    if (!st) st = px_json_push(h, px_json_new_string(px_layer_name(p)));
    if (!st) st = px_json_push(h, px_json_new_int(call + node_offset(p)));
    if (!st) st = px_json_push(h, px_json_new_int(tensor));
    if (!st) st = px_json_set(c, "shape", shape_json(px_node_shape(n)));
    if (!st) st = px_lc_set_string(c, "dtype", "float32");
    if (!st) st = px_json_set(c, "keras_history", h);
    else px_json_free(h);
    if (!st) st = px_lc_set_string(t, "class_name", "__keras_tensor__");
    if (!st) st = px_json_set(t, "config", c);
    else px_json_free(c);
    if (st) {
        px_json_free(t);
        return NULL;
    }
    return t;
}

/* [{"args": [...], "kwargs": {}}, ...]: one node per call; a layer of several inputs
 * (the merge layers) takes them as one list argument, as Keras calls them. */
static px_json *inbound_nodes(const px_model *m, const px_layer *l) {
    px_json *nodes = px_json_new_array();
    for (int c = 0; nodes && c < l->n_calls; c++) {
        px_json *node = px_json_new_object(), *args = px_json_new_array(), *tensors = args;
        if (l->calls[c].n_in > 1 && args && px_json_push(args, tensors = px_json_new_array())) tensors = NULL;
        px_status st = node && args && tensors ? PX_OK : px_last_status();
        for (int i = 0; !st && i < l->calls[c].n_in; i++) st = px_json_push(tensors, keras_tensor(m, l->calls[c].in[i]));
        if (!st) st = px_json_set(node, "args", args);
        else px_json_free(args);
        px_json *kw = st ? NULL : px_json_new_object();
        /* options Keras passes at call time (attention's use_causal_mask) */
        if (kw && l->kind && l->kind->write_call_kwargs && (st = l->kind->write_call_kwargs(l, kw))) px_json_free(kw);
        if (!st) st = px_json_set(node, "kwargs", kw);
        if (!st) st = px_json_push(nodes, node);
        else px_json_free(node);
        if (st) {
            px_json_free(nodes);
            return NULL;
        }
    }
    return nodes;
}

/* One entry of the "layers" list. */
static px_json *layer_entry(const px_model *m, const px_layer *l) {
    const char *cls = l->def->class_name;
    px_json *c = NULL, *e = NULL;
    px_model *inner = px_layer_inner_model(l);
    if (inner) {
        /* a nested model: its own serialization, named as the layer */
        if (px_model_config_build_k3(inner, &e)) return NULL;
        px_json *ic = px_json_get(e, "config");
        if (px_lc_set_string(ic, "name", px_layer_name(l)) || px_lc_set_bool(ic, "trainable", l->trainable)) {
            px_json_free(e);
            return NULL;
        }
    } else if (is_input_layer(l)) {
        c = input_layer_config(px_layer_name(l), px_node_shape(l->output));
    } else {
        if (l->kind ? !l->kind->from_config : !l->def->get_config) {
            px_set_error(PX_ERR_UNSUPPORTED, "config.json: layer '%s' (%s) %s; it cannot be written to a model config",
                         px_layer_name(l), cls, l->kind ? "has no config support yet" : "is user-defined without get_config");
            return NULL;
        }
        px_json *k2 = px_json_new_object();
        px_status st = k2 ? PX_OK : px_last_status();
        if (!st) st = px_lc_set_string(k2, "name", px_layer_name(l));
        if (!st) st = px_lc_set_bool(k2, "trainable", l->trainable);
        if (!st) st = px_lc_set_layer_dtype(k2, l);
        if (!st) st = px_layer_write_config(l, k2);
        if (!st) c = k3_config(cls, k2);
        px_json_free(k2);
    }
    if (!inner) e = c ? k3_object("keras.layers", cls, c) : NULL;
    if (!e) return NULL;
    px_status st = PX_OK;
    if (!l->kind && !inner) {
        /* a user-defined class, registered under Keras's default package */
        char reg[300];
        snprintf(reg, sizeof reg, "Custom>%s", cls);
        st = px_lc_set_null(e, "module");
        if (!st) st = px_lc_set_string(e, "registered_name", reg);
    }
    if (!inner && !is_input_layer(l) && l->n_calls > 0) st = px_json_set(e, "build_config", build_config(l));
    if (!st && !m->sequential) {
        st = px_lc_set_string(e, "name", px_layer_name(l));
        if (!st) st = px_json_set(e, "inbound_nodes", inbound_nodes(m, l));
    }
    if (st) {
        px_json_free(e);
        return NULL;
    }
    return e;
}

/* [["name", node, tensor], ...] of the model's inputs or outputs. */
static px_json *refs(const px_model *m, px_node *const *nodes, int n) {
    px_json *a = px_json_new_array();
    for (int i = 0; a && i < n; i++) {
        const px_layer *p;
        int call, tensor;
        if (!px_model_producer(m, nodes[i], &p, &call, &tensor)) {
            px_set_error(PX_ERR_STATE, "config.json: model '%s': input or output %d comes from no layer", m->name, i);
            px_json_free(a);
            return NULL;
        }
        px_json *r = px_json_new_array();
        if (px_json_push(a, r) || px_json_push(r, px_json_new_string(px_layer_name(p))) ||
            px_json_push(r, px_json_new_int(call + node_offset(p))) || px_json_push(r, px_json_new_int(tensor))) {
            px_json_free(a);
            return NULL;
        }
    }
    return a;
}

px_status px_model_config_build_k3(const px_model *m, px_json **out) {
    *out = NULL;
    if (!m->built) return px_set_error(PX_ERR_STATE, "config.json: model '%s' is not built", m->name);
    px_json *cfg = px_json_new_object(), *layers = px_json_new_array();
    px_status st = cfg && layers ? PX_OK : px_last_status();
    if (!st) st = px_lc_set_string(cfg, "name", m->name);
    if (!st) st = px_lc_set_bool(cfg, "trainable", true);
    if (!st && m->sequential) st = px_json_set(cfg, "dtype", dtype_policy("float32"));
    if (!st && m->sequential && !(m->n_layers > 0 && is_input_layer(m->layers[0]))) {
        /* Keras 3 lists a Sequential's input as its first layer; named as Keras 2
         * names the implicit one, so that reading folds it back into the first layer */
        char nm[300];
        snprintf(nm, sizeof nm, "%s_input", m->n_layers > 0 ? px_layer_name(m->layers[0]) : "input");
        px_json *c = input_layer_config(nm, px_node_shape(m->inputs[0]));
        st = px_json_push(layers, c ? k3_object("keras.layers", "InputLayer", c) : NULL);
    }
    for (int i = 0; !st && i < m->n_layers; i++) st = px_json_push(layers, layer_entry(m, m->layers[i]));
    if (!st) st = px_json_set(cfg, "layers", layers);
    else px_json_free(layers);
    if (!st && m->sequential) st = px_json_set(cfg, "build_input_shape", shape_json(px_node_shape(m->inputs[0])));
    if (!st && !m->sequential) st = px_json_set(cfg, "input_layers", refs(m, m->inputs, m->n_inputs));
    if (!st && !m->sequential) st = px_json_set(cfg, "output_layers", refs(m, m->outputs, m->n_outputs));
    px_json *root = st ? NULL
                       : k3_object(m->sequential ? "keras" : "keras.src.models.functional",
                                   m->sequential ? "Sequential" : "Functional", cfg);
    if (st) px_json_free(cfg);
    if (!root) return px_last_status();
    if (!m->sequential) st = px_lc_set_string(root, "registered_name", "Functional");
    px_json *b = px_json_new_object(), *shape = NULL;
    if (m->n_inputs == 1) {
        shape = shape_json(px_node_shape(m->inputs[0]));
    } else {
        shape = px_json_new_array();
        for (int i = 0; shape && i < m->n_inputs; i++)
            if (px_json_push(shape, shape_json(px_node_shape(m->inputs[i])))) {
                px_json_free(shape);
                shape = NULL;
            }
    }
    if (!st) st = px_json_set(b, "input_shape", shape);
    else px_json_free(shape);
    if (!st) st = px_json_set(root, "build_config", b);
    else px_json_free(b);
    if (st) {
        px_json_free(root);
        return st;
    }
    *out = root;
    return PX_OK;
}

/* ---------------------------------------------------------------- compile_config */

/* A copy in which every {"class_name", "config"} object gets `module`. */
static px_json *with_module(const px_json *v, const char *module) {
    if (px_json_is_array(v)) {
        px_json *a = px_json_new_array();
        for (size_t i = 0; a && i < px_json_len(v); i++)
            if (px_json_push(a, with_module(px_json_at(v, i), module))) {
                px_json_free(a);
                return NULL;
            }
        return a;
    }
    const char *cls = px_json_get_string(v, "class_name", NULL);
    if (px_json_is_object(v) && cls && px_json_get(v, "config") && !px_json_get(v, "module")) {
        const px_json *c = px_json_get(v, "config");
        px_json *nc = px_json_new_object();
        for (px_json_member m = px_json_first(c); nc && m.key; m = px_json_next(c, m)) {
            const char *key = m.key;
            /* a learning-rate schedule inside an optimizer's config */
            bool schedule = strcmp(key, "learning_rate") == 0 && px_json_is_object(m.value);
            if (px_json_set(nc, key, schedule ? with_module(m.value, "keras.optimizers.schedules") : px_json_copy(m.value))) {
                px_json_free(nc);
                nc = NULL;
            }
        }
        return nc ? k3_object(module, cls, nc) : NULL;
    }
    return px_json_copy(v);
}

static px_json *copy_or_null(const px_json *v) { return v ? px_json_copy(v) : px_json_new_null(); }

px_json *px_compile_config_from_training(const px_json *tc) {
    px_json *cc = px_json_new_object();
    px_status st = cc ? PX_OK : px_last_status();
    if (!st) st = px_json_set(cc, "optimizer", with_module(px_json_get(tc, "optimizer_config"), "keras.optimizers"));
    if (!st) st = px_json_set(cc, "loss", with_module(px_json_get(tc, "loss"), "keras.losses"));
    if (!st) st = px_json_set(cc, "loss_weights", copy_or_null(px_json_get(tc, "loss_weights")));
    if (!st) st = px_json_set(cc, "metrics", with_module(px_json_get(tc, "metrics"), "keras.metrics"));
    if (!st) st = px_json_set(cc, "weighted_metrics", copy_or_null(px_json_get(tc, "weighted_metrics")));
    if (!st) st = px_lc_set_bool(cc, "run_eagerly", false);
    if (!st) st = px_lc_set_int(cc, "steps_per_execution", 1);
    if (!st) st = px_lc_set_bool(cc, "jit_compile", false);
    if (st) {
        px_json_free(cc);
        return NULL;
    }
    return cc;
}

px_json *px_training_config_from_compile(const px_json *cc) {
    if (!px_json_is_object(cc)) {
        px_set_error(PX_ERR_FORMAT, "config.json: compile_config is a %s, not an object", px_json_type_name(px_json_typeof(cc)));
        return NULL;
    }
    px_json *tc = px_json_new_object();
    px_status st = tc ? PX_OK : px_last_status();
    const px_json *opt = px_json_get(cc, "optimizer");
    if (!st && px_json_is_string(opt)) {
        /* compile(optimizer="adam") can be stored as the bare name */
        px_json *o = px_json_new_object();
        st = o ? PX_OK : px_last_status();
        if (!st) st = px_lc_set_string(o, "class_name", px_json_string(opt));
        if (!st) st = px_json_set(o, "config", px_json_new_object());
        if (!st) st = px_json_set(tc, "optimizer_config", o);
        else px_json_free(o);
    } else if (!st) {
        st = px_json_set(tc, "optimizer_config", copy_or_null(opt));
    }
    if (!st) st = px_json_set(tc, "loss", copy_or_null(px_json_get(cc, "loss")));
    if (!st) st = px_json_set(tc, "metrics", copy_or_null(px_json_get(cc, "metrics")));
    if (!st) st = px_json_set(tc, "weighted_metrics", copy_or_null(px_json_get(cc, "weighted_metrics")));
    if (!st) st = px_json_set(tc, "loss_weights", copy_or_null(px_json_get(cc, "loss_weights")));
    if (st) {
        px_json_free(tc);
        return NULL;
    }
    return tc;
}
