/* Models: Sequential and Functional, compile / fit / evaluate / predict with
 * Keras's names, defaults and console output; losses, metrics, callbacks and
 * the training history. */
#ifndef PLEXUS_MODEL_H
#define PLEXUS_MODEL_H

#include "export.h"
#include "data.h"
#include "losses.h"
#include "nn.h"
#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct px_model px_model;
/* A distribution strategy: makes fit and evaluate train as one replica of
 * several processes (plexus/dist.h makes one over MPI). */
typedef struct px_strategy px_strategy;

/* ---- building ---- */

/* A Sequential model from a NULL-terminated list of layers (the model takes
 * them, also on failure). `layers` may be NULL: add them with px_sequential_add. */
PX_API px_model *px_sequential(px_layer *const *layers);
/* The same from exactly n entries of `layers`, of which only the last may be
 * NULL (a terminator): a NULL anywhere before it is a layer whose constructor
 * failed, and the call fails with that constructor's message instead of
 * building a model that silently lacks the layer. n < 0: NULL-terminated. */
PX_API px_model *px_sequential_n(px_layer *const *layers, int n);
/* With GCC and Clang, px_sequential given an array (the usual
 * px_sequential((px_layer *[]){px_flatten(...), px_dense(0, ...), NULL})) counts
 * it at compile time and calls px_sequential_n, so a constructor that returned
 * NULL in the middle of the list is caught; a pointer is read up to its NULL. */
#if defined(__GNUC__) && !defined(__cplusplus)
#define PX_LAYER_LIST_LEN(a)                                                                         \
    __builtin_choose_expr(__builtin_types_compatible_p(__typeof__(a), __typeof__(&*(a))), -1,        \
                          (int)((sizeof(a) + 0) / sizeof(px_layer *)))
/* variadic: the commas of a compound literal's braces would split a plain argument */
#define px_sequential(...) px_sequential_n((__VA_ARGS__), PX_LAYER_LIST_LEN((__VA_ARGS__)))
#endif
/* Adds a layer. A NULL layer (a failed constructor) is an error, and the model
 * then refuses to compile or build: it would lack that layer. */
PX_API px_status px_sequential_add(px_model *m, px_layer *layer);

/* An empty Functional model: declare inputs, apply layers, set the outputs. */
PX_API px_model *px_functional(const char *name);
/* An input of the given shape (without the batch axis) of model m. */
PX_API px_node *px_model_input(px_model *m, px_shape shape, const char *name);
/* Applies a layer (which the model of the inputs then owns) to one or more
 * nodes of that model and returns its output node, or NULL with an error. */
PX_API px_node *px_apply(px_layer *layer, px_node *input);
PX_API px_node *px_apply_n(px_layer *layer, px_node *const *inputs, int n);
PX_API px_status px_model_set_outputs(px_model *m, px_node *const *outputs, int n);

/* A Sequential or Functional model as a layer of another model (Keras: calling a model
 * on tensors, e.g. a pretrained base inside a Sequential). The layer takes the model
 * (freed here, also on failure) and holds copies of its layers, with their weights;
 * applied (to as many inputs as the model has; again for shared use), it applies them
 * in the outer model's graph. Its weights are its layers', named
 * "<layer>/<weight>", and px_layer_set_trainable freezes or unfreezes all of them. A
 * Functional model must be built; its extra outputs are px_layer_extra_output(l, i). */
PX_API px_layer *px_model_as_layer(px_model *model);

/* Keras's model subclassing: `body` is a user-defined layer (px_layer_def: build,
 * call or call_training with its training flag, get_config) whose built-in sublayers
 * it tracks (px_layer_track in its constructor, px_sublayer_apply in its call). The
 * model takes `body` (freed with it, also on failure), calls it on an input of
 * input_shape (without the batch axis) and is named as it; it compiles, fits,
 * evaluates, predicts and saves as any model (as a Functional model of an InputLayer
 * and body: model files reload it given body's class registered with
 * px_layer_register). Its summary lists the sublayers under body. */
PX_API px_model *px_subclassed_model(px_layer *body, px_shape input_shape);
/* The user-defined layer of a model made by px_subclassed_model (or loaded from its
 * file): its first layer that is not an InputLayer; NULL if none. Owned by the model. */
PX_API px_layer *px_subclassed_layer(const px_model *m);

PX_API void px_model_free(px_model *m);
PX_API const char *px_model_name(const px_model *m);
PX_API px_status px_model_set_name(px_model *m, const char *name);
PX_API bool px_model_is_sequential(const px_model *m);
/* Builds a model whose input shape was not given yet (normally done by fit). */
PX_API px_status px_model_build(px_model *m, px_shape input_shape);
PX_API bool px_model_built(const px_model *m);

