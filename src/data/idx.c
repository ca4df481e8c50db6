/* The IDX reader (MNIST's format): big-endian header and data, plain or gzip'd,
 * converted to float32 or int32 (or unsigned bytes kept as bytes) with errors
 * that name the file and byte offset. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/idx.h"
#include "formats/gzfile.h"
#include "plexus/data.h"

#define STAGE_BYTES 65536 /* a multiple of every element size */
/* Even with an unknown file size (a pipe), more than 2^40 elements is absurd. */
#define MAX_ELEMENTS ((int64_t)1 << 40)

typedef struct idx_type {
    int code, size;
    const char *name;
} idx_type;

static const idx_type idx_types[] = {
    {0x08, 1, "unsigned byte"}, {0x09, 1, "signed byte"}, {0x0B, 2, "int16"},
    {0x0C, 4, "int32"},         {0x0D, 4, "float32"},     {0x0E, 8, "float64"},
};

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* Every IDX element type converts to double exactly. */
static double decode(int code, const uint8_t *p) {
    switch (code) {
    case 0x08: return p[0];
    case 0x09: return (int8_t)p[0];
    case 0x0B: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
    case 0x0C: return (int32_t)be32(p);
    case 0x0D: {
        uint32_t b = be32(p);
        float v;
        memcpy(&v, &b, 4);
        return v;
    }
    default: {
        uint64_t b = be64(p);
        double v;
        memcpy(&v, &b, 8);
        return v;
    }
    }
}

/* What the header says. */
typedef struct idx_header {
    const idx_type *t;
    px_shape shape;
    int64_t elements, hdr_len, data_bytes;
    char dims[160]; /* the shape, formatted for messages */
} idx_header;

/* Reads `count` elements into dst (NULL: read and drop), converting to `to`
 * (PX_ELEM_U8 only for files of unsigned bytes: copied as they are). */
static px_status read_elements(px_gzfile *f, const idx_header *h, px_elem_type to, void *dst, int64_t count,
                               uint8_t *stage) {
    const idx_type *t = h->t;
    const int64_t hdr_len = h->hdr_len, data_bytes = h->data_bytes;
    int64_t per_chunk = STAGE_BYTES / t->size;
    for (int64_t done = 0; done < count;) {
        int64_t n = count - done < per_chunk ? count - done : per_chunk;
        int64_t want = n * t->size;
        int64_t got = px_gz_read(f, stage, want);
        if (got < 0) return px_last_status();
        if (got < want)
            return px_set_error(PX_ERR_FORMAT,
                                "idx: %s: truncated data at offset %lld: expected %lld bytes of data "
                                "after the %lld-byte header, found %lld",
                                f->path, (long long)f->offset, (long long)data_bytes,
                                (long long)hdr_len, (long long)(f->offset - hdr_len));
        if (dst && to == PX_ELEM_U8) {
            memcpy((uint8_t *)dst + done, stage, (size_t)n);
        } else if (dst) {
            for (int64_t i = 0; i < n; i++) {
                double v = decode(t->code, stage + i * t->size);
                if (to == PX_ELEM_F32) {
                    float fv = (float)v;
                    if (isfinite(v) && !isfinite(fv))
                        return px_set_error(PX_ERR_FORMAT,
                                            "idx: %s: the float64 value %g at offset %lld is "
                                            "outside the float32 range",
                                            f->path, v,
                                            (long long)(f->offset - want + i * t->size));
                    ((float *)dst)[done + i] = fv;
                } else {
                    if (!(v >= INT32_MIN && v <= INT32_MAX) || v != floor(v))
                        return px_set_error(PX_ERR_FORMAT,
                                            "idx: %s: the %s value %g at offset %lld is not an "
                                            "int32; read the file as float32",
                                            f->path, t->name, v,
                                            (long long)(f->offset - want + i * t->size));
                    ((int32_t *)dst)[done + i] = (int32_t)v;
                }
            }
        }
        done += n;
    }
    return PX_OK;
}

/* The magic, the type code and the number of dimensions (bytes 0..3). */
static px_status read_magic(px_gzfile *f, uint8_t *hdr, idx_header *h) {
    const char *path = f->path;
    int64_t got = px_gz_read(f, hdr, 4);
    if (got < 0) return px_last_status();
    if (got == 0)
        return px_set_error(PX_ERR_FORMAT,
                            "idx: %s: the file is empty: expected the 4-byte IDX magic at offset 0",
                            path);
    if (got < 4)
        return px_set_error(PX_ERR_FORMAT,
                            "idx: %s: truncated header at offset %lld: expected the 4-byte IDX "
                            "magic at offset 0, found %lld bytes",
                            path, (long long)got, (long long)got);
    if (hdr[0] != 0 || hdr[1] != 0)
        return px_set_error(PX_ERR_FORMAT,
                            "idx: %s: bad magic at offset 0: expected 00 00 <type> <ndims>, found "
                            "%02x %02x %02x %02x (not an IDX file)",
                            path, hdr[0], hdr[1], hdr[2], hdr[3]);
    h->t = NULL;
    for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
        if (idx_types[i].code == hdr[2]) h->t = &idx_types[i];
    if (!h->t)
        return px_set_error(PX_ERR_FORMAT,
                            "idx: %s: unknown type code 0x%02x at offset 2 (expected 0x08, 0x09, "
                            "0x0B, 0x0C, 0x0D or 0x0E)",
                            path, hdr[2]);
    int ndims = hdr[3];
    if (ndims > PX_MAX_RANK)
        return px_set_error(PX_ERR_FORMAT,
                            "idx: %s: %d dimensions at offset 3: at most %d are supported", path,
                            ndims, PX_MAX_RANK);
    h->shape.rank = ndims;
    return PX_OK;
}

