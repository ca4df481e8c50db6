/* The bf16 product of the mixed_bfloat16 policy: A and B rounded to bf16 (the
 * rounding is done here, on all threads), then multiplied by oneDNN's matmul
 * primitive with float32 accumulation and a float32 result (it uses AMX tiles where
 * the processor has them, AVX512_BF16 otherwise); a product below PX_BF16_MIN_MACS
 * is px_gemm's float32 product of the rounded operands instead. Chosen over a
 * kernel of Plexus's own by measurement: docs/performance.md, "bf16 products". */
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

#include "backend/cpu/dnnl_engine.h"

#ifdef PX_DNNL_USABLE
#include <immintrin.h>
#include <pthread.h>

static bool cpu_has_bf16(void) {
    __builtin_cpu_init();
    /* to_bf16 uses AVX512BW and AVX512VL too (every processor with AVX512_BF16 has
     * them, but a virtual machine may hide them) */
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}

static bool ready; /* the processor and an engine: checked once, not per product */
static pthread_once_t ready_once = PTHREAD_ONCE_INIT;
static void ready_init(void) { ready = cpu_has_bf16() && px_dnnl_engine(); }

bool px_bf16_supported(const char **why) {
    const char *w = NULL;
    /* PX_BF16_DISABLE=1 simulates a processor without bf16 (tests): read when a
     * policy asks, so a test may set it and unset it */
    const char *off = getenv("PX_BF16_DISABLE");
    if ((off && strcmp(off, "1") == 0) || !cpu_has_bf16()) w = "this processor has neither AVX512_BF16 nor AMX";
    else if (!px_dnnl_engine()) w = "oneDNN could not start a CPU engine";
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

/* rows [r0, r1) of a rows x cols float matrix (row length ld) rounded to bf16 and
 * widened back to float, into dst (row length cols): the same values as to_bf16's */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void
to_bf16_floats(const float *src, int64_t ld, int64_t r0, int64_t r1, int64_t cols, float *dst) {
    for (int64_t r = r0; r < r1; r++) {
        const float *s = src + r * ld;
        float *d = dst + r * cols;
        for (int64_t j = 0; j < cols; j += 16) {
            __mmask16 k = cols - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - j)) - 1);
            __m512 x = _mm512_cvtpbh_ps(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(k, s + j)));
            _mm512_mask_storeu_ps(d + j, k, x);
        }
    }
}

typedef struct bf16_job {
    const px_gemm_args *g;
    const uint16_t *a, *b; /* op(A) and op(B) as stored, packed (row length = stored columns) */
    int64_t mp;            /* op(A)'s rows as packed: m, or m padded with zero rows (row_height) */
    int64_t h;             /* rows of every row tile (0: px_gemm_tile_cut's cuts, no padding) */
    int64_t tm, tn;        /* C cut into tm x tn tiles (px_gemm_tile_grid; of mp rows when h) */
} bf16_job;

static void md_2d(dnnl_memory_desc_t *md, int64_t r, int64_t c, int64_t sr, int64_t sc, dnnl_data_type_t t) {
    dnnl_dims_t dims = {r, c}, strides = {sr, sc};
    dnnl_memory_desc_init_by_strides(md, 2, dims, t, strides);
}

/* Each thread keeps the matmul primitives it has made, by shape and strides, in
 * its px_dnnl_cached cache (creating one, even from oneDNN's own cache, costs
 * more than a small product: ~6 % of the MLP's bf16 epoch went there); its
 * scratch slots hold the rounded operands of the products it starts and the
 * tiles it combines with alpha and beta. */
/* key: kind, tm, tn, k, as0, as1, bs0, bs1, ldc */
static bool make_matmul(const int64_t *key, int key_len, dnnl_engine_t e, px_dnnl_prim *out) {
    (void)key_len;
    int64_t tm = key[1], tn = key[2], k = key[3];
    dnnl_memory_desc_t ad, bd, cd;
    md_2d(&ad, tm, k, key[4], key[5], dnnl_bf16);
    md_2d(&bd, k, tn, key[6], key[7], dnnl_bf16);
    md_2d(&cd, tm, tn, key[8], 1, dnnl_f32);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    bool ok = dnnl_matmul_desc_init(&desc, &ad, &bd, NULL, &cd) == dnnl_success &&
              dnnl_primitive_desc_create(&pd, &desc, NULL, e, NULL) == dnnl_success &&
              dnnl_primitive_create(&out->p, pd) == dnnl_success && px_dnnl_add_mem(out, e, &ad, DNNL_ARG_SRC) &&
              px_dnnl_add_mem(out, e, &bd, DNNL_ARG_WEIGHTS) && px_dnnl_add_mem(out, e, &cd, DNNL_ARG_DST);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return ok;
}

