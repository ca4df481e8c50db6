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

#if defined(PX_HAVE_DNNL) && defined(__x86_64__) && defined(__GNUC__)
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static bool usable; /* AVX-512 and a CPU engine: elsewhere oneDNN's f32 kernels are not the faster */

static void engine_init(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) return;
    if (getenv("PX_GEMM_PACKED_DISABLE") && strcmp(getenv("PX_GEMM_PACKED_DISABLE"), "1") == 0) return; /* A/B runs */
    usable = dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success;
}

static void md_rows(dnnl_memory_desc_t *md, int64_t r, int64_t c, int64_t ld) {
    dnnl_dims_t dims = {r, c}, strides = {ld, 1};
    dnnl_memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides);
}

/* The matmul of a tm-row tile with B in the layout oneDNN prefers (format "any").
 * Created on the thread that runs it, after that thread's OpenMP count was set to
 * one: a primitive's blocking depends on the threads it plans for. oneDNN keeps
 * created primitives in its cache, so after the first call of a shape this costs
 * microseconds. Only brgemm kernels are taken (the AVX-512 ones measured). */
static bool tile_primitive(int64_t tm, int64_t n, int64_t k, int64_t lda, int64_t ldc, dnnl_primitive_desc_t *pd,
                           dnnl_primitive_t *p) {
    dnnl_memory_desc_t ad, bd, cd;
    dnnl_dims_t bdims = {k, n};
    md_rows(&ad, tm, k, lda);
    md_rows(&cd, tm, n, ldc);
    dnnl_matmul_desc_t desc;
    *pd = NULL, *p = NULL;
    const char *impl = NULL;
    bool ok = dnnl_memory_desc_init_by_tag(&bd, 2, bdims, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
              dnnl_matmul_desc_init(&desc, &ad, &bd, NULL, &cd) == dnnl_success &&
              dnnl_primitive_desc_create(pd, &desc, NULL, engine, NULL) == dnnl_success &&
              dnnl_primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl &&
              strncmp(impl, "brg", 3) == 0 && dnnl_primitive_create(p, *pd) == dnnl_success;
    if (!ok && *pd) dnnl_primitive_desc_destroy(*pd), *pd = NULL;
    return ok;
}

static bool run(dnnl_primitive_t p, const dnnl_memory_desc_t *md, void *data, int arg_a, const dnnl_memory_desc_t *md2,
                void *data2, int arg_b, const dnnl_memory_desc_t *md3, void *data3) {
    dnnl_memory_t m1 = NULL, m2 = NULL, m3 = NULL;
    dnnl_stream_t s = NULL;
    bool ok = dnnl_memory_create(&m1, md, engine, data) == dnnl_success &&
              dnnl_memory_create(&m2, md2, engine, data2) == dnnl_success &&
              (!md3 || dnnl_memory_create(&m3, md3, engine, data3) == dnnl_success) &&
              dnnl_stream_create(&s, engine, dnnl_stream_default_flags) == dnnl_success;
    if (ok) {
        dnnl_exec_arg_t args[3] = {{arg_a, m1}, {arg_b, m2}, {DNNL_ARG_DST, m3}};
        ok = dnnl_primitive_execute(p, s, md3 ? 3 : 2, args) == dnnl_success && dnnl_stream_wait(s) == dnnl_success;
    }
    if (s) dnnl_stream_destroy(s);
    if (m3) dnnl_memory_destroy(m3);
    if (m2) dnnl_memory_destroy(m2);
    if (m1) dnnl_memory_destroy(m1);
    return ok;
}

/* B (k x n, row length ldb) reordered into the layout `packed` describes. */
static bool pack_b(const float *b, int64_t k, int64_t n, int64_t ldb, const dnnl_memory_desc_t *packed, void *dst) {
    dnnl_memory_desc_t bd;
    md_rows(&bd, k, n, ldb);
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t rp = NULL;
    bool ok = dnnl_reorder_primitive_desc_create(&rpd, &bd, engine, packed, engine, NULL) == dnnl_success &&
              dnnl_primitive_create(&rp, rpd) == dnnl_success &&
              run(rp, &bd, (void *)b, DNNL_ARG_FROM, packed, dst, DNNL_ARG_TO, NULL, NULL);
    if (rp) dnnl_primitive_destroy(rp);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return ok;
}

typedef struct packed_job {
    int64_t n, k, lda, ldc, tiles;
    const int64_t *row0;
    const float *a;
    float *c;
    const dnnl_memory_desc_t *bmd; /* the packed B's layout, from tile 0's primitive */
    void *bp;                      /* packed B */
    bool failed;                   /* some tile could not run; it computed nothing */
    px_gemm_rows_fn rows;          /* run on each tile's rows after it (may be NULL) */
    const void *ctx;
} packed_job;

static bool run_tile(const packed_job *j, int64_t t) {
    int64_t i0 = j->row0[t], tm = j->row0[t + 1] - i0;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    if (!tile_primitive(tm, j->n, j->k, j->lda, j->ldc, &pd, &p)) return false;
    dnnl_memory_desc_t ad, cd;
    md_rows(&ad, tm, j->k, j->lda);
    md_rows(&cd, tm, j->n, j->ldc);
    /* a tile of another height may want B blocked otherwise: then it is not run here */
    bool ok = dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), j->bmd) &&
              run(p, &ad, (void *)(j->a + i0 * j->lda), DNNL_ARG_SRC, j->bmd, j->bp, DNNL_ARG_WEIGHTS, &cd,
                  j->c + i0 * j->ldc);
    dnnl_primitive_destroy(p);
    dnnl_primitive_desc_destroy(pd);
    if (ok && j->rows) j->rows(j->ctx, i0, i0 + tm); /* while the tile is in this thread's cache */
    return ok;
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
    pthread_once(&engine_once, engine_init);
    if (!usable || tiles < 1) return false;
    bool keep = b_fixed && fixed_depth > 0, owned = true;
    packed_job job = {n, k, lda, ldc, tiles, row0, a, c, NULL, NULL, false, rows, ctx};
    dnnl_primitive_desc_t pd0 = NULL;
    dnnl_primitive_t p0 = NULL;
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(1); /* tile 0's primitive planned as the tiles plan theirs, for one thread */
#endif
    bool ok = tile_primitive(row0[1] - row0[0], n, k, lda, ldc, &pd0, &p0);
#ifdef _OPENMP
    omp_set_num_threads(saved); /* the reorder, a copy, on all threads (oneDNN's own team) */
#endif
    if (p0) dnnl_primitive_destroy(p0);
    if (ok) {
        job.bmd = dnnl_primitive_desc_query_md(pd0, dnnl_query_weights_md, 0);
        if (keep && (job.bp = kept_copy(b, k, n, ldb, job.bmd))) {
            owned = false;
        } else {
            ok = (job.bp = malloc(dnnl_memory_desc_get_size(job.bmd))) && pack_b(b, k, n, ldb, job.bmd, job.bp);
            if (ok && keep && n_kept < PX_KEPT_MAX) {
                kept[n_kept++] = (kept_b){b, k, n, ldb, *job.bmd, job.bp};
                owned = false;
            }
        }
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
    }
    if (owned) free(job.bp);
    if (pd0) dnnl_primitive_desc_destroy(pd0);
    if (ok && job.failed) /* out of memory in oneDNN, or an unexpected layout: the whole product elsewhere */
        ok = false;
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
