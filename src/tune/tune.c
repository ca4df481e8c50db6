/* Hyperparameter search: the SPACE.json reader, grid and seeded random draws,
 * k-fold / hold-out scoring of MLP trials and the sorted results table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "plexus/tune.h"
#include "plexus/model_io.h"
#include "formats/json.h"
#include "train/loss_kind.h"
#include "tune/tune_internal.h"

/* Grids larger than this are certainly a mistake in the space (and would overflow). */
#define MAX_GRID 1000000L

static bool values_empty(const px_tune_values *v) { return v->n == 0 && v->low == 0 && v->high == 0; }

/* ---- SPACE.json ---- */

static px_status read_values(const px_json *j, const char *key, px_tune_values *v) {
    memset(v, 0, sizeof *v);
    if (px_json_is_number(j)) {
        v->n = 1;
        v->values[0] = px_json_number(j);
        return PX_OK;
    }
    if (px_json_is_array(j)) {
        size_t n = px_json_len(j);
        if (n == 0 || n > PX_TUNE_MAX_CHOICES)
            return px_set_error(PX_ERR_FORMAT, "space: '%s' must list 1 to %d numbers, not %zu", key,
                                PX_TUNE_MAX_CHOICES, n);
        for (size_t i = 0; i < n; i++) {
            if (!px_json_is_number(px_json_at(j, i)))
                return px_set_error(PX_ERR_FORMAT, "space: '%s'[%zu] is %s, expected a number", key, i,
                                    px_json_type_name(px_json_typeof(px_json_at(j, i))));
            v->values[i] = px_json_number(px_json_at(j, i));
        }
        v->n = (int)n;
        return PX_OK;
    }
    if (px_json_is_object(j) && px_json_len(j) == 1) {
        const char *kind = px_json_first(j).key;
        const px_json *r = px_json_first(j).value;
        bool log = strcmp(kind, "log_uniform") == 0;
        if (!log && strcmp(kind, "uniform") != 0)
            return px_set_error(PX_ERR_FORMAT, "space: '%s': unknown distribution '%s' (use \"uniform\" or \"log_uniform\")",
                                key, kind);
        if (px_json_len(r) != 2 || !px_json_is_array(r) || !px_json_is_number(px_json_at(r, 0)) ||
            !px_json_is_number(px_json_at(r, 1)))
            return px_set_error(PX_ERR_FORMAT, "space: '%s': %s needs [low, high], two numbers", key, kind);
        v->low = px_json_number(px_json_at(r, 0));
        v->high = px_json_number(px_json_at(r, 1));
        v->log = log;
        return PX_OK;
    }
    return px_set_error(PX_ERR_FORMAT,
                        "space: '%s' must be a number, a list of numbers or {\"uniform\"|\"log_uniform\": [low, high]}",
                        key);
}

/* Strings or a list of strings into names[]. */
static px_status read_names(const px_json *j, const char *key, char names[][16], int *n) {
    size_t count = px_json_is_array(j) ? px_json_len(j) : 1;
    if (count == 0 || count > PX_TUNE_MAX_CHOICES)
        return px_set_error(PX_ERR_FORMAT, "space: '%s' must list 1 to %d names", key, PX_TUNE_MAX_CHOICES);
    for (size_t i = 0; i < count; i++) {
        const px_json *e = px_json_is_array(j) ? px_json_at(j, i) : j;
        const char *s = px_json_string(e);
        if (!s || strlen(s) >= 16)
            return px_set_error(PX_ERR_FORMAT, "space: '%s' must be a name or a list of names (strings)", key);
        strcpy(names[i], s);
    }
    *n = (int)count;
    return PX_OK;
}

