/* Sessions: a graph compiled into a plan. The plan fixes the execution order,
 * which nodes need gradients, and every buffer's lifetime across the forward
 * and backward steps; buffers whose lifetimes do not overlap share memory in
 * one arena, so a run allocates nothing. A session runs on one backend (the
 * CPU or a device): its arena is that backend's memory and every op runs
 * through the backend's interface (src/backend/backend.h). This file holds the
 * API and the run; session_build.c compiles the plan, planner.c places its
 * buffers, and what only a device needs is in session_device.c. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/planner.h"
#include "graph/replicas.h"
#include "graph/session_api.h"
#include "graph/session_internal.h"

/* ---------------------------------------------------------------- API ---- */

px_session *px_session_new(px_graph *g, px_node *const *fetches, int n_fetches,
                           const px_session_options *opts) {
    px_session_options o = opts ? *opts : (px_session_options){0};
    if (!g) {
        px_set_error(PX_ERR_ARG, "session: graph is NULL");
        return NULL;
    }
    if (g->eager) {
        px_set_error(PX_ERR_STATE, "session: the graph is eager; its ops are computed already");
        return NULL;
    }
    if (n_fetches < 0 || (n_fetches > 0 && !fetches) || (n_fetches == 0 && !o.loss)) {
        px_set_error(PX_ERR_ARG, "session: give at least one fetch or a loss");
        return NULL;
    }
    for (int i = 0; i < n_fetches; i++)
        if (!fetches[i] || fetches[i]->graph != g) {
            px_set_error(PX_ERR_ARG, "session: fetch %d is %s", i,
                         fetches[i] ? "from another graph" : "NULL (did building it fail?)");
            return NULL;
        }
    if (o.loss) {
        if (o.loss->graph != g) {
            px_set_error(PX_ERR_ARG, "session: the loss is from another graph");
            return NULL;
        }
        if (px_shape_size(o.loss->shape) != 1 || o.loss->dtype != PX_F32) {
            char sb[96];
            px_set_error(PX_ERR_SHAPE, "session: the loss must be a float scalar, not shape %s",
                         px_shape_format(o.loss->shape, sb, sizeof sb));
            return NULL;
        }
    }
    for (int i = 0; i < o.n_wrt; i++)
        if (!o.wrt || !o.wrt[i] || o.wrt[i]->graph != g) {
            px_set_error(PX_ERR_ARG, "session: wrt[%d] is NULL or from another graph", i);
            return NULL;
        }
    px_backend *b = o.device ? px_backend_by_name(o.device) : px_backend_current();
    if (!b) return NULL;
    px_session *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "session: out of memory");
        return NULL;
    }
    s->g = g;
    s->b = b;
    s->n_fetches = n_fetches;
    s->loss = o.loss;
    s->training = o.training;
    s->fetch_nodes = malloc((size_t)(n_fetches + 1) * sizeof *s->fetch_nodes);
    s->n_wrt = o.wrt ? o.n_wrt : 0;
    s->wrt = o.wrt ? malloc((size_t)(s->n_wrt + 1) * sizeof *s->wrt) : NULL;
    if (!s->fetch_nodes || (o.wrt && !s->wrt)) {
        px_set_error(PX_ERR_NOMEM, "session: out of memory");
        px_session_free(s);
        return NULL;
    }
    if (n_fetches) memcpy(s->fetch_nodes, fetches, (size_t)n_fetches * sizeof *fetches);
    if (s->wrt && s->n_wrt) memcpy(s->wrt, o.wrt, (size_t)s->n_wrt * sizeof *o.wrt);
    if (px_session_build(s) != PX_OK) {
        px_session_free(s);
        return NULL;
    }
    return s;
}

void px_session_free(px_session *s) {
    if (!s) return;
    if (s->b) px_session_clear(s);
    free(s->fetch_nodes);
    free(s->wrt);
    free(s);
}

void px_session_set_training(px_session *s, bool training) {
    if (!s || s->training == training) return;
    s->training = training;
    px_sd_forget_step(s); /* a recorded step ran with the other flag */
}

void px_session_set_replicas(px_session *s, px_replica_hooks *hooks) {
    if (!s || s->replicas == hooks) return;
    s->replicas = hooks;
    /* on a device, ops that talk to the replicas run on the CPU: placed anew at the next run */
    if (!s->b->host_memory) {
        s->planned = false;
        px_sd_forget_step(s);
    }
}

const char *px_session_device(const px_session *s) { return s ? s->b->name : ""; }