/* The dimensions (big-endian uint32 each, after the magic) and the data size they
 * imply, checked against what the file can hold. */
static px_status read_dims(px_gzfile *f, uint8_t *hdr, idx_header *h) {
    const char *path = f->path;
    int ndims = h->shape.rank;
    h->hdr_len = 4 + 4 * (int64_t)ndims;
    int64_t got = px_gz_read(f, hdr + 4, 4 * ndims);
    if (got < 0) return px_last_status();
    if (got < 4 * ndims)
        return px_set_error(PX_ERR_FORMAT,
                            "idx: %s: truncated header at offset %lld: expected %d bytes of "
                            "dimensions after offset 4, found %lld",
                            path, (long long)(4 + got), 4 * ndims, (long long)got);
    int64_t elements = 1;
    bool overflow = false;
    for (int i = 0; i < ndims; i++) {
        uint32_t d = be32(hdr + 4 + 4 * i);
        if (d > INT32_MAX)
            return px_set_error(PX_ERR_FORMAT,
                                "idx: %s: dimension %d at offset %d is %u, which is negative as "
                                "a signed int32",
                                path, i, 4 + 4 * i, d);
        h->shape.dim[i] = d;
        if (d != 0 && elements > MAX_ELEMENTS / (int64_t)d) overflow = true;
        else elements *= d;
    }
    px_shape_format(h->shape, h->dims, sizeof h->dims);
    if (overflow)
        return px_set_error(PX_ERR_FORMAT,
                            "idx: %s: the dimensions %s at offset 4 hold more than 2^40 elements "
                            "(a corrupt header)",
                            path, h->dims);
    /* elements <= 2^40 and size <= 8, so no overflow below */
    h->elements = elements;
    h->data_bytes = elements * h->t->size;
    if (h->data_bytes > f->max_bytes - h->hdr_len) {
        if (!f->compressed)
            return px_set_error(PX_ERR_FORMAT,
                                "idx: %s: truncated data at offset %lld: expected %lld bytes of "
                                "data after the %lld-byte header, found %lld (dimensions %s of %s)",
                                path, (long long)f->max_bytes, (long long)h->data_bytes,
                                (long long)h->hdr_len, (long long)(f->max_bytes - h->hdr_len), h->dims,
                                h->t->name);
        return px_set_error(PX_ERR_FORMAT,
                            "idx: %s: the header at offset 4 claims dimensions %s of %s (%lld bytes "
                            "of data), more than this gzip file can hold (a corrupt header)",
                            path, h->dims, h->t->name, (long long)h->data_bytes);
    }
    return PX_OK;
}

/* Trailing bytes mean the header's dimensions do not describe the file: an error
 * rather than silently dropping data. */
static px_status check_trailing(px_gzfile *f, const idx_header *h, uint8_t *stage) {
    int64_t extra = 0, r;
    while ((r = px_gz_read(f, stage, STAGE_BYTES)) > 0) extra += r;
    if (r < 0) return px_last_status();
    if (extra > 0)
        return px_set_error(PX_ERR_FORMAT,
                            "idx: %s: %lld bytes of unexpected data at offset %lld, after the "
                            "%lld bytes of data that the dimensions %s of %s describe",
                            f->path, (long long)extra, (long long)(h->hdr_len + h->data_bytes),
                            (long long)h->data_bytes, h->dims, h->t->name);
    return PX_OK;
}

/* Where read_body puts rows: a new tensor (float32, int32) or a malloc'd block of bytes. */
typedef struct idx_out {
    px_tensor *t;
    uint8_t *bytes;
    px_shape shape;
} idx_out;

static px_status out_alloc(idx_out *o, px_elem_type to, px_shape shape, const char *path) {
    o->shape = shape;
    if (to != PX_ELEM_U8) {
        o->t = px_tensor_new(to == PX_ELEM_F32 ? PX_F32 : PX_I32, shape);
        return o->t ? PX_OK : px_last_status();
    }
    o->bytes = malloc(px_shape_size(shape) ? (size_t)px_shape_size(shape) : 1);
    return o->bytes ? PX_OK : px_set_error(PX_ERR_NOMEM, "idx: %s: out of memory for %lld bytes", path,
                                           (long long)px_shape_size(shape));
}

