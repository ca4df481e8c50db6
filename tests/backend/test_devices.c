/* Choosing a device: the list, px_set_device and PX_DEVICE, and the errors
 * when a GPU is asked for where none can be used (the default stays the CPU). */
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "px_test.h"

/* Runs first: PX_DEVICE is read once, at the first question about devices. */
static void test_bad_px_device_is_an_error_until_a_device_is_set(void) {
    setenv("PX_DEVICE", "bogus", 1);
    CHECK(strcmp(px_device(), "") == 0);
    CHECK_ERROR_HAS("PX_DEVICE=bogus: unknown device 'bogus'");
    CHECK(px_backend_current() == NULL);
    CHECK_OK(px_set_device("cpu")); /* an explicit choice overrides the variable */
    CHECK(px_backend_current() == px_backend_cpu());
    unsetenv("PX_DEVICE");
}

static void test_list_names_cpu_and_ref_first(void) {
    int n = px_device_list(NULL, 0);
    CHECK(n >= 2);
    px_device_info d[8];
    int got = px_device_list(d, 8);
    CHECK(got == n);
    CHECK(strcmp(d[0].name, "cpu") == 0);
    CHECK(strcmp(d[1].name, "ref") == 0);
    for (int i = 2; i < got && i < 8; i++) CHECK(strncmp(d[i].name, "cuda:", 5) == 0 && d[i].memory_bytes > 0);
    /* a short array gets the first entries and the full count */
    px_device_info one;
    CHECK(px_device_list(&one, 1) == n && strcmp(one.name, "cpu") == 0);
}

static void test_set_device(void) {
    CHECK(strcmp(px_device(), "cpu") == 0); /* the default */
    CHECK_OK(px_set_device("ref"));
    CHECK(strcmp(px_device(), "ref") == 0);
    CHECK(px_backend_current() == px_backend_ref());
    CHECK(px_set_device("tpu") == PX_ERR_ARG);
    CHECK_ERROR_HAS("unknown device 'tpu'");
    CHECK(px_set_device("cuda:x") == PX_ERR_ARG);
    CHECK(strcmp(px_device(), "ref") == 0); /* a failed choice keeps the current device */
    CHECK_OK(px_set_device(NULL));
    CHECK(strcmp(px_device(), "cpu") == 0);
}

/* Without a usable GPU, asking for one names the reason; with one, it opens. */
static void test_cuda_request(void) {
    const char *why = px_cuda_unavailable_reason();
    px_status st = px_set_device("cuda");
    if (*why) {
        CHECK(st == PX_ERR_UNSUPPORTED);
        CHECK_ERROR_HAS("no CUDA device");
        CHECK_ERROR_HAS(why);
        CHECK(strcmp(px_device(), "cpu") == 0);
        printf("no GPU here: %s\n", why);
    } else {
        CHECK_OK(st);
        CHECK(strcmp(px_device(), "cuda:0") == 0);
        CHECK(px_set_device("cuda:15") == PX_ERR_ARG || px_device_list(NULL, 0) == 18);
    }
    CHECK_OK(px_set_device("cpu"));
}

int main(void) {
    RUN_TEST(test_bad_px_device_is_an_error_until_a_device_is_set);
    RUN_TEST(test_list_names_cpu_and_ref_first);
    RUN_TEST(test_set_device);
    RUN_TEST(test_cuda_request);
    return px_test_finish();
}
