/* Hyperparameter search: for multilayer perceptrons, grid or randomized (seeded)
 * search over depth, width, activation, learning rate, batch size and dropout,
 * every trial scored by k-fold cross-validation or a hold-out validation split; for
 * any model, seeded random search over the fields of its Keras model-config JSON with
 * successive halving of the trials. */
#ifndef PLEXUS_TUNE_H
#define PLEXUS_TUNE_H

#include <stdio.h>

#include "export.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PX_TUNE_MAX_CHOICES 32

/* One hyperparameter's values: a list (n > 0) or, for random search, a range
 * drawn uniformly or log-uniformly (n == 0). Integer hyperparameters (layers,
 * units, batch size) round what is drawn. */
typedef struct px_tune_values {
    int n;
    double values[PX_TUNE_MAX_CHOICES];
    double low, high;   /* the range when n == 0 */
    bool log;           /* log-uniform range (low > 0) */
} px_tune_values;

/* The search space. Every hyperparameter left empty (n == 0 and low == high == 0)
 * takes one default: layers 1, units 32, activation relu, learning_rate 0.01,
 * batch_size 32, dropout 0, optimizer sgd. */
typedef struct px_tune_space {
    px_tune_values layers;          /* hidden Dense layers */
    px_tune_values units;           /* units per hidden layer */
    px_tune_values learning_rate;
    px_tune_values batch_size;
    px_tune_values dropout;         /* rate of a Dropout after each hidden layer (0: none) */
    int n_activations;
    px_activation activations[PX_TUNE_MAX_CHOICES];
    int n_optimizers;
    char optimizers[PX_TUNE_MAX_CHOICES][16]; /* Keras names: "sgd", "adam", ... */
} px_tune_space;

/* Reads a space from JSON: an object whose keys are "layers", "units",
 * "activation", "learning_rate", "batch_size", "dropout" and "optimizer"; each
 * value is one value, a list of values, or {"uniform": [low, high]} or
 * {"log_uniform": [low, high]} (numeric keys only). Errors (PX_ERR_FORMAT or
 * PX_ERR_ARG) name the key and what was expected. */
PX_API px_status px_tune_space_from_json(const char *json, size_t len, px_tune_space *out);

/* One point of the space. */
typedef struct px_tune_params {
    int layers;
    int units;
    px_activation activation;
    double learning_rate;
    int batch_size;
    double dropout;
    char optimizer[16];
} px_tune_params;

/* An MLP for the point: Flatten (inputs of rank > 1), `layers` x [Dense(units,
 * activation), Dropout(dropout) when > 0], then Dense(n_outputs, output_activation),
 * compiled with the point's optimizer and learning rate, `loss` and, for
 * classification losses, accuracy. NULL with an error set on failure. */
PX_API px_model *px_tune_build_model(const px_tune_params *p, px_shape input_shape, int n_outputs,
                              px_activation output_activation, px_loss_kind loss);

typedef enum px_search_kind { PX_SEARCH_GRID = 0, PX_SEARCH_RANDOM } px_search_kind;

typedef struct px_tune_options {
    px_search_kind search;
    int trials;                 /* random: draws (0: 10); grid: at most this many points (0: all) */
    int folds;                  /* k-fold cross-validation (k >= 2), or: */
    float validation_split;     /* hold out this last fraction (of the shuffled data) */
                                /* neither set: 3-fold cross-validation */
    int epochs;                 /* per fit; 0: 10 */
    uint64_t seed;              /* draws, fold assignment, weights and shuffling */
    px_loss_kind loss;          /* NONE: sparse categorical cross-entropy for int32
                                   labels, mean squared error for float targets */
    int n_outputs;              /* 0: max label + 1 (classification) or the targets' width */
    bool retrain;               /* retrain the best point on all the data into best_model */
    px_verbosity verbose;       /* SILENT (or AUTO): nothing; EPOCH/BAR: one line per trial */
    FILE *out;                  /* NULL: stdout */
} px_tune_options;

typedef struct px_tune_trial {
    px_tune_params params;
    double score;               /* mean over folds: val_accuracy, or val_loss for regression */
    double score_std;           /* population standard deviation over folds (0 for a split) */
    double loss;                /* mean val_loss */
    double seconds;
    int index;                  /* order in which it was tried (0-based) */
} px_tune_trial;

typedef struct px_tune_result {
    int n_trials;
    px_tune_trial *trials;      /* sorted best first */
    bool higher_is_better;      /* accuracy (true) or loss (false) */
    const char *score_name;     /* "val_accuracy" or "val_loss" */
    px_model *best_model;       /* with retrain: trained on all data (owned; freed by clear) */
} px_tune_result;

/* Runs the search on `train` (x: float32 (n, ...); y: int32 labels or float32
 * targets). Fails with PX_ERR_ARG for an unusable space or options (a grid over a
 * range, fewer examples than folds, ...). Each fit's weights are seeded through
 * px_set_random_seed, so the default seed is changed afterwards. */
