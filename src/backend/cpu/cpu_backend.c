/* The CPU as a backend: host memory, copies that are memcpy, and the ops' own
 * CPU code (src/ops/, handed over in px_kernel.host_run). Every session runs
 * through this interface, so the CPU path is the same code a device uses. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/alloc.h"

static px_status cpu_alloc(px_backend *b, size_t bytes, void **out) {
    (void)b;
    *out = px_aligned_calloc(bytes);
    if (!*out) return px_set_error(PX_ERR_NOMEM, "cpu: out of memory for %zu bytes", bytes);
    return PX_OK;
}
static void cpu_free(px_backend *b, void *p) {
    (void)b;
    px_aligned_free(p);
}
static px_status cpu_copy(px_backend *b, void *dst, const void *src, size_t bytes) {
    (void)b;
    if (bytes && dst != src) memcpy(dst, src, bytes);
    return PX_OK;
}
static px_status cpu_zero(px_backend *b, void *dst, size_t bytes) {
    (void)b;
    if (bytes) memset(dst, 0, bytes);
    return PX_OK;
}
static px_status cpu_accumulate(px_backend *b, float *dst, const float *src, int64_t n) {
    (void)b;
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
    return PX_OK;
}
static px_status cpu_sync(px_backend *b) {
    (void)b;
    return PX_OK;
}
static bool cpu_supports(px_backend *b, const px_kernel *k, bool backward) {
    (void)b, (void)backward;
    return k->host_run != NULL;
}
static size_t cpu_work_bytes(px_backend *b, const px_kernel *k, bool backward) {
    (void)b, (void)k, (void)backward;
    return 0;
}
static size_t cpu_state_bytes(px_backend *b, const px_kernel *k, size_t cpu_bytes) {
    (void)b, (void)k;
    return cpu_bytes;
}
static px_status cpu_forward(px_backend *b, const px_kernel *k) {
    (void)b;
    k->host_run(k, false);
    return PX_OK;
}
static px_status cpu_backward(px_backend *b, const px_kernel *k) {
    (void)b;
    k->host_run(k, true);
    return PX_OK;
}

/* The optimizers run their own vectorised loops on host memory
 * (src/train/optimizer.c); this backend is never asked. */
static const px_backend_ops cpu_ops = {
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .accumulate = cpu_accumulate,
    .sync = cpu_sync,
    .host_alloc = cpu_alloc,
    .host_free = cpu_free,
    .supports = cpu_supports,
    .work_bytes = cpu_work_bytes,
    .state_bytes = cpu_state_bytes,
    .forward = cpu_forward,
    .backward = cpu_backward,
};

static px_backend cpu = {&cpu_ops, "cpu", true, NULL};

px_backend *px_backend_cpu(void) { return &cpu; }
