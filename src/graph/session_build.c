/* A graph compiled into a session's plan: the nodes the fetches and the loss
 * need, which of them carry gradients, every buffer's lifetime across the
 * forward and backward steps, the input tables and each op's kernel descriptor,
 * which gradients must be zeroed before their first writer, and when each
 * trainable variable's gradient is final (data-parallel training). The arena
 * itself is planned at the first run (planner.c), when the shapes are known. */
#include <stdlib.h>
#include <string.h>

#include "graph/session_internal.h"

void px_session_clear(px_session *s) {
    px_backend *b = s->b;
    px_sd_free(s);
    for (int k = 0; k < s->n; k++) px_tensor_free(s->pn[k].host_grad);
    free(s->pn);
    free(s->local);
    free(s->fetch_local);
    if (s->param_grads) b->ops->free(b, s->param_grads);
    if (s->arena) b->ops->free(b, s->arena);
    if (s->work) b->ops->free(b, s->work);
    free(s->in_ptrs);
    free(s->gin_ptrs);
    free(s->fresh_flags);
    free(s->zero_at_step);
    free(s->zero_first);
    free(s->feed_shapes);
    free(s->fed_in_run);
    free(s->ready_at_step);
    free(s->ready_first);
    free(s->ready_at_start);
    free(s->grad_final);
    free(s->upd_at_step);
    free(s->upd_first);
    s->grad_final = s->upd_at_step = s->upd_first = NULL;
    s->ready_at_step = s->ready_first = NULL;
    s->ready_at_start = NULL;
    s->n_ready_at_start = 0;
    s->fed_in_run = NULL;
    s->pn = NULL;
    s->local = s->fetch_local = s->zero_at_step = s->zero_first = NULL;
    s->param_grads = NULL;
    s->in_ptrs = NULL;
    s->gin_ptrs = NULL;
    s->fresh_flags = NULL;
    s->arena = NULL;
    s->work = NULL;
    s->feed_shapes = NULL;
    s->arena_bytes = s->work_bytes = 0;
    s->planned = false;
    s->n = 0;
}

bool px_session_wants_gradient(const px_session *s, const px_node *node) {
    if (!s->loss) return false;
    if (!s->wrt) return node->kind == PX_NODE_VARIABLE && node->trainable;
    for (int i = 0; i < s->n_wrt; i++)
        if (s->wrt[i] == node) return true;
    return false;
}

static int max_i(int a, int b) { return a > b ? a : b; }

static px_status nomem(void) { return px_set_error(PX_ERR_NOMEM, "session: out of memory while compiling the graph"); }

/* 1. The nodes needed: ancestors of the fetches, the loss and the wrt nodes, in
 * graph order (a topological order), with the graph -> plan index map. */
static px_status select_nodes(px_session *s, int *total_inputs) {
    px_graph *g = s->g;
    bool *needed = calloc((size_t)g->n_nodes, 1);
    s->local = malloc((size_t)g->n_nodes * sizeof *s->local);
    s->fetch_local = malloc((size_t)(s->n_fetches + 1) * sizeof *s->fetch_local);
    if (!needed || !s->local || !s->fetch_local) return free(needed), nomem();
    for (int i = 0; i < s->n_fetches; i++) needed[s->fetch_nodes[i]->index] = true;
    if (s->loss) needed[s->loss->index] = true;
    for (int i = g->n_nodes - 1; i >= 0; i--)
        if (needed[i])
            for (int k = 0; k < g->nodes[i]->n_inputs; k++) needed[g->nodes[i]->inputs[k]->index] = true;
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) s->local[i] = needed[i] ? n++ : -1;
    free(needed);
    s->n = n;
    s->pn = calloc((size_t)n, sizeof *s->pn);
    if (!s->pn) return nomem();
    *total_inputs = 0;
    for (int i = 0, k = 0; i < g->n_nodes; i++) {
        if (s->local[i] < 0) continue;
        s->pn[k].node = g->nodes[i];
        s->pn[k].alias_of = s->pn[k].grad_alias_of = -1;
        *total_inputs += g->nodes[i]->n_inputs;
        k++;
    }
    for (int i = 0; i < s->n_fetches; i++) s->fetch_local[i] = s->local[s->fetch_nodes[i]->index];
    s->loss_local = s->loss ? s->local[s->loss->index] : -1;
    return PX_OK;
}

