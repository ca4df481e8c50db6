/* Every op with a device kernel, forward and backward, on the GPU against the
 * CPU within 1e-4 relative (the cases of tests/device_compare.c: odd sizes,
 * broadcasting, padding variants, empty batches). Skipped without a GPU. */
#include "device_compare.h"
#include "gpu_util.h"

int main(void) {
    px_backend *b = px_gpu_or_skip();
    int n = 0;
    int bad = px_dc_run_all(b, true, &n);
    printf("%d op cases on %s: %d mismatches\n", n, b->name, bad);
    CHECK(bad == 0);
    return px_test_finish();
}
