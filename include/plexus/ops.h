/* Op constructors. Each adds a node to the graph of its inputs and returns it
 * (computed at once in an eager graph), or returns NULL with an error naming
 * the op, the shapes and what was expected. A NULL input yields NULL and keeps
 * the first error, so expressions can be chained and checked once at the end.
 * Every op has its backward pass beside its forward pass in src/ops/. */
#ifndef PLEXUS_OPS_H
#define PLEXUS_OPS_H

#include "export.h"
#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- broadcasting arithmetic (NumPy rules) ---- */
PX_API px_node *px_add(px_node *a, px_node *b);
PX_API px_node *px_sub(px_node *a, px_node *b);
PX_API px_node *px_mul(px_node *a, px_node *b);
PX_API px_node *px_div(px_node *a, px_node *b);
/* x + c and x * c for a float c (no constant node needed). */
PX_API px_node *px_add_scalar(px_node *x, float c);
PX_API px_node *px_scale(px_node *x, float c);

/* ---- matrix product: op(a) @ op(b) on the last two axes; leading axes batch ---- */
PX_API px_node *px_matmul(px_node *a, px_node *b);
PX_API px_node *px_matmul_t(px_node *a, px_node *b, bool transpose_a, bool transpose_b);

/* ---- reductions. axis may be negative (from the end); keepdims keeps it as 1 ---- */
PX_API px_node *px_sum(px_node *x, int axis, bool keepdims);
PX_API px_node *px_mean(px_node *x, int axis, bool keepdims);
PX_API px_node *px_max(px_node *x, int axis, bool keepdims);
PX_API px_node *px_argmax(px_node *x, int axis); /* int32 result, no gradient */
PX_API px_node *px_sum_all(px_node *x);          /* scalar */
PX_API px_node *px_mean_all(px_node *x);         /* scalar */
PX_API px_node *px_max_all(px_node *x);          /* scalar */

/* ---- elementwise math ---- */
PX_API px_node *px_exp(px_node *x);
PX_API px_node *px_log(px_node *x);
PX_API px_node *px_sqrt(px_node *x);
PX_API px_node *px_square(px_node *x);
PX_API px_node *px_pow(px_node *x, float exponent);
PX_API px_node *px_abs(px_node *x);
PX_API px_node *px_neg(px_node *x);
/* Values limited to [lo, hi]; the gradient passes only strictly inside. */
PX_API px_node *px_clip(px_node *x, float lo, float hi);

/* ---- shape ---- */
/* One dimension may be -1 (inferred from the others). */
PX_API px_node *px_reshape(px_node *x, px_shape shape);
/* perm NULL reverses the axes; otherwise new axis i is old axis perm[i]. */
PX_API px_node *px_transpose(px_node *x, const int *perm);
PX_API px_node *px_concat(px_node *const *xs, int n, int axis);
/* Elements [start, stop) along `axis`. */
PX_API px_node *px_slice(px_node *x, int axis, int64_t start, int64_t stop);

/* ---- activations ---- */
PX_API px_node *px_sigmoid(px_node *x);
PX_API px_node *px_tanh(px_node *x);
PX_API px_node *px_relu(px_node *x);
PX_API px_node *px_leaky_relu(px_node *x, float alpha); /* Keras default alpha 0.3 (LeakyReLU layer) */
PX_API px_node *px_elu(px_node *x, float alpha);        /* Keras default alpha 1.0 */
PX_API px_node *px_selu(px_node *x);
PX_API px_node *px_swish(px_node *x);                   /* x * sigmoid(x) */
PX_API px_node *px_softplus(px_node *x);
PX_API px_node *px_gelu(px_node *x);                    /* exact: x * Phi(x) */
PX_API px_node *px_softmax(px_node *x, int axis);
PX_API px_node *px_log_softmax(px_node *x, int axis);
PX_API px_node *px_linear(px_node *x);                  /* identity */
PX_API px_node *px_step(px_node *x);                    /* Heaviside: 1 if x >= 0 else 0; zero gradient */
PX_API px_node *px_sign(px_node *x);                    /* -1, 0, 1; zero gradient */
/* Maxout: the last axis is split into `units` groups of `pieces`; the maximum of each group. */
PX_API px_node *px_maxout(px_node *x, int pieces);

