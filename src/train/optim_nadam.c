/* Nadam (Keras's optimizers.Nadam): Adam with Nesterov momentum and Keras's momentum
 * schedule u_t = beta_1 (1 - 0.5 * 0.96^t), whose running product is the one scalar of
 * state besides the slots. */
#include "train/optim_loops.h"
#include "train/optimizer_kind.h"

static void nadam_slots(px_optimizer *opt) {
    px_optimizer_add_slot(opt, "momentum", "m");
    px_optimizer_add_slot(opt, "velocity", "v");
}

static double nadam_u(float b1, int64_t t) { return (double)b1 * (1.0 - 0.5 * pow(0.96, (double)t)); }

/* Keras's `_u_product`, kept in float32 as Keras does. */
static float nadam_next_product(float u_product, float b1, int64_t t) {
    return (float)((double)u_product * nadam_u(b1, t));
}

/* Replays the product exactly as the steps built it, so a resumed run is bit-identical;
 * it underflows to 0 within a few thousand steps, after which it stays there. */
static void nadam_restore(px_optimizer *opt) {
    float u = 1.0f;
    for (int64_t t = 1; t <= opt->iterations && u != 0.0f; t++) u = nadam_next_product(u, opt->o.beta_1, t);
    opt->scalar_state = u;
}

/* Step t's scalars; advances the momentum product to step t. */
static px_adam_coeffs nadam_coeffs(px_optimizer *opt, float lr, float keep) {
    const px_optimizer_options *o = &opt->o;
    const int64_t t = opt->iterations + 1;
    double u_t = nadam_u(o->beta_1, t), u_t1 = nadam_u(o->beta_1, t + 1);
    float u_product = nadam_next_product(opt->scalar_state, o->beta_1, t);
    double u_product_t1 = (double)u_product * u_t1;
    opt->scalar_state = u_product;
    return (px_adam_coeffs){.alpha = lr,
                            .b1 = o->beta_1,
                            .b2 = o->beta_2,
                            .eps = o->epsilon,
                            .keep = keep,
                            .cm = (float)(u_t1 / (1.0 - u_product_t1)),
                            .cg = (float)((1.0 - u_t) / (1.0 - (double)u_product)),
                            .bc2 = (float)(1.0 - pow(o->beta_2, (double)t))};
}

static void nadam_step(px_optimizer *opt, float *p, const float *g, int64_t n, float lr, float keep) {
    px_adam_coeffs c = nadam_coeffs(opt, lr, keep);
    px_adam_loop(p, g, opt->slots[0], opt->slots[1], NULL, n, c, false, true, true);
}

static void nadam_device(px_optimizer *opt, float lr, float keep, px_optim_kernel *k, float *coef) {
    px_adam_coeffs c = nadam_coeffs(opt, lr, keep);
    k->kind = PX_OPTK_NADAM;
    px_adam_coeffs_out(&c, coef);
}

px_optimizer *px_nadam(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_NADAM, opts); }

const px_optimizer_def px_nadam_optimizer = {
    .kind = PX_OPT_NADAM,
    .name = "nadam",
    .class_name = "Nadam",
    .keys = {PX_OPT_KEY(beta_1, PX_KEY_UNIT_OPEN), PX_OPT_KEY(beta_2, PX_KEY_UNIT_OPEN),
             PX_OPT_KEY(epsilon, PX_KEY_NONNEG)},
    .add_slots = nadam_slots,
    .restore = nadam_restore,
    .step = nadam_step,
    .device_step = nadam_device,
};
