/* What a session needs only when it runs on a device (the reference device or
 * a GPU): copies of the constants and the graph's parameters there, feeds
 * copied in, ops the device lacks run on the CPU with explicit copies both
 * ways (and a one-time warning), fetches and gradients copied out when asked
 * for, and a run recorded once and replayed (CUDA graphs) while the plan and
 * its buffers stay the same. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/session_internal.h"

struct px_session_device {
    float *params;       /* the graph's parameters on the device, as bound */
    void *consts;        /* copies of the constants, one buffer */
    size_t *const_off;   /* per plan node: offset of its copy */
    float *one;          /* the loss gradient: 1, or this replica's share of the batch */
    float one_value;     /* the value `one` holds */
    float *staging;      /* a gradient computed on the CPU, before it is added on the device */
    size_t staging_bytes;
    bool has_random;     /* an op draws random numbers in training (dropout) */
    bool any_on_cpu;
    void *step;          /* the recorded run, or NULL */
    bool record_failed;  /* the device could not record this plan: it runs op by op */
    unsigned same_runs;  /* runs since the plan or its buffers last changed */
    px_tensor **fetch_host;
    unsigned *fetch_run; /* the run whose values fetch_host[i] holds */
    float *param_grads_host;
    unsigned param_grads_run;
};

static px_status ensure_dev(px_session *s) {
    if (s->dev) return PX_OK;
    s->dev = calloc(1, sizeof *s->dev);
    if (s->dev) {
        s->dev->const_off = calloc((size_t)s->n + 1, sizeof *s->dev->const_off);
        s->dev->fetch_host = calloc((size_t)s->n_fetches + 1, sizeof *s->dev->fetch_host);
        s->dev->fetch_run = calloc((size_t)s->n_fetches + 1, sizeof *s->dev->fetch_run);
    }
    if (!s->dev || !s->dev->const_off || !s->dev->fetch_host || !s->dev->fetch_run) {
        px_sd_free(s);
        return px_set_error(PX_ERR_NOMEM, "session: out of memory");
    }
    return PX_OK;
}

static size_t bytes_of(const px_tensor *t) { return (size_t)px_tensor_size(t) * 4; }

/* -------------------------------------------------------------- place ---- */

static void free_host_op(px_host_op *h) {
    if (!h) return;
    px_aligned_free(h->block);
    free(h->in);
    free(h->gin);
    free(h->in_ptrs);
    free(h->gin_ptrs);
    free(h);
}

static void host_view(px_tensor *t, const px_tensor *like, char **at) {
    *t = *like;
    t->storage = NULL;
    int64_t st = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        t->strides[i] = st;
        st *= t->shape[i];
    }
    t->data = *at;
    *at += px_align_up(bytes_of(like));
}

/* Host copies for an op that runs on the CPU: inputs, their gradients, output,
 * its gradient and the op's own state, for the current shapes. */
static px_host_op *make_host_op(const plan_node *p) {
    int n = p->node->n_inputs;
    px_host_op *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->in = calloc((size_t)n + 1, sizeof *h->in);
    h->gin = calloc((size_t)n + 1, sizeof *h->gin);
    h->in_ptrs = calloc((size_t)n + 1, sizeof *h->in_ptrs);
    h->gin_ptrs = calloc((size_t)n + 1, sizeof *h->gin_ptrs);
    size_t total = 2 * px_align_up(bytes_of(&p->val)) + px_align_up(p->cpu_state_bytes);
    for (int j = 0; j < n; j++) total += 2 * px_align_up(bytes_of(p->in[j]));
    h->block = px_aligned_calloc(total);
    if (!h->in || !h->gin || !h->in_ptrs || !h->gin_ptrs || !h->block) {
        free_host_op(h);
        return NULL;
    }
    char *at = h->block;
    for (int j = 0; j < n; j++) {
        host_view(&h->in[j], p->in[j], &at);
        h->in_ptrs[j] = &h->in[j];
        host_view(&h->gin[j], p->in[j], &at);
        h->gin[j].dtype = PX_F32;
        h->gin_ptrs[j] = p->gin[j] ? &h->gin[j] : NULL;
    }
    host_view(&h->out, &p->val, &at);
    host_view(&h->gout, &p->val, &at);
    h->gout.dtype = PX_F32;
    h->state = p->cpu_state_bytes ? at : NULL;
    return h;
}

