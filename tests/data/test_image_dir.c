/* Image folders as sources (src/data/source_images.c): classes from sorted
 * subfolder names (hidden ones and non-image files left out, nested folders
 * entered), labels in every label mode, mixed sizes resized, gray and RGBA
 * files converted, the validation split with a seed, and the failures: a file
 * that is no image or is cut short, a folder with no images or no subfolders. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image_write.h"
#include "px_test.h"

static char root[64];

static const char *at(const char *rel) {
    static char buf[8][300];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 300, "%s/%s", root, rel);
    return p;
}

/* A flat image of one value per channel, so that every resize keeps it. */
static void flat(const char *rel, int w, int h, int c, const uint8_t *value, bool jpeg) {
    uint8_t *px = malloc((size_t)w * h * c);
    for (int i = 0; i < w * h; i++) memcpy(px + i * c, value, (size_t)c);
    if (jpeg) px_test_write_jpeg(at(rel), px, w, h, c, 100);
    else px_test_write_png(at(rel), px, w, h, c);
    free(px);
}

static void make_tree(void) {
    mkdir(at("set"), 0700);
    mkdir(at("set/cats"), 0700);
    mkdir(at("set/cats/sub"), 0700);
    mkdir(at("set/dogs"), 0700);
    mkdir(at("set/.hidden"), 0700);
    flat("set/cats/a.png", 4, 4, 3, (const uint8_t[]){10, 20, 30}, false);
    flat("set/cats/b.jpg", 6, 3, 3, (const uint8_t[]){200, 100, 50}, true); /* another size */
    flat("set/cats/sub/c.png", 5, 5, 1, (const uint8_t[]){90}, false);     /* gray, nested */
    flat("set/dogs/d.png", 4, 4, 4, (const uint8_t[]){1, 2, 3, 128}, false); /* RGBA */
    flat("set/dogs/e.PNG", 2, 9, 2, (const uint8_t[]){60, 7}, false);       /* gray + alpha, upper case */
    px_test_write_raw(at("set/dogs/notes.txt"), "not an image", 12);
    flat("set/.hidden/x.png", 4, 4, 3, (const uint8_t[]){0, 0, 0}, false);
}

/* The first pixel of each example of one epoch, in reading order. */
static int read_all(px_source *s, float *first_px, int32_t *labels, int cap) {
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 2});
    const px_batch *b;
    int n = 0;
    if (px_reader_start(r) != PX_OK) return -1;
    px_status st;
    while ((st = px_reader_next(r, &b)) == PX_OK && b) {
        int64_t per = px_tensor_size(&b->x[0]) / b->rows;
        for (int64_t i = 0; i < b->rows && n < cap; i++, n++) {
            first_px[n] = px_tensor_f32(&b->x[0])[i * per];
            if (labels && b->n_y) labels[n] = b->y[0].dtype == PX_I32 ? px_tensor_i32(&b->y[0])[i] : -1;
        }
    }
    px_reader_free(r);
    return st == PX_OK ? n : -1;
}

static void test_folder(void) {
    px_source *s = px_source_image_dir(at("set"), &(px_image_dir_options){.height = 8, .width = 8});
    CHECK_NOT_NULL(s);
    if (!s) return;
    CHECK(px_source_size(s) == 5 && px_source_random_access(s));
    CHECK(px_source_class_count(s) == 2);
    CHECK(!strcmp(px_source_class_name(s, 0), "cats") && !strcmp(px_source_class_name(s, 1), "dogs"));
    const px_source_spec *sp = px_source_get_spec(s);
    CHECK(px_shape_equal(sp->x[0], PX_SHAPE(8, 8, 3)) && sp->n_y == 1 && sp->y_dtype[0] == PX_I32);
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 5});
    const px_batch *b;
    CHECK_OK(px_reader_start(r));
    CHECK_OK(px_reader_next(r, &b));
    if (b) {
        CHECK(b->rows == 5);
        const float *x = px_tensor_f32(&b->x[0]);
        const int per = 8 * 8 * 3;
        /* cats: a.png, b.jpg, sub/c.png; dogs: d.png, e.PNG, each flat after resizing */
        float want[5][3] = {{10, 20, 30}, {200, 100, 50}, {90, 90, 90}, {1, 2, 3}, {60, 60, 60}};
        float tol[5] = {0, 3, 0, 0, 0};
        int32_t labels[5] = {0, 0, 0, 1, 1};
        for (int e = 0; e < 5; e++) {
            float worst = 0;
            for (int p = 0; p < 64; p++)
                for (int c = 0; c < 3; c++) {
                    float d = x[e * per + p * 3 + c] - want[e][c];
                    if (d < 0) d = -d;
                    if (d > worst) worst = d;
                }
            CHECK(worst <= tol[e]);
            CHECK(px_tensor_i32(&b->y[0])[e] == labels[e]);
        }
    }
    px_reader_free(r);
    px_source_free(s);
}

