/* Logs (named values handed to callbacks) and the per-epoch History. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

void px_logs_set(px_logs *logs, const char *name, double value) {
    if (!logs || !name) return;
    for (int i = 0; i < logs->n; i++)
        if (strcmp(logs->names[i], name) == 0) {
            logs->values[i] = value;
            return;
        }
    if (logs->n == PX_MAX_LOGS) return;
    snprintf(logs->names[logs->n], sizeof logs->names[0], "%s", name);
    logs->values[logs->n++] = value;
}

bool px_logs_get(const px_logs *logs, const char *name, double *value) {
    for (int i = 0; logs && name && i < logs->n; i++)
        if (strcmp(logs->names[i], name) == 0) {
            if (value) *value = logs->values[i];
            return true;
        }
    return false;
}

void px_history_clear(px_history *h) {
    for (int i = 0; i < h->n_keys; i++) free(h->values[i]);
    memset(h, 0, sizeof *h);
}

px_status px_history_append(px_history *h, const px_logs *logs) {
    if (h->epochs == h->cap) {
        int cap = h->cap ? 2 * h->cap : 16;
        for (int i = 0; i < h->n_keys; i++) {
            double *v = realloc(h->values[i], (size_t)cap * sizeof *v);
            if (!v) return px_set_error(PX_ERR_NOMEM, "history: out of memory");
            h->values[i] = v;
        }
        h->cap = cap;
    }
    for (int i = 0; i < h->n_keys; i++) h->values[i][h->epochs] = NAN;
    for (int k = 0; k < logs->n; k++) {
        int i = 0;
        while (i < h->n_keys && strcmp(h->keys[i], logs->names[k]) != 0) i++;
        if (i == h->n_keys) {
            if (h->n_keys == PX_MAX_LOGS) continue;
            double *v = malloc((size_t)h->cap * sizeof *v);
            if (!v) return px_set_error(PX_ERR_NOMEM, "history: out of memory");
            for (int e = 0; e < h->cap; e++) v[e] = NAN;
            snprintf(h->keys[i], sizeof h->keys[0], "%s", logs->names[k]);
            h->values[i] = v;
            h->n_keys++;
        }
        h->values[i][h->epochs] = logs->values[k];
    }
    h->epochs++;
    return PX_OK;
}

const px_history *px_model_history(const px_model *m) {
    if (!m) px_set_error(PX_ERR_ARG, "px_model_history: model is NULL");
    return m ? &m->history : NULL;
}
int px_history_epochs(const px_history *h) { return h ? h->epochs : 0; }
int px_history_key_count(const px_history *h) { return h ? h->n_keys : 0; }
const char *px_history_key(const px_history *h, int i) { return h && i >= 0 && i < h->n_keys ? h->keys[i] : NULL; }

const double *px_history_get(const px_history *h, const char *key, int *n) {
    for (int i = 0; h && key && i < h->n_keys; i++)
        if (strcmp(h->keys[i], key) == 0) {
            if (n) *n = h->epochs;
            return h->values[i];
        }
    if (n) *n = 0;
    if (!h || !key) px_set_error(PX_ERR_ARG, "px_history_get: history or key is NULL");
    else px_set_error(PX_ERR_ARG, "px_history_get: the history has no key '%s'", key);
    return NULL;
}

void px_callback_free(px_callback *cb) {
    if (cb && cb->destroy) cb->destroy(cb);
}