PX_API int px_model_layer_count(const px_model *m);
PX_API px_layer *px_model_layer(const px_model *m, int i);
PX_API px_layer *px_model_find_layer(const px_model *m, const char *name);
PX_API int px_model_input_count(const px_model *m);
PX_API int px_model_output_count(const px_model *m);
PX_API px_node *px_model_output(const px_model *m, int i);
PX_API px_graph *px_model_graph(px_model *m);
PX_API int64_t px_model_param_count(const px_model *m, int64_t *trainable, int64_t *non_trainable);

/* All weights as copies, layer by layer (the order Keras's get_weights uses). */
PX_API px_status px_model_get_weights(const px_model *m, px_tensor ***out, int *n);
PX_API px_status px_model_set_weights(px_model *m, px_tensor *const *w, int n);
/* Seeds the generator for weight initialisation and dropout (before building). */
PX_API void px_model_set_seed(px_model *m, uint64_t seed);
/* The seed new models start from (like keras.utils.set_random_seed). */
PX_API void px_set_random_seed(uint64_t seed);

/* Prints the Keras-style table: layer name and type, output shape, parameter
 * count (and inputs for Functional models), then the totals. */
PX_API px_status px_model_summary(const px_model *m, FILE *out);

#define PX_MAX_METRICS 8
#define PX_MAX_OUTPUTS 8

/* ---- compile ---- */
typedef struct px_compile_options {
    px_loss_kind loss;                        /* one loss for every output, or: */
    px_loss losses[PX_MAX_OUTPUTS];           /* per output (used when .loss is NONE) */
    float loss_weights[PX_MAX_OUTPUTS];       /* all zero: 1 each */
    bool from_logits;                         /* with .loss */
    /* The model takes it, also when compile fails (then it is freed, unless it
     * is the optimizer the model already holds); NULL: RMSprop as Keras. */
    px_optimizer *optimizer;
    px_metric_kind metrics[PX_MAX_METRICS];   /* zero-terminated */
    /* Keras's weighted_metrics: means weighted by the sample (and class)
     * weights, while `metrics` ignore them, as in Keras; a name in both lists is
     * logged as "weighted_<name>" here (zero-terminated) */
    px_metric_kind weighted_metrics[PX_MAX_METRICS];
    int top_k;                                /* for top-k accuracy; 0 = 5 */
    /* Metrics with settings (Keras's metric objects), after those of .metrics, e.g.
     * {{.kind = PX_AUC, .curve = PX_CURVE_PR, .name = "pr_auc"}}; zero-terminated.
     * Together with .metrics at most PX_MAX_METRICS. */
    px_metric metric_objects[PX_MAX_METRICS];
} px_compile_options;

/* Binds losses, optimizer and metrics; builds the training graph. */
PX_API px_status px_model_compile(px_model *m, const px_compile_options *opts);
PX_API px_optimizer *px_model_optimizer(px_model *m);

/* ---- logs, callbacks and history ---- */
#define PX_MAX_LOGS 48
/* Named values: "loss", "accuracy", "val_loss", "learning_rate", ... */
typedef struct px_logs {
    int n;
    char names[PX_MAX_LOGS][64];
    double values[PX_MAX_LOGS];
} px_logs;
/* Sets (or adds) a value. */
PX_API void px_logs_set(px_logs *logs, const char *name, double value);
/* True and *value set when present. */
PX_API bool px_logs_get(const px_logs *logs, const char *name, double *value);

typedef struct px_callback px_callback;
/* A callback: any hook may be NULL. A hook returning an error stops training
 * with that error. `epoch` and `batch` are 0-based as in Keras. */
struct px_callback {
    const char *name;
    void *state;
    px_status (*on_train_begin)(px_callback *cb, px_model *m, px_logs *logs);
    px_status (*on_train_end)(px_callback *cb, px_model *m, px_logs *logs);
    px_status (*on_epoch_begin)(px_callback *cb, px_model *m, int epoch, px_logs *logs);
    px_status (*on_epoch_end)(px_callback *cb, px_model *m, int epoch, px_logs *logs);
    px_status (*on_batch_begin)(px_callback *cb, px_model *m, int batch, px_logs *logs);
    px_status (*on_batch_end)(px_callback *cb, px_model *m, int batch, px_logs *logs);
    void (*destroy)(px_callback *cb); /* frees state (and cb itself if heap-allocated) */
    /* With a distribution strategy, runs on the chief (rank 0) only: callbacks
     * that print or write files (the progress bar, ModelCheckpoint, CSVLogger,
     * TensorBoard). Such a callback must not stop training or change the model,
     * or the replicas would part ways; the others run on every replica, where
     * they see the same logs and so decide the same. */
    bool chief_only;
    /* Optional, for BackupAndRestore (callbacks.h): the callback's state between
     * fits' steps as JSON text (*out malloc'd, the caller frees it), and putting a
     * state back, called by fit after every on_train_begin when a run resumes from
     * a backup. A callback without them starts a resumed run afresh. */
    px_status (*get_state)(px_callback *cb, px_model *m, char **out);
    px_status (*set_state)(px_callback *cb, px_model *m, const char *state);
};
PX_API void px_callback_free(px_callback *cb);


