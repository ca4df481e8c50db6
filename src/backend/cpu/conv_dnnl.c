/* 2-D convolutions through oneDNN's float32 direct convolution primitives, on
 * Plexus's NHWC data: the primitives, cached by shape, and the batch cut into
 * chunks run on Plexus's threads (contract in conv_dnnl.h). */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/conv_dnnl.h"
#include "backend/cpu/dnnl_engine.h"
#include "backend/cpu/gemm.h"

#if defined(PX_HAVE_DNNL) && defined(__x86_64__) && defined(__GNUC__)
#include <pthread.h>

static dnnl_engine_t engine; /* the shared one (dnnl_engine.c) */
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static bool usable; /* AVX-512 and a CPU engine: elsewhere oneDNN's kernels were not measured */

static void engine_init(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) return;
    if (getenv("PX_CONV_DNNL_DISABLE") && strcmp(getenv("PX_CONV_DNNL_DISABLE"), "1") == 0) return; /* A/B runs */
    usable = (engine = px_dnnl_engine()) != NULL;
}

/* The three primitives of one chunk shape (the whole convolution with n images),
 * made for one thread with a scratchpad the caller owns: the same primitive then
 * runs on any thread, and on several at once, each with its own scratchpad. */
typedef struct conv_prims {
    px_conv_geom g; /* the key: g.n is the chunk's images */
    bool ok;        /* false: oneDNN refused or offered no JIT kernel (kept, so it is not asked again) */
    dnnl_primitive_t fwd, bwd_d, bwd_w;
    dnnl_memory_desc_t src, dst, bias, wf, wd, dwb, pad_f, pad_d, pad_w;
    int64_t *at_wf, *at_wd, *at_dw; /* where each kernel element (Keras's order) is in wf, wd and dwb */
} conv_prims;

#define PX_CONV_DNNL_CACHED 64
static conv_prims cache[PX_CONV_DNNL_CACHED];
static int cached;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void md4(dnnl_memory_desc_t *md, int64_t a, int64_t b, int64_t c, int64_t d, dnnl_format_tag_t tag) {
    dnnl_dims_t dims = {a, b, c, d};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag);
}

/* Only oneDNN's JIT kernels were measured faster than Plexus's (its gemm and
 * reference convolutions on these layouts are many times slower). */
static bool jit_pd(dnnl_primitive_desc_t pd) {
    const char *impl = NULL;
    return dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl &&
           (strncmp(impl, "jit", 3) == 0 || strncmp(impl, "brg", 3) == 0);
}

/* pd's primitive, and the layout of its argument `what` (index i) and scratchpad. */
static bool make(dnnl_primitive_desc_t pd, dnnl_primitive_t *p, dnnl_query_t what, int i, dnnl_memory_desc_t *md,
                 dnnl_memory_desc_t *pad) {
    if (!jit_pd(pd)) return false;
    *md = *dnnl_primitive_desc_query_md(pd, what, i);
    *pad = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return md->format_kind == dnnl_blocked && dnnl_primitive_create(p, pd) == dnnl_success;
}

/* Where oneDNN's blocked layout md keeps element idx (ndims indices). */
static int64_t blocked_at(const dnnl_memory_desc_t *md, const int64_t *idx) {
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int64_t blk[DNNL_MAX_NDIMS], off = md->offset0, inner = 0;
    for (int d = 0; d < DNNL_MAX_NDIMS; d++) blk[d] = 1;
    for (int i = 0; i < b->inner_nblks; i++) blk[b->inner_idxs[i]] *= b->inner_blks[i];
    for (int d = 0; d < md->ndims; d++) off += idx[d] / blk[d] * b->strides[d];
    for (int i = 0; i < b->inner_nblks; i++) { /* the inner blocks, outermost first */
        int d = (int)b->inner_idxs[i];
        int64_t later = 1;
        for (int j = i + 1; j < b->inner_nblks; j++)
            if (b->inner_idxs[j] == d) later *= b->inner_blks[j];
        inner = inner * b->inner_blks[i] + idx[d] / later % b->inner_blks[i];
    }
    return off + inner;
}