px_status px_sd_place(px_session *s) {
    if (ensure_dev(s) != PX_OK) return px_last_status();
    struct px_session_device *d = s->dev;
    px_backend *b = s->b;
    if (!d->one) {
        const float one = 1.0f;
        if (b->ops->alloc(b, sizeof one, (void **)&d->one) != PX_OK ||
            b->ops->upload(b, d->one, &one, sizeof one) != PX_OK)
            return px_last_status();
        d->one_value = one;
    }
    /* constants: copied once (their values are fixed) */
    if (!d->consts) {
        size_t total = 0;
        for (int k = 0; k < s->n; k++)
            if (s->pn[k].node->kind == PX_NODE_CONSTANT) {
                d->const_off[k] = total;
                total += px_align_up(bytes_of(s->pn[k].node->value));
            }
        if (b->ops->alloc(b, total, &d->consts) != PX_OK) return px_last_status();
        for (int k = 0; k < s->n; k++) {
            const px_tensor *v = s->pn[k].node->value;
            if (s->pn[k].node->kind == PX_NODE_CONSTANT &&
                b->ops->upload(b, (char *)d->consts + d->const_off[k], v->data, bytes_of(v)) != PX_OK)
                return px_last_status();
        }
    }
    /* ops the device lacks: host copies for these shapes, and a warning the first time */
    size_t staging = 0;
    d->any_on_cpu = d->has_random = false;
    for (int k = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        free_host_op(p->host);
        p->host = NULL;
        if (p->node->kind != PX_NODE_OP) continue;
        if (p->node->op->flags & PX_OPF_RANDOM) d->has_random = true;
        if (!p->on_cpu) continue;
        d->any_on_cpu = true;
        bool lacks_forward = !b->ops->supports(b, &p->k, false);
        px_backend_warn_fallback(b, p->node->op->name, !lacks_forward);
        if (!(p->host = make_host_op(p))) return px_set_error(PX_ERR_NOMEM, "session: out of memory for host copies");
        for (int j = 0; j < p->node->n_inputs; j++)
            if (p->gin[j] && bytes_of(p->in[j]) > staging) staging = bytes_of(p->in[j]);
    }
    if (staging > d->staging_bytes) {
        if (d->staging) b->ops->free(b, d->staging);
        d->staging = NULL;
        d->staging_bytes = 0;
        if (b->ops->alloc(b, staging, (void **)&d->staging) != PX_OK) return px_last_status();
        d->staging_bytes = staging;
    }
    return PX_OK;
}

px_status px_sd_bind(px_session *s) {
    struct px_session_device *d = s->dev;
    float *params = px_graph_params_on(s->g, s->b);
    if (!params) return px_last_status();
    d->params = params;
    for (int k = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        if (p->node->kind == PX_NODE_VARIABLE) p->val.data = params + p->node->param_offset;
        else if (p->node->kind == PX_NODE_CONSTANT) p->val.data = (char *)d->consts + d->const_off[k];
    }
    for (int k = 0; k < s->n; k++) /* aliases follow their buffers (in order: a chain resolves to its owner) */
        if (s->pn[k].alias_of >= 0) s->pn[k].val.data = s->pn[s->pn[k].alias_of].val.data;
    return PX_OK;
}

px_status px_sd_feed(px_session *s, plan_node *p, const px_tensor *value) {
    return s->b->ops->upload(s->b, p->val.data, value->data, bytes_of(value));
}

px_status px_sd_seed_loss_grad(px_session *s, plan_node *p) {
    return s->b->ops->copy(s->b, p->grad.data, s->dev->one, sizeof(float));
}

/* ---------------------------------------------------- ops on the CPU ---- */

static px_status download_inputs(px_session *s, plan_node *p) {
    px_backend *b = s->b;
    for (int j = 0; j < p->node->n_inputs; j++)
        if (b->ops->download(b, p->host->in[j].data, p->in[j]->data, bytes_of(p->in[j])) != PX_OK)
            return px_last_status();
    return PX_OK;
}

px_status px_sd_forward_on_cpu(px_session *s, plan_node *p) {
    px_backend *b = s->b, *cpu = px_backend_cpu();
    px_host_op *h = p->host;
    if (download_inputs(s, p) != PX_OK) return px_last_status();
    px_kernel k = p->k;
    k.in = h->in_ptrs;
    k.out = &h->out;
    k.state = h->state;
    k.state_bytes = p->cpu_state_bytes;
    k.work = NULL;
    k.work_bytes = 0;
    if (cpu->ops->forward(cpu, &k) != PX_OK) return px_last_status();
    /* an op that updates some inputs in place (batch norm's moving statistics) sends them back */
    if (p->node->op->flags & PX_OPF_WRITES_INPUTS)
        for (int j = 0; j < p->node->n_inputs; j++)
            if (p->node->inputs[j]->kind == PX_NODE_VARIABLE &&
                b->ops->upload(b, p->in[j]->data, h->in[j].data, bytes_of(p->in[j])) != PX_OK)
                return px_last_status();
    return b->ops->upload(b, p->val.data, h->out.data, bytes_of(&p->val));
}

