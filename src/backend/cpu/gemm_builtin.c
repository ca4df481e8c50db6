/* Plexus's own sgemm: a packed, register-blocked kernel compiled once per
 * instruction set (AVX-512, AVX2, baseline x86-64) and chosen at run time, so
 * the library runs on any x86-64; plus a direct loop for tiny products. */
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/blas.h"
#include "backend/cpu/gemm.h"

/* Cache blocks: a B micro-panel of PX_KC x NR (<= 24 KiB) stays in L1 while
 * the packed A block of PX_MC x PX_KC (<= 192 KiB) stays in L2; the packed B
 * block (PX_KC x PX_NC) lives in L2/L3. */
#define PX_KC 192
#define PX_MC 256
#define PX_NC 1024
/* Up to this many rows of op(A), an untransposed B is read in place, unpacked. */
#define PX_DIRECT_B_ROWS 64
/* Below this many flops one thread does the whole product: waking a team costs
 * more than it saves (measured; see docs/performance.md). */
#define PX_PAR_FLOPS (1 << 21)
/* Packing scratch that lives on the stack, so small products never allocate. */
#define PX_STACK_FLOATS 16384
/* Products of at most this many multiply-adds take the unpacked loop. */
#ifndef PX_GEMM_DIRECT_MAX
#define PX_GEMM_DIRECT_MAX 512
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,prefer-vector-width=512")
#define KSUF avx512
#define MR 8
#define NR 32
#include "backend/cpu/gemm_kernel.inc"
#undef KSUF
#undef MR
#undef NR
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define KSUF avx2
#define MR 6
#define NR 16
#include "backend/cpu/gemm_kernel.inc"
#undef KSUF
#undef MR
#undef NR
#pragma GCC pop_options
#define PX_HAVE_MULTIVERSION 1
#else
#define PX_HAVE_MULTIVERSION 0
#endif

#define KSUF generic
#define MR 4
#define NR 8
#include "backend/cpu/gemm_kernel.inc"
#undef KSUF
#undef MR
#undef NR

typedef bool (*gemm_impl)(bool, bool, int64_t, int64_t, int64_t, float, const float *, int64_t,
                          const float *, int64_t, float, float *, int64_t, int);

typedef struct isa_choice {
    gemm_impl impl;
    const char *name;
} isa_choice;

static isa_choice pick_isa(void) {
#if PX_HAVE_MULTIVERSION
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        return (isa_choice){gemm_avx512, "avx512"};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return (isa_choice){gemm_avx2, "avx2"};
#endif
    return (isa_choice){gemm_generic, "generic"};
}

/* Chosen once; a benign race at worst computes the same answer twice. */
static const isa_choice *isa(void) {
    static isa_choice chosen;
    static volatile int ready;
    if (!ready) {
        chosen = pick_isa();
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    } else {
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    }
    return &chosen;
}

const char *px_gemm_builtin_isa(void) { return isa()->name; }

/* Unpacked loops: for tiny products packing costs more than it saves. The
 * untransposed-B form updates whole rows of C (contiguous, vectorizable);
 * narrow or transposed B make each element a dot product instead. */
static void gemm_direct(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc) {
    int64_t ai = ta ? 1 : lda, ap = ta ? lda : 1, bp_ = tb ? 1 : ldb, bj_ = tb ? ldb : 1;
    if (!tb && n >= 2) {
        for (int64_t i = 0; i < m; i++) {
            float *ci = c + i * ldc;
            const float *arow = a + i * ai;
            float a0 = alpha * arow[0];
            const float *b0 = b;
            if (beta == 0.0f)
                for (int64_t j = 0; j < n; j++) ci[j] = a0 * b0[j];
            else
                for (int64_t j = 0; j < n; j++) ci[j] = beta * ci[j] + a0 * b0[j];
            for (int64_t p = 1; p < k; p++) {
                float aip = alpha * arow[p * ap];
                const float *bp = b + p * ldb;
                for (int64_t j = 0; j < n; j++) ci[j] += aip * bp[j];
            }
        }
        return;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            const float *bj = b + j * bj_;
            float s = 0.0f;
            for (int64_t p = 0; p < k; p++) s += a[i * ai + p * ap] * bj[p * bp_];
            float *cij = c + i * ldc + j;
            *cij = (beta == 0.0f ? 0.0f : beta * *cij) + alpha * s;
        }
}

/* C = beta C for the products that add nothing (k == 0 or alpha == 0). */
static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            for (int64_t j = 0; j < n; j++) ci[j] = 0.0f;
        else if (beta != 1.0f)
            for (int64_t j = 0; j < n; j++) ci[j] *= beta;
    }
}

