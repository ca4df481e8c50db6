/* Internal: what Plexus's oneDNN paths (bf16 products, packed float32 products,
 * convolutions) share: the one CPU engine, and each thread's stream, cache of
 * primitives by shape and scratch buffers (src/backend/cpu/dnnl_engine.c).
 * Only in builds with oneDNN (PX_HAVE_DNNL) on x86-64 with GCC's builtins; other
 * builds see px_dnnl_thread_caches alone. */
#ifndef PX_BACKEND_CPU_DNNL_ENGINE_H
#define PX_BACKEND_CPU_DNNL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(PX_HAVE_DNNL) && defined(__x86_64__) && defined(__GNUC__)
#define PX_DNNL_USABLE 1
#include <oneapi/dnnl/dnnl.h>

/* The shared CPU engine, created on first use; NULL when oneDNN cannot start one. */
dnnl_engine_t px_dnnl_engine(void);

/* A cached primitive and up to PX_DNNL_MEMS memory objects for its arguments,
 * made with DNNL_MEMORY_NONE: px_dnnl_execute sets their data per call. */
#define PX_DNNL_MEMS 4
typedef struct px_dnnl_prim {
    dnnl_primitive_t p;
    dnnl_memory_t mem[PX_DNNL_MEMS];
    int args[PX_DNNL_MEMS]; /* DNNL_ARG_* of each memory */
    int n_mem;
} px_dnnl_prim;

/* A cache key: words that fix a primitive completely. The first word names the
 * caller's kind of primitive (a PX_DNNL_KIND_*), so that callers never collide. */
#define PX_DNNL_KEY_WORDS 24
enum { PX_DNNL_KIND_BF16_MATMUL = 1, PX_DNNL_KIND_PACKED_MATMUL, PX_DNNL_KIND_PACKED_REORDER, PX_DNNL_KIND_CONV };

/* Fills *out for key (key_len words) on engine e: creates the primitive and its
 * memories (px_dnnl_add_mem). False when oneDNN refuses; then whatever it made is
 * freed by the cache. */
typedef bool (*px_dnnl_make_fn)(const int64_t *key, int key_len, dnnl_engine_t e, px_dnnl_prim *out);

/* Adds a memory of descriptor md for argument arg to *out (false when full or refused). */
bool px_dnnl_add_mem(px_dnnl_prim *out, dnnl_engine_t e, const dnnl_memory_desc_t *md, int arg);

/* This thread's primitive for key, made by make on this thread the first time.
 * Per thread because oneDNN, as Debian builds it (DNNL_ENABLE_CONCURRENT_EXEC
 * off), gives a primitive that keeps its own scratchpad the scratchpad its
 * making thread shares among its primitives, so the primitive runs on that
 * thread (conv_dnnl.c supplies scratchpads instead and shares its primitives
 * between threads). A refusal is remembered too, so a shape oneDNN will not take costs one
 * lookup afterwards: NULL then, and when out of memory. The pointer is valid
 * until this thread's next px_dnnl_cached call (the cache keeps the 32 latest
 * shapes). */
const px_dnnl_prim *px_dnnl_cached(const int64_t *key, int key_len, px_dnnl_make_fn make);

/* How many primitives px_dnnl_cached has made (or tried to make) in this
 * process, on any thread: for the tests of which products share a primitive. */
long px_dnnl_made(void);

/* Runs e on this thread's stream with data[i] as the data of e->mem[i], and
 * waits for it. False when oneDNN fails. */
bool px_dnnl_execute(const px_dnnl_prim *e, void *const *data);

/* This thread's scratch buffer number slot with room for at least bytes, grown
 * as needed and kept until the thread exits; NULL when out of memory. Its
 * contents are the caller's until the next call for that slot on this thread.
 * Each user has slots of its own: */
enum {
    PX_DNNL_SCRATCH_BF16_OPERANDS, /* gemm_bf16.c: the rounded operands of a product */
    PX_DNNL_SCRATCH_BF16_TILE,     /* gemm_bf16.c: a tile before alpha and beta */
    PX_DNNL_SCRATCH_PACKED_B,      /* gemm_packed.c: B reordered for one product */
    PX_DNNL_SCRATCH                /* the number of slots */
};
void *px_dnnl_scratch(int slot, size_t bytes);

#endif

/* How many threads' caches (primitives, stream, scratch) are alive: each is
 * freed when its thread exits (for the tests; 0 in builds without oneDNN). */
int px_dnnl_thread_caches(void);

#endif
