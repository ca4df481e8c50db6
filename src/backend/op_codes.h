/* Internal: the codes by which a backend knows an op, and the meaning of each
 * op's integer and float attributes (iattr, fattr) and state. An op definition
 * (src/ops/) names its code; a backend without a kernel for a code leaves the
 * op to the CPU. Changing an op's attributes means changing its entry here and
 * the kernels in src/backend/kernels/. */
#ifndef PX_BACKEND_OP_CODES_H
#define PX_BACKEND_OP_CODES_H

typedef enum px_kcode {
    PX_K_NONE = 0, /* no device kernel: the op always runs on the CPU */

    /* elementwise y = f(x; p0 = fattr[0], p1 = fattr[1]), formulas in kernels/unary.h */
    PX_K_SIGMOID, PX_K_TANH, PX_K_RELU, PX_K_LEAKY_RELU, PX_K_ELU, PX_K_SELU, PX_K_SWISH,
    PX_K_SOFTPLUS, PX_K_GELU, PX_K_LINEAR, PX_K_STEP, PX_K_SIGN, PX_K_EXP, PX_K_LOG, PX_K_SQRT,
    PX_K_SQUARE, PX_K_POW, PX_K_ABS, PX_K_NEG, PX_K_CLIP,
    PX_K_HARD_SIGMOID, /* clip(p0 x + p1, 0, 1) */
    PX_K_SOFTSIGN, PX_K_MISH, PX_K_EXPONENTIAL, PX_K_RELU6, PX_K_HARD_SWISH,
    PX_K_UNARY_LAST = PX_K_HARD_SWISH,

    PX_K_BINARY,       /* broadcasting a (op) b; iattr[0] a px_binary_kind */
    PX_K_ADD_SCALAR,   /* x + fattr[0] */
    PX_K_SCALE,        /* x * fattr[0] */
    PX_K_MATMUL,       /* iattr[0] transpose_a, [1] transpose_b; batch axes as in ops/matmul.c */
    PX_K_DENSE,        /* act(x W + b): iattr[0] px_activation (linear/relu/sigmoid/tanh), [1] has bias;
                          state: dZ (the output's size) unless linear */
    PX_K_REDUCE,       /* iattr[0] axis (-1: all), [1] keepdims, [2] px_reduce_kind */
    PX_K_SOFTMAX,      /* iattr[0] axis, [1] log form */
    PX_K_MAXOUT,       /* iattr[0] pieces */
    PX_K_SOFTMAX_CE,   /* loss per row; state: log-sum-exp per row */
    PX_K_SPARSE_CE,    /* int32 labels; state: log-sum-exp per row */
    PX_K_SIGMOID_CE,   /* elementwise */
    PX_K_ACCURACY,     /* iattr[0] px_accuracy_kind, [1] k (top-k); fattr[0] threshold (binary) */
    PX_K_SIGNED_LABELS,/* {0,1} labels to {-1,1} when all are 0 or 1 */
    PX_K_DROPOUT,      /* fattr[0] rate; state: 16-byte header (u32 1 = mask applied), then one byte per
                          element, 1 = kept; the mask comes from the run's seed (kernels/philox.h) */
    PX_K_STOP_GRADIENT,/* a copy */
    PX_K_RESHAPE,      /* the input's memory (sessions alias it); a copy otherwise */
    PX_K_TRANSPOSE,    /* iattr[0] rank, [1..rank] perm */
    PX_K_CONCAT,       /* iattr[0] axis */
    PX_K_SLICE,        /* iattr[0] axis, [1] start, [2] stop (negative: from the end) */
    PX_K_EMBEDDING,    /* inputs: indices (int32 or whole floats), table */
    PX_K_MAX_POOL,     /* iattr[0] pool_h, [1] pool_w, [2] stride_h, [3] stride_w, [4] padding mode
                          (PX_CONV_PAD_*, kernels/conv_geom.h);
                          state: int32 argmax (offset inside the image) per output */
    PX_K_AVG_POOL,     /* as PX_K_MAX_POOL, no state */
    PX_K_CONV2D,       /* iattr[0] stride_h, [1] stride_w, [2] padding mode (PX_CONV_PAD_*),
                          [3] dilation_h, [4] dilation_w;
                          inputs x (N,H,W,C), kernel (kh,kw,C,F), optional bias (F) */
    PX_K_BATCH_NORM,   /* iattr[0] has gamma, [1] has beta; fattr[0] momentum, [1] epsilon;
                          state layout in ops/batchnorm.c (header, mean, inv_std, double sums) */
    PX_K_EXTREMA,      /* maximum (iattr[0] 1) or minimum (0) of two same-shape inputs */
    PX_K_PAD,          /* iattr[0..8) before, [8..16) after each axis; negative amounts crop */
    PX_K_LAYER_NORM,   /* iattr[0] normalized trailing axes, [1] has gamma, [2] has beta; fattr[0] epsilon;
                          state: mean and 1/sqrt(var + eps) per row */
    PX_K_REPEAT,       /* iattr[0] axis, [1] times (nearest-neighbour upsampling) */
    PX_K_ATTENTION_MASK,/* iattr[0] causal, [1] has a mask input (ops/attention.c) */
    PX_K_CONV_TRANSPOSE,/* iattr[0] stride_h, [1] stride_w, [2] padding mode, [3] output height,
                          [4] output width, [5] dilation_h, [6] dilation_w; inputs x (N,H,W,C),
                          kernel (kh,kw,F,C), optional bias (F); no state (ops/conv_transpose.c) */
    PX_K_DEPTHWISE_CONV,/* iattr[0] stride_h, [1] stride_w, [2] padding mode, [3] dilation_h,
                          [4] dilation_w; inputs x (N,H,W,C), kernel (kh,kw,C,M), optional bias
                          (C*M); no state (ops/depthwise_conv.c) */
    PX_K_RESIZE_BILINEAR,/* iattr[0] out_h, [1] out_w; half-pixel centres (ops/resample.c) */
    PX_K_GAUSSIAN_NOISE,/* fattr[0] stddev; x + stddev N(0,1) from the run's seed (kernels/philox.h) */
    PX_K_GAUSSIAN_DROPOUT,/* fattr[0] rate; state: 16-byte header (u32 1 = applied), then the factors */
    PX_K_SPATIAL_DROPOUT,/* fattr[0] rate; state: 16-byte header, then one byte per (example, channel) */
    PX_K_RANDOM_FLIP,  /* the image augmentation ops: iattr, fattr and state in kernels/augment_geom.h */
    PX_K_RANDOM_AFFINE,
    PX_K_RANDOM_CROP,
    PX_K_RANDOM_COLOR,
    PX_K_RNN,          /* the fused recurrent op (ops/rnn.c): inputs x (B,T,F), kernel (F,G u), recurrent
                          kernel (u,G u), optional bias; iattr[0] cell (simple, lstm, gru), [1] direction
                          (px_rnn_direction), [2] has bias, [3] GRU reset_after; output (B, T + S, u); the
                          device's state in kernels/rnn_ops.h */
    PX_K_RNN_GENERAL,  /* the general recurrent op (ops/rnn_general.c): PX_K_RNN's inputs and iattr[0..3],
                          then an optional mask (B,T); iattr[4], [5] the activations (px_activation),
                          [6] has mask, [7] zero_output_for_mask, [8], [9] the activations as elementwise
                          codes (PX_K_SIGMOID ...; PX_K_NONE: none), p0 in fattr[2], [3] (p1 is 0.5 for
                          hard_sigmoid, else 0); fattr[0] input dropout, [1] recurrent dropout (devices
                          leave an op with dropout to the CPU) */
    PX_K_RNN_TAKE,     /* iattr[0] S (final states), [1] -1 for the sequence, else the state's index */
    PX_K_RELU_EX,      /* Keras's ReLU: fattr[0] negative_slope, [1] threshold, [2] max_value, [3] 1 when
                          max_value is set (formulas in kernels/unary.h) */
    PX_K_TRAIN_PHASE,  /* in_train_phase(x, alt): in[0] passed on in training, in[1] otherwise; state: the
                          index passed on (u32), written by the forward pass for the backward pass */
    PX_K_THRESHOLD_COUNTS, /* the counting ops of ops/confusion_ops.c (no gradient): inputs pred, labels
                          (int32 or float), thresholds (T) ascending; output (4, T) */
    PX_K_CLASS_COUNTS, /* fattr[0] threshold (<= 0: the row's largest); output (3, C) */
    PX_K_CONFUSION_MATRIX, /* iattr[0] classes; output (C, C), rows the true class */
    PX_K_COUNT
} px_kcode;

/* PX_K_DENSE activations (iattr[0]): the values of px_activation (plexus/activations.h). */
typedef enum px_dense_act { PX_DENSE_LINEAR = 0, PX_DENSE_RELU = 1, PX_DENSE_SIGMOID = 2, PX_DENSE_TANH = 3 } px_dense_act;

/* PX_K_BINARY kinds (iattr[0]). */
typedef enum px_binary_kind { PX_BIN_ADD, PX_BIN_SUB, PX_BIN_MUL, PX_BIN_DIV } px_binary_kind;

/* PX_K_REDUCE kinds (iattr[2]). */
typedef enum px_reduce_kind { PX_RED_SUM, PX_RED_MEAN, PX_RED_MAX, PX_RED_ARGMAX } px_reduce_kind;

/* PX_K_ACCURACY kinds (iattr[0]). */
typedef enum px_accuracy_kind { PX_ACC_SPARSE, PX_ACC_CATEGORICAL, PX_ACC_BINARY, PX_ACC_TOP_K } px_accuracy_kind;

#endif
