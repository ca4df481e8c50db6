/* One optimizer step from a training session's gradients, on the host block
 * when the session runs on the CPU, or on the parameters' device copy, with the
 * optimizer's slots there too, when it runs on a device: a step on a GPU never
 * copies parameters or gradients back to the host. */
#include "graph/node.h"
#include "graph/session_api.h"
#include "model/model_internal.h"
#include "train/optim_device.h"

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
        if (!params || !grads) return px_last_status();
        return px_optimizer_step(m->opt, params, grads, n_trainable);
    }
    float *params = px_graph_params_on(g, b);
    if (!params) return px_last_status();
    st = px_optimizer_step_on(m->opt, b, params, px_session_param_grads_on_backend(s), n_trainable);
    if (st == PX_OK) px_graph_params_written_on_device(g);
    return st;
}
