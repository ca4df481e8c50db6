/* Whole-model and weights-only HDF5 files in Keras's legacy layout, with the
 * optimizer's slots and the generators' states so resumed training is bit-exact. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "graph/node.h"
#include "formats/h5util.h"
#include "core/isolate.h"
#include "saving/model_config.h"
#include "nn/layer_config.h"
#include "plexus/model_io.h"
#include "train/optimizer_kind.h"

/* Version of the "plexus_state" root attribute (ignored by Keras). */
#define PX_STATE_VERSION 1

static bool is_input_layer(const px_layer *l) { return l->kind && strcmp(l->def->class_name, "InputLayer") == 0; }

/* Prefixes the current error with the file, unless the message names it already. */
static px_status in_file(const char *path, px_status st) {
    if (!st) st = px_last_status() ? px_last_status() : PX_ERR_FORMAT;
    char msg[1536];
    snprintf(msg, sizeof msg, "%s", px_last_error());
    if (strstr(msg, path)) return px_set_error(st, "%s", msg);
    return px_set_error(st, "'%s': %s", path, msg);
}

/* ---------------------------------------------------------------- writing */

/* "<layer>/<weight>:0", Keras 2's weight name (the dataset path under the layer group). */
static void keras_weight_name(const px_layer *l, int i, char *buf, size_t len) {
    snprintf(buf, len, "%s/%s:0", px_layer_name(l), px_layer_weight_name(l, i));
}

static px_status write_empty_names(px_h5_file *f, const char *obj, const char *attr) {
    return px_h5_write_string_array_attr(f, obj, attr, NULL, 0);
}

/* layer_names, backend, keras_version and one group per layer under base. */
static px_status write_weights(px_h5_file *f, const char *base, const px_model *m) {
    const char **names = calloc((size_t)m->n_layers + 1, sizeof *names);
    if (!names) return px_set_error(PX_ERR_NOMEM, "save: out of memory");
    size_t n = 0;
    px_status st = PX_OK;
    for (int i = 0; i < m->n_layers; i++)
        if (!(m->sequential && is_input_layer(m->layers[i]))) names[n++] = px_layer_name(m->layers[i]);
    if (*base) st = px_h5_create_group(f, base);
    if (!st) st = px_h5_write_string_array_attr(f, base, "layer_names", names, n);
    free(names);
    if (!st) st = px_h5_write_string_attr(f, base, "backend", "tensorflow", PX_H5_UTF8);
    if (!st) st = px_h5_write_string_attr(f, base, "keras_version", PX_KERAS_VERSION, PX_H5_UTF8);
    for (int i = 0; !st && i < m->n_layers; i++) {
        const px_layer *l = m->layers[i];
        if (m->sequential && is_input_layer(l)) continue;
        char grp[512];
        snprintf(grp, sizeof grp, "%s/%s", base, px_layer_name(l));
        if ((st = px_h5_create_group(f, grp))) break;
        int nw = px_layer_weight_count(l);
        char **wn = calloc((size_t)nw + 1, sizeof *wn);
        if (!wn) return px_set_error(PX_ERR_NOMEM, "save: out of memory");
        for (int k = 0; !st && k < nw; k++) {
            char w[512], path[1100];
            keras_weight_name(l, k, w, sizeof w);
            if (!(wn[k] = strdup(w))) st = px_set_error(PX_ERR_NOMEM, "save: out of memory");
            snprintf(path, sizeof path, "%s/%s", grp, w);
            if (!st) st = px_h5_write_tensor(f, path, px_node_value(px_layer_weight(l, k)));
        }
        if (!st) st = nw ? px_h5_write_string_array_attr(f, grp, "weight_names", (const char *const *)wn, (size_t)nw)
                         : write_empty_names(f, grp, "weight_names");
        for (int k = 0; k < nw; k++) free(wn[k]);
        free(wn);
    }
    if (!st) {
        char grp[512];
        snprintf(grp, sizeof grp, "%s/top_level_model_weights", base);
        if (!(st = px_h5_create_group(f, grp))) st = write_empty_names(f, grp, "weight_names");
    }
    return st;
}

/* The trainable variables in the order of the parameter block, with offsets. */
typedef struct tvar {
    const px_layer *layer;
    int index;
    int64_t offset, size;
} tvar;

