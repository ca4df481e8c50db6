/* Facts about the compute backend: which BLAS runs the matrix products, with
 * which kernel, and how many threads Plexus uses; and the devices a session can
 * run on (the CPU, the reference device, CUDA GPUs) and which one is current. */
#ifndef PLEXUS_BACKEND_H
#define PLEXUS_BACKEND_H

#include <stddef.h>

#include "export.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "openblas", "blis" or "builtin" (Plexus's own kernel only). */
PX_API const char *px_blas_name(void);
/* The kernel the BLAS runs, e.g. "SkylakeX" (OpenBLAS's core name), or "". */
PX_API const char *px_blas_kernel(void);
/* Threads used by Plexus's own loops and the BLAS. */
PX_API int px_num_threads(void);
/* Sets the thread count for Plexus's loops and the BLAS (n >= 1). */
PX_API void px_set_num_threads(int n);

/* ---- devices ---- */

typedef struct px_device_info {
    char name[32];         /* "cpu", "ref", "cuda:0", ... as px_set_device takes it */
    char description[96];  /* e.g. "NVIDIA H200, 140 GiB" */
    size_t memory_bytes;   /* device memory; 0 for host memory */
} px_device_info;

/* Writes up to `max` devices into `out` (may be NULL with max 0) and returns
 * how many there are: "cpu", "ref" (the reference device: host memory run as a
 * separate device, with explicit copies, for tests), then every CUDA GPU. */
PX_API int px_device_list(px_device_info *out, int max);
/* Makes `name` the device that new sessions (and fit, evaluate, predict) run
 * on: "cpu" (the default), "ref", "cuda" (= "cuda:0") or "cuda:N". Overrides
 * the PX_DEVICE environment variable. Asking for a GPU where there is none is
 * PX_ERR_UNSUPPORTED with the reason, and the current device stays. */
PX_API px_status px_set_device(const char *name);
/* The current device's name ("cpu" unless px_set_device or PX_DEVICE chose
 * another); "" with an error when PX_DEVICE names a device that cannot be used. */
PX_API const char *px_device(void);

#ifdef __cplusplus
}
#endif
#endif
