/* Layers: the Keras building blocks (core, convolution and pooling, recurrent,
 * normalization, attention, merging, reshaping, noise, preprocessing and
 * activation layers; src/nn/registry.c lists them all by Keras class name),
 * their initializers and regularizers, and the interface for user-defined layers
 * written with graph ops. */
#ifndef PLEXUS_NN_H
#define PLEXUS_NN_H

#include "export.h"
#include "activations.h"
#include "graph.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- initializers (zero = the default of the place it is used) ---- */
typedef enum px_init_kind {
    PX_INIT_DEFAULT = 0,  /* glorot_uniform for kernels, zeros for biases */
    PX_INIT_ZEROS,
    PX_INIT_ONES,
    PX_INIT_CONSTANT,     /* value */
    PX_INIT_RANDOM_NORMAL,/* mean, stddev (default 0.05) */
    PX_INIT_RANDOM_UNIFORM,/* minval, maxval (default -0.05, 0.05) */
    PX_INIT_GLOROT_UNIFORM,
    PX_INIT_GLOROT_NORMAL,/* truncated normal, stddev sqrt(2 / (fan_in + fan_out)) */
    PX_INIT_HE_UNIFORM,
    PX_INIT_HE_NORMAL,
    PX_INIT_LECUN_UNIFORM,
    PX_INIT_LECUN_NORMAL,
    PX_INIT_ORTHOGONAL    /* gain (default 1) times an orthogonal matrix: the weight seen as
                             (product of all but the last axis, last axis) has orthonormal
                             columns (or rows, when it has fewer rows than columns) */
} px_init_kind;

typedef struct px_initializer {
    px_init_kind kind;
    float value, mean, stddev, minval, maxval;
    float gain;           /* Orthogonal; 0 means 1 */
} px_initializer;

/* Fills t from the initializer, with fans computed as Keras does: for a 2-D
 * kernel (in, out); for a convolution kernel (..., in, out) times the window. */
PX_API px_status px_initializer_fill(px_initializer init, px_tensor *t, px_rng *rng);
PX_API const char *px_init_name(px_init_kind k);  /* Keras class name, e.g. "GlorotUniform" */

/* ---- regularizers: the penalty joins the loss ---- */
typedef struct px_regularizer {
    float l1, l2; /* penalty l1 * sum|w| + l2 * sum w^2; both zero = none */
} px_regularizer;
#define PX_L1(x) ((px_regularizer){.l1 = (x)})
#define PX_L2(x) ((px_regularizer){.l2 = (x)})
#define PX_L1L2(a, b) ((px_regularizer){.l1 = (a), .l2 = (b)})

/* ---- layers ---- */
typedef struct px_layer px_layer;

/* Options common to the built-in layers; zero means Keras's default. */
typedef struct px_dense_options {
    px_activation activation;
    bool no_bias;                 /* use_bias = false */
    px_initializer kernel_initializer, bias_initializer;
    px_regularizer kernel_regularizer, bias_regularizer;
    const char *name;             /* NULL: "dense", "dense_1", ... */
    px_shape input_shape;         /* rank 0: none (set it on a model's first layer) */
} px_dense_options;

/* Each constructor returns a new layer owned by the caller until it is given to
 * a model (then the model owns it), or NULL with an error. */
PX_API px_layer *px_dense(int units, px_activation activation);
PX_API px_layer *px_dense_ex(int units, const px_dense_options *opts);
/* An input of the given shape (without the batch axis), for Sequential models. */
PX_API px_layer *px_input_layer(px_shape shape, const char *name);
PX_API px_layer *px_flatten(px_shape input_shape);      /* input_shape may be PX_SCALAR (none) */
PX_API px_layer *px_activation_layer(px_activation a);
PX_API px_layer *px_dropout_layer(float rate);
PX_API px_layer *px_reshape_layer(px_shape target);     /* target excludes the batch axis; one -1 allowed */
PX_API px_layer *px_concatenate(int axis);              /* Keras default axis -1 */
PX_API px_layer *px_add_layer(void);

