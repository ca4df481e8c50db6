/* Datasets: the IDX and CSV readers on good, corrupt and truncated files, the
 * bundled CSV datasets, Fashion-MNIST, and the dataset and preprocessing helpers. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "px_test.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static char tmp_dir[64];
static char created[128][256];
static int n_created;

/* A path in the test's temporary directory, remembered for the cleanup. */
static const char *tmp_path(const char *name) {
    char *p = created[n_created < 128 ? n_created++ : 127];
    snprintf(p, sizeof created[0], "%s/%s", tmp_dir, name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n, int gz) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f) {
            px_test_fail(__FILE__, __LINE__, "cannot write %s", path);
            return;
        }
        if (n) gzwrite(f, data, (unsigned)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f) {
            px_test_fail(__FILE__, __LINE__, "cannot write %s", path);
            return;
        }
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static void write_text(const char *path, const char *text, int gz) { write_bytes(path, text, strlen(text), gz); }

static void put_be(uint8_t *p, uint64_t v, int size) {
    for (int i = 0; i < size; i++) p[i] = (uint8_t)(v >> (8 * (size - 1 - i)));
}

/* An IDX image of `count` elements given as doubles; returns the byte count. */
static size_t make_idx(uint8_t *buf, int code, int ndims, const uint32_t *dims, const double *v, int count) {
    size_t n = 0;
    buf[n++] = 0;
    buf[n++] = 0;
    buf[n++] = (uint8_t)code;
    buf[n++] = (uint8_t)ndims;
    for (int i = 0; i < ndims; i++, n += 4) put_be(buf + n, dims[i], 4);
    for (int i = 0; i < count; i++) {
        switch (code) {
        case 0x08: buf[n++] = (uint8_t)v[i]; break;
        case 0x09: buf[n++] = (uint8_t)(int8_t)v[i]; break;
        case 0x0B: put_be(buf + n, (uint16_t)(int16_t)v[i], 2), n += 2; break;
        case 0x0C: put_be(buf + n, (uint32_t)(int32_t)v[i], 4), n += 4; break;
        case 0x0D: {
            float f = (float)v[i];
            uint32_t b;
            memcpy(&b, &f, 4);
            put_be(buf + n, b, 4), n += 4;
            break;
        }
        default: {
            uint64_t b;
            memcpy(&b, &v[i], 8);
            put_be(buf + n, b, 8), n += 8;
        }
        }
    }
    return n;
}

/* ---------------- IDX ---------------- */

static void test_idx_round_trips_every_type(void) {
    static const struct {
        int code;
        double v[6];
        int integral;
    } cases[] = {
        {0x08, {0, 1, 127, 128, 254, 255}, 1},
        {0x09, {-128, -1, 0, 1, 5, 127}, 1},
        {0x0B, {-32768, -1, 0, 1, 300, 32767}, 1},
        {0x0C, {INT32_MIN, -1, 0, 1, 70000, INT32_MAX}, 1},
        {0x0D, {-1.5, 0, 0.25, 3, 1e10, -2}, 0},
        {0x0E, {-1.5, 0, 0.1, 3, 1e-30, -2e20}, 0},
    };
    uint8_t buf[128];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int gz = 0; gz < 2; gz++) {
            char name[64];
            snprintf(name, sizeof name, "type%02x%s.idx", cases[c].code, gz ? ".gz" : "");
            const char *path = tmp_path(name);
            uint32_t dims[3] = {2, 1, 3};
            write_bytes(path, buf, make_idx(buf, cases[c].code, 3, dims, cases[c].v, 6), gz);
            px_tensor *t = NULL;
            CHECK_OK(px_idx_read(path, PX_F32, &t));
            if (!t) continue;
            CHECK(t->dtype == PX_F32 && t->rank == 3 && t->shape[0] == 2 && t->shape[1] == 1 &&
                  t->shape[2] == 3);
            for (int i = 0; i < 6; i++) CHECK(px_tensor_f32(t)[i] == (float)cases[c].v[i]);
            px_tensor_free(t);
            t = NULL;
            px_status st = px_idx_read(path, PX_I32, &t);
            if (cases[c].integral) {
                CHECK(st == PX_OK);
                for (int i = 0; t && i < 6; i++) CHECK(px_tensor_i32(t)[i] == (int32_t)cases[c].v[i]);
            } else {
                /* -1.5 cannot become an int32 */
                CHECK(st == PX_ERR_FORMAT && t == NULL);
                CHECK_ERROR_HAS("not an int32");
                CHECK_ERROR_HAS("at offset 16");
                CHECK_ERROR_HAS(path);
            }
            px_tensor_free(t);
        }
    }
    /* integral floats may be read as int32; rank 1 and rank 0 shapes */
    const double iv[4] = {3, -7, 0, 1e6};
    uint32_t d1 = 4;
    const char *path = tmp_path("intfloats.idx");
    write_bytes(path, buf, make_idx(buf, 0x0D, 1, &d1, iv, 4), 0);
    px_tensor *t = NULL;
    CHECK_OK(px_idx_read(path, PX_I32, &t));
    CHECK(t && t->rank == 1 && t->shape[0] == 4 && px_tensor_i32(t)[1] == -7 &&
          px_tensor_i32(t)[3] == 1000000);
    px_tensor_free(t);
    path = tmp_path("scalar.idx");
    write_bytes(path, buf, make_idx(buf, 0x0C, 0, NULL, iv + 1, 1), 1);
    CHECK_OK(px_idx_read(path, PX_F32, &t));
    CHECK(t && t->rank == 0 && px_tensor_f32(t)[0] == -7.0f);
    px_tensor_free(t);
    CHECK(px_idx_read(path, (px_dtype)7, &t) == PX_ERR_ARG);
}

