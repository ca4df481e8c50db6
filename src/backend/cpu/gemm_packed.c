/* Large untransposed float32 products (a Dense layer's forward pass at inference
 * batch sizes) through oneDNN's f32 matmul: B reordered once per product into the
 * blocked layout its AVX-512 brgemm kernel reads, then row tiles of C on Plexus's
 * threads, each one single-threaded oneDNN call. Chosen over OpenBLAS by
 * measurement: docs/performance.md, "Batch-1,000 inference". */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/gemm.h"

#include "backend/cpu/dnnl_engine.h"

#ifdef PX_DNNL_USABLE
#include <pthread.h>

static bool usable; /* AVX-512 and a CPU engine: elsewhere oneDNN's f32 kernels are not the faster */
static pthread_once_t usable_once = PTHREAD_ONCE_INIT;

static void usable_init(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) return;
    const char *off = getenv("PX_GEMM_PACKED_DISABLE"); /* A/B runs */
    if (off && strcmp(off, "1") == 0) return;
    usable = px_dnnl_engine() != NULL;
}

static void md_rows(dnnl_memory_desc_t *md, int64_t r, int64_t c, int64_t ld) {
    dnnl_dims_t dims = {r, c}, strides = {ld, 1};
    dnnl_memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides);
}

/* The descriptor of the matmul of a tm-row tile with B in the layout oneDNN
 * prefers (format "any"), and whether oneDNN gives it a brgemm kernel (only the
 * AVX-512 ones were measured faster than OpenBLAS). */
