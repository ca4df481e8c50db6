/* Adamax (Keras's optimizers.Adamax): Adam with the infinity norm in place of the
 * second moment: u = max(beta_2 u, |g|), w -= lr m / ((1 - beta_1^t)(u + epsilon)). */
#include <math.h>

#include "train/optimizer_kind.h"

static void adamax_slots(px_optimizer *opt) {
    /* Keras 3 names them momentum and norm, Keras 2.11 m and u */
    px_optimizer_add_slot(opt, "momentum", "m");
    px_optimizer_add_slot(opt, "norm", "u");
}

static void adamax_step(px_optimizer *opt, float *restrict p, const float *restrict g, int64_t n, float lr,
                        float keep) {
    const float b1 = opt->o.beta_1, b2 = opt->o.beta_2, eps = opt->o.epsilon;
    float *restrict m = opt->slots[0], *restrict u = opt->slots[1];
    const float step = (float)(lr / (1.0 - pow(b1, (double)(opt->iterations + 1))));
    for (int64_t i = 0; i < n; i++) {
        float mi = m[i] + (g[i] - m[i]) * (1.0f - b1);
        float ui = fmaxf(b2 * u[i], fabsf(g[i]));
        m[i] = mi;
        u[i] = ui;
        p[i] = p[i] * keep - step * mi / (ui + eps);
    }
}

px_optimizer *px_adamax(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_ADAMAX, opts); }

const px_optimizer_def px_adamax_optimizer = {
    .kind = PX_OPT_ADAMAX,
    .name = "adamax",
    .class_name = "Adamax",
    .keys = {PX_OPT_KEY(beta_1, PX_KEY_UNIT_OPEN), PX_OPT_KEY(beta_2, PX_KEY_UNIT_OPEN),
             PX_OPT_KEY(epsilon, PX_KEY_NONNEG)},
    .add_slots = adamax_slots,
    .step = adamax_step,
};
