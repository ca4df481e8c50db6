/* Optimizers with Keras's defaults and update rules, learning-rate schedules and
 * gradient clipping. An optimizer updates one contiguous block of parameters
 * from one contiguous block of gradients, so a step is a single tight loop. */
#ifndef PLEXUS_OPTIM_H
#define PLEXUS_OPTIM_H

#include "export.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum px_optimizer_kind {
    PX_OPT_SGD,
    PX_OPT_ADAGRAD,
    PX_OPT_RMSPROP,
    PX_OPT_ADADELTA,
    PX_OPT_ADAM,
    PX_OPT_ADAMW,
    PX_OPT_NADAM,
    PX_OPT_ADAMAX,
    PX_OPT_FTRL,
    PX_OPT_LION
} px_optimizer_kind;

typedef enum px_schedule_kind {
    PX_SCHEDULE_NONE = 0,       /* constant learning rate */
    PX_SCHEDULE_EXPONENTIAL,    /* lr0 * rate^(t / steps), floor of the exponent when staircase */
    PX_SCHEDULE_INVERSE_TIME,   /* lr0 / (1 + rate * t / steps) */
    PX_SCHEDULE_PIECEWISE,      /* values[i] while t <= boundaries[i] (Keras PiecewiseConstantDecay) */
    PX_SCHEDULE_COSINE,         /* Keras CosineDecay: lr0 * ((1 - alpha) * cos_decay + alpha), after an
                                   optional linear warmup from lr0 to warmup_target (then decaying from it) */
    PX_SCHEDULE_POLYNOMIAL,     /* Keras PolynomialDecay: (lr0 - end) * (1 - t / steps)^power + end */
    PX_SCHEDULE_COSINE_RESTARTS /* Keras CosineDecayRestarts (SGDR): cosine periods of decay_steps,
                                   each t_mul times longer and m_mul times higher than the last */
} px_schedule_kind;

#define PX_MAX_PIECES 16
/* A learning rate as a function of the step count t (the optimizer's iterations).
 * Fields a kind does not use are ignored. */
typedef struct px_lr_schedule {
    px_schedule_kind kind;
    float initial_learning_rate;
    int64_t decay_steps;                    /* restarts: Keras's first_decay_steps */
    float decay_rate;
    bool staircase;
    float alpha;                            /* cosine, restarts: final fraction of lr0 */
    int n_boundaries;                       /* piecewise: values has n_boundaries + 1 entries */
    int64_t boundaries[PX_MAX_PIECES];
    float values[PX_MAX_PIECES + 1];
    float end_learning_rate;                /* polynomial: the rate at decay_steps (zero means 0;
                                               Keras's default is 0.0001) */
    float power;                            /* polynomial: 0 = Keras's 1 (linear) */
    bool cycle;                             /* polynomial: past decay_steps, decay again over the next
                                               multiple of decay_steps (Keras's cycle=True) */
    float warmup_target;                    /* cosine: 0 = Keras's None (no warmup) */
    int64_t warmup_steps;                   /* cosine: steps of the warmup before the decay */
    float t_mul, m_mul;                     /* restarts: 0 = Keras's 2 and 1 */
} px_lr_schedule;
/* The learning rate at step t (NaN, with the error set, for a NULL schedule). */
PX_API float px_lr_schedule_at(const px_lr_schedule *s, int64_t t);
/* PX_ERR_ARG unless the schedule is usable: decay_steps > 0 where used, a finite
 * initial rate >= 0, 1..PX_MAX_PIECES strictly increasing boundaries. Optimizers
 * check the schedule they are given with it. */
PX_API px_status px_lr_schedule_validate(const px_lr_schedule *s);

/* Zero means Keras's default for that optimizer (learning rates: SGD 0.01, the others
 * 0.001; epsilon 1e-7; beta_1 0.9; beta_2 0.999 (Lion 0.99); rho 0.9 (RMSprop) or 0.95
 * (Adadelta); Adagrad's and Ftrl's initial accumulator 0.1; AdamW's weight decay
 * 0.004; Ftrl's learning_rate_power -0.5). */
typedef struct px_optimizer_options {
    float learning_rate;
    const px_lr_schedule *schedule; /* copied; overrides learning_rate when set */
    float momentum;                 /* SGD, RMSprop */
    bool nesterov;                  /* SGD */
    float beta_1, beta_2;           /* Adam, AdamW, Nadam */
    float epsilon;
    bool amsgrad;                   /* Adam, AdamW */
    float rho;                      /* RMSprop, Adadelta */
    bool centered;                  /* RMSprop */
    float initial_accumulator_value;/* Adagrad */
    float weight_decay;             /* decoupled decay (AdamW's default 0.004; 0 elsewhere) */
    /* Keras allows at most one of the three clipping options. */
    float clipnorm;                 /* clip each variable's gradient norm to this; the variables
                                       are the model's trainable weights in fit and
                                       apply_gradients, the segments of px_optimizer_set_segments
                                       in px_optimizer_step, else the whole block */
    float clipvalue;                /* clip each gradient value to [-clipvalue, clipvalue] */
    float global_clipnorm;          /* clip the norm of all gradients together */
    /* Ftrl (Keras's optimizers.Ftrl): the accumulator's power, <= 0 (0 means Keras's
     * -0.5; the fixed-rate power of exactly 0 is not available), the L1 and L2
     * penalties, the L2 shrinkage penalty and beta, all >= 0 */
    float learning_rate_power;
    float l1_regularization_strength, l2_regularization_strength, l2_shrinkage_regularization_strength;
    float beta;
} px_optimizer_options;

