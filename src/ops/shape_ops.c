/* Shape ops: reshape (an alias of its input), transpose, concat and slice.
 * They move elements without arithmetic, so they accept int32 as well as float32. */
#include <stdio.h>
#include <string.h>

#include "ops/op_util.h"

/* Elements are moved as 4-byte words, which fits both dtypes. */
typedef uint32_t word;

/* Product of dims[from..to), the size of a block of axes of a concrete shape. */
static int64_t span(const int64_t *dims, int from, int to) {
    int64_t n = 1;
    for (int i = from; i < to; i++) n *= dims[i];
    return n;
}

/* ------------------------------------------------------------ reshape ---- */
/* iattr: [0] target rank, [1..8] target dims, -1 for the one inferred */

/* Like px_shape_format, but a -1 in a reshape target means "inferred", not None. */
static char *format_target(px_shape t, char *buf, size_t len) {
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < t.rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long)t.dim[i]);
    if (used < len) snprintf(buf + used, len - used, t.rank == 1 ? ",)" : ")");
    return buf;
}

static px_shape reshape_target(const px_node *n) {
    px_shape t = {.rank = (int)n->iattr[0]};
    for (int i = 0; i < t.rank; i++) t.dim[i] = n->iattr[1 + i];
    return t;
}

static px_status reshape_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    px_shape t = reshape_target(n);
    int infer = -1;
    int64_t t_known = 1, in_known = 1;
    bool in_unknown = false;
    for (int i = 0; i < t.rank; i++) {
        if (t.dim[i] == -1) infer = i;
        else t_known *= t.dim[i];
    }
    for (int i = 0; i < in[0].rank; i++) {
        if (in[0].dim[i] == PX_UNKNOWN) in_unknown = true;
        else in_known *= in[0].dim[i];
    }
    *dt = n->inputs[0]->dtype;
    char sa[96], sb[96];
    if (in_unknown) {
        /* The element count is only known at run time, where this is checked
         * again; now only a target that no count could fit is rejected: the
         * count is a multiple of in_known, so a fixed target must be one too. */
        if (infer >= 0) t.dim[infer] = PX_UNKNOWN;
        else if (in_known > 0 && t_known % in_known != 0)
            return px_set_error(PX_ERR_SHAPE,
                                "reshape: cannot reshape %s (a multiple of %lld elements) into %s "
                                "(%lld elements)",
                                px_shape_format(in[0], sa, sizeof sa), (long long)in_known,
                                format_target(t, sb, sizeof sb), (long long)t_known);
        *out = t;
        return PX_OK;
    }
    if (infer >= 0) {
        if (t_known == 0 || in_known % t_known != 0)
            return px_set_error(PX_ERR_SHAPE,
                                "reshape: cannot reshape %s (%lld elements) into %s: %lld is not a "
                                "multiple of %lld",
                                px_shape_format(in[0], sa, sizeof sa), (long long)in_known,
                                format_target(t, sb, sizeof sb), (long long)in_known,
                                (long long)t_known);
        t.dim[infer] = in_known / t_known;
    } else if (t_known != in_known) {
        return px_set_error(PX_ERR_SHAPE, "reshape: cannot reshape %s (%lld elements) into %s",
                            px_shape_format(in[0], sa, sizeof sa), (long long)in_known,
                            format_target(t, sb, sizeof sb));
    }
    *out = t;
    return PX_OK;
}

static void reshape_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)n, (void)ex;
    /* A session points out at the input's memory (PX_OPF_ALIAS); only eager
     * mode gives the output a buffer of its own that needs filling. */
    if (out->data != in[0]->data) memcpy(out->data, in[0]->data, (size_t)px_tensor_size(out) * sizeof(word));
}

static void reshape_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                             const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)in;
    if (!gin[0]) return;
    int64_t count = px_tensor_size(out);
    float *gx = gin[0]->data;
    const float *gy = gout->data;
    /* the first writer stores 0 + gy: the same bits as adding to a zeroed
     * buffer (a -0 becomes +0), without the zeroing pass */
    if (ex->fresh && ex->fresh[0]) PX_FOR(i, count, count, gx[i] = 0.0f + gy[i];);
    else px_accumulate(gin[0], gout, 1.0f, count);
}

