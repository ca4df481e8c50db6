/* The parts of fit a custom training loop calls itself (Keras's "writing a training
 * loop from scratch"): the model's trainable weights as tensors, the compiled loss's
 * gradients for one batch, and the model called on a batch with training behaviour
 * chosen; px_optimizer_apply_gradients closes the loop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/batches.h"

/* Every trainable variable of the model, in layer order. */
static int trainable_nodes(const px_model *m, px_node **out) {
    int k = 0;
    for (int i = 0; i < m->n_layers; i++)
        for (int j = 0; j < m->layers[i]->n_weights; j++)
            if (px_variable_trainable(m->layers[i]->weights[j])) {
                if (out) out[k] = m->layers[i]->weights[j];
                k++;
            }
    return k;
}

px_status px_model_trainable_weights(px_model *m, px_tensor ***out, int *n) {
    if (!m || !out || !n) return px_set_error(PX_ERR_ARG, "trainable_weights: NULL argument");
    *out = NULL;
    *n = 0;
    if (!m->built) return px_set_error(PX_ERR_STATE, "trainable_weights: model '%s' is not built", m->name);
    /* the values become views into the graph's parameter block once it is collated:
     * collate first, so that the views handed out are the ones fit updates */
    if (px_graph_collate_params(m->g) != PX_OK) return px_last_status();
    int k = trainable_nodes(m, NULL);
    px_node **nodes = malloc(sizeof *nodes * (size_t)(k + 1));
    px_tensor **w = calloc((size_t)k + 1, sizeof *w);
    if (!nodes || !w) {
        free(nodes);
        free(w);
        return px_set_error(PX_ERR_NOMEM, "trainable_weights: out of memory");
    }
    trainable_nodes(m, nodes);
    for (int i = 0; i < k; i++) w[i] = px_node_value(nodes[i]);
    free(nodes);
    *out = w;
    *n = k;
    return PX_OK;
}

/* The arrays as one batch in a feeder's feeds (checked as fit checks its data):
 * every row at once, in order. */
static px_status one_batch(px_model *m, const px_arrays *a, bool with_y, const char *label, px_source **src,
                           px_feeder *f) {
    memset(f, 0, sizeof *f);
    *src = NULL;
    if (px_arrays_source(m, a, with_y, true, NULL, label, src) != PX_OK) return px_last_status();
    int64_t rows = px_source_size(*src);
    px_feeder_options o = {.label = label, .batch_size = rows < INT32_MAX ? (int)rows : INT32_MAX, .with_y = with_y,
                           .inputs_checked = true};
    bool got = false;
    if (px_feeder_init(f, m, *src, &o) != PX_OK || px_feeder_start(f, 0) != PX_OK || px_feeder_next(f, &got) != PX_OK)
        return px_last_status();
    return got ? PX_OK : px_set_error(PX_ERR_ARG, "model '%s': %s is empty", m->name, label);
}

static void one_batch_free(px_source *src, px_feeder *f) {
    px_feeder_free(f);
    px_source_free(src);
}

px_status px_model_compute_gradients(px_model *m, const px_arrays *batch, px_tensor **grads, px_logs *logs) {
    if (!m || !batch || !batch->x || batch->n_x < 1 || !grads)
        return px_set_error(PX_ERR_ARG, "compute_gradients: NULL argument or no inputs");
    if (!m->compiled)
        return px_set_error(PX_ERR_STATE, "compute_gradients: model '%s' must be compiled first (its loss is the one "
                            "differentiated)", m->name);
    if (px_model_ready(m, batch->x[0]) != PX_OK) return px_last_status();
    px_source *src;
    px_feeder f;
    px_status st = one_batch(m, batch, true, "batch", &src, &f);
    px_session *s = st == PX_OK ? px_model_train_session(m) : NULL;
    if (st == PX_OK && !s) st = px_last_status();
    if (st != PX_OK) {
        one_batch_free(src, &f);
        return st;
    }
    st = px_session_run(s, f.feeds, f.n_feeds, NULL);
    int k = trainable_nodes(m, NULL);
    px_node **nodes = st == PX_OK ? malloc(sizeof *nodes * (size_t)(k + 1)) : NULL;
    if (st == PX_OK && !nodes) st = px_set_error(PX_ERR_NOMEM, "compute_gradients: out of memory");
    if (nodes) trainable_nodes(m, nodes);
    for (int i = 0; i < k; i++) grads[i] = NULL;
    for (int i = 0; st == PX_OK && i < k; i++) {
        const px_tensor *g = px_session_gradient(s, nodes[i]);
        if (!g || !(grads[i] = px_tensor_copy(g))) st = px_last_status();
    }
    if (st != PX_OK)
        for (int i = 0; nodes && i < k; i++) {
            px_tensor_free(grads[i]);
            grads[i] = NULL;
        }
    if (st == PX_OK && logs) {
        /* the batch's loss and metrics, as fit's first batch of an epoch would log them */
        px_metric_sums acc;
        if ((st = px_metric_sums_init(&acc, m)) == PX_OK) {
            px_metric_sums_read_weighted(&acc, m, s, f.rows, f.weight_sum);
            px_metric_sums_add(&acc);
            px_metric_sums_logs(&acc, m, logs, "");
            px_metric_sums_free(&acc);
        }
    }
    free(nodes);
    one_batch_free(src, &f);
    return st;
}

px_status px_model_call(px_model *m, px_tensor *const *x, int n_x, bool training, px_tensor **outputs) {
    if (!m || !x || n_x < 1 || !x[0] || !outputs) return px_set_error(PX_ERR_ARG, "call: NULL argument or no inputs");
    if (x[0]->rank < 1) return px_set_error(PX_ERR_ARG, "call: model '%s': inputs need a batch axis", m->name);
    int64_t rows = x[0]->shape[0];
    if (!training) /* one batch of all the rows through the inference plan */
        return px_model_predict_arrays(m, x, n_x, &(px_eval_options){.batch_size = rows > 0 ? (int)rows : 1},
                                       outputs);
    /* training behaviour (dropout drops, BatchNormalization uses the batch's
     * statistics and updates its moving ones) needs a plan of its own, as in Keras */
    if (px_model_ready(m, x[0]) != PX_OK) return px_last_status();
    px_arrays a = {x, n_x, NULL, 0};
    px_source *src;
    px_feeder f;
    px_status st = one_batch(m, &a, false, "call inputs", &src, &f);
    px_session *s = st == PX_OK ? px_session_new(m->g, m->outputs, m->n_outputs, &(px_session_options){.training = true})
                                : NULL;
    if (st == PX_OK && !s) st = px_last_status();
    if (st == PX_OK) st = px_session_run(s, f.feeds, f.n_feeds, outputs);
    px_session_free(s);
    one_batch_free(src, &f);
    return st;
}
