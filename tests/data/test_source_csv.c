/* The streaming CSV source (px_source_csv) against px_csv_read, which reads the
 * same files whole: the same examples batch by batch and epoch after epoch,
 * gzip'd or plain, the same errors naming line and column, and training on it
 * giving fit's weights on the arrays bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "px_test.h"

static char tmp_dir[64];

static const char *tmp_file(const char *name) {
    static char path[4][128];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", tmp_dir, name);
    return p;
}

static void write_text(const char *path, const char *text, bool gz) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (f) gzwrite(f, text, (unsigned)strlen(text)), gzclose(f);
        return;
    }
    FILE *f = fopen(path, "wb");
    if (f) fputs(text, f), fclose(f);
}

/* Every example of one epoch of s read in batches of `batch`: features into x,
 * labels into y (as floats); the count, or -1 on an error. */
static int64_t read_all(px_source *s, int batch, float *x, float *y, int64_t cap) {
    px_reader *r = px_reader_new(s, &(px_read_options){.batch_size = batch});
    const px_batch *b = NULL;
    int64_t n = 0;
    if (!r || px_reader_start(r) != PX_OK) n = -1;
    while (n >= 0 && px_reader_next(r, &b) == PX_OK && b) {
        int64_t per = px_tensor_size(&b->x[0]) / b->rows;
        for (int64_t i = 0; i < b->rows && n + i < cap; i++) {
            memcpy(x + (n + i) * per, px_tensor_f32(&b->x[0]) + i * per, (size_t)per * 4);
            if (b->n_y) y[n + i] = px_tensor_get_flat(&b->y[0], i);
        }
        n += b->rows;
    }
    if (n >= 0 && px_last_status() != PX_OK && !b) n = -1;
    px_reader_free(r);
    return n;
}

/* 23 rows of 3 features and a label, with a header and a blank line inside. */
static char *make_csv(void) {
    static char text[4096];
    int at = snprintf(text, sizeof text, "a,b,c,label\n");
    for (int i = 0; i < 23; i++) {
        at += snprintf(text + at, sizeof text - (size_t)at, "%g,%g,%g,%d\n", i * 0.5, -i * 0.25, (i % 5) * 1.5,
                       i % 3);
        if (i == 10) at += snprintf(text + at, sizeof text - (size_t)at, "  \n");
    }
    return text;
}

static void test_same_as_csv_read(void) {
    const px_csv_options o = {.header = true, .label_column = -1};
    for (int gz = 0; gz < 2; gz++) {
        const char *path = tmp_file(gz ? "t.csv.gz" : "t.csv");
        write_text(path, make_csv(), gz);
        px_dataset *d = NULL;
        CHECK_OK(px_csv_read(path, &o, &d));
        px_source *s = px_source_csv(path, &o);
        CHECK(s && d);
        if (!s || !d) {
            px_dataset_free(d);
            px_source_free(s);
            continue;
        }
        const px_source_spec *sp = px_source_get_spec(s);
        CHECK(px_source_size(s) == 23 && !px_source_random_access(s));
        CHECK(sp->n_x == 1 && sp->x[0].rank == 1 && sp->x[0].dim[0] == 3 && sp->n_y == 1 && sp->y_dtype[0] == PX_I32);
        float x[23 * 3], y[23];
        /* batches of 5 (the last 3), twice: every epoch reads the file again */
        for (int e = 0; e < 2; e++) {
            memset(x, 0, sizeof x);
            CHECK(read_all(s, 5, x, y, 23) == 23);
            CHECK(memcmp(x, d->x->data, sizeof x) == 0);
            int same = 1;
            for (int i = 0; i < 23; i++) same &= y[i] == (float)px_tensor_i32(d->y)[i];
            CHECK(same);
        }
        px_dataset_free(d);
        px_source_free(s);
    }
    /* float targets (regression) and no header, whitespace-separated */
    const char *p = tmp_file("r.txt");
    write_text(p, "1 2 0.5\n3 4 1.5\n5 6 -2.25\n", false);
    px_source *s = px_source_csv(p, &(px_csv_options){.label_column = -1, .float_labels = true, .delimiter = ' '});
    CHECK(s && px_source_get_spec(s)->y_dtype[0] == PX_F32 && px_source_get_spec(s)->y[0].dim[0] == 1);
    float x[6], y[3];
    CHECK(s && read_all(s, 2, x, y, 3) == 3 && x[5] == 6 && y[2] == -2.25f);
    px_source_free(s);
}

