/* The bf16 product of the mixed_bfloat16 policy: A and B rounded to bf16 (the
 * rounding is done here, on all threads), then multiplied by oneDNN's matmul
 * primitive with float32 accumulation and a float32 result (it uses AMX tiles where
 * the processor has them, AVX512_BF16 otherwise). Chosen over a kernel of Plexus's
 * own by measurement: docs/performance.md, "bf16 products". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/gemm_bf16.h"

static uint16_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u) /* inf stays inf, NaN stays a (quiet) NaN */
        return (uint16_t)((u >> 16) | ((u & 0x007fffffu) ? 0x40u : 0u));
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u); /* subnormal: signed zero */
    u += 0x7fffu + ((u >> 16) & 1u);                                     /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float px_bf16_round(float x) {
    uint32_t u = (uint32_t)bf16_bits(x) << 16;
    float y;
    memcpy(&y, &u, sizeof y);
    return y;
}

#if defined(PX_HAVE_DNNL) && defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void) {
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
}

static bool cpu_has_bf16(void) {
    if (getenv("PX_BF16_DISABLE") && strcmp(getenv("PX_BF16_DISABLE"), "1") == 0) return false; /* tests */
    __builtin_cpu_init();
    /* to_bf16 uses AVX512BW and AVX512VL too (every processor with AVX512_BF16 has
     * them, but a virtual machine may hide them) */
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}

bool px_bf16_supported(const char **why) {
    const char *w = NULL;
    if (!cpu_has_bf16()) w = "this processor has neither AVX512_BF16 nor AMX";
    if (!w) {
        pthread_once(&engine_once, engine_init);
        if (!engine) w = "oneDNN could not start a CPU engine";
    }
    if (why) *why = w;
    return !w;
}

/* rows [r0, r1) of a rows x cols float matrix (row length ld) to packed bf16 */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void to_bf16(const float *src, int64_t ld, int64_t r0,
                                                                   int64_t r1, int64_t cols, uint16_t *dst) {
    for (int64_t r = r0; r < r1; r++) {
        const float *s = src + r * ld;
        uint16_t *d = dst + r * cols;
        int64_t j = 0;
        for (; j + 32 <= cols; j += 32) {
            __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + j + 16), _mm512_loadu_ps(s + j));
            _mm512_storeu_si512(d + j, (__m512i)h);
        }
        for (; j < cols; j += 16) { /* the row's end, masked: the same conversion as above */
            __mmask16 k = cols - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - j)) - 1);
            __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, s + j));
            _mm256_mask_storeu_epi16(d + j, k, (__m256i)h);
        }
    }
}

typedef struct bf16_job {
    const px_gemm_args *g;
    const uint16_t *a, *b; /* op(A) and op(B) as stored, packed (row length = stored columns) */
    int64_t tm, tn;        /* C cut into tm x tn tiles (px_gemm_tile_grid) */
} bf16_job;

static void md_2d(dnnl_memory_desc_t *md, int64_t r, int64_t c, int64_t sr, int64_t sc, dnnl_data_type_t t) {
    dnnl_dims_t dims = {r, c}, strides = {sr, sc};
    dnnl_memory_desc_init_by_strides(md, 2, dims, t, strides);
}

/* Each thread keeps the oneDNN matmul primitives it has made, by shape and
 * strides (creating one, even from oneDNN's own cache, costs more than a small
 * product: ~6 % of the MLP's bf16 epoch went there), with its memory objects
 * (their data pointers are set per call) and the thread's stream; and its
 * scratch: the rounded operands of the products it starts and the tiles it
 * combines with alpha and beta, grown when needed and never freed per call.
 * Per thread because oneDNN, built as Debian builds it, wants a primitive run
 * on the thread that made it. A thread's cache is freed when the thread exits
 * (a pthread key's destructor, on that thread): OpenMP replaces its workers when
 * the thread count changes, and a program may call from threads of its own, so
 * caches of finished threads would otherwise pile up. Until then each is linked
 * from a global list (reachable, and counted for the tests). */
#define PX_BF16_CACHED 32

