/* Losses in training configs, both ways: a bare name, or Keras's {"class_name",
 * "config"} object when a key differs from its default; the keys are the kind's.
 * User-defined losses go by their registered name. */
#include <string.h>

#include "nn/layer_config.h"
#include "train/loss_kind.h"
#include "train/metric_kind.h"

static bool needs_config(const px_loss_def *d, px_loss l) { return d->needs_config ? d->needs_config(l) : l.from_logits; }

px_json *px_loss_to_json(px_loss l) {
    /* a user-defined loss is saved by its registered name, as Keras saves a function's */
    if (l.kind == PX_LOSS_CUSTOM) return px_json_new_string(l.name ? l.name : "");
    const px_loss_def *d = px_loss_def_of(l.kind);
    if (!d) {
        px_set_error(PX_ERR_ARG, "loss: unknown loss %d", (int)l.kind);
        return NULL;
    }
    if (!needs_config(d, l)) return px_json_new_string(d->name);
    px_json *o = px_json_new_object(), *c = px_json_new_object();
    if (!o || !c) return px_json_free(o), px_json_free(c), NULL;
    px_status st = px_lc_set_string(c, "reduction", "auto");
    if (!st) st = px_lc_set_string(c, "name", d->name);
    if (!st) st = d->write_config ? d->write_config(l, c) : px_lc_set_bool(c, "from_logits", l.from_logits);
    if (st) return px_json_free(o), px_json_free(c), NULL;
    if (px_lc_set_string(o, "class_name", d->class_name)) return px_json_free(o), px_json_free(c), NULL;
    if (px_json_set(o, "config", c)) return px_json_free(o), NULL;
    return o;
}

px_status px_loss_from_json(const px_json *v, px_loss *out) {
    px_loss l = {0};
    const px_loss_def *d = NULL;
    const char *name = px_json_is_string(v) ? px_json_string(v) : NULL;
    const px_json *c = NULL;
    if (px_json_is_object(v)) {
        c = px_json_get(v, "config");
        name = px_json_get_string(c, "name", NULL);
        /* the class decides; the name may be any the user chose */
        const char *cls = px_json_get_string(v, "class_name", NULL);
        if ((d = px_loss_def_of_class(cls))) name = d->name;
        l.from_logits = px_json_get_bool(c, "from_logits", false);
    }
    if (!name)
        return px_set_error(PX_ERR_FORMAT, "key 'loss' holds a %s, not a loss name or object",
                            px_json_type_name(px_json_typeof(v)));
    const px_custom_fn *f = d ? NULL : px_custom_loss_find(name);
    if (f) {
        *out = (px_loss){.kind = PX_LOSS_CUSTOM, .name = f->name};
        return PX_OK;
    }
    if (!d && !(d = px_loss_def_find(name)))
        return px_set_error(PX_ERR_UNSUPPORTED, "loss '%s' is not supported (a custom loss loads where it is registered with px_loss_register)", name);
    l.kind = d->kind;
    if (c && d->read_config) d->read_config(c, &l);
    *out = l;
    return PX_OK;
}