static int trainable_vars(const px_model *m, tvar **out) {
    int n = 0, cap = 0;
    tvar *v = NULL;
    for (int i = 0; i < m->n_layers; i++)
        for (int k = 0; k < px_layer_weight_count(m->layers[i]); k++) {
            px_node *w = px_layer_weight(m->layers[i], k);
            if (!px_variable_trainable(w)) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                tvar *nv = realloc(v, (size_t)cap * sizeof *nv);
                if (!nv) return free(v), -1;
                v = nv;
            }
            v[n++] = (tvar){m->layers[i], k, px_variable_offset(w), px_shape_size(px_node_shape(w))};
        }
    *out = v;
    return n;
}

/* "<Optimizer class>/<slot>/<layer>/<weight>:0" with Keras 2.11's slot names ("m", "v"). */
static void slot_path(const px_model *m, int slot, const tvar *v, char *buf, size_t len) {
    const px_optimizer *opt = m->opt;
    snprintf(buf, len, "%s/%s/%s/%s:0", opt->def->class_name, opt->slot_h5_names[slot], px_layer_name(v->layer),
             px_layer_weight_name(v->layer, v->index));
}

/* optimizer_weights: "iteration:0", then every slot of every trainable variable
 * (interleaved per variable, as Keras 2.11+ orders them). */
static px_status write_optimizer(px_h5_file *f, px_model *m, int64_t *slot_params) {
    *slot_params = -1;
    px_status st = px_h5_create_group(f, "optimizer_weights");
    if (st) return st;
    int64_t it = px_optimizer_iterations(m->opt);
    px_tensor *itv = px_tensor_new(PX_I32, PX_SCALAR);
    if (!itv) return px_last_status();
    px_tensor_i32(itv)[0] = it > INT32_MAX ? INT32_MAX : (int32_t)it; /* exact count: plexus_state */
    st = px_h5_write_tensor(f, "optimizer_weights/iteration:0", itv);
    px_tensor_free(itv);
    if (st) return st;
    int n_slots = px_optimizer_slot_count(m->opt), cap = 1, n_names = 0;
    int64_t n_params = 0, n_trainable = 0;
    float *block = m->built ? px_graph_params(m->g, &n_params, &n_trainable) : NULL;
    (void)block;
    const char *sname;
    int64_t sn = -1;
    bool have = n_slots > 0 && px_optimizer_slot(m->opt, 0, &sname, &sn) != NULL && sn == n_trainable;
    tvar *vars = NULL;
    int nv = have ? trainable_vars(m, &vars) : 0;
    if (nv < 0) return px_set_error(PX_ERR_NOMEM, "save: out of memory");
    cap = 1 + nv * n_slots;
    char **names = calloc((size_t)cap, sizeof *names);
    if (!names) {
        free(vars);
        return px_set_error(PX_ERR_NOMEM, "save: out of memory");
    }
    names[n_names++] = strdup("iteration:0");
    for (int v = 0; !st && v < nv; v++)
        for (int s = 0; !st && s < n_slots; s++) {
            float *data = px_optimizer_slot(m->opt, s, &sname, &sn);
            char nm[600], path[700];
            slot_path(m, s, &vars[v], nm, sizeof nm);
            snprintf(path, sizeof path, "optimizer_weights/%s", nm);
            if (!data || vars[v].offset < 0 || vars[v].offset + vars[v].size > sn) {
                st = px_set_error(PX_ERR_STATE, "save: optimizer slot '%s' does not cover weight '%s'", sname, nm);
                break;
            }
            px_tensor *t = px_tensor_from_array(px_node_shape(px_layer_weight(vars[v].layer, vars[v].index)),
                                                data + vars[v].offset, vars[v].size);
            if (!t) st = px_last_status();
            if (!st) st = px_h5_write_tensor(f, path, t);
            px_tensor_free(t);
            if (!st && !(names[n_names++] = strdup(nm))) st = px_set_error(PX_ERR_NOMEM, "save: out of memory");
        }
    if (!st && !names[0]) st = px_set_error(PX_ERR_NOMEM, "save: out of memory");
    if (!st) st = px_h5_write_string_array_attr(f, "optimizer_weights", "weight_names", (const char *const *)names, (size_t)n_names);
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(vars);
    if (!st && have) *slot_params = sn;
    return st;
}

