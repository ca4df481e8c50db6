/* fit, evaluate and predict over any source (in-memory arrays are made into
 * one): batches read by a feeder (src/model/batches.c), the compiled plans run
 * per batch, running means of the loss and metrics (weighted metrics by the
 * batches' weights), callbacks and the History; with a distribution strategy,
 * this replica's share of every batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "backend/cpu/thread_governor.h"
#include "graph/node.h"
#include "graph/session_api.h"
#include "model/batches.h"
#include "model/strategy.h"

void px_model_stop_training(px_model *m, bool now) {
    if (!m) return;
    m->stop_training = true;
    if (now) m->stop_now = true;
}

void px_model_interrupt(px_model *m) {
    if (m) m->interrupt = 1;
}

bool px_model_interrupted(const px_model *m) { return m && m->interrupted; }

/* Frees what a resume position owns. */
static void resume_clear(px_fit_resume *r) {
    free(r->sums);
    for (int i = 0; i < r->n_states; i++) free(r->states[i]);
    free(r->states);
    *r = (px_fit_resume){0};
}

/* A resumed run: every callback's saved state back, after all on_train_begin. */
static px_status resume_states(px_model *m, px_callback **cbs, int n_cbs) {
    px_status st = PX_OK;
    for (int i = 0; st == PX_OK && i < m->resume.n_states && i < n_cbs; i++)
        if (m->resume.states[i] && cbs[i]->set_state) st = cbs[i]->set_state(cbs[i], m, m->resume.states[i]);
    return st;
}

/* ---- sessions ---- */

/* Builds a Sequential model without an input shape from the data's examples,
 * and finishes a compile that waited for it. */
static px_status ready(px_model *m, const px_source_spec *spec) {
    if (!m->built) {
        if (!m->sequential || !spec || spec->n_x < 1)
            return px_set_error(PX_ERR_STATE, "model '%s' is not built", m->name);
        if (px_model_build(m, spec->x[0]) != PX_OK) return px_last_status();
    }
    if (m->compiled && m->n_fetch == 0 && px_model_finish_compile(m) != PX_OK) return px_last_status();
    return PX_OK;
}

px_status px_model_ready(px_model *m, const px_tensor *x0) {
    px_source_spec spec = {.n_x = 1};
    bool have = x0 && x0->rank >= 1;
    if (have) {
        spec.x[0].rank = x0->rank - 1;
        for (int i = 1; i < x0->rank; i++) spec.x[0].dim[i - 1] = x0->shape[i];
    }
    return ready(m, have ? &spec : NULL);
}

px_session *px_model_train_session(px_model *m) {
    if (!m->train_session)
        m->train_session = px_session_new(m->g, m->fetch, m->n_fetch,
                                          &(px_session_options){.loss = m->fetch[0], .training = true});
    return m->train_session;
}
static px_session *eval_session(px_model *m) {
    if (!m->eval_session) m->eval_session = px_session_new(m->g, m->fetch, m->n_fetch, NULL);
    return m->eval_session;
}
static px_session *predict_session(px_model *m) {
    if (!m->predict_session) m->predict_session = px_session_new(m->g, m->outputs, m->n_outputs, NULL);
    return m->predict_session;
}

/* Runs the eval plan over the feeder's data (this replica's part of it); the
 * means of the fetches into logs (prefixed), summed over the replicas. */
static px_status run_evaluation(px_model *m, px_feeder *f, int epoch, px_logs *logs, const char *prefix,
                                px_callback *bar, px_strategy *S) {
    px_session *s = eval_session(m);
    if (!s || px_feeder_start(f, epoch) != PX_OK) return px_last_status();
    px_metric_sums acc;
    if (px_metric_sums_init(&acc, m) != PX_OK) return px_last_status();
    px_logs running = {0};
    px_status st = PX_OK;
    for (int step = 0;; step++) {
        bool got;
        if ((st = px_feeder_next(f, &got)) != PX_OK || !got) break;
        if ((st = px_session_run(s, f->feeds, f->n_feeds, NULL)) != PX_OK) break;
        px_metric_sums_read_weighted(&acc, m, s, f->share, f->weight_sum);
        px_metric_sums_add(&acc);
        px_metric_sums_logs(&acc, m, &running, "");
        if (bar && bar->on_batch_end) bar->on_batch_end(bar, m, step, &running);
    }
    if (st == PX_OK && S) st = S->sum(S, acc.sums, acc.n);
    if (st == PX_OK) px_metric_sums_logs(&acc, m, logs, prefix);
    if (st == PX_OK && bar && bar->on_epoch_end) {
        px_metric_sums_logs(&acc, m, &running, "");
        bar->on_epoch_end(bar, m, 0, &running);
    }
    px_metric_sums_free(&acc);
    return st;
}