/* ---- fused, numerically stable losses (per-example values, shape = batch) ---- */
/* -sum(labels * log_softmax(logits)) over the last axis. */
PX_API px_node *px_softmax_cross_entropy(px_node *logits, px_node *labels);
/* -log_softmax(logits)[label] with int32 labels of shape (batch). */
PX_API px_node *px_sparse_softmax_cross_entropy(px_node *logits, px_node *labels);
/* Elementwise max(z,0) - z*y + log(1 + exp(-|z|)). */
PX_API px_node *px_sigmoid_cross_entropy(px_node *logits, px_node *labels);

/* ---- metrics: per-example 1 (hit) or 0 (miss), no gradient ---- */
/* argmax(pred) == label, int32 labels of shape (batch) or (batch, 1). */
PX_API px_node *px_sparse_accuracy(px_node *pred, px_node *labels);
/* argmax(pred) == argmax(one_hot) over the last axis. */
PX_API px_node *px_categorical_accuracy(px_node *pred, px_node *one_hot);
/* (pred > threshold) == (label > 0.5), elementwise. */
PX_API px_node *px_binary_accuracy(px_node *pred, px_node *labels, float threshold);
/* The label's score is among the k largest of its row; labels int32 (batch) or (batch, 1). */
PX_API px_node *px_in_top_k(px_node *pred, px_node *labels, int k);

/* ---- metric statistics: counts over a batch that add up over batches, no gradient ---- */
/* (4, T): true positives, false positives, true negatives and false negatives at each
 * of the T thresholds (ascending, copied), an element counting as predicted positive
 * when pred > threshold and as positive when its label is not 0 (Keras's
 * confusion-matrix variables). labels: float or int32 with pred's element count. */
PX_API px_node *px_threshold_counts(px_node *pred, px_node *labels, const float *thresholds, int n_thresholds);
/* (3, C): per class of the last axis, true positives, false positives and false
 * negatives of Keras's F1Score: the prediction is pred > threshold, or (threshold <= 0)
 * the entries equal to their row's largest; labels are float (pred's shape, used as
 * weights) or int32 class indices (batch) / (batch, 1). */
PX_API px_node *px_class_counts(px_node *pred, px_node *labels, float threshold);
/* (C, C): counts of (true class, predicted class) pairs. Predicted: argmax of the last
 * axis, or pred > 0.5 for one unit. True: int32 indices (batch) / (batch, 1), argmax of
 * one-hot rows, or label > 0.5 for one column. Classes outside [0, C) are not counted. */
PX_API px_node *px_confusion_matrix(px_node *pred, px_node *labels, int num_classes);

/* ---- training-time ops ---- */
/* Keras's backend.in_train_phase: x in a training run, alt in inference (same shape,
 * float32); the gradient goes to the branch passed on. Both branches are computed.
 * x == alt returns x. This joins the two branches of a layer's call_training. */
PX_API px_node *px_in_train_phase(px_node *x, px_node *alt);
/* Inverted dropout: in training keeps each value with probability 1 - rate and
 * scales kept values by 1 / (1 - rate); identity in inference. */
PX_API px_node *px_dropout(px_node *x, float rate);

/* Spatial dropout: as px_dropout, but one draw per example and channel (the
 * last axis) shared by every position between them, x (N, ..., C): Keras's
 * SpatialDropout1D/2D. Identity in inference. */
PX_API px_node *px_spatial_dropout(px_node *x, float rate);

/* Stops gradients: identity forward, zero gradient. */
PX_API px_node *px_stop_gradient(px_node *x);

