/* Keras 3's .keras archives: a zip (members stored, as Keras writes them) of
 * metadata.json, config.json (the model and its compile_config, serialized as Keras 3
 * does) and model.weights.h5 (Keras 3's weight layout, the optimizer's variables under
 * optimizer/vars, and Plexus's generator state as a root attribute Keras ignores). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formats/zipfile.h"
#include "graph/node.h"
#include "nn/layer_config.h"
#include "saving/keras_archive.h"
#include "saving/model_config.h"
#include "saving/weights.h"

#define WEIGHTS_MEMBER "model.weights.h5"

/* The name the weights file has in messages: "<archive> (model.weights.h5)". */
static void member_name(const char *path, char *buf, size_t len) { snprintf(buf, len, "%s (%s)", path, WEIGHTS_MEMBER); }

/* ---------------------------------------------------------------- optimizer/vars */

/* Keras 3's optimizer.variables: the iteration count (int64), the learning rate, then
 * each slot of each trainable variable, interleaved per variable. */
static px_status write_optimizer(px_h5_file *f, px_model *m, int64_t *slot_params) {
    *slot_params = -1;
    px_status st = px_h5_create_group(f, "optimizer/vars");
    if (!st) st = px_h5_write_string_attr(f, "optimizer/vars", "name", px_optimizer_name(m->opt), PX_H5_UTF8);
    if (!st) st = px_h5_write_int64(f, "optimizer/vars/0", px_optimizer_iterations(m->opt));
    px_tensor *lr = st ? NULL : px_tensor_new(PX_F32, PX_SCALAR);
    if (!st && !lr) st = px_last_status();
    if (!st) {
        px_tensor_f32(lr)[0] = px_optimizer_learning_rate(m->opt);
        st = px_h5_write_tensor(f, "optimizer/vars/1", lr);
    }
    px_tensor_free(lr);
    int n_slots = px_optimizer_slot_count(m->opt);
    int64_t n_params = 0, n_trainable = 0, sn = -1;
    const char *sname;
    if (!st && m->built) px_graph_params(m->g, &n_params, &n_trainable);
    bool have = !st && n_slots > 0 && px_optimizer_slot(m->opt, 0, &sname, &sn) != NULL && sn == n_trainable;
    px_tvar *vars = NULL;
    int nv = have ? px_trainable_vars(m, &vars) : 0, index = 2;
    if (nv < 0) return px_set_error(PX_ERR_NOMEM, "save: out of memory");
    for (int v = 0; !st && v < nv; v++)
        for (int s = 0; !st && s < n_slots; s++) {
            char path[64];
            snprintf(path, sizeof path, "optimizer/vars/%d", index++);
            st = px_slot_write(f, path, m, s, &vars[v]);
        }
    free(vars);
    /* optimizers without slots (plain SGD) still carry their step count, which
     * drives a learning-rate schedule: they count as stepped too */
    if (!st && have) *slot_params = sn;
    else if (!st && n_slots == 0 && px_optimizer_iterations(m->opt) > 0 && m->built) *slot_params = n_trainable;
    return st;
}

/* Restores the slots when optimizer/vars holds exactly what this optimizer keeps for
 * this model (with or without the learning rate, which Keras 3.5 and earlier left
 * out), else the optimizer starts fresh, as Keras does. want_params: from
 * plexus_state (-1: saved before any step), -2 without it. */
