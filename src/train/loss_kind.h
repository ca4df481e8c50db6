/* Internal: what a loss kind is (px_loss_def). The built-in kinds are in losses.c and
 * listed once in loss_registry.c; names, shape checks, the accuracy Keras pairs with a
 * loss and the JSON configs all come from the def. */
#ifndef PX_TRAIN_LOSS_KIND_H
#define PX_TRAIN_LOSS_KIND_H

#include "formats/json.h"
#include "plexus/losses.h"

typedef struct px_loss_def {
    px_loss_kind kind;       /* the public enum value */
    const char *name;        /* Keras's function name ("mean_squared_error") */
    const char *class_name;  /* Keras's class ("MeanSquaredError") */
    const char *aliases[3];  /* other names Keras accepts ("mse"), NULL-padded */
    bool class_indices;      /* y_true holds int32 class indices (batch,) or (batch, 1) */
    const char *int32_hint;  /* added to the shape error when int32 labels are given (or NULL) */
    /* What "accuracy" means with this loss (Keras's choice); PX_METRIC_NONE: chosen
     * from the output's width */
    px_metric_kind accuracy;
    /* The loss of every element (or example) of the batch, shaped (batch, ...):
     * its mean is the loss; the shapes are already checked. */
    px_node *(*build)(px_loss loss, px_node *y_true, px_node *y_pred);
    /* Config keys beyond "reduction" and "name". NULL hooks mean the default key,
     * "from_logits": written when set (needs_config), and read by every kind. */
    bool (*needs_config)(px_loss loss); /* false: the loss is saved as its bare name */
    px_status (*write_config)(px_loss loss, px_json *config);
    void (*read_config)(const px_json *config, px_loss *loss);
} px_loss_def;

/* The kind of this enum value, or NULL (loss_registry.c). */
const px_loss_def *px_loss_def_of(px_loss_kind kind);
/* The kind with this Keras name or alias ("mse"), or NULL. */
const px_loss_def *px_loss_def_find(const char *name);
/* The kind with this Keras class name ("MeanSquaredError"), or NULL. */
const px_loss_def *px_loss_def_of_class(const char *class_name);

/* ---- configs (loss_config.c) ---- */

/* The loss as Keras 2 writes it in a training config: its name, or {"class_name",
 * "config"} when a key differs from its default; NULL with the error set. */
px_json *px_loss_to_json(px_loss loss);
/* A loss from a name or a {"class_name", "config"} object (Keras 2 or 3). */
px_status px_loss_from_json(const px_json *v, px_loss *out);

#endif
