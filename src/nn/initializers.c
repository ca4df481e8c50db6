/* Weight initializers with Keras's definitions and defaults. */
#include <math.h>
#include <stdlib.h>

#include "plexus/nn.h"

/* Keras's _compute_fans */
static void fans(const px_tensor *t, double *fan_in, double *fan_out) {
    if (t->rank < 1) {
        *fan_in = *fan_out = 1;
    } else if (t->rank == 1) {
        *fan_in = *fan_out = (double)t->shape[0];
    } else if (t->rank == 2) {
        *fan_in = (double)t->shape[0];
        *fan_out = (double)t->shape[1];
    } else {
        double receptive = 1;
        for (int i = 0; i < t->rank - 2; i++) receptive *= (double)t->shape[i];
        *fan_in = (double)t->shape[t->rank - 2] * receptive;
        *fan_out = (double)t->shape[t->rank - 1] * receptive;
    }
}

/* Keras's Orthogonal: the Q factor of a normal (max, min) matrix with the signs of
 * R's diagonal folded in (what Gram-Schmidt yields), transposed when the weight, seen
 * as (all axes but the last, last axis), has fewer rows than columns, times gain. */
static px_status fill_orthogonal(px_tensor *t, px_rng *rng, float gain) {
    if (t->rank < 2)
        return px_set_error(PX_ERR_ARG, "Orthogonal: a weight of rank %d; the initializer needs rank 2 or more", t->rank);
    int64_t cols = t->shape[t->rank - 1], rows = px_tensor_size(t) / (cols ? cols : 1);
    int64_t big = rows > cols ? rows : cols, small = rows > cols ? cols : rows;
    double *q = malloc((size_t)(big * small) * sizeof *q);
    if (!q) return px_set_error(PX_ERR_NOMEM, "Orthogonal: out of memory");
    for (int64_t i = 0; i < big * small; i++) q[i] = px_rng_normal(rng);
    /* modified Gram-Schmidt on the columns of the (big, small) matrix, twice for
     * orthogonality to float precision */
    for (int64_t j = 0; j < small; j++)
        for (int pass = 0; pass < 2; pass++) {
            for (int64_t k = 0; k < j; k++) {
                double dot = 0;
                for (int64_t i = 0; i < big; i++) dot += q[i * small + j] * q[i * small + k];
                for (int64_t i = 0; i < big; i++) q[i * small + j] -= dot * q[i * small + k];
            }
            double norm = 0;
            for (int64_t i = 0; i < big; i++) norm += q[i * small + j] * q[i * small + j];
            norm = sqrt(norm);
            for (int64_t i = 0; i < big; i++) q[i * small + j] = norm > 0 ? q[i * small + j] / norm : 0;
        }
    float *w = t->data;
    double g = gain != 0 ? gain : 1.0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) w[r * cols + c] = (float)(g * (rows >= cols ? q[r * small + c] : q[c * small + r]));
    free(q);
    return PX_OK;
}

/* stddev of a normal truncated at two standard deviations relative to the untruncated one */
#define TRUNCATION_FACTOR 0.87962566103423978

px_status px_initializer_fill(px_initializer init, px_tensor *t, px_rng *rng) {
    if (!t || !rng) return px_set_error(PX_ERR_ARG, "initializer: tensor or rng is NULL");
    if (t->dtype != PX_F32) return px_set_error(PX_ERR_ARG, "initializer: tensor must be float32");
    float *d = t->data;
    int64_t n = px_tensor_size(t);
    double fi, fo;
    fans(t, &fi, &fo);
    double limit = 0, stddev = 0;
    bool uniform = true;
    switch (init.kind) {
    case PX_INIT_ZEROS:
        for (int64_t i = 0; i < n; i++) d[i] = 0;
        return PX_OK;
    case PX_INIT_ONES:
        for (int64_t i = 0; i < n; i++) d[i] = 1;
        return PX_OK;
    case PX_INIT_CONSTANT:
        for (int64_t i = 0; i < n; i++) d[i] = init.value;
        return PX_OK;
    case PX_INIT_RANDOM_NORMAL: {
        float sd = init.stddev > 0 ? init.stddev : 0.05f;
        for (int64_t i = 0; i < n; i++) d[i] = init.mean + sd * px_rng_normal(rng);
        return PX_OK;
    }
    case PX_INIT_RANDOM_UNIFORM: {
        float lo = init.minval, hi = init.maxval;
        if (lo == 0 && hi == 0) lo = -0.05f, hi = 0.05f;
        if (!(lo < hi)) return px_set_error(PX_ERR_ARG, "RandomUniform: minval %g must be below maxval %g", lo, hi);
        for (int64_t i = 0; i < n; i++) d[i] = lo + (hi - lo) * px_rng_uniform(rng);
        return PX_OK;
    }
    case PX_INIT_ORTHOGONAL: return fill_orthogonal(t, rng, init.gain);
    case PX_INIT_DEFAULT:
    case PX_INIT_GLOROT_UNIFORM: limit = sqrt(6.0 / (fi + fo)); break;
    case PX_INIT_GLOROT_NORMAL: uniform = false, stddev = sqrt(2.0 / (fi + fo)); break;
    case PX_INIT_HE_UNIFORM: limit = sqrt(6.0 / fi); break;
    case PX_INIT_HE_NORMAL: uniform = false, stddev = sqrt(2.0 / fi); break;
    case PX_INIT_LECUN_UNIFORM: limit = sqrt(3.0 / fi); break;
    case PX_INIT_LECUN_NORMAL: uniform = false, stddev = sqrt(1.0 / fi); break;
    default: return px_set_error(PX_ERR_ARG, "initializer: unknown kind %d", (int)init.kind);
    }
    if (uniform) {
        for (int64_t i = 0; i < n; i++) d[i] = (float)(limit * (2.0 * px_rng_uniform(rng) - 1.0));
    } else {
        double sd = stddev / TRUNCATION_FACTOR;
        for (int64_t i = 0; i < n; i++) d[i] = (float)(sd * px_rng_truncated_normal(rng));
    }
    return PX_OK;
}

const char *px_init_name(px_init_kind k) {
    static const char *names[] = {"GlorotUniform", "Zeros", "Ones", "Constant", "RandomNormal",
                                  "RandomUniform", "GlorotUniform", "GlorotNormal", "HeUniform",
                                  "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "";
}
