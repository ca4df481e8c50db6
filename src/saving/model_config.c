/* model_config JSON both ways: Sequential and Functional models written as Keras 2
 * writes them, read from Keras 2 or 3 spellings through the layer kinds' hooks. */
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "saving/model_config.h"
#include "nn/layer_config.h"
#include "plexus/model_io.h"

static bool is_input_layer(const px_layer *l) { return l->kind && strcmp(l->def->class_name, "InputLayer") == 0; }

/* ---------------------------------------------------------------- writing */

/* The InputLayer entry Keras writes (its keys in Keras 2's order). */
static px_json *input_entry_config(const char *name, px_shape shape) {
    px_json *c = px_json_new_object();
    if (!c) return NULL;
    if (px_lc_set_shape(c, "batch_input_shape", shape, true) || px_lc_set_string(c, "dtype", "float32") ||
        px_lc_set_bool(c, "sparse", false) || px_lc_set_bool(c, "ragged", false) || px_lc_set_string(c, "name", name)) {
        px_json_free(c);
        return NULL;
    }
    return c;
}

static px_json *layer_entry(const char *cls, px_json *config) {
    px_json *e = px_json_new_object();
    if (!e || px_lc_set_string(e, "class_name", cls) || px_json_set(e, "config", config)) {
        if (!e) px_json_free(config);
        px_json_free(e);
        return NULL;
    }
    return e;
}

/* One layer's {"class_name", "config"}; a Sequential's first layer repeats the
 * input shape as batch_input_shape, as Keras 2 does. */
static px_json *layer_config(const px_layer *l) {
    const char *cls = l->def->class_name;
    if (!l->kind || !l->kind->from_config) {
        px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s' (%s) %s; it cannot be written to a model config",
                     px_layer_name(l), cls, l->kind ? "has no config support yet" : "is user-defined");
        return NULL;
    }
    if (is_input_layer(l)) {
        px_json *c = input_entry_config(px_layer_name(l), l->input_shape);
        return c ? layer_entry(cls, c) : NULL;
    }
    px_json *c = px_json_new_object();
    if (!c) return NULL;
    px_status st = px_lc_set_string(c, "name", px_layer_name(l));
    if (!st) st = px_lc_set_bool(c, "trainable", l->trainable);
    if (!st && l->has_input_shape) st = px_lc_set_shape(c, "batch_input_shape", l->input_shape, true);
    if (!st) st = px_lc_set_string(c, "dtype", "float32");
    if (!st && l->kind->write_config) st = l->kind->write_config(l, c);
    if (st) {
        px_json_free(c);
        return NULL;
    }
    return layer_entry(cls, c);
}

/* The layer whose output is node n (a model input's InputLayer included). */
static const px_layer *producer(const px_model *m, const px_node *n) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->output == n) return m->layers[i];
    return NULL;
}

/* [["name", 0, 0], ...] */
static px_json *node_refs(const px_model *m, px_node *const *nodes, int n, const char *what) {
    px_json *a = px_json_new_array();
    for (int i = 0; a && i < n; i++) {
        const px_layer *p = producer(m, nodes[i]);
        if (!p) {
            px_set_error(PX_ERR_STATE, "model_config: model '%s': %s %d comes from no layer", m->name, what, i);
            px_json_free(a);
            return NULL;
        }
        px_json *r = px_json_new_array();
        if (!r || px_json_push(r, px_json_new_string(px_layer_name(p))) || px_json_push(r, px_json_new_int(0)) ||
            px_json_push(r, px_json_new_int(0))) {
            px_json_free(r);
            px_json_free(a);
            return NULL;
        }
        if (px_json_push(a, r)) {
            px_json_free(a);
            return NULL;
        }
    }
    return a;
}