static px_status check_values(const px_tune_values *v, const char *key, double min, double max, bool integer) {
    if (v->n < 0 || v->n > PX_TUNE_MAX_CHOICES)
        return px_set_error(PX_ERR_ARG, "space: '%s' has %d values (at most %d)", key, v->n, PX_TUNE_MAX_CHOICES);
    for (int i = 0; i < v->n; i++) {
        double x = v->values[i];
        if (!isfinite(x) || x < min || x > max || (integer && x != floor(x)))
            return px_set_error(PX_ERR_ARG, "space: '%s' value %.10g is not %s in [%.10g, %.10g]", key, x,
                                integer ? "an integer" : "a number", min, max);
    }
    if (v->n == 0 && !values_empty(v)) {
        if (!isfinite(v->low) || !isfinite(v->high) || v->low > v->high || v->low < min || v->high > max)
            return px_set_error(PX_ERR_ARG, "space: '%s' range [%g, %g] must satisfy %g <= low <= high <= %g", key,
                                v->low, v->high, min, max);
        if (v->log && v->low <= 0)
            return px_set_error(PX_ERR_ARG, "space: '%s' log_uniform range needs low > 0, not %g", key, v->low);
    }
    return PX_OK;
}

static px_status check_space(const px_tune_space *s) {
    px_status st;
    if ((st = check_values(&s->layers, "layers", 0, 64, true)) || (st = check_values(&s->units, "units", 1, 1 << 20, true)) ||
        (st = check_values(&s->learning_rate, "learning_rate", 1e-12, 100, false)) ||
        (st = check_values(&s->batch_size, "batch_size", 1, 1 << 24, true)) ||
        (st = check_values(&s->dropout, "dropout", 0, 0.99, false)))
        return st;
    if (s->n_activations < 0 || s->n_activations > PX_TUNE_MAX_CHOICES || s->n_optimizers < 0 ||
        s->n_optimizers > PX_TUNE_MAX_CHOICES)
        return px_set_error(PX_ERR_ARG, "space: too many activations or optimizers (at most %d)", PX_TUNE_MAX_CHOICES);
    for (int i = 0; i < s->n_activations; i++)
        if ((int)s->activations[i] < 0 || s->activations[i] >= PX_ACTIVATION_COUNT)
            return px_set_error(PX_ERR_ARG, "space: activation %d is out of range", (int)s->activations[i]);
    for (int i = 0; i < s->n_optimizers; i++) {
        px_optimizer *o = px_optimizer_from_name(s->optimizers[i], NULL);
        if (!o)
            return px_set_error(PX_ERR_ARG, "space: unknown optimizer '%.15s' (sgd, adam, adamw, nadam, rmsprop, adagrad, adadelta, adamax, ftrl, lion)",
                                s->optimizers[i]);
        px_optimizer_free(o);
    }
    return PX_OK;
}

px_status px_tune_space_from_json(const char *json, size_t len, px_tune_space *out) {
    if (!json || !out) return px_set_error(PX_ERR_ARG, "px_tune_space_from_json: NULL argument");
    memset(out, 0, sizeof *out);
    px_json *root = NULL;
    px_status st = px_json_parse(json, len, &root);
    if (st) return st;
    if (!px_json_is_object(root)) {
        px_json_free(root);
        return px_set_error(PX_ERR_FORMAT, "space: the top level must be an object of hyperparameters");
    }
    for (px_json_member e = px_json_first(root); !st && e.key; e = px_json_next(root, e)) {
        const char *k = e.key;
        const px_json *v = e.value;
        if (strcmp(k, "layers") == 0) st = read_values(v, k, &out->layers);
        else if (strcmp(k, "units") == 0) st = read_values(v, k, &out->units);
        else if (strcmp(k, "learning_rate") == 0) st = read_values(v, k, &out->learning_rate);
        else if (strcmp(k, "batch_size") == 0) st = read_values(v, k, &out->batch_size);
        else if (strcmp(k, "dropout") == 0) st = read_values(v, k, &out->dropout);
        else if (strcmp(k, "optimizer") == 0) st = read_names(v, k, out->optimizers, &out->n_optimizers);
        else if (strcmp(k, "activation") == 0) {
            char names[PX_TUNE_MAX_CHOICES][16];
            int n = 0;
            st = read_names(v, k, names, &n);
            for (int a = 0; !st && a < n; a++)
                if (px_activation_from_name(names[a], &out->activations[a]) != PX_OK)
                    st = px_set_error(PX_ERR_FORMAT, "space: unknown activation '%s'", names[a]);
            if (!st) out->n_activations = n;
        } else
            st = px_set_error(PX_ERR_FORMAT,
                              "space: unknown key '%s' (use layers, units, activation, learning_rate, batch_size, "
                              "dropout, optimizer)", k);
    }
    px_json_free(root);
    return st ? st : check_space(out);
}

