/* plexus export --c on the real Keras files of ../shared that load: the
 * generated C compiles with gcc and clang at -std=c99 -pedantic -Werror and
 * gives px_model_predict's outputs within 1e-5 on 1,000 inputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export_check.h"
#include "plexus/model_io.h"
#include "px_test.h"

/* The real Keras files that load (../shared), .h5 and .keras: exported as they are. */
static void test_keras_files(void) {
    static const char *files[] = {"k2.2.2-sequential-dense-dropout.h5", "k2.11.0-sequential-conv2d-maxpool.h5",
                                  "k2.3.1-sequential-lstm.h5", "k2.1.4-sequential-embedding-gru.h5",
                                  "k2.4.0-functional-two-input-concat.h5", "k3.6.0-sequential-conv1d-gap1d.h5",
                                  "k3.8.0-sequential-simplernn.h5",
                                  "k3.5.0-sequential-dense-batchnorm.keras"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char name[256];
        snprintf(name, sizeof name, "data/keras-models/%s", files[i]);
        const char *path = px_test_shared(name);
        if (!path || access(path, R_OK) != 0) {
            px_test_skip("%s is not in ../shared", files[i]);
            continue;
        }
        px_model *m = px_model_load(path);
        CHECK_NOT_NULL(m);
        if (!m) continue;
        /* token ids for a model that starts with an Embedding: below its vocabulary */
        int ids = 0;
        for (int k = 0; k < px_model_layer_count(m); k++) {
            px_layer *l = px_model_layer(m, k);
            if (strcmp(px_layer_class(l), "Embedding") == 0) ids = (int)px_node_shape(px_layer_weight(l, 0)).dim[0];
        }
        export_check_model(m, files[i], ids, NULL, 0);
        px_model_free(m);
    }
}

int main(void) {
    RUN_TEST(test_keras_files);
    return px_test_finish();
}
