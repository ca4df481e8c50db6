/* The data-parallel strategy (plexus/dist.h): fit's hooks (src/model/strategy.h)
 * and the session's replica hooks (src/graph/replicas.h) carried out with the
 * communication of src/dist/comm.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "dist/buckets.h"
#include "dist/dist_internal.h"
#include "graph/node.h"
#include "model/strategy.h"

typedef struct dist_strategy {
    px_strategy base; /* first, so a px_strategy * is a dist_strategy * */
    px_replica_hooks hooks;
    px_comm *comm;
    px_allreduce_ops ar;     /* over MPI, on host memory */
    px_allreduce_ops dev_ar; /* on the device (NCCL), queued in the run: when hooks.device_sums */
    px_backend *dev;         /* that device */
    int dev_buckets;         /* sums a device run queues (recorded runs call no hooks) */
    px_buckets buckets;
    px_model *m;
    int64_t bucket_bytes;
    bool overlap;
    bool host_sums;    /* px_dist_options.host_sums */
    bool first_ready;  /* the next grads_ready is the run's first */
    px_status run_status; /* a failure inside a run's hooks, reported after it */
    double *gather;    /* gathered values, size * gather_cap doubles */
    size_t gather_cap;
    px_dist_stats stats;
} dist_strategy;

/* Gathers n doubles from every rank into d->gather. */
static const double *gather(dist_strategy *d, const double *mine, int n) {
    size_t need = (size_t)n * (size_t)d->base.size;
    if (need > d->gather_cap) {
        double *g = realloc(d->gather, need * sizeof *g);
        if (!g) {
            px_comm_fail(d->comm, px_set_error(PX_ERR_NOMEM, "distributed: out of memory"));
            return NULL;
        }
        d->gather = g;
        d->gather_cap = need;
    }
    double t0 = px_clock_seconds();
    px_status st = px_comm_allgather(d->comm, mine, (size_t)n * sizeof *mine, d->gather);
    d->stats.stats_s += px_clock_seconds() - t0;
    return st == PX_OK ? d->gather : NULL;
}

/* ---- the session's hooks ---- */

static const double *hook_allgather(void *ctx, const double *mine, int n) {
    dist_strategy *d = ctx;
    const double *all = gather(d, mine, n);
    if (!all && d->run_status == PX_OK) d->run_status = px_last_status();
    return all;
}

/* ---- the device's sums (hooks.device_sums): queued on its stream in order
 * with the backward pass, running beside it until the wait ---- */

static px_status dev_start(void *ctx, float *buf, int64_t count) {
    px_backend *b = ctx;
    return b->ops->all_reduce_sum(b, buf, count);
}
static void dev_progress(void *ctx) { (void)ctx; }
static px_status dev_wait(void *ctx) {
    px_backend *b = ctx;
    return b->ops->all_reduce_wait ? b->ops->all_reduce_wait(b) : PX_OK;
}

static void hook_backward_begin(void *ctx) {
    dist_strategy *d = ctx;
    px_buckets_reset(&d->buckets);
}

static void hook_grads_ready(void *ctx, float *block, int64_t offset, int64_t count) {
    dist_strategy *d = ctx;
    if (d->run_status != PX_OK) return;
    bool on_device = d->hooks.device_sums;
    if (on_device && !d->overlap) return; /* no_overlap: the block is summed after the run */
    const px_allreduce_ops *ar = on_device ? &d->dev_ar : &d->ar;
    double t0 = px_clock_seconds();
    px_status st = PX_OK;
    if (d->first_ready) {
        d->first_ready = false;
        /* a layer frozen or unfrozen since the last run moved the block: cut it anew */
        if (d->buckets.generation != d->m->g->params_generation || d->buckets.n_trainable != d->m->g->n_trainable) {
            st = px_buckets_build(&d->buckets, d->m->g, d->bucket_bytes);
            d->buckets.generation = d->m->g->params_generation;
        }
    }
    if (st == PX_OK) st = px_buckets_ready(&d->buckets, ar, block, offset, count, d->overlap);
    if (st == PX_OK) ar->progress(ar->ctx);
    /* on a device the last bucket and the wait are queued in the run too, as
     * soon as every gradient is final: a recorded step then holds all the sums */
    if (st == PX_OK && on_device && d->buckets.low == 0) {
        st = px_buckets_start_rest(&d->buckets, ar, block);
        if (st == PX_OK) st = ar->wait_all(ar->ctx);
        d->dev_buckets = d->buckets.n_started;
        d->stats.last_bucket_bytes = d->buckets.last_count * (int64_t)sizeof(float);
    }
    if (st != PX_OK) d->run_status = st;
    d->stats.inline_s += px_clock_seconds() - t0;
}

