/* Hyperparameter search over any Keras model-config JSON (Keras Tuner's HyperModel):
 * a space of the JSON's fields ("<layer>.<key>", the optimizer and its settings, the
 * batch size), seeded random draws, and successive halving of the trials (each rung
 * trains the survivors on to eta times the epochs and keeps the best 1/eta). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "formats/json.h"
#include "plexus/model_io.h"
#include "plexus/tune.h"
#include "train/optimizer_kind.h"
#include "tune/tune_internal.h"

/* ---- the schedule ---- */

px_status px_halving_schedule(int trials, int min_epochs, int max_epochs, int eta, px_halving_rung *rungs,
                              int max_rungs, int *n_rungs) {
    if (!rungs || !n_rungs || max_rungs < 1) return px_set_error(PX_ERR_ARG, "halving_schedule: NULL or empty output");
    if (trials < 1 || min_epochs < 1 || max_epochs < min_epochs || eta < 1)
        return px_set_error(PX_ERR_ARG,
                            "halving_schedule: needs trials >= 1, 1 <= min_epochs <= max_epochs and eta >= 1 "
                            "(got %d, %d, %d, %d)", trials, min_epochs, max_epochs, eta);
    int n = 0;
    long epochs = min_epochs, keep = trials;
    for (;;) {
        if (n == max_rungs) return px_set_error(PX_ERR_ARG, "halving_schedule: more than %d rungs", max_rungs);
        if (eta == 1 || epochs > max_epochs) epochs = max_epochs; /* eta 1: every trial to the end at once */
        rungs[n++] = (px_halving_rung){.trials = (int)keep, .epochs = (int)epochs};
        if (epochs == max_epochs) break;
        epochs *= eta;
        keep = keep / eta > 0 ? keep / eta : 1;
    }
    *n_rungs = n;
    return PX_OK;
}

/* ---- the space ---- */

/* One key of the space: where it goes and the values it takes. */
typedef struct hp {
    char key[128];
    const px_json *choices; /* a list of values, or NULL: */
    double low, high;       /* a range (uniform or log-uniform) */
    bool log, integer;
} hp;

enum { MAX_HP = 64 };

typedef struct space {
    px_json *root;
    hp hps[MAX_HP];
    int n;
} space;

static px_status read_space(const char *text, size_t len, space *sp) {
    memset(sp, 0, sizeof *sp);
    px_status st = px_json_parse(text, len, &sp->root);
    if (st) {
        px_error_prefix("space");
        return st;
    }
    if (!px_json_is_object(sp->root)) return px_set_error(PX_ERR_FORMAT, "space: must be a JSON object of keys to values");
    for (px_json_member m = px_json_first(sp->root); m.key; m = px_json_next(sp->root, m)) {
        if (sp->n == MAX_HP) return px_set_error(PX_ERR_FORMAT, "space: more than %d keys", MAX_HP);
        hp *h = &sp->hps[sp->n++];
        if (strlen(m.key) >= sizeof h->key) return px_set_error(PX_ERR_FORMAT, "space: key '%.40s...' is too long", m.key);
        strcpy(h->key, m.key);
        if (strcmp(m.key, "epochs") == 0)
            return px_set_error(PX_ERR_ARG, "space: 'epochs' is the halving budget, not a hyperparameter "
                                            "(set min_epochs and max_epochs, --min-epochs/--max-epochs)");
        if (px_json_is_array(m.value)) {
            if (px_json_len(m.value) == 0) return px_set_error(PX_ERR_FORMAT, "space: '%s' lists no values", m.key);
            h->choices = m.value;
            continue;
        }
        const char *kind = px_json_is_object(m.value) && px_json_len(m.value) == 1 ? px_json_first(m.value).key : "";
        const px_json *r = px_json_get(m.value, kind);
        h->log = strcmp(kind, "log_uniform") == 0;
        h->integer = strcmp(kind, "int_uniform") == 0;
        if (!h->log && !h->integer && strcmp(kind, "uniform") != 0)
            return px_set_error(PX_ERR_FORMAT,
                                "space: '%s' must be a list of values or {\"uniform\"|\"log_uniform\"|\"int_uniform\": [low, high]}",
                                m.key);
        if (!px_json_is_array(r) || px_json_len(r) != 2 || !px_json_is_number(px_json_at(r, 0)) ||
            !px_json_is_number(px_json_at(r, 1)))
            return px_set_error(PX_ERR_FORMAT, "space: '%s': %s needs [low, high], two numbers", m.key, kind);
        h->low = px_json_number(px_json_at(r, 0));
        h->high = px_json_number(px_json_at(r, 1));
        if (!(h->low <= h->high) || (h->log && h->low <= 0))
            return px_set_error(PX_ERR_FORMAT, "space: '%s': %s needs low <= high%s", m.key, kind,
                                h->log ? " and low > 0" : "");
    }
    return PX_OK;
}