/* at[e] = where layout md keeps Keras's kernel element e ((kh, kw, C, F) order;
 * md's dimensions are (F, C, kh, kw)), or NULL when out of memory. Made once
 * per shape: finding an element's place costs more than copying it. */
static int64_t *kernel_places(const px_conv_geom *g, const dnnl_memory_desc_t *md) {
    int64_t *at = malloc((size_t)(g->kh * g->kw * g->c * g->f) * sizeof *at), e = 0;
    for (int64_t i = 0; at && i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++)
            for (int64_t c = 0; c < g->c; c++)
                for (int64_t f = 0; f < g->f; f++) at[e++] = blocked_at(md, (const int64_t[]){f, c, i, j});
    return at;
}

/* Fills e (its key set) with g's primitives: data NHWC, the kernel in whatever
 * layout each primitive prefers. */
static void prims_make(conv_prims *e) {
    const px_conv_geom *g = &e->g;
    /* TF's padding: the odd pixel after, and with valid padding possibly rows
     * left over at the end (negative padding after, which oneDNN accepts) */
    int64_t pb = (g->oh - 1) * g->sh + g->kh - g->h - g->pt, pr = (g->ow - 1) * g->sw + g->kw - g->w - g->pl;
    dnnl_dims_t strides = {g->sh, g->sw}, pad_l = {g->pt, g->pl}, pad_r = {pb, pr};
    dnnl_memory_desc_t wany, dbias;
    dnnl_dims_t fd = {g->f};
    md4(&e->src, g->n, g->c, g->h, g->w, dnnl_nhwc);
    md4(&e->dst, g->n, g->f, g->oh, g->ow, dnnl_nhwc);
    md4(&wany, g->f, g->c, g->kh, g->kw, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&e->bias, 1, fd, dnnl_f32, dnnl_x);
    dbias = e->bias;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_convolution_desc_t d;
    dnnl_primitive_desc_t fpd = NULL, dpd = NULL, wpd = NULL;
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(1); /* planned for one thread: a primitive's blocking depends on the threads it plans for */
#endif
    e->ok = dnnl_primitive_attr_create(&attr) == dnnl_success &&
            dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success &&
            dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, dnnl_convolution_direct, &e->src, &wany,
                                               &e->bias, &e->dst, strides, pad_l, pad_r) == dnnl_success &&
            dnnl_primitive_desc_create(&fpd, &d, attr, engine, NULL) == dnnl_success &&
            make(fpd, &e->fwd, dnnl_query_weights_md, 0, &e->wf, &e->pad_f) &&
            dnnl_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &e->src, &wany, &e->dst, strides,
                                                     pad_l, pad_r) == dnnl_success &&
            dnnl_primitive_desc_create(&dpd, &d, attr, engine, fpd) == dnnl_success &&
            make(dpd, &e->bwd_d, dnnl_query_weights_md, 0, &e->wd, &e->pad_d) &&
            dnnl_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &e->src, &wany, &dbias, &e->dst,
                                                        strides, pad_l, pad_r) == dnnl_success &&
            dnnl_primitive_desc_create(&wpd, &d, attr, engine, fpd) == dnnl_success &&
            make(wpd, &e->bwd_w, dnnl_query_diff_weights_md, 0, &e->dwb, &e->pad_w);
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    e->ok = e->ok && (e->at_wf = kernel_places(g, &e->wf)) && (e->at_wd = kernel_places(g, &e->wd)) &&
            (e->at_dw = kernel_places(g, &e->dwb));
    if (wpd) dnnl_primitive_desc_destroy(wpd);
    if (dpd) dnnl_primitive_desc_destroy(dpd);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!e->ok) {
        if (e->fwd) dnnl_primitive_destroy(e->fwd);
        if (e->bwd_d) dnnl_primitive_destroy(e->bwd_d);
        if (e->bwd_w) dnnl_primitive_destroy(e->bwd_w);
        free(e->at_wf), free(e->at_wd), free(e->at_dw);
        e->fwd = e->bwd_d = e->bwd_w = NULL;
        e->at_wf = e->at_wd = e->at_dw = NULL;
    }
}

