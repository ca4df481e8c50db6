/* Reductions over one axis or all elements: sum, mean, max, argmax. */
#include <float.h>

#include "backend/kernels/helpers.h"
#include "ops/op_util.h"

/* iattr: [0] axis (normalised; -1 = all elements), [1] keepdims, [2] kind */
enum { R_SUM = PX_RED_SUM, R_MEAN = PX_RED_MEAN, R_MAX = PX_RED_MAX, R_ARGMAX = PX_RED_ARGMAX };

static px_status reduce_infer(const px_node *n, const px_shape *in, px_shape *out, px_dtype *dt) {
    int kind = (int)n->iattr[2];
    if (n->inputs[0]->dtype != PX_F32)
        return px_set_error(PX_ERR_ARG, "%s: input must be float32", n->op->name);
    *dt = kind == R_ARGMAX ? PX_I32 : PX_F32;
    int axis = (int)n->iattr[0];
    if (axis < 0) {
        *out = PX_SCALAR;
        return PX_OK;
    }
    if (axis >= in[0].rank)
        return px_set_error(PX_ERR_ARG, "%s: axis %d is out of range for rank %d", n->op->name, axis,
                            in[0].rank);
    if ((kind == R_MAX || kind == R_ARGMAX) && in[0].dim[axis] == 0)
        return px_set_error(PX_ERR_SHAPE, "%s: axis %d is empty", n->op->name, axis);
    px_shape o = {0};
    for (int i = 0; i < in[0].rank; i++) {
        if (i == axis) {
            if (n->iattr[1]) o.dim[o.rank++] = 1;
        } else {
            o.dim[o.rank++] = in[0].dim[i];
        }
    }
    *out = o;
    return PX_OK;
}

/* The input viewed as (outer, len, inner) around the reduced axis. */
static void split3(const px_node *n, const px_tensor *x, int64_t *outer, int64_t *len, int64_t *inner) {
    pxk_split3(x, (int)n->iattr[0], outer, len, inner);
}

static void reduce_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)ex;
    int kind = (int)n->iattr[2];
    int64_t outer, len, inner;
    split3(n, in[0], &outer, &len, &inner);
    const float *x = in[0]->data;
    /* the row's formula is shared with the device kernels (backend/kernels/helpers.h) */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            pxk_reduce_row(kind, x + o * len * inner + i, len, inner, out->data, o * inner + i);
}

static void reduce_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                            const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)ex;
    if (!gin[0]) return;
    int kind = (int)n->iattr[2];
    int64_t outer, len, inner;
    split3(n, in[0], &outer, &len, &inner);
    const float *x = in[0]->data, *g = gout->data, *y = out->data;
    float *gx = gin[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t at = o * inner + i, base = o * len * inner + i;
            if (kind == R_MAX) {
                /* the gradient goes to the first maximal element, as in argmax */
                for (int64_t l = 0; l < len; l++)
                    if (x[base + l * inner] == y[at]) {
                        gx[base + l * inner] += g[at];
                        break;
                    }
            } else {
                float v = kind == R_MEAN ? g[at] / (float)len : g[at];
                for (int64_t l = 0; l < len; l++) gx[base + l * inner] += v;
            }
        }
    }
}

static const px_op_def sum_def = {"sum", 0, reduce_infer, NULL, reduce_forward, reduce_backward, PX_K_REDUCE};
static const px_op_def mean_def = {"mean", 0, reduce_infer, NULL, reduce_forward, reduce_backward, PX_K_REDUCE};
static const px_op_def max_def = {"max", PX_OPF_SAVE_INPUTS | PX_OPF_SAVE_OUTPUT, reduce_infer, NULL,
                                  reduce_forward, reduce_backward, PX_K_REDUCE};
static const px_op_def argmax_def = {"argmax", PX_OPF_NO_GRAD, reduce_infer, NULL, reduce_forward,
                                     reduce_backward, PX_K_REDUCE};

static px_node *reduce(const px_op_def *def, int kind, px_node *x, int axis, bool all, bool keepdims) {
    if (!x) return px_null_input(__func__);
    int a = -1;
    if (!all && px_normalize_axis(def->name, axis, x->shape.rank, &a) != PX_OK) return NULL;
    int64_t attr[3] = {a, keepdims, kind};
    return px_node_make(def, &x, 1, attr, 3, NULL, 0);
}

px_node *px_sum(px_node *x, int axis, bool keepdims) { return reduce(&sum_def, R_SUM, x, axis, false, keepdims); }
px_node *px_mean(px_node *x, int axis, bool keepdims) { return reduce(&mean_def, R_MEAN, x, axis, false, keepdims); }
px_node *px_max(px_node *x, int axis, bool keepdims) { return reduce(&max_def, R_MAX, x, axis, false, keepdims); }
px_node *px_argmax(px_node *x, int axis) { return reduce(&argmax_def, R_ARGMAX, x, axis, false, false); }
px_node *px_sum_all(px_node *x) { return reduce(&sum_def, R_SUM, x, 0, true, false); }
px_node *px_mean_all(px_node *x) { return reduce(&mean_def, R_MEAN, x, 0, true, false); }
px_node *px_max_all(px_node *x) {
    if (x && px_shape_size(x->shape) == 0) {
        px_set_error(PX_ERR_SHAPE, "max: the tensor is empty");
        return NULL;
    }
    return reduce(&max_def, R_MAX, x, 0, true, false);
}
