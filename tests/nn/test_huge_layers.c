/* Layers too big for the machine are clean errors naming the layer and the
 * bytes, never a kill by the out-of-memory killer (issue 18 items 7 and 17):
 * from C, from a model-config JSON and from a model file. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/h5util.h"
#include "plexus/model_io.h"
#include "px_test.h"

static px_model *mlp(int units) {
    return px_sequential((px_layer *[]){px_flatten(PX_SHAPE(28, 28)), px_dense(units, PX_RELU),
                                        px_dense(10, PX_SOFTMAX), NULL});
}

static void test_huge_dense_from_c(void) {
    /* the machine's own limit: 784 x 2^30 floats are more than any has */
    px_clear_error();
    px_model *m = mlp(1 << 30); /* built at once: the first layer knows its input */
    CHECK(m == NULL && px_last_status() == PX_ERR_NOMEM);
    CHECK_ERROR_HAS("layer 'dense': weight 'kernel' of shape (784, 1073741824) (3.1 TiB) with its gradient needs 6.1 TiB");
    CHECK_ERROR_HAS("of memory available");

    /* a limit set by the program, then by the environment, then lifted */
    px_set_memory_limit((uint64_t)40 << 20);
    CHECK(px_memory_limit() == (uint64_t)40 << 20);
    m = mlp(8192); /* a 784 x 8192 kernel: 24.5 MiB, 49 MiB with its gradient */
    CHECK(m == NULL && px_last_status() == PX_ERR_NOMEM);
    CHECK_ERROR_HAS("(24.5 MiB) with its gradient needs 49.0 MiB, more than the 40.0 MiB memory limit");
    px_set_memory_limit(0);
    setenv("PX_MAX_MEMORY", "40M", 1);
    CHECK(px_memory_limit() == (uint64_t)40 << 20);
    m = mlp(8192);
    CHECK(m == NULL && px_last_status() == PX_ERR_NOMEM);
    CHECK_ERROR_HAS("PX_MAX_MEMORY");
    setenv("PX_MAX_MEMORY", "1G", 1);
    m = mlp(8192);
    CHECK_NOT_NULL(m);
    px_model_free(m);
    unsetenv("PX_MAX_MEMORY");
    /* tensors too */
    px_set_memory_limit((uint64_t)20 << 20);
    CHECK(px_tensor_zeros(PX_SHAPE(8, 1 << 20)) == NULL && px_last_status() == PX_ERR_NOMEM);
    CHECK_ERROR_HAS("out of memory for shape (8, 1048576)");
    px_set_memory_limit(0);
}

static const char *config(const char *units) {
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"big\", \"layers\": ["
             "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4], \"dtype\": \"float32\", "
             "\"name\": \"in\"}}, {\"class_name\": \"Dense\", \"config\": {\"name\": \"wide\", \"units\": %s, "
             "\"activation\": \"relu\"}}, {\"class_name\": \"Dense\", \"config\": {\"name\": \"out\", \"units\": 3, "
             "\"activation\": \"softmax\"}}]}}",
             units);
    return buf;
}

static void test_huge_dense_from_files(void) {
    /* a fixed limit, so that no machine tries the 4 GB weight */
    px_set_memory_limit((uint64_t)1 << 30);
    /* units: 1e9 in a config of a few hundred bytes */
    const char *c = config("1e9");
    px_clear_error();
    CHECK(px_model_from_json(c, strlen(c)) == NULL && px_last_status() == PX_ERR_NOMEM);
    CHECK_ERROR_HAS("layer 'wide': weight 'kernel' of shape (4, 1000000000) (14.9 GiB) with its gradient needs 29.8 GiB");
    /* beyond what an int holds: the message says the limit */
    c = config("1e12");
    CHECK(px_model_from_json(c, strlen(c)) == NULL && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("'units' is 1000000000000; it must be from 1 to 2147483647");

    /* the same config inside a model file: the load names the real cause (it
     * runs in a child first; a kill there would have blamed libhdf5) */
    char path[256];
    snprintf(path, sizeof path, "/tmp/px_huge_%d.h5", (int)getpid());
    px_h5_file *f = NULL;
    CHECK_OK(px_h5_create(path, &f));
    CHECK_OK(px_h5_write_string_attr(f, "/", "keras_version", "2.15.0", PX_H5_UTF8));
    CHECK_OK(px_h5_write_string_attr(f, "/", "model_config", config("1e9"), PX_H5_ASCII));
    CHECK_OK(px_h5_close(f));
    px_clear_error();
    CHECK(px_model_load(path) == NULL && px_last_status() == PX_ERR_NOMEM);
    CHECK_ERROR_HAS("layer 'wide'");
    CHECK(strstr(px_last_error(), "crashed") == NULL);
    remove(path);
    px_set_memory_limit(0);
}

int main(void) {
    RUN_TEST(test_huge_dense_from_c);
    RUN_TEST(test_huge_dense_from_files);
    return px_test_finish();
}