/* ---- convolution and pooling (channels-last, as Keras) ---- */
/* "valid": no padding; "same": output = ceil(input / stride), zeros added
 * evenly with the odd one after (bottom / right), as TF and Keras do;
 * "causal" (convolutions only, Keras's Conv1D): dilation * (k - 1) zeros
 * before and none after, so output t sees inputs up to t only. */
typedef enum px_padding { PX_PADDING_VALID = 0, PX_PADDING_SAME = 1, PX_PADDING_CAUSAL = 2 } px_padding;
/* x (N, H, W, C) with kernel (kh, kw, C, F) -> (N, OH, OW, F). Strides and
 * dilations are at least 1. The _bias form adds bias (F) in the same pass. */
PX_API px_node *px_conv2d(px_node *x, px_node *kernel, int stride_h, int stride_w, px_padding padding,
                   int dilation_h, int dilation_w);
PX_API px_node *px_conv2d_bias(px_node *x, px_node *kernel, px_node *bias, int stride_h, int stride_w,
                        px_padding padding, int dilation_h, int dilation_w);
/* x (N, L, C) with kernel (k, C, F) -> (N, OL, F); bias (F) may be NULL. */
PX_API px_node *px_conv1d(px_node *x, px_node *kernel, int stride, px_padding padding, int dilation);
PX_API px_node *px_conv1d_bias(px_node *x, px_node *kernel, px_node *bias, int stride, px_padding padding,
                        int dilation);
/* Depthwise convolution: x (N, H, W, C) with kernel (kh, kw, C, M) -> (N, OH,
 * OW, C * M), output channel c * M + m from input channel c alone (Keras's
 * DepthwiseConv2D); bias (C * M) may be NULL. The 1-D form takes x (N, L, C)
 * and kernel (k, C, M). */
PX_API px_node *px_depthwise_conv2d(px_node *x, px_node *kernel, px_node *bias, int stride_h, int stride_w,
                                    px_padding padding, int dilation_h, int dilation_w);
PX_API px_node *px_depthwise_conv1d(px_node *x, px_node *kernel, px_node *bias, int stride, px_padding padding,
                                    int dilation);
/* Transposed convolution, as TF's conv2d_transpose under Keras's
 * Conv2DTranspose: x (N, H, W, C) with kernel (kh, kw, F, C) -> (N, OH, OW, F),
 * the input-gradient of the convolution from (OH, OW, F) back to x. Output
 * size as Keras computes it: "valid" H*s + max(k' - s, 0), "same" H*s, where
 * k' = d*(k-1)+1; with an output padding p >= 0 (Keras's output_padding; < 0
 * means None) (H-1)*s + k' - 2*(k'/2 for "same") + p, p < s. bias (F) may be NULL.
 * H and W must be known. The 1-D form: x (N, L, C), kernel (k, F, C). */
PX_API px_node *px_conv2d_transpose(px_node *x, px_node *kernel, px_node *bias, int stride_h, int stride_w,
                                    px_padding padding, int output_padding_h, int output_padding_w, int dilation_h,
                                    int dilation_w);
PX_API px_node *px_conv1d_transpose(px_node *x, px_node *kernel, px_node *bias, int stride, px_padding padding,
                                    int output_padding, int dilation);
/* x (N, H, W, C); a stride of 0 means the pool size (Keras's default). Average
 * pooling divides by the number of window elements inside the image. */
PX_API px_node *px_max_pool2d(px_node *x, int pool_h, int pool_w, int stride_h, int stride_w, px_padding padding);
PX_API px_node *px_avg_pool2d(px_node *x, int pool_h, int pool_w, int stride_h, int stride_w, px_padding padding);
/* The same over x (N, L, C). */
PX_API px_node *px_max_pool1d(px_node *x, int pool, int stride, px_padding padding);
PX_API px_node *px_avg_pool1d(px_node *x, int pool, int stride, px_padding padding);
/* Zero-padding and cropping: before[i] and after[i] elements added (zeros) or,
 * when negative, removed at the start and end of axis i (one entry per axis
 * of x; at least one element must remain). Keras's ZeroPadding and Cropping. */
