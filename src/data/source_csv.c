/* A CSV file as a streaming source: every epoch reads the file again from the
 * start and parses it batch by batch into the reader's buffers, so a file
 * larger than memory trains with the memory of a few batches (and a shuffle
 * buffer, when one is put after it). The rows are counted, and every row's
 * field count checked, when the source is made. */
#include <stdlib.h>
#include <string.h>

#include "data/csv_internal.h"
#include "data/source_internal.h"

typedef struct csv_source {
    px_source base;
    px_csv_cfg c;
    char *path;       /* owned copy: the file's path is borrowed by f */
    px_gzfile f;
    bool open;
    char *line;
    size_t cap;
    int ncols, label_col;
    int64_t nx, ref_line;
    float *xrow;      /* one row's features as parsed */
    bool pending;     /* the pass's first data line is in `line` already */
    int64_t row;      /* examples given out this pass */
} csv_source;

static px_status csv_start(px_source *s, const px_plan *plan) {
    (void)plan;
    csv_source *cs = (csv_source *)s;
    cs->row = 0;
    cs->pending = false;
    if (px_gz_rewind(&cs->f) != PX_OK) return px_last_status();
    int r = px_csv_first_data_line(&cs->f, &cs->c, &cs->line, &cs->cap);
    if (r < 0) return px_last_status();
    cs->pending = r > 0;
    return PX_OK;
}

/* The next non-blank line into cs->line: 1, 0 at the end, -1 on error. */
static int data_line(csv_source *cs) {
    if (cs->pending) {
        cs->pending = false;
        return 1;
    }
    int r;
    while ((r = px_csv_next_line(&cs->f, &cs->c, &cs->line, &cs->cap)) > 0)
        if (!px_csv_blank_line(cs->line)) return 1;
    return r;
}

/* The label parsed, converted into row i of the batch's target. */
static px_status put_label(csv_source *cs, const px_batch *dst, int64_t i, float fl, int32_t il) {
    const px_tensor *y = &dst->y[0];
    bool as_float = cs->c.o.float_labels;
    int64_t bad = px_copy_values((char *)y->data + (size_t)i * 4, y->dtype, as_float ? (const void *)&fl : &il,
                                 as_float ? PX_ELEM_F32 : PX_ELEM_I32, 1, 1.0f);
    if (bad < 0) return PX_OK;
    return px_set_error(PX_ERR_ARG, "csv: %s: line %lld, column %d: the target %g is no class label (an integer in "
                        "the int32 range)", cs->path, (long long)cs->f.line_no, cs->label_col + 1, (double)fl);
}

static px_status csv_next(px_source *s, const px_batch *dst, int64_t *rows) {
    csv_source *cs = (csv_source *)s;
    *rows = 0;
    for (int64_t i = 0; i < dst->rows; i++) {
        int r = data_line(cs);
        if (r < 0) return px_last_status();
        if (r == 0) break;
        if (cs->row == s->size)
            return px_set_error(PX_ERR_IO, "csv: %s: the file changed while it was read (more than the %lld rows "
                                "counted)", cs->path, (long long)s->size);
        float fl = 0;
        int32_t il = 0;
        bool has_y = cs->label_col >= 0;
        if (px_csv_check_fields(&cs->f, &cs->c, cs->line, cs->ncols, cs->ref_line) != PX_OK ||
            px_csv_parse_line(&cs->f, &cs->c, cs->line, cs->ncols, cs->label_col, cs->xrow,
                              has_y && cs->c.o.float_labels ? &fl : NULL,
                              has_y && !cs->c.o.float_labels ? &il : NULL) != PX_OK)
            return px_last_status();
        const px_tensor *x = &dst->x[0];
        px_copy_values((char *)x->data + (size_t)(i * cs->nx) * 4, x->dtype, cs->xrow, PX_ELEM_F32, cs->nx, 1.0f);
        if (has_y && dst->n_y > 0 && put_label(cs, dst, i, fl, il) != PX_OK) return px_last_status();
        if (dst->weights) dst->weights[i] = 1.0f;
        if (dst->index) ((int64_t *)dst->index)[i] = cs->row;
        cs->row++;
        (*rows)++;
    }
    return PX_OK;
}

