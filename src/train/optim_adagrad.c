/* Adagrad (Keras's optimizers.Adagrad): per-parameter rates from the sum of squared gradients. */
#include "train/optim_loops.h"
#include "train/optimizer_kind.h"

static void adagrad_slots(px_optimizer *opt) { px_optimizer_add_slot(opt, "accumulator", NULL); }

static void adagrad_init(px_optimizer *opt) {
    float *acc = opt->slots[0], init = opt->o.initial_accumulator_value;
    for (int64_t i = 0; i < opt->n; i++) acc[i] = init;
}

static void adagrad_step(px_optimizer *opt, float *restrict p, const float *restrict g, int64_t n, float lr,
                         float keep) {
    float *restrict acc = opt->slots[0];
    const float eps = opt->o.epsilon;
    float d[TILE];
    FOR_TILES(n, i0, len) {
        float *restrict pt = p + i0, *restrict at = acc + i0;
        const float *restrict gt = g + i0;
        for (int j = 0; j < len; j++) {
            float a = at[j] + gt[j] * gt[j];
            at[j] = a;
            d[j] = a + eps;
        }
        sqrt_tile(d, (int)len);
        for (int j = 0; j < len; j++) pt[j] = pt[j] * keep - lr * gt[j] / d[j];
    }
}

static void adagrad_device(px_optimizer *opt, float lr, float keep, px_optim_kernel *k, float *coef) {
    k->kind = PX_OPTK_ADAGRAD;
    coef[PX_OC_LR] = lr;
    coef[PX_OC_KEEP] = keep;
    coef[PX_OC_EPS] = opt->o.epsilon;
}

px_optimizer *px_adagrad(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_ADAGRAD, opts); }

const px_optimizer_def px_adagrad_optimizer = {
    .kind = PX_OPT_ADAGRAD,
    .name = "adagrad",
    .class_name = "Adagrad",
    .keys = {PX_OPT_KEY(initial_accumulator_value, PX_KEY_NONNEG), PX_OPT_KEY(epsilon, PX_KEY_NONNEG)},
    .add_slots = adagrad_slots,
    .init_slots = adagrad_init,
    .step = adagrad_step,
    .device_step = adagrad_device,
};
