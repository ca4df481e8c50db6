/* TensorBoard callback: the model graph, per-epoch scalars, the learning rate, weight
 * histograms, images and projector files in Keras's run layout (<log_dir>/train,
 * <log_dir>/validation), on px_tb_writer. */
#include <stdlib.h>
#include <string.h>

#include "callbacks/callbacks_internal.h"
#include "callbacks/tensorboard_internal.h"
#include "formats/json.h"
#include "plexus/tensorboard.h"

typedef struct tb_callback {
    px_callback cb;
    char *log_dir;
    int histogram_freq, update_freq, embeddings_freq;
    bool write_graph, write_images;
    const px_tensor *image_samples;
    char *embeddings_metadata;
    px_tb_writer *train, *val;
    int64_t global_batch;
} tb_callback;

static px_status open_run(tb_callback *t, const char *run, px_tb_writer **w) {
    if (*w) return PX_OK;
    size_t n = strlen(t->log_dir) + strlen(run) + 2;
    char *dir = malloc(n);
    if (!dir) return px_set_error(PX_ERR_NOMEM, "TensorBoard: out of memory");
    snprintf(dir, n, "%s/%s", t->log_dir, run);
    *w = px_tb_writer_open(dir);
    free(dir);
    return *w ? PX_OK : px_last_status();
}

static void close_runs(tb_callback *t) {
    px_tb_writer_close(t->train);
    px_tb_writer_close(t->val);
    t->train = t->val = NULL;
}

static px_status tb_train_begin(px_callback *cb, px_model *m, px_logs *logs) {
    (void)logs;
    tb_callback *t = cb->state;
    close_runs(t); /* a fit that failed never reached train end */
    t->global_batch = 0;
    px_status st = open_run(t, "train", &t->train);
    if (st == PX_OK && t->write_graph) st = px_tb_write_model_graph(t->train, m);
    if (st == PX_OK && t->image_samples) st = px_tb_write_sample_images(t->train, t->image_samples, 0);
    if (st == PX_OK) st = px_tb_flush(t->train);
    return st;
}

static px_status tb_batch_end(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    (void)m, (void)batch;
    tb_callback *t = cb->state;
    t->global_batch++;
    if (t->update_freq <= 0 || t->global_batch % t->update_freq != 0 || !t->train) return PX_OK;
    for (int i = 0; i < logs->n; i++) {
        char tag[80];
        snprintf(tag, sizeof tag, "batch_%s", logs->names[i]);
        px_status st = px_tb_scalar(t->train, tag, t->global_batch, logs->values[i]);
        if (st != PX_OK) return st;
    }
    return PX_OK;
}

static px_status write_histograms(tb_callback *t, px_model *m, int epoch) {
    px_status st = PX_OK;
    for (int i = 0; st == PX_OK && i < px_model_layer_count(m); i++) {
        px_layer *l = px_model_layer(m, i);
        px_tensor **w = NULL;
        int n = 0;
        if ((st = px_layer_get_weights(l, &w, &n)) != PX_OK) break;
        for (int j = 0; j < n; j++) {
            char tag[256];
            snprintf(tag, sizeof tag, "%s/%s/histogram", px_layer_name(l), px_layer_weight_name(l, j));
            if (st == PX_OK)
                st = px_tb_histogram_tensor(t->train, tag, epoch, px_tensor_f32(w[j]), px_tensor_size(w[j]), 0);
            px_tensor_free(w[j]);
        }
        free(w);
    }
    return st;
}

static px_status tb_epoch_end(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    tb_callback *t = cb->state;
    px_status st = open_run(t, "train", &t->train);
    bool has_val = false, has_lr = false;
    for (int i = 0; i < logs->n; i++) {
        has_val |= strncmp(logs->names[i], "val_", 4) == 0;
        has_lr |= strcmp(logs->names[i], "learning_rate") == 0;
    }
    if (st == PX_OK && has_val) st = open_run(t, "validation", &t->val);
    /* Keras logs evaluation results at test end, against the optimizer's step count */
    px_optimizer *opt = px_model_optimizer(m);
    for (int i = 0; st == PX_OK && has_val && opt && i < logs->n; i++)
        if (strncmp(logs->names[i], "val_", 4) == 0) {
            char tag[96];
            snprintf(tag, sizeof tag, "evaluation_%s_vs_iterations", logs->names[i] + 4);
            st = px_tb_scalar(t->val, tag, px_optimizer_iterations(opt), logs->values[i]);
        }
    for (int i = 0; st == PX_OK && i < logs->n; i++) {
        bool val = strncmp(logs->names[i], "val_", 4) == 0;
        char tag[80];
        snprintf(tag, sizeof tag, "epoch_%s", logs->names[i] + (val ? 4 : 0));
        st = px_tb_scalar(val ? t->val : t->train, tag, epoch, logs->values[i]);
    }
    if (st == PX_OK && opt && !has_lr)
        st = px_tb_scalar(t->train, "epoch_learning_rate", epoch, px_optimizer_learning_rate(opt));
    bool hist_epoch = t->histogram_freq > 0 && epoch % t->histogram_freq == 0;
    if (st == PX_OK && hist_epoch) st = write_histograms(t, m, epoch);
    if (st == PX_OK && hist_epoch && t->write_images) st = px_tb_write_filter_images(t->train, m, epoch);
    if (st == PX_OK && t->embeddings_freq > 0 && epoch % t->embeddings_freq == 0)
        st = px_tb_write_projector(t->log_dir, m, t->embeddings_metadata);
    if (st == PX_OK) st = px_tb_flush(t->train);
    if (st == PX_OK && t->val) st = px_tb_flush(t->val);
    return st;
}

