/* The model's graph for TensorBoard's Graphs dashboard: a GraphDef with one node per
 * layer, built from the Keras model config as TensorBoard's keras_util does, and the
 * config itself as Keras's "keras" summary. */
#include <stdlib.h>
#include <string.h>

#include "callbacks/tensorboard_internal.h"
#include "formats/json.h"
#include "plexus/model_io.h"

/* Field numbers of tensorflow/core/framework/{graph,node_def,attr_value}.proto. */
enum {
    GRAPH_NODE = 1,
    NODE_NAME = 1, NODE_OP = 2, NODE_INPUT = 3, NODE_ATTR = 5,
    ATTR_ENTRY_KEY = 1, ATTR_ENTRY_VALUE = 2,
    ATTR_S = 2, ATTR_TYPE = 6,
    DT_FLOAT = 1, DT_INT32 = 3, DT_DOUBLE = 2, DT_INT64 = 9
};

static void put_str(px_pb_buf *b, int field, const char *s) { px_pb_string(b, field, s, strlen(s)); }

/* One map<string, AttrValue> entry. */
static void attr_begin(px_pb_buf *b, const char *key, size_t *entry, size_t *value) {
    *entry = px_pb_begin(b);
    put_str(b, ATTR_ENTRY_KEY, key);
    *value = px_pb_begin(b);
}

static void attr_end(px_pb_buf *b, size_t entry, size_t value) {
    px_pb_end(b, ATTR_ENTRY_VALUE, value);
    px_pb_end(b, NODE_ATTR, entry);
}

/* The DataType of a Keras dtype: a string (K2) or a DTypePolicy object (K3). */
static int dtype_enum(const px_json *cfg) {
    const px_json *d = px_json_get(cfg, "dtype");
    const char *name = px_json_is_string(d) ? px_json_string(d)
                                            : px_json_get_string(px_json_get(d, "config"), "name", NULL);
    if (!name) return 0;
    if (!strcmp(name, "float32") || !strcmp(name, "mixed_float16")) return DT_FLOAT;
    if (!strcmp(name, "float64")) return DT_DOUBLE;
    if (!strcmp(name, "int32")) return DT_INT32;
    if (!strcmp(name, "int64")) return DT_INT64;
    return 0;
}

/* scope + "/" + name, or name alone at the top. */
static char *scoped(const char *scope, const char *name) {
    size_t n = (scope ? strlen(scope) + 1 : 0) + strlen(name) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", scope ? scope : "", scope ? "/" : "", name);
    return s;
}

/* Appends the nodes of one model config (`config` holds "layers"); returns the name of
 * its last node through *last (malloc'd), for a Sequential's next layer. */
static px_status add_model(px_pb_buf *b, const px_json *model, const char *scope, char **last);

static px_status add_inputs(px_pb_buf *b, const px_json *layer, const char *scope, const char *prev) {
    const px_json *nodes = px_json_get(layer, "inbound_nodes");
    if (!px_json_is_array(nodes)) {
        if (prev) put_str(b, NODE_INPUT, prev);
        return PX_OK;
    }
    for (size_t i = 0; i < px_json_len(nodes); i++) {
        const px_json *node = px_json_at(nodes, i);
        /* K3: {"args": [tensor or [tensors]], ...} with keras_history [name, node, index] */
        const px_json *args = px_json_get(node, "args");
        const px_json *list = px_json_is_array(args) ? args : node;
        for (size_t j = 0; j < px_json_len(list); j++) {
            const px_json *in = px_json_at(list, j);
            const px_json *hist = px_json_get(px_json_get(in, "config"), "keras_history");
            if (px_json_is_array(in) && px_json_len(in) && px_json_is_object(px_json_at(in, 0))) {
                /* K3 list of tensors */
                for (size_t k = 0; k < px_json_len(in); k++) {
                    const px_json *h = px_json_get(px_json_get(px_json_at(in, k), "config"), "keras_history");
                    const char *name = px_json_string(px_json_at(h, 0));
                    if (!name) continue;
                    char *s = scoped(scope, name);
                    if (!s) return px_set_error(PX_ERR_NOMEM, "TensorBoard graph: out of memory");
                    put_str(b, NODE_INPUT, s);
                    free(s);
                }
                continue;
            }
            const px_json *ref = px_json_is_array(hist) ? hist : in; /* K2: [name, node, index, kwargs] */
            const char *name = px_json_string(px_json_at(ref, 0));
            if (!name) continue;
            int64_t index = px_json_int(px_json_at(ref, 2));
            char *s = scoped(scope, name);
            if (!s) return px_set_error(PX_ERR_NOMEM, "TensorBoard graph: out of memory");
            if (index > 0) {
                char buf[600];
                snprintf(buf, sizeof buf, "%s:%lld", s, (long long)index);
                put_str(b, NODE_INPUT, buf);
            } else {
                put_str(b, NODE_INPUT, s);
            }
            free(s);
        }
    }
    return PX_OK;
}

