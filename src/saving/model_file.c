/* Model files: whole models in Keras's legacy HDF5 layout (with the optimizer's slots
 * and the generators' states, so resumed training is bit-exact) or as .keras archives
 * (keras_archive.c), chosen by the file name on save and by the content on load;
 * weights-only files in either weight layout. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/isolate.h"
#include "formats/zipfile.h"
#include "graph/node.h"
#include "nn/layer_config.h"
#include "saving/keras_archive.h"
#include "saving/model_config.h"
#include "saving/weights.h"
#include "train/optimizer_kind.h"

/* Version of the "plexus_state" attribute (ignored by Keras). */
#define PX_STATE_VERSION 1

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---------------------------------------------------------------- plexus_state */

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

px_status px_plexus_state_build(const px_model *m, bool with_optimizer, int64_t slot_params, px_json **out) {
    px_json *ps = px_json_new_object();
    px_status st = ps ? PX_OK : px_last_status();
    if (!st) st = px_lc_set_int(ps, "version", PX_STATE_VERSION);
    if (!st) st = px_json_set(ps, "rng", rng_json(m->rng));
    if (!st) st = px_json_set(ps, "graph_rng", rng_json(m->g->rng));
    if (!st && with_optimizer) st = px_lc_set_int(ps, "optimizer_iterations", px_optimizer_iterations(m->opt));
    if (!st && with_optimizer) st = px_lc_set_int(ps, "optimizer_params", slot_params);
    if (st) {
        px_json_free(ps);
        return st;
    }
    *out = ps;
    return PX_OK;
}

px_status px_plexus_state_apply(px_model *m, const px_json *ps, const char *file, int64_t *iterations, int64_t *params) {
    px_rng r, gr;
    if (!rng_parse(px_json_get_string(ps, "rng", NULL), &r) || !rng_parse(px_json_get_string(ps, "graph_rng", NULL), &gr))
        return px_set_error(PX_ERR_FORMAT, "'%s': plexus_state: key 'rng' or 'graph_rng' is missing or malformed", file);
    m->rng = r;
    m->g->rng = gr;
    *iterations = px_json_get_int(ps, "optimizer_iterations", -1);
    *params = px_json_get_int(ps, "optimizer_params", -1);
    return PX_OK;
}

/* ---------------------------------------------------------------- optimizer_weights */

/* "<Optimizer class>/<slot>/<layer>/<weight>:0" with Keras 2.11's slot names ("m", "v"). */
static void slot_path(const px_model *m, int slot, const px_tvar *v, char *buf, size_t len) {
    const px_optimizer *opt = m->opt;
    snprintf(buf, len, "%s/%s/%s/%s:0", opt->def->class_name, opt->slot_h5_names[slot], px_layer_name(v->layer),
             px_layer_weight_name(v->layer, v->index));
}

/* optimizer_weights: "iteration:0" (int64, as Keras writes it), then every slot of
 * every trainable variable (interleaved per variable, as Keras 2.11+ orders them). */
static px_status write_optimizer(px_h5_file *f, px_model *m, int64_t *slot_params) {
    *slot_params = -1;
    px_status st = px_h5_create_group(f, "optimizer_weights");
    if (!st) st = px_h5_write_int64(f, "optimizer_weights/iteration:0", px_optimizer_iterations(m->opt));
    if (st) return st;
    int n_slots = px_optimizer_slot_count(m->opt), n_names = 0;
    int64_t n_params = 0, n_trainable = 0;
    if (m->built) px_graph_params(m->g, &n_params, &n_trainable);
    const char *sname;
    int64_t sn = -1;
    bool have = n_slots > 0 && px_optimizer_slot(m->opt, 0, &sname, &sn) != NULL && sn == n_trainable;
    px_tvar *vars = NULL;
    int nv = have ? px_trainable_vars(m, &vars) : 0;
    if (nv < 0) return px_set_error(PX_ERR_NOMEM, "save: out of memory");
    char **names = calloc((size_t)(1 + nv * n_slots), sizeof *names);
    if (!names) {
        free(vars);
        return px_set_error(PX_ERR_NOMEM, "save: out of memory");
    }
    if (!(names[n_names++] = strdup("iteration:0"))) st = px_set_error(PX_ERR_NOMEM, "save: out of memory");
    for (int v = 0; !st && v < nv; v++)
        for (int s = 0; !st && s < n_slots; s++) {
            char nm[600], path[700];
            slot_path(m, s, &vars[v], nm, sizeof nm);
            snprintf(path, sizeof path, "optimizer_weights/%s", nm);
            st = px_slot_write(f, path, m, s, &vars[v]);
            if (!st && !(names[n_names++] = strdup(nm))) st = px_set_error(PX_ERR_NOMEM, "save: out of memory");
        }
    if (!st) st = px_h5_write_string_array_attr(f, "optimizer_weights", "weight_names", (const char *const *)names, (size_t)n_names);
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(vars);
    /* optimizers without slots (plain SGD) still carry their step count, which
     * drives a learning-rate schedule: they count as stepped too */
    if (!st && have) *slot_params = sn;
    else if (!st && n_slots == 0 && px_optimizer_iterations(m->opt) > 0 && m->built) *slot_params = n_trainable;
    return st;
}

