/* Loads the configured BLAS (OpenBLAS or BLIS) with dlopen on first use, picks
 * OpenBLAS's kernel for this processor, keeps it on one thread (gemm.c splits
 * products over Plexus's team), and owns Plexus's thread count. */
#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/cpu/blas.h"
#include "backend/cpu/thread_governor.h"
#include "plexus/backend.h"

#if defined(PX_BLAS_openblas) || defined(PX_BLAS_blis)
#define PX_HAVE_BLAS 1
#ifndef PX_BLAS_PATH
#error "PX_BLAS_PATH must name the BLAS shared library (set by cmake/PlexusBlas.cmake)"
#endif
#else
#define PX_HAVE_BLAS 0
#endif

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static px_sgemm_fn blas_sgemm;
static const char *blas_name = "builtin";
static char blas_kernel[64];
static int requested_threads; /* 0: OpenMP's default */
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;

#if PX_HAVE_BLAS /* the loader's helpers; a builtin-only build has no BLAS to load */
static void (*openblas_threads)(int);
static void (*blis_threads)(long);

/* SIMD tier of this processor: 0 older, 1 AVX, 2 AVX2+FMA, 3 AVX-512. The
 * compiler's checks also confirm that the OS saves the wider registers. */
static int cpu_tier(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx")) return 1;
#endif
    return 0;
}

static int has_word(const char *name, const char *const *list) {
    for (; *list; list++)
        if (strcmp(name, *list) == 0) return 1;
    return 0;
}

/* SIMD tier a kernel name stands for (OpenBLAS core names and BLIS
 * configurations, lower-cased); -1 when unknown, so we stay silent. */
static int kernel_tier(const char *kernel) {
    static const char *const t3[] = {"skylakex", "cooperlake", "sapphirerapids", "skx", "knl", "zen4", NULL};
    static const char *const t2[] = {"haswell", "zen", "zen2", "zen3", "excavator", "skylake", NULL};
    static const char *const t1[] = {"sandybridge", "bulldozer", "piledriver", "steamroller", NULL};
    static const char *const t0[] = {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom",
                                     "katmai", "coppermine", "northwood", "banias", "opteron",
                                     "opteron_sse3", "barcelona", "bobcat", "nano", "generic", NULL};
    char low[64];
    size_t i = 0;
    for (; kernel[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)kernel[i]);
    low[i] = 0;
    if (has_word(low, t3)) return 3;
    if (has_word(low, t2)) return 2;
    if (has_word(low, t1)) return 1;
    if (has_word(low, t0)) return 0;
    return -1;
}

static const char *tier_name(int t) {
    return t >= 3 ? "AVX-512" : t == 2 ? "AVX2" : t == 1 ? "AVX" : "SSE";
}

/* The BLAS runs on one thread always: gemm.c shares a product's tiles out
 * over Plexus's own team, so results do not depend on the thread count.
 * OpenBLAS's OpenMP build sets OpenMP's count of the calling thread along with
 * its own, so this thread's count is put back. */
static void blas_one_thread(void) {
#ifdef _OPENMP
    int omp = omp_get_max_threads();
#endif
    if (openblas_threads) openblas_threads(1);
    if (blis_threads) blis_threads(1);
#ifdef _OPENMP
    omp_set_num_threads(omp);
#endif
}
#endif

static void load_blas(void) {
#if PX_HAVE_BLAS
    int tier = cpu_tier();
#ifdef PX_BLAS_openblas
    /* OpenBLAS reads OPENBLAS_CORETYPE once, when it loads; Debian's build
     * falls back to its oldest kernel on processors it does not recognise.
     * A value the user set wins (overwrite = 0). setenv is safe here because
     * it runs once, before any thread of ours reads the environment. */
    if (tier >= 3) setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
    else if (tier == 2) setenv("OPENBLAS_CORETYPE", "Haswell", 0);
#endif
    void *h = dlopen(PX_BLAS_PATH, RTLD_NOW | RTLD_LOCAL);
    px_sgemm_fn f = h ? (px_sgemm_fn)dlsym(h, "cblas_sgemm") : NULL;
    if (!f) {
        fprintf(stderr,
                "plexus: warning: cannot use the BLAS %s (%s); matrix products run on Plexus's "
                "builtin kernel\n",
                PX_BLAS_PATH, h ? "it has no cblas_sgemm" : dlerror());
        if (h) dlclose(h);
        return;
    }
#ifdef PX_BLAS_openblas
    blas_name = "openblas";
    char *(*corename)(void) = (char *(*)(void))dlsym(h, "openblas_get_corename");
    *(void **)&openblas_threads = dlsym(h, "openblas_set_num_threads");
    if (corename && corename()) snprintf(blas_kernel, sizeof blas_kernel, "%s", corename());
#else
    blas_name = "blis";
    *(void **)&blis_threads = dlsym(h, "bli_thread_set_num_threads");
    int (*arch_id)(void) = (int (*)(void))dlsym(h, "bli_arch_query_id");
    const char *(*arch_str)(int) = (const char *(*)(int))dlsym(h, "bli_arch_string");
    if (arch_id && arch_str && arch_str(arch_id())) snprintf(blas_kernel, sizeof blas_kernel, "%s", arch_str(arch_id()));
#endif
    int kt = blas_kernel[0] ? kernel_tier(blas_kernel) : -1;
    if (kt >= 0 && kt + 1 < tier) {
        const char *env = getenv("OPENBLAS_CORETYPE");
        fprintf(stderr,
                "plexus: warning: the BLAS (%s) runs its '%s' kernel (%s) on a processor with %s; "
                "matrix products may be several times slower than they could be%s%s%s\n",
                blas_name, blas_kernel, tier_name(kt), tier_name(tier),
                env ? " (OPENBLAS_CORETYPE=" : "", env ? env : "", env ? " is set)" : "");
    }
    /* OpenBLAS would start a thread per core, and its threaded kernel sums in
     * another order than its one-thread kernel */
    blas_one_thread();
    blas_sgemm = f;
#endif
}

px_sgemm_fn px_blas_sgemm(void) {
    pthread_once(&blas_once, load_blas);
    return blas_sgemm;
}

const char *px_blas_name(void) {
    pthread_once(&blas_once, load_blas);
    return blas_name;
}

const char *px_blas_kernel(void) {
    pthread_once(&blas_once, load_blas);
    return blas_sgemm ? blas_kernel : px_gemm_builtin_isa();
}

int px_num_threads(void) {
    pthread_mutex_lock(&threads_lock);
    int n = requested_threads;
    pthread_mutex_unlock(&threads_lock);
    if (n > 0) return n;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void px_threads_set_active(int n) {
    if (n < 1) n = 1;
    px_blas_sgemm(); /* loaded first: loading sets OpenMP's count of this thread */
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

void px_set_num_threads(int n) {
    if (n < 1) n = 1;
    pthread_mutex_lock(&threads_lock);
    requested_threads = n;
    pthread_mutex_unlock(&threads_lock);
    px_threads_set_active(n);
}
