/* Model files: whole models and weights in Keras's HDF5 layout (readable by
 * h5py and Keras, and Keras's own .h5 files readable here), and model configs
 * as Keras JSON. Every save is atomic: a crash never destroys the old file. */
#ifndef PLEXUS_MODEL_IO_H
#define PLEXUS_MODEL_IO_H

#include "export.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Saves architecture (model_config), weights, compile settings (training_config)
 * and the optimizer's state, so that training resumed from the file continues
 * bit for bit. */
PX_API px_status px_model_save(const px_model *m, const char *path);
/* Loads a model saved by Plexus or by Keras (for the layers Plexus has); it is
 * compiled again when the file holds a training config. NULL with an error
 * naming the file and the object on failure. */
PX_API px_model *px_model_load(const char *path);

/* Weights only (Keras's save_weights layout: layer_names at the root). */
PX_API px_status px_model_save_weights(const px_model *m, const char *path);
/* Loads weights by layer name into a built model; shapes must match. */
PX_API px_status px_model_load_weights(px_model *m, const char *path);

/* The model's architecture as Keras's model.to_json() writes it (caller frees). */
PX_API px_status px_model_to_json(const px_model *m, char **json);
/* A new, uncompiled model from Keras model-config JSON. */
PX_API px_model *px_model_from_json(const char *json, size_t len);

#ifdef __cplusplus
}
#endif
#endif
