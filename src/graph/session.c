/* Sessions: a graph compiled into a plan. The plan fixes the execution order,
 * which nodes need gradients, and every buffer's lifetime across the forward
 * and backward steps; buffers whose lifetimes do not overlap share memory in
 * one arena, so a run allocates nothing. A session runs on one backend (the
 * CPU or a device): its arena is that backend's memory and every op runs
 * through the backend's interface (src/backend/backend.h); what only a device
 * needs is in session_device.c. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/replicas.h"
#include "graph/session_api.h"
#include "graph/session_internal.h"

/* ---------------------------------------------------------------- build ---- */

static void session_clear(px_session *s) {
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

static bool wanted_gradient(const px_session *s, const px_node *node) {
    if (!s->loss) return false;
    if (!s->wrt) return node->kind == PX_NODE_VARIABLE && node->trainable;
    for (int i = 0; i < s->n_wrt; i++)
        if (s->wrt[i] == node) return true;
    return false;
}

static int max_i(int a, int b) { return a > b ? a : b; }

/* When each trainable variable's gradient is final: after the backward step of
 * its last writer, the consumer that comes first in the plan (backward steps run
 * in reverse). Variables the loss does not reach are final before the pass. */
static px_status build_ready_schedule(px_session *s) {
    px_graph *g = s->g;
    int n = s->n, steps = 2 * n;
    int *done = malloc(((size_t)n + 1) * sizeof *done);
    s->ready_first = calloc((size_t)steps + 2, sizeof *s->ready_first);
    s->ready_at_step = malloc(((size_t)n + 1) * sizeof *s->ready_at_step);
    s->ready_at_start = malloc(((size_t)g->n_nodes + 1) * 2 * sizeof *s->ready_at_start);
    if (!done || !s->ready_first || !s->ready_at_step || !s->ready_at_start) {
        free(done);
        return px_set_error(PX_ERR_NOMEM, "session: out of memory while compiling the graph");
    }
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
    if (!fill) {
        free(done);
        return px_set_error(PX_ERR_NOMEM, "session: out of memory while compiling the graph");
    }
    for (int k = 0; k < n; k++)
        if (done[k] >= 0 && s->pn[k].node->trainable)
            s->ready_at_step[s->ready_first[done[k]] + fill[done[k]]++] = k;
    free(fill);
    free(done);
    return PX_OK;
}

/* An op's own CPU code run from its kernel descriptor: how the CPU backend
 * (and an op a device lacks) computes it. */
static void host_run(const px_kernel *k, bool backward) {
    const px_node *n = k->node;
    px_exec ex = {.training = k->training, .rng = &n->graph->rng, .state = k->state, .fresh = k->fresh,
                  .seed = k->seed, .replicas = (px_replica_hooks *)k->replicas};
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

static px_status session_build(px_session *s) {
    px_graph *g = s->g;
    session_clear(s);
    if (px_graph_collate_params(g) != PX_OK) return px_last_status();
    s->generation = g->params_generation;
    s->g_nodes = g->n_nodes;

    /* 1. the nodes needed: ancestors of the fetches, the loss and the wrt nodes */
    bool *needed = calloc((size_t)g->n_nodes, 1);
    s->local = malloc((size_t)g->n_nodes * sizeof *s->local);
    s->fetch_local = malloc((size_t)(s->n_fetches + 1) * sizeof *s->fetch_local);
    if (!needed || !s->local || !s->fetch_local) goto nomem;
    for (int i = 0; i < s->n_fetches; i++) needed[s->fetch_nodes[i]->index] = true;
    if (s->loss) needed[s->loss->index] = true;
    for (int i = g->n_nodes - 1; i >= 0; i--)
        if (needed[i])
            for (int k = 0; k < g->nodes[i]->n_inputs; k++) needed[g->nodes[i]->inputs[k]->index] = true;
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) s->local[i] = needed[i] ? n++ : -1;
    free(needed);
    needed = NULL;
    s->n = n;
    s->pn = calloc((size_t)n, sizeof *s->pn);
    if (!s->pn) goto nomem;
    int total_inputs = 0;
    for (int i = 0, k = 0; i < g->n_nodes; i++) {
        if (s->local[i] < 0) continue;
        s->pn[k].node = g->nodes[i];
        s->pn[k].alias_of = -1;
        total_inputs += g->nodes[i]->n_inputs;
        k++;
    }
    for (int i = 0; i < s->n_fetches; i++) s->fetch_local[i] = s->local[s->fetch_nodes[i]->index];
    s->loss_local = s->loss ? s->local[s->loss->index] : -1;

    /* 2. which nodes carry gradients: on a path from a wanted node to the loss */
    if (s->loss) {
        bool *from_wrt = calloc((size_t)n, 1), *to_loss = calloc((size_t)n, 1);
        if (!from_wrt || !to_loss) {
            free(from_wrt);
            free(to_loss);
            goto nomem;
        }
        for (int k = 0; k < n; k++) {
            px_node *nd = s->pn[k].node;
            if (wanted_gradient(s, nd)) from_wrt[k] = true;
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
            p->runs_backward = p->needs_grad && p->node->kind == PX_NODE_OP &&
                               !(p->node->op->flags & PX_OPF_NO_GRAD);
            p->grad_in_block = p->needs_grad && p->node->kind == PX_NODE_VARIABLE;
        }
        free(from_wrt);
        free(to_loss);
    }

    /* 3. lifetimes: forward step of node k is k, its backward step 2n-1-k; a
     * device's feeds are copied in before step 0 */
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
            if (p->runs_backward && q->needs_grad) {
                if (bwd < q->grad_start) q->grad_start = bwd;
            }
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
        if (p->needs_grad && wanted_gradient(s, p->node)) p->grad_end = END_OF_RUN;
        if (p->needs_grad && p->grad_end < p->grad_start) p->grad_end = p->grad_start;
    }
    /* a reshape-like op shares its input's buffer, so that buffer lives as long as both */
    for (int k = n - 1; k >= 0; k--) {
        px_node *nd = s->pn[k].node;
        if (nd->kind == PX_NODE_OP && (nd->op->flags & PX_OPF_ALIAS)) {
            int src = s->local[nd->inputs[0]->index];
            s->pn[k].alias_of = src;
            s->pn[src].val_end = max_i(s->pn[src].val_end, s->pn[k].val_end);
        }
    }
    for (int k = 0; k < n; k++) { /* follow chains of aliases to the buffer's owner */
        int a = s->pn[k].alias_of;
        while (a >= 0 && s->pn[a].alias_of >= 0) a = s->pn[a].alias_of;
        s->pn[k].alias_of = a;
    }

    /* 4. input pointer tables */
    s->in_ptrs = calloc((size_t)total_inputs + 1, sizeof *s->in_ptrs);
    s->gin_ptrs = calloc((size_t)total_inputs + 1, sizeof *s->gin_ptrs);
    s->fresh_flags = calloc((size_t)total_inputs + 1, sizeof *s->fresh_flags);
    if (!s->in_ptrs || !s->gin_ptrs || !s->fresh_flags) goto nomem;
    for (int k = 0, off = 0; k < n; k++) {
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

    /* 5. who writes each gradient first. Backward steps run in reverse order, so
     * the first writer of a node's gradient is its consumer with the highest
     * index. When that op can store instead of add (PX_OPF_OVERWRITES) and takes
     * the node only once, the buffer needs no zeroing. */
    bool *zeroed = malloc((size_t)n + 1);
    if (!zeroed) goto nomem;
    for (int k = 0; k < n; k++) zeroed[k] = s->pn[k].needs_grad;
    {
        bool *written = calloc((size_t)n + 1, 1);
        if (!written) {
            free(zeroed);
            goto nomem;
        }
        for (int k = n - 1; k >= 0; k--) {
            plan_node *p = &s->pn[k];
            if (!p->runs_backward) continue;
            for (int j = 0; j < p->node->n_inputs; j++) {
                int q = s->local[p->node->inputs[j]->index];
                if (!s->pn[q].needs_grad || written[q]) continue;
                int uses = 0;
                for (int i = 0; i < p->node->n_inputs; i++) uses += p->node->inputs[i] == p->node->inputs[j];
                if ((p->node->op->flags & PX_OPF_OVERWRITES) && uses == 1 && q != s->loss_local) {
                    p->fresh[j] = true;
                    zeroed[q] = false;
                }
            }
            for (int j = 0; j < p->node->n_inputs; j++) written[s->local[p->node->inputs[j]->index]] = true;
        }
        free(written);
    }

    /* gradient zeroing schedule (CSR by backward step) for the rest */
    int steps = 2 * n;
    s->zero_first = calloc((size_t)steps + 1, sizeof *s->zero_first);
    s->zero_at_step = calloc((size_t)n + 1, sizeof *s->zero_at_step);
    if (!s->zero_first || !s->zero_at_step) {
        free(zeroed);
        goto nomem;
    }
    for (int k = 0; k < n; k++)
        if (zeroed[k] && s->pn[k].grad_start < steps) s->zero_first[s->pn[k].grad_start + 1]++;
    for (int t = 0; t < steps; t++) s->zero_first[t + 1] += s->zero_first[t];
    {
        int *fill = calloc((size_t)steps + 1, sizeof *fill);
        if (!fill) {
            free(zeroed);
            goto nomem;
        }
        for (int k = 0; k < n; k++) {
            plan_node *p = &s->pn[k];
            if (zeroed[k] && p->grad_start < steps)
                s->zero_at_step[s->zero_first[p->grad_start] + fill[p->grad_start]++] = k;
        }
        free(fill);
    }
    free(zeroed);

    /* 6. the parameter gradient block */
    if (s->loss) {
        s->n_param_grads = g->n_params;
        if (s->b->ops->alloc(s->b, (size_t)g->n_params * sizeof(float), (void **)&s->param_grads) != PX_OK ||
            build_ready_schedule(s) != PX_OK) {
            session_clear(s);
            return px_last_status();
        }
    }
    s->feed_shapes = calloc((size_t)n, sizeof *s->feed_shapes);
    s->fed_in_run = calloc((size_t)n + 1, sizeof *s->fed_in_run);
    if (!s->feed_shapes || !s->fed_in_run) goto nomem;
    for (int k = 0; k < n; k++) s->feed_shapes[k].rank = -1;
    return PX_OK;
nomem:
    free(needed);
    session_clear(s);
    return px_set_error(PX_ERR_NOMEM, "session: out of memory while compiling the graph");
}

/* ------------------------------------------------------------- memory ---- */

typedef struct interval {
    size_t bytes;
    int start, end;
    size_t *offset;
} interval;

static int by_start(const void *a, const void *b) {
    const interval *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->bytes > y->bytes ? -1 : x->bytes < y->bytes;
}

/* Greedy first-fit placement of intervals ordered by start time: a buffer
 * takes the lowest gap among those still alive when it is born. */
static size_t place_intervals(interval *iv, int count) {
    qsort(iv, (size_t)count, sizeof *iv, by_start);
    int *live = malloc((size_t)(count + 1) * sizeof *live);
    int n_live = 0;
    size_t top = 0;
    if (!live) return (size_t)-1;
    for (int i = 0; i < count; i++) {
        int w = 0;
        for (int j = 0; j < n_live; j++) /* drop buffers dead before this one starts */
            if (iv[live[j]].end >= iv[i].start) live[w++] = live[j];
        n_live = w;
        /* live sorted by offset: find the first gap that fits */
        size_t off = 0;
        int pos = 0;
        for (; pos < n_live; pos++) {
            interval *o = &iv[live[pos]];
            if (*o->offset >= off + iv[i].bytes) break;
            size_t e = *o->offset + o->bytes;
            if (e > off) off = e;
        }
        *iv[i].offset = off;
        memmove(live + pos + 1, live + pos, (size_t)(n_live - pos) * sizeof *live);
        live[pos] = i;
        n_live++;
        if (off + iv[i].bytes > top) top = off + iv[i].bytes;
    }
    free(live);
    return top;
}

static void set_view(px_tensor *t, px_dtype dtype, px_shape shape, void *data) {
    t->dtype = dtype;
    t->rank = shape.rank;
    int64_t st = 1;
    for (int i = shape.rank - 1; i >= 0; i--) {
        t->shape[i] = shape.dim[i];
        t->strides[i] = st;
        st *= shape.dim[i];
    }
    t->data = data;
    t->storage = NULL;
}

/* Plans the arena for the current shapes (in pn[k].val) and points every buffer into it. */
static px_status plan_memory(px_session *s) {
    int count = 0, n = s->n;
    interval *iv = calloc((size_t)3 * n + 1, sizeof *iv);
    if (!iv) return px_set_error(PX_ERR_NOMEM, "session: out of memory while planning buffers");
    for (int k = 0; k < n; k++) {
        plan_node *p = &s->pn[k];
        px_node *nd = p->node;
        p->val_cap = (size_t)px_tensor_size(&p->val);
        p->state_cap = p->state_bytes;
        size_t bytes = px_align_up(p->val_cap * 4);
        /* on the CPU a feed is borrowed; a device copies it into a buffer of its own */
        p->has_val_buf = (nd->kind == PX_NODE_OP && p->alias_of < 0) ||
                         (nd->kind == PX_NODE_PLACEHOLDER && !s->b->host_memory);
        if (p->has_val_buf) iv[count++] = (interval){bytes, p->val_start, p->val_end, &p->val_off};
        p->has_grad_buf = p->needs_grad && !p->grad_in_block;
        if (p->has_grad_buf) iv[count++] = (interval){bytes, p->grad_start, p->grad_end, &p->grad_off};
        p->has_state_buf = p->state_bytes > 0;
        if (p->has_state_buf)
            iv[count++] = (interval){px_align_up(p->state_bytes), p->val_start,
                                     p->runs_backward ? 2 * n - 1 - k : k, &p->state_off};
    }
    size_t bytes = place_intervals(iv, count);
    free(iv);
    if (bytes == (size_t)-1) return px_set_error(PX_ERR_NOMEM, "session: out of memory while planning");
    px_backend *b = s->b;
    px_sd_forget_step(s); /* a recorded step points into the old buffers */
    if (s->arena) b->ops->free(b, s->arena);
    s->arena = NULL;
    s->arena_bytes = 0;
    if (b->ops->alloc(b, bytes, (void **)&s->arena) != PX_OK) return px_last_status();
    s->arena_bytes = bytes;
    if (s->work_need > s->work_bytes) {
        if (s->work) b->ops->free(b, s->work);
        s->work = NULL;
        s->work_bytes = 0;
        if (b->ops->alloc(b, s->work_need, &s->work) != PX_OK) return px_last_status();
        s->work_bytes = s->work_need;
    }
    s->planned = true;
    return PX_OK;
}

/* Points each tensor view at its memory for the current shapes, and each
 * op's descriptor at its state and the scratch. */
static px_status bind_views(px_session *s) {
    for (int k = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        px_node *nd = p->node;
        px_shape shape = px_tensor_shape(&p->val);
        if (nd->kind == PX_NODE_CONSTANT || nd->kind == PX_NODE_VARIABLE)
            p->val.data = s->b->host_memory ? nd->value->data : NULL; /* a device's: px_sd_bind */
        else if (p->has_val_buf)
            p->val.data = s->arena + p->val_off;
        else if (p->alias_of >= 0)
            p->val.data = s->pn[p->alias_of].val.data;
        if (p->grad_in_block)
            set_view(&p->grad, PX_F32, shape, s->param_grads + nd->param_offset);
        else if (p->has_grad_buf)
            set_view(&p->grad, PX_F32, shape, s->arena + p->grad_off);
        p->state = p->has_state_buf ? s->arena + p->state_off : NULL;
        p->k.state = p->state;
        p->k.state_bytes = p->state_bytes;
        p->k.work = s->work;
        p->k.work_bytes = s->work_bytes;
    }
    return s->b->host_memory ? PX_OK : px_sd_bind(s);
}

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
    if (session_build(s) != PX_OK) {
        px_session_free(s);
        return NULL;
    }
    return s;
}

