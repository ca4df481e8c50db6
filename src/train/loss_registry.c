/* The table of built-in loss kinds, and what works from it: names both ways, the
 * shape check every loss shares and px_loss_node. A new loss adds its px_loss_def
 * (losses.c), its enum value (plexus/losses.h) and one line here. */
#include <stdio.h>
#include <string.h>

#include "graph/node.h"
#include "train/loss_kind.h"
#include "train/metric_kind.h"

extern const px_loss_def px_mse_loss, px_mae_loss, px_msle_loss, px_binary_crossentropy_loss,
    px_categorical_crossentropy_loss, px_sparse_categorical_crossentropy_loss, px_hinge_loss, px_squared_hinge_loss,
    px_kl_divergence_loss, px_huber_loss, px_custom_loss;

static const px_loss_def *const defs[PX_LOSS_COUNT] = {
    [PX_MEAN_SQUARED_ERROR] = &px_mse_loss,
    [PX_MEAN_ABSOLUTE_ERROR] = &px_mae_loss,
    [PX_MEAN_SQUARED_LOGARITHMIC_ERROR] = &px_msle_loss,
    [PX_BINARY_CROSSENTROPY] = &px_binary_crossentropy_loss,
    [PX_CATEGORICAL_CROSSENTROPY] = &px_categorical_crossentropy_loss,
    [PX_SPARSE_CATEGORICAL_CROSSENTROPY] = &px_sparse_categorical_crossentropy_loss,
    [PX_HINGE] = &px_hinge_loss,
    [PX_SQUARED_HINGE] = &px_squared_hinge_loss,
    [PX_KL_DIVERGENCE] = &px_kl_divergence_loss,
    [PX_HUBER] = &px_huber_loss,
};

/* PX_LOSS_CUSTOM has a def but no name of its own: the names are the registry's. */
const px_loss_def *px_loss_def_of(px_loss_kind kind) {
    if (kind == PX_LOSS_CUSTOM) return &px_custom_loss;
    return (unsigned)kind < PX_LOSS_COUNT ? defs[kind] : NULL;
}

const px_loss_def *px_loss_def_find(const char *name) {
    for (int k = 0; name && k < PX_LOSS_COUNT; k++) {
        const px_loss_def *d = defs[k];
        if (!d) continue;
        if (strcmp(name, d->name) == 0) return d;
        for (int a = 0; a < 3 && d->aliases[a]; a++)
            if (strcmp(name, d->aliases[a]) == 0) return d;
    }
    return NULL;
}

const px_loss_def *px_loss_def_of_class(const char *class_name) {
    for (int k = 0; class_name && k < PX_LOSS_COUNT; k++)
        if (defs[k] && strcmp(class_name, defs[k]->class_name) == 0) return defs[k];
    return NULL;
}

const char *px_loss_name(px_loss_kind k) {
    const px_loss_def *d = px_loss_def_of(k);
    return d ? d->name : "";
}

px_status px_loss_from_name(const char *name, px_loss_kind *out) {
    if (!name || !out) return px_set_error(PX_ERR_ARG, "loss: name or out is NULL");
    const px_loss_def *d = px_loss_def_find(name);
    if (d) return *out = d->kind, PX_OK;
    if (px_custom_loss_find(name)) return *out = PX_LOSS_CUSTOM, PX_OK;
    char known[512] = "";
    size_t len = 0;
    for (int k = 0; k < PX_LOSS_COUNT && len < sizeof known; k++)
        if (defs[k])
            len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", len ? ", " : "", defs[k]->name);
    return px_set_error(PX_ERR_ARG, "unknown loss '%s' (known: %s)", name, known);
}

static px_status check_shapes(const px_loss_def *d, px_node *y_true, px_node *y_pred) {
    px_shape t = px_node_shape(y_true), p = px_node_shape(y_pred);
    bool int_labels = px_node_dtype(y_true) == PX_I32;
    char st[96], sp[96];
    if (d->class_indices) {
        bool ok = int_labels && p.rank >= 1 && (t.rank == p.rank - 1 || (t.rank == p.rank && t.dim[t.rank - 1] == 1));
        if (!ok)
            return px_set_error(PX_ERR_SHAPE, "%s: labels must be int32 class indices of shape (batch,) for predictions %s, got %s %s",
                                d->name, px_shape_format(p, sp, sizeof sp), int_labels ? "int32" : "float32",
                                px_shape_format(t, st, sizeof st));
        return PX_OK;
    }
    bool ok = !int_labels && t.rank == p.rank;
    for (int i = 0; ok && i < t.rank; i++)
        ok = t.dim[i] == p.dim[i] || t.dim[i] == PX_UNKNOWN || p.dim[i] == PX_UNKNOWN;
    if (!ok)
        return px_set_error(PX_ERR_SHAPE, "%s: targets %s (%s) do not match predictions %s%s", d->name,
                            px_shape_format(t, st, sizeof st), int_labels ? "int32" : "float32",
                            px_shape_format(p, sp, sizeof sp), int_labels && d->int32_hint ? d->int32_hint : "");
    return PX_OK;
}

px_node *px_loss_node(px_loss loss, px_node *y_true, px_node *y_pred) {
    if (!y_true || !y_pred) return px_null_input(__func__);
    const px_loss_def *d = px_loss_def_of(loss.kind);
    if (!d) {
        px_set_error(PX_ERR_ARG, "loss: unknown loss %d", (int)loss.kind);
        return NULL;
    }
    if (check_shapes(d, y_true, y_pred) != PX_OK) return NULL;
    return px_mean_all(d->build(loss, y_true, y_pred));
}

px_node *px_loss_node_weighted(px_loss loss, px_node *y_true, px_node *y_pred, px_node *weights) {
    if (!y_true || !y_pred || !weights) return px_null_input(__func__);
    const px_loss_def *d = px_loss_def_of(loss.kind);
    if (!d) {
        px_set_error(PX_ERR_ARG, "loss: unknown loss %d", (int)loss.kind);
        return NULL;
    }
    if (check_shapes(d, y_true, y_pred) != PX_OK) return NULL;
    px_node *e = d->build(loss, y_true, y_pred);
    if (!e) return NULL;
    /* a user's loss that returned its mean already: Keras's weighting of it is the mean weight */
    if (px_node_shape(e).rank == 0) return px_mul(e, px_mean_all(weights));
    /* (batch,) weights as (batch, 1, ..., 1), to scale every element of their example */
    px_shape ws = {.rank = px_node_shape(e).rank};
    for (int i = 0; i < ws.rank; i++) ws.dim[i] = 1;
    ws.dim[0] = -1;
    px_node *w = ws.rank == 1 ? weights : px_reshape(weights, ws);
    return px_mean_all(px_mul(e, w));
}