static px_status check_feed(const px_node *ph, const px_tensor *v) {
    char sa[96], sb[96];
    if (!v) return px_set_error(PX_ERR_ARG, "run: the value fed to '%s' is NULL", px_node_name(ph));
    if (v->dtype != ph->dtype)
        return px_set_error(PX_ERR_ARG, "run: placeholder '%s' takes %s values, got %s", px_node_name(ph),
                            ph->dtype == PX_F32 ? "float32" : "int32",
                            v->dtype == PX_F32 ? "float32" : "int32");
    bool ok = v->rank == ph->shape.rank;
    for (int i = 0; ok && i < v->rank; i++)
        if (ph->shape.dim[i] != PX_UNKNOWN && ph->shape.dim[i] != v->shape[i]) ok = false;
    if (!ok)
        return px_set_error(PX_ERR_SHAPE, "run: placeholder '%s' expects shape %s, got %s",
                            px_node_name(ph), px_shape_format(ph->shape, sa, sizeof sa),
                            px_shape_format(px_tensor_shape(v), sb, sizeof sb));
    if (!px_tensor_is_contiguous(v))
        return px_set_error(PX_ERR_ARG, "run: the value fed to '%s' is a strided view; copy it first",
                            px_node_name(ph));
    return PX_OK;
}

/* Sets the concrete shapes of every plan node, which backend runs each op
 * (an op a device lacks runs on the CPU), the state and scratch each needs;
 * reports whether the planned buffers are too small. */
static px_status infer_shapes(px_session *s, bool *grew) {
    px_shape in_shapes[16], *ins = in_shapes;
    px_backend *b = s->b;
    bool device = !b->host_memory;
    *grew = !s->planned;
    s->work_need = 0;
    for (int k = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        px_node *nd = p->node;
        if (nd->kind != PX_NODE_OP) continue;
        if (nd->n_inputs > 16) {
            ins = malloc((size_t)nd->n_inputs * sizeof *ins);
            if (!ins) return px_set_error(PX_ERR_NOMEM, "run: out of memory");
        }
        for (int j = 0; j < nd->n_inputs; j++) ins[j] = px_tensor_shape(p->in[j]);
        px_shape out;
        px_dtype dt;
        px_status st = nd->op->infer(nd, ins, &out, &dt);
        if (st == PX_OK) {
            px_plan_set_view(&p->val, dt, out, p->val.data);
            p->cpu_state_bytes = nd->op->state_bytes ? nd->op->state_bytes(nd, ins, out) : 0;
            p->k.training = px_node_training(nd, s->training);
            p->on_cpu = device && (!b->ops->supports(b, &p->k, false) ||
                                   (p->runs_backward && !b->ops->supports(b, &p->k, true)) ||
                                   (s->replicas && (nd->op->flags & PX_OPF_REPLICAS)));
            if (!device || p->on_cpu) {
                p->state_bytes = device ? 0 : p->cpu_state_bytes; /* on the CPU: in its host copies */
            } else {
                p->state_bytes = b->ops->state_bytes(b, &p->k, p->cpu_state_bytes);
                size_t w = b->ops->work_bytes(b, &p->k, false);
                size_t wb = p->runs_backward ? b->ops->work_bytes(b, &p->k, true) : 0;
                if (wb > w) w = wb;
                if (w > s->work_need) s->work_need = w;
            }
            if ((size_t)px_shape_size(out) > p->val_cap || p->state_bytes > p->state_cap) *grew = true;
        }
        if (ins != in_shapes) free(ins);
        ins = in_shapes;
        if (st != PX_OK) return st;
    }
    if (s->work_need > s->work_bytes) *grew = true;
    return PX_OK;
}

/* Data-parallel training on a device: the gradients, copied to the host, are
 * handed to the replicas variable by variable in the order the CPU hands them
 * (the replicas sum them over MPI; Open MPI is not CUDA-aware). */
static px_status report_ready_from_host(px_session *s) {
    px_replica_hooks *rh = s->replicas;
    float *host = (float *)px_sd_param_grads(s);
    if (!host) return px_last_status();
    for (int i = 0; i < s->n_ready_at_start; i++)
        rh->grads_ready(rh->ctx, host, s->ready_at_start[2 * i], s->ready_at_start[2 * i + 1]);
    for (int t = s->n; t < 2 * s->n; t++)
        for (int r = s->ready_first[t]; r < s->ready_first[t + 1]; r++) {
            px_node *v = s->pn[s->ready_at_step[r]].node;
            rh->grads_ready(rh->ctx, host, v->param_offset, px_shape_size(v->shape));
        }
    return PX_OK;
}

/* The work of one run after the feeds are in place: every op's forward pass,
 * then the backward passes with the gradient zeroing the plan scheduled. On a
 * device this may be recorded once and replayed (px_sd_run_compute). */
