/* Lion (Keras's optimizers.Lion): w -= lr sign(beta_1 m + (1 - beta_1) g), then
 * m = beta_2 m + (1 - beta_2) g. */
#include "train/optimizer_kind.h"

static void lion_slots(px_optimizer *opt) { px_optimizer_add_slot(opt, "momentum", "m"); }

static void lion_step(px_optimizer *opt, float *restrict p, const float *restrict g, int64_t n, float lr, float keep) {
    const float b1 = opt->o.beta_1, b2 = opt->o.beta_2;
    float *restrict m = opt->slots[0];
    for (int64_t i = 0; i < n; i++) {
        float c = m[i] * b1 + g[i] * (1.0f - b1);
        float sign = (float)((c > 0) - (c < 0));
        p[i] = p[i] * keep - lr * sign;
        m[i] = m[i] * b2 + g[i] * (1.0f - b2);
    }
}

px_optimizer *px_lion(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_LION, opts); }

const px_optimizer_def px_lion_optimizer = {
    .kind = PX_OPT_LION,
    .name = "lion",
    .class_name = "Lion",
    .defaults = {.learning_rate = 0.001f, .beta_2 = 0.99f},
    .keys = {PX_OPT_KEY(beta_1, PX_KEY_UNIT), PX_OPT_KEY(beta_2, PX_KEY_UNIT)},
    .add_slots = lion_slots,
    .step = lion_step,
};
