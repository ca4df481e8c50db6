/* The course's MLP (SGD, batch 32) and ConvNet (Adam, batch 64) trained for a
 * few hundred steps on the GPU and on the CPU: every step's loss within 1e-3;
 * each model saved after GPU training loads on the CPU with the GPU's weights
 * and optimizer state and predicts the same (tests/device_training.c); an LSTM
 * (Adam, batch 32) the same way. Every optimizer stepped on the GPU against
 * the CPU. Skipped without a GPU. */
#include <stdlib.h>
#include <unistd.h>

#include "device_compare.h"
#include "device_training.h"
#include "gpu_util.h"

int main(void) {
    px_backend *b = px_gpu_or_skip();
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/px_gpu_training_XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    px_dt_options mlp = {.model = PX_DT_MLP, .examples = 2048, .batch = 32, .epochs = 4, .tol = 1e-3, .tmp = tmp};
    CHECK(px_dt_compare(b->name, &mlp) == 0);
    px_dt_options conv = {.model = PX_DT_CONVNET, .examples = 4096, .batch = 64, .epochs = 4, .adam = true,
                          .tol = 1e-3, .tmp = tmp};
    CHECK(px_dt_compare(b->name, &conv) == 0);
    px_dt_options lstm = {.model = PX_DT_LSTM, .examples = 1024, .batch = 32, .epochs = 2, .adam = true,
                          .tol = 1e-3, .tmp = tmp};
    CHECK(px_dt_compare(b->name, &lstm) == 0);
    CHECK(px_dc_optimizers(b) == 0);
    rmdir(tmp);
    return px_test_finish();
}