static px_status compute(px_session *s) {
    px_backend *b = s->b;
    px_graph *g = s->g;
    px_status st = PX_OK;
    for (int k = 0; k < s->n && st == PX_OK; k++) {
        plan_node *p = &s->pn[k];
        if (p->node->kind != PX_NODE_OP) continue;
        p->k.training = px_node_training(p->node, s->training);
        p->k.replicas = s->replicas;
        p->k.seed = px_exec_seed(p->node->op, p->k.training, &g->rng);
        st = p->on_cpu ? px_sd_forward_on_cpu(s, p) : b->ops->forward(b, &p->k);
    }
    if (!s->loss || st != PX_OK) return st;
    int n = s->n;
    /* data-parallel training: each variable's gradient is handed to the
     * replicas as soon as it is final, on the CPU and on a device that sums
     * between processes (the block is the device's; the sums are queued there).
     * Other devices hand over a host copy after the run (report_ready_from_host). */
    px_replica_hooks *rh = s->replicas && s->replicas->grads_ready && (b->host_memory || s->replicas->device_sums)
                               ? s->replicas : NULL;
    if (rh && rh->backward_begin) rh->backward_begin(rh->ctx);
    for (int i = 0; rh && i < s->n_ready_at_start; i++)
        rh->grads_ready(rh->ctx, s->param_grads, s->ready_at_start[2 * i], s->ready_at_start[2 * i + 1]);
    px_session_updates_begin(s);
    for (int t = n; t < 2 * n && st == PX_OK; t++) {
        for (int z = s->zero_first[t]; z < s->zero_first[t + 1] && st == PX_OK; z++) {
            plan_node *q = &s->pn[s->zero_at_step[z]];
            st = b->ops->zero(b, q->grad.data, (size_t)px_tensor_size(&q->grad) * sizeof(float));
        }
        int k = 2 * n - 1 - t;
        plan_node *p = &s->pn[k];
        if (k == s->loss_local && st == PX_OK) {
            if (b->host_memory) *(float *)p->grad.data = s->replicas ? s->replicas->loss_share : 1.0f;
            else st = px_sd_seed_loss_grad(s, p);
        }
        if (!p->runs_backward || st != PX_OK) continue;
        st = p->on_cpu ? px_sd_backward_on_cpu(s, p) : b->ops->backward(b, &p->k);
        for (int r = rh ? s->ready_first[t] : 0; rh && r < s->ready_first[t + 1]; r++) {
            px_node *v = s->pn[s->ready_at_step[r]].node;
            rh->grads_ready(rh->ctx, s->param_grads, v->param_offset, px_shape_size(v->shape));
        }
        if (st == PX_OK) px_session_updates_after(s, t);
    }
    if (st == PX_OK) px_session_updates_end(s);
    return st;
}

