/* Optimizers, schedules and clipping against Keras 3's rules: generated fixtures
 * (tests/data/optimizer_fixtures.h), hand-computed steps, errors and checkpoint resume. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../data/optimizer_fixtures.h"
#include "px_test.h"

/* The fixtures are float64; float32 state drifts a little over five steps. */
#define REL_TOL 1e-5

static px_optimizer *fixture_optimizer(const px_opt_fixture *f) {
    px_optimizer_options o = {
        .learning_rate = f->learning_rate, .momentum = f->momentum, .nesterov = f->nesterov,
        .beta_1 = f->beta_1, .beta_2 = f->beta_2, .epsilon = f->epsilon, .amsgrad = f->amsgrad,
        .rho = f->rho, .centered = f->centered, .initial_accumulator_value = f->initial_accumulator_value,
        .weight_decay = f->weight_decay, .clipnorm = f->clipnorm, .clipvalue = f->clipvalue,
        .global_clipnorm = f->global_clipnorm,
        .schedule = f->schedule.kind != PX_SCHEDULE_NONE ? &f->schedule : NULL,
        .learning_rate_power = f->learning_rate_power, .l1_regularization_strength = f->l1_regularization_strength,
        .l2_regularization_strength = f->l2_regularization_strength,
        .l2_shrinkage_regularization_strength = f->l2_shrinkage_regularization_strength, .beta = f->beta,
    };
    px_optimizer *opt = px_optimizer_from_name(f->optimizer, &o);
    if (opt && f->n_segments) px_optimizer_set_segments(opt, f->segments, f->n_segments);
    return opt;
}

static void test_fixtures(void) {
    CHECK(PX_OPT_FIXTURE_COUNT >= 50);
    for (int k = 0; k < PX_OPT_FIXTURE_COUNT; k++) {
        const px_opt_fixture *f = &px_opt_fixtures[k];
        px_optimizer *opt = fixture_optimizer(f);
        CHECK_NOT_NULL(opt);
        if (!opt) continue;
        CHECK(strcmp(px_optimizer_name(opt), f->optimizer) == 0);
        float p[PX_FIX_N], g[PX_FIX_N];
        memcpy(p, px_fix_p0, sizeof p);
        int bad = 0;
        for (int t = 0; t < PX_FIX_STEPS; t++) {
            memcpy(g, px_fix_grads[t], sizeof g);
            CHECK_OK(px_optimizer_step(opt, p, g, PX_FIX_N));
            /* the caller's gradients are never clipped in place */
            CHECK(memcmp(g, px_fix_grads[t], sizeof g) == 0);
            for (int i = 0; i < PX_FIX_N; i++) {
                double want = f->expected[t][i], tol = REL_TOL * (fabs(want) > 1 ? fabs(want) : 1);
                if (!(fabs(p[i] - want) <= tol) && bad++ < 3)
                    px_test_fail(__FILE__, __LINE__, "%s (%s): step %d param %d = %.9g, expected %.9g", f->name,
                                 f->source, t + 1, i, (double)p[i], want);
            }
        }
        CHECK(bad == 0);
        CHECK(px_optimizer_iterations(opt) == PX_FIX_STEPS);
        px_optimizer_free(opt);
    }
}

