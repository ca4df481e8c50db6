/* Graph construction: leaves, op nodes, queries and the collated parameter block. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/node.h"

static px_graph *graph_new(bool eager) {
    px_graph *g = calloc(1, sizeof *g);
    if (!g) {
        px_set_error(PX_ERR_NOMEM, "graph: out of memory");
        return NULL;
    }
    g->eager = eager;
    g->rng = px_rng_seeded(0x5eed);
    return g;
}

px_graph *px_graph_new(void) { return graph_new(false); }
px_graph *px_graph_new_eager(void) { return graph_new(true); }
bool px_graph_is_eager(const px_graph *g) { return g && g->eager; }
void px_graph_set_seed(px_graph *g, uint64_t seed) {
    if (g) g->rng = px_rng_seeded(seed);
}

void px_node_free(px_node *n) {
    if (!n) return;
    px_tensor_free(n->value);
    px_tensor_free(n->state);
    free(n->inputs);
    free(n->name);
    free(n);
}

void px_graph_free(px_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) px_node_free(g->nodes[i]);
    free(g->nodes);
    px_mirror_free(&g->dev_params);
    px_aligned_free(g->params);
    free(g);
}

int px_graph_node_count(const px_graph *g) { return g ? g->n_nodes : 0; }
px_node *px_graph_node(const px_graph *g, int i) {
    if (g && i >= 0 && i < g->n_nodes) return g->nodes[i];
    if (!g) px_set_error(PX_ERR_ARG, "px_graph_node: graph is NULL");
    else px_set_error(PX_ERR_ARG, "px_graph_node: index %d is outside [0, %d)", i, g->n_nodes);
    return NULL;
}

px_node *px_graph_find(const px_graph *g, const char *name) {
    if (!g || !name) return px_set_error(PX_ERR_ARG, "px_graph_find: graph or name is NULL"), NULL;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->name && strcmp(g->nodes[i]->name, name) == 0) return g->nodes[i];
    return NULL;
}

static px_status append_node(px_graph *g, px_node *n) {
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        px_node **nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return px_set_error(PX_ERR_NOMEM, "graph: out of memory for %d nodes", cap);
        g->nodes = nodes;
        g->cap_nodes = cap;
    }
    n->graph = g;
    n->index = g->n_nodes;
    g->nodes[g->n_nodes++] = n;
    return PX_OK;
}

static px_node *leaf_new(px_graph *g, px_node_kind kind, const char *what) {
    if (!g) {
        px_set_error(PX_ERR_ARG, "%s: graph is NULL", what);
        return NULL;
    }
    px_node *n = calloc(1, sizeof *n);
    if (!n) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", what);
        return NULL;
    }
    n->kind = kind;
    n->param_offset = -1;
    return n;
}

void px_node_set_name(px_node *n, const char *name) {
    if (!n) return;
    char *copy = name ? strdup(name) : NULL;
    if (name && !copy) return; /* keep the old name rather than lose it */
    free(n->name);
    n->name = copy;
}

static px_node *leaf_with_value(px_graph *g, px_node_kind kind, const px_tensor *value,
                                const char *name, const char *what) {
    if (!value) {
        px_set_error(PX_ERR_ARG, "%s: value is NULL", what);
        return NULL;
    }
    px_node *n = leaf_new(g, kind, what);
    if (!n) return NULL;
    n->value = px_tensor_copy(value);
    n->shape = px_tensor_shape(value);
    n->dtype = value->dtype;
    if (name) px_node_set_name(n, name);
    if (!n->value || (name && !n->name) || append_node(g, n) != PX_OK) {
        px_node_free(n);
        return NULL;
    }
    return n;
}

px_node *px_constant(px_graph *g, const px_tensor *value) {
    return leaf_with_value(g, PX_NODE_CONSTANT, value, NULL, "constant");
}

px_node *px_constant_scalar(px_graph *g, float value) {
    px_tensor *t = px_tensor_scalar(value);
    if (!t) return NULL;
    px_node *n = px_constant(g, t);
    px_tensor_free(t);
    return n;
}

px_node *px_variable(px_graph *g, const px_tensor *init, const char *name) {
    if (init && init->dtype != PX_F32) {
        px_set_error(PX_ERR_ARG, "variable '%s': variables must be float32", name ? name : "");
        return NULL;
    }
    px_node *n = leaf_with_value(g, PX_NODE_VARIABLE, init, name, "variable");
    if (n) {
        n->trainable = true;
        g->params_dirty = true;
    }
    return n;
}

