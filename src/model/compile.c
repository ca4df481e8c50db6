/* compile: targets, weighted losses, regularisation penalties and metrics added
 * to the model's graph, and the optimizer taken over by the model. */
#include <string.h>

#include "graph/node.h"
#include "model/model_internal.h"
#include "train/loss_kind.h"
#include "train/metric_kind.h"
#include "train/optimizer_kind.h"

/* Keras names per-output values after the layer that produced the output. */
static const char *output_name(px_model *m, int i) {
    for (int k = 0; k < m->n_layers; k++)
        if (m->layers[k]->output == m->outputs[i]) return px_layer_name(m->layers[k]);
    return "output";
}

/* Appends a fetch: a loss (metric NULL) or a filled-in metric's statistics node. */
static px_status add_fetch(px_model *m, px_node *n, const char *name, const px_metric *metric) {
    if (!n) return px_last_status();
    if (m->n_fetch == PX_MAX_FETCHES) return px_set_error(PX_ERR_ARG, "compile: too many losses and metrics");
    int k = m->n_fetch++;
    m->fetch[k] = n;
    snprintf(m->fetch_names[k], sizeof m->fetch_names[0], "%.63s", name);
    m->fetch_metric[k] = metric ? *metric : (px_metric){0};
    m->fetch_metric[k].name = m->fetch_names[k];
    m->fetch_weighted[k] = false;
    m->fetch_offset[k] = m->n_stats;
    m->fetch_stats[k] = metric ? px_metric_stat_count(n) : 1;
    m->n_stats += m->fetch_stats[k];
    return PX_OK;
}

/* Keeps the metrics as given (their names copied), after checking them. */
static px_status keep_metrics(px_model *m, const px_compile_options *opts) {
    int n = 0;
    for (int i = 0; i < PX_MAX_METRICS && opts->metrics[i]; i++) n++;
    for (int i = 0; i < PX_MAX_METRICS && opts->metric_objects[i].kind; i++) n++;
    if (n > PX_MAX_METRICS) return px_set_error(PX_ERR_ARG, "compile: %d metrics, at most %d", n, PX_MAX_METRICS);
    px_metric given[PX_MAX_METRICS];
    n = 0;
    for (int i = 0; i < PX_MAX_METRICS && opts->metrics[i]; i++) given[n++] = (px_metric){.kind = opts->metrics[i]};
    for (int i = 0; i < PX_MAX_METRICS && opts->metric_objects[i].kind; i++) given[n++] = opts->metric_objects[i];
    for (int i = 0; i < n; i++) {
        if (!px_metric_def_of(given[i].kind))
            return px_set_error(PX_ERR_ARG, "compile: unknown metric %d", (int)given[i].kind);
        if (given[i].kind == PX_METRIC_CUSTOM && (!given[i].name || !px_custom_metric_find(given[i].name)))
            return px_set_error(PX_ERR_ARG, "compile: metric '%s' is not registered (px_metric_register)",
                                given[i].name ? given[i].name : "(no name)");
    }
    for (int i = 0; i < n; i++) {
        px_metric_kind k = given[i].kind;
        /* the compile's top_k becomes the metric's own, so files keep it */
        if ((k == PX_TOP_K || k == PX_TOP_K_ACCURACY || k == PX_SPARSE_TOP_K_ACCURACY) && !given[i].k && opts->top_k > 0)
            given[i].k = opts->top_k;
        m->metrics[i] = given[i];
        if (given[i].name) {
            snprintf(m->metric_names[i], sizeof m->metric_names[0], "%.63s", given[i].name);
            m->metrics[i].name = m->metric_names[i];
        }
    }
    m->n_metrics = n;
    return PX_OK;
}

/* Puts "compile: output i ('name')" in front of the current message. */
static px_status output_error(px_model *m, int i) {
    char why[768];
    snprintf(why, sizeof why, "%s", px_last_error());
    px_status st = px_last_status() ? px_last_status() : PX_ERR_ARG;
    return px_set_error(st, "compile: output %d ('%s'): %s", i, output_name(m, i), why);
}

/* The metric for output i, checked against that output's loss and filled in. */
static px_status add_metric(px_model *m, int i, const px_metric *given) {
    px_loss loss = m->losses[i].kind ? m->losses[i] : m->losses[0];
    const px_loss_def *ld = px_loss_def_of(loss.kind);
    px_metric mt = *given;
    if (px_metric_fill(&mt, loss, ld && ld->class_indices, px_node_shape(m->outputs[i]), m->top_k) != PX_OK)
        return output_error(m, i);
    char nm[96];
    if (m->n_outputs > 1) snprintf(nm, sizeof nm, "%s_%s", output_name(m, i), mt.name);
    else snprintf(nm, sizeof nm, "%s", mt.name);
    px_node *stats = px_metric_node(&mt, loss, m->targets[i], m->outputs[i]);
    if (!stats) return output_error(m, i);
    return add_fetch(m, stats, nm, &mt);
}