static void test_errors(void) {
    const char *p = tmp_file("bad.csv");
    /* a row with a field missing is found when the source is made, naming its line */
    write_text(p, "1,2,0\n3,4,1\n5,0\n", false);
    CHECK(px_source_csv(p, NULL) == NULL && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("line 3, column 3: missing field");
    /* a field that is no number when its batch is read */
    write_text(p, "1,2,0\n3,x4,1\n", false);
    px_source *s = px_source_csv(p, NULL);
    CHECK(s != NULL);
    float x[4], y[2];
    CHECK(s && read_all(s, 8, x, y, 2) == -1);
    CHECK_ERROR_HAS("line 2, column 2: 'x4' is not a number");
    px_source_free(s);
    /* a fractional label */
    write_text(p, "1,2,0\n3,4,1.5\n", false);
    s = px_source_csv(p, NULL);
    CHECK(s && read_all(s, 8, x, y, 2) == -1);
    CHECK_ERROR_HAS("line 2, column 3: the label 1.5 is not an integer");
    px_source_free(s);
    CHECK(px_source_csv(tmp_file("missing.csv"), NULL) == NULL && px_last_status() == PX_ERR_IO);
    CHECK(px_source_csv("-", NULL) == NULL && px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("standard input");
    write_text(p, "", false);
    CHECK(px_source_csv(p, NULL) == NULL);
    CHECK_ERROR_HAS("empty");
    CHECK(px_source_csv(NULL, NULL) == NULL && px_last_status() == PX_ERR_ARG);
}

/* fit on the stream, in file order, gives fit on the arrays (no shuffling) bit for bit;
 * shuffled through a buffer it still learns the rule. */
static void test_fit_on_a_stream(void) {
    const char *path = tmp_file("rule.csv.gz");
    char *text = malloc(64 * 400);
    int at = 0;
    uint64_t h = 7;
    for (int i = 0; i < 400; i++) {
        float v[2];
        for (int k = 0; k < 2; k++) {
            h = h * 6364136223846793005ull + 1442695040888963407ull;
            v[k] = (float)((h >> 40) % 2000) / 1000.0f - 1.0f;
        }
        at += snprintf(text + at, 64, "%.3f,%.3f,%d\n", v[0], v[1], v[0] + v[1] > 0);
    }
    write_text(path, text, true);
    free(text);
    px_model *m[2];
    for (int k = 0; k < 2; k++) {
        px_set_random_seed(5);
        m[k] = px_sequential((px_layer *[]){px_dense_ex(8, &(px_dense_options){.activation = PX_RELU,
                                                                              .input_shape = PX_SHAPE(2)}),
                                            px_dense(2, PX_SOFTMAX), NULL});
        CHECK_OK(px_model_compile(m[k], &(px_compile_options){.loss = PX_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                              .optimizer = px_adam(NULL), .metrics = {PX_ACCURACY}}));
    }
    px_fit_options fo = {.epochs = 3, .batch_size = 16, .no_shuffle = true, .verbose = PX_VERBOSE_SILENT};
    px_source *s = px_source_csv(path, NULL);
    px_dataset *d = NULL;
    CHECK_OK(px_csv_read(path, NULL, &d));
    CHECK_OK(px_model_fit_source(m[0], s, &fo));
    CHECK_OK(px_model_fit(m[1], d, &fo));
    px_tensor *a = px_model_predict(m[0], d->x, NULL), *b = px_model_predict(m[1], d->x, NULL);
    CHECK(a && b && px_tensor_equal(a, b));
    px_tensor_free(a), px_tensor_free(b);
    /* shuffled through a buffer, read ahead: 20 epochs learn x0 + x1 > 0 */
    s = px_source_prefetch(px_source_shuffle(s, 100, 3), 2);
    CHECK_OK(px_model_fit_source(m[0], s, &(px_fit_options){.epochs = 20, .batch_size = 16,
                                                            .verbose = PX_VERBOSE_SILENT}));
    px_logs logs = {0};
    double acc = 0;
    CHECK_OK(px_model_evaluate_source(m[0], s, &(px_eval_options){.verbose = PX_VERBOSE_SILENT}, &logs));
    CHECK(px_logs_get(&logs, "accuracy", &acc) && acc >= 0.95);
    /* a validation split needs random access */
    CHECK(px_model_fit_source(m[0], s, &(px_fit_options){.validation_split = 0.2f, .verbose = PX_VERBOSE_SILENT}) ==
          PX_ERR_ARG);
    CHECK_ERROR_HAS("random access");
    px_source_free(s);
    px_dataset_free(d);
    px_model_free(m[0]);
    px_model_free(m[1]);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/px_test_csv_XXXXXX");
    if (!mkdtemp(tmp_dir)) return 1;
    RUN_TEST(test_same_as_csv_read);
    RUN_TEST(test_errors);
    RUN_TEST(test_fit_on_a_stream);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
    return px_test_finish();
}
