/* Keras 2's legacy weight layout (full .h5 files under model_weights, weights-only
 * .h5 files at the root): layer_names, then a group per layer whose weight_names
 * attribute lists its datasets in _legacy_weights order. */
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "saving/model_config.h"
#include "saving/weights.h"

/* The layers Keras lists in model.layers: a Sequential leaves its InputLayer out. */
static bool listed(const px_model *m, const px_layer *l) { return !(m->sequential && px_is_input_layer(l)); }

/* ---------------------------------------------------------------- writing */

/* "<layer>/<weight>:0", Keras 2's weight name (the dataset path under the layer
 * group); a nested model's weights already carry their own layer's name. */
static void keras_weight_name(const px_layer *l, int i, char *buf, size_t len) {
    const char *w = px_layer_weight_name(l, i);
    if (strchr(w, '/')) snprintf(buf, len, "%s:0", w);
    else snprintf(buf, len, "%s/%s:0", px_layer_name(l), w);
}

static px_status write_layer(px_h5_file *f, const char *grp, const px_layer *l) {
    px_status st = px_h5_create_group(f, grp);
    int nw = px_layer_weight_count(l);
    if (st || nw == 0) return st ? st : px_h5_write_string_array_attr(f, grp, "weight_names", NULL, 0);
    char **wn = calloc((size_t)nw, sizeof *wn);
    int *perm = calloc((size_t)nw, sizeof *perm);
    if (!wn || !perm) st = px_set_error(PX_ERR_NOMEM, "save: out of memory");
    else px_legacy_order(l, perm);
    for (int j = 0; !st && j < nw; j++) {
        char w[512], path[1100];
        keras_weight_name(l, perm[j], w, sizeof w);
        if (!(wn[j] = strdup(w))) st = px_set_error(PX_ERR_NOMEM, "save: out of memory");
        snprintf(path, sizeof path, "%s/%s", grp, w);
        if (!st) st = px_h5_write_tensor(f, path, px_node_value(px_layer_weight(l, perm[j])));
    }
    if (!st) st = px_h5_write_string_array_attr(f, grp, "weight_names", (const char *const *)wn, (size_t)nw);
    for (int j = 0; wn && j < nw; j++) free(wn[j]);
    free(wn);
    free(perm);
    return st;
}

px_status px_legacy_weights_write(px_h5_file *f, const char *base, const px_model *m) {
    const char **names = calloc((size_t)m->n_layers + 1, sizeof *names);
    if (!names) return px_set_error(PX_ERR_NOMEM, "save: out of memory");
    size_t n = 0;
    px_status st = PX_OK;
    for (int i = 0; i < m->n_layers; i++)
        if (listed(m, m->layers[i])) names[n++] = px_layer_name(m->layers[i]);
    if (*base) st = px_h5_create_group(f, base);
    if (!st) st = px_h5_write_string_array_attr(f, base, "layer_names", names, n);
    free(names);
    if (!st) st = px_h5_write_string_attr(f, base, "backend", "tensorflow", PX_H5_UTF8);
    if (!st) st = px_h5_write_string_attr(f, base, "keras_version", PX_KERAS_VERSION, PX_H5_UTF8);
    for (int i = 0; !st && i < m->n_layers; i++) {
        if (!listed(m, m->layers[i])) continue;
        char grp[512];
        snprintf(grp, sizeof grp, "%s/%s", base, px_layer_name(m->layers[i]));
        st = write_layer(f, grp, m->layers[i]);
    }
    if (!st) {
        char grp[512];
        snprintf(grp, sizeof grp, "%s/top_level_model_weights", base);
        if (!(st = px_h5_create_group(f, grp))) st = px_h5_write_string_array_attr(f, grp, "weight_names", NULL, 0);
    }
    return st;
}

/* ---------------------------------------------------------------- reading */

/* A list attribute, or Keras's split form name0, name1, ... for big lists. */
static px_status read_names(px_h5_file *f, const char *obj, const char *attr, char ***names, size_t *count) {
    if (px_h5_has_attr(f, obj, attr)) return px_h5_read_string_array_attr(f, obj, attr, names, count);
    char **all = NULL;
    size_t n = 0;
    int chunk = 0;
    for (;; chunk++) {
        char an[96];
        snprintf(an, sizeof an, "%s%d", attr, chunk);
        if (!px_h5_has_attr(f, obj, an)) break;
        char **part;
        size_t pn;
        px_status st = px_h5_read_string_array_attr(f, obj, an, &part, &pn);
        char **grown = st ? NULL : realloc(all, (n + pn + 1) * sizeof *grown);
        if (!grown) {
            if (!st) px_h5_free_names(part, pn), st = px_set_error(PX_ERR_NOMEM, "load: out of memory");
            px_h5_free_names(all, n);
            return st;
        }
        all = grown;
        memcpy(all + n, part, pn * sizeof *part);
        n += pn;
        free(part);
    }
    if (chunk == 0)
        return px_set_error(PX_ERR_FORMAT, "'%s': object '%s' has no attribute '%s'", px_h5_filename(f), *obj ? obj : "/", attr);
    *names = all;
    *count = n;
    return PX_OK;
}

/* One layer of the file: its group and its weight_names. */
typedef struct file_layer {
    const char *name;
    char grp[600];
    char **wn;
    size_t nw;
} file_layer;

static void free_file_layers(file_layer *fl, size_t n) {
    for (size_t i = 0; fl && i < n; i++) px_h5_free_names(fl[i].wn, fl[i].nw);
    free(fl);
}