static px_json *rng_json(px_rng r) {
    char buf[64];
    snprintf(buf, sizeof buf, "%016" PRIx64 ":%016" PRIx64, r.state, r.inc);
    return px_json_new_string(buf);
}

static bool rng_parse(const char *s, px_rng *r) {
    if (!s || strlen(s) != 33 || s[16] != ':') return false;
    char a[17], b[17], *end;
    memcpy(a, s, 16), a[16] = 0;
    memcpy(b, s + 17, 16), b[16] = 0;
    r->state = strtoull(a, &end, 16);
    if (*end) return false;
    r->inc = strtoull(b, &end, 16);
    return !*end;
}

static px_status write_string_json(px_h5_file *f, const char *name, px_json *j) {
    char *text = NULL;
    px_status st = px_json_write(j, &text);
    if (!st) st = px_h5_write_string_attr(f, "/", name, text, PX_H5_ASCII);
    free(text);
    return st;
}

px_status px_model_save(const px_model *cm, const char *path) {
    if (!cm || !path) return px_set_error(PX_ERR_ARG, "save: model or path is NULL");
    px_model *m = (px_model *)cm; /* reading the parameter block may collate it; nothing changes */
    if (!m->built) return px_set_error(PX_ERR_STATE, "save: model '%s' is not built yet", m->name);
    px_json *mc = NULL, *tc = NULL, *ps = NULL;
    px_status st = px_model_config_build(m, &mc);
    if (!st && m->compiled && m->opt) st = px_training_config_build(m, &tc);
    if (st) {
        px_json_free(mc);
        return in_file(path, st);
    }
    px_h5_file *f = NULL;
    if ((st = px_h5_create_temp(path, &f))) {
        px_json_free(mc);
        px_json_free(tc);
        return st;
    }
    st = px_h5_write_string_attr(f, "/", "backend", "tensorflow", PX_H5_UTF8);
    if (!st) st = px_h5_write_string_attr(f, "/", "keras_version", PX_KERAS_VERSION, PX_H5_UTF8);
    if (!st) st = write_string_json(f, "model_config", mc);
    if (!st && tc) st = write_string_json(f, "training_config", tc);
    if (!st) st = write_weights(f, "model_weights", m);
    int64_t slot_params = -1;
    if (!st && tc) st = write_optimizer(f, m, &slot_params);
    if (!st) {
        ps = px_json_new_object();
        st = ps ? PX_OK : px_last_status();
        if (!st) st = px_lc_set_int(ps, "version", PX_STATE_VERSION);
        if (!st) st = px_json_set(ps, "rng", rng_json(m->rng));
        if (!st) st = px_json_set(ps, "graph_rng", rng_json(m->g->rng));
        if (!st && tc) st = px_lc_set_int(ps, "optimizer_iterations", px_optimizer_iterations(m->opt));
        if (!st && tc) st = px_lc_set_int(ps, "optimizer_params", slot_params);
        if (!st) st = write_string_json(f, "plexus_state", ps);
    }
    px_json_free(mc);
    px_json_free(tc);
    px_json_free(ps);
    if (st) {
        px_h5_abort(f);
        return in_file(path, st);
    }
    return px_h5_commit(f);
}

px_status px_model_save_weights(const px_model *m, const char *path) {
    if (!m || !path) return px_set_error(PX_ERR_ARG, "save_weights: model or path is NULL");
    if (!m->built) return px_set_error(PX_ERR_STATE, "save_weights: model '%s' is not built yet", m->name);
    px_h5_file *f = NULL;
    px_status st = px_h5_create_temp(path, &f);
    if (st) return st;
    if ((st = write_weights(f, "", m))) {
        px_h5_abort(f);
        return in_file(path, st);
    }
    return px_h5_commit(f);
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

/* Loaded weights waiting to be assigned once every one has been read and checked. */
typedef struct staged {
    px_layer *layer;
    px_tensor **w;
    int n;
} staged;

static void staged_free(staged *s, int n) {
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < s[i].n; k++) px_tensor_free(s[i].w[k]);
        free(s[i].w);
    }
    free(s);
}

