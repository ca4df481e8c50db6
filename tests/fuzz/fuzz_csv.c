/* libFuzzer target: bytes as a CSV file through px_csv_read, with the option
 * sets the tests use (header, label column first/last, no label), and once more
 * through a pipe on standard input (the one-pass reader for streams). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plexus/data.h"

static const px_csv_options opts[] = {{.header = true, .label_column = -1}, {.label_column = 0},
                                      {.no_label = true, .delimiter = ' '}};

/* The bytes on standard input through a pipe; small inputs only, so that the
 * write completes without a reader (a pipe holds 64 KiB). */
static void read_as_stream(const uint8_t *data, size_t size, const px_csv_options *o) {
    int p[2];
    if (size > 60000 || pipe(p) != 0) return;
    size_t done = 0;
    while (done < size) {
        ssize_t r = write(p[1], data + done, size - done);
        if (r <= 0) break;
        done += (size_t)r;
    }
    close(p[1]);
    int saved = dup(STDIN_FILENO);
    dup2(p[0], STDIN_FILENO);
    close(p[0]);
    px_dataset *d = NULL;
    if (px_csv_read("-", o, &d) == PX_OK) px_dataset_free(d);
    dup2(saved, STDIN_FILENO);
    close(saved);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[256];
    snprintf(path, sizeof path, "%s/px_fuzz_csv_%d.csv", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        px_dataset *d = NULL;
        if (px_csv_read(path, &opts[i], &d) == PX_OK) px_dataset_free(d);
    }
    remove(path);
    read_as_stream(data, size, &opts[size % 3]);
    return 0;
}
