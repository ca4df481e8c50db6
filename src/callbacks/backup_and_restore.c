/* BackupAndRestore: a backup of everything a run needs to continue (the model
 * file with the optimizer's slots and the generators, fit's position and running
 * sums, the History so far, every callback's state), written at epoch ends and
 * every N steps; a run started with the same backup directory continues from it,
 * and the backup is deleted when training completes.
 *
 * The directory holds "state.json" and two model files, "model-0.h5" and
 * "model-1.h5", used in turn: a backup writes the model file state.json does not
 * name, then replaces state.json atomically, so a kill at any point leaves the
 * last complete backup intact (state.json names a file that was not touched). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "callbacks/callbacks_internal.h"
#include "core/atomic_file.h"
#include "formats/json.h"
#include "model/model_internal.h"
#include "saving/weights.h"

#define BACKUP_FORMAT "plexus-backup"
#define BACKUP_VERSION 1
#define MAX_HOOKS 16

typedef struct backup {
    px_callback cb;
    char *dir;
    int save_freq;
    bool keep;
    int64_t generation;
    /* test hooks (PLEXUS_TEST_KILL_AT_STEP, PLEXUS_TEST_KILL_IN_BACKUP): the
     * optimizer step counts at which the process kills itself with SIGKILL,
     * before that step's backup or inside it (between the model file and
     * state.json), so tests interrupt runs at points that do not depend on time */
    int64_t kill_at[MAX_HOOKS], kill_in[MAX_HOOKS];
    int n_kill_at, n_kill_in;
} backup;