static px_status functional_layers(const px_model *m, px_json *layers) {
    for (int i = 0; i < m->n_layers; i++) {
        const px_layer *l = m->layers[i];
        px_json *e = layer_config(l);
        if (!e) return px_last_status();
        if (px_json_push(layers, e)) return px_last_status();
        if (px_lc_set_string(e, "name", px_layer_name(l))) return px_last_status();
        px_json *nodes = px_json_new_array();
        if (!nodes) return px_last_status();
        if (!is_input_layer(l)) {
            if (l->n_inbound == 0) {
                px_json_free(nodes);
                return px_set_error(PX_ERR_STATE, "model_config: layer '%s' was never applied", px_layer_name(l));
            }
            px_json *refs = node_refs(m, l->inbound, l->n_inbound, "an input of a layer");
            if (!refs) return px_json_free(nodes), px_last_status();
            /* Keras 2 adds the call's keyword arguments as a fourth entry */
            for (size_t k = 0; k < px_json_len(refs); k++) {
                px_json *kw = px_json_new_object();
                if (kw && k == 0 && l->kind && l->kind->write_call_kwargs && l->kind->write_call_kwargs(l, kw)) {
                    px_json_free(kw);
                    kw = NULL;
                }
                if (px_json_push(px_json_at(refs, k), kw)) return px_json_free(refs), px_json_free(nodes), px_last_status();
            }
            if (px_json_push(nodes, refs)) return px_json_free(nodes), px_last_status();
        }
        if (px_json_set(e, "inbound_nodes", nodes)) return px_last_status();
    }
    return PX_OK;
}

px_status px_model_config_build(const px_model *m, px_json **out) {
    *out = NULL;
    if (!m) return px_set_error(PX_ERR_ARG, "model_config: model is NULL");
    px_json *root = px_json_new_object(), *cfg = px_json_new_object(), *layers = px_json_new_array();
    px_status st = root && cfg && layers ? PX_OK : px_last_status();
    if (!st) st = px_lc_set_string(root, "class_name", m->sequential ? "Sequential" : "Functional");
    if (!st) st = px_json_set(root, "config", cfg);
    else px_json_free(cfg);
    if (!st) st = px_lc_set_string(cfg, "name", m->name);
    if (!st) st = px_json_set(cfg, "layers", layers);
    else px_json_free(layers);
    if (st) return px_json_free(root), st;
    if (m->sequential) {
        /* Keras lists the implicit input of a built Sequential as "<first>_input" */
        if (m->n_layers > 0 && !is_input_layer(m->layers[0]) && m->built && m->n_inputs == 1) {
            char nm[300];
            snprintf(nm, sizeof nm, "%s_input", px_layer_name(m->layers[0]));
            px_shape s = px_node_shape(m->inputs[0]);
            px_shape inner = {.rank = s.rank - 1};
            for (int i = 1; i < s.rank; i++) inner.dim[i - 1] = s.dim[i];
            px_json *c = input_entry_config(nm, inner);
            px_json *e = c ? layer_entry("InputLayer", c) : NULL;
            if (!e || px_json_push(layers, e)) return px_json_free(root), px_last_status();
        }
        for (int i = 0; i < m->n_layers; i++) {
            px_json *e = layer_config(m->layers[i]);
            if (!e || px_json_push(layers, e)) return px_json_free(root), px_last_status();
        }
    } else {
        if (!m->built) return px_json_free(root), px_set_error(PX_ERR_STATE, "model_config: Functional model '%s' has no outputs yet", m->name);
        if ((st = functional_layers(m, layers)) != PX_OK) return px_json_free(root), st;
        px_json *ins = node_refs(m, m->inputs, m->n_inputs, "input");
        if (!ins || px_json_set(cfg, "input_layers", ins)) return px_json_free(root), px_last_status();
        px_json *outs = node_refs(m, m->outputs, m->n_outputs, "output");
        if (!outs || px_json_set(cfg, "output_layers", outs)) return px_json_free(root), px_last_status();
    }
    *out = root;
    return PX_OK;
}

px_status px_model_to_json(const px_model *m, char **json) {
    if (!json) return px_set_error(PX_ERR_ARG, "to_json: output pointer is NULL");
    *json = NULL;
    px_json *root;
    px_status st = px_model_config_build(m, &root);
    if (st) return st;
    /* model.to_json() adds the writer's version and backend */
    if (!(st = px_lc_set_string(root, "keras_version", PX_KERAS_VERSION)) &&
        !(st = px_lc_set_string(root, "backend", "tensorflow")))
        st = px_json_write(root, json);
    px_json_free(root);
    return st;
}

