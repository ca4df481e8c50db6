/* Metrics in training configs, both ways: a bare name ("accuracy", a registered
 * custom metric), or Keras's {"class_name", "config"} object when the metric has
 * settings or a name of its own; the keys are the kind's. */
#include <string.h>

#include "nn/layer_config.h"
#include "train/metric_kind.h"

/* Whether the metric differs from what its bare name means. */
static bool has_settings(const px_metric *m, const px_metric_def *d) {
    if (m->name && strcmp(m->name, d->name) != 0) return true;
    return m->num_thresholds || m->curve || m->threshold != 0 || m->average || (m->k && m->k != 5) || m->num_classes;
}

px_json *px_metric_to_json(const px_metric *m) {
    const px_metric_def *d = px_metric_def_of(m->kind);
    if (!d || m->kind == PX_METRIC_NONE) {
        px_set_error(PX_ERR_ARG, "metric: unknown metric %d", (int)m->kind);
        return NULL;
    }
    if (m->kind == PX_METRIC_CUSTOM) return px_json_new_string(m->name ? m->name : "");
    if (!d->write_config || !has_settings(m, d)) return px_json_new_string(m->name ? m->name : d->name);
    px_json *c = px_json_new_object();
    px_status st = c ? px_lc_set_string(c, "name", m->name ? m->name : d->name) : px_last_status();
    if (!st) st = px_lc_set_string(c, "dtype", "float32");
    if (!st) {
        /* the hooks write zero settings as Keras's defaults */
        px_metric filled = *m;
        if (!filled.num_thresholds) filled.num_thresholds = 200;
        if (!filled.k) filled.k = 5;
        if (filled.threshold == 0 && (m->kind == PX_PRECISION || m->kind == PX_RECALL || m->kind == PX_BINARY_ACCURACY))
            filled.threshold = 0.5f;
        st = d->write_config(&filled, c);
    }
    if (st) return px_json_free(c), NULL;
    return px_lc_class_object(d->class_name, c);
}

px_status px_metric_from_json(const px_json *v, px_metric *out) {
    memset(out, 0, sizeof *out);
    if (px_json_is_string(v)) {
        const char *name = px_json_string(v);
        if (px_metric_from_name(name, &out->kind) != PX_OK)
            return px_set_error(PX_ERR_UNSUPPORTED, "metric '%s' is not supported", name);
        const px_custom_fn *f = out->kind == PX_METRIC_CUSTOM ? px_custom_metric_find(name) : NULL;
        out->name = f ? f->name : px_metric_def_of(out->kind)->name;
        if (out->kind == PX_ACCURACY || out->kind == PX_TOP_K) out->name = NULL; /* the shown name is the kind's */
        return PX_OK;
    }
    const px_json *c = px_json_get(v, "config");
    const char *cls = px_json_get_string(v, "class_name", NULL);
    const char *name = px_json_get_string(c, "name", NULL);
    const px_metric_def *d = px_metric_def_find(cls);
    if (!d && cls && strchr(cls, '>')) d = px_metric_def_find(strchr(cls, '>') + 1);
    if (!d) {
        const px_custom_fn *f = px_custom_metric_find(name ? name : cls);
        if (!f) return px_set_error(PX_ERR_UNSUPPORTED, "metric '%s' is not supported", cls ? cls : "?");
        *out = (px_metric){.kind = PX_METRIC_CUSTOM, .name = f->name};
        return PX_OK;
    }
    out->kind = d->kind;
    out->name = name;
    if (d->read_config && px_json_is_object(c)) d->read_config(c, out);
    return PX_OK;
}
