/* Internal: the device op table shared by the reference device and CUDA:
 * which ops have kernels, the scratch and state each needs, and the forward
 * and backward entry points (a switch over px_kcode). A backend includes this
 * header once, after defining pxk_ctx and the functions of context.h. */
#ifndef PX_BACKEND_KERNELS_DISPATCH_H
#define PX_BACKEND_KERNELS_DISPATCH_H

#include "backend/kernels/augment_ops.h"
#include "backend/kernels/count_ops.h"
#include "backend/kernels/image_ops.h"
#include "backend/kernels/noise_ops.h"
#include "backend/kernels/optim_ops.h"
#include "backend/kernels/rnn_ops.h"
#include "backend/kernels/spatial_ops.h"

static inline bool pxk_is_unary(px_kcode c) { return c >= PX_K_SIGMOID && c <= PX_K_UNARY_LAST; }

/* True when the portable kernels implement this op. */
static bool pxk_supports(const px_kernel *k) {
    if (pxk_is_unary(k->code)) return true;
    switch (k->code) {
    case PX_K_BINARY: case PX_K_ADD_SCALAR: case PX_K_SCALE: case PX_K_MATMUL: case PX_K_DENSE:
    case PX_K_REDUCE: case PX_K_SOFTMAX: case PX_K_MAXOUT: case PX_K_SOFTMAX_CE: case PX_K_SPARSE_CE:
    case PX_K_SIGMOID_CE: case PX_K_ACCURACY: case PX_K_SIGNED_LABELS: case PX_K_DROPOUT:
    case PX_K_STOP_GRADIENT: case PX_K_RESHAPE: case PX_K_TRANSPOSE: case PX_K_CONCAT: case PX_K_SLICE:
    case PX_K_EMBEDDING: case PX_K_MAX_POOL: case PX_K_AVG_POOL: case PX_K_CONV2D: case PX_K_BATCH_NORM:
    case PX_K_EXTREMA: case PX_K_PAD: case PX_K_LAYER_NORM: case PX_K_REPEAT: case PX_K_ATTENTION_MASK:
    case PX_K_CONV_TRANSPOSE: case PX_K_DEPTHWISE_CONV: case PX_K_RESIZE_BILINEAR: case PX_K_GAUSSIAN_NOISE:
    case PX_K_GAUSSIAN_DROPOUT: case PX_K_SPATIAL_DROPOUT: case PX_K_RANDOM_FLIP: case PX_K_RANDOM_AFFINE:
    case PX_K_RANDOM_CROP: case PX_K_RANDOM_COLOR: case PX_K_RNN_TAKE: case PX_K_RELU_EX: case PX_K_TRAIN_PHASE:
    case PX_K_THRESHOLD_COUNTS: case PX_K_CLASS_COUNTS: case PX_K_CONFUSION_MATRIX:
        return true;
    case PX_K_RNN: case PX_K_RNN_GENERAL:
        return pxk_rnn_supported(k);
    default:
        return false;
    }
}

static size_t pxk_work_bytes(const px_kernel *k, bool backward) {
    switch (k->code) {
    case PX_K_REDUCE: {
        int64_t outer, len, inner;
        pxk_split3(k->in[0], (int)k->iattr[0], &outer, &len, &inner);
        return !backward && pxk_reduce_parted(k, len) ? PXK_PARTS * sizeof(double) : 0;
    }
    case PX_K_SIGNED_LABELS: return backward ? 0 : sizeof(uint32_t);
    case PX_K_CONV2D: return pxk_conv_work_bytes(k);
    case PX_K_CONV_TRANSPOSE: return pxk_ct_work_bytes(k);
    case PX_K_CONFUSION_MATRIX: return backward ? 0 : 2 * (size_t)pxk_cm_rows(k) * sizeof(int32_t);
    default: return 0;
    }
}

/* The state kept from forward to backward: the CPU op's layout, except that
 * the convolutions keep none (the CPU's is per-thread scratch: the columns
 * are rebuilt in the work buffer, and depthwise gradients are gathered) and
 * the recurrent ops keep their own (kernels/rnn_ops.h). */
