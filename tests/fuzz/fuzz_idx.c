/* libFuzzer target: bytes as an IDX file (plain or gzip'd) through px_idx_read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plexus/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    snprintf(path, sizeof path, "%s/px_fuzz_idx_%d.idx", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    px_tensor *t = NULL;
    if (px_idx_read(path, PX_F32, &t) == PX_OK) px_tensor_free(t);
    if (px_idx_read(path, PX_I32, &t) == PX_OK) px_tensor_free(t);
    remove(path);
    return 0;
}