/* Reads `path`, expecting `status` with every needle in the message and no tensor. */
static void expect_idx_error(const char *path, px_status status, const char *n1, const char *n2) {
    px_tensor *t = (px_tensor *)&t; /* must be reset to NULL */
    px_status st = px_idx_read(path, PX_F32, &t);
    if (st != status)
        px_test_fail(__FILE__, __LINE__, "%s: status %s, expected %s (%s)", path, px_status_name(st),
                     px_status_name(status), px_last_error());
    else px_test_passed++;
    CHECK(t == NULL);
    CHECK_ERROR_HAS(path);
    if (n1) CHECK_ERROR_HAS(n1);
    if (n2) CHECK_ERROR_HAS(n2);
}

static void test_idx_corrupt_files(void) {
    uint8_t buf[256], big[64];
    const double v[6] = {1, 2, 3, 4, 5, 6};
    uint32_t dims[2] = {2, 3};
    size_t n = make_idx(buf, 0x08, 2, dims, v, 6); /* 12-byte header + 6 bytes */
    for (int gz = 0; gz < 2; gz++) {
        char name[64];
#define P(base) (snprintf(name, sizeof name, "%s%s", base, gz ? ".gz" : ""), tmp_path(name))
        const char *p = P("empty");
        write_bytes(p, buf, 0, gz);
        expect_idx_error(p, PX_ERR_FORMAT, "empty", "offset 0");

        p = P("short_magic");
        write_bytes(p, buf, 2, gz);
        expect_idx_error(p, PX_ERR_FORMAT, "truncated header at offset 2", "found 2 bytes");

        p = P("short_dims");
        write_bytes(p, buf, 8, gz);
        expect_idx_error(p, PX_ERR_FORMAT, "truncated header at offset 8",
                         "expected 8 bytes of dimensions after offset 4, found 4");

        p = P("bad_magic");
        memcpy(big, buf, n);
        big[0] = 0x50;
        big[1] = 0x4b;
        write_bytes(p, big, n, gz);
        expect_idx_error(p, PX_ERR_FORMAT, "bad magic at offset 0", "found 50 4b 08 02");

        p = P("bad_type");
        memcpy(big, buf, n);
        big[2] = 0x0A;
        write_bytes(p, big, n, gz);
        expect_idx_error(p, PX_ERR_FORMAT, "unknown type code 0x0a at offset 2", NULL);

        p = P("many_dims");
        memcpy(big, buf, n);
        big[3] = 9;
        write_bytes(p, big, n, gz);
        expect_idx_error(p, PX_ERR_FORMAT, "9 dimensions at offset 3", "at most 8");

        p = P("short_data");
        write_bytes(p, buf, n - 2, gz);
        expect_idx_error(p, PX_ERR_FORMAT, "truncated data at offset 16",
                         "expected 6 bytes of data after the 12-byte header, found 4");

        p = P("trailing");
        memcpy(big, buf, n);
        memcpy(big + n, "xyz", 3);
        write_bytes(p, big, n + 3, gz);
        expect_idx_error(p, PX_ERR_FORMAT, "3 bytes of unexpected data at offset 18", NULL);

        p = P("negative_dim");
        memcpy(big, buf, n);
        put_be(big + 8, 0x80000000u, 4);
        write_bytes(p, big, n, gz);
        expect_idx_error(p, PX_ERR_FORMAT, "dimension 1 at offset 8", "negative");

        /* dims whose product overflows, and a product that only a corrupt header could claim */
        p = P("overflow_dims");
        uint32_t huge[4] = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
        write_bytes(p, big, make_idx(big, 0x0E, 4, huge, v, 0), gz);
        expect_idx_error(p, PX_ERR_FORMAT, "(2147483647, 2147483647, 2147483647, 2147483647)",
                         "more than 2^40 elements");
        p = P("absurd_dims");
        uint32_t large[2] = {60000, 60000};
        write_bytes(p, big, make_idx(big, 0x08, 2, large, v, 0), gz);
        expect_idx_error(p, PX_ERR_FORMAT, gz ? "more than this gzip file can hold"
                                              : "expected 3600000000 bytes of data after the 12-byte header, found 0",
                         "(60000, 60000)");
#undef P
    }
    /* a gzip stream cut short */
    const char *whole = tmp_path("whole.gz"), *cut = tmp_path("cut.gz");
    static uint8_t many[4096 + 16];
    static double vals[4096];
    for (int i = 0; i < 4096; i++) vals[i] = (i * 7919) % 251;
    uint32_t d1 = 4096;
    write_bytes(whole, many, make_idx(many, 0x08, 1, &d1, vals, 4096), 1);
    FILE *f = fopen(whole, "rb");
    size_t gz_len = f ? fread(many, 1, sizeof many, f) : 0;
    if (f) fclose(f);
    write_bytes(cut, many, gz_len / 2, 0);
    expect_idx_error(cut, PX_ERR_FORMAT, "truncated .gz file", "offset");
    /* missing file and directory */
    const char *missing = tmp_path("no-such-file.idx");
    expect_idx_error(missing, PX_ERR_IO, "No such file", NULL);
    expect_idx_error(tmp_dir, PX_ERR_IO, "directory", NULL);
    px_tensor *t = NULL;
    CHECK(px_idx_read(NULL, PX_F32, &t) == PX_ERR_ARG);
}

/* ---------------- CSV ---------------- */