PX_API void px_layer_free(px_layer *l);                 /* only for layers not given to a model */

PX_API const char *px_layer_name(const px_layer *l);
PX_API px_status px_layer_set_name(px_layer *l, const char *name);
PX_API const char *px_layer_class(const px_layer *l);   /* Keras class name: "Dense", ... */
PX_API void px_layer_set_trainable(px_layer *l, bool trainable);
PX_API bool px_layer_trainable(const px_layer *l);
/* The layer's weights (variables), in Keras's order (Dense: kernel, bias); valid once built. */
PX_API int px_layer_weight_count(const px_layer *l);
PX_API px_node *px_layer_weight(const px_layer *l, int i);
PX_API const char *px_layer_weight_name(const px_layer *l, int i); /* "kernel", "bias" */
PX_API int64_t px_layer_param_count(const px_layer *l);
/* Copies of the weights / replaces them (same shapes, same order). */
PX_API px_status px_layer_get_weights(const px_layer *l, px_tensor ***out, int *n);
PX_API px_status px_layer_set_weights(px_layer *l, px_tensor *const *w, int n);
/* A new, unbuilt layer with the same configuration; when `l` is built, its
 * weights are copied into the clone when it is built (transfer learning). */
PX_API px_layer *px_layer_clone(const px_layer *l);
/* The node the layer produced when last applied (NULL before). */
PX_API px_node *px_layer_output(const px_layer *l);

/* ---- user-defined layers: the C counterpart of subclassing keras.layers.Layer ---- */

/* A layer's config, Keras's get_config() dict (a JSON object), as user-defined layers
 * write and read it. Valid only inside the callback it is handed to. Getters return
 * `def` when the key is absent; a key of the wrong type is an error naming the layer
 * and the key (PX_ERR_FORMAT), as for Plexus's own layers. */
typedef struct px_layer_config px_layer_config;
PX_API px_status px_config_set_int(px_layer_config *c, const char *key, int64_t value);
PX_API px_status px_config_set_float(px_layer_config *c, const char *key, double value);
PX_API px_status px_config_set_bool(px_layer_config *c, const char *key, bool value);
PX_API px_status px_config_set_string(px_layer_config *c, const char *key, const char *value);
PX_API px_status px_config_set_ints(px_layer_config *c, const char *key, const int64_t *values, int n);
PX_API bool px_config_has(const px_layer_config *c, const char *key);
PX_API px_status px_config_get_int(const px_layer_config *c, const char *key, int64_t def, int64_t *out);
PX_API px_status px_config_get_float(const px_layer_config *c, const char *key, double def, double *out);
PX_API px_status px_config_get_bool(const px_layer_config *c, const char *key, bool def, bool *out);
/* The string (valid while the config is), or def; a non-string value is an error (NULL). */
PX_API const char *px_config_get_string(const px_layer_config *c, const char *key, const char *def);
/* A list of integers (or a single one) into out[max]: the count, or -1 on error. */
PX_API int px_config_get_ints(const px_layer_config *c, const char *key, int64_t *out, int max);

typedef struct px_layer_def {
    const char *class_name;
    /* Creates the weights with px_layer_add_weight; in[] are the input shapes
     * including the batch axis (PX_UNKNOWN). May be NULL (no weights). */
    px_status (*build)(px_layer *self, const px_shape *in, int n_in);
    /* Returns the output node computed from the inputs with graph ops. */
    px_node *(*call)(px_layer *self, px_node *const *in, int n_in);
    /* Frees the user state (may be NULL). */
    void (*destroy)(void *state);
    /* Copies the user state for px_layer_clone (may be NULL: state shared as is). */
    void *(*clone_state)(const void *state);
    /* Adds the layer's own keys to its config (Keras's get_config), so that models
     * holding it can be saved; name, trainable and dtype are written by Plexus. May be
     * NULL: then the layer is not saved in model files (weights-only files still work). */
    px_status (*get_config)(const px_layer *self, px_layer_config *config);
    /* In place of call (which must then be NULL): Keras's call(inputs, training), for a
     * call that branches on the flag. Plexus builds the graph once for both kinds of
     * run, so it is called twice, with training true and then false (the ops of the
     * second call run as in inference even in training runs: a Dropout there drops
     * nothing), and the two outputs are joined by px_in_train_phase. */
    px_node *(*call_training)(px_layer *self, px_node *const *in, int n_in, bool training);
} px_layer_def;