PX_API px_status px_tune(const px_dataset *train, const px_tune_space *space, const px_tune_options *opts,
                  px_tune_result *out);
/* The results as a table, best first: rank, score (+/- std), loss, seconds and the
 * hyperparameters. */
PX_API px_status px_tune_print(const px_tune_result *r, FILE *out);
PX_API void px_tune_result_clear(px_tune_result *r);

/* ---- search over any model (Keras Tuner's HyperModel with successive halving) ---- */

/* Successive halving (Jamieson and Talwalkar 2016; the inner loop of Hyperband): rung k
 * trains trials_k = max(1, floor(trials / eta^k)) trials, the best of the rung before,
 * on to epochs_k = min(min_epochs * eta^k, max_epochs) epochs in all (continuing, not
 * restarting); the rungs end with the first that reaches max_epochs. eta 1: one rung,
 * every trial to max_epochs. E.g. 9 trials, 1 to 9 epochs, eta 3: (9 trials, 1 epoch),
 * (3, 3), (1, 9): 9 + 3*2 + 1*6 = 21 epochs in all, where 9 trials run to the end take 81. */
#define PX_TUNE_MAX_RUNGS 16
typedef struct px_halving_rung {
    int trials;
    int epochs;   /* epochs trained in all by the end of the rung */
} px_halving_rung;
PX_API px_status px_halving_schedule(int trials, int min_epochs, int max_epochs, int eta, px_halving_rung *rungs,
                                     int max_rungs, int *n_rungs);

typedef struct px_tune_model_options {
    int trials;                 /* points drawn (seeded random search); 0: 9 */
    int min_epochs;             /* the first rung's epochs; 0: 1 */
    int max_epochs;             /* the last rung's; 0: min_epochs * eta^2 */
    int eta;                    /* each rung keeps the best 1/eta; 0: 3; 1: no halving */
    int batch_size;             /* 0: 32 (the space's "batch_size" replaces it) */
    px_loss_kind loss;          /* NONE: the model JSON's compile config, else sparse categorical
                                   cross-entropy with accuracy for int32 labels, else mse */
    const char *optimizer;      /* Keras name used when the space has no "optimizer"; NULL: the
                                   compile config's, else "adam" */
    const px_dataset *validation; /* scores the trials; NULL: hold out validation_split */
    float validation_split;     /* the last fraction of a seeded shuffle of train; 0: 0.2 */
    uint64_t seed;              /* draws, hold-out, weights and shuffling */
    px_verbosity verbose;       /* EPOCH/BAR: a line per trial and rung */
    FILE *out;                  /* NULL: stdout */
} px_tune_model_options;

typedef struct px_tune_model_trial {
    char *params;               /* the point drawn, as a JSON object (owned by the result) */
    double score;               /* at its last rung: val_accuracy when the model reports
                                   accuracy, else val_loss */
    double loss;                /* val_loss at its last rung */
    int epochs;                 /* epochs it trained */
    int rung;                   /* the last rung it reached (0-based) */
    double rung_scores[PX_TUNE_MAX_RUNGS]; /* its score at the end of each rung it reached */
    int index;                  /* order drawn (0-based) */
    double seconds;
} px_tune_model_trial;

typedef struct px_tune_model_result {
    int n_trials;
    px_tune_model_trial *trials; /* best first: the furthest rung, then the score */
    bool higher_is_better;
    const char *score_name;      /* "val_accuracy" or "val_loss" */
    int64_t total_epochs;        /* epochs trained over all trials */
    px_model *best_model;        /* the best trial's model, trained max_epochs (owned) */
} px_tune_model_result;

/* Searches the fields of a Keras model-config JSON (as model.to_json() or `plexus`
 * writes it; Sequential or Functional) over a space: a JSON object whose keys are
 *   "<layer name>.<config key>" (also deeper: "dense.kernel_initializer.class_name"),
 *     e.g. "conv2d.filters", "conv2d.kernel_size", "dropout.rate", "dense.activation";
 *   "optimizer" (Keras names) and "optimizer.<config key>" ("optimizer.learning_rate");
 *   "batch_size";
 * and whose values are a list of JSON values to choose from, or {"uniform": [lo, hi]},
 * {"log_uniform": [lo, hi]} or {"int_uniform": [lo, hi]} (hi included). Each trial is
 * a seeded draw of every key, trained with successive halving on the epochs
 * (px_halving_schedule) and scored on the validation data. Errors name the key (an
 * unknown layer, a value the layer refuses, "epochs", which is the budget). */
PX_API px_status px_tune_model(const char *model_json, size_t model_len, const char *space_json, size_t space_len,
                               const px_dataset *train, const px_tune_model_options *opts, px_tune_model_result *out);
/* The trials best first (rank, score, val_loss, epochs, seconds, the point), then the
 * epochs trained in all. */
PX_API px_status px_tune_model_print(const px_tune_model_result *r, FILE *out);
PX_API void px_tune_model_result_clear(px_tune_model_result *r);

#ifdef __cplusplus
}
#endif
#endif
