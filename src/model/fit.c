/* fit, evaluate and predict: mini-batches gathered into buffers allocated once,
 * the compiled plans run per batch, running means of the loss and metrics,
 * callbacks and the History. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

void px_model_stop_training(px_model *m, bool now) {
    if (!m) return;
    m->stop_training = true;
    if (now) m->stop_now = true;
}
int px_model_fit_epochs(const px_model *m) { return m ? m->fit_epochs : 0; }
int px_model_fit_steps(const px_model *m) { return m ? m->fit_steps : 0; }

void px_gather_rows(const px_tensor *src, const int64_t *idx, int64_t start, int64_t n, px_tensor *dst) {
    int64_t row = px_tensor_size(src) / (src->shape[0] ? src->shape[0] : 1);
    size_t bytes = (size_t)row * 4;
    const char *s = src->data;
    char *d = dst->data;
    if (!idx) {
        memcpy(d, s + (size_t)start * bytes, (size_t)n * bytes);
        return;
    }
    for (int64_t i = 0; i < n; i++) memcpy(d + (size_t)i * bytes, s + (size_t)idx[start + i] * bytes, bytes);
}

/* ---- preparing data ---- */

/* The data as the model's placeholders want it: views where possible, converted
 * copies (owned, listed in `owned`) where the dtype differs. */
typedef struct prepared {
    px_tensor *x[PX_MAX_INPUTS], *y[PX_MAX_OUTPUTS];
    px_tensor *owned[PX_MAX_INPUTS + PX_MAX_OUTPUTS];
    int n_owned, n_x, n_y;
    int64_t n;
} prepared;

static void prepared_free(prepared *p) {
    for (int i = 0; i < p->n_x; i++) px_tensor_free(p->x[i]);
    for (int i = 0; i < p->n_y; i++) px_tensor_free(p->y[i]);
    for (int i = 0; i < p->n_owned; i++) px_tensor_free(p->owned[i]);
    memset(p, 0, sizeof *p);
}

/* A view of `t` (rows [start, stop)) reshaped to (rows, per-example shape of `want`). */
static px_tensor *view_as(const px_tensor *t, int64_t start, int64_t stop, px_shape want) {
    px_tensor *s = px_tensor_slice(t, start, stop);
    if (!s) return NULL;
    want.dim[0] = stop - start;
    px_tensor *r = px_tensor_reshape(s, want);
    px_tensor_free(s);
    return r;
}

/* True when no element is NaN or infinite: a branch-free test of the exponent bits
 * that the compiler vectorizes (px_check_finite's early-exit loop does not, and
 * took 15 % of a batch-1000 predict over the test set); px_check_finite, which
 * names the first bad element, runs only when this finds one. */
static bool all_finite(const void *data, int64_t n) {
    const unsigned char *p = data;
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, p + (size_t)i * 4, 4);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

static px_status check_and_view(px_model *m, const char *what, const px_tensor *t, px_node *ph, int64_t start,
                                int64_t stop, px_tensor **out, prepared *p) {
    char sa[96], sb[96];
    px_shape want = px_node_shape(ph), got = px_tensor_shape(t);
    int64_t per_want = 1, per_got = px_tensor_size(t) / (t->shape[0] ? t->shape[0] : 1);
    bool want_known = true; /* axes declared None (e.g. timesteps) take the data's size */
    for (int i = 1; i < want.rank; i++) {
        if (want.dim[i] == PX_UNKNOWN) want_known = false;
        else per_want *= want.dim[i];
    }
    bool same_rank_ok = got.rank == want.rank;
    for (int i = 1; same_rank_ok && i < want.rank; i++)
        same_rank_ok = got.dim[i] == want.dim[i] || want.dim[i] == PX_UNKNOWN;
    if (!want_known) per_want = -1;
    /* Keras accepts targets that differ only by trailing axes of size 1 */
    bool ok = same_rank_ok || (per_want == per_got && strstr(what, "target"));
    if (!ok || got.rank < 1)
        return px_set_error(PX_ERR_SHAPE, "model '%s': %s has shape %s, the model expects %s", m->name, what,
                            px_shape_format(got, sa, sizeof sa), px_shape_format(want, sb, sizeof sb));
    const px_tensor *src = t;
    if (t->dtype != px_node_dtype(ph)) {
        /* int labels for float targets, or integral float labels for a sparse loss */
        px_tensor *c = px_tensor_new(px_node_dtype(ph), got);
        if (!c) return px_last_status();
        for (int64_t i = 0, n = px_tensor_size(t); i < n; i++) {
            float v = px_tensor_get_flat(t, i);
            if (c->dtype == PX_I32 && v != floorf(v)) {
                px_tensor_free(c);
                return px_set_error(PX_ERR_ARG, "model '%s': %s holds %g at position %lld; class labels must be integers",
                                    m->name, what, v, (long long)i);
            }
            px_tensor_set_flat(c, i, v);
        }
        p->owned[p->n_owned++] = c;
        src = c;
    } else if (!px_tensor_is_contiguous(t)) {
        return px_set_error(PX_ERR_ARG, "model '%s': %s is a strided view; copy it first", m->name, what);
    }
    if (t->dtype == PX_F32 && !(px_tensor_is_contiguous(t) && all_finite(t->data, px_tensor_size(t))) &&
        px_check_finite(t, what) != PX_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        return px_set_error(PX_ERR_NUMERIC, "model '%s': %s", m->name, msg);
    }
    if (!want_known) want = got; /* keep the data's own axes */
    *out = view_as(src, start, stop, want);
    return *out ? PX_OK : px_last_status();
}

