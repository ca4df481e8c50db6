/* C export: a trained model as dependency-free C99 source (NAME.h, NAME.c and
 * optionally NAME_weights.c) for inference on devices without Plexus. */
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

#ifdef __cplusplus
}
#endif
#endif