/* ---- fit's hooks ---- */

/* What every rank must agree on before training; a difference names the value. */
static px_status check_agreement(dist_strategy *d, px_model *m, const px_fit_plan *p) {
    int64_t n_params = 0, n_trainable = 0;
    (void)px_graph_params(m->g, &n_params, &n_trainable);
    static const char *what[] = {"the number of training examples", "the number of validation examples",
                                 "the batch size", "the number of epochs", "the initial epoch",
                                 "the number of parameters", "the number of trainable parameters",
                                 "the optimizer", "the number of logged values"};
    enum { N = sizeof what / sizeof *what };
    double mine[N] = {(double)p->train_examples, (double)p->val_examples, p->batch_size, p->epochs,
                      p->initial_epoch, (double)n_params, (double)n_trainable,
                      (double)px_optimizer_get_kind(m->opt), m->n_fetch};
    const double *all = gather(d, mine, N);
    if (!all) return px_last_status();
    for (int r = 1; r < d->base.size; r++)
        for (int i = 0; i < N; i++)
            if (all[r * N + i] != all[i])
                return px_set_error(PX_ERR_ARG,
                                    "fit: rank %d and rank 0 disagree on %s (%.0f and %.0f): every rank must run the "
                                    "same model on the same data with the same options",
                                    r, what[i], all[r * N + i], all[i]);
    /* the same sizes but other values (another version of a file on one machine) */
    uint64_t hashes[2] = {p->train_hash, p->val_hash}, *got = malloc((size_t)d->base.size * sizeof hashes);
    if (!got) return px_set_error(PX_ERR_NOMEM, "distributed: out of memory");
    px_status st = px_comm_allgather(d->comm, hashes, sizeof hashes, got);
    for (int r = 1; st == PX_OK && r < d->base.size; r++)
        for (int i = 0; st == PX_OK && i < 2; i++)
            if (got[2 * r + i] != got[i])
                st = px_set_error(PX_ERR_ARG,
                                  "fit: rank %d's %s data differ from rank 0's (same size, other values or order): "
                                  "every machine needs the same data files", r, i ? "validation" : "training");
    free(got);
    return st;
}

