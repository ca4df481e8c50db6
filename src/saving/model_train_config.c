/* training_config JSON both ways: loss, metrics, loss weights and the optimizer
 * with its learning-rate schedule, as Keras 2 writes them and Keras 2/3 read them. */
#include <stdlib.h>
#include <string.h>

#include "saving/model_config.h"
#include "nn/layer_config.h"
#include "plexus/model_io.h"
#include "train/loss_kind.h"
#include "train/metric_kind.h"
#include "train/optimizer_kind.h"

/* ---------------------------------------------------------------- writing */

px_status px_training_config_build(const px_model *m, px_json **out) {
    *out = NULL;
    if (!m->compiled || !m->opt) return px_set_error(PX_ERR_STATE, "training_config: model '%s' is not compiled", m->name);
    int n_out = m->n_outputs > 0 ? m->n_outputs : 1;
    bool same = true;
    for (int i = 1; i < n_out; i++)
        same &= m->losses[i].kind == m->losses[0].kind && m->losses[i].from_logits == m->losses[0].from_logits &&
                m->losses[i].delta == m->losses[0].delta && m->losses[i].name == m->losses[0].name;
    px_json *tc = px_json_new_object();
    if (!tc) return px_last_status();
    px_status st;
    if (same) {
        st = px_json_set(tc, "loss", px_loss_to_json(m->losses[0]));
    } else {
        px_json *a = px_json_new_array();
        st = a ? PX_OK : px_last_status();
        for (int i = 0; !st && i < n_out; i++)
            st = px_json_push(a, px_loss_to_json(m->losses[i].kind ? m->losses[i] : m->losses[0]));
        if (!st) st = px_json_set(tc, "loss", a);
        else px_json_free(a);
    }
    if (!st) {
        if (m->n_metrics == 0) {
            st = px_lc_set_null(tc, "metrics");
        } else {
            px_json *a = px_json_new_array();
            st = a ? PX_OK : px_last_status();
            for (int i = 0; !st && i < m->n_metrics; i++) st = px_json_push(a, px_metric_to_json(&m->metrics[i]));
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
    if (!st) st = px_json_set(tc, "optimizer_config", px_optimizer_to_json(m->opt));
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

/* A loss or an optimizer read by its kind, with the kind's message under our prefix. */
static px_status read_loss(const px_json *v, px_loss *out) {
    if (px_loss_from_json(v, out) != PX_OK) return tc_error(px_last_status(), "%s", px_last_error());
    return PX_OK;
}

static px_optimizer *read_optimizer(const px_json *v) {
    px_optimizer *opt = px_optimizer_from_json(v);
    if (!opt) tc_error(px_last_status(), "%s", px_last_error());
    return opt;
}

/* Metrics from a name, an object, or (nested) lists and dicts of them, into the
 * compile options (their names point into the config); the names of those Plexus
 * lacks go to `missing` ("'AUC', 'MyMetric'"). */
static void read_metrics(const px_json *v, px_compile_options *o, int *n, char *missing, size_t len) {
    if (!v || px_json_is_null(v)) return;
    if (px_json_is_array(v) || (px_json_is_object(v) && !px_json_get(v, "class_name"))) {
        for (size_t i = 0; i < px_json_len(v) && px_json_is_array(v); i++) read_metrics(px_json_at(v, i), o, n, missing, len);
        for (px_json_member e = px_json_first(v); e.key; e = px_json_next(v, e)) read_metrics(e.value, o, n, missing, len);
        return;
    }
    px_metric mt;
    /* metrics Plexus lacks (or custom ones not registered here) are left out rather
     * than failing the load */
    if (px_metric_from_json(v, &mt) != PX_OK) {
        const char *name = px_json_is_string(v) ? px_json_string(v) : px_json_get_string(px_json_get(v, "config"), "name", NULL);
        if (!name) name = px_json_get_string(v, "class_name", "?");
        px_clear_error();
        size_t u = strlen(missing);
        if (!strstr(missing, name)) snprintf(missing + u, len - u, "%s'%s'", u ? ", " : "", name);
        return;
    }
    for (int i = 0; i < *n; i++)
        if (o->metric_objects[i].kind == mt.kind && (o->metric_objects[i].name == mt.name ||
                                                     (mt.name && o->metric_objects[i].name &&
                                                      strcmp(o->metric_objects[i].name, mt.name) == 0)))
            return;
    if (*n < PX_MAX_METRICS) o->metric_objects[(*n)++] = mt;
}

static int output_index(const px_model *m, const char *name) {
    for (int i = 0; i < m->n_outputs; i++)
        for (int k = 0; k < m->n_layers; k++)
            if (m->layers[k]->output == m->outputs[i] && strcmp(px_layer_name(m->layers[k]), name) == 0) return i;
    return -1;
}

/* Compiles m with o and a fresh optimizer from oc (compile owns it, even when it fails);
 * a failed compile is undone. */
static px_status compile_with(px_model *m, px_compile_options *o, const px_json *oc) {
    o->optimizer = NULL;
    if (oc && !px_json_is_null(oc) && !(o->optimizer = read_optimizer(oc))) return px_last_status();
    px_status st = px_model_compile(m, o);
    if (st) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        px_model_uncompile(m);
        px_set_error(st, "%s", msg);
    }
    return st;
}

/* After a compile that failed with metrics: the metrics taken one at a time, those
 * that do not compile (Keras accepts "accuracy" beside categorical_crossentropy on
 * one output column, where Plexus refuses the pairing) left out and added to
 * `missing`, so that the loss and optimizer still load. */
static px_status compile_dropping_metrics(px_model *m, px_compile_options *o, int n, const px_json *oc,
                                          char *missing, size_t len) {
    px_metric all[PX_MAX_METRICS];
    memcpy(all, o->metric_objects, sizeof all);
    memset(o->metric_objects, 0, sizeof o->metric_objects);
    int kept = 0;
    px_status st = PX_OK;
    for (int j = 0; j < n; j++) {
        o->metric_objects[kept] = all[j];
        if (!(st = compile_with(m, o, oc))) {
            kept++;
            continue;
        }
        o->metric_objects[kept] = (px_metric){0};
        const char *name = all[j].name ? all[j].name : px_metric_name(all[j].kind);
        size_t u = strlen(missing);
        snprintf(missing + u, len - u, "%s'%s' (%s)", u ? ", " : "", name, px_last_error());
    }
    return st ? compile_with(m, o, oc) : PX_OK;
}

/* The losses, loss weights and metrics the config describes into *out (no
 * optimizer); *n_metrics counts the metrics, `missing` names those left out. */
static px_status read_options(const px_model *m, const px_json *tc, px_compile_options *out, int *n_metrics,
                              char *missing, size_t len) {
    if (!px_json_is_object(tc)) return tc_error(PX_ERR_FORMAT, "expected a JSON object%s", "");
    px_compile_options o = {0};
    const px_json *loss = px_json_get(tc, "loss");
    if (!loss || px_json_is_null(loss)) return tc_error(PX_ERR_FORMAT, "key 'loss' is missing%s", "");
    px_status st = PX_OK;
    if (px_json_is_array(loss) || (px_json_is_object(loss) && !px_json_get(loss, "class_name"))) {
        bool dict = px_json_is_object(loss);
        if (px_json_len(loss) < 1 || px_json_len(loss) > PX_MAX_OUTPUTS)
            return tc_error(PX_ERR_FORMAT, "key 'loss' has a wrong number of entries%s", "");
        px_json_member e = px_json_first(loss);
        for (size_t i = 0; !st && i < px_json_len(loss); i++, e = px_json_next(loss, e)) {
            int at = (int)i;
            if (dict && (at = output_index(m, e.key)) < 0)
                return tc_error(PX_ERR_FORMAT, "key 'loss' names '%s', which is not an output layer", e.key);
            st = read_loss(dict ? e.value : px_json_at(loss, i), &o.losses[at]);
        }
    } else {
        px_loss l;
        if (!(st = read_loss(loss, &l))) {
            o.loss = l.kind;
            o.from_logits = l.from_logits;
            for (int i = 0; i < PX_MAX_OUTPUTS; i++) o.losses[i] = l;
            if (l.delta != 0 || l.name) o.loss = PX_LOSS_NONE; /* the per-output form keeps delta and name */
        }
    }
    if (st) return st;
    const px_json *lw = px_json_get(tc, "loss_weights");
    px_json_member e = px_json_first(lw);
    for (size_t i = 0; i < px_json_len(lw) && i < PX_MAX_OUTPUTS; i++, e = px_json_next(lw, e)) {
        int at = (int)i;
        if (px_json_is_object(lw) && (at = output_index(m, e.key)) < 0) continue;
        o.loss_weights[at] = (float)px_json_number(px_json_is_object(lw) ? e.value : px_json_at(lw, i));
    }
    *n_metrics = 0;
    read_metrics(px_json_get(tc, "metrics"), &o, n_metrics, missing, len);
    read_metrics(px_json_get(tc, "weighted_metrics"), &o, n_metrics, missing, len);
    *out = o;
    return PX_OK;
}

/* Compiles m as the config says, or fails changing nothing (an optimizer already
 * made is freed); *missing lists the metrics left out. */
static px_status apply(px_model *m, const px_json *tc, char *missing, size_t len) {
    px_compile_options o;
    int n_metrics = 0;
    px_status st = read_options(m, tc, &o, &n_metrics, missing, len);
    if (st) return st;
    const px_json *oc = px_json_get(tc, "optimizer_config");
    px_optimizer *check = oc && !px_json_is_null(oc) ? read_optimizer(oc) : NULL;
    if (oc && !px_json_is_null(oc) && !check) return px_last_status(); /* its own message, not a compile's */
    px_optimizer_free(check);
    st = compile_with(m, &o, oc);
    if (st && n_metrics > 0 && px_last_status() != PX_ERR_NOMEM) st = compile_dropping_metrics(m, &o, n_metrics, oc, missing, len);
    if (st) return px_error_prefix("training_config: compile failed");
    return PX_OK;
}

px_status px_training_config_apply(px_model *m, const px_json *tc) {
    char missing[512] = "";
    if (apply(m, tc, missing, sizeof missing) != PX_OK) {
        /* only training needs it: the model still predicts, as after Keras's
         * load_model(compile=False); fit asks for a compile */
        px_warn("%s; the model is loaded uncompiled: it predicts, and training it needs px_model_compile (plexus "
                "train compiles it with its own options)", px_last_error());
        px_clear_error();
        return PX_OK;
    }
    if (missing[0])
        px_warn("training_config: metrics Plexus lacks or cannot pair with the loss left out: %s", missing);
    return PX_OK;
}

px_status px_compile_options_from_json(const px_model *m, const char *json, size_t len, px_compile_options *out,
                                       bool *found) {
    if (found) *found = false;
    if (!m || !json || !out) return px_set_error(PX_ERR_ARG, "px_compile_options_from_json: model, json or out is NULL");
    memset(out, 0, sizeof *out);
    px_json *root = NULL;
    px_status st = px_json_parse(json, len, &root);
    if (st) return st;
    /* Keras 3's compile_config read as the training_config it corresponds to */
    const px_json *cc = px_json_get(root, "compile_config");
    px_json *converted = cc && !px_json_is_null(cc) ? px_training_config_from_compile(cc) : NULL;
    const px_json *tc = cc && !px_json_is_null(cc) ? converted : px_json_get(root, "training_config");
    if (cc && !px_json_is_null(cc) && !converted) st = px_last_status();
    else if (tc && !px_json_is_null(tc)) {
        char missing[512] = "";
        int n_metrics = 0;
        st = read_options(m, tc, out, &n_metrics, missing, sizeof missing);
        const px_json *oc = st ? NULL : px_json_get(tc, "optimizer_config");
        if (oc && !px_json_is_null(oc) && !(out->optimizer = read_optimizer(oc))) st = px_last_status();
        /* a metric's name of its own points into the JSON freed below: the kind's
         * name (static) stands for it */
        for (int i = 0; i < n_metrics; i++) {
            px_metric *mt = &out->metric_objects[i];
            const px_metric_def *d = px_metric_def_of(mt->kind);
            if (mt->kind != PX_METRIC_CUSTOM && mt->name) mt->name = d && strcmp(mt->name, d->name) == 0 ? d->name : NULL;
        }
        if (missing[0] && !st) px_warn("training_config: metrics Plexus lacks left out: %s", missing);
        if (st) memset(out, 0, sizeof *out);
        else if (found) *found = true;
    }
    px_json_free(converted);
    px_json_free(root);
    return st;
}
