/* Shared pieces of the standard callbacks: Python's float repr (the form Keras's
 * messages and CSV rows take), the auto-mode rules, directory creation, the
 * JSON form of callback states. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "callbacks/callbacks_internal.h"
#include "formats/json.h"

char *px_python_float_repr(double v, char *buf, size_t len) {
    if (!buf || len == 0) return buf;
    if (isnan(v)) {
        snprintf(buf, len, "nan");
        return buf;
    }
    if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "inf" : "-inf");
        return buf;
    }
    /* the shortest digit string that reads back as v, as repr() finds it */
    char digits[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(digits, sizeof digits, "%.*e", prec - 1, v);
        if (strtod(digits, NULL) == v) break;
    }
    snprintf(digits, sizeof digits, "%.*e", prec - 1, v);
    /* digits = [-]d.ddde[+-]XX: split mantissa digits and exponent */
    char mant[24];
    int nm = 0;
    const char *p = digits;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') mant[nm++] = *p;
    mant[nm] = '\0';
    int exp10 = atoi(p + 1);
    while (nm > 1 && mant[nm - 1] == '0') mant[--nm] = '\0';
    char out[64];
    int o = 0;
    if (neg) out[o++] = '-';
    /* repr uses scientific notation when the exponent is < -4 or >= 16 */
    if (exp10 < -4 || exp10 >= 16) {
        out[o++] = mant[0];
        if (nm > 1) {
            out[o++] = '.';
            for (int i = 1; i < nm; i++) out[o++] = mant[i];
        }
        o += snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp10 - 1; i++) out[o++] = '0';
        for (int i = 0; i < nm; i++) out[o++] = mant[i];
    } else {
        for (int i = 0; i <= exp10; i++) out[o++] = i < nm ? mant[i] : '0';
        out[o++] = '.';
        if (nm > exp10 + 1)
            for (int i = exp10 + 1; i < nm; i++) out[o++] = mant[i];
        else
            out[o++] = '0';
    }
    out[o] = '\0';
    snprintf(buf, len, "%s", out);
    return buf;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

bool px_cb_mode_is_max(px_monitor_mode mode, const char *monitor, bool ends_with_rule) {
    if (mode == PX_MODE_MAX) return true;
    if (mode == PX_MODE_MIN) return false;
    if (ends_with_rule) return ends_with(monitor, "acc") || ends_with(monitor, "accuracy") || ends_with(monitor, "auc");
    return strstr(monitor, "acc") != NULL || strncmp(monitor, "fmeasure", 8) == 0;
}

void px_cb_join_keys(const px_logs *logs, const char *sep, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; logs && i < logs->n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? sep : "", logs->names[i]);
}

px_status px_cb_make_parent_dirs(const char *path) {
    size_t n = strlen(path);
    char *dir = malloc(n + 1);
    if (!dir) return px_set_error(PX_ERR_NOMEM, "out of memory");
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        free(dir);
        return PX_OK;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                px_status st = px_set_error(PX_ERR_IO, "cannot create directory '%s': %s", dir, strerror(errno));
                free(dir);
                return st;
            }
            if (end) break;
            *p = '/';
        }
    }
    free(dir);
    return PX_OK;
}

px_json *px_cb_double_json(double v) {
    char buf[48];
    snprintf(buf, sizeof buf, "%a", v);
    return px_json_new_string(buf);
}

double px_cb_json_double(const px_json *obj, const char *key, double def) {
    const char *s = px_json_get_string(obj, key, NULL);
    char *end;
    double v = s ? strtod(s, &end) : def;
    return s && end != s && !*end ? v : def;
}

px_status px_cb_state_text(px_json *obj, char **out) {
    px_status st = obj ? px_json_write(obj, out) : px_set_error(PX_ERR_NOMEM, "callback state: out of memory");
    px_json_free(obj);
    return st;
}

px_status px_cb_state_parse(const char *text, const char *who, px_json **out) {
    if (px_json_parse(text, strlen(text), out) == PX_OK && px_json_is_object(*out)) return PX_OK;
    px_json_free(*out);
    *out = NULL;
    return px_set_error(PX_ERR_FORMAT, "%s: the backed-up state is not a JSON object", who);
}

px_json *px_cb_floats_json(const float *v, int64_t n) {
    char *buf = malloc((size_t)n * 8 + 1);
    if (!buf) {
        px_set_error(PX_ERR_NOMEM, "callback state: out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        snprintf(buf + i * 8, 9, "%08" PRIx32, u);
    }
    buf[n * 8] = '\0';
    px_json *j = px_json_new_string(buf);
    free(buf);
    return j;
}

bool px_cb_json_floats(const px_json *s, float *out, int64_t n) {
    const char *t = px_json_string(s);
    if (!t || (int64_t)strlen(t) != n * 8) return false;
    for (int64_t i = 0; i < n; i++) {
        char d[9], *end;
        memcpy(d, t + i * 8, 8);
        d[8] = '\0';
        uint32_t u = (uint32_t)strtoul(d, &end, 16);
        if (*end) return false;
        memcpy(&out[i], &u, sizeof u);
    }
    return true;
}
