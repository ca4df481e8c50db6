/* The matrix-product dispatcher: per shape, a row-times-matrix loop (batch-1
 * inference), Plexus's builtin kernel where it measures faster, the BLAS otherwise. */
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define PX_HAVE_GEMV512 1
#endif

#include "backend/cpu/blas.h"
#include "backend/cpu/gemm.h"

/* Products with fewer multiply-adds than this run on the builtin kernel: below
 * it the BLAS's fixed cost per call (argument checks, buffer set-up, thread
 * hand-off) outweighs its faster inner loop (measured with bench/bench_gemm;
 * see docs/performance.md). */
#ifndef PX_GEMM_BLAS_MIN
#define PX_GEMM_BLAS_MIN 513
#endif

/* ---- the BLAS over Plexus's threads ----
 *
 * The BLAS always runs on one thread (blas.c): OpenBLAS's threaded products sum
 * in another order than its one-thread kernel, so a result would depend on the
 * thread count. A large product is instead cut into tiles of C that depend only
 * on the shape and the machine's processor count (never on the thread count),
 * each tile one single-threaded BLAS call over the whole K (never split), and
 * the tiles are shared out over
 * Plexus's OpenMP team. Every element is then computed by the same call
 * whichever thread runs it, and the result is bit-identical at any thread count
 * (tests/backend/test_thread_determinism.c). */

/* One tile per this many multiply-adds (about 10 us of one core), at most
 * tiles_max() tiles; tile counts are powers of two so that 1, 2, 4 ... threads
 * share them evenly. */
#define PX_TILE_MACS (1 << 19)
#ifndef PX_TILES_MAX
#define PX_TILES_MAX 16
#endif
/* Tiles stay at least this many rows and columns (smaller ones lose the
 * BLAS's register blocking); cuts fall on multiples of the alignment. */
#define PX_TILE_MIN_ROWS 32
#define PX_TILE_MIN_COLS 64
#define PX_TILE_ALIGN 16

static bool fits_int(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
    return m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
           ldc <= INT_MAX;
}

static int max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int64_t px_gemm_tile_cut(int64_t extent, int64_t parts, int64_t i) {
    return i >= parts ? extent : extent * i / parts / PX_TILE_ALIGN * PX_TILE_ALIGN;
}

/* The most tiles a product is cut into: the machine's processors (all those
 * online, not the thread count or this process's binding, so it is fixed for a
 * machine) rounded up to a power of two, at most PX_TILES_MAX. Each tile packs
 * its own panels of A and B: at batch-1,000 inference (1000 x 784 x 300) 16
 * tiles packed the weights 8 times over, and 2 tiles on this 2-core machine
 * ran 14 % more images/s at two threads and 11 % at one (docs/performance.md). */
static int64_t tiles_max(void) {
    static volatile int64_t known; /* 0 unknown; a benign race computes it twice */
    if (!known) {
        long procs = sysconf(_SC_NPROCESSORS_ONLN);
        int64_t t = 1;
        while (t < procs && t < PX_TILES_MAX) t *= 2;
        known = t;
    }
    return known;
}

int64_t px_gemm_tiles_max(void) { return tiles_max(); }

void px_gemm_tile_grid(int64_t m, int64_t n, int64_t k, int64_t *tm, int64_t *tn) {
    double macs = (double)m * (double)n * (double)k;
    int64_t most = tiles_max();
    *tm = *tn = 1;
    while (*tm * *tn < most && macs >= 2.0 * PX_TILE_MACS * (double)(*tm * *tn)) {
        bool rows_ok = m / (*tm * 2) >= PX_TILE_MIN_ROWS, cols_ok = n / (*tn * 2) >= PX_TILE_MIN_COLS;
        if (rows_ok && (!cols_ok || m / *tm >= n / *tn)) *tm *= 2;
        else if (cols_ok) *tn *= 2;
        else break;
    }
}

typedef struct blas_call {
    px_sgemm_fn f;
    bool ta, tb;
    int64_t m, n, k, tm, tn;
    float alpha;
    const float *a;
    int64_t lda;
    const float *b;
    int64_t ldb;
    float beta;
    float *c;
    int64_t ldc;
} blas_call;

