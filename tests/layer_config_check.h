/* Layer-config test helpers: to_json / save round trips and one-layer
 * Sequential configs, shared by the tests of the layer kinds' config hooks. */
#ifndef PX_LAYER_CONFIG_CHECK_H
#define PX_LAYER_CONFIG_CHECK_H

#include "plexus/plexus.h"

/* to_json -> from_json -> the same text; save -> load -> the same predictions
 * (bit for bit) on a random input of x_shape (whole numbers in [0, int_max)
 * when int_max > 0, for Embedding inputs) and the same text. Frees m. */
void px_tc_round_trip(px_model *m, px_shape x_shape, int int_max, const char *what);

/* px_model_from_json of a NUL-terminated text. */
px_model *px_tc_from_json(const char *s);

/* A Sequential of an InputLayer of the given batch shape ("[null, 8, 3]") and
 * one layer of class cls with the config object's members `config`. */
px_model *px_tc_one_layer(const char *batch_shape, const char *cls, const char *config);

/* Checks that the one-layer model is refused with PX_ERR_UNSUPPORTED naming
 * the layer (which must be called 'odd') and `key`. */
void px_tc_refused(const char *batch_shape, const char *cls, const char *config, const char *key);

/* Keras 3's spellings of a float32 dtype policy and an initializer. */
#define K3_DTYPE "\"dtype\": {\"module\": \"keras\", \"class_name\": \"DTypePolicy\", \"config\": {\"name\": \"float32\"}, \"registered_name\": null}"
#define K3_INIT(c) "{\"module\": \"keras.initializers\", \"class_name\": \"" c "\", \"config\": {\"seed\": null}, \"registered_name\": null}"

#endif