/* Restores the optimizer's slots by name when every one is in the file;
 * otherwise the optimizer starts fresh, as Keras does when they do not match.
 * want_params: from plexus_state (-1: saved before any step), -2 without it. */
static px_status load_optimizer(px_h5_file *f, px_model *m, int64_t iterations, int64_t want_params) {
    if (!m->opt || want_params == -1 || px_h5_kind_of(f, "optimizer_weights") != PX_H5_GROUP) return PX_OK;
    int64_t n_params = 0, n_trainable = 0;
    if (!px_graph_params(m->g, &n_params, &n_trainable)) return px_last_status();
    if (iterations < 0) {
        if (!px_h5_exists(f, "optimizer_weights/iteration:0")) return PX_OK;
        if (px_h5_read_int64(f, "optimizer_weights/iteration:0", &iterations)) return px_last_status();
        if (iterations <= 0) return PX_OK;
    }
    if (want_params >= 0 && want_params != n_trainable)
        return px_set_error(PX_ERR_FORMAT, "'%s': the optimizer state covers %lld parameters, the model trains %lld",
                            px_h5_filename(f), (long long)want_params, (long long)n_trainable);
    px_tvar *vars = NULL;
    int nv = px_trainable_vars(m, &vars);
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
            char nm[600], path[700];
            slot_path(m, s, &vars[v], nm, sizeof nm);
            snprintf(path, sizeof path, "optimizer_weights/%s", nm);
            st = px_slot_read(f, path, m, s, &vars[v]);
        }
    /* a partial set is dropped: fresh slots, as Keras warns and starts over */
    if (!st && nv > 0 && !complete) st = px_optimizer_restore(m->opt, n_trainable, 0);
    if (!st && nv > 0) m->opt_params = n_trainable;
    free(vars);
    return st;
}

/* ---------------------------------------------------------------- whole .h5 models */

static px_status write_string_json(px_h5_file *f, const char *name, px_json *j) {
    char *text = NULL;
    px_status st = px_json_write(j, &text);
    if (!st) st = px_h5_write_string_attr(f, "/", name, text, PX_H5_ASCII);
    free(text);
    return st;
}

