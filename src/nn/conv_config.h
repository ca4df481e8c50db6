/* Internal: Keras config values shared by the convolution-family layers
 * (convolutions, poolings, padding, cropping, up-sampling): per-axis integer
 * lists, padding modes, data_format, and (before, after) amounts per axis. */
#ifndef PX_NN_CONV_CONFIG_H
#define PX_NN_CONV_CONFIG_H

#include "nn/layer_config.h"

/* config[key] = a list of `rank` ints (Keras 2 writes tuples as lists). */
px_status px_cc_set_ints(px_json *config, const char *key, const int *v, int rank);

/* kernel_size / strides / dilation_rate / pool_size / size: an int (applied to
 * every axis) or a list of `rank` ints, each at least `min`; absent or null
 * leaves out[] as it is. */
px_status px_cc_get_ints(const px_json *config, const char *key, int rank, int min, int *out);

/* "valid", "same" and, with allow_causal, "causal" (any case, as Keras 3 lowers it). */
px_status px_cc_get_padding(const px_json *config, const char *cls, bool allow_causal, px_padding *out);
const char *px_cc_padding_name(px_padding p);

/* Plexus computes channels-last only; a null or absent data_format is Keras's
 * default (channels_last unless the user's keras.json says otherwise). */
px_status px_cc_check_channels_last(const px_json *config, const char *cls);

/* ZeroPadding / Cropping amounts: out[2 * i] before and out[2 * i + 1] after
 * axis i of `rank` spatial axes, from an int (every side), a list of `rank`
 * ints (symmetric per axis) or, for rank 2, a list of two [before, after]
 * lists; for rank 1 a list of two ints is [before, after]. Absent: out[] kept. */
px_status px_cc_get_amounts(const px_json *config, const char *key, int rank, int *out);
/* Writes them as Keras 2 does: [a, b] for rank 1, [[a, b], [c, d]] for rank 2. */
px_status px_cc_set_amounts(px_json *config, const char *key, const int *v, int rank);

/* A convolution's arguments over `rank` axes: kernel sizes positive, strides
 * and dilations 0 (Keras's default) made 1 in place, strides > 1 not combined
 * with dilations > 1 (Keras refuses it too), the padding (causal only with
 * allow_causal) and the activation. Errors are PX_ERR_ARG naming cls. */
px_status px_cc_check_conv_args(const char *cls, int rank, const int *kernel, int *strides, int *dilation,
                                px_padding padding, bool allow_causal, px_activation activation);

/* The config checks every convolution's from_config makes: kernel_size
 * present, filters positive (when the kind has filters) and groups 1. */
px_status px_cc_check_conv_config(const px_json *config, const char *cls, bool has_filters, int64_t filters,
                                  int64_t groups);

/* A convolution's window keys in Keras 2's order: kernel_size, strides, padding,
 * data_format (channels_last), dilation_rate, groups (1), activation and use_bias. */
px_status px_cc_set_conv_keys(px_json *config, const int *kernel, const int *strides, px_padding padding,
                              const int *dilation, int rank, px_activation activation, bool use_bias);

/* What a convolution layer's build checks of its inputs: one input of rank
 * `rank` + 2 (batch, the spatial axes, channels) whose channels are known. */
px_status px_cc_check_conv_input(const px_layer *l, const px_shape *in, int n, int rank);

/* Re-raises the last error (a constructor's) as PX_ERR_FORMAT naming the
 * layer of `config`: what from_config hooks return when the values a file
 * holds are refused. Always NULL. */
px_layer *px_cc_config_error(const px_json *config);

#endif