static void test_csv_iris(void) {
    px_dataset *d = NULL;
    CHECK_OK(px_csv_read(px_test_data("iris.csv"), &(px_csv_options){.header = true, .label_column = -1}, &d));
    if (!d) return;
    CHECK(d->x->rank == 2 && d->x->shape[0] == 150 && d->x->shape[1] == 4);
    CHECK(d->y->dtype == PX_I32 && d->y->rank == 1 && d->y->shape[0] == 150);
    const float first[4] = {5.1f, 3.5f, 1.4f, 0.2f};
    for (int j = 0; j < 4; j++) CHECK(px_tensor_f32(d->x)[j] == first[j]);
    int counts[3] = {0};
    int bad = 0;
    for (int i = 0; i < 150; i++) {
        int32_t l = px_tensor_i32(d->y)[i];
        if (l < 0 || l > 2) bad++;
        else counts[l]++;
    }
    CHECK(bad == 0 && counts[0] == 50 && counts[1] == 50 && counts[2] == 50);
    CHECK(px_tensor_i32(d->y)[0] == 0 && px_tensor_i32(d->y)[149] == 2);
    /* skip_lines is the same as a header; label_column 4 is the same as -1 */
    px_dataset *e = NULL;
    CHECK_OK(px_csv_read(px_test_data("iris.csv"), &(px_csv_options){.skip_lines = 1, .label_column = 4}, &e));
    CHECK(e && px_tensor_equal(d->x, e->x) && px_tensor_equal(d->y, e->y));
    px_dataset_free(e);
    px_dataset_free(d);

    /* the sklearn header line is not data */
    d = (px_dataset *)&d;
    CHECK(px_csv_read(px_test_data("iris.csv"), NULL, &d) == PX_ERR_FORMAT && d == NULL);
    CHECK_ERROR_HAS("iris.csv: line 1, column 3: 'setosa' is not a number");

    /* another label column: 5.1 is no class label, but a fine regression target */
    CHECK(px_csv_read(px_test_data("iris.csv"), &(px_csv_options){.header = true, .label_column = 0}, &d) ==
          PX_ERR_FORMAT);
    CHECK_ERROR_HAS("line 2, column 1: the label 5.1 is not an integer");
    CHECK_OK(px_csv_read(px_test_data("iris.csv"),
                         &(px_csv_options){.header = true, .label_column = 0, .float_labels = true}, &d));
    if (d) {
        CHECK(d->x->shape[1] == 4 && d->y->dtype == PX_F32 && d->y->rank == 2 && d->y->shape[1] == 1);
        CHECK(px_tensor_f32(d->y)[0] == 5.1f && px_tensor_f32(d->x)[0] == 3.5f && px_tensor_f32(d->x)[3] == 0.0f);
        px_dataset_free(d);
    }
    CHECK_OK(px_csv_read(px_test_data("iris.csv"),
                         &(px_csv_options){.header = true, .label_column = -3, .float_labels = true}, &d));
    if (d) {
        CHECK(px_tensor_f32(d->y)[0] == 1.4f && px_tensor_f32(d->x)[2] == 0.2f && px_tensor_f32(d->x)[3] == 0.0f);
        px_dataset_free(d);
    }
    CHECK(px_csv_read(px_test_data("iris.csv"), &(px_csv_options){.header = true, .label_column = 5}, &d) ==
          PX_ERR_ARG);
    CHECK_ERROR_HAS("label_column 5 is outside the 5 columns");
    CHECK(px_csv_read(px_test_data("iris.csv"), &(px_csv_options){.header = true, .label_column = -6}, &d) ==
          PX_ERR_ARG);
    /* every column as a feature */
    CHECK_OK(px_csv_read(px_test_data("iris.csv"), &(px_csv_options){.header = true, .no_label = true}, &d));
    if (d) {
        CHECK(d->y == NULL && d->x->shape[1] == 5 && px_tensor_f32(d->x)[4] == 0.0f);
        px_dataset_free(d);
    }
}

static void test_csv_wine_and_digits(void) {
    px_dataset *d = NULL;
    CHECK_OK(px_csv_read(px_test_data("wine_data.csv"), &(px_csv_options){.header = true, .label_column = -1}, &d));
    if (d) {
        CHECK(d->x->shape[0] == 178 && d->x->shape[1] == 13);
        CHECK(px_tensor_f32(d->x)[0] == 14.23f && px_tensor_f32(d->x)[12] == 1065.0f);
        CHECK(px_tensor_i32(d->y)[0] == 0 && px_tensor_i32(d->y)[177] == 2);
        px_dataset_free(d);
    }
    CHECK_OK(px_csv_read(px_test_data("digits.csv.gz"), NULL, &d));
    if (d) {
        CHECK(d->x->shape[0] == 1797 && d->x->shape[1] == 64 && d->y->shape[0] == 1797);
        const float row0[8] = {0, 0, 5, 13, 9, 1, 0, 0};
        for (int j = 0; j < 8; j++) CHECK(px_tensor_f32(d->x)[j] == row0[j]);
        int out_of_range = 0;
        float max = 0;
        for (int64_t i = 0; i < 1797; i++) out_of_range += px_tensor_i32(d->y)[i] < 0 || px_tensor_i32(d->y)[i] > 9;
        for (int64_t i = 0; i < 1797 * 64; i++) max = fmaxf(max, px_tensor_f32(d->x)[i]);
        CHECK(out_of_range == 0 && max == 16.0f);
        CHECK(px_tensor_i32(d->y)[0] == 0 && px_tensor_i32(d->y)[1796] == 8);
        px_dataset_free(d);
    }
}

