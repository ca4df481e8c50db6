/* Keras 3's optimizers over one contiguous parameter block, the part every kind shares:
 * defaults and validation from the kind's def, state slots, gradient clipping,
 * decoupled weight decay and the step that calls the kind's update loop. The kinds
 * are src/train/optim_*.c, listed in optim_registry.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/alloc.h"
#include "plexus/status.h"
#include "train/optim_device.h"
#include "train/optimizer_kind.h"

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

static px_status check_key(const char *who, const px_optimizer_key *k, const px_optimizer_options *o) {
    float x = 0;
    if (k->type != PX_KEY_BOOL) memcpy(&x, (const char *)o + k->offset, sizeof x);
    switch (k->type) {
    case PX_KEY_BOOL: return PX_OK;
    case PX_KEY_NONNEG: return check_nonneg(who, k->name, x);
    case PX_KEY_UNIT: return check_unit(who, k->name, x, true);
    case PX_KEY_UNIT_OPEN: return check_unit(who, k->name, x, false);
    case PX_KEY_NONPOS:
        if (x <= 0 && isfinite(x)) return PX_OK;
        return px_set_error(PX_ERR_ARG, "%s: %s must be a finite number <= 0, got %g", who, k->name, (double)x);
    }
    return PX_OK;
}

/* Fills Keras's defaults for the zero fields and checks the result. */
static px_status fill_options(const px_optimizer_def *def, const px_optimizer_options *in, px_optimizer_options *o,
                              px_lr_schedule *sched) {
    static const px_optimizer_options common = {.learning_rate = 0.001f, .beta_1 = 0.9f, .beta_2 = 0.999f,
                                                .epsilon = 1e-7f, .rho = 0.9f, .initial_accumulator_value = 0.1f};
    const px_optimizer_options *kind = &def->defaults;
    const char *who = def->name;
    px_status st;
    *o = in ? *in : (px_optimizer_options){0};
#define FILL(f) \
    if (o->f == 0) o->f = kind->f != 0 ? kind->f : common.f
    FILL(learning_rate);
    FILL(beta_1);
    FILL(beta_2);
    FILL(epsilon);
    FILL(rho);
    FILL(initial_accumulator_value);
    FILL(weight_decay);
    FILL(learning_rate_power);
#undef FILL

    if ((st = check_nonneg(who, "learning_rate", o->learning_rate))) return st;
    for (const px_optimizer_key *k = def->keys; k < def->keys + PX_OPT_MAX_KEYS && k->name; k++)
        if ((st = check_key(who, k, o))) return st;
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

void px_optimizer_add_slot(px_optimizer *opt, const char *name, const char *h5_name) {
    if (opt->n_slots == PX_OPT_MAX_SLOTS) return; /* a kind declaring more is a bug caught by its tests */
    opt->slot_names[opt->n_slots] = name;
    opt->slot_h5_names[opt->n_slots] = h5_name ? h5_name : name;
    opt->n_slots++;
}

static px_optimizer *optimizer_new(const px_optimizer_def *def, const px_optimizer_options *opts) {
    px_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) {
        px_set_error(PX_ERR_NOMEM, "%s: out of memory", def->name);
        return NULL;
    }
    opt->def = def;
    opt->n = -1;
    if (fill_options(def, opts, &opt->o, &opt->sched) != PX_OK) {
        free(opt);
        return NULL;
    }
    if (def->add_slots) def->add_slots(opt);
    if (def->restore) def->restore(opt);
    return opt;
}

px_optimizer *px_optimizer_new(px_optimizer_kind kind, const px_optimizer_options *opts) {
    const px_optimizer_def *def = px_optimizer_def_of_kind(kind);
    if (!def) {
        px_set_error(PX_ERR_ARG, "px_optimizer_new: unknown optimizer kind %d", (int)kind);
        return NULL;
    }
    return optimizer_new(def, opts);
}

px_optimizer *px_optimizer_from_name(const char *name, const px_optimizer_options *opts) {
    if (!name) {
        px_set_error(PX_ERR_ARG, "px_optimizer_from_name: name is NULL");
        return NULL;
    }
    /* Keras accepts both "adam" and the class name "Adam" */
    const px_optimizer_def *def = px_optimizer_def_find(name);
    if (def) return optimizer_new(def, opts);
    char known[256] = "";
    size_t len = 0;
    for (int i = 0; px_optimizer_defs[i] && len < sizeof known; i++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i == 0 ? "" : px_optimizer_defs[i + 1] ? ", " : " or ",
                                px_optimizer_defs[i]->name);
    px_set_error(PX_ERR_ARG, "unknown optimizer '%s' (expected %s)", name, known);
    return NULL;
}

