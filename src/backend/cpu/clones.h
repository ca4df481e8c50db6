/* Internal: PX_CLONES compiles a CPU kernel once per instruction set (AVX-512,
 * AVX2, the baseline) and picks one when the library loads (GCC's target_clones).
 * A cloned function must be static: GCC exports the dispatcher (an ifunc) of an
 * external one from libplexus.so whatever its visibility, so each kernel is a
 * static clone behind a plain (hidden) function of the same role. */
#ifndef PX_BACKEND_CPU_CLONES_H
#define PX_BACKEND_CPU_CLONES_H

/* not under ASan, which does not instrument the clones' dispatch */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define PX_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PX_CLONES
#endif

#endif
