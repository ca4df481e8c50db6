/* Internal: reading plain or gzip'd files through zlib with the position in the
 * (uncompressed) content tracked, so that format errors can name a byte offset. */
#ifndef PX_IO_GZFILE_H
#define PX_IO_GZFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "plexus/tensor.h"

typedef struct px_gzfile {
    gzFile gz;
    const char *path;  /* borrowed: for messages */
    const char *who;   /* message prefix, e.g. "idx" */
    int64_t offset;    /* uncompressed bytes consumed by the caller */
    int64_t max_bytes; /* upper bound on the content size (INT64_MAX when unknown) */
    bool compressed;
    bool stream;       /* standard input, a pipe, a FIFO or a device: read once, no rewind */
    /* line reading only */
    char *buf;
    size_t buf_len, buf_pos;
    bool at_eof;
    bool skip_lf;      /* the last line ended with a lone '\r': a following '\n' belongs to it */
    bool stop_at_nul;  /* a NUL byte ends the line (kept in it), so binary input stops early */
    int64_t line_no;   /* number of the line last returned, from 1 */
    size_t line_len;   /* its length in bytes (NUL bytes included) */
} px_gzfile;

/* The longest line px_gz_getline returns; a longer one is an error (a file with
 * no line breaks, such as /dev/zero, is not read without end). */
#define PX_GZ_LINE_MAX ((size_t)256 << 20)

/* Opens `path` ("-": standard input); a missing or unreadable file is PX_ERR_IO
 * with strerror's text. Directories are refused; pipes, FIFOs and devices are
 * streams (f->stream), which can be read once but not rewound. */
px_status px_gz_open(px_gzfile *f, const char *path, const char *who);
/* Reads up to n bytes, fewer only at the end of the content. Returns the count,
 * or -1 with an error set (I/O error, corrupt or truncated gzip stream). */
int64_t px_gz_read(px_gzfile *f, void *dst, int64_t n);
/* The next line without its "\n", "\r\n" or "\r" (old Mac files), NUL-terminated,
 * in *line (grown with realloc, *cap its size; f->line_len its length, which is
 * more than strlen when the line holds NUL bytes). Returns 1 for a line, 0 at
 * the end, -1 on error (also for a line longer than PX_GZ_LINE_MAX). */
int px_gz_getline(px_gzfile *f, char **line, size_t *cap);
/* Back to the start of the content (re-decompresses a gzip'd file); a stream
 * cannot go back (PX_ERR_STATE). */
px_status px_gz_rewind(px_gzfile *f);
void px_gz_close(px_gzfile *f);

/* Internal to the data module: reads an IDX file's rows [0, n_first) into
 * *first and the rest into *rest (with rest NULL they are read, checked and
 * dropped); n_first < 0 means every row goes to *first. *total_rows (may be
 * NULL) receives the file's first dimension. Lets Fashion-MNIST split its
 * 60,000 training images without holding a second full copy. */
px_status px_idx_read_split(const char *path, px_dtype dtype, int64_t n_first, px_tensor **first,
                            px_tensor **rest, int64_t *total_rows);

#endif
