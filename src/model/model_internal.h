/* Internal: the model object shared by building, compile, fit/evaluate/predict,
 * summary and the model-file code. */
#ifndef PX_MODEL_INTERNAL_H
#define PX_MODEL_INTERNAL_H

#include <signal.h>

#include "plexus/model.h"
#include "nn/layer_internal.h"

#define PX_MAX_INPUTS 8
#define PX_MAX_FETCHES (2 + 2 * PX_MAX_OUTPUTS + 2 * PX_MAX_OUTPUTS * PX_MAX_METRICS)

struct px_history {
    int epochs;
    int n_keys;
    char keys[PX_MAX_LOGS][64];
    double *values[PX_MAX_LOGS]; /* epochs entries each (NAN where an epoch lacked the key) */
    int cap;
};

/* Where fit is, for BackupAndRestore (src/callbacks/backup_and_restore.c). */
typedef struct px_fit_position {
    int epoch;                       /* the epoch running */
    int step;                        /* its steps done */
    px_rng epoch_rng;                /* the model's generator before the epoch's shuffle */
    struct px_metric_sums *acc;      /* the epoch's running sums (fit's own steps) */
    px_callback **cbs;               /* fit's callbacks, in order */
    int n_cbs;
    bool finished;                   /* the run ended normally (not interrupted, no error) */
    /* set by a callback's on_train_begin: called by fit after every callback's
     * on_batch_end (with interrupting when the run stops there) and after an
     * epoch's History entry, so that what it saves includes the others' state */
    px_callback *saver;
    px_status (*after_step)(px_callback *cb, px_model *m, bool interrupting);
    px_status (*after_epoch)(px_callback *cb, px_model *m);
} px_fit_position;

/* A position to resume from, set by a callback's on_train_begin (BackupAndRestore);
 * fit takes it and frees what it owns. */
typedef struct px_fit_resume {
    bool active;
    int epoch, step;
    px_rng epoch_rng;
    double *sums;                    /* the epoch's running sums (malloc'd) */
    int64_t n_sums;
    char **states;                   /* per callback of fit's list: its state or NULL (malloc'd) */
    int n_states;
} px_fit_resume;

struct px_model {
    char *name;
    bool sequential;
    px_graph *g;
    px_rng rng;
    px_layer **layers;
    int n_layers, cap_layers;
    px_node *inputs[PX_MAX_INPUTS];
    int n_inputs;
    px_node *outputs[PX_MAX_OUTPUTS];
    int n_outputs;
    bool built;

    /* compile */
    bool compiled;
    px_optimizer *opt;
    px_loss losses[PX_MAX_OUTPUTS];
    float loss_weights[PX_MAX_OUTPUTS];
    px_metric metrics[PX_MAX_METRICS]; /* as given to compile; names point into metric_names */
    char metric_names[PX_MAX_METRICS][64];
    int n_metrics, top_k;
    px_metric_kind weighted_metrics[PX_MAX_METRICS]; /* Keras's weighted_metrics, as given to compile */
    int n_weighted_metrics;
    px_node *targets[PX_MAX_OUTPUTS];
    /* per output: Keras's sample weights (batch,), fed with every batch (ones
     * when the data have none); the losses are their weighted means */
    px_node *sample_weights[PX_MAX_OUTPUTS];
    /* fetch list: [0] total loss, then per-output losses (when several), then metrics */
    px_node *fetch[PX_MAX_FETCHES];
    char fetch_names[PX_MAX_FETCHES][64];
    bool fetch_weighted[PX_MAX_FETCHES]; /* a weighted metric: its epoch mean is weighted by the batches' weights */
    int n_fetch;
    /* per fetch: the metric filled in for its output (kind NONE for the losses), and
     * where its statistics lie in the vector fit adds up (metric_sums.c) */
    px_metric fetch_metric[PX_MAX_FETCHES];
    int64_t fetch_offset[PX_MAX_FETCHES], fetch_stats[PX_MAX_FETCHES];
    int64_t n_stats;
    px_session *train_session, *eval_session, *predict_session;
    int64_t opt_params;         /* trainable parameters the optimizer state was sized for */
    unsigned opt_segments_gen;  /* params_generation + 1 the clipnorm segments were set for; 0: never */
    bool no_fused_update;       /* tests: always step after the run (px_model_train_run) */

    /* why the model is incomplete ("" when it is not): a NULL layer was added */
    char broken[800];

