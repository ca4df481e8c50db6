/* fit, evaluate and predict: mini-batches gathered into buffers allocated once,
 * the compiled plans run per batch, running means of the loss and metrics,
 * callbacks and the History. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

px_status px_model_ready(px_model *m, const px_tensor *first_x) {
    if (!m->built) {
        if (!m->sequential || !first_x || first_x->rank < 1)
            return px_set_error(PX_ERR_STATE, "model '%s' is not built", m->name);
        px_shape s = px_tensor_shape(first_x);
        for (int i = 0; i + 1 < s.rank; i++) s.dim[i] = s.dim[i + 1];
        s.rank--;
        if (px_model_build(m, s) != PX_OK) return px_last_status();
    }
    if (m->compiled && m->n_fetch == 0 && px_model_finish_compile(m) != PX_OK) return px_last_status();
    return PX_OK;
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

/* The rows [*lo, *hi) of n that are this replica's share (all of them alone). */
static void share_of(const px_strategy *S, int64_t n, int64_t *lo, int64_t *hi) {
    *lo = S ? n * S->rank / S->size : 0;
    *hi = S ? n * (S->rank + 1) / S->size : n;
}

/* Runs the eval plan over the data (this replica's share of it); means of the
 * fetches into logs (prefixed), summed over the replicas. */
static px_status run_evaluation(px_model *m, const px_prepared *p, int batch_size, px_logs *logs, const char *prefix,
                                px_callback *bar, px_strategy *S) {
    px_session *s = eval_session(m);
    if (!s) return px_last_status();
    px_batches b;
    if (px_batches_init(&b, m, p, batch_size, true, false) != PX_OK) return px_last_status();
    px_metric_sums acc;
    if (px_metric_sums_init(&acc, m) != PX_OK) {
        px_batches_free(&b);
        return px_last_status();
    }
    int64_t lo, hi;
    share_of(S, p->n, &lo, &hi);
    int steps = (int)((hi - lo + batch_size - 1) / batch_size);
    px_logs running = {0};
    for (int step = 0; step < steps; step++) {
        int64_t start = lo + (int64_t)step * batch_size, rows = hi - start < batch_size ? hi - start : batch_size;
        px_batches_fill(&b, p, NULL, start, rows);
        if (px_session_run(s, b.feeds, b.n, NULL) != PX_OK) {
            px_batches_free(&b);
            px_metric_sums_free(&acc);
            return px_last_status();
        }
        px_metric_sums_read(&acc, m, s, rows);
        px_metric_sums_add(&acc);
        px_metric_sums_logs(&acc, m, &running, "");
        if (bar && bar->on_batch_end) bar->on_batch_end(bar, m, step, &running);
    }
    px_batches_free(&b);
    px_status st = S ? S->sum(S, acc.sums, acc.n) : PX_OK;
    if (st == PX_OK) px_metric_sums_logs(&acc, m, logs, prefix);
    px_metric_sums_free(&acc);
    if (st == PX_OK && bar && bar->on_epoch_end) bar->on_epoch_end(bar, m, 0, &running);
    return st;
}

/* ---- fit ---- */

#define CALL_HOOKS(HOOK, ...)                                                            \
    for (int c_ = 0; st == PX_OK && c_ < n_cbs; c_++)                                    \
        if (cbs[c_]->HOOK) st = cbs[c_]->HOOK(cbs[c_], m, __VA_ARGS__);

/* This replica's rows of the batch [start, start + rows) into the batch buffers;
 * a replica with no row of this batch runs a stand-in row that counts for nothing. */
