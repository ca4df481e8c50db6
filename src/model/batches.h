/* Internal: the data side of fit, evaluate and predict (src/model/batches.c):
 * any source checked against the model's inputs and targets and read in
 * batches into the feeds of a session. */
#ifndef PX_MODEL_BATCHES_H
#define PX_MODEL_BATCHES_H

#include "backend/backend.h"
#include "data/source_internal.h"
#include "model/model_internal.h"

/* In-memory arrays as a borrowed source, after the checks that need all of
 * them at once (counts, strides, and with check_x non-finite inputs: errors
 * before training starts). Without check_x the feeder checks each batch instead
 * (predict: the batch is then read from cache by the product that follows, not
 * twice from memory). sample_weight (may be NULL) is borrowed too. */
px_status px_arrays_source(px_model *m, const px_arrays *a, bool need_y, bool check_x, const float *sample_weight,
                           const char *label, px_source **out);

typedef struct px_feeder_options {
    const char *label;       /* "training data", for messages */
    int batch_size;          /* 0: 32 (a batching source keeps its own) */
    bool with_y;             /* feed targets and sample weights (fit, evaluate) */
    bool shuffle;            /* a new order every epoch from *rng (sources with random access) */
    px_rng *rng;
    bool range;              /* examples [lo, hi) only */
    int64_t lo, hi;
    int rank, ranks;         /* data-parallel: this replica's share of every batch */
    const float *class_weight; /* per class (Keras's class_weight), or NULL */
    int n_class_weight;
    bool inputs_checked;     /* the inputs were checked for NaN and infinity already */
    FILE *note;              /* where a note on reshaped inputs goes (NULL: nowhere) */
} px_feeder_options;

/* A source feeding a model: a reader of it and the feeds of one batch. */
typedef struct px_feeder {
    px_model *m;
    px_feeder_options o;
    px_source *src;          /* borrowed */
    px_reader *r;
    px_shape view[PX_SOURCE_MAX_ARRAYS];  /* per input: the shape fed (the model's when reshaped) */
    px_shape yview[PX_SOURCE_MAX_ARRAYS]; /* per target: the same ((n, 1) labels fed as (n,)) */
    px_tensor vals[PX_MAX_INPUTS + 2 * PX_MAX_OUTPUTS];
    px_feed feeds[PX_MAX_INPUTS + 2 * PX_MAX_OUTPUTS];
    int n_feeds;
    float *w;                /* the batch's weights times the class weights */
    int64_t w_cap;
    const px_batch *batch;   /* the batch last read */
    int64_t rows, share, global; /* its rows; this replica's share (0: a stand-in row); all replicas' */
    double weight_sum;       /* of this replica's share */
    /* Training on a device: each batch's feeds are copied into one of two host
     * buffers of the device's (page-locked on a GPU, so the upload is
     * asynchronous), taken in turn (px_feeder_stage_on). */
    px_backend *stage_b;
    void *stage[2];
    size_t stage_cap[2];
    int stage_next;
} px_feeder;

/* Checks the source against the model (counts, shapes, dtypes) and makes the reader. */
px_status px_feeder_init(px_feeder *f, px_model *m, px_source *src, const px_feeder_options *o);
px_status px_feeder_start(px_feeder *f, int epoch);
/* Feeds every later batch from host buffers of device b (b->ops->host_alloc:
 * page-locked memory on a GPU, whose uploads run while the host goes on), two
 * taken in turn: a batch's buffer is written again two batches later, after
 * the step that read it has synchronized with the device. NULL, or a backend
 * on host memory, feeds the reader's buffers as they are. */
void px_feeder_stage_on(px_feeder *f, px_backend *b);
/* The next batch in f->feeds, *got false after the last. */
px_status px_feeder_next(px_feeder *f, bool *got);
/* Batches per epoch (-1 when not known) and examples (-1 likewise). */
int64_t px_feeder_steps(const px_feeder *f);
int64_t px_feeder_examples(const px_feeder *f);
void px_feeder_free(px_feeder *f);

#endif