/* ---------------------------------------------------------------- reading */

static const char *entry_name(const px_json *e, size_t index, char *buf, size_t len) {
    const char *n = px_json_get_string(px_json_get(e, "config"), "name", NULL);
    if (!n) n = px_json_get_string(e, "name", NULL);
    if (n) return n;
    snprintf(buf, len, "#%zu", index);
    return buf;
}

/* Prefixes the current error with where it happened, unless it already says. */
static px_status where(const char *layer, const char *cls) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", px_last_error());
    px_status st = px_last_status() ? px_last_status() : PX_ERR_FORMAT;
    if (strstr(msg, "model_config")) return st;
    if (strstr(msg, layer)) return px_set_error(st, "model_config: %s", msg);
    return px_set_error(st, "model_config: layer '%s' (%s): %s", layer, cls, msg);
}

static bool valid_name(const char *n) {
    return n && *n && !strchr(n, '/') && strcmp(n, ".") != 0 && strcmp(n, "..") != 0 && strlen(n) < 256;
}

/* A new layer from one entry of the "layers" list, with its base keys applied. */
static px_layer *make_layer(const px_json *e, size_t index) {
    char ib[32];
    const char *nm = entry_name(e, index, ib, sizeof ib);
    if (!px_json_is_object(e)) {
        px_set_error(PX_ERR_FORMAT, "model_config: layer %s is %s, not an object", nm, px_json_type_name(px_json_typeof(e)));
        return NULL;
    }
    const char *cls = px_json_get_string(e, "class_name", NULL);
    const px_json *c = px_json_get(e, "config");
    if (!cls) {
        px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': key 'class_name' is missing or not a string", nm);
        return NULL;
    }
    if (!px_json_is_object(c)) {
        px_set_error(PX_ERR_FORMAT, "model_config: layer '%s' (%s): key 'config' is missing or not an object", nm, cls);
        return NULL;
    }
    const px_layer_kind *kind = px_layer_kind_find(cls);
    if (!kind || !kind->from_config) {
        px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': layer class '%s' is not supported by Plexus", nm, cls);
        return NULL;
    }
    const char *name = px_json_get_string(c, "name", NULL);
    if (!valid_name(name)) {
        px_set_error(PX_ERR_FORMAT, "model_config: layer %s (%s): config key 'name' is %s", nm, cls,
                     name ? "not a usable layer name" : "missing or not a string");
        return NULL;
    }
    if (px_lc_check_dtype(c) != PX_OK) {
        where(name, cls);
        return NULL;
    }
    px_layer *l = kind->from_config(c);
    if (!l) {
        where(name, cls);
        return NULL;
    }
    bool trainable = true;
    px_shape shape = PX_SCALAR;
    bool has_shape = false;
    px_status st = px_layer_set_name(l, name);
    if (!st) st = px_lc_get_bool(c, "trainable", false, &trainable);
    if (!st && strcmp(cls, "InputLayer") != 0) {
        /* K2 batch_input_shape, K3 batch_shape, or input_shape (K3's conversion of K2's) */
        has_shape = px_json_get(c, "batch_input_shape") || px_json_get(c, "batch_shape") || px_json_get(c, "input_shape");
        if (!(st = px_lc_get_shape(c, "batch_input_shape", false, true, &shape)) &&
            !(st = px_lc_get_shape(c, "batch_shape", false, true, &shape)))
            st = px_lc_get_shape(c, "input_shape", false, false, &shape);
        for (int i = 0; !st && i < shape.rank; i++)
            if (shape.dim[i] == 0) st = px_set_error(PX_ERR_FORMAT, "layer '%s': the input shape has a zero size", name);
    }
    if (st) {
        where(name, cls);
        px_layer_free(l);
        return NULL;
    }
    px_layer_set_trainable(l, trainable);
    if (has_shape && shape.rank > 0) {
        l->input_shape = shape;
        l->has_input_shape = true;
    }
    return l;
}

