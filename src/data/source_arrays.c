/* In-memory arrays as a source: float32, int32 or bytes, gathered by example
 * number into batches and converted there (bytes times their scale), so pixels
 * can stay one byte each in memory; read in order without conversion, they
 * are viewed in place. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/source_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct arrays_source {
    px_source base;
    px_array x[PX_SOURCE_MAX_ARRAYS], y[PX_SOURCE_MAX_ARRAYS];
    size_t x_row[PX_SOURCE_MAX_ARRAYS], y_row[PX_SOURCE_MAX_ARRAYS]; /* values per example */
    const float *weights;
} arrays_source;

static size_t elem_size(px_elem_type t) { return t == PX_ELEM_U8 ? 1 : 4; }

/* Shuffled examples lie at random places in a large array, where the hardware
 * prefetcher cannot follow: without this each row's cache lines were fetched
 * on demand (8.8 % of an SGD batch-32 epoch on bytes, nearly all of it waiting
 * on loads). Rows this far ahead are requested while the current one converts. */
enum { PREFETCH_ROWS = 2 };

static void prefetch_row(const char *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o);
}

/* Below this many values a batch is gathered on one thread: starting the team
 * costs more than the copy (the MLP's batch of 32 rows of 784 stays serial; the
 * ConvNet's 64 such rows, 200 KB, take half the time on two threads). */
enum { PARALLEL_MIN_VALUES = 32768 };

/* Rows [lo, hi) of idx into dst's rows; the first row whose conversion
 * failed, or -1. */
static int64_t gather_rows(const char *src, size_t per, size_t es, const int64_t *idx, int64_t lo, int64_t hi,
                           char *out, px_dtype dt, px_elem_type st, float scale, bool same) {
    size_t db = per * 4;
    for (int64_t i = lo; i < lo + PREFETCH_ROWS && i < hi; i++) prefetch_row(src + (size_t)idx[i] * per * es, per * es);
    for (int64_t i = lo; i < hi; i++) {
        const char *row = src + (size_t)idx[i] * per * es;
        if (i + PREFETCH_ROWS < hi) prefetch_row(src + (size_t)idx[i + PREFETCH_ROWS] * per * es, per * es);
        if (same) memcpy(out + (size_t)i * db, row, db);
        else if (px_copy_values(out + (size_t)i * db, dt, row, st, (int64_t)per, scale) >= 0) return i;
    }
    return -1;
}

/* One array's examples idx[0..n) into rows of dst; large batches on the
 * threads, in row ranges (a copy: the same values at any thread count). */
static px_status gather(const px_array *a, size_t per, const int64_t *idx, int64_t n, px_tensor *dst,
                        const char *what, int k) {
    size_t es = elem_size(a->type);
    float scale = a->scale != 0 ? a->scale : 1.0f;
    const char *src = a->data;
    char *out = dst->data;
    /* the common case: nothing to convert, one memcpy per example */
    bool same = scale == 1.0f && ((a->type == PX_ELEM_F32 && dst->dtype == PX_F32) ||
                                  (a->type == PX_ELEM_I32 && dst->dtype == PX_I32));
    int64_t bad_row = -1;
    if ((int64_t)per * n < PARALLEL_MIN_VALUES) {
        bad_row = gather_rows(src, per, es, idx, 0, n, out, dst->dtype, a->type, scale, same);
    } else {
        int64_t first_bad = n;
#ifdef _OPENMP
#pragma omp parallel reduction(min : first_bad)
#endif
        {
            int64_t lo = 0, hi = n;
#ifdef _OPENMP
            int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            lo = n * t / nt, hi = n * (t + 1) / nt;
#endif
            int64_t b = gather_rows(src, per, es, idx, lo, hi, out, dst->dtype, a->type, scale, same);
            if (b >= 0) first_bad = b;
        }
        bad_row = first_bad < n ? first_bad : -1;
    }
    if (bad_row >= 0) {
        const char *row = src + (size_t)idx[bad_row] * per * es;
        int64_t bad = px_copy_values(out + (size_t)bad_row * per * 4, dst->dtype, row, a->type, (int64_t)per, scale);
        return px_set_error(PX_ERR_ARG, "%s %d: example %lld holds %g at position %lld; class labels must be integers "
                            "in the int32 range", what, k, (long long)idx[bad_row],
                            (double)((const float *)row)[bad], (long long)bad);
    }
    return PX_OK;
}

