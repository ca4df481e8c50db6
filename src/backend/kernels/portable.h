/* Internal: how a kernel is written once for both the reference device (plain C,
 * one loop) and CUDA (a grid-stride loop on the GPU). A kernel body sees the
 * index `i` in [0, n) and its parameters; every element is computed by exactly
 * one index, so results never depend on the launch shape. */
#ifndef PX_BACKEND_KERNELS_PORTABLE_H
#define PX_BACKEND_KERNELS_PORTABLE_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexus/status.h"
#include "plexus/tensor.h"

#define PXK_EXPAND(...) __VA_ARGS__

#ifdef __CUDACC__
/* A function usable on the host and in kernels. */
#define PXK_FN static __host__ __device__ inline
#define PXK_THREADS 256
/* PXK_KERNEL(name, (params), body): defines name##_k, run by PXK_RUN. */
#define PXK_KERNEL(name, params, ...)                                                              \
    static __global__ void name##_k(int64_t pxk_n, PXK_EXPAND params) {                            \
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < pxk_n;                \
             i += (int64_t)gridDim.x * blockDim.x) {                                               \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }
/* Launches name##_k over n indices on the context's stream and checks the launch. */
#define PXK_RUN(ctx, name, n, ...)                                                                 \
    ((n) <= 0 ? PX_OK                                                                             \
              : (name##_k<<<pxk_blocks(n), PXK_THREADS, 0, pxk_stream(ctx)>>>((int64_t)(n), __VA_ARGS__), \
                 pxk_launched(ctx, #name)))
/* Enough blocks to give every index a thread, capped: the grid-stride loop does the rest. */
static inline unsigned pxk_blocks(int64_t n) {
    int64_t b = (n + PXK_THREADS - 1) / PXK_THREADS;
    return (unsigned)(b < 65535 ? b : 65535);
}
#else
#define PXK_FN static inline
#define PXK_KERNEL(name, params, ...)                                                              \
    static inline void name##_k(int64_t pxk_n, PXK_EXPAND params) {                                \
        for (int64_t i = 0; i < pxk_n; i++) {                                                      \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }
#define PXK_RUN(ctx, name, n, ...) ((n) <= 0 ? PX_OK : (name##_k((int64_t)(n), __VA_ARGS__), pxk_launched(ctx, #name)))
#endif

/* Number of elements of a tensor. */
PXK_FN int64_t pxk_numel(const px_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

#endif
