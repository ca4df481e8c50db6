/* `plexus train --images DIR`: an image folder (written here as PNGs), the
 * default image model with --augment layers, evaluate on a test folder (read
 * at the model's input size), predict on a CSV of flattened images (reshaped
 * to the model's (8, 8, 1) input), and the usage errors of the image options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "image_write.h"
#include "px_test.h"
#include "plexus/rng.h"

#define SIDE 8
#define PER_CLASS 20

/* Two classes told apart by brightness: "dark" pixels in [0, 90), "light" in [165, 255). */
static void write_folder(const char *name, uint64_t seed, FILE *csv) {
    static const char *const classes[2] = {"dark", "light"};
    char path[512];
    snprintf(path, sizeof path, "%s", cli_path(name));
    mkdir(path, 0700);
    px_rng r = px_rng_seeded(seed);
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/%s", cli_path(name), classes[c]);
        mkdir(path, 0700);
        for (int i = 0; i < PER_CLASS; i++) {
            uint8_t px[SIDE * SIDE];
            for (int k = 0; k < SIDE * SIDE; k++) px[k] = (uint8_t)(c * 165 + (int)px_rng_below(&r, 90));
            char file[600];
            snprintf(file, sizeof file, "%s/%02d.png", path, i);
            CHECK(px_test_write_png(file, px, SIDE, SIDE, 1));
            for (int k = 0; csv && k < SIDE * SIDE; k++) fprintf(csv, "%d,", px[k]);
            if (csv) fprintf(csv, "%d\n", c);
        }
    }
}

static void test_image_folder(void) {
    write_folder("train", 1, NULL);
    FILE *csv = fopen(cli_path("test.csv"), "w");
    CHECK(csv != NULL);
    if (!csv) return;
    write_folder("test", 2, csv);
    fclose(csv);

    CHECK(cli_run("train --images train --test-images test --image-size 8x8 --color-mode grayscale "
                  "--augment flip,contrast:0.1 --validation-split 0.25 --epochs 12 --batch-size 8 "
                  "--learning-rate 0.01 --seed 3 -v 2 -o img.h5") == 0);
    CHECK(strstr(cli_out, "Found 40 files belonging to 2 classes.") != NULL);
    CHECK(strstr(cli_out, "Using 30 files for training, 10 for validation.") != NULL);
    CHECK(strstr(cli_out, "Found 40 test files belonging to 2 classes.") != NULL);
    /* Keras wraps names longer than the column */
    CHECK(strstr(cli_out, "random_flip (RandomFlip)") && strstr(cli_out, "random_contrast (RandomCon"));
    CHECK(strstr(cli_out, "predicted dark, true dark") != NULL); /* class names from the folders */
    double acc = cli_value_after(cli_out, "test accuracy: ");
    printf("image folder: test accuracy %.4f after 12 epochs\n", acc);
    CHECK(acc >= 0.9);

    /* the test folder read at the model's input size and channels */
    CHECK(cli_run("evaluate img.h5 --test-images test") == 0 && strstr(cli_out, "examples: 40"));
    CHECK_NEAR(cli_value_after(cli_out, "accuracy: "), acc, 1e-4);
    /* 64 pixel columns feed the (8, 8, 1) input; the Rescaling layer scales them as it did the PNGs */
    CHECK(cli_run("predict img.h5 --csv test.csv --label-column -1 --classes -o classes.csv") == 0);
    char *classes = cli_slurp(cli_path("classes.csv"));
    int right = 0, lines = 0;
    for (char *p = strchr(classes, '\n'); p && p[1]; p = strchr(p + 1, '\n'), lines++)
        right += (p[1] - '0') == (lines >= PER_CLASS);
    free(classes);
    CHECK(lines == 2 * PER_CLASS);
    CHECK_NEAR(right / (double)(2 * PER_CLASS), acc, 1e-4);
    /* with the label counted as a feature, 65 columns do not fit */
    CHECK(cli_run("predict img.h5 --csv test.csv") == 1 && cli_one_line_error("(65 features)"));
}

static void test_image_usage(void) {
    CHECK(cli_run("train --images train --augment spin:0.1") == 2 && cli_one_line_error("unknown layer 'spin'"));
    CHECK(cli_run("train --images train --augment rotate") == 2 && cli_one_line_error("needs a factor"));
    CHECK(cli_run("train --images train --augment flip:sideways") == 2 && cli_one_line_error("sideways"));
    CHECK(cli_run("train --augment flip") == 2 && cli_one_line_error("--augment"));
    CHECK(cli_run("train --images train --image-size 0x5") == 2 && cli_one_line_error("--image-size"));
    CHECK(cli_run("train --images train --color-mode sepia") == 2 && cli_one_line_error("sepia"));
    CHECK(cli_run("train --train-csv x.csv --image-size 8x8") == 2 && cli_one_line_error("image folders"));
    CHECK(cli_run("train --images no_such_folder --epochs 1") == 1 && cli_one_line_error("no_such_folder"));
}

int main(int argc, char **argv) {
    (void)argc;
    if (!cli_setup(argv[0])) return 1;
    RUN_TEST(test_image_folder);
    RUN_TEST(test_image_usage);
    cli_teardown();
    return px_test_finish();
}
