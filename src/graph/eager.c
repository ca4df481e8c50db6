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

px_status px_eager_gradients(px_graph *g, const px_node *loss, px_node *const *wrt, int n_wrt,
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
    int n = loss->index + 1;
    bool *flow = calloc((size_t)n, 1);
    px_tensor **gr = calloc((size_t)n, sizeof *gr);
    px_tensor **gin = calloc((size_t)g->n_nodes + 1, sizeof *gin);
    const px_tensor **in = calloc((size_t)g->n_nodes + 1, sizeof *in);
    px_status st = PX_OK;
    if (!flow || !gr || !gin || !in) {
        st = px_set_error(PX_ERR_NOMEM, "eager_gradients: out of memory");
        goto done;
    }
    /* gradient flows through nodes that depend on a wrt node */
    for (int i = 0; i < n_wrt; i++)
        if (wrt[i]->index < n) flow[wrt[i]->index] = true;
    for (int k = 0; k < n; k++) {
        px_node *nd = g->nodes[k];
        if (nd->kind != PX_NODE_OP || (nd->op->flags & PX_OPF_NO_GRAD)) continue;
        for (int j = 0; j < nd->n_inputs; j++)
            if (flow[nd->inputs[j]->index]) flow[k] = true;
    }
    if (flow[loss->index]) {
        gr[loss->index] = px_tensor_fill(px_tensor_shape(loss->value), 1.0f);
        if (!gr[loss->index]) {
            st = px_last_status();
            goto done;
        }
    }
    for (int k = loss->index; k >= 0; k--) {
        px_node *nd = g->nodes[k];
        if (!gr[k] || nd->kind != PX_NODE_OP || (nd->op->flags & PX_OPF_NO_GRAD)) continue;
        for (int j = 0; j < nd->n_inputs; j++) {
            px_node *x = nd->inputs[j];
            in[j] = x->value;
            gin[j] = NULL;
            if (!flow[x->index]) continue;
            if (!gr[x->index] && !(gr[x->index] = px_tensor_zeros(px_tensor_shape(x->value)))) {
                st = px_last_status();
                goto done;
            }
            gin[j] = gr[x->index];
        }
        px_exec ex = {.training = g->eager_training, .rng = &g->rng,
                      .state = nd->state ? nd->state->data : NULL};
        nd->op->backward(nd, in, nd->value, gr[k], gin, &ex);
        /* an intermediate's gradient is finished once its own backward has run */
        bool keep = false;
        for (int i = 0; i < n_wrt; i++) keep |= wrt[i] == nd;
        if (!keep && k != loss->index) {
            px_tensor_free(gr[k]);
            gr[k] = NULL;
        }
    }
    for (int i = 0; i < n_wrt; i++) {
        px_node *w = wrt[i];
        grads[i] = w->index < n && gr[w->index] ? px_tensor_copy(gr[w->index])
                                                 : px_tensor_zeros(w->value ? px_tensor_shape(w->value) : w->shape);
        if (!grads[i]) {
            st = px_last_status();
            for (int j = 0; j < i; j++) {
                px_tensor_free(grads[j]);
                grads[j] = NULL;
            }
            goto done;
        }
    }
done:
    if (gr)
        for (int k = 0; k < n; k++) px_tensor_free(gr[k]);
    free(flow);
    free(gr);
    free(gin);
    free(in);
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
