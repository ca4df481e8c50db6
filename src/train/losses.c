/* Keras's losses built from graph ops, each the loss of every element (or
 * example) of the batch, whose mean is the loss (px_loss_node) and whose
 * weighted mean gives Keras's sample weights (px_loss_node_weighted); one
 * px_loss_def per kind (listed in loss_registry.c), and the kind of user-defined losses. Cross-entropies on the output of a softmax or
 * sigmoid use the fused, stable form on that activation's input, as Keras's
 * TensorFlow backend does. */
#include <float.h>
#include <string.h>

#include "graph/node.h"
#include "nn/layer_config.h"
#include "ops/op_util.h"
#include "train/loss_kind.h"
#include "train/metric_kind.h"

#define EPS 1e-7f /* Keras's backend epsilon */

/* The input of y_pred when y_pred = activation(logits) over the last axis, else NULL. */
static px_node *logits_of(px_node *y_pred, const char *activation) {
    if (px_node_get_kind(y_pred) != PX_NODE_OP || strcmp(px_node_op_name(y_pred), activation) != 0) return NULL;
    if (strcmp(activation, "softmax") == 0) {
        int rank = px_node_shape(y_pred).rank;
        if (y_pred->iattr[0] != rank - 1 && y_pred->iattr[0] != -1) return NULL;
    }
    return px_node_input(y_pred, 0);
}

/* ---- regression ---- */

static px_node *mse(px_loss l, px_node *y_true, px_node *y_pred) {
    (void)l;
    return px_square(px_sub(y_pred, y_true));
}

static px_node *mae(px_loss l, px_node *y_true, px_node *y_pred) {
    (void)l;
    return px_abs(px_sub(y_pred, y_true));
}

static px_node *msle(px_loss l, px_node *y_true, px_node *y_pred) {
    (void)l;
    px_node *lp = px_log(px_add_scalar(px_clip(y_pred, EPS, FLT_MAX), 1.0f));
    px_node *lt = px_log(px_add_scalar(px_clip(y_true, EPS, FLT_MAX), 1.0f));
    return px_square(px_sub(lp, lt));
}

static px_node *huber(px_loss l, px_node *y_true, px_node *y_pred) {
    float delta = l.delta > 0 ? l.delta : 1.0f;
    px_node *err = px_abs(px_sub(y_pred, y_true));
    px_node *quad = px_clip(err, 0.0f, delta);
    px_node *lin = px_sub(err, quad);
    return px_add(px_scale(px_square(quad), 0.5f), px_scale(lin, delta));
}

/* Huber keeps "delta" (Keras's default 1.0) instead of "from_logits". */
static bool huber_needs_config(px_loss l) { return l.from_logits || (l.delta != 0 && l.delta != 1); }
static px_status huber_write(px_loss l, px_json *c) { return px_lc_set_float(c, "delta", l.delta ? l.delta : 1.0f); }
static void huber_read(const px_json *c, px_loss *l) { l->delta = (float)px_json_get_number(c, "delta", 0); }

/* ---- cross-entropies ---- */

static px_node *binary_crossentropy(px_loss l, px_node *y_true, px_node *y_pred) {
    px_node *logits = l.from_logits ? y_pred : logits_of(y_pred, "sigmoid");
    if (logits) return px_sigmoid_cross_entropy(logits, y_true);
    /* -(y log p + (1 - y) log(1 - p)) with p clipped away from 0 and 1 */
    px_node *p = px_clip(y_pred, EPS, 1.0f - EPS);
    px_node *a = px_mul(y_true, px_log(px_add_scalar(p, EPS)));
    px_node *b = px_mul(px_add_scalar(px_neg(y_true), 1.0f), px_log(px_add_scalar(px_neg(p), 1.0f + EPS)));
    return px_neg(px_add(a, b));
}

static px_node *categorical_crossentropy(px_loss l, px_node *y_true, px_node *y_pred) {
    px_node *logits = l.from_logits ? y_pred : logits_of(y_pred, "softmax");
    /* probabilities: Keras divides by the row sum before clipping (values above
     * 1 - eps would otherwise be cut first); log(clip(p)) then serve as logits */
    if (!logits) logits = px_log(px_clip(px_div(y_pred, px_sum(y_pred, -1, true)), EPS, 1.0f - EPS));
    return px_softmax_cross_entropy(logits, y_true);
}

static px_node *sparse_categorical_crossentropy(px_loss l, px_node *y_true, px_node *y_pred) {
    px_node *logits = l.from_logits ? y_pred : logits_of(y_pred, "softmax");
    if (!logits) logits = px_log(px_clip(y_pred, EPS, 1.0f - EPS));
    px_shape t = px_node_shape(y_true);
    if (t.rank == px_node_shape(y_pred).rank) { /* (batch, 1) labels */
        t.rank--;
        t.dim[0] = -1;
        y_true = px_reshape(y_true, t);
    }
    return px_sparse_softmax_cross_entropy(logits, y_true);
}