static size_t pxk_state_bytes(const px_kernel *k, size_t cpu_bytes) {
    if (k->code == PX_K_RNN || k->code == PX_K_RNN_GENERAL) {
        pxk_rnn d = pxk_rnn_of(k);
        return pxk_rnn_state_floats(&d) * sizeof(float);
    }
    bool conv = k->code == PX_K_CONV2D || k->code == PX_K_CONV_TRANSPOSE || k->code == PX_K_DEPTHWISE_CONV;
    return conv ? 0 : cpu_bytes;
}

static px_status pxk_forward(pxk_ctx *c, const px_kernel *k) {
    if (pxk_is_unary(k->code)) return pxk_unary_forward(c, k);
    switch (k->code) {
    case PX_K_BINARY: return pxk_binary_forward(c, k);
    case PX_K_ADD_SCALAR:
    case PX_K_SCALE: return pxk_scalar_forward(c, k);
    case PX_K_MATMUL: return pxk_matmul_forward(c, k);
    case PX_K_DENSE: return pxk_dense_forward(c, k);
    case PX_K_REDUCE: return pxk_reduce_forward(c, k);
    case PX_K_SOFTMAX: return pxk_softmax_forward(c, k);
    case PX_K_MAXOUT: return pxk_maxout_forward(c, k);
    case PX_K_SOFTMAX_CE:
    case PX_K_SPARSE_CE: return pxk_xent_forward(c, k);
    case PX_K_SIGMOID_CE: return pxk_bce_forward(c, k);
    case PX_K_ACCURACY: return pxk_accuracy_forward(c, k);
    case PX_K_SIGNED_LABELS: return pxk_signed_forward(c, k);
    case PX_K_DROPOUT: return pxk_dropout_forward(c, k);
    case PX_K_STOP_GRADIENT:
    case PX_K_RESHAPE: return pxk_copy_forward(c, k);
    case PX_K_TRANSPOSE: return pxk_transpose_forward(c, k);
    case PX_K_CONCAT: return pxk_concat_forward(c, k);
    case PX_K_SLICE: return pxk_slice_forward(c, k);
    case PX_K_EMBEDDING: return pxk_embedding_forward(c, k);
    case PX_K_MAX_POOL:
    case PX_K_AVG_POOL: return pxk_pool_forward(c, k);
    case PX_K_CONV2D: return pxk_conv_forward(c, k);
    case PX_K_BATCH_NORM: return pxk_bn_forward(c, k);
    case PX_K_EXTREMA: return pxk_extrema_forward(c, k);
    case PX_K_PAD: return pxk_pad_forward(c, k);
    case PX_K_LAYER_NORM: return pxk_ln_forward(c, k);
    case PX_K_REPEAT: return pxk_repeat_forward(c, k);
    case PX_K_ATTENTION_MASK: return pxk_amask_forward(c, k);
    case PX_K_CONV_TRANSPOSE: return pxk_ct_forward(c, k);
    case PX_K_DEPTHWISE_CONV: return pxk_dw_forward(c, k);
    case PX_K_RESIZE_BILINEAR: return pxk_resize_forward(c, k);
    case PX_K_GAUSSIAN_NOISE: return pxk_gnoise_forward(c, k);
    case PX_K_GAUSSIAN_DROPOUT: return pxk_gdrop_forward(c, k);
    case PX_K_SPATIAL_DROPOUT: return pxk_sdrop_forward(c, k);
    case PX_K_RANDOM_FLIP: return pxk_flip_forward(c, k);
    case PX_K_RANDOM_AFFINE: return pxk_affine_forward(c, k);
    case PX_K_RANDOM_CROP: return pxk_crop_forward(c, k);
    case PX_K_RANDOM_COLOR: return pxk_color_forward(c, k);
    case PX_K_RNN:
    case PX_K_RNN_GENERAL: return pxk_rnn_forward(c, k);
    case PX_K_RNN_TAKE: return pxk_take_forward(c, k);
    case PX_K_RELU_EX: return pxk_relu_ex_forward(c, k);
    case PX_K_TRAIN_PHASE: return pxk_phase_forward(c, k);
    case PX_K_THRESHOLD_COUNTS: return pxk_thr_counts_forward(c, k);
    case PX_K_CLASS_COUNTS: return pxk_cls_counts_forward(c, k);
    case PX_K_CONFUSION_MATRIX: return pxk_cm_forward(c, k);
    default: return pxk_fail(c, PX_ERR_UNSUPPORTED, k->name);
    }
}