/* Weighted metric `kind` for output i (Keras's weighted_metrics): the mean of its
 * values weighted by the sample weights, logged as "weighted_<name>" when the same
 * kind is among the plain metrics. Only the mean metrics can be weighted. */
static px_status add_weighted_metric(px_model *m, int i, px_metric_kind kind) {
    px_loss loss = m->losses[i].kind ? m->losses[i] : m->losses[0];
    const px_loss_def *ld = px_loss_def_of(loss.kind);
    const px_metric_def *d = px_metric_def_of(kind);
    if (!d || kind == PX_METRIC_CUSTOM)
        return px_set_error(PX_ERR_ARG, "compile: unknown weighted metric %d", (int)kind);
    px_metric mt = {.kind = kind};
    if (px_metric_fill(&mt, loss, ld && ld->class_indices, px_node_shape(m->outputs[i]), m->top_k) != PX_OK)
        return output_error(m, i);
    bool clash = false; /* Keras prefixes a weighted metric that is also a plain one */
    for (int j = 0; j < m->n_metrics; j++) clash |= m->metrics[j].kind == kind;
    char nm[96];
    snprintf(nm, sizeof nm, "%s%s%s%s", m->n_outputs > 1 ? output_name(m, i) : "", m->n_outputs > 1 ? "_" : "",
             clash ? "weighted_" : "", mt.name);
    px_node *stats = px_metric_node_weighted(&mt, loss, m->targets[i], m->outputs[i], m->sample_weights[i]);
    if (!stats) return output_error(m, i);
    if (add_fetch(m, stats, nm, &mt) != PX_OK) return px_last_status();
    m->fetch_weighted[m->n_fetch - 1] = true;
    return PX_OK;
}

/* compile takes the optimizer it is given, also when it fails; the one the
 * model already holds (a recompile with the same optimizer) stays the model's */
static void drop_given_optimizer(px_model *m, px_optimizer *opt) {
    if (opt && opt != m->opt) px_optimizer_free(opt);
}

px_status px_model_compile(px_model *m, const px_compile_options *opts) {
    if (!m || !opts) return px_set_error(PX_ERR_ARG, "compile: model or options is NULL");
    px_optimizer *opt = opts->optimizer;
    if (opt && opt->owner && opt->owner != m) /* another model's: not ours to take or free */
        return px_set_error(PX_ERR_ARG, "compile: model '%s': the optimizer already belongs to model '%s'; give each "
                                        "model an optimizer of its own",
                            m->name, ((const px_model *)opt->owner)->name);
    if (px_model_check_complete(m, "compile") != PX_OK) {
        drop_given_optimizer(m, opt);
        return px_last_status();
    }
    if (!m->built || m->n_outputs == 0) {
        /* a Sequential model without an input shape is built by fit, which compiles again */
        if (!m->sequential) {
            drop_given_optimizer(m, opt);
            return px_set_error(PX_ERR_STATE, "compile: model '%s' has no outputs; call px_model_set_outputs", m->name);
        }
    }
    px_status kept = keep_metrics(m, opts);
    if (kept) {
        drop_given_optimizer(m, opt);
        return kept;
    }
    if (!opt && !(opt = px_rmsprop(NULL))) return px_last_status();
    opt->owner = m;
    if (m->opt && m->opt != opt) px_optimizer_free(m->opt);
    m->opt = opt;
    m->opt_params = -1;
    m->opt_segments_gen = 0;
    px_model_invalidate(m);

    /* remember the settings so a deferred Sequential build can finish compiling */
    memset(m->losses, 0, sizeof m->losses);
    for (int i = 0; i < PX_MAX_OUTPUTS; i++) {
        m->losses[i] = opts->loss ? (px_loss){.kind = opts->loss, .from_logits = opts->from_logits} : opts->losses[i];
        m->loss_weights[i] = opts->loss_weights[i];
    }
    bool any_weight = false;
    for (int i = 0; i < PX_MAX_OUTPUTS; i++) any_weight |= opts->loss_weights[i] != 0;
    if (!any_weight)
        for (int i = 0; i < PX_MAX_OUTPUTS; i++) m->loss_weights[i] = 1.0f;
    m->n_weighted_metrics = 0;
    for (int i = 0; i < PX_MAX_METRICS && opts->weighted_metrics[i]; i++)
        m->weighted_metrics[m->n_weighted_metrics++] = opts->weighted_metrics[i];
    m->top_k = opts->top_k > 0 ? opts->top_k : 5;
    m->compiled = true;
    m->n_fetch = 0;
    if (!m->built) return PX_OK;
    return px_model_finish_compile(m);
}

