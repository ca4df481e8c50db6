/* tf.data's shuffle buffer: buffer_size examples are held; each one given out
 * is drawn at random from the buffer, and its place is taken by the next
 * example of the source. The generator is seeded once, so every epoch has a
 * new order and the same seed gives the same orders. */
#include <stdlib.h>
#include <string.h>

#include "data/source_internal.h"

typedef struct shuffle_source {
    px_source base;
    int64_t buffer_size;
    px_rng rng;
    px_pull pull;
    px_batch_buf buf; /* the held examples, in the spec's dtypes */
    int64_t filled;
    bool drained;     /* the source has no more examples this epoch */
} shuffle_source;

static px_status sh_start(px_source *s, const px_plan *plan) {
    shuffle_source *sh = (shuffle_source *)s;
    if (!sh->buf.cap) {
        int64_t cap = s->up->size >= 0 && s->up->size < sh->buffer_size ? s->up->size : sh->buffer_size;
        if (px_batch_buf_init(&sh->buf, &s->spec, cap, NULL, NULL, true, false) != PX_OK) return px_last_status();
    }
    sh->filled = 0;
    sh->drained = false;
    return px_pull_start(&sh->pull, s->up, plan);
}

/* Fills the free places of the buffer from the source. */
static px_status top_up(shuffle_source *sh) {
    while (!sh->drained && sh->filled < sh->buf.cap) {
        px_batch free_rows;
        px_batch_rows(&sh->buf.b, sh->filled, sh->buf.cap - sh->filled, &free_rows);
        int64_t got = 0;
        px_status st = px_pull_next(&sh->pull, &free_rows, &got);
        if (st != PX_OK) return st;
        if (got == 0) sh->drained = true;
        sh->filled += got;
    }
    return PX_OK;
}

static px_status sh_next(px_source *s, const px_batch *dst, int64_t *rows) {
    shuffle_source *sh = (shuffle_source *)s;
    *rows = 0;
    int64_t want = s->batched ? s->batch_size : dst->rows;
    if (want > dst->rows) want = dst->rows;
    px_batch out = *dst;
    while (*rows < want) {
        if (top_up(sh) != PX_OK) return px_last_status();
        if (sh->filled == 0) break;
        int64_t j = (int64_t)px_rng_below(&sh->rng, (uint32_t)sh->filled);
        if (px_batch_copy(&sh->buf.b, j, &out, *rows, 1, "shuffle") != PX_OK) return px_last_status();
        if (out.index) ((int64_t *)out.index)[*rows] = sh->buf.index[j];
        /* the last held example takes the free place */
        int64_t last = sh->filled - 1;
        if (j != last) {
            if (px_batch_copy(&sh->buf.b, last, &sh->buf.b, j, 1, "shuffle") != PX_OK) return px_last_status();
            sh->buf.index[j] = sh->buf.index[last];
        }
        sh->filled--;
        (*rows)++;
    }
    return PX_OK;
}

static void sh_end_epoch(px_source *s, int epoch) {
    if (s->up->ops->end_epoch) s->up->ops->end_epoch(s->up, epoch);
}

static void sh_destroy(px_source *s) {
    shuffle_source *sh = (shuffle_source *)s;
    px_batch_buf_free(&sh->buf);
    px_pull_free(&sh->pull);
}

static const px_source_ops shuffle_ops = {.name = "shuffle", .start = sh_start, .next = sh_next,
                                          .end_epoch = sh_end_epoch, .destroy = sh_destroy};

px_source *px_source_shuffle(px_source *up, int64_t buffer_size, uint64_t seed) {
    if (!up || buffer_size < 1 || buffer_size > ((int64_t)1 << 31)) {
        if (up) px_set_error(PX_ERR_ARG, "shuffle: buffer_size is %lld (1 to 2^31)", (long long)buffer_size);
        else px_set_error(PX_ERR_ARG, "shuffle: the source is NULL");
        px_source_free(up);
        return NULL;
    }
    shuffle_source *sh = (shuffle_source *)px_source_alloc(sizeof *sh, &shuffle_ops, "shuffle");
    if (!sh) {
        px_source_free(up);
        return NULL;
    }
    px_source_adopt(&sh->base, up);
    sh->buffer_size = buffer_size;
    sh->rng = px_rng_seeded(seed);
    return &sh->base;
}
