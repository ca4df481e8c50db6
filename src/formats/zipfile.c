/* Zip archives through libzip: reading members whole and writing stored archives,
 * built in memory and written atomically (core/atomic_file.h). */
#include "formats/zipfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "core/atomic_file.h"

struct px_zip {
    zip_t *z;
    char *path;
    uint64_t file_size;
};

bool px_zip_is_archive(const char *path) {
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return false;
    unsigned char sig[4] = {0};
    size_t n = fread(sig, 1, 4, f);
    fclose(f);
    return n == 4 && sig[0] == 'P' && sig[1] == 'K' && sig[2] == 3 && sig[3] == 4;
}

static px_status zip_code_error(px_status st, const char *path, const char *what, int code) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    px_status r = px_set_error(st, "'%s': %s (%s)", path, what, zip_error_strerror(&e));
    zip_error_fini(&e);
    return r;
}

px_status px_zip_open(const char *path, px_zip **out) {
    *out = NULL;
    struct stat sb;
    if (!path || stat(path, &sb) != 0) return px_set_error(PX_ERR_IO, "'%s': cannot open: no such file", path ? path : "");
    if (S_ISDIR(sb.st_mode)) return px_set_error(PX_ERR_IO, "'%s': cannot open: is a directory", path);
    int code = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!z) {
        px_status st = code == ZIP_ER_OPEN || code == ZIP_ER_READ || code == ZIP_ER_NOENT ? PX_ERR_IO : PX_ERR_FORMAT;
        return zip_code_error(st, path, st == PX_ERR_IO ? "cannot open" : "not a valid zip archive", code);
    }
    px_zip *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) {
        free(p);
        zip_discard(z);
        return px_set_error(PX_ERR_NOMEM, "'%s': out of memory", path);
    }
    p->z = z;
    p->file_size = (uint64_t)sb.st_size;
    *out = p;
    return PX_OK;
}

void px_zip_close(px_zip *z) {
    if (!z) return;
    zip_discard(z->z); /* read-only: nothing to write back */
    free(z->path);
    free(z);
}

bool px_zip_has(px_zip *z, const char *member) { return z && zip_name_locate(z->z, member, 0) >= 0; }

px_status px_zip_read(px_zip *z, const char *member, char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    zip_int64_t idx = zip_name_locate(z->z, member, 0);
    if (idx < 0) return px_set_error(PX_ERR_FORMAT, "'%s': the archive has no member '%s'", z->path, member);
    zip_stat_t st;
    if (zip_stat_index(z->z, (zip_uint64_t)idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return px_set_error(PX_ERR_FORMAT, "'%s': member '%s': %s", z->path, member, zip_strerror(z->z));
    /* a damaged directory can claim any size: a stored member cannot exceed the
     * archive, and deflate expands at most about 1032 times */
    uint64_t limit = z->file_size * 1100 + 1024;
    if (st.size > limit || st.size > SIZE_MAX - 1)
        return px_set_error(PX_ERR_FORMAT, "'%s': member '%s' claims %llu bytes, more than the archive can hold", z->path,
                            member, (unsigned long long)st.size);
    char *buf = malloc((size_t)st.size + 1);
    if (!buf)
        return px_set_error(PX_ERR_NOMEM, "'%s': member '%s': out of memory (%llu bytes)", z->path, member,
                            (unsigned long long)st.size);
    zip_file_t *f = zip_fopen_index(z->z, (zip_uint64_t)idx, 0);
    zip_int64_t got = f ? zip_fread(f, buf, st.size) : -1;
    px_status r = PX_OK;
    if (!f || got < 0 || (zip_uint64_t)got != st.size)
        r = px_set_error(PX_ERR_FORMAT, "'%s': member '%s' cannot be read: %s", z->path, member,
                         f ? zip_file_strerror(f) : zip_strerror(z->z));
    /* libzip checks the CRC when a read reaches the end of the member */
    char extra;
    if (!r && zip_fread(f, &extra, 1) != 0)
        r = px_set_error(PX_ERR_FORMAT, "'%s': member '%s' is damaged: %s", z->path, member, zip_file_strerror(f));
    if (f) zip_fclose(f);
    if (r) {
        free(buf);
        return r;
    }
    buf[st.size] = '\0';
    *data = buf;
    *size = (size_t)st.size;
    return PX_OK;
}

/* The archive of the members, stored, built in memory (libzip's buffer source). */
static px_status build_archive(const char *path, const px_zip_member *members, int n, void **out, size_t *size) {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &err);
    zip_t *z = NULL;
    px_status st = PX_OK;
    if (mem) zip_source_keep(mem); /* kept past zip_close, which writes into it */
    if (!mem || !(z = zip_open_from_source(mem, ZIP_TRUNCATE, &err))) {
        st = px_set_error(PX_ERR_NOMEM, "'%s': cannot start the archive: %s", path, zip_error_strerror(&err));
        zip_error_fini(&err);
        if (mem) zip_source_free(mem);
        return st;
    }
    zip_error_fini(&err);
    for (int i = 0; !st && i < n; i++) {
        zip_source_t *src = zip_source_buffer(z, members[i].data, members[i].size, 0);
        zip_int64_t idx = src ? zip_file_add(z, members[i].name, src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) : -1;
        if (idx < 0) {
            if (src) zip_source_free(src);
            st = px_set_error(PX_ERR_NOMEM, "'%s': cannot add '%s' to the archive: %s", path, members[i].name, zip_strerror(z));
        } else if (zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0) != 0) {
            st = px_set_error(PX_ERR_NOMEM, "'%s': member '%s': %s", path, members[i].name, zip_strerror(z));
        }
    }
    if (st) {
        zip_discard(z);
    } else if (zip_close(z) != 0) {
        st = px_set_error(PX_ERR_NOMEM, "'%s': cannot finish the archive: %s", path, zip_strerror(z));
        zip_discard(z);
    }
    zip_stat_t sb;
    char *data = NULL;
    if (!st && (zip_source_open(mem) != 0 || zip_source_stat(mem, &sb) != 0))
        st = px_set_error(PX_ERR_NOMEM, "'%s': cannot read the archive back from memory", path);
    else if (!st) {
        data = malloc(sb.size ? (size_t)sb.size : 1);
        if (!data || zip_source_read(mem, data, sb.size) != (zip_int64_t)sb.size) {
            st = px_set_error(PX_ERR_NOMEM, "'%s': cannot read the archive back from memory", path);
            free(data);
            data = NULL;
        }
        zip_source_close(mem);
    }
    zip_source_free(mem);
    *out = data;
    *size = data ? (size_t)sb.size : 0;
    return st;
}

px_status px_zip_write_atomic(const char *path, const px_zip_member *members, int n) {
    void *data = NULL;
    size_t size = 0;
    px_status st = build_archive(path, members, n, &data, &size);
    if (!st) st = px_atomic_write_file(path, NULL, data, size);
    free(data);
    return st;
}
