/* Keras 3's optimizers over one contiguous parameter block: defaults and validation,
 * gradient clipping, decoupled weight decay and one update loop per optimizer. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "core/alloc.h"
#include "plexus/optim.h"
#include "plexus/status.h"

#define MAX_SLOTS 3

struct px_optimizer {
    px_optimizer_kind kind;
    px_optimizer_options o; /* defaults filled in; o.schedule points at `sched` or is NULL */
    px_lr_schedule sched;
    int64_t n; /* parameters per step; -1 until the first step or a restore */
    int64_t iterations;
    int n_slots;
    const char *slot_names[MAX_SLOTS];
    float *slots[MAX_SLOTS]; /* inside `block`, each 64-byte aligned */
    float *scratch;          /* clipped gradients (inside `block`); NULL without clipping */
    float *block;
    float nadam_u_product; /* Keras's Nadam `_u_product`, kept in float32 as Keras does */
    int64_t *segments;     /* variable starts for clipnorm; NULL: the whole block */
    int n_segments;
};

static const char *const kind_names[] = {"sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "nadam"};
#define N_KINDS ((int)(sizeof kind_names / sizeof kind_names[0]))

static bool uses_momentum(px_optimizer_kind k) { return k == PX_OPT_SGD || k == PX_OPT_RMSPROP; }
static bool uses_betas(px_optimizer_kind k) { return k == PX_OPT_ADAM || k == PX_OPT_ADAMW || k == PX_OPT_NADAM; }
static bool uses_epsilon(px_optimizer_kind k) { return k != PX_OPT_SGD; }
static bool uses_rho(px_optimizer_kind k) { return k == PX_OPT_RMSPROP || k == PX_OPT_ADADELTA; }

/* A rate-like field: finite and >= 0 (NaN fails both). */
static px_status check_nonneg(const char *who, const char *field, float x) {
    if (x >= 0 && isfinite(x)) return PX_OK;
    return px_set_error(PX_ERR_ARG, "%s: %s must be a finite number >= 0, got %g", who, field, (double)x);
}

static px_status check_unit(const char *who, const char *field, float x, bool one_allowed) {
    if (x >= 0 && (one_allowed ? x <= 1 : x < 1)) return PX_OK;
    return px_set_error(PX_ERR_ARG, "%s: %s must be in [0, 1%s, got %g", who, field, one_allowed ? "]" : ")",
                        (double)x);
}

/* Fills Keras's defaults for the zero fields and checks the result. */
static px_status fill_options(px_optimizer_kind kind, const px_optimizer_options *in, px_optimizer_options *o,
                              px_lr_schedule *sched) {
    const char *who = kind_names[kind];
    px_status st;
    *o = in ? *in : (px_optimizer_options){0};
    if (o->learning_rate == 0) o->learning_rate = kind == PX_OPT_SGD ? 0.01f : 0.001f;
    if (o->beta_1 == 0) o->beta_1 = 0.9f;
    if (o->beta_2 == 0) o->beta_2 = 0.999f;
    if (o->epsilon == 0) o->epsilon = 1e-7f;
    if (o->rho == 0) o->rho = kind == PX_OPT_ADADELTA ? 0.95f : 0.9f;
    if (o->initial_accumulator_value == 0) o->initial_accumulator_value = 0.1f;
    if (o->weight_decay == 0 && kind == PX_OPT_ADAMW) o->weight_decay = 0.004f;

    if ((st = check_nonneg(who, "learning_rate", o->learning_rate))) return st;
    if (uses_momentum(kind) && (st = check_unit(who, "momentum", o->momentum, true))) return st;
    if (uses_betas(kind)) {
        if ((st = check_unit(who, "beta_1", o->beta_1, false))) return st;
        if ((st = check_unit(who, "beta_2", o->beta_2, false))) return st;
    }
    if (uses_epsilon(kind) && (st = check_nonneg(who, "epsilon", o->epsilon))) return st;
    if (uses_rho(kind) && (st = check_unit(who, "rho", o->rho, false))) return st;
    if (kind == PX_OPT_ADAGRAD && (st = check_nonneg(who, "initial_accumulator_value", o->initial_accumulator_value)))
        return st;
    if ((st = check_nonneg(who, "weight_decay", o->weight_decay))) return st;
    if ((st = check_nonneg(who, "clipnorm", o->clipnorm))) return st;
    if ((st = check_nonneg(who, "clipvalue", o->clipvalue))) return st;
    if ((st = check_nonneg(who, "global_clipnorm", o->global_clipnorm))) return st;
    if ((o->clipnorm > 0) + (o->clipvalue > 0) + (o->global_clipnorm > 0) > 1)
        return px_set_error(PX_ERR_ARG,
                            "%s: only one of clipnorm, clipvalue and global_clipnorm can be set "
                            "(got %g, %g, %g)",
                            who, (double)o->clipnorm, (double)o->clipvalue, (double)o->global_clipnorm);
    if (o->schedule) {
        if (px_lr_schedule_validate(o->schedule) != PX_OK) {
            char why[512]; /* the message buffer is about to be rewritten */
            snprintf(why, sizeof why, "%s", px_last_error());
            return px_set_error(PX_ERR_ARG, "%s: %s", who, why);
        }
        *sched = *o->schedule;
        o->schedule = sched;
    }
    return PX_OK;
}

static void add_slot(px_optimizer *opt, const char *name) { opt->slot_names[opt->n_slots++] = name; }

px_optimizer *px_optimizer_new(px_optimizer_kind kind, const px_optimizer_options *opts) {
    if ((int)kind < 0 || (int)kind >= N_KINDS) {
        px_set_error(PX_ERR_ARG, "px_optimizer_new: unknown optimizer kind %d", (int)kind);
        return NULL;
    }
    px_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", kind_names[kind]);
        return NULL;
    }
    opt->kind = kind;
    opt->n = -1;
    opt->nadam_u_product = 1.0f;
    if (fill_options(kind, opts, &opt->o, &opt->sched) != PX_OK) {
        free(opt);
        return NULL;
    }
    /* Keras's slot names and order (the order of its optimizer variables per weight). */
    switch (kind) {
    case PX_OPT_SGD:
        if (opt->o.momentum > 0) add_slot(opt, "momentum");
        break;
    case PX_OPT_ADAGRAD: add_slot(opt, "accumulator"); break;
    case PX_OPT_RMSPROP:
        add_slot(opt, "velocity");
        if (opt->o.momentum > 0) add_slot(opt, "momentum");
        if (opt->o.centered) add_slot(opt, "average_gradient");
        break;
    case PX_OPT_ADADELTA:
        add_slot(opt, "accumulated_grad");
        add_slot(opt, "accumulated_delta_var");
        break;
    case PX_OPT_ADAM:
    case PX_OPT_ADAMW:
        add_slot(opt, "momentum");
        add_slot(opt, "velocity");
        if (opt->o.amsgrad) add_slot(opt, "velocity_hat");
        break;
    case PX_OPT_NADAM:
        add_slot(opt, "momentum");
        add_slot(opt, "velocity");
        break;
    }
    return opt;
}

