/* Datasets: inputs with their labels or targets, the readers for IDX (MNIST
 * family, plain or gzip'd) and CSV files, Fashion-MNIST, and preprocessing
 * (splitting, shuffling, standard scaling, one-hot encoding, pixel scaling).
 * Sources and pipelines (arrays of bytes, generators, image folders) are in
 * plexus/source.h, included here. */
#ifndef PLEXUS_DATA_H
#define PLEXUS_DATA_H

#include "export.h"
#include "tensor.h"
#include "rng.h"
#include "source.h"

#ifdef __cplusplus
extern "C" {
#endif

/* x: inputs, first axis = examples. y: int32 class labels of shape (n) or
 * float32 targets of shape (n, ...); may be NULL (unlabelled data). */
typedef struct px_dataset {
    px_tensor *x;
    px_tensor *y;
} px_dataset;

/* Takes ownership of x and y (also on failure). Fails if the counts differ. */
PX_API px_dataset *px_dataset_new(px_tensor *x, px_tensor *y);
PX_API void px_dataset_free(px_dataset *d);
PX_API int64_t px_dataset_size(const px_dataset *d);
/* Copies of examples [start, stop). */
PX_API px_dataset *px_dataset_slice(const px_dataset *d, int64_t start, int64_t stop);
/* The dataset as a source (plexus/source.h) of its tensors, borrowed: the
 * dataset must outlive the source. NULL with an error when x or y is a view. */
PX_API px_source *px_source_dataset(const px_dataset *d);
/* Shuffles the examples in place (x and y together). */
PX_API px_status px_dataset_shuffle(px_dataset *d, px_rng *rng);
/* Shuffled split: the last `test_fraction` of a copy shuffled as px_dataset_shuffle
 * does with px_rng_seeded(seed) becomes *test; its size is rounded up, as
 * scikit-learn's test_size is. */
PX_API px_status px_dataset_train_test_split(const px_dataset *d, double test_fraction, uint64_t seed,
                                      px_dataset **train, px_dataset **test);

/* ---- readers ---- */

/* Reads an IDX file (plain or gzip'd, detected from the content) into a new
 * tensor of the requested dtype with the file's shape. Errors name the file,
 * the byte offset and what was wrong (bad magic, truncated data, ...). Bytes
 * after the data that the dimensions describe are an error too (the header
 * would be wrong). Reading float data as PX_I32 requires integral values. */
PX_API px_status px_idx_read(const char *path, px_dtype dtype, px_tensor **out);

/* Blank lines are ignored; a field is trimmed of spaces and tabs. Note that a
 * zero-initialised label_column means the FIRST column: set -1 for the last. */
typedef struct px_csv_options {
    bool header;        /* the first line (after skip_lines) holds column names */
    int label_column;   /* column of the label/target; negative counts from the end (-1 = last) */
    bool no_label;      /* every column is a feature */
    bool float_labels;  /* targets are float32 (regression) instead of int32 classes */
    char delimiter;     /* 0 = ','; ' ' = any run of spaces or tabs */
    int skip_lines;     /* lines to skip before the header/data */
} px_csv_options;
/* Reads a CSV file (plain or gzip'd) into a dataset: features as float32
 * (n, columns - 1), labels as int32 (n) or, with float_labels, float32 (n, 1).
 * `opts` may be NULL (no header, label in the last column, int labels).
 * NaN or non-numeric fields are errors naming the line and column. Line ends
 * may be "\n", "\r\n" or "\r"; a UTF-8 byte-order mark is skipped; a NUL byte or
 * UTF-16 text is an error. `path` "-" reads standard input; it, a pipe or a
 * device is read in one pass (the data grow within px_memory_limit()). */
PX_API px_status px_csv_read(const char *path, const px_csv_options *opts, px_dataset **out);
/* Features and labels kept in two files with the same rows, as scikit-learn
 * ships the diabetes data: every column of x_path is a feature; y_path has one
 * column, read as int32 labels (n) or, with opts->float_labels, float32 targets
 * (n, 1). opts (may be NULL) applies to both; label_column and no_label are
 * ignored. NULL with an error set on failure. */
PX_API px_dataset *px_dataset_from_xy_files(const char *x_path, const char *y_path,
                                     const px_csv_options *opts);
/* A CSV file as a source (plexus/source.h) that streams: each epoch reads the
 * file again and parses it batch by batch, so a file larger than memory trains
 * in the memory of a few batches. The examples are px_csv_read's (float32
 * features (columns - 1), int32 labels or float32 (1) targets, the same errors
 * naming line and column); the rows are counted and every row's field count
 * checked when the source is made. No random access: put px_source_shuffle
 * after it to shuffle (Keras's make_csv_dataset uses a buffer of 10,000), and
 * give validation data apart (a validation_split needs random access). A file
 * only (not standard input or a pipe, which cannot be read twice). */
PX_API px_source *px_source_csv(const char *path, const px_csv_options *opts);

/* Fashion-MNIST from `dir` (NULL: Debian's /usr/share/datasets/fashion-mnist):
 * the last n_train of the 60,000 training images become *train and the first
 * 60,000 - n_train *valid, as the course splits them (X_valid, X_train =
 * X_train_full[:5000], X_train_full[5000:]); *valid is NULL when none are left
 * for it. The 10,000 test images become *test. Any of the three may be NULL
 * (not all): a set not asked for is not read. Pixels are scaled to [0, 1] as
 * float32 (n, 28, 28); labels are int32. */
PX_API px_status px_fashion_mnist_load(const char *dir, int64_t n_train, px_dataset **train,
                                px_dataset **valid, px_dataset **test);
/* Fashion-MNIST as sources (plexus/source.h) whose pixels stay bytes: the
 * 70,000 images take 55 MB instead of 219 as float32, and are scaled to
 * [0, 1] as batches are gathered (byte times 1/255: within one rounding of
 * px_fashion_mnist_load's byte / 255). The split is px_fashion_mnist_load's
 * (n_train at most 60,000; with all 60,000, *valid is NULL); labels are
 * gathered as int32. */
PX_API px_status px_fashion_mnist_sources(const char *dir, int64_t n_train, px_source **train, px_source **valid,
                                          px_source **test);
/* The ten Fashion-MNIST class names ("T-shirt/top", ...); "unknown" outside 0..9. */
PX_API const char *px_fashion_mnist_class_name(int label);

/* ---- preprocessing ---- */

/* Standard scaling fitted on training data: per-feature mean and population
 * standard deviation (ddof = 0, as scikit-learn's StandardScaler) over the
 * first axis; features with zero spread get scale 1. Refitting replaces the
 * statistics; NaN or infinity in x is PX_ERR_NUMERIC. */
typedef struct px_scaler {
    px_tensor *mean;
    px_tensor *scale;
} px_scaler;
PX_API px_status px_scaler_fit(px_scaler *s, const px_tensor *x);
/* x = (x - mean) / scale, in place; x's feature shape must match the fit. */
PX_API px_status px_scaler_transform(const px_scaler *s, px_tensor *x);
PX_API void px_scaler_clear(px_scaler *s);

/* One-hot float32 (n, n_classes) from int32 labels (n); labels out of range are errors. */
PX_API px_tensor *px_one_hot(const px_tensor *labels, int n_classes);
/* x /= 255 in place. */
PX_API px_status px_scale_pixels(px_tensor *x);
/* PX_ERR_NUMERIC naming `what` and the first position of a NaN or infinity. */
PX_API px_status px_check_finite(const px_tensor *t, const char *what);

#ifdef __cplusplus
}
#endif
#endif
