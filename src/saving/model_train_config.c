/* training_config JSON both ways: loss, metrics, loss weights and the optimizer
 * with its learning-rate schedule, as Keras 2 writes them and Keras 2/3 read them. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "saving/model_config.h"
#include "nn/layer_config.h"

static const char *const loss_classes[PX_LOSS_COUNT] = {
    "", "MeanSquaredError", "MeanAbsoluteError", "MeanSquaredLogarithmicError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge", "SquaredHinge", "KLDivergence", "Huber"};

static const struct { px_optimizer_kind kind; const char *cls, *name; } opt_names[] = {
    {PX_OPT_SGD, "SGD", "sgd"},           {PX_OPT_ADAGRAD, "Adagrad", "adagrad"}, {PX_OPT_RMSPROP, "RMSprop", "rmsprop"},
    {PX_OPT_ADADELTA, "Adadelta", "adadelta"}, {PX_OPT_ADAM, "Adam", "adam"}, {PX_OPT_ADAMW, "AdamW", "adamw"},
    {PX_OPT_NADAM, "Nadam", "nadam"}};

static const char *opt_class(px_optimizer_kind k) {
    for (size_t i = 0; i < sizeof opt_names / sizeof opt_names[0]; i++)
        if (opt_names[i].kind == k) return opt_names[i].cls;
    return "";
}

/* ---------------------------------------------------------------- writing */

static px_json *loss_json(px_loss l) {
    bool plain = !l.from_logits && !(l.kind == PX_HUBER && l.delta != 0 && l.delta != 1);
    if (plain) return px_json_new_string(px_loss_name(l.kind));
    /* the object form keeps from_logits and delta, which a name cannot say */
    px_json *o = px_json_new_object(), *c = px_json_new_object();
    if (!o || !c) return px_json_free(o), px_json_free(c), NULL;
    px_status st = px_lc_set_string(c, "reduction", "auto");
    if (!st) st = px_lc_set_string(c, "name", px_loss_name(l.kind));
    if (!st && l.kind == PX_HUBER) st = px_lc_set_float(c, "delta", l.delta ? l.delta : 1.0f);
    else if (!st) st = px_lc_set_bool(c, "from_logits", l.from_logits);
    if (st) return px_json_free(o), px_json_free(c), NULL;
    if (px_lc_set_string(o, "class_name", loss_classes[l.kind])) return px_json_free(o), px_json_free(c), NULL;
    if (px_json_set(o, "config", c)) return px_json_free(o), NULL;
    return o;
}

static px_json *schedule_json(const px_lr_schedule *s) {
    static const char *cls[] = {"", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "CosineDecay"};
    px_json *o = px_json_new_object(), *c = px_json_new_object();
    if (!o || !c || (unsigned)s->kind > PX_SCHEDULE_COSINE) return px_json_free(o), px_json_free(c), NULL;
    px_status st = PX_OK;
    if (s->kind == PX_SCHEDULE_PIECEWISE) {
        px_json *b = px_json_new_array(), *v = px_json_new_array();
        for (int i = 0; b && i < s->n_boundaries; i++) st = st ? st : px_json_push(b, px_json_new_int(s->boundaries[i]));
        for (int i = 0; v && i <= s->n_boundaries; i++) st = st ? st : px_json_push(v, px_json_new_number(px_lc_float(s->values[i])));
        if (!st) st = px_json_set(c, "boundaries", b);
        else px_json_free(b);
        if (!st) st = px_json_set(c, "values", v);
        else px_json_free(v);
    } else {
        st = px_lc_set_float(c, "initial_learning_rate", s->initial_learning_rate);
        if (!st) st = px_lc_set_int(c, "decay_steps", s->decay_steps);
        if (s->kind == PX_SCHEDULE_COSINE) {
            if (!st) st = px_lc_set_float(c, "alpha", s->alpha);
        } else {
            if (!st) st = px_lc_set_float(c, "decay_rate", s->decay_rate);
            if (!st) st = px_lc_set_bool(c, "staircase", s->staircase);
        }
    }
    if (!st) st = px_lc_set_null(c, "name");
    if (st || px_lc_set_string(o, "class_name", cls[s->kind])) return px_json_free(o), px_json_free(c), NULL;
    if (px_json_set(o, "config", c)) return px_json_free(o), NULL;
    return o;
}

