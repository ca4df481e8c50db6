/* An optimizer step applied variable by variable (see optim_split.h): the model
 * calls it from inside the backward pass as each variable's gradient is final.
 * Large variables are cut into one contiguous slice per thread; the update is
 * elementwise, so the slices give the same bits as one pass. */
#include <omp.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "train/optim_split.h"
#include "train/optimizer_kind.h"

/* Variables at least this large go to the threads: the MLP's second kernel
 * (30,000) among them, whose update on one thread while the other waited was
 * 3-5 % of an Adam b32 step at two threads (docs/performance.md). */
enum { SPLIT_PARALLEL_MIN = 16384, SLICE_ALIGN = 16 };

bool px_split_begin(px_optimizer *opt, const float *params, const float *grads, int64_t n, px_split_step *st) {
    if (!opt || !params || !grads) return false;
    const px_optimizer_options *o = &opt->o;
    px_optimizer_kind kind = opt->def->kind;
    if (kind != PX_OPT_SGD && kind != PX_OPT_ADAM && kind != PX_OPT_ADAMW) return false;
    if (o->clipnorm > 0 || o->clipvalue > 0 || o->global_clipnorm > 0) return false;
    float lr;
    if (px_optimizer_prepare_step(opt, params, grads, n, &lr) != PX_OK) return false;
    /* slots last updated on a device come home first */
    if (px_mirror_to_host(&opt->dev_block, opt->block, true) != PX_OK) return false;
    const float keep = (float)(1.0 - (double)o->weight_decay * lr);
    /* plain SGD: p * keep - lr * g with keep exactly 1 is p - lr * g, which a product computes */
    bool plain = kind == PX_OPT_SGD && o->momentum <= 0 && keep == 1.0f;
    *st = (px_split_step){.opt = opt, .n = n, .lr = lr, .keep = keep, .fold_lr = plain && lr > 0 ? lr : 0};
    return true;
}

/* The kind's step on [offset, offset + count), its slots shifted alike, with
 * subnormals flushed as in px_optimizer_step (this thread's mode, restored). */
static void apply_range(const px_split_step *st, float *params, const float *grads, int64_t offset, int64_t count) {
    px_optimizer view = *st->opt;
    for (int i = 0; i < view.n_slots; i++) view.slots[i] += offset;
#if defined(__SSE2__)
    unsigned int saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040u); /* FTZ (bit 15) and DAZ (bit 6) */
#endif
    view.def->step(&view, params + offset, grads + offset, count, st->lr, st->keep);
#if defined(__SSE2__)
    _mm_setcsr(saved);
#endif
}

void px_split_apply(const px_split_step *st, float *params, const float *grads, int64_t offset, int64_t count) {
    if (offset < 0 || count <= 0 || offset + count > st->n) return; /* not among the trainable parameters */
    if (count < SPLIT_PARALLEL_MIN || omp_get_max_threads() < 2) {
        apply_range(st, params, grads, offset, count);
        return;
    }
    /* One even slice per thread, cut on 16 floats (a cache line). Thread t
     * updates the same slice every step, so its share of p, m and v stays in
     * its own cache; and the slices fall where the builtin kernel's static
     * row split of a weight gradient does (784 rows of the MLP's first layer:
     * rows 0-391 on thread 0 at two threads), so each thread updates the
     * gradient rows it has just written. Even halves, not 64 KB chunks shared
     * out in order (8 against 7 of the 15 chunks of that layer). */
#pragma omp parallel
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t a = count * t / nt / SLICE_ALIGN * SLICE_ALIGN;
        int64_t b = t + 1 == nt ? count : count * (t + 1) / nt / SLICE_ALIGN * SLICE_ALIGN;
        if (b > a) apply_range(st, params, grads, offset + a, b - a);
    }
}

void px_split_end(px_split_step *st) { st->opt->iterations++; }