/* ---- points of the space ---- */

enum { D_LAYERS, D_UNITS, D_ACT, D_LR, D_BATCH, D_DROP, D_OPT, N_DIMS };

/* The number of choices of a dimension in a grid (1 for a default). */
static int dim_count(const px_tune_space *s, int d) {
    switch (d) {
    case D_LAYERS: return s->layers.n ? s->layers.n : 1;
    case D_UNITS: return s->units.n ? s->units.n : 1;
    case D_ACT: return s->n_activations ? s->n_activations : 1;
    case D_LR: return s->learning_rate.n ? s->learning_rate.n : 1;
    case D_BATCH: return s->batch_size.n ? s->batch_size.n : 1;
    case D_DROP: return s->dropout.n ? s->dropout.n : 1;
    default: return s->n_optimizers ? s->n_optimizers : 1;
    }
}

/* Value i of a numeric dimension, or a draw from its range when rng is given. */
static double pick(const px_tune_values *v, double def, int i, px_rng *rng) {
    if (v->n > 0) return v->values[rng ? (int)px_rng_below(rng, (uint32_t)v->n) : i];
    if (values_empty(v)) return def;
    double u = rng ? px_rng_uniform(rng) : 0.0;
    if (v->log) return exp(log(v->low) + u * (log(v->high) - log(v->low)));
    return v->low + u * (v->high - v->low);
}

/* The point with choice idx[d] in each dimension (grid), or drawn (rng != NULL).
 * Dimensions are drawn in a fixed order so a seed always gives the same points. */
static void make_point(const px_tune_space *s, const int *idx, px_rng *rng, px_tune_params *p) {
    memset(p, 0, sizeof *p);
    p->layers = (int)lround(pick(&s->layers, 1, idx ? idx[D_LAYERS] : 0, rng));
    p->units = (int)lround(pick(&s->units, 32, idx ? idx[D_UNITS] : 0, rng));
    int a = s->n_activations ? (rng ? (int)px_rng_below(rng, (uint32_t)s->n_activations) : idx[D_ACT]) : -1;
    p->activation = a >= 0 ? s->activations[a] : PX_RELU;
    p->learning_rate = pick(&s->learning_rate, 0.01, idx ? idx[D_LR] : 0, rng);
    p->batch_size = (int)lround(pick(&s->batch_size, 32, idx ? idx[D_BATCH] : 0, rng));
    p->dropout = pick(&s->dropout, 0, idx ? idx[D_DROP] : 0, rng);
    int o = s->n_optimizers ? (rng ? (int)px_rng_below(rng, (uint32_t)s->n_optimizers) : idx[D_OPT]) : -1;
    strcpy(p->optimizer, o >= 0 ? s->optimizers[o] : "sgd");
    if (p->units < 1) p->units = 1;
    if (p->batch_size < 1) p->batch_size = 1;
}

/* ---- models ---- */

/* The classification losses: those Keras pairs with an accuracy of their own. */
static bool is_crossentropy(px_loss_kind k) {
    const px_loss_def *d = px_loss_def_of(k);
    return d && d->accuracy != PX_METRIC_NONE;
}

