/* compile: targets, weighted losses, regularisation penalties and metrics added
 * to the model's graph, and the optimizer taken over by the model. */
#include <string.h>

#include "graph/node.h"
#include "model/model_internal.h"
#include "train/loss_kind.h"

static const char *const metric_names[PX_METRIC_COUNT] = {
    "", "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "mse", "mae", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"};

const char *px_metric_name(px_metric_kind k) { return (unsigned)k < PX_METRIC_COUNT ? metric_names[k] : ""; }

px_status px_metric_from_name(const char *name, px_metric_kind *out) {
    if (!name) return px_set_error(PX_ERR_ARG, "metric: name is NULL");
    for (int i = 1; i < PX_METRIC_COUNT; i++)
        if (strcmp(name, metric_names[i]) == 0) return *out = (px_metric_kind)i, PX_OK;
    if (strcmp(name, "acc") == 0) return *out = PX_ACCURACY, PX_OK;
    if (strcmp(name, "mean_squared_error") == 0) return *out = PX_METRIC_MSE, PX_OK;
    if (strcmp(name, "mean_absolute_error") == 0) return *out = PX_METRIC_MAE, PX_OK;
    return px_set_error(PX_ERR_ARG, "unknown metric '%s' (known: accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, mse, mae, top_k_categorical_accuracy, sparse_top_k_categorical_accuracy)", name);
}

/* Keras picks the accuracy variant from the loss and the output's shape. */
static px_metric_kind resolve_accuracy(px_loss loss, px_shape out) {
    const px_loss_def *d = px_loss_def_of(loss.kind);
    if (d && d->accuracy != PX_METRIC_NONE) return d->accuracy;
    return out.dim[out.rank - 1] == 1 ? PX_BINARY_ACCURACY : PX_CATEGORICAL_ACCURACY;
}

static px_node *metric_node(px_metric_kind k, px_node *y_true, px_node *y_pred, int top_k, bool from_logits) {
    switch (k) {
    case PX_BINARY_ACCURACY: return px_mean_all(px_binary_accuracy(y_pred, y_true, from_logits ? 0.0f : 0.5f));
    case PX_CATEGORICAL_ACCURACY: return px_mean_all(px_categorical_accuracy(y_pred, y_true));
    case PX_SPARSE_CATEGORICAL_ACCURACY: return px_mean_all(px_sparse_accuracy(y_pred, y_true));
    case PX_METRIC_MSE: return px_mean_all(px_square(px_sub(y_pred, y_true)));
    case PX_METRIC_MAE: return px_mean_all(px_abs(px_sub(y_pred, y_true)));
    case PX_TOP_K_ACCURACY: return px_mean_all(px_in_top_k(y_pred, px_argmax(y_true, -1), top_k));
    case PX_SPARSE_TOP_K_ACCURACY: return px_mean_all(px_in_top_k(y_pred, y_true, top_k));
    default: break;
    }
    px_set_error(PX_ERR_ARG, "compile: unknown metric %d", (int)k);
    return NULL;
}

static px_status add_fetch(px_model *m, px_node *n, const char *name) {
    if (!n) return px_last_status();
    if (m->n_fetch == PX_MAX_FETCHES) return px_set_error(PX_ERR_ARG, "compile: too many losses and metrics");
    m->fetch[m->n_fetch] = n;
    snprintf(m->fetch_names[m->n_fetch], sizeof m->fetch_names[0], "%.63s", name);
    m->n_fetch++;
    return PX_OK;
}

/* Keras names per-output values after the layer that produced the output. */
static const char *output_name(px_model *m, int i) {
    for (int k = 0; k < m->n_layers; k++)
        if (m->layers[k]->output == m->outputs[i]) return px_layer_name(m->layers[k]);
    return "output";
}

px_status px_model_compile(px_model *m, const px_compile_options *opts) {
    if (!m || !opts) return px_set_error(PX_ERR_ARG, "compile: model or options is NULL");
    px_optimizer *opt = opts->optimizer;
    if (!m->built || m->n_outputs == 0) {
        /* a Sequential model without an input shape is built by fit, which compiles again */
        if (!m->sequential) {
            px_optimizer_free(opt);
            return px_set_error(PX_ERR_STATE, "compile: model '%s' has no outputs; call px_model_set_outputs", m->name);
        }
    }
    if (!opt && !(opt = px_rmsprop(NULL))) return px_last_status();
    if (m->opt && m->opt != opt) px_optimizer_free(m->opt);
    m->opt = opt;
    m->opt_params = -1;
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
    m->n_metrics = 0;
    for (int i = 0; i < PX_MAX_METRICS && opts->metrics[i]; i++) m->metrics[m->n_metrics++] = opts->metrics[i];
    m->top_k = opts->top_k > 0 ? opts->top_k : 5;
    m->compiled = true;
    m->n_fetch = 0;
    if (!m->built) return PX_OK;
    return px_model_finish_compile(m);
}

px_status px_model_finish_compile(px_model *m) {
    m->n_fetch = 0;
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
        out_loss[i] = px_loss_node(loss, m->targets[i], m->outputs[i]);
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
    if (add_fetch(m, total, "loss") != PX_OK) return px_last_status();
    if (m->n_outputs > 1)
        for (int i = 0; i < m->n_outputs; i++) {
            char nm[96];
            snprintf(nm, sizeof nm, "%s_loss", output_name(m, i));
            if (add_fetch(m, out_loss[i], nm) != PX_OK) return px_last_status();
        }
    for (int i = 0; i < m->n_outputs; i++) {
        px_loss loss = m->losses[i].kind ? m->losses[i] : m->losses[0];
        for (int k = 0; k < m->n_metrics; k++) {
            px_metric_kind mk = m->metrics[k];
            if (mk == PX_ACCURACY) mk = resolve_accuracy(loss, px_node_shape(m->outputs[i]));
            char nm[96];
            const char *shown = m->metrics[k] == PX_ACCURACY ? "accuracy" : px_metric_name(mk);
            if (m->n_outputs > 1) snprintf(nm, sizeof nm, "%s_%s", output_name(m, i), shown);
            else snprintf(nm, sizeof nm, "%s", shown);
            if (add_fetch(m, metric_node(mk, m->targets[i], m->outputs[i], m->top_k, loss.from_logits), nm) != PX_OK)
                return px_last_status();
        }
    }
    return PX_OK;
}

px_optimizer *px_model_optimizer(px_model *m) { return m ? m->opt : NULL; }
