/* Internal: what an optimizer kind is (px_optimizer_def) and the optimizer object the
 * kinds update. Each kind lives in its own src/train/optim_<name>.c and is listed once in
 * src/train/optim_registry.c; the common code (defaults, validation, clipping, state,
 * JSON configs) works from the def alone. */
#ifndef PX_TRAIN_OPTIMIZER_KIND_H
#define PX_TRAIN_OPTIMIZER_KIND_H

#include <stddef.h>

#include "backend/backend.h"
#include "formats/json.h"
#include "plexus/optim.h"

#define PX_OPT_MAX_SLOTS 3
#define PX_OPT_MAX_KEYS 8

/* What a config value must be (checked when the optimizer is made, with messages
 * such as "adam: beta_1 must be in [0, 1)"). */
typedef enum px_optimizer_key_type {
    PX_KEY_BOOL,     /* a bool field */
    PX_KEY_NONNEG,   /* a finite float >= 0 */
    PX_KEY_UNIT,     /* a float in [0, 1] */
    PX_KEY_UNIT_OPEN,/* a float in [0, 1) */
    PX_KEY_NONPOS    /* a finite float <= 0 */
} px_optimizer_key_type;

/* One of a kind's own Keras config keys: the px_optimizer_options field of the same
 * name. Keys are written in the order of the kind's table, after the common ones. */
typedef struct px_optimizer_key {
    const char *name;
    size_t offset;
    px_optimizer_key_type type;
} px_optimizer_key;
#define PX_OPT_KEY(field, type) {#field, offsetof(px_optimizer_options, field), type}

struct px_optimizer;

typedef struct px_optimizer_def {
    px_optimizer_kind kind; /* the public enum value */
    const char *name;       /* Keras's name ("adam"); px_optimizer_from_name ignores case */
    const char *class_name; /* Keras's class ("Adam"), in configs and slot paths */
    /* Keras's defaults where they differ from the common ones (learning rate 0.001,
     * beta_1 0.9, beta_2 0.999, epsilon 1e-7, rho 0.9, initial accumulator 0.1,
     * weight decay 0, learning_rate_power 0); zero fields take the common default */
    px_optimizer_options defaults;
    /* the kind's own config keys beyond learning_rate, weight_decay and clipping, in
     * Keras's order; a kind that lists weight_decay always writes it */
    px_optimizer_key keys[PX_OPT_MAX_KEYS];
    /* Declares the state slots for the filled-in options (px_optimizer_add_slot), in
     * Keras's order of optimizer variables per weight; may be NULL (no slots). */
    void (*add_slots)(struct px_optimizer *opt);
    /* Sets fresh slots to their starting values (they arrive zeroed); may be NULL. */
    void (*init_slots)(struct px_optimizer *opt);
    /* Recomputes scalar state from opt->iterations, at creation and restore; may be NULL. */
    void (*restore)(struct px_optimizer *opt);
    /* One update of p[0..n) from the (clipped) gradients g at learning rate lr; `keep`
     * = 1 - weight_decay * lr is Keras's decoupled decay w -= w * wd * lr. The step
     * number is opt->iterations + 1. */
    void (*step)(struct px_optimizer *opt, float *p, const float *g, int64_t n, float lr, float keep);
    /* The same update on a device (backend/kernels/optim_ops.h): sets k's kind and
     * flags and this step's numbers in coef[PX_OC_*], and advances scalar state as
     * `step` does. */
    void (*device_step)(struct px_optimizer *opt, float lr, float keep, px_optim_kernel *k, float *coef);
} px_optimizer_def;

struct px_optimizer {
    const px_optimizer_def *def;
    px_optimizer_options o; /* defaults filled in; o.schedule points at `sched` or is NULL */
    px_lr_schedule sched;
    int64_t n; /* parameters per step; -1 until the first step or a restore */
    int64_t iterations;
    int n_slots;
    const char *slot_names[PX_OPT_MAX_SLOTS];    /* Keras 3's names ("momentum") */
    const char *slot_h5_names[PX_OPT_MAX_SLOTS]; /* Keras 2.11's, in HDF5 files ("m") */
    float *slots[PX_OPT_MAX_SLOTS];              /* inside `block`, each 64-byte aligned */
    float *scratch;                              /* clipped gradients (inside `block`); NULL without clipping */
    float *block;
    float scalar_state; /* a number a kind carries between steps (Nadam's momentum product) */
    int64_t *segments;  /* variable starts for clipnorm; NULL: the whole block */
    int n_segments;
    size_t block_bytes;
    /* on a device (px_optimizer_step_on): the slots' copy, and the step's numbers,
     * scratch and segment table in one buffer */
    px_mirror dev_block;
    px_backend *aux_b;
    void *aux;
    size_t aux_bytes;
    bool aux_segments_current;
    const void *owner;  /* the model it was given to (compile), or NULL: one model only, as it frees it */
};

/* The checks of a step (optimizer.c), sizing the state on the first; *lr the step's
 * learning rate. */
px_status px_optimizer_prepare_step(px_optimizer *opt, const float *params, const float *grads, int64_t n,
                                    float *lr);

/* Sizes the state for n parameters as the first step would (its slots made and
 * zeroed), when the optimizer has none yet; nothing when it has. */
px_status px_optimizer_build(px_optimizer *opt, int64_t n);

/* Adds a slot named `name` (Keras 3) and `h5_name` (Keras 2.11's HDF5 files; NULL: the same). */
void px_optimizer_add_slot(struct px_optimizer *opt, const char *name, const char *h5_name);

/* ---- the registry (optim_registry.c) ---- */

/* Every built-in kind, NULL-terminated, in the order error messages list them. */
extern const px_optimizer_def *const px_optimizer_defs[];
/* The kind with this enum value, or NULL. */
const px_optimizer_def *px_optimizer_def_of_kind(px_optimizer_kind kind);
/* The kind with this Keras name or class name, in any case ("adam", "Adam"), or NULL. */
const px_optimizer_def *px_optimizer_def_find(const char *name);

/* ---- configs (optimizer_config.c): Keras's {"class_name", "config"} objects ---- */

/* The optimizer and its schedule as Keras 2 writes them; NULL with the error set. */
px_json *px_optimizer_to_json(const px_optimizer *opt);
/* An optimizer from a Keras 2 or 3 optimizer config (K2.2's "lr" and "decay", K2.11's
 * "Custom>" prefix); NULL with an error (PX_ERR_FORMAT or PX_ERR_UNSUPPORTED). */
px_optimizer *px_optimizer_from_json(const px_json *v);

#endif
