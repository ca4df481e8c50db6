/* Optimizers as Keras's {"class_name", "config"} objects, both ways: the common keys
 * (learning rate, weight decay, clipping) here, learning-rate schedules in
 * schedule_config.c, each kind's own keys from its def's key table, so a new kind
 * needs no code in this file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "train/optimizer_kind.h"
#include "train/schedule_config.h"

/* ---------------------------------------------------------------- writing */

static bool lists_key(const px_optimizer_def *def, const char *name) {
    for (const px_optimizer_key *k = def->keys; k < def->keys + PX_OPT_MAX_KEYS && k->name; k++)
        if (strcmp(k->name, name) == 0) return true;
    return false;
}

static px_status set_key(px_json *c, const px_optimizer_key *k, const px_optimizer_options *o) {
    const char *field = (const char *)o + k->offset;
    if (k->type == PX_KEY_BOOL) {
        bool b;
        memcpy(&b, field, sizeof b);
        return px_lc_set_bool(c, k->name, b);
    }
    float x;
    memcpy(&x, field, sizeof x);
    return px_lc_set_float(c, k->name, x);
}

px_json *px_optimizer_to_json(const px_optimizer *opt) {
    const px_optimizer_def *def = opt->def;
    const px_optimizer_options *o = &opt->o;
    px_json *c = px_json_new_object();
    px_status st = c ? px_lc_set_string(c, "name", def->class_name) : px_last_status();
    if (!st) st = o->schedule ? px_json_set(c, "learning_rate", px_lr_schedule_to_json(o->schedule))
                              : px_lc_set_float(c, "learning_rate", px_optimizer_learning_rate(opt));
    if (!st && o->weight_decay != 0 && !lists_key(def, "weight_decay"))
        st = px_lc_set_float(c, "weight_decay", o->weight_decay);
    if (!st && o->clipnorm != 0) st = px_lc_set_float(c, "clipnorm", o->clipnorm);
    if (!st && o->clipvalue != 0) st = px_lc_set_float(c, "clipvalue", o->clipvalue);
    if (!st && o->global_clipnorm != 0) st = px_lc_set_float(c, "global_clipnorm", o->global_clipnorm);
    for (const px_optimizer_key *k = def->keys; !st && k < def->keys + PX_OPT_MAX_KEYS && k->name; k++)
        st = set_key(c, k, o);
    if (st) return px_json_free(c), NULL;
    return px_lc_class_object(def->class_name, c);
}

/* ---------------------------------------------------------------- reading */

/* The learning rate: a number, a schedule object, or K2.2's "lr" with "decay". */
static px_status read_learning_rate(const px_json *c, px_optimizer_options *o, px_lr_schedule *sched) {
    const px_json *lr = px_json_get(c, "learning_rate");
    if (!lr) lr = px_json_get(c, "lr"); /* K2.2 */
    if (px_json_is_object(lr)) {
        if (px_lr_schedule_from_json(lr, sched)) return px_last_status();
        o->schedule = sched;
    } else if (lr && !px_json_is_number(lr)) {
        return px_set_error(PX_ERR_FORMAT, "optimizer key 'learning_rate' is a %s",
                            px_json_type_name(px_json_typeof(lr)));
    } else {
        o->learning_rate = (float)px_json_number(lr);
    }
    double decay = px_json_get_number(c, "decay", 0);
    if (decay != 0 && !o->schedule) {
        /* K2.2's decay is lr / (1 + decay * iterations) */
        memset(sched, 0, sizeof *sched);
        sched->kind = PX_SCHEDULE_INVERSE_TIME;
        sched->initial_learning_rate = o->learning_rate;
        sched->decay_steps = 1;
        sched->decay_rate = (float)decay;
        o->schedule = sched;
    }
    return PX_OK;
}

static void get_key(const px_json *c, const px_optimizer_key *k, px_optimizer_options *o) {
    char *field = (char *)o + k->offset;
    if (k->type == PX_KEY_BOOL) {
        bool b = px_json_get_bool(c, k->name, false);
        memcpy(field, &b, sizeof b);
    } else {
        float x = (float)px_json_get_number(c, k->name, 0);
        memcpy(field, &x, sizeof x);
    }
}

px_optimizer *px_optimizer_from_json(const px_json *v) {
    const char *cls = px_json_get_string(v, "class_name", NULL);
    const px_json *c = px_json_get(v, "config");
    if (!cls || !px_json_is_object(c)) {
        px_set_error(PX_ERR_FORMAT, "key 'optimizer_config' needs 'class_name' and 'config'");
        return NULL;
    }
    const char *bare = strchr(cls, '>') ? strchr(cls, '>') + 1 : cls; /* K2.11's "Custom>Adam" */
    if (strcmp(bare, "LossScaleOptimizer") == 0) {
        /* mixed precision's loss scaling wraps the optimizer that does the updates */
        const px_json *inner = px_json_get(c, "inner_optimizer");
        if (!inner) inner = px_json_get(c, "optimizer"); /* TF 2.3's experimental spelling */
        if (px_json_is_object(inner)) return px_optimizer_from_json(inner);
    }
    const px_optimizer_def *def = px_optimizer_def_find(bare);
    if (!def) {
        px_set_error(PX_ERR_UNSUPPORTED, "optimizer '%s' is not supported", cls);
        return NULL;
    }
    px_optimizer_options o = {0};
    px_lr_schedule sched; /* copied by the optimizer */
    if (read_learning_rate(c, &o, &sched)) return NULL;
    o.weight_decay = (float)px_json_get_number(c, "weight_decay", 0);
    o.clipnorm = (float)px_json_get_number(c, "clipnorm", 0);
    o.clipvalue = (float)px_json_get_number(c, "clipvalue", 0);
    o.global_clipnorm = (float)px_json_get_number(c, "global_clipnorm", 0);
    for (const px_optimizer_key *k = def->keys; k < def->keys + PX_OPT_MAX_KEYS && k->name; k++) get_key(c, k, &o);
    px_optimizer *opt = px_optimizer_new(def->kind, &o);
    if (!opt) {
        char why[512];
        snprintf(why, sizeof why, "%s", px_last_error());
        px_set_error(px_last_status(), "optimizer: %s", why);
    }
    return opt;
}
