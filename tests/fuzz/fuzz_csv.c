/* libFuzzer target: bytes as a CSV file through px_csv_read, with the option
 * sets the tests use (header, label column first/last, no label). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plexus/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    snprintf(path, sizeof path, "%s/px_fuzz_csv_%d.csv", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    const px_csv_options opts[] = {{.header = true, .label_column = -1}, {.label_column = 0}, {.no_label = true, .delimiter = ' '}};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        px_dataset *d = NULL;
        if (px_csv_read(path, &opts[i], &d) == PX_OK) px_dataset_free(d);
    }
    remove(path);
    return 0;
}
