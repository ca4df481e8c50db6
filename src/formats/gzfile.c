/* Reading plain or gzip'd files through zlib (gzread passes plain files through
 * unchanged), with offsets, line reading and clear errors for the readers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/gzfile.h"

/* Deflate cannot expand data by more than 1032:1, so a gzip'd file of s bytes
 * holds at most about 1032 * s bytes: this bounds what a header may claim. */
#define PX_DEFLATE_MAX_RATIO 1032
#define PX_LINE_CHUNK 65536

px_status px_gz_open(px_gzfile *f, const char *path, const char *who) {
    memset(f, 0, sizeof *f);
    f->path = path ? path : "(null)";
    f->who = who;
    if (!path) return px_set_error(PX_ERR_ARG, "%s: path is NULL", who);
    bool std_in = strcmp(path, "-") == 0;
    if (std_in) f->path = "standard input";
    /* open() ourselves: gzopen does not promise a meaningful errno. */
    int fd = std_in ? dup(STDIN_FILENO) : open(path, O_RDONLY);
    if (fd < 0) return px_set_error(PX_ERR_IO, "%s: cannot open %s: %s", who, f->path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return px_set_error(PX_ERR_IO, "%s: cannot stat %s: %s", who, f->path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return px_set_error(PX_ERR_IO, "%s: cannot read %s: %s", who, f->path, strerror(EISDIR));
    }
    f->stream = !S_ISREG(st.st_mode);
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return px_set_error(PX_ERR_NOMEM, "%s: %s: out of memory for the zlib reader", who, f->path);
    }
    gzbuffer(f->gz, 1 << 17);
    f->compressed = !gzdirect(f->gz);
    f->max_bytes = INT64_MAX;
    if (S_ISREG(st.st_mode)) {
        int64_t size = (int64_t)st.st_size;
        if (!f->compressed) f->max_bytes = size;
        else if (size < INT64_MAX / PX_DEFLATE_MAX_RATIO - 1024)
            f->max_bytes = size * PX_DEFLATE_MAX_RATIO + 1024;
    }
    return PX_OK;
}

/* Turns zlib's state after a short or failed read into an error, if it is one. */
static px_status gz_check(px_gzfile *f) {
    int errnum = Z_OK;
    const char *msg = gzerror(f->gz, &errnum);
    if (errnum == Z_OK || errnum == Z_STREAM_END) return PX_OK;
    if (errnum == Z_ERRNO)
        return px_set_error(PX_ERR_IO, "%s: %s: read error at offset %lld: %s", f->who, f->path,
                            (long long)f->offset, strerror(errno));
    if (errnum == Z_BUF_ERROR)
        return px_set_error(PX_ERR_FORMAT,
                            "%s: %s: the gzip stream ends unexpectedly at offset %lld of the "
                            "uncompressed data (truncated .gz file)",
                            f->who, f->path, (long long)f->offset);
    if (errnum == Z_MEM_ERROR)
        return px_set_error(PX_ERR_NOMEM, "%s: %s: out of memory while decompressing", f->who, f->path);
    return px_set_error(PX_ERR_FORMAT, "%s: %s: corrupt gzip data near offset %lld of the "
                        "uncompressed data: %s", f->who, f->path, (long long)f->offset,
                        msg ? msg : "unknown zlib error");
}

int64_t px_gz_read(px_gzfile *f, void *dst, int64_t n) {
    int64_t got = 0;
    char *p = dst;
    while (got < n) {
        int64_t want = n - got;
        if (want > (1 << 30)) want = 1 << 30;
        int r = gzread(f->gz, p + got, (unsigned)want);
        if (r < 0) {
            gz_check(f);
            return -1;
        }
        got += r;
        f->offset += r;
        if (r < want) {
            /* zlib reports a truncated stream as a short read, not as -1 */
            if (gz_check(f) != PX_OK) return -1;
            break;
        }
    }
    return got;
}

