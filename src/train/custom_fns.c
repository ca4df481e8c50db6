/* The registries of user-defined losses and metrics (Keras's custom_objects): names
 * to C functions built from graph ops. An entry's name stays allocated for the life
 * of the process, even once removed, so losses and metrics that point at it (in a
 * compiled model) never dangle. */
#include <stdlib.h>
#include <string.h>

#include "train/loss_kind.h"
#include "train/metric_kind.h"

typedef struct registry {
    px_custom_fn *entries;
    int n, cap;
} registry;

static registry losses, metrics;

static px_custom_fn *lookup(registry *r, const char *name) {
    for (int i = 0; name && i < r->n; i++)
        if (strcmp(r->entries[i].name, name) == 0) return &r->entries[i];
    return NULL;
}

static px_status add(registry *r, const char *what, const char *name, px_loss_fn fn, void *user, bool builtin) {
    if (!name || !*name) return px_set_error(PX_ERR_ARG, "%s_register: the name is empty", what);
    if (strlen(name) > 63) return px_set_error(PX_ERR_ARG, "%s_register: name '%.20s...' is longer than 63 characters", what, name);
    if (builtin) return px_set_error(PX_ERR_ARG, "%s_register: '%s' is the name of a built-in %s", what, name, what);
    px_custom_fn *e = lookup(r, name);
    if (e) {
        e->fn = fn;
        e->user = user;
        return PX_OK;
    }
    if (!fn) return PX_OK;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 8;
        px_custom_fn *grown = realloc(r->entries, (size_t)cap * sizeof *grown);
        if (!grown) return px_set_error(PX_ERR_NOMEM, "%s_register: out of memory", what);
        r->entries = grown;
        r->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return px_set_error(PX_ERR_NOMEM, "%s_register: out of memory", what);
    r->entries[r->n++] = (px_custom_fn){copy, fn, user};
    return PX_OK;
}

px_status px_loss_register(const char *name, px_loss_fn fn, void *user) {
    return add(&losses, "loss", name, fn, user, px_loss_def_find(name) != NULL);
}

px_status px_metric_register(const char *name, px_loss_fn fn, void *user) {
    return add(&metrics, "metric", name, fn, user, px_metric_def_find(name) != NULL);
}

static const px_custom_fn *live(const px_custom_fn *e) { return e && e->fn ? e : NULL; }

const px_custom_fn *px_custom_loss_find(const char *name) { return live(lookup(&losses, name)); }
const px_custom_fn *px_custom_metric_find(const char *name) { return live(lookup(&metrics, name)); }
