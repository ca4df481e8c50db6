/* Learning-rate schedules in configs, both ways, from one table: each kind's Keras class
 * name and config keys (the px_lr_schedule fields of the same meaning), so a new kind
 * adds a row here and its formula in schedule.c. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "nn/layer_config.h"
#include "train/schedule_config.h"

typedef enum key_type {
    K_FLOAT,  /* a float field */
    K_STEPS,  /* an int64_t field */
    K_BOOL,   /* a bool field */
    K_TARGET, /* a float field where 0 is Keras's None (CosineDecay's warmup_target) */
    K_PIECES  /* PiecewiseConstantDecay's boundaries and values */
} key_type;

typedef struct sched_key {
    const char *name;
    size_t offset;
    key_type type;
    double keras_default; /* K_FLOAT: the value an absent key means */
} sched_key;

#define KEY(name, field, type, def) {name, offsetof(px_lr_schedule, field), type, def}
#define MAX_KEYS 7

typedef struct sched_def {
    px_schedule_kind kind;
    const char *class_name;
    sched_key keys[MAX_KEYS]; /* in Keras's get_config order; "name" follows */
} sched_def;

static const sched_def defs[] = {
    {PX_SCHEDULE_EXPONENTIAL, "ExponentialDecay",
     {KEY("initial_learning_rate", initial_learning_rate, K_FLOAT, 0), KEY("decay_steps", decay_steps, K_STEPS, 0),
      KEY("decay_rate", decay_rate, K_FLOAT, 0), KEY("staircase", staircase, K_BOOL, 0)}},
    {PX_SCHEDULE_INVERSE_TIME, "InverseTimeDecay",
     {KEY("initial_learning_rate", initial_learning_rate, K_FLOAT, 0), KEY("decay_steps", decay_steps, K_STEPS, 0),
      KEY("decay_rate", decay_rate, K_FLOAT, 0), KEY("staircase", staircase, K_BOOL, 0)}},
    {PX_SCHEDULE_PIECEWISE, "PiecewiseConstantDecay", {KEY("boundaries", boundaries, K_PIECES, 0)}},
    {PX_SCHEDULE_COSINE, "CosineDecay",
     {KEY("initial_learning_rate", initial_learning_rate, K_FLOAT, 0), KEY("decay_steps", decay_steps, K_STEPS, 0),
      KEY("alpha", alpha, K_FLOAT, 0), KEY("warmup_target", warmup_target, K_TARGET, 0),
      KEY("warmup_steps", warmup_steps, K_STEPS, 0)}},
    {PX_SCHEDULE_POLYNOMIAL, "PolynomialDecay",
     {KEY("initial_learning_rate", initial_learning_rate, K_FLOAT, 0), KEY("decay_steps", decay_steps, K_STEPS, 0),
      KEY("end_learning_rate", end_learning_rate, K_FLOAT, 0.0001), KEY("power", power, K_FLOAT, 1.0),
      KEY("cycle", cycle, K_BOOL, 0)}},
    {PX_SCHEDULE_COSINE_RESTARTS, "CosineDecayRestarts",
     {KEY("initial_learning_rate", initial_learning_rate, K_FLOAT, 0),
      KEY("first_decay_steps", decay_steps, K_STEPS, 0), KEY("t_mul", t_mul, K_FLOAT, 2.0),
      KEY("m_mul", m_mul, K_FLOAT, 1.0), KEY("alpha", alpha, K_FLOAT, 0)}},
};
#define N_DEFS (int)(sizeof defs / sizeof defs[0])

static const sched_def *def_of(px_schedule_kind kind) {
    for (int i = 0; i < N_DEFS; i++)
        if (defs[i].kind == kind) return &defs[i];
    return NULL;
}

/* ---------------------------------------------------------------- writing */

static px_status write_pieces(px_json *c, const px_lr_schedule *s) {
    px_json *b = px_json_new_array(), *v = px_json_new_array();
    px_status st = b && v ? PX_OK : px_last_status();
    for (int i = 0; !st && i < s->n_boundaries; i++) st = px_json_push(b, px_json_new_int(s->boundaries[i]));
    for (int i = 0; !st && i <= s->n_boundaries; i++) st = px_json_push(v, px_json_new_number(px_lc_float(s->values[i])));
    if (st) {
        px_json_free(b);
        px_json_free(v);
        return st;
    }
    st = px_json_set(c, "boundaries", b);
    return st ? (px_json_free(v), st) : px_json_set(c, "values", v);
}

/* A float field as written: a zero that stands for Keras's default is written as it. */
static float written_float(const sched_key *k, float x) { return x == 0 ? (float)k->keras_default : x; }

static px_status write_key(px_json *c, const sched_key *k, const px_lr_schedule *s) {
    const char *field = (const char *)s + k->offset;
    float f;
    int64_t i;
    bool b;
    switch (k->type) {
    case K_FLOAT:
        memcpy(&f, field, sizeof f);
        /* end_learning_rate has a default of 0.0001 in Keras but means what it says here */
        return px_lc_set_float(c, k->name, k->offset == offsetof(px_lr_schedule, end_learning_rate) ? f : written_float(k, f));
    case K_STEPS: memcpy(&i, field, sizeof i); return px_lc_set_int(c, k->name, i);
    case K_BOOL: memcpy(&b, field, sizeof b); return px_lc_set_bool(c, k->name, b);
    case K_TARGET: memcpy(&f, field, sizeof f); return f == 0 ? px_lc_set_null(c, k->name) : px_lc_set_float(c, k->name, f);
    case K_PIECES: return write_pieces(c, s);
    }
    return PX_OK;
}