static void test_sgd_by_hand(void) {
    /* momentum 0.5, lr 0.1: m1 = -0.1 g1, w1 = w0 + m1; m2 = 0.5 m1 - 0.1 g2, w2 = w1 + m2 */
    px_optimizer *opt = px_sgd(&(px_optimizer_options){.learning_rate = 0.1f, .momentum = 0.5f});
    float w[2] = {1.0f, -2.0f};
    CHECK_OK(px_optimizer_step(opt, w, (float[]){2.0f, -4.0f}, 2));
    CHECK_NEAR(w[0], 0.8, 1e-6);
    CHECK_NEAR(w[1], -1.6, 1e-6);
    CHECK_OK(px_optimizer_step(opt, w, (float[]){1.0f, 0.0f}, 2));
    CHECK_NEAR(w[0], 0.8 + (0.5 * -0.2 - 0.1), 1e-6);  /* 0.6 */
    CHECK_NEAR(w[1], -1.6 + 0.5 * 0.4, 1e-6);          /* -1.4 */
    const char *name;
    int64_t n;
    float *m = px_optimizer_slot(opt, 0, &name, &n);
    CHECK(m && strcmp(name, "momentum") == 0 && n == 2);
    if (m) CHECK_NEAR(m[0], -0.2, 1e-6);
    px_optimizer_free(opt);

    /* Nesterov: w += mu * m - lr * g with the new m */
    opt = px_sgd(&(px_optimizer_options){.learning_rate = 0.1f, .momentum = 0.5f, .nesterov = true});
    w[0] = 1.0f;
    CHECK_OK(px_optimizer_step(opt, w, (float[]){2.0f, 0.0f}, 1));
    CHECK_NEAR(w[0], 1.0 + 0.5 * -0.2 - 0.2, 1e-6);
    px_optimizer_free(opt);

    /* defaults: plain SGD with lr 0.01 and no slots */
    opt = px_optimizer_from_name("SGD", NULL);
    CHECK_NOT_NULL(opt);
    CHECK(px_optimizer_slot_count(opt) == 0);
    CHECK_NEAR(px_optimizer_learning_rate(opt), 0.01, 1e-9);
    w[0] = 1.0f;
    CHECK_OK(px_optimizer_step(opt, w, (float[]){3.0f}, 1));
    CHECK_NEAR(w[0], 0.97, 1e-7);
    px_optimizer_free(opt);
}

static void test_adam_first_step_by_hand(void) {
    /* t = 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so
     * w -= lr * sqrt(0.001) |g| sign(g) / (sqrt(0.001) |g| + eps) */
    px_optimizer *opt = px_adam(NULL);
    const px_optimizer_options *o = px_optimizer_get_options(opt);
    CHECK_NEAR(o->learning_rate, 0.001, 1e-10);
    CHECK_NEAR(o->beta_1, 0.9, 1e-7);
    CHECK_NEAR(o->beta_2, 0.999, 1e-7);
    CHECK_NEAR(o->epsilon, 1e-7, 1e-12);
    float w[3] = {1.0f, 1.0f, 1.0f};
    const float g[3] = {0.5f, -2.0f, 1e-6f};
    CHECK_OK(px_optimizer_step(opt, w, g, 3));
    for (int i = 0; i < 3; i++) {
        double s = sqrt(0.001) * fabs(g[i]);
        double want = 1.0 - 0.001 * (g[i] > 0 ? 1 : -1) * s / (s + 1e-7);
        CHECK_NEAR(w[i], want, 1e-7);
    }
    /* the tiny gradient shows where epsilon goes: on the uncorrected sqrt(v) (Keras), not on
     * sqrt(v_hat) (PyTorch), which would give 1 - 0.001 * 1e-6 / (1e-6 + 1e-7) */
    CHECK(fabs(w[2] - (1.0 - 0.001 * 1e-6 / (1e-6 + 1e-7))) > 1e-5);
    const char *name;
    int64_t n;
    CHECK(px_optimizer_slot_count(opt) == 2);
    float *v = px_optimizer_slot(opt, 1, &name, &n);
    CHECK(v && strcmp(name, "velocity") == 0);
    if (v) CHECK_NEAR(v[1], 0.001 * 4.0, 1e-7);
    px_optimizer_free(opt);

    /* AdamW's default decay: w -= 0.004 * lr * w first */
    opt = px_adamw(&(px_optimizer_options){.learning_rate = 0.1f});
    CHECK_NEAR(px_optimizer_get_options(opt)->weight_decay, 0.004, 1e-9);
    w[0] = 2.0f;
    CHECK_OK(px_optimizer_step(opt, w, (float[]){0.0f}, 1));
    CHECK_NEAR(w[0], 2.0 - 2.0 * 0.004 * 0.1, 1e-7);
    px_optimizer_free(opt);
}