px_optimizer *px_sgd(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_SGD, opts); }
px_optimizer *px_adam(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_ADAM, opts); }
px_optimizer *px_adamw(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_ADAMW, opts); }
px_optimizer *px_nadam(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_NADAM, opts); }
px_optimizer *px_rmsprop(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_RMSPROP, opts); }
px_optimizer *px_adagrad(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_ADAGRAD, opts); }
px_optimizer *px_adadelta(const px_optimizer_options *opts) { return px_optimizer_new(PX_OPT_ADADELTA, opts); }

px_optimizer *px_optimizer_from_name(const char *name, const px_optimizer_options *opts) {
    if (!name) {
        px_set_error(PX_ERR_ARG, "px_optimizer_from_name: name is NULL");
        return NULL;
    }
    /* Keras accepts both "adam" and the class name "Adam" */
    for (int k = 0; k < N_KINDS; k++) {
        const char *a = name, *b = kind_names[k];
        while (*a && *b && tolower((unsigned char)*a) == *b) a++, b++;
        if (!*a && !*b) return px_optimizer_new((px_optimizer_kind)k, opts);
    }
    px_set_error(PX_ERR_ARG,
                 "unknown optimizer '%s' (expected sgd, adam, adamw, nadam, rmsprop, adagrad or adadelta)", name);
    return NULL;
}

