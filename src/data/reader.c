/* The reader: any source in batches, as fit, evaluate and predict (and users)
 * take it. It draws the epoch's order (sources with random access), cuts
 * every batch into the replicas' shares (data-parallel training: each replica
 * reads only its rows of a source with random access), views in-memory arrays
 * in place when nothing needs converting, and under px_source_prefetch makes
 * the batches on a background thread, up to `depth` ahead, into a ring of
 * buffers, so reading and decoding overlap training. */
#include <pthread.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "data/source_internal.h"

enum { BY_EXAMPLE, BY_BATCH, STREAM };

/* What making one batch gave: a view into a ring buffer, or the end. */
typedef struct slot {
    px_batch_buf buf;
    px_batch out;
    int64_t global_rows, share_rows;
    bool end;
    px_status status;
    char msg[1024];
} slot;

struct px_reader {
    px_source *s;
    px_reader_config cfg;
    px_rng own_rng;
    int kind, batch;
    int64_t lo, n;        /* BY_EXAMPLE: examples [lo, lo + n) */
    int64_t steps;        /* -1: until the source ends */
    int64_t *order;       /* BY_EXAMPLE: example numbers; BY_BATCH: batch numbers */
    int64_t stream_pos;   /* STREAM: examples read this epoch */
    px_pull pull;
    slot *slots;
    int n_slots;
    int epoch, epochs_started;
    int64_t made, taken;  /* batches made and handed out this epoch */
    const slot *current;
    /* prefetching */
    int depth;
    bool threaded, thread_running, stop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* This replica's rows [*a, *b) of a batch of `rows`. */
static void share_of(const px_reader *r, int64_t rows, int64_t *a, int64_t *b) {
    int ranks = r->cfg.ranks > 1 ? r->cfg.ranks : 1, rank = r->cfg.ranks > 1 ? r->cfg.rank : 0;
    *a = rows * rank / ranks;
    *b = rows * (rank + 1) / ranks;
}

/* Cuts slot->out to this replica's share (a stand-in first row when empty). */
static void take_share(const px_reader *r, slot *sl, int64_t rows) {
    int64_t a, b;
    share_of(r, rows, &a, &b);
    sl->global_rows = rows;
    sl->share_rows = b - a;
    if (b == a) a = 0, b = rows > 0 ? 1 : 0;
    px_batch_rows(&sl->out, a, b - a, &sl->out);
}

/* Makes batch `step` of the epoch in `sl`. Runs on the reader's thread when
 * prefetching, so it touches nothing but the source and the slot. */
static px_status make_batch(px_reader *r, int64_t step, slot *sl) {
    px_source *s = r->s;
    sl->end = false;
    sl->out = sl->buf.b;
    /* a stream ends when it says so (its size, when known, only guides progress) */
    if (r->kind != STREAM && step >= r->steps) {
        sl->end = true;
        return PX_OK;
    }
    if (r->kind == BY_EXAMPLE) {
        int64_t g0 = step * r->batch, g1 = g0 + r->batch < r->n ? g0 + r->batch : r->n, a, b;
        share_of(r, g1 - g0, &a, &b);
        sl->global_rows = g1 - g0;
        sl->share_rows = b - a;
        if (a == b) b = a + 1; /* the stand-in row */
        int64_t cnt = b - a, *idx = sl->buf.index;
        for (int64_t i = 0; i < cnt; i++) idx[i] = r->order ? r->order[g0 + a + i] : r->lo + g0 + a + i;
        px_batch want;
        px_batch_rows(&sl->buf.b, 0, cnt, &want);
        if (!r->order && r->cfg.in_place && s->ops->view && s->ops->view(s, r->lo + g0 + a, cnt, &want, &sl->out)) {
            sl->out.index = idx;
            return PX_OK;
        }
        sl->out = want;
        return s->ops->read(s, idx, cnt, &sl->out);
    }
    int64_t rows = 0;
    px_status st;
    if (r->kind == BY_BATCH) {
        int64_t k = r->order ? r->order[step] : step;
        st = s->ops->read_batch(s, k, &sl->buf.b, &rows);
        for (int64_t i = 0; i < rows; i++) sl->buf.index[i] = k * s->batch_size + i;
    } else if (s->batched) {
        st = s->ops->next(s, &sl->buf.b, &rows);
        for (int64_t i = 0; i < rows; i++) sl->buf.index[i] = r->stream_pos + i;
    } else {
        /* a stream of examples: fill the batch */
        st = PX_OK;
        while (st == PX_OK && rows < r->batch) {
            px_batch part;
            px_batch_rows(&sl->buf.b, rows, r->batch - rows, &part);
            int64_t got = 0;
            if ((st = px_pull_next(&r->pull, &part, &got)) != PX_OK || got == 0) break;
            for (int64_t i = 0; i < got; i++) sl->buf.index[rows + i] = r->stream_pos + rows + i;
            rows += got;
        }
    }
    if (st != PX_OK) return st;
    r->stream_pos += rows;
    if (rows == 0) {
        sl->end = true;
        return PX_OK;
    }
    px_batch_rows(&sl->buf.b, 0, rows, &sl->out);
    take_share(r, sl, rows);
    return PX_OK;
}

static void record(slot *sl, px_status st) {
    sl->status = st;
    if (st != PX_OK) snprintf(sl->msg, sizeof sl->msg, "%s", px_last_error());
}

/* ---- the thread ---- */

static void *producer(void *arg) {
    px_reader *r = arg;
#ifdef _OPENMP
    /* batches made here overlap the training step, whose threads have the
     * cores: the gather's parallel loop (source_arrays.c) stays on this thread
     * rather than starting a second team of the default size beside them */
    omp_set_num_threads(1);
#endif
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->stop && r->made - r->taken >= r->depth) pthread_cond_wait(&r->cv, &r->mu);
        bool stop = r->stop;
        int64_t step = r->made;
        pthread_mutex_unlock(&r->mu);
        if (stop) break;
        slot *sl = &r->slots[step % r->n_slots];
        record(sl, make_batch(r, step, sl));
        bool last = sl->end || sl->status != PX_OK;
        pthread_mutex_lock(&r->mu);
        r->made++;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (last) break;
    }
    return NULL;
}