/* Refills the line buffer, keeping the unconsumed tail. */
static int fill(px_gzfile *f) {
    if (!f->buf) {
        f->buf = malloc(PX_LINE_CHUNK);
        if (!f->buf) {
            px_set_error(PX_ERR_NOMEM, "%s: %s: out of memory for a read buffer", f->who, f->path);
            return -1;
        }
    }
    size_t keep = f->buf_len - f->buf_pos;
    memmove(f->buf, f->buf + f->buf_pos, keep);
    f->buf_pos = 0;
    f->buf_len = keep;
    int64_t r = px_gz_read(f, f->buf + keep, PX_LINE_CHUNK - (int64_t)keep);
    if (r < 0) return -1;
    if (r == 0) f->at_eof = true;
    f->buf_len += (size_t)r;
    return (int)(r > 0);
}

/* The first line break ('\n' or '\r') in [p, p + n), or with stop_at_nul a NUL
 * byte; NULL when there is none. */
static char *line_end(const px_gzfile *f, char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\n' || c == '\r' || (c == '\0' && f->stop_at_nul)) return p + i;
    }
    return NULL;
}

int px_gz_getline(px_gzfile *f, char **line, size_t *cap) {
    size_t len = 0;
    bool any = false;
    for (;;) {
        if (f->buf_pos == f->buf_len) {
            if (f->at_eof) break;
            int r = fill(f);
            if (r < 0) return -1;
            if (r == 0) break;
        }
        if (f->skip_lf) { /* "\r\n" split across two reads, or two calls */
            f->skip_lf = false;
            if (f->buf[f->buf_pos] == '\n') {
                f->buf_pos++;
                continue;
            }
        }
        char *start = f->buf + f->buf_pos;
        size_t avail = f->buf_len - f->buf_pos;
        char *end = line_end(f, start, avail);
        size_t take = end ? (size_t)(end - start) : avail;
        bool nul = end && *end == '\0';
        if (nul) take++; /* the NUL stays in the line, for the caller to report */
        any = true;
        if (len + take + 1 > PX_GZ_LINE_MAX) {
            px_set_error(PX_ERR_FORMAT, "%s: %s: line %lld is longer than %zu MiB (no line breaks: not a text file?)",
                         f->who, f->path, (long long)f->line_no + 1, PX_GZ_LINE_MAX >> 20);
            return -1;
        }
        if (len + take + 1 > *cap) {
            size_t nc = *cap ? *cap : 256;
            while (nc < len + take + 1) nc *= 2;
            char *grown = realloc(*line, nc);
            if (!grown) {
                px_set_error(PX_ERR_NOMEM, "%s: %s: out of memory for line %lld", f->who, f->path,
                             (long long)f->line_no + 1);
                return -1;
            }
            *line = grown;
            *cap = nc;
        }
        memcpy(*line + len, start, take);
        len += take;
        f->buf_pos += take;
        if (end && !nul) {
            f->buf_pos++; /* the line break */
            if (*end == '\r') f->skip_lf = true;
        }
        if (end) break;
    }
    if (!any) return 0;
    (*line)[len] = '\0';
    f->line_len = len;
    f->line_no++;
    return 1;
}

px_status px_gz_rewind(px_gzfile *f) {
    if (f->stream) return px_set_error(PX_ERR_STATE, "%s: %s is a stream and cannot be read twice", f->who, f->path);
    if (gzrewind(f->gz) != 0)
        return px_set_error(PX_ERR_IO, "%s: %s: cannot rewind: %s", f->who, f->path, strerror(errno));
    f->offset = 0;
    f->buf_len = f->buf_pos = 0;
    f->at_eof = false;
    f->skip_lf = false;
    f->line_no = 0;
    return PX_OK;
}

void px_gz_close(px_gzfile *f) {
    if (f->gz) gzclose(f->gz);
    free(f->buf);
    f->gz = NULL;
    f->buf = NULL;
}
