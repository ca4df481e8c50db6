/* libFuzzer target: bytes as a model file (px_model_load) and as model-config
 * JSON (px_model_from_json); any result but a crash, leak or UB report is fine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plexus/model_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    snprintf(path, sizeof path, "%s/px_fuzz_model_%d.h5", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
        px_model_free(px_model_load(path));
        remove(path);
    }
    px_model *m = px_model_from_json((const char *)data, size);
    if (m) {
        /* a config that parses must also write back */
        char *json = NULL;
        if (px_model_to_json(m, &json) == PX_OK) free(json);
        px_model_free(m);
    }
    return 0;
}