/* Reads one weight dataset, checking its shape against the layer's weight. */
static px_status read_weight(px_h5_file *f, const char *path, const px_layer *l, int k, const char *file_name,
                             px_tensor **out) {
    px_shape want = px_node_shape(px_layer_weight(l, k)), got;
    px_status st = px_h5_dataset_shape(f, path, &got);
    if (st) return st;
    if (!px_shape_equal(want, got)) {
        char sa[96], sb[96];
        return px_set_error(PX_ERR_SHAPE, "'%s': layer '%s', weight '%s' ('%s'): the file has shape %s, the model needs %s",
                            px_h5_filename(f), px_layer_name(l), px_layer_weight_name(l, k), file_name,
                            px_shape_format(got, sa, sizeof sa), px_shape_format(want, sb, sizeof sb));
    }
    return px_h5_read_tensor(f, path, &want, out);
}

static px_status assign_all(staged *s, int n) {
    for (int i = 0; i < n; i++) {
        px_status st = px_layer_set_weights(s[i].layer, s[i].w, s[i].n);
        if (st) return st;
    }
    return PX_OK;
}

/* Keras 2 layout under base: layer_names, a group per layer with weight_names. */
static px_status load_legacy_weights(px_h5_file *f, const char *base, px_model *m) {
    char **layers = NULL;
    size_t nl = 0;
    px_status st = read_names(f, base, "layer_names", &layers, &nl);
    if (st) return st;
    staged *s = calloc((size_t)m->n_layers + 1, sizeof *s);
    int ns = 0;
    if (!s) st = px_set_error(PX_ERR_NOMEM, "load_weights: out of memory");
    bool *seen = calloc((size_t)m->n_layers + 1, sizeof *seen);
    if (!seen && !st) st = px_set_error(PX_ERR_NOMEM, "load_weights: out of memory");
    for (size_t i = 0; !st && i < nl; i++) {
        char grp[600];
        snprintf(grp, sizeof grp, "%s/%s", base, layers[i]);
        if (strchr(layers[i], '/') || px_h5_kind_of(f, grp) != PX_H5_GROUP) {
            st = px_set_error(PX_ERR_FORMAT, "'%s': layer_names lists '%s' but there is no group '%s'", px_h5_filename(f),
                              layers[i], grp);
            break;
        }
        char **wn = NULL;
        size_t nw = 0;
        if ((st = read_names(f, grp, "weight_names", &wn, &nw))) break;
        px_layer *l = px_model_find_layer(m, layers[i]);
        int li = -1;
        for (int k = 0; l && k < m->n_layers; k++)
            if (m->layers[k] == l) li = k;
        if (nw == 0) {
            px_h5_free_names(wn, nw);
            if (l && px_layer_weight_count(l) > 0)
                st = px_set_error(PX_ERR_FORMAT, "'%s': layer '%s' has %d weights in the model but none in the file",
                                  px_h5_filename(f), layers[i], px_layer_weight_count(l));
            if (li >= 0) seen[li] = true;
            continue;
        }
        if (!l) {
            st = px_set_error(PX_ERR_FORMAT, "'%s': the file has weights for layer '%s', which model '%s' does not have",
                              px_h5_filename(f), layers[i], m->name);
        } else if ((size_t)px_layer_weight_count(l) != nw) {
            st = px_set_error(PX_ERR_FORMAT, "'%s': layer '%s' (%s) has %d weights in the model, %zu in the file",
                              px_h5_filename(f), layers[i], l->def->class_name, px_layer_weight_count(l), nw);
        } else {
            seen[li] = true;
            s[ns].layer = l;
            s[ns].n = (int)nw;
            if (!(s[ns].w = calloc(nw, sizeof *s[ns].w))) st = px_set_error(PX_ERR_NOMEM, "load_weights: out of memory");
            ns++;
            for (size_t k = 0; !st && k < nw; k++) {
                char path[1200];
                snprintf(path, sizeof path, "%s/%s", grp, wn[k]);
                st = read_weight(f, path, l, (int)k, wn[k], &s[ns - 1].w[k]);
            }
        }
        px_h5_free_names(wn, nw);
    }
    for (int k = 0; !st && k < m->n_layers; k++)
        if (!seen[k] && px_layer_weight_count(m->layers[k]) > 0)
            st = px_set_error(PX_ERR_FORMAT, "'%s': the file has no weights for layer '%s' (%s)", px_h5_filename(f),
                              px_layer_name(m->layers[k]), m->layers[k]->def->class_name);
    if (!st) st = assign_all(s, ns);
    if (s) staged_free(s, ns);
    free(seen);
    px_h5_free_names(layers, nl);
    return st;
}

