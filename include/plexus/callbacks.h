/* Keras's standard callbacks (EarlyStopping, ModelCheckpoint, BackupAndRestore,
 * CSVLogger, ReduceLROnPlateau, LearningRateScheduler, TerminateOnNaN, TensorBoard)
 * for fit. */
#ifndef PLEXUS_CALLBACKS_H
#define PLEXUS_CALLBACKS_H

#include <stdio.h>

#include "export.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every constructor takes an options struct in which zero (or NULL) means Keras's
 * default, and returns a heap callback for px_fit_options.callbacks (fit does not
 * take it: free it with px_callback_free), or NULL with the error set for invalid
 * options. A callback keeps its state from one fit to the next as a Keras callback
 * object does, except where Keras resets it at train begin (noted below).
 *
 * Messages are tf.keras 2's, printed to `out` (NULL: stdout) -- including the
 * warnings Keras sends through logging, which always print. A callback that fails
 * (a file cannot be written, a filepath names a value that is not logged) returns
 * an error that stops fit with it. */

/* Whether a monitored value improves by going down or up. AUTO follows tf.keras 2:
 * EarlyStopping: up for names ending in "acc", "accuracy" or "auc";
 * ModelCheckpoint and ReduceLROnPlateau: up for names containing "acc"; else down. */
typedef enum px_monitor_mode { PX_MODE_AUTO = 0, PX_MODE_MIN, PX_MODE_MAX } px_monitor_mode;

/* ---- EarlyStopping ---- */
typedef struct px_early_stopping_options {
    const char *monitor;        /* NULL: "val_loss" */
    double min_delta;           /* its absolute value is used, as Keras does */
    int patience;               /* epochs without improvement before stopping */
    px_monitor_mode mode;
    double baseline;            /* with has_baseline: the wait only resets on values beyond it */
    bool has_baseline;
    bool restore_best_weights;
    /* With restore_best_weights: false (default) restores the best epoch's weights at
     * train end whenever they were recorded (Keras 3); true restores only when training
     * was stopped early, at that epoch's end (tf.keras 2). */
    bool restore_only_if_stopped;
    int start_from_epoch;       /* epochs (0-based index below this) not monitored */
    int verbose;                /* > 0: "Epoch N: early stopping" at train end */
    FILE *out;
} px_early_stopping_options;
PX_API px_callback *px_early_stopping(const px_early_stopping_options *opts);
/* After fit: the 0-based epoch at which it stopped training (0 when it did not),
 * and the 0-based epoch of the best value (-1 before any). */
PX_API int px_early_stopping_stopped_epoch(const px_callback *cb);
PX_API int px_early_stopping_best_epoch(const px_callback *cb);

/* ---- ModelCheckpoint ---- */
typedef struct px_model_checkpoint_options {
    /* Python str.format pattern over epoch (1-based), batch (1-based, batch-frequency
     * saves only) and every logged value: "ckpt-{epoch:02d}-{val_loss:.4f}.h5".
     * Fields take Python format specs: [[fill]align][sign][0][width][.precision][type]
     * with type d (integers), e E f F g G % or none; "{{" and "}}" are literal braces.
     * Malformed patterns fail in the constructor; a field naming a value that is not
     * logged fails at save time and stops fit. Missing directories are created. */
    const char *filepath;
    const char *monitor;        /* NULL: "val_loss" */
    px_monitor_mode mode;
    bool save_best_only;        /* only when the monitored value improved (no min_delta) */
    bool save_weights_only;     /* px_model_save_weights instead of px_model_save */
    int save_freq;              /* 0: at each epoch end ("epoch"); N > 0: every N batches */
    double initial_value_threshold; /* with has_initial_value_threshold: the best to beat */
    bool has_initial_value_threshold;
    int verbose;                /* > 0: "\nEpoch 3: val_loss improved from ..." */
    FILE *out;
} px_model_checkpoint_options;
/* Unlike Keras, a model whose logged "loss" is NaN or infinite is never saved: a
 * diverged run (stopped by TerminateOnNaN) keeps its last good checkpoint. */
PX_API px_callback *px_model_checkpoint(const px_model_checkpoint_options *opts);

/* The filepath a checkpoint pattern gives for an epoch (0-based, printed 1-based),
 * a batch (0-based, printed 1-based; < 0: no "batch" field) and logs. PX_ERR_ARG with
 * a message quoting the pattern when it is malformed, names an unknown value or does
 * not fit in `len` bytes. logs may be NULL (only epoch and batch are known then). */
PX_API px_status px_checkpoint_filepath(const char *pattern, int epoch, int batch, const px_logs *logs, char *out,
                                 size_t len);

/* ---- BackupAndRestore ---- */
/* Keras's BackupAndRestore, backing up more: a run that gets killed, crashes or is
 * interrupted (px_model_interrupt) continues, when started again with the same
 * backup_dir, where its last backup left it, and ends bit-identical to a run that
 * never stopped (weights, History, CSV log). A backup holds the model with the
 * optimizer's slots and iterations and the generators, the learning rate, fit's
 * epoch and step and the epoch's running sums of the loss and metrics, the
 * History so far, and the state of every callback that has get_state (the
 * standard ones: EarlyStopping's best value, wait and best weights,
 * ReduceLROnPlateau's counters, ModelCheckpoint's best, CSVLogger's rows so far,
 * TensorBoard's batch count). It is written atomically at each epoch end (not
 * after the last), every save_freq steps when that is > 0, and when fit is
 * interrupted; it is deleted when training completes (unless keep_backup).
 * The resumed run must use the same model, optimizer, data, batch size and
 * callbacks in the same order (checked: an error names what differs). Not for
 * runs with a distribution strategy. Files: <backup_dir>/state.json and
 * <backup_dir>/model-0.h5, model-1.h5 (used in turn). */
