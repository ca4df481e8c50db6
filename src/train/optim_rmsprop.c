/* RMSprop (Keras's optimizers.RMSprop): plain, with momentum, centered, or both. */
#include "train/optim_loops.h"
#include "train/optimizer_kind.h"

static void rmsprop_slots(px_optimizer *opt) {
    px_optimizer_add_slot(opt, "velocity", NULL);
    if (opt->o.momentum > 0) px_optimizer_add_slot(opt, "momentum", NULL);
    if (opt->o.centered) px_optimizer_add_slot(opt, "average_gradient", NULL);
}

/* The state arrays and scalars of one update (m, avg NULL when unused). */
typedef struct rmsprop_args {
    float *restrict v, *restrict m, *restrict avg;
    float lr, rho, mu, eps, keep;
} rmsprop_args;

/* Inlined with constant flags, so each of the four variants is its own branch-free loop. */
static inline __attribute__((always_inline)) void rmsprop_loop(float *restrict p, const float *restrict g, int64_t n,
                                                               rmsprop_args a, const bool with_momentum,
                                                               const bool centered) {
    const float one_rho = 1.0f - a.rho, rho = a.rho, mu = a.mu, eps = a.eps, lr = a.lr, keep = a.keep;
    float d[TILE];
    FOR_TILES(n, i0, len) {
        float *restrict pt = p + i0, *restrict vt = a.v + i0;
        float *restrict mt = with_momentum ? a.m + i0 : NULL, *restrict at = centered ? a.avg + i0 : NULL;
        const float *restrict gt = g + i0;
        for (int j = 0; j < len; j++) {
            float gi = gt[j];
            float vi = rho * vt[j] + one_rho * gi * gi;
            vt[j] = vi;
            float denom = vi + eps;
            if (centered) {
                float ai = rho * at[j] + one_rho * gi;
                at[j] = ai;
                denom = vi - ai * ai + eps;
            }
            d[j] = denom;
        }
        sqrt_tile(d, (int)len);
        for (int j = 0; j < len; j++) {
            float inc = lr * gt[j] / d[j];
            if (with_momentum) {
                float mi = mu * mt[j] + inc;
                mt[j] = mi;
                inc = mi;
            }
            pt[j] = pt[j] * keep - inc;
        }
    }
}

static void rmsprop_step(px_optimizer *opt, float *p, const float *g, int64_t n, float lr, float keep) {
    const px_optimizer_options *o = &opt->o;
    bool mom = o->momentum > 0, cen = o->centered;
    rmsprop_args a = {.v = opt->slots[0],
                      .m = mom ? opt->slots[1] : NULL,
                      .avg = cen ? opt->slots[mom ? 2 : 1] : NULL,
                      .lr = lr,
                      .rho = o->rho,
                      .mu = o->momentum,
                      .eps = o->epsilon,
                      .keep = keep};
    if (mom && cen) rmsprop_loop(p, g, n, a, true, true);
    else if (mom) rmsprop_loop(p, g, n, a, true, false);
    else if (cen) rmsprop_loop(p, g, n, a, false, true);
    else rmsprop_loop(p, g, n, a, false, false);
}

static void rmsprop_device(px_optimizer *opt, float lr, float keep, px_optim_kernel *k, float *coef) {
    k->kind = PX_OPTK_RMSPROP;
    k->momentum = opt->o.momentum > 0;
    k->centered = opt->o.centered;
    coef[PX_OC_LR] = lr;
    coef[PX_OC_KEEP] = keep;
    coef[PX_OC_RHO] = opt->o.rho;
    coef[PX_OC_MU] = opt->o.momentum;
    coef[PX_OC_EPS] = opt->o.epsilon;
}

px_optimizer *px_rmsprop(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_RMSPROP, opts); }

const px_optimizer_def px_rmsprop_optimizer = {
    .kind = PX_OPT_RMSPROP,
    .name = "rmsprop",
    .class_name = "RMSprop",
    .keys = {PX_OPT_KEY(rho, PX_KEY_UNIT_OPEN), PX_OPT_KEY(momentum, PX_KEY_UNIT),
             PX_OPT_KEY(epsilon, PX_KEY_NONNEG), PX_OPT_KEY(centered, PX_KEY_BOOL)},
    .add_slots = rmsprop_slots,
    .step = rmsprop_step,
    .device_step = rmsprop_device,
};
