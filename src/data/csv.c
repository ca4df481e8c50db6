/* The CSV reader: numeric tables, plain or gzip'd, comma- or whitespace-separated,
 * into a dataset of float32 features and int32 labels or float32 targets; its
 * line and field parsing is shared with the streaming CSV source (source_csv.c). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "formats/gzfile.h"
#include "data/csv_internal.h"

#define MAX_FIELD 64 /* longer fields cannot be sensible numbers */

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

bool px_csv_blank_line(const char *s) {
    while (is_blank(*s)) s++;
    return *s == '\0';
}

int px_csv_count_fields(const char *line, char delim) {
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

/* The next line, as px_gz_getline: a UTF-8 byte-order mark before the first
 * line is dropped (spreadsheet programs write one), a NUL byte is an error naming
 * the line and column, and so is UTF-16 text. */
int px_csv_next_line(px_gzfile *f, const px_csv_cfg *c, char **line, size_t *cap) {
    int r = px_gz_getline(f, line, cap);
    if (r <= 0) return r;
    char *s = *line;
    if (f->line_no == 1 && f->line_len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        memmove(s, s + 3, f->line_len - 2);
        f->line_len -= 3;
    }
    if (f->line_no == 1 && f->line_len >= 2 &&
        (memcmp(s, "\xFF\xFE", 2) == 0 || memcmp(s, "\xFE\xFF", 2) == 0)) {
        px_set_error(PX_ERR_FORMAT, "csv: %s: the file is UTF-16 text; save it as UTF-8 (or plain ASCII) CSV", f->path);
        return -1;
    }
    size_t n = strlen(s);
    if (n != f->line_len) {
        /* the column the NUL falls in: the fields begun before it, or the next one */
        s[n] = '\0';
        int col = px_csv_count_fields(s, c->o.delimiter);
        if (c->o.delimiter == ' ' ? (n == 0 || is_blank(s[n - 1])) : col == 0) col++;
        px_set_error(PX_ERR_FORMAT, "csv: %s: line %lld, column %d: a NUL byte (byte %zu of the line): binary data, not text",
                     f->path, (long long)f->line_no, col, n + 1);
        return -1;
    }
    return 1;
}

/* Reads the lines before the data (skip_lines, then the header); 1 when a
 * data line (non-blank) is in *line, 0 at the end, -1 on error. */
int px_csv_first_data_line(px_gzfile *f, const px_csv_cfg *c, char **line, size_t *cap) {
    int skip = (c->o.skip_lines > 0 ? c->o.skip_lines : 0) + (c->o.header ? 1 : 0);
    int r;
    for (int i = 0; i < skip; i++)
        if ((r = px_csv_next_line(f, c, line, cap)) <= 0) return r;
    while ((r = px_csv_next_line(f, c, line, cap)) > 0)
        if (!px_csv_blank_line(*line)) return 1;
    return r;
}

/* Which column holds the label (-1: none), from the options and the column count. */
px_status px_csv_label_column(const char *path, const px_csv_cfg *c, int ncols, int *label_col) {
    *label_col = -1;
    if (c->label_only) {
        if (ncols != 1)
            return px_set_error(PX_ERR_FORMAT, "csv: %s: a file of labels must have one column, found %d", path, ncols);
        *label_col = 0;
        return PX_OK;
    }
    if (c->o.no_label) return PX_OK;
    int lc = c->o.label_column < 0 ? ncols + c->o.label_column : c->o.label_column;
    if (lc < 0 || lc >= ncols)
        return px_set_error(PX_ERR_ARG, "csv: %s: label_column %d is outside the %d columns", path, c->o.label_column,
                            ncols);
    if (ncols < 2)
        return px_set_error(PX_ERR_FORMAT,
                            "csv: %s: only one column: no features are left besides the label "
                            "(set no_label to read it as a feature)",
                            path);
    *label_col = lc;
    return PX_OK;
}

/* The first data line: 1 when it is in *line, else an error (none, or a read error). */
px_status px_csv_need_first_line(px_gzfile *f, const px_csv_cfg *c, char **line, size_t *cap) {
    int r = px_csv_first_data_line(f, c, line, cap);
    if (r < 0) return px_last_status();
    if (r == 0) {
        if (f->line_no == 0)
            return px_set_error(PX_ERR_FORMAT, "csv: %s: the file is empty (no data rows)", f->path);
        return px_set_error(PX_ERR_FORMAT, "csv: %s: no data rows after line %lld", f->path,
                            (long long)f->line_no);
    }
    return PX_OK;
}

/* Every row has the first data row's number of fields. */
px_status px_csv_check_fields(const px_gzfile *f, const px_csv_cfg *c, const char *line, int ncols, int64_t ref_line) {
    int n = px_csv_count_fields(line, c->o.delimiter);
    if (n == ncols) return PX_OK;
    bool missing = n < ncols;
    return px_set_error(PX_ERR_FORMAT,
                        "csv: %s: line %lld, column %d: %s: the line has %d fields, "
                        "expected %d (as on line %lld)",
                        f->path, (long long)f->line_no, missing ? n + 1 : ncols + 1,
                        missing ? "missing field" : "unexpected extra field", n, ncols,
                        (long long)ref_line);
}

/* Pass 1: counts the data rows and checks that every row has the same number of fields. */
static px_status scan(px_gzfile *f, const px_csv_cfg *c, char **line, size_t *cap, int64_t *rows,
                      int *ncols) {
    px_status st = px_csv_need_first_line(f, c, line, cap);
    if (st) return st;
    int64_t ref_line = f->line_no;
    *ncols = px_csv_count_fields(*line, c->o.delimiter);
    *rows = 1;
    int r;
    while ((r = px_csv_next_line(f, c, line, cap)) > 0) {
        if (px_csv_blank_line(*line)) continue;
        if ((st = px_csv_check_fields(f, c, *line, *ncols, ref_line))) return st;
        (*rows)++;
    }
    return r < 0 ? px_last_status() : PX_OK;
}

/* Parses one data line: the features into xrow (may be NULL), the label into
 * *flabel or *ilabel (the one that is not NULL). */
px_status px_csv_parse_line(const px_gzfile *f, const px_csv_cfg *c, const char *line, int ncols, int label_col,
                            float *xrow, float *flabel, int32_t *ilabel) {
    field_iter it = {line, c->o.delimiter, false};
    const char *s;
    size_t len;
    int col = 0;
    while (next_field(&it, &s, &len) && col < ncols) {
        double v = 0;
        if (parse_number(f->path, f->line_no, col + 1, s, len, &v) != PX_OK) return px_last_status();
        if (col == label_col) {
            if (flabel) {
                *flabel = (float)v;
            } else {
                if (v != floor(v) || v < INT32_MIN || v > INT32_MAX)
                    return px_set_error(PX_ERR_FORMAT,
                                        "csv: %s: line %lld, column %d: the label %.*s is not "
                                        "an integer (set float_labels for regression targets)",
                                        f->path, (long long)f->line_no, col + 1, (int)len, s);
                if (ilabel) *ilabel = (int32_t)v;
            }
        } else if (xrow) {
            *xrow++ = (float)v;
        }
        col++;
    }
    if (col != ncols) return px_set_error(PX_ERR_IO, "csv: %s: the file changed while it was read", f->path);
    return PX_OK;
}

/* Pass 2: parses the rows into x (may be NULL) and y (may be NULL). */
static px_status parse(px_gzfile *f, const px_csv_cfg *c, char **line, size_t *cap, int ncols,
                       int label_col, px_tensor *x, px_tensor *y) {
    int r = px_csv_first_data_line(f, c, line, cap);
    int64_t row = 0, nx = x ? px_tensor_size(x) / (x->shape[0] ? x->shape[0] : 1) : 0;
    bool fl = y && y->dtype == PX_F32;
    for (; r > 0; r = px_csv_next_line(f, c, line, cap)) {
        if (px_csv_blank_line(*line)) continue;
        if (row == (x ? x->shape[0] : y->shape[0]))
            return px_set_error(PX_ERR_IO, "csv: %s: the file changed while it was read", f->path);
        if (px_csv_parse_line(f, c, *line, ncols, label_col, x ? px_tensor_f32(x) + row * nx : NULL,
                       fl ? px_tensor_f32(y) + row : NULL, y && !fl ? px_tensor_i32(y) + row : NULL) != PX_OK)
            return px_last_status();
        row++;
    }
    return r < 0 ? px_last_status() : PX_OK;
}

/* Grows a row buffer to hold `rows` rows of `per` 4-byte values, within the memory limit. */
static px_status grow(const px_gzfile *f, void **buf, int64_t *cap, int64_t rows, int64_t per) {
    if (rows <= *cap) return PX_OK;
    int64_t nc = *cap ? *cap * 2 : 1024;
    uint64_t bytes = (uint64_t)nc * (uint64_t)(per ? per : 1) * 4;
    char what[300];
    snprintf(what, sizeof what, "csv: %s: holding %lld rows", f->path, (long long)rows);
    if (px_memory_check(bytes + (uint64_t)*cap * (uint64_t)(per ? per : 1) * 4, what) != PX_OK) return px_last_status();
    void *b = realloc(*buf, bytes);
    if (!b) return px_set_error(PX_ERR_NOMEM, "csv: %s: out of memory after %lld rows", f->path, (long long)rows);
    *buf = b;
    *cap = nc;
    return PX_OK;
}

/* A stream (standard input, a pipe) is read once: rows go into buffers grown as
 * they come, then into the tensors. */
static px_status read_stream(px_gzfile *f, const px_csv_cfg *c, char **line, size_t *cap, px_tensor **x, px_tensor **y) {
    px_status st = px_csv_need_first_line(f, c, line, cap);
    if (st) return st;
    int64_t ref_line = f->line_no, rows = 0, xcap = 0, ycap = 0;
    int ncols = px_csv_count_fields(*line, c->o.delimiter), label_col = -1;
    if ((st = px_csv_label_column(f->path, c, ncols, &label_col))) return st;
    int64_t nx = c->label_only ? 0 : ncols - (label_col >= 0);
    bool fl = c->o.float_labels;
    void *xb = NULL, *yb = NULL;
    int r = 1;
    for (; r > 0 && !st; r = px_csv_next_line(f, c, line, cap)) {
        if (px_csv_blank_line(*line)) continue;
        if ((st = px_csv_check_fields(f, c, *line, ncols, ref_line))) break;
        if (nx && (st = grow(f, &xb, &xcap, rows + 1, nx))) break;
        if (label_col >= 0 && (st = grow(f, &yb, &ycap, rows + 1, 1))) break;
        st = px_csv_parse_line(f, c, *line, ncols, label_col, nx ? (float *)xb + rows * nx : NULL,
                        label_col >= 0 && fl ? (float *)yb + rows : NULL,
                        label_col >= 0 && !fl ? (int32_t *)yb + rows : NULL);
        rows++;
    }
    if (!st && r < 0) st = px_last_status();
    if (!st && !c->label_only && !(*x = px_tensor_new(PX_F32, PX_SHAPE(rows, nx)))) st = px_last_status();
    if (!st && nx) memcpy((*x)->data, xb, (size_t)(rows * nx) * 4);
    if (!st && label_col >= 0) {
        *y = fl ? px_tensor_new(PX_F32, PX_SHAPE(rows, 1)) : px_tensor_new(PX_I32, PX_SHAPE(rows));
        if (!*y) st = px_last_status();
        else memcpy((*y)->data, yb, (size_t)rows * 4);
    }
    free(xb);
    free(yb);
    if (st) {
        px_tensor_free(*x);
        px_tensor_free(*y);
        *x = *y = NULL;
    }
    return st;
}

static px_status csv_load(const char *path, const px_csv_cfg *c, px_tensor **x, px_tensor **y) {
    *x = *y = NULL;
    if (c->o.delimiter == '\n' || c->o.delimiter == '\r' || c->o.delimiter == '\0')
        return px_set_error(PX_ERR_ARG, "csv: %s: the delimiter cannot be a line break", path);
    px_gzfile f;
    px_status st = px_gz_open(&f, path, "csv");
    if (st != PX_OK) return st;
    f.stop_at_nul = true; /* binary input (/dev/zero) fails on its first byte */
    char *line = NULL;
    size_t cap = 0;
    if (f.stream) {
        st = read_stream(&f, c, &line, &cap, x, y);
        free(line);
        px_gz_close(&f);
        return st;
    }
    int64_t rows = 0;
    int ncols = 0, label_col = -1;
    st = scan(&f, c, &line, &cap, &rows, &ncols);
    if (st == PX_OK) st = px_csv_label_column(f.path, c, ncols, &label_col);
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

px_csv_cfg px_csv_cfg_make(const px_csv_options *opts) {
    px_csv_cfg c = {.o = {.label_column = -1}};
    if (opts) c.o = *opts;
    if (c.o.delimiter == 0) c.o.delimiter = ',';
    return c;
}

px_status px_csv_read(const char *path, const px_csv_options *opts, px_dataset **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "csv: the output pointer is NULL");
    *out = NULL;
    px_csv_cfg c = px_csv_cfg_make(opts);
    px_tensor *x, *y;
    px_status st = csv_load(path, &c, &x, &y);
    if (st != PX_OK) return st;
    *out = px_dataset_new(x, y);
    return *out ? PX_OK : px_last_status();
}

px_dataset *px_dataset_from_xy_files(const char *x_path, const char *y_path,
                                     const px_csv_options *opts) {
    px_csv_cfg c = px_csv_cfg_make(opts);
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
