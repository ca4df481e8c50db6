/* Facts about the compute backend: which BLAS runs the matrix products, with
 * which kernel, and how many threads Plexus uses. */
#ifndef PLEXUS_BACKEND_H
#define PLEXUS_BACKEND_H

#include "export.h"

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

#ifdef __cplusplus
}
#endif
#endif