/* Keras's custom_objects: model files whose config names `class_name` (in class_name
 * or Keras 3's registered_name, "package>Name") get their layer from from_config,
 * which returns a new layer (px_layer_new) or NULL with an error. Registered classes
 * take precedence over Plexus's own, as in Keras. from_config NULL removes the
 * registration. The registry is process-wide: register before loading, from one thread. */
typedef px_layer *(*px_layer_from_config_fn)(const px_layer_config *config);
PX_API px_status px_layer_register(const char *class_name, px_layer_from_config_fn from_config);

/* A new layer of a user-defined kind; `state` is handed to the callbacks via
 * px_layer_state and freed with def->destroy. `def` must outlive the layer. */
PX_API px_layer *px_layer_new(const px_layer_def *def, void *state, const char *name);
PX_API void *px_layer_state(const px_layer *l);
/* Inside build: creates a weight variable of the given shape in the layer's graph. */
PX_API px_node *px_layer_add_weight(px_layer *l, const char *name, px_shape shape, px_initializer init,
                             px_regularizer reg, bool trainable);

/* Sublayers (Keras's layers set as attributes in __init__): `self` takes ownership of
 * `sub` (freed with it; also when this fails, unless sub is self, already tracked or
 * already applied in a model) and tracks it: once self is first
 * applied, the weights of every sublayer its call applied become self's own, after the
 * ones build created, named "<sublayer>/<weight>" (so parameter counts, trainable,
 * get/set_weights, regularization and model files see them), and a model's summary
 * lists the sublayers under self, not as layers of the model. Track in the layer's
 * constructor, before the layer is first applied (px_layer_clone copies the sublayers;
 * the layer's state should name them by index, not keep their pointers). A sublayer
 * without a name gets its class's, unique among self's ("dense", "dense_1"). Returns
 * the sublayer's index, or -1 with an error. */
PX_API int px_layer_track(px_layer *self, px_layer *sub);
PX_API int px_layer_sublayer_count(const px_layer *l);
PX_API px_layer *px_layer_sublayer(const px_layer *l, int i);   /* NULL when out of range */
/* Inside call / call_training: applies tracked sublayer i to inputs in self's graph
 * (building it on first use; a sublayer called more than once shares its weights). */
PX_API px_node *px_sublayer_apply(px_layer *self, int i, px_node *const *in, int n);

/* ---- convolution and pooling layers (channels-last input, as Keras) ---- */
/* Options of Conv2D / Conv1D; zero means Keras's default (strides 1,
 * padding "valid", dilation 1, no activation, bias on, glorot_uniform / zeros).
 * Conv1D reads index 0 of strides and dilation_rate, and also takes
 * PX_PADDING_CAUSAL (Keras's padding="causal"). */