/* ---- fit ---- */

/* One fit call: the data, the plan and the callbacks. */
typedef struct fit_run {
    px_model *m;
    px_session *s;
    px_strategy *S;
    px_feeder tr, va;
    bool has_tr, has_va;
    px_source *made[2];    /* sources made here from arrays (owned) */
    px_callback *bar;      /* owned; NULL when silent */
    px_callback **cbs;     /* the user's callbacks, then the bar */
    int n_cbs;
    px_metric_sums acc;    /* the epoch's loss and metrics */
    /* Keras's overridden Model.train_step (px_fit_options.train_step) */
    px_status (*train_step)(px_model *m, const px_arrays *batch, px_logs *logs, void *data);
    void *train_step_data;
} fit_run;

/* Calls HOOK on every callback while st is PX_OK. */
#define CALL_HOOKS(f, HOOK, ...)                                                          \
    for (int c_ = 0; st == PX_OK && c_ < (f)->n_cbs; c_++)                                \
        if ((f)->cbs[c_]->HOOK) st = (f)->cbs[c_]->HOOK((f)->cbs[c_], (f)->m, __VA_ARGS__);

static px_status check_fit_options(const px_model *m, const px_fit_options *o) {
    if (!m) return px_set_error(PX_ERR_ARG, "fit: model is NULL");
    if (!m->compiled) return px_set_error(PX_ERR_STATE, "fit: model '%s' must be compiled first", m->name);
    int epochs = o->epochs > 0 ? o->epochs : 1;
    if (o->epochs < 0 || o->batch_size < 0 || o->initial_epoch < 0 || o->initial_epoch >= epochs)
        return px_set_error(PX_ERR_ARG, "fit: epochs %d, batch_size %d, initial_epoch %d: need epochs > initial_epoch >= 0 and batch_size > 0",
                            o->epochs, o->batch_size, o->initial_epoch);
    if (o->n_callbacks < 0 || (o->n_callbacks > 0 && !o->callbacks))
        return px_set_error(PX_ERR_ARG, "fit: %d callbacks but the callbacks array is %s", o->n_callbacks,
                            o->callbacks ? "given" : "NULL");
    for (int i = 0; i < o->n_callbacks; i++)
        if (!o->callbacks[i]) /* like a NULL layer: a constructor failed, and training without it would hide that */
            return px_set_error(PX_ERR_ARG, "fit: callback %d of %d is NULL (did its constructor fail?)", i + 1,
                                o->n_callbacks);
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return px_set_error(PX_ERR_ARG, "fit: validation_split must be in [0, 1), got %g", o->validation_split);
    if (o->train_step && o->strategy)
        return px_set_error(PX_ERR_ARG, "fit: model '%s': a custom train_step cannot run with a strategy (each replica "
                            "would update alone)", m->name);
    if (o->class_weight && o->n_class_weight < 1)
        return px_set_error(PX_ERR_ARG, "fit: class_weight given with %d classes", o->n_class_weight);
    for (int i = 0; o->class_weight && i < o->n_class_weight; i++)
        if (!(o->class_weight[i] >= 0) || isinf(o->class_weight[i]))
            return px_set_error(PX_ERR_ARG, "fit: class_weight[%d] is %g; weights must be finite and >= 0", i,
                                o->class_weight[i]);
    return PX_OK;
}

/* The training and validation feeders: the tail of a source with random
 * access, taken before any shuffling as Keras does, or the data given. */
