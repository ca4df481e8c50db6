/* Gradient buckets (src/dist/buckets.h): the trainable variables' ranges,
 * made once per parameter layout, and per run which are final and how far the
 * started sums reach. */
#include <stdlib.h>
#include <string.h>

#include "dist/buckets.h"

typedef struct var_range {
    int64_t lo, hi;
} var_range;

static int by_offset(const void *a, const void *b) {
    const var_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void px_buckets_free(px_buckets *b) {
    free(b->lo);
    free(b->hi);
    free(b->done);
    memset(b, 0, sizeof *b);
}

px_status px_buckets_build(px_buckets *b, px_graph *g, int64_t bytes) {
    px_buckets_free(b);
    int64_t n_params = 0, n_trainable = 0;
    (void)px_graph_params(g, &n_params, &n_trainable); /* collates the block if needed */
    int nodes = px_graph_node_count(g);
    var_range *v = malloc(((size_t)nodes + 1) * sizeof *v);
    b->lo = malloc(((size_t)nodes + 1) * sizeof *b->lo);
    b->hi = malloc(((size_t)nodes + 1) * sizeof *b->hi);
    b->done = calloc((size_t)nodes + 1, sizeof *b->done);
    if (!v || !b->lo || !b->hi || !b->done) {
        free(v);
        px_buckets_free(b);
        return px_set_error(PX_ERR_NOMEM, "distributed: out of memory for gradient buckets");
    }
    for (int i = 0; i < nodes; i++) {
        px_node *nd = px_graph_node(g, i);
        if (px_node_get_kind(nd) != PX_NODE_VARIABLE || !px_variable_trainable(nd)) continue;
        int64_t off = px_variable_offset(nd);
        v[b->n_vars++] = (var_range){off, off + px_shape_size(px_node_shape(nd))};
    }
    qsort(v, (size_t)b->n_vars, sizeof *v, by_offset);
    for (int i = 0; i < b->n_vars; i++) {
        b->lo[i] = v[i].lo;
        b->hi[i] = v[i].hi;
    }
    free(v);
    /* small buckets start early but each costs a round of latency; a sixteenth of
     * the block keeps the rounds few for large models and still cuts small ones */
    int64_t want = bytes > 0 ? bytes : n_trainable * (int64_t)sizeof(float) / 16;
    if (bytes <= 0 && want < (64 << 10)) want = 64 << 10;
    if (bytes <= 0 && want > (16 << 20)) want = 16 << 20;
    b->floats = want / (int64_t)sizeof(float) > 0 ? want / (int64_t)sizeof(float) : 1;
    b->n_trainable = n_trainable;
    px_buckets_reset(b);
    return PX_OK;
}

void px_buckets_reset(px_buckets *b) {
    memset(b->done, 0, (size_t)b->n_vars * sizeof *b->done);
    b->low = b->n_vars;
    b->started = b->n_trainable;
    b->n_started = 0;
}

static px_status start(px_buckets *b, const px_allreduce_ops *ar, float *block, int64_t from) {
    int64_t count = b->started - from;
    b->started = from;
    b->n_started++;
    b->last_count = count;
    return ar->start(ar->ctx, block + from, count);
}

px_status px_buckets_ready(px_buckets *b, const px_allreduce_ops *ar, float *block, int64_t offset, int64_t count,
                           bool start_now) {
    int lo = 0, hi = b->n_vars - 1, v = -1;
    while (lo <= hi) { /* the variable starting at offset */
        int mid = (lo + hi) / 2;
        if (b->lo[mid] == offset) {
            v = mid;
            break;
        }
        if (b->lo[mid] < offset) lo = mid + 1;
        else hi = mid - 1;
    }
    if (v < 0 || b->hi[v] - b->lo[v] != count || b->done[v])
        return px_set_error(PX_ERR_STATE, "distributed: gradient range [%lld, %lld) is not a trainable variable's "
                            "or was reported twice", (long long)offset, (long long)(offset + count));
    b->done[v] = true;
    while (b->low > 0 && b->done[b->low - 1]) b->low--;
    int64_t floor = b->low < b->n_vars ? b->lo[b->low] : b->n_trainable;
    if (start_now && b->started - floor >= b->floats) return start(b, ar, block, floor);
    return PX_OK;
}

px_status px_buckets_start_rest(px_buckets *b, const px_allreduce_ops *ar, float *block) {
    return b->started > 0 ? start(b, ar, block, 0) : PX_OK;
}
