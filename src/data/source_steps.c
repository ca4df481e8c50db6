/* The steps that keep their source's order: map (a C function per example,
 * or per batch after batch), batch, take (a range of examples) and prefetch
 * (a mark the reader acts on: see reader.c). Map and take keep random access. */
#include <stdlib.h>
#include <string.h>

#include "data/source_internal.h"

/* ---- map ---- */

typedef struct map_source {
    px_source base;
    px_map_fn fn;
    void *user;
    px_batch_buf in, out; /* the source's examples; fn's results when dst wants other dtypes */
    px_pull pull;
    bool same_targets;    /* targets and weights are copied from in to out before fn */
} map_source;

/* Makes `bb` hold at least n rows of spec (in its own dtypes). */
static px_status room_for(px_batch_buf *bb, const px_source_spec *spec, int64_t n) {
    if (bb->cap >= n) return PX_OK;
    px_batch_buf_free(bb);
    return px_batch_buf_init(bb, spec, n, NULL, NULL, true, spec->weights);
}

/* fn over rows [0, n) of m->in.b, into dst: one call per example before batch(),
 * one for the whole batch after it. */
static px_status map_apply(map_source *m, int64_t n, const px_batch *dst) {
    px_source *s = &m->base;
    px_batch want = *dst;
    bool direct = px_batch_fits_spec(&want, &s->spec);
    if (!direct && room_for(&m->out, &s->spec, n) != PX_OK) return px_last_status();
    const px_batch *target = direct ? dst : &m->out.b;
    int64_t step = s->up->batched ? n : 1;
    for (int64_t r = 0; r < n; r += step) {
        px_batch in, out;
        px_batch_rows(&m->in.b, r, step, &in);
        px_batch_rows(target, r, step, &out);
        if (m->same_targets) {
            /* targets and weights as they come, so fn may leave them */
            px_batch ys = in, yd = out;
            ys.n_x = yd.n_x = 0;
            yd.index = NULL;
            if (px_batch_copy(&ys, 0, &yd, 0, step, "map") != PX_OK) return px_last_status();
        } else if (out.weights) {
            for (int64_t i = 0; i < step; i++) out.weights[i] = in.weights ? in.weights[i] : 1.0f;
        }
        out.index = in.index;
        px_status st = m->fn(m->user, &in, &out);
        if (st != PX_OK) {
            const char *e = px_last_error();
            if (!e || !*e) px_set_error(st, "map: the function failed");
            return st;
        }
    }
    if (!direct) {
        px_batch d = *dst;
        return px_batch_copy(&m->out.b, 0, &d, 0, n, "map");
    }
    return PX_OK;
}

static px_status map_read(px_source *s, const int64_t *idx, int64_t n, const px_batch *dst) {
    map_source *m = (map_source *)s;
    if (room_for(&m->in, &s->up->spec, n) != PX_OK) return px_last_status();
    px_batch in;
    px_batch_rows(&m->in.b, 0, n, &in);
    px_status st = s->up->ops->read(s->up, idx, n, &in);
    if (st != PX_OK) return st;
    memcpy(m->in.index, idx, (size_t)n * sizeof *idx);
    return map_apply(m, n, dst);
}

static px_status map_read_batch(px_source *s, int64_t k, const px_batch *dst, int64_t *rows) {
    map_source *m = (map_source *)s;
    if (room_for(&m->in, &s->up->spec, s->up->batch_size) != PX_OK) return px_last_status();
    px_status st = s->up->ops->read_batch(s->up, k, &m->in.b, rows);
    for (int64_t i = 0; i < *rows; i++) m->in.index[i] = k * s->up->batch_size + i;
    return st != PX_OK ? st : map_apply(m, *rows, dst);
}

static px_status map_start(px_source *s, const px_plan *plan) {
    map_source *m = (map_source *)s;
    return px_pull_start(&m->pull, s->up, plan);
}

static px_status map_next(px_source *s, const px_batch *dst, int64_t *rows) {
    map_source *m = (map_source *)s;
    int64_t want = s->batched ? s->batch_size : dst->rows;
    if (room_for(&m->in, &s->up->spec, want) != PX_OK) return px_last_status();
    px_batch in;
    px_batch_rows(&m->in.b, 0, want, &in);
    px_status st = px_pull_next(&m->pull, &in, rows);
    return st != PX_OK || *rows == 0 ? st : map_apply(m, *rows, dst);
}