/* A draw of every key: an object key -> value (caller frees). */
static px_json *draw(const space *sp, px_rng *rng) {
    px_json *point = px_json_new_object();
    for (int i = 0; point && i < sp->n; i++) {
        const hp *h = &sp->hps[i];
        px_json *v;
        if (h->choices) {
            v = px_json_copy(px_json_at(h->choices, px_rng_below(rng, (uint32_t)px_json_len(h->choices))));
        } else {
            double u = px_rng_uniform(rng);
            double x = h->log ? exp(log(h->low) + u * (log(h->high) - log(h->low))) : h->low + u * (h->high - h->low);
            v = h->integer ? px_json_new_int((int64_t)floor(h->low + u * (h->high - h->low + 1 - 1e-9)))
                           : px_json_new_number(x);
        }
        if (!v || px_json_set(point, h->key, v)) {
            px_json_free(point);
            return NULL;
        }
    }
    if (!point) px_set_error(PX_ERR_NOMEM, "tune: out of memory");
    return point;
}

/* The layer config object named `name` anywhere in a model config (nested models too). */
static px_json *find_layer_config(px_json *j, const char *name) {
    if (px_json_is_object(j)) {
        px_json *c = px_json_get(j, "config");
        if (px_json_get(j, "class_name") && px_json_is_object(c)) {
            const char *nm = px_json_get_string(c, "name", NULL);
            if (nm && strcmp(nm, name) == 0 && !px_json_get(c, "layers")) return c;
        }
        for (px_json_member m = px_json_first(j); m.key; m = px_json_next(j, m)) {
            px_json *r = find_layer_config(m.value, name);
            if (r) return r;
        }
    } else if (px_json_is_array(j)) {
        for (size_t i = 0; i < px_json_len(j); i++) {
            px_json *r = find_layer_config(px_json_at(j, i), name);
            if (r) return r;
        }
    }
    return NULL;
}

/* Sets "<layer>.<key>[.<key>...]" of the model config to v (a copy): the path's
 * objects must exist but its last key may be new. */
static px_status set_field(px_json *model, const char *key, const px_json *v) {
    char path[128];
    snprintf(path, sizeof path, "%s", key);
    char *dot = strchr(path, '.');
    if (!dot) return px_set_error(PX_ERR_FORMAT, "space: '%s' is not '<layer name>.<config key>', 'optimizer', "
                                                 "'optimizer.<key>' or 'batch_size'", key);
    *dot = '\0';
    px_json *obj = find_layer_config(model, path);
    if (!obj) return px_set_error(PX_ERR_ARG, "space: '%s': the model has no layer named '%s'", key, path);
    char *part = dot + 1;
    for (char *next; (next = strchr(part, '.')); part = next + 1) {
        *next = '\0';
        px_json *inner = px_json_get(obj, part);
        if (!px_json_is_object(inner))
            return px_set_error(PX_ERR_ARG, "space: '%s': layer '%s' has no object '%s'", key, path, part);
        obj = inner;
    }
    px_json *c = px_json_copy(v);
    return c && !px_json_set(obj, part, c) ? PX_OK : px_set_error(PX_ERR_NOMEM, "tune: out of memory");
}

/* ---- one trial ---- */

typedef struct trial_run {
    px_model *model;
    int batch_size;
} trial_run;

/* The optimizer of a point: its "optimizer" (else the options') with its
 * "optimizer.<key>" settings, read as Keras's optimizer config. */
static px_optimizer *point_optimizer(const px_json *point, const char *default_name) {
    const px_json *nm = px_json_get(point, "optimizer");
    const char *name = nm ? px_json_string(nm) : default_name;
    if (!name) {
        px_set_error(PX_ERR_FORMAT, "space: 'optimizer' values must be names such as \"adam\"");
        return NULL;
    }
    px_json *o = px_json_new_object(), *c = px_json_new_object();
    px_status st = o && c ? PX_OK : px_set_error(PX_ERR_NOMEM, "tune: out of memory");
    if (!st) st = px_json_set(o, "class_name", px_json_new_string(name));
    for (px_json_member m = px_json_first(point); !st && m.key; m = px_json_next(point, m))
        if (strncmp(m.key, "optimizer.", 10) == 0) st = px_json_set(c, m.key + 10, px_json_copy(m.value));
    if (!st) {
        st = px_json_set(o, "config", c);
        c = NULL;
    }
    px_optimizer *opt = st ? NULL : px_optimizer_from_json(o);
    px_json_free(c);
    px_json_free(o);
    return opt;
}

