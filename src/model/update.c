/* One optimizer step from a training session's gradients, on the host block
 * when the session runs on the CPU, or on the parameters' device copy, with the
 * optimizer's slots there too, when it runs on a device: a step on a GPU never
 * copies parameters or gradients back to the host. On the CPU the step may run
 * inside the backward pass instead (px_model_train_run). */
#include <stdlib.h>

#include "graph/node.h"
#include "graph/session_api.h"
#include "model/model_internal.h"
#include "train/optim_device.h"
#include "train/optimizer_kind.h"
#include "train/optim_split.h"

/* The optimizer's state follows the trainable set: when it changed (a layer was
 * frozen) the optimizer restarts its slots. */
static px_status follow_trainable(px_model *m) {
    int64_t n_trainable = m->g->n_trainable;
    px_status st = PX_OK;
    if (m->opt_params >= 0 && m->opt_params != n_trainable)
        st = px_optimizer_restore(m->opt, n_trainable, px_optimizer_iterations(m->opt));
    m->opt_params = n_trainable;
    return st;
}

/* The slots (Adam's m and v: 2 MB for the course's MLP) are made and their
 * pages first touched here, at fit's set-up, rather than inside the first
 * step, where they took 1.2-1.4 ms of the MLP's first Adam step (520 page
 * faults). The same state the first step would make: zeroed slots, the
 * kind's initial values. Host sessions only: a device's step makes its own. */
px_status px_model_build_optimizer(px_model *m, px_session *s) {
    if (!m->opt || px_optimizer_slot_count(m->opt) == 0 || !px_session_backend(s)->host_memory) return PX_OK;
    if (!px_graph_params(m->g, NULL, NULL)) return px_last_status(); /* collated: n_trainable is current */
    if (m->g->n_trainable <= 0) return PX_OK;
    px_status st = follow_trainable(m);
    return st != PX_OK ? st : px_optimizer_build(m->opt, m->g->n_trainable);
}

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
    int64_t n_trainable = g->n_trainable;
    px_status st = follow_trainable(m);
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

/* ---- the step inside the backward pass ---- */

static void update_variable(void *ctx, float *params, const float *grads, int64_t offset, int64_t count,
                            bool folded) {
    if (!folded) px_split_apply(ctx, params, grads, offset, count);
}

px_status px_model_train_run(px_model *m, px_session *s, const px_feed *feeds, int n_feeds) {
    px_split_step step;
    bool split = false;
    if (px_session_backend(s)->host_memory && !m->no_fused_update) {
        float *params = px_graph_params(m->g, NULL, NULL); /* collated: n_trainable is current */
        if (!params) return px_last_status();
        if (follow_trainable(m) != PX_OK) return px_last_status();
        int64_t n = m->g->n_trainable;
        split = n > 0 && px_split_begin(m->opt, params, px_session_param_grads_on_backend(s), n, &step);
    }
    if (!split) {
        px_status st = px_session_run(s, feeds, n_feeds, NULL);
        return st != PX_OK ? st : px_model_apply_gradients(m, s);
    }
    px_session_set_updater(s, &(px_session_updater){update_variable, &step, step.fold_lr});
    px_status st = px_session_run(s, feeds, n_feeds, NULL);
    px_session_set_updater(s, NULL);
    if (st == PX_OK) px_split_end(&step);
    return st;
}
