/* Internal: a thin px_status-returning layer over libhdf5 for Keras-style model
 * files (groups, string attributes, float datasets, atomic save). */
#ifndef PX_IO_H5UTIL_H
#define PX_IO_H5UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexus/status.h"
#include "plexus/tensor.h"

/* Conventions:
 *  - Object paths are absolute or relative to the root ("/model_weights/dense",
 *    "model_weights/dense" and "" or "/" for the root are all accepted).
 *  - Every error message names the file path and the object path; problems
 *    inside the file (not HDF5, truncated, corrupt, wrong type) are
 *    PX_ERR_FORMAT, problems reaching the file (missing, unreadable, cannot
 *    write) are PX_ERR_IO, a missing object or attribute is PX_ERR_FORMAT too
 *    (a model file lacking what it needs is malformed).
 *  - HDF5's automatic error printing is switched off (H5Eset_auto2) by every
 *    call here; HDF5's error stack is folded into our message instead.
 *  - libhdf5 (Debian's serial build) is not thread-safe: use one thread at a time.
 *  - No HDF5 object stays open between calls, so closing the file really closes it. */

typedef struct px_h5_file px_h5_file;

/* Opens an existing file read-only. */
px_status px_h5_open(const char *path, px_h5_file **out);
/* Creates (truncating) a file for writing. Groups it creates track creation order. */
px_status px_h5_create(const char *path, px_h5_file **out);
/* Flushes and closes. For a handle from px_h5_create_temp this is px_h5_abort
 * (only px_h5_commit publishes a temp file). NULL is fine. */
px_status px_h5_close(px_h5_file *f);
/* The path the handle was opened with (for a temp file: the final path). */
const char *px_h5_filename(const px_h5_file *f);

/* ---- atomic save ----
 * px_h5_create_temp checks final_path and starts an atomic save of it
 * (core/atomic_file.h: symbolic links followed, non-regular targets refused,
 * stale leftovers removed, a private temporary file) and builds the HDF5 file in
 * memory; px_h5_commit writes the image to the temporary file, fsyncs it and
 * rename()s it over final_path; px_h5_abort (or a failed commit) removes
 * everything. libhdf5 itself never writes to disk here, so a full disk or a
 * file-size limit cannot leave it with a half-closed file. Until commit succeeds
 * the previous final_path file is untouched. Commit and abort free the handle. */
px_status px_h5_create_temp(const char *final_path, px_h5_file **out);
px_status px_h5_commit(px_h5_file *f);
void px_h5_abort(px_h5_file *f);
/* Whether the handle is an atomic save (made by px_h5_create_temp). */
bool px_h5_is_atomic(const px_h5_file *f);

/* ---- in-memory files (a .keras archive's model.weights.h5) ----
 * px_h5_open_image opens a copy of an HDF5 file image read-only; `name` appears in
 * messages. px_h5_create_image makes an empty writable file in memory;
 * px_h5_take_image flushes it, returns its bytes (malloc'd, caller frees) and frees
 * the handle, also on failure. Nothing touches the disk. */
px_status px_h5_open_image(const void *data, size_t size, const char *name, px_h5_file **out);
px_status px_h5_create_image(const char *name, px_h5_file **out);
px_status px_h5_take_image(px_h5_file *f, void **data, size_t *size);

/* ---- structure ---- */
typedef enum px_h5_kind { PX_H5_NONE = 0, PX_H5_GROUP, PX_H5_DATASET, PX_H5_OTHER } px_h5_kind;

/* What is at path (PX_H5_NONE when any component is missing). Never fails. */
px_h5_kind px_h5_kind_of(px_h5_file *f, const char *path);
bool px_h5_exists(px_h5_file *f, const char *path);
/* Creates the group and any missing parents; an existing group is fine. */
px_status px_h5_create_group(px_h5_file *f, const char *path);

typedef enum px_h5_order {
    PX_H5_ORDER_NAME = 0, /* byte-wise name order, as h5ls shows */
    PX_H5_ORDER_CREATION  /* creation order where the group tracks it (ours do;
                             h5py's do not), else name order */
} px_h5_order;