static void free_device_state(px_optimizer *opt) {
    px_mirror_free(&opt->dev_block);
    if (opt->aux) opt->aux_b->ops->free(opt->aux_b, opt->aux);
    opt->aux = NULL;
    opt->aux_b = NULL;
    opt->aux_bytes = 0;
}

void px_optimizer_free(px_optimizer *opt) {
    if (!opt) return;
    free_device_state(opt);
    px_aligned_free(opt->block);
    free(opt->segments);
    free(opt);
}

static bool clipping(const px_optimizer *opt) {
    return opt->o.clipnorm > 0 || opt->o.clipvalue > 0 || opt->o.global_clipnorm > 0;
}

/* Fresh state for n parameters: one aligned block holding every slot and the scratch. */
static px_status size_state(px_optimizer *opt, int64_t n) {
    const char *who = opt->def->name;
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
    free_device_state(opt); /* laid out for the old block */
    px_aligned_free(opt->block);
    opt->block = block;
    opt->block_bytes = stride * (size_t)n_arrays;
    for (int i = 0; i < n_arrays; i++) {
        float *a = (float *)((char *)block + stride * (size_t)i);
        if (i < opt->n_slots) opt->slots[i] = a;
        else opt->scratch = a;
    }
    if (!clipping(opt)) opt->scratch = NULL;
    opt->n = n;
    if (opt->def->init_slots) opt->def->init_slots(opt);
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

/* The checks of a step, sizing the state on the first; the step's learning rate. */
px_status px_optimizer_prepare_step(px_optimizer *opt, const float *params, const float *grads, int64_t n,
                                    float *lr_out) {
    if (!opt) return px_set_error(PX_ERR_ARG, "px_optimizer_step: optimizer is NULL");
    const char *who = opt->def->name;
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
    const float lr = current_lr(opt);
    if (!(lr >= 0) || isinf(lr))
        return px_set_error(PX_ERR_ARG, "%s: learning_rate must be a finite number >= 0, got %g", who, (double)lr);
    *lr_out = lr;
    return PX_OK;
}

px_status px_optimizer_build(px_optimizer *opt, int64_t n) {
    if (!opt) return px_set_error(PX_ERR_ARG, "px_optimizer_build: optimizer is NULL");
    return opt->n < 0 && n > 0 ? size_state(opt, n) : PX_OK;
}

static px_status optimizer_step(px_optimizer *opt, float *params, const float *grads, int64_t n) {
    float lr;
    if (px_optimizer_prepare_step(opt, params, grads, n, &lr) != PX_OK) return px_last_status();
    /* slots last updated on a device come home first */
    if (px_mirror_to_host(&opt->dev_block, opt->block, true) != PX_OK) return px_last_status();
    const float *g = clip_gradients(opt, grads, n);
    const float keep = (float)(1.0 - (double)opt->o.weight_decay * lr);
    opt->def->step(opt, params, g, n, lr, keep);
    opt->iterations++;
    return PX_OK;
}

/* The device buffer of a step's numbers, scratch and segment table. */
static px_status device_aux(px_optimizer *opt, px_backend *b, float **coef, void **work, int64_t **segments) {
    int nseg = opt->segments ? opt->n_segments : 0;
    size_t coef_bytes = px_align_up(PX_OC_COUNT * sizeof(float));
    size_t work_bytes = px_align_up(px_optim_work_bytes(nseg));
    size_t bytes = coef_bytes + work_bytes + (size_t)nseg * sizeof(int64_t);
    if (opt->aux_b != b || opt->aux_bytes < bytes) {
        if (opt->aux) opt->aux_b->ops->free(opt->aux_b, opt->aux);
        opt->aux = NULL;
        opt->aux_bytes = 0;
        if (b->ops->alloc(b, bytes, &opt->aux) != PX_OK) return px_last_status();
        opt->aux_b = b;
        opt->aux_bytes = bytes;
        opt->aux_segments_current = false;
    }
    *coef = opt->aux;
    *work = (char *)opt->aux + coef_bytes;
    *segments = nseg ? (int64_t *)((char *)opt->aux + coef_bytes + work_bytes) : NULL;
    if (nseg && !opt->aux_segments_current) {
        if (b->ops->upload(b, *segments, opt->segments, (size_t)nseg * sizeof(int64_t)) != PX_OK) return px_last_status();
        opt->aux_segments_current = true;
    }
    return PX_OK;
}

px_status px_optimizer_step_on(px_optimizer *opt, px_backend *b, float *params, const float *grads, int64_t n) {
    if (b->host_memory) return px_optimizer_step(opt, params, grads, n);
    float lr;
    if (px_optimizer_prepare_step(opt, params, grads, n, &lr) != PX_OK) return px_last_status();
    if (!opt->def->device_step)
        return px_set_error(PX_ERR_UNSUPPORTED, "%s: no update for devices", opt->def->name);
    if (px_mirror_to_device(&opt->dev_block, b, opt->block, opt->block_bytes) != PX_OK) return px_last_status();
    float *coef_dev = NULL;
    void *work = NULL;
    int64_t *segments = NULL;
    if (device_aux(opt, b, &coef_dev, &work, &segments) != PX_OK) return px_last_status();
    const px_optimizer_options *o = &opt->o;
    float coef[PX_OC_COUNT] = {0};
    px_optim_kernel k = {.n = n, .params = params, .grads = grads, .coef = coef_dev, .work = work,
                         .segments = segments, .n_segments = segments ? opt->n_segments : 0};
    for (int i = 0; i < opt->n_slots; i++)
        k.slots[i] = (float *)((char *)opt->dev_block.dev + ((char *)opt->slots[i] - (char *)opt->block));
    k.clip = o->clipnorm > 0 ? PX_CLIP_NORM : o->global_clipnorm > 0 ? PX_CLIP_GLOBAL_NORM
             : o->clipvalue > 0 ? PX_CLIP_VALUE : PX_CLIP_NONE;
    coef[PX_OC_CLIP] = o->clipnorm > 0 ? o->clipnorm : o->global_clipnorm > 0 ? o->global_clipnorm : o->clipvalue;
    opt->def->device_step(opt, lr, (float)(1.0 - (double)o->weight_decay * lr), &k, coef);
    /* from pageable memory: the copy is staged before the call returns */
    if (b->ops->upload(b, coef_dev, coef, sizeof coef) != PX_OK || b->ops->optimizer_step(b, &k) != PX_OK)
        return px_last_status();
    px_mirror_written_on_device(&opt->dev_block);
    opt->iterations++;
    return PX_OK;
}

px_status px_optimizer_set_segments(px_optimizer *opt, const int64_t *starts, int count) {
    if (!opt) return px_set_error(PX_ERR_ARG, "px_optimizer_set_segments: optimizer is NULL");
    const char *who = opt->def->name;
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
    opt->aux_segments_current = false;
    return PX_OK;
}

px_optimizer_kind px_optimizer_get_kind(const px_optimizer *opt) { return opt ? opt->def->kind : PX_OPT_SGD; }

const char *px_optimizer_name(const px_optimizer *opt) { return opt ? opt->def->name : ""; }

const px_optimizer_options *px_optimizer_get_options(const px_optimizer *opt) {
    if (!opt) px_set_error(PX_ERR_ARG, "px_optimizer_get_options: optimizer is NULL");
    return opt ? &opt->o : NULL;
}

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
    if (check_nonneg(opt->def->name, "learning_rate", lr) != PX_OK) return; /* keeps the old rate */
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
        px_set_error(PX_ERR_ARG, "%s: slot %d does not exist (%d slots)", opt->def->name, i, opt->n_slots);
        return NULL;
    }
    if (name) *name = opt->slot_names[i];
    if (opt->n < 0) return NULL;
    /* handed out writable: current on the host, and the host's from now on */
    if (px_mirror_to_host(&opt->dev_block, opt->block, true) != PX_OK) return NULL;
    if (n) *n = opt->n;
    return opt->slots[i];
}

px_status px_optimizer_restore(px_optimizer *opt, int64_t n, int64_t iterations) {
    if (!opt) return px_set_error(PX_ERR_ARG, "px_optimizer_restore: optimizer is NULL");
    const char *who = opt->def->name;
    if (iterations < 0)
        return px_set_error(PX_ERR_ARG, "%s: iterations must be >= 0, got %lld", who, (long long)iterations);
    px_status st = size_state(opt, n);
    if (st) return st;
    opt->iterations = iterations;
    if (opt->def->restore) opt->def->restore(opt);
    return PX_OK;
}