/* 2. Which nodes carry gradients: those on a path from a wanted node to the loss. */
static px_status mark_gradients(px_session *s) {
    int n = s->n;
    bool *from_wrt = calloc((size_t)n, 1), *to_loss = calloc((size_t)n, 1);
    if (!from_wrt || !to_loss) return free(from_wrt), free(to_loss), nomem();
    for (int k = 0; k < n; k++) {
        px_node *nd = s->pn[k].node;
        if (px_session_wants_gradient(s, nd)) from_wrt[k] = true;
        if (nd->kind == PX_NODE_OP && !(nd->op->flags & PX_OPF_NO_GRAD))
            for (int j = 0; j < nd->n_inputs; j++)
                if (from_wrt[s->local[nd->inputs[j]->index]]) from_wrt[k] = true;
    }
    to_loss[s->loss_local] = true;
    for (int k = n - 1; k >= 0; k--) {
        px_node *nd = s->pn[k].node;
        if (!to_loss[k] || nd->kind != PX_NODE_OP || (nd->op->flags & PX_OPF_NO_GRAD)) continue;
        for (int j = 0; j < nd->n_inputs; j++) to_loss[s->local[nd->inputs[j]->index]] = true;
    }
    for (int k = 0; k < n; k++) {
        plan_node *p = &s->pn[k];
        p->needs_grad = (from_wrt[k] && to_loss[k]) || (k == s->loss_local);
        p->runs_backward = p->needs_grad && p->node->kind == PX_NODE_OP && !(p->node->op->flags & PX_OPF_NO_GRAD);
        p->grad_in_block = p->needs_grad && p->node->kind == PX_NODE_VARIABLE;
    }
    free(from_wrt);
    free(to_loss);
    return PX_OK;
}

/* 3. Lifetimes: forward step of node k is k, its backward step 2n-1-k. A value
 * lives from its forward step (a device's feeds from step 0: they are copied in
 * before it) to its last reader (forward, or backward for ops that save inputs
 * or output); a gradient from its first writer's backward step to its own op's.
 * Fetches, the loss and wanted gradients live to the end of the run. */
static void set_lifetimes(px_session *s) {
    int n = s->n;
    for (int k = 0; k < n; k++) {
        plan_node *p = &s->pn[k];
        p->val_start = !s->b->host_memory && p->node->kind == PX_NODE_PLACEHOLDER ? 0 : k;
        p->val_end = k;
        p->grad_start = END_OF_RUN;
        p->grad_end = -1;
    }
    for (int k = 0; k < n; k++) {
        plan_node *p = &s->pn[k];
        px_node *nd = p->node;
        int bwd = 2 * n - 1 - k;
        if (nd->kind != PX_NODE_OP) continue;
        if (p->runs_backward && (nd->op->flags & PX_OPF_SAVE_OUTPUT)) p->val_end = max_i(p->val_end, bwd);
        for (int j = 0; j < nd->n_inputs; j++) {
            plan_node *q = &s->pn[s->local[nd->inputs[j]->index]];
            q->val_end = max_i(q->val_end, k);
            if (p->runs_backward && (nd->op->flags & PX_OPF_SAVE_INPUTS)) q->val_end = max_i(q->val_end, bwd);
            if (p->runs_backward && q->needs_grad && bwd < q->grad_start) q->grad_start = bwd;
        }
        if (p->runs_backward) p->grad_end = bwd;
    }
    for (int i = 0; i < s->n_fetches; i++) s->pn[s->fetch_local[i]].val_end = END_OF_RUN;
    if (s->loss_local >= 0) {
        plan_node *l = &s->pn[s->loss_local];
        l->val_end = END_OF_RUN;
        l->grad_start = 2 * n - 1 - s->loss_local;
    }
    for (int k = 0; k < n; k++) {
        plan_node *p = &s->pn[k];
        if (p->needs_grad && px_session_wants_gradient(s, p->node)) p->grad_end = END_OF_RUN;
        if (p->needs_grad && p->grad_end < p->grad_start) p->grad_end = p->grad_start;
    }
}

/* A reshape-like op shares its input's buffer, so that buffer lives as long as both;
 * chains of aliases resolve to the buffer's owner. */