typedef struct px_conv_options {
    int strides[2];
    px_padding padding;
    int dilation_rate[2];
    /* Conv2DTranspose / Conv1DTranspose only: Keras's output_padding, each in
     * [0, stride), read when has_output_padding (false: Keras's None) */
    int output_padding[2];
    bool has_output_padding;
    px_activation activation;
    bool no_bias;                 /* use_bias = false */
    px_initializer kernel_initializer, bias_initializer;
    px_regularizer kernel_regularizer, bias_regularizer;
    const char *name;             /* NULL: "conv2d", "conv2d_1", ... */
    px_shape input_shape;         /* without the batch axis; rank 0: none */
} px_conv_options;
/* Weights: kernel (kh, kw, in, filters) then bias (filters). opts may be NULL. */
PX_API px_layer *px_conv2d_layer(int filters, int kernel_h, int kernel_w, const px_conv_options *opts);
/* Weights: kernel (k, in, filters) then bias (filters). */
PX_API px_layer *px_conv1d_layer(int filters, int kernel_size, const px_conv_options *opts);
/* Transposed convolutions (padding valid or same; output sizes as Keras
 * computes them, see px_conv2d_transpose). Weights: kernel (kh, kw, filters,
 * in) then bias (filters); the 1-D layer kernel (k, filters, in). */
PX_API px_layer *px_conv2d_transpose_layer(int filters, int kernel_h, int kernel_w, const px_conv_options *opts);
PX_API px_layer *px_conv1d_transpose_layer(int filters, int kernel_size, const px_conv_options *opts);
/* Config accessors (Conv2D, Conv1D and their transposes); strides and dilations come normalised to >= 1. */
PX_API int px_conv_filters(const px_layer *l);
PX_API int px_conv_rank(const px_layer *l);                   /* 2 for Conv2D, 1 for Conv1D */
PX_API void px_conv_kernel_size(const px_layer *l, int out[2]); /* Conv1D: out[1] = 1 */
PX_API const px_conv_options *px_conv_get_options(const px_layer *l);

/* Options of DepthwiseConv2D/1D and SeparableConv2D/1D; zero means Keras's
 * default (strides 1, padding "valid", dilation 1, depth_multiplier 1, no
 * activation, bias on, glorot_uniform kernels, zeros bias). The 1-D layers read
 * index 0 and also take PX_PADDING_CAUSAL; DepthwiseConv ignores the pointwise fields. */
typedef struct px_separable_conv_options {
    int strides[2];
    px_padding padding;
    int dilation_rate[2];
    int depth_multiplier;
    px_activation activation;
    bool no_bias;                 /* use_bias = false */
    px_initializer depthwise_initializer, pointwise_initializer, bias_initializer;
    px_regularizer depthwise_regularizer, pointwise_regularizer, bias_regularizer;
    const char *name;
    px_shape input_shape;         /* without the batch axis; rank 0: none */
} px_separable_conv_options;
/* Weights: depthwise_kernel (kh, kw, in, M), bias (in * M); M = depth_multiplier. */
PX_API px_layer *px_depthwise_conv2d_layer(int kernel_h, int kernel_w, const px_separable_conv_options *opts);
/* Weights: depthwise_kernel (k, in, M), bias (in * M). */
PX_API px_layer *px_depthwise_conv1d_layer(int kernel_size, const px_separable_conv_options *opts);
/* The depthwise pass, then a pointwise (1x1) convolution to `filters`. Weights:
 * depthwise_kernel (kh, kw, in, M), pointwise_kernel (1, 1, in * M, filters), bias (filters). */
PX_API px_layer *px_separable_conv2d_layer(int filters, int kernel_h, int kernel_w,
                                           const px_separable_conv_options *opts);
/* Weights: depthwise_kernel (k, in, M), pointwise_kernel (1, in * M, filters), bias (filters). */
PX_API px_layer *px_separable_conv1d_layer(int filters, int kernel_size, const px_separable_conv_options *opts);

/* Options of MaxPooling2D/1D / AveragePooling2D/1D; strides 0 = the pool size
 * (the 1-D poolings read index 0). */