static px_status prepare_data(fit_run *f, px_source *train, px_source *val, const px_fit_options *o,
                              bool inputs_checked) {
    px_model *m = f->m;
    px_strategy *S = f->S;
    int64_t n_all = px_source_size(train), split_at = 0;
    if (o->validation_split > 0) {
        if (!px_source_random_access(train) || n_all < 0)
            return px_set_error(PX_ERR_ARG, "fit: validation_split needs data with random access; this source streams: "
                                "give validation data instead");
        split_at = (int64_t)((double)n_all * (1.0 - o->validation_split));
        if (split_at <= 0 || split_at >= n_all)
            return px_set_error(PX_ERR_ARG, "fit: validation_split %g of %lld examples leaves an empty part",
                                o->validation_split, (long long)n_all);
    }
    px_feeder_options to = {.label = "training data", .batch_size = o->batch_size, .with_y = true,
                            .shuffle = !o->no_shuffle && px_source_random_access(train), .rng = &m->rng,
                            .range = split_at > 0, .hi = split_at, .rank = S ? S->rank : 0, .ranks = S ? S->size : 0,
                            .class_weight = o->class_weight, .n_class_weight = o->n_class_weight,
                            .inputs_checked = inputs_checked,
                            .note = o->verbose == PX_VERBOSE_SILENT || (S && S->rank) ? NULL : o->out ? o->out : stdout};
    if (px_feeder_init(&f->tr, m, train, &to) != PX_OK) return px_last_status();
    f->has_tr = true;
    if (px_feeder_examples(&f->tr) == 0) return px_set_error(PX_ERR_ARG, "model '%s': training data is empty", m->name);
    px_source *vs = o->validation_split > 0 ? train : val;
    if (!vs) return PX_OK;
    px_feeder_options vo = {.label = o->validation_split > 0 ? "validation split" : "validation data",
                            .batch_size = o->batch_size, .with_y = true, .range = o->validation_split > 0,
                            .lo = split_at, .hi = n_all, .inputs_checked = inputs_checked};
    if (S && px_source_random_access(vs) && px_source_size(vs) >= 0) {
        /* each replica evaluates a contiguous share; a stream is shared batch by batch */
        int64_t lo = vo.range ? vo.lo : 0, n = (vo.range ? vo.hi : px_source_size(vs)) - lo;
        vo.range = true;
        vo.lo = lo + n * S->rank / S->size;
        vo.hi = lo + n * (S->rank + 1) / S->size;
    } else if (S) {
        vo.rank = S->rank, vo.ranks = S->size;
    }
    if (px_feeder_init(&f->va, m, vs, &vo) != PX_OK) return px_last_status();
    f->has_va = true;
    return PX_OK;
}

/* The training plan and the callbacks; with a strategy, the replicas agree on both. */
static px_status fit_setup(fit_run *f, px_source *train, px_source *val, const px_fit_options *o) {
    px_model *m = f->m;
    px_strategy *S = f->S;
    if (!(f->s = px_model_train_session(m))) return px_last_status();
    if (px_model_build_optimizer(m, f->s) != PX_OK) return px_last_status();
    px_feeder_stage_on(&f->tr, px_session_backend(f->s)); /* a device's host buffers for the batches */
    if (S) {
        px_session_set_replicas(f->s, S->replicas);
        int epochs = o->epochs > 0 ? o->epochs : 1;
        px_source *vs = o->validation_split > 0 ? train : val;
        int64_t split = o->validation_split > 0 ? f->tr.o.hi : 0;
        px_fit_plan plan = {px_feeder_examples(&f->tr), f->has_va ? px_source_size(vs) - split : 0,
                            o->batch_size > 0 ? o->batch_size : 32, epochs, o->initial_epoch,
                            px_source_fingerprint(train, 0, split), vs ? px_source_fingerprint(vs, split, 0) : 0,
                            px_session_backend(f->s)};
        if (S->begin(S, m, &plan) != PX_OK) return px_last_status();
    }
    bool chief = !S || S->rank == 0;
    f->bar = o->verbose == PX_VERBOSE_SILENT || !chief ? NULL : px_progbar_logger(o->verbose, o->out);
    f->cbs = malloc((size_t)(o->n_callbacks + 2) * sizeof *f->cbs);
    if (!f->cbs) return px_set_error(PX_ERR_NOMEM, "fit: out of memory");
    for (int i = 0; i < o->n_callbacks; i++)
        if (o->callbacks[i] && (chief || !o->callbacks[i]->chief_only)) f->cbs[f->n_cbs++] = o->callbacks[i];
    if (f->bar) f->cbs[f->n_cbs++] = f->bar; /* last, so it shows what other callbacks added */
    f->train_step = o->train_step;
    f->train_step_data = o->train_step_data;
    return px_metric_sums_init(&f->acc, m);
}

static void fit_free(fit_run *f) {
    px_callback_free(f->bar);
    free(f->cbs);
    if (f->has_tr) px_feeder_free(&f->tr);
    if (f->has_va) px_feeder_free(&f->va);
    px_source_free(f->made[0]);
    px_source_free(f->made[1]);
    px_metric_sums_free(&f->acc);
}