static void test_modes(void) {
    /* grayscale: luma of colour images */
    px_source *s = px_source_image_dir(at("set"), &(px_image_dir_options){.height = 3, .width = 3,
                                                                           .color_mode = PX_COLOR_GRAYSCALE});
    float px[8];
    int32_t lab[8];
    CHECK(read_all(s, px, lab, 8) == 5);
    CHECK_NEAR(px[0], 0.299 * 10 + 0.587 * 20 + 0.114 * 30, 0.5 + 1e-6);
    CHECK(px_shape_equal(px_source_get_spec(s)->x[0], PX_SHAPE(3, 3, 1)));
    px_source_free(s);
    /* RGBA keeps alpha (255 where there is none) */
    s = px_source_image_dir(at("set"), &(px_image_dir_options){.height = 2, .width = 2, .color_mode = PX_COLOR_RGBA,
                                                               .label_mode = PX_LABELS_CATEGORICAL});
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = 8});
    const px_batch *b;
    CHECK_OK(px_reader_start(r));
    CHECK_OK(px_reader_next(r, &b));
    if (b) {
        const float *x = px_tensor_f32(&b->x[0]);
        CHECK(x[3] == 255 && x[3 * 16 + 3] == 128 && x[4 * 16 + 3] == 7);
        CHECK(b->y[0].dtype == PX_F32 && b->y[0].shape[1] == 2);
        CHECK(px_tensor_f32(&b->y[0])[0] == 1 && px_tensor_f32(&b->y[0])[1] == 0);
        CHECK(px_tensor_f32(&b->y[0])[8] == 0 && px_tensor_f32(&b->y[0])[9] == 1);
    }
    px_reader_free(r);
    px_source_free(s);
    /* binary labels; no labels */
    s = px_source_image_dir(at("set"), &(px_image_dir_options){.height = 2, .width = 2, .label_mode = PX_LABELS_BINARY});
    CHECK(px_source_get_spec(s)->y_dtype[0] == PX_F32 && px_shape_equal(px_source_get_spec(s)->y[0], PX_SHAPE(1)));
    px_source_free(s);
    s = px_source_image_dir(at("set"), &(px_image_dir_options){.height = 2, .width = 2, .label_mode = PX_LABELS_NONE});
    CHECK(px_source_get_spec(s)->n_y == 0);
    px_source_free(s);
    /* class names given: their order is the labels' */
    const char *order[] = {"dogs", "cats", NULL};
    s = px_source_image_dir(at("set"), &(px_image_dir_options){.height = 2, .width = 2, .class_names = order});
    CHECK(read_all(s, px, lab, 8) == 5);
    CHECK(lab[0] == 0 && px[0] == 1 && lab[2] == 1 && px[2] == 10); /* dogs first now */
    px_source_free(s);
    const char *wrong[] = {"cats", "cows", NULL};
    CHECK(px_source_image_dir(at("set"), &(px_image_dir_options){.class_names = wrong}) == NULL);
    CHECK_ERROR_HAS("'cows'");
    const char *few[] = {"cats", NULL};
    CHECK(px_source_image_dir(at("set"), &(px_image_dir_options){.class_names = few}) == NULL);
}