static px_status save_h5(px_model *m, const char *path) {
    px_json *mc = NULL, *tc = NULL, *ps = NULL;
    px_status st = px_model_config_build(m, &mc);
    if (!st && m->compiled && m->opt) st = px_training_config_build(m, &tc);
    if (st) {
        px_json_free(mc);
        return px_in_file(path, st);
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
    if (!st) st = px_legacy_weights_write(f, "model_weights", m);
    int64_t slot_params = -1;
    if (!st && tc) st = write_optimizer(f, m, &slot_params);
    if (!st) st = px_plexus_state_build(m, tc != NULL, slot_params, &ps);
    if (!st) st = write_string_json(f, "plexus_state", ps);
    px_json_free(mc);
    px_json_free(tc);
    px_json_free(ps);
    if (st) {
        px_h5_abort(f);
        return px_in_file(path, st);
    }
    return px_h5_commit(f);
}

px_status px_model_save(const px_model *cm, const char *path) {
    if (!cm || !path) return px_set_error(PX_ERR_ARG, "save: model or path is NULL");
    px_model *m = (px_model *)cm; /* reading the parameter block may collate it; nothing changes */
    if (!m->built) return px_set_error(PX_ERR_STATE, "save: model '%s' is not built yet", m->name);
    /* the format follows the name, as Keras's model.save does */
    return ends_with(path, ".keras") ? px_keras_archive_save(m, path) : save_h5(m, path);
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

static px_model *load_h5_open(px_h5_file *f) {
    px_json *mc = NULL, *tc = NULL, *ps = NULL;
    px_model *m = NULL;
    if (!px_h5_has_attr(f, "/", "model_config")) {
        px_set_error(PX_ERR_FORMAT, "'%s': no model_config attribute (%s)", px_h5_filename(f),
                     px_h5_has_attr(f, "/", "layer_names") || px_h5_exists(f, "layers")
                         ? "a weights-only file: give the model's config JSON with it (plexus ... --weights), or build "
                           "the model and use px_model_load_weights"
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
    if (px_legacy_weights_read(f, "model_weights", m, false)) goto fail;
    if (px_h5_has_attr(f, "/", "training_config")) {
        if (read_json_attr(f, "training_config", &tc) || px_training_config_apply(m, tc)) goto fail;
    }
    int64_t iterations = -1, params = -2;
    if (px_h5_has_attr(f, "/", "plexus_state")) {
        if (read_json_attr(f, "plexus_state", &ps) || px_plexus_state_apply(m, ps, px_h5_filename(f), &iterations, &params))
            goto fail;
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

px_status px_model_restore_training(px_model *m, const char *path) {
    if (!m || !m->built || !m->compiled)
        return px_set_error(PX_ERR_STATE, "restore: the model must be built and compiled");
    px_h5_file *f = NULL;
    px_status st = px_h5_open(path, &f);
    if (st) return st;
    px_json *ps = NULL;
    int64_t iterations = -1, params = -2;
    st = px_legacy_weights_read(f, "model_weights", m, false);
    if (!st && !px_h5_has_attr(f, "/", "plexus_state"))
        st = px_set_error(PX_ERR_FORMAT, "'%s': no plexus_state attribute (not a file Plexus saved)", path);
    if (!st) st = read_json_attr(f, "plexus_state", &ps);
    if (!st) st = px_plexus_state_apply(m, ps, path, &iterations, &params);
    if (!st) st = load_optimizer(f, m, iterations, params);
    px_json_free(ps);
    px_h5_close(f);
    return st ? px_in_file(path, st) : PX_OK;
}

static px_model *load_file(const char *path) {
    if (px_zip_is_archive(path)) return px_keras_archive_load(path);
    px_h5_file *f = NULL;
    if (px_h5_open(path, &f)) return NULL;
    px_model *m = load_h5_open(f);
    if (!m) px_in_file(path, 0);
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
    /* libhdf5 may crash or hang on a corrupt file: a child tries first, and the
     * parent reads only a file the child read completely (src/core/isolate.h) */
    if (px_isolate_run(path, load_probe, (void *)path)) return NULL;
    return load_file(path);
}

/* ---------------------------------------------------------------- weights only */

px_status px_model_save_weights(const px_model *m, const char *path) {
    if (!m || !path) return px_set_error(PX_ERR_ARG, "save_weights: model or path is NULL");
    if (!m->built) return px_set_error(PX_ERR_STATE, "save_weights: model '%s' is not built yet", m->name);
    px_h5_file *f = NULL;
    px_status st = px_h5_create_temp(path, &f);
    if (st) return st;
    /* Keras 3 writes its own layout under the name it requires, ".weights.h5" */
    st = ends_with(path, ".weights.h5") ? px_k3_weights_write(f, m) : px_legacy_weights_write(f, "", m);
    if (st) {
        px_h5_abort(f);
        return px_in_file(path, st);
    }
    return px_h5_commit(f);
}

static px_status load_weights_open(px_h5_file *f, px_model *m, bool by_name) {
    if (px_h5_has_attr(f, "/", "layer_names") || px_h5_has_attr(f, "/", "layer_names0")) return px_legacy_weights_read(f, "", m, by_name);
    if (px_h5_kind_of(f, "model_weights") == PX_H5_GROUP) return px_legacy_weights_read(f, "model_weights", m, by_name);
    if (px_h5_kind_of(f, "layers") == PX_H5_GROUP) return px_k3_weights_read(f, m);
    return px_set_error(PX_ERR_FORMAT, "'%s': no weights found (neither layer_names, model_weights nor layers/)", px_h5_filename(f));
}

typedef struct weights_job {
    px_model *m;
    const char *path;
    bool by_name;
} weights_job;

static px_status load_weights_file(const weights_job *j) {
    if (px_zip_is_archive(j->path)) return px_keras_archive_load_weights(j->m, j->path);
    px_h5_file *f = NULL;
    px_status st = px_h5_open(j->path, &f);
    if (st) return st;
    st = load_weights_open(f, j->m, j->by_name);
    if (st) st = px_in_file(j->path, st);
    px_h5_close(f);
    return st;
}

/* In the isolated child: the very load, into the child's copy of the model. */
static px_status weights_probe(void *arg) { return load_weights_file(arg); }

px_status px_model_load_weights_ex(px_model *m, const char *path, const px_load_weights_options *opts) {
    if (!m || !path) return px_set_error(PX_ERR_ARG, "load_weights: model or path is NULL");
    if (!m->built)
        return px_set_error(PX_ERR_STATE, "load_weights: model '%s' is not built yet (give it an input shape first)", m->name);
    weights_job j = {m, path, opts && opts->by_name};
    /* as in px_model_load: the parent touches only files a child read whole */
    px_status st = px_isolate_run(path, weights_probe, &j);
    if (st) return st;
    return load_weights_file(&j);
}

px_status px_model_load_weights(px_model *m, const char *path) { return px_model_load_weights_ex(m, path, NULL); }