/* The cached primitives of g (made on first use), or NULL when oneDNN cannot
 * take it or the cache is full. Entries are never replaced, so a plan's pointer
 * stays valid and a shape gets the same answer every time. */
static const conv_prims *prims_of(const px_conv_geom *g) {
    const conv_prims *found = NULL;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < cached && !found; i++)
        if (!memcmp(&cache[i].g, g, sizeof *g)) found = &cache[i];
    if (!found && cached < PX_CONV_DNNL_CACHED) {
        conv_prims *e = &cache[cached++];
        memset(e, 0, sizeof *e);
        e->g = *g;
        prims_make(e);
        found = e;
    }
    pthread_mutex_unlock(&cache_lock);
    return found && found->ok ? found : NULL;
}

static int64_t floats_of(const dnnl_memory_desc_t *md) {
    return (int64_t)((dnnl_memory_desc_get_size(md) + sizeof(float) - 1) / sizeof(float));
}
static int64_t align16(int64_t n) { return (n + 15) & ~(int64_t)15; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* The chunks: as many as the machine's processors (rounded up to a power of
 * two, at most 16: px_gemm_tiles_max), more when a chunk would pass 64 images
 * or 256K floats of input (its input gradient is a scratch slot per thread);
 * one chunk of 32 images of the course ConvNet ran as fast as two calls of 16
 * or one of 64 here. Fixed by the shape and the machine alone. */
static int64_t chunks_of(int64_t n, int64_t image) {
    int64_t most = 262144 / (image > 0 ? image : 1);
    most = most < 1 ? 1 : most > 64 ? 64 : most;
    int64_t c = max64(px_gemm_tiles_max(), (n + most - 1) / most);
    return c < n ? c : n;
}

bool px_conv_dnnl_plan_of(const px_conv_geom *g, px_conv_dnnl_plan *p) {
    pthread_once(&engine_once, engine_init);
    if (!usable || g->n < 1 || g->dh != 1 || g->dw != 1) return false;
    memset(p, 0, sizeof *p);
    p->chunks = chunks_of(g->n, g->h * g->w * g->c);
    p->per = (g->n + p->chunks - 1) / p->chunks;
    p->chunks = (g->n + p->per - 1) / p->per; /* e.g. 10 images in 4 chunks: 3 + 3 + 3 + 1 */
    p->groups = p->chunks < PX_CONV_DNNL_GROUPS ? p->chunks : PX_CONV_DNNL_GROUPS;
    /* scratch for as many threads as the machine has processors: the caller
     * runs no more threads than slots (predict's large batches would otherwise
     * plan 16 slots of a chunk's input gradient on a 2-core machine) */
    p->slots = p->groups < px_gemm_tiles_max() ? p->groups : px_gemm_tiles_max();
    px_conv_geom gc = *g;
    gc.n = p->per;
    const conv_prims *full = prims_of(&gc), *last = full;
    if (full && g->n % p->per) {
        gc.n = g->n % p->per;
        last = prims_of(&gc);
    }
    /* the kernel is laid out once per pass for every chunk */
    if (!full || !last || !dnnl_memory_desc_equal(&full->wf, &last->wf) || !dnnl_memory_desc_equal(&full->wd, &last->wd))
        return false;
    p->prims = full, p->last = last;
    int64_t kf = g->kh * g->kw * g->c * g->f;
    p->wf = 0;
    p->wd = align16(floats_of(&full->wf));
    p->zb = p->wd + align16(floats_of(&full->wd));
    p->parts = p->zb + align16(g->f);
    p->part = align16(kf + g->f);
    p->slots0 = p->parts + p->groups * p->part;
    p->dx = 0; /* offsets inside a slot */
    p->dw = align16(p->per * g->h * g->w * g->c);
    p->db = p->dw + align16(max64(floats_of(&full->dwb), floats_of(&last->dwb)));
    p->pad = p->db + align16(g->f);
    int64_t pads = max64(max64(floats_of(&full->pad_f), floats_of(&full->pad_d)), floats_of(&full->pad_w));
    pads = max64(pads, max64(max64(floats_of(&last->pad_f), floats_of(&last->pad_d)), floats_of(&last->pad_w)));
    p->slot = p->pad + align16(pads);
    p->total = p->slots0 + p->slots * p->slot;
    return true;
}

