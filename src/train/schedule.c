/* Learning-rate schedules with the semantics of keras.optimizers.schedules, evaluated at
 * the optimizer's iteration count before the update (Keras's `iterations`, from 0). */
#include <math.h>

#include "plexus/optim.h"
#include "plexus/status.h"

px_status px_lr_schedule_validate(const px_lr_schedule *s) {
    if (!s) return px_set_error(PX_ERR_ARG, "learning-rate schedule is NULL");
    switch (s->kind) {
    case PX_SCHEDULE_NONE:
        break;
    case PX_SCHEDULE_EXPONENTIAL:
    case PX_SCHEDULE_INVERSE_TIME:
        if (!isfinite(s->decay_rate))
            return px_set_error(PX_ERR_ARG, "learning-rate schedule: decay_rate must be finite, got %g",
                                (double)s->decay_rate);
        /* fall through */
    case PX_SCHEDULE_COSINE:
        if (s->decay_steps <= 0)
            return px_set_error(PX_ERR_ARG, "learning-rate schedule: decay_steps must be > 0, got %lld",
                                (long long)s->decay_steps);
        if (s->kind == PX_SCHEDULE_COSINE && !isfinite(s->alpha))
            return px_set_error(PX_ERR_ARG, "learning-rate schedule: alpha must be finite, got %g",
                                (double)s->alpha);
        break;
    case PX_SCHEDULE_PIECEWISE:
        if (s->n_boundaries < 1 || s->n_boundaries > PX_MAX_PIECES)
            return px_set_error(PX_ERR_ARG,
                                "learning-rate schedule: piecewise needs 1 to %d boundaries, got %d",
                                PX_MAX_PIECES, s->n_boundaries);
        for (int i = 1; i < s->n_boundaries; i++)
            if (s->boundaries[i] <= s->boundaries[i - 1])
                return px_set_error(PX_ERR_ARG,
                                    "learning-rate schedule: piecewise boundaries must be strictly "
                                    "increasing (boundaries[%d] = %lld after %lld)",
                                    i, (long long)s->boundaries[i], (long long)s->boundaries[i - 1]);
        for (int i = 0; i <= s->n_boundaries; i++)
            if (!(s->values[i] >= 0) || isinf(s->values[i]))
                return px_set_error(PX_ERR_ARG,
                                    "learning-rate schedule: values[%d] must be a finite rate >= 0, got %g",
                                    i, (double)s->values[i]);
        return PX_OK; /* the initial rate is not used */
    default:
        return px_set_error(PX_ERR_ARG, "learning-rate schedule: unknown kind %d", (int)s->kind);
    }
    if (!(s->initial_learning_rate >= 0) || isinf(s->initial_learning_rate))
        return px_set_error(PX_ERR_ARG,
                            "learning-rate schedule: initial_learning_rate must be a finite rate >= 0, got %g",
                            (double)s->initial_learning_rate);
    return PX_OK;
}

float px_lr_schedule_at(const px_lr_schedule *s, int64_t t) {
    if (!s) {
        px_set_error(PX_ERR_ARG, "px_lr_schedule_at: schedule is NULL");
        return NAN;
    }
    const double lr0 = s->initial_learning_rate, step = (double)t;
    double p;
    switch (s->kind) {
    case PX_SCHEDULE_NONE:
        return s->initial_learning_rate;
    case PX_SCHEDULE_EXPONENTIAL:
        p = step / (double)s->decay_steps;
        if (s->staircase) p = floor(p);
        return (float)(lr0 * pow(s->decay_rate, p));
    case PX_SCHEDULE_INVERSE_TIME:
        p = step / (double)s->decay_steps;
        if (s->staircase) p = floor(p);
        return (float)(lr0 / (1.0 + s->decay_rate * p));
    case PX_SCHEDULE_PIECEWISE: {
        int nb = s->n_boundaries < 0 ? 0 : s->n_boundaries > PX_MAX_PIECES ? PX_MAX_PIECES : s->n_boundaries;
        for (int i = 0; i < nb; i++)
            if (t <= s->boundaries[i]) return s->values[i];
        return s->values[nb];
    }
    case PX_SCHEDULE_COSINE: {
        /* past decay_steps the rate stays at alpha * lr0 */
        double ds = (double)s->decay_steps, at = step < ds ? step : ds;
        double cos_decay = 0.5 * (1.0 + cos(M_PI * at / ds));
        return (float)(lr0 * ((1.0 - s->alpha) * cos_decay + s->alpha));
    }
    }
    px_set_error(PX_ERR_ARG, "px_lr_schedule_at: unknown schedule kind %d", (int)s->kind);
    return NAN;
}