/* Checks arrays against the model and makes views of rows [start, stop) (stop < 0: all). */
static px_status prepare(px_model *m, const px_arrays *a, bool need_y, int64_t start, int64_t stop, prepared *p,
                         const char *label) {
    memset(p, 0, sizeof *p);
    if (!a || !a->x || a->n_x != m->n_inputs)
        return px_set_error(PX_ERR_ARG, "model '%s': %s has %d input arrays, the model has %d inputs", m->name, label,
                            a ? a->n_x : 0, m->n_inputs);
    if (need_y && (!a->y || a->n_y != m->n_outputs))
        return px_set_error(PX_ERR_ARG, "model '%s': %s has %d target arrays, the model has %d outputs", m->name, label,
                            a->y ? a->n_y : 0, m->n_outputs);
    int64_t n = -1;
    for (int i = 0; i < a->n_x + (need_y ? a->n_y : 0); i++) {
        const px_tensor *t = i < a->n_x ? a->x[i] : a->y[i - a->n_x];
        if (!t || t->rank < 1) return px_set_error(PX_ERR_ARG, "model '%s': %s array %d is NULL or a scalar", m->name, label, i);
        if (n >= 0 && t->shape[0] != n)
            return px_set_error(PX_ERR_SHAPE, "model '%s': %s: %s %d has %lld examples but the first input has %lld", m->name,
                                label, i < a->n_x ? "input" : "target", i < a->n_x ? i : i - a->n_x,
                                (long long)t->shape[0], (long long)n);
        n = t->shape[0];
    }
    if (n <= 0) return px_set_error(PX_ERR_ARG, "model '%s': %s is empty", m->name, label);
    if (stop < 0) stop = n;
    p->n = stop - start;
    for (int i = 0; i < a->n_x; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s input %d ('%s')", label, i, px_node_name(m->inputs[i]));
        if (check_and_view(m, what, a->x[i], m->inputs[i], start, stop, &p->x[i], p) != PX_OK) goto fail;
        p->n_x++;
    }
    for (int i = 0; need_y && i < a->n_y; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s target %d ('%s')", label, i, px_node_name(m->targets[i]));
        if (check_and_view(m, what, a->y[i], m->targets[i], start, stop, &p->y[i], p) != PX_OK) goto fail;
        p->n_y++;
    }
    return PX_OK;
fail:;
    px_status st = px_last_status();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", px_last_error());
    prepared_free(p);
    return px_set_error(st, "%s", msg);
}

/* ---- sessions ---- */

