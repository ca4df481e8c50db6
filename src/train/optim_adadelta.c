/* Adadelta (Keras's optimizers.Adadelta): steps scaled by running averages of squared
 * gradients and squared updates. */
#include "train/optim_loops.h"
#include "train/optimizer_kind.h"

static void adadelta_slots(px_optimizer *opt) {
    px_optimizer_add_slot(opt, "accumulated_grad", NULL);
    px_optimizer_add_slot(opt, "accumulated_delta_var", NULL);
}

static void adadelta_step(px_optimizer *opt, float *restrict p, const float *restrict g, int64_t n, float lr,
                          float keep) {
    float *restrict eg = opt->slots[0], *restrict edx = opt->slots[1];
    const float rho = opt->o.rho, eps = opt->o.epsilon, one_rho = 1.0f - rho;
    float num[TILE], den[TILE];
    FOR_TILES(n, i0, len) {
        float *restrict pt = p + i0, *restrict egt = eg + i0, *restrict edt = edx + i0;
        const float *restrict gt = g + i0;
        for (int j = 0; j < len; j++) {
            float gi = gt[j];
            float egi = rho * egt[j] + one_rho * gi * gi;
            egt[j] = egi;
            num[j] = edt[j] + eps;
            den[j] = egi + eps;
        }
        sqrt_tile(num, (int)len);
        sqrt_tile(den, (int)len);
        for (int j = 0; j < len; j++) {
            float d = -num[j] / den[j] * gt[j];
            edt[j] = rho * edt[j] + one_rho * d * d;
            pt[j] = pt[j] * keep + lr * d;
        }
    }
}

static void adadelta_device(px_optimizer *opt, float lr, float keep, px_optim_kernel *k, float *coef) {
    k->kind = PX_OPTK_ADADELTA;
    coef[PX_OC_LR] = lr;
    coef[PX_OC_KEEP] = keep;
    coef[PX_OC_RHO] = opt->o.rho;
    coef[PX_OC_EPS] = opt->o.epsilon;
}

px_optimizer *px_adadelta(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_ADADELTA, opts); }

const px_optimizer_def px_adadelta_optimizer = {
    .kind = PX_OPT_ADADELTA,
    .name = "adadelta",
    .class_name = "Adadelta",
    .defaults = {.rho = 0.95f},
    .keys = {PX_OPT_KEY(rho, PX_KEY_UNIT_OPEN), PX_OPT_KEY(epsilon, PX_KEY_NONNEG)},
    .add_slots = adadelta_slots,
    .step = adadelta_step,
    .device_step = adadelta_device,
};