void px_optimizer_free(px_optimizer *opt) {
    if (!opt) return;
    px_aligned_free(opt->block);
    free(opt->segments);
    free(opt);
}

static bool clipping(const px_optimizer *opt) {
    return opt->o.clipnorm > 0 || opt->o.clipvalue > 0 || opt->o.global_clipnorm > 0;
}

/* Fresh state for n parameters: one aligned block holding every slot and the scratch. */
static px_status size_state(px_optimizer *opt, int64_t n) {
    const char *who = kind_names[opt->kind];
    if (n <= 0) return px_set_error(PX_ERR_ARG, "%s: the number of parameters must be > 0, got %lld", who, (long long)n);
    int n_arrays = opt->n_slots + (clipping(opt) ? 1 : 0);
    size_t stride = px_align_up((size_t)n * sizeof(float));
    if ((uint64_t)n > SIZE_MAX / sizeof(float) / 4 || (n_arrays && stride > SIZE_MAX / (size_t)n_arrays))
        return px_set_error(PX_ERR_NOMEM, "%s: %lld parameters are too many", who, (long long)n);
    float *block = NULL;
    if (n_arrays) {
        block = px_aligned_calloc(stride * (size_t)n_arrays);
        if (!block)
            return px_set_error(PX_ERR_NOMEM, "%s: cannot allocate %d state arrays of %lld floats", who, n_arrays,
                                (long long)n);
    }
    px_aligned_free(opt->block);
    opt->block = block;
    for (int i = 0; i < n_arrays; i++) {
        float *a = (float *)((char *)block + stride * (size_t)i);
        if (i < opt->n_slots) opt->slots[i] = a;
        else opt->scratch = a;
    }
    if (!clipping(opt)) opt->scratch = NULL;
    if (opt->kind == PX_OPT_ADAGRAD) {
        float *acc = opt->slots[0], init = opt->o.initial_accumulator_value;
        for (int64_t i = 0; i < n; i++) acc[i] = init;
    }
    opt->n = n;
    return PX_OK;
}

/* ---- clipping (Keras BaseOptimizer._clip_gradients) ---- */

static double sum_squares(const float *restrict g, int64_t n) {
    /* independent lanes keep the sum vectorizable without reassociation flags */
    double lane[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) lane[j] += (double)g[i + j] * g[i + j];
    double s = 0;
    for (; i < n; i++) s += (double)g[i] * g[i];
    for (int j = 0; j < 8; j++) s += lane[j];
    return s;
}

static void scale_into(float *restrict dst, const float *restrict g, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) dst[i] = g[i] * scale;
}

