/* CSVLogger: one row per epoch of the epoch-end logs, in the exact form Keras's
 * csv.DictWriter produces (Python float repr, "\r\n" line ends, minimal quoting). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "callbacks/callbacks_internal.h"
#include "core/atomic_file.h"
#include "formats/json.h"

typedef struct csv_logger {
    px_callback cb;
    char *filename;
    char *resolved; /* the file written (symbolic links followed), for BackupAndRestore's reads */
    char sep;
    bool append, append_header;
    FILE *f;
    bool have_keys, wrote_header;
    int n_keys;
    char keys[2 * PX_MAX_LOGS][64 + 4];
} csv_logger;

/* csv.QUOTE_MINIMAL: quote fields holding the separator, a quote or a line break */
static void put_field(FILE *f, const char *s, char sep) {
    if (!strchr(s, sep) && !strpbrk(s, "\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static px_status io_error(csv_logger *c, const char *what) {
    return px_set_error(PX_ERR_IO, "CSVLogger: cannot %s '%s'", what, c->filename);
}

static px_status csv_train_begin(px_callback *cb, px_model *m, px_logs *logs) {
    (void)m, (void)logs;
    csv_logger *c = cb->state;
    if (c->f) fclose(c->f);
    c->append_header = true;
    if (c->append) {
        FILE *r = fopen(c->filename, "rb");
        if (r) { /* Keras reads the first line: a non-empty file already has its header */
            int ch = fgetc(r);
            c->append_header = ch == EOF;
            fclose(r);
        }
    }
    if (px_cb_make_parent_dirs(c->filename) != PX_OK) return px_last_status();
    /* the log grows in place, row by row, so it is not replaced atomically; but
     * like every output it writes through symbolic links and never onto a device */
    char *path = NULL;
    if (px_output_path_resolve(c->filename, "CSVLogger", &path) != PX_OK) return px_last_status();
    c->f = fopen(path, c->append ? "ab" : "wb");
    free(c->resolved);
    c->resolved = path;
    c->wrote_header = false;
    return c->f ? PX_OK : io_error(c, "open");
}

static int cmp_keys(const void *a, const void *b) { return strcmp(a, b); }

static px_status csv_epoch_end(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)m;
    csv_logger *c = cb->state;
    if (!c->f) return px_set_error(PX_ERR_STATE, "CSVLogger: '%s' is not open (on_train_begin was not called)", c->filename);
    if (!c->have_keys) {
        /* the columns are fixed by the first epoch and kept for later fits, as in Keras */
        for (int i = 0; i < logs->n; i++) snprintf(c->keys[c->n_keys++], sizeof c->keys[0], "%s", logs->names[i]);
        qsort(c->keys, (size_t)c->n_keys, sizeof c->keys[0], cmp_keys);
        bool has_val = false;
        for (int i = 0; i < c->n_keys; i++) has_val |= strncmp(c->keys[i], "val_", 4) == 0;
        /* validation may start later (validation_freq in Keras): its columns exist from the start */
        for (int i = 0, n = c->n_keys; !has_val && i < n; i++) {
            char *k = c->keys[c->n_keys++]; /* log keys are < 64 bytes: "val_" + key fits */
            memcpy(k, "val_", 4);
            memcpy(k + 4, c->keys[i], strlen(c->keys[i]) + 1);
        }
        c->have_keys = true;
    }
    if (!c->wrote_header) {
        if (c->append_header) {
            put_field(c->f, "epoch", c->sep);
            for (int i = 0; i < c->n_keys; i++) {
                fputc(c->sep, c->f);
                put_field(c->f, c->keys[i], c->sep);
            }
            fputs("\r\n", c->f);
        }
        c->wrote_header = true;
    }
    fprintf(c->f, "%d", epoch);
    for (int i = 0; i < c->n_keys; i++) {
        double v;
        char buf[64];
        fputc(c->sep, c->f);
        put_field(c->f, px_logs_get(logs, c->keys[i], &v) ? px_python_float_repr(v, buf, sizeof buf) : "NA", c->sep);
    }
    fputs("\r\n", c->f);
    if (fflush(c->f) != 0 || ferror(c->f)) return io_error(c, "write to");
    return PX_OK;
}

static px_status csv_train_end(px_callback *cb, px_model *m, px_logs *logs) {
    (void)m, (void)logs;
    csv_logger *c = cb->state;
    int rc = c->f ? fclose(c->f) : 0;
    c->f = NULL;
    return rc == 0 ? PX_OK : io_error(c, "close");
}

/* For BackupAndRestore: the rows written so far (the file as it was at the
 * backup, put back over whatever a killed run appended since) and the columns. */
static px_status csv_get_state(px_callback *cb, px_model *m, char **out) {
    (void)m;
    csv_logger *c = cb->state;
    if (!c->f) return px_set_error(PX_ERR_STATE, "CSVLogger: '%s' is not open", c->filename);
    long size = ftell(c->f);
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (!text) return size < 0 ? io_error(c, "read") : px_set_error(PX_ERR_NOMEM, "CSVLogger: out of memory");
    /* read through a second stream: rows are flushed as they are written */
    FILE *r = fopen(c->resolved, "rb");
    bool ok = r && fread(text, 1, (size_t)size, r) == (size_t)size;
    if (r) fclose(r);
    if (!ok) {
        free(text);
        return io_error(c, "read back");
    }
    px_json *o = px_json_new_object(), *keys = px_json_new_array();
    for (int i = 0; c->have_keys && i < c->n_keys; i++) px_json_push(keys, px_json_new_string(c->keys[i]));
    px_status st = px_json_set(o, "rows", px_json_new_string_len(text, (size_t)size));
    free(text);
    if (!st) st = px_json_set(o, "keys", c->have_keys ? keys : (px_json_free(keys), px_json_new_null()));
    else px_json_free(keys);
    if (!st) st = px_json_set(o, "wrote_header", px_json_new_bool(c->wrote_header));
    if (st) {
        px_json_free(o);
        return st;
    }
    return px_cb_state_text(o, out);
}

static px_status csv_set_state(px_callback *cb, px_model *m, const char *state) {
    (void)m;
    csv_logger *c = cb->state;
    px_json *o = NULL;
    if (px_cb_state_parse(state, "CSVLogger", &o) != PX_OK) return px_last_status();
    const px_json *rows = px_json_get(o, "rows"), *keys = px_json_get(o, "keys");
    px_status st = PX_OK;
    if (!px_json_is_string(rows) || (!px_json_is_null(keys) && !px_json_is_array(keys)) ||
        px_json_len(keys) > 2 * PX_MAX_LOGS)
        st = px_set_error(PX_ERR_FORMAT, "CSVLogger: malformed backed-up state for '%s'", c->filename);
    if (!st && !c->f) st = px_set_error(PX_ERR_STATE, "CSVLogger: '%s' is not open", c->filename);
    if (!st) {
        c->have_keys = px_json_is_array(keys);
        c->n_keys = 0;
        for (size_t i = 0; c->have_keys && i < px_json_len(keys); i++)
            snprintf(c->keys[c->n_keys++], sizeof c->keys[0], "%s", px_json_string(px_json_at(keys, i)) ? px_json_string(px_json_at(keys, i)) : "");
        c->wrote_header = px_json_get_bool(o, "wrote_header", false);
        size_t n = px_json_string_len(rows);
        if (fflush(c->f) != 0 || ftruncate(fileno(c->f), 0) != 0 || fseek(c->f, 0, SEEK_SET) != 0 ||
            fwrite(px_json_string(rows), 1, n, c->f) != n || fflush(c->f) != 0)
            st = io_error(c, "rewrite");
    }
    px_json_free(o);
    return st;
}

static void csv_destroy(px_callback *cb) {
    csv_logger *c = cb->state;
    if (c->f) fclose(c->f);
    free(c->filename);
    free(c->resolved);
    free(c);
}

px_callback *px_csv_logger(const char *filename, char separator, bool append) {
    if (!filename || !*filename) {
        px_set_error(PX_ERR_ARG, "CSVLogger: filename is required");
        return NULL;
    }
    if (separator == '"' || separator == '\r' || separator == '\n') {
        px_set_error(PX_ERR_ARG, "CSVLogger: separator cannot be a quote or a line break");
        return NULL;
    }
    csv_logger *c = calloc(1, sizeof *c);
    if (!c || !(c->filename = strdup(filename))) {
        free(c);
        px_set_error(PX_ERR_NOMEM, "CSVLogger: out of memory");
        return NULL;
    }
    c->sep = separator ? separator : ',';
    c->append = append;
    c->cb = (px_callback){.name = "CSVLogger", .chief_only = true, .state = c, .on_train_begin = csv_train_begin,
                          .on_epoch_end = csv_epoch_end, .on_train_end = csv_train_end, .destroy = csv_destroy,
                          .get_state = csv_get_state, .set_state = csv_set_state};
    return &c->cb;
}
