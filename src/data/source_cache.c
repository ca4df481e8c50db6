/* tf.data's cache in memory: the examples are kept as the first epoch reads
 * them (in the spec's dtypes) and later reads come from there. Over a source
 * with random access every example is kept at its number as soon as it is
 * read; over a stream the first complete pass is recorded and replayed (a pass
 * stopped early is recorded again, as tf.data discards partial caches). */
#include <stdlib.h>
#include <string.h>

#include "data/source_internal.h"

typedef struct cache_source {
    px_source base;
    px_batch_buf store;  /* random access: one row per example; batches: batch_size rows per batch */
    uint8_t *have;       /* per example (or batch): kept */
    int64_t *batch_rows; /* per batch: its rows */
    px_batch_buf tmp;    /* what the source reads before it is kept */
    /* streams */
    px_pull pull;
    int64_t recorded, replay;
    bool complete, recording;
} cache_source;

static px_status store_init(cache_source *c, int64_t rows) {
    if (c->store.cap) return PX_OK;
    px_source *s = &c->base;
    if (px_batch_buf_init(&c->store, &s->spec, rows, NULL, NULL, true, false) != PX_OK) return px_last_status();
    int64_t slots = s->ops->read_batch ? s->batches : rows;
    c->have = calloc((size_t)(slots > 0 ? slots : 1), 1);
    if (s->ops->read_batch) c->batch_rows = calloc((size_t)(slots > 0 ? slots : 1), sizeof *c->batch_rows);
    if (!c->have || (s->ops->read_batch && !c->batch_rows))
        return px_set_error(PX_ERR_NOMEM, "cache: out of memory for %lld examples", (long long)rows);
    return PX_OK;
}

static px_status tmp_room(cache_source *c, int64_t n) {
    if (c->tmp.cap >= n) return PX_OK;
    px_batch_buf_free(&c->tmp);
    return px_batch_buf_init(&c->tmp, &c->base.spec, n, NULL, NULL, true, false);
}

/* ---- random access ---- */

static px_status cache_read(px_source *s, const int64_t *idx, int64_t n, const px_batch *dst) {
    cache_source *c = (cache_source *)s;
    if (store_init(c, s->size) != PX_OK || tmp_room(c, n) != PX_OK) return px_last_status();
    int64_t missing = 0, *want = c->tmp.index;
    for (int64_t i = 0; i < n; i++)
        if (!c->have[idx[i]]) want[missing++] = idx[i];
    if (missing) {
        px_batch t;
        px_batch_rows(&c->tmp.b, 0, missing, &t);
        t.index = NULL;
        px_status st = s->up->ops->read(s->up, want, missing, &t);
        if (st != PX_OK) return st;
        for (int64_t i = 0; i < missing; i++) {
            if (c->have[want[i]]) continue; /* asked for twice in one read */
            if (px_batch_copy(&c->tmp.b, i, &c->store.b, want[i], 1, "cache") != PX_OK) return px_last_status();
            c->have[want[i]] = 1;
        }
    }
    px_batch d = *dst;
    d.index = NULL;
    for (int64_t i = 0; i < n; i++)
        if (px_batch_copy(&c->store.b, idx[i], &d, i, 1, "cache") != PX_OK) return px_last_status();
    return PX_OK;
}

static px_status cache_read_batch(px_source *s, int64_t k, const px_batch *dst, int64_t *rows) {
    cache_source *c = (cache_source *)s;
    int64_t bs = s->batch_size;
    if (store_init(c, s->batches * bs) != PX_OK) return px_last_status();
    if (k < 0 || k >= s->batches) return px_set_error(PX_ERR_ARG, "cache: batch %lld of %lld", (long long)k,
                                                      (long long)s->batches);
    px_batch slot;
    px_batch_rows(&c->store.b, k * bs, bs, &slot);
    if (!c->have[k]) {
        slot.index = NULL;
        px_status st = s->up->ops->read_batch(s->up, k, &slot, &c->batch_rows[k]);
        if (st != PX_OK) return st;
        c->have[k] = 1;
    }
    *rows = c->batch_rows[k];
    px_batch d = *dst;
    d.index = NULL;
    return px_batch_copy(&slot, 0, &d, 0, *rows, "cache");
}

/* ---- streams ---- */