static void map_end_epoch(px_source *s, int epoch) {
    if (s->up->ops->end_epoch) s->up->ops->end_epoch(s->up, epoch);
}

static void map_destroy(px_source *s) {
    map_source *m = (map_source *)s;
    px_batch_buf_free(&m->in);
    px_batch_buf_free(&m->out);
    px_pull_free(&m->pull);
}

static const px_source_ops map_read_ops = {.name = "map", .read = map_read, .end_epoch = map_end_epoch,
                                           .destroy = map_destroy};
static const px_source_ops map_batch_ops = {.name = "map", .read_batch = map_read_batch,
                                            .end_epoch = map_end_epoch, .destroy = map_destroy};
static const px_source_ops map_stream_ops = {.name = "map", .start = map_start, .next = map_next,
                                             .end_epoch = map_end_epoch, .destroy = map_destroy};

static bool same_shapes(const px_shape *a, const px_shape *b, int n) {
    for (int i = 0; i < n; i++)
        if (!px_shape_equal(a[i], b[i])) return false;
    return true;
}

px_source *px_source_map(px_source *up, px_map_fn fn, void *user, const px_source_spec *out_spec) {
    if (!up || !fn) {
        px_source_free(up);
        if (up || !fn) px_set_error(PX_ERR_ARG, "map: %s is NULL", up ? "the function" : "the source");
        return NULL;
    }
    if (out_spec && px_spec_check(out_spec, "map: out_spec") != PX_OK) {
        px_source_free(up);
        return NULL;
    }
    const px_source_ops *ops = up->ops->read ? &map_read_ops : up->ops->read_batch ? &map_batch_ops : &map_stream_ops;
    map_source *m = (map_source *)px_source_alloc(sizeof *m, ops, "map");
    if (!m) {
        px_source_free(up);
        return NULL;
    }
    px_source_adopt(&m->base, up);
    if (out_spec) m->base.spec = *out_spec;
    const px_source_spec *a = &up->spec, *b = &m->base.spec;
    m->same_targets = a->n_y == b->n_y && same_shapes(a->y, b->y, a->n_y) && a->weights == b->weights;
    m->fn = fn;
    m->user = user;
    return &m->base;
}

/* ---- batch ---- */

typedef struct batch_source {
    px_source base;
    bool drop_remainder;
    px_pull pull;
} batch_source;

static px_status batch_start(px_source *s, const px_plan *plan) {
    batch_source *b = (batch_source *)s;
    px_plan p = *plan;
    p.batch_size = s->batch_size;
    return px_pull_start(&b->pull, s->up, &p);
}

static px_status batch_next(px_source *s, const px_batch *dst, int64_t *rows) {
    batch_source *b = (batch_source *)s;
    *rows = 0;
    if (dst->rows < s->batch_size)
        return px_set_error(PX_ERR_ARG, "batch: room for %lld rows; the batch size is %d", (long long)dst->rows,
                            s->batch_size);
    while (*rows < s->batch_size) {
        px_batch part;
        px_batch_rows(dst, *rows, s->batch_size - *rows, &part);
        int64_t got = 0;
        px_status st = px_pull_next(&b->pull, &part, &got);
        if (st != PX_OK) return st;
        if (got == 0) break;
        *rows += got;
    }
    if (b->drop_remainder && *rows < s->batch_size) *rows = 0;
    return PX_OK;
}

static void batch_destroy(px_source *s) { px_pull_free(&((batch_source *)s)->pull); }

static const px_source_ops batch_ops = {.name = "batch", .start = batch_start, .next = batch_next,
                                        .end_epoch = map_end_epoch, .destroy = batch_destroy};

px_source *px_source_batch(px_source *up, int batch_size, bool drop_remainder) {
    if (!up || batch_size < 1) {
        if (up) px_set_error(PX_ERR_ARG, "batch: batch_size is %d; it must be >= 1", batch_size);
        else px_set_error(PX_ERR_ARG, "batch: the source is NULL");
        px_source_free(up);
        return NULL;
    }
    batch_source *b = (batch_source *)px_source_alloc(sizeof *b, &batch_ops, "batch");
    if (!b) {
        px_source_free(up);
        return NULL;
    }
    px_source *s = &b->base;
    px_source_adopt(s, up);
    b->drop_remainder = drop_remainder;
    s->batched = true;
    s->batch_size = batch_size;
    s->batches = up->size < 0 ? -1 : drop_remainder ? up->size / batch_size : (up->size + batch_size - 1) / batch_size;
    if (up->size >= 0 && drop_remainder) s->size = s->batches * batch_size;
    return s;
}