static px_model *sequential_from_config(const px_json *cfg) {
    const px_json *layers = px_json_is_array(cfg) ? cfg : px_json_get(cfg, "layers"); /* K2.2: a bare list */
    if (!px_json_is_array(layers)) {
        px_set_error(PX_ERR_FORMAT, "model_config: Sequential config: key 'layers' is missing or not a list");
        return NULL;
    }
    px_model *m = px_sequential(NULL);
    if (!m) return NULL;
    const char *name = px_json_is_object(cfg) ? px_json_get_string(cfg, "name", NULL) : NULL;
    if (name && *name && px_model_set_name(m, name)) goto fail;
    px_shape pending = PX_SCALAR;
    bool has_pending = false;
    size_t n = px_json_len(layers);
    for (size_t i = 0; i < n; i++) {
        const px_json *e = px_json_at(layers, i);
        px_layer *l = make_layer(e, i);
        if (!l) goto fail;
        if (is_input_layer(l)) {
            /* the implicit input of a Sequential built from its first layer's
             * input shape: fold it back into that layer */
            char want[300];
            char ib[32];
            snprintf(want, sizeof want, "%s_input", i + 1 < n ? entry_name(px_json_at(layers, i + 1), i + 1, ib, sizeof ib) : "");
            if (i == 0 && i + 1 < n && strcmp(px_layer_name(l), want) == 0) {
                pending = l->input_shape;
                has_pending = true;
                px_layer_free(l);
                continue;
            }
            if (m->n_layers > 0) {
                px_set_error(PX_ERR_FORMAT, "model_config: layer '%s' (InputLayer) is not the first layer of the Sequential model",
                             px_layer_name(l));
                px_layer_free(l);
                goto fail;
            }
        } else if (has_pending && !l->has_input_shape) {
            l->input_shape = pending;
            l->has_input_shape = true;
        }
        has_pending = false;
        char lname[256];
        snprintf(lname, sizeof lname, "%s", px_layer_name(l));
        const char *cls = l->def->class_name;
        if (px_sequential_add(m, l) != PX_OK) {
            where(lname, cls);
            goto fail;
        }
    }
    /* K3 records the build shape separately */
    if (!m->built && px_json_is_object(cfg) && px_json_get(cfg, "build_input_shape") && m->n_layers > 0) {
        px_shape s;
        if (px_lc_get_shape(cfg, "build_input_shape", false, true, &s) || px_model_build(m, s)) {
            where("build_input_shape", "Sequential");
            goto fail;
        }
    }
    return m;
fail:
    px_model_free(m);
    return NULL;
}

/* A reference ["name", node_index, tensor_index(, kwargs)] -> the name, or NULL. */
static const char *ref_name(const px_json *r, int64_t *node_index) {
    if (!px_json_is_array(r) || px_json_len(r) < 1 || !px_json_is_string(px_json_at(r, 0))) return NULL;
    *node_index = px_json_len(r) > 1 ? px_json_int(px_json_at(r, 1)) : 0;
    if (px_json_len(r) > 2 && px_json_int(px_json_at(r, 2)) != 0) *node_index = -1;
    return px_json_string(px_json_at(r, 0));
}

/* A list of references, or a single one (K3 writes one input/output bare). */
static px_status ref_list(const px_json *v, const char *key, const char **names, int *n, int max) {
    *n = 0;
    if (!px_json_is_array(v)) return px_set_error(PX_ERR_FORMAT, "model_config: Functional config: key '%s' is missing or not a list", key);
    int64_t ni;
    if (px_json_is_string(px_json_at(v, 0))) {
        names[0] = ref_name(v, &ni);
        *n = 1;
        return PX_OK;
    }
    size_t len = px_json_len(v);
    if (len < 1 || len > (size_t)max)
        return px_set_error(PX_ERR_FORMAT, "model_config: Functional config: key '%s' has %zu entries (1 to %d supported)", key, len, max);
    for (size_t i = 0; i < len; i++) {
        if (!(names[i] = ref_name(px_json_at(v, i), &ni)))
            return px_set_error(PX_ERR_FORMAT, "model_config: Functional config: key '%s': entry %zu is not [\"layer\", 0, 0]", key, i);
    }
    *n = (int)len;
    return PX_OK;
}