/* Keras 3 layout (.weights.h5): layers/<snake_case class>[_N]/vars/<i>, keyed by
 * position among the model's layers (Sequential leaves its InputLayer out). */
static px_status load_k3_weights(px_h5_file *f, px_model *m) {
    staged *s = calloc((size_t)m->n_layers + 1, sizeof *s);
    if (!s) return px_set_error(PX_ERR_NOMEM, "load_weights: out of memory");
    int ns = 0;
    px_status st = PX_OK;
    for (int i = 0; !st && i < m->n_layers; i++) {
        px_layer *l = m->layers[i];
        if (m->sequential && is_input_layer(l)) continue;
        char base[128], key[160], vars[256];
        px_snake_case(l->def->class_name, base, sizeof base);
        int rep = 0;
        for (int k = 0; k < i; k++)
            if (!(m->sequential && is_input_layer(m->layers[k])) && strcmp(m->layers[k]->def->class_name, l->def->class_name) == 0) rep++;
        if (rep) snprintf(key, sizeof key, "%s_%d", base, rep);
        else snprintf(key, sizeof key, "%s", base);
        int nw = px_layer_weight_count(l);
        snprintf(vars, sizeof vars, "layers/%s/vars", key);
        char probe[300];
        snprintf(probe, sizeof probe, "%s/0", vars);
        if (nw && !px_h5_exists(f, probe)) {
            char alt[256];
            snprintf(alt, sizeof alt, "layers/%s/cell/vars", key); /* RNN layers keep theirs in the cell */
            snprintf(probe, sizeof probe, "%s/0", alt);
            if (px_h5_exists(f, probe)) snprintf(vars, sizeof vars, "%s", alt);
        }
        char **names = NULL;
        size_t count = 0;
        if (px_h5_kind_of(f, vars) == PX_H5_GROUP) {
            if ((st = px_h5_list(f, vars, PX_H5_ORDER_NAME, &names, &count))) break;
            px_h5_free_names(names, count);
        }
        if (count != (size_t)nw) {
            st = px_set_error(PX_ERR_FORMAT, "'%s': layer '%s' (%s) has %d weights in the model, %zu in '%s'", px_h5_filename(f),
                              px_layer_name(l), l->def->class_name, nw, count, vars);
            break;
        }
        if (!nw) continue;
        s[ns].layer = l;
        s[ns].n = nw;
        if (!(s[ns].w = calloc((size_t)nw, sizeof *s[ns].w))) st = px_set_error(PX_ERR_NOMEM, "load_weights: out of memory");
        ns++;
        for (int k = 0; !st && k < nw; k++) {
            char path[300];
            snprintf(path, sizeof path, "%s/%d", vars, k);
            st = read_weight(f, path, l, k, path, &s[ns - 1].w[k]);
        }
    }
    if (!st) st = assign_all(s, ns);
    staged_free(s, ns);
    return st;
}

static px_status load_weights_open(px_h5_file *f, px_model *m) {
    if (!m->built)
        return px_set_error(PX_ERR_STATE, "load_weights: model '%s' is not built yet (give it an input shape first)", m->name);
    if (px_h5_has_attr(f, "/", "layer_names") || px_h5_has_attr(f, "/", "layer_names0")) return load_legacy_weights(f, "", m);
    if (px_h5_kind_of(f, "model_weights") == PX_H5_GROUP) return load_legacy_weights(f, "model_weights", m);
    if (px_h5_kind_of(f, "layers") == PX_H5_GROUP) return load_k3_weights(f, m);
    return px_set_error(PX_ERR_FORMAT, "'%s': no weights found (neither layer_names, model_weights nor layers/)", px_h5_filename(f));
}