void px_session_free(px_session *s) {
    if (!s) return;
    if (s->b) session_clear(s);
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
            set_view(&p->val, dt, out, p->val.data);
            p->cpu_state_bytes = nd->op->state_bytes ? nd->op->state_bytes(nd, ins, out) : 0;
            p->k.training = s->training;
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
        p->k.training = s->training;
        p->k.replicas = s->replicas;
        p->k.seed = px_exec_seed(p->node->op, s->training, &g->rng);
        st = p->on_cpu ? px_sd_forward_on_cpu(s, p) : b->ops->forward(b, &p->k);
    }
    if (!s->loss || st != PX_OK) return st;
    int n = s->n;
    /* data-parallel training on the CPU: each variable's gradient is handed to
     * the replicas as soon as it is final (a device sums its block after the run) */
    px_replica_hooks *rh = b->host_memory && s->replicas && s->replicas->grads_ready ? s->replicas : NULL;
    for (int i = 0; rh && i < s->n_ready_at_start; i++)
        rh->grads_ready(rh->ctx, s->param_grads, s->ready_at_start[2 * i], s->ready_at_start[2 * i + 1]);
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
    }
    return st;
}

px_status px_session_run(px_session *s, const px_feed *feeds, int n_feeds, px_tensor **outputs) {
    if (!s) return px_set_error(PX_ERR_ARG, "run: session is NULL");
    px_graph *g = s->g;
    if (g->params_dirty || g->params_generation != s->generation) {
        if (session_build(s) != PX_OK) return px_last_status();
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
        set_view(&p->val, ph->dtype, sh, device ? p->val.data : feeds[i].value->data);
    }
    for (int k = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        if (p->node->kind == PX_NODE_PLACEHOLDER && s->fed_in_run[k] != s->run_count)
            return px_set_error(PX_ERR_ARG, "run: placeholder '%s' was not fed",
                                px_node_name(p->node));
        if (p->node->kind == PX_NODE_CONSTANT || p->node->kind == PX_NODE_VARIABLE)
            if (!s->planned) set_view(&p->val, p->node->dtype, p->node->shape, p->node->value->data);
    }
    if (shapes_changed) {
        bool grew;
        if (infer_shapes(s, &grew) != PX_OK) return px_last_status();
        if (device && px_sd_place(s) != PX_OK) return px_last_status();
        if (grew && plan_memory(s) != PX_OK) return px_last_status();
        if (bind_views(s) != PX_OK) return px_last_status();
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
        if (st == PX_OK && s->loss && s->replicas && s->replicas->grads_ready) st = report_ready_from_host(s);
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
    if (k < 0 || !wanted_gradient(s, node)) {
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
