/* The course's MLP and ConvNet (and a small LSTM) trained on a device and on the CPU from the
 * same start on the same (synthetic, Fashion-MNIST-shaped) data: the loss of
 * every step must agree; a model trained on the device, saved and loaded on
 * the CPU, has the device's weights and optimizer state exactly and predicts
 * what it predicted on the device. The reference device runs it in the ordinary suite
 * (tests/model/test_device_fit.c), CUDA in tests/gpu/. */
#ifndef PX_DEVICE_TRAINING_H
#define PX_DEVICE_TRAINING_H

#include <stdbool.h>
#include <stdint.h>

/* PX_DT_LSTM: an LSTM of 24 units over the image's 28 rows, then Dense(10, softmax). */
typedef enum px_dt_model { PX_DT_MLP, PX_DT_CONVNET, PX_DT_LSTM } px_dt_model;

typedef struct px_dt_options {
    px_dt_model model;
    int64_t examples; /* steps = epochs * ceil(examples / batch) */
    int batch, epochs;
    bool adam;        /* Adam (the ConvNet's) instead of SGD 0.01 (the MLP's) */
    double tol;       /* |device - cpu| <= tol * max(1, |cpu|) for every step's loss */
    const char *tmp;  /* a directory for the model files */
} px_dt_options;

/* Returns the number of failed checks (each printed). */
int px_dt_compare(const char *device, const px_dt_options *o);

#endif
