/* The test harness's counters, failure reports and data paths. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