static void test_split(void) {
    float all[8], tr[8], va[8];
    px_image_dir_options o = {.height = 2, .width = 2, .validation_split = 0.4f, .subset = PX_SUBSET_TRAINING, .seed = 1};
    px_source *t = px_source_image_dir(at("set"), &o);
    o.subset = PX_SUBSET_VALIDATION;
    px_source *v = px_source_image_dir(at("set"), &o);
    CHECK(px_source_size(t) == 3 && px_source_size(v) == 2); /* int(0.4 * 5) = 2 for validation, as Keras */
    CHECK(read_all(t, tr, NULL, 8) == 3 && read_all(v, va, NULL, 8) == 2);
    px_source *a = px_source_image_dir(at("set"), &(px_image_dir_options){.height = 2, .width = 2});
    CHECK(read_all(a, all, NULL, 8) == 5);
    /* disjoint, and together every file (each file's first pixel is distinct) */
    int hits[5] = {0};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            float x = j < 3 ? tr[j] : va[j - 3];
            if (x > all[i] - 4 && x < all[i] + 4) hits[i]++;
        }
    for (int i = 0; i < 5; i++) CHECK(hits[i] == 1);
    /* the same seed, the same split */
    o.subset = PX_SUBSET_TRAINING;
    px_source *t2 = px_source_image_dir(at("set"), &o);
    float tr2[8];
    CHECK(read_all(t2, tr2, NULL, 8) == 3 && memcmp(tr, tr2, 3 * sizeof *tr) == 0);
    px_source_free(t);
    px_source_free(t2);
    px_source_free(v);
    px_source_free(a);
    /* split and subset go together */
    CHECK(px_source_image_dir(at("set"), &(px_image_dir_options){.validation_split = 0.5f}) == NULL);
    CHECK(px_source_image_dir(at("set"), &(px_image_dir_options){.subset = PX_SUBSET_TRAINING}) == NULL);
}

static void test_failures(void) {
    /* a file that is no image, named when the source is made */
    mkdir(at("bad"), 0700);
    mkdir(at("bad/a"), 0700);
    flat("bad/a/ok.png", 4, 4, 3, (const uint8_t[]){1, 2, 3}, false);
    px_test_write_raw(at("bad/a/fake.png"), "GIF89a....", 10);
    CHECK(px_source_image_dir(at("bad"), NULL) == NULL);
    CHECK_ERROR_HAS("fake.png");
    remove(at("bad/a/fake.png"));
    /* a header cut short: named when the source is made */
    px_test_truncate_copy(at("bad/a/ok.png"), at("bad/a/cut.png"), 20);
    CHECK(px_source_image_dir(at("bad"), NULL) == NULL);
    CHECK_ERROR_HAS("cut.png");
    /* pixel data cut short: named when it is read */
    px_test_truncate_copy(at("bad/a/ok.png"), at("bad/a/cut.png"), -30);
    px_source *s = px_source_image_dir(at("bad"), &(px_image_dir_options){.height = 4, .width = 4});
    CHECK_NOT_NULL(s);
    float px[4];
    CHECK(read_all(s, px, NULL, 4) == -1);
    CHECK_ERROR_HAS("cut.png");
    CHECK_ERROR_HAS("truncated");
    px_source_free(s);
    /* prefetched: the same error, from the reading thread */
    s = px_source_prefetch(px_source_image_dir(at("bad"), &(px_image_dir_options){.height = 4, .width = 4}), 2);
    CHECK(read_all(s, px, NULL, 4) == -1);
    CHECK_ERROR_HAS("cut.png");
    px_source_free(s);
    /* no images at all; no subfolders; no folder */
    mkdir(at("none"), 0700);
    mkdir(at("none/a"), 0700);
    mkdir(at("none/b"), 0700);
    px_test_write_raw(at("none/a/readme.txt"), "x", 1);
    CHECK(px_source_image_dir(at("none"), NULL) == NULL);
    CHECK_ERROR_HAS("no PNG or JPEG files");
    mkdir(at("flat"), 0700);
    flat("flat/x.png", 2, 2, 3, (const uint8_t[]){1, 2, 3}, false);
    CHECK(px_source_image_dir(at("flat"), NULL) == NULL);
    CHECK_ERROR_HAS("no subfolders");
    CHECK(px_source_image_dir(at("missing"), NULL) == NULL);
    CHECK_ERROR_HAS("does not exist");
    /* binary labels need two classes; "bad" has one */
    remove(at("bad/a/cut.png"));
    CHECK(px_source_image_dir(at("bad"), &(px_image_dir_options){.label_mode = PX_LABELS_BINARY}) == NULL);
    CHECK_ERROR_HAS("exactly 2 classes");
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/px_imgdir_XXXXXX");
    if (!mkdtemp(root)) return 1;
    make_tree();
    RUN_TEST(test_folder);
    RUN_TEST(test_modes);
    RUN_TEST(test_split);
    RUN_TEST(test_failures);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return px_test_finish();
}
