/* Tensor objects: creation, views (reshape, rows, ranges of any axes, permutations),
 * copies, gathers, comparison and printing. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/shape.h"
#include "plexus/rng.h"
#include "plexus/tensor.h"

/* random_normal/uniform compute mean + stddev * x: a fused multiply-add there
 * would make the same seed give different tensors on different machines (GCC
 * does not contract in ISO C mode; clang does unless told not to). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* Largest element count whose byte size fits in both int64_t and size_t, so
 * sizes can be multiplied out without overflow (which is undefined behaviour). */
#define MAX_ELEMENTS ((int64_t)((SIZE_MAX < (uint64_t)INT64_MAX ? SIZE_MAX : INT64_MAX) / 4))

struct px_storage {
    void *ptr;
    int refs;
};

static px_status check_shape(const char *what, px_shape shape) {
    if (shape.rank < 0 || shape.rank > PX_MAX_RANK)
        return px_set_error(PX_ERR_ARG, "%s: rank %d is outside 0..%d", what, shape.rank,
                            PX_MAX_RANK);
    for (int i = 0; i < shape.rank; i++)
        if (shape.dim[i] < 0)
            return px_set_error(PX_ERR_ARG, "%s: dimension %d is %lld; sizes must be >= 0", what,
                                i, (long long)shape.dim[i]);
    /* Zero dimensions are skipped: sizes are multiplied out left to right
     * elsewhere, so (0, 2^40, 2^40) would overflow there before reaching 0. */
    int64_t n = 1;
    for (int i = 0; i < shape.rank; i++) {
        int64_t d = shape.dim[i] ? shape.dim[i] : 1;
        if (n > MAX_ELEMENTS / d) {
            char sb[96];
            return px_set_error(PX_ERR_NOMEM, "%s: out of memory for shape %s (more elements than "
                                "memory can address)", what, px_shape_format(shape, sb, sizeof sb));
        }
        n *= d;
    }
    return PX_OK;
}

static void set_contiguous_strides(px_tensor *t) {
    int64_t s = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        t->strides[i] = s;
        s *= t->shape[i];
    }
}

static px_tensor *tensor_header(px_dtype dtype, px_shape shape) {
    px_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        px_set_error(PX_ERR_NOMEM, "tensor: out of memory for a tensor header");
        return NULL;
    }
    t->dtype = dtype;
    t->rank = shape.rank;
    for (int i = 0; i < shape.rank; i++) t->shape[i] = shape.dim[i];
    set_contiguous_strides(t);
    return t;
}

px_tensor *px_tensor_new(px_dtype dtype, px_shape shape) {
    if (check_shape("tensor", shape) != PX_OK) return NULL;
    if (dtype != PX_F32 && dtype != PX_I32) {
        px_set_error(PX_ERR_ARG, "tensor: unknown dtype %d", (int)dtype);
        return NULL;
    }
    px_tensor *t = tensor_header(dtype, shape);
    if (!t) return NULL;
    int64_t n = px_shape_size(shape);
    char sb[96] = "", what[160];
    if ((uint64_t)n * 4 >= PX_MEMORY_CHECK_MIN) { /* the message costs an snprintf: only for large ones */
        snprintf(what, sizeof what, "tensor: out of memory for shape %s: it", px_shape_format(shape, sb, sizeof sb));
        if (px_memory_check((uint64_t)n * 4, what) != PX_OK) {
            free(t);
            return NULL;
        }
    }
    t->storage = malloc(sizeof *t->storage);
    void *p = px_aligned_calloc((size_t)n * 4);
    if (!t->storage || !p) {
        free(t->storage);
        px_aligned_free(p);
        free(t);
        px_set_error(PX_ERR_NOMEM, "tensor: out of memory for shape %s (%lld bytes)", px_shape_format(shape, sb, sizeof sb),
                     (long long)n * 4);
        return NULL;
    }
    t->storage->ptr = p;
    t->storage->refs = 1;
    t->data = p;
    return t;
}

