/* Shared parts of the model-file formats: staged weights, shape-checked reads,
 * Keras's legacy weight order, the trainable variables and file-named errors. */
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "saving/weights.h"

bool px_is_input_layer(const px_layer *l) { return l->kind && strcmp(l->def->class_name, "InputLayer") == 0; }

px_status px_in_file(const char *path, px_status st) {
    if (!st) st = px_last_status() ? px_last_status() : PX_ERR_FORMAT;
    char msg[1536];
    snprintf(msg, sizeof msg, "%s", px_last_error());
    if (strstr(msg, path)) return px_set_error(st, "%s", msg);
    return px_set_error(st, "'%s': %s", path, msg);
}

px_staged *px_staged_add(px_staged_set *set, px_layer *l) {
    for (int i = 0; i < set->n; i++)
        if (set->s[i].layer == l) return &set->s[i];
    if (set->n == set->cap) {
        int cap = set->cap ? 2 * set->cap : 8;
        px_staged *s = realloc(set->s, (size_t)cap * sizeof *s);
        if (!s) return NULL;
        set->s = s;
        set->cap = cap;
    }
    px_staged *e = &set->s[set->n];
    int n = px_layer_weight_count(l);
    *e = (px_staged){.layer = l, .n = n, .w = calloc((size_t)n + 1, sizeof *e->w)};
    if (!e->w) return NULL;
    set->n++;
    return e;
}

void px_staged_free(px_staged_set *set) {
    for (int i = 0; i < set->n; i++) {
        for (int k = 0; k < set->s[i].n; k++) px_tensor_free(set->s[i].w[k]);
        free(set->s[i].w);
    }
    free(set->s);
    *set = (px_staged_set){0};
}

px_status px_staged_assign(px_staged_set *set) {
    for (int i = 0; i < set->n; i++)
        for (int k = 0; k < set->s[i].n; k++)
            if (!set->s[i].w[k])
                return px_set_error(PX_ERR_STATE, "load: layer '%s': weight '%s' was not read", px_layer_name(set->s[i].layer),
                                    px_layer_weight_name(set->s[i].layer, k));
    for (int i = 0; i < set->n; i++) {
        px_status st = px_layer_set_weights(set->s[i].layer, set->s[i].w, set->s[i].n);
        if (st) return st;
    }
    return PX_OK;
}

px_status px_read_weight(px_h5_file *f, const char *path, const px_layer *l, int k, px_tensor **out) {
    px_shape want = px_node_shape(px_layer_weight(l, k)), got;
    px_status st = px_h5_dataset_shape(f, path, &got);
    if (st) return st;
    if (!px_shape_equal(want, got)) {
        char sa[96], sb[96];
        return px_set_error(PX_ERR_SHAPE, "'%s': layer '%s', weight '%s' ('%s'): the file has shape %s, the model needs %s",
                            px_h5_filename(f), px_layer_name(l), px_layer_weight_name(l, k), path,
                            px_shape_format(got, sa, sizeof sa), px_shape_format(want, sb, sizeof sb));
    }
    return px_h5_read_tensor(f, path, &want, out);
}

void px_legacy_order(const px_layer *l, int *perm) {
    int n = px_layer_weight_count(l), j = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < n; k++)
            if (px_variable_trainable(px_layer_weight(l, k)) == (pass == 0)) perm[j++] = k;
}

int px_trainable_vars(const px_model *m, px_tvar **out) {
    int n = 0, cap = 0;
    px_tvar *v = NULL;
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < px_layer_weight_count(m->layers[i]); k++) {
            px_node *w = px_layer_weight(m->layers[i], k);
            if (!px_variable_trainable(w)) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                px_tvar *nv = realloc(v, (size_t)cap * sizeof *nv);
                if (!nv) return free(v), -1;
                v = nv;
            }
            v[n++] = (px_tvar){m->layers[i], k, px_variable_offset(w), px_shape_size(px_node_shape(w))};
        }
    *out = v;
    return n;
}

/* Slot s's span for variable v, or NULL with an error when the slot does not cover it. */
static float *slot_span(px_model *m, int s, const px_tvar *v) {
    const char *name = "?";
    int64_t n = 0;
    float *data = px_optimizer_slot(m->opt, s, &name, &n);
    if (!data || v->offset < 0 || v->offset + v->size > n) {
        px_set_error(PX_ERR_STATE, "optimizer slot '%s' does not cover weight '%s' of layer '%s'", name,
                     px_layer_weight_name(v->layer, v->index), px_layer_name(v->layer));
        return NULL;
    }
    return data + v->offset;
}

px_status px_slot_write(px_h5_file *f, const char *path, px_model *m, int s, const px_tvar *v) {
    float *data = slot_span(m, s, v);
    if (!data) return px_last_status();
    px_tensor *t = px_tensor_from_array(px_node_shape(px_layer_weight(v->layer, v->index)), data, v->size);
    px_status st = t ? px_h5_write_tensor(f, path, t) : px_last_status();
    px_tensor_free(t);
    return st;
}

px_status px_slot_read(px_h5_file *f, const char *path, px_model *m, int s, const px_tvar *v) {
    float *data = slot_span(m, s, v);
    if (!data) return px_last_status();
    px_shape want = px_node_shape(px_layer_weight(v->layer, v->index));
    px_tensor *t = NULL;
    px_status st = px_h5_read_tensor(f, path, &want, &t);
    if (!st) memcpy(data, px_tensor_f32(t), (size_t)v->size * sizeof(float));
    px_tensor_free(t);
    return st;
}
