/* Callbacks that change the optimizer's learning rate: ReduceLROnPlateau and
 * LearningRateScheduler, both logging the rate under "lr" as tf.keras 2 does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks/callbacks_internal.h"
#include "formats/json.h"

static px_status need_optimizer(px_model *m, const char *who, px_optimizer **opt) {
    *opt = px_model_optimizer(m);
    return *opt ? PX_OK : px_set_error(PX_ERR_STATE, "%s: the model has no optimizer (compile it first)", who);
}

/* ---- ReduceLROnPlateau ---- */

typedef struct reduce_lr {
    px_callback cb;
    px_reduce_lr_options o;
    char monitor[64], log_key[64];
    bool is_max;
    double best;
    int wait, cooldown_counter;
} reduce_lr;

static px_status rl_train_begin(px_callback *cb, px_model *m, px_logs *logs) {
    (void)m, (void)logs;
    reduce_lr *r = cb->state;
    r->best = r->is_max ? -INFINITY : INFINITY;
    r->wait = r->cooldown_counter = 0;
    return PX_OK;
}

static px_status rl_epoch_end(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    reduce_lr *r = cb->state;
    px_optimizer *opt;
    px_status st = need_optimizer(m, "ReduceLROnPlateau", &opt);
    if (st != PX_OK) return st;
    float lr = px_optimizer_learning_rate(opt);
    px_logs_set(logs, r->log_key, lr);
    double current;
    if (!px_logs_get(logs, r->monitor, &current)) {
        char keys[1024];
        px_cb_join_keys(logs, ",", keys, sizeof keys);
        fprintf(r->o.out, "WARNING: Learning rate reduction is conditioned on metric `%s` which is not available. "
                          "Available metrics are: %s\n", r->monitor, keys);
        return PX_OK;
    }
    if (r->cooldown_counter > 0) {
        r->cooldown_counter--;
        r->wait = 0;
    }
    bool better = r->is_max ? current > r->best + r->o.min_delta : current < r->best - r->o.min_delta;
    if (better) {
        r->best = current;
        r->wait = 0;
    } else if (r->cooldown_counter <= 0 && ++r->wait >= r->o.patience) {
        if (lr > (float)r->o.min_lr) {
            /* float32 rate times a double factor, printed as Python prints that float64 */
            double new_lr = fmax((double)lr * r->o.factor, r->o.min_lr);
            px_optimizer_set_learning_rate(opt, (float)new_lr);
            if (r->o.verbose > 0) {
                char buf[64];
                fprintf(r->o.out, "\nEpoch %d: ReduceLROnPlateau reducing learning rate to %s.\n", epoch + 1,
                        px_python_float_repr(new_lr, buf, sizeof buf));
                fflush(r->o.out);
            }
            r->cooldown_counter = r->o.cooldown;
            r->wait = 0;
        }
    }
    return PX_OK;
}

static void free_state(px_callback *cb) { free(cb->state); }

/* For BackupAndRestore: the best value and both counters. */
static px_status rl_get_state(px_callback *cb, px_model *m, char **out) {
    (void)m;
    reduce_lr *r = cb->state;
    px_json *o = px_json_new_object();
    px_status st = px_json_set(o, "best", px_cb_double_json(r->best));
    if (!st) st = px_json_set(o, "wait", px_json_new_int(r->wait));
    if (!st) st = px_json_set(o, "cooldown_counter", px_json_new_int(r->cooldown_counter));
    if (st) {
        px_json_free(o);
        return st;
    }
    return px_cb_state_text(o, out);
}

static px_status rl_set_state(px_callback *cb, px_model *m, const char *state) {
    (void)m;
    reduce_lr *r = cb->state;
    px_json *o = NULL;
    if (px_cb_state_parse(state, "ReduceLROnPlateau", &o) != PX_OK) return px_last_status();
    r->best = px_cb_json_double(o, "best", r->best);
    r->wait = (int)px_json_get_int(o, "wait", 0);
    r->cooldown_counter = (int)px_json_get_int(o, "cooldown_counter", 0);
    px_json_free(o);
    return PX_OK;
}