typedef struct px_pool_options {
    int strides[2];
    px_padding padding;           /* Keras default "valid" */
    const char *name;
    px_shape input_shape;
} px_pool_options;
PX_API px_layer *px_max_pooling2d(int pool_h, int pool_w, const px_pool_options *opts);
PX_API px_layer *px_average_pooling2d(int pool_h, int pool_w, const px_pool_options *opts);
/* On (batch, steps, channels). */
PX_API px_layer *px_max_pooling1d(int pool_size, const px_pool_options *opts);
PX_API px_layer *px_average_pooling1d(int pool_size, const px_pool_options *opts);
PX_API px_layer *px_global_average_pooling2d(void);
PX_API px_layer *px_global_max_pooling2d(void);
PX_API px_layer *px_global_average_pooling1d(void);
PX_API px_layer *px_global_max_pooling1d(void);
/* Config accessors (MaxPooling2D/1D, AveragePooling2D/1D); strides normalised;
 * the 1-D poolings give out[1] = 1. */
PX_API void px_pool_size(const px_layer *l, int out[2]);
PX_API const px_pool_options *px_pool_get_options(const px_layer *l);

/* ---- padding, cropping, up-sampling and spatial dropout (channels-last) ---- */
/* ZeroPadding1D/2D and Cropping1D/2D: zeros added, or elements removed, before
 * and after each spatial axis of (batch, steps, channels) / (batch, h, w, channels). */
PX_API px_layer *px_zero_padding1d(int left, int right);
PX_API px_layer *px_zero_padding2d(int top, int bottom, int left, int right);
PX_API px_layer *px_cropping1d(int left, int right);
PX_API px_layer *px_cropping2d(int top, int bottom, int left, int right);
/* UpSampling1D/2D: each step (row, column) repeated `size` times; UpSampling2D
 * may interpolate bilinearly instead (Keras's interpolation="bilinear"). */
typedef enum px_interpolation { PX_INTERP_NEAREST = 0, PX_INTERP_BILINEAR = 1 } px_interpolation;
PX_API px_layer *px_up_sampling1d(int size);
PX_API px_layer *px_up_sampling2d(int size_h, int size_w, px_interpolation interpolation);
/* SpatialDropout1D/2D: dropout of whole channels (one draw per example and channel). */
PX_API px_layer *px_spatial_dropout1d(float rate);
PX_API px_layer *px_spatial_dropout2d(float rate);

/* ==== image augmentation layers (src/nn/augment_layers.c) ====
 * Keras's preprocessing layers: random in training (each image its own draw),
 * the identity in inference (RandomCrop: a centred crop resized to its size);
 * saved with Keras's config keys. Options (fill mode, interpolation, fill
 * value, seed) as px_augment_options in plexus/ops.h; NULL: Keras's defaults. */
/* A Keras factor: one number, or a pair (lower, upper). */
typedef struct px_factor {
    float a, b;
    bool pair;
} px_factor;
#define PX_FACTOR(f) ((px_factor){(f), 0, false})
#define PX_FACTOR_PAIR(lower, upper) ((px_factor){(lower), (upper), true})
/* RandomFlip(mode): Keras's default mode is PX_FLIP_HORIZONTAL_AND_VERTICAL. */
PX_API px_layer *px_random_flip_layer(px_flip_mode mode, const px_augment_options *opts);
/* RandomRotation(factor): f turns by a random fraction of a full turn in [-f, f]. */
PX_API px_layer *px_random_rotation_layer(px_factor factor, const px_augment_options *opts);
/* RandomZoom(height_factor, width_factor): width NULL keeps the aspect ratio. */
PX_API px_layer *px_random_zoom_layer(px_factor height, const px_factor *width, const px_augment_options *opts);
PX_API px_layer *px_random_translation_layer(px_factor height, px_factor width, const px_augment_options *opts);
PX_API px_layer *px_random_crop_layer(int height, int width, const px_augment_options *opts);
/* RandomContrast(factor, value_range): f gives the range [1 - f, 1 + f], a pair
 * (a, b) [1 - a, 1 + b]. value_min = value_max = 0: Keras's [0, 255]. */
PX_API px_layer *px_random_contrast_layer(px_factor factor, float value_min, float value_max,
                                          const px_augment_options *opts);
/* RandomBrightness(factor, value_range): a shift of [-f, f] times the range. */
PX_API px_layer *px_random_brightness_layer(px_factor factor, float value_min, float value_max,
                                            const px_augment_options *opts);