/* The gradients the update uses: `grads` itself, or the clipped copy in the scratch. */
static const float *clip_gradients(px_optimizer *opt, const float *grads, int64_t n) {
    float *restrict s = opt->scratch;
    const px_optimizer_options *o = &opt->o;
    if (o->clipnorm > 0) {
        /* per variable: g * c / max(|g|, c) */
        int count = opt->segments ? opt->n_segments : 1;
        for (int k = 0; k < count; k++) {
            int64_t a = opt->segments ? opt->segments[k] : 0;
            int64_t b = opt->segments && k + 1 < count ? opt->segments[k + 1] : n;
            double ss = sum_squares(grads + a, b - a), norm = ss > 0 ? sqrt(ss) : ss;
            double c = o->clipnorm;
            scale_into(s + a, grads + a, b - a, (float)(c / (norm > c || isnan(norm) ? norm : c)));
        }
        return s;
    }
    if (o->global_clipnorm > 0) {
        double c = o->global_clipnorm, norm = sqrt(sum_squares(grads, n));
        /* Keras: c * min(1/norm, 1/c) + (norm - norm), which turns an infinite or NaN norm
         * into NaN gradients rather than silently zeroing them */
        double scale = c * fmin(1.0 / norm, 1.0 / c) + (norm - norm);
        scale_into(s, grads, n, (float)scale);
        return s;
    }
    if (o->clipvalue > 0) {
        const float c = o->clipvalue;
        for (int64_t i = 0; i < n; i++) {
            float g = grads[i];
            s[i] = g < -c ? -c : g > c ? c : g;
        }
        return s;
    }
    return grads;
}

/* ---- update loops; `keep` = 1 - weight_decay * lr is Keras's decoupled decay w -= w * wd * lr ---- */

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

/* GCC only vectorizes sqrtf under -fno-math-errno, which cannot be switched on per file
 * (the libm builtins get their errno behaviour when the compiler starts), so the loops
 * below work in L1-sized tiles: a vectorizable pass that updates the state and gathers the
 * square-root arguments, an explicit SIMD square root, and a vectorizable finishing pass. */
#define TILE 512