/* Keras's kernel w (kh, kw, C, F) into layout md, whose places are `at`, the
 * padding zeroed; or back (to_plain), each element stored or added. */
static void kernel_copy(const px_conv_geom *g, const dnnl_memory_desc_t *md, const int64_t *at, float *blocked,
                        float *plain, bool to_plain, bool add) {
    int64_t n = g->kh * g->kw * g->c * g->f;
    if (!to_plain) {
        memset(blocked, 0, dnnl_memory_desc_get_size(md));
        for (int64_t e = 0; e < n; e++) blocked[at[e]] = plain[e];
    } else if (add) {
        for (int64_t e = 0; e < n; e++) plain[e] += blocked[at[e]];
    } else {
        for (int64_t e = 0; e < n; e++) plain[e] = blocked[at[e]];
    }
}

/* One thread's oneDNN objects for a pass: a stream and a memory object per
 * argument of the whole and the last chunk's primitive (the data pointers set
 * per call), all made before any result is written, so that a failure (out of
 * memory) leaves the outputs untouched. */
#define PX_ARGS 5
typedef struct pass_mems {
    dnnl_stream_t s;
    dnnl_memory_t m[2][PX_ARGS];
} pass_mems;

static void mems_free(pass_mems *pm) {
    for (int k = 0; k < 2; k++)
        for (int a = 0; a < PX_ARGS; a++)
            if (pm->m[k][a]) dnnl_memory_destroy(pm->m[k][a]);
    if (pm->s) dnnl_stream_destroy(pm->s);
}

/* The pass: 0 forward, 1 input gradient, 2 kernel and bias gradients. */
static const dnnl_memory_desc_t *arg_md(const conv_prims *e, int pass, int a) {
    const dnnl_memory_desc_t *fwd[PX_ARGS] = {&e->src, &e->wf, &e->bias, &e->dst, &e->pad_f};
    const dnnl_memory_desc_t *bwd_d[PX_ARGS] = {&e->src, &e->wd, NULL, &e->dst, &e->pad_d};
    const dnnl_memory_desc_t *bwd_w[PX_ARGS] = {&e->src, &e->dwb, &e->bias, &e->dst, &e->pad_w};
    return (pass == 0 ? fwd : pass == 1 ? bwd_d : bwd_w)[a];
}

static bool mems_make(const px_conv_dnnl_plan *p, int pass, pass_mems *pm) {
    memset(pm, 0, sizeof *pm);
    if (dnnl_stream_create(&pm->s, engine, dnnl_stream_default_flags) != dnnl_success) return false;
    for (int k = 0; k < 2; k++)
        for (int a = 0; a < PX_ARGS; a++) {
            const dnnl_memory_desc_t *md = arg_md(k ? p->last : p->prims, pass, a);
            if (md && md->ndims > 0 && dnnl_memory_create(&pm->m[k][a], md, engine, DNNL_MEMORY_NONE) != dnnl_success) return false;
        }
    return true;
}