px_node *px_placeholder(px_graph *g, px_dtype dtype, px_shape shape, const char *name) {
    if (shape.rank < 0 || shape.rank > PX_MAX_RANK) {
        px_set_error(PX_ERR_ARG, "placeholder '%s': rank %d is outside 0..%d", name ? name : "",
                     shape.rank, PX_MAX_RANK);
        return NULL;
    }
    for (int i = 0; i < shape.rank; i++)
        if (shape.dim[i] < 0 && shape.dim[i] != PX_UNKNOWN) {
            px_set_error(PX_ERR_ARG, "placeholder '%s': dimension %d is %lld", name ? name : "", i,
                         (long long)shape.dim[i]);
            return NULL;
        }
    px_node *n = leaf_new(g, PX_NODE_PLACEHOLDER, "placeholder");
    if (!n) return NULL;
    n->shape = shape;
    n->dtype = dtype;
    if (name) px_node_set_name(n, name);
    if ((name && !n->name) || append_node(g, n) != PX_OK) {
        px_node_free(n);
        return NULL;
    }
    return n;
}

/* Eager mode: computes a node as it is created (the tape functions that walk
 * these values backwards are in eager.c). */
static px_status eager_compute(px_node *n) {
    const px_tensor *in_small[8], **in = in_small;
    px_shape in_shapes_small[8], *in_shapes = in_shapes_small;
    if (n->n_inputs > 8) {
        in = malloc((size_t)n->n_inputs * sizeof *in);
        in_shapes = malloc((size_t)n->n_inputs * sizeof *in_shapes);
        if (!in || !in_shapes) {
            free(in);
            free(in_shapes);
            return px_set_error(PX_ERR_NOMEM, "%s: out of memory", n->op->name);
        }
    }
    px_status st = PX_OK;
    for (int i = 0; i < n->n_inputs; i++) {
        in[i] = n->inputs[i]->value;
        if (!in[i]) {
            st = px_set_error(PX_ERR_STATE, "%s: input %d ('%s') has no value yet; feed it with px_eager_feed",
                              n->op->name, i, px_node_name(n->inputs[i]));
            break;
        }
        in_shapes[i] = px_tensor_shape(in[i]);
    }
    /* the values' concrete shapes decide the output, as placeholders may hold None */
    px_shape shape = n->shape;
    px_dtype dt = n->dtype;
    if (st == PX_OK) st = n->op->infer(n, in_shapes, &shape, &dt);
    px_tensor *out = st == PX_OK ? px_tensor_new(dt, shape) : NULL;
    if (st == PX_OK && !out) st = px_last_status();
    /* the op keeps its state (dropout mask, ...) with the node until the tape is cleared */
    size_t state_bytes = st == PX_OK && n->op->state_bytes ? n->op->state_bytes(n, in_shapes, shape) : 0;
    px_tensor *state = NULL;
    if (state_bytes && !(state = px_tensor_new(PX_F32, PX_SHAPE((int64_t)(state_bytes + 3) / 4))))
        st = px_last_status();
    if (st == PX_OK) {
        bool training = px_node_training(n, n->graph->eager_training);
        px_exec ex = {.training = training, .rng = &n->graph->rng,
                      .state = state ? state->data : NULL,
                      .seed = px_exec_seed(n->op, training, &n->graph->rng)};
        n->op->forward(n, in, out, &ex);
        n->value = out;
        n->state = state;
    } else {
        px_tensor_free(out);
        px_tensor_free(state);
    }
    if (in != in_small) free(in);
    if (in_shapes != in_shapes_small) free(in_shapes);
    return st;
}

px_node *px_null_input(const char *fn) {
    if (!px_last_error()[0]) px_set_error(PX_ERR_ARG, "%s: an input is NULL", fn);
    return NULL;
}

