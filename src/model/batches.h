/* Internal: the data side of fit, evaluate and predict (src/model/batches.c). */
#ifndef PX_MODEL_BATCHES_H
#define PX_MODEL_BATCHES_H

#include "backend/backend.h"
#include "model/model_internal.h"

/* The data as the model's placeholders want it: views where possible, converted
 * copies (owned, listed in `owned`) where the dtype differs. */
typedef struct px_prepared {
    px_tensor *x[PX_MAX_INPUTS], *y[PX_MAX_OUTPUTS];
    px_tensor *owned[PX_MAX_INPUTS + PX_MAX_OUTPUTS];
    int n_owned, n_x, n_y;
    int64_t n;
} px_prepared;

/* Checks arrays against the model (counts, shapes, dtypes, NaN) and views rows
 * [start, stop) (stop < 0: all); `label` names the data in error messages. */
px_status px_prepare(px_model *m, const px_arrays *a, bool need_y, int64_t start, int64_t stop, px_prepared *p,
                     const char *label);
void px_prepared_free(px_prepared *p);
/* A hash of the data: its size, shapes and 256 rows spread over it (all rows
 * of smaller data), so that replicas can check they read the same data at a
 * cost that does not grow with it. 0 for no data. */
uint64_t px_prepared_fingerprint(const px_prepared *p);

/* Batch buffers of (batch, per-example shape) for each array, and the feeds
 * that hand them to a session. */
typedef struct px_batches {
    px_tensor *buf[PX_MAX_INPUTS + PX_MAX_OUTPUTS];
    px_tensor view[PX_MAX_INPUTS + PX_MAX_OUTPUTS];
    px_feed feeds[PX_MAX_INPUTS + PX_MAX_OUTPUTS];
    int n;
    /* pinned (px_batches_pin): a second set of buffers, and the page-locked blocks of both */
    px_tensor *other[PX_MAX_INPUTS + PX_MAX_OUTPUTS];
    px_backend *pin;
    void *pin_block[2];
} px_batches;

/* gather: allocate the buffers that px_batches_fill gathers shuffled rows into
 * (training); without it (evaluate, predict) only idx-less fills are allowed. */
px_status px_batches_init(px_batches *b, px_model *m, const px_prepared *p, int batch_size, bool with_y,
                          bool gather);
/* Sets the feeds to rows [start, start + rows): gathered through idx, or (idx
 * NULL) the consecutive rows fed in place. */
void px_batches_fill(px_batches *b, const px_prepared *p, const int64_t *idx, int64_t start, int64_t rows);
void px_batches_free(px_batches *b);

/* For training on a device: the gathered buffers become two sets in the
 * device's page-locked host memory, so that a batch's copy to the device runs
 * asynchronously and the next batch is gathered into the other set while the
 * step runs (px_batches_flip between steps). */
px_status px_batches_pin(px_batches *b, px_backend *dev);
/* The next px_batches_fill gathers into the other set; the one just fed stays
 * untouched until the step that reads it has finished. */
void px_batches_flip(px_batches *b);

#endif
