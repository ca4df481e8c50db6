/* Internal: the matrix product every op and layer goes through. Row-major
 * C = alpha * op(A) @ op(B) + beta * C, with op = transpose when requested.
 * Dispatches to the configured BLAS or to Plexus's own kernel for shapes where
 * a BLAS call costs more than it computes. */
#ifndef PX_BACKEND_CPU_GEMM_H
#define PX_BACKEND_CPU_GEMM_H

#include <stdbool.h>
#include <stdint.h>

/* One product, named: C (m x n) = alpha op(A) (m x k) op(B) (k x n) + beta C.
 * lda, ldb, ldc are the row lengths of A, B and C as stored (A is k x m when
 * trans_a). Zero means the usual: no transposes, alpha 1, beta 0 (C is written,
 * its contents ignored, NaN included); beta 1 adds to C. */
typedef struct px_gemm_args {
    bool trans_a, trans_b;
    int64_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc;
    /* B is a weight: inside a px_gemm_weights_fixed_begin/end scope of this
     * thread, its reordered copy may be kept and reused by later products. */
    bool b_fixed;
} px_gemm_args;

/* Every op's product: picks the kernel per shape (see gemm.c). */
void px_gemm(const px_gemm_args *g);

/* A pass over whole rows [r0, r1) of C that a product's caller wants right after
 * the product wrote them (a Dense layer's bias and activation). */
typedef void (*px_gemm_rows_fn)(const void *ctx, int64_t r0, int64_t r1);

/* px_gemm, then `rows` over every row of C. True when the product ran it
 * itself, tile by tile, once per row, on the thread that computed the tile while
 * it was in cache (the packed path below). False when the caller must make its
 * own pass over C: either the pass did not run, or the packed path failed part
 * way (oneDNN out of memory, or a tile that wanted B laid out otherwise) after
 * running it on some tiles, and the whole product was then recomputed into C by
 * px_gemm. So `rows` must be a function of C's rows alone (as a bias and an
 * activation are), with no other effect, for the second pass to be harmless. */
bool px_gemm_then_rows(const px_gemm_args *g, px_gemm_rows_fn rows, const void *ctx);

/* True when px_gemm runs this product on one thread whatever the thread count
 * (a small product: one BLAS tile, the builtin kernel below its threading
 * size). A hint for callers that run two such products side by side: any
 * product gives the same bits on any thread and inside a parallel region. */
bool px_gemm_one_thread(const px_gemm_args *g);

/* px_gemm's dispatch in BLAS's argument order (for the benchmarks, which time it
 * beside the two below through one function pointer type). */
void px_gemm_dispatch(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* Plexus's own kernel, always available (used for small shapes and without BLAS). */
void px_gemm_builtin(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc);

/* C = alpha op(A) B (beta 0) with K cut into `parts` fixed ranges [px_gemm_k_cut(k,
 * parts, i), px_gemm_k_cut(k, parts, i + 1)), part i on thread i % threads, the
 * parts' products added to C in the order of i (see gemm_builtin.c). The result
 * depends on `parts`, never on the thread count. False (C unspecified, `rows` not
 * run) when out of memory or when the shape does not take it (parts < 2, k < parts,
 * alpha 0). With `rows` (may be NULL), each row range is passed to it on the
 * thread that added it, right after the add. */
bool px_gemm_builtin_ksplit(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                            int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int64_t parts,
                            px_gemm_rows_fn rows, const void *ctx);
/* Where part i of `parts` of an extent of K (or of a weight's rows) starts: extent
 * when i == parts, else on a multiple of 8. */
int64_t px_gemm_k_cut(int64_t extent, int64_t parts, int64_t i);

/* The BLAS on one thread per call, a large product cut into tiles that depend
 * on its shape alone and shared out over Plexus's threads (the dispatcher's
 * BLAS path; benchmarks call it directly); falls back to the builtin kernel
 * when the build has no BLAS. */
void px_gemm_blas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc);

/* The tiles px_gemm_blas cuts a product into (px_gemm_bf16 cuts its products the
 * same way): *tm x *tn tiles of C, the count from the shape and the machine's
 * processor count alone (never the thread count; at most the processors rounded up
 * to a power of two), each doubling cutting the longer side while it stays above
 * its minimum. px_gemm_tile_cut: where part i of `parts` starts over an extent
 * (extent when i == parts), on a multiple of 16. */
void px_gemm_tile_grid(int64_t m, int64_t n, int64_t k, int64_t *tm, int64_t *tn);
int64_t px_gemm_tile_cut(int64_t extent, int64_t parts, int64_t i);
/* The most tiles: the machine's processors rounded up to a power of two, at most
 * 16 (conv_dnnl.c cuts a batch into as many chunks, for the same reasons). */
int64_t px_gemm_tiles_max(void);

/* C = A B (no transposes, alpha 1, beta 0, A and C dense: lda = k, ldc = n;
 * any ldb) through oneDNN's f32 matmul: B
 * reordered once into its blocked layout, then row tiles [row0[t], row0[t+1]) of
 * C, each one single-threaded call, shared out over `threads` threads (so the
 * result does not depend on the thread count). False, with C unspecified, when it
 * cannot (no oneDNN in the build, no AVX-512, PX_GEMM_PACKED_DISABLE=1, out of
 * memory): the caller then computes the product another way. With `rows`
 * (may be NULL), each tile's rows are passed to it right after the tile. */
bool px_gemm_packed(int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, bool b_fixed,
                    float *c, int64_t ldc, int64_t tiles, const int64_t *row0, int threads, px_gemm_rows_fn rows,
                    const void *ctx);

/* A scope, on the calling thread, in which no weight changes (predict's loop over
 * its batches): the packed path keeps the reordered copy of each B flagged
 * b_fixed and reuses it for the next batch instead of reordering it again. The
 * end drops the copies. Scopes nest; only the outermost end drops them. */
void px_gemm_weights_fixed_begin(void);
void px_gemm_weights_fixed_end(void);

#endif