/* Tile t (row-major over the tm x tn grid) as one BLAS call. */
static void blas_tile(const blas_call *g, int64_t t) {
    int64_t i0 = px_gemm_tile_cut(g->m, g->tm, t / g->tn), i1 = px_gemm_tile_cut(g->m, g->tm, t / g->tn + 1);
    int64_t j0 = px_gemm_tile_cut(g->n, g->tn, t % g->tn), j1 = px_gemm_tile_cut(g->n, g->tn, t % g->tn + 1);
    const float *at = g->ta ? g->a + i0 : g->a + i0 * g->lda, *bt = g->tb ? g->b + j0 * g->ldb : g->b + j0;
    g->f(PX_CBLAS_ROW_MAJOR, g->ta ? PX_CBLAS_TRANS : PX_CBLAS_NO_TRANS, g->tb ? PX_CBLAS_TRANS : PX_CBLAS_NO_TRANS,
         (int)(i1 - i0), (int)(j1 - j0), (int)g->k, g->alpha, at, (int)g->lda, bt, (int)g->ldb, g->beta,
         g->c + i0 * g->ldc + j0, (int)g->ldc);
}

void px_gemm_blas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    px_sgemm_fn f = px_blas_sgemm();
    /* k == 0 would trip the BLAS's lda checks; the builtin kernel just scales C */
    if (!f || m <= 0 || n <= 0 || k <= 0 || !fits_int(m, n, k, lda, ldb, ldc)) {
        px_gemm_builtin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int64_t tm, tn;
    px_gemm_tile_grid(m, n, k, &tm, &tn);
    int64_t tiles = tm * tn;
    blas_call call = {f, ta, tb, m, n, k, tm, tn, alpha, a, lda, b, ldb, beta, c, ldc};
    int threads = 1;
#ifdef _OPENMP
    /* inside an op's own parallel region the tiles run one after another */
    if (tiles > 1 && !omp_in_parallel()) threads = max_threads() < tiles ? max_threads() : (int)tiles;
#endif
    if (threads == 1) { /* no team at all: even a one-thread team costs a tiny product */
        for (int64_t t = 0; t < tiles; t++) blas_tile(&call, t);
        return;
    }
    /* dynamic: on a busy machine a thread that runs keeps taking tiles while a
     * descheduled one holds only the tile it started */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; t++) blas_tile(&call, t);
}

/* ---- one row times a matrix (inference at batch 1) ----
 *
 * c(1 x n) = alpha a(1 x k) B(k x n) + beta c streams B once, row by row, with
 * the row of c held in registers: B is read at L2 speed and nothing is packed.
 * OpenBLAS sends m = 1 to its small-matrix kernel (12.6 us for 1 x 784 . 784 x
 * 300 here, 37 GFLOP/s; this loop: see docs/performance.md). Each c[j] sums
 * its k terms in order with FMAs, so results do not depend on the thread count. */
#ifdef PX_HAVE_GEMV512
/* Vectors of 16 columns per strip: 16 accumulators (of 32 registers) make a
 * 300-wide layer 256 + 44 columns. Measured at 1 x 300 x 784 on one thread:
 * strips of 4, 8, 12, 16, 24 vectors took 11.6, 10.9, 10.1, 10.0, 17.3 us
 * (24 spills), OpenBLAS 12.5 us. */
#define GEMV_STRIP 16
#define GEMV_PF 8

__attribute__((target("avx512f"), always_inline)) static inline void
gemv_strip(int nv, __mmask16 last, int64_t k, float alpha, const float *a, const float *b, int64_t ldb,
           float beta, float *c) {
    __m512 acc[GEMV_STRIP];
    for (int v = 0; v < nv; v++) acc[v] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        __m512 x = _mm512_set1_ps(a[p]);
        const float *row = b + p * ldb;
        /* B's rows are strided (a strip reads part of each): prefetching 8 rows
         * ahead took 1 x 300 x 784 from 10.0 to 8.7 us (2, 4, 16 rows: 9.5, 9.0,
         * 9.2). */
        if (p + GEMV_PF < k)
            for (int v = 0; v < nv; v++) _mm_prefetch((const char *)(row + GEMV_PF * ldb + 16 * v), _MM_HINT_T0);
        for (int v = 0; v + 1 < nv; v++) acc[v] = _mm512_fmadd_ps(x, _mm512_loadu_ps(row + 16 * v), acc[v]);
        acc[nv - 1] = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(last, row + 16 * (nv - 1)), acc[nv - 1]);
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int v = 0; v < nv; v++) {
        __mmask16 mk = v + 1 < nv ? (__mmask16)0xffff : last;
        __m512 r = _mm512_mul_ps(va, acc[v]);
        /* beta 0 never reads c (it may hold garbage), as in BLAS */
        if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, c + 16 * v), r);
        _mm512_mask_storeu_ps(c + 16 * v, mk, r);
    }
}

