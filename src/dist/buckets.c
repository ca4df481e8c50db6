/* Gradient buckets (src/dist/buckets.h): cut once per parameter layout, then
 * counted down as the backward pass reports variables final. Every replica runs
 * the same plan, so buckets complete, and their sums start, in the same order
 * on every replica, as collectives must. */
#include <stdlib.h>
#include <string.h>

#include "dist/buckets.h"

typedef struct var_range {
    int64_t off, len;
} var_range;

static int by_offset_desc(const void *a, const void *b) {
    const var_range *x = a, *y = b;
    return x->off < y->off ? 1 : x->off > y->off ? -1 : 0;
}

void px_buckets_free(px_buckets *b) {
    free(b->lo);
    free(b->hi);
    free(b->pending);
    free(b->started);
    memset(b, 0, sizeof *b);
}

px_status px_buckets_build(px_buckets *b, px_graph *g, int64_t bytes) {
    px_buckets_free(b);
    int64_t n_params = 0, n_trainable = 0;
    (void)px_graph_params(g, &n_params, &n_trainable); /* collates the block if needed */
    int nodes = px_graph_node_count(g), n_vars = 0;
    var_range *v = malloc(((size_t)nodes + 1) * sizeof *v);
    if (!v) return px_set_error(PX_ERR_NOMEM, "distributed: out of memory for gradient buckets");
    for (int i = 0; i < nodes; i++) {
        px_node *nd = px_graph_node(g, i);
        if (px_node_get_kind(nd) != PX_NODE_VARIABLE || !px_variable_trainable(nd)) continue;
        v[n_vars++] = (var_range){px_variable_offset(nd), px_shape_size(px_node_shape(nd))};
    }
    qsort(v, (size_t)n_vars, sizeof *v, by_offset_desc);
    size_t cap = (size_t)n_vars + 1;
    b->lo = malloc(cap * sizeof *b->lo);
    b->hi = malloc(cap * sizeof *b->hi);
    b->pending = malloc(cap * sizeof *b->pending);
    b->started = calloc(cap, sizeof *b->started);
    if (!b->lo || !b->hi || !b->pending || !b->started) {
        free(v);
        px_buckets_free(b);
        return px_set_error(PX_ERR_NOMEM, "distributed: out of memory for gradient buckets");
    }
    int64_t floats = bytes / (int64_t)sizeof(float) > 0 ? bytes / (int64_t)sizeof(float) : 1;
    for (int i = 0; i < n_vars;) {
        int64_t hi = v[i].off + v[i].len, lo = v[i].off;
        for (i++; i < n_vars && hi - lo < floats; i++) lo = v[i].off;
        b->lo[b->n] = lo;
        b->hi[b->n] = hi;
        b->n++;
    }
    free(v);
    b->n_trainable = n_trainable;
    px_buckets_reset(b);
    return PX_OK;
}

void px_buckets_reset(px_buckets *b) {
    for (int i = 0; i < b->n; i++) {
        b->pending[i] = b->hi[i] - b->lo[i];
        b->started[i] = false;
    }
}

static px_status start(px_buckets *b, const px_allreduce_ops *ar, float *block, int i) {
    b->started[i] = true;
    return ar->start(ar->ctx, block + b->lo[i], b->hi[i] - b->lo[i]);
}

px_status px_buckets_ready(px_buckets *b, const px_allreduce_ops *ar, float *block, int64_t offset, int64_t count,
                           bool start_now) {
    /* buckets are few and ordered by falling offsets: the last layers' come first */
    int i = 0;
    while (i < b->n && offset < b->lo[i]) i++;
    if (i == b->n || offset + count > b->hi[i])
        return px_set_error(PX_ERR_STATE, "distributed: gradient range [%lld, %lld) is outside the buckets",
                            (long long)offset, (long long)(offset + count));
    b->pending[i] -= count;
    if (b->pending[i] == 0 && start_now) return start(b, ar, block, i);
    return PX_OK;
}

px_status px_buckets_start_rest(px_buckets *b, const px_allreduce_ops *ar, float *block) {
    for (int i = 0; i < b->n; i++)
        if (!b->started[i] && start(b, ar, block, i) != PX_OK) return px_last_status();
    return PX_OK;
}