static void resolve_aliases(px_session *s) {
    for (int k = s->n - 1; k >= 0; k--) {
        px_node *nd = s->pn[k].node;
        if (nd->kind == PX_NODE_OP && (nd->op->flags & PX_OPF_ALIAS)) {
            int src = s->local[nd->inputs[0]->index];
            s->pn[k].alias_of = src;
            s->pn[src].val_end = max_i(s->pn[src].val_end, s->pn[k].val_end);
        }
    }
    for (int k = 0; k < s->n; k++) {
        int a = s->pn[k].alias_of;
        while (a >= 0 && s->pn[a].alias_of >= 0) a = s->pn[a].alias_of;
        s->pn[k].alias_of = a;
    }
}

/* An op's own CPU code run from its kernel descriptor: how the CPU backend
 * (and an op a device lacks) computes it. */
static void host_run(const px_kernel *k, bool backward) {
    const px_node *n = k->node;
    px_exec ex = {.training = k->training, .rng = &n->graph->rng, .state = k->state, .fresh = k->fresh,
                  .seed = k->seed, .replicas = (px_replica_hooks *)k->replicas, .fold_lr = k->fold_lr};
    if (backward) n->op->backward(n, k->in, k->out, k->gout, k->gin, &ex);
    else n->op->forward(n, k->in, k->out, &ex);
}

/* The parts of an op's descriptor fixed by the plan; the buffers' places,
 * state and scratch are filled in when the views are bound. */
static void describe_kernel(plan_node *p) {
    const px_node *nd = p->node;
    p->k = (px_kernel){.code = nd->op->code, .name = nd->op->name, .iattr = nd->iattr, .fattr = nd->fattr,
                       .n_in = nd->n_inputs, .in = p->in, .out = &p->val, .gout = &p->grad, .gin = p->gin,
                       .fresh = p->fresh, .node = nd, .host_run = host_run};
}

/* 3b. In place: on the CPU an elementwise op (PX_OPF_ELEMENTWISE: ReLU after a
 * convolution) writes its output over its input when the input is an op's
 * value in a buffer of its own that nothing reads after this op's forward step
 * (its last reader, aliases included, is this op). The output then shares that
 * buffer, which lives as long as the output: one buffer less in the arena,
 * and the output's writes land on lines the op has just read. */
static void run_in_place(px_session *s) {
    if (!s->b->host_memory) return;
    for (int k = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        px_node *nd = p->node;
        if (nd->kind != PX_NODE_OP || !(nd->op->flags & PX_OPF_ELEMENTWISE) || nd->n_inputs != 1 ||
            p->alias_of >= 0)
            continue;
        int q = s->local[nd->inputs[0]->index];
        plan_node *in = &s->pn[q];
        if (in->node->kind != PX_NODE_OP || in->alias_of >= 0 || in->val_end != k || in->node->dtype != nd->dtype)
            continue;
        p->alias_of = q;
        in->val_end = max_i(in->val_end, p->val_end);
        for (int a = k + 1; a < s->n; a++) /* reshapes of the output: of the input's buffer now */
            if (s->pn[a].alias_of == k) s->pn[a].alias_of = q;
    }
}

/* 4. Input pointer tables: each op's inputs' values and gradients (NULL where none
 * is needed), in three arrays shared by all plan nodes; and each op's kernel
 * descriptor. */
static px_status wire_inputs(px_session *s, int total_inputs) {
    s->in_ptrs = calloc((size_t)total_inputs + 1, sizeof *s->in_ptrs);
    s->gin_ptrs = calloc((size_t)total_inputs + 1, sizeof *s->gin_ptrs);
    s->fresh_flags = calloc((size_t)total_inputs + 1, sizeof *s->fresh_flags);
    if (!s->in_ptrs || !s->gin_ptrs || !s->fresh_flags) return nomem();
    for (int k = 0, off = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        p->in = s->in_ptrs + off;
        p->gin = s->gin_ptrs + off;
        p->fresh = s->fresh_flags + off;
        for (int j = 0; j < p->node->n_inputs; j++) {
            plan_node *q = &s->pn[s->local[p->node->inputs[j]->index]];
            p->in[j] = &q->val;
            p->gin[j] = q->needs_grad ? &q->grad : NULL;
        }
        off += p->node->n_inputs;
        if (p->node->kind == PX_NODE_OP) describe_kernel(p);
    }
    return PX_OK;
}