/* During fit: asks training to stop at the end of the current epoch (or, with
 * `now`, after the current batch). */
PX_API void px_model_stop_training(px_model *m, bool now);
/* For a program's own SIGINT/SIGTERM handler (async-signal-safe: it only sets a
 * flag): fit stops after the current step without ending the epoch (no epoch-end
 * callbacks, no History entry for it), a BackupAndRestore callback writes a backup
 * of that position, and fit returns PX_OK; px_model_interrupted then says so. A
 * resumed run with the same backup continues from that step. */
PX_API void px_model_interrupt(px_model *m);
/* Whether the last fit was ended by px_model_interrupt. */
PX_API bool px_model_interrupted(const px_model *m);
/* During fit: the parameters of the current run (epochs, steps per epoch). */
PX_API int px_model_fit_epochs(const px_model *m);
PX_API int px_model_fit_steps(const px_model *m);

/* Per-epoch values of the last fit: keys from the epoch-end logs. */
typedef struct px_history px_history;
PX_API const px_history *px_model_history(const px_model *m);
PX_API int px_history_epochs(const px_history *h);
/* The values of `key` for each epoch (NULL if absent); *n = number of epochs. */
PX_API const double *px_history_get(const px_history *h, const char *key, int *n);
PX_API int px_history_key_count(const px_history *h);
PX_API const char *px_history_key(const px_history *h, int i);
/* Writes the learning curves of h as an SVG picture (replaced atomically): one panel
 * per logged metric ("loss", "accuracy", ...; not the learning rate) side by side,
 * each with a <polyline class="train" data-key="loss"> of one point per epoch and,
 * when the history has "val_loss", a <polyline class="validation"
 * data-key="val_loss">; the y axis spans the panel's finite values, and a NaN or
 * infinite value leaves out its point. PX_ERR_ARG: NULL history or path, no epoch;
 * PX_ERR_IO: the file cannot be written (the previous one is kept). */
PX_API px_status px_history_plot_svg(const px_history *h, const char *path);

/* ---- fit, evaluate, predict ---- */
typedef enum px_verbosity {
    PX_VERBOSE_AUTO = 0, /* = PX_VERBOSE_BAR, as Keras's "auto" */
    PX_VERBOSE_SILENT,   /* Keras verbose=0 */
    PX_VERBOSE_BAR,      /* Keras verbose=1: progress bar */
    PX_VERBOSE_EPOCH     /* Keras verbose=2: one line per epoch */
} px_verbosity;

/* The progress display of fit as a callback (fit adds one itself unless
 * verbose is PX_VERBOSE_SILENT). Free with px_callback_free. */
PX_API px_callback *px_progbar_logger(px_verbosity verbose, FILE *out);

/* Inputs and targets as arrays of tensors (one per model input / output). */
typedef struct px_arrays {
    px_tensor *const *x;
    int n_x;
    px_tensor *const *y;
    int n_y;
} px_arrays;

typedef struct px_fit_options {
    int epochs;                        /* 0: 1 */
    int batch_size;                    /* 0: 32 */
    px_verbosity verbose;
    bool no_shuffle;                   /* Keras shuffle=True by default */
    const px_dataset *validation;      /* validation data, or: */
    const px_arrays *validation_arrays;
    float validation_split;            /* fraction taken from the end, before shuffling */
    int initial_epoch;
    px_callback *const *callbacks;     /* not owned */
    int n_callbacks;
    FILE *out;                         /* progress output; NULL: stdout */
    /* Data-parallel training (plexus/dist.h): each process is a replica that
     * trains on its share of every batch of batch_size rows (the global batch),
     * so the result is the one-process run's up to float rounding. NULL: alone. */
    px_strategy *strategy;
    /* Keras's overridden Model.train_step: when set, fit calls it for every batch
     * (the rows gathered in fit's order, as arrays like the training data) in place of
     * its own step, keeping the epochs, shuffling, validation, callbacks and progress
     * bar. It computes and applies the update itself (px_model_compute_gradients,
     * px_optimizer_apply_gradients) and sets in `logs` what the batch reports (its
     * "loss" and metrics); `logs` holds what it set for the epoch's earlier batches, and
     * the last batch's logs are the epoch's. A status other than PX_OK stops fit with
     * it. Not with a strategy. */
    px_status (*train_step)(px_model *m, const px_arrays *batch, px_logs *logs, void *data);
    void *train_step_data; /* passed to train_step */
    /* Keras's sample_weight (arrays and datasets: one per training example,
     * borrowed; a source brings its own) and class_weight (one per class,
     * n_class_weight of them): each example's losses are scaled by its weight
     * (times its class's), the loss being their sum over the number of losses
     * as in Keras; plain metrics ignore the weights, weighted_metrics use them. */
    const float *sample_weight;
    const float *class_weight;
    int n_class_weight;
    px_source *validation_source;      /* validation data as a source (borrowed) */
} px_fit_options;