/* ==== BatchNormalization, Embedding and recurrent layers (src/nn/norm_layers.c,
 * embedding_layer.c, rnn_layers.c) ==== */

/* BatchNormalization over one axis (Keras's `axis`: statistics per index of
 * that axis). Zero fields mean Keras's defaults: axis -1 (the last; negative
 * counts from the end, and the batch axis 0 cannot be chosen), momentum 0.99,
 * epsilon 1e-3, gamma ones, beta zeros, moving_mean zeros, moving_variance ones. Weights: gamma, beta (when present), moving_mean,
 * moving_variance (the last two non-trainable; training runs update them). */
typedef struct px_batch_norm_options {
    int axis;
    float momentum, epsilon;
    bool no_center, no_scale;     /* center = false: no beta; scale = false: no gamma */
    px_initializer gamma_initializer, beta_initializer, moving_mean_initializer, moving_variance_initializer;
    px_regularizer gamma_regularizer, beta_regularizer;
    const char *name;
    px_shape input_shape;
} px_batch_norm_options;
PX_API px_layer *px_batch_normalization(void);
PX_API px_layer *px_batch_normalization_ex(const px_batch_norm_options *opts);

/* Embedding: integer indices (any shape; float32 model inputs holding whole
 * numbers work) -> vectors of output_dim. Weight "embeddings" (input_dim,
 * output_dim), default uniform(-0.05, 0.05). Indices outside [0, input_dim)
 * give rows of NaN. */
typedef struct px_embedding_options {
    px_initializer embeddings_initializer;
    bool mask_zero;               /* id 0 is padding: the output carries Keras's timestep mask
                                   * (ids != 0), which the recurrent layers honour */
    px_regularizer embeddings_regularizer;
    const char *name;
    px_shape input_shape;         /* e.g. PX_SHAPE(input_length) */
} px_embedding_options;
PX_API px_layer *px_embedding(int input_dim, int output_dim);
PX_API px_layer *px_embedding_ex(int input_dim, int output_dim, const px_embedding_options *opts);

/* Recurrent layers on (batch, timesteps, features). Weights kernel, recurrent_kernel,
 * bias in Keras's layout and gate order; defaults glorot_uniform, orthogonal, zeros
 * (+1 on LSTM's forget block unless no_unit_forget_bias). With return_state the
 * final states are px_layer_extra_output(l, 0) (h) and, for LSTM, (l, 1) (c). */
typedef struct px_rnn_options {
    bool return_sequences, return_state, go_backwards;
    /* Cell activations; zero means Keras's defaults (tanh; sigmoid for the gates).
     * For PX_LINEAR itself set the linear_ flag. Any elementwise activation works;
     * tanh with sigmoid, no mask and no dropout run on the vectorised kernels. */
    px_activation activation, recurrent_activation;
    bool linear_activation, linear_recurrent_activation;
    /* Fractions of the inputs / of h_prev dropped in training, one mask per gate
     * per sequence (Keras's implementation 1). */
    float dropout, recurrent_dropout;
    bool zero_output_for_mask;    /* masked steps output zeros, not the previous output */
    bool no_bias;
    bool no_unit_forget_bias;     /* LSTM */
    bool no_reset_after;          /* GRU: reset_after = False (bias (3u,) instead of (2, 3u)) */
    px_initializer kernel_initializer, recurrent_initializer, bias_initializer;
    px_regularizer kernel_regularizer, recurrent_regularizer, bias_regularizer;
    const char *name;
    px_shape input_shape;         /* (timesteps, features); timesteps may be PX_UNKNOWN */
} px_rnn_options;
PX_API px_layer *px_simple_rnn(int units, const px_rnn_options *opts); /* opts may be NULL */
PX_API px_layer *px_lstm(int units, const px_rnn_options *opts);
PX_API px_layer *px_gru(int units, const px_rnn_options *opts);