static void csv_destroy(px_source *s) {
    csv_source *cs = (csv_source *)s;
    if (cs->open) px_gz_close(&cs->f);
    free(cs->line);
    free(cs->xrow);
    free(cs->path);
}

static const px_source_ops csv_ops = {.name = "csv", .start = csv_start, .next = csv_next, .destroy = csv_destroy};

/* Counts the data rows and checks every row's field count against the first's. */
static px_status count_rows(csv_source *cs, int64_t *rows) {
    *rows = 1;
    int r;
    while ((r = px_csv_next_line(&cs->f, &cs->c, &cs->line, &cs->cap)) > 0) {
        if (px_csv_blank_line(cs->line)) continue;
        if (px_csv_check_fields(&cs->f, &cs->c, cs->line, cs->ncols, cs->ref_line) != PX_OK) return px_last_status();
        if (++*rows % 65536 == 0) px_load_progress("counting CSV rows", *rows, -1);
    }
    if (r < 0) return px_last_status();
    px_load_progress("counting CSV rows", *rows, *rows);
    return PX_OK;
}

/* The first line's columns, the label's place, the spec and the row count. */
static px_status csv_open(csv_source *cs) {
    if (cs->c.o.delimiter == '\n' || cs->c.o.delimiter == '\r' || cs->c.o.delimiter == '\0')
        return px_set_error(PX_ERR_ARG, "csv: %s: the delimiter cannot be a line break", cs->path);
    if (px_gz_open(&cs->f, cs->path, "csv") != PX_OK) return px_last_status();
    cs->open = true;
    cs->f.stop_at_nul = true;
    if (cs->f.stream)
        return px_set_error(PX_ERR_ARG, "csv: %s: a CSV source reads the file again every epoch, which standard input, "
                            "a pipe or a device cannot give; read it whole with px_csv_read", cs->path);
    if (px_csv_need_first_line(&cs->f, &cs->c, &cs->line, &cs->cap) != PX_OK) return px_last_status();
    cs->ref_line = cs->f.line_no;
    cs->ncols = px_csv_count_fields(cs->line, cs->c.o.delimiter);
    if (px_csv_label_column(cs->path, &cs->c, cs->ncols, &cs->label_col) != PX_OK) return px_last_status();
    cs->nx = cs->ncols - (cs->label_col >= 0);
    if (!(cs->xrow = malloc((size_t)cs->nx * sizeof *cs->xrow)))
        return px_set_error(PX_ERR_NOMEM, "csv: %s: out of memory", cs->path);
    px_source_spec *sp = &cs->base.spec;
    sp->n_x = 1;
    sp->x[0] = PX_SHAPE(cs->nx);
    sp->x_dtype[0] = PX_F32;
    if (cs->label_col >= 0) { /* as px_csv_read: int labels (n), float targets (n, 1) */
        sp->n_y = 1;
        sp->y[0] = cs->c.o.float_labels ? PX_SHAPE(1) : (px_shape){.rank = 0};
        sp->y_dtype[0] = cs->c.o.float_labels ? PX_F32 : PX_I32;
    }
    return count_rows(cs, &cs->base.size);
}

px_source *px_source_csv(const char *path, const px_csv_options *opts) {
    if (!path) {
        px_set_error(PX_ERR_ARG, "csv: the path is NULL");
        return NULL;
    }
    csv_source *cs = (csv_source *)px_source_alloc(sizeof *cs, &csv_ops, "csv");
    if (!cs) return NULL;
    cs->c = px_csv_cfg_make(opts);
    cs->path = strdup(path);
    px_status st = cs->path ? csv_open(cs) : px_set_error(PX_ERR_NOMEM, "csv: out of memory");
    if (st == PX_OK) st = px_spec_check(&cs->base.spec, "csv");
    if (st != PX_OK) {
        px_source_free(&cs->base);
        return NULL;
    }
    return &cs->base;
}
