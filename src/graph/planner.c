/* The memory planner of sessions: every buffer of a plan (a value, a gradient,
 * an op's state) is an interval of steps with a size, placed first-fit in one
 * arena on the session's backend so that buffers whose intervals do not overlap
 * share memory, as ggml-alloc does for ggml graphs; then every view is pointed
 * at its place. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/planner.h"
#include "graph/session_internal.h"

static int by_start(const void *a, const void *b) {
    const px_interval *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->bytes > y->bytes ? -1 : x->bytes < y->bytes;
}

size_t px_place_intervals(px_interval *iv, int count) {
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
            px_interval *o = &iv[live[pos]];
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

void px_plan_set_view(px_tensor *t, px_dtype dtype, px_shape shape, void *data) {
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

px_status px_plan_memory(px_session *s) {
    int count = 0, n = s->n;
    px_interval *iv = calloc((size_t)3 * n + 1, sizeof *iv);
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
        if (p->has_val_buf) iv[count++] = (px_interval){bytes, p->val_start, p->val_end, &p->val_off};
        p->has_grad_buf = p->needs_grad && !p->grad_in_block && p->grad_alias_of < 0;
        if (p->has_grad_buf) iv[count++] = (px_interval){bytes, p->grad_start, p->grad_end, &p->grad_off};
        p->has_state_buf = p->state_bytes > 0;
        if (p->has_state_buf)
            iv[count++] = (px_interval){px_align_up(p->state_bytes), p->val_start,
                                     p->runs_backward ? 2 * n - 1 - k : k, &p->state_off};
    }
    size_t bytes = px_place_intervals(iv, count);
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

px_status px_plan_bind_views(px_session *s) {
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
            px_plan_set_view(&p->grad, PX_F32, shape, s->param_grads + nd->param_offset);
        else if (p->has_grad_buf)
            px_plan_set_view(&p->grad, PX_F32, shape, s->arena + p->grad_off);
        p->state = p->has_state_buf ? s->arena + p->state_off : NULL;
        p->k.state = p->state;
        p->k.state_bytes = p->state_bytes;
        p->k.work = s->work;
        p->k.work_bytes = s->work_bytes;
    }
    for (int k = 0; k < s->n; k++) /* gradients written in place share their owner's buffer */
        if (s->pn[k].grad_alias_of >= 0)
            px_plan_set_view(&s->pn[k].grad, PX_F32, px_tensor_shape(&s->pn[k].val),
                             s->pn[s->pn[k].grad_alias_of].grad.data);
    return s->b->host_memory ? PX_OK : px_sd_bind(s);
}
