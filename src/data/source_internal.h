/* Internal: what a source is made of (the operations each kind implements),
 * the batch buffers and row copies they share, and the reader's full options
 * (used by fit, evaluate and predict in src/model). */
#ifndef PX_DATA_SOURCE_INTERNAL_H
#define PX_DATA_SOURCE_INTERNAL_H

#include "plexus/data.h"

/* One epoch's reading plan, handed to streaming sources (and passed down by
 * steps that keep random access). */
typedef struct px_plan {
    int epoch;
    int batch_size;  /* rows the reader asks for at a time */
} px_plan;

/* The operations of a kind of source. A source has random access (read, or
 * read_batch for sources that make their own batches) or streams (start and
 * next). Operations write into the caller's views, converting to the views'
 * dtypes (px_copy_values); dst->rows is the capacity, *rows what was written. */
typedef struct px_source_ops {
    const char *name;
    /* examples idx[0..n) into rows [0, n) of dst */
    px_status (*read)(px_source *s, const int64_t *idx, int64_t n, const px_batch *dst);
    /* batch k of the epoch into dst; *rows its size */
    px_status (*read_batch)(px_source *s, int64_t k, const px_batch *dst, int64_t *rows);
    /* a new pass (streams; random-access steps pass it on) */
    px_status (*start)(px_source *s, const px_plan *plan);
    /* the next examples (up to dst->rows; a batching source: its next batch);
     * *rows 0 at the end of the pass */
    px_status (*next)(px_source *s, const px_batch *dst, int64_t *rows);
    /* views of examples [start, start + n) in place, without copying, when the
     * stored values are what `want` asks for; false when they are not */
    bool (*view)(const px_source *s, int64_t start, int64_t n, const px_batch *want, px_batch *out);
    /* after the last batch of an epoch (may be NULL) */
    void (*end_epoch)(px_source *s, int epoch);
    void (*destroy)(px_source *s); /* frees what the kind added (may be NULL) */
} px_source_ops;

struct px_source {
    const px_source_ops *ops;
    px_source_spec spec;
    int64_t size;       /* examples per epoch, -1 when not known */
    int64_t batches;    /* sources that make their own batches: per epoch (-1: not known); else 0 */
    int batch_size;     /* sources that make their own batches: their size; else 0 */
    bool batched;       /* a step after px_source_batch: elements are batches */
    int prefetch;       /* batches a reader reads ahead (px_source_prefetch anywhere upstream) */
    px_source *up;      /* the source a step reads (owned) */
    int classes;        /* image folders: the class names */
    char **class_names;
};

/* A source of a kind: zeroed memory of `bytes` (the kind's struct, which starts
 * with px_source) with ops set; NULL with an error on failure. */
px_source *px_source_alloc(size_t bytes, const px_source_ops *ops, const char *who);
/* For steps: takes over `up` and copies what it says about itself. */
void px_source_adopt(px_source *s, px_source *up);

/* Random access to examples. */
static inline bool px_source_has_read(const px_source *s) { return s->ops->read != NULL; }

/* Checks a spec (counts, shapes known and positive, dtypes); `who` names the caller. */
px_status px_spec_check(const px_source_spec *spec, const char *who);
/* Bytes of one example's array. */
size_t px_spec_bytes(px_shape per_example, px_dtype dtype);

/* ---- batch buffers ---- */

/* Owned storage for up to `cap` rows of a spec, viewed through `b`. */
typedef struct px_batch_buf {
    px_batch b;
    void *mem[2 * PX_SOURCE_MAX_ARRAYS];
    int64_t *index;
    int64_t cap;
} px_batch_buf;

/* x_dtype / y_dtype: the dtypes wanted (NULL: the spec's); with_y false leaves
 * out targets and weights; weights only when the spec has them or force_weights. */
px_status px_batch_buf_init(px_batch_buf *bb, const px_source_spec *spec, int64_t cap, const px_dtype *x_dtype,
                            const px_dtype *y_dtype, bool with_y, bool force_weights);