static void test_adagrad_and_others_defaults(void) {
    px_optimizer *opt = px_adagrad(NULL);
    float w = 0.0f;
    CHECK_OK(px_optimizer_step(opt, &w, (float[]){0.3f}, 1));
    /* accumulator 0.1 + 0.09 */
    CHECK_NEAR(w, -0.001 * 0.3 / sqrt(0.19 + 1e-7), 1e-9);
    const char *name;
    float *acc = px_optimizer_slot(opt, 0, &name, NULL);
    CHECK(acc && strcmp(name, "accumulator") == 0);
    if (acc) CHECK_NEAR(acc[0], 0.19, 1e-7);
    px_optimizer_free(opt);

    opt = px_adadelta(NULL);
    CHECK_NEAR(px_optimizer_get_options(opt)->rho, 0.95, 1e-7);
    CHECK_NEAR(px_optimizer_learning_rate(opt), 0.001, 1e-10);
    px_optimizer_free(opt);
    opt = px_rmsprop(&(px_optimizer_options){.momentum = 0.9f, .centered = true});
    CHECK_NEAR(px_optimizer_get_options(opt)->rho, 0.9, 1e-7);
    CHECK(px_optimizer_slot_count(opt) == 3);
    px_optimizer_slot(opt, 2, &name, NULL);
    CHECK(name && strcmp(name, "average_gradient") == 0);
    px_optimizer_free(opt);
    opt = px_nadam(NULL);
    CHECK(px_optimizer_get_kind(opt) == PX_OPT_NADAM);
    CHECK(strcmp(px_optimizer_name(opt), "nadam") == 0);
    px_optimizer_free(opt);
}

/* Adamax, Ftrl and Lion's first steps by hand, their defaults and slots, and their
 * configs back and forth. */
static void test_adamax_ftrl_lion_by_hand(void) {
    const char *name;
    /* Adamax, lr 0.1: m = 0.1 g, u = |g|, w -= 0.1 m / ((1 - 0.9) (u + 1e-7)) */
    px_optimizer *opt = px_adamax(&(px_optimizer_options){.learning_rate = 0.1f});
    float w = 1.0f;
    CHECK_OK(px_optimizer_step(opt, &w, (float[]){-0.5f}, 1));
    CHECK_NEAR(w, 1.0 + 0.1 * 0.05 / (0.1 * (0.5 + 1e-7)), 1e-6);
    px_optimizer_slot(opt, 1, &name, NULL);
    CHECK(name && strcmp(name, "norm") == 0);
    px_optimizer_free(opt);
    /* Lion, defaults (lr 0.001, beta_1 0.9, beta_2 0.99): w -= lr sign(0.9 m + 0.1 g), m = 0.99 m + 0.01 g */
    opt = px_lion(NULL);
    CHECK_NEAR(px_optimizer_get_options(opt)->beta_2, 0.99, 1e-7);
    w = 0.5f;
    CHECK_OK(px_optimizer_step(opt, &w, (float[]){0.1f}, 1));
    CHECK_NEAR(w, 0.499, 1e-7);
    CHECK_OK(px_optimizer_step(opt, &w, (float[]){-0.005f}, 1));
    /* m = 0.001; 0.9 * 0.001 + 0.1 * -0.005 = 0.0004 > 0: another step down */
    CHECK_NEAR(w, 0.498, 1e-7);
    float *m = px_optimizer_slot(opt, 0, &name, NULL);
    CHECK(m && strcmp(name, "momentum") == 0);
    if (m) CHECK_NEAR(m[0], 0.001 * 0.99 - 0.005 * 0.01, 1e-9);
    px_optimizer_free(opt);
    /* Ftrl, lr 0.1, power -0.5, accumulator 0.1, no penalties: z = g - (sqrt(n') - sqrt(n)) / lr w,
     * w = -z / (sqrt(n') / lr) */
    opt = px_ftrl(&(px_optimizer_options){.learning_rate = 0.1f});
    CHECK_NEAR(px_optimizer_get_options(opt)->learning_rate_power, -0.5, 1e-7);
    w = 0.5f;
    CHECK_OK(px_optimizer_step(opt, &w, (float[]){0.1f}, 1));
    double z = 0.1 - (sqrt(0.11) - sqrt(0.1)) / 0.1 * 0.5;
    CHECK_NEAR(w, -z / (sqrt(0.11) / 0.1), 1e-7);
    CHECK(px_optimizer_slot_count(opt) == 2);
    px_optimizer_free(opt);
    CHECK(px_ftrl(&(px_optimizer_options){.learning_rate_power = 0.5f}) == NULL);
    CHECK_ERROR_HAS("learning_rate_power");
    CHECK(px_ftrl(&(px_optimizer_options){.l1_regularization_strength = -1}) == NULL);
    CHECK_ERROR_HAS("l1_regularization_strength");
}