void px_gemm_builtin(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    if (m * n * k <= PX_GEMM_DIRECT_MAX) {
        gemm_direct(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int threads = 1;
#ifdef _OPENMP
    if (2.0 * (double)m * (double)n * (double)k >= PX_PAR_FLOPS && !omp_in_parallel())
        threads = omp_get_max_threads();
#endif
    if (!isa()->impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads))
        gemm_direct(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); /* no memory to pack */
}

/* ---- few rows of A by a tall B, K cut into fixed parts ----
 *
 * The first layer's forward product at batch 32 (32 x 784 . 784 x 300): split
 * by C's columns, each thread reads half the columns of every row of W, while
 * the weight-gradient product (and Adam's update slices) split W by rows, so
 * half of W moved between the cores twice a step (docs/performance.md, "Two
 * threads at batch 32"). Here part i takes B's rows [px_gemm_k_cut(k, parts,
 * i), px_gemm_k_cut(k, parts, i + 1)), the same rows the other products give
 * the same thread: part 0 goes into C (beta 0: a forward product), part i > 0
 * into its own buffer, and the buffers are then added to C in the order of i. The parts
 * are fixed by the caller from the shape and the machine, so the bits are the
 * same at any thread count (the rounding differs from one 784-term pass: the
 * parts' sums are added at the end). */
int64_t px_gemm_k_cut(int64_t k, int64_t parts, int64_t i) {
    return i >= parts ? k : k * i / parts / 8 * 8;
}

typedef struct ksplit_call {
    bool ta;
    int64_t m, n, k, parts;
    float alpha;
    const float *a, *b;
    int64_t lda, ldb;
    float *c, *buf; /* buf: parts - 1 partial products, m x n each */
    int64_t ldc;
} ksplit_call;

static bool ksplit_part(const ksplit_call *s, int64_t i) {
    int64_t p0 = px_gemm_k_cut(s->k, s->parts, i), p1 = px_gemm_k_cut(s->k, s->parts, i + 1);
    const float *a = s->ta ? s->a + p0 * s->lda : s->a + p0;
    if (i == 0)
        return isa()->impl(s->ta, false, s->m, s->n, p1 - p0, s->alpha, a, s->lda, s->b + p0 * s->ldb, s->ldb,
                           0.0f, s->c, s->ldc, 1);
    return isa()->impl(s->ta, false, s->m, s->n, p1 - p0, s->alpha, a, s->lda, s->b + p0 * s->ldb, s->ldb, 0.0f,
                       s->buf + (i - 1) * s->m * s->n, s->n, 1);
}

/* Rows [r0, r1) of C += the partial products, in the order of the parts. */
static void ksplit_add(const ksplit_call *s, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
        float *restrict ci = s->c + r * s->ldc;
        for (int64_t i = 1; i < s->parts; i++) {
            const float *restrict pi = s->buf + ((i - 1) * s->m + r) * s->n;
            for (int64_t j = 0; j < s->n; j++) ci[j] += pi[j];
        }
    }
}

bool px_gemm_builtin_ksplit(bool ta, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                            const float *b, int64_t ldb, float *c, int64_t ldc, int64_t parts, px_gemm_rows_fn rows,
                            const void *ctx) {
    if (m <= 0 || n <= 0 || k < parts || parts < 2 || alpha == 0.0f) return false;
    /* the partial products on this thread's stack when they fit (the MLP's
     * first layer at batch 32 over two parts: 9,600 floats), so that a training
     * step at batch 32 does not malloc here twice; the heap beyond */
    enum { ON_STACK = 12288 };
    float on_stack[ON_STACK];
    size_t len = (size_t)((parts - 1) * m * n);
    float *buf = len <= ON_STACK ? on_stack : malloc(len * sizeof *buf);
    if (!buf) return false;
    ksplit_call s = {ta, m, n, k, parts, alpha, a, b, lda, ldb, c, buf, ldc};
    int threads = 1;
#ifdef _OPENMP
    if (!omp_in_parallel()) threads = omp_get_max_threads() < parts ? omp_get_max_threads() : (int)parts;
#endif
    int failed = 0;
    if (threads <= 1) {
        for (int64_t i = 0; i < parts && !failed; i++) failed = !ksplit_part(&s, i);
        if (!failed) ksplit_add(&s, 0, m);
        if (!failed && rows) rows(ctx, 0, m);
    } else {
#ifdef _OPENMP
        /* part i on thread i % threads: at two threads part 0 (W's first rows)
         * on thread 0, as the weight-gradient product's rows and Adam's slices */
#pragma omp parallel num_threads(threads)
        {
            /* the team may be smaller than asked for (OMP_THREAD_LIMIT, nesting):
             * the rows are cut over the threads there are */
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp for schedule(static, 1)
            for (int64_t i = 0; i < parts; i++)
                if (!ksplit_part(&s, i)) __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
            /* after the loop's barrier every part is written or failed */
            /* then the caller's pass (a Dense layer's bias and activation) on the
             * same rows, while they are in this core's cache: on one thread after
             * the region it was 8 us of the MLP's 81 us first-layer forward */
            if (!__atomic_load_n(&failed, __ATOMIC_RELAXED)) {
                int64_t r0 = m * t / nt, r1 = m * (t + 1) / nt;
                ksplit_add(&s, r0, r1);
                if (rows && r1 > r0) rows(ctx, r0, r1);
            }
        }
#endif
    }
    if (buf != on_stack) free(buf);
    return !failed; /* beta is 0: on failure the caller writes C again from scratch */
}