static px_node *kl_divergence(px_loss l, px_node *y_true, px_node *y_pred) {
    (void)l;
    px_node *t = px_clip(y_true, EPS, 1.0f), *p = px_clip(y_pred, EPS, 1.0f);
    px_node *kl = px_sum(px_mul(t, px_log(px_div(t, p))), -1, false);
    return kl;
}

/* ---- hinge: Keras turns {0, 1} labels into {-1, 1} when all are 0 or 1 ---- */

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
                                            signed_forward, no_backward, PX_K_SIGNED_LABELS};

/* max(0, 1 - t y) with t the labels in {-1, 1} */
static px_node *hinge_margin(px_node *y_true, px_node *y_pred) {
    px_node *t = px_node_make(&signed_labels_def, &y_true, 1, NULL, 0, NULL, 0);
    return px_relu(px_add_scalar(px_neg(px_mul(t, y_pred)), 1.0f));
}

static px_node *hinge(px_loss l, px_node *y_true, px_node *y_pred) {
    (void)l;
    return hinge_margin(y_true, y_pred);
}

static px_node *squared_hinge(px_loss l, px_node *y_true, px_node *y_pred) {
    (void)l;
    return px_square(hinge_margin(y_true, y_pred));
}

/* ---- the kinds ---- */

const px_loss_def px_mse_loss = {PX_MEAN_SQUARED_ERROR, "mean_squared_error", "MeanSquaredError", {"mse"},
                                 .build = mse};
const px_loss_def px_mae_loss = {PX_MEAN_ABSOLUTE_ERROR, "mean_absolute_error", "MeanAbsoluteError", {"mae"},
                                 .build = mae};
const px_loss_def px_msle_loss = {PX_MEAN_SQUARED_LOGARITHMIC_ERROR, "mean_squared_logarithmic_error",
                                  "MeanSquaredLogarithmicError", {"msle"}, .build = msle};
const px_loss_def px_binary_crossentropy_loss = {PX_BINARY_CROSSENTROPY, "binary_crossentropy",
                                                 "BinaryCrossentropy", .accuracy = PX_BINARY_ACCURACY,
                                                 .build = binary_crossentropy};
const px_loss_def px_categorical_crossentropy_loss = {
    PX_CATEGORICAL_CROSSENTROPY, "categorical_crossentropy", "CategoricalCrossentropy",
    .int32_hint = " (integer labels need sparse_categorical_crossentropy)", .accuracy = PX_CATEGORICAL_ACCURACY,
    .build = categorical_crossentropy};
const px_loss_def px_sparse_categorical_crossentropy_loss = {
    PX_SPARSE_CATEGORICAL_CROSSENTROPY, "sparse_categorical_crossentropy", "SparseCategoricalCrossentropy",
    .class_indices = true, .accuracy = PX_SPARSE_CATEGORICAL_ACCURACY, .build = sparse_categorical_crossentropy};
const px_loss_def px_hinge_loss = {PX_HINGE, "hinge", "Hinge", .build = hinge};
const px_loss_def px_squared_hinge_loss = {PX_SQUARED_HINGE, "squared_hinge", "SquaredHinge", .build = squared_hinge};
const px_loss_def px_kl_divergence_loss = {PX_KL_DIVERGENCE, "kl_divergence", "KLDivergence",
                                           {"kld", "kullback_leibler_divergence"}, .build = kl_divergence};
const px_loss_def px_huber_loss = {PX_HUBER, "huber", "Huber", {"huber_loss"}, .build = huber,
                                   .needs_config = huber_needs_config, .write_config = huber_write,
                                   .read_config = huber_read};

/* ---- user-defined losses (px_loss_register) ---- */

static px_node *custom(px_loss l, px_node *y_true, px_node *y_pred) {
    const px_custom_fn *f = px_custom_loss_find(l.name);
    if (!f) {
        px_set_error(PX_ERR_ARG, "loss '%s' is not registered (px_loss_register)", l.name ? l.name : "(no name)");
        return NULL;
    }
    px_node *v = f->fn(y_true, y_pred, f->user);
    if (!v) {
        if (px_last_status() == PX_OK) px_set_error(PX_ERR_ARG, "loss '%s' returned NULL", l.name);
        return NULL;
    }
    if (px_node_graph(v) != px_node_graph(y_pred) || px_node_dtype(v) != PX_F32) {
        px_set_error(PX_ERR_ARG, "loss '%s' must return a float32 node of the model's graph", l.name);
        return NULL;
    }
    return v; /* per-example values or already their mean: px_loss_node takes the mean of either */
}

const px_loss_def px_custom_loss = {PX_LOSS_CUSTOM, "custom", "", .build = custom};
