/* Training a small ConvNet on a folder of images, one subfolder per class, as
 * Keras's image_dataset_from_directory reads it: the 8x8 digits written as PNG
 * files by make_digit_images.py. The folder is split 80/20 with a seed; the
 * images are decoded on a background thread (prefetch) while the model trains;
 * a map step scales the pixels to [0, 1]; RandomTranslation shifts them by up
 * to one pixel in training only.
 * Usage: make_digit_images.py tests/data/digits.csv.gz digits/
 *        image_folder digits/ [epochs (15)]
 * It prints the validation accuracy after each epoch and at the end. */
#include <stdio.h>
#include <stdlib.h>

#include <plexus/plexus.h>

/* Pixels from [0, 255] to [0, 1] (Keras's Rescaling(1/255) as a pipeline step). */
static px_status to_unit(void *user, const px_batch *in, px_batch *out) {
    (void)user;
    int64_t n = px_tensor_size(&in->x[0]);
    for (int64_t i = 0; i < n; i++) px_tensor_f32(&out->x[0])[i] = px_tensor_f32(&in->x[0])[i] / 255.0f;
    return PX_OK;
}

/* The training or validation part of the folder, scaled and read ahead. */
static px_source *part(const char *dir, px_subset subset) {
    px_source *s = px_source_image_dir(dir, &(px_image_dir_options){.height = 8, .width = 8,
                                                                     .color_mode = PX_COLOR_GRAYSCALE,
                                                                     .validation_split = 0.2f, .subset = subset,
                                                                     .seed = 42});
    return px_source_prefetch(px_source_map(s, to_unit, NULL, NULL), 4);
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: image_folder DIR [epochs]\n"), 2;
    int epochs = argc > 2 ? atoi(argv[2]) : 15;
    if (epochs < 1) return fprintf(stderr, "image_folder: epochs must be >= 1\n"), 2;
    px_set_random_seed(7);
    px_source *train = part(argv[1], PX_SUBSET_TRAINING), *valid = part(argv[1], PX_SUBSET_VALIDATION);
    if (!train || !valid) return fprintf(stderr, "image_folder: %s\n", px_last_error()), 1;
    printf("Found %lld files belonging to %d classes: %lld for training, %lld for validation.\n",
           (long long)(px_source_size(train) + px_source_size(valid)), px_source_class_count(train),
           (long long)px_source_size(train), (long long)px_source_size(valid));

    px_conv_options same = {.padding = PX_PADDING_SAME, .activation = PX_RELU};
    px_model *model = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(8, 8, 1), NULL),
        px_random_translation_layer(PX_FACTOR(0.125f), PX_FACTOR(0.125f),
                                    &(px_augment_options){.fill_mode = PX_FILL_CONSTANT}),
        px_conv2d_layer(16, 3, 3, &same),
        px_max_pooling2d(2, 2, NULL),
        px_conv2d_layer(32, 3, 3, &same),
        px_flatten(PX_SCALAR),
        px_dense(64, PX_RELU),
        px_dense(10, PX_SOFTMAX),
        NULL});
    if (!model || px_model_summary(model, stdout) != PX_OK ||
        px_model_compile(model, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                      .optimizer = px_adam(NULL), .metrics = {PX_ACCURACY}}) != PX_OK)
        return fprintf(stderr, "image_folder: %s\n", px_last_error()), 1;
    if (px_model_fit_source(model, train, &(px_fit_options){.epochs = epochs, .batch_size = 32,
                                                             .validation_source = valid,
                                                             .verbose = PX_VERBOSE_EPOCH}) != PX_OK)
        return fprintf(stderr, "image_folder: %s\n", px_last_error()), 1;
    px_logs logs = {0};
    double acc = 0;
    if (px_model_evaluate_source(model, valid, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs) != PX_OK)
        return fprintf(stderr, "image_folder: %s\n", px_last_error()), 1;
    px_logs_get(&logs, "accuracy", &acc);
    printf("validation accuracy: %.4f\n", acc);
    px_model_free(model);
    px_source_free(train);
    px_source_free(valid);
    return 0;
}
