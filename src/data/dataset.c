/* Datasets: inputs paired with labels or targets, and the row operations on them
 * (slicing, in-place shuffling, shuffled train/test splits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plexus/data.h"

/* Bytes of one example (all axes after the first). */
static size_t row_bytes(const px_tensor *t) {
    size_t n = 4;
    for (int i = 1; i < t->rank; i++) n *= (size_t)t->shape[i];
    return n;
}

static px_shape with_rows(const px_tensor *t, int64_t rows) {
    px_shape s = px_tensor_shape(t);
    s.dim[0] = rows;
    return s;
}

/* Replaces a strided view by a contiguous copy, so rows can be moved with memcpy. */
static px_tensor *contiguous(px_tensor *t) {
    if (!t || px_tensor_is_contiguous(t)) return t;
    px_tensor *c = px_tensor_copy(t);
    px_tensor_free(t);
    return c;
}

px_dataset *px_dataset_new(px_tensor *x, px_tensor *y) {
    char xs[96], ys[96];
    if (!x) {
        px_tensor_free(y);
        px_set_error(PX_ERR_ARG, "dataset: x is NULL");
        return NULL;
    }
    if (x->rank < 1 || (y && (y->rank < 1 || y->shape[0] != x->shape[0]))) {
        px_shape_format(px_tensor_shape(x), xs, sizeof xs);
        if (y) px_shape_format(px_tensor_shape(y), ys, sizeof ys);
        if (x->rank < 1) px_set_error(PX_ERR_SHAPE, "dataset: x has shape %s; it needs a first axis of examples", xs);
        else if (y->rank < 1) px_set_error(PX_ERR_SHAPE, "dataset: y has shape %s; it needs a first axis of examples", ys);
        else px_set_error(PX_ERR_SHAPE, "dataset: x has shape %s but y has shape %s: the numbers of examples differ", xs, ys);
        px_tensor_free(x);
        px_tensor_free(y);
        return NULL;
    }
    bool had_y = y != NULL;
    x = contiguous(x);
    y = contiguous(y);
    px_dataset *d = malloc(sizeof *d);
    if (!x || (had_y && !y) || !d) {
        if (!d && x) px_set_error(PX_ERR_NOMEM, "dataset: out of memory");
        px_tensor_free(x);
        px_tensor_free(y);
        free(d);
        return NULL;
    }
    d->x = x;
    d->y = y;
    return d;
}

void px_dataset_free(px_dataset *d) {
    if (!d) return;
    px_tensor_free(d->x);
    px_tensor_free(d->y);
    free(d);
}

int64_t px_dataset_size(const px_dataset *d) { return d && d->x ? d->x->shape[0] : 0; }

/* A new dataset of the rows idx[0..count) (or [start, start + count) when idx is NULL). */
static px_dataset *gather(const px_dataset *d, const int64_t *idx, int64_t start, int64_t count) {
    px_tensor *x = px_tensor_new(d->x->dtype, with_rows(d->x, count));
    px_tensor *y = d->y ? px_tensor_new(d->y->dtype, with_rows(d->y, count)) : NULL;
    if (!x || (d->y && !y)) {
        px_tensor_free(x);
        px_tensor_free(y);
        return NULL;
    }
    const px_tensor *src[2] = {d->x, d->y};
    px_tensor *dst[2] = {x, y};
    for (int k = 0; k < 2 && src[k]; k++) {
        size_t rb = row_bytes(src[k]);
        const char *s = src[k]->data;
        char *o = dst[k]->data;
        if (!idx) {
            if (count) memcpy(o, s + (size_t)start * rb, (size_t)count * rb);
        } else {
            for (int64_t i = 0; i < count; i++) memcpy(o + (size_t)i * rb, s + (size_t)idx[i] * rb, rb);
        }
    }
    return px_dataset_new(x, y);
}