/* The replicas' sum of the gradients: on the device when the strategy found
 * every replica's device able to sum between processes (NCCL); otherwise
 * through the host over MPI (Open MPI is not CUDA-aware). */
static px_status sum_gradients(px_model *m, px_session *s, px_strategy *S) {
    int64_t n = m->g->n_trainable;
    px_backend *b = px_session_backend(s);
    if (!b->host_memory && S->replicas->device_sums)
        return S->finish_device_gradients(S, b, px_session_param_grads_on_backend(s), n);
    float *grads = (float *)px_session_param_grads(s, NULL);
    if (!grads) return px_last_status();
    px_status st = S->finish_gradients(S, grads, n);
    if (st != PX_OK || b->host_memory) return st;
    return b->ops->upload(b, px_session_param_grads_on_backend(s), grads, (size_t)n * sizeof(float));
}

/* One optimizer step on the feeder's batch (this replica's share of it):
 * gradients summed over the replicas; the metrics' sums over the global batch
 * added to f->acc. */
static px_status train_batch(fit_run *f) {
    px_model *m = f->m;
    px_strategy *S = f->S;
    px_status st;
    if (S) {
        /* the replicas' gradients are summed before the step */
        S->step(S, f->tr.share, f->tr.global);
        if ((st = px_session_run(f->s, f->tr.feeds, f->tr.n_feeds, NULL)) != PX_OK) return st;
        if ((st = sum_gradients(m, f->s, S)) != PX_OK) return st;
        if ((st = px_model_apply_gradients(m, f->s)) != PX_OK) return st;
    } else if ((st = px_model_train_run(m, f->s, f->tr.feeds, f->tr.n_feeds)) != PX_OK) {
        return st;
    }
    px_metric_sums_read_weighted(&f->acc, m, f->s, f->tr.share, f->tr.weight_sum);
    if (S && (st = S->sum(S, f->acc.batch, f->acc.n)) != PX_OK) return st;
    px_metric_sums_add(&f->acc);
    return PX_OK;
}

/* A user's train_step (Keras's overridden Model.train_step) on the feeder's
 * batch, handed over as arrays like the training data. */
static px_status user_step(fit_run *f, px_logs *logs) {
    px_model *m = f->m;
    px_tensor *x[PX_MAX_INPUTS], *y[PX_MAX_OUTPUTS];
    for (int i = 0; i < m->n_inputs; i++) x[i] = &f->tr.vals[i];
    for (int i = 0; i < m->n_outputs; i++) y[i] = &f->tr.vals[m->n_inputs + i];
    px_status st = f->train_step(m, &(px_arrays){x, m->n_inputs, y, m->n_outputs}, logs, f->train_step_data);
    if (st != PX_OK && !px_last_error()[0])
        return px_set_error(st, "fit: model '%s': train_step returned status %d", m->name, (int)st);
    return st;
}

/* One epoch: the batches with their hooks and running means of the fetches in
 * logs, then the validation pass. */
