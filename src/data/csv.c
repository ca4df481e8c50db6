/* The CSV reader: numeric tables, plain or gzip'd, comma- or whitespace-separated,
 * into a dataset of float32 features and int32 labels or float32 targets. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gzfile.h"
#include "plexus/data.h"

#define MAX_FIELD 64 /* longer fields cannot be sensible numbers */

typedef struct csv_cfg {
    px_csv_options o;
    bool label_only; /* a one-column file of labels (px_dataset_from_xy_files) */
} csv_cfg;

typedef struct field_iter {
    const char *p;
    char delim; /* ' ' = any run of spaces or tabs */
    bool done;
} field_iter;

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static bool next_field(field_iter *it, const char **start, size_t *len) {
    if (it->done) return false;
    const char *p = it->p;
    if (it->delim == ' ') {
        while (is_blank(*p)) p++;
        if (!*p) {
            it->done = true;
            return false;
        }
        const char *q = p;
        while (*q && !is_blank(*q)) q++;
        *start = p;
        *len = (size_t)(q - p);
        it->p = q;
        return true;
    }
    const char *q = p;
    while (*q && *q != it->delim) q++;
    const char *e = q;
    while (p < e && is_blank(*p)) p++;
    while (e > p && is_blank(e[-1])) e--;
    *start = p;
    *len = (size_t)(e - p);
    if (*q) it->p = q + 1;
    else it->done = true;
    return true;
}

static bool blank_line(const char *s) {
    while (is_blank(*s)) s++;
    return *s == '\0';
}

static int count_fields(const char *line, char delim) {
    field_iter it = {line, delim, false};
    const char *s;
    size_t n;
    int count = 0;
    while (next_field(&it, &s, &n)) count++;
    return count;
}

/* Parses one field as a finite float32-representable number. */
static px_status parse_number(const char *path, int64_t line, int col, const char *s, size_t len,
                              double *out) {
    if (len == 0)
        return px_set_error(PX_ERR_FORMAT, "csv: %s: line %lld, column %d: empty field", path,
                            (long long)line, col);
    if (len >= MAX_FIELD)
        return px_set_error(PX_ERR_FORMAT, "csv: %s: line %lld, column %d: '%.20s...' is not a number",
                            path, (long long)line, col, s);
    char buf[MAX_FIELD];
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (end != buf + len)
        return px_set_error(PX_ERR_FORMAT, "csv: %s: line %lld, column %d: '%s' is not a number",
                            path, (long long)line, col, buf);
    if (!isfinite(v))
        return px_set_error(PX_ERR_FORMAT,
                            "csv: %s: line %lld, column %d: '%s' is not a finite number (NaN and "
                            "infinity are not accepted)",
                            path, (long long)line, col, buf);
    if (fabs(v) > FLT_MAX)
        return px_set_error(PX_ERR_FORMAT,
                            "csv: %s: line %lld, column %d: %s is outside the float32 range", path,
                            (long long)line, col, buf);
    *out = v;
    return PX_OK;
}

/* Reads the lines before the data (skip_lines, then the header); 1 when a
 * data line (non-blank) is in *line, 0 at the end, -1 on error. */
static int first_data_line(px_gzfile *f, const csv_cfg *c, char **line, size_t *cap) {
    int skip = (c->o.skip_lines > 0 ? c->o.skip_lines : 0) + (c->o.header ? 1 : 0);
    int r;
    for (int i = 0; i < skip; i++)
        if ((r = px_gz_getline(f, line, cap)) <= 0) return r;
    while ((r = px_gz_getline(f, line, cap)) > 0)
        if (!blank_line(*line)) return 1;
    return r;
}

/* Pass 1: counts the data rows and checks that every row has the same number of fields. */
static px_status scan(px_gzfile *f, const csv_cfg *c, char **line, size_t *cap, int64_t *rows,
                      int *ncols) {
    int r = first_data_line(f, c, line, cap);
    if (r < 0) return px_last_status();
    if (r == 0) {
        if (f->line_no == 0)
            return px_set_error(PX_ERR_FORMAT, "csv: %s: the file is empty (no data rows)", f->path);
        return px_set_error(PX_ERR_FORMAT, "csv: %s: no data rows after line %lld", f->path,
                            (long long)f->line_no);
    }
    int64_t ref_line = f->line_no;
    *ncols = count_fields(*line, c->o.delimiter);
    *rows = 1;
    while ((r = px_gz_getline(f, line, cap)) > 0) {
        if (blank_line(*line)) continue;
        int n = count_fields(*line, c->o.delimiter);
        if (n != *ncols) {
            bool missing = n < *ncols;
            return px_set_error(PX_ERR_FORMAT,
                                "csv: %s: line %lld, column %d: %s: the line has %d fields, "
                                "expected %d (as on line %lld)",
                                f->path, (long long)f->line_no, missing ? n + 1 : *ncols + 1,
                                missing ? "missing field" : "unexpected extra field", n, *ncols,
                                (long long)ref_line);
        }
        (*rows)++;
    }
    return r < 0 ? px_last_status() : PX_OK;
}

