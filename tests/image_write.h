/* Test helper: writes PNG and JPEG files of known pixels with libpng and
 * libjpeg, and cut or damaged copies of them, for the decoder and image-folder
 * tests. */
#ifndef PX_TEST_IMAGE_WRITE_H
#define PX_TEST_IMAGE_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 8-bit (height, width, channels) pixels; channels 1 gray, 2 gray+alpha, 3 RGB,
 * 4 RGBA. False (after a test failure) when the file cannot be written. */
bool px_test_write_png(const char *path, const uint8_t *pixels, int width, int height, int channels);
/* 16-bit gray PNG (samples big-endian as PNG stores them, given as uint16). */
bool px_test_write_png16(const char *path, const uint16_t *pixels, int width, int height);
/* channels 1 or 3; quality 1..100. */
bool px_test_write_jpeg(const char *path, const uint8_t *pixels, int width, int height, int channels, int quality);
/* Copies the first `keep` bytes of src to dst (keep < 0: all but -keep). */
bool px_test_truncate_copy(const char *src, const char *dst, long keep);
/* Writes bytes as they are. */
bool px_test_write_raw(const char *path, const void *data, size_t n);

#endif
