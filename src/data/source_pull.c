/* Reading any source in order, in as many rows as the caller has room for:
 * what the steps that stream (shuffle, batch, cache of a stream) use to read
 * the source before them, whatever kind it is. */
#include <stdlib.h>
#include <string.h>

#include "data/source_internal.h"

px_status px_pull_start(px_pull *p, px_source *s, const px_plan *plan) {
    p->s = s;
    p->pos = 0;
    p->held_rows = p->held_pos = 0;
    if (s->ops->start) return s->ops->start(s, plan);
    return PX_OK;
}

void px_pull_free(px_pull *p) {
    px_batch_buf_free(&p->held);
    free(p->idx);
    memset(p, 0, sizeof *p);
}

/* Examples [pos, pos + n) of a source with random access. */
static px_status read_range(px_pull *p, const px_batch *dst, int64_t n) {
    if (n > p->idx_cap) {
        int64_t *idx = realloc(p->idx, (size_t)n * sizeof *idx);
        if (!idx) return px_set_error(PX_ERR_NOMEM, "out of memory reading %lld examples", (long long)n);
        p->idx = idx, p->idx_cap = n;
    }
    for (int64_t i = 0; i < n; i++) p->idx[i] = p->pos + i;
    px_batch d = *dst;
    if (d.index) memcpy((int64_t *)d.index, p->idx, (size_t)n * sizeof *p->idx);
    px_status st = p->s->ops->read(p->s, p->idx, n, &d);
    if (st == PX_OK) p->pos += n;
    return st;
}

/* A whole batch of a source that makes its own, into p->held. */
static px_status hold_batch(px_pull *p, const px_batch *like) {
    px_source *s = p->s;
    if (!p->held.cap) {
        px_dtype xd[PX_SOURCE_MAX_ARRAYS], yd[PX_SOURCE_MAX_ARRAYS];
        for (int i = 0; i < like->n_x; i++) xd[i] = like->x[i].dtype;
        for (int i = 0; i < like->n_y; i++) yd[i] = like->y[i].dtype;
        px_source_spec sp = s->spec;
        sp.n_y = like->n_y;
        if (px_batch_buf_init(&p->held, &sp, s->batch_size, xd, yd, like->n_y > 0, like->weights != NULL) != PX_OK)
            return px_last_status();
    }
    p->held_pos = p->held_rows = 0;
    int64_t rows = 0;
    px_status st;
    if (s->ops->read_batch) {
        if (p->pos >= s->batches) return PX_OK;
        st = s->ops->read_batch(s, p->pos, &p->held.b, &rows);
        for (int64_t i = 0; i < rows; i++) p->held.index[i] = p->pos * s->batch_size + i;
        p->pos++;
    } else {
        st = s->ops->next(s, &p->held.b, &rows);
    }
    p->held_rows = rows;
    return st;
}

px_status px_pull_next(px_pull *p, const px_batch *dst, int64_t *rows) {
    px_source *s = p->s;
    *rows = 0;
    int64_t room = dst->rows;
    if (s->ops->read) {
        int64_t n = s->size - p->pos < room ? s->size - p->pos : room;
        if (n <= 0) return PX_OK;
        px_status st = read_range(p, dst, n);
        if (st == PX_OK) *rows = n;
        return st;
    }
    if (!s->batched) {
        /* a stream of examples fills any number of rows */
        return s->ops->next(s, dst, rows);
    }
    if (p->held_pos == p->held_rows) {
        px_status st = hold_batch(p, dst);
        if (st != PX_OK || p->held_rows == 0) return st;
    }
    int64_t n = p->held_rows - p->held_pos < room ? p->held_rows - p->held_pos : room;
    px_batch d = *dst;
    px_status st = px_batch_copy(&p->held.b, p->held_pos, &d, 0, n, s->ops->name);
    if (st == PX_OK) p->held_pos += n, *rows = n;
    return st;
}