typedef struct conv_job {
    const px_conv_dnnl_plan *p;
    const px_conv_geom *g;
    const float *x, *w, *bias, *gy;
    float *y, *gx, *state;
    bool want_w, clear_x; /* clear_x: gx holds garbage, the chunks store into it */
} conv_job;

/* Chunk ch of pass `pass` with this thread's objects pm and slot sl; pass 2
 * stores (first) or adds its kernel and bias gradients into `part`. */
static bool run_chunk(const conv_job *j, int pass, int64_t ch, bool first, pass_mems *pm, float *sl, float *part) {
    const px_conv_dnnl_plan *p = j->p;
    const px_conv_geom *g = j->g;
    int64_t n0 = ch * p->per, n = g->n - n0 < p->per ? g->n - n0 : p->per;
    int k = n < p->per; /* the last, shorter chunk */
    const conv_prims *e = k ? p->last : p->prims;
    int64_t img = g->h * g->w * g->c, out = g->oh * g->ow * g->f, kf = g->kh * g->kw * g->c * g->f;
    float *st = j->state;
    void *gy = (void *)(j->gy + n0 * out), *x = (void *)(j->x + n0 * img);
    void *data[3][PX_ARGS] = {
        {x, st + p->wf, j->bias ? (void *)j->bias : st + p->zb, j->y + n0 * out, sl + p->pad},
        {sl + p->dx, st + p->wd, NULL, gy, sl + p->pad},
        {x, sl + p->dw, sl + p->db, gy, sl + p->pad}};
    static const int tags[3][PX_ARGS] = {
        {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD},
        {DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, 0, DNNL_ARG_DIFF_DST, DNNL_ARG_SCRATCHPAD},
        {DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS, DNNL_ARG_DIFF_DST, DNNL_ARG_SCRATCHPAD}};
    dnnl_primitive_t prim = pass == 0 ? e->fwd : pass == 1 ? e->bwd_d : e->bwd_w;
    dnnl_exec_arg_t args[PX_ARGS];
    int na = 0;
    for (int a = 0; a < PX_ARGS; a++) {
        if (!pm->m[k][a]) continue;
        if (dnnl_memory_set_data_handle(pm->m[k][a], data[pass][a]) != dnnl_success) return false;
        args[na++] = (dnnl_exec_arg_t){tags[pass][a], pm->m[k][a]};
    }
    if (dnnl_primitive_execute(prim, pm->s, na, args) != dnnl_success || dnnl_stream_wait(pm->s) != dnnl_success)
        return false;
    if (pass == 1) { /* gx += the chunk's input gradient, while it is in cache */
        float *gx = j->gx + n0 * img;
        const float *dx = sl + p->dx;
        if (j->clear_x) /* 0 + dx: the bits of adding to a zeroed gx */
            for (int64_t i = 0; i < n * img; i++) gx[i] = 0.0f + dx[i];
        else
            for (int64_t i = 0; i < n * img; i++) gx[i] += dx[i];
    } else if (pass == 2) {
        if (j->want_w) kernel_copy(g, &e->dwb, e->at_dw, sl + p->dw, part, true, !first);
        for (int64_t f = 0; f < g->f; f++) part[kf + f] = (first ? 0 : part[kf + f]) + sl[p->db + f];
    }
    return true;
}

/* Runs pass 0, 1 or 2 over all chunks on `threads` threads, a group of chunks
 * at a time (group i: chunks [c i / G, c (i + 1) / G)). Pass 2 sums each group's
 * kernel and bias gradients into its part, in chunk order. Every thread makes
 * its oneDNN objects before any chunk runs: if one cannot, none runs. */