static px_status fit_epoch(fit_run *f, int epoch, px_logs *logs) {
    px_model *m = f->m;
    px_status st = PX_OK;
    CALL_HOOKS(f, on_epoch_begin, epoch, logs)
    bool resuming = m->resume.active && epoch == m->resume.epoch;
    int first_step = resuming ? m->resume.step : 0;
    m->fit.epoch = epoch;
    m->fit.step = 0;
    if (resuming) m->rng = m->resume.epoch_rng; /* the order below is the interrupted epoch's */
    m->fit.epoch_rng = m->rng;
    /* the reader draws the epoch's order from the model's generator, after the
     * hooks: a run resumed from a checkpoint or a backup shuffles as the
     * uninterrupted one did, and every replica (whose generator is rank 0's)
     * shuffles alike */
    if (st == PX_OK) st = px_feeder_start(&f->tr, epoch);
    px_metric_sums_reset(&f->acc);
    if (resuming && first_step > 0 && m->resume.n_sums == f->acc.n) {
        memcpy(f->acc.sums, m->resume.sums, (size_t)f->acc.n * sizeof *f->acc.sums);
        m->fit.step = first_step;
        if (!f->train_step) px_metric_sums_logs(&f->acc, m, logs, "");
    }
    if (resuming) resume_clear(&m->resume);
    int step = 0;
    bool interrupting = false;
    for (; st == PX_OK; step++) {
        /* the batch is read first, so the hooks run for real batches only */
        bool got = false;
        if ((st = px_feeder_next(&f->tr, &got)) != PX_OK || !got) break;
        if (step < first_step) continue; /* done before the backup: read past, as the reader's order is the same */
        CALL_HOOKS(f, on_batch_begin, step, logs)
        if (st != PX_OK) break;
        if (f->train_step) {
            if ((st = user_step(f, logs)) != PX_OK) break;
        } else {
            if ((st = train_batch(f)) != PX_OK) break;
            px_metric_sums_logs(&f->acc, m, logs, "");
        }
        px_thread_governor_step();
        m->fit.step = step + 1;
        CALL_HOOKS(f, on_batch_end, step, logs)
        interrupting = m->interrupt != 0; /* read once: a later signal counts at the next step */
        if (st == PX_OK && m->fit.after_step) st = m->fit.after_step(m->fit.saver, m, interrupting);
        if (m->stop_now || interrupting) break;
    }
    px_reader_stop(f->tr.r);
    if (st != PX_OK) return st;
    if (interrupting) { /* an interrupted epoch does not end: a resumed run finishes it */
        m->interrupted = true;
        return PX_OK;
    }
    if (m->fit_steps <= 0) m->fit_steps = step; /* a stream's length, once read */
    if (f->has_va && !m->stop_now) st = run_evaluation(m, &f->va, epoch, logs, "val_", NULL, f->S);
    CALL_HOOKS(f, on_epoch_end, epoch, logs)
    return st;
}

static px_status fit_source(px_model *m, px_source *train, px_source *val, const px_fit_options *opts,
                            bool inputs_checked, px_source *made_train, px_source *made_val) {
    px_fit_options o = opts ? *opts : (px_fit_options){0};
    fit_run f = {.m = m, .S = o.strategy, .made = {made_train, made_val}};
    px_status st = check_fit_options(m, &o);
    if (st == PX_OK && !train) st = px_set_error(PX_ERR_ARG, "fit: no training data");
    if (st == PX_OK) st = ready(m, px_source_get_spec(train));
    if (st == PX_OK) st = prepare_data(&f, train, val, &o, inputs_checked);
    if (st == PX_OK) st = fit_setup(&f, train, val, &o);
    if (st != PX_OK) {
        fit_free(&f);
        return st;
    }
    int epochs = o.epochs > 0 ? o.epochs : 1;
    m->fit_epochs = epochs;
    int64_t steps = px_feeder_steps(&f.tr);
    m->fit_steps = steps > 0 && steps < INT32_MAX ? (int)steps : 0;
    /* m->interrupt is not cleared here: a signal that came before fit stops it at its first step */
    m->stop_training = m->stop_now = m->interrupted = false;
    px_history_clear(&m->history);
    resume_clear(&m->resume);
    m->fit = (px_fit_position){.acc = &f.acc, .cbs = f.cbs, .n_cbs = f.n_cbs};
    px_logs logs = {0};
    CALL_HOOKS(&f, on_train_begin, &logs)
    px_thread_governor_begin(); /* adaptive by default: fewer threads while others take the cores */
    /* a backup's position (BackupAndRestore, set in on_train_begin): its epoch, from its step */
    int first_epoch = o.initial_epoch;
    if (st == PX_OK && m->resume.active) {
        first_epoch = m->resume.epoch;
        st = resume_states(m, f.cbs, f.n_cbs);
    }
    for (int epoch = first_epoch; st == PX_OK && epoch < epochs && !m->stop_training; epoch++) {
        memset(&logs, 0, sizeof logs);
        st = fit_epoch(&f, epoch, &logs);
        if (st != PX_OK || m->interrupted) break;
        st = px_history_append(&m->history, &logs);
        if (st == PX_OK && m->fit.after_epoch && epoch + 1 < epochs && !m->stop_training) {
            m->fit.epoch = epoch + 1;
            m->fit.step = 0;
            m->fit.epoch_rng = m->rng;
            st = m->fit.after_epoch(m->fit.saver, m);
        }
    }
    px_thread_governor_end();
    m->fit.finished = st == PX_OK && !m->interrupted;
    if (st == PX_OK) {
        CALL_HOOKS(&f, on_train_end, &logs)
    }
    resume_clear(&m->resume);
    m->fit = (px_fit_position){.finished = m->fit.finished};
    m->interrupt = 0;
    if (st == PX_OK && f.S) st = f.S->end(f.S, m);
    fit_free(&f);
    return st;
}