/* Rank 0's optimizer state (iterations, slots, learning rate) on every rank. */
static px_status share_optimizer(dist_strategy *d, px_model *m, int64_t n_trainable) {
    px_optimizer *opt = m->opt;
    int n_slots = px_optimizer_slot_count(opt);
    int64_t slot_n = 0;
    bool has_slots = n_slots > 0 && px_optimizer_slot(opt, 0, NULL, &slot_n);
    /* iterations, slot length (-1: no step taken yet), the parameters the state is for, learning rate */
    double hdr[4] = {(double)px_optimizer_iterations(opt), has_slots ? (double)slot_n : -1, (double)m->opt_params,
                     px_optimizer_learning_rate(opt)};
    if (px_comm_bcast(d->comm, hdr, sizeof hdr, 0) != PX_OK) return px_last_status();
    int64_t iterations = (int64_t)hdr[0];
    slot_n = (int64_t)hdr[1];
    if (d->base.rank != 0) {
        m->opt_params = (int64_t)hdr[2];
        if ((iterations > 0 || slot_n >= 0) &&
            px_optimizer_restore(opt, slot_n >= 0 ? slot_n : n_trainable, iterations) != PX_OK)
            return px_last_status();
        if (!px_optimizer_get_options(opt)->schedule && (float)hdr[3] != px_optimizer_learning_rate(opt))
            px_optimizer_set_learning_rate(opt, (float)hdr[3]);
    }
    for (int i = 0; slot_n > 0 && i < n_slots; i++) {
        float *slot = px_optimizer_slot(opt, i, NULL, NULL);
        if (!slot) return px_set_error(PX_ERR_STATE, "fit: the optimizer's slot %d is missing", i);
        if (px_comm_bcast(d->comm, slot, (size_t)slot_n * sizeof *slot, 0) != PX_OK) return px_last_status();
    }
    return PX_OK;
}

/* The communicator of the devices (NCCL): the world's ranks, joined once per
 * process on the backend that holds it (backends live as long as the process). */
static px_backend *joined_on;
static int joined_size;

/* Whether the replicas sum their gradients on their devices: when every rank
 * trains on a device that can sum between processes. Rank 0 makes the
 * communicator's id, MPI carries it to the others, and all join. A device
 * that cannot make an id (a CUDA module built without NCCL) leaves the sums to
 * the host, with a warning. */
static px_status choose_device_sums(dist_strategy *d, px_backend *b) {
    d->hooks.device_sums = false;
    bool can = !d->host_sums && b && !b->host_memory && b->ops->comm_id && b->ops->comm_init && b->ops->all_reduce_sum;
    d->dev = b;
    d->dev_ar = (px_allreduce_ops){.ctx = b, .start = dev_start, .progress = dev_progress, .wait_all = dev_wait};
    double mine = can, *all = (double *)gather(d, &mine, 1);
    if (!all) return px_last_status();
    for (int r = 0; r < d->base.size; r++) can = can && all[r] != 0;
    if (!can) return PX_OK;
    if (joined_on == b && joined_size == d->base.size) {
        d->hooks.device_sums = true;
        return PX_OK;
    }
    struct {
        char id[PX_COMM_ID_BYTES];
        char why[200]; /* empty when rank 0 made the id */
    } msg;
    memset(&msg, 0, sizeof msg);
    if (d->base.rank == 0 && b->ops->comm_id(b, msg.id) != PX_OK)
        snprintf(msg.why, sizeof msg.why, "%s", px_last_error()[0] ? px_last_error() : "no id");
    if (px_comm_bcast(d->comm, &msg, sizeof msg, 0) != PX_OK) return px_last_status();
    if (msg.why[0]) {
        if (d->base.rank == 0)
            px_warn("%s cannot sum gradients between processes (%s): they go through the host", b->name, msg.why);
        return PX_OK;
    }
    if (b->ops->comm_init(b, msg.id, d->base.size, d->base.rank) != PX_OK) return px_last_status();
    joined_on = b;
    joined_size = d->base.size;
    d->hooks.device_sums = true;
    return PX_OK;
}

