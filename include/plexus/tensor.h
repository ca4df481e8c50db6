/* Tensors: float32 or int32 arrays of rank 0..8 with shape and strides, owning
 * their storage or viewing another tensor's. */
#ifndef PLEXUS_TENSOR_H
#define PLEXUS_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "export.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PX_MAX_RANK 8

/* A dimension not known while a graph is built (Keras's None), e.g. the batch. */
#define PX_UNKNOWN (-1)

typedef enum px_dtype { PX_F32 = 0, PX_I32 = 1 } px_dtype;

typedef struct px_shape {
    int rank;
    int64_t dim[PX_MAX_RANK];
} px_shape;

#define PX_NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, N, ...) N
#define PX_NARGS(...) PX_NARGS_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
/* PX_SHAPE(32, 784) is the shape (32, 784); PX_SCALAR is the shape of rank 0. */
#define PX_SHAPE(...) ((px_shape){.rank = PX_NARGS(__VA_ARGS__), .dim = {__VA_ARGS__}})
#define PX_SCALAR ((px_shape){.rank = 0})

/* Number of elements of a shape (1 for rank 0; negative if a dimension is unknown). */
PX_API int64_t px_shape_size(px_shape s);
PX_API bool px_shape_equal(px_shape a, px_shape b);
/* Writes "(32, 784)" into buf (always NUL-terminated) and returns buf. */
PX_API char *px_shape_format(px_shape s, char *buf, size_t len);

typedef struct px_storage px_storage;

/* A tensor. Heap tensors come from the px_tensor_* constructors and are released
 * with px_tensor_free. A tensor struct may also live on the stack as a view of
 * borrowed memory (storage == NULL). Strides are counted in elements. */
typedef struct px_tensor {
    px_dtype dtype;
    int rank;
    int64_t shape[PX_MAX_RANK];
    int64_t strides[PX_MAX_RANK];
    void *data;          /* first element */
    px_storage *storage; /* reference-counted owner of data, NULL when borrowed */
} px_tensor;

/* ---- creation: each returns a new tensor owned by the caller, or NULL with an error set ---- */
PX_API px_tensor *px_tensor_new(px_dtype dtype, px_shape shape); /* zero-filled */
PX_API px_tensor *px_tensor_zeros(px_shape shape);
PX_API px_tensor *px_tensor_ones(px_shape shape);
PX_API px_tensor *px_tensor_fill(px_shape shape, float value);
PX_API px_tensor *px_tensor_scalar(float value);
/* Copies `count` floats from `values`; count must equal the size of the shape. */
PX_API px_tensor *px_tensor_from_array(px_shape shape, const float *values, int64_t count);
PX_API px_tensor *px_tensor_from_int_array(px_shape shape, const int32_t *values, int64_t count);
/* 1-D tensor start, start+step, ... below stop (or above, for a negative step). */
PX_API px_tensor *px_tensor_arange(float start, float stop, float step);
struct px_rng;
PX_API px_tensor *px_tensor_random_normal(px_shape shape, float mean, float stddev, struct px_rng *rng);
PX_API px_tensor *px_tensor_random_uniform(px_shape shape, float low, float high, struct px_rng *rng);
/* Wraps caller memory without copying; the caller keeps it alive and frees it. */
PX_API px_tensor *px_tensor_wrap(px_dtype dtype, px_shape shape, void *data);

/* A Python slice start:stop:step of one axis. Negative start and stop count from the
 * end of the axis; PX_END stands for an omitted bound (Python's None: from the first
 * element in the step's direction, to the end in that direction); step 0 means 1.
 * Bounds past the axis are clipped, as Python clips them. */
typedef struct px_range {
    int64_t start, stop, step;
} px_range;
#define PX_END INT64_MAX
#define PX_ALL ((px_range){PX_END, PX_END, 1})                  /* x[:] */
#define PX_RANGE(a, b) ((px_range){(a), (b), 1})                /* x[a:b] */
#define PX_RANGE_STEP(a, b, s) ((px_range){(a), (b), (s)})     /* x[a:b:s] */
#define PX_INDEX_RANGE(i) ((px_range){(i), (i) == -1 ? PX_END : (i) + 1, 1}) /* x[i:i+1] */

