/* One optimizer step from a training session's gradients, on the host block
 * when the session runs on the CPU, or on the parameters' device copy, with the
 * optimizer's slots there too, when it runs on a device: a step on a GPU never
 * copies parameters or gradients back to the host. */
#include <stdlib.h>

#include "graph/node.h"
#include "graph/session_api.h"
#include "model/model_internal.h"
#include "train/optim_device.h"

/* Keras's clipnorm clips each variable's gradient by its own norm: the
 * optimizer learns where each trainable variable starts in the block (the
 * trainable prefix, in node order), again after every collation. */
static px_status set_clip_segments(px_model *m) {
    px_graph *g = m->g;
    const px_optimizer_options *o = px_optimizer_get_options(m->opt);
    if (!o || o->clipnorm <= 0 || m->opt_segments_gen == g->params_generation + 1) return PX_OK;
    int64_t *starts = malloc(sizeof *starts * (size_t)(g->n_nodes > 0 ? g->n_nodes : 1));
    if (!starts) return px_set_error(PX_ERR_NOMEM, "fit: out of memory for the clipnorm segments");
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const px_node *v = g->nodes[i];
        if (v->kind == PX_NODE_VARIABLE && v->trainable && px_tensor_size(v->value) > 0)
            starts[count++] = v->param_offset;
    }
    px_status st = px_optimizer_set_segments(m->opt, starts, count);
    free(starts);
    if (st == PX_OK) m->opt_segments_gen = g->params_generation + 1;
    return st;
}

px_status px_model_apply_gradients(px_model *m, px_session *s) {
    px_graph *g = m->g;
    px_status st = PX_OK;
    int64_t n_trainable = g->n_trainable;
    if (m->opt_params >= 0 && m->opt_params != n_trainable)
        /* the trainable set changed (a layer was frozen): the optimizer restarts its slots */
        st = px_optimizer_restore(m->opt, n_trainable, px_optimizer_iterations(m->opt));
    m->opt_params = n_trainable;
    if (st != PX_OK || n_trainable <= 0) return st;
    px_backend *b = px_session_backend(s);
    if (b->host_memory) {
        float *params = px_graph_params(g, NULL, NULL);
        const float *grads = px_session_param_grads(s, NULL);
        if (!params || !grads || set_clip_segments(m) != PX_OK) return px_last_status();
        return px_optimizer_step(m->opt, params, grads, n_trainable);
    }
    float *params = px_graph_params_on(g, b);
    if (!params || set_clip_segments(m) != PX_OK) return px_last_status();
    st = px_optimizer_step_on(m->opt, b, params, px_session_param_grads_on_backend(s), n_trainable);
    if (st == PX_OK) px_graph_params_written_on_device(g);
    return st;
}