static const px_op_def reshape_def = {"reshape", PX_OPF_ALIAS | PX_OPF_OVERWRITES, reshape_infer, NULL, reshape_forward,
                                      reshape_backward, PX_K_RESHAPE};

px_node *px_reshape(px_node *x, px_shape shape) {
    if (!x) return px_null_input(__func__);
    if (shape.rank < 0 || shape.rank > PX_MAX_RANK) {
        px_set_error(PX_ERR_ARG, "reshape: target rank %d is outside 0..%d", shape.rank, PX_MAX_RANK);
        return NULL;
    }
    int64_t attr[1 + PX_MAX_RANK] = {shape.rank};
    int inferred = 0;
    for (int i = 0; i < shape.rank; i++) {
        char sb[96];
        if (shape.dim[i] < -1 || (shape.dim[i] == -1 && inferred++)) {
            px_set_error(PX_ERR_ARG, "reshape: target %s: dimensions must be >= 0, with at most one -1",
                         format_target(shape, sb, sizeof sb));
            return NULL;
        }
        attr[1 + i] = shape.dim[i];
    }
    return px_node_make(&reshape_def, &x, 1, attr, 1 + shape.rank, NULL, 0);
}

/* ---------------------------------------------------------- transpose ---- */
/* iattr: [0] rank, [1..rank] perm (output axis i is input axis perm[i]) */

static px_status transpose_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    int rank = (int)n->iattr[0];
    if (in[0].rank != rank) { /* only reachable if a graph is fed against its declaration */
        char sa[96];
        return px_set_error(PX_ERR_SHAPE, "transpose: input %s does not have rank %d",
                            px_shape_format(in[0], sa, sizeof sa), rank);
    }
    px_shape o = {.rank = rank};
    for (int i = 0; i < rank; i++) o.dim[i] = in[0].dim[n->iattr[1 + i]];
    *out = o;
    *dt = n->inputs[0]->dtype;
    return PX_OK;
}

/* Walks the output in row-major order: output row r (all axes but the last)
 * starts at input offset *off, and steps through the input by *step. */
typedef struct transpose_walk {
    int rank;
    int64_t dims[PX_MAX_RANK];   /* output dims */
    int64_t stride[PX_MAX_RANK]; /* input stride of each output axis */
    int64_t rows, inner, step;
} transpose_walk;

static void transpose_walk_init(transpose_walk *w, const px_node *n, const px_tensor *x) {
    int64_t in_stride[PX_MAX_RANK];
    w->rank = x->rank;
    int64_t s = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        in_stride[i] = s;
        s *= x->shape[i];
    }
    for (int i = 0; i < x->rank; i++) {
        int p = (int)n->iattr[1 + i];
        w->dims[i] = x->shape[p];
        w->stride[i] = in_stride[p];
    }
    w->inner = x->rank ? w->dims[x->rank - 1] : 1;
    w->step = x->rank ? w->stride[x->rank - 1] : 1;
    w->rows = x->rank ? span(w->dims, 0, x->rank - 1) : 1;
}

static int64_t transpose_row_offset(const transpose_walk *w, int64_t r) {
    int64_t off = 0;
    for (int i = w->rank - 2; i >= 0; i--) {
        off += (r % w->dims[i]) * w->stride[i];
        r /= w->dims[i];
    }
    return off;
}

static void transpose_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    transpose_walk w;
    transpose_walk_init(&w, n, in[0]);
    const word *x = in[0]->data;
    word *o = out->data;
    PX_FOR(r, w.rows, w.rows * w.inner, 
        const word *src = x + transpose_row_offset(&w, r);
        word *dst = o + r * w.inner;
        for (int64_t j = 0; j < w.inner; j++) dst[j] = src[j * w.step];
    );
}

static void transpose_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                               const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)out, (void)ex;
    if (!gin[0]) return;
    transpose_walk w;
    transpose_walk_init(&w, n, in[0]);
    const float *g = gout->data;
    float *gx = gin[0]->data;
    /* a permutation is a bijection, so rows never write the same element */
    PX_FOR(r, w.rows, w.rows * w.inner, 
        float *dst = gx + transpose_row_offset(&w, r);
        const float *src = g + r * w.inner;
        for (int64_t j = 0; j < w.inner; j++) dst[j * w.step] += src[j];
    );
}