PX_API px_node *px_pad(px_node *x, const int64_t *before, const int64_t *after);
/* Each element repeated `times` times along `axis` (NumPy's repeat):
 * nearest-neighbour up-sampling, Keras's UpSampling1D/2D. */
PX_API px_node *px_repeat(px_node *x, int axis, int times);
/* x (N, H, W, C) resized to (N, out_h, out_w, C) bilinearly with half-pixel
 * centres (TF2's tf.image.resize, PyTorch's align_corners=False), no antialiasing. */
PX_API px_node *px_resize_bilinear(px_node *x, int out_h, int out_w);
/* ---- image augmentation (src/ops/augment.c): random in training, the
 * identity in inference (RandomCrop: a centred crop resized), on float32
 * (N, H, W, C) images; each image draws its own numbers from the run's key and
 * the seed, so a seeded model repeats exactly. Gradients pass through (the
 * transpose of what the forward pass did). ---- */
/* Keras's fill modes for points that fall outside the image. */
typedef enum px_fill_mode {
    PX_FILL_REFLECT = 0, /* (d c b a | a b c d | d c b a) */
    PX_FILL_WRAP,        /* (a b c d | a b c d | a b c d) */
    PX_FILL_CONSTANT,    /* (k k k k | a b c d | k k k k), k = fill_value */
    PX_FILL_NEAREST      /* (a a a a | a b c d | d d d d) */
} px_fill_mode;
typedef enum px_flip_mode { PX_FLIP_HORIZONTAL_AND_VERTICAL = 0, PX_FLIP_HORIZONTAL, PX_FLIP_VERTICAL } px_flip_mode;
/* Zero: Keras's defaults (reflect, bilinear, fill value 0, no seed). */
typedef struct px_augment_options {
    px_fill_mode fill_mode;
    bool nearest;              /* Keras's interpolation="nearest" (else bilinear) */
    float fill_value;
    uint32_t seed;             /* the layer's seed (mixed with the run's key) */
} px_augment_options;
/* Each image is flipped with probability 1/2 (horizontal_and_vertical: both axes
 * together, as Keras draws one decision for both). */
PX_API px_node *px_random_flip(px_node *x, px_flip_mode mode, const px_augment_options *opts);
/* Turned by a random fraction of a full turn in [lower, upper] (positive:
 * counter-clockwise) about the image centre. */
PX_API px_node *px_random_rotation(px_node *x, float lower, float upper, const px_augment_options *opts);
/* Zoomed by 1 + a random value in [h_lower, h_upper] vertically and [w_lower,
 * w_upper] horizontally (or the vertical value, width_follows); above 1 zooms
 * out. Ranges within [-1, 1]. */
PX_API px_node *px_random_zoom(px_node *x, float h_lower, float h_upper, float w_lower, float w_upper, bool width_follows,
                               const px_augment_options *opts);
/* Shifted by random fractions of the height in [h_lower, h_upper] and of the
 * width in [w_lower, w_upper] (within [-1, 1]). */
PX_API px_node *px_random_translation(px_node *x, float h_lower, float h_upper, float w_lower, float w_upper,
                                      const px_augment_options *opts);
/* (N, H, W, C) -> (N, height, width, C): in training, on images larger than
 * that, a random window (the same for the whole batch); otherwise the largest
 * centred window of the target's aspect ratio, resized bilinearly. */
PX_API px_node *px_random_crop(px_node *x, int height, int width, const px_augment_options *opts);
/* Per image and channel, (x - mean) * f + mean with f random in [1 - lower,
 * 1 + upper], clipped to [value_min, value_max]. */
PX_API px_node *px_random_contrast(px_node *x, float lower, float upper, float value_min, float value_max,
                                   const px_augment_options *opts);
/* Per image, x + d with d random in [lower, upper] * (value_max - value_min),
 * clipped to [value_min, value_max]. */
