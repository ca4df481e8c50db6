/* The `plexus` command's data as sources: Fashion-MNIST with its pixels kept as
 * bytes, files loaded (and borrowed by sources), image folders read as sources,
 * the check that the examples fit the model, and the progress line of long loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_common.h"

/* ---- progress of long loads ---- */

typedef struct load_line {
    char what[128];
    double start;
    bool shown;
} load_line;

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* "Reading image headers: 1200/5000" redrawn in place once a load has taken
 * half a second; a short load shows nothing. */
static void show_progress(void *user, const char *what, int64_t done, int64_t total) {
    load_line *l = user;
    double now = seconds();
    if (strcmp(l->what, what) != 0) {
        snprintf(l->what, sizeof l->what, "%s", what);
        l->start = now;
        l->shown = false;
    }
    if (!l->shown && now - l->start < 0.5) return;
    l->shown = true;
    if (total >= 0) fprintf(stderr, "\r%s: %lld/%lld", what, (long long)done, (long long)total);
    else fprintf(stderr, "\r%s: %lld", what, (long long)done);
    if (done == total) {
        fputc('\n', stderr);
        l->what[0] = '\0';
    }
    fflush(stderr);
}

void cli_show_load_progress(bool on) {
    static load_line line;
    px_set_load_progress(on ? show_progress : NULL, &line);
}

/* ---- sources ---- */

void cli_sources_free(cli_sources *s) {
    px_source_free(s->train);
    px_source_free(s->valid);
    px_source_free(s->test);
    for (int i = 0; i < 3; i++) px_dataset_free(s->held[i]);
    memset(s, 0, sizeof *s);
}

/* The first `limit` examples of a source (limit 0: all of them). */
static px_status limited(px_source **s, long limit) {
    if (!*s || limit <= 0 || px_source_size(*s) <= limit) return PX_OK;
    *s = px_source_take(*s, 0, limit);
    return *s ? PX_OK : px_last_status();
}

/* An image folder as the command line describes it. */
static px_source *image_folder(const cli_data *d, const char *dir, px_subset subset, double split, uint64_t seed,
                               const char *const *classes) {
    px_image_dir_options o = {.height = d->image_h, .width = d->image_w, .color_mode = d->color_mode,
                              .label_mode = d->image_labels,
                              .class_names = classes, .subset = subset, .seed = seed,
                              .validation_split = subset == PX_SUBSET_ALL ? 0.0f : (float)split};
    return px_source_image_dir(dir, &o);
}

/* The class names of a source as a NULL-terminated list (caller frees the list). */
static const char **class_list(const px_source *s) {
    int k = px_source_class_count(s);
    const char **v = calloc((size_t)k + 1, sizeof *v);
    for (int i = 0; v && i < k; i++) v[i] = px_source_class_name(s, i);
    return v;
}

static px_status image_sources(const cli_data *d, bool want_train, bool want_test, double split, uint64_t seed,
                               bool quiet, cli_sources *out) {
    const char **classes = NULL;
    if (d->images && want_train) {
        out->train = image_folder(d, d->images, split > 0 ? PX_SUBSET_TRAINING : PX_SUBSET_ALL, split, seed, NULL);
        if (out->train && split > 0)
            out->valid = image_folder(d, d->images, PX_SUBSET_VALIDATION, split, seed, NULL);
        if (!out->train || (split > 0 && !out->valid)) return px_last_status();
        if (!quiet) {
            int64_t n = px_source_size(out->train) + (out->valid ? px_source_size(out->valid) : 0);
            printf("Found %lld files belonging to %d classes.\n", (long long)n, px_source_class_count(out->train));
            if (out->valid)
                printf("Using %lld files for training, %lld for validation.\n", (long long)px_source_size(out->train),
                       (long long)px_source_size(out->valid));
        }
        if (!(classes = class_list(out->train))) return px_set_error(PX_ERR_NOMEM, "out of memory");
    }
    if (d->test_images && want_test) {
        /* the training folder's classes, so that a label means the same class in both */
        out->test = image_folder(d, d->test_images, PX_SUBSET_ALL, 0, seed, classes);
        if (!out->test) {
            free(classes);
            return px_last_status();
        }
        if (!quiet)
            printf("Found %lld test files belonging to %d classes.\n", (long long)px_source_size(out->test),
                   px_source_class_count(out->test));
    }
    free(classes);
    return PX_OK;
}