    /* fit */
    bool stop_training, stop_now;
    volatile sig_atomic_t interrupt; /* px_model_interrupt: set from signal handlers */
    bool interrupted;                /* the last fit ended on it */
    int fit_epochs, fit_steps;
    px_history history;
    px_fit_position fit;
    px_fit_resume resume;
};

/* The sums fit and evaluate add up over the batches of an epoch (metric_sums.c):
 * every fetch's statistics (the loss and mean metrics weighted by rows, stateful
 * metrics' counts), then the rows seen, as one vector that replicas can sum. */
typedef struct px_metric_sums {
    double *sums;  /* n entries: the statistics, then the rows, then the sum of the weights */
    double *batch; /* n entries: one batch's, before it is added */
    int64_t n;
} px_metric_sums;
px_status px_metric_sums_init(px_metric_sums *a, const px_model *m);
void px_metric_sums_free(px_metric_sums *a);
void px_metric_sums_reset(px_metric_sums *a);
/* The last run's fetches into a->batch, for a batch of `rows` (this replica's rows)
 * whose sample weights (times the class weights) sum to weight_sum: the weighted
 * metrics' means count by it, the rest by rows. */
void px_metric_sums_read_weighted(px_metric_sums *a, const px_model *m, const px_session *s, int64_t rows,
                                  double weight_sum);
/* The same for a batch whose weights are all one. */
void px_metric_sums_read(px_metric_sums *a, const px_model *m, const px_session *s, int64_t rows);
/* a->sums += a->batch */
void px_metric_sums_add(px_metric_sums *a);
/* The values so far into logs, each name after `prefix` ("val_"). */
void px_metric_sums_logs(const px_metric_sums *a, const px_model *m, px_logs *logs, const char *prefix);

/* Builds a Sequential model from its first input's shape when needed, and
 * finishes compiling it (fit.c). */
px_status px_model_ready(px_model *m, const px_tensor *first_x);
/* The training session (loss and its gradients, training behaviour), made once. */
px_session *px_model_train_session(px_model *m);

/* Which layer, which of its calls (Keras's node_index) and which of its outputs
 * produced node n of model m; false when none did. */
bool px_model_producer(const px_model *m, const px_node *n, const px_layer **layer, int *call, int *tensor);

/* The model inside a layer made by px_model_as_layer (src/model/nested.c), or NULL
 * for any other layer. Its layers are the nested layer's sublayers, applied in the
 * outer model's graph; its inputs and outputs are the nodes of the layer's first call. */
px_model *px_layer_inner_model(const px_layer *l);

/* Forgets a compile (after a failed one): no optimizer, losses or metrics; the
 * nodes a compile added stay in the graph, unused. */
void px_model_uncompile(px_model *m);
/* PX_ERR_STATE "<what>: model 'm' is incomplete: ..." when a layer given to it was NULL. */
px_status px_model_check_complete(const px_model *m, const char *what);
/* Adds losses, penalties and metrics to the graph once the model is built. */
px_status px_model_finish_compile(px_model *m);
/* Compiled sessions are invalid once the graph changes; called when layers are added. */
void px_model_invalidate(px_model *m);
/* Rows [start, start + n) of each source (by index list when idx != NULL) into batch buffers. */
void px_gather_rows(const px_tensor *src, const int64_t *idx, int64_t start, int64_t n, px_tensor *dst);
/* One optimizer step from the training session's gradients, where the session
 * runs: the host block's loops on the CPU, a device kernel on the device's
 * copies (src/model/update.c). Restarts the optimizer's slots when the
 * trainable set changed. */
px_status px_model_apply_gradients(px_model *m, px_session *s);
/* One training run of the session on the feeds and its optimizer step: on the
 * CPU, for optimizers whose step can be split (train/optim_split.h), the step
 * runs inside the backward pass, each variable updated as soon as nothing later
 * reads it and plain SGD folded into the weight-gradient products
 * (px_session_set_updater); otherwise the run, then px_model_apply_gradients.
 * Values are bit-identical but for the folded products' rounding
 * (docs/performance.md). */
px_status px_model_train_run(px_model *m, px_session *s, const px_feed *feeds, int n_feeds);
/* Makes the optimizer's state for the trainable parameters before training on
 * the session's host memory starts, as Keras's fit builds its optimizer before
 * the first step (update.c). */
px_status px_model_build_optimizer(px_model *m, px_session *s);
/* History maintenance. */
void px_history_clear(px_history *h);
px_status px_history_append(px_history *h, const px_logs *logs);

#endif
