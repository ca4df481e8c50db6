/* Learning-rate schedules with the semantics of keras.optimizers.schedules, evaluated at
 * the optimizer's iteration count before the update (Keras's `iterations`, from 0). The
 * formulas follow Keras 3's source line by line (in double rather than float32). */
#include <math.h>

#include "plexus/optim.h"
#include "plexus/status.h"

static px_status check_finite(const char *field, double x, bool nonneg) {
    if (isfinite(x) && (!nonneg || x >= 0)) return PX_OK;
    return px_set_error(PX_ERR_ARG, "learning-rate schedule: %s must be a finite number%s, got %g", field,
                        nonneg ? " >= 0" : "", x);
}

static px_status check_steps(const char *field, int64_t steps) {
    if (steps > 0) return PX_OK;
    return px_set_error(PX_ERR_ARG, "learning-rate schedule: %s must be > 0, got %lld", field, (long long)steps);
}

static px_status validate_piecewise(const px_lr_schedule *s) {
    if (s->n_boundaries < 1 || s->n_boundaries > PX_MAX_PIECES)
        return px_set_error(PX_ERR_ARG, "learning-rate schedule: piecewise needs 1 to %d boundaries, got %d",
                            PX_MAX_PIECES, s->n_boundaries);
    for (int i = 1; i < s->n_boundaries; i++)
        if (s->boundaries[i] <= s->boundaries[i - 1])
            return px_set_error(PX_ERR_ARG,
                                "learning-rate schedule: piecewise boundaries must be strictly "
                                "increasing (boundaries[%d] = %lld after %lld)",
                                i, (long long)s->boundaries[i], (long long)s->boundaries[i - 1]);
    for (int i = 0; i <= s->n_boundaries; i++)
        if (!(s->values[i] >= 0) || isinf(s->values[i]))
            return px_set_error(PX_ERR_ARG, "learning-rate schedule: values[%d] must be a finite rate >= 0, got %g",
                                i, (double)s->values[i]);
    return PX_OK; /* the initial rate is not used */
}

/* The checks of each kind's own fields (the initial rate is checked after). */
static px_status validate_kind(const px_lr_schedule *s) {
    px_status st;
    switch (s->kind) {
    case PX_SCHEDULE_NONE: return PX_OK;
    case PX_SCHEDULE_EXPONENTIAL:
    case PX_SCHEDULE_INVERSE_TIME:
        if ((st = check_finite("decay_rate", s->decay_rate, false))) return st;
        return check_steps("decay_steps", s->decay_steps);
    case PX_SCHEDULE_COSINE:
        if ((st = check_steps("decay_steps", s->decay_steps)) || (st = check_finite("alpha", s->alpha, false)) ||
            (st = check_finite("warmup_target", s->warmup_target, true)))
            return st;
        if (s->warmup_steps < 0 || (s->warmup_steps > 0 && s->warmup_target == 0))
            return px_set_error(PX_ERR_ARG,
                                "learning-rate schedule: warmup_steps %lld needs a warmup_target > 0 and must be >= 0",
                                (long long)s->warmup_steps);
        return PX_OK;
    case PX_SCHEDULE_POLYNOMIAL:
        if ((st = check_steps("decay_steps", s->decay_steps)) ||
            (st = check_finite("end_learning_rate", s->end_learning_rate, true)))
            return st;
        if (!(s->power >= 0) || isinf(s->power))
            return px_set_error(PX_ERR_ARG, "learning-rate schedule: power must be a finite number > 0 (0: 1), got %g",
                                (double)s->power);
        return PX_OK;
    case PX_SCHEDULE_COSINE_RESTARTS:
        if ((st = check_steps("first_decay_steps (decay_steps)", s->decay_steps)) ||
            (st = check_finite("alpha", s->alpha, false)) || (st = check_finite("m_mul", s->m_mul, true)))
            return st;
        if (!(s->t_mul >= 0) || isinf(s->t_mul))
            return px_set_error(PX_ERR_ARG, "learning-rate schedule: t_mul must be a finite number > 0 (0: 2), got %g",
                                (double)s->t_mul);
        return PX_OK;
    case PX_SCHEDULE_PIECEWISE: return validate_piecewise(s);
    }
    return px_set_error(PX_ERR_ARG, "learning-rate schedule: unknown kind %d", (int)s->kind);
}

px_status px_lr_schedule_validate(const px_lr_schedule *s) {
    if (!s) return px_set_error(PX_ERR_ARG, "learning-rate schedule is NULL");
    px_status st = validate_kind(s);
    if (st || s->kind == PX_SCHEDULE_PIECEWISE) return st;
    if (!(s->initial_learning_rate >= 0) || isinf(s->initial_learning_rate))
        return px_set_error(PX_ERR_ARG,
                            "learning-rate schedule: initial_learning_rate must be a finite rate >= 0, got %g",
                            (double)s->initial_learning_rate);
    return PX_OK;
}

/* Keras's CosineDecay._decay_function: from `from` down to alpha * from over decay_steps. */
static double cosine_decay(double step, double decay_steps, double from, double alpha) {
    double cosine_decayed = 0.5 * (1.0 + cos(M_PI * (step / decay_steps)));
    return from * ((1.0 - alpha) * cosine_decayed + alpha);
}

static double cosine(const px_lr_schedule *s, double step) {
    double ds = (double)s->decay_steps, lr0 = s->initial_learning_rate;
    if (s->warmup_target == 0) return cosine_decay(fmin(step, ds), ds, lr0, s->alpha);
    double ws = (double)s->warmup_steps, target = s->warmup_target;
    step = fmin(step, ds + ws);
    if (step < ws) return (target - lr0) * (step / ws) + lr0;
    return cosine_decay(step - ws, ds, target, s->alpha);
}

static double polynomial(const px_lr_schedule *s, double step) {
    double ds = (double)s->decay_steps, power = s->power != 0 ? s->power : 1.0;
    if (s->cycle) ds *= step == 0 ? 1.0 : ceil(step / ds); /* the first multiple of decay_steps past step */
    else step = fmin(step, ds);
    double p = step / ds, end = s->end_learning_rate;
    return ((double)s->initial_learning_rate - end) * pow(1.0 - p, power) + end;
}

static double cosine_restarts(const px_lr_schedule *s, double step) {
    double t_mul = s->t_mul != 0 ? s->t_mul : 2.0, m_mul = s->m_mul != 0 ? s->m_mul : 1.0;
    double fraction = step / (double)s->decay_steps, i_restart;
    if (t_mul == 1.0) {
        i_restart = floor(fraction);
        fraction -= i_restart;
    } else {
        /* period i lasts t_mul^i first periods: the restart is found from the geometric sum */
        i_restart = floor(log(1.0 - fraction * (1.0 - t_mul)) / log(t_mul));
        double sum_r = (1.0 - pow(t_mul, i_restart)) / (1.0 - t_mul);
        fraction = (fraction - sum_r) / pow(t_mul, i_restart);
    }
    double cosine_decayed = 0.5 * pow(m_mul, i_restart) * (1.0 + cos(M_PI * fraction));
    return s->initial_learning_rate * ((1.0 - s->alpha) * cosine_decayed + s->alpha);
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
    case PX_SCHEDULE_COSINE: return (float)cosine(s, step);
    case PX_SCHEDULE_POLYNOMIAL: return (float)polynomial(s, step);
    case PX_SCHEDULE_COSINE_RESTARTS: return (float)cosine_restarts(s, step);
    }
    px_set_error(PX_ERR_ARG, "px_lr_schedule_at: unknown schedule kind %d", (int)s->kind);
    return NAN;
}