static const px_op_def transpose_def = {"transpose", 0, transpose_infer, NULL, transpose_forward,
                                        transpose_backward, PX_K_TRANSPOSE};

px_node *px_transpose(px_node *x, const int *perm) {
    if (!x) return px_null_input(__func__);
    int rank = x->shape.rank;
    int64_t attr[1 + PX_MAX_RANK] = {rank};
    bool seen[PX_MAX_RANK] = {false};
    for (int i = 0; i < rank; i++) {
        int p = perm ? perm[i] : rank - 1 - i;
        if (p < 0 || p >= rank || seen[p]) {
            char sa[96], sp[64];
            size_t used = 0;
            for (int k = 0; k < rank && used < sizeof sp; k++)
                used += (size_t)snprintf(sp + used, sizeof sp - used, "%s%d", k ? ", " : "", perm[k]);
            px_set_error(PX_ERR_ARG, "transpose: perm [%s] is not a permutation of 0..%d (input %s)",
                         sp, rank - 1, px_shape_format(x->shape, sa, sizeof sa));
            return NULL;
        }
        seen[p] = true;
        attr[1 + i] = p;
    }
    return px_node_make(&transpose_def, &x, 1, attr, 1 + rank, NULL, 0);
}

/* ------------------------------------------------------------- concat ---- */
/* iattr: [0] axis (normalised) */

static px_status concat_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    int axis = (int)n->iattr[0];
    px_shape o = in[0];
    char sa[96], sb[96];
    for (int i = 1; i < n->n_inputs; i++) {
        if (n->inputs[i]->dtype != n->inputs[0]->dtype)
            return px_set_error(PX_ERR_ARG, "concat: input %d is %s but input 0 is %s", i,
                                n->inputs[i]->dtype == PX_F32 ? "float32" : "int32",
                                n->inputs[0]->dtype == PX_F32 ? "float32" : "int32");
        bool ok = in[i].rank == o.rank;
        for (int d = 0; ok && d < o.rank; d++) {
            if (d == axis) {
                o.dim[d] = o.dim[d] == PX_UNKNOWN || in[i].dim[d] == PX_UNKNOWN ? PX_UNKNOWN
                                                                                : o.dim[d] + in[i].dim[d];
            } else if (o.dim[d] == PX_UNKNOWN) {
                o.dim[d] = in[i].dim[d]; /* the known size, if this input has one */
            } else if (in[i].dim[d] != PX_UNKNOWN && in[i].dim[d] != o.dim[d]) {
                ok = false;
            }
        }
        if (!ok)
            return px_set_error(PX_ERR_SHAPE,
                                "concat: input %d has shape %s but input 0 has %s; all dimensions "
                                "except axis %d must be equal",
                                i, px_shape_format(in[i], sa, sizeof sa),
                                px_shape_format(in[0], sb, sizeof sb), axis);
    }
    *out = o;
    *dt = n->inputs[0]->dtype;
    return PX_OK;
}

/* Output and inputs seen as (outer, width): input i fills columns [col_i, col_i + width_i). */
static void concat_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    int axis = (int)n->iattr[0];
    int64_t outer = span(out->shape, 0, axis), inner = span(out->shape, axis + 1, out->rank);
    int64_t width = out->shape[axis] * inner, col = 0;
    word *o = out->data;
    for (int i = 0; i < n->n_inputs; i++) {
        int64_t w = in[i]->shape[axis] * inner;
        const word *x = in[i]->data;
        PX_FOR(r, outer, outer * w, memcpy(o + r * width + col, x + r * w, (size_t)w * sizeof(word)););
        col += w;
    }
}

static void concat_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                            const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)ex;
    int axis = (int)n->iattr[0];
    int64_t outer = span(out->shape, 0, axis), inner = span(out->shape, axis + 1, out->rank);
    int64_t width = out->shape[axis] * inner, col = 0;
    const float *g = gout->data;
    for (int i = 0; i < n->n_inputs; i++) {
        int64_t w = in[i]->shape[axis] * inner;
        if (gin[i]) {
            float *gx = gin[i]->data;
            PX_FOR(r, outer, outer * w, for (int64_t j = 0; j < w; j++) gx[r * w + j] += g[r * width + col + j];);
        }
        col += w;
    }
}