/* fit's entry points: replicas are told of a failure, and sessions left plain */
static px_status fit_done(px_model *m, const px_fit_options *opts, px_status st) {
    px_strategy *S = opts ? opts->strategy : NULL;
    if (S && m && m->train_session) px_session_set_replicas(m->train_session, NULL);
    /* a replica that fails tells the others, which would otherwise wait for it */
    if (st != PX_OK && S) st = S->fail(S, st);
    return st;
}

px_status px_model_fit_source(px_model *m, px_source *train, const px_fit_options *opts) {
    return fit_done(m, opts, fit_source(m, train, opts ? opts->validation_source : NULL, opts, false, NULL, NULL));
}

/* The validation data given as arrays or a dataset, as a source (NULL: none). */
static px_status validation_arrays(px_model *m, const px_fit_options *o, px_source **out) {
    *out = NULL;
    if (o->validation_split > 0 || (!o->validation && !o->validation_arrays)) return PX_OK;
    px_arrays v = o->validation_arrays ? *o->validation_arrays
                                       : (px_arrays){&o->validation->x, 1, &o->validation->y, o->validation->y ? 1 : 0};
    return px_arrays_source(m, &v, true, true, NULL, "validation data", out);
}

px_status px_model_fit_arrays(px_model *m, const px_arrays *train, const px_fit_options *opts) {
    px_fit_options o = opts ? *opts : (px_fit_options){0};
    px_status st = check_fit_options(m, &o);
    if (st == PX_OK && (!train || !train->x || train->n_x < 1)) st = px_set_error(PX_ERR_ARG, "fit: no training inputs");
    px_source *tr = NULL, *va = NULL;
    if (st == PX_OK) st = px_model_ready(m, train->x[0]);
    if (st == PX_OK) st = px_arrays_source(m, train, true, true, o.sample_weight, "training data", &tr);
    if (st == PX_OK) st = validation_arrays(m, &o, &va);
    if (st != PX_OK) {
        px_source_free(tr);
        return fit_done(m, opts, st);
    }
    o.validation_source = va;
    return fit_done(m, opts, fit_source(m, tr, va, &o, true, tr, va));
}

px_status px_model_fit(px_model *m, const px_dataset *train, const px_fit_options *opts) {
    if (!train || !train->x || !train->y) return px_set_error(PX_ERR_ARG, "fit: the dataset needs inputs and labels");
    px_arrays a = {&train->x, 1, &train->y, 1};
    return px_model_fit_arrays(m, &a, opts);
}

/* ---- evaluate ---- */

static px_status evaluate_source(px_model *m, px_source *data, const px_eval_options *opts, px_logs *logs,
                                 bool inputs_checked) {
    px_eval_options o = opts ? *opts : (px_eval_options){0};
    px_strategy *S = o.strategy;
    if (!m) return px_set_error(PX_ERR_ARG, "evaluate: model is NULL");
    if (!m->compiled) return px_set_error(PX_ERR_STATE, "evaluate: model '%s' must be compiled first", m->name);
    if (!data) return px_set_error(PX_ERR_ARG, "evaluate: no data");
    if (ready(m, px_source_get_spec(data)) != PX_OK) return px_last_status();
    px_feeder_options fo = {.label = "evaluation data", .batch_size = o.batch_size, .with_y = true,
                            .inputs_checked = inputs_checked,
                            .note = o.verbose == PX_VERBOSE_SILENT || (S && S->rank) ? NULL : o.out ? o.out : stdout};
    int64_t n = px_source_size(data);
    if (S && px_source_random_access(data) && n >= 0) {
        fo.range = true;
        fo.lo = n * S->rank / S->size;
        fo.hi = n * (S->rank + 1) / S->size;
    } else if (S) {
        fo.rank = S->rank, fo.ranks = S->size;
    }
    px_feeder f;
    if (px_feeder_init(&f, m, data, &fo) != PX_OK) {
        px_status st = px_last_status();
        px_feeder_free(&f);
        return st;
    }
    if (!S && px_feeder_examples(&f) == 0) {
        px_feeder_free(&f);
        return px_set_error(PX_ERR_ARG, "model '%s': evaluation data is empty", m->name);
    }
    bool chief = !S || S->rank == 0;
    px_callback *bar = o.verbose == PX_VERBOSE_SILENT || !chief ? NULL : px_progbar_logger(o.verbose, o.out);
    int64_t steps = px_feeder_steps(&f);
    m->fit_epochs = 1;
    m->fit_steps = steps > 0 && steps < INT32_MAX ? (int)steps : 0;
    if (bar && bar->on_epoch_begin) bar->on_epoch_begin(bar, m, 0, NULL);
    px_logs local = {0};
    px_status st = run_evaluation(m, &f, 0, logs ? logs : &local, "", bar, S);
    px_callback_free(bar);
    px_feeder_free(&f);
    return st;
}