static px_status ready(px_model *m, const px_tensor *first_x) {
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

static px_session *train_session(px_model *m) {
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

/* Batch buffers of (batch, per-example shape) for each array. */
typedef struct batches {
    px_tensor *buf[PX_MAX_INPUTS + PX_MAX_OUTPUTS];
    px_tensor view[PX_MAX_INPUTS + PX_MAX_OUTPUTS];
    px_feed feeds[PX_MAX_INPUTS + PX_MAX_OUTPUTS];
    int n;
} batches;

static void batches_free(batches *b) {
    for (int i = 0; i < b->n; i++) px_tensor_free(b->buf[i]);
    b->n = 0;
}

static px_status batches_init(batches *b, px_model *m, const prepared *p, int batch_size, bool with_y) {
    memset(b, 0, sizeof *b);
    for (int i = 0; i < p->n_x + (with_y ? p->n_y : 0); i++) {
        const px_tensor *src = i < p->n_x ? p->x[i] : p->y[i - p->n_x];
        px_shape s = px_tensor_shape(src);
        s.dim[0] = batch_size < p->n ? batch_size : p->n;
        if (!(b->buf[i] = px_tensor_new(src->dtype, s))) {
            batches_free(b);
            return px_last_status();
        }
        b->n++;
        b->feeds[i].placeholder = i < p->n_x ? m->inputs[i] : m->targets[i - p->n_x];
        b->feeds[i].value = &b->view[i];
    }
    return PX_OK;
}

/* Sets the feeds to rows [start, start + rows): gathered into the buffers through
 * idx (shuffled training), or, without idx (evaluate, predict), the consecutive
 * rows of the contiguous prepared arrays fed in place, with no copy. */
static void batches_fill(batches *b, const prepared *p, const int64_t *idx, int64_t start, int64_t rows) {
    for (int i = 0; i < b->n; i++) {
        const px_tensor *src = i < p->n_x ? p->x[i] : p->y[i - p->n_x];
        b->view[i] = *b->buf[i];
        b->view[i].storage = NULL;
        b->view[i].shape[0] = rows;
        if (idx) {
            px_gather_rows(src, idx, start, rows, b->buf[i]);
        } else {
            int64_t row = px_tensor_size(src) / (src->shape[0] ? src->shape[0] : 1);
            b->view[i].data = (char *)src->data + (size_t)(start * row) * 4;
        }
    }
}

/* Runs the eval plan over the data; means of the fetches into logs (prefixed). */
static px_status run_evaluation(px_model *m, const prepared *p, int batch_size, px_logs *logs, const char *prefix,
                                px_callback *bar) {
    px_session *s = eval_session(m);
    if (!s) return px_last_status();
    batches b;
    if (batches_init(&b, m, p, batch_size, true) != PX_OK) return px_last_status();
    double sums[PX_MAX_FETCHES] = {0};
    int64_t seen = 0;
    int steps = (int)((p->n + batch_size - 1) / batch_size);
    px_logs running = {0};
    for (int step = 0; step < steps; step++) {
        int64_t start = (int64_t)step * batch_size, rows = p->n - start < batch_size ? p->n - start : batch_size;
        batches_fill(&b, p, NULL, start, rows);
        if (px_session_run(s, b.feeds, b.n, NULL) != PX_OK) {
            batches_free(&b);
            return px_last_status();
        }
        seen += rows;
        for (int k = 0; k < m->n_fetch; k++) {
            sums[k] += (double)px_tensor_f32(px_session_fetch(s, k))[0] * (double)rows;
            px_logs_set(&running, m->fetch_names[k], sums[k] / (double)seen);
        }
        if (bar && bar->on_batch_end) bar->on_batch_end(bar, m, step, &running);
    }
    batches_free(&b);
    for (int k = 0; k < m->n_fetch; k++) {
        char nm[96];
        snprintf(nm, sizeof nm, "%s%s", prefix, m->fetch_names[k]);
        px_logs_set(logs, nm, sums[k] / (double)seen);
    }
    if (bar && bar->on_epoch_end) bar->on_epoch_end(bar, m, 0, &running);
    return PX_OK;
}

/* ---- fit ---- */

#define CALL_HOOKS(HOOK, ...)                                                            \
    for (int c_ = 0; st == PX_OK && c_ < n_cbs; c_++)                                    \
        if (cbs[c_]->HOOK) st = cbs[c_]->HOOK(cbs[c_], m, __VA_ARGS__);

px_status px_model_fit_arrays(px_model *m, const px_arrays *train, const px_fit_options *opts) {
    px_fit_options o = opts ? *opts : (px_fit_options){0};
    if (!m) return px_set_error(PX_ERR_ARG, "fit: model is NULL");
    if (!m->compiled) return px_set_error(PX_ERR_STATE, "fit: model '%s' must be compiled first", m->name);
    if (!train || !train->x || train->n_x < 1) return px_set_error(PX_ERR_ARG, "fit: no training inputs");
    int epochs = o.epochs > 0 ? o.epochs : 1, batch_size = o.batch_size > 0 ? o.batch_size : 32;
    if (o.epochs < 0 || o.batch_size < 0 || o.initial_epoch < 0 || o.initial_epoch >= epochs)
        return px_set_error(PX_ERR_ARG, "fit: epochs %d, batch_size %d, initial_epoch %d: need epochs > initial_epoch >= 0 and batch_size > 0",
                            o.epochs, o.batch_size, o.initial_epoch);
    if (!(o.validation_split >= 0 && o.validation_split < 1))
        return px_set_error(PX_ERR_ARG, "fit: validation_split must be in [0, 1), got %g", o.validation_split);
    if (ready(m, train->x[0]) != PX_OK) return px_last_status();

    /* validation split: the tail, taken before any shuffling, as Keras does */
    int64_t n_all = train->x[0]->shape[0], split_at = n_all;
    if (o.validation_split > 0) {
        split_at = (int64_t)((double)n_all * (1.0 - o.validation_split));
        if (split_at <= 0 || split_at >= n_all)
            return px_set_error(PX_ERR_ARG, "fit: validation_split %g of %lld examples leaves an empty part",
                                o.validation_split, (long long)n_all);
    }
    prepared tr, va = {0};
    if (prepare(m, train, true, 0, split_at, &tr, "training data") != PX_OK) return px_last_status();
    bool has_val = false;
    px_status st = PX_OK;
    if (o.validation_split > 0) {
        st = prepare(m, train, true, split_at, n_all, &va, "validation split");
        has_val = true;
    } else if (o.validation || o.validation_arrays) {
        px_arrays v = o.validation_arrays ? *o.validation_arrays
                                          : (px_arrays){&o.validation->x, 1, &o.validation->y, o.validation->y ? 1 : 0};
        st = prepare(m, &v, true, 0, -1, &va, "validation data");
        has_val = true;
    }
    px_session *s = st == PX_OK ? train_session(m) : NULL;
    if (!s) {
        st = px_last_status();
        prepared_free(&tr);
        prepared_free(&va);
        return st;
    }

    batches b;
    int64_t *idx = malloc((size_t)tr.n * sizeof *idx);
    if (!idx || batches_init(&b, m, &tr, batch_size, true) != PX_OK) {
        free(idx);
        prepared_free(&tr);
        prepared_free(&va);
        return px_set_error(PX_ERR_NOMEM, "fit: out of memory for batch buffers");
    }
    for (int64_t i = 0; i < tr.n; i++) idx[i] = i;

    px_callback *bar = o.verbose == PX_VERBOSE_SILENT ? NULL : px_progbar_logger(o.verbose, o.out);
    int n_cbs = 0;
    px_callback **cbs = malloc((size_t)(o.n_callbacks + 2) * sizeof *cbs);
    if (!cbs) st = px_set_error(PX_ERR_NOMEM, "fit: out of memory");
    for (int i = 0; cbs && i < o.n_callbacks; i++)
        if (o.callbacks[i]) cbs[n_cbs++] = o.callbacks[i];
    if (bar && cbs) cbs[n_cbs++] = bar; /* last, so it shows what other callbacks added */

    m->fit_epochs = epochs;
    m->fit_steps = (int)((tr.n + batch_size - 1) / batch_size);
    m->stop_training = m->stop_now = false;
    px_history_clear(&m->history);
    px_logs logs = {0};
    CALL_HOOKS(on_train_begin, &logs)
    for (int epoch = o.initial_epoch; st == PX_OK && epoch < epochs && !m->stop_training; epoch++) {
        memset(&logs, 0, sizeof logs);
        CALL_HOOKS(on_epoch_begin, epoch, &logs)
        if (!o.no_shuffle) {
            /* each epoch's order depends only on the generator's state, so a run
             * resumed from a checkpoint shuffles as the uninterrupted one did */
            for (int64_t i = 0; i < tr.n; i++) idx[i] = i;
            px_rng_shuffle_i64(&m->rng, idx, tr.n);
        }
        double sums[PX_MAX_FETCHES] = {0};
        int64_t seen = 0;
        for (int step = 0; st == PX_OK && step < m->fit_steps; step++) {
            int64_t start = (int64_t)step * batch_size, rows = tr.n - start < batch_size ? tr.n - start : batch_size;
            CALL_HOOKS(on_batch_begin, step, &logs)
            if (st != PX_OK) break;
            batches_fill(&b, &tr, idx, start, rows);
            if ((st = px_session_run(s, b.feeds, b.n, NULL)) != PX_OK) break;
            int64_t n_params, n_trainable;
            float *params = px_graph_params(m->g, &n_params, &n_trainable);
            const float *grads = px_session_param_grads(s, NULL);
            if (m->opt_params >= 0 && m->opt_params != n_trainable)
                /* the trainable set changed (a layer was frozen): the optimizer restarts its slots */
                st = px_optimizer_restore(m->opt, n_trainable, px_optimizer_iterations(m->opt));
            m->opt_params = n_trainable;
            if (st == PX_OK && n_trainable > 0) st = px_optimizer_step(m->opt, params, grads, n_trainable);
            if (st != PX_OK) break;
            seen += rows;
            for (int k = 0; k < m->n_fetch; k++) {
                sums[k] += (double)px_tensor_f32(px_session_fetch(s, k))[0] * (double)rows;
                px_logs_set(&logs, m->fetch_names[k], sums[k] / (double)seen);
            }
            CALL_HOOKS(on_batch_end, step, &logs)
            if (m->stop_now) break;
        }
        if (st != PX_OK) break;
        if (has_val && !m->stop_now) st = run_evaluation(m, &va, batch_size, &logs, "val_", NULL);
        CALL_HOOKS(on_epoch_end, epoch, &logs)
        if (st == PX_OK) st = px_history_append(&m->history, &logs);
    }
    if (st == PX_OK) {
        CALL_HOOKS(on_train_end, &logs)
    }
    px_callback_free(bar);
    free(cbs);
    free(idx);
    batches_free(&b);
    prepared_free(&tr);
    prepared_free(&va);
    return st;
}

px_status px_model_fit(px_model *m, const px_dataset *train, const px_fit_options *opts) {
    if (!train || !train->x || !train->y) return px_set_error(PX_ERR_ARG, "fit: the dataset needs inputs and labels");
    px_arrays a = {&train->x, 1, &train->y, 1};
    return px_model_fit_arrays(m, &a, opts);
}

/* ---- evaluate and predict ---- */

px_status px_model_evaluate_arrays(px_model *m, const px_arrays *data, const px_eval_options *opts, px_logs *logs) {
    px_eval_options o = opts ? *opts : (px_eval_options){0};
    if (!m) return px_set_error(PX_ERR_ARG, "evaluate: model is NULL");
    if (!m->compiled) return px_set_error(PX_ERR_STATE, "evaluate: model '%s' must be compiled first", m->name);
    if (!data || !data->x) return px_set_error(PX_ERR_ARG, "evaluate: no data");
    if (ready(m, data->x[0]) != PX_OK) return px_last_status();
    int batch_size = o.batch_size > 0 ? o.batch_size : 32;
    prepared p;
    if (prepare(m, data, true, 0, -1, &p, "evaluation data") != PX_OK) return px_last_status();
    px_callback *bar = o.verbose == PX_VERBOSE_SILENT ? NULL : px_progbar_logger(o.verbose, o.out);
    m->fit_epochs = 1;
    m->fit_steps = (int)((p.n + batch_size - 1) / batch_size);
    if (bar && bar->on_epoch_begin) bar->on_epoch_begin(bar, m, 0, NULL);
    px_logs local = {0};
    px_status st = run_evaluation(m, &p, batch_size, logs ? logs : &local, "", bar);
    px_callback_free(bar);
    prepared_free(&p);
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
    if (ready(m, x[0]) != PX_OK) return px_last_status();
    int batch_size = o.batch_size > 0 ? o.batch_size : 32;
    px_arrays a = {x, n_x, NULL, 0};
    prepared p;
    if (prepare(m, &a, false, 0, -1, &p, "prediction inputs") != PX_OK) return px_last_status();
    px_session *s = predict_session(m);
    batches b;
    px_status st = s ? batches_init(&b, m, &p, batch_size, false) : px_last_status();
    if (st != PX_OK) {
        prepared_free(&p);
        return st;
    }
    for (int i = 0; i < m->n_outputs; i++) outputs[i] = NULL;
    for (int64_t start = 0; st == PX_OK && start < p.n; start += batch_size) {
        int64_t rows = p.n - start < batch_size ? p.n - start : batch_size;
        batches_fill(&b, &p, NULL, start, rows);
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
    batches_free(&b);
    prepared_free(&p);
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