static px_json *optimizer_json(const px_optimizer *opt) {
    const px_optimizer_options *o = px_optimizer_get_options(opt);
    px_optimizer_kind k = px_optimizer_get_kind(opt);
    px_json *root = px_json_new_object(), *c = px_json_new_object();
    if (!root || !c) return px_json_free(root), px_json_free(c), NULL;
    px_status st = px_lc_set_string(c, "name", opt_class(k));
    if (!st) st = o->schedule ? px_json_set(c, "learning_rate", schedule_json(o->schedule))
                              : px_lc_set_float(c, "learning_rate", px_optimizer_learning_rate(opt));
    if (!st && (k != PX_OPT_ADAMW && o->weight_decay != 0)) st = px_lc_set_float(c, "weight_decay", o->weight_decay);
    if (!st && o->clipnorm != 0) st = px_lc_set_float(c, "clipnorm", o->clipnorm);
    if (!st && o->clipvalue != 0) st = px_lc_set_float(c, "clipvalue", o->clipvalue);
    if (!st && o->global_clipnorm != 0) st = px_lc_set_float(c, "global_clipnorm", o->global_clipnorm);
    switch (k) {
    case PX_OPT_SGD:
        if (!st) st = px_lc_set_float(c, "momentum", o->momentum);
        if (!st) st = px_lc_set_bool(c, "nesterov", o->nesterov);
        break;
    case PX_OPT_ADAGRAD:
        if (!st) st = px_lc_set_float(c, "initial_accumulator_value", o->initial_accumulator_value);
        if (!st) st = px_lc_set_float(c, "epsilon", o->epsilon);
        break;
    case PX_OPT_RMSPROP:
        if (!st) st = px_lc_set_float(c, "rho", o->rho);
        if (!st) st = px_lc_set_float(c, "momentum", o->momentum);
        if (!st) st = px_lc_set_float(c, "epsilon", o->epsilon);
        if (!st) st = px_lc_set_bool(c, "centered", o->centered);
        break;
    case PX_OPT_ADADELTA:
        if (!st) st = px_lc_set_float(c, "rho", o->rho);
        if (!st) st = px_lc_set_float(c, "epsilon", o->epsilon);
        break;
    case PX_OPT_ADAMW:
        if (!st) st = px_lc_set_float(c, "weight_decay", o->weight_decay);
        /* fall through */
    case PX_OPT_ADAM:
    case PX_OPT_NADAM:
        if (!st) st = px_lc_set_float(c, "beta_1", o->beta_1);
        if (!st) st = px_lc_set_float(c, "beta_2", o->beta_2);
        if (!st) st = px_lc_set_float(c, "epsilon", o->epsilon);
        if (!st && k != PX_OPT_NADAM) st = px_lc_set_bool(c, "amsgrad", o->amsgrad);
        break;
    }
    if (st || px_lc_set_string(root, "class_name", opt_class(k))) return px_json_free(root), px_json_free(c), NULL;
    if (px_json_set(root, "config", c)) return px_json_free(root), NULL;
    return root;
}

