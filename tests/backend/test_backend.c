/* The backend's self-description: BLAS name and kernel, and the thread count
 * that Plexus's loops and the BLAS share. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/gemm.h"
#include "plexus/backend.h"
#include "px_test.h"

static void test_blas_name_and_kernel(void) {
    const char *name = px_blas_name();
    CHECK_NOT_NULL(name);
    CHECK(strcmp(name, "openblas") == 0 || strcmp(name, "blis") == 0 || strcmp(name, "builtin") == 0);
    const char *kernel = px_blas_kernel();
    CHECK_NOT_NULL(kernel);
    /* stable across calls: loaded once */
    CHECK(strcmp(px_blas_name(), name) == 0);
    CHECK(px_blas_kernel() == kernel);
#ifdef PX_TEST_EXPECT_BLAS
    CHECK(strcmp(name, PX_TEST_EXPECT_BLAS) == 0);
#endif
    if (strcmp(name, "builtin") == 0)
        CHECK(strcmp(kernel, "avx512") == 0 || strcmp(kernel, "avx2") == 0 ||
              strcmp(kernel, "generic") == 0);
}

/* Plexus never overrides a core type the user chose (our setenv uses overwrite = 0). */
static void test_coretype_not_overridden(void) {
    const char *env = getenv("OPENBLAS_CORETYPE");
    if (env && strcmp(px_blas_name(), "openblas") == 0)
        CHECK(strlen(px_blas_kernel()) > 0);
    CHECK(1);
}

static void test_threads(void) {
    int n0 = px_num_threads();
    CHECK(n0 >= 1);
    px_set_num_threads(1);
    CHECK(px_num_threads() == 1);
    px_set_num_threads(2);
    CHECK(px_num_threads() == 2);
    px_set_num_threads(0); /* out of range: clamped, never fatal */
    CHECK(px_num_threads() == 1);
    /* products still right after changing the count */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4] = {NAN, NAN, NAN, NAN};
    px_gemm(&(px_gemm_args){.m = 2, .n = 2, .k = 3, .a = a, .lda = 3, .b = b, .ldb = 2, .c = c, .ldc = 2});
    CHECK_NEAR(c[0], 4, 0);
    CHECK_NEAR(c[1], 5, 0);
    CHECK_NEAR(c[2], 10, 0);
    CHECK_NEAR(c[3], 11, 0);
    px_set_num_threads(n0);
    CHECK(px_num_threads() == n0);
}

int main(void) {
    RUN_TEST(test_blas_name_and_kernel);
    RUN_TEST(test_coretype_not_overridden);
    RUN_TEST(test_threads);
    return px_test_finish();
}
