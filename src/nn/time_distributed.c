/* TimeDistributed: applies a wrapped layer to every timestep, (B, T, ...) ->
 * (B T, ...) -> layer -> (B, T, ...). The wrapped layer's build and call run on
 * the wrapper with the wrapped layer's state, so its weights are the wrapper's,
 * named as Keras names them ("time_distributed/kernel"). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer_config.h"
#include "nn/layer_internal.h"

typedef struct td_state {
    const px_layer_kind *inner;
    char inner_name[96];
    char k3_path[128]; /* k3_vars's answer */
    _Alignas(max_align_t) unsigned char inner_state[1024];
} td_state;

/* Runs fn with l's state swapped for the wrapped layer's. */
#define WITH_INNER(l, s, expr)                                                                      \
    do {                                                                                            \
        void *saved_ = (l)->state;                                                                  \
        (l)->state = (s)->inner->state_size ? (void *)(s)->inner_state : NULL;                      \
        expr;                                                                                       \
        (l)->state = saved_;                                                                        \
    } while (0)

static px_status td_check(const px_layer *l, px_shape x) {
    char sb[96];
    if (x.rank < 3) return px_set_error(PX_ERR_SHAPE, "layer '%s' (TimeDistributed): input %s needs (batch, timesteps, ...)",
                                        px_layer_name(l), px_shape_format(x, sb, sizeof sb));
    for (int i = 1; i < x.rank; i++)
        if (x.dim[i] <= 0)
            return px_set_error(PX_ERR_SHAPE, "layer '%s' (TimeDistributed): input %s needs known timesteps and features",
                                px_layer_name(l), px_shape_format(x, sb, sizeof sb));
    return PX_OK;
}

/* (B, T, rest) -> (B T, rest) */
static px_shape fold(px_shape x) {
    px_shape s = {.rank = x.rank - 1};
    s.dim[0] = PX_UNKNOWN;
    for (int i = 2; i < x.rank; i++) s.dim[i - 1] = x.dim[i];
    return s;
}

static px_status td_build(px_layer *l, const px_shape *in, int n) {
    td_state *s = l->state;
    if (n != 1) return px_set_error(PX_ERR_ARG, "layer '%s' (TimeDistributed): takes one input, got %d", px_layer_name(l), n);
    if (td_check(l, in[0])) return px_last_status();
    if (!s->inner->def.build) return PX_OK;
    px_shape f = fold(in[0]);
    px_status st;
    WITH_INNER(l, s, st = s->inner->def.build(l, &f, 1));
    return st;
}

static px_node *td_call(px_layer *l, px_node *const *in, int n) {
    (void)n;
    td_state *s = l->state;
    px_shape x = px_node_shape(in[0]);
    if (td_check(l, x)) return NULL;
    px_shape f = fold(x);
    f.dim[0] = -1;
    px_node *xf = px_reshape(in[0], f), *y = NULL;
    if (!xf) return NULL;
    WITH_INNER(l, s, y = s->inner->def.call(l, &xf, 1));
    if (!y) return NULL;
    px_shape ys = px_node_shape(y), out = {.rank = ys.rank + 1};
    out.dim[0] = -1;
    out.dim[1] = x.dim[1];
    for (int i = 1; i < ys.rank; i++) out.dim[i + 1] = ys.dim[i];
    return px_reshape(y, out);
}

static px_status td_write_config(const px_layer *l, px_json *c) {
    const td_state *s = l->state;
    px_layer inner = *l;
    inner.state = s->inner->state_size ? (void *)s->inner_state : NULL;
    inner.kind = s->inner;
    inner.def = &s->inner->def;
    px_json *layer = px_json_new_object(), *cfg = px_json_new_object();
    if (!layer || !cfg) {
        px_json_free(layer), px_json_free(cfg);
        return px_last_status();
    }
    px_status st = px_lc_set_string(layer, "class_name", s->inner->def.class_name);
    if (!st) st = px_lc_set_string(cfg, "name", s->inner_name);
    if (!st) st = px_lc_set_bool(cfg, "trainable", l->trainable);
    if (!st) st = px_lc_set_string(cfg, "dtype", "float32");
    if (!st && s->inner->write_config) st = s->inner->write_config(&inner, cfg);
    if (st) px_json_free(cfg);
    else st = px_json_set(layer, "config", cfg); /* owns cfg, also on failure */
    if (st) px_json_free(layer);
    else st = px_json_set(c, "layer", layer);
    return st;
}

