/* Array exp/tanh/sigmoid over vmath.h's inline forms, compiled once per
 * instruction set (AVX-512, AVX2 + FMA, baseline x86-64) and chosen at run time. */
/* fp-contract: fuse the polynomials' multiply-adds where the target has FMA
 * (ISO C mode otherwise keeps them apart). no-trapping-math: without it GCC
 * will not turn the clamps and the tanh branch select into vector blends, and
 * the loops stay scalar; nothing here reads the floating-point flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast", "no-trapping-math")
#endif
#include "core/vmath.h"

#define VMATH_ARRAYS(suf)                                                                   \
    static void vexp_##suf(float *y, const float *x, int64_t n) {                           \
        for (int64_t i = 0; i < n; i++) y[i] = px_vm_exp(x[i]);                             \
    }                                                                                       \
    static void vtanh_##suf(float *y, const float *x, int64_t n) {                          \
        for (int64_t i = 0; i < n; i++) y[i] = px_vm_tanh(x[i]);                            \
    }                                                                                       \
    static void vsigmoid_##suf(float *y, const float *x, int64_t n) {                       \
        for (int64_t i = 0; i < n; i++) y[i] = px_vm_sigmoid(x[i]);                         \
    }

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,prefer-vector-width=512")
VMATH_ARRAYS(avx512)
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")
VMATH_ARRAYS(avx2)
#pragma GCC pop_options
#define PX_VM_MULTI 1
#else
#define PX_VM_MULTI 0
#endif
VMATH_ARRAYS(generic)

static int pick_level(void) {
#if PX_VM_MULTI
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

/* Chosen once. Threads that ask first at the same moment (the optimizer's
 * slices, each asking for its Adam loop) each compute the same answer; the
 * level is read and written atomically, so that is no data race. */
int px_vmath_level(void) {
    static int level = -1;
    int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = pick_level();
        __atomic_store_n(&level, l, __ATOMIC_RELAXED);
    }
    return l;
}

const char *px_vmath_isa(void) {
    static const char *const names[] = {"generic", "avx2", "avx512"};
    return names[px_vmath_level()];
}

#if PX_VM_MULTI
#define VMATH_DISPATCH(fn)                                                                  \
    void px_##fn(float *y, const float *x, int64_t n) {                                     \
        switch (px_vmath_level()) {                                                         \
        case 2: fn##_avx512(y, x, n); break;                                                \
        case 1: fn##_avx2(y, x, n); break;                                                  \
        default: fn##_generic(y, x, n);                                                     \
        }                                                                                   \
    }
#else
#define VMATH_DISPATCH(fn)                                                                  \
    void px_##fn(float *y, const float *x, int64_t n) { fn##_generic(y, x, n); }
#endif
VMATH_DISPATCH(vexp)
VMATH_DISPATCH(vtanh)
VMATH_DISPATCH(vsigmoid)
