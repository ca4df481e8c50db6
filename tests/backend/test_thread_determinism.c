/* Results that do not depend on the thread count: the course's MLP (products
 * large enough to be cut into tiles over the threads, src/backend/cpu/gemm.c),
 * a small ConvNet with BatchNormalization (both convolution paths, whose kernel
 * gradients sum over the batch) and a small LSTM, each trained a few steps at
 * 1, 2 and 3 threads, must end with bit-identical weights and losses; and so
 * must a run whose team size the thread governor changes after every step
 * (PLEXUS_THREAD_POLICY=alternate, thread_governor.c). */
#define _XOPEN_SOURCE 700 /* setenv */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/thread_governor.h"
#include "px_test.h"

typedef enum { MLP, CONVNET, LSTM } kind;

static const char *const kind_name[] = {"mlp", "convnet", "lstm"};

/* The end of one run: every weight, and the loss of each epoch. */
typedef struct result {
    px_tensor **w;
    int nw;
    double loss[2];
} result;

static px_model *make(kind k) {
    switch (k) {
    case MLP:
        return px_sequential((px_layer *[]){px_input_layer(PX_SHAPE(784), "x"), px_dense(300, PX_RELU),
                                            px_dense(100, PX_RELU), px_dense(10, PX_SOFTMAX), NULL});
    case CONVNET:
        /* 16 filters of 3x3 over one channel take the few-channel kernels; the
         * second convolution (K = 144) takes im2col and the products */
        return px_sequential((px_layer *[]){
            px_input_layer(PX_SHAPE(28, 28, 1), "x"),
            px_conv2d_layer(16, 3, 3, &(px_conv_options){.activation = PX_RELU}), px_batch_normalization(),
            px_max_pooling2d(2, 2, NULL), px_conv2d_layer(32, 3, 3, &(px_conv_options){.activation = PX_RELU}),
            px_flatten(PX_SCALAR), px_dense(10, PX_SOFTMAX), NULL});
    case LSTM:
        return px_sequential(
            (px_layer *[]){px_input_layer(PX_SHAPE(28, 28), "x"), px_lstm(64, NULL), px_dense(10, PX_SOFTMAX), NULL});
    }
    return NULL;
}

/* Fashion-MNIST-like rows of 784 values, smooth patterns per class plus a
 * little noise: flat for the MLP, 28 x 28 images for the ConvNet, sequences of
 * 28 steps for the LSTM. */
static px_dataset *data(kind k, int rows) {
    px_shape shape = k == MLP ? PX_SHAPE(rows, 784) : k == CONVNET ? PX_SHAPE(rows, 28, 28, 1) : PX_SHAPE(rows, 28, 28);
    px_tensor *x = px_tensor_new(PX_F32, shape), *y = px_tensor_new(PX_I32, PX_SHAPE(rows));
    uint32_t s = 12345;
    for (int i = 0; i < rows; i++) {
        px_tensor_i32(y)[i] = i % 10;
        for (int j = 0; j < 784; j++) {
            s = s * 1664525u + 1013904223u;
            px_tensor_f32(x)[i * 784 + j] =
                (float)(0.5 + 0.4 * sin(0.02 * (i % 10 + 1) * j) + 0.1 * ((double)(s >> 8) / 16777216.0 - 0.5));
        }
    }
    return px_dataset_new(x, y);
}

static result train(kind k, int threads, const char *policy) {
    result r = {0};
    setenv("PLEXUS_THREAD_POLICY", policy, 1);
    px_set_num_threads(threads);
    px_set_random_seed(7);
    /* the MLP at batch 256 has products of 7.7 to 60 million multiply-adds, cut
     * into 8 to 16 tiles, and a first-layer dW whose inner axis (256) the
     * builtin kernel cuts in two */
    /* 2 steps an epoch (1 for the MLP under the sanitizers, whose builtin kernel runs unoptimized) */
    int rows = k == MLP ? (getenv("PX_TEST_SANITIZE") ? 256 : 512) : 128, batch = k == MLP ? 256 : 64;
    px_dataset *d = data(k, rows);
    px_model *m = make(k);
    px_compile_options co = {.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = k == MLP ? px_sgd(&(px_optimizer_options){.learning_rate = 0.05f}) : px_adam(NULL)};
    int n = 0;
    if (m && d && px_model_compile(m, &co) == PX_OK &&
        px_model_fit(m, d, &(px_fit_options){.epochs = 2, .batch_size = batch, .verbose = PX_VERBOSE_SILENT}) == PX_OK) {
        const double *loss = px_history_get(px_model_history(m), "loss", &n);
        if (loss && n == 2) memcpy(r.loss, loss, sizeof r.loss);
        px_model_get_weights(m, &r.w, &r.nw);
    }
    CHECK(n == 2 && r.nw > 0 && isfinite(r.loss[1]) && r.loss[1] < r.loss[0]); /* it trains */
    px_model_free(m);
    px_dataset_free(d);
    return r;
}

/* Bit-identical: every weight's bytes and both losses. */
static bool same(const result *a, const result *b) {
    if (a->nw != b->nw || memcmp(a->loss, b->loss, sizeof a->loss) != 0) return false;
    for (int i = 0; i < a->nw; i++)
        if (px_tensor_size(a->w[i]) != px_tensor_size(b->w[i]) ||
            memcmp(px_tensor_f32(a->w[i]), px_tensor_f32(b->w[i]), (size_t)px_tensor_size(a->w[i]) * 4) != 0)
            return false;
    return true;
}

static void release(result *r) {
    for (int i = 0; i < r->nw; i++) px_tensor_free(r->w[i]);
    free(r->w);
}

static void check_kind(kind k) {
    result one = train(k, 1, "fixed");
    result runs[3] = {train(k, 2, "fixed"), train(k, 3, "fixed")};
    int64_t s0 = px_thread_governor_switches();
    runs[2] = train(k, 2, "alternate"); /* 1, 2, 1, 2 ... threads, a switch after every step */
    CHECK(px_thread_governor_switches() - s0 >= 2);
    const char *what[3] = {"2 threads", "3 threads", "2 and 1 threads alternating"};
    for (int i = 0; i < 3; i++) {
        bool ok = same(&one, &runs[i]);
        printf("%s: %s %s 1 thread (losses %.9g %.9g vs %.9g %.9g)\n", kind_name[k], what[i],
               ok ? "bit-identical to" : "DIFFERS from", runs[i].loss[0], runs[i].loss[1], one.loss[0], one.loss[1]);
        CHECK(ok);
        release(&runs[i]);
    }
    release(&one);
}

static void test_mlp(void) { check_kind(MLP); }
static void test_convnet(void) { check_kind(CONVNET); }
static void test_lstm(void) { check_kind(LSTM); }

int main(void) {
    RUN_TEST(test_mlp);
    RUN_TEST(test_convnet);
    RUN_TEST(test_lstm);
    return px_test_finish();
}