static void fill_share(px_strategy *S, px_batches *b, const px_prepared *tr, const int64_t *idx, int64_t start,
                       int64_t rows) {
    int64_t lo = 0, hi = rows;
    share_of(S, rows, &lo, &hi);
    px_batches_fill(b, tr, idx, start + (hi > lo ? lo : 0), hi > lo ? hi - lo : 1);
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

/* One training step on rows [start, start + rows) of the shuffled order (this
 * replica's share of them with a strategy): run, gradients summed over the
 * replicas, optimizer step; the metrics' sums over the global batch are added
 * to acc. With next_rows > 0 (a device, whose step runs asynchronously), the
 * next batch's rows are gathered into the other buffer set while the step
 * runs, before its results are read. */
static px_status train_step(px_model *m, px_session *s, px_batches *b, const px_prepared *tr, const int64_t *idx,
                            int64_t start, int64_t rows, px_strategy *S, px_metric_sums *acc, bool *prefilled,
                            int64_t next_start, int64_t next_rows) {
    int64_t lo = 0, hi = rows;
    share_of(S, rows, &lo, &hi);
    if (S) S->step(S, hi - lo, rows);
    if (!*prefilled) fill_share(S, b, tr, idx, start, rows);
    *prefilled = false;
    px_status st = px_session_run(s, b->feeds, b->n, NULL);
    if (st != PX_OK) return st;
    if (S && (st = sum_gradients(m, s, S)) != PX_OK) return st;
    if ((st = px_model_apply_gradients(m, s)) != PX_OK) return st;
    if (next_rows > 0) {
        px_batches_flip(b);
        fill_share(S, b, tr, idx, next_start, next_rows);
        *prefilled = true;
    }
    px_metric_sums_read(acc, m, s, hi - lo);
    if (S && (st = S->sum(S, acc->batch, acc->n)) != PX_OK) return st;
    px_metric_sums_add(acc);
    return PX_OK;
}

/* A user's train_step (Keras's overridden Model.train_step) on rows [start, start +
 * rows) of the shuffled order, gathered as fit's own step would feed them. */
static px_status user_step(px_model *m, const px_fit_options *o, px_batches *b, const px_prepared *tr,
                           const int64_t *idx, int64_t start, int64_t rows, px_logs *logs) {
    px_batches_fill(b, tr, idx, start, rows);
    px_tensor *x[PX_MAX_INPUTS], *y[PX_MAX_OUTPUTS];
    for (int i = 0; i < tr->n_x; i++) x[i] = &b->view[i];
    for (int i = 0; i < tr->n_y; i++) y[i] = &b->view[tr->n_x + i];
    px_status st = o->train_step(m, &(px_arrays){x, tr->n_x, y, tr->n_y}, logs, o->train_step_data);
    if (st != PX_OK && !px_last_error()[0])
        return px_set_error(st, "fit: model '%s': train_step returned status %d", m->name, (int)st);
    return st;
}

static px_status fit_arrays(px_model *m, const px_arrays *train, const px_fit_options *opts) {
    px_fit_options o = opts ? *opts : (px_fit_options){0};
    px_strategy *S = o.strategy;
    if (!m) return px_set_error(PX_ERR_ARG, "fit: model is NULL");
    if (!m->compiled) return px_set_error(PX_ERR_STATE, "fit: model '%s' must be compiled first", m->name);
    if (!train || !train->x || train->n_x < 1) return px_set_error(PX_ERR_ARG, "fit: no training inputs");
    int epochs = o.epochs > 0 ? o.epochs : 1, batch_size = o.batch_size > 0 ? o.batch_size : 32;
    if (o.epochs < 0 || o.batch_size < 0 || o.initial_epoch < 0 || o.initial_epoch >= epochs)
        return px_set_error(PX_ERR_ARG, "fit: epochs %d, batch_size %d, initial_epoch %d: need epochs > initial_epoch >= 0 and batch_size > 0",
                            o.epochs, o.batch_size, o.initial_epoch);
    if (o.n_callbacks < 0 || (o.n_callbacks > 0 && !o.callbacks))
        return px_set_error(PX_ERR_ARG, "fit: %d callbacks but the callbacks array is %s", o.n_callbacks,
                            o.callbacks ? "given" : "NULL");
    for (int i = 0; i < o.n_callbacks; i++)
        if (!o.callbacks[i]) /* like a NULL layer: a constructor failed, and training without it would hide that */
            return px_set_error(PX_ERR_ARG, "fit: callback %d of %d is NULL (did its constructor fail?)", i + 1,
                                o.n_callbacks);
    if (!(o.validation_split >= 0 && o.validation_split < 1))
        return px_set_error(PX_ERR_ARG, "fit: validation_split must be in [0, 1), got %g", o.validation_split);
    if (px_model_ready(m, train->x[0]) != PX_OK) return px_last_status();

    if (o.train_step && S)
        return px_set_error(PX_ERR_ARG, "fit: model '%s': a custom train_step cannot run with a strategy (each replica "
                            "would update alone)", m->name);

    /* validation split: the tail, taken before any shuffling, as Keras does */
    int64_t n_all = train->x[0]->shape[0], split_at = n_all;
    if (o.validation_split > 0) {
        split_at = (int64_t)((double)n_all * (1.0 - o.validation_split));
        if (split_at <= 0 || split_at >= n_all)
            return px_set_error(PX_ERR_ARG, "fit: validation_split %g of %lld examples leaves an empty part",
                                o.validation_split, (long long)n_all);
    }
    px_prepared tr, va = {0};
    if (px_prepare(m, train, true, 0, split_at, &tr, "training data") != PX_OK) return px_last_status();
    bool has_val = false;
    px_status st = PX_OK;
    if (o.validation_split > 0) {
        st = px_prepare(m, train, true, split_at, n_all, &va, "validation split");
        has_val = true;
    } else if (o.validation || o.validation_arrays) {
        px_arrays v = o.validation_arrays ? *o.validation_arrays
                                          : (px_arrays){&o.validation->x, 1, &o.validation->y, o.validation->y ? 1 : 0};
        st = px_prepare(m, &v, true, 0, -1, &va, "validation data");
        has_val = true;
    }
    px_session *s = st == PX_OK ? px_model_train_session(m) : NULL;
    if (s && S) {
        px_session_set_replicas(s, S->replicas);
        px_fit_plan plan = {tr.n, va.n, batch_size, epochs, o.initial_epoch, px_prepared_fingerprint(&tr),
                            px_prepared_fingerprint(&va), px_session_backend(s)};
        if (S->begin(S, m, &plan) != PX_OK) s = NULL;
    }
    if (!s) {
        st = px_last_status();
        px_prepared_free(&tr);
        px_prepared_free(&va);
        return st;
    }

    px_batches b;
    px_metric_sums acc = {0};
    int64_t *idx = malloc((size_t)tr.n * sizeof *idx);
    if (!idx || px_metric_sums_init(&acc, m) != PX_OK || px_batches_init(&b, m, &tr, batch_size, true, true) != PX_OK) {
        free(idx);
        px_metric_sums_free(&acc);
        px_prepared_free(&tr);
        px_prepared_free(&va);
        return px_set_error(PX_ERR_NOMEM, "fit: out of memory for batch buffers");
    }
    for (int64_t i = 0; i < tr.n; i++) idx[i] = i;
    /* on a device: batches in page-locked memory, two sets, so a step's copy is
     * asynchronous and the next batch is gathered while the step runs */
    px_backend *dev = px_session_backend(s);
    bool pinned = !dev->host_memory && px_batches_pin(&b, dev) == PX_OK;
    bool prefilled = false;

    bool chief = !S || S->rank == 0;
    px_callback *bar = o.verbose == PX_VERBOSE_SILENT || !chief ? NULL : px_progbar_logger(o.verbose, o.out);
    int n_cbs = 0;
    px_callback **cbs = malloc((size_t)(o.n_callbacks + 2) * sizeof *cbs);
    if (!cbs) st = px_set_error(PX_ERR_NOMEM, "fit: out of memory");
    for (int i = 0; cbs && i < o.n_callbacks; i++)
        if (o.callbacks[i] && (chief || !o.callbacks[i]->chief_only)) cbs[n_cbs++] = o.callbacks[i];
    if (bar && cbs) cbs[n_cbs++] = bar; /* last, so it shows what other callbacks added */

    m->fit_epochs = epochs;
    m->fit_steps = (int)((tr.n + batch_size - 1) / batch_size);
    /* m->interrupt is not cleared here: a signal that came before fit stops it at its first step */
    m->stop_training = m->stop_now = m->interrupted = false;
    px_history_clear(&m->history);
    resume_clear(&m->resume);
    m->fit = (px_fit_position){.acc = &acc, .cbs = cbs, .n_cbs = n_cbs};
    px_logs logs = {0};
    CALL_HOOKS(on_train_begin, &logs)
    px_thread_governor_begin(); /* PLEXUS_THREAD_POLICY=adaptive: fewer threads while others take the cores */
    /* a backup's position (BackupAndRestore): its epoch, from its step */
    int first_epoch = o.initial_epoch, first_step = 0;
    if (st == PX_OK && m->resume.active) {
        first_epoch = m->resume.epoch;
        first_step = m->resume.step;
        st = resume_states(m, cbs, n_cbs);
    }
    for (int epoch = first_epoch; st == PX_OK && epoch < epochs && !m->stop_training; epoch++) {
        bool resuming = m->resume.active && epoch == first_epoch;
        m->fit.epoch = epoch;
        m->fit.step = 0;
        memset(&logs, 0, sizeof logs);
        CALL_HOOKS(on_epoch_begin, epoch, &logs)
        if (resuming) m->rng = m->resume.epoch_rng; /* the shuffle below is the interrupted epoch's */
        m->fit.epoch_rng = m->rng;
        if (!o.no_shuffle) {
            /* each epoch's order depends only on the generator's state, so a run
             * resumed from a checkpoint shuffles as the uninterrupted one did, and
             * every replica (whose generator is rank 0's) shuffles alike */
            for (int64_t i = 0; i < tr.n; i++) idx[i] = i;
            px_rng_shuffle_i64(&m->rng, idx, tr.n);
        }
        px_metric_sums_reset(&acc);
        if (resuming && first_step > 0 && m->resume.n_sums == acc.n) {
            memcpy(acc.sums, m->resume.sums, (size_t)acc.n * sizeof *acc.sums);
            m->fit.step = first_step;
            if (!o.train_step) px_metric_sums_logs(&acc, m, &logs, "");
        }
        if (resuming) resume_clear(&m->resume);
        prefilled = false;
        bool interrupting = false;
        for (int step = m->fit.step; st == PX_OK && step < m->fit_steps; step++) {
            int64_t start = (int64_t)step * batch_size, rows = tr.n - start < batch_size ? tr.n - start : batch_size;
            CALL_HOOKS(on_batch_begin, step, &logs)
            if (st != PX_OK) break;
            if (o.train_step) {
                if ((st = user_step(m, &o, &b, &tr, idx, start, rows, &logs)) != PX_OK) break;
            } else {
                /* on a device, the next batch is gathered while this step runs */
                int64_t next = start + batch_size, next_rows = 0;
                if (pinned && step + 1 < m->fit_steps) next_rows = tr.n - next < batch_size ? tr.n - next : batch_size;
                if ((st = train_step(m, s, &b, &tr, idx, start, rows, S, &acc, &prefilled, next, next_rows)) != PX_OK)
                    break;
                px_metric_sums_logs(&acc, m, &logs, "");
            }
            px_thread_governor_step();
            m->fit.step = step + 1;
            CALL_HOOKS(on_batch_end, step, &logs)
            interrupting = m->interrupt != 0; /* read once: a later signal counts at the next step */
            if (st == PX_OK && m->fit.after_step) st = m->fit.after_step(m->fit.saver, m, interrupting);
            if (m->stop_now || interrupting) break;
        }
        if (st != PX_OK) break;
        if (interrupting) { /* an interrupted epoch does not end: a resumed run finishes it */
            m->interrupted = true;
            break;
        }
        if (has_val && !m->stop_now) st = run_evaluation(m, &va, batch_size, &logs, "val_", NULL, S);
        CALL_HOOKS(on_epoch_end, epoch, &logs)
        if (st == PX_OK) st = px_history_append(&m->history, &logs);
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
        CALL_HOOKS(on_train_end, &logs)
    }
    resume_clear(&m->resume);
    m->fit = (px_fit_position){.finished = m->fit.finished};
    m->interrupt = 0;
    if (st == PX_OK && S) st = S->end(S, m);
    px_callback_free(bar);
    free(cbs);
    free(idx);
    px_metric_sums_free(&acc);
    px_batches_free(&b);
    px_prepared_free(&tr);
    px_prepared_free(&va);
    return st;
}

px_status px_model_fit_arrays(px_model *m, const px_arrays *train, const px_fit_options *opts) {
    px_status st = fit_arrays(m, train, opts);
    px_strategy *S = opts ? opts->strategy : NULL;
    if (S && m && m->train_session) px_session_set_replicas(m->train_session, NULL);
    /* a replica that fails tells the others, which would otherwise wait for it */
    if (st != PX_OK && S) st = S->fail(S, st);
    return st;
}

px_status px_model_fit(px_model *m, const px_dataset *train, const px_fit_options *opts) {
    if (!train || !train->x || !train->y) return px_set_error(PX_ERR_ARG, "fit: the dataset needs inputs and labels");
    px_arrays a = {&train->x, 1, &train->y, 1};
    return px_model_fit_arrays(m, &a, opts);
}

/* ---- evaluate and predict ---- */

static px_status evaluate_arrays(px_model *m, const px_arrays *data, const px_eval_options *opts, px_logs *logs) {
    px_eval_options o = opts ? *opts : (px_eval_options){0};
    if (!m) return px_set_error(PX_ERR_ARG, "evaluate: model is NULL");
    if (!m->compiled) return px_set_error(PX_ERR_STATE, "evaluate: model '%s' must be compiled first", m->name);
    if (!data || !data->x) return px_set_error(PX_ERR_ARG, "evaluate: no data");
    if (px_model_ready(m, data->x[0]) != PX_OK) return px_last_status();
    int batch_size = o.batch_size > 0 ? o.batch_size : 32;
    px_prepared p;
    if (px_prepare(m, data, true, 0, -1, &p, "evaluation data") != PX_OK) return px_last_status();
    bool chief = !o.strategy || o.strategy->rank == 0;
    px_callback *bar = o.verbose == PX_VERBOSE_SILENT || !chief ? NULL : px_progbar_logger(o.verbose, o.out);
    int64_t lo, hi;
    share_of(o.strategy, p.n, &lo, &hi);
    m->fit_epochs = 1;
    m->fit_steps = (int)((hi - lo + batch_size - 1) / batch_size);
    if (bar && bar->on_epoch_begin) bar->on_epoch_begin(bar, m, 0, NULL);
    px_logs local = {0};
    px_status st = run_evaluation(m, &p, batch_size, logs ? logs : &local, "", bar, o.strategy);
    px_callback_free(bar);
    px_prepared_free(&p);
    return st;
}

px_status px_model_evaluate_arrays(px_model *m, const px_arrays *data, const px_eval_options *opts, px_logs *logs) {
    px_status st = evaluate_arrays(m, data, opts, logs);
    if (st != PX_OK && opts && opts->strategy) st = opts->strategy->fail(opts->strategy, st);
    return st;
}

px_status px_model_evaluate(px_model *m, const px_dataset *data, const px_eval_options *opts, px_logs *logs) {
    if (!data || !data->x || !data->y) return px_set_error(PX_ERR_ARG, "evaluate: the dataset needs inputs and labels");
    px_arrays a = {&data->x, 1, &data->y, 1};
    return px_model_evaluate_arrays(m, &a, opts, logs);
}

px_status px_model_predict_arrays(px_model *m, px_tensor *const *x, int n_x, const px_eval_options *opts,
                                  px_tensor **outputs) {
    px_eval_options o = opts ? *opts : (px_eval_options){0};
    if (!m || !x || !outputs || n_x < 1) return px_set_error(PX_ERR_ARG, "predict: NULL argument");
    if (px_model_ready(m, x[0]) != PX_OK) return px_last_status();
    int batch_size = o.batch_size > 0 ? o.batch_size : 32;
    px_arrays a = {x, n_x, NULL, 0};
    px_prepared p;
    if (px_prepare(m, &a, false, 0, -1, &p, "prediction inputs") != PX_OK) return px_last_status();
    px_session *s = predict_session(m);
    px_batches b;
    px_status st = s ? px_batches_init(&b, m, &p, batch_size, false, false) : px_last_status();
    if (st != PX_OK) {
        px_prepared_free(&p);
        return st;
    }
    for (int i = 0; i < m->n_outputs; i++) outputs[i] = NULL;
    for (int64_t start = 0; st == PX_OK && start < p.n; start += batch_size) {
        int64_t rows = p.n - start < batch_size ? p.n - start : batch_size;
        px_batches_fill(&b, &p, NULL, start, rows);
        if ((st = px_session_run(s, b.feeds, b.n, NULL)) != PX_OK) break;
        for (int i = 0; i < m->n_outputs; i++) {
            const px_tensor *f = px_session_fetch(s, i);
            if (!outputs[i]) {
                px_shape os = px_tensor_shape(f);
                os.dim[0] = p.n;
                if (!(outputs[i] = px_tensor_new(f->dtype, os))) {
                    st = px_last_status();
                    break;
                }
            }
            size_t row = (size_t)(px_tensor_size(f) / rows) * 4;
            memcpy((char *)outputs[i]->data + (size_t)start * row, f->data, (size_t)rows * row);
        }
    }
    if (st != PX_OK)
        for (int i = 0; i < m->n_outputs; i++) {
            px_tensor_free(outputs[i]);
            outputs[i] = NULL;
        }
    px_batches_free(&b);
    px_prepared_free(&p);
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
