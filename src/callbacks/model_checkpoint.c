/* ModelCheckpoint: saves the model (or its weights) at epoch ends or every N batches,
 * to a path formatted from a Python str.format pattern, optionally only on improvement. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks/callbacks_internal.h"
#include "formats/json.h"
#include "plexus/model_io.h"

/* ---- the pattern formatter: a subset of Python's format-spec mini-language ---- */

typedef struct fmt_spec {
    char fill, align, sign, type;
    bool zero;
    int width, precision; /* -1: not given */
} fmt_spec;

static px_status bad_pattern(const char *pattern, const char *why) {
    return px_set_error(PX_ERR_ARG, "ModelCheckpoint: failed to format the filepath \"%s\": %s", pattern, why);
}

static px_status parse_spec(const char *pattern, const char *s, size_t n, fmt_spec *f) {
    *f = (fmt_spec){.fill = ' ', .width = -1, .precision = -1};
    size_t i = 0;
    bool explicit_fill = false;
    if (n >= 2 && strchr("<>^=", s[1])) {
        f->fill = s[0];
        explicit_fill = true;
        f->align = s[1];
        i = 2;
    } else if (n >= 1 && strchr("<>^=", s[0])) {
        f->align = s[0];
        i = 1;
    }
    if (i < n && strchr("+- ", s[i])) f->sign = s[i++];
    if (i < n && s[i] == '0') {
        f->zero = true;
        i++;
    }
    if (i < n && isdigit((unsigned char)s[i])) {
        f->width = 0;
        while (i < n && isdigit((unsigned char)s[i]))
            if ((f->width = f->width * 10 + (s[i++] - '0')) > 1000) return bad_pattern(pattern, "field width too large");
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !isdigit((unsigned char)s[i])) return bad_pattern(pattern, "format specifier missing precision");
        f->precision = 0;
        while (i < n && isdigit((unsigned char)s[i]))
            if ((f->precision = f->precision * 10 + (s[i++] - '0')) > 100) return bad_pattern(pattern, "precision too large");
    }
    if (i < n) {
        if (!strchr("deEfFgG%", s[i])) {
            char msg[96];
            snprintf(msg, sizeof msg, "unsupported format specifier '%.*s'", (int)n, s);
            return bad_pattern(pattern, msg);
        }
        f->type = s[i++];
    }
    if (i != n) {
        char msg[96];
        snprintf(msg, sizeof msg, "invalid format specifier '%.*s'", (int)n, s);
        return bad_pattern(pattern, msg);
    }
    /* Python: a '0' flag pads with zeros (after the sign unless an alignment is given) */
    if (f->zero && !explicit_fill) f->fill = '0';
    if (f->zero && !f->align) f->align = '=';
    return PX_OK;
}

/* Python's format type none with a precision: 'g' that switches to exponents at
 * exp >= p - 1 and keeps a digit after the point (Python's docs). */
static void python_general(double a, int prec, char *body, size_t len) {
    int p = prec == 0 ? 1 : prec;
    snprintf(body, len, "%.*e", p - 1, a);
    char *e = strchr(body, 'e');
    int exp10 = e ? atoi(e + 1) : 0;
    if (exp10 < -4 || exp10 >= p - 1) {
        char mant[64], *q;
        snprintf(mant, sizeof mant, "%.*s", (int)(e - body), body);
        if (strchr(mant, '.')) {
            for (q = mant + strlen(mant) - 1; *q == '0'; q--) *q = '\0';
            if (*q == '.') *q = '\0';
        }
        char tail[16];
        snprintf(tail, sizeof tail, "%s", e);
        snprintf(body, len, "%s%s", mant, tail);
    } else {
        snprintf(body, len, "%.*f", p - 1 - exp10, a);
        char *dot = strchr(body, '.');
        if (!dot) strcat(body, ".0");
        else
            for (char *q = body + strlen(body) - 1; q > dot + 1 && *q == '0'; q--) *q = '\0';
    }
}