/* Keras's make_csv_dataset shuffles through a buffer of this many rows. */
#define CSV_SHUFFLE_BUFFER 10000

/* Whether a CSV file is streamed: asked for, or too large to hold (its size on
 * disk, times 8 when gzip'd, over half of the memory Plexus may use). */
static bool stream_csv(const cli_data *d, const char *path, bool quiet) {
    if (d->csv_stream) return true;
    struct stat sb;
    if (strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return false;
    size_t n = strlen(path);
    uint64_t bytes = (uint64_t)sb.st_size * (n > 3 && strcmp(path + n - 3, ".gz") == 0 ? 8 : 1);
    uint64_t limit = px_memory_limit();
    if (bytes <= limit / 2) return false;
    if (!quiet)
        printf("Note: %s (%.0f MB) is larger than half the memory available (%.0f MB): it is streamed "
               "(--csv-stream)\n", path, (double)bytes / 1e6, (double)limit / 1e6);
    return true;
}

/* A CSV file as a streaming source: shuffled through a buffer when it trains,
 * read ahead on a thread. */
static px_source *csv_stream_source(const cli_data *d, const char *path, bool train, uint64_t seed) {
    px_csv_options o = {.header = d->header, .label_column = d->label_column, .float_labels = d->regression};
    px_source *s = px_source_csv(path, &o);
    if (s && train) s = px_source_shuffle(s, CSV_SHUFFLE_BUFFER, seed);
    return s ? px_source_prefetch(s, 2) : NULL;
}

/* The CSV files that are streamed, as sources; the others are left to cli_data_load. */
static px_status csv_sources(const cli_data *d, bool want_train, bool want_test, uint64_t seed, bool quiet,
                             cli_data *rest, cli_sources *out) {
    if (want_train && d->train_csv && stream_csv(d, d->train_csv, quiet)) {
        if (!(out->train = csv_stream_source(d, d->train_csv, true, seed))) return px_last_status();
        rest->train_csv = NULL;
    }
    if (want_test && d->test_csv && stream_csv(d, d->test_csv, quiet)) {
        if (!(out->test = csv_stream_source(d, d->test_csv, false, seed))) return px_last_status();
        rest->test_csv = NULL;
    }
    return PX_OK;
}

px_status cli_data_sources(const cli_data *d, bool keep_all, bool want_train, bool want_test, double validation_split,
                           uint64_t seed, bool quiet, cli_sources *out) {
    memset(out, 0, sizeof *out);
    px_status st = PX_OK;
    if (d->images || d->test_images) st = image_sources(d, want_train, want_test, validation_split, seed, quiet, out);
    cli_data held = *d; /* what is read into memory */
    if (st == PX_OK && (d->train_csv || d->test_csv)) st = csv_sources(d, want_train, want_test, seed, quiet, &held, out);
    d = &held;
    bool files = d->train_idx[0] || d->train_csv || d->test_idx[0] || d->test_csv;
    if (st == PX_OK && d->fashion) /* pixels kept as bytes: 55 MB instead of 219 */
        st = px_fashion_mnist_sources(d->dir, keep_all || !want_train ? 60000 : 55000, &out->train,
                                      keep_all || !want_train ? NULL : &out->valid, want_test ? &out->test : NULL);
    if (st == PX_OK && files) {
        st = cli_data_load(d, keep_all, want_train && !d->images ? &out->held[0] : NULL,
                           want_train && !d->images ? &out->held[1] : NULL,
                           want_test && !d->test_images ? &out->held[2] : NULL);
        px_source **to[3] = {&out->train, &out->valid, &out->test};
        for (int i = 0; st == PX_OK && i < 3; i++)
            if (out->held[i] && !(*to[i] = px_source_dataset(out->held[i]))) st = px_last_status();
    }
    if (st == PX_OK) st = limited(&out->train, d->limit);
    if (st == PX_OK) st = limited(&out->valid, d->limit);
    if (st == PX_OK) st = limited(&out->test, d->limit);
    if (st != PX_OK) cli_sources_free(out);
    return st;
}

const char *cli_source_class_name(const cli_data *d, const px_source *s, int label, char *buf, size_t len) {
    const char *name = s ? px_source_class_name(s, label) : NULL;
    if (name) return name;
    return cli_class_name(d, label, buf, len);
}

px_status cli_check_source_fits(px_model *m, px_source *s, const char *what) {
    return s ? cli_check_example_shape(m, px_source_get_spec(s)->x[0], what) : PX_OK;
}