static px_status load_weights_file(px_model *m, const char *path) {
    px_h5_file *f = NULL;
    px_status st = px_h5_open(path, &f);
    if (st) return st;
    st = load_weights_open(f, m);
    if (st) st = in_file(path, st);
    px_h5_close(f);
    return st;
}

typedef struct weights_job {
    px_model *m;
    const char *path;
} weights_job;

/* In the isolated child: the very load, into the child's copy of the model. */
static px_status weights_probe(void *arg) {
    weights_job *j = arg;
    return load_weights_file(j->m, j->path);
}

px_status px_model_load_weights(px_model *m, const char *path) {
    if (!m || !path) return px_set_error(PX_ERR_ARG, "load_weights: model or path is NULL");
    /* libhdf5 may crash or hang on a corrupt file: a child tries first, and the
     * parent reads only a file the child read completely (src/io/isolate.h) */
    px_status st = px_isolate_run(path, weights_probe, &(weights_job){m, path});
    if (st) return st;
    return load_weights_file(m, path);
}

/* Restores the optimizer's slots by name when every one is in the file;
 * otherwise the optimizer starts fresh, as Keras does when they do not match.
 * want_params: from plexus_state (-1: saved before any step), -2 without it. */
static px_status load_optimizer(px_h5_file *f, px_model *m, int64_t iterations, int64_t want_params) {
    if (!m->opt || want_params == -1 || px_h5_kind_of(f, "optimizer_weights") != PX_H5_GROUP) return PX_OK;
    int64_t n_params = 0, n_trainable = 0;
    if (!px_graph_params(m->g, &n_params, &n_trainable)) return px_last_status();
    if (iterations < 0) {
        px_tensor *it = NULL;
        if (!px_h5_exists(f, "optimizer_weights/iteration:0")) return PX_OK;
        if (px_h5_read_tensor(f, "optimizer_weights/iteration:0", &PX_SCALAR, &it)) return px_last_status();
        iterations = (int64_t)px_tensor_f32(it)[0];
        px_tensor_free(it);
        if (iterations <= 0) return PX_OK;
    }
    if (want_params >= 0 && want_params != n_trainable)
        return px_set_error(PX_ERR_FORMAT, "'%s': the optimizer state covers %lld parameters, the model trains %lld",
                            px_h5_filename(f), (long long)want_params, (long long)n_trainable);
    tvar *vars = NULL;
    int nv = trainable_vars(m, &vars);
    if (nv < 0) return px_set_error(PX_ERR_NOMEM, "load: out of memory");
    int n_slots = px_optimizer_slot_count(m->opt);
    /* the optimizer is fresh (just compiled): size its slots, then fill them */
    px_status st = nv > 0 ? px_optimizer_restore(m->opt, n_trainable, iterations) : PX_OK;
    bool complete = nv > 0;
    for (int v = 0; !st && complete && v < nv; v++)
        for (int s = 0; complete && s < n_slots; s++) {
            const char *sname = NULL;
            int64_t sn = 0;
            px_optimizer_slot(m->opt, s, &sname, &sn);
            char nm[600], path[700];
            slot_path(m, s, &vars[v], nm, sizeof nm);
            snprintf(path, sizeof path, "optimizer_weights/%s", nm);
            complete = sname && px_h5_exists(f, path);
        }
    for (int v = 0; !st && complete && v < nv; v++)
        for (int s = 0; !st && s < n_slots; s++) {
            const char *sname;
            int64_t sn;
            float *data = px_optimizer_slot(m->opt, s, &sname, &sn);
            char nm[600], path[700];
            slot_path(m, s, &vars[v], nm, sizeof nm);
            snprintf(path, sizeof path, "optimizer_weights/%s", nm);
            px_shape want = px_node_shape(px_layer_weight(vars[v].layer, vars[v].index));
            px_tensor *t = NULL;
            if (!data || vars[v].offset < 0 || vars[v].offset + vars[v].size > sn) {
                st = px_set_error(PX_ERR_STATE, "load: optimizer slot '%s' does not fit the parameters", nm);
                break;
            }
            if (!(st = px_h5_read_tensor(f, path, &want, &t)))
                memcpy(data + vars[v].offset, px_tensor_f32(t), (size_t)vars[v].size * sizeof(float));
            px_tensor_free(t);
        }
    /* a partial set is dropped: fresh slots, as Keras warns and starts over */
    if (!st && nv > 0 && !complete) st = px_optimizer_restore(m->opt, n_trainable, 0);
    if (!st && nv > 0) m->opt_params = n_trainable;
    free(vars);
    return st;
}