/* ---- take ---- */

typedef struct take_source {
    px_source base;
    int64_t start;
    int64_t *idx;
    int64_t cap;
} take_source;

static px_status take_read(px_source *s, const int64_t *idx, int64_t n, const px_batch *dst) {
    take_source *t = (take_source *)s;
    if (n > t->cap) {
        int64_t *v = realloc(t->idx, (size_t)n * sizeof *v);
        if (!v) return px_set_error(PX_ERR_NOMEM, "take: out of memory");
        t->idx = v, t->cap = n;
    }
    for (int64_t i = 0; i < n; i++) t->idx[i] = idx[i] + t->start;
    return s->up->ops->read(s->up, t->idx, n, dst);
}

static bool take_view(const px_source *s, int64_t start, int64_t n, const px_batch *want, px_batch *out) {
    const take_source *t = (const take_source *)s;
    return s->up->ops->view && s->up->ops->view(s->up, start + t->start, n, want, out);
}

static void take_destroy(px_source *s) { free(((take_source *)s)->idx); }

static const px_source_ops take_ops = {.name = "take", .read = take_read, .view = take_view,
                                       .end_epoch = map_end_epoch, .destroy = take_destroy};

px_source *px_source_take(px_source *up, int64_t start, int64_t stop) {
    if (!up || !up->ops->read || start < 0 || stop < start || stop > up->size) {
        if (!up) px_set_error(PX_ERR_ARG, "take: the source is NULL");
        else if (!up->ops->read)
            px_set_error(PX_ERR_ARG, "take: a %s source has no random access to its examples", up->ops->name);
        else
            px_set_error(PX_ERR_ARG, "take: examples [%lld, %lld) of a source of %lld", (long long)start, (long long)stop,
                         (long long)up->size);
        px_source_free(up);
        return NULL;
    }
    take_source *t = (take_source *)px_source_alloc(sizeof *t, &take_ops, "take");
    if (!t) {
        px_source_free(up);
        return NULL;
    }
    px_source_adopt(&t->base, up);
    t->base.size = stop - start;
    t->start = start;
    return &t->base;
}

/* ---- prefetch: everything is its source's; the reader reads ahead ---- */

static px_status pf_read(px_source *s, const int64_t *idx, int64_t n, const px_batch *dst) {
    return s->up->ops->read(s->up, idx, n, dst);
}
static px_status pf_read_batch(px_source *s, int64_t k, const px_batch *dst, int64_t *rows) {
    return s->up->ops->read_batch(s->up, k, dst, rows);
}
static px_status pf_start(px_source *s, const px_plan *plan) {
    return s->up->ops->start ? s->up->ops->start(s->up, plan) : PX_OK;
}
static px_status pf_next(px_source *s, const px_batch *dst, int64_t *rows) { return s->up->ops->next(s->up, dst, rows); }
static bool pf_view(const px_source *s, int64_t start, int64_t n, const px_batch *want, px_batch *out) {
    return s->up->ops->view && s->up->ops->view(s->up, start, n, want, out);
}

static const px_source_ops pf_read_ops = {.name = "prefetch", .read = pf_read, .view = pf_view,
                                          .end_epoch = map_end_epoch};
static const px_source_ops pf_batch_ops = {.name = "prefetch", .read_batch = pf_read_batch, .end_epoch = map_end_epoch};
static const px_source_ops pf_stream_ops = {.name = "prefetch", .start = pf_start, .next = pf_next,
                                            .end_epoch = map_end_epoch};

px_source *px_source_prefetch(px_source *up, int depth) {
    if (!up || depth < 0 || depth > 1024) {
        if (up) px_set_error(PX_ERR_ARG, "prefetch: depth %d (0 to 1024; 0: 2)", depth);
        else px_set_error(PX_ERR_ARG, "prefetch: the source is NULL");
        px_source_free(up);
        return NULL;
    }
    const px_source_ops *ops = up->ops->read ? &pf_read_ops : up->ops->read_batch ? &pf_batch_ops : &pf_stream_ops;
    px_source *s = px_source_alloc(sizeof *s, ops, "prefetch");
    if (!s) {
        px_source_free(up);
        return NULL;
    }
    px_source_adopt(s, up);
    s->prefetch = depth ? depth : 2;
    return s;
}