static px_status load_optimizer(px_h5_file *f, px_model *m, int64_t iterations, int64_t want_params) {
    if (!m->opt || want_params == -1 || px_h5_kind_of(f, "optimizer/vars") != PX_H5_GROUP) return PX_OK;
    char **names = NULL;
    size_t count = 0;
    if (px_h5_list(f, "optimizer/vars", PX_H5_ORDER_NAME, &names, &count)) return px_last_status();
    px_h5_free_names(names, count);
    int64_t n_params = 0, n_trainable = 0;
    if (!px_graph_params(m->g, &n_params, &n_trainable)) return px_last_status();
    px_tvar *vars = NULL;
    int nv = px_trainable_vars(m, &vars), n_slots = px_optimizer_slot_count(m->opt);
    if (nv < 0) return px_set_error(PX_ERR_NOMEM, "load: out of memory");
    int first = count == (size_t)(2 + nv * n_slots) ? 2 : count == (size_t)(1 + nv * n_slots) ? 1 : -1;
    px_status st = PX_OK;
    if (first > 0 && nv > 0 && iterations < 0) st = px_h5_read_int64(f, "optimizer/vars/0", &iterations);
    if (!st && first > 0 && nv > 0 && iterations > 0 && (want_params < 0 || want_params == n_trainable)) {
        st = px_optimizer_restore(m->opt, n_trainable, iterations);
        for (int v = 0, index = first; !st && v < nv; v++)
            for (int s = 0; !st && s < n_slots; s++) {
                char path[64];
                snprintf(path, sizeof path, "optimizer/vars/%d", index++);
                px_shape want = px_node_shape(px_layer_weight(vars[v].layer, vars[v].index)), got;
                /* a shape that does not fit means another optimizer's variables */
                if (px_h5_dataset_shape(f, path, &got) || !px_shape_equal(got, want)) {
                    px_clear_error();
                    st = px_optimizer_restore(m->opt, n_trainable, 0);
                    v = nv;
                    break;
                }
                st = px_slot_read(f, path, m, s, &vars[v]);
            }
        if (!st) m->opt_params = n_trainable;
    }
    free(vars);
    return st;
}

/* ---------------------------------------------------------------- saving */

static px_status json_text(const px_json *j, char **out) { return px_json_write(j, out); }

/* model.weights.h5 in memory. */
static px_status weights_image(px_model *m, const char *path, bool compiled, void **data, size_t *size) {
    char name[600];
    member_name(path, name, sizeof name);
    px_h5_file *f = NULL;
    px_status st = px_h5_create_image(name, &f);
    if (st) return st;
    st = px_k3_weights_write(f, m);
    int64_t slot_params = -1;
    if (!st && compiled) st = write_optimizer(f, m, &slot_params);
    px_json *ps = NULL;
    char *text = NULL;
    if (!st) st = px_plexus_state_build(m, compiled, slot_params, &ps);
    if (!st) st = json_text(ps, &text);
    if (!st) st = px_h5_write_string_attr(f, "/", "plexus_state", text, PX_H5_ASCII);
    free(text);
    px_json_free(ps);
    if (st) {
        px_h5_close(f);
        return st;
    }
    return px_h5_take_image(f, data, size);
}

px_status px_keras_archive_save(px_model *m, const char *path) {
    px_json *cfg = NULL, *tc = NULL, *meta = NULL;
    bool compiled = m->compiled && m->opt;
    px_status st = px_model_config_build_k3(m, &cfg);
    if (!st && compiled) st = px_training_config_build(m, &tc);
    if (!st && compiled) st = px_json_set(cfg, "compile_config", px_compile_config_from_training(tc));
    if (!st) {
        char date[32];
        time_t now = time(NULL);
        struct tm tmv;
        strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", localtime_r(&now, &tmv));
        meta = px_json_new_object();
        st = meta ? PX_OK : px_last_status();
        if (!st) st = px_lc_set_string(meta, "keras_version", PX_KERAS3_VERSION);
        if (!st) st = px_lc_set_string(meta, "date_saved", date);
    }
    char *cfg_text = NULL, *meta_text = NULL;
    void *weights = NULL;
    size_t weights_size = 0;
    if (!st) st = json_text(meta, &meta_text);
    if (!st) st = json_text(cfg, &cfg_text);
    if (!st) st = weights_image(m, path, compiled, &weights, &weights_size);
    if (!st) {
        /* the members in Keras's order */
        px_zip_member members[] = {{"metadata.json", meta_text, strlen(meta_text)},
                                   {"config.json", cfg_text, strlen(cfg_text)},
                                   {WEIGHTS_MEMBER, weights, weights_size}};
        st = px_zip_write_atomic(path, members, 3);
    }
    free(cfg_text);
    free(meta_text);
    free(weights);
    px_json_free(cfg);
    px_json_free(tc);
    px_json_free(meta);
    return st ? px_in_file(path, st) : PX_OK;
}