px_status px_session_run(px_session *s, const px_feed *feeds, int n_feeds, px_tensor **outputs) {
    if (!s) return px_set_error(PX_ERR_ARG, "run: session is NULL");
    px_graph *g = s->g;
    if (g->params_dirty || g->params_generation != s->generation) {
        if (px_session_build(s) != PX_OK) return px_last_status();
    }
    if (n_feeds < 0 || (n_feeds > 0 && !feeds)) return px_set_error(PX_ERR_ARG, "run: feeds is NULL");
    bool device = !s->b->host_memory;

    /* feeds: on the CPU borrowed in place, no copy; a device copies them in below */
    bool shapes_changed = !s->planned;
    s->run_count++;
    for (int i = 0; i < n_feeds; i++) {
        px_node *ph = feeds[i].placeholder;
        if (!ph || ph->kind != PX_NODE_PLACEHOLDER || ph->graph != g)
            return px_set_error(PX_ERR_ARG, "run: feed %d is not a placeholder of this graph", i);
        if (check_feed(ph, feeds[i].value) != PX_OK) return px_last_status();
        int k = ph->index < s->g_nodes ? s->local[ph->index] : -1;
        if (k < 0) continue; /* not needed by this plan */
        plan_node *p = &s->pn[k];
        s->fed_in_run[k] = s->run_count;
        px_shape sh = px_tensor_shape(feeds[i].value);
        if (!px_shape_equal(sh, s->feed_shapes[k])) {
            shapes_changed = true;
            s->feed_shapes[k] = sh;
        }
        px_plan_set_view(&p->val, ph->dtype, sh, device ? p->val.data : feeds[i].value->data);
    }
    for (int k = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        if (p->node->kind == PX_NODE_PLACEHOLDER && s->fed_in_run[k] != s->run_count)
            return px_set_error(PX_ERR_ARG, "run: placeholder '%s' was not fed",
                                px_node_name(p->node));
        if (p->node->kind == PX_NODE_CONSTANT || p->node->kind == PX_NODE_VARIABLE)
            if (!s->planned) px_plan_set_view(&p->val, p->node->dtype, p->node->shape, p->node->value->data);
    }
    if (shapes_changed) {
        bool grew;
        if (infer_shapes(s, &grew) != PX_OK) return px_last_status();
        if (device && px_sd_place(s) != PX_OK) return px_last_status();
        if (grew && px_plan_memory(s) != PX_OK) return px_last_status();
        if (px_plan_bind_views(s) != PX_OK) return px_last_status();
        px_sd_forget_step(s);
    } else if (!device) {
        /* only the fed pointers moved; aliases of placeholders follow them */
        for (int k = 0; k < s->n; k++)
            if (s->pn[k].alias_of >= 0) s->pn[k].val.data = s->pn[s->pn[k].alias_of].val.data;
    }

    px_status st;
    if (device) {
        for (int i = 0; i < n_feeds; i++) {
            int k = feeds[i].placeholder->index < s->g_nodes ? s->local[feeds[i].placeholder->index] : -1;
            if (k >= 0 && px_sd_feed(s, &s->pn[k], feeds[i].value) != PX_OK) return px_last_status();
        }
        st = px_sd_run_compute(s, compute);
        if (st == PX_OK) st = px_sd_after_run(s);
        if (st == PX_OK && s->loss && s->replicas && s->replicas->grads_ready && !s->replicas->device_sums)
            st = report_ready_from_host(s);
    } else {
        st = compute(s);
    }
    if (st != PX_OK) return st;

    if (outputs) {
        for (int i = 0; i < s->n_fetches; i++) outputs[i] = NULL;
        for (int i = 0; i < s->n_fetches; i++) {
            const px_tensor *f = px_session_fetch(s, i);
            outputs[i] = f ? px_tensor_copy(f) : NULL;
            if (!outputs[i]) {
                for (int j = 0; j < i; j++) {
                    px_tensor_free(outputs[j]);
                    outputs[j] = NULL;
                }
                return px_last_status();
            }
        }
    }
    return PX_OK;
}

const px_tensor *px_session_fetch(const px_session *s, int i) {
    if (!s || i < 0 || i >= s->n_fetches) {
        px_set_error(PX_ERR_ARG, "session_fetch: index %d is out of range", i);
        return NULL;
    }
    if (!s->b->host_memory) return px_sd_fetch(s, i);
    return &s->pn[s->fetch_local[i]].val;
}

const px_tensor *px_session_gradient(const px_session *s, const px_node *node) {
    if (!s || !node || !s->loss) {
        px_set_error(PX_ERR_ARG, "session_gradient: the session has no loss or the node is NULL");
        return NULL;
    }
    int k = node->graph == s->g && node->index < s->g_nodes ? s->local[node->index] : -1;
    if (k < 0 || !px_session_wants_gradient(s, node)) {
        px_set_error(PX_ERR_ARG, "session_gradient: no gradient was requested for node '%s' (%s)",
                     px_node_name(node), px_node_op_name(node));
        return NULL;
    }
    if (!s->pn[k].needs_grad) {
        /* the loss does not depend on it: the gradient is zero; hand out a zero view */
        px_set_error(PX_ERR_ARG, "session_gradient: the loss does not depend on node '%s'",
                     px_node_name(node));
        return NULL;
    }
    if (!s->planned) {
        px_set_error(PX_ERR_STATE, "session_gradient: run the session first");
        return NULL;
    }
    if (!s->b->host_memory) return px_sd_gradient(s, &s->pn[k]);
    return &s->pn[k].grad;
}

const float *px_session_param_grads(const px_session *s, int64_t *n) {
    if (!s) return px_set_error(PX_ERR_ARG, "px_session_param_grads: session is NULL"), NULL;
    if (!s->loss) return px_set_error(PX_ERR_STATE, "px_session_param_grads: the session has no loss, so no gradients"), NULL;
    if (n) *n = s->g->n_trainable;
    if (!s->b->host_memory) return px_sd_param_grads(s);
    return s->param_grads;
}

px_backend *px_session_backend(const px_session *s) { return s->b; }

float *px_session_param_grads_on_backend(px_session *s) { return s->loss ? s->param_grads : NULL; }

size_t px_session_arena_bytes(const px_session *s) { return s ? s->arena_bytes : 0; }

px_status px_run(px_graph *g, px_node *const *fetches, int n_fetches, const px_feed *feeds,
                 int n_feeds, px_tensor **outputs) {
    px_session *s = px_session_new(g, fetches, n_fetches, NULL);
    if (!s) return px_last_status();
    px_status st = px_session_run(s, feeds, n_feeds, outputs);
    px_session_free(s);
    return st;
}