/* Reads file layer `src` into model layer l (staged). */
static px_status stage_layer(px_h5_file *f, const file_layer *src, px_layer *l, px_staged_set *set) {
    int nw = px_layer_weight_count(l);
    if ((size_t)nw != src->nw)
        return px_set_error(PX_ERR_FORMAT, "'%s': layer '%s' (%s) has %d weights in the model, the file's layer '%s' has %zu",
                            px_h5_filename(f), px_layer_name(l), px_layer_class(l), nw, src->name, src->nw);
    px_staged *s = px_staged_add(set, l);
    int *perm = calloc((size_t)nw + 1, sizeof *perm);
    px_status st = s && perm ? PX_OK : px_set_error(PX_ERR_NOMEM, "load_weights: out of memory");
    if (!st) px_legacy_order(l, perm);
    for (int j = 0; !st && j < nw; j++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", src->grp, src->wn[j]);
        px_tensor_free(s->w[perm[j]]);
        s->w[perm[j]] = NULL;
        st = px_read_weight(f, path, l, perm[j], &s->w[perm[j]]);
    }
    free(perm);
    return st;
}

/* "a, b, c" (at most ~400 characters) into buf. */
static void list_names(const char *const *names, int n, char *buf, size_t len) {
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t u = strlen(buf);
        if (u + strlen(names[i]) + 8 >= len) {
            snprintf(buf + u, len - u, ", ...");
            return;
        }
        snprintf(buf + u, len - u, "%s'%s'", i ? ", " : "", names[i]);
    }
}

static px_status match_by_order(px_h5_file *f, px_model *m, file_layer *fl, size_t nf, px_staged_set *set) {
    px_layer *ml[512];
    const char *mnames[512], *fnames[512];
    int nm = 0, nfw = 0;
    for (int i = 0; i < m->n_layers && nm < 512; i++)
        if (listed(m, m->layers[i]) && px_layer_weight_count(m->layers[i]) > 0) {
            mnames[nm] = px_layer_name(m->layers[i]);
            ml[nm++] = m->layers[i];
        }
    file_layer *fw[512];
    for (size_t i = 0; i < nf && nfw < 512; i++)
        if (fl[i].nw > 0) {
            fnames[nfw] = fl[i].name;
            fw[nfw++] = &fl[i];
        }
    if (nm != nfw) {
        char a[480], b[480];
        list_names(fnames, nfw, a, sizeof a);
        list_names(mnames, nm, b, sizeof b);
        return px_set_error(PX_ERR_FORMAT, "'%s': the file has weights for %d layers (%s), model '%s' has %d layers with weights (%s); "
                            "they are matched by position", px_h5_filename(f), nfw, a, m->name, nm, b);
    }
    for (int i = 0; i < nm; i++) {
        px_status st = stage_layer(f, fw[i], ml[i], set);
        if (st) return st;
    }
    return PX_OK;
}

static px_status match_by_name(px_h5_file *f, px_model *m, file_layer *fl, size_t nf, px_staged_set *set) {
    int matched = 0;
    for (size_t i = 0; i < nf; i++) {
        if (fl[i].nw == 0) continue;
        px_layer *l = px_model_find_layer(m, fl[i].name);
        if (!l) continue; /* as Keras: layers the model lacks are skipped */
        px_status st = stage_layer(f, &fl[i], l, set);
        if (st) return st;
        matched++;
    }
    if (matched == 0)
        return px_set_error(PX_ERR_FORMAT, "'%s': no layer of model '%s' has its name in the file (by_name matching)",
                            px_h5_filename(f), m->name);
    for (int i = 0; i < m->n_layers; i++) {
        px_layer *l = m->layers[i];
        bool got = false;
        for (int k = 0; k < set->n; k++) got |= set->s[k].layer == l;
        if (!got && px_layer_weight_count(l) > 0)
            px_warn("'%s': no weights for layer '%s' (%s) in the file; it keeps its own", px_h5_filename(f), px_layer_name(l),
                    px_layer_class(l));
    }
    return PX_OK;
}

px_status px_legacy_weights_read(px_h5_file *f, const char *base, px_model *m, bool by_name) {
    char **layers = NULL;
    size_t nl = 0;
    px_status st = read_names(f, base, "layer_names", &layers, &nl);
    if (st) return st;
    file_layer *fl = calloc(nl + 1, sizeof *fl);
    if (!fl) st = px_set_error(PX_ERR_NOMEM, "load_weights: out of memory");
    for (size_t i = 0; !st && i < nl; i++) {
        fl[i].name = layers[i];
        snprintf(fl[i].grp, sizeof fl[i].grp, "%s/%s", base, layers[i]);
        if (strchr(layers[i], '/') || px_h5_kind_of(f, fl[i].grp) != PX_H5_GROUP)
            st = px_set_error(PX_ERR_FORMAT, "'%s': layer_names lists '%s' but there is no group '%s'", px_h5_filename(f),
                              layers[i], fl[i].grp);
        else st = read_names(f, fl[i].grp, "weight_names", &fl[i].wn, &fl[i].nw);
    }
    px_staged_set set = {0};
    if (!st) st = by_name ? match_by_name(f, m, fl, nl, &set) : match_by_order(f, m, fl, nl, &set);
    if (!st) st = px_staged_assign(&set);
    px_staged_free(&set);
    free_file_layers(fl, nl);
    px_h5_free_names(layers, nl);
    return st;
}
