/* Keras's optimizer.apply_gradients(zip(grads, variables)) over a list of tensors:
 * the variables are laid out one after the other as the block px_optimizer_step
 * updates (each a clipnorm segment), so the same kinds, state and arithmetic serve
 * custom training loops and fit. */
#include <stdlib.h>
#include <string.h>

#include "plexus/status.h"
#include "train/optimizer_kind.h"

/* Checks the lists and computes each variable's start in the block; returns the
 * block's length, or -1 with an error. */
static int64_t layout(const px_optimizer *opt, px_tensor *const *grads, px_tensor *const *vars, int n,
                      int64_t *starts, int *n_starts) {
    const char *who = opt->def->name;
    int64_t total = 0;
    *n_starts = 0;
    for (int i = 0; i < n; i++) {
        const px_tensor *v = vars[i], *g = grads[i];
        if (!v || !g) {
            px_set_error(PX_ERR_ARG, "%s: apply_gradients: variable or gradient %d is NULL", who, i);
            return -1;
        }
        if (v->dtype != PX_F32 || g->dtype != PX_F32 || !px_tensor_is_contiguous(v) || !px_tensor_is_contiguous(g)) {
            px_set_error(PX_ERR_ARG, "%s: apply_gradients: variable %d and its gradient must be contiguous float32",
                         who, i);
            return -1;
        }
        if (!px_shape_equal(px_tensor_shape(v), px_tensor_shape(g))) {
            char sa[96], sb[96];
            px_set_error(PX_ERR_SHAPE, "%s: apply_gradients: gradient %d has shape %s, its variable %s", who, i,
                         px_shape_format(px_tensor_shape(g), sa, sizeof sa),
                         px_shape_format(px_tensor_shape(v), sb, sizeof sb));
            return -1;
        }
        int64_t size = px_tensor_size(v);
        if (size > 0) starts[(*n_starts)++] = total; /* an empty variable has no segment */
        total += size;
    }
    return total;
}

px_status px_optimizer_apply_gradients(px_optimizer *opt, px_tensor *const *grads, px_tensor *const *vars, int n) {
    if (!opt) return px_set_error(PX_ERR_ARG, "apply_gradients: optimizer is NULL");
    const char *who = opt->def->name;
    if (n < 1 || !grads || !vars)
        return px_set_error(PX_ERR_ARG, "%s: apply_gradients needs n >= 1 gradients and variables, got %d", who, n);
    int64_t *starts = malloc(sizeof *starts * (size_t)n);
    if (!starts) return px_set_error(PX_ERR_NOMEM, "%s: apply_gradients: out of memory", who);
    int n_starts = 0;
    int64_t total = layout(opt, grads, vars, n, starts, &n_starts);
    px_status st = total < 0 ? px_last_status() : PX_OK;
    if (st == PX_OK && total == 0) st = px_set_error(PX_ERR_ARG, "%s: apply_gradients: the variables are all empty", who);
    /* the state is per position: a later call must lay out the same variables alike,
     * as Keras builds its slots for the variables of the first call */
    if (st == PX_OK && opt->n >= 0 &&
        (total != opt->n || n_starts != opt->n_segments ||
         (opt->segments && memcmp(starts, opt->segments, sizeof *starts * (size_t)n_starts) != 0)))
        st = px_set_error(PX_ERR_ARG, "%s: apply_gradients got %d variables of %lld values laid out differently from "
                          "the first call's %d segments of %lld; pass the same variables in the same order",
                          who, n, (long long)total, opt->n_segments, (long long)opt->n);
    if (st == PX_OK && opt->n < 0) st = px_optimizer_set_segments(opt, starts, n_starts);
    free(starts);
    if (st != PX_OK) return st;

    /* the variables and gradients gathered into one block, updated, scattered back */
    float *block = malloc(sizeof *block * (size_t)total * 2);
    if (!block) return px_set_error(PX_ERR_NOMEM, "%s: apply_gradients: out of memory for %lld values", who,
                                    (long long)total);
    float *g = block + total;
    for (int64_t i = 0, at = 0; i < n; i++) {
        size_t bytes = sizeof *block * (size_t)px_tensor_size(vars[i]);
        if (bytes) {
            memcpy(block + at, vars[i]->data, bytes);
            memcpy(g + at, grads[i]->data, bytes);
        }
        at += px_tensor_size(vars[i]);
    }
    st = px_optimizer_step(opt, block, g, total);
    for (int64_t i = 0, at = 0; st == PX_OK && i < n; i++) {
        size_t bytes = sizeof *block * (size_t)px_tensor_size(vars[i]);
        if (bytes) memcpy(vars[i]->data, block + at, bytes);
        at += px_tensor_size(vars[i]);
    }
    free(block);
    return st;
}
