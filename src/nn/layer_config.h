/* Internal: helpers the layer kinds' write_config/from_config hooks share, so
 * every kind reads K2 and K3 spellings alike and names the layer and key in errors. */
#ifndef PX_NN_LAYER_CONFIG_H
#define PX_NN_LAYER_CONFIG_H

#include "formats/json.h"
#include "nn/layer_internal.h"

/* A float as the shortest decimal that reads back as the same float, so 0.01f
 * is written "0.01" as Keras (Python) writes it, not 0.009999999776482582. */
double px_lc_float(float v);

/* The layer name in a config (for messages); "?" when absent. */
const char *px_lc_name(const px_json *config);

/* ---- writing: each sets config[key] ---- */
px_status px_lc_set_int(px_json *config, const char *key, int64_t v);
px_status px_lc_set_float(px_json *config, const char *key, float v);
px_status px_lc_set_bool(px_json *config, const char *key, bool v);
px_status px_lc_set_string(px_json *config, const char *key, const char *v);
px_status px_lc_set_null(px_json *config, const char *key);
/* Keras's {"class_name": cls, "config": config}, owning config (freed on failure,
 * as px_json_set does); NULL after an error. A NULL config (a failed builder) fails. */
px_json *px_lc_class_object(const char *cls, px_json *config);
/* A list of ints; with `batch`, a leading null for the batch axis. PX_UNKNOWN is null. */
px_status px_lc_set_shape(px_json *config, const char *key, px_shape s, bool batch);
/* A list of ints, negative ones kept (axes). */
px_status px_lc_set_ints(px_json *config, const char *key, const int *v, int n);
/* {"class_name": "GlorotUniform", "config": {"seed": null}}; `fallback` replaces PX_INIT_DEFAULT. */
px_status px_lc_set_initializer(px_json *config, const char *key, px_initializer init, px_init_kind fallback);
/* null, or {"class_name": "L1L2", "config": {"l1": ..., "l2": ...}} */
px_status px_lc_set_regularizer(px_json *config, const char *key, px_regularizer r);
px_status px_lc_set_activation(px_json *config, const char *key, px_activation a);

/* The weight keys of a layer with a kernel and a bias (Dense, Conv*, MultiHeadAttention),
 * in Keras's order: kernel_ and bias_initializer (GlorotUniform and Zeros for the
 * defaults), kernel_ and bias_regularizer, then activity_regularizer,
 * kernel_constraint and bias_constraint, which Plexus does not have. Writing sets all
 * seven; reading fills the four it has and refuses the other three unless null. */
px_status px_lc_set_kernel_bias(px_json *config, px_initializer kernel_init, px_initializer bias_init,
                                px_regularizer kernel_reg, px_regularizer bias_reg);
px_status px_lc_get_kernel_bias(const px_json *config, px_initializer *kernel_init, px_initializer *bias_init,
                                px_regularizer *kernel_reg, px_regularizer *bias_reg);

/* The Keras major version (2 or 3) of the config being read, which decides what
 * "hard_sigmoid" means; set by the model loaders from the file's keras_version
 * (px_lc_set_keras_major returns the previous value to restore). Default 3. */
int px_lc_keras_major(void);
int px_lc_set_keras_major(int major);
/* 2 for "2.x" (and "1.x"), else 3. */
int px_lc_keras_major_of(const char *version);

/* ---- reading: a missing optional key leaves *out at the default given by the
 * caller; a wrong type, or a missing required key, is PX_ERR_FORMAT naming the
 * key and the layer; an unknown name is PX_ERR_UNSUPPORTED ---- */
px_status px_lc_get_int(const px_json *config, const char *key, bool required, int64_t *out);
px_status px_lc_get_float(const px_json *config, const char *key, bool required, float *out);
px_status px_lc_get_bool(const px_json *config, const char *key, bool required, bool *out);
/* An int, or a one-element list of ints (K2 sometimes writes axis as [-1]). */
px_status px_lc_get_axis(const px_json *config, const char *key, bool required, int *out);
/* A list of ints and nulls (null -> PX_UNKNOWN); with `batch`, the first entry is dropped. */
px_status px_lc_get_shape(const px_json *config, const char *key, bool required, bool batch, px_shape *out);
px_status px_lc_get_initializer(const px_json *config, const char *key, px_initializer *out);
px_status px_lc_get_regularizer(const px_json *config, const char *key, px_regularizer *out);
px_status px_lc_get_activation(const px_json *config, const char *key, px_activation *out);
/* Checks that a key, when present, is null (options Plexus does not have):
 * PX_ERR_UNSUPPORTED otherwise; but what only changes training (a *_constraint,
 * activity_regularizer, noise_shape) is left out with a warning (px_warn). */
px_status px_lc_expect_null(const px_json *config, const char *key);

/* The dtype of a layer config ("float32", a K3 policy object, or absent): the
 * floating ones (float16, bfloat16, float64, mixed_float16, mixed_bfloat16) are
 * accepted and computed in float32, anything else is PX_ERR_UNSUPPORTED. */
px_status px_lc_check_dtype(const px_json *config);
/* The dtype's name ("float32" when absent; NULL when malformed), and whether it is one
 * of the floating dtypes above. */
const char *px_lc_dtype_name(const px_json *config);
bool px_lc_dtype_is_float(const char *name);

#endif