typedef struct prim_key {
    int64_t tm, tn, k, as0, as1, bs0, bs1, ldc;
} prim_key;

typedef struct prim_entry {
    prim_key key;
    dnnl_primitive_t p;
    dnnl_memory_t am, bm, cm;
} prim_entry;

typedef struct thread_cache {
    prim_entry e[PX_BF16_CACHED];
    int used, next; /* entries filled; the one to replace next when all are */
    dnnl_stream_t stream;
    uint16_t *ops; /* the rounded operands of a product this thread starts */
    size_t ops_len;
    float *tile; /* a tile's product before alpha and beta */
    size_t tile_len;
    struct thread_cache *link;
} thread_cache;

static _Thread_local thread_cache *my_cache;
static thread_cache *all_caches;
static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t cache_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool key_made;

static void entry_clear(prim_entry *e);

/* The destructor of cache_key: runs on the exiting thread, which made the primitives. */
static void cache_free(void *p) {
    thread_cache *tc = p;
    pthread_mutex_lock(&caches_lock);
    for (thread_cache **at = &all_caches; *at; at = &(*at)->link)
        if (*at == tc) {
            *at = tc->link;
            break;
        }
    pthread_mutex_unlock(&caches_lock);
    for (int i = 0; i < tc->used; i++) entry_clear(&tc->e[i]);
    if (tc->stream) dnnl_stream_destroy(tc->stream);
    free(tc->ops);
    free(tc->tile);
    free(tc);
    my_cache = NULL;
}

static void key_init(void) { key_made = pthread_key_create(&cache_key, cache_free) == 0; }

/* This thread's cache, made on first use; NULL when out of memory (the caller
 * then computes in float32). */
static thread_cache *cache_of_thread(void) {
    if (my_cache) return my_cache;
    pthread_once(&key_once, key_init);
    thread_cache *tc = key_made ? calloc(1, sizeof *tc) : NULL;
    if (!tc) return NULL;
    if (pthread_setspecific(cache_key, tc) != 0) {
        free(tc);
        return NULL;
    }
    pthread_mutex_lock(&caches_lock);
    tc->link = all_caches;
    all_caches = tc;
    pthread_mutex_unlock(&caches_lock);
    return my_cache = tc;
}

int px_bf16_thread_caches(void) {
    int n = 0;
    pthread_mutex_lock(&caches_lock);
    for (const thread_cache *tc = all_caches; tc; tc = tc->link) n++;
    pthread_mutex_unlock(&caches_lock);
    return n;
}

/* *buf with room for n elements of size sz, or NULL (out of memory: *buf unchanged) */
static void *grown(void **buf, size_t *len, size_t n, size_t sz) {
    if (n <= *len) return *buf;
    void *p = realloc(*buf, n * sz);
    if (!p) return NULL;
    *len = n;
    return *buf = p;
}

static void entry_clear(prim_entry *e) {
    if (e->cm) dnnl_memory_destroy(e->cm);
    if (e->bm) dnnl_memory_destroy(e->bm);
    if (e->am) dnnl_memory_destroy(e->am);
    if (e->p) dnnl_primitive_destroy(e->p);
    memset(e, 0, sizeof *e);
}

/* The entry of this shape in thread cache tc, made when missing; NULL when oneDNN refuses. */
static prim_entry *entry_of(thread_cache *tc, const prim_key *key) {
    for (int i = 0; i < tc->used; i++)
        if (!memcmp(&tc->e[i].key, key, sizeof *key)) return &tc->e[i];
    int slot = tc->used;
    if (tc->used < PX_BF16_CACHED)
        tc->used++;
    else /* full: replace the oldest */
        slot = tc->next, tc->next = (tc->next + 1) % PX_BF16_CACHED;
    prim_entry *e = &tc->e[slot];
    entry_clear(e);
    dnnl_memory_desc_t ad, bd, cd;
    md_2d(&ad, key->tm, key->k, key->as0, key->as1, dnnl_bf16);
    md_2d(&bd, key->k, key->tn, key->bs0, key->bs1, dnnl_bf16);
    md_2d(&cd, key->tm, key->tn, key->ldc, 1, dnnl_f32);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    bool ok = dnnl_matmul_desc_init(&desc, &ad, &bd, NULL, &cd) == dnnl_success &&
              dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL) == dnnl_success &&
              dnnl_primitive_create(&e->p, pd) == dnnl_success &&
              dnnl_memory_create(&e->am, &ad, engine, DNNL_MEMORY_NONE) == dnnl_success &&
              dnnl_memory_create(&e->bm, &bd, engine, DNNL_MEMORY_NONE) == dnnl_success &&
              dnnl_memory_create(&e->cm, &cd, engine, DNNL_MEMORY_NONE) == dnnl_success;
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (!ok) {
        entry_clear(e); /* stays empty: a later call of this shape tries again */
        return NULL;
    }
    e->key = *key;
    return e;
}

