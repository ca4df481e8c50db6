/* Internal: cache-line aligned allocation for tensor storage and plan arenas. */
#ifndef PX_CORE_ALLOC_H
#define PX_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "plexus/status.h"

#define PX_ALIGN 64

/* Allocations from this size on are checked against px_memory_limit() first. */
#define PX_MEMORY_CHECK_MIN ((uint64_t)16 << 20)

/* PX_OK, or PX_ERR_NOMEM "<what> needs 3.4 TiB, more than the 21.2 GiB of memory
 * available (...)" when `bytes` (>= PX_MEMORY_CHECK_MIN) is above the limit. */
px_status px_memory_check(uint64_t bytes, const char *what);
/* "3.4 TiB", "512 bytes" into buf. */
const char *px_format_bytes(uint64_t bytes, char *buf, size_t len);

/* 64-byte aligned, zero-filled; NULL on failure (bytes == 0 gives a valid block),
 * with the error set when the memory limit refused it. */
void *px_aligned_calloc(size_t bytes);
void px_aligned_free(void *p);
/* Rounds up to a multiple of PX_ALIGN. */
static inline size_t px_align_up(size_t n) { return (n + PX_ALIGN - 1) & ~(size_t)(PX_ALIGN - 1); }

#endif
