/* Internal to the data module: the CSV reader's line and field parsing
 * (src/data/csv.c), shared by px_csv_read, which reads a file whole, and the
 * streaming CSV source (source_csv.c), which parses it batch by batch. */
#ifndef PX_DATA_CSV_INTERNAL_H
#define PX_DATA_CSV_INTERNAL_H

#include "formats/gzfile.h"
#include "plexus/data.h"

typedef struct px_csv_cfg {
    px_csv_options o;
    bool label_only; /* a one-column file of labels (px_dataset_from_xy_files) */
} px_csv_cfg;

/* The options with their defaults filled in (delimiter ','). */
px_csv_cfg px_csv_cfg_make(const px_csv_options *opts);
/* Whether a line holds nothing but spaces and tabs. */
bool px_csv_blank_line(const char *s);
int px_csv_count_fields(const char *line, char delim);
/* The next line (px_gz_getline): a UTF-8 byte-order mark is dropped, NUL bytes
 * and UTF-16 are errors naming the line. 1, 0 at the end, -1 on error. */
int px_csv_next_line(px_gzfile *f, const px_csv_cfg *c, char **line, size_t *cap);
/* Past skip_lines and the header to the first non-blank line: 1 when it is in
 * *line, 0 at the end, -1 on error. */
int px_csv_first_data_line(px_gzfile *f, const px_csv_cfg *c, char **line, size_t *cap);
/* The first data line, or an error saying there is none. */
px_status px_csv_need_first_line(px_gzfile *f, const px_csv_cfg *c, char **line, size_t *cap);
/* Which column holds the label (-1: none), from the options and the column count. */
px_status px_csv_label_column(const char *path, const px_csv_cfg *c, int ncols, int *label_col);
/* The line has ncols fields, as line ref_line had; else an error naming both. */
px_status px_csv_check_fields(const px_gzfile *f, const px_csv_cfg *c, const char *line, int ncols, int64_t ref_line);
/* Parses one data line: the features into xrow (may be NULL), the label into
 * *flabel or *ilabel (the one that is not NULL); errors name line and column. */
px_status px_csv_parse_line(const px_gzfile *f, const px_csv_cfg *c, const char *line, int ncols, int label_col,
                            float *xrow, float *flabel, int32_t *ilabel);

#endif
