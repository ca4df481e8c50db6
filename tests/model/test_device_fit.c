/* fit on the reference device against fit on the CPU: the course's MLP (SGD),
 * ConvNet (Adam) and an LSTM (Adam), the loss of every step within 1e-4 (the
 * LSTM 1e-5), and models trained
 * there saved and loaded on the CPU (tests/device_training.c); the batches
 * fed from the device's host buffers. */
#include <stdlib.h>
#include <unistd.h>

#include "backend/ref/ref.h"
#include "device_training.h"
#include "px_test.h"

static char tmp[64];

static void test_mlp(void) {
    px_dt_options o = {.model = PX_DT_MLP, .examples = 256, .batch = 32, .epochs = 2, .tol = 1e-4, .tmp = tmp};
    int staged = px_ref_host_uploads();
    CHECK(px_dt_compare("ref", &o) == 0);
    /* the batches went up from the device's host buffers (page-locked on a GPU) */
    CHECK(px_ref_host_uploads() >= staged + 2 * 256 / 32);
}

static void test_convnet(void) {
    px_dt_options o = {.model = PX_DT_CONVNET, .examples = 96, .batch = 32, .epochs = 2, .adam = true, .tol = 1e-4,
                       .tmp = tmp};
    CHECK(px_dt_compare("ref", &o) == 0);
}

/* the recurrent ops' device kernels (kernels/rnn_ops.h) in training, no CPU fallback */
static void test_lstm(void) {
    px_dt_options o = {.model = PX_DT_LSTM, .examples = 96, .batch = 32, .epochs = 2, .adam = true, .tol = 1e-5,
                       .tmp = tmp};
    CHECK(px_dt_compare("ref", &o) == 0);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/px_device_fit_XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    RUN_TEST(test_mlp);
    RUN_TEST(test_convnet);
    RUN_TEST(test_lstm);
    rmdir(tmp);
    return px_test_finish();
}