PX_API px_node *px_random_brightness(px_node *x, float lower, float upper, float value_min, float value_max,
                                     const px_augment_options *opts);
/* (N, H, W, C) -> (N, C) and (N, L, C) -> (N, C). */
PX_API px_node *px_global_avg_pool2d(px_node *x);
PX_API px_node *px_global_max_pool2d(px_node *x);
PX_API px_node *px_global_avg_pool1d(px_node *x);
PX_API px_node *px_global_max_pool1d(px_node *x);

/* ==== normalization, embedding and recurrent ops (src/ops/batchnorm.c,
 * embedding.c, rnn.c) ==== */

/* Batch normalization over the last axis: gamma * (x - mean) / sqrt(var + epsilon)
 * + beta, with gamma and beta optional (NULL: scale 1, offset 0). In training the
 * batch mean and biased variance are used, and the forward pass also updates
 * the moving statistics IN PLACE: moving = moving * momentum + batch * (1 - momentum)
 * is written into the values of the moving_mean and moving_variance nodes
 * (non-trainable variables). In inference the moving statistics are used. */
PX_API px_node *px_batch_norm(px_node *x, px_node *moving_mean, px_node *moving_variance, px_node *gamma,
                       px_node *beta, float momentum, float epsilon);
/* The same over axis `axis` (negative: from the end) instead of the last:
 * statistics per index of that axis, over all the others. */
PX_API px_node *px_batch_norm_axis(px_node *x, px_node *moving_mean, px_node *moving_variance, px_node *gamma,
                                   px_node *beta, float momentum, float epsilon, int axis);

/* Rows of table (input_dim, output_dim) picked by indices (int32, or float32
 * holding whole numbers); output shape indices.shape + (output_dim). An index
 * outside [0, input_dim), NaN or fractional gives a row of NaN (and no gradient).
 * The gradient is scattered (summed) into the table's rows. */
PX_API px_node *px_embedding_lookup(px_node *indices, px_node *table);

/* Fused recurrent layers over x (batch, timesteps, features), Keras weight
 * layout: kernel (features, G u), recurrent_kernel (u, G u), bias (G u) or NULL;
 * gate blocks SimpleRNN tanh (G = 1), LSTM i, f, c, o (G = 4), GRU z, r, h (G = 3;
 * with reset_after the bias is (2, 3u): input bias, recurrent bias). Zero initial
 * states. The result is (batch, timesteps + S, u): every step's h, then the S
 * final states (h, and for LSTM c); take them with px_rnn_sequence / px_rnn_state. */
typedef enum px_rnn_cell { PX_RNN_SIMPLE = 0, PX_RNN_LSTM = 1, PX_RNN_GRU = 2 } px_rnn_cell;
typedef enum px_rnn_direction {
    PX_RNN_FORWARD = 0,         /* steps over t = 0..T-1 */
    PX_RNN_GO_BACKWARDS = 1,    /* steps over t = T-1..0; row s is step s (Keras go_backwards) */
    PX_RNN_BACKWARD_ALIGNED = 2 /* steps over t = T-1..0; row t is input t's step (Bidirectional) */
} px_rnn_direction;
PX_API px_node *px_rnn_fused(px_rnn_cell cell, px_node *x, px_node *kernel, px_node *recurrent_kernel, px_node *bias,
                      bool reset_after, px_rnn_direction direction);
/* The same with any elementwise activations, a timestep mask and dropout.
 * Zero options are Keras's defaults (tanh, sigmoid, no dropout, forward,
 * reset_after false). mask (batch, timesteps) float, 0 = masked, or NULL: a
 * masked step keeps the previous state and outputs the previous output (zeros
 * with zero_output_for_mask). dropout / recurrent_dropout drop inputs / h_prev in
 * training with one mask per gate drawn once per sequence (Keras's
 * implementation 1). Defaults with no mask and no dropout take the vectorised
 * kernels of px_rnn_fused; anything else a general (scalar) path. */
