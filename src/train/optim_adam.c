/* Adam and AdamW (Keras's optimizers.Adam, .AdamW), with AMSGrad: AdamW is Adam with
 * decoupled weight decay on by default (0.004). */
#include "train/optim_loops.h"
#include "train/optimizer_kind.h"

static void adam_slots(px_optimizer *opt) {
    px_optimizer_add_slot(opt, "momentum", "m");
    px_optimizer_add_slot(opt, "velocity", "v");
    if (opt->o.amsgrad) px_optimizer_add_slot(opt, "velocity_hat", "vhat");
}

/* Step t's scalars: epsilon goes on the uncorrected sqrt(v); the bias corrections fold into alpha. */
static px_adam_coeffs adam_coeffs(const px_optimizer *opt, float lr, float keep) {
    const px_optimizer_options *o = &opt->o;
    const int64_t t = opt->iterations + 1;
    double b1t = pow(o->beta_1, (double)t), b2t = pow(o->beta_2, (double)t);
    return (px_adam_coeffs){.alpha = (float)(lr * sqrt(1.0 - b2t) / (1.0 - b1t)),
                            .b1 = o->beta_1,
                            .b2 = o->beta_2,
                            .eps = o->epsilon,
                            .keep = keep,
                            .bc2 = 1};
}

static void adam_step(px_optimizer *opt, float *p, const float *g, int64_t n, float lr, float keep) {
    float **s = opt->slots;
    px_adam_coeffs c = adam_coeffs(opt, lr, keep);
    if (opt->o.amsgrad) px_adam_loop(p, g, s[0], s[1], s[2], n, c, true, false, true);
    else px_adam_loop(p, g, s[0], s[1], NULL, n, c, false, false, true);
}

static void adam_device(px_optimizer *opt, float lr, float keep, px_optim_kernel *k, float *coef) {
    px_adam_coeffs c = adam_coeffs(opt, lr, keep);
    k->kind = opt->def->kind == PX_OPT_ADAMW ? PX_OPTK_ADAMW : PX_OPTK_ADAM;
    k->amsgrad = opt->o.amsgrad;
    px_adam_coeffs_out(&c, coef);
}

px_optimizer *px_adam(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_ADAM, opts); }
px_optimizer *px_adamw(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_ADAMW, opts); }

const px_optimizer_def px_adam_optimizer = {
    .kind = PX_OPT_ADAM,
    .name = "adam",
    .class_name = "Adam",
    .keys = {PX_OPT_KEY(beta_1, PX_KEY_UNIT_OPEN), PX_OPT_KEY(beta_2, PX_KEY_UNIT_OPEN),
             PX_OPT_KEY(epsilon, PX_KEY_NONNEG), PX_OPT_KEY(amsgrad, PX_KEY_BOOL)},
    .add_slots = adam_slots,
    .step = adam_step,
    .device_step = adam_device,
};

const px_optimizer_def px_adamw_optimizer = {
    .kind = PX_OPT_ADAMW,
    .name = "adamw",
    .class_name = "AdamW",
    .defaults = {.weight_decay = 0.004f},
    .keys = {PX_OPT_KEY(weight_decay, PX_KEY_NONNEG), PX_OPT_KEY(beta_1, PX_KEY_UNIT_OPEN),
             PX_OPT_KEY(beta_2, PX_KEY_UNIT_OPEN), PX_OPT_KEY(epsilon, PX_KEY_NONNEG),
             PX_OPT_KEY(amsgrad, PX_KEY_BOOL)},
    .add_slots = adam_slots,
    .step = adam_step,
    .device_step = adam_device,
};