static void sqrt_tile(float *restrict x, int len) {
    int i = 0;
#if defined(__SSE2__)
    for (; i + 4 <= len; i += 4) _mm_storeu_ps(x + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
#elif defined(__ARM_NEON) && defined(__aarch64__)
    for (; i + 4 <= len; i += 4) vst1q_f32(x + i, vsqrtq_f32(vld1q_f32(x + i)));
#endif
    for (; i < len; i++) x[i] = sqrtf(x[i]);
}

#define FOR_TILES(n, i0, len)                                                                     \
    for (int64_t i0 = 0, len = (n) < TILE ? (n) : TILE; i0 < (n);                                  \
         i0 += TILE, len = (n) - i0 < TILE ? (n) - i0 : TILE)

static void adagrad(float *restrict p, const float *restrict g, float *restrict acc, int64_t n, float lr,
                    float eps, float keep) {
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

/* Inlined with constant flags, so each of the four variants is its own branch-free loop. */
static inline __attribute__((always_inline)) void rmsprop_loop(float *restrict p, const float *restrict g,
                                                               float *restrict v, float *restrict m,
                                                               float *restrict avg, int64_t n, float lr,
                                                               float rho, float mu, float eps, float keep,
                                                               const bool with_momentum, const bool centered) {
    const float one_rho = 1.0f - rho;
    float d[TILE];
    FOR_TILES(n, i0, len) {
        float *restrict pt = p + i0, *restrict vt = v + i0;
        float *restrict mt = with_momentum ? m + i0 : NULL, *restrict at = centered ? avg + i0 : NULL;
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

static void rmsprop(px_optimizer *opt, float *restrict p, const float *restrict g, int64_t n, float lr, float keep) {
    const px_optimizer_options *o = &opt->o;
    bool mom = o->momentum > 0, cen = o->centered;
    float *v = opt->slots[0], *m = mom ? opt->slots[1] : NULL, *avg = cen ? opt->slots[mom ? 2 : 1] : NULL;
    if (mom && cen) rmsprop_loop(p, g, v, m, avg, n, lr, o->rho, o->momentum, o->epsilon, keep, true, true);
    else if (mom) rmsprop_loop(p, g, v, m, avg, n, lr, o->rho, o->momentum, o->epsilon, keep, true, false);
    else if (cen) rmsprop_loop(p, g, v, m, avg, n, lr, o->rho, o->momentum, o->epsilon, keep, false, true);
    else rmsprop_loop(p, g, v, m, avg, n, lr, o->rho, o->momentum, o->epsilon, keep, false, false);
}

static void adadelta(float *restrict p, const float *restrict g, float *restrict eg, float *restrict edx,
                     int64_t n, float lr, float rho, float eps, float keep) {
    const float one_rho = 1.0f - rho;
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

/* Adam and AMSGrad; Nadam too, with cm, cg (m_hat = cm * m + cg * g) and bc2 (v_hat = v / bc2).
 * Inlined with constant flags like rmsprop_loop. */
static inline __attribute__((always_inline)) void adam_loop(float *restrict p, const float *restrict g,
                                                            float *restrict m, float *restrict v,
                                                            float *restrict vhat, int64_t n, float alpha, float b1,
                                                            float b2, float eps, float keep, float cm, float cg,
                                                            float bc2, const bool amsgrad, const bool nesterov) {
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    float d[TILE];
    FOR_TILES(n, i0, len) {
        float *restrict pt = p + i0, *restrict mt = m + i0, *restrict vt = v + i0;
        float *restrict ht = amsgrad ? vhat + i0 : NULL;
        const float *restrict gt = g + i0;
        for (int j = 0; j < len; j++) {
            float gi = gt[j];
            float mi = mt[j] + (gi - mt[j]) * c1;
            float vi = vt[j] + (gi * gi - vt[j]) * c2;
            mt[j] = mi;
            vt[j] = vi;
            if (amsgrad) {
                vi = ht[j] > vi ? ht[j] : vi;
                ht[j] = vi;
            }
            d[j] = nesterov ? vi / bc2 : vi;
        }
        sqrt_tile(d, (int)len);
        if (nesterov)
            for (int j = 0; j < len; j++) pt[j] = pt[j] * keep - (cm * mt[j] + cg * gt[j]) * alpha / (d[j] + eps);
        else
            for (int j = 0; j < len; j++) pt[j] = pt[j] * keep - mt[j] * alpha / (d[j] + eps);
    }
}

/* Keras's Nadam momentum schedule u_t = beta_1 (1 - 0.5 * 0.96^t). */
static double nadam_u(float b1, int64_t t) { return (double)b1 * (1.0 - 0.5 * pow(0.96, (double)t)); }

static float nadam_next_product(float u_product, float b1, int64_t t) {
    return (float)((double)u_product * nadam_u(b1, t));
}

static float current_lr(const px_optimizer *opt) {
    return opt->o.schedule ? px_lr_schedule_at(opt->o.schedule, opt->iterations) : opt->o.learning_rate;
}

static px_status optimizer_step(px_optimizer *opt, float *params, const float *grads, int64_t n);

/* Slots such as Adam's v hold squared gradients that sink into the subnormal
 * range late in training; arithmetic on subnormals is dozens of times slower on
 * x86, so an update treats them as zero (flush-to-zero and denormals-are-zero
 * for the duration of the step only; the caller's floating-point mode is
 * restored). Values below 1.2e-38 cannot change a float32 parameter anyway. */
px_status px_optimizer_step(px_optimizer *opt, float *params, const float *grads, int64_t n) {
#if defined(__SSE2__)
    unsigned int saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040u); /* FTZ (bit 15) and DAZ (bit 6) */
    px_status st = optimizer_step(opt, params, grads, n);
    _mm_setcsr(saved);
    return st;
#else
    return optimizer_step(opt, params, grads, n);
#endif
}

static px_status optimizer_step(px_optimizer *opt, float *params, const float *grads, int64_t n) {
    if (!opt) return px_set_error(PX_ERR_ARG, "px_optimizer_step: optimizer is NULL");
    const char *who = kind_names[opt->kind];
    if (!params || !grads) return px_set_error(PX_ERR_ARG, "%s: params and grads must not be NULL", who);
    if (opt->n < 0) {
        px_status st = size_state(opt, n);
        if (st) return st;
    } else if (n != opt->n) {
        return px_set_error(PX_ERR_ARG, "%s: step got %lld parameters, but the optimizer was built for %lld", who,
                            (long long)n, (long long)opt->n);
    }
    if (opt->segments && opt->segments[opt->n_segments - 1] >= n)
        return px_set_error(PX_ERR_ARG, "%s: the last segment starts at %lld, past the %lld parameters", who,
                            (long long)opt->segments[opt->n_segments - 1], (long long)n);
    const px_optimizer_options *o = &opt->o;
    const float lr = current_lr(opt);
    if (!(lr >= 0) || isinf(lr))
        return px_set_error(PX_ERR_ARG, "%s: learning_rate must be a finite number >= 0, got %g", who, (double)lr);

    const float *g = clip_gradients(opt, grads, n);
    const float keep = (float)(1.0 - (double)o->weight_decay * lr);
    const int64_t t = opt->iterations + 1;
    float **s = opt->slots;
    switch (opt->kind) {
    case PX_OPT_SGD:
        if (o->momentum <= 0) sgd_plain(params, g, n, lr, keep);
        else if (o->nesterov) sgd_nesterov(params, g, s[0], n, lr, o->momentum, keep);
        else sgd_momentum(params, g, s[0], n, lr, o->momentum, keep);
        break;
    case PX_OPT_ADAGRAD: adagrad(params, g, s[0], n, lr, o->epsilon, keep); break;
    case PX_OPT_RMSPROP: rmsprop(opt, params, g, n, lr, keep); break;
    case PX_OPT_ADADELTA: adadelta(params, g, s[0], s[1], n, lr, o->rho, o->epsilon, keep); break;
    case PX_OPT_ADAM:
    case PX_OPT_ADAMW: {
        /* epsilon goes on the uncorrected sqrt(v); the bias corrections fold into alpha */
        double b1t = pow(o->beta_1, (double)t), b2t = pow(o->beta_2, (double)t);
        float alpha = (float)(lr * sqrt(1.0 - b2t) / (1.0 - b1t));
        if (o->amsgrad)
            adam_loop(params, g, s[0], s[1], s[2], n, alpha, o->beta_1, o->beta_2, o->epsilon, keep, 0, 0, 1, true, false);
        else
            adam_loop(params, g, s[0], s[1], NULL, n, alpha, o->beta_1, o->beta_2, o->epsilon, keep, 0, 0, 1, false,
                      false);
        break;
    }
    case PX_OPT_NADAM: {
        double u_t = nadam_u(o->beta_1, t), u_t1 = nadam_u(o->beta_1, t + 1);
        float u_product = nadam_next_product(opt->nadam_u_product, o->beta_1, t);
        double u_product_t1 = (double)u_product * u_t1;
        float cm = (float)(u_t1 / (1.0 - u_product_t1)), cg = (float)((1.0 - u_t) / (1.0 - (double)u_product));
        float bc2 = (float)(1.0 - pow(o->beta_2, (double)t));
        adam_loop(params, g, s[0], s[1], NULL, n, lr, o->beta_1, o->beta_2, o->epsilon, keep, cm, cg, bc2, false,
                  true);
        opt->nadam_u_product = u_product;
        break;
    }
    }
    opt->iterations++;
    return PX_OK;
}

px_status px_optimizer_set_segments(px_optimizer *opt, const int64_t *starts, int count) {
    if (!opt) return px_set_error(PX_ERR_ARG, "px_optimizer_set_segments: optimizer is NULL");
    const char *who = kind_names[opt->kind];
    if (count < 0 || (count > 0 && !starts))
        return px_set_error(PX_ERR_ARG, "%s: segments need a table of count >= 0 starts", who);
    if (count > 0 && starts[0] != 0)
        return px_set_error(PX_ERR_ARG, "%s: the first segment must start at 0, got %lld", who, (long long)starts[0]);
    for (int i = 1; i < count; i++)
        if (starts[i] <= starts[i - 1])
            return px_set_error(PX_ERR_ARG, "%s: segment starts must be strictly increasing (starts[%d] = %lld)",
                                who, i, (long long)starts[i]);
    if (count > 0 && opt->n > 0 && starts[count - 1] >= opt->n)
        return px_set_error(PX_ERR_ARG, "%s: segment start %lld is past the %lld parameters", who,
                            (long long)starts[count - 1], (long long)opt->n);
    int64_t *copy = NULL;
    if (count > 0) {
        copy = malloc(sizeof *copy * (size_t)count);
        if (!copy) return px_set_error(PX_ERR_NOMEM, "%s: out of memory", who);
        memcpy(copy, starts, sizeof *copy * (size_t)count);
    }
    free(opt->segments);
    opt->segments = copy;
    opt->n_segments = count;
    return PX_OK;
}

px_optimizer_kind px_optimizer_get_kind(const px_optimizer *opt) { return opt ? opt->kind : PX_OPT_SGD; }

const char *px_optimizer_name(const px_optimizer *opt) { return opt ? kind_names[opt->kind] : ""; }

const px_optimizer_options *px_optimizer_get_options(const px_optimizer *opt) { return opt ? &opt->o : NULL; }

float px_optimizer_learning_rate(const px_optimizer *opt) {
    if (!opt) {
        px_set_error(PX_ERR_ARG, "px_optimizer_learning_rate: optimizer is NULL");
        return NAN;
    }
    return current_lr(opt);
}

void px_optimizer_set_learning_rate(px_optimizer *opt, float lr) {
    if (!opt) {
        px_set_error(PX_ERR_ARG, "px_optimizer_set_learning_rate: optimizer is NULL");
        return;
    }
    if (check_nonneg(kind_names[opt->kind], "learning_rate", lr) != PX_OK) return; /* keeps the old rate */
    opt->o.learning_rate = lr;
    opt->o.schedule = NULL;
}

int64_t px_optimizer_iterations(const px_optimizer *opt) { return opt ? opt->iterations : 0; }

int px_optimizer_slot_count(const px_optimizer *opt) { return opt ? opt->n_slots : 0; }

float *px_optimizer_slot(px_optimizer *opt, int i, const char **name, int64_t *n) {
    if (name) *name = NULL;
    if (n) *n = 0;
    if (!opt) {
        px_set_error(PX_ERR_ARG, "px_optimizer_slot: optimizer is NULL");
        return NULL;
    }
    if (i < 0 || i >= opt->n_slots) {
        px_set_error(PX_ERR_ARG, "%s: slot %d does not exist (%d slots)", kind_names[opt->kind], i, opt->n_slots);
        return NULL;
    }
    if (name) *name = opt->slot_names[i];
    if (opt->n < 0) return NULL;
    if (n) *n = opt->n;
    return opt->slots[i];
}

px_status px_optimizer_restore(px_optimizer *opt, int64_t n, int64_t iterations) {
    if (!opt) return px_set_error(PX_ERR_ARG, "px_optimizer_restore: optimizer is NULL");
    const char *who = kind_names[opt->kind];
    if (iterations < 0)
        return px_set_error(PX_ERR_ARG, "%s: iterations must be >= 0, got %lld", who, (long long)iterations);
    px_status st = size_state(opt, n);
    if (st) return st;
    opt->iterations = iterations;
    /* replay the product exactly as the steps built it, so a resumed run is bit-identical;
     * it underflows to 0 within a few thousand steps, after which it stays there */
    float u = 1.0f;
    if (opt->kind == PX_OPT_NADAM)
        for (int64_t t = 1; t <= iterations && u != 0.0f; t++) u = nadam_next_product(u, opt->o.beta_1, t);
    opt->nadam_u_product = u;
    return PX_OK;
}
