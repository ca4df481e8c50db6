/* Exporting a trained model: as dependency-free C99 source (NAME.h, NAME.c and
 * optionally NAME_weights.c) for devices without Plexus, or as ONNX. */
#ifndef PLEXUS_EXPORT_C_H
#define PLEXUS_EXPORT_C_H

#include "export.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zero means the default of each field. */
typedef struct px_export_c_options {
    /* C identifier prefixing every generated symbol and naming the files;
     * NULL: "model" */
    const char *name;
    /* Weights in NAME_weights.c instead of NAME.c (to compile or place them apart) */
    bool separate_weights;
    /* NAME_predict keeps its workspace in a static buffer (global state, not
     * reentrant) instead of on the stack; NAME_predict_ws always takes the
     * caller's */
    bool static_workspace;
    /* The code includes no <math.h> and needs no libm: it brings its own
     * expf, logf, expm1f, log1pf, tanhf, erfcf and sqrtf (the ones its layers
     * use), within a few units in the last place of libm's (docs/export.md) */
    bool no_math;
    /* Require the streaming form (NAME_step, NAME_reset: one timestep at a
     * time, for models that start with recurrent layers): without it, it is
     * written when the model allows; with it, a model that does not (a
     * Bidirectional or go_backwards layer, whose outputs need the whole
     * sequence) fails with an error saying why */
    bool streaming;
    /* int8 post-training quantization (as TFLite's): the Dense and convolution
     * kernels become int8 per output channel (symmetric), each such layer's input
     * is quantized per tensor (asymmetric) with the range the float model shows
     * on `calibration`, and the products are summed in int32; the other layers,
     * and the values between layers, stay float. */
    bool int8;
    /* Examples of the model's input, batch first (the model must have one
     * input); required with int8. Borrowed. */
    const px_tensor *calibration;
} px_export_c_options;

/* Writes DIR/NAME.h and DIR/NAME.c (and NAME_weights.c) for the built model m:
 * int NAME_predict(const float *input, float *output) with its inputs
 * concatenated in `input` and outputs in `output` (sizes NAME_INPUT_SIZE and
 * NAME_OUTPUT_SIZE), NAME_predict_ws with a caller's workspace of
 * NAME_WORKSPACE_SIZE floats, and NAME_predict_batch. BatchNormalization after a
 * Dense or convolution is folded into its weights. A layer the exporter does not
 * know fails with an error naming it; nothing is written then (each file is
 * replaced atomically). opts may be NULL. */
PX_API px_status px_model_export_c(px_model *m, const char *dir, const px_export_c_options *opts);

/* Writes the built model m as an ONNX file (opset 14) for other runtimes:
 * Dense, Conv1D/2D, the poolings, BatchNormalization (last axis), Flatten,
 * Reshape, activations, merges, Concatenate, LSTM, GRU and SimpleRNN (tanh /
 * sigmoid, forwards), UpSampling2D, Attention, MultiHeadAttention, Dot and
 * TimeDistributed (docs/export.md). Inputs and outputs keep Keras's layouts
 * (channels last); the file is replaced atomically. */
PX_API px_status px_model_export_onnx(px_model *m, const char *path);

#ifdef __cplusplus
}
#endif
#endif
