/* Aligned allocation: SIMD loads and BLAS kernels prefer 64-byte boundaries. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

void *px_aligned_calloc(size_t bytes) {
    if (px_memory_check(bytes, "an allocation") != PX_OK) return NULL;
    size_t n = px_align_up(bytes ? bytes : 1);
    void *p = aligned_alloc(PX_ALIGN, n);
    if (p) memset(p, 0, n);
    return p;
}

void px_aligned_free(void *p) { free(p); }