/* c (tm x tn, row length ldc) = op(A) op(B) on packed bf16 operands, no attributes:
 * with an output scale or a sum post-op oneDNN 2.6 leaves its AMX kernels for a
 * slower gemm (3x on the MLP's folded SGD product), so alpha and beta are applied
 * by the caller. */
static bool matmul(int64_t tm, int64_t tn, int64_t k, const uint16_t *a, int64_t as0, int64_t as1,
                   const uint16_t *b, int64_t bs0, int64_t bs1, float *c, int64_t ldc) {
    const int64_t key[] = {PX_DNNL_KIND_BF16_MATMUL, tm, tn, k, as0, as1, bs0, bs1, ldc};
    const px_dnnl_prim *e = px_dnnl_cached(key, (int)(sizeof key / sizeof *key), make_matmul);
    void *const data[3] = {(void *)a, (void *)b, c};
    return e && px_dnnl_execute(e, data);
}

/* C = alpha op(A) op(B) + beta C for the first `rows` rows of a tile of tm rows
 * (rows < tm: op(A)'s padding rows, computed and dropped): the product straight
 * into C when alpha is 1, beta 0 and no row is dropped, else into a scratch tile
 * combined here (beta 0 never reads C). A dropped-rows tile of the plain product
 * keeps C's row length, so that it is the same primitive as the whole tiles. */
static bool tile_product(const px_gemm_args *g, int64_t tm, int64_t rows, int64_t tn, const uint16_t *a, int64_t as0,
                         int64_t as1, const uint16_t *b, int64_t bs0, int64_t bs1, float *c) {
    float alpha = g->alpha != 0.0f ? g->alpha : 1.0f, beta = g->beta;
    bool plain = alpha == 1.0f && beta == 0.0f;
    if (plain && rows == tm) return matmul(tm, tn, g->k, a, as0, as1, b, bs0, bs1, c, g->ldc);
    int64_t ld = plain ? g->ldc : tn;
    float *t = px_dnnl_scratch(PX_DNNL_SCRATCH_BF16_TILE, (size_t)(tm * ld) * sizeof *t);
    bool ok = t && matmul(tm, tn, g->k, a, as0, as1, b, bs0, bs1, t, ld);
    for (int64_t i = 0; ok && i < rows; i++) {
        float *ci = c + i * g->ldc;
        const float *ti = t + i * ld;
        if (beta == 0.0f)
            for (int64_t j = 0; j < tn; j++) ci[j] = alpha * ti[j];
        else
            for (int64_t j = 0; j < tn; j++) ci[j] = alpha * ti[j] + beta * ci[j];
    }
    return ok;
}

/* Tile t of C, row-major over the grid of row tiles by j->tn column tiles. */
static void run_tile(const bf16_job *j, int64_t t) {
    const px_gemm_args *g = j->g;
    int64_t m = g->m, n = g->n, k = g->k, r = t / j->tn;
    int64_t i0, tm, rows; /* the tile's first row, its rows in the primitive, its rows of C */
    if (j->h) {
        i0 = r * j->h, tm = j->h, rows = m - i0 < tm ? m - i0 : tm;
    } else {
        i0 = px_gemm_tile_cut(m, j->tm, r), tm = rows = px_gemm_tile_cut(m, j->tm, r + 1) - i0;
    }
    int64_t j0 = px_gemm_tile_cut(n, j->tn, t % j->tn), tn = px_gemm_tile_cut(n, j->tn, t % j->tn + 1) - j0;
    /* op(A)'s element (i, p): A[i][p] (stored mp x k) or A[p][i] (stored k x mp) */
    const uint16_t *a = g->trans_a ? j->a + i0 : j->a + i0 * k;
    int64_t as0 = g->trans_a ? 1 : k, as1 = g->trans_a ? j->mp : 1;
    /* op(B)'s element (p, j): B[p][j] (stored k x n) or B[j][p] (stored n x k) */
    const uint16_t *b = g->trans_b ? j->b + j0 * k : j->b + j0;
    int64_t bs0 = g->trans_b ? 1 : n, bs1 = g->trans_b ? k : 1;
    float *c = g->c + i0 * g->ldc + j0;
    if (!tile_product(g, tm, rows, tn, a, as0, as1, b, bs0, bs1, c)) {
        /* oneDNN refused (out of memory): the tile in float32 rather than a wrong result */
        const float *fa = g->trans_a ? g->a + i0 : g->a + i0 * g->lda;
        const float *fb = g->trans_b ? g->b + j0 * g->ldb : g->b + j0;
        px_gemm_builtin(g->trans_a, g->trans_b, rows, tn, k, g->alpha != 0.0f ? g->alpha : 1.0f, fa, g->lda, fb,
                        g->ldb, g->beta, c, g->ldc);
    }
}

/* Below this many multiply-adds a product is px_gemm's float32 product of the
 * rounded operands (the same values multiplied, each product exact in float32,
 * summed in float32): oneDNN compiles a kernel for each new shape, 0.2-1 ms for
 * the MLP's 256 x 10 x 100 products that then take 12-15 us, and the BLAS runs
 * them as fast (docs/performance.md, "bf16 products"). */