/* Bidirectional: a forward and a backward copy of a recurrent layer (which this
 * takes over: it is freed here, also on failure), outputs merged. Weights: the
 * forward copy's, then the backward copy's. With return_state the extra outputs
 * are the forward states, then the backward states. */
typedef enum px_merge_mode { PX_MERGE_CONCAT = 0, PX_MERGE_SUM, PX_MERGE_MUL, PX_MERGE_AVE } px_merge_mode;
PX_API px_layer *px_bidirectional(px_layer *layer, px_merge_mode merge_mode);

/* Outputs beyond the main one from the layer's last application (return_state);
 * NULL when i is out of range. */
PX_API int px_layer_extra_output_count(const px_layer *l);
PX_API px_node *px_layer_extra_output(const px_layer *l, int i);

/* ==== activation layers with options (src/nn/activation_layers.c) ==== */

/* ReLU: zero means Keras's defaults (no max_value, negative_slope 0, threshold 0). */
typedef struct px_relu_options {
    float max_value;              /* 0: none (Keras's None) */
    float negative_slope, threshold;
} px_relu_options;
PX_API px_layer *px_relu_layer(const px_relu_options *opts); /* opts may be NULL */
PX_API px_layer *px_leaky_relu_layer(float alpha);  /* Keras's default alpha (negative_slope) is 0.3 */
PX_API px_layer *px_elu_layer(float alpha);         /* Keras's default alpha is 1 */
PX_API px_layer *px_softmax_layer(int axis);        /* Keras's default axis is -1 */
/* PReLU: relu(x) - alpha * relu(-x) with a learned weight "alpha" of the input's
 * shape without the batch axis, 1 along each shared axis (axes count the batch
 * as 0, as in Keras). Default alpha initializer: zeros. */
typedef struct px_prelu_options {
    px_initializer alpha_initializer;
    px_regularizer alpha_regularizer;
    int shared_axes[PX_MAX_RANK];
    int n_shared_axes;
    const char *name;
} px_prelu_options;
PX_API px_layer *px_prelu_layer(const px_prelu_options *opts); /* opts may be NULL */

/* ==== merge layers beyond Concatenate and Add (src/nn/merge_layers_more.c) ==== */
/* Elementwise over two or more inputs of one shape (Subtract: exactly two). */
PX_API px_layer *px_multiply_layer(void);
PX_API px_layer *px_subtract_layer(void);
PX_API px_layer *px_average_layer(void);
PX_API px_layer *px_maximum_layer(void);
PX_API px_layer *px_minimum_layer(void);
/* Dot: two inputs of rank 2, (B, d) . (B, d) -> (B, 1), or of rank 3,
 * (B, n, d) . (B, m, d) -> (B, n, m), contracting axis_a of the first with
 * axis_b of the second (counting the batch as 0; negative from the end), after
 * L2-normalising both along those axes when `normalize` (cosine similarity). */
PX_API px_layer *px_dot_layer(int axis_a, int axis_b, bool normalize);

/* ==== axis, noise and preprocessing layers (src/nn/axis_layers.c,
 * noise_layers.c, preprocessing_layers.c) ==== */
PX_API px_layer *px_repeat_vector_layer(int n);              /* (B, F) -> (B, n, F) */
/* New axis i + 1 is old axis dims[i]; dims is a permutation of 1..k (batch = 0). */
PX_API px_layer *px_permute_layer(const int *dims, int k);
PX_API px_layer *px_gaussian_noise_layer(float stddev);      /* training only: x + N(0, stddev^2) */
PX_API px_layer *px_gaussian_dropout_layer(float rate);      /* training only: x * N(1, rate / (1 - rate)) */
PX_API px_layer *px_rescaling_layer(float scale, float offset); /* x * scale + offset */
/* Normalization: (x - mean) / max(sqrt(variance), 1e-7) along one kept axis
 * (Keras's default -1) or, with all_axes, one mean and variance for everything.
 * Weights (non-trainable, Keras's names): mean, variance (shape (k,) or ()),
 * count (). invert computes x * sd + mean instead. */