static px_status build_trial(const px_json *model_cfg, const px_json *point, const px_tune_model_options *o,
                             bool classes, uint64_t seed, trial_run *run) {
    px_json *m = px_json_copy(model_cfg);
    px_status st = m ? PX_OK : px_set_error(PX_ERR_NOMEM, "tune: out of memory");
    run->batch_size = o->batch_size ? o->batch_size : 32;
    for (px_json_member k = px_json_first(point); !st && k.key; k = px_json_next(point, k)) {
        if (strcmp(k.key, "batch_size") == 0) {
            if (!px_json_is_integer(k.value) || px_json_int(k.value) < 1)
                st = px_set_error(PX_ERR_FORMAT, "space: 'batch_size' values must be positive integers");
            else run->batch_size = (int)px_json_int(k.value);
        } else if (strcmp(k.key, "optimizer") != 0 && strncmp(k.key, "optimizer.", 10) != 0)
            st = set_field(m, k.key, k.value);
    }
    char *text = NULL;
    if (!st) st = px_json_write(m, &text);
    px_json_free(m);
    if (st) return st;
    px_set_random_seed(seed);
    run->model = px_model_from_json(text, strlen(text));
    px_compile_options co = {0};
    bool found = false;
    if (!run->model) st = px_last_status();
    if (!st && !o->loss) st = px_compile_options_from_json(run->model, text, strlen(text), &co, &found);
    free(text);
    if (st) return st;
    if (!found) {
        co = (px_compile_options){.loss = o->loss ? o->loss : classes ? PX_SPARSE_CATEGORICAL_CROSSENTROPY
                                                                      : PX_MEAN_SQUARED_ERROR};
        if (classes) co.metrics[0] = PX_ACCURACY;
    }
    /* the point's optimizer replaces the compile config's (which is dropped) */
    if (found && !px_json_get(point, "optimizer") && co.optimizer) {
        bool tuned = false;
        for (px_json_member k = px_json_first(point); k.key; k = px_json_next(point, k))
            tuned = tuned || strncmp(k.key, "optimizer.", 10) == 0;
        if (tuned) {
            char name[32];
            snprintf(name, sizeof name, "%s", px_optimizer_name(co.optimizer));
            px_optimizer_free(co.optimizer);
            co.optimizer = point_optimizer(point, name);
            if (!co.optimizer) return px_last_status();
        }
    } else {
        px_optimizer_free(co.optimizer);
        co.optimizer = point_optimizer(point, o->optimizer ? o->optimizer : "adam");
        if (!co.optimizer) return px_last_status();
    }
    return px_model_compile(run->model, &co);
}

/* Trains on to `epochs` in all and scores on the validation data: by its accuracy
 * when the model reports one (*acc set), else by its loss. */
static px_status train_to(trial_run *run, const px_dataset *train, const px_dataset *valid, int done, int epochs,
                          bool *acc, uint64_t seed, double *score, double *vloss) {
    px_model_set_seed(run->model, seed);
    px_status st = px_model_fit(run->model, train,
                                &(px_fit_options){.epochs = epochs, .initial_epoch = done, .batch_size = run->batch_size,
                                                  .verbose = PX_VERBOSE_SILENT});
    px_logs logs = {0};
    if (!st) st = px_model_evaluate(run->model, valid, &(px_eval_options){.batch_size = 256, .verbose = PX_VERBOSE_SILENT}, &logs);
    *vloss = NAN;
    *score = NAN;
    px_logs_get(&logs, "loss", vloss);
    *acc = px_logs_get(&logs, "accuracy", score);
    if (!*acc) *score = *vloss;
    return st;
}

/* ---- the search ---- */

