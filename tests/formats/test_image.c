/* Image decoding (src/formats/image.c): PNG and JPEG files of known pixels in
 * every channel layout, the documented conversions, 16-bit samples, corrupt,
 * truncated and foreign files (a clear error naming the file), and TensorFlow's
 * bilinear resize against values worked out by hand. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "formats/image.h"
#include "image_write.h"
#include "px_test.h"

static char dir[64];

static const char *path(const char *name) {
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

/* 3 x 2 pixels with distinct values in every channel. */
static void pattern(uint8_t *p, int w, int h, int c) {
    for (int i = 0; i < w * h * c; i++) p[i] = (uint8_t)(17 * i + 3);
}

static void test_png_layouts(void) {
    for (int c = 1; c <= 4; c++) {
        uint8_t px[3 * 2 * 4];
        pattern(px, 3, 2, c);
        char name[32];
        snprintf(name, sizeof name, "c%d.png", c);
        if (!px_test_write_png(path(name), px, 3, 2, c)) return;
        px_image_info info;
        CHECK_OK(px_image_probe(path(name), &info));
        CHECK(info.format == PX_IMAGE_PNG && info.width == 3 && info.height == 2 && info.channels == c);
        px_image img;
        CHECK_OK(px_image_decode(path(name), 0, &img));
        /* as stored: exact (gray and alpha becomes RGBA) */
        int want = c == 2 ? 4 : c;
        CHECK(img.width == 3 && img.height == 2 && img.channels == want);
        uint8_t conv[3 * 2 * 4];
        px_image_convert_channels(px, c, conv, want, 6);
        CHECK(img.pixels && memcmp(img.pixels, conv, (size_t)6 * want) == 0);
        px_image_free(&img);
        /* to RGB: gray repeated, alpha dropped (not composited) */
        CHECK_OK(px_image_decode(path(name), 3, &img));
        for (int i = 0; i < 6 && img.pixels; i++) {
            const uint8_t *s = px + i * c, *d = img.pixels + i * 3;
            if (c <= 2) CHECK(d[0] == s[0] && d[1] == s[0] && d[2] == s[0]);
            else CHECK(d[0] == s[0] && d[1] == s[1] && d[2] == s[2]);
        }
        px_image_free(&img);
        /* to gray: ITU-R 601 luma of colour, the value itself of gray */
        CHECK_OK(px_image_decode(path(name), 1, &img));
        for (int i = 0; i < 6 && img.pixels; i++) {
            const uint8_t *s = px + i * c;
            double y = c <= 2 ? s[0] : 0.299 * s[0] + 0.587 * s[1] + 0.114 * s[2];
            CHECK_NEAR(img.pixels[i], y, 0.5 + 1e-9);
        }
        px_image_free(&img);
        /* to RGBA: alpha kept, or 255 */
        CHECK_OK(px_image_decode(path(name), 4, &img));
        for (int i = 0; i < 6 && img.pixels; i++) {
            const uint8_t *s = px + i * c;
            CHECK(img.pixels[4 * i + 3] == (c == 2 ? s[1] : c == 4 ? s[3] : 255));
        }
        px_image_free(&img);
    }
}

static void test_png16(void) {
    uint16_t px[4] = {0x0000, 0x12ff, 0xab01, 0xffff};
    if (!px_test_write_png16(path("g16.png"), px, 2, 2)) return;
    px_image img;
    CHECK_OK(px_image_decode(path("g16.png"), 1, &img));
    /* the high byte, as TensorFlow decodes 16-bit PNGs to uint8 */
    CHECK(img.pixels && img.pixels[0] == 0x00 && img.pixels[1] == 0x12 && img.pixels[2] == 0xab && img.pixels[3] == 0xff);
    px_image_free(&img);
}

static void test_jpeg(void) {
    uint8_t flat[16 * 16 * 3];
    for (int i = 0; i < 16 * 16; i++) flat[3 * i] = 200, flat[3 * i + 1] = 100, flat[3 * i + 2] = 50;
    if (!px_test_write_jpeg(path("flat.jpg"), flat, 16, 16, 3, 100)) return;
    px_image_info info;
    CHECK_OK(px_image_probe(path("flat.jpg"), &info));
    CHECK(info.format == PX_IMAGE_JPEG && info.width == 16 && info.height == 16 && info.channels == 3);
    px_image img;
    CHECK_OK(px_image_decode(path("flat.jpg"), 3, &img));
    int worst = 0;
    for (int i = 0; img.pixels && i < 16 * 16 * 3; i++) {
        int d = abs((int)img.pixels[i] - (int)flat[i]);
        if (d > worst) worst = d;
    }
    CHECK(worst <= 3); /* quality 100 of a flat colour: the colour-space round trip only */
    px_image_free(&img);
    uint8_t gray[8 * 8];
    for (int i = 0; i < 64; i++) gray[i] = 77;
    if (!px_test_write_jpeg(path("gray.jpg"), gray, 8, 8, 1, 100)) return;
    CHECK_OK(px_image_decode(path("gray.jpg"), 3, &img));
    CHECK(img.channels == 3 && img.pixels && abs(img.pixels[0] - 77) <= 1 && img.pixels[0] == img.pixels[1]);
    px_image_free(&img);
}