px_model *px_tune_build_model(const px_tune_params *p, px_shape input_shape, int n_outputs,
                              px_activation output_activation, px_loss_kind loss) {
    if (!p || n_outputs < 1 || input_shape.rank < 1 || p->layers < 0 || p->units < 1) {
        px_set_error(PX_ERR_ARG, "px_tune_build_model: needs parameters, an input shape and n_outputs >= 1");
        return NULL;
    }
    px_optimizer *opt = px_optimizer_from_name(p->optimizer, &(px_optimizer_options){.learning_rate = (float)p->learning_rate});
    if (!opt) return NULL;
    px_model *m = px_sequential(NULL);
    px_status st = m ? px_sequential_add(m, px_input_layer(input_shape, NULL)) : PX_ERR_NOMEM;
    if (!st && input_shape.rank > 1) st = px_sequential_add(m, px_flatten(PX_SCALAR));
    for (int i = 0; !st && i < p->layers; i++) {
        st = px_sequential_add(m, px_dense(p->units, p->activation));
        if (!st && p->dropout > 0) st = px_sequential_add(m, px_dropout_layer((float)p->dropout));
    }
    if (!st) st = px_sequential_add(m, px_dense(n_outputs, output_activation));
    if (!st)
        st = px_model_compile(m, &(px_compile_options){.loss = loss, .optimizer = opt,
                                                       .metrics = {is_crossentropy(loss) ? PX_ACCURACY : PX_METRIC_NONE}});
    else
        px_optimizer_free(opt);
    if (st) {
        px_model_free(m);
        return NULL;
    }
    return m;
}

/* ---- data ---- */

/* The examples outside rows [start, stop) of d, as copies. */
static px_dataset *rows_except(const px_dataset *d, int64_t start, int64_t stop) {
    int64_t n = px_dataset_size(d), keep = n - (stop - start);
    px_tensor *parts[2] = {d->x, d->y};
    px_tensor *outs[2] = {NULL, NULL};
    for (int t = 0; t < 2; t++) {
        const px_tensor *src = parts[t];
        if (!src) continue;
        px_shape s = px_tensor_shape(src);
        s.dim[0] = keep;
        outs[t] = px_tensor_new(src->dtype, s);
        if (!outs[t]) {
            px_tensor_free(outs[0]);
            return NULL;
        }
        size_t row = (size_t)(px_tensor_size(src) / (n ? n : 1)) * 4; /* both dtypes are 4 bytes */
        char *dst = outs[t]->data;
        const char *from = src->data;
        memcpy(dst, from, (size_t)start * row);
        memcpy(dst + (size_t)start * row, from + (size_t)stop * row, (size_t)(n - stop) * row);
    }
    return px_dataset_new(outs[0], outs[1]);
}

/* ---- the search ---- */

typedef struct split {
    px_dataset *train, *valid;
} split;

/* What the trials learn: the loss, the output layer and the input shape, from the data. */
typedef struct tune_task {
    px_loss_kind loss;
    int n_out;
    px_activation out_act;
    bool acc; /* scored by accuracy (classification), else by the loss */
    px_shape in_shape;
} tune_task;

/* Fits one point on one split; *score and *loss from evaluating on the held-out part. */
static px_status run_fit(const px_tune_params *p, const split *sp, const tune_task *task, int epochs, uint64_t seed,
                         double *score, double *vloss) {
    px_set_random_seed(seed);
    px_model *m = px_tune_build_model(p, task->in_shape, task->n_out, task->out_act, task->loss);
    if (!m) return px_last_status();
    px_status st = px_model_fit(m, sp->train, &(px_fit_options){.epochs = epochs, .batch_size = p->batch_size,
                                                               .verbose = PX_VERBOSE_SILENT});
    px_logs logs = {0};
    if (!st) st = px_model_evaluate(m, sp->valid, &(px_eval_options){.batch_size = 256, .verbose = PX_VERBOSE_SILENT}, &logs);
    px_model_free(m);
    if (st) return st;
    *vloss = NAN;
    *score = NAN;
    px_logs_get(&logs, "loss", vloss);
    if (task->acc) px_logs_get(&logs, "accuracy", score);
    else *score = *vloss;
    return PX_OK;
}

