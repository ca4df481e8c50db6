/* TerminateOnNaN: stops fit right after the batch whose loss became NaN or infinite,
 * so a diverged run does not waste the rest of its epochs. */
#include <math.h>
#include <stdlib.h>

#include "callbacks/callbacks_internal.h"

static px_status tn_batch_end(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    (void)cb;
    double loss;
    if (px_logs_get(logs, "loss", &loss) && !isfinite(loss)) {
        printf("Batch %d: Invalid loss, terminating training\n", batch);
        fflush(stdout);
        px_model_stop_training(m, true);
    }
    return PX_OK;
}

static void tn_destroy(px_callback *cb) { free(cb); }

px_callback *px_terminate_on_nan(void) {
    px_callback *cb = calloc(1, sizeof *cb);
    if (!cb) {
        px_set_error(PX_ERR_NOMEM, "TerminateOnNaN: out of memory");
        return NULL;
    }
    *cb = (px_callback){.name = "TerminateOnNaN", .on_batch_end = tn_batch_end, .destroy = tn_destroy};
    return cb;
}
