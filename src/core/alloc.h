/* Internal: cache-line aligned allocation for tensor storage and plan arenas. */
#ifndef PX_CORE_ALLOC_H
#define PX_CORE_ALLOC_H

#include <stddef.h>

#define PX_ALIGN 64

/* 64-byte aligned, zero-filled; NULL on failure (bytes == 0 gives a valid block). */
void *px_aligned_calloc(size_t bytes);
void px_aligned_free(void *p);
/* Rounds up to a multiple of PX_ALIGN. */
static inline size_t px_align_up(size_t n) { return (n + PX_ALIGN - 1) & ~(size_t)(PX_ALIGN - 1); }

#endif
