/* Shape arithmetic: sizes, formatting, broadcasting, axis normalisation and Python's
 * slice bounds. */
#include <stdio.h>
#include <string.h>

#include "core/shape.h"

int64_t px_shape_size(px_shape s) {
    int64_t n = 1;
    for (int i = 0; i < s.rank; i++) {
        if (s.dim[i] < 0) return -1;
        n *= s.dim[i];
    }
    return n;
}

bool px_shape_equal(px_shape a, px_shape b) {
    if (a.rank != b.rank) return false;
    for (int i = 0; i < a.rank; i++)
        if (a.dim[i] != b.dim[i]) return false;
    return true;
}

char *px_shape_format(px_shape s, char *buf, size_t len) {
    size_t used = 0;
    if (!buf) return px_set_error(PX_ERR_ARG, "px_shape_format: buf is NULL"), NULL;
    if (len == 0) return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, len - used, "(");
    for (int i = 0; i < s.rank && used < len; i++) {
        if (s.dim[i] == PX_UNKNOWN)
            used += (size_t)snprintf(buf + used, len - used, "%sNone", i ? ", " : "");
        else
            used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "",
                                     (long long)s.dim[i]);
    }
    if (used < len) used += (size_t)snprintf(buf + used, len - used, s.rank == 1 ? ",)" : ")");
    return buf;
}

px_status px_broadcast_shape(const char *op, px_shape a, px_shape b, px_shape *out) {
    px_shape r = {.rank = a.rank > b.rank ? a.rank : b.rank};
    for (int i = 0; i < r.rank; i++) {
        int ia = a.rank - r.rank + i, ib = b.rank - r.rank + i;
        int64_t da = ia >= 0 ? a.dim[ia] : 1, db = ib >= 0 ? b.dim[ib] : 1;
        int64_t d;
        if (da == db) d = da;
        else if (da == 1) d = db;
        else if (db == 1) d = da;
        else if (da == PX_UNKNOWN) d = db;
        else if (db == PX_UNKNOWN) d = da;
        else {
            char sa[96], sb[96];
            return px_set_error(PX_ERR_SHAPE,
                                "%s: shapes %s and %s cannot be broadcast together "
                                "(axis %d has sizes %lld and %lld; each must be equal or 1)",
                                op, px_shape_format(a, sa, sizeof sa),
                                px_shape_format(b, sb, sizeof sb), i, (long long)da,
                                (long long)db);
        }
        r.dim[i] = d;
    }
    *out = r;
    return PX_OK;
}

px_status px_normalize_axis(const char *op, int axis, int rank, int *out) {
    int a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank)
        return px_set_error(PX_ERR_ARG, "%s: axis %d is out of range for a tensor of rank %d",
                            op, axis, rank);
    *out = a;
    return PX_OK;
}

void px_range_resolve(px_range r, int64_t dim, int64_t *start, int64_t *step, int64_t *count) {
    int64_t st = r.step ? r.step : 1;
    /* the bounds a clipped index may take: [0, dim] forwards, [-1, dim - 1] backwards */
    int64_t lower = st > 0 ? 0 : -1, upper = st > 0 ? dim : dim - 1;
    int64_t a, b;
    if (r.start == PX_END) a = st > 0 ? lower : upper;
    else {
        a = r.start < 0 ? r.start + dim : r.start;
        a = a < lower ? lower : a > upper ? upper : a;
    }
    if (r.stop == PX_END) b = st > 0 ? upper : lower;
    else {
        b = r.stop < 0 ? r.stop + dim : r.stop;
        b = b < lower ? lower : b > upper ? upper : b;
    }
    /* written so that no step, however large, overflows */
    int64_t span = st > 0 ? b - a : a - b;
    *start = a;
    *step = st;
    *count = span > 0 ? 1 + (span - 1) / (st > 0 ? st : -(st + 1) + 1) : 0;
}