/* The digits of |v| (a = fabs(v)) as the spec's type and precision say. */
static void format_magnitude(double a, bool is_int, const fmt_spec *f, char *body, size_t len) {
    if (is_int && (f->type == 0 || f->type == 'd')) {
        snprintf(body, len, "%.0f", a);
    } else if (f->type == 0 && f->precision < 0) {
        px_python_float_repr(a, body, len);
    } else if (!isfinite(a)) {
        bool upper = f->type == 'E' || f->type == 'F' || f->type == 'G';
        snprintf(body, len, "%s", isnan(a) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"));
        if (f->type == '%') strcat(body, "%");
    } else {
        int prec = f->precision >= 0 ? f->precision : 6;
        switch (f->type) {
        case 'e': case 'E': case 'f': case 'F': {
            char c[8] = {'%', '.', '*', f->type, 0};
            snprintf(body, len, c, prec, a);
            break;
        }
        case '%':
            snprintf(body, len, "%.*f%%", prec, a * 100);
            break;
        case 'g': case 'G': {
            char c[8] = {'%', '.', '*', f->type, 0};
            snprintf(body, len, c, prec == 0 ? 1 : prec, a);
            break;
        }
        default: python_general(a, prec, body, len); break;
        }
    }
}

/* One value per spec; integers are `is_int`. Writes into buf (NUL-terminated). */
static px_status format_value(const char *pattern, const char *name, double v, bool is_int, const fmt_spec *f,
                              char *buf, size_t len) {
    char body[512];
    if (f->type == 'd' && !is_int) {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown format code 'd' for the float value '%s'", name);
        return bad_pattern(pattern, msg);
    }
    if (f->precision >= 0 && is_int && (f->type == 0 || f->type == 'd'))
        return bad_pattern(pattern, "precision not allowed in integer format specifier");
    bool neg = signbit(v) && !isnan(v);
    format_magnitude(fabs(v), is_int, f, body, sizeof body);
    /* the sign, the fill and the alignment around the digits */
    const char *sgn = neg ? "-" : f->sign == '+' ? "+" : f->sign == ' ' ? " " : "";
    size_t bl = strlen(body), sl = strlen(sgn), total = bl + sl;
    int pad = f->width > (int)total ? f->width - (int)total : 0;
    char align = f->align ? f->align : '>'; /* numbers align right by default */
    int left = align == '<' ? 0 : align == '^' ? pad / 2 : pad, right = pad - left;
    if ((size_t)pad + total + 1 > len) return bad_pattern(pattern, "the formatted path is too long");
    size_t o = 0;
    if (align == '=') {
        memcpy(buf + o, sgn, sl), o += sl;
        for (int i = 0; i < pad; i++) buf[o++] = f->fill;
    } else {
        for (int i = 0; i < left; i++) buf[o++] = f->fill;
        memcpy(buf + o, sgn, sl), o += sl;
    }
    memcpy(buf + o, body, bl), o += bl;
    if (align != '=')
        for (int i = 0; i < right; i++) buf[o++] = f->fill;
    buf[o] = '\0';
    return PX_OK;
}

/* Walks the pattern; with check_only, validates syntax without looking values up. */
static px_status format_path(const char *pattern, int epoch, int batch, const px_logs *logs, char *out, size_t len,
                             bool check_only) {
    if (!pattern || !*pattern) return px_set_error(PX_ERR_ARG, "ModelCheckpoint: filepath is empty");
    size_t o = 0;
    for (const char *p = pattern; *p;) {
        if (*p == '}' || *p != '{' || p[1] == '{') { /* a literal character or an escaped brace */
            if (*p == '}' && p[1] != '}') return bad_pattern(pattern, "single '}' encountered in format string");
            if (!check_only) {
                if (o + 1 >= len) return bad_pattern(pattern, "the formatted path is too long");
                out[o++] = *p;
            }
            p += *p == '{' || *p == '}' ? 2 : 1;
            continue;
        }
        const char *close = strchr(p + 1, '}');
        const char *nested = strchr(p + 1, '{');
        if (!close) return bad_pattern(pattern, "single '{' encountered in format string");
        if (nested && nested < close) return bad_pattern(pattern, "nested replacement fields are not supported");
        const char *colon = memchr(p + 1, ':', (size_t)(close - p - 1));
        const char *name_end = colon ? colon : close;
        size_t name_len = (size_t)(name_end - p - 1);
        char name[64];
        if (name_len == 0) return bad_pattern(pattern, "empty field name '{}' (name a logged value, e.g. '{epoch}')");
        if (name_len >= sizeof name) return bad_pattern(pattern, "field name too long");
        memcpy(name, p + 1, name_len);
        name[name_len] = '\0';
        if (strpbrk(name, "!.[]")) {
            char msg[128];
            snprintf(msg, sizeof msg, "field '%s': conversions, attributes and indexing are not supported", name);
            return bad_pattern(pattern, msg);
        }
        fmt_spec f;
        px_status st;
        if ((st = parse_spec(pattern, colon ? colon + 1 : close, colon ? (size_t)(close - colon - 1) : 0, &f)) != PX_OK)
            return st;
        p = close + 1;
        if (check_only) continue;
        double v;
        bool is_int = false;
        if (strcmp(name, "epoch") == 0) {
            v = epoch + 1;
            is_int = true;
        } else if (strcmp(name, "batch") == 0 && batch >= 0 && !(logs && px_logs_get(logs, "batch", &v))) {
            v = batch + 1;
            is_int = true;
        } else if (!logs || !px_logs_get(logs, name, &v)) {
            char keys[1024], msg[1200];
            px_cb_join_keys(logs, ", ", keys, sizeof keys);
            snprintf(msg, sizeof msg, "no value '%s' (known: epoch%s%s%s)", name, batch >= 0 ? ", batch" : "",
                     *keys ? ", " : "", keys);
            return bad_pattern(pattern, msg);
        }
        char val[1100];
        if ((st = format_value(pattern, name, v, is_int, &f, val, sizeof val)) != PX_OK) return st;
        size_t vl = strlen(val);
        if (o + vl + 1 > len) return bad_pattern(pattern, "the formatted path is too long");
        memcpy(out + o, val, vl);
        o += vl;
    }
    if (!check_only) out[o] = '\0';
    return PX_OK;
}

px_status px_checkpoint_filepath(const char *pattern, int epoch, int batch, const px_logs *logs, char *out,
                                 size_t len) {
    if (!out || len == 0) return px_set_error(PX_ERR_ARG, "ModelCheckpoint: no output buffer");
    out[0] = '\0';
    return format_path(pattern, epoch, batch, logs, out, len, false);
}

/* ---- the callback ---- */

typedef struct checkpoint {
    px_callback cb;
    px_model_checkpoint_options o;
    char *filepath;
    char monitor[64];
    bool is_max;
    double best;
    int current_epoch, last_batch_seen, batches_since_save;
} checkpoint;

static px_status ck_epoch_begin(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    (void)m, (void)logs;
    ((checkpoint *)cb->state)->current_epoch = epoch;
    return PX_OK;
}

static px_status save(checkpoint *c, px_model *m, int epoch, int batch, const px_logs *logs) {
    char path[4096];
    px_status st = px_checkpoint_filepath(c->filepath, epoch, batch, logs, path, sizeof path);
    if (st != PX_OK) return st;
    FILE *out = c->o.out;
    /* a diverged model never replaces a checkpoint: after a NaN or infinite loss
     * (TerminateOnNaN stops the epoch there) the last good file is kept. Keras
     * would save it when save_best_only is off. */
    double loss;
    if (logs && px_logs_get(logs, "loss", &loss) && !isfinite(loss)) {
        if (c->o.verbose > 0) fprintf(out, "\nEpoch %d: loss is %g, not saving the model to %s\n", epoch + 1, loss, path);
        return PX_OK;
    }
    if (c->o.save_best_only) {
        double current;
        if (!px_logs_get(logs, c->monitor, &current)) {
            fprintf(out, "WARNING: Can save best model only with %s available, skipping.\n", c->monitor);
            return PX_OK;
        }
        bool better = c->is_max ? current > c->best : current < c->best;
        if (!better) {
            if (c->o.verbose > 0) fprintf(out, "\nEpoch %d: %s did not improve from %.5f\n", epoch + 1, c->monitor, c->best);
            return PX_OK;
        }
        if (c->o.verbose > 0)
            fprintf(out, "\nEpoch %d: %s improved from %.5f to %.5f, saving model to %s\n", epoch + 1, c->monitor, c->best,
                    current, path);
        c->best = current;
    } else if (c->o.verbose > 0) {
        fprintf(out, "\nEpoch %d: saving model to %s\n", epoch + 1, path);
    }
    fflush(out);
    if ((st = px_cb_make_parent_dirs(path)) != PX_OK) return st;
    st = c->o.save_weights_only ? px_model_save_weights(m, path) : px_model_save(m, path);
    if (st != PX_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_last_error());
        return px_set_error(st, "ModelCheckpoint: saving to '%s' failed: %s", path, msg);
    }
    return PX_OK;
}