static bool g_higher; /* the sort's direction (qsort has no user pointer in C11) */
/* Best first: the furthest rung, then the score there, then the order drawn. */
static int trial_cmp(const void *pa, const void *pb) {
    const px_tune_model_trial *a = pa, *b = pb;
    if (a->rung != b->rung) return b->rung - a->rung;
    if (px_tune_better(a->score, b->score, g_higher)) return -1;
    if (px_tune_better(b->score, a->score, g_higher)) return 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* The validation data: the options', or the last fraction of a seeded shuffle. */
static px_status hold_out(const px_dataset *train, const px_tune_model_options *o, px_dataset **tr, px_dataset **va) {
    if (o->validation) {
        *tr = px_dataset_slice(train, 0, px_dataset_size(train));
        *va = px_dataset_slice(o->validation, 0, px_dataset_size(o->validation));
        return *tr && *va ? PX_OK : px_last_status();
    }
    float split = o->validation_split > 0 ? o->validation_split : 0.2f;
    if (split >= 1) return px_set_error(PX_ERR_ARG, "tune: validation_split must be in (0, 1), not %g", split);
    int64_t n = px_dataset_size(train), nv = (int64_t)ceil(split * (double)n - 1e-4);
    if (nv < 1 || nv >= n) return px_set_error(PX_ERR_ARG, "tune: %lld examples are too few to hold out %g", (long long)n, split);
    px_dataset *all = px_dataset_slice(train, 0, n);
    px_rng rng = px_rng_seeded(o->seed);
    px_status st = all ? px_dataset_shuffle(all, &rng) : px_last_status();
    if (!st) {
        *tr = px_dataset_slice(all, 0, n - nv);
        *va = px_dataset_slice(all, n - nv, n);
        if (!*tr || !*va) st = px_last_status();
    }
    px_dataset_free(all);
    return st;
}

static void print_trial(FILE *log, const px_tune_model_trial *t, int rung, int n_rungs, const char *score_name) {
    fprintf(log, "rung %d/%d trial %d: %s -> %d epochs, %s %.4f (val_loss %.4f) in %.1f s\n", rung + 1, n_rungs,
            t->index + 1, t->params, t->epochs, score_name, t->score, t->loss, t->seconds);
    fflush(log);
}

static px_status search(const px_json *model_cfg, const space *sp, const px_dataset *train, const px_dataset *valid,
                        const px_tune_model_options *o, const px_halving_rung *rungs, int n_rungs,
                        px_tune_model_result *out, trial_run *runs, px_json **points) {
    bool classes = train->y->dtype == PX_I32, acc = false;
    bool talk = o->verbose == PX_VERBOSE_BAR || o->verbose == PX_VERBOSE_EPOCH;
    FILE *log = o->out ? o->out : stdout;
    px_rng rng = px_rng_seeded(o->seed ^ 0x5eed5eedULL);
    int n = rungs[0].trials;
    px_status st = PX_OK;
    for (int t = 0; !st && t < n; t++) {
        px_tune_model_trial *tr = &out->trials[t];
        tr->index = t;
        tr->rung = -1;
        if (!(points[t] = draw(sp, &rng))) return px_last_status();
        st = px_json_write(points[t], &tr->params);
        if (!st) st = build_trial(model_cfg, points[t], o, classes, o->seed + 1000 * (uint64_t)t, &runs[t]);
        if (st) px_error_prefix("tune: trial %d (%s)", t + 1, tr->params ? tr->params : "?");
    }
    out->n_trials = n;
    /* alive[0..n_alive): the trials still training, best first after each rung */
    int *alive = malloc((size_t)n * sizeof *alive), n_alive = n;
    if (!alive) return px_set_error(PX_ERR_NOMEM, "tune: out of memory");
    for (int t = 0; t < n; t++) alive[t] = t;
    for (int r = 0; !st && r < n_rungs; r++) {
        n_alive = rungs[r].trials < n_alive ? rungs[r].trials : n_alive;
        for (int i = 0; !st && i < n_alive; i++) {
            px_tune_model_trial *tr = &out->trials[alive[i]];
            double t0 = px_clock_seconds();
            st = train_to(&runs[alive[i]], train, valid, tr->epochs, rungs[r].epochs, &acc,
                          o->seed + 1000 * (uint64_t)alive[i] + (uint64_t)r + 1, &tr->score, &tr->loss);
            out->higher_is_better = acc;
            out->score_name = acc ? "val_accuracy" : "val_loss";
            if (st) {
                px_error_prefix("tune: trial %d (%s)", alive[i] + 1, tr->params);
                break;
            }
            out->total_epochs += rungs[r].epochs - tr->epochs;
            tr->epochs = rungs[r].epochs;
            tr->rung = r;
            tr->rung_scores[r] = tr->score;
            tr->seconds += px_clock_seconds() - t0;
            if (talk) print_trial(log, tr, r, n_rungs, out->score_name);
        }
        /* the best first, so that the next rung keeps the first 1/eta */
        for (int i = 1; !st && i < n_alive; i++)
            for (int j = i; j > 0 && px_tune_better(out->trials[alive[j]].score, out->trials[alive[j - 1]].score, acc); j--) {
                int x = alive[j];
                alive[j] = alive[j - 1];
                alive[j - 1] = x;
            }
        /* the trials stopped here free their models */
        int next = r + 1 < n_rungs ? rungs[r + 1].trials : 1;
        for (int i = next; !st && i < n_alive; i++) {
            px_model_free(runs[alive[i]].model);
            runs[alive[i]].model = NULL;
        }
    }
    if (!st && n_alive > 0) {
        out->best_model = runs[alive[0]].model;
        runs[alive[0]].model = NULL;
    }
    free(alive);
    return st;
}

px_status px_tune_model(const char *model_json, size_t model_len, const char *space_json, size_t space_len,
                        const px_dataset *train, const px_tune_model_options *opts, px_tune_model_result *out) {
    if (!model_json || !space_json || !train || !train->x || !train->y || !out)
        return px_set_error(PX_ERR_ARG, "px_tune_model: needs a model JSON, a space, labelled data and a result");
    memset(out, 0, sizeof *out);
    px_tune_model_options o = opts ? *opts : (px_tune_model_options){0};
    if (!o.trials) o.trials = 9;
    if (!o.min_epochs) o.min_epochs = 1;
    if (!o.eta) o.eta = 3;
    if (!o.max_epochs) o.max_epochs = o.min_epochs * o.eta * o.eta;
    if (o.trials < 0 || o.min_epochs < 0 || o.max_epochs < o.min_epochs || o.eta < 1 || o.batch_size < 0)
        return px_set_error(PX_ERR_ARG, "px_tune_model: trials, min_epochs, eta and batch_size must be positive and "
                                        "max_epochs >= min_epochs");
    px_halving_rung rungs[PX_TUNE_MAX_RUNGS];
    int n_rungs = 0;
    px_status st = px_halving_schedule(o.trials, o.min_epochs, o.max_epochs, o.eta, rungs, PX_TUNE_MAX_RUNGS, &n_rungs);
    if (st) return st;
    space sp;
    px_json *model_cfg = NULL;
    st = read_space(space_json, space_len, &sp);
    if (!st && (st = px_json_parse(model_json, model_len, &model_cfg))) px_error_prefix("tune: model JSON");
    px_dataset *tr = NULL, *va = NULL;
    if (!st) st = hold_out(train, &o, &tr, &va);
    trial_run *runs = calloc((size_t)o.trials, sizeof *runs);
    px_json **points = calloc((size_t)o.trials, sizeof *points);
    out->trials = calloc((size_t)o.trials, sizeof *out->trials);
    if (!st && (!runs || !points || !out->trials)) st = px_set_error(PX_ERR_NOMEM, "px_tune_model: out of memory");
    if (!st) st = search(model_cfg, &sp, tr, va, &o, rungs, n_rungs, out, runs, points);
    for (int t = 0; runs && points && t < o.trials; t++) {
        px_model_free(runs[t].model);
        px_json_free(points[t]);
    }
    free(runs);
    free(points);
    px_dataset_free(tr);
    px_dataset_free(va);
    px_json_free(model_cfg);
    px_json_free(sp.root);
    if (st) {
        px_tune_model_result_clear(out);
        return st;
    }
    g_higher = out->higher_is_better;
    qsort(out->trials, (size_t)out->n_trials, sizeof *out->trials, trial_cmp);
    return PX_OK;
}

px_status px_tune_model_print(const px_tune_model_result *r, FILE *out) {
    if (!r || !out) return px_set_error(PX_ERR_ARG, "px_tune_model_print: NULL argument");
    fprintf(out, "%-4s  %-12s  %-8s  %6s  %7s  %s\n", "rank", r->score_name ? r->score_name : "score", "val_loss",
            "epochs", "seconds", "hyperparameters");
    for (int i = 0; i < r->n_trials; i++) {
        const px_tune_model_trial *t = &r->trials[i];
        fprintf(out, "%-4d  %-12.4f  %-8.4f  %6d  %7.2f  %s\n", i + 1, t->score, t->loss, t->epochs, t->seconds,
                t->params ? t->params : "");
    }
    fprintf(out, "epochs trained in all: %lld\n", (long long)r->total_epochs);
    return ferror(out) ? px_set_error(PX_ERR_IO, "px_tune_model_print: write error") : PX_OK;
}

void px_tune_model_result_clear(px_tune_model_result *r) {
    if (!r) return;
    for (int i = 0; r->trials && i < r->n_trials; i++) free(r->trials[i].params);
    free(r->trials);
    px_model_free(r->best_model);
    memset(r, 0, sizeof *r);
}