/* Ops without a gradient (accuracy, signed labels, argmax) are never run backwards. */
static px_status pxk_backward(pxk_ctx *c, const px_kernel *k) {
    if (pxk_is_unary(k->code)) return pxk_unary_backward(c, k);
    switch (k->code) {
    case PX_K_BINARY: return pxk_binary_backward(c, k);
    case PX_K_ADD_SCALAR:
    case PX_K_SCALE: return pxk_scalar_backward(c, k);
    case PX_K_MATMUL: return pxk_matmul_backward(c, k);
    case PX_K_DENSE: return pxk_dense_backward(c, k);
    case PX_K_REDUCE: return pxk_reduce_backward(c, k);
    case PX_K_SOFTMAX: return pxk_softmax_backward(c, k);
    case PX_K_MAXOUT: return pxk_maxout_backward(c, k);
    case PX_K_SOFTMAX_CE:
    case PX_K_SPARSE_CE: return pxk_xent_backward(c, k);
    case PX_K_SIGMOID_CE: return pxk_bce_backward(c, k);
    case PX_K_DROPOUT: return pxk_dropout_backward(c, k);
    case PX_K_STOP_GRADIENT:
    case PX_K_RESHAPE: return pxk_copy_backward(c, k);
    case PX_K_TRANSPOSE: return pxk_transpose_backward(c, k);
    case PX_K_CONCAT: return pxk_concat_backward(c, k);
    case PX_K_SLICE: return pxk_slice_backward(c, k);
    case PX_K_EMBEDDING: return pxk_embedding_backward(c, k);
    case PX_K_MAX_POOL:
    case PX_K_AVG_POOL: return pxk_pool_backward(c, k);
    case PX_K_CONV2D: return pxk_conv_backward(c, k);
    case PX_K_BATCH_NORM: return pxk_bn_backward(c, k);
    case PX_K_EXTREMA: return pxk_extrema_backward(c, k);
    case PX_K_PAD: return pxk_pad_backward(c, k);
    case PX_K_LAYER_NORM: return pxk_ln_backward(c, k);
    case PX_K_REPEAT: return pxk_repeat_backward(c, k);
    case PX_K_ATTENTION_MASK: return pxk_amask_backward(c, k);
    case PX_K_CONV_TRANSPOSE: return pxk_ct_backward(c, k);
    case PX_K_DEPTHWISE_CONV: return pxk_dw_backward(c, k);
    case PX_K_RESIZE_BILINEAR: return pxk_resize_backward(c, k);
    case PX_K_GAUSSIAN_NOISE: return pxk_gnoise_backward(c, k);
    case PX_K_GAUSSIAN_DROPOUT: return pxk_gdrop_backward(c, k);
    case PX_K_SPATIAL_DROPOUT: return pxk_sdrop_backward(c, k);
    case PX_K_RANDOM_FLIP: return pxk_flip_backward(c, k);
    case PX_K_RANDOM_AFFINE: return pxk_affine_backward(c, k);
    case PX_K_RANDOM_CROP: return pxk_crop_backward(c, k);
    case PX_K_RANDOM_COLOR: return pxk_color_backward(c, k);
    case PX_K_RNN:
    case PX_K_RNN_GENERAL: return pxk_rnn_backward(c, k);
    case PX_K_RNN_TAKE: return pxk_take_backward(c, k);
    case PX_K_RELU_EX: return pxk_relu_ex_backward(c, k);
    case PX_K_TRAIN_PHASE: return pxk_phase_backward(c, k);
    case PX_K_ACCURACY:
    case PX_K_SIGNED_LABELS:
    case PX_K_THRESHOLD_COUNTS:
    case PX_K_CLASS_COUNTS:
    case PX_K_CONFUSION_MATRIX: return PX_OK;
    default: return pxk_fail(c, PX_ERR_UNSUPPORTED, k->name);
    }
}

#endif
