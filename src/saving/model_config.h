/* Internal: model_config and training_config JSON for the model-file code
 * (src/io/model_config.c, model_train_config.c, model_file.c). */
#ifndef PX_IO_MODEL_CONFIG_H
#define PX_IO_MODEL_CONFIG_H

#include "formats/json.h"
#include "model/model_internal.h"

/* The Keras version written into files and configs. Plexus writes Keras 2
 * configs (string dtypes, batch_input_shape), and 2.15.0 is the last Keras 2
 * release: Keras 2 loads its own version's files, Keras 3's legacy loader
 * converts them, and a 2.x string keeps Keras from applying its Keras 1 weight
 * conversions (which it does when the version is missing or "1"). */
#define PX_KERAS_VERSION "2.15.0"

/* {"class_name": "Sequential"/"Functional", "config": {...}} of a model. */
px_status px_model_config_build(const px_model *m, px_json **out);
/* A new, uncompiled model from a parsed model config (K2 or K3 spelling). */
px_model *px_model_from_config(const px_json *root);

/* config.json of a .keras archive: the model as Keras 3 serializes it, with module,
 * class_name, config, registered_name and build_config on every object, DTypePolicy
 * dtypes, batch_shape InputLayers and {"args", "kwargs"} inbound nodes. */
px_status px_model_config_build_k3(const px_model *m, px_json **out);
/* Keras 3's compile_config from a Keras 2 training_config, and back (the keys the
 * two share, renamed; NULL with an error when out of memory or malformed). */
px_json *px_compile_config_from_training(const px_json *training_config);
px_json *px_training_config_from_compile(const px_json *compile_config);

/* training_config of a compiled model (loss, metrics, loss_weights, optimizer_config). */
px_status px_training_config_build(const px_model *m, px_json **out);
/* Compiles m as a training config says. What Plexus cannot compile (an optimizer,
 * loss or setting it lacks, a custom one) leaves the model uncompiled with a one-line
 * warning, as Keras's load_model(compile=False): it still predicts; metrics it lacks
 * are left out with a warning. Fails only when out of memory. */
px_status px_training_config_apply(px_model *m, const px_json *tc);

#endif
