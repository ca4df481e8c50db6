/* EarlyStopping: stops fit when a monitored value has not improved for `patience`
 * epochs, optionally putting back the weights of the best epoch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks/callbacks_internal.h"
#include "formats/json.h"

typedef struct early_stopping {
    px_callback cb;
    px_early_stopping_options o;
    char monitor[64];
    bool is_max;
    double min_delta; /* signed as Keras signs it: positive when higher is better */
    int wait, stopped_epoch, best_epoch;
    double best;
    px_tensor **best_weights;
    int n_best;
} early_stopping;

static void drop_weights(early_stopping *e) {
    for (int i = 0; i < e->n_best; i++) px_tensor_free(e->best_weights[i]);
    free(e->best_weights);
    e->best_weights = NULL;
    e->n_best = 0;
}

static bool improves(const early_stopping *e, double current, double reference) {
    return e->is_max ? current - e->min_delta > reference : current - e->min_delta < reference;
}

static px_status es_train_begin(px_callback *cb, px_model *m, px_logs *logs) {
    (void)m, (void)logs;
    early_stopping *e = cb->state;
    e->wait = 0;
    e->stopped_epoch = 0;
    e->best_epoch = -1;
    e->best = e->is_max ? -INFINITY : INFINITY;
    drop_weights(e);
    return PX_OK;
}

static px_status snapshot(early_stopping *e, px_model *m) {
    drop_weights(e);
    return px_model_get_weights(m, &e->best_weights, &e->n_best);
}

static px_status restore(early_stopping *e, px_model *m) {
    if (e->o.verbose > 0)
        fprintf(e->o.out, "Restoring model weights from the end of the best epoch: %d.\n", e->best_epoch + 1);
    return px_model_set_weights(m, e->best_weights, e->n_best);
}

static px_status es_epoch_end(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    early_stopping *e = cb->state;
    double current;
    if (!px_logs_get(logs, e->monitor, &current)) {
        char keys[1024];
        px_cb_join_keys(logs, ",", keys, sizeof keys);
        fprintf(e->o.out, "WARNING: Early stopping conditioned on metric `%s` which is not available. Available metrics are: %s\n",
                e->monitor, keys);
        return PX_OK;
    }
    if (epoch < e->o.start_from_epoch) return PX_OK;
    px_status st;
    if (e->o.restore_best_weights && !e->best_weights && (st = snapshot(e, m)) != PX_OK) return st;
    e->wait++;
    if (improves(e, current, e->best)) {
        e->best = current;
        e->best_epoch = epoch;
        if (e->o.restore_best_weights && (st = snapshot(e, m)) != PX_OK) return st;
        /* a baseline holds the wait back until the value also beats it */
        if (!e->o.has_baseline || improves(e, current, e->o.baseline)) e->wait = 0;
        return PX_OK;
    }
    /* epoch > 0: Keras never stops after the very first epoch */
    if (e->wait >= e->o.patience && epoch > 0) {
        e->stopped_epoch = epoch;
        px_model_stop_training(m, false);
        if (e->o.restore_best_weights && e->o.restore_only_if_stopped && e->best_weights) return restore(e, m);
    }
    return PX_OK;
}

static px_status es_train_end(px_callback *cb, px_model *m, px_logs *logs) {
    (void)logs;
    early_stopping *e = cb->state;
    if (e->stopped_epoch > 0 && e->o.verbose > 0) fprintf(e->o.out, "Epoch %d: early stopping\n", e->stopped_epoch + 1);
    px_status st = PX_OK;
    if (e->o.restore_best_weights && !e->o.restore_only_if_stopped && e->best_weights) st = restore(e, m);
    fflush(e->o.out);
    return st;
}

/* For BackupAndRestore: the counters, the best value and the best epoch's weights. */
static px_status es_get_state(px_callback *cb, px_model *m, char **out) {
    (void)m;
    early_stopping *e = cb->state;
    px_json *o = px_json_new_object(), *w = px_json_new_array();
    px_status st = px_json_set(o, "wait", px_json_new_int(e->wait));
    if (!st) st = px_json_set(o, "stopped_epoch", px_json_new_int(e->stopped_epoch));
    if (!st) st = px_json_set(o, "best_epoch", px_json_new_int(e->best_epoch));
    if (!st) st = px_json_set(o, "best", px_cb_double_json(e->best));
    for (int i = 0; !st && i < e->n_best; i++)
        st = px_json_push(w, px_cb_floats_json(px_tensor_f32(e->best_weights[i]), px_tensor_size(e->best_weights[i])));
    if (!st) st = px_json_set(o, "best_weights", w);
    else px_json_free(w);
    if (st) {
        px_json_free(o);
        return st;
    }
    return px_cb_state_text(o, out);
}

