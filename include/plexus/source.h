/* Datasets as sources: one interface behind fit, evaluate and predict for
 * in-memory arrays (float32, int32 or bytes), generators (Keras's Sequence),
 * CSV files streamed (px_source_csv, in plexus/data.h),
 * and folders of images (image_dataset_from_directory),
 * and the steps that compose them as tf.data does: map, shuffle, batch, cache,
 * prefetch. A reader takes any source in batches. */
#ifndef PLEXUS_SOURCE_H
#define PLEXUS_SOURCE_H

#include "export.h"
#include "rng.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Inputs (and, apart, targets) per example. */
#define PX_SOURCE_MAX_ARRAYS 8

typedef struct px_source px_source;

/* How the values of an in-memory array are stored. */
typedef enum px_elem_type { PX_ELEM_F32 = 0, PX_ELEM_I32, PX_ELEM_U8 } px_elem_type;

/* An in-memory array of examples along the first axis. */
typedef struct px_array {
    px_elem_type type;
    px_shape shape;       /* (examples, ...) */
    const void *data;     /* contiguous, row-major */
    float scale;          /* features: values are multiplied by it as they are gathered (0: 1),
                           * so pixels can stay bytes in memory: PX_ELEM_U8 with 1/255 */
    bool owned;           /* the source frees `data` with free() when it is freed (also on failure) */
} px_array;

/* What one example of a source is. Shapes leave out the batch axis; dtypes are
 * those a batch is gathered in: float32 features and float targets, int32 class
 * labels (the reader converts to what a model wants). */
typedef struct px_source_spec {
    int n_x, n_y;
    px_shape x[PX_SOURCE_MAX_ARRAYS], y[PX_SOURCE_MAX_ARRAYS];
    px_dtype x_dtype[PX_SOURCE_MAX_ARRAYS], y_dtype[PX_SOURCE_MAX_ARRAYS];
    bool weights;         /* each example carries a sample weight */
} px_source_spec;

/* Rows of examples as views: x[i] and y[i] have shape (rows, ...). */
typedef struct px_batch {
    int64_t rows;
    int n_x, n_y;
    px_tensor x[PX_SOURCE_MAX_ARRAYS], y[PX_SOURCE_MAX_ARRAYS];
    float *weights;       /* one per row, or NULL */
    const int64_t *index; /* the example numbers of the rows in their source (NULL: not known) */
} px_batch;

/* ---- sources ----
 * Every constructor returns a new source (free with px_source_free) or NULL with
 * an error set. Steps take over the source they are given, also on failure. */

/* In-memory arrays: n_x feature arrays, n_y target arrays (may be 0, e.g. for
 * predict) and optional sample weights (one float per example, borrowed). The
 * arrays are borrowed unless owned: they must stay alive and unchanged while
 * the source lives. All must have the same number of examples. Targets: int32
 * or byte labels are gathered as int32, float32 ones as float32. */
PX_API px_source *px_source_arrays(const px_array *x, int n_x, const px_array *y, int n_y, const float *sample_weight);

/* A Keras Sequence in C: `batches` batches per epoch, each filled on demand.
 * get() fills rows [0, batch->rows) of the views it is given (they hold
 * batch_size rows; batch->rows starts at batch_size and may be lowered) for
 * batch `index` of the epoch, which a shuffling reader visits in a new order. */
typedef struct px_generator {
    int64_t batches;      /* Keras's __len__ */
    int batch_size;       /* the most rows a batch holds */
    px_source_spec spec;  /* one example's arrays (and whether weights are filled) */
    px_status (*get)(void *user, int64_t index, px_batch *batch);
    void (*on_epoch_end)(void *user, int epoch); /* may be NULL */
    void (*destroy)(void *user);                 /* may be NULL: called by px_source_free */
    void *user;
} px_generator;
PX_API px_source *px_source_generator(const px_generator *g);

/* A folder of images with one subfolder per class, as Keras's
 * image_dataset_from_directory reads it: PNG and JPEG files (by extension,
 * .png .jpg .jpeg in any case, in subfolders at any depth; other files are not
 * listed) are decoded, converted to the color mode and resized to height x
 * width with bilinear interpolation; pixels stay in [0, 255] (add Rescaling for
 * [0, 1]). Labels are the class's position among the class names (the
 * subfolder names in sorted order unless given). With validation_split the
 * file list is shuffled with `seed` once and split: the last fraction is the
 * validation subset, as Keras does (with a different generator, so not the
 * same files). Every file's header is read when the source is made: a file
 * that is no PNG or JPEG, or is cut short, is an error naming it there; a file
 * whose data turns out corrupt is an error naming it when read. */