static void test_schedules(void) {
    px_lr_schedule e = {.kind = PX_SCHEDULE_EXPONENTIAL, .initial_learning_rate = 0.1f, .decay_steps = 10,
                        .decay_rate = 0.5f};
    CHECK_OK(px_lr_schedule_validate(&e));
    CHECK_NEAR(px_lr_schedule_at(&e, 0), 0.1, 1e-8);
    CHECK_NEAR(px_lr_schedule_at(&e, 5), 0.1 * sqrt(0.5), 1e-8);
    CHECK_NEAR(px_lr_schedule_at(&e, 20), 0.025, 1e-8);
    e.staircase = true;
    CHECK_NEAR(px_lr_schedule_at(&e, 19), 0.05, 1e-8);
    CHECK_NEAR(px_lr_schedule_at(&e, 20), 0.025, 1e-8);

    px_lr_schedule it = {.kind = PX_SCHEDULE_INVERSE_TIME, .initial_learning_rate = 0.1f, .decay_steps = 4,
                         .decay_rate = 0.5f};
    CHECK_NEAR(px_lr_schedule_at(&it, 0), 0.1, 1e-8);
    CHECK_NEAR(px_lr_schedule_at(&it, 6), 0.1 / (1 + 0.5 * 1.5), 1e-8);
    it.staircase = true;
    CHECK_NEAR(px_lr_schedule_at(&it, 6), 0.1 / 1.5, 1e-8);
    CHECK_NEAR(px_lr_schedule_at(&it, 8), 0.05, 1e-8);

    /* Keras: values[0] while step <= boundaries[0], ..., values[-1] after the last */
    px_lr_schedule pw = {.kind = PX_SCHEDULE_PIECEWISE, .n_boundaries = 2, .boundaries = {100, 110},
                         .values = {1.0f, 0.5f, 0.1f}};
    CHECK_OK(px_lr_schedule_validate(&pw));
    CHECK_NEAR(px_lr_schedule_at(&pw, 0), 1.0, 0);
    CHECK_NEAR(px_lr_schedule_at(&pw, 100), 1.0, 0);
    CHECK_NEAR(px_lr_schedule_at(&pw, 101), 0.5, 0);
    CHECK_NEAR(px_lr_schedule_at(&pw, 110), 0.5, 0);
    CHECK_NEAR(px_lr_schedule_at(&pw, 111), 0.1f, 0);

    px_lr_schedule c = {.kind = PX_SCHEDULE_COSINE, .initial_learning_rate = 0.2f, .decay_steps = 100,
                        .alpha = 0.1f};
    CHECK_NEAR(px_lr_schedule_at(&c, 0), 0.2, 1e-8);
    CHECK_NEAR(px_lr_schedule_at(&c, 50), 0.2 * (0.9 * 0.5 + 0.1), 1e-8);
    CHECK_NEAR(px_lr_schedule_at(&c, 25), 0.2 * (0.9 * 0.5 * (1 + cos(M_PI / 4)) + 0.1), 1e-8);
    CHECK_NEAR(px_lr_schedule_at(&c, 100), 0.02, 1e-8);
    CHECK_NEAR(px_lr_schedule_at(&c, 1000), 0.02, 1e-8);

    px_lr_schedule none = {.kind = PX_SCHEDULE_NONE, .initial_learning_rate = 0.3f};
    CHECK_NEAR(px_lr_schedule_at(&none, 7), 0.3f, 0);

    /* the optimizer evaluates it at its iteration count before the update (0 first) */
    px_optimizer *opt = px_sgd(&(px_optimizer_options){.schedule = &e});
    e.initial_learning_rate = 99.0f; /* copied at creation */
    CHECK_NEAR(px_optimizer_learning_rate(opt), 0.1, 1e-8);
    float w = 0.0f;
    for (int i = 0; i < 10; i++) CHECK_OK(px_optimizer_step(opt, &w, (float[]){1.0f}, 1));
    CHECK_NEAR(w, -1.0, 1e-6); /* ten steps at 0.1, then the staircase drops */
    CHECK_NEAR(px_optimizer_learning_rate(opt), 0.05, 1e-8);
    CHECK(px_optimizer_get_options(opt)->schedule != NULL);
    px_optimizer_set_learning_rate(opt, 0.25f);
    CHECK(px_optimizer_get_options(opt)->schedule == NULL);
    CHECK_NEAR(px_optimizer_learning_rate(opt), 0.25, 0);
    px_optimizer_free(opt);

    /* invalid schedules */
    px_lr_schedule bad = e;
    bad.decay_steps = 0;
    CHECK(px_lr_schedule_validate(&bad) == PX_ERR_ARG);
    CHECK_ERROR_HAS("decay_steps");
    CHECK(px_adam(&(px_optimizer_options){.schedule = &bad}) == NULL);
    CHECK_ERROR_HAS("adam: learning-rate schedule: decay_steps must be > 0");
    px_lr_schedule badpw = pw;
    badpw.boundaries[1] = 100;
    CHECK(px_lr_schedule_validate(&badpw) == PX_ERR_ARG);
    CHECK_ERROR_HAS("strictly increasing");
    badpw.n_boundaries = 0;
    CHECK(px_lr_schedule_validate(&badpw) == PX_ERR_ARG);
    CHECK(isnan(px_lr_schedule_at(NULL, 0)));
}