static px_status cache_start(px_source *s, const px_plan *plan) {
    cache_source *c = (cache_source *)s;
    c->replay = 0;
    if (c->complete) return PX_OK;
    c->recorded = 0;
    c->recording = true;
    return px_pull_start(&c->pull, s->up, plan);
}

/* Room in the store for `rows` rows, keeping what it holds. */
static px_status grow_store(cache_source *c, int64_t rows) {
    if (c->store.cap >= rows) return PX_OK;
    int64_t cap = c->store.cap ? c->store.cap : 1024;
    while (cap < rows) cap *= 2;
    px_batch_buf bigger;
    if (px_batch_buf_init(&bigger, &c->base.spec, cap, NULL, NULL, true, false) != PX_OK) return px_last_status();
    if (c->recorded && px_batch_copy(&c->store.b, 0, &bigger.b, 0, c->recorded, "cache") != PX_OK) {
        px_batch_buf_free(&bigger);
        return px_last_status();
    }
    if (c->recorded) memcpy(bigger.index, c->store.index, (size_t)c->recorded * sizeof *bigger.index);
    px_batch_buf_free(&c->store);
    c->store = bigger;
    return PX_OK;
}

static px_status cache_next(px_source *s, const px_batch *dst, int64_t *rows) {
    cache_source *c = (cache_source *)s;
    *rows = 0;
    int64_t want = s->batched ? s->batch_size : dst->rows;
    px_batch d = *dst;
    if (c->complete) {
        int64_t n = c->recorded - c->replay < want ? c->recorded - c->replay : want;
        if (n <= 0) return PX_OK;
        px_batch src;
        px_batch_rows(&c->store.b, c->replay, n, &src);
        if (px_batch_copy(&src, 0, &d, 0, n, "cache") != PX_OK) return px_last_status();
        if (d.index) memcpy((int64_t *)d.index, src.index, (size_t)n * sizeof *src.index);
        c->replay += n;
        *rows = n;
        return PX_OK;
    }
    if (grow_store(c, c->recorded + want) != PX_OK) return px_last_status();
    px_batch part;
    px_batch_rows(&c->store.b, c->recorded, want, &part);
    int64_t got = 0;
    px_status st = px_pull_next(&c->pull, &part, &got);
    if (st != PX_OK) return st;
    if (got == 0) {
        c->complete = c->recording;
        return PX_OK;
    }
    if (px_batch_copy(&part, 0, &d, 0, got, "cache") != PX_OK) return px_last_status();
    if (d.index) memcpy((int64_t *)d.index, part.index, (size_t)got * sizeof *part.index);
    c->recorded += got;
    *rows = got;
    return PX_OK;
}

static void cache_end_epoch(px_source *s, int epoch) {
    cache_source *c = (cache_source *)s;
    if (s->up->ops->end_epoch) s->up->ops->end_epoch(s->up, epoch);
    (void)c;
}

static void cache_destroy(px_source *s) {
    cache_source *c = (cache_source *)s;
    px_batch_buf_free(&c->store);
    px_batch_buf_free(&c->tmp);
    px_pull_free(&c->pull);
    free(c->have);
    free(c->batch_rows);
}

static const px_source_ops cache_read_ops = {.name = "cache", .read = cache_read, .end_epoch = cache_end_epoch,
                                             .destroy = cache_destroy};
static const px_source_ops cache_batch_ops = {.name = "cache", .read_batch = cache_read_batch,
                                              .end_epoch = cache_end_epoch, .destroy = cache_destroy};
static const px_source_ops cache_stream_ops = {.name = "cache", .start = cache_start, .next = cache_next,
                                               .end_epoch = cache_end_epoch, .destroy = cache_destroy};

px_source *px_source_cache(px_source *up) {
    if (!up) {
        px_set_error(PX_ERR_ARG, "cache: the source is NULL");
        return NULL;
    }
    const px_source_ops *ops = up->ops->read ? &cache_read_ops : up->ops->read_batch ? &cache_batch_ops
                                                                                     : &cache_stream_ops;
    cache_source *c = (cache_source *)px_source_alloc(sizeof *c, ops, "cache");
    if (!c) {
        px_source_free(up);
        return NULL;
    }
    px_source_adopt(&c->base, up);
    return &c->base;
}