px_callback *px_reduce_lr_on_plateau(const px_reduce_lr_options *opts) {
    px_reduce_lr_options o = opts ? *opts : (px_reduce_lr_options){0};
    if (o.factor == 0) o.factor = 0.1;
    if (o.patience == 0 && !o.no_patience) o.patience = 10;
    if (o.min_delta == 0 && !o.zero_min_delta) o.min_delta = 1e-4;
    if (!(o.factor < 1.0)) {
        px_set_error(PX_ERR_ARG, "ReduceLROnPlateau does not support a factor >= 1.0. Got %g", o.factor);
        return NULL;
    }
    const char *monitor = o.monitor ? o.monitor : "val_loss", *key = o.log_key ? o.log_key : "lr";
    if (!(o.factor >= 0) || o.patience < 0 || o.cooldown < 0 || !(o.min_lr >= 0) || !isfinite(o.min_delta) ||
        !*monitor || strlen(monitor) >= 64 || !*key || strlen(key) >= 64 ||
        (o.mode != PX_MODE_AUTO && o.mode != PX_MODE_MIN && o.mode != PX_MODE_MAX)) {
        px_set_error(PX_ERR_ARG, "ReduceLROnPlateau: need 0 <= factor < 1, patience, cooldown and min_lr >= 0, a finite "
                                 "min_delta, mode auto, min or max, and monitor and log_key of 1 to 63 characters");
        return NULL;
    }
    reduce_lr *r = calloc(1, sizeof *r);
    if (!r) {
        px_set_error(PX_ERR_NOMEM, "ReduceLROnPlateau: out of memory");
        return NULL;
    }
    r->o = o;
    if (!r->o.out) r->o.out = stdout;
    snprintf(r->monitor, sizeof r->monitor, "%s", monitor);
    snprintf(r->log_key, sizeof r->log_key, "%s", key);
    r->o.monitor = r->monitor;
    r->o.log_key = r->log_key;
    r->is_max = px_cb_mode_is_max(o.mode, monitor, false);
    r->best = r->is_max ? -INFINITY : INFINITY;
    r->cb = (px_callback){.name = "ReduceLROnPlateau", .state = r, .on_train_begin = rl_train_begin,
                          .on_epoch_end = rl_epoch_end, .destroy = free_state,
                          .get_state = rl_get_state, .set_state = rl_set_state};
    return &r->cb;
}

/* ---- LearningRateScheduler ---- */

typedef struct lr_scheduler {
    px_callback cb;
    px_lr_schedule_fn schedule;
    void *user;
    int verbose;
} lr_scheduler;

static px_status ls_epoch_begin(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)logs;
    lr_scheduler *s = cb->state;
    px_optimizer *opt;
    px_status st = need_optimizer(m, "LearningRateScheduler", &opt);
    if (st != PX_OK) return st;
    double lr = s->schedule(epoch, (double)px_optimizer_learning_rate(opt), s->user);
    if (!isfinite(lr) || lr < 0 || lr > 3.4e38)
        return px_set_error(PX_ERR_ARG, "LearningRateScheduler: the schedule gave %g for epoch %d; a learning rate must be "
                                        "a finite float32 number >= 0", lr, epoch);
    px_optimizer_set_learning_rate(opt, (float)lr);
    if (s->verbose > 0) {
        char buf[64];
        printf("\nEpoch %d: LearningRateScheduler setting learning rate to %s.\n", epoch + 1,
               px_python_float_repr(lr, buf, sizeof buf));
        fflush(stdout);
    }
    return PX_OK;
}

static px_status ls_epoch_end(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)cb, (void)epoch;
    px_optimizer *opt;
    px_status st = need_optimizer(m, "LearningRateScheduler", &opt);
    if (st == PX_OK) px_logs_set(logs, "lr", px_optimizer_learning_rate(opt));
    return st;
}

px_callback *px_learning_rate_scheduler(px_lr_schedule_fn schedule, void *user, int verbose) {
    if (!schedule) {
        px_set_error(PX_ERR_ARG, "LearningRateScheduler: schedule is NULL");
        return NULL;
    }
    lr_scheduler *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "LearningRateScheduler: out of memory");
        return NULL;
    }
    s->schedule = schedule;
    s->user = user;
    s->verbose = verbose;
    s->cb = (px_callback){.name = "LearningRateScheduler", .state = s, .on_epoch_begin = ls_epoch_begin,
                          .on_epoch_end = ls_epoch_end, .destroy = free_state};
    return &s->cb;
}