static double norm(const float *g, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)g[i] * g[i];
    return sqrt(s);
}

static void test_clipping(void) {
    /* SGD with lr 1 turns the parameter change into the (clipped) gradient */
    const float g[4] = {3.0f, -4.0f, 0.5f, -0.25f}; /* norm of the first two: 5 */
    float p[4] = {0}, d[4];

    px_optimizer *opt = px_sgd(&(px_optimizer_options){.learning_rate = 1.0f, .clipvalue = 1.0f});
    CHECK_OK(px_optimizer_step(opt, p, g, 4));
    CHECK(p[0] == -1.0f && p[1] == 1.0f && p[2] == -0.5f && p[3] == 0.25f);
    CHECK(g[0] == 3.0f);
    px_optimizer_free(opt);

    double total = norm(g, 4);
    opt = px_sgd(&(px_optimizer_options){.learning_rate = 1.0f, .global_clipnorm = 2.0f});
    memset(p, 0, sizeof p);
    CHECK_OK(px_optimizer_step(opt, p, g, 4));
    for (int i = 0; i < 4; i++) d[i] = -p[i];
    CHECK_NEAR(norm(d, 4), 2.0, 1e-6);
    CHECK_NEAR(d[2], 0.5 * 2.0 / total, 1e-7);
    px_optimizer_free(opt);

    /* clipnorm without segments: the whole block is one variable */
    opt = px_sgd(&(px_optimizer_options){.learning_rate = 1.0f, .clipnorm = 2.0f});
    memset(p, 0, sizeof p);
    CHECK_OK(px_optimizer_step(opt, p, g, 4));
    CHECK_NEAR(-p[3], -0.25 * 2.0 / total, 1e-7);
    /* with segments {0, 2}: variables [3, -4] (norm 5 -> 2) and [0.5, -0.25] (under 2, kept) */
    CHECK_OK(px_optimizer_set_segments(opt, (int64_t[]){0, 2}, 2));
    memset(p, 0, sizeof p);
    CHECK_OK(px_optimizer_step(opt, p, g, 4));
    CHECK_NEAR(-p[0], 3.0 * 2.0 / 5.0, 1e-6);
    CHECK_NEAR(-p[1], -4.0 * 2.0 / 5.0, 1e-6);
    CHECK(-p[2] == 0.5f && -p[3] == -0.25f);
    /* a gradient under the limit passes unchanged */
    memset(p, 0, sizeof p);
    CHECK_OK(px_optimizer_step(opt, p, (float[]){0.1f, 0.2f, 0.0f, 0.0f}, 4));
    CHECK(-p[0] == 0.1f && -p[1] == 0.2f && p[2] == 0.0f);
    CHECK(px_optimizer_set_segments(opt, (int64_t[]){0, 4}, 2) == PX_ERR_ARG); /* past n */
    CHECK(px_optimizer_set_segments(opt, (int64_t[]){1, 2}, 2) == PX_ERR_ARG);
    CHECK(px_optimizer_set_segments(opt, (int64_t[]){0, 2, 2}, 3) == PX_ERR_ARG);
    CHECK_OK(px_optimizer_set_segments(opt, NULL, 0));
    px_optimizer_free(opt);

    /* Keras allows only one clipping option */
    CHECK(px_sgd(&(px_optimizer_options){.clipnorm = 1.0f, .clipvalue = 1.0f}) == NULL);
    CHECK_ERROR_HAS("only one of clipnorm, clipvalue and global_clipnorm");
}