/* c (tm x tn, row length ldc) = op(A) op(B) on packed bf16 operands, no attributes:
 * with an output scale or a sum post-op oneDNN 2.6 leaves its AMX kernels for a
 * slower gemm (3x on the MLP's folded SGD product), so alpha and beta are applied
 * by the caller. */
static bool matmul(thread_cache *tc, int64_t tm, int64_t tn, int64_t k, const uint16_t *a, int64_t as0,
                   int64_t as1, const uint16_t *b, int64_t bs0, int64_t bs1, float *c, int64_t ldc) {
    prim_key key = {tm, tn, k, as0, as1, bs0, bs1, ldc};
    if (!tc->stream && dnnl_stream_create(&tc->stream, engine, dnnl_stream_default_flags) != dnnl_success)
        tc->stream = NULL;
    prim_entry *e = tc->stream ? entry_of(tc, &key) : NULL;
    if (!e || dnnl_memory_set_data_handle(e->am, (void *)a) != dnnl_success ||
        dnnl_memory_set_data_handle(e->bm, (void *)b) != dnnl_success ||
        dnnl_memory_set_data_handle(e->cm, c) != dnnl_success)
        return false;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->am}, {DNNL_ARG_WEIGHTS, e->bm}, {DNNL_ARG_DST, e->cm}};
    return dnnl_primitive_execute(e->p, tc->stream, 3, args) == dnnl_success &&
           dnnl_stream_wait(tc->stream) == dnnl_success;
}

/* C = alpha op(A) op(B) + beta C for one tile: the product straight into C when
 * alpha is 1 and beta 0, else into a scratch tile combined here (beta 0 never reads C). */
static bool tile_product(const px_gemm_args *g, int64_t tm, int64_t tn, const uint16_t *a, int64_t as0, int64_t as1,
                         const uint16_t *b, int64_t bs0, int64_t bs1, float *c) {
    float alpha = g->alpha != 0.0f ? g->alpha : 1.0f, beta = g->beta;
    thread_cache *tc = cache_of_thread();
    if (!tc) return false;
    if (alpha == 1.0f && beta == 0.0f) return matmul(tc, tm, tn, g->k, a, as0, as1, b, bs0, bs1, c, g->ldc);
    float *t = grown((void **)&tc->tile, &tc->tile_len, (size_t)(tm * tn), sizeof *t);
    bool ok = t && matmul(tc, tm, tn, g->k, a, as0, as1, b, bs0, bs1, t, tn);
    for (int64_t i = 0; ok && i < tm; i++) {
        float *ci = c + i * g->ldc;
        const float *ti = t + i * tn;
        if (beta == 0.0f)
            for (int64_t j = 0; j < tn; j++) ci[j] = alpha * ti[j];
        else
            for (int64_t j = 0; j < tn; j++) ci[j] = alpha * ti[j] + beta * ci[j];
    }
    return ok;
}