static px_status ck_batch_end(px_callback *cb, px_model *m, int batch, px_logs *logs) {
    checkpoint *c = cb->state;
    if (c->o.save_freq <= 0) return PX_OK;
    /* Keras counts batches across epochs: a batch index that went back means a new epoch */
    c->batches_since_save += batch <= c->last_batch_seen ? batch + 1 : batch - c->last_batch_seen;
    c->last_batch_seen = batch;
    if (c->batches_since_save < c->o.save_freq) return PX_OK;
    c->batches_since_save = 0;
    return save(c, m, c->current_epoch, batch, logs);
}

static px_status ck_epoch_end(px_callback *cb, px_model *m, int epoch, px_logs *logs) {
    checkpoint *c = cb->state;
    return c->o.save_freq > 0 ? PX_OK : save(c, m, epoch, -1, logs);
}

static void ck_destroy(px_callback *cb) {
    checkpoint *c = cb->state;
    free(c->filepath);
    free(c);
}

/* For BackupAndRestore: the best value and the batch counters of save_freq. */
static px_status ck_get_state(px_callback *cb, px_model *m, char **out) {
    (void)m;
    checkpoint *c = cb->state;
    px_json *o = px_json_new_object();
    px_status st = px_json_set(o, "best", px_cb_double_json(c->best));
    if (!st) st = px_json_set(o, "last_batch_seen", px_json_new_int(c->last_batch_seen));
    if (!st) st = px_json_set(o, "batches_since_save", px_json_new_int(c->batches_since_save));
    if (st) {
        px_json_free(o);
        return st;
    }
    return px_cb_state_text(o, out);
}

