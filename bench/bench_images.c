/* The image pipeline: a folder of JPEG photographs-sized files (written here,
 * or given) decoded and resized by px_source_image_dir, then a small ConvNet
 * with augmentation layers (RandomFlip, RandomRotation, RandomZoom) trained on
 * them. Measures, per repetition, one epoch of:
 *   read      decoding and resizing alone (no model)
 *   memory    training on the images held in memory (px_source_cache, second epoch)
 *   serial    training, reading in the training thread
 *   prefetch  training, reading ahead on a background thread (px_source_prefetch)
 * and prints images/s for each and the share of the decoding time hidden
 * behind training: (serial - prefetch) / read.
 * Usage: bench_images [--images N] [--size WxH] [--target S] [--reps R] [--dir DIR] [--threads T] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <plexus/plexus.h>

#include "bench_util.h"

/* A JPEG of smooth colour gradients and noise, like a photograph to the decoder. */
static int write_jpeg(const char *path, int w, int h, unsigned seed) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    unsigned char *px = malloc((size_t)w * h * 3);
    px_rng r = px_rng_seeded(seed);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                px[((size_t)y * w + x) * 3 + c] =
                    (unsigned char)((x * (c + 1) * 255 / w + y * (3 - c) * 255 / h) / 4 + px_rng_below(&r, 64));
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr err;
    cinfo.err = jpeg_std_error(&err);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w, cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = 3, cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 90, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = px + (size_t)cinfo.next_scanline * w * 3;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(px);
    return fclose(f);
}

static int make_folder(const char *dir, int n, int w, int h) {
    char path[4096];
    mkdir(dir, 0700);
    for (int c = 0; c < 4; c++) {
        snprintf(path, sizeof path, "%s/class%d", dir, c);
        mkdir(path, 0700);
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/class%d/%05d.jpg", dir, i % 4, i);
        if (write_jpeg(path, w, h, (unsigned)i) != 0) return -1;
    }
    return 0;
}

static px_model *convnet(int s) {
    px_set_random_seed(3);
    px_conv_options same = {.padding = PX_PADDING_SAME, .activation = PX_RELU};
    px_model *m = px_sequential((px_layer *[]){
        px_input_layer(PX_SHAPE(s, s, 3), NULL),
        px_rescaling_layer(1.0f / 255, 0),
        px_random_flip_layer(PX_FLIP_HORIZONTAL, NULL),
        px_random_rotation_layer(PX_FACTOR(0.1f), NULL),
        px_random_zoom_layer(PX_FACTOR(0.1f), NULL, NULL),
        px_conv2d_layer(8, 3, 3, &same),
        px_max_pooling2d(2, 2, NULL),
        px_conv2d_layer(16, 3, 3, &same),
        px_max_pooling2d(2, 2, NULL),
        px_flatten(PX_SCALAR),
        px_dense(4, PX_SOFTMAX),
        NULL});
    px_model_compile(m, &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = px_adam(NULL)});
    return m;
}

/* Seconds of one training epoch on s (the last of `epochs`). */
static double train_epoch(px_source *s, int target, int epochs) {
    px_model *m = convnet(target);
    double t0 = 0, t = 0;
    for (int e = 0; e < epochs; e++) {
        t0 = now();
        if (px_model_fit_source(m, s, &(px_fit_options){.epochs = 1, .batch_size = 32,
                                                        .verbose = PX_VERBOSE_SILENT}) != PX_OK) {
            fprintf(stderr, "bench_images: %s\n", px_last_error());
            exit(1);
        }
        t = now() - t0;
    }
    px_model_free(m);
    return t;
}

static double read_epoch(px_source *s) {
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 32, .shuffle = true, .seed = 1});
    const px_batch *b;
    double t0 = now();
    px_reader_start(r);
    while (px_reader_next(r, &b) == PX_OK && b) {}
    double t = now() - t0;
    px_reader_free(r);
    return t;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    if (bench_help(argc, argv,
                   "usage: bench_images [--images N] [--size WxH] [--target S] [--reps R] [--dir DIR] [--threads T]\n"))
        return 0;
    int n = 1000, w = 320, h = 240, target = 64, reps = 3, threads = 1;
    const char *given = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--images")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) sscanf(argv[i + 1], "%dx%d", &w, &h);
        else if (!strcmp(argv[i], "--target")) target = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir")) given = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else return fprintf(stderr, "bench_images: unknown option %s\n", argv[i]), 2;
    }
    if (n < 4 || reps < 1 || reps > 50 || target < 8) return fprintf(stderr, "bench_images: bad options\n"), 2;
    px_set_num_threads(threads);
    char dir[64] = "/tmp/px_bench_images_XXXXXX";
    if (!given) {
        if (!mkdtemp(dir) || make_folder(dir, n, w, h) != 0) return fprintf(stderr, "bench_images: cannot write images\n"), 1;
    }
    const char *folder = given ? given : dir;
    px_image_dir_options o = {.height = target, .width = target};
    px_source *plain = px_source_image_dir(folder, &o);
    px_source *ahead = px_source_prefetch(px_source_image_dir(folder, &o), 4);
    px_source *cached = px_source_cache(px_source_image_dir(folder, &o));
    if (!plain || !ahead || !cached) return fprintf(stderr, "bench_images: %s\n", px_last_error()), 1;
    n = (int)px_source_size(plain);
    double rd[50], mem[50], ser[50], pre[50];
    read_epoch(cached); /* fills the cache */
    for (int r = 0; r < reps; r++) {
        rd[r] = read_epoch(plain);
        mem[r] = train_epoch(cached, target, 2);
        ser[r] = train_epoch(plain, target, 1);
        pre[r] = train_epoch(ahead, target, 1);
    }
    double trd = median(rd, reps), tmem = median(mem, reps), tser = median(ser, reps), tpre = median(pre, reps);
    printf("bench_images: %d JPEG files %dx%d -> %dx%dx3, ConvNet with RandomFlip/RandomRotation/RandomZoom, batch 32, "
           "%d training thread(s), median of %d\n", n, w, h, target, target, threads, reps);
    printf("read      %7.3f s  %8.0f images/s  (decode and resize only)\n", trd, n / trd);
    printf("memory    %7.3f s  %8.0f images/s  (training on cached images)\n", tmem, n / tmem);
    printf("serial    %7.3f s  %8.0f images/s  (decode, augment, train in one thread)\n", tser, n / tser);
    printf("prefetch  %7.3f s  %8.0f images/s  (decoding on a background thread)\n", tpre, n / tpre);
    printf("hidden    %7.1f %%  of the decode time ((serial - prefetch) / read)\n", 100 * (tser - tpre) / trd);
    px_source_free(plain);
    px_source_free(ahead);
    px_source_free(cached);
    if (!given) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "bench_images: could not remove %s\n", dir);
    }
    return 0;
}