px_node *px_node_make(const px_op_def *op, px_node *const *inputs, int n_inputs,
                      const int64_t *iattr, int n_iattr, const float *fattr, int n_fattr) {
    px_graph *g = NULL;
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i]) { /* an earlier op failed: keep its message (or say what is missing) */
            if (!px_last_error()[0]) px_set_error(PX_ERR_ARG, "%s: input %d is NULL", op->name, i);
            return NULL;
        }
        if (!g) g = inputs[i]->graph;
        else if (inputs[i]->graph != g) {
            px_set_error(PX_ERR_ARG, "%s: inputs belong to different graphs", op->name);
            return NULL;
        }
    }
    if (!g) {
        px_set_error(PX_ERR_ARG, "%s: needs at least one input", op->name);
        return NULL;
    }
    px_node *n = calloc(1, sizeof *n);
    px_shape *in_shapes = malloc((size_t)n_inputs * sizeof *in_shapes);
    if (n) n->inputs = malloc((size_t)n_inputs * sizeof *n->inputs);
    if (!n || !in_shapes || !n->inputs) {
        free(in_shapes);
        px_node_free(n);
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", op->name);
        return NULL;
    }
    n->kind = PX_NODE_OP;
    n->op = op;
    n->inference = g->inference_depth > 0;
    n->bf16 = g->compute_bf16;
    n->n_inputs = n_inputs;
    n->param_offset = -1;
    for (int i = 0; i < n_inputs; i++) {
        n->inputs[i] = inputs[i];
        in_shapes[i] = inputs[i]->shape;
    }
    if (iattr) memcpy(n->iattr, iattr, (size_t)n_iattr * sizeof *iattr);
    if (fattr) memcpy(n->fattr, fattr, (size_t)n_fattr * sizeof *fattr);
    n->dtype = PX_F32;
    px_status st = op->infer(n, in_shapes, &n->shape, &n->dtype);
    free(in_shapes);
    if (st != PX_OK || append_node(g, n) != PX_OK) {
        px_node_free(n);
        return NULL;
    }
    if (g->eager && eager_compute(n) != PX_OK) {
        g->n_nodes--;
        px_node_free(n);
        return NULL;
    }
    return n;
}

void px_graph_inference_scope(px_graph *g, bool enter) {
    if (g) g->inference_depth += enter ? 1 : (g->inference_depth > 0 ? -1 : 0);
}

bool px_graph_set_compute_bf16(px_graph *g, bool bf16) {
    if (!g) return false;
    bool was = g->compute_bf16;
    g->compute_bf16 = bf16;
    return was;
}

px_graph *px_node_graph(const px_node *n) {
    if (!n) px_set_error(PX_ERR_ARG, "px_node_graph: node is NULL");
    return n ? n->graph : NULL;
}
px_node_kind px_node_get_kind(const px_node *n) {
    if (!n) return px_set_error(PX_ERR_ARG, "px_node_get_kind: node is NULL"), PX_NODE_OP;
    return n->kind;
}
const char *px_node_name(const px_node *n) { return n && n->name ? n->name : ""; }
const char *px_node_op_name(const px_node *n) {
    if (!n) return "";
    switch (n->kind) {
    case PX_NODE_CONSTANT: return "constant";
    case PX_NODE_VARIABLE: return "variable";
    case PX_NODE_PLACEHOLDER: return "placeholder";
    case PX_NODE_OP: return n->op->name;
    }
    return "";
}
px_shape px_node_shape(const px_node *n) { return n ? n->shape : PX_SCALAR; }
px_dtype px_node_dtype(const px_node *n) { return n ? n->dtype : PX_F32; }
int px_node_input_count(const px_node *n) { return n ? n->n_inputs : 0; }
px_node *px_node_input(const px_node *n, int i) {
    if (n && i >= 0 && i < n->n_inputs) return n->inputs[i];
    if (!n) px_set_error(PX_ERR_ARG, "px_node_input: node is NULL");
    else px_set_error(PX_ERR_ARG, "px_node_input: index %d is outside [0, %d)", i, n->n_inputs);
    return NULL;
}
int px_node_index(const px_node *n) { return n ? n->index : -1; }
px_tensor *px_node_value(const px_node *n) {
    if (!n) return px_set_error(PX_ERR_ARG, "px_node_value: node is NULL"), NULL;
    if (n->kind == PX_NODE_VARIABLE && px_graph_params_to_host(n->graph, true) != PX_OK) return NULL;
    return n->value;
}