px_tensor *px_tensor_zeros(px_shape shape) { return px_tensor_new(PX_F32, shape); }

px_tensor *px_tensor_fill(px_shape shape, float value) {
    px_tensor *t = px_tensor_new(PX_F32, shape);
    if (!t) return NULL;
    float *d = t->data;
    int64_t n = px_shape_size(shape);
    for (int64_t i = 0; i < n; i++) d[i] = value;
    return t;
}

px_tensor *px_tensor_ones(px_shape shape) { return px_tensor_fill(shape, 1.0f); }

px_tensor *px_tensor_scalar(float value) { return px_tensor_fill(PX_SCALAR, value); }

static px_tensor *from_array(px_dtype dtype, px_shape shape, const void *values, int64_t count) {
    if (check_shape("tensor_from_array", shape) != PX_OK) return NULL;
    if (!values && count > 0) {
        px_set_error(PX_ERR_ARG, "tensor_from_array: values is NULL");
        return NULL;
    }
    if (count != px_shape_size(shape)) {
        char sb[96];
        px_set_error(PX_ERR_SHAPE, "tensor_from_array: %lld values given for shape %s (%lld needed)",
                     (long long)count, px_shape_format(shape, sb, sizeof sb),
                     (long long)px_shape_size(shape));
        return NULL;
    }
    px_tensor *t = px_tensor_new(dtype, shape);
    if (t && count) memcpy(t->data, values, (size_t)count * 4);
    return t;
}

px_tensor *px_tensor_from_array(px_shape shape, const float *values, int64_t count) {
    return from_array(PX_F32, shape, values, count);
}

px_tensor *px_tensor_from_int_array(px_shape shape, const int32_t *values, int64_t count) {
    return from_array(PX_I32, shape, values, count);
}

px_tensor *px_tensor_arange(float start, float stop, float step) {
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        px_set_error(PX_ERR_ARG, "arange: start %g, stop %g, step %g: step must be non-zero and all finite",
                     start, stop, step);
        return NULL;
    }
    double n = ceil(((double)stop - start) / step);
    if (n < 0) n = 0;
    if (n > (double)MAX_ELEMENTS) { /* converting it to int64_t would be undefined */
        px_set_error(PX_ERR_NOMEM, "arange: start %g, stop %g, step %g: out of memory for %g elements",
                     start, stop, step, n);
        return NULL;
    }
    px_tensor *t = px_tensor_zeros(PX_SHAPE((int64_t)n));
    if (!t) return NULL;
    float *d = t->data;
    for (int64_t i = 0; i < (int64_t)n; i++) d[i] = (float)(start + (double)i * step);
    return t;
}

px_tensor *px_tensor_random_normal(px_shape shape, float mean, float stddev, px_rng *rng) {
    if (!rng) {
        px_set_error(PX_ERR_ARG, "random_normal: rng is NULL");
        return NULL;
    }
    px_tensor *t = px_tensor_zeros(shape);
    if (!t) return NULL;
    float *d = t->data;
    for (int64_t i = 0, n = px_shape_size(shape); i < n; i++) d[i] = mean + stddev * px_rng_normal(rng);
    return t;
}

px_tensor *px_tensor_random_uniform(px_shape shape, float low, float high, px_rng *rng) {
    if (!rng) {
        px_set_error(PX_ERR_ARG, "random_uniform: rng is NULL");
        return NULL;
    }
    px_tensor *t = px_tensor_zeros(shape);
    if (!t) return NULL;
    float *d = t->data;
    for (int64_t i = 0, n = px_shape_size(shape); i < n; i++)
        d[i] = low + (high - low) * px_rng_uniform(rng);
    return t;
}