static void test_errors(void) {
    CHECK(px_optimizer_step(NULL, NULL, NULL, 1) == PX_ERR_ARG);
    CHECK_ERROR_HAS("optimizer is NULL");
    CHECK(px_adam(&(px_optimizer_options){.learning_rate = -0.1f}) == NULL);
    CHECK(px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("adam: learning_rate must be");
    CHECK(px_sgd(&(px_optimizer_options){.learning_rate = NAN}) == NULL);
    CHECK_ERROR_HAS("sgd: learning_rate");
    CHECK(px_adam(&(px_optimizer_options){.beta_1 = 1.0f}) == NULL);
    CHECK_ERROR_HAS("adam: beta_1 must be in [0, 1)");
    CHECK(px_nadam(&(px_optimizer_options){.beta_2 = -0.5f}) == NULL);
    CHECK_ERROR_HAS("nadam: beta_2");
    CHECK(px_sgd(&(px_optimizer_options){.momentum = 1.5f}) == NULL);
    CHECK_ERROR_HAS("sgd: momentum must be in [0, 1]");
    CHECK(px_rmsprop(&(px_optimizer_options){.rho = 1.0f}) == NULL);
    CHECK_ERROR_HAS("rmsprop: rho");
    CHECK(px_adadelta(&(px_optimizer_options){.epsilon = -1e-7f}) == NULL);
    CHECK_ERROR_HAS("adadelta: epsilon");
    CHECK(px_adagrad(&(px_optimizer_options){.initial_accumulator_value = -1.0f}) == NULL);
    CHECK_ERROR_HAS("adagrad: initial_accumulator_value");
    CHECK(px_adamw(&(px_optimizer_options){.weight_decay = NAN}) == NULL);
    CHECK_ERROR_HAS("adamw: weight_decay");
    CHECK(px_sgd(&(px_optimizer_options){.clipnorm = -1.0f}) == NULL);
    CHECK_ERROR_HAS("sgd: clipnorm");
    CHECK(px_optimizer_from_name("adabelief", NULL) == NULL);
    CHECK_ERROR_HAS("unknown optimizer 'adabelief'");
    CHECK(px_optimizer_from_name(NULL, NULL) == NULL);
    CHECK(px_optimizer_new((px_optimizer_kind)42, NULL) == NULL);

    px_optimizer *opt = px_adam(NULL);
    float p[4] = {0}, g[4] = {0};
    CHECK(px_optimizer_step(opt, p, g, 0) == PX_ERR_ARG);
    CHECK(px_optimizer_step(opt, NULL, g, 4) == PX_ERR_ARG);
    CHECK_OK(px_optimizer_step(opt, p, g, 4));
    CHECK(px_optimizer_step(opt, p, g, 3) == PX_ERR_ARG);
    CHECK_ERROR_HAS("adam: step got 3 parameters, but the optimizer was built for 4");
    CHECK(px_optimizer_iterations(opt) == 1);
    /* an invalid new rate is refused and the old one kept */
    px_optimizer_set_learning_rate(opt, -1.0f);
    CHECK_ERROR_HAS("adam: learning_rate");
    CHECK_NEAR(px_optimizer_learning_rate(opt), 0.001, 1e-10);
    CHECK(px_optimizer_slot(opt, 5, NULL, NULL) == NULL);
    CHECK_ERROR_HAS("slot 5 does not exist");
    CHECK(px_optimizer_restore(opt, 4, -1) == PX_ERR_ARG);
    px_optimizer_free(opt);
    px_optimizer_free(NULL);
}

/* Three steps, state copied into a fresh optimizer, two more on both: bit-identical. */
static void resume_case(const char *name, const px_optimizer_options *o) {
    enum { N = 37 }; /* not a multiple of the vector width */
    float pa[N], pb[N], g[N];
    for (int i = 0; i < N; i++) pa[i] = (float)(i % 7) * 0.3f - 1.0f;
    px_optimizer *a = px_optimizer_from_name(name, o);
    CHECK_NOT_NULL(a);
    if (!a) return;
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < N; i++) g[i] = sinf((float)(i * 3 + t)) * (1.0f + (float)t);
        CHECK_OK(px_optimizer_step(a, pa, g, N));
    }
    px_optimizer *b = px_optimizer_from_name(name, o);
    const char *name_b;
    int64_t nb;
    CHECK(px_optimizer_slot(b, 0, &name_b, &nb) == NULL || px_optimizer_slot_count(b) == 0); /* not built */
    CHECK_OK(px_optimizer_restore(b, N, px_optimizer_iterations(a)));
    CHECK(px_optimizer_slot_count(a) == px_optimizer_slot_count(b));
    for (int s = 0; s < px_optimizer_slot_count(a); s++) {
        const char *na, *nbn;
        int64_t n1, n2;
        float *sa = px_optimizer_slot(a, s, &na, &n1), *sb = px_optimizer_slot(b, s, &nbn, &n2);
        CHECK(sa && sb && n1 == N && n2 == N && strcmp(na, nbn) == 0);
        if (sa && sb) memcpy(sb, sa, sizeof(float) * N);
    }
    memcpy(pb, pa, sizeof pa);
    CHECK(px_optimizer_iterations(b) == 3);
    for (int t = 3; t < 5; t++) {
        for (int i = 0; i < N; i++) g[i] = cosf((float)(i + t)) * 0.7f;
        CHECK_OK(px_optimizer_step(a, pa, g, N));
        CHECK_OK(px_optimizer_step(b, pb, g, N));
    }
    if (memcmp(pa, pb, sizeof pa) != 0) px_test_fail(__FILE__, __LINE__, "%s: resumed run differs", name);
    else px_test_passed++;
    px_optimizer_free(a);
    px_optimizer_free(b);
}