/* Tile t of C, row-major over the tm x tn grid. */
static void run_tile(const bf16_job *j, int64_t t) {
    const px_gemm_args *g = j->g;
    int64_t m = g->m, n = g->n, k = g->k;
    int64_t i0 = px_gemm_tile_cut(m, j->tm, t / j->tn), tm = px_gemm_tile_cut(m, j->tm, t / j->tn + 1) - i0;
    int64_t j0 = px_gemm_tile_cut(n, j->tn, t % j->tn), tn = px_gemm_tile_cut(n, j->tn, t % j->tn + 1) - j0;
    /* op(A)'s element (i, p): A[i][p] (stored m x k) or A[p][i] (stored k x m) */
    const uint16_t *a = g->trans_a ? j->a + i0 : j->a + i0 * k;
    int64_t as0 = g->trans_a ? 1 : k, as1 = g->trans_a ? m : 1;
    /* op(B)'s element (p, j): B[p][j] (stored k x n) or B[j][p] (stored n x k) */
    const uint16_t *b = g->trans_b ? j->b + j0 * k : j->b + j0;
    int64_t bs0 = g->trans_b ? 1 : n, bs1 = g->trans_b ? k : 1;
    float *c = g->c + i0 * g->ldc + j0;
    if (!tile_product(g, tm, tn, a, as0, as1, b, bs0, bs1, c)) {
        /* oneDNN refused (out of memory): the tile in float32 rather than a wrong result */
        const float *fa = g->trans_a ? g->a + i0 : g->a + i0 * g->lda;
        const float *fb = g->trans_b ? g->b + j0 * g->ldb : g->b + j0;
        px_gemm_builtin(g->trans_a, g->trans_b, tm, tn, k, g->alpha != 0.0f ? g->alpha : 1.0f, fa, g->lda, fb,
                        g->ldb, g->beta, c, g->ldc);
    }
}

void px_gemm_bf16(const px_gemm_args *g) {
    if (g->m <= 0 || g->n <= 0 || g->k <= 0 || !px_bf16_supported(NULL)) {
        px_gemm(g);
        return;
    }
    int64_t m = g->m, n = g->n, k = g->k;
    /* op(A) stored as ar x ac, op(B) as br x bc */
    int64_t ar = g->trans_a ? k : m, ac = g->trans_a ? m : k, br = g->trans_b ? n : k, bc = g->trans_b ? k : n;
    thread_cache *tc = cache_of_thread();
    uint16_t *a = tc ? grown((void **)&tc->ops, &tc->ops_len, (size_t)(ar * ac + br * bc), sizeof *a) : NULL;
    if (!a) {
        px_gemm(g);
        return;
    }
    uint16_t *b = a + ar * ac;
    /* the tiles of px_gemm's BLAS path: as many as the machine has processors
     * (rounded up to a power of two) for a large product, so that they share out
     * evenly over its cores; fixed tiles of 128 rows ran the MLP's largest products
     * in 3 (256 x 300) and 7 (784 x 300) tiles, 2:1 and 4:3 on two threads */
    bf16_job job = {.g = g, .a = a, .b = b};
    px_gemm_tile_grid(m, n, k, &job.tm, &job.tn);
    int64_t tiles = job.tm * job.tn;
#ifdef _OPENMP
    /* inside an op's own parallel region (a convolution's chunks) this thread does it all */
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads > tiles) threads = (int)tiles;
#pragma omp parallel num_threads(threads)
#endif
    {
#ifdef _OPENMP
        /* each thread's oneDNN calls run on that thread alone (this ICV is the thread's own) */
        omp_set_num_threads(1);
#pragma omp for schedule(static)
#endif
        for (int64_t r = 0; r < ar + br; r++) /* the rounding, one stored row at a time */
            if (r < ar)
                to_bf16(g->a, g->lda, r, r + 1, ac, a);
            else
                to_bf16(g->b, g->ldb, r - ar, r - ar + 1, bc, b);
#ifdef _OPENMP
        /* dynamic, as px_gemm's tiles: on a busy machine a thread that runs keeps
         * taking tiles (a tile's result does not depend on the thread that runs it) */
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t t = 0; t < tiles; t++) run_tile(&job, t);
    }
}

#else /* no oneDNN, or not x86-64 with GCC's intrinsics */

bool px_bf16_supported(const char **why) {
    if (why) *why = "this build of Plexus has no oneDNN (install libdnnl-dev and rebuild)";
    return false;
}

void px_gemm_bf16(const px_gemm_args *g) { px_gemm(g); }

int px_bf16_thread_caches(void) { return 0; }

#endif