#define PX_BF16_MIN_MACS (1 << 19)

static void small_product(const px_gemm_args *g, int64_t ar, int64_t ac, int64_t br, int64_t bc) {
    float *a = px_dnnl_scratch(PX_DNNL_SCRATCH_BF16_TILE, (size_t)(ar * ac + br * bc) * sizeof *a);
    if (!a) {
        px_gemm(g); /* out of memory: float32 rather than nothing */
        return;
    }
    float *b = a + ar * ac;
    to_bf16_floats(g->a, g->lda, 0, ar, ac, a);
    to_bf16_floats(g->b, g->ldb, 0, br, bc, b);
    px_gemm_args f = *g;
    f.a = a, f.lda = ac, f.b = b, f.ldb = bc, f.b_fixed = false; /* b is this call's copy */
    px_gemm(&f);
}

/* The rows of each row tile of an untransposed op(A) (a layer's forward or
 * input gradient, whose rows are the batch), or 0 for px_gemm_tile_cut's cuts:
 * when rounding m up to a power of two p pads op(A) by at most a quarter of its
 * rows, the tiles of a product of p rows (px_gemm_tile_grid(p, n, k) into *tm x
 * *tn, p / *tm rows each), of which op(A)'s padded rows fill the first. Then a
 * partial batch runs on the full batch's tiles (the last of 55,000 images in
 * batches of 256 is 216 rows: cut as 256 rows are, its last tile padded)
 * instead of compiling kernels of its own for one step, and a batch that does
 * not split evenly (1,000 rows: 496 + 504) runs one tile shape, not two. The
 * grid is p's, not m's: on a machine with 8 processors px_gemm_tile_grid cuts
 * 256 x 100 x 300 into tiles of 32 rows but 216 x 100 x 300 into 4, and tiles
 * of m's grid rounded up to 64 rows did not meet the full batch's. */
static int64_t row_height(const px_gemm_args *g, int64_t *tm, int64_t *tn) {
    if (g->trans_a) return 0; /* a weight gradient: its rows are a layer's inputs, not a batch */
    int64_t p = 1;
    while (p < g->m) p *= 2;
    if ((p - g->m) * 4 > g->m) return 0;
    px_gemm_tile_grid(p, g->n, g->k, tm, tn);
    return p / *tm;
}

void px_gemm_bf16(const px_gemm_args *g) {
    pthread_once(&ready_once, ready_init);
    if (g->m <= 0 || g->n <= 0 || g->k <= 0 || !ready) {
        px_gemm(g);
        return;
    }
    int64_t m = g->m, n = g->n, k = g->k;
    /* op(A) stored as ar x ac, op(B) as br x bc */
    int64_t ar = g->trans_a ? k : m, ac = g->trans_a ? m : k, br = g->trans_b ? n : k, bc = g->trans_b ? k : n;
    if ((double)m * (double)n * (double)k < PX_BF16_MIN_MACS) {
        small_product(g, ar, ac, br, bc);
        return;
    }
    /* the tiles of px_gemm's BLAS path: as many as the machine has processors
     * (rounded up to a power of two) for a large product, so that they share out
     * evenly over its cores; fixed tiles of 128 rows ran the MLP's largest products
     * in 3 (256 x 300) and 7 (784 x 300) tiles, 2:1 and 4:3 on two threads */
    bf16_job job = {.g = g, .mp = m};
    int64_t ptm, ptn;
    job.h = row_height(g, &ptm, &ptn);
    if (job.h) job.tm = ptm, job.tn = ptn;
    else px_gemm_tile_grid(m, n, k, &job.tm, &job.tn);
    int64_t row_tiles = job.h ? (m + job.h - 1) / job.h : job.tm;
    if (job.h) job.mp = row_tiles * job.h;
    /* A packed as apr x ac: op(A)'s padding rows are zero rows of A stored
     * untransposed (row_height pads only those) */
    int64_t apr = g->trans_a ? k : job.mp;
    uint16_t *a = px_dnnl_scratch(PX_DNNL_SCRATCH_BF16_OPERANDS, (size_t)(apr * ac + br * bc) * sizeof *a);
    if (!a) {
        px_gemm(g);
        return;
    }
    uint16_t *b = a + apr * ac;
    job.a = a, job.b = b;
    int64_t tiles = row_tiles * job.tn;
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
        for (int64_t r = 0; r < apr + br; r++) /* the rounding, one stored row at a time */
            if (r < ar)
                to_bf16(g->a, g->lda, r, r + 1, ac, a);
            else if (r < apr)
                memset(a + r * ac, 0, (size_t)ac * sizeof *a);
            else
                to_bf16(g->b, g->ldb, r - apr, r - apr + 1, bc, b);
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

#endif
