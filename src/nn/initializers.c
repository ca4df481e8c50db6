/* Weight initializers with Keras's definitions and defaults. */
#include <math.h>

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
                                  "HeNormal", "LecunUniform", "LecunNormal"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "";
}