px_status px_sd_backward_on_cpu(px_session *s, plan_node *p) {
    px_backend *b = s->b, *cpu = px_backend_cpu();
    px_host_op *h = p->host;
    if (download_inputs(s, p) != PX_OK || b->ops->download(b, h->out.data, p->val.data, bytes_of(&p->val)) != PX_OK ||
        b->ops->download(b, h->gout.data, p->grad.data, bytes_of(&p->grad)) != PX_OK)
        return px_last_status();
    for (int j = 0; j < p->node->n_inputs; j++)
        if (p->gin[j]) memset(h->gin[j].data, 0, bytes_of(&h->gin[j]));
    px_kernel k = p->k;
    k.in = h->in_ptrs;
    k.out = &h->out;
    k.gout = &h->gout;
    k.gin = h->gin_ptrs;
    k.fresh = NULL; /* the host gradients start at zero and are added to */
    k.state = h->state;
    k.state_bytes = p->cpu_state_bytes;
    k.work = NULL;
    k.work_bytes = 0;
    if (cpu->ops->backward(cpu, &k) != PX_OK) return px_last_status();
    for (int j = 0; j < p->node->n_inputs; j++) {
        if (!p->gin[j]) continue;
        size_t bytes = bytes_of(p->in[j]);
        px_status st;
        if (p->fresh[j]) { /* this op writes the gradient first: it is stored */
            st = b->ops->upload(b, p->gin[j]->data, h->gin[j].data, bytes);
        } else {
            st = b->ops->upload(b, s->dev->staging, h->gin[j].data, bytes);
            if (st == PX_OK) st = b->ops->accumulate(b, p->gin[j]->data, s->dev->staging, (int64_t)(bytes / 4));
        }
        if (st != PX_OK) return st;
    }
    return PX_OK;
}

/* ------------------------------------------------------------ the run ---- */

void px_sd_forget_step(px_session *s) {
    struct px_session_device *d = s->dev;
    if (!d) return;
    if (d->step) s->b->ops->step_free(s->b, d->step);
    d->step = NULL;
    d->same_runs = 0;
}

/* PX_RECORD_STEPS=0 turns recording off (to compare, or to debug a device). */
static bool recording_allowed(void) {
    const char *e = getenv("PX_RECORD_STEPS");
    return !(e && strcmp(e, "0") == 0);
}

px_status px_sd_run_compute(px_session *s, px_status (*compute)(px_session *s)) {
    struct px_session_device *d = s->dev;
    px_backend *b = s->b;
    /* the parameters: current on the device (the host's may have changed), and bound where they are */
    float *params = px_graph_params_on(s->g, b);
    if (!params) return px_last_status();
    if (params != d->params) {
        if (px_sd_bind(s) != PX_OK) return px_last_status();
        px_sd_forget_step(s);
    }
    /* the loss gradient starts at this replica's share of the batch (a recorded
     * step reads it from device memory, so a new share needs no new recording) */
    float seed = s->replicas ? s->replicas->loss_share : 1.0f;
    if (seed != d->one_value) {
        if (b->ops->upload(b, d->one, &seed, sizeof seed) != PX_OK) return px_last_status();
        d->one_value = seed;
    }
    /* A recorded step replays the same launches with the same arguments: not
     * with ops on the CPU (host copies), nor with random ops in training (a
     * new seed every run). Recorded on the second run of an unchanged plan. */
    bool recordable = b->ops->record_begin && !d->any_on_cpu && !(s->training && d->has_random) &&
                      !d->record_failed && recording_allowed();
    if (!recordable) return compute(s);
    if (d->step) return b->ops->replay(b, d->step);
    if (++d->same_runs < 2) return compute(s);
    /* recording keeps the work without running it; should the device refuse
     * to record some of it (a library call that cannot be captured), the run
     * is done op by op, now and from then on */
    void *step = NULL;
    px_status st = b->ops->record_begin(b);
    if (st == PX_OK) {
        px_status run = compute(s);
        st = b->ops->record_end(b, &step);
        if (st == PX_OK) st = run;
    }
    if (st != PX_OK) {
        if (step) b->ops->step_free(b, step);
        d->record_failed = true;
        px_clear_error();
        return compute(s);
    }
    d->step = step;
    return b->ops->replay(b, step);
}