void px_batch_buf_free(px_batch_buf *bb);
/* Views of rows [start, start + n) of src (index and weights included). */
void px_batch_rows(const px_batch *src, int64_t start, int64_t n, px_batch *out);
/* Whether b holds exactly the spec's arrays, in its dtypes, with weights when
 * the spec has them: a source may then write into b directly. */
bool px_batch_fits_spec(const px_batch *b, const px_source_spec *spec);
/* Copies n rows from src row s0 to dst row d0, converting dtypes; weights
 * (when dst has them) are copied or set to 1. Errors name `who`. */
px_status px_batch_copy(const px_batch *src, int64_t s0, px_batch *dst, int64_t d0, int64_t n, const char *who);

/* Converts count values of type st (floats times scale) into dst of dtype dt.
 * Returns -1, or the position of the first value that is no whole number in
 * int32 range when dt is PX_I32 (nothing is written from there on). */
int64_t px_copy_values(void *dst, px_dtype dt, const void *src, px_elem_type st, int64_t count, float scale);

/* ---- reading any source in order, row by row (steps that stream) ---- */

typedef struct px_pull {
    px_source *s;
    int64_t pos;          /* the next example (random access) or batch (read_batch) */
    px_batch_buf held;    /* a batch read whole, handed out in parts */
    int64_t held_rows, held_pos;
    int64_t *idx, idx_cap; /* example numbers of a read */
} px_pull;
/* Starts a pass over s (its start, when it streams). */
px_status px_pull_start(px_pull *p, px_source *s, const px_plan *plan);
/* The next examples, up to dst->rows of them, into dst (converting); *rows 0
 * at the end of the pass. */
px_status px_pull_next(px_pull *p, const px_batch *dst, int64_t *rows);
void px_pull_free(px_pull *p);

/* ---- the reader's full options (fit, evaluate, predict) ---- */

typedef struct px_reader_config {
    int batch_size;              /* 0: 32 */
    const px_dtype *x_dtype;     /* per input, what the model wants (NULL: the spec's) */
    const px_dtype *y_dtype;
    bool with_y;                 /* read targets (and weights) */
    bool force_weights;          /* weights in every batch: ones when the source has none */
    bool range;                  /* only examples [lo, hi) (a source with random access) */
    int64_t lo, hi;
    int rank, ranks;             /* data-parallel: this replica's share of every batch (ranks 0 or 1: all) */
    bool shuffle;                /* a new order each epoch from *rng (random access only) */
    px_rng *rng;                 /* borrowed; NULL: the reader's own, seeded with seed */
    uint64_t seed;
    bool in_place;               /* views of in-memory arrays when no copy is needed */
    bool no_prefetch;            /* read in the caller's thread even below px_source_prefetch */
} px_reader_config;

px_reader *px_reader_new_config(px_source *s, const px_reader_config *cfg);
/* Starts epoch `epoch` (px_reader_start counts them itself). */
px_status px_reader_start_epoch(px_reader *r, int epoch);
/* Rows of the global batch last returned (the replicas' shares together) and
 * this replica's share of it; a replica with no row of a batch gets a stand-in
 * row (its first) with share 0, which must count for nothing. */
int64_t px_reader_global_rows(const px_reader *r);
int64_t px_reader_share_rows(const px_reader *r);
/* Examples per epoch the reader goes through (-1 when not known). */
int64_t px_reader_examples(const px_reader *r);
/* Stops reading ahead (a thread under px_source_prefetch) before the epoch's
 * end, e.g. when training stops early. */
void px_reader_stop(px_reader *r);

/* A hash of examples [lo, hi) of a source (hi 0: to the end): their count,
 * shapes and up to 256 examples spread over them when it has random access
 * (other sources: the count and shapes), so that replicas can check that they
 * were given the same data. 0 when it cannot be read. */
uint64_t px_source_fingerprint(px_source *s, int64_t lo, int64_t hi);

/* ---- progress of long loads (source_progress.c) ---- */

/* Reports to the hook of px_set_load_progress (at most every ~0.1 s, and always
 * the end); a no-op when none is set. */
void px_load_progress(const char *what, int64_t done, int64_t total);

#endif