/* Columns [j0, j1) of c, strip by strip (each call with a constant width, so
 * the accumulators stay in registers). */
__attribute__((target("avx512f"))) static void gemv_cols(int64_t j0, int64_t j1, int64_t k, float alpha,
                                                         const float *a, const float *b, int64_t ldb, float beta,
                                                         float *c) {
    for (int64_t j = j0; j < j1; j += 16 * GEMV_STRIP) {
        int64_t w = j1 - j < 16 * GEMV_STRIP ? j1 - j : 16 * GEMV_STRIP;
        int nv = (int)((w + 15) / 16);
        __mmask16 last = (__mmask16)(w % 16 ? (1u << (w % 16)) - 1 : 0xffffu);
        switch (nv) {
#define CASE(N) case N: gemv_strip(N, last, k, alpha, a, b + j, ldb, beta, c + j); break;
            CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
            CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15) CASE(16)
#undef CASE
        }
    }
}

static bool have_avx512(void) {
    static volatile int known; /* 0 unknown, 1 no, 2 yes; a benign race computes it twice */
    if (!known) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") ? 2 : 1;
    }
    return known == 2;
}
#endif

/* Below this many multiply-adds one thread does the row: waking a team costs
 * a few microseconds, more than half of a smaller product. */
#define PX_GEMV_PAR_MACS (1 << 17)

static bool gemv(int64_t n, int64_t k, float alpha, const float *a, const float *b, int64_t ldb, float beta,
                 float *c, int threads) {
#ifdef PX_HAVE_GEMV512
    if (!have_avx512()) return false;
#ifdef _OPENMP
    /* inside a parallel region (an op splitting its own work) one thread does it, as in the builtin kernel */
    if (threads > 1 && (double)n * (double)k >= PX_GEMV_PAR_MACS && n >= 64 && !omp_in_parallel()) {
        /* column ranges of whole vectors, one per thread: each streams its part of B */
        int64_t vecs = (n + 15) / 16;
#pragma omp parallel num_threads(threads)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            int64_t j0 = 16 * (vecs * t / nt), j1 = 16 * (vecs * (t + 1) / nt);
            if (j1 > n) j1 = n;
            if (j0 < j1) gemv_cols(j0, j1, k, alpha, a, b, ldb, beta, c);
        }
        return true;
    }
#else
    (void)threads;
#endif
    gemv_cols(0, n, k, alpha, a, b, ldb, beta, c);
    return true;
#else
    (void)n, (void)k, (void)alpha, (void)a, (void)b, (void)ldb, (void)beta, (void)c, (void)threads;
    return false;
#endif
}

/* ---- tall products with B packed once (batch-1,000 inference) ----
 *
 * Each BLAS tile packs its own panels of B, and OpenBLAS's kernel ran the
 * 1000 x 784 x 300 layer at 121 GFLOP/s on one thread where oneDNN's brgemm
 * kernel, on B reordered once per product, ran 150 (docs/performance.md). The
 * tiles cut rows only (each reads all of packed B), as many as px_gemm_tile_grid would
 * make, on the same aligned cuts. */
#define PX_PACKED_MIN_ROWS 512

static bool takes_packed(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta, int64_t lda,
                         int64_t ldc) {
    return !ta && !tb && alpha == 1.0f && beta == 0.0f && m >= PX_PACKED_MIN_ROWS && n >= 64 && k >= 64 &&
           lda == k && ldc == n; /* oneDNN 2.6's brgemm takes dense A and C only */
}