static void test_bad_files(void) {
    uint8_t px[32 * 32 * 3];
    pattern(px, 32, 32, 3);
    if (!px_test_write_png(path("ok.png"), px, 32, 32, 3) || !px_test_write_jpeg(path("ok.jpg"), px, 32, 32, 3, 90))
        return;
    px_image img;
    /* cut in the middle of the pixel data: the header reads, the pixels do not */
    px_test_truncate_copy(path("ok.png"), path("cut.png"), -40);
    CHECK_OK(px_image_probe(path("cut.png"), NULL));
    CHECK(px_image_decode(path("cut.png"), 3, &img) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("cut.png");
    CHECK_ERROR_HAS("truncated");
    CHECK(img.pixels == NULL);
    px_test_truncate_copy(path("ok.jpg"), path("cut.jpg"), -100);
    CHECK(px_image_decode(path("cut.jpg"), 3, &img) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("cut.jpg");
    /* cut inside the header */
    px_test_truncate_copy(path("ok.png"), path("head.png"), 20);
    CHECK(px_image_probe(path("head.png"), NULL) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("head.png");
    px_test_truncate_copy(path("ok.jpg"), path("head.jpg"), 10);
    CHECK(px_image_probe(path("head.jpg"), NULL) == PX_ERR_FORMAT);
    /* a PNG signature on garbage */
    uint8_t junk[64] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    for (int i = 8; i < 64; i++) junk[i] = (uint8_t)(i * 37);
    px_test_write_raw(path("junk.png"), junk, sizeof junk);
    CHECK(px_image_decode(path("junk.png"), 3, &img) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("junk.png");
    /* a corrupted byte in the compressed data: zlib or the CRC catches it */
    FILE *f = fopen(path("ok.png"), "rb");
    uint8_t buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    buf[n / 2] ^= 0x5a;
    px_test_write_raw(path("flip.png"), buf, n);
    CHECK(px_image_decode(path("flip.png"), 3, &img) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("flip.png");
    /* not an image at all, empty, missing, a folder */
    px_test_write_raw(path("text.png"), "hello, world\n", 13);
    CHECK(px_image_probe(path("text.png"), NULL) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("neither a PNG nor a JPEG");
    px_test_write_raw(path("empty.jpg"), "", 0);
    CHECK(px_image_probe(path("empty.jpg"), NULL) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("empty");
    CHECK(px_image_decode(path("missing.png"), 3, &img) == PX_ERR_IO);
    CHECK_ERROR_HAS("missing.png");
    CHECK(px_image_decode(dir, 3, &img) != PX_OK);
    CHECK(px_image_decode(path("ok.png"), 2, &img) == PX_ERR_ARG);
    /* a header claiming a huge image is refused before any allocation */
    uint8_t big[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                       0, 1, 0, 0, 0, 1, 0, 0, 8, 6, 0, 0, 0};
    uint32_t crc = (uint32_t)crc32(0, big + 12, 17); /* libpng checks it */
    big[29] = (uint8_t)(crc >> 24), big[30] = (uint8_t)(crc >> 16), big[31] = (uint8_t)(crc >> 8), big[32] = (uint8_t)crc;
    px_test_write_raw(path("huge.png"), big, sizeof big);
    CHECK(px_image_probe(path("huge.png"), NULL) == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("huge.png");
}

static void test_resize(void) {
    /* 2 x 2 -> 4 x 4, one channel: along each axis [a, b] becomes
     * [a, .75a + .25b, .25a + .75b, b] (half-pixel centres, edges clamped) */
    uint8_t src[4] = {0, 100, 200, 40};
    float out[16];
    CHECK_OK(px_image_resize_bilinear(src, 2, 2, 1, out, 4, 4));
    float row0[4] = {0, 25, 75, 100}, row3[4] = {200, 160, 80, 40};
    for (int x = 0; x < 4; x++) {
        CHECK_NEAR(out[x], row0[x], 1e-5);
        CHECK_NEAR(out[12 + x], row3[x], 1e-5);
        CHECK_NEAR(out[4 + x], 0.75 * row0[x] + 0.25 * row3[x], 1e-4);
        CHECK_NEAR(out[8 + x], 0.25 * row0[x] + 0.75 * row3[x], 1e-4);
    }
    /* 4 -> 2 along x: the mean of each pair */
    uint8_t wide[8] = {10, 20, 30, 50, 1, 3, 5, 7};
    float half[4];
    CHECK_OK(px_image_resize_bilinear(wide, 2, 4, 1, half, 2, 2));
    CHECK_NEAR(half[0], 15, 1e-5);
    CHECK_NEAR(half[1], 40, 1e-5);
    CHECK_NEAR(half[2], 2, 1e-5);
    CHECK_NEAR(half[3], 6, 1e-5);
    /* same size: an exact copy; channels interleaved stay apart */
    uint8_t rgb[6] = {1, 2, 3, 4, 5, 6};
    float same[6];
    CHECK_OK(px_image_resize_bilinear(rgb, 1, 2, 3, same, 1, 2));
    for (int i = 0; i < 6; i++) CHECK(same[i] == rgb[i]);
    float up[12];
    CHECK_OK(px_image_resize_bilinear(rgb, 1, 2, 3, up, 1, 4));
    CHECK_NEAR(up[3], 0.75 * 1 + 0.25 * 4, 1e-5); /* red of pixel 1 */
    CHECK_NEAR(up[5], 0.75 * 3 + 0.25 * 6, 1e-5); /* blue of pixel 1 */
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/px_image_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN_TEST(test_png_layouts);
    RUN_TEST(test_png16);
    RUN_TEST(test_jpeg);
    RUN_TEST(test_bad_files);
    RUN_TEST(test_resize);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return px_test_finish();
}
