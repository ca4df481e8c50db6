/* PNG (libpng) and JPEG (libjpeg-turbo) decoding to 8-bit pixels, channel
 * conversions and TensorFlow's bilinear resize. Both libraries report errors by
 * longjmp out of their callbacks; every error becomes one message naming the
 * file, and a truncated file is an error, never a partly grey image. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "formats/image.h"

/* Larger images are refused before any allocation: a corrupt header can claim
 * 2^31 x 2^31 pixels. 2^28 bytes is a 9,000 x 9,000 RGBA photograph. */
#define MAX_IMAGE_BYTES ((uint64_t)1 << 28)

px_image_format px_image_sniff(const uint8_t *head, size_t n) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && memcmp(head, png_sig, 8) == 0) return PX_IMAGE_PNG;
    if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return PX_IMAGE_JPEG;
    return PX_IMAGE_UNKNOWN;
}

void px_image_free(px_image *img) {
    if (!img) return;
    free(img->pixels);
    img->pixels = NULL;
}

/* Opens the file and tells its format from the first bytes (then rewinds). */
static px_status open_image(const char *path, FILE **out, px_image_format *fmt) {
    *out = NULL;
    if (!path) return px_set_error(PX_ERR_ARG, "image: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return px_set_error(PX_ERR_IO, "image: cannot open %s: %s", path, strerror(errno));
    uint8_t head[8];
    size_t n = fread(head, 1, sizeof head, f);
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        return px_set_error(PX_ERR_IO, "image: cannot read %s: %s", path, strerror(e ? e : EIO));
    }
    *fmt = px_image_sniff(head, n);
    if (*fmt == PX_IMAGE_UNKNOWN) {
        fclose(f);
        if (n == 0) return px_set_error(PX_ERR_FORMAT, "image: %s is empty", path);
        return px_set_error(PX_ERR_FORMAT, "image: %s is neither a PNG nor a JPEG file (its first bytes are no image "
                            "signature)", path);
    }
    rewind(f);
    *out = f;
    return PX_OK;
}

static px_status check_size(const char *path, int w, int h, int c) {
    if (w <= 0 || h <= 0)
        return px_set_error(PX_ERR_FORMAT, "image: %s: the header gives a size of %d x %d pixels", path, w, h);
    if ((uint64_t)w * (uint64_t)h * (uint64_t)(c > 0 ? c : 4) > MAX_IMAGE_BYTES)
        return px_set_error(PX_ERR_FORMAT, "image: %s: %d x %d pixels is more than Plexus decodes (%llu MB of "
                            "pixels at most)", path, w, h, (unsigned long long)(MAX_IMAGE_BYTES >> 20));
    return PX_OK;
}

/* ---- PNG ---- */

typedef struct png_fail {
    jmp_buf jump;
    char msg[200];
} png_fail;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_fail *f = png_get_error_ptr(png);
    snprintf(f->msg, sizeof f->msg, "%s", msg ? msg : "unknown error");
    longjmp(f->jump, 1);
}

/* Warnings (a bad ancillary chunk, an unknown profile) leave the pixels intact. */
static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

/* Reads a PNG: the header only when out is NULL. The pixels after libpng's
 * expansions: 8-bit gray, gray+alpha, RGB or RGBA. */