/* ---------------------------------------------------------------- loading */

/* model.weights.h5 of the archive, opened from memory. */
static px_status open_weights(px_zip *z, const char *path, px_h5_file **f) {
    *f = NULL;
    if (!px_zip_has(z, WEIGHTS_MEMBER))
        return px_set_error(px_zip_has(z, "model.weights.npz") ? PX_ERR_UNSUPPORTED : PX_ERR_FORMAT,
                            "'%s': the archive has no %s%s", path, WEIGHTS_MEMBER,
                            px_zip_has(z, "model.weights.npz") ? " (its weights are in model.weights.npz, which Plexus does not read)" : "");
    char *data = NULL, name[600];
    size_t size = 0;
    px_status st = px_zip_read(z, WEIGHTS_MEMBER, &data, &size);
    member_name(path, name, sizeof name);
    if (!st) st = px_h5_open_image(data, size, name, f);
    free(data);
    return st;
}

static px_model *load_open(px_zip *z, const char *path) {
    char *text = NULL;
    size_t len = 0;
    px_json *root = NULL, *tc = NULL;
    px_model *m = NULL;
    px_h5_file *f = NULL;
    if (!px_zip_has(z, "config.json")) {
        px_set_error(PX_ERR_FORMAT, "'%s': a zip archive without config.json, not a Keras model", path);
        return NULL;
    }
    if (px_zip_read(z, "config.json", &text, &len)) return NULL;
    if (px_json_parse(text, len, &root)) {
        px_error_prefix("'%s': config.json is not valid JSON", path);
        goto fail;
    }
    if (!(m = px_model_from_config(root))) goto fail;
    if (!m->built && px_json_get(px_json_get(root, "build_config"), "input_shape")) {
        /* Keras 3 keeps a Sequential's build shape in build_config */
        px_shape s;
        if (px_lc_get_shape(px_json_get(root, "build_config"), "input_shape", false, true, &s) || px_model_build(m, s)) goto fail;
    }
    if (!m->built) {
        px_set_error(PX_ERR_FORMAT, "'%s': model '%s' has no input shape in config.json", path, m->name);
        goto fail;
    }
    if (open_weights(z, path, &f) || px_k3_weights_read(f, m)) goto fail;
    const px_json *cc = px_json_get(root, "compile_config");
    if (cc && !px_json_is_null(cc)) {
        if (!(tc = px_training_config_from_compile(cc)) || px_training_config_apply(m, tc)) goto fail;
    }
    int64_t iterations = -1, params = -2;
    if (px_h5_has_attr(f, "/", "plexus_state")) {
        char *ps_text = NULL;
        px_json *ps = NULL;
        px_status st = px_h5_read_string_attr(f, "/", "plexus_state", &ps_text);
        if (!st) st = px_json_parse(ps_text, strlen(ps_text), &ps);
        if (!st) st = px_plexus_state_apply(m, ps, path, &iterations, &params);
        free(ps_text);
        px_json_free(ps);
        if (st) goto fail;
    }
    if (m->compiled && load_optimizer(f, m, iterations, params)) goto fail;
    px_h5_close(f);
    free(text);
    px_json_free(root);
    px_json_free(tc);
    return m;
fail:
    px_h5_close(f);
    free(text);
    px_json_free(root);
    px_json_free(tc);
    px_model_free(m);
    return NULL;
}

px_model *px_keras_archive_load(const char *path) {
    px_zip *z = NULL;
    if (px_zip_open(path, &z)) return NULL;
    px_model *m = load_open(z, path);
    if (!m) px_in_file(path, 0);
    px_zip_close(z);
    return m;
}

px_status px_keras_archive_load_weights(px_model *m, const char *path) {
    px_zip *z = NULL;
    px_h5_file *f = NULL;
    px_status st = px_zip_open(path, &z);
    if (!st) st = open_weights(z, path, &f);
    if (!st) st = px_k3_weights_read(f, m);
    px_h5_close(f);
    px_zip_close(z);
    return st ? px_in_file(path, st) : PX_OK;
}
