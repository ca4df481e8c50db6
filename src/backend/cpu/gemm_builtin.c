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