static char *dir_file(const backup *b, const char *name) {
    size_t n = strlen(b->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", b->dir, name);
    return p;
}

static int parse_hooks(const char *env, int64_t *out) {
    const char *s = getenv(env);
    int n = 0;
    while (s && *s && n < MAX_HOOKS) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s) break;
        out[n++] = v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

static void kill_hook(const int64_t *at, int n, int64_t step) {
    for (int i = 0; i < n; i++)
        if (at[i] == step) raise(SIGKILL);
}

/* ---- writing ---- */

static px_json *rng_json(px_rng r) {
    char buf[48];
    snprintf(buf, sizeof buf, "%016" PRIx64 ":%016" PRIx64, r.state, r.inc);
    return px_json_new_string(buf);
}

static px_json *doubles_json(const double *v, int64_t n) {
    px_json *a = px_json_new_array();
    for (int64_t i = 0; a && i < n; i++)
        if (px_json_push(a, px_cb_double_json(v[i])) != PX_OK) {
            px_json_free(a);
            return NULL;
        }
    return a;
}

static px_json *history_json(const px_history *h) {
    px_json *keys = px_json_new_array(), *vals = px_json_new_array(), *o = px_json_new_object();
    for (int k = 0; keys && vals && k < h->n_keys; k++) {
        px_json_push(keys, px_json_new_string(h->keys[k]));
        px_json_push(vals, doubles_json(h->values[k], h->epochs));
    }
    if (px_json_set(o, "keys", keys) || px_json_set(o, "values", vals)) {
        px_json_free(o);
        return NULL;
    }
    return o;
}

/* The states of the callbacks that have one, in fit's order (callbacks without
 * state, such as a progress display, may come and go between runs). */
static px_json *callbacks_json(px_model *m) {
    px_json *a = px_json_new_array();
    for (int i = 0; a && i < m->fit.n_cbs; i++) {
        px_callback *c = m->fit.cbs[i];
        if (!c->get_state) continue;
        px_json *e = px_json_new_object();
        char *text = NULL;
        px_status st = px_json_set(e, "name", px_json_new_string(c->name ? c->name : ""));
        if (!st) st = c->get_state(c, m, &text);
        if (!st) st = px_json_set(e, "state", text ? px_json_new_string(text) : px_json_new_null());
        free(text);
        if (!st) st = px_json_push(a, e);
        else px_json_free(e);
        if (st) {
            px_json_free(a);
            return NULL;
        }
    }
    return a;
}

static px_status write_state(backup *b, px_model *m, const char *model_name) {
    px_json *o = px_json_new_object();
    px_status st = px_json_set(o, "format", px_json_new_string(BACKUP_FORMAT));
    if (!st) st = px_json_set(o, "version", px_json_new_int(BACKUP_VERSION));
    if (!st) st = px_json_set(o, "generation", px_json_new_int(b->generation));
    if (!st) st = px_json_set(o, "model", px_json_new_string(model_name));
    if (!st) st = px_json_set(o, "epoch", px_json_new_int(m->fit.epoch));
    if (!st) st = px_json_set(o, "step", px_json_new_int(m->fit.step));
    if (!st) st = px_json_set(o, "steps_per_epoch", px_json_new_int(m->fit_steps));
    if (!st) st = px_json_set(o, "epoch_rng", rng_json(m->fit.epoch_rng));
    if (!st) st = px_json_set(o, "learning_rate", px_cb_double_json(px_optimizer_learning_rate(m->opt)));
    if (!st) st = px_json_set(o, "sums", m->fit.step > 0 ? doubles_json(m->fit.acc->sums, m->fit.acc->n)
                                                         : px_json_new_array());
    if (!st) st = px_json_set(o, "history", history_json(&m->history));
    if (!st) st = px_json_set(o, "callbacks", callbacks_json(m));
    char *text = NULL;
    if (!st) st = px_json_write(o, &text);
    px_json_free(o);
    char *path = dir_file(b, "state.json");
    if (!st) st = path ? px_atomic_write_file(path, "BackupAndRestore", text, strlen(text))
                       : px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
    free(path);
    free(text);
    return st;
}

static px_status write_backup(backup *b, px_model *m) {
    char name[32];
    snprintf(name, sizeof name, "model-%d.h5", (int)((b->generation + 1) % 2));
    char *path = dir_file(b, name);
    if (!path) return px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
    px_status st = px_cb_make_parent_dirs(path);
    if (!st) st = px_model_save(m, path);
    free(path);
    if (st) return st;
    kill_hook(b->kill_in, b->n_kill_in, px_optimizer_iterations(m->opt));
    b->generation++;
    return write_state(b, m, name);
}

static px_status br_after_step(px_callback *cb, px_model *m, bool interrupting) {
    backup *b = cb->state;
    int64_t it = px_optimizer_iterations(m->opt);
    kill_hook(b->kill_at, b->n_kill_at, it);
    if (interrupting || (b->save_freq > 0 && it % b->save_freq == 0)) return write_backup(b, m);
    return PX_OK;
}

static px_status br_after_epoch(px_callback *cb, px_model *m) { return write_backup(cb->state, m); }

/* ---- restoring ---- */

static bool rng_parse(const char *s, px_rng *r) {
    if (!s || strlen(s) != 33 || s[16] != ':') return false;
    char *end;
    r->state = strtoull(s, &end, 16);
    if (end != s + 16) return false;
    r->inc = strtoull(s + 17, &end, 16);
    return !*end;
}

static bool doubles_parse(const px_json *a, double *out, int64_t n) {
    if (!px_json_is_array(a) || (int64_t)px_json_len(a) != n) return false;
    for (int64_t i = 0; i < n; i++) {
        const char *s = px_json_string(px_json_at(a, (size_t)i));
        char *end;
        if (!s) return false;
        out[i] = strtod(s, &end);
        if (end == s || *end) return false;
    }
    return true;
}

static px_status bad(const char *path, const char *what) {
    return px_set_error(PX_ERR_FORMAT, "BackupAndRestore: '%s': %s", path, what);
}

static px_status restore_history(px_model *m, const px_json *h, const char *path) {
    const px_json *keys = px_json_get(h, "keys"), *vals = px_json_get(h, "values");
    size_t nk = px_json_len(keys);
    if (!px_json_is_array(keys) || !px_json_is_array(vals) || px_json_len(vals) != nk || nk > PX_MAX_LOGS)
        return bad(path, "malformed history");
    int64_t epochs = nk ? (int64_t)px_json_len(px_json_at(vals, 0)) : 0;
    double *v = malloc(((size_t)epochs * nk + 1) * sizeof *v);
    if (!v) return px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
    px_status st = PX_OK;
    for (size_t k = 0; !st && k < nk; k++)
        if (!px_json_string(px_json_at(keys, k)) || !doubles_parse(px_json_at(vals, k), v + k * (size_t)epochs, epochs))
            st = bad(path, "malformed history");
    for (int64_t e = 0; !st && e < epochs; e++) {
        px_logs logs = {0};
        for (size_t k = 0; k < nk; k++) px_logs_set(&logs, px_json_string(px_json_at(keys, k)), v[k * (size_t)epochs + (size_t)e]);
        st = px_history_append(&m->history, &logs);
    }
    free(v);
    return st;
}

static px_status restore_callbacks(px_model *m, const px_json *a, const char *path) {
    if (!px_json_is_array(a)) return bad(path, "malformed callbacks");
    int n = (int)px_json_len(a), have = 0;
    for (int i = 0; i < m->fit.n_cbs; i++) have += m->fit.cbs[i]->get_state != NULL;
    if (n != have)
        return px_set_error(PX_ERR_ARG, "BackupAndRestore: '%s' was made by a run with %d callbacks that keep a state, "
                            "this one has %d", path, n, have);
    m->resume.states = calloc((size_t)m->fit.n_cbs + 1, sizeof *m->resume.states);
    if (!m->resume.states) return px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
    m->resume.n_states = m->fit.n_cbs;
    for (int i = 0, j = 0; i < m->fit.n_cbs; i++) {
        px_callback *c = m->fit.cbs[i];
        if (!c->get_state) continue;
        const px_json *e = px_json_at(a, (size_t)j++);
        const char *name = px_json_get_string(e, "name", NULL), *cname = c->name ? c->name : "";
        if (!name || strcmp(name, cname) != 0)
            return px_set_error(PX_ERR_ARG, "BackupAndRestore: '%s': callback %d with a state was %s, in this run it is %s",
                                path, j, name ? name : "?", cname);
        const char *state = px_json_get_string(e, "state", NULL);
        if (state && !(m->resume.states[i] = strdup(state)))
            return px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
    }
    return PX_OK;
}

static px_status restore(backup *b, px_model *m, const px_json *o, const char *path) {
    const char *fmt = px_json_get_string(o, "format", NULL), *model = px_json_get_string(o, "model", NULL);
    if (!fmt || strcmp(fmt, BACKUP_FORMAT) != 0 || px_json_get_int(o, "version", 0) != BACKUP_VERSION)
        return bad(path, "not a Plexus backup of this version");
    if (!model || (strcmp(model, "model-0.h5") != 0 && strcmp(model, "model-1.h5") != 0))
        return bad(path, "key 'model' is missing or malformed");
    int64_t epoch = px_json_get_int(o, "epoch", -1), step = px_json_get_int(o, "step", -1);
    int64_t steps = px_json_get_int(o, "steps_per_epoch", -1);
    if (epoch < 0 || step < 0 || step > steps) return bad(path, "malformed position");
    if (steps != m->fit_steps)
        return px_set_error(PX_ERR_ARG, "BackupAndRestore: '%s' was made with %lld steps per epoch, this run has %d "
                            "(other data or batch size?)", path, (long long)steps, m->fit_steps);
    if (epoch >= m->fit_epochs)
        return px_set_error(PX_ERR_ARG, "BackupAndRestore: '%s' is at epoch %lld, this run has %d epochs", path,
                            (long long)epoch + 1, m->fit_epochs);
    px_fit_resume *r = &m->resume;
    if (!rng_parse(px_json_get_string(o, "epoch_rng", NULL), &r->epoch_rng)) return bad(path, "malformed epoch_rng");
    double lr = px_cb_json_double(o, "learning_rate", -1);
    if (!(lr >= 0)) return bad(path, "malformed learning_rate");
    const px_json *sums = px_json_get(o, "sums");
    r->n_sums = (int64_t)px_json_len(sums);
    if (r->n_sums > 0) {
        if (r->n_sums != m->fit.acc->n) return bad(path, "its running sums do not fit this model's metrics");
        if (!(r->sums = malloc((size_t)r->n_sums * sizeof *r->sums)))
            return px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
        if (!doubles_parse(sums, r->sums, r->n_sums)) return bad(path, "malformed sums");
    }
    px_status st = restore_callbacks(m, px_json_get(o, "callbacks"), path);
    if (!st) st = restore_history(m, px_json_get(o, "history"), path);
    char *mpath = dir_file(b, model);
    if (!st) st = mpath ? px_model_restore_training(m, mpath) : px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
    free(mpath);
    if (st) return st;
    px_optimizer_set_learning_rate(m->opt, (float)lr);
    b->generation = px_json_get_int(o, "generation", 0);
    r->epoch = (int)epoch;
    r->step = (int)step;
    r->active = true;
    return PX_OK;
}

static px_status br_train_begin(px_callback *cb, px_model *m, px_logs *logs) {
    (void)logs;
    backup *b = cb->state;
    if (m->fit.saver && m->fit.saver != cb)
        return px_set_error(PX_ERR_ARG, "BackupAndRestore: fit has two of them; give it one");
    if (!m->opt) return px_set_error(PX_ERR_STATE, "BackupAndRestore: the model has no optimizer");
    m->fit.saver = cb;
    m->fit.after_step = br_after_step;
    m->fit.after_epoch = br_after_epoch;
    b->generation = 0;
    b->n_kill_at = parse_hooks("PLEXUS_TEST_KILL_AT_STEP", b->kill_at);
    b->n_kill_in = parse_hooks("PLEXUS_TEST_KILL_IN_BACKUP", b->kill_in);
    char *path = dir_file(b, "state.json");
    if (!path) return px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
    FILE *f = fopen(path, "rb");
    if (!f) {
        px_status st = errno == ENOENT ? PX_OK : px_set_error(PX_ERR_IO, "BackupAndRestore: cannot read '%s': %s",
                                                                  path, strerror(errno));
        free(path);
        return st;
    }
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *t = realloc(text, cap = 2 * cap + 8192);
            if (!t) break;
            text = t;
        }
        size_t got = fread(text + n, 1, 4096, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    px_json *o = NULL;
    px_status st = text ? px_json_parse(text, n, &o) : px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
    if (st) st = bad(path, "not valid JSON");
    if (!st) st = restore(b, m, o, path);
    px_json_free(o);
    free(text);
    free(path);
    return st;
}

static px_status remove_file(const backup *b, const char *name) {
    char *p = dir_file(b, name);
    if (!p) return px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
    px_status st = unlink(p) == 0 || errno == ENOENT
                       ? PX_OK
                       : px_set_error(PX_ERR_IO, "BackupAndRestore: cannot remove '%s': %s", p, strerror(errno));
    free(p);
    return st;
}

static px_status br_train_end(px_callback *cb, px_model *m, px_logs *logs) {
    (void)logs;
    backup *b = cb->state;
    m->fit.saver = NULL;
    m->fit.after_step = NULL;
    m->fit.after_epoch = NULL;
    if (!m->fit.finished || b->keep) return PX_OK;
    /* state.json first: without it the model files are no backup */
    px_status st = remove_file(b, "state.json");
    if (!st) st = remove_file(b, "model-0.h5");
    if (!st) st = remove_file(b, "model-1.h5");
    if (!st) rmdir(b->dir); /* only when empty: the directory may hold the user's files */
    return st;
}

static void br_destroy(px_callback *cb) {
    backup *b = cb->state;
    free(b->dir);
    free(b);
}

px_callback *px_backup_and_restore(const px_backup_options *opts) {
    if (!opts || !opts->backup_dir || !*opts->backup_dir) {
        px_set_error(PX_ERR_ARG, "BackupAndRestore: backup_dir is required");
        return NULL;
    }
    if (opts->save_freq < 0) {
        px_set_error(PX_ERR_ARG, "BackupAndRestore: save_freq must be 0 (epoch ends) or a number of steps, got %d",
                     opts->save_freq);
        return NULL;
    }
    backup *b = calloc(1, sizeof *b);
    if (!b || !(b->dir = strdup(opts->backup_dir))) {
        free(b);
        px_set_error(PX_ERR_NOMEM, "BackupAndRestore: out of memory");
        return NULL;
    }
    size_t n = strlen(b->dir);
    while (n > 1 && b->dir[n - 1] == '/') b->dir[--n] = '\0';
    b->save_freq = opts->save_freq;
    b->keep = opts->keep_backup;
    b->cb = (px_callback){.name = "BackupAndRestore", .state = b, .on_train_begin = br_train_begin,
                          .on_train_end = br_train_end, .destroy = br_destroy};
    return &b->cb;
}