static px_layer *td_from_config(const px_json *c) {
    const px_json *layer = px_json_get(c, "layer"), *inner = px_json_get(layer, "config");
    const char *cls = px_json_get_string(layer, "class_name", NULL);
    if (!cls || !px_json_is_object(inner)) {
        px_set_error(PX_ERR_FORMAT, "layer '%s' (TimeDistributed): config key 'layer' should be {\"class_name\", \"config\"}",
                     px_lc_name(c));
        return NULL;
    }
    const px_layer_kind *k = px_layer_kind_find(cls);
    if (!k || !k->from_config) {
        px_set_error(PX_ERR_UNSUPPORTED, "layer '%s' (TimeDistributed): the wrapped layer class '%s' is not supported",
                     px_lc_name(c), cls);
        return NULL;
    }
    if (px_lc_check_dtype(inner)) return NULL;
    px_layer *il = k->from_config(inner);
    if (il && px_layer_set_name(il, px_json_get_string(inner, "name", "layer"))) {
        px_layer_free(il);
        return NULL;
    }
    return px_time_distributed(il);
}

/* Keras 3 keeps the wrapped layer's weights under the wrapper's "layer" attribute:
 * layers/time_distributed/layer/vars/<i> (a recurrent one's under layer/cell/vars). */
static const char *td_k3_vars(const px_layer *l, int i, int *index) {
    td_state *s = l->state;
    *index = i;
    if (!s->inner->k3_vars) return "layer/vars";
    px_layer inner = *l;
    inner.state = s->inner->state_size ? (void *)s->inner_state : NULL;
    inner.kind = s->inner;
    inner.def = &s->inner->def;
    snprintf(s->k3_path, sizeof s->k3_path, "layer/%s", s->inner->k3_vars(&inner, i, index));
    return s->k3_path;
}

const px_layer_kind px_time_distributed_kind = {
    .def = {.class_name = "TimeDistributed", .build = td_build, .call = td_call},
    .base_name = "time_distributed",
    .state_size = sizeof(td_state),
    .write_config = td_write_config,
    .from_config = td_from_config,
    .k3_vars = td_k3_vars,
    .mask_mode = PX_MASK_PASS,
};

px_layer *px_time_distributed(px_layer *layer) {
    if (!layer) { /* keeps the constructor's error, or says what is missing */
        if (!px_last_error()[0]) px_set_error(PX_ERR_ARG, "TimeDistributed: the layer is NULL");
        return NULL;
    }
    px_layer *out = NULL;
    td_state *s = calloc(1, sizeof *s);
    if (!s) {
        px_set_error(PX_ERR_NOMEM, "TimeDistributed: out of memory");
    } else if (!layer->kind || layer->def->destroy || layer->kind->state_size > sizeof s->inner_state ||
               (layer->state && !layer->kind->state_size)) {
        px_set_error(PX_ERR_ARG, "TimeDistributed: cannot wrap '%s' (%s): only built-in layers are supported",
                     px_layer_name(layer), px_layer_class(layer));
    } else if (layer->built || layer->model) {
        px_set_error(PX_ERR_ARG, "TimeDistributed: layer '%s' is already in a model", px_layer_name(layer));
    } else {
        s->inner = layer->kind;
        if (layer->kind->state_size) memcpy(s->inner_state, layer->state, layer->kind->state_size);
        char base[64];
        px_snake_case(layer->def->class_name, base, sizeof base);
        snprintf(s->inner_name, sizeof s->inner_name, "%s", layer->name ? layer->name : layer->kind->base_name ? layer->kind->base_name : base);
        out = px_layer_new_kind(&px_time_distributed_kind, s, NULL);
        s = NULL;
    }
    free(s);
    px_layer_free(layer);
    return out;
}
