/* libFuzzer target: bytes as model-config JSON only (px_model_from_json and back
 * with px_model_to_json): Plexus's own parsing, without libhdf5 underneath. */
#include <stdint.h>
#include <stdlib.h>

#include "plexus/model_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    px_model *m = px_model_from_json((const char *)data, size);
    if (m) {
        char *json = NULL;
        if (px_model_to_json(m, &json) == PX_OK) free(json);
        px_model_free(m);
    }
    return 0;
}