/* Names of the links in a group: *names is a malloc'd array of *count malloc'd
 * strings; release with px_h5_free_names. */
px_status px_h5_list(px_h5_file *f, const char *group, px_h5_order order, char ***names, size_t *count);
/* Names of the attributes of an object, in name order. */
px_status px_h5_list_attrs(px_h5_file *f, const char *obj, char ***names, size_t *count);
void px_h5_free_names(char **names, size_t count);

/* ---- attributes ---- */
bool px_h5_has_attr(px_h5_file *f, const char *obj, const char *name);

typedef enum px_h5_cset { PX_H5_ASCII = 0, PX_H5_UTF8 = 1 } px_h5_cset;

/* Writes (replacing) a scalar variable-length string attribute, as h5py 3 does:
 * Keras stores keras_version/backend as str (vlen UTF-8) and model_config /
 * training_config as bytes (vlen ASCII). */
px_status px_h5_write_string_attr(px_h5_file *f, const char *obj, const char *name, const char *value,
                                  px_h5_cset cset);
/* Reads a string attribute into a malloc'd string: fixed-length (any padding)
 * or variable-length, ASCII or UTF-8, scalar or a 1-element array. */
px_status px_h5_read_string_attr(px_h5_file *f, const char *obj, const char *name, char **out);

/* Writes (replacing) a 1-D string array attribute the way Keras 2 / h5py 2 wrote
 * layer_names and weight_names: fixed-length ASCII ('S<longest>', NULLPAD).
 * An empty list is written as Keras writes it: a 0-length float64 array. A list
 * too big for an object header (> 64512 bytes) is written variable-length. */
px_status px_h5_write_string_array_attr(px_h5_file *f, const char *obj, const char *name,
                                        const char *const *values, size_t count);
/* Reads a string array attribute (fixed or vlen, any cset; a scalar string
 * counts as one element; a 0-length numeric array, Keras's empty list, as none).
 * Release with px_h5_free_names. */
px_status px_h5_read_string_array_attr(px_h5_file *f, const char *obj, const char *name, char ***values,
                                       size_t *count);

/* How a string attribute is stored (for diagnostics and tests). */
typedef struct px_h5_string_info {
    bool is_string;   /* false: some other class (e.g. Keras's empty float64 list) */
    bool variable;    /* variable-length (else fixed, of `size` bytes) */
    px_h5_cset cset;
    int pad;          /* 0 NULLTERM, 1 NULLPAD, 2 SPACEPAD */
    size_t size;      /* fixed length in bytes */
    int rank;         /* 0 scalar, 1 array */
    size_t count;     /* number of elements */
} px_h5_string_info;
px_status px_h5_attr_string_info(px_h5_file *f, const char *obj, const char *name, px_h5_string_info *out);
/* Short description such as "vlen UTF-8 scalar" or "fixed S16 NULLPAD ASCII [3]". */
const char *px_h5_string_info_format(const px_h5_string_info *info, char *buf, size_t len);

/* ---- datasets ---- */
/* Writes t (float32 -> IEEE F32LE, int32 -> STD I32LE; any strides) as a new
 * dataset at path, creating missing parent groups (Keras weight names contain '/').
 * Rank 0 gives a scalar dataspace. */
px_status px_h5_write_tensor(px_h5_file *f, const char *path, const px_tensor *t);
/* Shape of a dataset (scalar dataspace: rank 0). */
px_status px_h5_dataset_shape(px_h5_file *f, const char *path, px_shape *out);
/* Reads a numeric dataset (float16/32/64 or any integer type) as a new float32
 * tensor. With `expect`, the shape must match (PX_UNKNOWN dims match anything),
 * else PX_ERR_SHAPE naming both shapes. */
px_status px_h5_read_tensor(px_h5_file *f, const char *path, const px_shape *expect, px_tensor **out);

/* A scalar int64 dataset (Keras's optimizer iteration counters); reading accepts any
 * numeric scalar (or one-element) dataset. */
px_status px_h5_write_int64(px_h5_file *f, const char *path, int64_t value);
px_status px_h5_read_int64(px_h5_file *f, const char *path, int64_t *out);

#endif