/* Ops that update variables (batch normalization's moving statistics, in
 * training) wrote the device copy. While the host's parameters are the true
 * ones (no optimizer step ran on the device), those few values are copied
 * back at once, so the host stays true and a pointer the caller holds stays
 * good; once the device's are the true ones they stay there. */
px_status px_sd_after_run(px_session *s) {
    if (!s->training || s->g->dev_params.dev_true) return PX_OK;
    for (int k = 0; k < s->n; k++) {
        plan_node *p = &s->pn[k];
        if (p->node->kind != PX_NODE_OP || !(p->node->op->flags & PX_OPF_WRITES_INPUTS)) continue;
        for (int j = 0; j < p->node->n_inputs; j++) {
            const px_node *v = p->node->inputs[j];
            if (v->kind == PX_NODE_VARIABLE &&
                s->b->ops->download(s->b, s->g->params + v->param_offset, p->in[j]->data, bytes_of(p->in[j])) != PX_OK)
                return px_last_status();
        }
    }
    return PX_OK;
}

/* ------------------------------------------------------ values out ---- */

/* A host tensor shaped like t, reusing *host when it fits. */
static px_tensor *host_like(px_tensor **host, const px_tensor *t) {
    if (*host && (*host)->dtype == t->dtype && px_shape_equal(px_tensor_shape(*host), px_tensor_shape(t)))
        return *host;
    px_tensor_free(*host);
    return *host = px_tensor_new(t->dtype, px_tensor_shape(t));
}

const px_tensor *px_sd_fetch(const px_session *cs, int i) {
    px_session *s = (px_session *)cs; /* the host copies are a cache: logically const */
    struct px_session_device *d = s->dev;
    if (!d || !s->planned) {
        px_set_error(PX_ERR_STATE, "session_fetch: run the session first");
        return NULL;
    }
    const px_tensor *v = &s->pn[s->fetch_local[i]].val;
    px_tensor *h = host_like(&d->fetch_host[i], v);
    if (!h) return NULL;
    if (d->fetch_run[i] != s->run_count) {
        if (s->b->ops->download(s->b, h->data, v->data, bytes_of(v)) != PX_OK) return NULL;
        d->fetch_run[i] = s->run_count;
    }
    return h;
}

const px_tensor *px_sd_gradient(const px_session *cs, plan_node *p) {
    px_session *s = (px_session *)cs;
    px_tensor *h = host_like(&p->host_grad, &p->grad);
    if (!h || s->b->ops->download(s->b, h->data, p->grad.data, bytes_of(&p->grad)) != PX_OK) return NULL;
    return h;
}

const float *px_sd_param_grads(const px_session *cs) {
    px_session *s = (px_session *)cs;
    struct px_session_device *d = s->dev;
    if (!d || !s->planned) {
        px_set_error(PX_ERR_STATE, "session_param_grads: run the session first");
        return NULL;
    }
    size_t bytes = (size_t)s->n_param_grads * sizeof(float);
    if (!d->param_grads_host && !(d->param_grads_host = px_aligned_calloc(bytes))) {
        px_set_error(PX_ERR_NOMEM, "session: out of memory");
        return NULL;
    }
    if (d->param_grads_run != s->run_count) {
        if (s->b->ops->download(s->b, d->param_grads_host, s->param_grads, bytes) != PX_OK) return NULL;
        d->param_grads_run = s->run_count;
    }
    return d->param_grads_host;
}

void px_sd_free(px_session *s) {
    struct px_session_device *d = s->dev;
    for (int k = 0; k < s->n; k++) {
        free_host_op(s->pn[k].host);
        s->pn[k].host = NULL;
    }
    if (!d) return;
    px_backend *b = s->b;
    px_sd_forget_step(s);
    if (d->consts) b->ops->free(b, d->consts);
    if (d->one) b->ops->free(b, d->one);
    if (d->staging) b->ops->free(b, d->staging);
    for (int i = 0; d->fetch_host && i < s->n_fetches; i++) px_tensor_free(d->fetch_host[i]);
    free(d->fetch_host);
    free(d->fetch_run);
    free(d->const_off);
    px_aligned_free(d->param_grads_host);
    free(d);
    s->dev = NULL;
}
