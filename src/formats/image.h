/* Internal: PNG and JPEG files decoded to 8-bit pixels by libpng and
 * libjpeg-turbo, channel conversions, and TensorFlow's bilinear resize (the
 * one image_dataset_from_directory uses). Errors name the file. */
#ifndef PX_FORMATS_IMAGE_H
#define PX_FORMATS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "plexus/tensor.h"

typedef enum px_image_format { PX_IMAGE_UNKNOWN = 0, PX_IMAGE_PNG, PX_IMAGE_JPEG } px_image_format;

/* What a file's header says: size and channels as stored (1 gray, 2 gray and
 * alpha, 3 RGB, 4 RGBA; a palette counts as 3, or 4 with transparency). */
typedef struct px_image_info {
    px_image_format format;
    int width, height, channels;
} px_image_info;

/* Pixels, row-major (height, width, channels), 8 bits each; owned (free with
 * px_image_free). */
typedef struct px_image {
    int width, height, channels;
    uint8_t *pixels;
} px_image;

/* The format told by a file's first bytes (PX_IMAGE_UNKNOWN when neither). */
px_image_format px_image_sniff(const uint8_t *head, size_t n);

/* Reads only the header; a file that is no PNG or JPEG, or whose header is cut
 * short, is PX_ERR_FORMAT naming the file. */
px_status px_image_probe(const char *path, px_image_info *info);

/* Decodes a whole file to `channels` channels (1, 3 or 4; 0 keeps the stored
 * count, with gray and alpha becoming RGBA): gray is repeated into RGB, alpha
 * is dropped (not composited, as TensorFlow's decoders do) or added as 255,
 * color becomes gray as 0.299 R + 0.587 G + 0.114 B; 16-bit samples keep
 * their high byte; palettes are expanded. Corrupt or truncated data is
 * PX_ERR_FORMAT naming the file and the decoder's message. */
px_status px_image_decode(const char *path, int channels, px_image *out);
void px_image_free(px_image *img);

/* Converts 8-bit pixels from `cin` to `cout` channels (each of 1..4) as
 * px_image_decode does; dst holds count * cout bytes. */
void px_image_convert_channels(const uint8_t *src, int cin, uint8_t *dst, int cout, size_t count);

/* Resizes (h, w, c) bytes to (oh, ow, c) floats with TensorFlow 2's bilinear
 * resize (half-pixel centres, no antialiasing): the same size copies exactly.
 * Fails only when out of memory for its weight tables. */
px_status px_image_resize_bilinear(const uint8_t *src, int h, int w, int c, float *dst, int oh, int ow);

/* Encodes (height, width, channels) 8-bit pixels (channels 1 gray, 2 gray and
 * alpha, 3 RGB, 4 RGBA) as a PNG file in memory with libpng; *out is malloc'd
 * (caller frees) and holds *len bytes. PX_ERR_ARG for a bad size. */
px_status px_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **out, size_t *len);

#endif
