/* SGD (Keras's optimizers.SGD): plain, with momentum, or Nesterov momentum. */
#include "train/optimizer_kind.h"

static void sgd_slots(px_optimizer *opt) {
    if (opt->o.momentum > 0) px_optimizer_add_slot(opt, "momentum", NULL);
}

static void sgd_plain(float *restrict p, const float *restrict g, int64_t n, float lr, float keep) {
    for (int64_t i = 0; i < n; i++) p[i] = p[i] * keep - lr * g[i];
}

static void sgd_momentum(float *restrict p, const float *restrict g, float *restrict m, int64_t n, float lr,
                         float mu, float keep) {
    for (int64_t i = 0; i < n; i++) {
        float mi = mu * m[i] - lr * g[i];
        m[i] = mi;
        p[i] = p[i] * keep + mi;
    }
}

static void sgd_nesterov(float *restrict p, const float *restrict g, float *restrict m, int64_t n, float lr,
                         float mu, float keep) {
    for (int64_t i = 0; i < n; i++) {
        float mi = mu * m[i] - lr * g[i];
        m[i] = mi;
        p[i] = p[i] * keep + (mu * mi - lr * g[i]);
    }
}

static void sgd_step(px_optimizer *opt, float *p, const float *g, int64_t n, float lr, float keep) {
    const px_optimizer_options *o = &opt->o;
    if (o->momentum <= 0) sgd_plain(p, g, n, lr, keep);
    else if (o->nesterov) sgd_nesterov(p, g, opt->slots[0], n, lr, o->momentum, keep);
    else sgd_momentum(p, g, opt->slots[0], n, lr, o->momentum, keep);
}

static void sgd_device(px_optimizer *opt, float lr, float keep, px_optim_kernel *k, float *coef) {
    k->kind = PX_OPTK_SGD;
    k->momentum = opt->o.momentum > 0;
    k->nesterov = opt->o.nesterov;
    coef[PX_OC_LR] = lr;
    coef[PX_OC_KEEP] = keep;
    coef[PX_OC_MU] = opt->o.momentum;
}

px_optimizer *px_sgd(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_SGD, opts); }

const px_optimizer_def px_sgd_optimizer = {
    .kind = PX_OPT_SGD,
    .name = "sgd",
    .class_name = "SGD",
    .defaults = {.learning_rate = 0.01f},
    .keys = {PX_OPT_KEY(momentum, PX_KEY_UNIT), PX_OPT_KEY(nesterov, PX_KEY_BOOL)},
    .add_slots = sgd_slots,
    .step = sgd_step,
    .device_step = sgd_device,
};