static bool packed(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                   bool b_fixed, float *c, int64_t ldc, px_gemm_rows_fn rows, const void *ctx) {
    int64_t tm, tn, row0[PX_TILES_MAX + 1];
    px_gemm_tile_grid(m, n, k, &tm, &tn);
    tm *= tn; /* the same count of tiles, all of them cutting rows */
    while (tm > 1 && m / tm < PX_TILE_MIN_ROWS) tm /= 2;
    for (int64_t t = 0; t <= tm; t++) row0[t] = px_gemm_tile_cut(m, tm, t);
    int threads = 1;
#ifdef _OPENMP
    if (tm > 1 && !omp_in_parallel()) threads = max_threads() < tm ? max_threads() : (int)tm;
#endif
    return px_gemm_packed(n, k, a, lda, b, ldb, b_fixed, c, ldc, tm, row0, threads, rows, ctx);
}

/* The parts a few-row product's K is cut into (px_gemm_builtin_ksplit): as many
 * as the tiles (the machine's processors, a power of two), each at least one of
 * the builtin kernel's k-blocks (192) deep; fixed by shape and machine. */
static int64_t ksplit_parts(int64_t k) {
    static int state; /* 0 unknown, 1 on, 2 off (PX_GEMM_KSPLIT_DISABLE=1, for A/B runs) */
    int off = __atomic_load_n(&state, __ATOMIC_RELAXED); /* threads may ask at once */
    if (!off) {
        const char *e = getenv("PX_GEMM_KSPLIT_DISABLE");
        off = e && *e == '1' ? 2 : 1;
        __atomic_store_n(&state, off, __ATOMIC_RELAXED);
    }
    if (off == 2) return 1;
    int64_t p = tiles_max();
    while (p > 1 && k / p < 192) p /= 2;
    return p;
}

/* op(A) of at most 64 rows by a wide, deep B (the first layer's forward at batch 32) */
static bool wide_forward(bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
    return !ta && !tb && m <= 64 && n >= 256 && k >= 512;
}

/* A few-row forward product that is one BLAS tile but at least half of one
 * tile's work (the second layer at batch 32: 32 x 100 x 300, 0.96M
 * multiply-adds) ran on one thread while the other waited. Cut in two K parts
 * like the first layer's, each part reads the rows of B (W) that the same
 * thread's Adam slice updated and the backward's half (dense_op.c) read: in
 * the MLP's Adam b32 step the forward went from 23 to 21 us and the backward
 * after it from 38 to 34 (docs/performance.md). The rounding is that of two
 * partial sums added, the same at any thread count. */
static bool narrow_forward(bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
    double macs = (double)m * (double)n * (double)k;
    return !ta && !tb && m >= 2 && m <= 64 && n >= 64 && n < 256 && k >= 256 && macs >= PX_TILE_MACS &&
           macs < 2.0 * PX_TILE_MACS;
}

/* The parts of the K split this product takes, or 1 for none. */
static int64_t ksplit_for(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float beta) {
    if (beta != 0.0f) return 1;
    if (wide_forward(ta, tb, m, n, k)) return ksplit_parts(k);
    if (narrow_forward(ta, tb, m, n, k) && ksplit_parts(2 * 192) > 1) return 2;
    return 1;
}

/* ---- the dispatcher ----
 *
 * A fixed rule on the shape and the transposes (never the thread count, never
 * a timing taken at run time), so a product always runs the same code and
 * gives bit-identical results from run to run and at any thread count.
 * Measured with bench/bench_gemm on the MLP's products (docs/performance.md):
 * - m = 1, B untransposed: the row-times-matrix loop above;
 * - op(A) of at most 64 rows by a wide, deep B (the first layer's forward at
 *   batch 32: 32 x 300 x 784): the builtin kernel reads B in place, unpacked,
 *   and beats OpenBLAS (~118 vs ~98 GFLOP/s on one thread, 170 vs 144 on two);
 * - Aᵀ B with an inner axis of at most 256 and a large result (the first
 *   layer's dW: 784 x 300 x 32 and x 256): the builtin kernel, which splits it
 *   over two threads better than the BLAS's tiles (184 vs 148 GFLOP/s at batch
 *   32, 239 vs 230 at batch 256) and loses on one (106 vs 134, 128 vs 131);
 *   two threads are the default, so the builtin kernel takes it at any count;
 * - at least 512 rows of op(A) by an untransposed B, alpha 1 and beta 0 (a
 *   Dense layer's forward at inference batch sizes): oneDNN's kernel on B
 *   packed once (above), where the build has oneDNN and the processor AVX-512;
 * - everything else of 513 multiply-adds or more goes to the BLAS, in tiles
 *   over the threads (px_gemm_blas). */