px_json *px_lr_schedule_to_json(const px_lr_schedule *s) {
    const sched_def *d = def_of(s->kind);
    if (!d) {
        px_set_error(PX_ERR_ARG, "learning-rate schedule: kind %d has no Keras class", (int)s->kind);
        return NULL;
    }
    px_json *c = px_json_new_object();
    px_status st = c ? PX_OK : px_last_status();
    bool warmup = s->warmup_target != 0;
    for (const sched_key *k = d->keys; !st && k < d->keys + MAX_KEYS && k->name; k++) {
        /* Keras before 2.13 has no warmup and refuses its keys: written only when used */
        if (!warmup && (k->type == K_TARGET || k->offset == offsetof(px_lr_schedule, warmup_steps))) continue;
        st = write_key(c, k, s);
    }
    if (!st) st = px_lc_set_null(c, "name");
    if (st) return px_json_free(c), NULL;
    return px_lc_class_object(d->class_name, c);
}

/* ---------------------------------------------------------------- reading */

static px_status read_pieces(const px_json *c, const char *cls, px_lr_schedule *s) {
    const px_json *b = px_json_get(c, "boundaries"), *vals = px_json_get(c, "values");
    size_t nb = px_json_len(b);
    if (!px_json_is_array(b) || !px_json_is_array(vals) || nb > PX_MAX_PIECES || px_json_len(vals) != nb + 1)
        return px_set_error(PX_ERR_FORMAT, "%s: boundaries and values do not fit (at most %d boundaries and one value more)",
                            cls, PX_MAX_PIECES);
    s->n_boundaries = (int)nb;
    for (size_t i = 0; i < nb; i++) {
        if (!px_json_is_number(px_json_at(b, i)))
            return px_set_error(PX_ERR_FORMAT, "%s: boundaries[%zu] is not a number", cls, i);
        s->boundaries[i] = (int64_t)px_json_number(px_json_at(b, i));
    }
    for (size_t i = 0; i <= nb; i++) {
        if (!px_json_is_number(px_json_at(vals, i)))
            return px_set_error(PX_ERR_FORMAT, "%s: values[%zu] is not a number", cls, i);
        s->values[i] = (float)px_json_number(px_json_at(vals, i));
    }
    return PX_OK;
}

static px_status read_key(const px_json *c, const char *cls, const sched_key *k, px_lr_schedule *s) {
    char *field = (char *)s + k->offset;
    const px_json *v = px_json_get(c, k->name);
    if (k->type == K_PIECES) return read_pieces(c, cls, s);
    if (!v || px_json_is_null(v)) {
        if (k->type == K_FLOAT) {
            float f = (float)k->keras_default;
            memcpy(field, &f, sizeof f);
        }
        return PX_OK;
    }
    if (k->type == K_BOOL) {
        if (!px_json_is_bool(v)) return px_set_error(PX_ERR_FORMAT, "%s: '%s' should be true or false", cls, k->name);
        bool b = px_json_bool(v);
        memcpy(field, &b, sizeof b);
        return PX_OK;
    }
    if (!px_json_is_number(v)) return px_set_error(PX_ERR_FORMAT, "%s: '%s' should be a number", cls, k->name);
    if (k->type == K_STEPS) {
        int64_t i = (int64_t)px_json_number(v);
        memcpy(field, &i, sizeof i);
    } else {
        float f = (float)px_json_number(v);
        memcpy(field, &f, sizeof f);
    }
    return PX_OK;
}

px_status px_lr_schedule_from_json(const px_json *v, px_lr_schedule *s) {
    const char *cls = px_json_get_string(v, "class_name", "");
    const px_json *c = px_json_get(v, "config");
    memset(s, 0, sizeof *s);
    const sched_def *d = NULL;
    for (int i = 0; i < N_DEFS && !d; i++)
        if (strcmp(cls, defs[i].class_name) == 0) d = &defs[i];
    if (!d) return px_set_error(PX_ERR_UNSUPPORTED, "learning-rate schedule '%s' is not supported", cls);
    if (!px_json_is_object(c)) return px_set_error(PX_ERR_FORMAT, "%s: 'config' should be an object", cls);
    s->kind = d->kind;
    px_status st = PX_OK;
    for (const sched_key *k = d->keys; !st && k < d->keys + MAX_KEYS && k->name; k++) st = read_key(c, cls, k, s);
    if (!st && px_lr_schedule_validate(s) != PX_OK) {
        char why[512]; /* the message buffer is about to be rewritten */
        snprintf(why, sizeof why, "%s", px_last_error());
        st = px_set_error(PX_ERR_FORMAT, "%s: %s", cls, why);
    }
    return st;
}
