/* Internal: Keras 3's .keras archives (a zip of metadata.json, config.json and
 * model.weights.h5), written and read by px_model_save / px_model_load. */
#ifndef PX_SAVING_KERAS_ARCHIVE_H
#define PX_SAVING_KERAS_ARCHIVE_H

#include "model/model_internal.h"

/* The Keras version written into metadata.json: the layout followed (config.json
 * in Keras 3's serialization, the optimizer's iteration and learning rate first). */
#define PX_KERAS3_VERSION "3.8.0"

px_status px_keras_archive_save(px_model *m, const char *path);
px_model *px_keras_archive_load(const char *path);
/* The archive's weights into a built model (Keras 3's load_weights on a .keras file). */
px_status px_keras_archive_load_weights(px_model *m, const char *path);

#endif
