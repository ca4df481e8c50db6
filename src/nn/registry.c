/* The table of built-in layer kinds by Keras class name, used to read model
 * configs. A new layer kind adds one line here. */
#include <string.h>

#include "nn/layer_internal.h"

extern const px_layer_kind px_input_kind, px_dense_kind, px_flatten_kind, px_activation_kind, px_dropout_kind,
    px_reshape_kind, px_concatenate_kind, px_add_kind;
extern const px_layer_kind px_batch_normalization_kind, px_embedding_kind, px_simple_rnn_kind, px_lstm_kind,
    px_gru_kind, px_bidirectional_kind;
extern const px_layer_kind px_conv2d_kind, px_conv1d_kind, px_max_pooling2d_kind, px_average_pooling2d_kind, px_global_average_pooling2d_kind, px_global_max_pooling2d_kind, px_global_average_pooling1d_kind, px_global_max_pooling1d_kind; /* conv / pool */
extern const px_layer_kind px_max_pooling1d_kind, px_average_pooling1d_kind; /* 1-D pools */
extern const px_layer_kind px_zero_padding1d_kind, px_zero_padding2d_kind, px_cropping1d_kind, px_cropping2d_kind,
    px_up_sampling1d_kind, px_up_sampling2d_kind, px_spatial_dropout1d_kind, px_spatial_dropout2d_kind; /* reshaping */
extern const px_layer_kind px_depthwise_conv2d_kind, px_depthwise_conv1d_kind, px_separable_conv2d_kind,
    px_separable_conv1d_kind; /* depthwise / separable */
extern const px_layer_kind px_conv2d_transpose_kind, px_conv1d_transpose_kind; /* transposed */
extern const px_layer_kind px_relu_kind, px_leaky_relu_kind, px_prelu_kind, px_elu_kind, px_softmax_layer_kind; /* activation_layers.c */
extern const px_layer_kind px_multiply_kind, px_subtract_kind, px_average_kind, px_maximum_kind, px_minimum_kind,
    px_dot_kind; /* merge_layers_more.c */
extern const px_layer_kind px_repeat_vector_kind, px_permute_kind, px_gaussian_noise_kind, px_gaussian_dropout_kind,
    px_rescaling_kind, px_normalization_kind; /* axis, noise and preprocessing layers */
extern const px_layer_kind px_layer_normalization_kind, px_attention_kind, px_multi_head_attention_kind,
    px_time_distributed_kind;
extern const px_layer_kind px_random_flip_kind, px_random_rotation_kind, px_random_zoom_kind,
    px_random_translation_kind, px_random_crop_kind, px_random_contrast_kind, px_random_brightness_kind; /* augmentation */

const px_layer_kind *const px_layer_kinds[] = {
    &px_input_kind,
    &px_dense_kind,
    &px_flatten_kind,
    &px_activation_kind,
    &px_dropout_kind,
    &px_reshape_kind,
    &px_concatenate_kind,
    &px_add_kind,
    &px_batch_normalization_kind, &px_embedding_kind, &px_simple_rnn_kind, &px_lstm_kind, &px_gru_kind,
    &px_bidirectional_kind,
    &px_conv2d_kind, &px_conv1d_kind, &px_max_pooling2d_kind, &px_average_pooling2d_kind, /* conv / pool */
    &px_global_average_pooling2d_kind, &px_global_max_pooling2d_kind, &px_global_average_pooling1d_kind, &px_global_max_pooling1d_kind,
    &px_max_pooling1d_kind, &px_average_pooling1d_kind, /* 1-D pools */
    &px_zero_padding1d_kind, &px_zero_padding2d_kind, &px_cropping1d_kind, &px_cropping2d_kind, /* reshaping */
    &px_up_sampling1d_kind, &px_up_sampling2d_kind, &px_spatial_dropout1d_kind, &px_spatial_dropout2d_kind,
    &px_depthwise_conv2d_kind, &px_depthwise_conv1d_kind, &px_separable_conv2d_kind, &px_separable_conv1d_kind,
    &px_conv2d_transpose_kind, &px_conv1d_transpose_kind,
    &px_relu_kind, &px_leaky_relu_kind, &px_prelu_kind, &px_elu_kind, &px_softmax_layer_kind, /* activation_layers.c */
    &px_multiply_kind, &px_subtract_kind, &px_average_kind, &px_maximum_kind, &px_minimum_kind, &px_dot_kind,
    &px_repeat_vector_kind, &px_permute_kind, &px_gaussian_noise_kind, &px_gaussian_dropout_kind, &px_rescaling_kind,
    &px_normalization_kind, &px_layer_normalization_kind, &px_attention_kind, &px_multi_head_attention_kind,
    &px_time_distributed_kind,
    &px_random_flip_kind, &px_random_rotation_kind, &px_random_zoom_kind, &px_random_translation_kind, /* augmentation */
    &px_random_crop_kind, &px_random_contrast_kind, &px_random_brightness_kind,
    NULL,
};

const px_layer_kind *px_layer_kind_find(const char *class_name) {
    for (int i = 0; class_name && px_layer_kinds[i]; i++)
        if (strcmp(px_layer_kinds[i]->def.class_name, class_name) == 0) return px_layer_kinds[i];
    return NULL;
}