/* 5. Who writes each gradient first. Backward steps run in reverse order, so the
 * first writer of a node's gradient is its consumer with the highest index. When
 * that op can store instead of add (PX_OPF_OVERWRITES, or PX_OPF_OVERWRITES_ON_CPU
 * in a CPU session) and takes the node only once, the buffer needs no zeroing;
 * zeroed[k] stays true for the gradients that do. */
static px_status mark_first_writers(px_session *s, bool *zeroed) {
    int n = s->n;
    int overwrites = PX_OPF_OVERWRITES | (s->b->host_memory ? PX_OPF_OVERWRITES_ON_CPU : 0);
    for (int k = 0; k < n; k++) zeroed[k] = s->pn[k].needs_grad;
    bool *written = calloc((size_t)n + 1, 1);
    if (!written) return nomem();
    for (int k = n - 1; k >= 0; k--) {
        plan_node *p = &s->pn[k];
        if (!p->runs_backward) continue;
        for (int j = 0; j < p->node->n_inputs; j++) {
            int q = s->local[p->node->inputs[j]->index];
            if (!s->pn[q].needs_grad || written[q]) continue;
            int uses = 0;
            for (int i = 0; i < p->node->n_inputs; i++) uses += p->node->inputs[i] == p->node->inputs[j];
            if ((p->node->op->flags & overwrites) && uses == 1 && q != s->loss_local) {
                p->fresh[j] = true;
                zeroed[q] = false;
            }
        }
        for (int j = 0; j < p->node->n_inputs; j++) written[s->local[p->node->inputs[j]->index]] = true;
    }
    free(written);
    return PX_OK;
}

/* The gradients to zero before each step t, as CSR: zero_at_step[zero_first[t] ..
 * zero_first[t + 1]) are the plan nodes whose gradient starts at step t. */
static px_status schedule_zeroing(px_session *s, const bool *zeroed) {
    int n = s->n, steps = 2 * n;
    s->zero_first = calloc((size_t)steps + 1, sizeof *s->zero_first);
    s->zero_at_step = calloc((size_t)n + 1, sizeof *s->zero_at_step);
    int *fill = calloc((size_t)steps + 1, sizeof *fill);
    if (!s->zero_first || !s->zero_at_step || !fill) return free(fill), nomem();
    for (int k = 0; k < n; k++)
        if (zeroed[k] && s->pn[k].grad_start < steps) s->zero_first[s->pn[k].grad_start + 1]++;
    for (int t = 0; t < steps; t++) s->zero_first[t + 1] += s->zero_first[t];
    for (int k = 0; k < n; k++) {
        plan_node *p = &s->pn[k];
        if (zeroed[k] && p->grad_start < steps)
            s->zero_at_step[s->zero_first[p->grad_start] + fill[p->grad_start]++] = k;
    }
    free(fill);
    return PX_OK;
}

static px_status plan_zeroing(px_session *s) {
    bool *zeroed = malloc((size_t)s->n + 1);
    if (!zeroed) return nomem();
    px_status st = mark_first_writers(s, zeroed);
    if (!st) st = schedule_zeroing(s, zeroed);
    free(zeroed);
    return st;
}

/* 5b. The backward pass in place, as the forward (3b): an elementwise op that
 * stores its input's gradient (the first writer, fresh) writes it over its
 * output's gradient when nothing reads that after its backward step; the two
 * then share one buffer, which lives as long as both. */
static void backward_in_place(px_session *s) {
    if (!s->b->host_memory) return;
    int n = s->n;
    for (int k = n - 1; k >= 0; k--) {
        plan_node *p = &s->pn[k];
        px_node *nd = p->node;
        int bwd = 2 * n - 1 - k;
        if (nd->kind != PX_NODE_OP || !(nd->op->flags & PX_OPF_ELEMENTWISE) || nd->n_inputs != 1 ||
            !p->runs_backward || !p->fresh[0] || p->grad_in_block || p->grad_end != bwd)
            continue;
        int q = s->local[nd->inputs[0]->index];
        plan_node *in = &s->pn[q];
        if (!in->needs_grad || in->grad_in_block || in->grad_start != bwd) continue;
        int root = p->grad_alias_of >= 0 ? p->grad_alias_of : k;
        in->grad_alias_of = root;
        s->pn[root].grad_end = max_i(s->pn[root].grad_end, in->grad_end);
    }
}