px_status px_model_finish_compile(px_model *m) {
    m->n_fetch = 0;
    m->n_stats = 0;
    px_node *total = NULL;
    px_node *out_loss[PX_MAX_OUTPUTS] = {0};
    for (int i = 0; i < m->n_outputs; i++) {
        px_loss loss = m->losses[i];
        if (loss.kind == PX_LOSS_NONE) {
            if (m->n_outputs == 1 || i > 0)
                return px_set_error(PX_ERR_ARG, "compile: no loss given for output %d ('%s')", i, output_name(m, i));
            loss = m->losses[0];
        }
        px_shape os = px_node_shape(m->outputs[i]);
        px_dtype dt = PX_F32;
        px_shape ts = os;
        const px_loss_def *def = px_loss_def_of(loss.kind);
        if (def && def->class_indices) {
            dt = PX_I32;
            ts.rank--;
        }
        if (!m->targets[i]) {
            char nm[96];
            snprintf(nm, sizeof nm, "%s_target", output_name(m, i));
            m->targets[i] = px_placeholder(m->g, dt, ts, nm);
        } else if (px_node_dtype(m->targets[i]) != dt || !px_shape_equal(px_node_shape(m->targets[i]), ts)) {
            /* recompiled with another kind of loss: a new target placeholder */
            char nm[96];
            snprintf(nm, sizeof nm, "%s_target_%d", output_name(m, i), px_graph_node_count(m->g));
            m->targets[i] = px_placeholder(m->g, dt, ts, nm);
        }
        if (!m->sample_weights[i]) {
            char nm[96];
            snprintf(nm, sizeof nm, "%s_sample_weight", output_name(m, i));
            m->sample_weights[i] = px_placeholder(m->g, PX_F32, PX_SHAPE(PX_UNKNOWN), nm);
        }
        out_loss[i] = px_loss_node_weighted(loss, m->targets[i], m->outputs[i], m->sample_weights[i]);
        if (!out_loss[i]) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", px_last_error());
            return px_set_error(px_last_status(), "compile: output %d ('%s'): %s", i, output_name(m, i), msg);
        }
        px_node *w = m->loss_weights[i] == 1.0f ? out_loss[i] : px_scale(out_loss[i], m->loss_weights[i]);
        total = total ? px_add(total, w) : w;
    }
    /* regularisation penalties join the loss */
    for (int i = 0; i < m->n_layers; i++) {
        bool none;
        px_node *p = px_layer_penalty(m->layers[i], &none);
        if (none) continue;
        if (!p) return px_last_status();
        total = px_add(total, p);
    }
    if (add_fetch(m, total, "loss", NULL) != PX_OK) return px_last_status();
    if (m->n_outputs > 1)
        for (int i = 0; i < m->n_outputs; i++) {
            char nm[96];
            snprintf(nm, sizeof nm, "%s_loss", output_name(m, i));
            if (add_fetch(m, out_loss[i], nm, NULL) != PX_OK) return px_last_status();
        }
    for (int i = 0; i < m->n_outputs; i++)
        for (int k = 0; k < m->n_metrics; k++)
            if (add_metric(m, i, &m->metrics[k]) != PX_OK) return px_last_status();
    for (int i = 0; i < m->n_outputs; i++)
        for (int k = 0; k < m->n_weighted_metrics; k++)
            if (add_weighted_metric(m, i, m->weighted_metrics[k]) != PX_OK) return px_last_status();
    return PX_OK;
}

void px_model_uncompile(px_model *m) {
    px_optimizer_free(m->opt);
    m->opt = NULL;
    m->compiled = false;
    m->n_fetch = 0;
    m->opt_params = -1;
    m->opt_segments_gen = 0;
    px_model_invalidate(m);
}

px_optimizer *px_model_optimizer(px_model *m) {
    if (!m) px_set_error(PX_ERR_ARG, "px_model_optimizer: model is NULL");
    return m ? m->opt : NULL; /* NULL before compile, without an error */
}