static px_status read_json_attr(px_h5_file *f, const char *name, px_json **out) {
    char *text = NULL;
    *out = NULL;
    px_status st = px_h5_read_string_attr(f, "/", name, &text);
    if (st) return st;
    st = px_json_parse(text, strlen(text), out);
    free(text);
    if (st) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        return px_set_error(PX_ERR_FORMAT, "'%s': attribute '%s' is not valid JSON: %s", px_h5_filename(f), name, msg);
    }
    return PX_OK;
}

static px_model *load_open(px_h5_file *f) {
    px_json *mc = NULL, *tc = NULL, *ps = NULL;
    px_model *m = NULL;
    if (!px_h5_has_attr(f, "/", "model_config")) {
        px_set_error(PX_ERR_FORMAT, "'%s': no model_config attribute (%s)", px_h5_filename(f),
                     px_h5_has_attr(f, "/", "layer_names") || px_h5_exists(f, "layers")
                         ? "a weights-only file: build the model and use px_model_load_weights"
                         : "not a Keras model file");
        return NULL;
    }
    if (read_json_attr(f, "model_config", &mc)) return NULL;
    /* the file's keras_version, for configs that do not carry their own */
    char *kv = NULL;
    int prev = px_lc_keras_major();
    if (px_h5_has_attr(f, "/", "keras_version") && px_h5_read_string_attr(f, "/", "keras_version", &kv) == PX_OK)
        px_lc_set_keras_major(px_lc_keras_major_of(kv));
    free(kv);
    m = px_model_from_config(mc);
    px_lc_set_keras_major(prev);
    if (!m) goto fail;
    if (!m->built) {
        px_set_error(PX_ERR_FORMAT, "'%s': model '%s' has no input shape in its model_config", px_h5_filename(f), m->name);
        goto fail;
    }
    if (load_weights_open(f, m)) goto fail;
    if (px_h5_has_attr(f, "/", "training_config")) {
        if (read_json_attr(f, "training_config", &tc) || px_training_config_apply(m, tc)) goto fail;
    }
    int64_t iterations = -1, params = -2;
    if (px_h5_has_attr(f, "/", "plexus_state")) {
        if (read_json_attr(f, "plexus_state", &ps)) goto fail;
        px_rng r, gr;
        if (!rng_parse(px_json_get_string(ps, "rng", NULL), &r) || !rng_parse(px_json_get_string(ps, "graph_rng", NULL), &gr)) {
            px_set_error(PX_ERR_FORMAT, "'%s': plexus_state: key 'rng' or 'graph_rng' is missing or malformed", px_h5_filename(f));
            goto fail;
        }
        m->rng = r;
        m->g->rng = gr;
        iterations = px_json_get_int(ps, "optimizer_iterations", -1);
        params = px_json_get_int(ps, "optimizer_params", -1);
    }
    if (m->compiled && load_optimizer(f, m, iterations, params)) goto fail;
    px_json_free(mc);
    px_json_free(tc);
    px_json_free(ps);
    return m;
fail:
    px_json_free(mc);
    px_json_free(tc);
    px_json_free(ps);
    px_model_free(m);
    return NULL;
}

static px_model *load_file(const char *path) {
    px_h5_file *f = NULL;
    if (px_h5_open(path, &f)) return NULL;
    px_model *m = load_open(f);
    if (!m) in_file(path, 0);
    px_h5_close(f);
    return m;
}

/* In the isolated child: the very load; the model is dropped with the child. */
static px_status load_probe(void *arg) {
    if (load_file(arg)) return PX_OK;
    return px_last_status() ? px_last_status() : PX_ERR_FORMAT;
}

px_model *px_model_load(const char *path) {
    if (!path) {
        px_set_error(PX_ERR_ARG, "load: path is NULL");
        return NULL;
    }
    /* as in px_model_load_weights: the parent touches only files a child read whole */
    if (px_isolate_run(path, load_probe, (void *)path)) return NULL;
    return load_file(path);
}
