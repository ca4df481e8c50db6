/* Speed of the JSON layer on a large model_config: the text Plexus writes for a
 * Sequential model of N layers (Dense, BatchNormalization and Dropout in turn),
 * parsed (px_json_parse), written back (px_json_write) and turned into a model
 * (px_model_from_json) and back into text (px_model_to_json). Medians of R runs.
 * Usage: bench_json [--layers N] [--reps R]
 * Prints "config_bytes B", "parse_us X", "parse_mb_per_s X", "write_us X",
 * "model_from_json_us X", "model_to_json_us X". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plexus/plexus.h>

#include "bench_util.h"
#include "formats/json.h"

static int fail(const char *what) {
    fprintf(stderr, "bench_json: %s: %s\n", what, px_last_error());
    return 1;
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, by_value);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

enum { MAX_REPS = 1000 };

int main(int argc, char **argv) {
    if (bench_help(argc, argv, "usage: bench_json [--layers N] [--reps R]\n")) return 0;
    int layers = 100, reps = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--layers")) layers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else return fprintf(stderr, "bench_json: unknown option %s\n", argv[i]), 2;
    }
    if (layers < 1 || layers > 100000 || reps < 1 || reps > MAX_REPS)
        return fprintf(stderr, "bench_json: bad --layers/--reps\n"), 2;
    px_model *m = px_sequential(NULL);
    for (int i = 0; m && i < layers; i++) {
        px_layer *l = i % 3 == 0 ? px_dense(64, PX_RELU) : i % 3 == 1 ? px_batch_normalization() : px_dropout_layer(0.1f);
        if (px_sequential_add(m, l) != PX_OK) return fail("add");
    }
    char *text = NULL;
    if (!m || px_model_build(m, PX_SHAPE(64)) != PX_OK || px_model_to_json(m, &text) != PX_OK) return fail("model");
    size_t len = strlen(text);
    printf("plexus json, %d-layer model_config\nconfig_bytes %zu\n", layers, len);

    static double t[MAX_REPS];
    px_json *tree = NULL;
    for (int r = -1; r < reps; r++) { /* -1: warm-up */
        double t0 = now();
        px_json *j = NULL;
        if (px_json_parse(text, len, &j) != PX_OK) return fail("parse");
        double dt = now() - t0;
        if (r >= 0) t[r] = dt;
        if (tree) px_json_free(j);
        else tree = j;
    }
    double parse = median(t, reps);
    printf("parse_us %.1f\nparse_mb_per_s %.1f\n", parse * 1e6, (double)len / parse / 1e6);

    for (int r = -1; r < reps; r++) {
        char *out = NULL;
        double t0 = now();
        if (px_json_write(tree, &out) != PX_OK) return fail("write");
        double dt = now() - t0;
        if (strcmp(out, text) != 0) return fprintf(stderr, "bench_json: written text differs\n"), 1;
        free(out);
        if (r >= 0) t[r] = dt;
    }
    printf("write_us %.1f\n", median(t, reps) * 1e6);

    int model_reps = reps < 50 ? reps : 50; /* building layers dominates here */
    for (int r = -1; r < model_reps; r++) {
        double t0 = now();
        px_model *back = px_model_from_json(text, len);
        double dt = now() - t0;
        if (!back) return fail("from_json");
        px_model_free(back);
        if (r >= 0) t[r] = dt;
    }
    printf("model_from_json_us %.1f\n", median(t, model_reps) * 1e6);

    for (int r = -1; r < model_reps; r++) {
        char *out = NULL;
        double t0 = now();
        if (px_model_to_json(m, &out) != PX_OK) return fail("to_json");
        double dt = now() - t0;
        free(out);
        if (r >= 0) t[r] = dt;
    }
    printf("model_to_json_us %.1f\n", median(t, model_reps) * 1e6);
    px_json_free(tree);
    free(text);
    px_model_free(m);
    return 0;
}
