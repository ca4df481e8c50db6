/* A generator callback as a source: the C counterpart of Keras's Sequence,
 * whose batches are made on demand by number, in any order. */
#include <stdlib.h>
#include <string.h>

#include "data/source_internal.h"

typedef struct gen_source {
    px_source base;
    px_generator g;
    px_batch_buf scratch; /* the spec's dtypes, when a reader wants others */
} gen_source;

static px_status gen_read_batch(px_source *s, int64_t k, const px_batch *dst, int64_t *rows) {
    gen_source *gs = (gen_source *)s;
    *rows = 0;
    if (k < 0 || k >= gs->g.batches)
        return px_set_error(PX_ERR_ARG, "generator: batch %lld of %lld", (long long)k, (long long)gs->g.batches);
    /* the callback writes the spec's dtypes: straight into dst when they agree */
    bool direct = dst->rows >= gs->g.batch_size && px_batch_fits_spec(dst, &s->spec);
    if (!direct && !gs->scratch.cap &&
        px_batch_buf_init(&gs->scratch, &s->spec, gs->g.batch_size, NULL, NULL, true, false) != PX_OK)
        return px_last_status();
    px_batch b;
    px_batch_rows(direct ? dst : &gs->scratch.b, 0, gs->g.batch_size, &b);
    b.index = NULL;
    px_status st = gs->g.get(gs->g.user, k, &b);
    if (st != PX_OK) {
        const char *e = px_last_error();
        if (!e || !*e) px_set_error(st, "generator: batch %lld failed", (long long)k);
        return st;
    }
    if (b.rows < 0 || b.rows > gs->g.batch_size)
        return px_set_error(PX_ERR_ARG, "generator: batch %lld has %lld rows; batch_size is %d", (long long)k,
                            (long long)b.rows, gs->g.batch_size);
    *rows = b.rows;
    if (!direct) {
        px_batch out = *dst;
        out.index = NULL;
        if (px_batch_copy(&b, 0, &out, 0, b.rows, "generator") != PX_OK) return px_last_status();
    }
    return PX_OK;
}

static void gen_end_epoch(px_source *s, int epoch) {
    gen_source *gs = (gen_source *)s;
    if (gs->g.on_epoch_end) gs->g.on_epoch_end(gs->g.user, epoch);
}

static void gen_destroy(px_source *s) {
    gen_source *gs = (gen_source *)s;
    px_batch_buf_free(&gs->scratch);
    if (gs->g.destroy) gs->g.destroy(gs->g.user);
}

static const px_source_ops gen_ops = {
    .name = "generator", .read_batch = gen_read_batch, .end_epoch = gen_end_epoch, .destroy = gen_destroy};

px_source *px_source_generator(const px_generator *g) {
    if (!g || !g->get) {
        px_set_error(PX_ERR_ARG, "generator: no generator or no get() function");
        if (g && g->destroy) g->destroy(g->user);
        return NULL;
    }
    if (g->batches < 0 || g->batch_size < 1 || px_spec_check(&g->spec, "generator") != PX_OK) {
        if (g->batches < 0 || g->batch_size < 1)
            px_set_error(PX_ERR_ARG, "generator: %lld batches of batch_size %d (need >= 0 batches of >= 1 rows)",
                         (long long)g->batches, g->batch_size);
        if (g->destroy) g->destroy(g->user);
        return NULL;
    }
    gen_source *gs = (gen_source *)px_source_alloc(sizeof *gs, &gen_ops, "generator");
    if (!gs) {
        if (g->destroy) g->destroy(g->user);
        return NULL;
    }
    gs->g = *g;
    gs->base.spec = g->spec;
    gs->base.size = -1;
    gs->base.batches = g->batches;
    gs->base.batch_size = g->batch_size;
    gs->base.batched = true;
    return &gs->base;
}