px_status px_training_config_build(const px_model *m, px_json **out) {
    *out = NULL;
    if (!m->compiled || !m->opt) return px_set_error(PX_ERR_STATE, "training_config: model '%s' is not compiled", m->name);
    int n_out = m->n_outputs > 0 ? m->n_outputs : 1;
    bool same = true;
    for (int i = 1; i < n_out; i++)
        same &= m->losses[i].kind == m->losses[0].kind && m->losses[i].from_logits == m->losses[0].from_logits &&
                m->losses[i].delta == m->losses[0].delta;
    px_json *tc = px_json_new_object();
    if (!tc) return px_last_status();
    px_status st;
    if (same) {
        st = px_json_set(tc, "loss", loss_json(m->losses[0]));
    } else {
        px_json *a = px_json_new_array();
        st = a ? PX_OK : px_last_status();
        for (int i = 0; !st && i < n_out; i++)
            st = px_json_push(a, loss_json(m->losses[i].kind ? m->losses[i] : m->losses[0]));
        if (!st) st = px_json_set(tc, "loss", a);
        else px_json_free(a);
    }
    if (!st) {
        if (m->n_metrics == 0) {
            st = px_lc_set_null(tc, "metrics");
        } else {
            px_json *a = px_json_new_array();
            st = a ? PX_OK : px_last_status();
            for (int i = 0; !st && i < m->n_metrics; i++) {
                px_metric_kind k = m->metrics[i];
                if ((k == PX_TOP_K_ACCURACY || k == PX_SPARSE_TOP_K_ACCURACY) && m->top_k != 5) {
                    px_json *o = px_json_new_object(), *c = px_json_new_object();
                    st = o && c ? PX_OK : px_last_status();
                    if (!st) st = px_lc_set_string(c, "name", px_metric_name(k));
                    if (!st) st = px_lc_set_int(c, "k", m->top_k);
                    if (!st) st = px_lc_set_string(o, "class_name", k == PX_TOP_K_ACCURACY ? "TopKCategoricalAccuracy" : "SparseTopKCategoricalAccuracy");
                    if (st) {
                        px_json_free(o);
                        px_json_free(c);
                    } else if (!(st = px_json_set(o, "config", c))) {
                        st = px_json_push(a, o);
                    } else {
                        px_json_free(o);
                    }
                } else {
                    st = px_json_push(a, px_json_new_string(px_metric_name(k)));
                }
            }
            if (!st) st = px_json_set(tc, "metrics", a);
            else px_json_free(a);
        }
    }
    if (!st) st = px_lc_set_null(tc, "weighted_metrics");
    bool unit = true;
    for (int i = 0; i < n_out; i++) unit &= m->loss_weights[i] == 1.0f;
    if (!st && unit) st = px_lc_set_null(tc, "loss_weights");
    else if (!st) {
        px_json *a = px_json_new_array();
        st = a ? PX_OK : px_last_status();
        for (int i = 0; !st && i < n_out; i++) st = px_json_push(a, px_json_new_number(px_lc_float(m->loss_weights[i])));
        if (!st) st = px_json_set(tc, "loss_weights", a);
        else px_json_free(a);
    }
    if (!st) st = px_json_set(tc, "optimizer_config", optimizer_json(m->opt));
    if (st) return px_json_free(tc), st;
    *out = tc;
    return PX_OK;
}

/* ---------------------------------------------------------------- reading */

static px_status tc_error(px_status st, const char *fmt, const char *arg) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    return px_set_error(st, "training_config: %s", msg);
}

static px_status read_loss(const px_json *v, px_loss *out) {
    px_loss l = {0};
    const char *name = px_json_is_string(v) ? px_json_string(v) : NULL;
    if (px_json_is_object(v)) {
        const px_json *c = px_json_get(v, "config");
        name = px_json_get_string(c, "name", NULL);
        const char *cls = px_json_get_string(v, "class_name", NULL);
        for (int k = 1; cls && k < PX_LOSS_COUNT; k++)
            if (strcmp(cls, loss_classes[k]) == 0) name = px_loss_name((px_loss_kind)k);
        l.from_logits = px_json_get_bool(c, "from_logits", false);
        l.delta = (float)px_json_get_number(c, "delta", 0);
    }
    if (!name) return tc_error(PX_ERR_FORMAT, "key 'loss' holds a %s, not a loss name or object", px_json_type_name(px_json_typeof(v)));
    if (px_loss_from_name(name, &l.kind) != PX_OK) {
        /* Keras's long spellings of the short names Plexus knows */
        static const char *const alias[][2] = {{"mean_squared_error", "mse"}, {"mean_absolute_error", "mae"},
                                               {"mean_squared_logarithmic_error", "msle"}, {"kullback_leibler_divergence", "kld"}};
        bool found = false;
        for (size_t i = 0; i < sizeof alias / sizeof alias[0] && !found; i++)
            if (strcmp(name, alias[i][0]) == 0) found = px_loss_from_name(alias[i][1], &l.kind) == PX_OK;
        if (!found) return tc_error(PX_ERR_UNSUPPORTED, "loss '%s' is not supported", name);
    }
    *out = l;
    return PX_OK;
}

/* Metric names from a string, an object, or (nested) lists and dicts of them. */
static void read_metrics(const px_json *v, px_compile_options *o, int *n) {
    if (px_json_is_array(v) || (px_json_is_object(v) && !px_json_get(v, "class_name"))) {
        for (size_t i = 0; i < px_json_len(v); i++) read_metrics(px_json_is_array(v) ? px_json_at(v, i) : px_json_value_at(v, i), o, n);
        return;
    }
    const char *name = px_json_is_string(v) ? px_json_string(v) : px_json_get_string(px_json_get(v, "config"), "name", NULL);
    px_metric_kind k;
    /* metrics Plexus lacks (AUC, ...) are left out rather than failing the load */
    if (!name || px_metric_from_name(name, &k) != PX_OK) {
        px_clear_error();
        return;
    }
    if (px_json_is_object(v) && px_json_get(px_json_get(v, "config"), "k")) o->top_k = (int)px_json_int(px_json_get(px_json_get(v, "config"), "k"));
    for (int i = 0; i < *n; i++)
        if (o->metrics[i] == k) return;
    if (*n < PX_MAX_METRICS) o->metrics[(*n)++] = k;
}