static px_status png_read(const char *path, FILE *file, px_image_info *info, px_image *out) {
    png_fail fail = {0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &fail, png_on_error, png_on_warning);
    png_infop pinfo = png ? png_create_info_struct(png) : NULL;
    if (!pinfo) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return px_set_error(PX_ERR_NOMEM, "image: %s: out of memory for the PNG decoder", path);
    }
    /* written between setjmp and longjmp: volatile keeps them valid after the jump */
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(fail.jump)) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        free(pixels);
        free(rows);
        return px_set_error(PX_ERR_FORMAT, "image: %s: corrupt or truncated PNG: %s", path, fail.msg);
    }
    png_init_io(png, file);
    png_read_info(png, pinfo);
    int w = (int)png_get_image_width(png, pinfo), h = (int)png_get_image_height(png, pinfo);
    png_set_expand(png); /* palette to RGB, gray below 8 bits to 8, transparency to alpha */
    png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    int c = png_get_channels(png, pinfo);
    info->format = PX_IMAGE_PNG;
    info->width = w, info->height = h, info->channels = c;
    px_status st = check_size(path, w, h, c);
    if (st != PX_OK || !out) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return st;
    }
    size_t rowbytes = png_get_rowbytes(png, pinfo);
    if (rowbytes != (size_t)w * (size_t)c) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return px_set_error(PX_ERR_FORMAT, "image: %s: unexpected PNG row layout (%zu bytes for %d pixels of %d "
                            "channels)", path, rowbytes, w, c);
    }
    pixels = malloc((size_t)h * rowbytes);
    rows = malloc((size_t)h * sizeof *rows);
    if (!pixels || !rows) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        free(pixels);
        free(rows);
        return px_set_error(PX_ERR_NOMEM, "image: %s: out of memory for %d x %d pixels", path, w, h);
    }
    for (int y = 0; y < h; y++) rows[y] = pixels + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &pinfo, NULL);
    free(rows);
    *out = (px_image){w, h, c, pixels};
    return PX_OK;
}

/* ---- JPEG ---- */

typedef struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_fail;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_fail *f = (jpeg_fail *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, f->msg);
    longjmp(f->jump, 1);
}

/* libjpeg only warns when the data ends early and pads the image with grey;
 * that is an error here (TensorFlow's decoder refuses such files too). Other
 * warnings (extraneous bytes between markers) leave the pixels intact. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(cinfo);
}

static px_status jpeg_read(const char *path, FILE *file, px_image_info *info, px_image *out) {
    struct jpeg_decompress_struct cinfo;
    jpeg_fail fail;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&fail.mgr);
    fail.mgr.error_exit = jpeg_on_error;
    fail.mgr.emit_message = jpeg_on_message;
    fail.msg[0] = '\0';
    uint8_t *volatile pixels = NULL;
    if (setjmp(fail.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return px_set_error(PX_ERR_FORMAT, "image: %s: corrupt or truncated JPEG: %s", path, fail.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, file);
    jpeg_read_header(&cinfo, TRUE);
    int w = (int)cinfo.image_width, h = (int)cinfo.image_height, c = cinfo.num_components;
    info->format = PX_IMAGE_JPEG;
    info->width = w, info->height = h, info->channels = c;
    px_status st = PX_OK;
    if (c != 1 && c != 3)
        st = px_set_error(PX_ERR_UNSUPPORTED, "image: %s: a JPEG with %d color components (CMYK): convert it to RGB",
                          path, c);
    if (st == PX_OK) st = check_size(path, w, h, c);
    if (st != PX_OK || !out) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    cinfo.out_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)w * (size_t)cinfo.output_components;
    pixels = malloc((size_t)h * stride);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        return px_set_error(PX_ERR_NOMEM, "image: %s: out of memory for %d x %d pixels", path, w, h);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *out = (px_image){w, h, c, pixels};
    return PX_OK;
}

/* ---- the entry points ---- */

static px_status read_file(const char *path, px_image_info *info, px_image *out) {
    FILE *f;
    px_image_format fmt = PX_IMAGE_UNKNOWN;
    px_status st = open_image(path, &f, &fmt);
    if (st != PX_OK) return st;
    st = fmt == PX_IMAGE_PNG ? png_read(path, f, info, out) : jpeg_read(path, f, info, out);
    fclose(f);
    return st;
}

px_status px_image_probe(const char *path, px_image_info *info) {
    px_image_info tmp;
    return read_file(path, info ? info : &tmp, NULL);
}