/* Collects keras_history layer names of the K3 __keras_tensor__ objects in v. */
static px_status k3_tensors(const px_json *v, const char **names, int *n, int max, const char *layer) {
    if (px_json_is_array(v)) {
        for (size_t i = 0; i < px_json_len(v); i++)
            if (k3_tensors(px_json_at(v, i), names, n, max, layer)) return px_last_status();
    } else if (px_json_is_object(v) && strcmp(px_json_get_string(v, "class_name", ""), "__keras_tensor__") == 0) {
        const px_json *h = px_json_get(px_json_get(v, "config"), "keras_history");
        int64_t ni;
        const char *nm = ref_name(h, &ni);
        if (!nm) return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': an inbound tensor has no keras_history", layer);
        if (ni != 0) return px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': inputs from shared layers are not supported", layer);
        if (*n == max) return px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': too many inputs", layer);
        names[(*n)++] = nm;
    }
    return PX_OK;
}

/* The names of the layers feeding a layer (K2 list form or K3 args form), then
 * those passed as the call's `value` and `key` keyword arguments (attention
 * layers); *kwargs gets the call's keyword arguments (NULL: none). */
static px_status inbound_names(const px_json *e, const char *layer, const char **names, int *n, int max,
                               const px_json **kwargs) {
    const px_json *nodes = px_json_get(e, "inbound_nodes");
    *n = 0;
    *kwargs = NULL;
    if (!px_json_is_array(nodes))
        return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': key 'inbound_nodes' is missing or not a list", layer);
    if (px_json_len(nodes) != 1)
        return px_set_error(px_json_len(nodes) ? PX_ERR_UNSUPPORTED : PX_ERR_FORMAT,
                            "model_config: layer '%s': inbound_nodes has %zu nodes (%s)", layer, px_json_len(nodes),
                            px_json_len(nodes) ? "layers shared between several calls are not supported" : "the layer is never called");
    const px_json *node = px_json_at(nodes, 0);
    static const char *const tensor_kwargs[2] = {"value", "key"};
    if (px_json_is_object(node)) {
        *kwargs = px_json_get(node, "kwargs");
        if (k3_tensors(px_json_get(node, "args"), names, n, max, layer)) return px_last_status();
        for (int k = 0; k < 2; k++)
            if (px_json_get(*kwargs, tensor_kwargs[k]) &&
                k3_tensors(px_json_get(*kwargs, tensor_kwargs[k]), names, n, max, layer))
                return px_last_status();
        return PX_OK;
    }
    if (!px_json_is_array(node)) return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': inbound node is not a list", layer);
    const px_json *first = px_json_at(node, 0);
    if (px_json_len(first) > 3 && px_json_is_object(px_json_at(first, 3))) *kwargs = px_json_at(first, 3);
    for (size_t i = 0; i < px_json_len(node); i++) {
        int64_t ni = 0;
        const char *nm = ref_name(px_json_at(node, i), &ni);
        if (!nm) return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': inbound entry %zu is not [\"layer\", 0, 0, {}]", layer, i);
        if (ni != 0) return px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': inputs from shared layers are not supported", layer);
        if (*n == max) return px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': too many inputs", layer);
        names[(*n)++] = nm;
    }
    if (*n == 0) return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': inbound node is empty", layer);
    for (int k = 0; k < 2; k++) {
        const px_json *r = px_json_get(*kwargs, tensor_kwargs[k]);
        if (!r) continue;
        int64_t ni = 0;
        const char *nm = ref_name(r, &ni);
        if (!nm || ni != 0)
            return px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': call argument '%s' is not [\"layer\", 0, 0]", layer,
                                tensor_kwargs[k]);
        if (*n == max) return px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': too many inputs", layer);
        names[(*n)++] = nm;
    }
    return PX_OK;
}