typedef struct px_normalization_options {
    int axis;                     /* 0: -1 (the last axis) */
    bool all_axes;                /* Keras's axis=None */
    bool invert;
} px_normalization_options;
PX_API px_layer *px_normalization_layer(const px_normalization_options *opts); /* opts may be NULL */
/* Keras's adapt(): sets mean, (biased) variance and count from data shaped like
 * the model's input with a leading batch axis; before the layer is built they
 * are kept and used when it is. */
PX_API px_status px_normalization_adapt(px_layer *l, const px_tensor *data);

/* ==== LayerNormalization (src/nn/layer_normalization.c) ==== */
/* Zero means Keras's defaults: axis -1, epsilon 1e-3, center and scale on, gamma
 * ones, beta zeros. The axes must be the input's last ones, in order. Weights:
 * gamma then beta (each when present), of the normalised axes' shape. */
typedef struct px_layer_norm_options {
    int axes[PX_MAX_RANK];        /* counting the batch as 0; negative from the end */
    int n_axes;                   /* 0: the last axis */
    float epsilon;
    bool no_center, no_scale;     /* center = false: no beta; scale = false: no gamma */
    px_initializer gamma_initializer, beta_initializer;
    px_regularizer gamma_regularizer, beta_regularizer;
    const char *name;
} px_layer_norm_options;
PX_API px_layer *px_layer_normalization(const px_layer_norm_options *opts); /* opts may be NULL */

/* ==== attention layers (src/nn/attention_layers.c) ==== */
/* Attention (Luong): inputs [query (B, Tq, d), value (B, Tv, d)(, key)], scores
 * query . key (dot) or concat_score_weight * sum(tanh(scale (q + k))) (concat),
 * times the learned scalar "scale" with use_scale; softmax over the keys
 * (masked by the value's timestep mask and, with causal, key > query); the
 * weighted sum of the values. Weights: scale, concat_score_weight (when used). */
typedef struct px_attention_options {
    bool causal;                  /* Keras's use_causal_mask call argument (first: see attention_layers.c) */
    bool use_scale, score_concat;
    float dropout;                /* on the attention weights, training only */
} px_attention_options;
PX_API px_layer *px_attention_layer(const px_attention_options *opts); /* opts may be NULL */
/* MultiHeadAttention(num_heads, key_dim) on query[, value[, key]] (value defaults
 * to query, key to value), Keras's layout: weights query/kernel (dq, heads,
 * key_dim), query/bias (heads, key_dim), key/..., value/kernel (dv, heads,
 * value_dim), value/bias, attention_output/kernel (heads, value_dim, out),
 * attention_output/bias (out), out = output_dim or dq. Masks: the inputs'
 * timestep masks (query & value) and causal. Zero fields are Keras's defaults. */
typedef struct px_mha_options {
    bool causal;                  /* Keras's use_causal_mask call argument (first: see attention_layers.c) */
    int value_dim;                /* 0: key_dim */
    int output_dim;               /* 0: the query's features */
    float dropout;                /* on the attention weights, training only */
    bool no_bias;
    px_initializer kernel_initializer, bias_initializer;
    px_regularizer kernel_regularizer, bias_regularizer;
    const char *name;
} px_mha_options;
PX_API px_layer *px_multi_head_attention(int num_heads, int key_dim, const px_mha_options *opts); /* opts may be NULL */

/* ==== TimeDistributed (src/nn/time_distributed.c) ==== */
/* Applies `layer` (which this takes over: freed here, also on failure) to every
 * timestep of a (batch, timesteps, ...) input with known timesteps. Its weights
 * are the wrapper's, in the wrapped layer's order and names
 * ("time_distributed/kernel"), as Keras writes them. */
PX_API px_layer *px_time_distributed(px_layer *layer);

#ifdef __cplusplus
}
#endif
#endif
