/* libFuzzer target: bytes as a model file, HDF5 or a .keras zip told apart by
 * content (px_model_load, libhdf5 isolated in a
 * child) and as model-config JSON (px_model_from_json); anything but a crash,
 * hang, leak or UB report in this process is fine. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plexus/model_io.h"

/* The HDF5 read runs in a child process (src/io/isolate.c), whose coverage this
 * process never sees. Which error the load ends with stands in for it: each
 * distinct message (digits and the path left out) bumps its own counter, which
 * libFuzzer reads as coverage, so inputs reaching new errors join the corpus. */
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t message_counters[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    /* libhdf5 loops forever on some corrupt files: give up on those well
     * before libFuzzer's own -timeout (5 s in the suite) would */
    setenv("PX_LOAD_TIMEOUT", "1", 0);
    return 0;
}

static void note_message(const char *msg, const char *path) {
    uint32_t h = 2166136261u;
    size_t plen = strlen(path);
    for (const char *c = msg; *c; c++) {
        if (strncmp(c, path, plen) == 0) {
            c += plen - 1;
            continue;
        }
        if (*c >= '0' && *c <= '9') continue;
        h = (h ^ (uint8_t)*c) * 16777619u;
    }
    message_counters[h % sizeof message_counters]++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    snprintf(path, sizeof path, "%s/px_fuzz_model_%d.h5", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
        px_model *m = px_model_load(path);
        if (!m) note_message(px_last_error(), path);
        px_model_free(m);
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