static px_status s_begin(px_strategy *s, px_model *m, const px_fit_plan *plan) {
    dist_strategy *d = (dist_strategy *)s;
    if (px_comm_status(d->comm) != PX_OK) return px_last_status();
    d->m = m;
    d->run_status = PX_OK;
    if (check_agreement(d, m, plan) != PX_OK) return px_last_status();
    int64_t n_params = 0, n_trainable = 0;
    float *params = px_graph_params(m->g, &n_params, &n_trainable);
    if (n_params > 0 && px_comm_bcast(d->comm, params, (size_t)n_params * sizeof *params, 0) != PX_OK)
        return px_last_status();
    if (share_optimizer(d, m, n_trainable) != PX_OK) return px_last_status();
    px_rng rngs[2] = {m->rng, m->g->rng};
    if (px_comm_bcast(d->comm, rngs, sizeof rngs, 0) != PX_OK) return px_last_status();
    m->rng = rngs[0];
    /* one shuffling order for all; but each replica its own dropout masks, which
     * would otherwise repeat across the shares of a batch */
    m->g->rng = d->base.rank == 0 ? rngs[1] : px_rng_seeded(rngs[1].state ^ (0x9E3779B97F4A7C15ull * (uint64_t)d->base.rank));
    if (px_buckets_build(&d->buckets, m->g, d->bucket_bytes) != PX_OK) return px_last_status();
    d->buckets.generation = m->g->params_generation;
    return choose_device_sums(d, plan->backend);
}

static void s_step(px_strategy *s, int64_t rows, int64_t global_rows) {
    dist_strategy *d = (dist_strategy *)s;
    d->hooks.loss_share = (float)((double)rows / (double)global_rows);
    d->hooks.stand_in = rows == 0;
    d->first_ready = true;
    d->run_status = PX_OK;
    px_buckets_reset(&d->buckets);
}

static px_status s_finish_gradients(px_strategy *s, float *grads, int64_t n) {
    dist_strategy *d = (dist_strategy *)s;
    if (d->run_status != PX_OK) return px_comm_status(d->comm) != PX_OK ? px_last_status() : d->run_status;
    double t0 = px_clock_seconds();
    px_status st = n > 0 && d->buckets.n_trainable != n ? px_set_error(PX_ERR_STATE,
        "distributed: %lld trainable parameters, but the buckets were cut for %lld", (long long)n,
        (long long)d->buckets.n_trainable) : PX_OK;
    if (st == PX_OK) st = px_buckets_start_rest(&d->buckets, &d->ar, grads);
    d->stats.last_bucket_bytes = d->buckets.last_count * (int64_t)sizeof(float);
    if (st == PX_OK) st = d->ar.wait_all(d->ar.ctx);
    d->stats.exposed_s += px_clock_seconds() - t0;
    d->stats.steps++;
    d->stats.gradient_bytes = n * (int64_t)sizeof(float);
    d->stats.buckets = d->buckets.n_started;
    return st;
}

/* The run queued every bucket's sum on the device as the backward pass
 * filled it (hook_grads_ready), and the wait after the last, so they are in
 * a recorded step too. With no_overlap the whole block is summed here, after
 * the run, in one call. */
static px_status s_finish_device_gradients(px_strategy *s, px_backend *b, float *grads, int64_t n) {
    dist_strategy *d = (dist_strategy *)s;
    if (d->run_status != PX_OK) return px_comm_status(d->comm) != PX_OK ? px_last_status() : d->run_status;
    if (px_comm_status(d->comm) != PX_OK) return px_last_status();
    double t0 = px_clock_seconds();
    px_status st = PX_OK;
    if (n > 0 && d->buckets.n_trainable != n)
        st = px_set_error(PX_ERR_STATE, "distributed: %lld trainable parameters, but the buckets were cut for %lld",
                          (long long)n, (long long)d->buckets.n_trainable);
    else if (!d->overlap || !d->dev_buckets) { /* no_overlap, or a run that reported nothing */
        st = b->ops->all_reduce_sum(b, grads, n);
        if (st == PX_OK) st = dev_wait(b);
        d->stats.buckets = n > 0;
        d->stats.last_bucket_bytes = n * (int64_t)sizeof(float);
    } else {
        d->stats.buckets = d->dev_buckets;
    }
    d->stats.exposed_s += px_clock_seconds() - t0;
    d->stats.steps++;
    d->stats.device_steps++;
    d->stats.gradient_bytes = n * (int64_t)sizeof(float);
    return st;
}

