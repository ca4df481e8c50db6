/* The test harness's counters, failure reports, data paths and shared set-ups. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px_test.h"

int px_test_passed, px_test_failed, px_test_skipped;
const char *px_test_current = "";

void px_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    px_test_failed++;
    fprintf(stderr, "FAIL %s (%s:%d): ", px_test_current, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

int px_test_error_has(const char *needle) {
    if (strstr(px_last_error(), needle)) return 1;
    fprintf(stderr, "  error message was: \"%s\" (wanted \"%s\")\n", px_last_error(), needle);
    return 0;
}

void px_test_skip(const char *fmt, ...) {
    va_list ap;
    px_test_skipped++;
    printf("skipped: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

int px_test_finish(void) {
    printf("%d passed, %d failed, %d skipped\n", px_test_passed, px_test_failed, px_test_skipped);
    if (px_test_failed) return 1;
    /* Nothing ran but skips: CTest shows the program as skipped, not passed. */
    return px_test_passed == 0 && px_test_skipped > 0 ? PX_TEST_SKIP_CODE : 0;
}

const char *px_test_data(const char *name) {
    static char buf[4096];
    const char *dir = getenv("PX_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "data", name);
    return buf;
}

const char *px_test_shared(const char *name) {
    static char buf[4096];
    const char *dir = getenv("PX_SHARED_DIR");
    struct stat st;
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "../../shared", name);
    if (stat(buf, &st) != 0) return NULL;
    return buf;
}

const char *px_test_tmp_path(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/px_test_%d_%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(), name);
    return buf[k];
}

static char scratch_dir[512];

const char *px_test_dir(void) {
    if (!scratch_dir[0]) {
        snprintf(scratch_dir, sizeof scratch_dir, "%s", px_test_tmp_path("dir"));
        if (mkdir(scratch_dir, 0700) != 0) {
            scratch_dir[0] = '\0';
            return NULL;
        }
    }
    return scratch_dir;
}

const char *px_test_dir_path(const char *rel) {
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    const char *dir = px_test_dir();
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir ? dir : "/nonexistent", rel);
    return buf[k];
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void px_test_dir_remove(void) {
    if (scratch_dir[0]) nftw(scratch_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    scratch_dir[0] = '\0';
}

px_tensor *px_test_random(px_shape s, uint64_t seed) {
    px_tensor *t = px_tensor_zeros(s);
    px_rng r = px_rng_seeded(seed);
    for (int64_t i = 0; t && i < px_tensor_size(t); i++) px_tensor_f32(t)[i] = 2 * px_rng_uniform(&r) - 1;
    return t;
}

bool px_test_same_tensor(const px_tensor *a, const px_tensor *b) {
    return a && b && px_shape_equal(px_tensor_shape(a), px_tensor_shape(b)) &&
           memcmp(a->data, b->data, (size_t)px_tensor_size(a) * sizeof(float)) == 0;
}

unsigned char *px_test_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    unsigned char *b = len >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)len + 1) : NULL;
    size_t got = b ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    if (b) b[got] = 0;
    if (n) *n = got;
    return b;
}
