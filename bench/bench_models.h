/* The course's models as the benchmarks build them: the Fashion-MNIST MLP
 * (784-300-100-10) and the small ConvNet (three strided convolutions, Dense
 * 200), compiled with sparse categorical cross-entropy and accuracy. The
 * model takes the optimizer; NULL when building or compiling fails. */
#ifndef PX_BENCH_MODELS_H
#define PX_BENCH_MODELS_H

#include <plexus/plexus.h>

static inline px_model *bench_compiled(px_model *m, px_optimizer *opt) {
    if (m && px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = opt,
                                                       .metrics = {PX_ACCURACY}}) == PX_OK)
        return m;
    px_model_free(m);
    return NULL;
}

static inline px_model *bench_course_mlp(px_optimizer *opt) {
    return bench_compiled(px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(300, PX_RELU),
                                                       px_dense(100, PX_RELU), px_dense(10, PX_SOFTMAX), NULL}),
                          opt);
}

static inline px_model *bench_course_convnet(px_optimizer *opt) {
    px_conv_options c1 = {.padding = PX_PADDING_SAME, .activation = PX_RELU};
    px_conv_options c2 = {.strides = {2, 2}, .padding = PX_PADDING_SAME, .activation = PX_RELU};
    return bench_compiled(px_sequential((px_layer *[]){
                              px_input_layer(PX_SHAPE(28, 28), NULL), px_reshape_layer(PX_SHAPE(28, 28, 1)),
                              px_conv2d_layer(4, 5, 5, &c1), px_conv2d_layer(8, 4, 4, &c2),
                              px_conv2d_layer(12, 4, 4, &c2), px_flatten(PX_SCALAR), px_dense(200, PX_RELU),
                              px_dense(10, PX_SOFTMAX), NULL}),
                          opt);
}

#endif
