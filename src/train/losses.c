/* Keras's losses built from graph ops, each the mean over the batch. Cross-
 * entropies on the output of a softmax or sigmoid use the fused, stable form on
 * that activation's input, as Keras's TensorFlow backend does. */
#include <float.h>
#include <string.h>

#include "graph/node.h"
#include "ops/op_util.h"
#include "plexus/losses.h"

#define EPS 1e-7f /* Keras's backend epsilon */

static const char *const loss_names[PX_LOSS_COUNT] = {
    "", "mean_squared_error", "mean_absolute_error", "mean_squared_logarithmic_error",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "hinge", "squared_hinge", "kl_divergence", "huber"};

const char *px_loss_name(px_loss_kind k) { return (unsigned)k < PX_LOSS_COUNT ? loss_names[k] : ""; }

px_status px_loss_from_name(const char *name, px_loss_kind *out) {
    static const struct { const char *alias; px_loss_kind k; } aliases[] = {
        {"mse", PX_MEAN_SQUARED_ERROR}, {"mae", PX_MEAN_ABSOLUTE_ERROR},
        {"msle", PX_MEAN_SQUARED_LOGARITHMIC_ERROR}, {"kld", PX_KL_DIVERGENCE},
        {"kullback_leibler_divergence", PX_KL_DIVERGENCE}, {"huber_loss", PX_HUBER}};
    if (!name) return px_set_error(PX_ERR_ARG, "loss: name is NULL");
    for (int i = 1; i < PX_LOSS_COUNT; i++)
        if (strcmp(name, loss_names[i]) == 0) return *out = (px_loss_kind)i, PX_OK;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].alias) == 0) return *out = aliases[i].k, PX_OK;
    return px_set_error(PX_ERR_ARG, "unknown loss '%s' (known: mse, mae, msle, binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy, hinge, squared_hinge, kl_divergence, huber)", name);
}

/* ---- hinge labels: Keras turns {0, 1} labels into {-1, 1} when all are 0 or 1 ---- */
static void signed_forward(const px_node *n, const px_tensor *const *in, px_tensor *out, px_exec *ex) {
    (void)n, (void)ex;
    const float *y = in[0]->data;
    float *o = out->data;
    int64_t count = px_tensor_size(out);
    bool binary = true;
    for (int64_t i = 0; i < count && binary; i++) binary = y[i] == 0.0f || y[i] == 1.0f;
    for (int64_t i = 0; i < count; i++) o[i] = binary ? 2.0f * y[i] - 1.0f : y[i];
}
static void no_backward(const px_node *n, const px_tensor *const *in, const px_tensor *out,
                        const px_tensor *gout, px_tensor *const *gin, px_exec *ex) {
    (void)n, (void)in, (void)out, (void)gout, (void)gin, (void)ex;
}
static const px_op_def signed_labels_def = {"signed_labels", PX_OPF_NO_GRAD, px_infer_same_f32, NULL,
                                            signed_forward, no_backward};

/* The input of y_pred when y_pred = activation(logits) over the last axis, else NULL. */
static px_node *logits_of(px_node *y_pred, const char *activation) {
    if (px_node_get_kind(y_pred) != PX_NODE_OP || strcmp(px_node_op_name(y_pred), activation) != 0) return NULL;
    if (strcmp(activation, "softmax") == 0) {
        int rank = px_node_shape(y_pred).rank;
        if (y_pred->iattr[0] != rank - 1 && y_pred->iattr[0] != -1) return NULL;
    }
    return px_node_input(y_pred, 0);
}

static px_status check_shapes(px_loss loss, px_node *y_true, px_node *y_pred) {
    px_shape t = px_node_shape(y_true), p = px_node_shape(y_pred);
    char st[96], sp[96];
    if (loss.kind == PX_SPARSE_CATEGORICAL_CROSSENTROPY) {
        bool ok = px_node_dtype(y_true) == PX_I32 && p.rank >= 1 &&
                  (t.rank == p.rank - 1 || (t.rank == p.rank && t.dim[t.rank - 1] == 1));
        if (!ok)
            return px_set_error(PX_ERR_SHAPE, "%s: labels must be int32 class indices of shape (batch,) for predictions %s, got %s %s",
                                px_loss_name(loss.kind), px_shape_format(p, sp, sizeof sp),
                                px_node_dtype(y_true) == PX_I32 ? "int32" : "float32",
                                px_shape_format(t, st, sizeof st));
        return PX_OK;
    }
    bool ok = px_node_dtype(y_true) == PX_F32 && t.rank == p.rank;
    for (int i = 0; ok && i < t.rank; i++)
        ok = t.dim[i] == p.dim[i] || t.dim[i] == PX_UNKNOWN || p.dim[i] == PX_UNKNOWN;
    if (!ok)
        return px_set_error(PX_ERR_SHAPE, "%s: targets %s (%s) do not match predictions %s%s", px_loss_name(loss.kind),
                            px_shape_format(t, st, sizeof st), px_node_dtype(y_true) == PX_I32 ? "int32" : "float32",
                            px_shape_format(p, sp, sizeof sp),
                            loss.kind == PX_CATEGORICAL_CROSSENTROPY && px_node_dtype(y_true) == PX_I32
                                ? " (integer labels need sparse_categorical_crossentropy)" : "");
    return PX_OK;
}

