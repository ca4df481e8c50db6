/* Ftrl (Keras's optimizers.Ftrl), follow the regularized leader: an accumulator of
 * squared gradients n and a linear term z; each step
 *   z += g + 2 shrinkage w - (n'^-p - n^-p) / lr w,   n' = n + g^2   (p = learning_rate_power)
 *   w = (clip(z, -l1, l1) - z) / (n'^-p / lr + 2 (l2 + beta / (2 lr))). */
#include <math.h>

#include "train/optimizer_kind.h"

static void ftrl_slots(px_optimizer *opt) {
    px_optimizer_add_slot(opt, "accumulator", NULL);
    px_optimizer_add_slot(opt, "linear", NULL);
}

static void ftrl_init(px_optimizer *opt) {
    float *acc = opt->slots[0], init = opt->o.initial_accumulator_value;
    for (int64_t i = 0; i < opt->n; i++) acc[i] = init;
}

static void ftrl_step(px_optimizer *opt, float *restrict p, const float *restrict g, int64_t n, float lr, float keep) {
    const px_optimizer_options *o = &opt->o;
    float *restrict acc = opt->slots[0], *restrict lin = opt->slots[1];
    const double neg_power = -(double)o->learning_rate_power, l1 = o->l1_regularization_strength;
    const double l2 = o->l2_regularization_strength + o->beta / (2.0 * lr);
    const double shrink = 2.0 * o->l2_shrinkage_regularization_strength;
    for (int64_t i = 0; i < n; i++) {
        double w = (double)p[i] * keep, a = acc[i], na = a + (double)g[i] * g[i];
        double pna = pow(na, neg_power);
        double z = lin[i] + (g[i] + shrink * w) - (pna - pow(a, neg_power)) / lr * w;
        double zc = z < -l1 ? -l1 : z > l1 ? l1 : z;
        lin[i] = (float)z;
        p[i] = (float)((zc - z) / (pna / lr + 2.0 * l2));
        acc[i] = (float)na;
    }
}

px_optimizer *px_ftrl(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_FTRL, opts); }

const px_optimizer_def px_ftrl_optimizer = {
    .kind = PX_OPT_FTRL,
    .name = "ftrl",
    .class_name = "Ftrl",
    .defaults = {.learning_rate_power = -0.5f},
    .keys = {PX_OPT_KEY(learning_rate_power, PX_KEY_NONPOS), PX_OPT_KEY(initial_accumulator_value, PX_KEY_NONNEG),
             PX_OPT_KEY(l1_regularization_strength, PX_KEY_NONNEG), PX_OPT_KEY(l2_regularization_strength, PX_KEY_NONNEG),
             PX_OPT_KEY(l2_shrinkage_regularization_strength, PX_KEY_NONNEG), PX_OPT_KEY(beta, PX_KEY_NONNEG)},
    .add_slots = ftrl_slots,
    .init_slots = ftrl_init,
    .step = ftrl_step,
};