/* Pass 2: parses the rows into x (may be NULL) and y (may be NULL). */
static px_status parse(px_gzfile *f, const csv_cfg *c, char **line, size_t *cap, int ncols,
                       int label_col, px_tensor *x, px_tensor *y) {
    int r = first_data_line(f, c, line, cap);
    float *xd = x ? px_tensor_f32(x) : NULL;
    int64_t row = 0;
    for (; r > 0; r = px_gz_getline(f, line, cap)) {
        if (blank_line(*line)) continue;
        if (row == (x ? x->shape[0] : y->shape[0]))
            return px_set_error(PX_ERR_IO, "csv: %s: the file changed while it was read", f->path);
        field_iter it = {*line, c->o.delimiter, false};
        const char *s;
        size_t len;
        int col = 0;
        while (next_field(&it, &s, &len) && col < ncols) {
            double v = 0;
            if (parse_number(f->path, f->line_no, col + 1, s, len, &v) != PX_OK)
                return px_last_status();
            if (col == label_col) {
                if (c->o.float_labels) {
                    px_tensor_f32(y)[row] = (float)v;
                } else {
                    if (v != floor(v) || v < INT32_MIN || v > INT32_MAX)
                        return px_set_error(PX_ERR_FORMAT,
                                            "csv: %s: line %lld, column %d: the label %.*s is not "
                                            "an integer (set float_labels for regression targets)",
                                            f->path, (long long)f->line_no, col + 1, (int)len, s);
                    px_tensor_i32(y)[row] = (int32_t)v;
                }
            } else if (xd) {
                *xd++ = (float)v;
            }
            col++;
        }
        if (col != ncols)
            return px_set_error(PX_ERR_IO, "csv: %s: the file changed while it was read", f->path);
        row++;
    }
    return r < 0 ? px_last_status() : PX_OK;
}

static px_status csv_load(const char *path, const csv_cfg *c, px_tensor **x, px_tensor **y) {
    *x = *y = NULL;
    if (c->o.delimiter == '\n' || c->o.delimiter == '\r')
        return px_set_error(PX_ERR_ARG, "csv: %s: the delimiter cannot be a line break", path);
    px_gzfile f;
    px_status st = px_gz_open(&f, path, "csv");
    if (st != PX_OK) return st;
    char *line = NULL;
    size_t cap = 0;
    int64_t rows = 0;
    int ncols = 0, label_col = -1;
    st = scan(&f, c, &line, &cap, &rows, &ncols);
    if (st == PX_OK && c->label_only && ncols != 1)
        st = px_set_error(PX_ERR_FORMAT, "csv: %s: a file of labels must have one column, found %d",
                          path, ncols);
    if (st == PX_OK && c->label_only) label_col = 0;
    if (st == PX_OK && !c->label_only && !c->o.no_label) {
        label_col = c->o.label_column < 0 ? ncols + c->o.label_column : c->o.label_column;
        if (label_col < 0 || label_col >= ncols)
            st = px_set_error(PX_ERR_ARG, "csv: %s: label_column %d is outside the %d columns", path,
                              c->o.label_column, ncols);
        else if (ncols < 2)
            st = px_set_error(PX_ERR_FORMAT,
                              "csv: %s: only one column: no features are left besides the label "
                              "(set no_label to read it as a feature)",
                              path);
    }
    if (st == PX_OK && !c->label_only) {
        *x = px_tensor_new(PX_F32, PX_SHAPE(rows, ncols - (label_col >= 0)));
        if (!*x) st = px_last_status();
    }
    if (st == PX_OK && label_col >= 0) {
        *y = c->o.float_labels ? px_tensor_new(PX_F32, PX_SHAPE(rows, 1))
                               : px_tensor_new(PX_I32, PX_SHAPE(rows));
        if (!*y) st = px_last_status();
    }
    if (st == PX_OK) st = px_gz_rewind(&f);
    if (st == PX_OK) st = parse(&f, c, &line, &cap, ncols, label_col, *x, *y);
    free(line);
    px_gz_close(&f);
    if (st != PX_OK) {
        px_tensor_free(*x);
        px_tensor_free(*y);
        *x = *y = NULL;
    }
    return st;
}

static csv_cfg make_cfg(const px_csv_options *opts) {
    csv_cfg c = {.o = {.label_column = -1}};
    if (opts) c.o = *opts;
    if (c.o.delimiter == 0) c.o.delimiter = ',';
    return c;
}

px_status px_csv_read(const char *path, const px_csv_options *opts, px_dataset **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "csv: the output pointer is NULL");
    *out = NULL;
    csv_cfg c = make_cfg(opts);
    px_tensor *x, *y;
    px_status st = csv_load(path, &c, &x, &y);
    if (st != PX_OK) return st;
    *out = px_dataset_new(x, y);
    return *out ? PX_OK : px_last_status();
}

px_dataset *px_dataset_from_xy_files(const char *x_path, const char *y_path,
                                     const px_csv_options *opts) {
    csv_cfg c = make_cfg(opts);
    c.o.no_label = true;
    px_tensor *x, *y, *unused;
    if (csv_load(x_path, &c, &x, &unused) != PX_OK) return NULL;
    c.o.no_label = false;
    c.label_only = true;
    if (csv_load(y_path, &c, &unused, &y) != PX_OK) {
        px_tensor_free(x);
        return NULL;
    }
    if (x->shape[0] != y->shape[0]) {
        px_set_error(PX_ERR_SHAPE, "csv: %s has %lld rows but %s has %lld", x_path,
                     (long long)x->shape[0], y_path, (long long)y->shape[0]);
        px_tensor_free(x);
        px_tensor_free(y);
        return NULL;
    }
    return px_dataset_new(x, y);
}