px_node *px_loss_node(px_loss loss, px_node *y_true, px_node *y_pred) {
    if (!y_true || !y_pred) return NULL;
    if (loss.kind <= PX_LOSS_NONE || loss.kind >= PX_LOSS_COUNT) {
        px_set_error(PX_ERR_ARG, "loss: unknown loss %d", (int)loss.kind);
        return NULL;
    }
    if (check_shapes(loss, y_true, y_pred) != PX_OK) return NULL;
    px_node *logits;
    switch (loss.kind) {
    case PX_MEAN_SQUARED_ERROR:
        return px_mean_all(px_square(px_sub(y_pred, y_true)));
    case PX_MEAN_ABSOLUTE_ERROR:
        return px_mean_all(px_abs(px_sub(y_pred, y_true)));
    case PX_MEAN_SQUARED_LOGARITHMIC_ERROR: {
        px_node *lp = px_log(px_add_scalar(px_clip(y_pred, EPS, FLT_MAX), 1.0f));
        px_node *lt = px_log(px_add_scalar(px_clip(y_true, EPS, FLT_MAX), 1.0f));
        return px_mean_all(px_square(px_sub(lp, lt)));
    }
    case PX_BINARY_CROSSENTROPY:
        logits = loss.from_logits ? y_pred : logits_of(y_pred, "sigmoid");
        if (logits) return px_mean_all(px_sigmoid_cross_entropy(logits, y_true));
        {
            /* -(y log p + (1 - y) log(1 - p)) with p clipped away from 0 and 1 */
            px_node *p = px_clip(y_pred, EPS, 1.0f - EPS);
            px_node *a = px_mul(y_true, px_log(px_add_scalar(p, EPS)));
            px_node *b = px_mul(px_add_scalar(px_neg(y_true), 1.0f), px_log(px_add_scalar(px_neg(p), 1.0f + EPS)));
            return px_neg(px_mean_all(px_add(a, b)));
        }
    case PX_CATEGORICAL_CROSSENTROPY:
        logits = loss.from_logits ? y_pred : logits_of(y_pred, "softmax");
        /* probabilities: Keras divides by the row sum before clipping (values above
         * 1 - eps would otherwise be cut first); log(clip(p)) then serve as logits */
        if (!logits) logits = px_log(px_clip(px_div(y_pred, px_sum(y_pred, -1, true)), EPS, 1.0f - EPS));
        return px_mean_all(px_softmax_cross_entropy(logits, y_true));
    case PX_SPARSE_CATEGORICAL_CROSSENTROPY: {
        logits = loss.from_logits ? y_pred : logits_of(y_pred, "softmax");
        if (!logits) logits = px_log(px_clip(y_pred, EPS, 1.0f - EPS));
        px_shape t = px_node_shape(y_true);
        if (t.rank == px_node_shape(y_pred).rank) { /* (batch, 1) labels */
            t.rank--;
            t.dim[0] = -1;
            y_true = px_reshape(y_true, t);
        }
        return px_mean_all(px_sparse_softmax_cross_entropy(logits, y_true));
    }
    case PX_HINGE:
    case PX_SQUARED_HINGE: {
        px_node *t = px_node_make(&signed_labels_def, &y_true, 1, NULL, 0, NULL, 0);
        px_node *h = px_relu(px_add_scalar(px_neg(px_mul(t, y_pred)), 1.0f));
        return px_mean_all(loss.kind == PX_HINGE ? h : px_square(h));
    }
    case PX_KL_DIVERGENCE: {
        px_node *t = px_clip(y_true, EPS, 1.0f), *p = px_clip(y_pred, EPS, 1.0f);
        px_node *kl = px_sum(px_mul(t, px_log(px_div(t, p))), -1, false);
        return px_mean_all(kl);
    }
    case PX_HUBER: {
        float delta = loss.delta > 0 ? loss.delta : 1.0f;
        px_node *err = px_abs(px_sub(y_pred, y_true));
        px_node *quad = px_clip(err, 0.0f, delta);
        px_node *lin = px_sub(err, quad);
        return px_mean_all(px_add(px_scale(px_square(quad), 0.5f), px_scale(lin, delta)));
    }
    default: break;
    }
    px_set_error(PX_ERR_ARG, "loss: unknown loss %d", (int)loss.kind);
    return NULL;
}
