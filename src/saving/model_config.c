/* model_config JSON both ways: Sequential and Functional models written as Keras 2
 * writes them, read from Keras 2 or 3 spellings through the layer kinds' hooks. */
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "plexus/mixed_precision.h"
#include "saving/model_config.h"
#include "nn/layer_config.h"
#include "nn/user_layers.h"
#include "plexus/model_io.h"

static bool is_input_layer(const px_layer *l) { return l->kind && strcmp(l->def->class_name, "InputLayer") == 0; }
static bool is_input_layer_entry(const px_json *e) { return strcmp(px_json_get_string(e, "class_name", ""), "InputLayer") == 0; }

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


/* A nested model's entry: its own model config, named as the layer. */
static px_json *nested_config(const px_layer *l, const px_model *inner) {
    px_json *root = NULL;
    if (px_model_config_build(inner, &root)) return NULL;
    px_json *c = px_json_get(root, "config");
    if (px_lc_set_string(c, "name", px_layer_name(l)) || (!l->trainable && px_lc_set_bool(c, "trainable", false))) {
        px_json_free(root);
        return NULL;
    }
    return root;
}

/* One layer's {"class_name", "config"}; a Sequential's first layer repeats the
 * input shape as batch_input_shape, as Keras 2 does. */
static px_json *layer_config(const px_layer *l) {
    const char *cls = l->def->class_name;
    px_model *inner = px_layer_inner_model(l);
    if (inner) return nested_config(l, inner);
    if (!l->kind && !l->def->get_config) {
        px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s' (%s) is user-defined without get_config; it cannot be "
                     "written to a model config (save its weights only, or give its px_layer_def a get_config)",
                     px_layer_name(l), cls);
        return NULL;
    }
    if (l->kind && !l->kind->from_config) {
        px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s' (%s) has no config support yet; it cannot be written to a model config",
                     px_layer_name(l), cls);
        return NULL;
    }
    if (is_input_layer(l)) {
        px_json *c = input_entry_config(px_layer_name(l), l->input_shape);
        return px_lc_class_object(cls, c);
    }
    px_json *c = px_json_new_object();
    if (!c) return NULL;
    px_status st = px_lc_set_string(c, "name", px_layer_name(l));
    if (!st) st = px_lc_set_bool(c, "trainable", l->trainable);
    if (!st && l->has_input_shape) st = px_lc_set_shape(c, "batch_input_shape", l->input_shape, true);
    if (!st) st = px_lc_set_layer_dtype(c, l);
    if (!st) st = px_layer_write_config(l, c);
    if (st) {
        px_json_free(c);
        return NULL;
    }
    return px_lc_class_object(cls, c);
}

/* ["name", node_index, tensor_index] */
static px_json *node_ref(const px_model *m, const px_node *n, const char *what, int i) {
    const px_layer *p;
    int call, tensor;
    if (!px_model_producer(m, n, &p, &call, &tensor)) {
        px_set_error(PX_ERR_STATE, "model_config: model '%s': %s %d comes from no layer", m->name, what, i);
        return NULL;
    }
    /* a nested model's calls count from 1 (see node_offset); its config here always
     * starts with an InputLayer */
    if (px_layer_inner_model(p)) call++;
    px_json *r = px_json_new_array();
    if (!r || px_json_push(r, px_json_new_string(px_layer_name(p))) || px_json_push(r, px_json_new_int(call)) ||
        px_json_push(r, px_json_new_int(tensor))) {
        px_json_free(r);
        return NULL;
    }
    return r;
}