static px_status evaluate_done(const px_eval_options *opts, px_status st) {
    if (st != PX_OK && opts && opts->strategy) st = opts->strategy->fail(opts->strategy, st);
    return st;
}

px_status px_model_evaluate_source(px_model *m, px_source *data, const px_eval_options *opts, px_logs *logs) {
    return evaluate_done(opts, evaluate_source(m, data, opts, logs, false));
}

px_status px_model_evaluate_arrays(px_model *m, const px_arrays *data, const px_eval_options *opts, px_logs *logs) {
    px_status st = PX_OK;
    if (!m) st = px_set_error(PX_ERR_ARG, "evaluate: model is NULL");
    else if (!m->compiled) st = px_set_error(PX_ERR_STATE, "evaluate: model '%s' must be compiled first", m->name);
    else if (!data || !data->x) st = px_set_error(PX_ERR_ARG, "evaluate: no data");
    px_source *s = NULL;
    if (st == PX_OK) st = px_model_ready(m, data->x[0]);
    if (st == PX_OK) st = px_arrays_source(m, data, true, true, opts ? opts->sample_weight : NULL, "evaluation data", &s);
    if (st == PX_OK) st = evaluate_source(m, s, opts, logs, true);
    px_source_free(s);
    return evaluate_done(opts, st);
}

px_status px_model_evaluate(px_model *m, const px_dataset *data, const px_eval_options *opts, px_logs *logs) {
    if (!data || !data->x || !data->y) return px_set_error(PX_ERR_ARG, "evaluate: the dataset needs inputs and labels");
    px_arrays a = {&data->x, 1, &data->y, 1};
    return px_model_evaluate_arrays(m, &a, opts, logs);
}

/* ---- predict ---- */

/* Room for `rows` more rows in each output (known size: allocated once; a
 * stream's grow as it is read). */
static px_status grow_outputs(px_model *m, px_session *s, px_tensor **out, int64_t *cap, int64_t need, int64_t known) {
    for (int i = 0; i < m->n_outputs; i++) {
        if (out[i] && cap[i] >= need) continue;
        const px_tensor *fch = px_session_fetch(s, i);
        int64_t c = known >= need ? known : cap[i] ? cap[i] * 2 : 1024;
        while (c < need) c *= 2;
        px_shape os = px_tensor_shape(fch);
        os.dim[0] = c;
        px_tensor *t = px_tensor_new(fch->dtype, os);
        if (!t) return px_last_status();
        if (out[i]) {
            size_t row = (size_t)(px_tensor_size(out[i]) / (cap[i] ? cap[i] : 1)) * 4;
            memcpy(t->data, out[i]->data, (size_t)cap[i] * row);
            px_tensor_free(out[i]);
        }
        out[i] = t;
        cap[i] = c;
    }
    return PX_OK;
}

/* The outputs trimmed to the rows written. */
static px_status trim_outputs(px_model *m, px_tensor **out, const int64_t *cap, int64_t rows) {
    for (int i = 0; i < m->n_outputs; i++) {
        if (!out[i] || cap[i] == rows) continue;
        px_tensor *v = px_tensor_slice(out[i], 0, rows), *c = v ? px_tensor_copy(v) : NULL;
        px_tensor_free(v);
        if (!c) return px_last_status();
        px_tensor_free(out[i]);
        out[i] = c;
    }
    return PX_OK;
}

/* The inputs are checked for NaN and infinity batch by batch, just before the
 * products read them (px_arrays_source). */