static px_status arrays_read(px_source *s, const int64_t *idx, int64_t n, const px_batch *dst) {
    arrays_source *a = (arrays_source *)s;
    for (int i = 0; i < dst->n_x; i++) {
        px_tensor t = dst->x[i];
        if (gather(&a->x[i], a->x_row[i], idx, n, &t, "input", i) != PX_OK) return px_last_status();
    }
    for (int i = 0; i < dst->n_y && i < s->spec.n_y; i++) {
        px_tensor t = dst->y[i];
        if (gather(&a->y[i], a->y_row[i], idx, n, &t, "target", i) != PX_OK) return px_last_status();
    }
    if (dst->weights)
        for (int64_t i = 0; i < n; i++) dst->weights[i] = a->weights ? a->weights[idx[i]] : 1.0f;
    return PX_OK;
}

/* A view of rows [start, start + n) of an array that needs no conversion. */
static bool view_of(const px_array *a, size_t per, px_dtype want, int64_t start, int64_t n, const px_tensor *like,
                    px_tensor *out) {
    bool same = (a->scale == 0 || a->scale == 1.0f) && ((a->type == PX_ELEM_F32 && want == PX_F32) ||
                                                        (a->type == PX_ELEM_I32 && want == PX_I32));
    if (!same) return false;
    *out = *like;
    out->storage = NULL;
    out->shape[0] = n;
    out->data = (char *)a->data + (size_t)start * per * 4;
    return true;
}

static bool arrays_view(const px_source *s, int64_t start, int64_t n, const px_batch *want, px_batch *out) {
    const arrays_source *a = (const arrays_source *)s;
    *out = *want;
    out->rows = n;
    for (int i = 0; i < want->n_x; i++)
        if (!view_of(&a->x[i], a->x_row[i], want->x[i].dtype, start, n, &want->x[i], &out->x[i])) return false;
    for (int i = 0; i < want->n_y; i++)
        if (!view_of(&a->y[i], a->y_row[i], want->y[i].dtype, start, n, &want->y[i], &out->y[i])) return false;
    /* weights: the stored ones in place, or the caller's buffer (of ones) */
    if (want->weights && a->weights) out->weights = (float *)a->weights + start;
    return true;
}

static void arrays_destroy(px_source *s) {
    arrays_source *a = (arrays_source *)s;
    for (int i = 0; i < s->spec.n_x; i++)
        if (a->x[i].owned) free((void *)a->x[i].data);
    for (int i = 0; i < s->spec.n_y; i++)
        if (a->y[i].owned) free((void *)a->y[i].data);
}

static const px_source_ops arrays_ops = {
    .name = "arrays", .read = arrays_read, .view = arrays_view, .destroy = arrays_destroy};

static void free_owned(const px_array *x, int n_x, const px_array *y, int n_y) {
    for (int i = 0; x && i < n_x; i++)
        if (x[i].owned) free((void *)x[i].data);
    for (int i = 0; y && i < n_y; i++)
        if (y[i].owned) free((void *)y[i].data);
}