static px_status es_set_state(px_callback *cb, px_model *m, const char *state) {
    early_stopping *e = cb->state;
    px_json *o = NULL;
    if (px_cb_state_parse(state, "EarlyStopping", &o) != PX_OK) return px_last_status();
    e->wait = (int)px_json_get_int(o, "wait", 0);
    e->stopped_epoch = (int)px_json_get_int(o, "stopped_epoch", 0);
    e->best_epoch = (int)px_json_get_int(o, "best_epoch", -1);
    e->best = px_cb_json_double(o, "best", e->best);
    const px_json *w = px_json_get(o, "best_weights");
    px_status st = PX_OK;
    drop_weights(e);
    if (px_json_len(w) > 0 && (st = px_model_get_weights(m, &e->best_weights, &e->n_best)) == PX_OK) {
        bool ok = (int)px_json_len(w) == e->n_best;
        for (int i = 0; ok && i < e->n_best; i++)
            ok = px_cb_json_floats(px_json_at(w, (size_t)i), px_tensor_f32(e->best_weights[i]),
                                   px_tensor_size(e->best_weights[i]));
        if (!ok) {
            drop_weights(e);
            st = px_set_error(PX_ERR_FORMAT, "EarlyStopping: the backed-up best weights do not fit model '%s'",
                              px_model_name(m));
        }
    }
    px_json_free(o);
    return st;
}

static void es_destroy(px_callback *cb) {
    early_stopping *e = cb->state;
    drop_weights(e);
    free(e);
}

px_callback *px_early_stopping(const px_early_stopping_options *opts) {
    px_early_stopping_options o = opts ? *opts : (px_early_stopping_options){0};
    if (o.patience < 0 || o.start_from_epoch < 0 || !isfinite(o.min_delta) || (o.has_baseline && isnan(o.baseline))) {
        px_set_error(PX_ERR_ARG, "EarlyStopping: patience (%d) and start_from_epoch (%d) must be >= 0, min_delta and "
                                 "baseline numbers", o.patience, o.start_from_epoch);
        return NULL;
    }
    const char *monitor = o.monitor ? o.monitor : "val_loss";
    if (!*monitor || strlen(monitor) >= 64) {
        px_set_error(PX_ERR_ARG, "EarlyStopping: monitor must be a log key of 1 to 63 characters");
        return NULL;
    }
    if (o.mode != PX_MODE_AUTO && o.mode != PX_MODE_MIN && o.mode != PX_MODE_MAX) {
        px_set_error(PX_ERR_ARG, "EarlyStopping: mode %d is not auto, min or max", (int)o.mode);
        return NULL;
    }
    early_stopping *e = calloc(1, sizeof *e);
    if (!e) {
        px_set_error(PX_ERR_NOMEM, "EarlyStopping: out of memory");
        return NULL;
    }
    e->o = o;
    if (!e->o.out) e->o.out = stdout;
    snprintf(e->monitor, sizeof e->monitor, "%s", monitor);
    e->o.monitor = e->monitor;
    e->is_max = px_cb_mode_is_max(o.mode, monitor, true);
    e->min_delta = e->is_max ? fabs(o.min_delta) : -fabs(o.min_delta);
    e->best_epoch = -1;
    e->cb = (px_callback){.name = "EarlyStopping", .state = e, .on_train_begin = es_train_begin,
                          .on_epoch_end = es_epoch_end, .on_train_end = es_train_end, .destroy = es_destroy,
                          .get_state = es_get_state, .set_state = es_set_state};
    return &e->cb;
}

int px_early_stopping_stopped_epoch(const px_callback *cb) {
    return cb && cb->on_epoch_end == es_epoch_end ? ((const early_stopping *)cb->state)->stopped_epoch : 0;
}
int px_early_stopping_best_epoch(const px_callback *cb) {
    return cb && cb->on_epoch_end == es_epoch_end ? ((const early_stopping *)cb->state)->best_epoch : -1;
}