static void stop_thread(px_reader *r) {
    if (!r->thread_running) return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    r->thread_running = false;
}

void px_reader_stop(px_reader *r) {
    if (r) stop_thread(r);
}

/* ---- the API ---- */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

px_reader *px_reader_new_config(px_source *s, const px_reader_config *cfg) {
    if (!s || !cfg) {
        px_set_error(PX_ERR_ARG, "reader: the source is NULL");
        return NULL;
    }
    px_reader *r = calloc(1, sizeof *r);
    if (!r) {
        px_set_error(PX_ERR_NOMEM, "reader: out of memory");
        return NULL;
    }
    r->s = s;
    r->cfg = *cfg;
    r->own_rng = px_rng_seeded(cfg->seed);
    r->kind = s->ops->read ? BY_EXAMPLE : s->ops->read_batch ? BY_BATCH : STREAM;
    r->batch = s->batch_size > 0 ? s->batch_size : cfg->batch_size > 0 ? cfg->batch_size : 32;
    px_status st = PX_OK;
    if (r->kind == BY_EXAMPLE) {
        r->lo = cfg->range ? cfg->lo : 0;
        int64_t hi = cfg->range ? cfg->hi : s->size;
        if (r->lo < 0 || hi > s->size || hi < r->lo)
            st = px_set_error(PX_ERR_ARG, "reader: examples [%lld, %lld) of a source of %lld", (long long)r->lo,
                              (long long)hi, (long long)s->size);
        r->n = hi - r->lo;
        r->steps = ceil_div(r->n, r->batch);
        if (st == PX_OK && cfg->shuffle && !(r->order = malloc((size_t)(r->n ? r->n : 1) * sizeof *r->order)))
            st = px_set_error(PX_ERR_NOMEM, "reader: out of memory for the order of %lld examples", (long long)r->n);
    } else {
        if (cfg->range)
            st = px_set_error(PX_ERR_ARG, "reader: a %s source has no random access: a range of its examples (such as "
                              "a validation split) cannot be taken; give the validation data apart", s->ops->name);
        r->n = s->size;
        r->steps = r->kind == BY_BATCH || s->batched ? s->batches : s->size >= 0 ? ceil_div(s->size, r->batch) : -1;
        if (st == PX_OK && r->kind == BY_BATCH && cfg->shuffle &&
            !(r->order = malloc((size_t)(s->batches ? s->batches : 1) * sizeof *r->order)))
            st = px_set_error(PX_ERR_NOMEM, "reader: out of memory");
    }
    r->depth = cfg->no_prefetch ? 0 : s->prefetch;
    r->threaded = r->depth > 0;
    r->n_slots = r->threaded ? r->depth + 1 : 1;
    if (st == PX_OK && !(r->slots = calloc((size_t)r->n_slots, sizeof *r->slots)))
        st = px_set_error(PX_ERR_NOMEM, "reader: out of memory");
    for (int i = 0; st == PX_OK && i < r->n_slots; i++)
        st = px_batch_buf_init(&r->slots[i].buf, &s->spec, r->batch, cfg->x_dtype, cfg->y_dtype, cfg->with_y,
                               cfg->force_weights);
    if (st == PX_OK && r->threaded) {
        if (pthread_mutex_init(&r->mu, NULL) != 0) st = px_set_error(PX_ERR_NOMEM, "reader: cannot make a mutex");
        else if (pthread_cond_init(&r->cv, NULL) != 0) {
            pthread_mutex_destroy(&r->mu);
            st = px_set_error(PX_ERR_NOMEM, "reader: cannot make a condition variable");
        }
        if (st != PX_OK) r->threaded = false;
    }
    if (st != PX_OK) {
        px_reader_free(r);
        return NULL;
    }
    return r;
}

