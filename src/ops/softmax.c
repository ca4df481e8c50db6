/* Softmax and log-softmax over any axis, and maxout, each forward pass beside
 * its backward pass. */
#include <math.h>

#include "backend/kernels/helpers.h"
#include "ops/op_util.h"

/* ---- softmax, log_softmax: iattr[0] = the normalised axis ---- */

static px_status axis_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (px_infer_same_f32(n, in, out, dt) != PX_OK) return px_last_status();
    if (n->iattr[0] >= in[0].rank)
        return px_set_error(PX_ERR_ARG, "%s: axis %d is out of range for a tensor of rank %d",
                            n->op->name, (int)n->iattr[0], in[0].rank);
    return PX_OK;
}

/* The tensor viewed as (outer, len, inner) around the axis: each of the
 * outer * inner rows has len elements inner apart. */
static void split3(const px_node *n, const px_tensor *x, int64_t *rows, int64_t *len, int64_t *inner) {
    int axis = (int)n->iattr[0];
    int64_t outer = 1;
    *inner = 1;
    *len = x->shape[axis];
    for (int i = 0; i < axis; i++) outer *= x->shape[i];
    for (int i = axis + 1; i < x->rank; i++) *inner *= x->shape[i];
    *rows = outer * *inner;
}

/* The rows' formulas are shared with the device kernels
 * (backend/kernels/helpers.h). A NaN anywhere in a row makes the row NaN. */
static void softmax_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    int64_t rows, len, inner, total = px_tensor_size(out);
    split3(n, in[0], &rows, &len, &inner);
    const float *x = in[0]->data;
    float *y = out->data;
    bool log_form = n->iattr[1];
    PX_FOR(r, rows, total, 
        pxk_softmax_row(x, y, (r / inner) * len * inner + r % inner, len, inner, log_form);
    );
}

/* softmax: dx = y (g - sum(g y)); log_softmax: dx = g - exp(y) sum(g) */
static void softmax_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                             const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)ex;
    if (!gin[0]) return;
    int64_t rows, len, inner, total = px_tensor_size(out);
    split3(n, in[0], &rows, &len, &inner);
    const float *y = out->data, *g = gout->data;
    float *gx = gin[0]->data;
    bool log_form = n->iattr[1];
    PX_FOR(r, rows, total, 
        pxk_softmax_row_grad(y, g, gx, (r / inner) * len * inner + r % inner, len, inner, log_form);
    );
}

/* Only the output is read back (SAVE_OUTPUT), so the input's buffer can be reused. */
static const px_op_def softmax_def = {"softmax", PX_OPF_SAVE_OUTPUT, axis_infer, NULL, softmax_forward,
                                      softmax_backward, PX_K_SOFTMAX};
static const px_op_def log_softmax_def = {"log_softmax", PX_OPF_SAVE_OUTPUT, axis_infer, NULL,
                                          softmax_forward, softmax_backward, PX_K_SOFTMAX};

static px_node *make_softmax(const px_op_def *def, px_node *x, int axis, bool log_form) {
    if (!x) return px_null_input(__func__);
    int a;
    if (px_normalize_axis(def->name, axis, x->shape.rank, &a) != PX_OK) return NULL;
    int64_t attr[2] = {a, log_form};
    return px_node_make(def, &x, 1, attr, 2, NULL, 0);
}

px_node *px_softmax(px_node *x, int axis) { return make_softmax(&softmax_def, x, axis, false); }
px_node *px_log_softmax(px_node *x, int axis) { return make_softmax(&log_softmax_def, x, axis, true); }

/* ---- maxout: iattr[0] = pieces ---- */

static px_status maxout_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    if (px_infer_same_f32(n, in, out, dt) != PX_OK) return px_last_status();
    int64_t pieces = n->iattr[0];
    char sb[96];
    if (in[0].rank < 1)
        return px_set_error(PX_ERR_SHAPE, "maxout: input of shape %s has no last axis to split",
                            px_shape_format(in[0], sb, sizeof sb));
    int64_t last = in[0].dim[in[0].rank - 1];
    if (last == PX_UNKNOWN) return PX_OK; /* checked again at run time, with the fed shape */
    if (last % pieces != 0)
        return px_set_error(PX_ERR_SHAPE,
                            "maxout: the last axis of shape %s is not divisible by pieces = %lld",
                            px_shape_format(in[0], sb, sizeof sb), (long long)pieces);
    out->dim[out->rank - 1] = last / pieces;
    return PX_OK;
}

static void maxout_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    int64_t pieces = n->iattr[0], units = px_tensor_size(out);
    const float *x = in[0]->data;
    float *y = out->data;
    PX_FOR(u, units, units * pieces, 
        const float *grp = x + u * pieces;
        y[u] = grp[pxk_group_argmax(grp, pieces)];
    );
}

/* The argmax is recomputed from the saved input rather than kept as state: the
 * input stays alive anyway and the search is as cheap as reading an index. */
static void maxout_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                            const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)ex;
    if (!gin[0]) return;
    int64_t pieces = n->iattr[0], units = px_tensor_size(out);
    const float *x = in[0]->data, *g = gout->data;
    float *gx = gin[0]->data;
    PX_FOR(u, units, units * pieces, gx[u * pieces + pxk_group_argmax(x + u * pieces, pieces)] += g[u];);
}

static const px_op_def maxout_def = {"maxout", PX_OPF_SAVE_INPUTS, maxout_infer, NULL, maxout_forward,
                                     maxout_backward, PX_K_MAXOUT};

px_node *px_maxout(px_node *x, int pieces) {
    if (!x) return px_null_input(__func__);
    if (pieces < 1) {
        px_set_error(PX_ERR_ARG, "maxout: pieces must be at least 1 (got %d)", pieces);
        return NULL;
    }
    int64_t attr[1] = {pieces};
    return px_node_make(&maxout_def, &x, 1, attr, 1, NULL, 0);
}