void px_gemm_dispatch(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    double macs = (double)m * (double)n * (double)k;
    if (macs < PX_GEMM_BLAS_MIN) {
        px_gemm_builtin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    /* the thread count is read only where a product is split: tiny products
     * are called millions of times and the lookup shows at 1 x 10 x 100 */
    if (m == 1 && !tb && (!ta || lda == 1) && n >= 32 &&
        gemv(n, k, alpha, a, b, ldb, beta, c, macs >= PX_GEMV_PAR_MACS ? max_threads() : 1))
        return;
    if (takes_packed(ta, tb, m, n, k, alpha, beta, lda, ldc) && packed(m, n, k, a, lda, b, ldb, false, c, ldc, NULL, NULL))
        return;
    bool wide_fwd = wide_forward(ta, tb, m, n, k);
    bool wide_dw = ta && !tb && k <= 256 && (double)m * (double)n >= 200000.0;
    int64_t parts = ksplit_for(ta, tb, m, n, k, beta);
    if (parts > 1 && px_gemm_builtin_ksplit(ta, m, n, k, alpha, a, lda, b, ldb, c, ldc, parts, NULL, NULL))
        return;
    if (wide_fwd || wide_dw)
        px_gemm_builtin(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        px_gemm_blas(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void px_gemm(const px_gemm_args *g) {
    px_gemm_dispatch(g->trans_a, g->trans_b, g->m, g->n, g->k, g->alpha != 0.0f ? g->alpha : 1.0f, g->a, g->lda, g->b,
                     g->ldb, g->beta, g->c, g->ldc);
}

bool px_gemm_one_thread(const px_gemm_args *g) {
    double macs = (double)g->m * (double)g->n * (double)g->k;
    if (macs < PX_GEMM_BLAS_MIN) return true;
    if (g->m == 1) return macs < PX_GEMV_PAR_MACS;
    if (wide_forward(g->trans_a, g->trans_b, g->m, g->n, g->k) ||
        ksplit_for(g->trans_a, g->trans_b, g->m, g->n, g->k, g->beta) > 1)
        return false; /* the K split */
    int64_t tm, tn;
    px_gemm_tile_grid(g->m, g->n, g->k, &tm, &tn);
    /* one BLAS tile (below 2^20 multiply-adds), which is also below the
     * builtin kernel's threshold for its threads (2^21 flops) */
    return tm * tn == 1;
}

/* The packed path runs the pass per tile, and the K split per row range after
 * its add (the first layer's forward at batch 32); a BLAS tile may hold part of
 * a row, and the other paths are small products. */
bool px_gemm_then_rows(const px_gemm_args *g, px_gemm_rows_fn rows, const void *ctx) {
    float alpha = g->alpha != 0.0f ? g->alpha : 1.0f;
    if (g->m * g->n * g->k >= PX_GEMM_BLAS_MIN &&
        takes_packed(g->trans_a, g->trans_b, g->m, g->n, g->k, alpha, g->beta, g->lda, g->ldc) &&
        packed(g->m, g->n, g->k, g->a, g->lda, g->b, g->ldb, g->b_fixed, g->c, g->ldc, rows, ctx))
        return true;
    /* the same test as px_gemm_dispatch's, which the packed path above precedes */
    int64_t parts = g->m * g->n * g->k >= PX_GEMM_BLAS_MIN && g->m > 1
                        ? ksplit_for(g->trans_a, g->trans_b, g->m, g->n, g->k, g->beta)
                        : 1;
    if (parts > 1 && px_gemm_builtin_ksplit(g->trans_a, g->m, g->n, g->k, alpha, g->a, g->lda, g->b, g->ldb, g->c,
                                            g->ldc, parts, rows, ctx))
        return true;
    px_gemm(g);
    return false;
}
