/* Internal: the registry of user-defined layer classes (Keras's custom_objects) and the
 * px_layer_config view of a JSON config object. */
#ifndef PX_NN_USER_LAYERS_H
#define PX_NN_USER_LAYERS_H

#include "formats/json.h"
#include "plexus/nn.h"

/* A px_layer_config is a JSON object seen through the public API. */
static inline px_layer_config *px_layer_config_of(px_json *object) { return (px_layer_config *)object; }
static inline const px_layer_config *px_layer_config_of_const(const px_json *object) {
    return (const px_layer_config *)object;
}

/* The from_config registered for a config's class: its Keras 3 registered_name
 * ("package>Name" or the bare name after '>'), else its class_name; NULL if none. */
px_layer_from_config_fn px_user_layer_find(const char *class_name, const char *registered_name);

/* Adds a layer's own keys to its config: a built-in kind's write_config, or a
 * user-defined layer's get_config (an error when it has none). */
px_status px_layer_write_config(const px_layer *l, px_json *config);

#endif
