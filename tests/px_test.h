/* A minimal test harness: CHECK macros that count and report failures with
 * file and line, and a summary line "N passed, N failed" per program. */
#ifndef PX_TEST_H
#define PX_TEST_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "plexus/plexus.h"

extern int px_test_passed, px_test_failed, px_test_skipped;

/* The exit code CTest reads as "skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt). */
#define PX_TEST_SKIP_CODE 77
extern const char *px_test_current;

void px_test_fail(const char *file, int line, const char *fmt, ...);

#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (cond) px_test_passed++;                                                              \
        else px_test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);                        \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                    \
    do {                                                                                         \
        double px_a_ = (a), px_b_ = (b);                                                         \
        if (fabs(px_a_ - px_b_) <= (tol)) px_test_passed++;                                      \
        else px_test_fail(__FILE__, __LINE__, "%s = %.9g, expected %s = %.9g (tol %g)", #a, px_a_, \
                          #b, px_b_, (double)(tol));                                             \
    } while (0)

/* Checks that a call returning px_status succeeded, printing px_last_error() if not. */
#define CHECK_OK(call)                                                                           \
    do {                                                                                         \
        px_status px_s_ = (call);                                                                \
        if (px_s_ == PX_OK) px_test_passed++;                                                    \
        else px_test_fail(__FILE__, __LINE__, "%s returned %s: %s", #call, px_status_name(px_s_), \
                          px_last_error());                                                      \
    } while (0)

/* Checks that a pointer-returning call succeeded. */
#define CHECK_NOT_NULL(p)                                                                        \
    do {                                                                                         \
        if ((p) != NULL) px_test_passed++;                                                       \
        else px_test_fail(__FILE__, __LINE__, "%s is NULL: %s", #p, px_last_error());            \
    } while (0)

/* Checks that px_last_error() contains `needle`. */
#define CHECK_ERROR_HAS(needle) CHECK(px_test_error_has(needle))
int px_test_error_has(const char *needle);

#define RUN_TEST(fn)                                                                             \
    do {                                                                                         \
        px_test_current = #fn;                                                                   \
        px_clear_error();                                                                        \
        fn();                                                                                    \
    } while (0)

/* Records a part of a test that cannot run here (missing ../shared data, no GPU,
 * no python module), printing "skipped: <why>". */
void px_test_skip(const char *fmt, ...);

/* Prints the summary and returns the exit code for main: 1 on any failure,
 * PX_TEST_SKIP_CODE when everything was skipped, else 0. */
int px_test_finish(void);

/* Path of a test data file: $PX_TEST_DATA/name (or tests/data/name). */
const char *px_test_data(const char *name);
/* Path inside ../shared, or NULL when that folder is absent (tests then skip). */
const char *px_test_shared(const char *name);

/* The set-ups tests share. */
/* A path for a scratch file: $TMPDIR/px_test_<pid>_<name> (or /tmp); the last 8
 * paths stay valid. */
const char *px_test_tmp_path(const char *name);
/* A scratch directory for tests that write trees of files: made on the first
 * call as $TMPDIR/px_test_<pid>_dir (or /tmp); NULL when it cannot be made.
 * px_test_dir_path(rel) is a path inside it (the last 8 stay valid), and
 * px_test_dir_remove() removes it with everything in it. */
const char *px_test_dir(void);
const char *px_test_dir_path(const char *rel);
void px_test_dir_remove(void);
/* A float32 tensor of shape s, uniform in [-1, 1) from seed; NULL on failure. */
px_tensor *px_test_random(px_shape s, uint64_t seed);
/* Whether two float32 tensors have the same shape and the same bits. */
bool px_test_same_tensor(const px_tensor *a, const px_tensor *b);
/* A whole file, with a NUL after its *n bytes (the caller frees); NULL when it cannot be read. */
unsigned char *px_test_read_file(const char *path, size_t *n);

#endif