typedef enum px_color_mode { PX_COLOR_RGB = 0, PX_COLOR_GRAYSCALE, PX_COLOR_RGBA } px_color_mode;
typedef enum px_label_mode {
    PX_LABELS_INT = 0,      /* int32 class index (sparse_categorical_crossentropy) */
    PX_LABELS_CATEGORICAL,  /* one-hot float32 (categorical_crossentropy) */
    PX_LABELS_BINARY,       /* float32 0 or 1, two classes only (binary_crossentropy) */
    PX_LABELS_NONE          /* no targets (predict) */
} px_label_mode;
typedef enum px_subset { PX_SUBSET_ALL = 0, PX_SUBSET_TRAINING, PX_SUBSET_VALIDATION } px_subset;
typedef struct px_image_dir_options {
    int height, width;                  /* 0: Keras's 256 x 256 */
    px_color_mode color_mode;
    px_label_mode label_mode;
    const char *const *class_names;     /* NULL-terminated, the label order; NULL: sorted subfolder names */
    float validation_split;             /* with subset TRAINING or VALIDATION */
    px_subset subset;
    uint64_t seed;                      /* of the split's shuffle */
    bool no_split_shuffle;              /* split the sorted list as it is */
    bool follow_links;                  /* enter symbolic links to folders */
} px_image_dir_options;
PX_API px_source *px_source_image_dir(const char *dir, const px_image_dir_options *opts);
/* An image folder's classes (0 and NULL for other sources). */
PX_API int px_source_class_count(const px_source *s);
PX_API const char *px_source_class_name(const px_source *s, int i);

/* ---- steps ---- */

/* fn(user, in, out) computes out's arrays from in's. Before px_source_batch it
 * sees one example at a time (rows 1), after it whole batches. out_spec (NULL:
 * the same as the source's) says what out holds; targets and weights of the
 * same shapes are copied into out before fn runs, so fn may leave them. */
typedef px_status (*px_map_fn)(void *user, const px_batch *in, px_batch *out);
PX_API px_source *px_source_map(px_source *s, px_map_fn fn, void *user, const px_source_spec *out_spec);
/* tf.data's shuffle: a buffer of buffer_size examples, refilled as it is drawn
 * from, in a new order each epoch (seeded: the same seed, the same orders). */
PX_API px_source *px_source_shuffle(px_source *s, int64_t buffer_size, uint64_t seed);
/* Groups examples into batches of batch_size (the last smaller, or dropped with
 * drop_remainder); a reader then uses this batch size instead of its own. */
PX_API px_source *px_source_batch(px_source *s, int batch_size, bool drop_remainder);
/* Keeps every example the first epoch reads in memory; later epochs read them
 * from there. */
PX_API px_source *px_source_cache(px_source *s);
/* Reads ahead on a background thread, up to `depth` batches (0: 2), so reading
 * and decoding overlap training. */
PX_API px_source *px_source_prefetch(px_source *s, int depth);
/* Examples [start, stop) of a source with random access. */
PX_API px_source *px_source_take(px_source *s, int64_t start, int64_t stop);

PX_API void px_source_free(px_source *s);
/* Examples per epoch, or -1 when not known before reading (generators, streams). */
PX_API int64_t px_source_size(const px_source *s);
PX_API const px_source_spec *px_source_get_spec(const px_source *s);
/* Whether examples (or a generator's batches) can be read in any order: a
 * shuffling reader shuffles such sources every epoch; others keep their order. */
PX_API bool px_source_random_access(const px_source *s);

/* ---- reading ---- */

typedef struct px_reader px_reader;
typedef struct px_read_options {
    int batch_size;       /* 0: 32; sources made by px_source_batch keep their own */
    bool shuffle;         /* a new order each epoch (sources with random access) */
    uint64_t seed;        /* of the shuffling */
} px_read_options;
/* A reader of s (borrowed: it must outlive the reader) in batches. */
PX_API px_reader *px_reader_new(px_source *s, const px_read_options *opts);
/* Starts an epoch: the next px_reader_next returns its first batch. */
PX_API px_status px_reader_start(px_reader *r);
/* The next batch of the epoch in *out (valid until the next call), or NULL
 * after the last. */
PX_API px_status px_reader_next(px_reader *r, const px_batch **out);
/* Batches per epoch, or -1 when not known before reading. */
PX_API int64_t px_reader_steps(const px_reader *r);
PX_API void px_reader_free(px_reader *r);

/* ---- progress of long loads ---- */

/* Called now and then while a source reads something slow before training
 * (the headers of an image folder): what, and
 * done out of total (-1: not known); done == total at the end. One hook per
 * process; NULL turns it off. */
typedef void (*px_progress_fn)(void *user, const char *what, int64_t done, int64_t total);
PX_API void px_set_load_progress(px_progress_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