static bool run_pass(const conv_job *j, int pass, int threads) {
    const px_conv_dnnl_plan *p = j->p;
    int unmade = 0, failed = 0;
    if (threads > p->slots) threads = (int)p->slots; /* a scratch slot each */
#ifdef _OPENMP
    /* a team even of one thread: each thread sets its own OpenMP count to one,
     * for oneDNN, without touching the caller's */
#pragma omp parallel num_threads(threads)
#else
    (void)threads;
#endif
    {
#ifdef _OPENMP
        omp_set_num_threads(1);
        int me = omp_get_thread_num();
#else
        int me = 0;
#endif
        float *sl = j->state + p->slots0 + me * p->slot;
        pass_mems pm;
        if (!mems_make(p, pass, &pm)) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            unmade = 1;
        }
#ifdef _OPENMP
#pragma omp barrier
#endif
        int skip;
#ifdef _OPENMP
#pragma omp atomic read
#endif
        skip = unmade;
        if (!skip) {
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
            for (int64_t grp = 0; grp < p->groups; grp++) {
                int64_t c0 = p->chunks * grp / p->groups, c1 = p->chunks * (grp + 1) / p->groups;
                float *part = j->state + p->parts + grp * p->part;
                for (int64_t ch = c0; ch < c1; ch++)
                    if (!run_chunk(j, pass, ch, ch == c0, &pm, sl, part)) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
                        failed = 1;
                    }
            }
        }
        mems_free(&pm);
    }
    return !unmade && !failed;
}

bool px_conv_dnnl_forward(const px_conv_dnnl_plan *p, const px_conv_geom *g, const float *x, const float *w,
                          const float *bias, float *y, float *state, int threads) {
    const conv_prims *e = p->prims;
    kernel_copy(g, &e->wf, e->at_wf, state + p->wf, (float *)w, false, false);
    if (!bias) memset(state + p->zb, 0, (size_t)g->f * sizeof(float));
    conv_job j = {.p = p, .g = g, .x = x, .w = w, .bias = bias, .y = y, .state = state};
    return run_pass(&j, 0, threads);
}

bool px_conv_dnnl_backward(const px_conv_dnnl_plan *p, const px_conv_geom *g, const float *x, const float *w,
                           const float *gy, float *gx, bool clear_x, float *gw, float *gb, float *state, int threads) {
    const conv_prims *e = p->prims;
    conv_job j = {.p = p, .g = g, .x = x, .w = w, .gy = gy, .gx = gx, .state = state, .want_w = gw != NULL,
                  .clear_x = clear_x};
    if ((gw || gb) && !run_pass(&j, 2, threads)) return false; /* the groups' parts only: nothing added yet */
    if (gx) {
        kernel_copy(g, &e->wd, e->at_wd, state + p->wd, (float *)w, false, false);
        if (!run_pass(&j, 1, threads)) return false;
    }
    int64_t kf = g->kh * g->kw * g->c * g->f;
    /* the groups' sums, added in a fixed order */
    for (int64_t i = 0; (gw || gb) && i < p->groups; i++) {
        const float *part = state + p->parts + i * p->part;
        if (gw)
            for (int64_t k = 0; k < kf; k++) gw[k] += part[k];
        if (gb)
            for (int64_t f = 0; f < g->f; f++) gb[f] += part[kf + f];
    }
    return true;
}

#else /* no oneDNN, or not x86-64 with GCC */

bool px_conv_dnnl_plan_of(const px_conv_geom *g, px_conv_dnnl_plan *p) {
    (void)g, (void)p;
    return false;
}

bool px_conv_dnnl_forward(const px_conv_dnnl_plan *p, const px_conv_geom *g, const float *x, const float *w,
                          const float *bias, float *y, float *state, int threads) {
    (void)p, (void)g, (void)x, (void)w, (void)bias, (void)y, (void)state, (void)threads;
    return false;
}

bool px_conv_dnnl_backward(const px_conv_dnnl_plan *p, const px_conv_geom *g, const float *x, const float *w,
                           const float *gy, float *gx, bool clear_x, float *gw, float *gb, float *state, int threads) {
    (void)p, (void)g, (void)x, (void)w, (void)gy, (void)gx, (void)clear_x, (void)gw, (void)gb, (void)state, (void)threads;
    return false;
}

#endif