static void *out_data(idx_out *o) { return o ? (o->t ? o->t->data : o->bytes) : NULL; }

static void out_free(idx_out *o) {
    if (!o) return;
    px_tensor_free(o->t);
    free(o->bytes);
    o->t = NULL, o->bytes = NULL;
}

static px_status read_body(px_gzfile *f, px_elem_type to, int64_t n_first, idx_out *first, idx_out *rest,
                           int64_t *total_rows) {
    uint8_t hdr[4 + 4 * PX_MAX_RANK];
    idx_header h = {0};
    px_status st = read_magic(f, hdr, &h);
    if (st == PX_OK) st = read_dims(f, hdr, &h);
    if (st != PX_OK) return st;
    if (to == PX_ELEM_U8 && h.t->code != 0x08)
        return px_set_error(PX_ERR_FORMAT, "idx: %s: holds %s values (type code 0x%02x at offset 2); only unsigned "
                            "bytes (0x08) can be kept as bytes", f->path, h.t->name, h.t->code);
    int ndims = h.shape.rank;
    int64_t rows = ndims ? h.shape.dim[0] : 1;
    if (total_rows) *total_rows = rows;
    if (n_first >= 0 && (ndims == 0 || n_first > rows))
        return px_set_error(PX_ERR_ARG, "idx: %s: cannot take the first %lld rows of dimensions %s",
                            f->path, (long long)n_first, h.dims);
    int64_t n1 = n_first >= 0 ? n_first : rows;
    int64_t row_elems = rows ? h.elements / rows : 0;

    px_shape s1 = h.shape, s2 = h.shape;
    if (ndims) {
        s1.dim[0] = n1;
        s2.dim[0] = rows - n1;
    }
    if (out_alloc(first, to, s1, f->path) != PX_OK) return px_last_status();
    if (rest && n_first >= 0 && out_alloc(rest, to, s2, f->path) != PX_OK) return px_last_status();
    uint8_t *stage = malloc(STAGE_BYTES);
    if (!stage) return px_set_error(PX_ERR_NOMEM, "idx: %s: out of memory for a read buffer", f->path);
    st = read_elements(f, &h, to, out_data(first), n1 * row_elems, stage);
    if (st == PX_OK)
        st = read_elements(f, &h, to, rest && n_first >= 0 ? out_data(rest) : NULL, (rows - n1) * row_elems, stage);
    if (st == PX_OK) st = check_trailing(f, &h, stage);
    free(stage);
    return st;
}

/* Opens path and reads it into first and rest (see px_idx_read_split), freeing both on failure. */
static px_status read_file(const char *path, px_elem_type to, int64_t n_first, idx_out *first, idx_out *rest,
                           int64_t *total_rows) {
    px_gzfile f;
    px_status st = px_gz_open(&f, path, "idx");
    if (st != PX_OK) return st;
    st = read_body(&f, to, n_first, first, rest, total_rows);
    px_gz_close(&f);
    if (st != PX_OK) {
        out_free(first);
        out_free(rest);
    }
    return st;
}

px_status px_idx_read_split(const char *path, px_dtype dtype, int64_t n_first, px_tensor **first,
                            px_tensor **rest, int64_t *total_rows) {
    if (!first) return px_set_error(PX_ERR_ARG, "idx: the output pointer is NULL");
    *first = NULL;
    if (rest) *rest = NULL;
    if (dtype != PX_F32 && dtype != PX_I32)
        return px_set_error(PX_ERR_ARG, "idx: unknown dtype %d (use PX_F32 or PX_I32)", (int)dtype);
    idx_out o1 = {0}, o2 = {0};
    px_status st = read_file(path, dtype == PX_F32 ? PX_ELEM_F32 : PX_ELEM_I32, n_first, &o1, rest ? &o2 : NULL,
                             total_rows);
    if (st != PX_OK) return st;
    *first = o1.t;
    if (rest) *rest = o2.t;
    return PX_OK;
}

px_status px_idx_read(const char *path, px_dtype dtype, px_tensor **out) {
    return px_idx_read_split(path, dtype, -1, out, NULL, NULL);
}

px_status px_idx_read_bytes_split(const char *path, int64_t n_first, px_array *first, px_array *rest,
                                  int64_t *total_rows) {
    if (!first) return px_set_error(PX_ERR_ARG, "idx: the output pointer is NULL");
    memset(first, 0, sizeof *first);
    if (rest) memset(rest, 0, sizeof *rest);
    idx_out o1 = {0}, o2 = {0};
    px_status st = read_file(path, PX_ELEM_U8, n_first, &o1, rest ? &o2 : NULL, total_rows);
    if (st != PX_OK) return st;
    *first = (px_array){.type = PX_ELEM_U8, .shape = o1.shape, .data = o1.bytes, .owned = true};
    if (rest) *rest = (px_array){.type = PX_ELEM_U8, .shape = o2.shape, .data = o2.bytes, .owned = true};
    return PX_OK;
}
