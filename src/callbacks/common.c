/* Shared pieces of the standard callbacks: Python's float repr (the form Keras's
 * messages and CSV rows take), the auto-mode rules, directory creation. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "callbacks/callbacks_internal.h"

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