static void test_csv_diabetes(void) {
    px_dataset *d = NULL;
    const px_csv_options ws = {.delimiter = ' ', .no_label = true};
    CHECK_OK(px_csv_read(px_test_data("diabetes_data_raw.csv.gz"), &ws, &d));
    if (d) {
        CHECK(d->y == NULL && d->x->shape[0] == 442 && d->x->shape[1] == 10);
        const float row0[10] = {59, 2, 32.1f, 101.0f, 157, 93.2f, 38.0f, 4.0f, 4.8598f, 87};
        for (int j = 0; j < 10; j++) CHECK(px_tensor_f32(d->x)[j] == row0[j]);
        CHECK(px_tensor_f32(d->x)[441 * 10 + 8] == 4.5951f);
        px_dataset_free(d);
    }
    const px_csv_options wsf = {.delimiter = ' ', .no_label = true, .float_labels = true};
    CHECK_OK(px_csv_read(px_test_data("diabetes_target.csv.gz"), &wsf, &d));
    if (d) {
        CHECK(d->x->rank == 2 && d->x->shape[0] == 442 && d->x->shape[1] == 1);
        CHECK(px_tensor_f32(d->x)[0] == 151.0f && px_tensor_f32(d->x)[441] == 57.0f);
        px_dataset_free(d);
    }
    /* the two files paired (px_test_data returns a static buffer: copy the paths) */
    char xp[4096], yp[4096];
    snprintf(xp, sizeof xp, "%s", px_test_data("diabetes_data_raw.csv.gz"));
    snprintf(yp, sizeof yp, "%s", px_test_data("diabetes_target.csv.gz"));
    d = px_dataset_from_xy_files(xp, yp,
                                 &(px_csv_options){.delimiter = ' ', .float_labels = true});
    CHECK_NOT_NULL(d);
    if (d) {
        CHECK(d->x->shape[0] == 442 && d->x->shape[1] == 10 && d->y->dtype == PX_F32 && d->y->shape[1] == 1);
        CHECK(px_tensor_f32(d->x)[2] == 32.1f && px_tensor_f32(d->y)[0] == 151.0f);
        px_dataset_free(d);
    }
    d = px_dataset_from_xy_files(xp, yp,
                                 &(px_csv_options){.delimiter = ' '});
    CHECK(d && d->y->dtype == PX_I32 && d->y->rank == 1 && px_tensor_i32(d->y)[441] == 57);
    px_dataset_free(d);
    /* a many-column file is no label file; row counts must agree */
    d = px_dataset_from_xy_files(yp, xp,
                                 &(px_csv_options){.delimiter = ' '});
    CHECK(d == NULL && px_last_status() == PX_ERR_FORMAT);
    CHECK_ERROR_HAS("must have one column, found 10");
    const char *short_y = tmp_path("short_y.csv");
    write_text(short_y, "1\n2\n", 0);
    d = px_dataset_from_xy_files(xp, short_y, &(px_csv_options){.delimiter = ' '});
    CHECK(d == NULL && px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("has 442 rows but");
}

static void expect_csv_error(const char *name, const char *text, const px_csv_options *o, px_status status,
                             const char *needle) {
    const char *path = tmp_path(name);
    write_text(path, text, strstr(name, ".gz") != NULL);
    px_dataset *d = (px_dataset *)&d;
    px_status st = px_csv_read(path, o, &d);
    if (st != status)
        px_test_fail(__FILE__, __LINE__, "%s: status %s, expected %s (%s)", name, px_status_name(st),
                     px_status_name(status), px_last_error());
    else px_test_passed++;
    CHECK(d == NULL);
    CHECK_ERROR_HAS(path);
    CHECK_ERROR_HAS(needle);
}

static void test_csv_formats_and_errors(void) {
    /* gzip'd, whitespace-separated, CRLF line ends, a header, blank lines */
    const char *p = tmp_path("ws.csv.gz");
    write_text(p, "a b c\r\n 1  2\t3\r\n\r\n-4.5e1 5 6 \r\n\n", 1);
    px_dataset *d = NULL;
    CHECK_OK(px_csv_read(p, &(px_csv_options){.header = true, .delimiter = ' ', .label_column = -1}, &d));
    if (d) {
        CHECK(d->x->shape[0] == 2 && d->x->shape[1] == 2);
        CHECK(px_tensor_f32(d->x)[0] == 1 && px_tensor_f32(d->x)[2] == -45.0f);
        CHECK(px_tensor_i32(d->y)[0] == 3 && px_tensor_i32(d->y)[1] == 6);
        px_dataset_free(d);
    }
    /* spaces around comma-separated fields, no final newline, another delimiter */
    p = tmp_path("spaced.csv");
    write_text(p, " 1 , 2,0\n3,4 , 1", 0);
    CHECK_OK(px_csv_read(p, NULL, &d));
    CHECK(d && d->x->shape[0] == 2 && px_tensor_f32(d->x)[3] == 4 && px_tensor_i32(d->y)[1] == 1);
    px_dataset_free(d);
    p = tmp_path("semi.csv");
    write_text(p, "1;2;0\n", 0);
    CHECK_OK(px_csv_read(p, &(px_csv_options){.delimiter = ';', .label_column = -1}, &d));
    CHECK(d && d->x->shape[1] == 2);
    px_dataset_free(d);

    expect_csv_error("fewer.csv", "1,2,0\n3,4,1\n5,6\n", NULL, PX_ERR_FORMAT,
                     "line 3, column 3: missing field: the line has 2 fields, expected 3 (as on line 1)");
    expect_csv_error("more.csv", "# x y label\n1,2,0\n3,4,1,9\n", &(px_csv_options){.header = true, .label_column = -1},
                     PX_ERR_FORMAT, "line 3, column 4: unexpected extra field");
    expect_csv_error("word.csv.gz", "1,2,0\n3,abc,1\n", NULL, PX_ERR_FORMAT, "line 2, column 2: 'abc' is not a number");
    expect_csv_error("nan.csv", "1,2,0\n3,4,1\n\n5,NaN,1\n", NULL, PX_ERR_FORMAT, "line 4, column 2: 'NaN' is not a finite number");
    expect_csv_error("inf.csv", "1,-inf,0\n", NULL, PX_ERR_FORMAT, "line 1, column 2: '-inf' is not a finite");
    expect_csv_error("huge.csv", "1,1e39,0\n", NULL, PX_ERR_FORMAT, "line 1, column 2: 1e39 is outside the float32 range");
    expect_csv_error("emptyfield.csv", "1,,0\n", NULL, PX_ERR_FORMAT, "line 1, column 2: empty field");
    expect_csv_error("label.csv", "1,2,0\n3,4,1.5\n", NULL, PX_ERR_FORMAT, "line 2, column 3: the label 1.5 is not an integer");
    expect_csv_error("empty.csv", "", NULL, PX_ERR_FORMAT, "the file is empty");
    expect_csv_error("empty.csv.gz", "", NULL, PX_ERR_FORMAT, "the file is empty");
    expect_csv_error("blank.csv", "\n  \n", NULL, PX_ERR_FORMAT, "no data rows after line 2");
    expect_csv_error("header_only.csv", "a,b,c\n", &(px_csv_options){.header = true}, PX_ERR_FORMAT, "no data rows after line 1");
    expect_csv_error("one_column.csv", "1\n2\n", NULL, PX_ERR_FORMAT, "only one column");
    const char *missing = tmp_path("missing.csv");
    CHECK(px_csv_read(missing, NULL, &d) == PX_ERR_IO && d == NULL);
    CHECK_ERROR_HAS(missing);
    CHECK_ERROR_HAS("No such file");
}

/* ---------------- Fashion-MNIST ---------------- */

/* The first batch (up to n rows, in order) of a source; the reader lives until
 * the next call (first_batch(NULL, 0) frees it). */
static const px_batch *first_batch(px_source *s, int n) {
    static px_reader *r;
    px_reader_free(r);
    r = NULL;
    const px_batch *b = NULL;
    if (!s || !(r = px_reader_new(s, &(px_read_options){.batch_size = n})) || px_reader_start(r) != PX_OK ||
        px_reader_next(r, &b) != PX_OK)
        return NULL;
    return b;
}

static void test_fashion_mnist(void) {
    if (access(FASHION_DIR "/train-labels-idx1-ubyte.gz", R_OK) != 0) {
        px_test_skip("test_fashion_mnist: %s is absent (Debian package dataset-fashion-mnist)", FASHION_DIR);
        return;
    }
    /* the first training label, straight from the file */
    px_tensor *labels = NULL;
    CHECK_OK(px_idx_read(FASHION_DIR "/train-labels-idx1-ubyte.gz", PX_I32, &labels));
    int32_t first_label = labels ? px_tensor_i32(labels)[0] : -1, label_5000 = labels ? px_tensor_i32(labels)[5000] : -1;
    CHECK(labels && labels->shape[0] == 60000 && first_label == 9);
    px_tensor_free(labels);

    px_dataset *train = NULL, *valid = NULL, *test = NULL;
    CHECK_OK(px_fashion_mnist_load(NULL, 55000, &train, &valid, &test));
    if (!train || !valid || !test) {
        px_dataset_free(train);
        px_dataset_free(valid);
        px_dataset_free(test);
        return;
    }
    CHECK(px_dataset_size(train) == 55000 && px_dataset_size(valid) == 5000 && px_dataset_size(test) == 10000);
    CHECK(train->x->rank == 3 && train->x->shape[1] == 28 && train->x->shape[2] == 28);
    CHECK(train->y->dtype == PX_I32 && train->y->rank == 1);
    float lo = 1, hi = 0;
    double sum0 = 0;
    for (int64_t i = 0; i < px_tensor_size(train->x); i++) {
        float v = px_tensor_f32(train->x)[i];
        lo = fminf(lo, v);
        hi = fmaxf(hi, v);
    }
    for (int64_t i = 0; i < 784; i++) sum0 += px_tensor_f32(valid->x)[i];
    CHECK(lo == 0.0f && hi == 1.0f);
    /* the course's split: X_valid, X_train = X_train_full[:5000], X_train_full[5000:] */
    CHECK_NEAR(sum0, 76247.0 / 255.0, 1e-3);
    CHECK(px_tensor_i32(valid->y)[0] == first_label);
    CHECK(strcmp(px_fashion_mnist_class_name(px_tensor_i32(valid->y)[0]), "Ankle boot") == 0);
    CHECK(px_tensor_i32(test->y)[0] == 9);
    CHECK(px_tensor_i32(train->y)[54999] == 5); /* the last of the 60,000 */
    CHECK(px_tensor_i32(train->y)[0] == label_5000);
    /* the byte sources give the same pixels (within a rounding: byte * (1/255) against byte / 255) and labels */
    px_source *strain = NULL, *svalid = NULL, *stest = NULL;
    CHECK_OK(px_fashion_mnist_sources(NULL, 55000, &strain, &svalid, &stest));
    if (strain && svalid && stest) {
        CHECK(px_source_size(strain) == 55000 && px_source_size(svalid) == 5000 && px_source_size(stest) == 10000);
        const px_batch *b = first_batch(stest, 64);
        float worst = 0;
        int labels_same = 1;
        for (int64_t i = 0; b && i < 64 * 784; i++)
            worst = fmaxf(worst, fabsf(px_tensor_f32(&b->x[0])[i] - px_tensor_f32(test->x)[i]));
        for (int64_t i = 0; b && i < 64; i++) labels_same &= px_tensor_i32(&b->y[0])[i] == px_tensor_i32(test->y)[i];
        CHECK(b && b->rows == 64 && worst <= 6e-8f && labels_same);
        first_batch(NULL, 0);
    }
    px_source_free(strain);
    px_source_free(svalid);
    px_source_free(stest);

    px_dataset_free(train);
    px_dataset_free(valid);
    px_dataset_free(test);

    CHECK(px_fashion_mnist_load(NULL, 60001, &train, NULL, NULL) == PX_ERR_ARG && train == NULL);
    CHECK_ERROR_HAS("60001");
    CHECK(px_fashion_mnist_load(NULL, -1, &train, NULL, NULL) == PX_ERR_ARG);
    /* the test set alone (what evaluate needs; issue 18 item 9) */
    CHECK_OK(px_fashion_mnist_load(NULL, 0, NULL, NULL, &test));
    CHECK(test && px_dataset_size(test) == 10000);
    px_dataset_free(test);
    CHECK(px_fashion_mnist_load(NULL, 0, NULL, NULL, NULL) == PX_ERR_ARG);
}

static void test_fashion_mnist_class_names_and_errors(void) {
    CHECK(strcmp(px_fashion_mnist_class_name(0), "T-shirt/top") == 0);
    CHECK(strcmp(px_fashion_mnist_class_name(6), "Shirt") == 0);
    CHECK(strcmp(px_fashion_mnist_class_name(10), "unknown") == 0);
    /* a small fake directory: 3 images and 3 labels, then 2 test labels for 3 images */
    uint8_t buf[256];
    double pix[3 * 2 * 2], lab[3] = {9, 0, 3};
    for (int i = 0; i < 12; i++) pix[i] = i * 20;
    uint32_t idims[3] = {3, 2, 2}, ldims[1] = {3}, ldims2[1] = {2};
    write_bytes(tmp_path("train-images-idx3-ubyte.gz"), buf, make_idx(buf, 0x08, 3, idims, pix, 12), 1);
    write_bytes(tmp_path("train-labels-idx1-ubyte"), buf, make_idx(buf, 0x08, 1, ldims, lab, 3), 0);
    write_bytes(tmp_path("t10k-images-idx3-ubyte.gz"), buf, make_idx(buf, 0x08, 3, idims, pix, 12), 1);
    write_bytes(tmp_path("t10k-labels-idx1-ubyte.gz"), buf, make_idx(buf, 0x08, 1, ldims2, lab, 2), 1);
    px_dataset *train = NULL, *valid = NULL, *test = NULL;
    CHECK_OK(px_fashion_mnist_load(tmp_dir, 2, &train, &valid, NULL));
    if (train && valid) { /* the first for validation, the last 2 for training */
        CHECK(px_dataset_size(train) == 2 && px_dataset_size(valid) == 1);
        CHECK(px_tensor_i32(valid->y)[0] == 9 && px_tensor_i32(train->y)[1] == 3);
        CHECK_NEAR(px_tensor_f32(valid->x)[3], 60.0 / 255.0, 1e-7);
        CHECK_NEAR(px_tensor_f32(train->x)[7], 220.0 / 255.0, 1e-7);
    }
    px_dataset_free(train);
    px_dataset_free(valid);
    CHECK(px_fashion_mnist_load(tmp_dir, 2, &train, &valid, &test) == PX_ERR_FORMAT);
    CHECK(train == NULL && valid == NULL && test == NULL);
    CHECK_ERROR_HAS("t10k-images-idx3-ubyte.gz holds 3 images but");
    CHECK_ERROR_HAS("t10k-labels-idx1-ubyte.gz holds 2 labels");

    /* the same as byte sources: the pixels times 1/255 as they are gathered */
    px_source *strain = NULL, *svalid = NULL, *stest = NULL;
    CHECK_OK(px_fashion_mnist_sources(tmp_dir, 2, &strain, &svalid, NULL));
    if (strain && svalid) {
        CHECK(px_source_size(strain) == 2 && px_source_size(svalid) == 1);
        const px_batch *b = first_batch(svalid, 4);
        CHECK(b && b->rows == 1 && b->x[0].dtype == PX_F32 && b->y[0].dtype == PX_I32);
        if (b) CHECK(px_tensor_i32(&b->y[0])[0] == 9 && px_tensor_f32(&b->x[0])[3] == 60.0f * (1.0f / 255));
        first_batch(NULL, 0);
    }
    px_source_free(strain);
    px_source_free(svalid);
    CHECK_OK(px_fashion_mnist_sources(tmp_dir, 3, &strain, &svalid, NULL));
    CHECK(strain && px_source_size(strain) == 3 && svalid == NULL); /* all rows train: no validation part */
    px_source_free(strain);
    CHECK(px_fashion_mnist_sources(tmp_dir, 2, &strain, &svalid, &stest) == PX_ERR_FORMAT);
    CHECK(strain == NULL && svalid == NULL && stest == NULL);
    CHECK_ERROR_HAS("t10k-images-idx3-ubyte.gz holds 3 images but");
    CHECK_ERROR_HAS("t10k-labels-idx1-ubyte.gz holds 2 labels");
    /* pixels stored as float32 cannot stay bytes */
    write_bytes(tmp_path("train-images-idx3-ubyte.gz"), buf, make_idx(buf, 0x0D, 3, idims, pix, 12), 1);
    CHECK(px_fashion_mnist_sources(tmp_dir, 2, &strain, &svalid, NULL) == PX_ERR_FORMAT && strain == NULL);
    CHECK_ERROR_HAS("train-images-idx3-ubyte.gz: holds float32 values");
    CHECK(px_fashion_mnist_sources(tmp_dir, 60001, &strain, NULL, NULL) == PX_ERR_ARG);
}

/* ---------------- datasets ---------------- */

/* 10 examples of shape (2, 3): x[i] = 100 i + k; y[i] = i. */
static px_dataset *counting_dataset(int n, int float_y) {
    px_tensor *x = px_tensor_new(PX_F32, PX_SHAPE(n, 2, 3));
    px_tensor *y = float_y ? px_tensor_new(PX_F32, PX_SHAPE(n, 1)) : px_tensor_new(PX_I32, PX_SHAPE(n));
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 6; k++) px_tensor_f32(x)[i * 6 + k] = (float)(100 * i + k);
        if (float_y) px_tensor_f32(y)[i] = (float)i;
        else px_tensor_i32(y)[i] = i;
    }
    return px_dataset_new(x, y);
}