typedef struct px_optimizer px_optimizer;

/* A new optimizer (owned by the caller, or by a model it is given to); opts may be NULL. */
PX_API px_optimizer *px_optimizer_new(px_optimizer_kind kind, const px_optimizer_options *opts);
PX_API px_optimizer *px_sgd(const px_optimizer_options *opts);
PX_API px_optimizer *px_adam(const px_optimizer_options *opts);
PX_API px_optimizer *px_adamw(const px_optimizer_options *opts);
PX_API px_optimizer *px_nadam(const px_optimizer_options *opts);
PX_API px_optimizer *px_rmsprop(const px_optimizer_options *opts);
PX_API px_optimizer *px_adagrad(const px_optimizer_options *opts);
PX_API px_optimizer *px_adadelta(const px_optimizer_options *opts);
/* Adamax: Adam with the infinity norm (slots "momentum", "norm"). */
PX_API px_optimizer *px_adamax(const px_optimizer_options *opts);
/* Ftrl: follow the regularized leader (slots "accumulator", "linear"). */
PX_API px_optimizer *px_ftrl(const px_optimizer_options *opts);
/* Lion: the sign of an interpolated momentum (slot "momentum"). */
PX_API px_optimizer *px_lion(const px_optimizer_options *opts);
/* By Keras name: "sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad", "adadelta",
 * "adamax", "ftrl", "lion". */
PX_API px_optimizer *px_optimizer_from_name(const char *name, const px_optimizer_options *opts);
PX_API void px_optimizer_free(px_optimizer *opt);

/* One update of params[0..n) from grads[0..n). The first call sizes the state
 * (slots); later calls must pass the same n. `grads` is not modified (clipping
 * works on the optimizer's own copy when needed). */
PX_API px_status px_optimizer_step(px_optimizer *opt, float *params, const float *grads, int64_t n);
/* Keras's apply_gradients(zip(grads, vars)): one update of the n float32 tensors
 * vars[i] (contiguous: px_model_trainable_weights's views of a model's weights, or any
 * tensors the caller owns) from grads[i] of the same shapes, with one step of the same
 * arithmetic as px_optimizer_step (clipnorm per variable). The state is laid out over
 * the variables in the order of the first call: later calls must pass the same
 * variables in the same order. Neither list is kept. */
PX_API px_status px_optimizer_apply_gradients(px_optimizer *opt, px_tensor *const *grads, px_tensor *const *vars,
                                              int n);
/* Tells the optimizer where each variable starts inside the block (starts[0] == 0,
 * strictly increasing, all below the n of the steps), so that clipnorm clips every
 * variable's gradient separately as Keras does. The table is copied; count 0 forgets it. */
PX_API px_status px_optimizer_set_segments(px_optimizer *opt, const int64_t *starts, int count);

PX_API px_optimizer_kind px_optimizer_get_kind(const px_optimizer *opt);
PX_API const char *px_optimizer_name(const px_optimizer *opt); /* Keras name, e.g. "adam" */
PX_API const px_optimizer_options *px_optimizer_get_options(const px_optimizer *opt); /* defaults filled in */
/* The learning rate the next step will use (from the schedule when there is one). */
PX_API float px_optimizer_learning_rate(const px_optimizer *opt);
/* Replaces the learning rate (and drops any schedule), as Keras callbacks do. */
PX_API void px_optimizer_set_learning_rate(px_optimizer *opt, float lr);
PX_API int64_t px_optimizer_iterations(const px_optimizer *opt);

/* The optimizer's state, for checkpoints: the iteration count and `slots`
 * arrays of n floats each (e.g. Adam: "m", "v"). */
PX_API int px_optimizer_slot_count(const px_optimizer *opt);
/* Slot i's name and data (NULL until the first step, or until px_model_fit on the CPU
 * makes them at its start, as Keras's fit builds its optimizer). */
PX_API float *px_optimizer_slot(px_optimizer *opt, int i, const char **name, int64_t *n);
/* Prepares fresh slots for n parameters (as the first step would make them) and
 * sets the iteration count, before slot data is written back from a checkpoint.
 * Nadam's momentum product is a function of the iteration count and is recomputed
 * here, so the slots and the count are the whole state. */
PX_API px_status px_optimizer_restore(px_optimizer *opt, int64_t n, int64_t iterations);

#ifdef __cplusplus
}
#endif
#endif