static bool g_higher; /* the sort's direction (qsort has no user pointer in C11) */
static int trial_cmp(const void *pa, const void *pb) {
    const px_tune_trial *a = pa, *b = pb;
    if (px_tune_better(a->score, b->score, g_higher)) return -1;
    if (px_tune_better(b->score, a->score, g_higher)) return 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Fills the options' defaults and checks them against the data; *n_splits: folds, or 1 (hold-out). */
static px_status check_options(const px_dataset *train, px_tune_options *o, int *n_splits) {
    int64_t n = px_dataset_size(train);
    if (o->epochs <= 0) o->epochs = 10;
    if (o->folds < 0 || o->folds == 1) return px_set_error(PX_ERR_ARG, "px_tune: folds must be >= 2, not %d", o->folds);
    if (o->validation_split < 0 || o->validation_split >= 1)
        return px_set_error(PX_ERR_ARG, "px_tune: validation_split must be in (0, 1), not %g", o->validation_split);
    if (o->folds && o->validation_split > 0)
        return px_set_error(PX_ERR_ARG, "px_tune: give folds or validation_split, not both");
    if (!o->folds && o->validation_split == 0) o->folds = 3;
    if (o->trials < 0) return px_set_error(PX_ERR_ARG, "px_tune: trials must be >= 0, not %d", o->trials);
    *n_splits = o->folds ? o->folds : 1;
    if (n < 2 || n < *n_splits)
        return px_set_error(PX_ERR_ARG, "px_tune: %lld examples are too few for %d folds", (long long)n, *n_splits);
    return PX_OK;
}

/* The task: classification from int labels, regression from float targets. */
static px_status pick_task(const px_dataset *train, const px_tune_options *o, tune_task *task) {
    int64_t n = px_dataset_size(train);
    bool classes = train->y->dtype == PX_I32;
    px_loss_kind loss = o->loss;
    if (!loss) loss = classes ? PX_SPARSE_CATEGORICAL_CROSSENTROPY : PX_MEAN_SQUARED_ERROR;
    int n_out = o->n_outputs;
    if (!n_out) {
        if (classes) {
            int32_t mx = -1;
            for (int64_t i = 0; i < n; i++) {
                int32_t c = px_tensor_i32(train->y)[i];
                if (c < 0) return px_set_error(PX_ERR_ARG, "px_tune: label %d of example %lld is negative", c, (long long)i);
                if (c > mx) mx = c;
            }
            n_out = loss == PX_BINARY_CROSSENTROPY ? 1 : mx + 1;
        } else
            n_out = train->y->rank > 1 ? (int)train->y->shape[1] : 1;
    }
    task->loss = loss;
    task->n_out = n_out;
    task->out_act = loss == PX_BINARY_CROSSENTROPY ? PX_SIGMOID : is_crossentropy(loss) ? PX_SOFTMAX : PX_LINEAR;
    task->acc = is_crossentropy(loss);
    px_shape in_shape = px_tensor_shape(train->x);
    for (int i = 1; i < in_shape.rank; i++) in_shape.dim[i - 1] = in_shape.dim[i];
    in_shape.rank--;
    if (in_shape.rank < 1) return px_set_error(PX_ERR_ARG, "px_tune: x must have a feature axis, shape (n, ...)");
    task->in_shape = in_shape;
    return PX_OK;
}

/* How many points: the grid (all, or the first `trials`), or `trials` random draws. */
static px_status count_trials(const px_tune_space *space, const px_tune_options *o, int *n_trials) {
    long total = 1;
    for (int d = 0; d < N_DIMS; d++) {
        total *= dim_count(space, d);
        if (total > MAX_GRID) return px_set_error(PX_ERR_ARG, "px_tune: the grid has more than %ld points", MAX_GRID);
    }
    if (o->search == PX_SEARCH_RANDOM) {
        *n_trials = o->trials ? o->trials : 10;
        return PX_OK;
    }
    if (o->search != PX_SEARCH_GRID) return px_set_error(PX_ERR_ARG, "px_tune: unknown search kind %d", (int)o->search);
    const char *range = NULL;
    if (space->layers.n == 0 && !values_empty(&space->layers)) range = "layers";
    if (space->units.n == 0 && !values_empty(&space->units)) range = "units";
    if (space->learning_rate.n == 0 && !values_empty(&space->learning_rate)) range = "learning_rate";
    if (space->batch_size.n == 0 && !values_empty(&space->batch_size)) range = "batch_size";
    if (space->dropout.n == 0 && !values_empty(&space->dropout)) range = "dropout";
    if (range)
        return px_set_error(PX_ERR_ARG, "px_tune: grid search needs lists of values, but '%s' is a range "
                                        "(use random search or list the values)", range);
    *n_trials = (int)(o->trials && o->trials < total ? o->trials : total);
    return PX_OK;
}

/* The splits: one seeded shuffle of a copy of the data, then contiguous folds (or the
 * hold-out tail). */
static px_status make_splits(const px_dataset *shuffled, const px_tune_options *o, split *splits, int n_splits) {
    int64_t n = px_dataset_size(shuffled);
    for (int f = 0; f < n_splits; f++) {
        int64_t a, b;
        if (o->folds) a = n * f / o->folds, b = n * (f + 1) / o->folds;
        else {
            /* the float fraction (0.2f is 0.200000003) must not round 30.000001 up to 31 */
            int64_t nv = (int64_t)ceil(o->validation_split * (double)n - 1e-4);
            if (nv < 1) nv = 1;
            if (nv >= n) nv = n - 1;
            a = n - nv, b = n;
        }
        splits[f].valid = px_dataset_slice(shuffled, a, b);
        splits[f].train = rows_except(shuffled, a, b);
        if (!splits[f].valid || !splits[f].train) return px_last_status() ? px_last_status() : PX_ERR_NOMEM;
    }
    return PX_OK;
}

/* Trial t: its point (grid index or random draw), fitted and scored on every split. */
static px_status run_trial(const px_tune_space *space, const px_tune_options *o, const tune_task *task,
                           const split *splits, int n_splits, px_rng *draws, int t, px_tune_trial *tr) {
    tr->index = t;
    if (o->search == PX_SEARCH_GRID) {
        int idx[N_DIMS];
        long rest = t;
        for (int d = N_DIMS - 1; d >= 0; d--) { /* the last dimension changes fastest */
            idx[d] = (int)(rest % dim_count(space, d));
            rest /= dim_count(space, d);
        }
        make_point(space, idx, NULL, &tr->params);
    } else
        make_point(space, NULL, draws, &tr->params);
    double t0 = px_clock_seconds(), sum = 0, sum2 = 0, lsum = 0;
    px_status st = PX_OK;
    for (int f = 0; !st && f < n_splits; f++) {
        double sc = NAN, vl = NAN;
        st = run_fit(&tr->params, &splits[f], task, o->epochs, o->seed + (uint64_t)t * 1000 + f, &sc, &vl);
        sum += sc, sum2 += sc * sc, lsum += vl;
    }
    tr->score = sum / n_splits;
    double var = sum2 / n_splits - tr->score * tr->score;
    tr->score_std = var > 0 ? sqrt(var) : 0;
    tr->loss = lsum / n_splits;
    tr->seconds = px_clock_seconds() - t0;
    return st;
}

static void print_trial(FILE *log, const px_tune_trial *tr, int n_trials, const char *score_name) {
    fprintf(log, "trial %d/%d: layers=%d units=%d activation=%s learning_rate=%.4g batch_size=%d dropout=%.3g "
                 "optimizer=%s -> %s %.4f (+/- %.4f) in %.1f s\n",
            tr->index + 1, n_trials, tr->params.layers, tr->params.units, px_activation_name(tr->params.activation),
            tr->params.learning_rate, tr->params.batch_size, tr->params.dropout, tr->params.optimizer, score_name,
            tr->score, tr->score_std, tr->seconds);
    fflush(log);
}

/* Every trial on every split; out->trials in trial order. */
static px_status run_trials(const px_dataset *train, const px_tune_space *space, const px_tune_options *o,
                            const tune_task *task, int n_splits, int n_trials, px_tune_result *out) {
    int64_t n = px_dataset_size(train);
    split *splits = calloc((size_t)n_splits, sizeof *splits);
    px_dataset *shuffled = px_dataset_slice(train, 0, n);
    px_status st = PX_OK;
    if (!splits || !shuffled) st = px_set_error(PX_ERR_NOMEM, "px_tune: out of memory");
    px_rng rng = px_rng_seeded(o->seed);
    if (!st) st = px_dataset_shuffle(shuffled, &rng);
    if (!st) st = make_splits(shuffled, o, splits, n_splits);
    px_rng draws = px_rng_seeded(o->seed ^ 0x5eed5eedULL);
    bool talk = o->verbose == PX_VERBOSE_BAR || o->verbose == PX_VERBOSE_EPOCH;
    FILE *log = o->out ? o->out : stdout;
    for (int t = 0; !st && t < n_trials; t++) {
        st = run_trial(space, o, task, splits, n_splits, &draws, t, &out->trials[t]);
        out->n_trials = t + 1;
        if (!st && talk) print_trial(log, &out->trials[t], n_trials, out->score_name);
    }
    for (int f = 0; splits && f < n_splits; f++) {
        px_dataset_free(splits[f].train);
        px_dataset_free(splits[f].valid);
    }
    free(splits);
    px_dataset_free(shuffled);
    return st;
}

px_status px_tune(const px_dataset *train, const px_tune_space *space, const px_tune_options *opts,
                  px_tune_result *out) {
    if (!train || !space || !out || !train->x || !train->y)
        return px_set_error(PX_ERR_ARG, "px_tune: needs labelled training data, a space and a result");
    memset(out, 0, sizeof *out);
    px_tune_options o = opts ? *opts : (px_tune_options){0};
    int n_splits = 1, n_trials = 0;
    tune_task task;
    px_status st = check_space(space);
    if (!st) st = check_options(train, &o, &n_splits);
    if (!st) st = pick_task(train, &o, &task);
    if (!st) st = count_trials(space, &o, &n_trials);
    if (st) return st;
    if (!(out->trials = calloc((size_t)n_trials, sizeof *out->trials)))
        return px_set_error(PX_ERR_NOMEM, "px_tune: out of memory");
    out->higher_is_better = task.acc;
    out->score_name = task.acc ? "val_accuracy" : "val_loss";
    st = run_trials(train, space, &o, &task, n_splits, n_trials, out);
    if (st) {
        px_tune_result_clear(out);
        return st;
    }
    g_higher = task.acc;
    qsort(out->trials, (size_t)out->n_trials, sizeof *out->trials, trial_cmp);

    if (o.retrain && out->n_trials > 0) {
        const px_tune_trial *best = &out->trials[0];
        px_set_random_seed(o.seed + (uint64_t)best->index * 1000 + 999);
        out->best_model = px_tune_build_model(&best->params, task.in_shape, task.n_out, task.out_act, task.loss);
        st = out->best_model ? px_model_fit(out->best_model, train,
                                            &(px_fit_options){.epochs = o.epochs, .batch_size = best->params.batch_size,
                                                              .verbose = PX_VERBOSE_SILENT})
                             : px_last_status();
        if (st) {
            px_tune_result_clear(out);
            return st;
        }
    }
    return PX_OK;
}

px_status px_tune_print(const px_tune_result *r, FILE *out) {
    if (!r || !out) return px_set_error(PX_ERR_ARG, "px_tune_print: NULL argument");
    char head[40];
    snprintf(head, sizeof head, "%s", r->score_name ? r->score_name : "score");
    fprintf(out, "%-4s  %-12s  %-8s  %-8s  %6s  %5s  %-10s  %13s  %10s  %7s  %-9s  %7s\n", "rank", head, "+/-",
            "val_loss", "layers", "units", "activation", "learning_rate", "batch_size", "dropout", "optimizer",
            "seconds");
    for (int i = 0; i < r->n_trials; i++) {
        const px_tune_trial *t = &r->trials[i];
        fprintf(out, "%-4d  %-12.4f  %-8.4f  %-8.4f  %6d  %5d  %-10s  %13.6g  %10d  %7.3g  %-9s  %7.2f\n", i + 1,
                t->score, t->score_std, t->loss, t->params.layers, t->params.units,
                px_activation_name(t->params.activation), t->params.learning_rate, t->params.batch_size,
                t->params.dropout, t->params.optimizer, t->seconds);
    }
    return ferror(out) ? px_set_error(PX_ERR_IO, "px_tune_print: write error") : PX_OK;
}

void px_tune_result_clear(px_tune_result *r) {
    if (!r) return;
    free(r->trials);
    px_model_free(r->best_model);
    memset(r, 0, sizeof *r);
}