px_status px_variable_assign(px_node *var, const px_tensor *value) {
    if (!var || var->kind != PX_NODE_VARIABLE)
        return px_set_error(PX_ERR_ARG, "variable_assign: node is not a variable");
    if (px_graph_params_to_host(var->graph, true) != PX_OK) return px_last_status();
    px_status st = px_tensor_copy_into(var->value, value);
    if (st != PX_OK)
        px_error_prefix("variable_assign '%s'", px_node_name(var));
    return st;
}

void px_variable_set_trainable(px_node *var, bool trainable) {
    if (!var || var->kind != PX_NODE_VARIABLE || var->trainable == trainable) return;
    var->trainable = trainable;
    var->graph->params_dirty = true;
}

bool px_variable_trainable(const px_node *var) {
    return var && var->kind == PX_NODE_VARIABLE && var->trainable;
}

px_status px_graph_collate_params(px_graph *g) {
    if (!g) return px_set_error(PX_ERR_ARG, "collate_params: graph is NULL");
    if (!g->params_dirty && g->params) return PX_OK;
    /* the values move to a new block: a newer device copy comes home first */
    if (px_graph_params_to_host(g, false) != PX_OK) return px_last_status();
    int64_t total = 0, trainable = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        px_node *n = g->nodes[i];
        if (n->kind != PX_NODE_VARIABLE) continue;
        int64_t sz = px_tensor_size(n->value);
        total += sz;
        if (n->trainable) trainable += sz;
    }
    float *block = px_aligned_calloc((size_t)total * sizeof(float));
    if (!block)
        return px_set_error(PX_ERR_NOMEM, "collate_params: out of memory for %lld parameters",
                            (long long)total);
    /* New headers are made before anything moves, so a failure changes nothing. */
    px_tensor **views = calloc((size_t)g->n_nodes + 1, sizeof *views);
    if (!views) {
        px_aligned_free(block);
        return px_set_error(PX_ERR_NOMEM, "collate_params: out of memory");
    }
    /* trainable variables first, so optimizers loop over one prefix of the block */
    int64_t off[2] = {0, trainable};
    for (int i = 0; i < g->n_nodes; i++) {
        px_node *n = g->nodes[i];
        if (n->kind != PX_NODE_VARIABLE) continue;
        int64_t *o = &off[n->trainable ? 0 : 1];
        views[i] = px_tensor_wrap(PX_F32, px_tensor_shape(n->value), block + *o);
        if (!views[i]) {
            for (int k = 0; k < i; k++) px_tensor_free(views[k]);
            free(views);
            px_aligned_free(block);
            return px_last_status();
        }
        *o += px_tensor_size(n->value);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        px_node *n = g->nodes[i];
        if (!views[i]) continue;
        px_tensor_copy_into(views[i], n->value);
        px_tensor_free(n->value);
        n->value = views[i];
        n->param_offset = (float *)views[i]->data - block;
    }
    free(views);
    px_mirror_free(&g->dev_params); /* laid out for the old block */
    px_aligned_free(g->params);
    g->params = block;
    g->n_params = total;
    g->n_trainable = trainable;
    g->params_dirty = false;
    g->params_generation++;
    return PX_OK;
}

float *px_graph_params(px_graph *g, int64_t *n_total, int64_t *n_trainable) {
    if (!g) return px_set_error(PX_ERR_ARG, "px_graph_params: graph is NULL"), NULL;
    if (px_graph_collate_params(g) != PX_OK || px_graph_params_to_host(g, true) != PX_OK) return NULL;
    if (n_total) *n_total = g->n_params;
    if (n_trainable) *n_trainable = g->n_trainable;
    return g->params;
}

float *px_graph_params_on(px_graph *g, px_backend *b) {
    if (b->host_memory) return g->params;
    if (g->dev_params.b && g->dev_params.b != b && px_graph_params_to_host(g, true) != PX_OK) return NULL;
    if (px_mirror_to_device(&g->dev_params, b, g->params, (size_t)g->n_params * sizeof(float)) != PX_OK)
        return NULL;
    return g->dev_params.dev;
}

void px_graph_params_written_on_device(px_graph *g) { px_mirror_written_on_device(&g->dev_params); }

px_status px_graph_params_to_host(px_graph *g, bool will_write) {
    return px_mirror_to_host(&g->dev_params, g->params, will_write);
}

int64_t px_variable_offset(const px_node *var) {
    return var && var->kind == PX_NODE_VARIABLE && !var->graph->params_dirty ? var->param_offset : -1;
}
