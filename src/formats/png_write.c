/* PNG encoding of 8-bit pixels into memory with libpng, for image summaries
 * (TensorBoard stores each image as the bytes of a PNG file). */
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "formats/image.h"

typedef struct png_sink {
    uint8_t *data;
    size_t len, cap;
    bool failed;
} png_sink;

static void sink_write(png_structp png, png_bytep data, png_size_t n) {
    png_sink *s = png_get_io_ptr(png);
    if (s->failed) return;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->len + n) cap *= 2;
        uint8_t *p = realloc(s->data, cap);
        if (!p) {
            s->failed = true;
            png_error(png, "out of memory");
        }
        s->data = p;
        s->cap = cap;
    }
    memcpy(s->data + s->len, data, n);
    s->len += n;
}

static void sink_flush(png_structp png) { (void)png; }

/* libpng reports errors by longjmp; the message is kept for px_set_error. */
static _Thread_local char png_errmsg[200];

static void on_error(png_structp png, png_const_charp msg) {
    snprintf(png_errmsg, sizeof png_errmsg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

px_status px_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **out, size_t *len) {
    static const int color[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGBA};
    if (!out || !len) return px_set_error(PX_ERR_ARG, "px_png_encode: out or len is NULL");
    *out = NULL;
    *len = 0;
    if (!pixels || width <= 0 || height <= 0 || channels < 1 || channels > 4 || width > 1 << 20 || height > 1 << 20)
        return px_set_error(PX_ERR_ARG, "px_png_encode: bad image %dx%d with %d channels", width, height, channels);
    /* on the heap: locals changed between setjmp and longjmp are indeterminate after it */
    png_sink *sink = calloc(1, sizeof *sink);
    if (!sink) return px_set_error(PX_ERR_NOMEM, "px_png_encode: out of memory");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        free(sink);
        return px_set_error(PX_ERR_NOMEM, "px_png_encode: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        bool nomem = sink->failed;
        free(sink->data);
        free(sink);
        return px_set_error(nomem ? PX_ERR_NOMEM : PX_ERR_IO, "px_png_encode: libpng: %s", png_errmsg);
    }
    png_set_write_fn(png, sink, sink_write, sink_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color[channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * width * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = sink->data;
    *len = sink->len;
    free(sink);
    return PX_OK;
}