static void test_restore_round_trip(void) {
    px_lr_schedule sched = {.kind = PX_SCHEDULE_COSINE, .initial_learning_rate = 0.05f, .decay_steps = 6};
    resume_case("sgd", &(px_optimizer_options){.momentum = 0.9f, .nesterov = true});
    resume_case("adagrad", NULL);
    resume_case("rmsprop", &(px_optimizer_options){.momentum = 0.5f, .centered = true});
    resume_case("adadelta", &(px_optimizer_options){.learning_rate = 1.0f});
    resume_case("adam", &(px_optimizer_options){.amsgrad = true, .clipnorm = 1.0f});
    resume_case("adamw", &(px_optimizer_options){.schedule = &sched});
    resume_case("nadam", &(px_optimizer_options){.learning_rate = 0.01f, .global_clipnorm = 2.0f});
}

static void test_nan_gradient(void) {
    const char *names[] = {"sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "nadam"};
    for (int k = 0; k < 7; k++) {
        px_optimizer *opt = px_optimizer_from_name(names[k], &(px_optimizer_options){.momentum = 0.5f});
        float p[5] = {1, 2, 3, 4, 5};
        CHECK_OK(px_optimizer_step(opt, p, (float[]){0.1f, NAN, 0.2f, INFINITY, 0.3f}, 5));
        CHECK(isfinite(p[0]) && isfinite(p[2]) && isfinite(p[4]));
        CHECK(!isfinite(p[1]));
        px_optimizer_free(opt);
    }
    /* under global clipping a NaN norm poisons every gradient, as in Keras */
    px_optimizer *opt = px_adam(&(px_optimizer_options){.global_clipnorm = 1.0f});
    float p[3] = {1, 2, 3};
    CHECK_OK(px_optimizer_step(opt, p, (float[]){0.1f, NAN, 0.2f}, 3));
    CHECK(isnan(p[0]) && isnan(p[2]));
    px_optimizer_free(opt);
}

/* A block the size the models use: several steps, all optimizers, no errors. */
static void test_large_block(void) {
    enum { N = 270001 };
    float *p = calloc(N, sizeof(float)), *g = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) g[i] = (float)((i % 13) - 6) * 0.01f;
    const char *names[] = {"sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "nadam"};
    for (int k = 0; k < 7; k++) {
        px_optimizer *opt = px_optimizer_from_name(names[k], &(px_optimizer_options){.clipnorm = 5.0f});
        for (int t = 0; t < 3; t++) CHECK_OK(px_optimizer_step(opt, p, g, N));
        /* the tiled loops treat the last, partial tile like the others */
        CHECK(p[N - 1] == p[N - 1 - 13 * 1000] && isfinite(p[N - 1]));
        px_optimizer_free(opt);
    }
    free(p);
    free(g);
}

/* Every registered kind is found again by its name in any case, and the message for an
 * unknown name lists it. */
static void test_registry(void) {
    int k = 0;
    px_optimizer *opt;
    CHECK(px_optimizer_from_name("no-such", NULL) == NULL);
    char unknown[512];
    snprintf(unknown, sizeof unknown, "%s", px_last_error());
    for (; (opt = px_optimizer_new((px_optimizer_kind)k, NULL)) != NULL; k++) {
        const char *name = px_optimizer_name(opt);
        char upper[32];
        size_t i = 0;
        for (; name[i] && i + 1 < sizeof upper; i++) upper[i] = (char)toupper((unsigned char)name[i]);
        upper[i] = '\0';
        px_optimizer *back = px_optimizer_from_name(upper, NULL);
        CHECK(back && px_optimizer_get_kind(back) == (px_optimizer_kind)k);
        CHECK(strstr(unknown, name) != NULL);
        px_optimizer_free(back);
        px_optimizer_free(opt);
    }
    CHECK(k >= 10);
}

int main(void) {
    RUN_TEST(test_fixtures);
    RUN_TEST(test_registry);
    RUN_TEST(test_sgd_by_hand);
    RUN_TEST(test_adam_first_step_by_hand);
    RUN_TEST(test_adagrad_and_others_defaults);
    RUN_TEST(test_adamax_ftrl_lion_by_hand);
    RUN_TEST(test_schedules);
    RUN_TEST(test_clipping);
    RUN_TEST(test_errors);
    RUN_TEST(test_restore_round_trip);
    RUN_TEST(test_nan_gradient);
    RUN_TEST(test_large_block);
    return px_test_finish();
}
