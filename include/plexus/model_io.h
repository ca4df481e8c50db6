/* Model files: whole models as Keras writes them, in its legacy HDF5 layout (.h5)
 * or as Keras 3's .keras archives (a zip of config.json, metadata.json and
 * model.weights.h5), readable by h5py and Keras, and Keras's own files readable here
 * (for the layers Plexus has); weights-only files; model configs as Keras JSON.
 * Every save is atomic: a crash never destroys the old file. */
#ifndef PLEXUS_MODEL_IO_H
#define PLEXUS_MODEL_IO_H

#include "export.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Saves architecture, weights, compile settings and the optimizer's state, so that
 * training resumed from the file continues bit for bit. The format follows the name,
 * as Keras's model.save does: "*.keras" is a Keras 3 archive, anything else Keras's
 * legacy HDF5 layout. */
PX_API px_status px_model_save(const px_model *m, const char *path);
/* Loads a model saved by Plexus or by Keras 2 or 3 (.h5 or .keras, told apart by
 * content), for the layers Plexus has; it is compiled again when the file has a
 * training config. NULL with an error naming the file and the object on failure. */
PX_API px_model *px_model_load(const char *path);

/* Weights only. Saving: "*.weights.h5" in Keras 3's layout (layers/<class>/vars/<i>,
 * what Keras 3's save_weights writes), anything else in Keras 2's (layer_names at
 * the root). */
PX_API px_status px_model_save_weights(const px_model *m, const char *path);

typedef struct px_load_weights_options {
    /* Keras 2 layouts: match the file's layers to the model's by name (Keras's
     * by_name=True: file layers the model lacks are skipped, model layers the file
     * lacks keep their weights, with a warning). Default: by position among the
     * layers that have weights, as Keras's load_weights does. Keras 3's layout is
     * always matched by class and position, as Keras 3 does. */
    bool by_name;
} px_load_weights_options;
/* Loads weights into a built model from any weights file (either layout), a full
 * .h5 model file or a .keras archive. Every count and shape is checked before any
 * weight changes; a mismatch is an error naming the layer and both sides. opts may
 * be NULL (Keras's defaults). */
PX_API px_status px_model_load_weights_ex(px_model *m, const char *path, const px_load_weights_options *opts);
PX_API px_status px_model_load_weights(px_model *m, const char *path);

/* The model's architecture as Keras's model.to_json() writes it (caller frees). */
PX_API px_status px_model_to_json(const px_model *m, char **json);
/* A new, uncompiled model from Keras model-config JSON. */
PX_API px_model *px_model_from_json(const char *json, size_t len);
/* The compile settings model-config JSON carries for model m (built from it):
 * Keras 3's "compile_config" (written when the model was compiled), or a
 * "training_config" object beside the config. *out gets the losses, loss
 * weights, metrics (those Plexus has) and a new optimizer (NULL when none is
 * named; owned by the caller until given to px_model_compile). *found (may be
 * NULL) is false, with PX_OK, when the JSON holds neither. */
PX_API px_status px_compile_options_from_json(const px_model *m, const char *json, size_t len, px_compile_options *out,
                                              bool *found);

#ifdef __cplusplus
}
#endif
#endif