static const px_op_def concat_def = {"concat", 0, concat_infer, NULL, concat_forward, concat_backward, PX_K_CONCAT};

px_node *px_concat(px_node *const *xs, int n, int axis) {
    if (!xs || n < 1) {
        px_set_error(PX_ERR_ARG, "concat: needs at least one input (got %d)", xs ? n : 0);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!xs[i]) return NULL; /* an earlier op failed: keep its message */
    int a;
    if (px_normalize_axis("concat", axis, xs[0]->shape.rank, &a) != PX_OK) return NULL;
    int64_t attr = a;
    return px_node_make(&concat_def, xs, n, &attr, 1, NULL, 0);
}

/* -------------------------------------------------------------- slice ---- */
/* iattr: [0] axis (normalised), [1] start, [2] stop, as given: a negative one
 * counts from the end of the axis, as in Python, and is resolved against the
 * size the axis has in each run. */

/* Resolves start/stop against an axis of size dim; false if out of range. */
static bool slice_bounds(const px_node *n, int64_t dim, int64_t *start, int64_t *stop) {
    int64_t s = n->iattr[1], e = n->iattr[2];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    *start = s;
    *stop = e;
    return s >= 0 && s <= e && e <= dim;
}

static px_status slice_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    int axis = (int)n->iattr[0];
    int64_t s = n->iattr[1], e = n->iattr[2], dim = in[0].dim[axis];
    px_shape o = in[0];
    char sa[96];
    if (dim == PX_UNKNOWN) {
        /* start and stop on the same side of the axis give a known length */
        bool same_side = (s >= 0) == (e >= 0);
        if (same_side && s > e)
            return px_set_error(PX_ERR_ARG, "slice: [%lld, %lld) along axis %d of %s is empty backwards",
                                (long long)s, (long long)e, axis, px_shape_format(in[0], sa, sizeof sa));
        o.dim[axis] = same_side ? e - s : PX_UNKNOWN;
    } else {
        if (!slice_bounds(n, dim, &s, &e))
            return px_set_error(PX_ERR_ARG,
                                "slice: [%lld, %lld) is out of range for axis %d of %s (size %lld)",
                                (long long)n->iattr[1], (long long)n->iattr[2], axis,
                                px_shape_format(in[0], sa, sizeof sa), (long long)dim);
        o.dim[axis] = e - s;
    }
    *out = o;
    *dt = n->inputs[0]->dtype;
    return PX_OK;
}

/* Input and output seen as (outer, dim * inner) and (outer, len * inner). */
static void slice_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    int axis = (int)n->iattr[0];
    int64_t start, stop;
    slice_bounds(n, in[0]->shape[axis], &start, &stop);
    int64_t outer = span(out->shape, 0, axis), inner = span(out->shape, axis + 1, out->rank);
    int64_t wi = in[0]->shape[axis] * inner, wo = (stop - start) * inner;
    const word *x = (const word *)in[0]->data + start * inner;
    word *o = out->data;
    PX_FOR(r, outer, outer * wo, memcpy(o + r * wo, x + r * wi, (size_t)wo * sizeof(word)););
}

static void slice_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                           const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)ex;
    if (!gin[0]) return;
    int axis = (int)n->iattr[0];
    int64_t start, stop;
    slice_bounds(n, in[0]->shape[axis], &start, &stop);
    int64_t outer = span(out->shape, 0, axis), inner = span(out->shape, axis + 1, out->rank);
    int64_t wi = in[0]->shape[axis] * inner, wo = (stop - start) * inner;
    const float *g = gout->data;
    float *gx = (float *)gin[0]->data + start * inner;
    PX_FOR(r, outer, outer * wo, for (int64_t j = 0; j < wo; j++) gx[r * wi + j] += g[r * wo + j];);
}

static const px_op_def slice_def = {"slice", 0, slice_infer, NULL, slice_forward, slice_backward, PX_K_SLICE};

px_node *px_slice(px_node *x, int axis, int64_t start, int64_t stop) {
    if (!x) return px_null_input(__func__);
    int a;
    if (px_normalize_axis("slice", axis, x->shape.rank, &a) != PX_OK) return NULL;
    int64_t attr[3] = {a, start, stop};
    return px_node_make(&slice_def, &x, 1, attr, 3, NULL, 0);
}