static px_status s_sum(px_strategy *s, double *v, int n) {
    dist_strategy *d = (dist_strategy *)s;
    const double *all = gather(d, v, n);
    if (!all) return px_last_status();
    /* in rank order, so every replica gets the same bits */
    for (int i = 0; i < n; i++) {
        double t = 0;
        for (int r = 0; r < s->size; r++) t += all[(size_t)r * (size_t)n + (size_t)i];
        v[i] = t;
    }
    return PX_OK;
}

static px_status s_fail(px_strategy *s, px_status st) {
    dist_strategy *d = (dist_strategy *)s;
    if (px_comm_status(d->comm) != PX_OK) return px_last_status(); /* the first failure is the one to report */
    return px_comm_fail(d->comm, st);
}

/* FNV-1a over the parameter block's bytes. */
static uint64_t hash_params(px_model *m) {
    int64_t n = 0;
    const unsigned char *p = (const unsigned char *)px_graph_params(m->g, &n, NULL);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; p && i < (size_t)n * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static px_status s_end(px_strategy *s, px_model *m) {
    dist_strategy *d = (dist_strategy *)s;
    /* the replicas took the same steps from the same start: a difference is a bug or a faulty machine */
    uint64_t h = hash_params(m), *all = malloc((size_t)s->size * sizeof *all);
    if (!all) return px_set_error(PX_ERR_NOMEM, "distributed: out of memory");
    px_status st = px_comm_allgather(d->comm, &h, sizeof h, all);
    for (int r = 1; st == PX_OK && r < s->size; r++)
        if (all[r] != all[0])
            st = px_set_error(PX_ERR_STATE, "fit: the weights of rank %d differ from rank 0's after training", r);
    free(all);
    return st;
}

static void s_destroy(px_strategy *s) {
    dist_strategy *d = (dist_strategy *)s;
    px_buckets_free(&d->buckets);
    free(d->gather);
    free(d);
}

/* ---- public ---- */

px_strategy *px_dist_strategy(const px_dist_options *opts) {
    px_dist_options o = opts ? *opts : (px_dist_options){0};
    if (o.bucket_bytes < 0 || o.timeout < 0) {
        px_set_error(PX_ERR_ARG, "px_dist_strategy: bucket_bytes (%lld) and timeout (%g) must be >= 0",
                     (long long)o.bucket_bytes, o.timeout);
        return NULL;
    }
    px_comm *comm = px_dist_job(o.timeout);
    if (!comm) return NULL;
    dist_strategy *d = calloc(1, sizeof *d);
    if (!d) {
        px_set_error(PX_ERR_NOMEM, "px_dist_strategy: out of memory");
        return NULL;
    }
    d->comm = comm;
    d->ar = px_comm_allreduce_ops(comm);
    d->bucket_bytes = o.bucket_bytes;
    d->overlap = !o.no_overlap;
    d->host_sums = o.host_sums;
    d->hooks = (px_replica_hooks){.rank = px_comm_rank(comm), .size = px_comm_size(comm), .loss_share = 1.0f,
                                  .ctx = d, .allgather = hook_allgather, .grads_ready = hook_grads_ready,
                                  .backward_begin = hook_backward_begin};
    d->base = (px_strategy){.rank = d->hooks.rank, .size = d->hooks.size, .replicas = &d->hooks, .begin = s_begin,
                            .step = s_step, .finish_gradients = s_finish_gradients,
                            .finish_device_gradients = s_finish_device_gradients, .sum = s_sum, .fail = s_fail,
                            .end = s_end, .destroy = s_destroy};
    return &d->base;
}

void px_strategy_free(px_strategy *s) {
    if (s && s->destroy) s->destroy(s);
}

px_status px_dist_get_stats(const px_strategy *s, px_dist_stats *out) {
    if (!s || !out) return px_set_error(PX_ERR_ARG, "px_dist_get_stats: NULL argument");
    *out = ((const dist_strategy *)s)->stats;
    return PX_OK;
}