/* The status of a call that returned NULL. */
static px_status failed(void) { return px_last_status() ? px_last_status() : PX_ERR_FORMAT; }

/* The model's inputs first, in input_layers order, so they keep Keras's order. */
static px_status add_inputs(px_model *m, const px_json *layers, bool *done, const char *const *ins, int n_in) {
    size_t n = px_json_len(layers);
    char ib[32];
    for (int k = 0; k < n_in; k++) {
        size_t i;
        for (i = 0; i < n; i++)
            if (!done[i] && strcmp(entry_name(px_json_at(layers, i), i, ib, sizeof ib), ins[k]) == 0) break;
        if (i == n) return px_set_error(PX_ERR_FORMAT, "model_config: input layer '%s' is not in the layers list", ins[k]);
        px_layer *l = make_layer(px_json_at(layers, i), i);
        if (!l) return failed();
        if (!is_input_layer(l)) {
            px_set_error(PX_ERR_FORMAT, "model_config: input '%s' is a %s, not an InputLayer", ins[k], l->def->class_name);
            px_layer_free(l);
            return PX_ERR_FORMAT;
        }
        px_shape s = l->input_shape;
        px_layer_free(l);
        if (!px_model_input(m, s, ins[k])) return where(ins[k], "InputLayer");
        done[i] = true;
    }
    return PX_OK;
}

/* Applies layer entry e (index i) when all its inbound layers exist; *applied says
 * whether it could be. */
static px_status try_connect(px_model *m, const px_json *e, size_t i, bool *applied) {
    char ib[32];
    const char *nm = entry_name(e, i, ib, sizeof ib);
    *applied = false;
    if (strcmp(px_json_get_string(e, "class_name", ""), "InputLayer") == 0)
        return px_set_error(PX_ERR_FORMAT, "model_config: InputLayer '%s' is not listed in input_layers", nm);
    const char *from[16];
    int n_from;
    const px_json *kwargs;
    px_status st = inbound_names(e, nm, from, &n_from, 16, &kwargs);
    if (st) return st;
    px_node *nodes[16];
    for (int k = 0; k < n_from; k++) {
        px_layer *p = px_model_find_layer(m, from[k]);
        if (!(nodes[k] = p ? p->output : NULL)) return PX_OK; /* not yet */
    }
    px_layer *l = make_layer(e, i);
    if (!l) return failed();
    if (kwargs && l->kind && l->kind->read_call_kwargs && l->kind->read_call_kwargs(l, kwargs)) {
        px_layer_free(l);
        return failed();
    }
    char lname[256];
    snprintf(lname, sizeof lname, "%s", px_layer_name(l));
    const char *cls = l->def->class_name;
    if (!px_apply_n(l, nodes, n_from)) return where(lname, cls);
    *applied = true;
    return PX_OK;
}

/* Every layer whose inputs exist, until none is left (Keras lists them in a
 * topological order, but nothing requires it); then a layer left over names the
 * inbound layer it misses. */
static px_status connect_layers(px_model *m, const px_json *layers, bool *done) {
    size_t n = px_json_len(layers);
    for (bool progress = true; progress;) {
        progress = false;
        for (size_t i = 0; i < n; i++) {
            if (done[i]) continue;
            bool applied;
            px_status st = try_connect(m, px_json_at(layers, i), i, &applied);
            if (st) return st;
            if (applied) done[i] = progress = true;
        }
    }
    char ib[32];
    for (size_t i = 0; i < n; i++)
        if (!done[i]) {
            const px_json *e = px_json_at(layers, i);
            const char *nm = entry_name(e, i, ib, sizeof ib);
            const char *from[16];
            int n_from = 0;
            const px_json *kwargs;
            inbound_names(e, nm, from, &n_from, 16, &kwargs);
            for (int k = 0; k < n_from; k++)
                if (!px_model_find_layer(m, from[k]))
                    return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': inbound layer '%s' does not exist (or forms a cycle)", nm, from[k]);
            return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s' cannot be connected", nm);
        }
    return PX_OK;
}

