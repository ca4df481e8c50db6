/* User-defined layer classes in model files: the registry px_layer_register fills
 * (Keras's custom_objects) and the px_config_* accessors through which such layers
 * write and read their configs. */
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"
#include "nn/user_layers.h"

typedef struct entry {
    char *class_name;
    px_layer_from_config_fn from_config;
} entry;

static entry *registry;
static int n_registry;

static int find(const char *name) {
    for (int i = 0; name && i < n_registry; i++)
        if (strcmp(registry[i].class_name, name) == 0) return i;
    return -1;
}

px_status px_layer_register(const char *class_name, px_layer_from_config_fn from_config) {
    if (!class_name || !*class_name) return px_set_error(PX_ERR_ARG, "layer_register: empty class name");
    int i = find(class_name);
    if (!from_config) {
        if (i >= 0) {
            free(registry[i].class_name);
            registry[i] = registry[--n_registry];
        }
        if (n_registry == 0) {
            free(registry);
            registry = NULL;
        }
        return PX_OK;
    }
    if (i >= 0) {
        registry[i].from_config = from_config;
        return PX_OK;
    }
    entry *grown = realloc(registry, (size_t)(n_registry + 1) * sizeof *grown);
    char *copy = strdup(class_name);
    if (grown) registry = grown;
    if (!grown || !copy) {
        free(copy);
        return px_set_error(PX_ERR_NOMEM, "layer_register: out of memory");
    }
    registry[n_registry++] = (entry){copy, from_config};
    return PX_OK;
}

px_layer_from_config_fn px_user_layer_find(const char *class_name, const char *registered_name) {
    int i = find(registered_name);
    if (i < 0 && registered_name && strchr(registered_name, '>')) i = find(strchr(registered_name, '>') + 1);
    if (i < 0) i = find(class_name);
    return i >= 0 ? registry[i].from_config : NULL;
}

px_status px_layer_write_config(const px_layer *l, px_json *config) {
    if (l->kind) return l->kind->write_config ? l->kind->write_config(l, config) : PX_OK;
    if (!l->def->get_config)
        return px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (%s) is user-defined without get_config", px_layer_name(l),
                            l->def->class_name);
    px_status st = l->def->get_config(l, px_layer_config_of(config));
    if (st && !strstr(px_last_error(), px_layer_name(l))) px_error_prefix("layer '%s' (%s): get_config", px_layer_name(l), l->def->class_name);
    return st;
}

/* ---------------------------------------------------------------- config accessors */

static px_json *obj(px_layer_config *c) { return (px_json *)c; }
static const px_json *cobj(const px_layer_config *c) { return (const px_json *)c; }

px_status px_config_set_int(px_layer_config *c, const char *key, int64_t value) { return px_lc_set_int(obj(c), key, value); }
px_status px_config_set_float(px_layer_config *c, const char *key, double value) {
    return px_json_set(obj(c), key, px_json_new_number(value));
}
px_status px_config_set_bool(px_layer_config *c, const char *key, bool value) { return px_lc_set_bool(obj(c), key, value); }
px_status px_config_set_string(px_layer_config *c, const char *key, const char *value) {
    return px_lc_set_string(obj(c), key, value);
}
px_status px_config_set_ints(px_layer_config *c, const char *key, const int64_t *values, int n) {
    if (!values && n > 0) return px_set_error(PX_ERR_ARG, "px_config_set_ints: values is NULL for %d values", n);
    px_json *a = px_json_new_array();
    for (int i = 0; a && i < n; i++)
        if (px_json_push(a, px_json_new_int(values[i]))) {
            px_json_free(a);
            return px_last_status();
        }
    return px_json_set(obj(c), key, a);
}

bool px_config_has(const px_layer_config *c, const char *key) { return px_json_get(cobj(c), key) != NULL; }

px_status px_config_get_int(const px_layer_config *c, const char *key, int64_t def, int64_t *out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_config_get_int: out is NULL");
    *out = def;
    return px_lc_get_int(cobj(c), key, false, out);
}

px_status px_config_get_float(const px_layer_config *c, const char *key, double def, double *out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_config_get_float: out is NULL");
    *out = def;
    const px_json *v = px_json_get(cobj(c), key);
    if (!v || px_json_is_null(v)) return PX_OK;
    if (!px_json_is_number(v))
        return px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' should be a number, not %s", px_lc_name(cobj(c)), key,
                            px_json_type_name(px_json_typeof(v)));
    *out = px_json_number(v);
    return PX_OK;
}

px_status px_config_get_bool(const px_layer_config *c, const char *key, bool def, bool *out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_config_get_bool: out is NULL");
    *out = def;
    return px_lc_get_bool(cobj(c), key, false, out);
}

const char *px_config_get_string(const px_layer_config *c, const char *key, const char *def) {
    const px_json *v = px_json_get(cobj(c), key);
    if (!v) return def;
    if (!px_json_is_string(v)) {
        px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' should be a string, not %s", px_lc_name(cobj(c)), key,
                     px_json_type_name(px_json_typeof(v)));
        return NULL;
    }
    return px_json_string(v);
}

int px_config_get_ints(const px_layer_config *c, const char *key, int64_t *out, int max) {
    const px_json *v = px_json_get(cobj(c), key);
    if (!v) return 0;
    if (px_json_is_integer(v) && max > 0) {
        out[0] = px_json_int(v);
        return 1;
    }
    if (!px_json_is_array(v) || px_json_len(v) > (size_t)max) {
        px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s' should be a list of at most %d integers",
                     px_lc_name(cobj(c)), key, max);
        return -1;
    }
    for (size_t i = 0; i < px_json_len(v); i++) {
        if (!px_json_is_integer(px_json_at(v, i))) {
            px_set_error(PX_ERR_FORMAT, "layer '%s': config key '%s': entry %zu is not an integer", px_lc_name(cobj(c)), key, i);
            return -1;
        }
        out[i] = px_json_int(px_json_at(v, i));
    }
    return (int)px_json_len(v);
}