typedef struct px_backup_options {
    const char *backup_dir;     /* required; created when missing */
    int save_freq;              /* 0: at epoch ends only; N > 0: also every N steps */
    bool keep_backup;           /* true: leave the last backup when training completes */
} px_backup_options;
PX_API px_callback *px_backup_and_restore(const px_backup_options *opts);

/* ---- CSVLogger ---- */
/* Columns "epoch" then the epoch-end log keys sorted by name, fixed at the first epoch
 * written; without any "val_" key, "val_<key>" columns are added and filled with "NA"
 * (so later validation values fit), and keys missing in an epoch are "NA" too. Values
 * are written as Python's repr() writes them; rows end in "\r\n" as Python's csv
 * module ends them; every row is flushed. With append, an existing non-empty file is
 * continued without a new header. separator 0: ','. */
PX_API px_callback *px_csv_logger(const char *filename, char separator, bool append);

/* ---- ReduceLROnPlateau ---- */
typedef struct px_reduce_lr_options {
    const char *monitor;        /* NULL: "val_loss" */
    double factor;              /* 0: 0.1; must be < 1 */
    int patience;               /* 0: 10 (set no_patience for a patience of 0) */
    bool no_patience;
    px_monitor_mode mode;
    double min_delta;           /* 0: 1e-4 (set zero_min_delta for 0) */
    bool zero_min_delta;
    int cooldown;               /* epochs after a reduction during which the wait stays 0 */
    double min_lr;
    int verbose;                /* > 0: "\nEpoch N: ReduceLROnPlateau reducing learning rate to X." */
    const char *log_key;        /* NULL: "lr" (tf.keras 2); "learning_rate" for Keras 3 */
    FILE *out;
} px_reduce_lr_options;
PX_API px_callback *px_reduce_lr_on_plateau(const px_reduce_lr_options *opts);

/* ---- LearningRateScheduler ---- */
/* schedule(epoch (0-based), current learning rate, user) gives the epoch's rate, set
 * at epoch begin; a NaN, infinite or negative rate is an error that stops fit. The
 * rate is logged at epoch end under "lr" (tf.keras 2). verbose > 0 prints
 * "\nEpoch N: LearningRateScheduler setting learning rate to X." to stdout. */
typedef double (*px_lr_schedule_fn)(int epoch, double lr, void *user);
PX_API px_callback *px_learning_rate_scheduler(px_lr_schedule_fn schedule, void *user, int verbose);

/* ---- TerminateOnNaN ---- */
/* After a batch whose (running mean) loss is NaN or infinite: prints
 * "Batch <i>: Invalid loss, terminating training" (0-based i) and stops training
 * after that batch; the epoch still ends (and counts in the History). */
PX_API px_callback *px_terminate_on_nan(void);

/* ---- TensorBoard ---- */
/* Keras's layout (see tensorboard.h): event files in <log_dir>/train and, when there
 * are validation values, <log_dir>/validation, a new file in each per fit.
 * At train begin (train run): the model's GraphDef for the Graphs dashboard and its
 * Keras config as the "keras" graph_keras_model summary (unless no_graph), and the
 * image_samples as "input_samples" images at step 0. At each epoch end: "epoch_<key>"
 * for every logged value (val_ values in the validation run without their prefix) and
 * "epoch_learning_rate" from the optimizer, at step = epoch;
 * "evaluation_<key>_vs_iterations" in the validation run at step = optimizer
 * iterations; then every histogram_freq epochs (epochs 0, f, 2f, ...) a histogram of
 * each layer weight tagged "<layer>/<weight>/histogram" (Keras 3; tf.keras 2 wrote
 * "<layer>/<weight>_0/histogram") in the TF2 "histograms" plugin encoding (30 buckets,
 * px_tb_histogram_tensor) and, with write_images, the first Conv2D layer's filters as
 * "<layer>/kernel/image" images; every embeddings_freq epochs the projector's files
 * (px_tb_write_projector: <log_dir>/projector_config.pbtxt and a TSV per Embedding
 * layer); then both files are flushed. */
typedef struct px_tensorboard_options {
    const char *log_dir;        /* NULL: "logs" */
    int histogram_freq;         /* 0: no histograms */
    int update_freq;            /* 0: "epoch"; N > 0: also "batch_<key>" every N batches,
                                   step = global batch count (Keras's "batch" is 1) */
    bool no_graph;              /* true: no graph (Keras's write_graph=False) */
    bool write_images;          /* first Conv2D filters as images at histogram epochs */
    const px_tensor *image_samples; /* borrowed, float32 (n, h, w, c), c 1/3/4: at most
                                       16 logged once; NULL: none */
    int embeddings_freq;        /* 0: no projector files */
    const char *embeddings_metadata; /* metadata_path written for every Embedding (a TSV
                                        of labels, relative to log_dir); NULL: none */
} px_tensorboard_options;
PX_API px_callback *px_tensorboard_callback(const px_tensorboard_options *opts);

/* Python's repr() of a float (shortest round-trip digits: "0.1", "1e-05", "nan",
 * "inf", "3.0"), as Keras messages and CSV files show values. Returns `buf`. */
PX_API char *px_python_float_repr(double v, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