static px_status set_outputs(px_model *m, const char *const *outs, int n_out) {
    px_node *out_nodes[PX_MAX_OUTPUTS];
    for (int k = 0; k < n_out; k++) {
        px_layer *p = px_model_find_layer(m, outs[k]);
        if (!p || !p->output)
            return px_set_error(PX_ERR_FORMAT, "model_config: output layer '%s' is not in the layers list", outs[k]);
        out_nodes[k] = p->output;
    }
    return px_model_set_outputs(m, out_nodes, n_out);
}

static px_model *functional_from_config(const px_json *cfg) {
    const px_json *layers = px_json_get(cfg, "layers");
    if (!px_json_is_object(cfg) || !px_json_is_array(layers)) {
        px_set_error(PX_ERR_FORMAT, "model_config: Functional config: key 'layers' is missing or not a list");
        return NULL;
    }
    const char *ins[PX_MAX_INPUTS], *outs[PX_MAX_OUTPUTS];
    int n_in, n_out;
    if (ref_list(px_json_get(cfg, "input_layers"), "input_layers", ins, &n_in, PX_MAX_INPUTS) ||
        ref_list(px_json_get(cfg, "output_layers"), "output_layers", outs, &n_out, PX_MAX_OUTPUTS))
        return NULL;
    size_t n = px_json_len(layers);
    bool *done = calloc(n ? n : 1, sizeof *done);
    px_model *m = done ? px_functional(px_json_get_string(cfg, "name", "model")) : NULL;
    if (!m) {
        free(done);
        if (!done) px_set_error(PX_ERR_NOMEM, "model_config: out of memory");
        return NULL;
    }
    px_status st = add_inputs(m, layers, done, ins, n_in);
    if (!st) st = connect_layers(m, layers, done);
    if (!st) st = set_outputs(m, outs, n_out);
    free(done);
    if (st) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

px_model *px_model_from_config(const px_json *root) {
    if (!px_json_is_object(root)) {
        px_set_error(PX_ERR_FORMAT, "model_config: expected a JSON object, got %s", px_json_type_name(px_json_typeof(root)));
        return NULL;
    }
    const char *cls = px_json_get_string(root, "class_name", NULL);
    const px_json *cfg = px_json_get(root, "config");
    if (!cls) {
        px_set_error(PX_ERR_FORMAT, "model_config: key 'class_name' is missing or not a string");
        return NULL;
    }
    if (!cfg) {
        px_set_error(PX_ERR_FORMAT, "model_config: key 'config' of the %s model is missing", cls);
        return NULL;
    }
    /* the config's own keras_version (Keras 2 writes one), Keras 3's "module"
     * key, or else what the caller set from the file decides "hard_sigmoid" */
    const char *kv = px_json_get_string(root, "keras_version", NULL);
    int prev = px_lc_set_keras_major(kv ? px_lc_keras_major_of(kv) : px_json_get(root, "module") ? 3 : px_lc_keras_major());
    px_model *m = NULL;
    bool known = true;
    if (strcmp(cls, "Sequential") == 0) m = sequential_from_config(cfg);
    else if (strcmp(cls, "Functional") == 0 || strcmp(cls, "Model") == 0) m = functional_from_config(cfg);
    else known = false;
    px_lc_set_keras_major(prev);
    if (known) return m;
    px_set_error(PX_ERR_UNSUPPORTED, "model_config: model class '%s' is not supported (Sequential, Functional or Model)", cls);
    return NULL;
}

px_model *px_model_from_json(const char *json, size_t len) {
    if (!json) {
        px_set_error(PX_ERR_ARG, "from_json: text is NULL");
        return NULL;
    }
    px_json *root = NULL;
    if (px_json_parse(json, len, &root) != PX_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        px_set_error(PX_ERR_FORMAT, "model config JSON: %s", msg);
        return NULL;
    }
    px_model *m = px_model_from_config(root);
    px_json_free(root);
    return m;
}