PX_API px_status px_model_fit(px_model *m, const px_dataset *train, const px_fit_options *opts);
PX_API px_status px_model_fit_arrays(px_model *m, const px_arrays *train, const px_fit_options *opts);
/* fit on any source (plexus/source.h; borrowed): sources with random access
 * (arrays, image folders, generators) are shuffled every epoch unless
 * no_shuffle, others are read in their order; a source made by
 * px_source_batch keeps its batch size; validation_split needs random access.
 * Bad data met while reading (NaN, a label outside the classes, a corrupt
 * image) stops training with an error naming the example. */
PX_API px_status px_model_fit_source(px_model *m, px_source *train, const px_fit_options *opts);

typedef struct px_eval_options {
    int batch_size;                    /* 0: 32 */
    px_verbosity verbose;              /* AUTO: a progress bar, as Keras */
    FILE *out;
    /* Each replica evaluates its share of the data and the results are summed
     * (every replica gets the same logs); the chief shows the progress bar. */
    px_strategy *strategy;
    const float *sample_weight;        /* evaluate on arrays and datasets: one per example (borrowed) */
} px_eval_options;

/* Loss and metrics over a dataset, into *logs (may be NULL). */
PX_API px_status px_model_evaluate(px_model *m, const px_dataset *data, const px_eval_options *opts, px_logs *logs);
PX_API px_status px_model_evaluate_arrays(px_model *m, const px_arrays *data, const px_eval_options *opts,
                                   px_logs *logs);
PX_API px_status px_model_evaluate_source(px_model *m, px_source *data, const px_eval_options *opts, px_logs *logs);

/* Outputs for the inputs, in batches. px_model_predict: single input and output,
 * returns a new tensor (caller frees) or NULL. */
PX_API px_tensor *px_model_predict(px_model *m, const px_tensor *x, const px_eval_options *opts);
/* outputs[i] receives a new tensor per model output. */
PX_API px_status px_model_predict_arrays(px_model *m, px_tensor *const *x, int n_x, const px_eval_options *opts,
                                  px_tensor **outputs);
/* outputs[i] receives a new tensor per model output, one row per example of
 * the source (read in order; its targets, if any, are not used). */
PX_API px_status px_model_predict_source(px_model *m, px_source *data, const px_eval_options *opts,
                                         px_tensor **outputs);
/* argmax of the predictions: int32 (n) class labels (caller frees). */
PX_API px_tensor *px_model_predict_classes(px_model *m, const px_tensor *x, const px_eval_options *opts);

/* ---- custom training loops (Keras's "writing a training loop from scratch") ---- */

/* Keras's model(x, training=...): the outputs for one batch of inputs x[0..n_x), run as
 * one batch; with training, dropout drops and BatchNormalization normalises by the
 * batch and updates its moving statistics. outputs[i] receives a new tensor per model
 * output (caller frees). */
PX_API px_status px_model_call(px_model *m, px_tensor *const *x, int n_x, bool training, px_tensor **outputs);
/* Keras's model.trainable_weights: *out receives an array (caller frees it with free())
 * of *n tensors that are the weights themselves (owned by the model, not to be freed):
 * writes to them, as px_optimizer_apply_gradients makes, are the model's. Valid until
 * the model's layers or their trainable flags change. */
PX_API px_status px_model_trainable_weights(px_model *m, px_tensor ***out, int *n);
/* The compiled loss (with regularization penalties) differentiated on one batch, as
 * GradientTape over model(x, training=True) and the loss gives it: grads[i] receives a
 * new tensor (caller frees) per px_model_trainable_weights entry, in that order. With
 * logs, the batch's loss and metrics are set there. Updates no weight (BatchNormalization's
 * moving statistics do move, as in training). */
PX_API px_status px_model_compute_gradients(px_model *m, const px_arrays *batch, px_tensor **grads, px_logs *logs);

#ifdef __cplusplus
}
#endif
#endif
