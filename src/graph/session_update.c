/* Optimizer updates inside a CPU training session's backward pass
 * (px_session_set_updater): when each trainable variable may be updated, the
 * earliest backward step after which nothing reads its value or its gradient,
 * and which variables an op updates itself by folding plain SGD into its
 * weight-gradient product. */
#include <stdlib.h>

#include "graph/session_internal.h"

static int max_i(int a, int b) { return a > b ? a : b; }

/* The plan node whose buffer a node's value is (itself, or what it aliases). */
static int root_of(const px_session *s, int k) { return s->pn[k].alias_of >= 0 ? s->pn[k].alias_of : k; }

/* A variable's update step: after its gradient is final (grad_final) and after
 * the backward step of every op that reads its value, directly or through an
 * alias (an op whose gradient does not reach the variable, such as one behind a
 * stop_gradient view, may still read it later). Also counts each variable's
 * readers, for the fold. */
static void update_steps(const px_session *s, int *step, int *readers) {
    int n = s->n;
    for (int k = 0; k < n; k++) {
        step[k] = s->grad_final[k];
        readers[k] = 0;
    }
    for (int k = 0; k < n; k++) {
        const plan_node *p = &s->pn[k];
        if (p->node->kind != PX_NODE_OP) continue;
        for (int j = 0; j < p->node->n_inputs; j++) {
            int q = root_of(s, s->local[p->node->inputs[j]->index]);
            readers[q]++;
            if (p->runs_backward && step[q] >= 0) step[q] = max_i(step[q], 2 * n - 1 - k);
        }
    }
}

/* An op may fold plain SGD into its product when it says it can, its input 1 is
 * a trainable variable whose gradient lives in the block, and it is that
 * variable's only reader and the only writer of its gradient. */
static void mark_folds(px_session *s, const int *readers) {
    for (int k = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        p->can_fold = p->folded = false;
    }
    for (int k = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        const px_node *nd = p->node;
        if (nd->kind != PX_NODE_OP || !(nd->op->flags & PX_OPF_FOLDS_SGD) || !p->runs_backward ||
            nd->n_inputs < 2 || !p->fresh[1])
            continue;
        int q = s->local[nd->inputs[1]->index];
        plan_node *v = &s->pn[q];
        if (v->node->kind != PX_NODE_VARIABLE || !v->node->trainable || !v->grad_in_block || readers[q] != 1)
            continue;
        p->can_fold = v->folded = true;
    }
}

px_status px_session_plan_updates(px_session *s) {
    int n = s->n, steps = 2 * n;
    int *step = malloc(((size_t)n + 1) * sizeof *step), *readers = malloc(((size_t)n + 1) * sizeof *readers);
    s->upd_first = calloc((size_t)steps + 2, sizeof *s->upd_first);
    s->upd_at_step = malloc(((size_t)n + 1) * sizeof *s->upd_at_step);
    int *fill = calloc((size_t)steps + 1, sizeof *fill);
    if (!step || !readers || !s->upd_first || !s->upd_at_step || !fill) {
        free(step), free(readers), free(fill);
        return px_set_error(PX_ERR_NOMEM, "session: out of memory while compiling the graph");
    }
    update_steps(s, step, readers);
    mark_folds(s, readers);
    /* the same variables as the ready schedule (trainable, with a gradient), by update step */
    for (int k = 0; k < n; k++)
        if (s->grad_final[k] >= 0 && s->pn[k].node->trainable) s->upd_first[step[k] + 1]++;
    for (int t = 0; t < steps; t++) s->upd_first[t + 1] += s->upd_first[t];
    for (int k = 0; k < n; k++)
        if (s->grad_final[k] >= 0 && s->pn[k].node->trainable)
            s->upd_at_step[s->upd_first[step[k]] + fill[step[k]]++] = k;
    free(fill);
    free(step);
    free(readers);
    return PX_OK;
}

void px_session_set_updater(px_session *s, const px_session_updater *u) {
    if (!s) return;
    s->updater = u ? *u : (px_session_updater){0};
    if (!s->updater.update)
        for (int k = 0; k < s->n; k++) s->pn[k].k.fold_lr = 0;
}

static bool updating(const px_session *s) { return s->updater.update && s->b->host_memory && !s->replicas; }

static bool folding(const px_session *s) { return updating(s) && s->updater.fold_lr > 0; }

void px_session_updates_begin(px_session *s) {
    bool fold = folding(s);
    for (int k = 0; k < s->n; k++)
        if (s->pn[k].can_fold) s->pn[k].k.fold_lr = fold ? s->updater.fold_lr : 0;
}

/* The variables the plan gives no gradient go last: an op may still read one in
 * its backward pass (behind a stop_gradient view). */
void px_session_updates_end(px_session *s) {
    if (!updating(s)) return;
    const px_session_updater *u = &s->updater;
    for (int i = 0; i < s->n_ready_at_start; i++)
        u->update(u->ctx, s->g->params, s->param_grads, s->ready_at_start[2 * i], s->ready_at_start[2 * i + 1],
                  false);
}

void px_session_updates_after(px_session *s, int t) {
    if (!updating(s)) return;
    const px_session_updater *u = &s->updater;
    bool fold = folding(s);
    for (int r = s->upd_first[t]; r < s->upd_first[t + 1]; r++) {
        const plan_node *p = &s->pn[s->upd_at_step[r]];
        u->update(u->ctx, s->g->params, s->param_grads, p->node->param_offset, px_shape_size(p->node->shape),
                  fold && p->folded);
    }
}