static px_status predict_source(px_model *m, px_source *data, const px_eval_options *opts, px_tensor **outputs) {
    px_eval_options o = opts ? *opts : (px_eval_options){0};
    if (!m || !data || !outputs) return px_set_error(PX_ERR_ARG, "predict: NULL argument");
    if (ready(m, px_source_get_spec(data)) != PX_OK) return px_last_status();
    px_session *s = predict_session(m);
    if (!s) return px_last_status();
    px_feeder f;
    px_feeder_options fo = {.label = "prediction inputs", .batch_size = o.batch_size,
                            .note = o.verbose == PX_VERBOSE_SILENT ? NULL : o.out ? o.out : stdout};
    px_status st = px_feeder_init(&f, m, data, &fo);
    if (st == PX_OK) st = px_feeder_start(&f, 0);
    int64_t known = px_feeder_examples(&f), done = 0, cap[PX_MAX_OUTPUTS] = {0};
    for (int i = 0; i < m->n_outputs; i++) outputs[i] = NULL;
    px_gemm_weights_fixed_begin(); /* nothing writes a weight until the last batch: reordered once */
    while (st == PX_OK) {
        bool got;
        if ((st = px_feeder_next(&f, &got)) != PX_OK || !got) break;
        if ((st = px_session_run(s, f.feeds, f.n_feeds, NULL)) != PX_OK) break;
        if ((st = grow_outputs(m, s, outputs, cap, done + f.rows, known)) != PX_OK) break;
        for (int i = 0; i < m->n_outputs; i++) {
            const px_tensor *fch = px_session_fetch(s, i);
            size_t row = (size_t)(px_tensor_size(fch) / f.rows) * 4;
            memcpy((char *)outputs[i]->data + (size_t)done * row, fch->data, (size_t)f.rows * row);
        }
        done += f.rows;
    }
    px_gemm_weights_fixed_end();
    if (st == PX_OK && done == 0) st = px_set_error(PX_ERR_ARG, "model '%s': prediction inputs is empty", m->name);
    if (st == PX_OK) st = trim_outputs(m, outputs, cap, done);
    if (st != PX_OK)
        for (int i = 0; i < m->n_outputs; i++) {
            px_tensor_free(outputs[i]);
            outputs[i] = NULL;
        }
    px_feeder_free(&f);
    return st;
}

px_status px_model_predict_source(px_model *m, px_source *data, const px_eval_options *opts, px_tensor **outputs) {
    return predict_source(m, data, opts, outputs);
}

px_status px_model_predict_arrays(px_model *m, px_tensor *const *x, int n_x, const px_eval_options *opts,
                                  px_tensor **outputs) {
    if (!m || !x || !outputs || n_x < 1) return px_set_error(PX_ERR_ARG, "predict: NULL argument");
    if (px_model_ready(m, x[0]) != PX_OK) return px_last_status();
    px_arrays a = {x, n_x, NULL, 0};
    px_source *s = NULL;
    px_status st = px_arrays_source(m, &a, false, false, NULL, "prediction inputs", &s);
    if (st == PX_OK) st = predict_source(m, s, opts, outputs);
    px_source_free(s);
    return st;
}

px_tensor *px_model_predict(px_model *m, const px_tensor *x, const px_eval_options *opts) {
    if (m && m->built && (m->n_inputs != 1 || m->n_outputs != 1)) {
        px_set_error(PX_ERR_ARG, "predict: model '%s' has %d inputs and %d outputs; use px_model_predict_arrays",
                     m->name, m->n_inputs, m->n_outputs);
        return NULL;
    }
    px_tensor *out = NULL;
    px_tensor *xs[1] = {(px_tensor *)x};
    if (px_model_predict_arrays(m, xs, 1, opts, &out) != PX_OK) return NULL;
    return out;
}

px_tensor *px_model_predict_classes(px_model *m, const px_tensor *x, const px_eval_options *opts) {
    px_tensor *p = px_model_predict(m, x, opts);
    if (!p) return NULL;
    int64_t n = p->shape[0], k = px_tensor_size(p) / (n ? n : 1);
    px_tensor *c = px_tensor_new(PX_I32, PX_SHAPE(n));
    for (int64_t i = 0; c && i < n; i++) {
        const float *row = px_tensor_f32(p) + i * k;
        int32_t best = 0;
        if (k == 1) best = row[0] > 0.5f; /* one sigmoid unit: the class is the threshold */
        else
            for (int64_t j = 1; j < k; j++)
                if (row[j] > row[best]) best = (int32_t)j;
        px_tensor_i32(c)[i] = best;
    }
    px_tensor_free(p);
    return c;
}