/* [["name", 0, 0], ...] */
static px_json *node_refs(const px_model *m, px_node *const *nodes, int n, const char *what) {
    px_json *a = px_json_new_array();
    for (int i = 0; a && i < n; i++)
        if (px_json_push(a, node_ref(m, nodes[i], what, i))) {
            px_json_free(a);
            return NULL;
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
        if (!is_input_layer(l) && l->n_calls == 0) {
            px_json_free(nodes);
            return px_set_error(PX_ERR_STATE, "model_config: layer '%s' was never applied", px_layer_name(l));
        }
        /* one inbound node per call of the layer (several for a shared layer) */
        for (int c = 0; c < l->n_calls; c++) {
            px_json *refs = node_refs(m, l->calls[c].in, l->calls[c].n_in, "an input of a layer");
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
            px_json *e = px_lc_class_object("InputLayer", c);
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

static bool is_model_class(const char *cls) {
    return strcmp(cls, "Sequential") == 0 || strcmp(cls, "Functional") == 0 || strcmp(cls, "Model") == 0;
}

/* A model used as a layer (Keras 2's Teachable Machine files: a Sequential of two
 * Sequentials): built from its own config, then made a layer. */
static px_layer *nested_layer(const px_json *e, const char *nm, const char *cls) {
    px_model *inner = px_model_from_config(e);
    if (!inner) {
        px_error_prefix("model_config: nested %s model '%s'", cls, nm);
        return NULL;
    }
    const px_json *c = px_json_get(e, "config");
    bool trainable = px_json_is_object(c) ? px_json_get_bool(c, "trainable", true) : true;
    px_layer *l = px_model_as_layer(inner);
    if (l && !trainable) px_layer_set_trainable(l, false);
    return l;
}

/* Layers of another floating dtype (a mixed-precision model) are computed in float32:
 * one warning per model read, naming the dtype and how many layers have it. */
static _Thread_local int other_dtype_layers, from_config_depth;
static _Thread_local char other_dtype[32];

static void note_dtype(const char *dtype) {
    other_dtype_layers++;
    snprintf(other_dtype, sizeof other_dtype, "%s", dtype);
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
    /* registered user classes first (Keras's custom_objects), then models, then Plexus's kinds */
    const char *registered = px_json_get_string(e, "registered_name", NULL);
    px_layer_from_config_fn user = px_user_layer_find(cls, registered);
    if (!user && is_model_class(cls)) return nested_layer(e, nm, cls);
    const px_layer_kind *kind = user ? NULL : px_layer_kind_find(cls);
    if (!user && (!kind || !kind->from_config)) {
        px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': layer class '%s' is not supported by Plexus%s", nm,
                     registered ? registered : cls, kind ? "" : " (a class of your own needs px_layer_register)");
        return NULL;
    }
    const char *name = px_json_get_string(c, "name", NULL);
    if (!valid_name(name)) {
        px_set_error(PX_ERR_FORMAT, "model_config: layer %s (%s): config key 'name' is %s", nm, cls,
                     name ? "not a usable layer name" : "missing or not a string");
        return NULL;
    }
    /* an InputLayer of integer ids (for an Embedding) gets them as whole floats */
    const char *dtype = px_lc_dtype_name(c);
    bool int_input = strcmp(cls, "InputLayer") == 0 && dtype && (strncmp(dtype, "int", 3) == 0 || strncmp(dtype, "uint", 4) == 0);
    if (!int_input && px_lc_check_dtype(c) != PX_OK) {
        where(name, cls);
        return NULL;
    }
    /* mixed_bfloat16 runs as such where it can; any other policy (and it elsewhere)
     * is computed in float32, with the warning */
    bool bf16 = !int_input && strcmp(dtype, "mixed_bfloat16") == 0 && px_mixed_bfloat16_supported();
    if (!int_input && strcmp(dtype, "float32") != 0 && !bf16) note_dtype(dtype);
    px_layer *l = user ? user(px_layer_config_of_const(c)) : kind->from_config(c);
    if (l && bf16 && px_layer_set_dtype_policy(l, "mixed_bfloat16")) {
        px_layer_free(l);
        l = NULL;
    }
    if (!l) {
        if (user && !px_last_status()) px_set_error(PX_ERR_FORMAT, "the registered from_config returned no layer");
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

/* A tensor reference: the layer's name, its call (Keras's node_index) and output. */
typedef struct tref {
    const char *name;
    int64_t node, tensor;
} tref;

/* ["name", node_index, tensor_index(, kwargs)] */
static bool parse_ref(const px_json *r, tref *out) {
    if (!px_json_is_array(r) || px_json_len(r) < 1 || !px_json_is_string(px_json_at(r, 0))) return false;
    out->name = px_json_string(px_json_at(r, 0));
    out->node = px_json_len(r) > 1 ? px_json_int(px_json_at(r, 1)) : 0;
    out->tensor = px_json_len(r) > 2 ? px_json_int(px_json_at(r, 2)) : 0;
    return out->node >= 0 && out->tensor >= 0;
}

/* input_layers / output_layers: a list of references, a single bare one (K3 with one
 * input), or a dict of them (K3 models with dict inputs, in the dict's order). */
static px_status ref_list(const px_json *v, const char *key, tref *refs, int *n, int max) {
    *n = 0;
    if (px_json_is_array(v) && px_json_is_string(px_json_at(v, 0))) {
        if (!parse_ref(v, &refs[0])) return px_set_error(PX_ERR_FORMAT, "model_config: Functional config: key '%s' is not [\"layer\", 0, 0]", key);
        *n = 1;
        return PX_OK;
    }
    if (!px_json_is_array(v) && !px_json_is_object(v))
        return px_set_error(PX_ERR_FORMAT, "model_config: Functional config: key '%s' is missing or not a list", key);
    size_t len = px_json_len(v);
    if (len < 1 || len > (size_t)max)
        return px_set_error(PX_ERR_FORMAT, "model_config: Functional config: key '%s' has %zu entries (1 to %d supported)", key, len, max);
    size_t i = 0;
    px_json_member e = px_json_first(v);
    for (; i < len; i++) {
        const px_json *r = px_json_is_array(v) ? px_json_at(v, i) : e.value;
        if (!px_json_is_array(v)) e = px_json_next(v, e);
        if (!parse_ref(r, &refs[i]))
            return px_set_error(PX_ERR_FORMAT, "model_config: Functional config: key '%s': entry %zu is not [\"layer\", 0, 0]", key, i);
    }
    *n = (int)len;
    return PX_OK;
}

/* The references of the K3 __keras_tensor__ objects in v, depth first. */
static px_status k3_tensors(const px_json *v, tref *refs, int *n, int max, const char *layer) {
    if (px_json_is_array(v)) {
        for (size_t i = 0; i < px_json_len(v); i++)
            if (k3_tensors(px_json_at(v, i), refs, n, max, layer)) return px_last_status();
    } else if (px_json_is_object(v) && strcmp(px_json_get_string(v, "class_name", ""), "__keras_tensor__") == 0) {
        if (*n == max) return px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': more than %d inputs", layer, max);
        if (!parse_ref(px_json_get(px_json_get(v, "config"), "keras_history"), &refs[*n]))
            return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': an inbound tensor has no keras_history", layer);
        (*n)++;
    } else if (px_json_is_object(v)) {
        for (px_json_member e = px_json_first(v); e.key; e = px_json_next(v, e))
            if (k3_tensors(e.value, refs, n, max, layer)) return px_last_status();
    }
    return PX_OK;
}

#define MAX_LAYER_INPUTS 16

/* A keyword argument's tensors: K3 __keras_tensor__ objects, or K2's list-form
 * references ["layer", node, tensor] (one, or a list of them). */
static px_status kwarg_tensors(const px_json *v, tref *refs, int *n, int max, const char *layer, const char *key) {
    if (px_json_is_array(v) && px_json_is_string(px_json_at(v, 0))) {
        if (*n == max) return px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': more than %d inputs", layer, max);
        if (!parse_ref(v, &refs[*n]))
            return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': call argument '%s' is not [\"layer\", 0, 0]", layer, key);
        (*n)++;
        return PX_OK;
    }
    if (px_json_is_array(v) && px_json_is_array(px_json_at(v, 0))) {
        for (size_t i = 0; i < px_json_len(v); i++)
            if (kwarg_tensors(px_json_at(v, i), refs, n, max, layer, key)) return px_last_status();
        return PX_OK;
    }
    return k3_tensors(v, refs, n, max, layer);
}

/* The tensors that call `k` of a layer takes: K2's list form [[name, node, tensor,
 * {kwargs}], ...] or K3's {"args": [...], "kwargs": {...}}: the positional ones, then
 * those of the keyword arguments (query, value, key first, as the attention layers
 * take them; a mask is not an input). *kwargs: the call's keyword arguments, or NULL. */
static px_status node_inputs(const px_json *node, const char *layer, size_t k, tref *refs, int *n, int max,
                             const px_json **kwargs) {
    *n = 0;
    *kwargs = NULL;
    if (px_json_is_object(node)) {
        if (k3_tensors(px_json_get(node, "args"), refs, n, max, layer)) return px_last_status();
        *kwargs = px_json_get(node, "kwargs");
    } else if (px_json_is_array(node)) {
        for (size_t i = 0; i < px_json_len(node); i++) {
            if (*n == max) return px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': more than %d inputs", layer, max);
            if (!parse_ref(px_json_at(node, i), &refs[(*n)++]))
                return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': inbound node %zu, entry %zu is not [\"layer\", 0, 0, {}]",
                                    layer, k, i);
        }
        const px_json *first = px_json_at(node, 0);
        if (px_json_len(first) > 3 && px_json_is_object(px_json_at(first, 3))) *kwargs = px_json_at(first, 3);
    } else {
        return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': inbound node %zu is neither a list nor an object", layer, k);
    }
    static const char *const first_keys[] = {"query", "value", "key"};
    for (int q = 0; q < 3; q++)
        if (px_json_get(*kwargs, first_keys[q]) &&
            kwarg_tensors(px_json_get(*kwargs, first_keys[q]), refs, n, max, layer, first_keys[q]))
            return px_last_status();
    /* a tensor in any other keyword argument (an RNN's initial_state, an attention
     * mask) would be left out silently: refused instead (masks Plexus carries itself) */
    for (px_json_member e = px_json_first(*kwargs); e.key; e = px_json_next(*kwargs, e)) {
        bool listed = strcmp(e.key, "mask") == 0;
        for (int q = 0; q < 3; q++) listed |= strcmp(e.key, first_keys[q]) == 0;
        if (listed || (!px_json_is_object(e.value) && !px_json_is_array(e.value))) continue;
        tref extra[MAX_LAYER_INPUTS];
        int n_extra = 0;
        if (kwarg_tensors(e.value, extra, &n_extra, MAX_LAYER_INPUTS, layer, e.key)) return px_last_status();
        if (n_extra > 0)
            return px_set_error(PX_ERR_UNSUPPORTED, "model_config: layer '%s': call argument '%s' passes tensors, which Plexus "
                                "does not take there", layer, e.key);
    }
    if (*n == 0) return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': inbound node %zu has no input", layer, k);
    return PX_OK;
}

/* Keras counts the calls of a nested model that starts with a node of its own from 1:
 * a Functional model always, and in Keras 2 (list-form inbound nodes) a Sequential
 * whose config starts with its InputLayer (in Keras 2 it is a Functional model too). */
static int64_t node_offset(const px_json *e) {
    const char *cls = px_json_get_string(e, "class_name", "");
    if (!is_model_class(cls)) return 0;
    if (strcmp(cls, "Sequential") != 0) return 1;
    if (px_json_is_object(px_json_at(px_json_get(e, "inbound_nodes"), 0))) return 0; /* Keras 3 */
    const px_json *c = px_json_get(e, "config");
    const px_json *inner = px_json_is_array(c) ? c : px_json_get(c, "layers");
    return strcmp(px_json_get_string(px_json_at(inner, 0), "class_name", ""), "InputLayer") == 0;
}

/* The node a reference names, once its layer has made that call (NULL before). */
static px_node *resolve(const px_model *m, const px_json *layers, const tref *r, bool *bad) {
    px_layer *p = px_model_find_layer(m, r->name);
    *bad = false;
    if (!p) return NULL;
    if (p->n_calls == 0 && is_input_layer(p)) {
        *bad = r->node != 0 || r->tensor != 0;
        return *bad ? NULL : p->output;
    }
    int64_t node = r->node;
    char ib[32];
    for (size_t i = 0; px_layer_inner_model(p) && i < px_json_len(layers); i++)
        if (strcmp(entry_name(px_json_at(layers, i), i, ib, sizeof ib), r->name) == 0) node -= node_offset(px_json_at(layers, i));
    if (node < 0) {
        *bad = true;
        return NULL;
    }
    if (node >= p->n_calls) return NULL;
    if (r->tensor >= p->calls[node].n_out) {
        *bad = true;
        return NULL;
    }
    return p->calls[node].out[r->tensor];
}

/* Rebuilding a Functional model: the model, the config's layers list, and per
 * entry the layer made from it and how many of its calls are applied. */
typedef struct fbuild {
    px_model *m;
    const px_json *layers;
    size_t n;
    size_t *applied;
    px_layer **made;
} fbuild;

/* The status of a call that failed (returned NULL), never PX_OK. */
static px_status failed(void) { return px_last_status() ? px_last_status() : PX_ERR_FORMAT; }

/* The input layers first, in input_layers order, so the model's inputs keep Keras's order. */
static px_status add_inputs(fbuild *b, const tref *ins, int n_in) {
    char ib[32];
    for (int k = 0; k < n_in; k++) {
        size_t i;
        for (i = 0; i < b->n; i++)
            if (!b->made[i] && strcmp(entry_name(px_json_at(b->layers, i), i, ib, sizeof ib), ins[k].name) == 0) break;
        if (i == b->n)
            return px_set_error(PX_ERR_FORMAT, "model_config: input layer '%s' is not in the layers list", ins[k].name);
        px_layer *l = make_layer(px_json_at(b->layers, i), i);
        if (!l) return failed();
        if (!is_input_layer(l)) {
            px_set_error(PX_ERR_FORMAT, "model_config: input '%s' is a %s, not an InputLayer", ins[k].name, l->def->class_name);
            px_layer_free(l);
            return px_last_status();
        }
        px_shape s = l->input_shape;
        px_layer_free(l);
        if (!px_model_input(b->m, s, ins[k].name)) return where(ins[k].name, "InputLayer");
        b->made[i] = b->m->layers[b->m->n_layers - 1];
    }
    return PX_OK;
}

/* Makes entry i's layer at its first call, with the options Keras passes at call
 * time (attention's use_causal_mask). */
static px_status make_entry_layer(fbuild *b, size_t i, const px_json *kwargs) {
    if (!(b->made[i] = make_layer(px_json_at(b->layers, i), i))) return failed();
    px_layer *l = b->made[i];
    if (kwargs && l->kind && l->kind->read_call_kwargs && l->kind->read_call_kwargs(l, kwargs)) {
        where(px_layer_name(l), l->def->class_name);
        px_layer_free(l);
        b->made[i] = NULL;
        return failed();
    }
    return PX_OK;
}

/* Applies entry i's calls whose inputs exist, in order; *progress when one was. */
static px_status apply_ready_calls(fbuild *b, size_t i, bool *progress) {
    const px_json *e = px_json_at(b->layers, i);
    char ib[32];
    const char *nm = entry_name(e, i, ib, sizeof ib);
    if (is_input_layer_entry(e)) {
        if (!b->made[i])
            return px_set_error(PX_ERR_FORMAT, "model_config: InputLayer '%s' is not listed in input_layers", nm);
        return PX_OK;
    }
    const px_json *nodes = px_json_get(e, "inbound_nodes");
    if (!px_json_is_array(nodes))
        return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': key 'inbound_nodes' is missing or not a list", nm);
    while (b->applied[i] < px_json_len(nodes)) {
        tref refs[MAX_LAYER_INPUTS];
        px_node *from[MAX_LAYER_INPUTS];
        int n_from;
        const px_json *kwargs;
        px_status st = node_inputs(px_json_at(nodes, b->applied[i]), nm, b->applied[i], refs, &n_from, MAX_LAYER_INPUTS, &kwargs);
        if (st) return st;
        for (int k = 0; k < n_from; k++) {
            bool bad;
            from[k] = resolve(b->m, b->layers, &refs[k], &bad);
            if (bad)
                return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': input ['%s', %lld, %lld] names an output that layer '%s' does not have",
                                    nm, refs[k].name, (long long)refs[k].node, (long long)refs[k].tensor, refs[k].name);
            if (!from[k]) return PX_OK; /* not ready yet */
        }
        if (!b->made[i] && (st = make_entry_layer(b, i, kwargs))) return st;
        char lname[256];
        snprintf(lname, sizeof lname, "%s", px_layer_name(b->made[i]));
        const char *cls = b->made[i]->def->class_name;
        if (!px_apply_n(b->made[i], from, n_from)) {
            /* a layer the model did not take was freed by px_apply_n */
            bool kept = false;
            for (int k = 0; k < b->m->n_layers; k++) kept |= b->m->layers[k] == b->made[i];
            if (!kept) b->made[i] = NULL;
            return where(lname, cls);
        }
        b->applied[i]++;
        *progress = true;
    }
    return PX_OK;
}

/* After the calls: says why an entry with calls left could not be connected. */
static px_status check_all_applied(const fbuild *b) {
    char ib[32];
    for (size_t i = 0; i < b->n; i++) {
        const px_json *e = px_json_at(b->layers, i);
        const px_json *nodes = px_json_get(e, "inbound_nodes");
        if (is_input_layer_entry(e) || b->applied[i] == px_json_len(nodes)) continue;
        const char *nm = entry_name(e, i, ib, sizeof ib);
        if (px_json_len(nodes) == 0)
            return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s' is never called (inbound_nodes is empty)", nm);
        tref refs[MAX_LAYER_INPUTS];
        int n_from = 0;
        const px_json *kwargs;
        node_inputs(px_json_at(nodes, b->applied[i]), nm, b->applied[i], refs, &n_from, MAX_LAYER_INPUTS, &kwargs);
        for (int k = 0; k < n_from; k++) {
            bool bad;
            if (!resolve(b->m, b->layers, &refs[k], &bad))
                return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s': inbound layer '%s' (call %lld) does not exist (or forms a cycle)",
                                    nm, refs[k].name, (long long)refs[k].node);
        }
        return px_set_error(PX_ERR_FORMAT, "model_config: layer '%s' cannot be connected", nm);
    }
    return PX_OK;
}

static px_status set_outputs(fbuild *b, const tref *outs, int n_out) {
    px_node *out_nodes[PX_MAX_OUTPUTS];
    for (int k = 0; k < n_out; k++) {
        bool bad;
        if (!(out_nodes[k] = resolve(b->m, b->layers, &outs[k], &bad)))
            return px_set_error(PX_ERR_FORMAT, "model_config: output ['%s', %lld, %lld] is not an output of a layer in the layers list",
                                outs[k].name, (long long)outs[k].node, (long long)outs[k].tensor);
    }
    return px_model_set_outputs(b->m, out_nodes, n_out);
}

/* model.layers in the config's order: Keras's order, which weight files follow. */
static void keras_layer_order(fbuild *b) {
    px_model *m = b->m;
    for (size_t i = 0, at = 0; i < b->n; i++)
        for (int k = (int)at; b->made[i] && k < m->n_layers; k++)
            if (m->layers[k] == b->made[i]) {
                px_layer *t = m->layers[at];
                m->layers[at++] = m->layers[k];
                m->layers[k] = t;
                break;
            }
}

/* The calls are applied in rounds until none is left: Keras lists the layers in a
 * topological order, but a shared layer's later calls come after layers that its
 * first call feeds. */
static px_status connect_layers(fbuild *b, const tref *ins, int n_in, const tref *outs, int n_out) {
    px_status st = add_inputs(b, ins, n_in);
    for (bool progress = !st; progress;) {
        progress = false;
        for (size_t i = 0; i < b->n && !st; i++) st = apply_ready_calls(b, i, &progress);
    }
    if (st || (st = check_all_applied(b)) || (st = set_outputs(b, outs, n_out))) return st;
    keras_layer_order(b);
    return PX_OK;
}

static px_model *functional_from_config(const px_json *cfg) {
    const px_json *layers = px_json_get(cfg, "layers");
    if (!px_json_is_object(cfg) || !px_json_is_array(layers)) {
        px_set_error(PX_ERR_FORMAT, "model_config: Functional config: key 'layers' is missing or not a list");
        return NULL;
    }
    tref ins[PX_MAX_INPUTS], outs[PX_MAX_OUTPUTS];
    int n_in, n_out;
    if (ref_list(px_json_get(cfg, "input_layers"), "input_layers", ins, &n_in, PX_MAX_INPUTS) ||
        ref_list(px_json_get(cfg, "output_layers"), "output_layers", outs, &n_out, PX_MAX_OUTPUTS))
        return NULL;
    size_t n = px_json_len(layers);
    fbuild b = {.layers = layers, .n = n, .applied = calloc(n ? n : 1, sizeof *b.applied),
                .made = calloc(n ? n : 1, sizeof *b.made)};
    if (b.applied && b.made) b.m = px_functional(px_json_get_string(cfg, "name", "model"));
    else px_set_error(PX_ERR_NOMEM, "model_config: out of memory");
    if (b.m && connect_layers(&b, ins, n_in, outs, n_out)) {
        for (size_t i = 0; i < n; i++)
            if (b.made[i] && !b.made[i]->model) px_layer_free(b.made[i]);
        px_model_free(b.m);
        b.m = NULL;
    }
    free(b.applied);
    free(b.made);
    return b.m;
}

static px_model *model_from_config(const px_json *root);

px_model *px_model_from_config(const px_json *root) {
    if (from_config_depth++ == 0) other_dtype_layers = 0;
    px_model *m = model_from_config(root);
    if (--from_config_depth == 0 && m && other_dtype_layers > 0)
        px_warn("model '%s': %d layer%s dtype policy '%s'; Plexus computes in float32, so outputs may differ from "
                "Keras's in the last digits", m->name, other_dtype_layers, other_dtype_layers == 1 ? " has" : "s have",
                other_dtype);
    return m;
}

static px_model *model_from_config(const px_json *root) {
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