/* 6. For data-parallel training and updates inside the backward pass: when
 * each trainable variable's gradient is final: after the backward step of its
 * last writer, the consumer that comes first in the plan (backward steps run in
 * reverse; kept as grad_final). Variables the loss does not reach are final
 * before the pass. */
static px_status build_ready_schedule(px_session *s) {
    px_graph *g = s->g;
    int n = s->n, steps = 2 * n;
    int *done = malloc(((size_t)n + 1) * sizeof *done);
    s->ready_first = calloc((size_t)steps + 2, sizeof *s->ready_first);
    s->ready_at_step = malloc(((size_t)n + 1) * sizeof *s->ready_at_step);
    s->ready_at_start = malloc(((size_t)g->n_nodes + 1) * 2 * sizeof *s->ready_at_start);
    if (!done || !s->ready_first || !s->ready_at_step || !s->ready_at_start) return free(done), nomem();
    for (int k = 0; k < n; k++) done[k] = -1;
    for (int k = 0; k < n; k++) {
        plan_node *p = &s->pn[k];
        if (!p->runs_backward) continue;
        for (int j = 0; j < p->node->n_inputs; j++) {
            int q = s->local[p->node->inputs[j]->index];
            if (s->pn[q].grad_in_block) done[q] = max_i(done[q], 2 * n - 1 - k);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        px_node *nd = g->nodes[i];
        if (nd->kind != PX_NODE_VARIABLE || !nd->trainable) continue;
        int k = s->local[i];
        if (k >= 0 && done[k] >= 0) {
            s->ready_first[done[k] + 1]++;
        } else {
            s->ready_at_start[2 * s->n_ready_at_start] = nd->param_offset;
            s->ready_at_start[2 * s->n_ready_at_start + 1] = px_shape_size(nd->shape);
            s->n_ready_at_start++;
        }
    }
    for (int t = 0; t < steps; t++) s->ready_first[t + 1] += s->ready_first[t];
    int *fill = calloc((size_t)steps + 1, sizeof *fill);
    if (!fill) return free(done), nomem();
    for (int k = 0; k < n; k++)
        if (done[k] >= 0 && s->pn[k].node->trainable)
            s->ready_at_step[s->ready_first[done[k]] + fill[done[k]]++] = k;
    free(fill);
    s->grad_final = done;
    return PX_OK;
}

/* 7. The parameter-gradient block on the backend (laid out like the graph's
 * parameters) with its ready schedule, and the per-run feed bookkeeping. */
static px_status alloc_run_state(px_session *s) {
    if (s->loss) {
        s->n_param_grads = s->g->n_params;
        if (s->b->ops->alloc(s->b, (size_t)s->g->n_params * sizeof(float), (void **)&s->param_grads) != PX_OK)
            return px_last_status();
        if (build_ready_schedule(s) != PX_OK) return px_last_status();
        if (px_session_plan_updates(s) != PX_OK) return px_last_status();
    }
    s->feed_shapes = calloc((size_t)s->n, sizeof *s->feed_shapes);
    s->fed_in_run = calloc((size_t)s->n + 1, sizeof *s->fed_in_run);
    if (!s->feed_shapes || !s->fed_in_run) return nomem();
    for (int k = 0; k < s->n; k++) s->feed_shapes[k].rank = -1;
    return PX_OK;
}

px_status px_session_build(px_session *s) {
    px_graph *g = s->g;
    px_session_clear(s);
    if (px_graph_collate_params(g) != PX_OK) return px_last_status();
    s->generation = g->params_generation;
    s->g_nodes = g->n_nodes;
    int total_inputs = 0;
    px_status st = select_nodes(s, &total_inputs);
    if (!st && s->loss) st = mark_gradients(s);
    if (!st) {
        set_lifetimes(s);
        resolve_aliases(s);
        run_in_place(s);
        st = wire_inputs(s, total_inputs);
    }
    if (!st) st = plan_zeroing(s);
    if (!st) backward_in_place(s);
    if (!st) st = alloc_run_state(s);
    if (st) px_session_clear(s); /* the step that failed set the message */
    return st;
}
