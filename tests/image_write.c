/* Test helper: PNG and JPEG files of known pixels (see image_write.h). */
#include "image_write.h"

#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>
#include <png.h>

#include "px_test.h"

static bool write_png_rows(const char *path, png_bytep *rows, int width, int height, int color_type, int depth) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        px_test_fail(__FILE__, __LINE__, "cannot write %s", path);
        return false;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        px_test_fail(__FILE__, __LINE__, "libpng could not write %s", path);
        return false;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return true;
}

bool px_test_write_png(const char *path, const uint8_t *pixels, int width, int height, int channels) {
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGBA};
    png_bytep *rows = malloc((size_t)height * sizeof *rows);
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)pixels + (size_t)y * width * channels;
    bool ok = write_png_rows(path, rows, width, height, types[channels], 8);
    free(rows);
    return ok;
}

bool px_test_write_png16(const char *path, const uint16_t *pixels, int width, int height) {
    uint8_t *be = malloc((size_t)width * height * 2);
    png_bytep *rows = malloc((size_t)height * sizeof *rows);
    for (int i = 0; i < width * height; i++) be[2 * i] = (uint8_t)(pixels[i] >> 8), be[2 * i + 1] = (uint8_t)pixels[i];
    for (int y = 0; y < height; y++) rows[y] = be + (size_t)y * width * 2;
    bool ok = write_png_rows(path, rows, width, height, PNG_COLOR_TYPE_GRAY, 16);
    free(rows);
    free(be);
    return ok;
}

bool px_test_write_jpeg(const char *path, const uint8_t *pixels, int width, int height, int channels, int quality) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        px_test_fail(__FILE__, __LINE__, "cannot write %s", path);
        return false;
    }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)width;
    c.image_height = (JDIMENSION)height;
    c.input_components = channels;
    c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)pixels + (size_t)c.next_scanline * width * channels;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    return true;
}

bool px_test_write_raw(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        px_test_fail(__FILE__, __LINE__, "cannot write %s", path);
        return false;
    }
    fwrite(data, 1, n, f);
    fclose(f);
    return true;
}

bool px_test_truncate_copy(const char *src, const char *dst, long keep) {
    FILE *f = fopen(src, "rb");
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    bool ok = fread(buf, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    long k = keep < 0 ? n + keep : keep;
    if (ok) ok = px_test_write_raw(dst, buf, (size_t)(k < 0 ? 0 : k > n ? n : k));
    free(buf);
    return ok;
}
