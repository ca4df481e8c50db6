/* For the GPU tests: the CUDA backend, or the skip code when this machine has
 * no usable GPU (CTest shows the test as skipped, with the reason printed). */
#ifndef PX_TESTS_GPU_UTIL_H
#define PX_TESTS_GPU_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "px_test.h"

static inline px_backend *px_gpu_or_skip(void) {
    const char *why = px_cuda_unavailable_reason();
    if (*why) {
        printf("skipped: no GPU: %s\n", why);
        exit(PX_TEST_SKIP_CODE);
    }
    px_backend *b = px_backend_by_name("cuda:0");
    if (!b) {
        printf("cannot open cuda:0: %s\n", px_last_error());
        exit(1);
    }
    return b;
}

#endif