/* Every x row still belongs to its y, and the ys are a permutation of 0..n-1. */
static int pairs_intact(const px_dataset *d, int n_all) {
    int seen[64] = {0};
    for (int64_t i = 0; i < px_dataset_size(d); i++) {
        int y = (int)px_tensor_get_flat(d->y, i);
        if (y < 0 || y >= n_all || seen[y]++) return 0;
        for (int k = 0; k < 6; k++)
            if (px_tensor_f32(d->x)[i * 6 + k] != (float)(100 * y + k)) return 0;
    }
    return 1;
}

static void test_dataset_new_and_slice(void) {
    px_dataset *d = px_dataset_new(px_tensor_zeros(PX_SHAPE(3, 2)), px_tensor_new(PX_I32, PX_SHAPE(4)));
    CHECK(d == NULL && px_last_status() == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("x has shape (3, 2) but y has shape (4,)");
    CHECK(px_dataset_new(NULL, px_tensor_zeros(PX_SHAPE(3))) == NULL);
    CHECK(px_dataset_new(px_tensor_scalar(1), NULL) == NULL);
    d = px_dataset_new(px_tensor_zeros(PX_SHAPE(3, 2)), NULL);
    CHECK(d && px_dataset_size(d) == 3 && d->y == NULL);
    px_dataset_free(d);
    px_dataset_free(NULL);

    d = counting_dataset(10, 0);
    px_dataset *s = px_dataset_slice(d, 2, 5);
    CHECK_NOT_NULL(s);
    if (s) {
        CHECK(px_dataset_size(s) == 3 && s->x->shape[1] == 2 && s->x->shape[2] == 3);
        CHECK(px_tensor_f32(s->x)[0] == 200 && px_tensor_i32(s->y)[2] == 4);
        px_tensor_f32(s->x)[0] = -1; /* a copy, not a view */
        CHECK(px_tensor_f32(d->x)[12] == 200);
        px_dataset_free(s);
    }
    s = px_dataset_slice(d, 10, 10);
    CHECK(s && px_dataset_size(s) == 0);
    px_dataset_free(s);
    CHECK(px_dataset_slice(d, 4, 11) == NULL && px_last_status() == PX_ERR_ARG);
    CHECK(px_dataset_slice(d, 5, 4) == NULL);
    px_dataset_free(d);
}

static void test_dataset_shuffle_keeps_pairs(void) {
    for (int float_y = 0; float_y < 2; float_y++) {
        px_dataset *d = counting_dataset(37, float_y);
        px_rng rng = px_rng_seeded(42);
        CHECK_OK(px_dataset_shuffle(d, &rng));
        CHECK(pairs_intact(d, 37));
        int moved = 0;
        for (int i = 0; i < 37; i++) moved += (int)px_tensor_get_flat(d->y, i) != i;
        CHECK(moved > 20);
        /* the same seed gives the same order */
        px_dataset *e = counting_dataset(37, float_y);
        rng = px_rng_seeded(42);
        CHECK_OK(px_dataset_shuffle(e, &rng));
        CHECK(px_tensor_equal(d->x, e->x) && px_tensor_equal(d->y, e->y));
        px_dataset_free(e);
        px_dataset_free(d);
    }
    px_dataset *u = px_dataset_new(px_tensor_arange(0, 5, 1), NULL);
    px_rng rng = px_rng_seeded(1);
    CHECK_OK(px_dataset_shuffle(u, &rng));
    float sum = 0;
    for (int i = 0; i < 5; i++) sum += px_tensor_f32(u->x)[i];
    CHECK(sum == 10);
    CHECK(px_dataset_shuffle(u, NULL) == PX_ERR_ARG);
    px_dataset_free(u);
}

static void test_train_test_split(void) {
    px_dataset *d = counting_dataset(10, 0), *tr = NULL, *te = NULL;
    const struct {
        double f;
        int n_test;
    } cases[] = {{0.3, 3}, {0.7, 7}, {0.25, 3}, {0, 0}, {1, 10}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        CHECK_OK(px_dataset_train_test_split(d, cases[c].f, 7, &tr, &te));
        if (!tr || !te) continue;
        CHECK(px_dataset_size(te) == cases[c].n_test && px_dataset_size(tr) == 10 - cases[c].n_test);
        /* together they are the whole set, pairs intact */
        px_dataset *both = counting_dataset(10, 0);
        memcpy(both->x->data, tr->x->data, (size_t)px_dataset_size(tr) * 24);
        memcpy((char *)both->x->data + px_dataset_size(tr) * 24, te->x->data, (size_t)px_dataset_size(te) * 24);
        memcpy(both->y->data, tr->y->data, (size_t)px_dataset_size(tr) * 4);
        memcpy((char *)both->y->data + px_dataset_size(tr) * 4, te->y->data, (size_t)px_dataset_size(te) * 4);
        CHECK(pairs_intact(both, 10));
        px_dataset_free(both);
        px_dataset_free(tr);
        px_dataset_free(te);
    }
    /* the split is the tail of a copy shuffled with the seed */
    px_dataset *copy = px_dataset_slice(d, 0, 10);
    px_rng rng = px_rng_seeded(7);
    px_dataset_shuffle(copy, &rng);
    CHECK_OK(px_dataset_train_test_split(d, 0.3, 7, &tr, &te));
    CHECK(tr && te && px_tensor_i32(te->y)[0] == px_tensor_i32(copy->y)[7] &&
          px_tensor_i32(tr->y)[0] == px_tensor_i32(copy->y)[0]);
    px_dataset_free(copy);
    px_dataset_free(tr);
    px_dataset_free(te);
    CHECK(px_dataset_train_test_split(d, 1.5, 7, &tr, &te) == PX_ERR_ARG && tr == NULL && te == NULL);
    CHECK(px_dataset_train_test_split(d, NAN, 7, &tr, &te) == PX_ERR_ARG);
    px_dataset_free(d);
}

/* ---------------- preprocessing ---------------- */

static void test_scaler(void) {
    /* columns: 1, 3, 5 (mean 3, population std sqrt(8/3)); 2, 2, 2 (std 0 -> scale 1);
     * 0, 0, 9 (mean 3, std sqrt((9 + 9 + 36) / 3) = sqrt(18)) */
    const float v[9] = {1, 2, 0, 3, 2, 0, 5, 2, 9};
    px_tensor *x = px_tensor_from_array(PX_SHAPE(3, 3), v, 9);
    px_scaler s = {0};
    CHECK(px_scaler_transform(&s, x) == PX_ERR_STATE);
    CHECK_OK(px_scaler_fit(&s, x));
    CHECK(s.mean && s.mean->rank == 1 && s.mean->shape[0] == 3);
    CHECK_NEAR(px_tensor_f32(s.mean)[0], 3, 1e-6);
    CHECK_NEAR(px_tensor_f32(s.mean)[1], 2, 1e-6);
    CHECK_NEAR(px_tensor_f32(s.mean)[2], 3, 1e-6);
    CHECK_NEAR(px_tensor_f32(s.scale)[0], sqrt(8.0 / 3.0), 1e-6);
    CHECK_NEAR(px_tensor_f32(s.scale)[1], 1, 0);
    CHECK_NEAR(px_tensor_f32(s.scale)[2], sqrt(18.0), 1e-6);
    CHECK_OK(px_scaler_transform(&s, x));
    CHECK_NEAR(px_tensor_f32(x)[0], -2 / sqrt(8.0 / 3.0), 1e-6);
    CHECK_NEAR(px_tensor_f32(x)[1], 0, 0);
    CHECK_NEAR(px_tensor_f32(x)[8], 6 / sqrt(18.0), 1e-6);
    /* the result has mean 0 and std 1 per feature */
    px_scaler s2 = {0};
    CHECK_OK(px_scaler_fit(&s2, x));
    CHECK_NEAR(px_tensor_f32(s2.mean)[0], 0, 1e-6);
    CHECK_NEAR(px_tensor_f32(s2.scale)[2], 1, 1e-6);
    px_scaler_clear(&s2);
    /* the feature shape must match the fit */
    px_tensor *wrong = px_tensor_zeros(PX_SHAPE(2, 4));
    CHECK(px_scaler_transform(&s, wrong) == PX_ERR_SHAPE);
    CHECK_ERROR_HAS("fitted on features of shape (3,) but x has shape (2, 4)");
    px_tensor_free(wrong);
    /* refitting replaces the old statistics; features may have several axes */
    px_tensor *img = px_tensor_from_array(PX_SHAPE(2, 1, 2), (float[]){0, 10, 4, 10}, 4);
    CHECK_OK(px_scaler_fit(&s, img));
    CHECK(s.mean->rank == 2 && s.mean->shape[0] == 1 && s.mean->shape[1] == 2);
    CHECK_NEAR(px_tensor_f32(s.mean)[0], 2, 0);
    CHECK_NEAR(px_tensor_f32(s.scale)[0], 2, 0);
    CHECK_NEAR(px_tensor_f32(s.scale)[1], 1, 0);
    px_tensor_free(img);
    px_tensor_f32(x)[4] = NAN;
    CHECK(px_scaler_fit(&s, x) == PX_ERR_NUMERIC);
    CHECK(s.mean && s.mean->rank == 2); /* a failed fit keeps the old one */
    px_scaler_clear(&s);
    px_scaler_clear(&s);
    CHECK(s.mean == NULL && s.scale == NULL);
    px_tensor_free(x);
}

static void test_one_hot_pixels_finite(void) {
    px_tensor *l = px_tensor_from_int_array(PX_SHAPE(3), (int32_t[]){2, 0, 1}, 3);
    px_tensor *oh = px_one_hot(l, 4);
    CHECK_NOT_NULL(oh);
    if (oh) {
        const float want[12] = {0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0};
        px_tensor *w = px_tensor_from_array(PX_SHAPE(3, 4), want, 12);
        CHECK(px_tensor_equal(oh, w));
        px_tensor_free(w);
        px_tensor_free(oh);
    }
    CHECK(px_one_hot(l, 2) == NULL && px_last_status() == PX_ERR_ARG);
    CHECK_ERROR_HAS("label 2 at position 0 is outside 0..1");
    CHECK(px_one_hot(l, 0) == NULL);
    px_tensor *f = px_tensor_zeros(PX_SHAPE(3));
    CHECK(px_one_hot(f, 3) == NULL);
    px_tensor_free(f);
    px_tensor_free(l);

    px_tensor *p = px_tensor_from_array(PX_SHAPE(3), (float[]){0, 51, 255}, 3);
    CHECK_OK(px_scale_pixels(p));
    CHECK(px_tensor_f32(p)[0] == 0 && px_tensor_f32(p)[1] == 0.2f && px_tensor_f32(p)[2] == 1);
    px_tensor_free(p);

    px_tensor *t = px_tensor_zeros(PX_SHAPE(2, 3));
    CHECK_OK(px_check_finite(t, "weights"));
    px_tensor_f32(t)[5] = NAN;
    CHECK(px_check_finite(t, "weights") == PX_ERR_NUMERIC);
    CHECK_ERROR_HAS("weights contains NaN at index (1, 2)");
    px_tensor_f32(t)[1] = -INFINITY;
    CHECK(px_check_finite(t, NULL) == PX_ERR_NUMERIC);
    CHECK_ERROR_HAS("tensor contains -infinity at index (0, 1)");
    px_tensor_free(t);
    px_tensor *i = px_tensor_new(PX_I32, PX_SHAPE(2));
    CHECK_OK(px_check_finite(i, "labels"));
    px_tensor_free(i);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/px_test_data_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN_TEST(test_idx_round_trips_every_type);
    RUN_TEST(test_idx_corrupt_files);
    RUN_TEST(test_csv_iris);
    RUN_TEST(test_csv_wine_and_digits);
    RUN_TEST(test_csv_diabetes);
    RUN_TEST(test_csv_formats_and_errors);
    RUN_TEST(test_fashion_mnist);
    RUN_TEST(test_fashion_mnist_class_names_and_errors);
    RUN_TEST(test_dataset_new_and_slice);
    RUN_TEST(test_dataset_shuffle_keeps_pairs);
    RUN_TEST(test_train_test_split);
    RUN_TEST(test_scaler);
    RUN_TEST(test_one_hot_pixels_finite);
    for (int i = 0; i < n_created; i++) unlink(created[i]);
    rmdir(tmp_dir);
    return px_test_finish();
}
