/* Preprocessing: standard scaling (scikit-learn's StandardScaler), one-hot
 * labels, pixel scaling and the finiteness check done before training. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plexus/data.h"

static px_shape feature_shape(const px_tensor *x) {
    px_shape s = {.rank = x->rank - 1};
    for (int i = 1; i < x->rank; i++) s.dim[i - 1] = x->shape[i];
    return s;
}

px_status px_scaler_fit(px_scaler *s, const px_tensor *x) {
    if (!s || !x) return px_set_error(PX_ERR_ARG, "scaler_fit: scaler or x is NULL");
    if (x->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "scaler_fit: x must be float32");
    if (x->rank < 1 || x->shape[0] < 1)
        return px_set_error(PX_ERR_SHAPE, "scaler_fit: x needs at least one example along its first axis");
    px_status st = px_check_finite(x, "scaler_fit: x");
    if (st != PX_OK) return st;
    px_shape fs = feature_shape(x);
    int64_t n = x->shape[0], f = px_shape_size(fs);
    px_tensor *copy = px_tensor_is_contiguous(x) ? NULL : px_tensor_copy(x);
    if (!px_tensor_is_contiguous(x) && !copy) return px_last_status();
    const float *xd = px_tensor_f32(copy ? copy : x);
    px_tensor *mean = px_tensor_new(PX_F32, fs), *scale = px_tensor_new(PX_F32, fs);
    double *acc = malloc((size_t)(f ? f : 1) * 2 * sizeof *acc);
    if (!mean || !scale || !acc) {
        st = acc ? px_last_status() : px_set_error(PX_ERR_NOMEM, "scaler_fit: out of memory");
        px_tensor_free(mean);
        px_tensor_free(scale);
        px_tensor_free(copy);
        free(acc);
        return st;
    }
    /* Two passes in double: the mean first, then squared deviations, which
     * stays accurate when the mean is large compared with the spread. */
    double *m = acc, *v = acc + f;
    for (int64_t j = 0; j < f; j++) m[j] = v[j] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) m[j] += xd[i * f + j];
    for (int64_t j = 0; j < f; j++) m[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) {
            double dlt = xd[i * f + j] - m[j];
            v[j] += dlt * dlt;
        }
    for (int64_t j = 0; j < f; j++) {
        /* population std (ddof = 0), like StandardScaler; a (nearly) constant
         * feature keeps scale 1 instead of dividing by zero */
        double sd = sqrt(v[j] / (double)n);
        px_tensor_f32(mean)[j] = (float)m[j];
        px_tensor_f32(scale)[j] = sd < 10 * DBL_EPSILON ? 1.0f : (float)sd;
    }
    free(acc);
    px_tensor_free(copy);
    px_scaler_clear(s);
    s->mean = mean;
    s->scale = scale;
    return PX_OK;
}

px_status px_scaler_transform(const px_scaler *s, px_tensor *x) {
    if (!s || !x) return px_set_error(PX_ERR_ARG, "scaler_transform: scaler or x is NULL");
    if (!s->mean || !s->scale) return px_set_error(PX_ERR_STATE, "scaler_transform: the scaler is not fitted");
    if (x->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "scaler_transform: x must be float32");
    px_shape want = px_tensor_shape(s->mean);
    if (x->rank != want.rank + 1 || !px_shape_equal(feature_shape(x), want)) {
        char ws[96], xs[96];
        return px_set_error(PX_ERR_SHAPE,
                            "scaler_transform: the scaler was fitted on features of shape %s but "
                            "x has shape %s",
                            px_shape_format(want, ws, sizeof ws),
                            px_shape_format(px_tensor_shape(x), xs, sizeof xs));
    }
    int64_t n = x->rank ? x->shape[0] : 0, f = px_shape_size(want);
    const float *m = px_tensor_f32(s->mean), *sc = px_tensor_f32(s->scale);
    if (px_tensor_is_contiguous(x)) {
        float *xd = px_tensor_f32(x);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < f; j++) xd[i * f + j] = (xd[i * f + j] - m[j]) / sc[j];
    } else {
        for (int64_t i = 0; i < n * f; i++)
            px_tensor_set_flat(x, i, (px_tensor_get_flat(x, i) - m[i % f]) / sc[i % f]);
    }
    return PX_OK;
}

void px_scaler_clear(px_scaler *s) {
    if (!s) return;
    px_tensor_free(s->mean);
    px_tensor_free(s->scale);
    s->mean = s->scale = NULL;
}

px_tensor *px_one_hot(const px_tensor *labels, int n_classes) {
    if (!labels || labels->dtype != PX_I32 || labels->rank != 1) {
        px_set_error(PX_ERR_ARG, "one_hot: labels must be an int32 tensor of rank 1");
        return NULL;
    }
    if (n_classes < 1) {
        px_set_error(PX_ERR_ARG, "one_hot: n_classes is %d; it must be at least 1", n_classes);
        return NULL;
    }
    int64_t n = labels->shape[0];
    for (int64_t i = 0; i < n; i++) {
        float v = px_tensor_get_flat(labels, i);
        if (v < 0 || v >= n_classes) {
            px_set_error(PX_ERR_ARG, "one_hot: label %d at position %lld is outside 0..%d", (int)v,
                         (long long)i, n_classes - 1);
            return NULL;
        }
    }
    px_tensor *out = px_tensor_new(PX_F32, PX_SHAPE(n, n_classes));
    if (!out) return NULL;
    for (int64_t i = 0; i < n; i++) px_tensor_f32(out)[i * n_classes + (int)px_tensor_get_flat(labels, i)] = 1.0f;
    return out;
}

px_status px_scale_pixels(px_tensor *x) {
    if (!x) return px_set_error(PX_ERR_ARG, "scale_pixels: x is NULL");
    if (x->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "scale_pixels: x must be float32");
    int64_t n = px_tensor_size(x);
    if (px_tensor_is_contiguous(x)) {
        float *d = px_tensor_f32(x);
        for (int64_t i = 0; i < n; i++) d[i] /= 255.0f;
    } else {
        for (int64_t i = 0; i < n; i++) px_tensor_set_flat(x, i, px_tensor_get_flat(x, i) / 255.0f);
    }
    return PX_OK;
}

px_status px_check_finite(const px_tensor *t, const char *what) {
    if (!what) what = "tensor";
    if (!t) return px_set_error(PX_ERR_ARG, "check_finite: %s is NULL", what);
    if (t->dtype != PX_F32) return PX_OK; /* integers are always finite */
    int64_t n = px_tensor_size(t);
    bool contig = px_tensor_is_contiguous(t);
    for (int64_t i = 0; i < n; i++) {
        float v = contig ? px_tensor_f32(t)[i] : px_tensor_get_flat(t, i);
        if (isfinite(v)) continue;
        char buf[PX_MAX_RANK * 22 + 4];
        size_t len = 0;
        int64_t rest = i;
        int64_t idx[PX_MAX_RANK];
        for (int k = t->rank - 1; k >= 0; k--) {
            idx[k] = t->shape[k] ? rest % t->shape[k] : 0;
            rest = t->shape[k] ? rest / t->shape[k] : 0;
        }
        buf[len++] = '(';
        for (int k = 0; k < t->rank; k++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, k ? ", %lld" : "%lld", (long long)idx[k]);
        snprintf(buf + len, sizeof buf - len, ")");
        return px_set_error(PX_ERR_NUMERIC, "%s contains %s at index %s", what,
                            isnan(v) ? "NaN" : v > 0 ? "infinity" : "-infinity", buf);
    }
    return PX_OK;
}