static px_status read_schedule(const px_json *v, px_lr_schedule *s) {
    const char *cls = px_json_get_string(v, "class_name", "");
    const px_json *c = px_json_get(v, "config");
    memset(s, 0, sizeof *s);
    if (strcmp(cls, "ExponentialDecay") == 0) s->kind = PX_SCHEDULE_EXPONENTIAL;
    else if (strcmp(cls, "InverseTimeDecay") == 0) s->kind = PX_SCHEDULE_INVERSE_TIME;
    else if (strcmp(cls, "PiecewiseConstantDecay") == 0) s->kind = PX_SCHEDULE_PIECEWISE;
    else if (strcmp(cls, "CosineDecay") == 0) s->kind = PX_SCHEDULE_COSINE;
    else return tc_error(PX_ERR_UNSUPPORTED, "learning-rate schedule '%s' is not supported", cls);
    s->initial_learning_rate = (float)px_json_get_number(c, "initial_learning_rate", 0);
    s->decay_steps = px_json_get_int(c, "decay_steps", 0);
    s->decay_rate = (float)px_json_get_number(c, "decay_rate", 0);
    s->staircase = px_json_get_bool(c, "staircase", false);
    s->alpha = (float)px_json_get_number(c, "alpha", 0);
    if (s->kind == PX_SCHEDULE_PIECEWISE) {
        const px_json *b = px_json_get(c, "boundaries"), *vals = px_json_get(c, "values");
        size_t nb = px_json_len(b);
        if (nb > PX_MAX_PIECES || px_json_len(vals) != nb + 1)
            return tc_error(PX_ERR_FORMAT, "%s: boundaries and values do not fit", cls);
        s->n_boundaries = (int)nb;
        for (size_t i = 0; i < nb; i++) s->boundaries[i] = px_json_int(px_json_at(b, i));
        for (size_t i = 0; i <= nb; i++) s->values[i] = (float)px_json_number(px_json_at(vals, i));
    }
    if (px_lr_schedule_validate(s) != PX_OK) return tc_error(PX_ERR_FORMAT, "%s", px_last_error());
    return PX_OK;
}

static px_optimizer *read_optimizer(const px_json *v, px_lr_schedule *sched) {
    const char *cls = px_json_get_string(v, "class_name", NULL);
    const px_json *c = px_json_get(v, "config");
    if (!cls || !px_json_is_object(c)) {
        tc_error(PX_ERR_FORMAT, "key 'optimizer_config' needs 'class_name' and 'config'%s", "");
        return NULL;
    }
    const char *bare = strncmp(cls, "Custom>", 7) == 0 ? cls + 7 : cls; /* K2.11 */
    char lower[32];
    size_t i = 0;
    for (; bare[i] && i + 1 < sizeof lower; i++) lower[i] = (char)tolower((unsigned char)bare[i]);
    lower[i] = '\0';
    bool known = false;
    for (size_t k = 0; k < sizeof opt_names / sizeof opt_names[0]; k++) known |= strcmp(lower, opt_names[k].name) == 0;
    if (!known) {
        tc_error(PX_ERR_UNSUPPORTED, "optimizer '%s' is not supported", cls);
        return NULL;
    }
    px_optimizer_options o = {0};
    const px_json *lr = px_json_get(c, "learning_rate");
    if (!lr) lr = px_json_get(c, "lr"); /* K2.2 */
    if (px_json_is_object(lr)) {
        if (read_schedule(lr, sched)) return NULL;
        o.schedule = sched;
    } else if (lr && !px_json_is_number(lr)) {
        tc_error(PX_ERR_FORMAT, "optimizer key 'learning_rate' is a %s", px_json_type_name(px_json_typeof(lr)));
        return NULL;
    } else {
        o.learning_rate = (float)px_json_number(lr);
    }
    double decay = px_json_get_number(c, "decay", 0);
    if (decay != 0 && !o.schedule) {
        /* K2.2's decay is lr / (1 + decay * iterations) */
        memset(sched, 0, sizeof *sched);
        sched->kind = PX_SCHEDULE_INVERSE_TIME;
        sched->initial_learning_rate = o.learning_rate;
        sched->decay_steps = 1;
        sched->decay_rate = (float)decay;
        o.schedule = sched;
    }
    o.momentum = (float)px_json_get_number(c, "momentum", 0);
    o.nesterov = px_json_get_bool(c, "nesterov", false);
    o.beta_1 = (float)px_json_get_number(c, "beta_1", 0);
    o.beta_2 = (float)px_json_get_number(c, "beta_2", 0);
    o.epsilon = (float)px_json_get_number(c, "epsilon", 0);
    o.amsgrad = px_json_get_bool(c, "amsgrad", false);
    o.rho = (float)px_json_get_number(c, "rho", 0);
    o.centered = px_json_get_bool(c, "centered", false);
    o.initial_accumulator_value = (float)px_json_get_number(c, "initial_accumulator_value", 0);
    o.weight_decay = (float)px_json_get_number(c, "weight_decay", 0);
    o.clipnorm = (float)px_json_get_number(c, "clipnorm", 0);
    o.clipvalue = (float)px_json_get_number(c, "clipvalue", 0);
    o.global_clipnorm = (float)px_json_get_number(c, "global_clipnorm", 0);
    px_optimizer *opt = px_optimizer_from_name(lower, &o);
    if (!opt) tc_error(px_last_status(), "optimizer: %s", px_last_error());
    return opt;
}