static bool tile_desc(int64_t tm, int64_t n, int64_t k, int64_t lda, int64_t ldc, dnnl_engine_t e,
                      dnnl_primitive_desc_t *pd) {
    dnnl_memory_desc_t ad, bd, cd;
    dnnl_dims_t bdims = {k, n};
    md_rows(&ad, tm, k, lda);
    md_rows(&cd, tm, n, ldc);
    dnnl_matmul_desc_t desc;
    const char *impl = NULL;
    *pd = NULL;
    bool ok = dnnl_memory_desc_init_by_tag(&bd, 2, bdims, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
              dnnl_matmul_desc_init(&desc, &ad, &bd, NULL, &cd) == dnnl_success &&
              dnnl_primitive_desc_create(pd, &desc, NULL, e, NULL) == dnnl_success &&
              dnnl_primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl &&
              strncmp(impl, "brg", 3) == 0;
    if (!ok && *pd) dnnl_primitive_desc_destroy(*pd), *pd = NULL;
    return ok;
}

/* key: kind, tm, n, k, lda, ldc. Made on the thread that runs it after that
 * thread's OpenMP count was set to one: a primitive's blocking depends on the
 * threads it plans for. Its memories: A, the packed B, C. */
static bool make_tile(const int64_t *key, int key_len, dnnl_engine_t e, px_dnnl_prim *out) {
    (void)key_len;
    int64_t tm = key[1], n = key[2], k = key[3], lda = key[4], ldc = key[5];
    dnnl_primitive_desc_t pd;
    if (!tile_desc(tm, n, k, lda, ldc, e, &pd)) return false;
    dnnl_memory_desc_t ad, cd;
    md_rows(&ad, tm, k, lda);
    md_rows(&cd, tm, n, ldc);
    bool ok = dnnl_primitive_create(&out->p, pd) == dnnl_success && px_dnnl_add_mem(out, e, &ad, DNNL_ARG_SRC) &&
              px_dnnl_add_mem(out, e, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), DNNL_ARG_WEIGHTS) &&
              px_dnnl_add_mem(out, e, &cd, DNNL_ARG_DST);
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

static const px_dnnl_prim *tile_primitive(int64_t tm, int64_t n, int64_t k, int64_t lda, int64_t ldc) {
    const int64_t key[] = {PX_DNNL_KIND_PACKED_MATMUL, tm, n, k, lda, ldc};
    return px_dnnl_cached(key, (int)(sizeof key / sizeof *key), make_tile);
}

/* The layout a tile primitive reads B in. */
static const dnnl_memory_desc_t *packed_b_md(const px_dnnl_prim *tile) {
    const dnnl_memory_desc_t *md = NULL;
    return dnnl_memory_get_memory_desc(tile->mem[1], &md) == dnnl_success ? md : NULL;
}

/* key: kind, k, n, ldb, and tile 0's tm, lda, ldc (which fix the packed layout):
 * the reorder of B (k x n, row length ldb) into that layout. */
static bool make_reorder(const int64_t *key, int key_len, dnnl_engine_t e, px_dnnl_prim *out) {
    (void)key_len;
    int64_t k = key[1], n = key[2], ldb = key[3];
    dnnl_primitive_desc_t tpd, rpd = NULL;
    if (!tile_desc(key[4], n, k, key[5], key[6], e, &tpd)) return false;
    const dnnl_memory_desc_t *packed = dnnl_primitive_desc_query_md(tpd, dnnl_query_weights_md, 0);
    dnnl_memory_desc_t bd;
    md_rows(&bd, k, n, ldb);
    bool ok = dnnl_reorder_primitive_desc_create(&rpd, &bd, e, packed, e, NULL) == dnnl_success &&
              dnnl_primitive_create(&out->p, rpd) == dnnl_success && px_dnnl_add_mem(out, e, &bd, DNNL_ARG_FROM) &&
              px_dnnl_add_mem(out, e, packed, DNNL_ARG_TO);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    dnnl_primitive_desc_destroy(tpd);
    return ok;
}

/* B reordered into dst in the layout of tile 0's primitive (tm0 rows). */
static bool pack_b(const float *b, int64_t k, int64_t n, int64_t ldb, int64_t tm0, int64_t lda, int64_t ldc,
                   void *dst) {
    const int64_t key[] = {PX_DNNL_KIND_PACKED_REORDER, k, n, ldb, tm0, lda, ldc};
    const px_dnnl_prim *r = px_dnnl_cached(key, (int)(sizeof key / sizeof *key), make_reorder);
    void *const data[2] = {(void *)b, dst};
    return r && px_dnnl_execute(r, data);
}

typedef struct packed_job {
    int64_t n, k, lda, ldc, tiles;
    const int64_t *row0;
    const float *a;
    float *c;
    dnnl_memory_desc_t bmd;        /* the packed B's layout, from tile 0's primitive */
    void *bp;                      /* packed B */
    bool failed;                   /* some tile could not run; it computed nothing */
    px_gemm_rows_fn rows;          /* run on each tile's rows after it (may be NULL) */
    const void *ctx;
} packed_job;

static bool run_tile(const packed_job *j, int64_t t) {
    int64_t i0 = j->row0[t], tm = j->row0[t + 1] - i0;
    const px_dnnl_prim *p = tile_primitive(tm, j->n, j->k, j->lda, j->ldc);
    const dnnl_memory_desc_t *bmd = p ? packed_b_md(p) : NULL;
    /* a tile of another height may want B blocked otherwise: then it is not run here */
    if (!bmd || !dnnl_memory_desc_equal(bmd, &j->bmd)) return false;
    void *const data[3] = {(void *)(j->a + i0 * j->lda), j->bp, j->c + i0 * j->ldc};
    if (!px_dnnl_execute(p, data)) return false;
    if (j->rows) j->rows(j->ctx, i0, i0 + tm); /* while the tile is in this thread's cache */
    return true;
}

/* Products this thread found the packed path cannot run (a tile wanted B in
 * another layout): remembered by shape so that they go straight to the BLAS. */
#define PX_REFUSED_MAX 8
typedef struct refused_shape {
    int64_t m, n, k, lda, ldc, tiles, tm0;
} refused_shape;
static _Thread_local refused_shape refused[PX_REFUSED_MAX];
static _Thread_local int n_refused, next_refused;

static bool was_refused(const refused_shape *s) {
    for (int i = 0; i < n_refused; i++)
        if (!memcmp(&refused[i], s, sizeof *s)) return true;
    return false;
}

static void remember_refusal(const refused_shape *s) {
    int slot = n_refused < PX_REFUSED_MAX ? n_refused++ : next_refused++ % PX_REFUSED_MAX;
    refused[slot] = *s;
}

/* The reordered weights kept inside a px_gemm_weights_fixed scope, per thread:
 * at two threads the reorder of each batch was ~6 % of a batch-1,000 predict
 * (410,000-421,000 against 389,000-395,000 images/s kept). */
#define PX_KEPT_MAX 8
typedef struct kept_b {
    const float *b;
    int64_t k, n, ldb;
    dnnl_memory_desc_t md;
    void *packed;
} kept_b;
static _Thread_local int fixed_depth;
static _Thread_local int n_kept;
static _Thread_local kept_b kept[PX_KEPT_MAX];

void px_gemm_weights_fixed_begin(void) { fixed_depth++; }

void px_gemm_weights_fixed_end(void) {
    if (fixed_depth > 0 && --fixed_depth == 0) {
        for (int i = 0; i < n_kept; i++) free(kept[i].packed);
        n_kept = 0;
    }
}

/* The kept copy of this B in layout md, or NULL. */
static void *kept_copy(const float *b, int64_t k, int64_t n, int64_t ldb, const dnnl_memory_desc_t *md) {
    for (int i = 0; i < n_kept; i++)
        if (kept[i].b == b && kept[i].k == k && kept[i].n == n && kept[i].ldb == ldb &&
            dnnl_memory_desc_equal(&kept[i].md, md))
            return kept[i].packed;
    return NULL;
}

bool px_gemm_packed(int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, bool b_fixed,
                    float *c, int64_t ldc, int64_t tiles, const int64_t *row0, int threads, px_gemm_rows_fn rows,
                    const void *ctx) {
    pthread_once(&usable_once, usable_init);
    if (!usable || tiles < 1) return false;
    int64_t tm0 = row0[1] - row0[0];
    refused_shape shape = {row0[tiles] - row0[0], n, k, lda, ldc, tiles, tm0};
    if (was_refused(&shape)) return false;
    bool keep = b_fixed && fixed_depth > 0;
    packed_job job = {.n = n, .k = k, .lda = lda, .ldc = ldc, .tiles = tiles, .row0 = row0, .a = a, .c = c, .rows = rows, .ctx = ctx};
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(1); /* tile 0's primitive planned as the tiles plan theirs, for one thread */
#endif
    const px_dnnl_prim *p0 = tile_primitive(tm0, n, k, lda, ldc);
#ifdef _OPENMP
    omp_set_num_threads(saved); /* the reorder, a copy, on all threads (oneDNN's own team) */
#endif
    const dnnl_memory_desc_t *md0 = p0 ? packed_b_md(p0) : NULL;
    bool ok = md0 != NULL;
    if (ok) job.bmd = *md0; /* a copy: the cache may replace tile 0's primitive below */
    if (ok && !(keep && (job.bp = kept_copy(b, k, n, ldb, &job.bmd)))) {
        size_t bytes = dnnl_memory_desc_get_size(&job.bmd);
        if (keep && n_kept < PX_KEPT_MAX) { /* owned by the scope from here */
            ok = (job.bp = malloc(bytes)) != NULL;
            if (ok) kept[n_kept++] = (kept_b){b, k, n, ldb, job.bmd, job.bp};
        } else {
            ok = (job.bp = px_dnnl_scratch(PX_DNNL_SCRATCH_PACKED_B, bytes)) != NULL;
        }
        ok = ok && pack_b(b, k, n, ldb, tm0, lda, ldc, job.bp);
        if (!ok && job.bp && keep && n_kept > 0 && kept[n_kept - 1].packed == job.bp)
            free(kept[--n_kept].packed); /* not a valid copy: forget it */
    }
    if (ok) {
#ifdef _OPENMP
        /* a team even of one thread: each tile's thread can then set its OpenMP
         * count to one for oneDNN without touching the caller's */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#else
        (void)threads;
#endif
        for (int64_t t = 0; t < tiles; t++) {
#ifdef _OPENMP
            omp_set_num_threads(1);
#endif
            if (!run_tile(&job, t)) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
                job.failed = true;
            }
        }
        /* out of memory in oneDNN, or a tile that wants another layout: the whole
         * product elsewhere, and this shape straight there from now on */
        if (job.failed) remember_refusal(&shape), ok = false;
    }
    return ok;
}

#else /* no oneDNN, or not x86-64 with GCC */

bool px_gemm_packed(int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, bool b_fixed,
                    float *c, int64_t ldc, int64_t tiles, const int64_t *row0, int threads, px_gemm_rows_fn rows,
                    const void *ctx) {
    (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)b_fixed, (void)c, (void)ldc, (void)tiles,
        (void)row0, (void)threads, (void)rows, (void)ctx;
    return false;
}

void px_gemm_weights_fixed_begin(void) {}
void px_gemm_weights_fixed_end(void) {}

#endif
