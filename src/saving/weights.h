/* Internal: what the model-file formats share: weights read and checked whole before
 * any is assigned, the two weight layouts (Keras 2's legacy one and Keras 3's), the
 * trainable variables in parameter-block order, and errors naming the file. */
#ifndef PX_SAVING_WEIGHTS_H
#define PX_SAVING_WEIGHTS_H

#include "formats/h5util.h"
#include "model/model_internal.h"
#include "plexus/model_io.h"

bool px_is_input_layer(const px_layer *l);

/* Prefixes the current error (or st's) with the file, unless it names it already. */
px_status px_in_file(const char *path, px_status st);

/* ---- staged weights: read and checked first, assigned all at once ---- */
typedef struct px_staged {
    px_layer *layer;
    px_tensor **w; /* w[k] for the layer's weight k */
    int n;
} px_staged;
typedef struct px_staged_set {
    px_staged *s;
    int n, cap;
} px_staged_set;
/* A new entry for layer l (all n weights NULL), or NULL when out of memory. */
px_staged *px_staged_add(px_staged_set *set, px_layer *l);
void px_staged_free(px_staged_set *set);
px_status px_staged_assign(px_staged_set *set);

/* Reads dataset `path` as weight k of layer l: PX_ERR_SHAPE naming the layer, the
 * weight, the dataset and both shapes when they differ. */
px_status px_read_weight(px_h5_file *f, const char *path, const px_layer *l, int k, px_tensor **out);

/* Keras's _legacy_weights order of a layer: its trainable weights, then the others
 * (for a nested model: of all its layers). perm[j] is the layer's weight index of
 * the j-th weight in that order; perm holds px_layer_weight_count(l) entries. */
void px_legacy_order(const px_layer *l, int *perm);

/* ---- Keras 2's legacy layout (layer_names, a group per layer, weight_names) ---- */
/* Writes layer_names, backend, keras_version and one group per layer under base. */
px_status px_legacy_weights_write(px_h5_file *f, const char *base, const px_model *m);
/* Reads them into m, matching the file's layers to the model's by position among the
 * layers that have weights (Keras's default) or by name. */
px_status px_legacy_weights_read(px_h5_file *f, const char *base, px_model *m, bool by_name);

/* ---- Keras 3's layout (layers/<snake_case class>[_N]/vars/<i>, as .keras and
 * .weights.h5 files hold it; groups follow the order of model.layers) ---- */
px_status px_k3_weights_write(px_h5_file *f, const px_model *m);
px_status px_k3_weights_read(px_h5_file *f, px_model *m);

/* ---- the trainable variables in the order of the parameter block ---- */
typedef struct px_tvar {
    const px_layer *layer;
    int index;
    int64_t offset, size;
} px_tvar;
/* Their count (and *out, malloc'd), or -1 when out of memory. */
int px_trainable_vars(const px_model *m, px_tvar **out);
/* Optimizer slot s of variable v written to / read from the dataset at path (the
 * variable's shape; PX_ERR_STATE when the slot does not cover the variable). */
px_status px_slot_write(px_h5_file *f, const char *path, px_model *m, int s, const px_tvar *v);
px_status px_slot_read(px_h5_file *f, const char *path, px_model *m, int s, const px_tvar *v);

/* ---- plexus_state (JSON; ignored by Keras): the generators and the optimizer's
 * exact iteration count, so resumed training continues bit for bit ---- */
struct px_json;
px_status px_plexus_state_build(const px_model *m, bool with_optimizer, int64_t slot_params, struct px_json **out);
/* Restores the generators; *iterations and *params get the optimizer's (-1: none). */
px_status px_plexus_state_apply(px_model *m, const struct px_json *ps, const char *file, int64_t *iterations,
                                int64_t *params);

/* Puts a whole .h5 model file Plexus saved back into m (built and compiled with
 * the same architecture and optimizer): weights, the optimizer's slots and
 * iterations, the generators -- what training needs to continue bit for bit. */
px_status px_model_restore_training(px_model *m, const char *path);

#endif