static bool is_model_class(const char *cls) {
    return cls && (!strcmp(cls, "Sequential") || !strcmp(cls, "Functional") || !strcmp(cls, "Model"));
}

static px_status add_model(px_pb_buf *b, const px_json *model, const char *scope, char **last) {
    const px_json *cfg = px_json_get(model, "config");
    const px_json *layers = px_json_is_array(cfg) ? cfg : px_json_get(cfg, "layers"); /* Keras 2.2: bare list */
    if (!px_json_is_array(layers))
        return px_set_error(PX_ERR_FORMAT, "TensorBoard graph: the model config has no \"layers\" list");
    bool sequential = !strcmp(px_json_get_string(model, "class_name", ""), "Sequential");
    char *prev = NULL;
    px_status st = PX_OK;
    for (size_t i = 0; st == PX_OK && i < px_json_len(layers); i++) {
        const px_json *layer = px_json_at(layers, i);
        const px_json *lcfg = px_json_get(layer, "config");
        const char *cls = px_json_get_string(layer, "class_name", NULL);
        const char *name = px_json_get_string(lcfg, "name", px_json_get_string(layer, "name", NULL));
        if (!cls || !name) {
            st = px_set_error(PX_ERR_FORMAT, "TensorBoard graph: layer %zu of the model config has no class_name or name",
                              i);
            break;
        }
        char *node_name = scoped(scope, name);
        if (!node_name) {
            st = px_set_error(PX_ERR_NOMEM, "TensorBoard graph: out of memory");
            break;
        }
        if (is_model_class(cls)) { /* its layers under "<name>/", fed by our previous layer */
            char *inner_last = NULL;
            st = add_model(b, layer, node_name, &inner_last);
            free(prev);
            prev = inner_last;
            free(node_name);
            continue;
        }
        size_t node = px_pb_begin(b), entry, value;
        put_str(b, NODE_NAME, node_name);
        put_str(b, NODE_OP, cls);
        st = add_inputs(b, sequential ? NULL : layer, scope, prev);
        attr_begin(b, "keras_class", &entry, &value);
        put_str(b, ATTR_S, cls);
        attr_end(b, entry, value);
        int dt = dtype_enum(lcfg);
        if (dt) {
            attr_begin(b, "dtype", &entry, &value);
            px_pb_int64(b, ATTR_TYPE, dt);
            attr_end(b, entry, value);
        }
        px_pb_end(b, GRAPH_NODE, node);
        free(prev);
        prev = node_name;
    }
    if (st == PX_OK && last) *last = prev;
    else free(prev);
    return st;
}

px_status px_tb_model_graph_def(const char *model_json, px_pb_buf *out) {
    px_json *root = NULL;
    px_status st = px_json_parse(model_json, strlen(model_json), &root);
    if (st != PX_OK) return st;
    st = add_model(out, root, NULL, NULL);
    px_json_free(root);
    if (st == PX_OK && out->failed) st = px_set_error(PX_ERR_NOMEM, "TensorBoard graph: out of memory");
    return st;
}

px_status px_tb_write_model_graph(px_tb_writer *w, const px_model *m) {
    char *json = NULL;
    px_status st = px_model_to_json(m, &json);
    if (st != PX_OK) return st;
    px_pb_buf graph = {0};
    st = px_tb_model_graph_def(json, &graph);
    if (st == PX_OK) st = px_tb_graph(w, graph.data, graph.len);
    if (st == PX_OK) st = px_tb_keras_model(w, "keras", 0, json);
    px_pb_free(&graph);
    free(json);
    return st;
}