static int output_index(const px_model *m, const char *name) {
    for (int i = 0; i < m->n_outputs; i++)
        for (int k = 0; k < m->n_layers; k++)
            if (m->layers[k]->output == m->outputs[i] && strcmp(px_layer_name(m->layers[k]), name) == 0) return i;
    return -1;
}

px_status px_training_config_apply(px_model *m, const px_json *tc) {
    if (!px_json_is_object(tc)) return tc_error(PX_ERR_FORMAT, "expected a JSON object%s", "");
    px_compile_options o = {0};
    const px_json *loss = px_json_get(tc, "loss");
    if (!loss || px_json_is_null(loss)) return tc_error(PX_ERR_FORMAT, "key 'loss' is missing%s", "");
    px_status st = PX_OK;
    if (px_json_is_array(loss) || (px_json_is_object(loss) && !px_json_get(loss, "class_name"))) {
        bool dict = px_json_is_object(loss);
        if (px_json_len(loss) < 1 || px_json_len(loss) > PX_MAX_OUTPUTS)
            return tc_error(PX_ERR_FORMAT, "key 'loss' has a wrong number of entries%s", "");
        for (size_t i = 0; !st && i < px_json_len(loss); i++) {
            int at = (int)i;
            if (dict && (at = output_index(m, px_json_key_at(loss, i))) < 0)
                return tc_error(PX_ERR_FORMAT, "key 'loss' names '%s', which is not an output layer", px_json_key_at(loss, i));
            st = read_loss(dict ? px_json_value_at(loss, i) : px_json_at(loss, i), &o.losses[at]);
        }
    } else {
        px_loss l;
        if (!(st = read_loss(loss, &l))) {
            o.loss = l.kind;
            o.from_logits = l.from_logits;
            for (int i = 0; i < PX_MAX_OUTPUTS; i++) o.losses[i] = l;
            if (l.delta != 0) o.loss = PX_LOSS_NONE; /* per-output form keeps delta */
        }
    }
    if (st) return st;
    const px_json *lw = px_json_get(tc, "loss_weights");
    for (size_t i = 0; i < px_json_len(lw) && i < PX_MAX_OUTPUTS; i++) {
        int at = (int)i;
        if (px_json_is_object(lw) && (at = output_index(m, px_json_key_at(lw, i))) < 0) continue;
        o.loss_weights[at] = (float)px_json_number(px_json_is_object(lw) ? px_json_value_at(lw, i) : px_json_at(lw, i));
    }
    int n_metrics = 0;
    read_metrics(px_json_get(tc, "metrics"), &o, &n_metrics);
    const px_json *oc = px_json_get(tc, "optimizer_config");
    px_lr_schedule sched;
    if (oc && !px_json_is_null(oc) && !(o.optimizer = read_optimizer(oc, &sched))) return px_last_status();
    st = px_model_compile(m, &o);
    if (st) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        return px_set_error(st, "training_config: compile failed: %s", msg);
    }
    return PX_OK;
}