px_source *px_source_arrays(const px_array *x, int n_x, const px_array *y, int n_y, const float *sample_weight) {
    char sb[96];
    const char *who = "arrays";
    if (!x || n_x < 1 || n_x > PX_SOURCE_MAX_ARRAYS || n_y < 0 || n_y > PX_SOURCE_MAX_ARRAYS || (n_y && !y)) {
        px_set_error(PX_ERR_ARG, "%s: %d input and %d target arrays (1 to %d inputs, 0 to %d targets)", who, n_x, n_y,
                     PX_SOURCE_MAX_ARRAYS, PX_SOURCE_MAX_ARRAYS);
        free_owned(x, x && n_x <= PX_SOURCE_MAX_ARRAYS ? n_x : 0, y, y && n_y <= PX_SOURCE_MAX_ARRAYS ? n_y : 0);
        return NULL;
    }
    int64_t n = x[0].shape.rank > 0 ? x[0].shape.dim[0] : -1;
    for (int i = 0; i < n_x + n_y; i++) {
        const px_array *a = i < n_x ? &x[i] : &y[i - n_x];
        const char *what = i < n_x ? "input" : "target";
        int k = i < n_x ? i : i - n_x;
        px_status st = PX_OK;
        if (!a->data && a->shape.rank > 0 && px_shape_size(a->shape) > 0)
            st = px_set_error(PX_ERR_ARG, "%s: %s %d has no data", who, what, k);
        else if (a->type != PX_ELEM_F32 && a->type != PX_ELEM_I32 && a->type != PX_ELEM_U8)
            st = px_set_error(PX_ERR_ARG, "%s: %s %d has an unknown element type %d", who, what, k, (int)a->type);
        else if (a->shape.rank < 1 || a->shape.rank > PX_MAX_RANK || px_shape_size(a->shape) < 0)
            st = px_set_error(PX_ERR_SHAPE, "%s: %s %d has shape %s; it needs a first axis of examples", who, what, k,
                              a->shape.rank >= 0 && a->shape.rank <= PX_MAX_RANK ? px_shape_format(a->shape, sb, sizeof sb)
                                                                               : "(bad rank)");
        else if (a->shape.dim[0] != n)
            st = px_set_error(PX_ERR_SHAPE, "%s: %s %d has %lld examples but input 0 has %lld", who, what, k,
                              (long long)a->shape.dim[0], (long long)n);
        else if (!(a->scale == 0 || isfinite(a->scale)))
            st = px_set_error(PX_ERR_ARG, "%s: %s %d has the scale %g; it must be finite", who, what, k, a->scale);
        if (st) {
            free_owned(x, n_x, y, n_y);
            return NULL;
        }
    }
    arrays_source *a = (arrays_source *)px_source_alloc(sizeof *a, &arrays_ops, who);
    if (!a) {
        free_owned(x, n_x, y, n_y);
        return NULL;
    }
    px_source *s = &a->base;
    s->spec.n_x = n_x;
    s->spec.n_y = n_y;
    s->spec.weights = sample_weight != NULL;
    s->size = n;
    for (int i = 0; i < n_x + n_y; i++) {
        bool is_x = i < n_x;
        int k = is_x ? i : i - n_x;
        const px_array *src = is_x ? &x[k] : &y[k];
        px_shape per = {.rank = src->shape.rank - 1};
        for (int d = 1; d < src->shape.rank; d++) per.dim[d - 1] = src->shape.dim[d];
        /* features are float32 whatever they are stored as; targets stored as whole
         * numbers are class labels */
        px_dtype dt = is_x || src->type == PX_ELEM_F32 ? PX_F32 : PX_I32;
        if (is_x) a->x[k] = *src, a->x_row[k] = (size_t)px_shape_size(per), s->spec.x[k] = per, s->spec.x_dtype[k] = dt;
        else a->y[k] = *src, a->y_row[k] = (size_t)px_shape_size(per), s->spec.y[k] = per, s->spec.y_dtype[k] = dt;
    }
    a->weights = sample_weight;
    return s;
}

px_source *px_source_dataset(const px_dataset *d) {
    if (!d || !d->x) {
        px_set_error(PX_ERR_ARG, "dataset: NULL or without inputs");
        return NULL;
    }
    px_array ax[1], ay[1];
    const px_tensor *t[2] = {d->x, d->y};
    for (int k = 0; k < 2 && t[k]; k++) {
        if (!px_tensor_is_contiguous(t[k])) {
            px_set_error(PX_ERR_ARG, "dataset: its %s is a strided view; copy it first", k ? "y" : "x");
            return NULL;
        }
        (k ? ay : ax)[0] = (px_array){t[k]->dtype == PX_F32 ? PX_ELEM_F32 : PX_ELEM_I32, px_tensor_shape(t[k]),
                                      t[k]->data, 0, false};
    }
    return px_source_arrays(ax, 1, ay, d->y ? 1 : 0, NULL);
}