/* ---- views: share storage with `t` (which stays valid independently) ---- */
/* Same elements in a new shape; `t` must be contiguous. One dimension may be -1 (inferred). */
PX_API px_tensor *px_tensor_reshape(const px_tensor *t, px_shape shape);
/* Rows [start, stop) along the first axis. */
PX_API px_tensor *px_tensor_slice(const px_tensor *t, int64_t start, int64_t stop);
/* Axes permuted: new axis i is old axis perm[i] (a strided view, not contiguous). */
PX_API px_tensor *px_tensor_permute(const px_tensor *t, const int *perm);
/* NumPy's t[r0, r1, ...] for ranges of the first n axes (the others whole), as a
 * strided view: px_tensor_view_ranges(x, (px_range[]){PX_ALL, PX_RANGE(2, 5)}, 2) is
 * x[:, 2:5]. fit and evaluate take such views; px_tensor_copy makes one contiguous. */
PX_API px_tensor *px_tensor_view_ranges(const px_tensor *t, const px_range *ranges, int n);
/* NumPy's take(t, indices, axis): a new contiguous tensor whose `axis` holds the
 * entries indices[0..n) (negative ones count from the end) of t's. */
PX_API px_tensor *px_tensor_gather(const px_tensor *t, int axis, const int64_t *indices, int64_t n);

/* A contiguous copy with its own storage. */
PX_API px_tensor *px_tensor_copy(const px_tensor *t);
/* Copies the elements of src into dst (same shape and dtype; any strides). */
PX_API px_status px_tensor_copy_into(px_tensor *dst, const px_tensor *src);

PX_API void px_tensor_free(px_tensor *t); /* NULL is fine */

/* ---- queries ---- */
PX_API px_shape px_tensor_shape(const px_tensor *t);
PX_API int64_t px_tensor_size(const px_tensor *t);
PX_API bool px_tensor_is_contiguous(const px_tensor *t);
static inline float *px_tensor_f32(const px_tensor *t) { return (float *)t->data; }
static inline int32_t *px_tensor_i32(const px_tensor *t) { return (int32_t *)t->data; }
/* Element at a multi-index (as float; int32 tensors are converted). */
PX_API float px_tensor_get(const px_tensor *t, const int64_t *index);
/* Element by flat row-major position (any strides). */
PX_API float px_tensor_get_flat(const px_tensor *t, int64_t i);
PX_API void px_tensor_set_flat(px_tensor *t, int64_t i, float v);

/* True when shapes are equal and every pair of elements satisfies
 * |a - b| <= atol + rtol * |b| (NaNs are never close). */
PX_API bool px_tensor_allclose(const px_tensor *a, const px_tensor *b, float rtol, float atol);
/* True when shapes, dtypes and all elements are exactly equal. */
PX_API bool px_tensor_equal(const px_tensor *a, const px_tensor *b);

/* Prints shape and values, abbreviating with "..." beyond 6 entries per axis. */
PX_API void px_tensor_print(const px_tensor *t, FILE *out);
/* Same text into buf (truncated to len, always NUL-terminated); returns buf. */
PX_API char *px_tensor_format(const px_tensor *t, char *buf, size_t len);

/* ---- memory limit ----
 * Allocations of 16 MiB or more (tensors, weights, session arenas, optimizer
 * state, data read from files) are checked against a limit first, so a request
 * the machine cannot hold (a Dense layer of 2^30 units) fails with PX_ERR_NOMEM
 * naming what and how many bytes, instead of the process being killed by the
 * out-of-memory killer. The limit is, in this order: px_set_memory_limit's value,
 * the environment variable PX_MAX_MEMORY (bytes, or with a K, M, G or T suffix:
 * "64G"), or the memory available at the time of the request (Linux:
 * MemAvailable plus free swap, within the cgroup's memory.max). */
PX_API void px_set_memory_limit(uint64_t bytes); /* 0: back to PX_MAX_MEMORY or what is available */
PX_API uint64_t px_memory_limit(void);

#ifdef __cplusplus
}
#endif
#endif