px_dataset *px_dataset_slice(const px_dataset *d, int64_t start, int64_t stop) {
    if (!d || !d->x) {
        px_set_error(PX_ERR_ARG, "dataset_slice: the dataset is NULL");
        return NULL;
    }
    int64_t n = px_dataset_size(d);
    if (start < 0 || stop < start || stop > n) {
        px_set_error(PX_ERR_ARG, "dataset_slice: rows [%lld, %lld) are outside the %lld examples",
                     (long long)start, (long long)stop, (long long)n);
        return NULL;
    }
    return gather(d, NULL, start, stop - start);
}

/* 0, 1, ..., n-1 shuffled by rng; NULL with an error set on failure. */
static int64_t *permutation(int64_t n, px_rng *rng, const char *who) {
    if ((uint64_t)n > UINT32_MAX) {
        px_set_error(PX_ERR_ARG, "%s: %lld examples are more than the shuffle supports (2^32)", who,
                     (long long)n);
        return NULL;
    }
    int64_t *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!p) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory for a permutation of %lld", who, (long long)n);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) p[i] = i;
    px_rng_shuffle_i64(rng, p, n);
    return p;
}

px_status px_dataset_shuffle(px_dataset *d, px_rng *rng) {
    if (!d || !d->x || !rng) return px_set_error(PX_ERR_ARG, "dataset_shuffle: dataset or rng is NULL");
    int64_t n = px_dataset_size(d);
    int64_t *perm = permutation(n, rng, "dataset_shuffle");
    if (!perm) return px_last_status();
    size_t rbx = row_bytes(d->x), rby = d->y ? row_bytes(d->y) : 0;
    char *tmp = malloc(rbx + rby);
    if (!tmp) {
        free(perm);
        return px_set_error(PX_ERR_NOMEM, "dataset_shuffle: out of memory");
    }
    char *xd = d->x->data, *yd = d->y ? d->y->data : NULL;
    /* New row i is old row perm[i]: walk each cycle of the permutation once,
     * holding one row aside, so no second copy of the data is needed. Done
     * entries are marked with -1. */
    for (int64_t i = 0; i < n; i++) {
        if (perm[i] < 0) continue;
        memcpy(tmp, xd + (size_t)i * rbx, rbx);
        if (yd) memcpy(tmp + rbx, yd + (size_t)i * rby, rby);
        int64_t j = i;
        for (;;) {
            int64_t k = perm[j];
            perm[j] = -1;
            if (k == i) {
                memcpy(xd + (size_t)j * rbx, tmp, rbx);
                if (yd) memcpy(yd + (size_t)j * rby, tmp + rbx, rby);
                break;
            }
            memcpy(xd + (size_t)j * rbx, xd + (size_t)k * rbx, rbx);
            if (yd) memcpy(yd + (size_t)j * rby, yd + (size_t)k * rby, rby);
            j = k;
        }
    }
    free(tmp);
    free(perm);
    return PX_OK;
}

px_status px_dataset_train_test_split(const px_dataset *d, double test_fraction, uint64_t seed,
                                      px_dataset **train, px_dataset **test) {
    if (!train || !test) return px_set_error(PX_ERR_ARG, "train_test_split: an output pointer is NULL");
    *train = *test = NULL;
    if (!d || !d->x) return px_set_error(PX_ERR_ARG, "train_test_split: the dataset is NULL");
    if (!(test_fraction >= 0 && test_fraction <= 1))
        return px_set_error(PX_ERR_ARG, "train_test_split: test_fraction %g is outside [0, 1]",
                            test_fraction);
    int64_t n = px_dataset_size(d);
    /* Rounded up like scikit-learn's test_size, but 0.7 * 10 = 7.000000000000001
     * must still give 7. */
    int64_t n_test = (int64_t)ceil(test_fraction * (double)n - 1e-9);
    if (n_test < 0) n_test = 0;
    if (n_test > n) n_test = n;
    px_rng rng = px_rng_seeded(seed);
    int64_t *perm = permutation(n, &rng, "train_test_split");
    if (!perm) return px_last_status();
    *train = gather(d, perm, 0, n - n_test);
    if (*train) *test = gather(d, perm + (n - n_test), 0, n_test);
    free(perm);
    if (!*test) {
        px_dataset_free(*train);
        *train = NULL;
        return px_last_status();
    }
    return PX_OK;
}