px_status px_reader_start_epoch(px_reader *r, int epoch) {
    if (!r) return px_set_error(PX_ERR_ARG, "reader: NULL");
    stop_thread(r);
    r->epoch = epoch;
    r->made = r->taken = 0;
    r->stream_pos = 0;
    r->current = NULL;
    r->stop = false;
    px_rng *rng = r->cfg.rng ? r->cfg.rng : &r->own_rng;
    if (r->order && r->kind == BY_EXAMPLE) {
        /* each epoch's order depends only on the generator's state, so a run
         * resumed from a checkpoint shuffles as the uninterrupted one did */
        for (int64_t i = 0; i < r->n; i++) r->order[i] = r->lo + i;
        px_rng_shuffle_i64(rng, r->order, r->n);
    } else if (r->order) {
        for (int64_t i = 0; i < r->s->batches; i++) r->order[i] = i;
        px_rng_shuffle_i64(rng, r->order, r->s->batches);
    }
    if (r->kind == STREAM) {
        px_plan plan = {epoch, r->batch};
        px_status st = r->s->batched ? (r->s->ops->start ? r->s->ops->start(r->s, &plan) : PX_OK)
                                     : px_pull_start(&r->pull, r->s, &plan);
        if (st != PX_OK) return st;
    }
    if (r->threaded) {
        if (pthread_create(&r->thread, NULL, producer, r) != 0)
            return px_set_error(PX_ERR_NOMEM, "reader: cannot start the prefetching thread");
        r->thread_running = true;
    }
    return PX_OK;
}

px_status px_reader_start(px_reader *r) {
    if (!r) return px_set_error(PX_ERR_ARG, "reader: NULL");
    return px_reader_start_epoch(r, r->epochs_started++);
}

px_status px_reader_next(px_reader *r, const px_batch **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "reader: out is NULL");
    *out = NULL;
    if (!r) return px_set_error(PX_ERR_ARG, "reader: NULL");
    slot *sl;
    if (r->threaded) {
        if (!r->thread_running && r->made == r->taken) return PX_OK; /* stopped or never started */
        pthread_mutex_lock(&r->mu);
        r->current = NULL;
        while (r->made == r->taken) pthread_cond_wait(&r->cv, &r->mu);
        sl = &r->slots[r->taken % r->n_slots];
        r->taken++;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (sl->status != PX_OK) {
            stop_thread(r);
            return px_set_error(sl->status, "%s", sl->msg);
        }
    } else {
        sl = &r->slots[0];
        record(sl, make_batch(r, r->made, sl));
        r->made++, r->taken++;
        if (sl->status != PX_OK) return px_set_error(sl->status, "%s", sl->msg);
    }
    if (sl->end) {
        stop_thread(r);
        if (r->s->ops->end_epoch) r->s->ops->end_epoch(r->s, r->epoch);
        return PX_OK;
    }
    r->current = sl;
    *out = &sl->out;
    return PX_OK;
}

int64_t px_reader_steps(const px_reader *r) { return r ? r->steps : -1; }
int64_t px_reader_examples(const px_reader *r) { return r ? r->n : -1; }
int64_t px_reader_global_rows(const px_reader *r) { return r && r->current ? r->current->global_rows : 0; }
int64_t px_reader_share_rows(const px_reader *r) { return r && r->current ? r->current->share_rows : 0; }

void px_reader_free(px_reader *r) {
    if (!r) return;
    stop_thread(r);
    if (r->threaded) {
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
    }
    for (int i = 0; r->slots && i < r->n_slots; i++) px_batch_buf_free(&r->slots[i].buf);
    free(r->slots);
    free(r->order);
    px_pull_free(&r->pull);
    free(r);
}

px_reader *px_reader_new(px_source *s, const px_read_options *opts) {
    px_read_options o = opts ? *opts : (px_read_options){0};
    return px_reader_new_config(s, &(px_reader_config){.batch_size = o.batch_size, .with_y = true,
                                                        .shuffle = o.shuffle, .seed = o.seed, .in_place = true});
}