static px_status ck_set_state(px_callback *cb, px_model *m, const char *state) {
    (void)m;
    checkpoint *c = cb->state;
    px_json *o = NULL;
    if (px_cb_state_parse(state, "ModelCheckpoint", &o) != PX_OK) return px_last_status();
    c->best = px_cb_json_double(o, "best", c->best);
    c->last_batch_seen = (int)px_json_get_int(o, "last_batch_seen", c->last_batch_seen);
    c->batches_since_save = (int)px_json_get_int(o, "batches_since_save", c->batches_since_save);
    px_json_free(o);
    return PX_OK;
}

px_callback *px_model_checkpoint(const px_model_checkpoint_options *opts) {
    px_model_checkpoint_options o = opts ? *opts : (px_model_checkpoint_options){0};
    if (!o.filepath || !*o.filepath) {
        px_set_error(PX_ERR_ARG, "ModelCheckpoint: filepath is required");
        return NULL;
    }
    if (format_path(o.filepath, 0, -1, NULL, NULL, 0, true) != PX_OK) return NULL;
    const char *monitor = o.monitor ? o.monitor : "val_loss";
    if (!*monitor || strlen(monitor) >= 64 || o.save_freq < 0 ||
        (o.mode != PX_MODE_AUTO && o.mode != PX_MODE_MIN && o.mode != PX_MODE_MAX) ||
        (o.has_initial_value_threshold && isnan(o.initial_value_threshold))) {
        px_set_error(PX_ERR_ARG, "ModelCheckpoint: need a monitor of 1 to 63 characters, save_freq >= 0, mode auto, "
                                 "min or max and a numeric initial_value_threshold");
        return NULL;
    }
    checkpoint *c = calloc(1, sizeof *c);
    if (!c || !(c->filepath = strdup(o.filepath))) {
        free(c);
        px_set_error(PX_ERR_NOMEM, "ModelCheckpoint: out of memory");
        return NULL;
    }
    c->o = o;
    if (!c->o.out) c->o.out = stdout;
    c->o.filepath = c->filepath;
    snprintf(c->monitor, sizeof c->monitor, "%s", monitor);
    c->o.monitor = c->monitor;
    c->is_max = px_cb_mode_is_max(o.mode, monitor, false);
    /* Keras sets best once, in the constructor: it carries over between fits */
    c->best = o.has_initial_value_threshold ? o.initial_value_threshold : c->is_max ? -INFINITY : INFINITY;
    c->last_batch_seen = 0;
    c->cb = (px_callback){.name = "ModelCheckpoint", .chief_only = true, .state = c, .on_epoch_begin = ck_epoch_begin, .on_batch_end = ck_batch_end,
                          .on_epoch_end = ck_epoch_end, .destroy = ck_destroy,
                          .get_state = ck_get_state, .set_state = ck_set_state};
    return &c->cb;
}
