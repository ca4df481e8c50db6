/* Eager mode: each op computes its value as it is created, and the graph itself
 * is the gradient tape that px_eager_gradients walks backwards. */
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"

void px_eager_set_training(px_graph *g, bool training) {
    if (g) g->eager_training = training;
}

px_status px_eager_feed(px_node *ph, const px_tensor *value) {
    if (!ph || ph->kind != PX_NODE_PLACEHOLDER || !ph->graph->eager)
        return px_set_error(PX_ERR_ARG, "eager_feed: node is not a placeholder of an eager graph");
    if (!value) return px_set_error(PX_ERR_ARG, "eager_feed: value is NULL");
    bool ok = value->rank == ph->shape.rank && value->dtype == ph->dtype;
    for (int i = 0; ok && i < value->rank; i++)
        if (ph->shape.dim[i] != PX_UNKNOWN && ph->shape.dim[i] != value->shape[i]) ok = false;
    if (!ok) {
        char sa[96], sb[96];
        return px_set_error(PX_ERR_SHAPE, "eager_feed: placeholder '%s' expects %s %s, got %s %s",
                            px_node_name(ph), ph->dtype == PX_F32 ? "float32" : "int32",
                            px_shape_format(ph->shape, sa, sizeof sa),
                            value->dtype == PX_F32 ? "float32" : "int32",
                            px_shape_format(px_tensor_shape(value), sb, sizeof sb));
    }
    px_tensor *copy = px_tensor_copy(value);
    if (!copy) return px_last_status();
    px_tensor_free(ph->value);
    ph->value = copy;
    return PX_OK;
}

static px_status check_gradient_args(const px_graph *g, const px_node *loss, px_node *const *wrt, int n_wrt,
                                     px_tensor **grads) {
    if (!g || !g->eager) return px_set_error(PX_ERR_STATE, "eager_gradients: the graph is not eager");
    if (!loss || loss->graph != g || !loss->value)
        return px_set_error(PX_ERR_ARG, "eager_gradients: the loss is NULL, from another graph, or has no value");
    if (px_tensor_size(loss->value) != 1 || loss->dtype != PX_F32) {
        char sb[96];
        return px_set_error(PX_ERR_SHAPE, "eager_gradients: the loss must be a float scalar, not shape %s",
                            px_shape_format(loss->shape, sb, sizeof sb));
    }
    if (n_wrt < 0 || (n_wrt && (!wrt || !grads)))
        return px_set_error(PX_ERR_ARG, "eager_gradients: wrt or grads is NULL");
    for (int i = 0; i < n_wrt; i++) {
        if (!wrt[i] || wrt[i]->graph != g)
            return px_set_error(PX_ERR_ARG, "eager_gradients: wrt[%d] is NULL or from another graph", i);
        grads[i] = NULL;
    }
    return PX_OK;
}

/* The tape walked backwards from the loss (node index n - 1): gr[k] accumulates
 * d(loss)/d(node k) for the nodes that depend on a wrt node (flow). */
typedef struct tape_walk {
    px_graph *g;
    int n;
    bool *flow;
    px_tensor **gr;
    px_tensor **gin;
    const px_tensor **in;
} tape_walk;

/* Runs node k's backward into its inputs' gradients (made on first use); an
 * intermediate's gradient is dropped once its own backward has run. */
static px_status backward_node(tape_walk *w, int k, px_node *const *wrt, int n_wrt) {
    px_node *nd = w->g->nodes[k];
    for (int j = 0; j < nd->n_inputs; j++) {
        px_node *x = nd->inputs[j];
        w->in[j] = x->value;
        w->gin[j] = NULL;
        if (!w->flow[x->index]) continue;
        if (!w->gr[x->index] && !(w->gr[x->index] = px_tensor_zeros(px_tensor_shape(x->value))))
            return px_last_status();
        w->gin[j] = w->gr[x->index];
    }
    px_exec ex = {.training = px_node_training(nd, w->g->eager_training), .rng = &w->g->rng, .state = nd->state ? nd->state->data : NULL};
    nd->op->backward(nd, w->in, nd->value, w->gr[k], w->gin, &ex);
    bool keep = k == w->n - 1;
    for (int i = 0; i < n_wrt; i++) keep |= wrt[i] == nd;
    if (!keep) {
        px_tensor_free(w->gr[k]);
        w->gr[k] = NULL;
    }
    return PX_OK;
}

static px_status walk_tape(tape_walk *w, px_node *const *wrt, int n_wrt) {
    /* gradient flows through nodes that depend on a wrt node */
    for (int i = 0; i < n_wrt; i++)
        if (wrt[i]->index < w->n) w->flow[wrt[i]->index] = true;
    for (int k = 0; k < w->n; k++) {
        px_node *nd = w->g->nodes[k];
        if (nd->kind != PX_NODE_OP || (nd->op->flags & PX_OPF_NO_GRAD)) continue;
        for (int j = 0; j < nd->n_inputs; j++)
            if (w->flow[nd->inputs[j]->index]) w->flow[k] = true;
    }
    int last = w->n - 1;
    if (w->flow[last] && !(w->gr[last] = px_tensor_fill(px_tensor_shape(w->g->nodes[last]->value), 1.0f)))
        return px_last_status();
    for (int k = last; k >= 0; k--) {
        px_node *nd = w->g->nodes[k];
        if (!w->gr[k] || nd->kind != PX_NODE_OP || (nd->op->flags & PX_OPF_NO_GRAD)) continue;
        px_status st = backward_node(w, k, wrt, n_wrt);
        if (st) return st;
    }
    return PX_OK;
}

px_status px_eager_gradients(px_graph *g, const px_node *loss, px_node *const *wrt, int n_wrt,
                             px_tensor **grads) {
    px_status st = check_gradient_args(g, loss, wrt, n_wrt, grads);
    if (st) return st;
    int n = loss->index + 1;
    tape_walk w = {.g = g,
                   .n = n,
                   .flow = calloc((size_t)n, 1),
                   .gr = calloc((size_t)n, sizeof *w.gr),
                   .gin = calloc((size_t)g->n_nodes + 1, sizeof *w.gin),
                   .in = calloc((size_t)g->n_nodes + 1, sizeof *w.in)};
    if (!w.flow || !w.gr || !w.gin || !w.in) st = px_set_error(PX_ERR_NOMEM, "eager_gradients: out of memory");
    if (!st) st = walk_tape(&w, wrt, n_wrt);
    for (int i = 0; !st && i < n_wrt; i++) {
        px_node *x = wrt[i];
        grads[i] = x->index < n && w.gr[x->index] ? px_tensor_copy(w.gr[x->index])
                                                   : px_tensor_zeros(x->value ? px_tensor_shape(x->value) : x->shape);
        if (!grads[i]) {
            st = px_last_status();
            for (int j = 0; j < i; j++) {
                px_tensor_free(grads[j]);
                grads[j] = NULL;
            }
        }
    }
    if (w.gr)
        for (int k = 0; k < n; k++) px_tensor_free(w.gr[k]);
    free(w.flow);
    free(w.gr);
    free(w.gin);
    free(w.in);
    return st;
}

void px_eager_clear_tape(px_graph *g) {
    if (!g || !g->eager) return;
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        px_node *nd = g->nodes[i];
        if (nd->kind == PX_NODE_OP) {
            px_node_free(nd);
            continue;
        }
        nd->index = w;
        g->nodes[w++] = nd;
    }
    g->n_nodes = w;
}