px_tensor *px_tensor_wrap(px_dtype dtype, px_shape shape, void *data) {
    if (check_shape("tensor_wrap", shape) != PX_OK) return NULL;
    if (!data && px_shape_size(shape) > 0) {
        px_set_error(PX_ERR_ARG, "tensor_wrap: data is NULL");
        return NULL;
    }
    if (dtype != PX_F32 && dtype != PX_I32) {
        px_set_error(PX_ERR_ARG, "tensor_wrap: unknown dtype %d", (int)dtype);
        return NULL;
    }
    px_tensor *t = tensor_header(dtype, shape);
    if (t) t->data = data;
    return t;
}

static px_tensor *view_of(const px_tensor *t) {
    px_tensor *v = malloc(sizeof *v);
    if (!v) {
        px_set_error(PX_ERR_NOMEM, "tensor view: out of memory");
        return NULL;
    }
    *v = *t;
    if (v->storage) v->storage->refs++;
    return v;
}

bool px_tensor_is_contiguous(const px_tensor *t) {
    if (!t) return px_set_error(PX_ERR_ARG, "px_tensor_is_contiguous: tensor is NULL"), false;
    int64_t s = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->strides[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

px_tensor *px_tensor_reshape(const px_tensor *t, px_shape shape) {
    if (!t) {
        px_set_error(PX_ERR_ARG, "reshape: tensor is NULL");
        return NULL;
    }
    if (!px_tensor_is_contiguous(t)) {
        px_set_error(PX_ERR_ARG, "reshape: the tensor is a strided view; copy it first");
        return NULL;
    }
    int64_t n = px_tensor_size(t);
    int infer = -1;
    if (shape.rank < 0 || shape.rank > PX_MAX_RANK) {
        px_set_error(PX_ERR_ARG, "reshape: rank %d is outside 0..%d", shape.rank, PX_MAX_RANK);
        return NULL;
    }
    for (int i = 0; i < shape.rank; i++) {
        if (shape.dim[i] == -1 && infer < 0) infer = i;
        else if (shape.dim[i] < 0) {
            px_set_error(PX_ERR_ARG, "reshape: dimension %d is %lld (only one -1 is allowed)", i,
                         (long long)shape.dim[i]);
            return NULL;
        }
    }
    px_shape fixed = shape; /* the target without its inferred dimension */
    if (infer >= 0) fixed.dim[infer] = 1;
    if (check_shape("reshape", fixed) != PX_OK) return NULL;
    int64_t known = px_shape_size(fixed);
    if (infer >= 0 && known > 0 && n % known == 0) shape.dim[infer] = n / known;
    if (px_shape_size(shape) != n) {
        char sa[96], sb[96];
        px_set_error(PX_ERR_SHAPE, "reshape: cannot reshape %s (%lld elements) into %s",
                     px_shape_format(px_tensor_shape(t), sa, sizeof sa), (long long)n,
                     px_shape_format(shape, sb, sizeof sb));
        return NULL;
    }
    px_tensor *v = view_of(t);
    if (!v) return NULL;
    v->rank = shape.rank;
    for (int i = 0; i < shape.rank; i++) v->shape[i] = shape.dim[i];
    set_contiguous_strides(v);
    return v;
}

px_tensor *px_tensor_slice(const px_tensor *t, int64_t start, int64_t stop) {
    if (!t || t->rank < 1) {
        px_set_error(PX_ERR_ARG, "slice: needs a tensor of rank >= 1");
        return NULL;
    }
    if (start < 0 || stop < start || stop > t->shape[0]) {
        px_set_error(PX_ERR_ARG, "slice: rows [%lld, %lld) are outside [0, %lld)", (long long)start,
                     (long long)stop, (long long)t->shape[0]);
        return NULL;
    }
    px_tensor *v = view_of(t);
    if (!v) return NULL;
    v->shape[0] = stop - start;
    v->data = (char *)t->data + (size_t)(start * t->strides[0]) * 4;
    return v;
}

px_tensor *px_tensor_permute(const px_tensor *t, const int *perm) {
    if (!t || !perm) {
        px_set_error(PX_ERR_ARG, "permute: tensor or perm is NULL");
        return NULL;
    }
    int seen[PX_MAX_RANK] = {0};
    for (int i = 0; i < t->rank; i++) {
        if (perm[i] < 0 || perm[i] >= t->rank || seen[perm[i]]++) {
            px_set_error(PX_ERR_ARG, "permute: perm is not a permutation of 0..%d", t->rank - 1);
            return NULL;
        }
    }
    px_tensor *v = view_of(t);
    if (!v) return NULL;
    for (int i = 0; i < t->rank; i++) {
        v->shape[i] = t->shape[perm[i]];
        v->strides[i] = t->strides[perm[i]];
    }
    return v;
}

px_tensor *px_tensor_view_ranges(const px_tensor *t, const px_range *ranges, int n) {
    if (!t || (n > 0 && !ranges)) {
        px_set_error(PX_ERR_ARG, "view_ranges: tensor or ranges is NULL");
        return NULL;
    }
    if (n < 0 || n > t->rank) {
        px_set_error(PX_ERR_ARG, "view_ranges: %d ranges for a tensor of rank %d", n, t->rank);
        return NULL;
    }
    px_tensor *v = view_of(t);
    if (!v) return NULL;
    int64_t offset = 0;
    for (int i = 0; i < n; i++) {
        int64_t start, step, count;
        px_range_resolve(ranges[i], t->shape[i], &start, &step, &count);
        /* an empty range keeps the data pointer where it is: start may be one past the end */
        if (count > 0) offset += start * t->strides[i];
        v->shape[i] = count;
        v->strides[i] = t->strides[i] * step;
    }
    v->data = (char *)t->data + offset * 4;
    return v;
}

px_tensor *px_tensor_gather(const px_tensor *t, int axis, const int64_t *indices, int64_t n) {
    if (!t || (n > 0 && !indices) || n < 0) {
        px_set_error(PX_ERR_ARG, "gather: tensor or indices is NULL, or the count is negative");
        return NULL;
    }
    int ax;
    if (px_normalize_axis("gather", axis, t->rank, &ax) != PX_OK) return NULL;
    int64_t dim = t->shape[ax];
    for (int64_t i = 0; i < n; i++)
        if (indices[i] < -dim || indices[i] >= dim) {
            px_set_error(PX_ERR_ARG, "gather: index %lld (position %lld) is outside an axis of %lld",
                         (long long)indices[i], (long long)i, (long long)dim);
            return NULL;
        }
    px_shape shape = px_tensor_shape(t);
    shape.dim[ax] = n;
    px_tensor *out = px_tensor_new(t->dtype, shape);
    if (!out) return NULL;
    /* one strided view per index, copied into its slot: the copies do the striding */
    px_tensor src = *t, dst = *out;
    src.shape[ax] = dst.shape[ax] = 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = indices[i] < 0 ? indices[i] + dim : indices[i];
        src.data = (char *)t->data + k * t->strides[ax] * 4;
        dst.data = (char *)out->data + i * out->strides[ax] * 4;
        px_tensor_copy_into(&dst, &src);
    }
    return out;
}

/* Offset in elements of flat row-major position i. */
static int64_t flat_offset(const px_tensor *t, int64_t i) {
    int64_t off = 0;
    for (int d = t->rank - 1; d >= 0; d--) {
        int64_t n = t->shape[d];
        off += (i % n) * t->strides[d];
        i /= n;
    }
    return off;
}

px_status px_tensor_copy_into(px_tensor *dst, const px_tensor *src) {
    if (!dst || !src) return px_set_error(PX_ERR_ARG, "copy: tensor is NULL");
    if (!px_shape_equal(px_tensor_shape(dst), px_tensor_shape(src)) || dst->dtype != src->dtype) {
        char sa[96], sb[96];
        return px_set_error(PX_ERR_SHAPE, "copy: destination %s and source %s differ in shape or dtype",
                            px_shape_format(px_tensor_shape(dst), sa, sizeof sa),
                            px_shape_format(px_tensor_shape(src), sb, sizeof sb));
    }
    int64_t n = px_tensor_size(src);
    if (px_tensor_is_contiguous(dst) && px_tensor_is_contiguous(src)) {
        if (n) memmove(dst->data, src->data, (size_t)n * 4);
        return PX_OK;
    }
    const uint32_t *s = src->data;
    uint32_t *d = dst->data;
    for (int64_t i = 0; i < n; i++) d[flat_offset(dst, i)] = s[flat_offset(src, i)];
    return PX_OK;
}

px_tensor *px_tensor_copy(const px_tensor *t) {
    if (!t) {
        px_set_error(PX_ERR_ARG, "copy: tensor is NULL");
        return NULL;
    }
    px_tensor *c = px_tensor_new(t->dtype, px_tensor_shape(t));
    if (c && px_tensor_copy_into(c, t) != PX_OK) {
        px_tensor_free(c);
        return NULL;
    }
    return c;
}

void px_tensor_free(px_tensor *t) {
    if (!t) return;
    if (t->storage && --t->storage->refs == 0) {
        px_aligned_free(t->storage->ptr);
        free(t->storage);
    }
    free(t);
}

px_shape px_tensor_shape(const px_tensor *t) {
    if (!t) return px_set_error(PX_ERR_ARG, "px_tensor_shape: tensor is NULL"), (px_shape){0};
    px_shape s = {.rank = t->rank};
    for (int i = 0; i < t->rank; i++) s.dim[i] = t->shape[i];
    return s;
}

int64_t px_tensor_size(const px_tensor *t) {
    if (!t) return px_set_error(PX_ERR_ARG, "px_tensor_size: tensor is NULL"), 0;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

/* NaN (get) or nothing (set), with the error set, for no tensor or a position outside it. */
static bool flat_ok(const px_tensor *t, int64_t i, const char *fn) {
    if (!t) return px_set_error(PX_ERR_ARG, "%s: tensor is NULL", fn), false;
    int64_t n = px_tensor_size(t);
    if (i < 0 || i >= n) return px_set_error(PX_ERR_ARG, "%s: position %lld is outside [0, %lld)", fn, (long long)i, (long long)n), false;
    return true;
}

float px_tensor_get_flat(const px_tensor *t, int64_t i) {
    if (!flat_ok(t, i, "px_tensor_get_flat")) return NAN;
    int64_t off = flat_offset(t, i);
    return t->dtype == PX_I32 ? (float)((const int32_t *)t->data)[off] : ((const float *)t->data)[off];
}

void px_tensor_set_flat(px_tensor *t, int64_t i, float v) {
    if (!flat_ok(t, i, "px_tensor_set_flat")) return;
    int64_t off = flat_offset(t, i);
    if (t->dtype == PX_I32) ((int32_t *)t->data)[off] = (int32_t)v;
    else ((float *)t->data)[off] = v;
}

float px_tensor_get(const px_tensor *t, const int64_t *index) {
    if (!t || (!index && t->rank > 0)) return px_set_error(PX_ERR_ARG, "px_tensor_get: tensor or index is NULL"), NAN;
    int64_t off = 0;
    for (int d = 0; d < t->rank; d++) {
        if (index[d] < 0 || index[d] >= t->shape[d])
            return px_set_error(PX_ERR_ARG, "px_tensor_get: index %lld of axis %d is outside [0, %lld)", (long long)index[d], d,
                                (long long)t->shape[d]),
                   NAN;
        off += index[d] * t->strides[d];
    }
    return t->dtype == PX_I32 ? (float)((const int32_t *)t->data)[off] : ((const float *)t->data)[off];
}

bool px_tensor_allclose(const px_tensor *a, const px_tensor *b, float rtol, float atol) {
    if (!a || !b || !px_shape_equal(px_tensor_shape(a), px_tensor_shape(b))) return false;
    for (int64_t i = 0, n = px_tensor_size(a); i < n; i++) {
        float x = px_tensor_get_flat(a, i), y = px_tensor_get_flat(b, i);
        /* infinities are close only to themselves (as in NumPy): inf - inf is NaN,
         * and with rtol > 0 the tolerance against an infinite b would be infinite */
        if (x == y) continue;
        if (isinf(x) || isinf(y)) return false;
        if (!(fabsf(x - y) <= atol + rtol * fabsf(y))) return false;
    }
    return true;
}

bool px_tensor_equal(const px_tensor *a, const px_tensor *b) {
    if (!a || !b || a->dtype != b->dtype || !px_shape_equal(px_tensor_shape(a), px_tensor_shape(b)))
        return false;
    for (int64_t i = 0, n = px_tensor_size(a); i < n; i++)
        if (px_tensor_get_flat(a, i) != px_tensor_get_flat(b, i)) return false;
    return true;
}

/* A bounded string builder for the printer. */
typedef struct {
    char *buf;
    size_t len, used;
} text_out;

static void out_text(text_out *o, const char *s) {
    size_t n = strlen(s);
    if (o->used + 1 >= o->len) return;
    size_t room = o->len - 1 - o->used;
    if (n > room) n = room;
    memcpy(o->buf + o->used, s, n);
    o->used += n;
    o->buf[o->used] = '\0';
}

enum { PRINT_EDGE = 3 }; /* values shown at each end of an abbreviated axis */

static void format_axis(text_out *o, const px_tensor *t, int axis, int64_t offset, int indent) {
    char num[48];
    int64_t n = t->shape[axis];
    bool abbreviate = n > 2 * PRINT_EDGE;
    out_text(o, "[");
    for (int64_t i = 0; i < n; i++) {
        if (abbreviate && i == PRINT_EDGE) {
            out_text(o, axis == t->rank - 1 ? "..., " : "...,\n");
            if (axis != t->rank - 1)
                for (int k = 0; k <= indent; k++) out_text(o, " ");
            i = n - PRINT_EDGE;
        }
        int64_t off = offset + i * t->strides[axis];
        if (axis == t->rank - 1) {
            if (t->dtype == PX_I32) snprintf(num, sizeof num, "%d", ((const int32_t *)t->data)[off]);
            else snprintf(num, sizeof num, "%.6g", (double)((const float *)t->data)[off]);
            out_text(o, num);
            if (i + 1 < n) out_text(o, ", ");
        } else {
            format_axis(o, t, axis + 1, off, indent + 1);
            if (i + 1 < n) {
                out_text(o, ",\n");
                for (int k = 0; k <= indent; k++) out_text(o, " ");
            }
        }
    }
    out_text(o, "]");
}

char *px_tensor_format(const px_tensor *t, char *buf, size_t len) {
    text_out o = {buf, len, 0};
    if (!buf) return px_set_error(PX_ERR_ARG, "px_tensor_format: buf is NULL"), NULL;
    if (!len) return buf;
    buf[0] = '\0';
    if (!t) {
        out_text(&o, "tensor(NULL)");
        return buf;
    }
    char sb[96];
    out_text(&o, "tensor(shape=");
    out_text(&o, px_shape_format(px_tensor_shape(t), sb, sizeof sb));
    out_text(&o, t->dtype == PX_I32 ? ", dtype=int32, " : ", dtype=float32, ");
    if (t->rank == 0) {
        char num[48];
        if (t->dtype == PX_I32) snprintf(num, sizeof num, "%d", *(const int32_t *)t->data);
        else snprintf(num, sizeof num, "%.6g", (double)*(const float *)t->data);
        out_text(&o, num);
    } else {
        format_axis(&o, t, 0, 0, 7);
    }
    out_text(&o, ")");
    return buf;
}

void px_tensor_print(const px_tensor *t, FILE *out) {
    if (!out) {
        px_set_error(PX_ERR_ARG, "px_tensor_print: out is NULL");
        return;
    }
    char buf[16384];
    fprintf(out, "%s\n", px_tensor_format(t, buf, sizeof buf));
}