typedef struct px_rnn_fused_options {
    int activation, recurrent_activation; /* px_activation; 0 (PX_LINEAR) means the default */
    bool linear_activation, linear_recurrent_activation; /* to ask for PX_LINEAR itself */
    float dropout, recurrent_dropout;
    bool reset_after, zero_output_for_mask;
    px_rnn_direction direction;
} px_rnn_fused_options;
PX_API px_node *px_rnn_fused_ex(px_rnn_cell cell, px_node *x, px_node *kernel, px_node *recurrent_kernel,
                                px_node *bias, px_node *mask, const px_rnn_fused_options *opts);
/* (batch, timesteps, u): every step's h from a px_rnn_fused result. */
PX_API px_node *px_rnn_sequence(px_node *fused);
/* (batch, u): final state k (0: h, 1: LSTM's c) from a px_rnn_fused result. */
PX_API px_node *px_rnn_state(px_node *fused, int k);

/* Fused Dense: activation(x @ kernel + bias) over x's last axis (leading axes
 * are rows), kernel (in, units), bias (units,) or NULL. activation is a
 * px_activation (plexus/nn.h) among PX_LINEAR, PX_RELU, PX_SIGMOID, PX_TANH;
 * others (softmax, ...) go in their own op after a PX_LINEAR one. Same values
 * and gradients as px_matmul, px_add and the activation op, in fewer passes. */
PX_API px_node *px_dense_op(px_node *x, px_node *kernel, px_node *bias, int activation);

/* ==== more activations, noise, elementwise extrema, repetition, layer
 * normalization and attention masks (src/ops/activations_more.c, noise.c,
 * extrema.c, repeat.c, layer_norm.c, attention.c) ==== */

/* Keras's ReLU: x above `threshold` (else 0), clipped to [0, max_value] unless
 * max_value is INFINITY (none), minus negative_slope * relu(threshold - x). */
PX_API px_node *px_relu_ex(px_node *x, float negative_slope, float max_value, float threshold);
/* clip(slope * x + offset, 0, 1): Keras 2's hard_sigmoid is (0.2, 0.5), Keras 3's (1/6, 0.5). */
PX_API px_node *px_hard_sigmoid(px_node *x, float slope, float offset);
PX_API px_node *px_softsign(px_node *x);                /* x / (1 + |x|) */
PX_API px_node *px_mish(px_node *x);                    /* x * tanh(softplus(x)) */
PX_API px_node *px_exponential(px_node *x);             /* exp(x) */
PX_API px_node *px_relu6(px_node *x);                   /* min(max(x, 0), 6) */
PX_API px_node *px_hard_swish(px_node *x);              /* x * relu6(x + 3) / 6 (Keras's hard_silu) */
/* Elementwise max / min of two tensors of one shape; a tie's gradient goes to a. */
PX_API px_node *px_maximum(px_node *a, px_node *b);
PX_API px_node *px_minimum(px_node *a, px_node *b);
/* Training only (identity in inference): x + stddev * N(0, 1), and x * m with
 * m ~ N(1, rate / (1 - rate)) (Keras's GaussianNoise and GaussianDropout). */
PX_API px_node *px_gaussian_noise(px_node *x, float stddev);
PX_API px_node *px_gaussian_dropout(px_node *x, float rate);
/* Layer normalization over x's last `axes` axes: gamma * (x - mean) /
 * sqrt(var + epsilon) + beta, biased variance; gamma and beta (shape of those
 * axes) may be NULL (scale 1, offset 0). */
PX_API px_node *px_layer_norm(px_node *x, px_node *gamma, px_node *beta, int axes, float epsilon);
/* Attention scores (batch, ..., queries, keys) minus 1e9 where attending is not
 * allowed: where mask (float32 (batch, keys), (batch, queries, keys) or (batch,
 * queries, 1), 1 = allowed; NULL: none) is 0, and with `causal` where key > query. */
PX_API px_node *px_attention_mask(px_node *scores, px_node *mask, bool causal);

#ifdef __cplusplus
}
#endif
#endif