void px_image_convert_channels(const uint8_t *src, int cin, uint8_t *dst, int cout, size_t count) {
    for (size_t i = 0; i < count; i++, src += cin, dst += cout) {
        uint8_t r, g, b, a = cin == 2 ? src[1] : cin == 4 ? src[3] : 255;
        if (cin <= 2) r = g = b = src[0];
        else r = src[0], g = src[1], b = src[2];
        if (cout == 1) {
            /* ITU-R 601 luma, as libjpeg's colour-to-grey conversion */
            dst[0] = cin <= 2 ? r : (uint8_t)lrint(0.299 * r + 0.587 * g + 0.114 * b);
        } else if (cout == 2) {
            dst[0] = cin <= 2 ? r : (uint8_t)lrint(0.299 * r + 0.587 * g + 0.114 * b);
            dst[1] = a;
        } else {
            dst[0] = r, dst[1] = g, dst[2] = b;
            if (cout == 4) dst[3] = a;
        }
    }
}

px_status px_image_decode(const char *path, int channels, px_image *out) {
    if (!out) return px_set_error(PX_ERR_ARG, "image: the output is NULL");
    memset(out, 0, sizeof *out);
    if (channels != 0 && channels != 1 && channels != 3 && channels != 4)
        return px_set_error(PX_ERR_ARG, "image: %s: %d channels asked for (1, 3 or 4)", path ? path : "(null)",
                            channels);
    px_image_info info;
    px_image img;
    px_status st = read_file(path, &info, &img);
    if (st != PX_OK) return st;
    int want = channels ? channels : img.channels == 2 ? 4 : img.channels;
    if (want == img.channels) {
        *out = img;
        return PX_OK;
    }
    size_t count = (size_t)img.width * (size_t)img.height;
    uint8_t *conv = malloc(count * (size_t)want);
    if (!conv) {
        px_image_free(&img);
        return px_set_error(PX_ERR_NOMEM, "image: %s: out of memory converting %d x %d pixels", path, img.width,
                            img.height);
    }
    px_image_convert_channels(img.pixels, img.channels, conv, want, count);
    px_image_free(&img);
    *out = (px_image){info.width, info.height, want, conv};
    return PX_OK;
}

/* ---- resizing ---- */

/* TensorFlow's bilinear weights along one axis: source position (i + 0.5) *
 * in / out - 0.5, its two neighbours clamped into the image. */
typedef struct lerp_at {
    int lo, hi;
    float t;
} lerp_at;

static void lerp_table(int in, int out, lerp_at *tab) {
    double scale = (double)in / (double)out;
    for (int i = 0; i < out; i++) {
        double pos = ((double)i + 0.5) * scale - 0.5, f = floor(pos);
        int lo = (int)f, hi = lo + 1;
        tab[i].t = (float)(pos - f);
        tab[i].lo = lo < 0 ? 0 : lo > in - 1 ? in - 1 : lo;
        tab[i].hi = hi < 0 ? 0 : hi > in - 1 ? in - 1 : hi;
    }
}

px_status px_image_resize_bilinear(const uint8_t *src, int h, int w, int c, float *dst, int oh, int ow) {
    if (h == oh && w == ow) {
        for (size_t i = 0, n = (size_t)h * (size_t)w * (size_t)c; i < n; i++) dst[i] = src[i];
        return PX_OK;
    }
    lerp_at *ys = malloc(((size_t)oh + (size_t)ow) * sizeof *ys), *xs = ys + oh;
    if (!ys) return px_set_error(PX_ERR_NOMEM, "image: out of memory resizing to %d x %d", ow, oh);
    lerp_table(h, oh, ys);
    lerp_table(w, ow, xs);
    for (int y = 0; y < oh; y++) {
        const uint8_t *top = src + (size_t)ys[y].lo * (size_t)w * (size_t)c;
        const uint8_t *bot = src + (size_t)ys[y].hi * (size_t)w * (size_t)c;
        float ty = ys[y].t;
        float *out = dst + (size_t)y * (size_t)ow * (size_t)c;
        for (int x = 0; x < ow; x++) {
            size_t lo = (size_t)xs[x].lo * (size_t)c, hi = (size_t)xs[x].hi * (size_t)c;
            float tx = xs[x].t;
            for (int k = 0; k < c; k++) {
                float tl = top[lo + k], tr = top[hi + k], bl = bot[lo + k], br = bot[hi + k];
                float t = tl + (tr - tl) * tx, b = bl + (br - bl) * tx;
                *out++ = t + (b - t) * ty;
            }
        }
    }
    free(ys);
    return PX_OK;
}