static px_status tb_train_end(px_callback *cb, px_model *m, px_logs *logs) {
    (void)m, (void)logs;
    tb_callback *t = cb->state;
    px_status st = t->train ? px_tb_flush(t->train) : PX_OK;
    if (st == PX_OK && t->val) st = px_tb_flush(t->val);
    close_runs(t);
    return st;
}

/* For BackupAndRestore: the batch count, which steps batch-level values (the
 * resumed run writes a new event file beside the old ones, as every fit does). */
static px_status tb_get_state(px_callback *cb, px_model *m, char **out) {
    (void)m;
    px_json *o = px_json_new_object();
    px_status st = px_json_set(o, "global_batch", px_json_new_int(((tb_callback *)cb->state)->global_batch));
    if (st) {
        px_json_free(o);
        return st;
    }
    return px_cb_state_text(o, out);
}

static px_status tb_set_state(px_callback *cb, px_model *m, const char *state) {
    (void)m;
    px_json *o = NULL;
    if (px_cb_state_parse(state, "TensorBoard", &o) != PX_OK) return px_last_status();
    ((tb_callback *)cb->state)->global_batch = px_json_get_int(o, "global_batch", 0);
    px_json_free(o);
    return PX_OK;
}

static void tb_destroy(px_callback *cb) {
    tb_callback *t = cb->state;
    close_runs(t);
    free(t->log_dir);
    free(t->embeddings_metadata);
    free(t);
}

px_callback *px_tensorboard_callback(const px_tensorboard_options *opts) {
    px_tensorboard_options o = opts ? *opts : (px_tensorboard_options){0};
    if (o.histogram_freq < 0 || o.update_freq < 0 || o.embeddings_freq < 0) {
        px_set_error(PX_ERR_ARG, "TensorBoard: histogram_freq (%d), update_freq (%d) and embeddings_freq (%d) must be >= 0",
                     o.histogram_freq, o.update_freq, o.embeddings_freq);
        return NULL;
    }
    if (o.image_samples) {
        px_shape s = px_tensor_shape(o.image_samples);
        if (o.image_samples->dtype != PX_F32 || s.rank != 4 || s.dim[0] < 1 ||
            (s.dim[3] != 1 && s.dim[3] != 3 && s.dim[3] != 4)) {
            px_set_error(PX_ERR_ARG, "TensorBoard: image_samples must be float32 (n, height, width, channels) with "
                                     "n >= 1 and 1, 3 or 4 channels");
            return NULL;
        }
    }
    const char *dir = o.log_dir && *o.log_dir ? o.log_dir : "logs";
    tb_callback *t = calloc(1, sizeof *t);
    if (!t || !(t->log_dir = strdup(dir)) ||
        (o.embeddings_metadata && !(t->embeddings_metadata = strdup(o.embeddings_metadata)))) {
        if (t) free(t->log_dir);
        free(t);
        px_set_error(PX_ERR_NOMEM, "TensorBoard: out of memory");
        return NULL;
    }
    t->histogram_freq = o.histogram_freq;
    t->update_freq = o.update_freq;
    t->embeddings_freq = o.embeddings_freq;
    t->write_graph = !o.no_graph;
    t->write_images = o.write_images;
    t->image_samples = o.image_samples;
    t->cb = (px_callback){.name = "TensorBoard", .chief_only = true, .state = t, .on_train_begin = tb_train_begin,
                          .on_batch_end = tb_batch_end, .on_epoch_end = tb_epoch_end, .on_train_end = tb_train_end,
                          .destroy = tb_destroy, .get_state = tb_get_state, .set_state = tb_set_state};
    return &t->cb;
}
