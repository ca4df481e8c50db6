/* Internal: small helpers shared by the op files (shape checks, threading
 * threshold, gradient accumulation). */
#ifndef PX_OPS_OP_UTIL_H
#define PX_OPS_OP_UTIL_H

#include "backend/cpu/gemm.h"
#include "graph/node.h"
#include "plexus/ops.h"

/* Elementwise loops run on several threads only above this many elements:
 * below it, starting the team costs more than it saves. */
#define PX_PARALLEL_MIN 32768

#define PX_PRAGMA(x) _Pragma(#x)

/* for (int64_t i = 0; i < n; i++) { body } on several threads when `work`
 * (elements touched) reaches PX_PARALLEL_MIN, else as a plain loop. The loop is
 * written twice on purpose: an OpenMP `if` clause that is false still builds a
 * one-thread team on every call, which costs more than a tiny op. */
#define PX_FOR(i, n, work, ...)                                                  \
    do {                                                                         \
        const int64_t px_n_ = (n);                                               \
        if ((work) >= PX_PARALLEL_MIN) {                                         \
            PX_PRAGMA(omp parallel for schedule(static))                         \
            for (int64_t i = 0; i < px_n_; i++) { __VA_ARGS__ }                  \
        } else {                                                                 \
            for (int64_t i = 0; i < px_n_; i++) { __VA_ARGS__ }                  \
        }                                                                        \
    } while (0)

/* Deprecated form kept for files not yet converted: prefer PX_FOR. */
#ifdef _OPENMP
#define PX_PARALLEL_FOR(count) PX_PRAGMA(omp parallel for schedule(static) if ((count) >= PX_PARALLEL_MIN))
#else
#define PX_PARALLEL_FOR(count)
#endif

/* An op's matrix product: in bf16 (backend/cpu/gemm_bf16.h) when node nd was made
 * under the mixed_bfloat16 policy, else px_gemm. */
void px_op_gemm(const px_node *nd, const px_gemm_args *g);

/* px_op_gemm, then `rows` over every row of C where the product can run it tile
 * by tile (px_gemm_then_rows): true when it did, false when the caller must. */
bool px_op_gemm_then_rows(const px_node *nd, const px_gemm_args *g, px_gemm_rows_fn rows, const void *ctx);

/* infer for ops whose output has the input's shape: input must be float32. */
px_status px_infer_same_f32(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt);

/* g[i] += scale * src[i] for i < count (g may be NULL: nothing to do). */
void px_accumulate(px_tensor *g, const px_tensor *src, float scale, int64_t count);

#endif
