/* The JSON DOM on libjansson: parsing with Plexus's rules and line/column
 * errors, accessors, builders, and a writer matching Python's json.dumps. */
#include "formats/json.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The writer refuses what the parser would refuse, so the limits must agree. */
_Static_assert(PX_JSON_MAX_DEPTH == JSON_PARSER_MAX_DEPTH, "PX_JSON_MAX_DEPTH must be jansson's parser limit");
_Static_assert(sizeof(json_int_t) == sizeof(int64_t), "jansson's integers must be 64-bit");

/* struct px_json is never defined: a px_json * is a json_t * (json.h). jansson's
 * getters take const values but its iterators do not (they change nothing). */
#define J(j) ((json_t *)(j))
#define PX(j) ((px_json *)(j))

/* ---------------------------------------------------------------- parser */

/* jansson's message, made one printable line: its "near '...'" context quotes
 * the raw text, which may hold control bytes. */
static void printable(const char *in, char *out, size_t outlen) {
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < outlen; p++) {
        if (*p < 0x20 || *p == 0x7F) o += (size_t)snprintf(out + o, outlen - o, "\\x%02X", *p);
        else out[o++] = (char)*p;
    }
    out[o] = '\0';
}

/* The bare words Python's json module writes for non-finite floats, ending
 * at byte `end` (where jansson stopped) or, for '-Infinity', starting there. */
static bool nonfinite_word_at(const char *s, size_t len, size_t end) {
    static const char *words[] = {"NaN", "Infinity"};
    for (size_t i = 0; i < 2; i++) {
        size_t k = strlen(words[i]);
        if (end >= k && end <= len && memcmp(s + end - k, words[i], k) == 0) return true;
    }
    return end >= 1 && s[end - 1] == '-' && len - end >= 8 && memcmp(s + end, "Infinity", 8) == 0;
}

px_status px_json_parse(const char *text, size_t len, px_json **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_json_parse: out is NULL");
    *out = NULL;
    if (!text && len) return px_set_error(PX_ERR_ARG, "px_json_parse: text is NULL");
    if (!text) text = "";
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* jansson would quote the invisible mark */
        return px_set_error(PX_ERR_FORMAT, "invalid JSON at line 1, column 1: the text starts with a UTF-8 "
                                           "byte-order mark, which JSON does not allow");
    json_error_t e;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (j) {
        *out = PX(j);
        return PX_OK;
    }
    if (json_error_code(&e) == json_error_out_of_memory)
        return px_set_error(PX_ERR_NOMEM, "out of memory parsing JSON");
    size_t pos = e.position > 0 ? (size_t)e.position : 0;
    char what[2 * JSON_ERROR_TEXT_LENGTH];
    if (json_error_code(&e) == json_error_invalid_syntax && nonfinite_word_at(text, len, pos))
        snprintf(what, sizeof what, "NaN and Infinity are not JSON (Python's json.dumps writes them for "
                                    "non-finite floats; Plexus reads standard JSON only)");
    else if (pos >= 1 && pos <= len && text[pos - 1] == '\0')
        snprintf(what, sizeof what, "NUL byte in the text"); /* jansson calls it "end of file" */
    else
        printable(e.text, what, sizeof what);
    return px_set_error(PX_ERR_FORMAT, "invalid JSON at line %d, column %d: %s", e.line, e.column > 0 ? e.column : 1,
                        what);
}

void px_json_free(px_json *j) { json_decref(J(j)); }

/* ---------------------------------------------------------------- queries */

px_json_type px_json_typeof(const px_json *j) {
    switch (j ? json_typeof(J(j)) : JSON_NULL) {
    case JSON_OBJECT: return PX_JSON_OBJECT;
    case JSON_ARRAY: return PX_JSON_ARRAY;
    case JSON_STRING: return PX_JSON_STRING;
    case JSON_INTEGER:
    case JSON_REAL: return PX_JSON_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE: return PX_JSON_BOOL;
    case JSON_NULL: break;
    }
    return PX_JSON_NULL;
}

const char *px_json_type_name(px_json_type t) {
    switch (t) {
    case PX_JSON_NULL: return "null";
    case PX_JSON_BOOL: return "bool";
    case PX_JSON_NUMBER: return "number";
    case PX_JSON_STRING: return "string";
    case PX_JSON_ARRAY: return "array";
    case PX_JSON_OBJECT: return "object";
    }
    return "unknown";
}

bool px_json_is_null(const px_json *j) { return json_is_null(J(j)); }
bool px_json_is_bool(const px_json *j) { return json_is_boolean(J(j)); }
bool px_json_is_number(const px_json *j) { return json_is_number(J(j)); }
bool px_json_is_integer(const px_json *j) { return json_is_integer(J(j)); }
bool px_json_is_string(const px_json *j) { return json_is_string(J(j)); }
bool px_json_is_array(const px_json *j) { return json_is_array(J(j)); }
bool px_json_is_object(const px_json *j) { return json_is_object(J(j)); }

size_t px_json_len(const px_json *j) {
    if (px_json_is_array(j)) return json_array_size(J(j));
    if (px_json_is_object(j)) return json_object_size(J(j));
    return 0;
}

px_json *px_json_at(const px_json *a, size_t i) { return px_json_is_array(a) ? PX(json_array_get(J(a), i)) : NULL; }

px_json *px_json_get(const px_json *o, const char *key) {
    return px_json_is_object(o) && key ? PX(json_object_get(J(o), key)) : NULL;
}

static px_json_member member(void *it) {
    px_json_member m = {NULL, NULL, it};
    if (it) {
        m.key = json_object_iter_key(it);
        m.value = PX(json_object_iter_value(it));
    }
    return m;
}

px_json_member px_json_first(const px_json *o) {
    return member(px_json_is_object(o) ? json_object_iter(J(o)) : NULL);
}

px_json_member px_json_next(const px_json *o, px_json_member m) {
    return member(px_json_is_object(o) && m.iter_ ? json_object_iter_next(J(o), m.iter_) : NULL);
}

double px_json_number(const px_json *j) { return px_json_is_number(j) ? json_number_value(J(j)) : 0.0; }

int64_t px_json_int(const px_json *j) {
    if (px_json_is_integer(j)) return json_integer_value(J(j));
    if (!px_json_is_number(j)) return 0;
    double v = json_real_value(J(j)); /* finite: jansson holds no NaN or infinity */
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

bool px_json_bool(const px_json *j) { return json_is_true(J(j)); }
const char *px_json_string(const px_json *j) { return px_json_is_string(j) ? json_string_value(J(j)) : NULL; }
size_t px_json_string_len(const px_json *j) { return px_json_is_string(j) ? json_string_length(J(j)) : 0; }

const char *px_json_get_string(const px_json *o, const char *key, const char *def) {
    px_json *v = px_json_get(o, key);
    return px_json_is_string(v) ? json_string_value(J(v)) : def;
}

double px_json_get_number(const px_json *o, const char *key, double def) {
    px_json *v = px_json_get(o, key);
    return px_json_is_number(v) ? json_number_value(J(v)) : def;
}

int64_t px_json_get_int(const px_json *o, const char *key, int64_t def) {
    px_json *v = px_json_get(o, key);
    return px_json_is_number(v) ? px_json_int(v) : def;
}

bool px_json_get_bool(const px_json *o, const char *key, bool def) {
    px_json *v = px_json_get(o, key);
    return px_json_is_bool(v) ? json_is_true(J(v)) : def;
}

/* ---------------------------------------------------------------- builders */

static px_json *built(json_t *j, const char *what) {
    if (!j) px_set_error(PX_ERR_NOMEM, "out of memory building a JSON %s", what);
    return PX(j);
}

px_json *px_json_new_null(void) { return built(json_null(), "null"); }
px_json *px_json_new_bool(bool v) { return built(json_boolean(v), "bool"); }
px_json *px_json_new_array(void) { return built(json_array(), "array"); }
px_json *px_json_new_object(void) { return built(json_object(), "object"); }
px_json *px_json_new_int(int64_t v) { return built(json_integer(v), "number"); }

px_json *px_json_new_number(double v) {
    if (!isfinite(v)) {
        px_set_error(PX_ERR_ARG, "px_json_new_number: %s has no JSON form", isnan(v) ? "NaN" : "an infinity");
        return NULL;
    }
    return built(json_real(v), "number");
}

px_json *px_json_new_string_len(const char *s, size_t len) {
    if (!s && len) {
        px_set_error(PX_ERR_ARG, "px_json_new_string: NULL string");
        return NULL;
    }
    if (!s) s = "";
    json_t *j = json_stringn(s, len);
    if (j) return PX(j);
    /* jansson's one answer for invalid UTF-8 and for no memory: tell them apart */
    j = json_stringn_nocheck(s, len);
    if (!j) return built(NULL, "string");
    json_decref(j);
    px_set_error(PX_ERR_FORMAT, "px_json_new_string: string is not valid UTF-8");
    return NULL;
}

px_json *px_json_new_string(const char *s) {
    if (!s) {
        px_set_error(PX_ERR_ARG, "px_json_new_string: NULL string");
        return NULL;
    }
    return px_json_new_string_len(s, strlen(s));
}

px_status px_json_set(px_json *o, const char *key, px_json *val) {
    if (!val) {
        px_status s = px_last_status();
        if (s == PX_OK) return px_set_error(PX_ERR_ARG, "px_json_set: value is NULL");
        char why[512]; /* px_set_error must not read the buffer it writes */
        snprintf(why, sizeof why, "%s", px_last_error());
        return px_set_error(s, "%s (JSON key '%s')", why, key ? key : "(null)");
    }
    if (val == o) return px_set_error(PX_ERR_ARG, "px_json_set: an object cannot hold itself"); /* nothing freed */
    if (!px_json_is_object(o) || !key) {
        json_decref(J(val));
        return px_set_error(PX_ERR_ARG, "px_json_set: %s", !key ? "key is NULL" : "not an object");
    }
    if (json_object_set_new(J(o), key, J(val)) == 0) return PX_OK; /* val is jansson's now, even on failure */
    json_t *k = json_string(key); /* as in new_string_len: bad UTF-8 or no memory? */
    if (k) {
        json_decref(k);
        return px_set_error(PX_ERR_NOMEM, "out of memory adding a JSON object member");
    }
    k = json_string_nocheck(key);
    json_decref(k);
    return k ? px_set_error(PX_ERR_FORMAT, "px_json_set: key is not valid UTF-8")
             : px_set_error(PX_ERR_NOMEM, "out of memory adding a JSON object member");
}

px_status px_json_push(px_json *a, px_json *val) {
    if (!val) {
        px_status s = px_last_status();
        return s != PX_OK ? s : px_set_error(PX_ERR_ARG, "px_json_push: value is NULL");
    }
    if (val == a) return px_set_error(PX_ERR_ARG, "px_json_push: an array cannot hold itself"); /* nothing freed */
    if (!px_json_is_array(a)) {
        json_decref(J(val));
        return px_set_error(PX_ERR_ARG, "px_json_push: not an array");
    }
    if (json_array_append_new(J(a), J(val))) return px_set_error(PX_ERR_NOMEM, "out of memory adding a JSON array element");
    return PX_OK;
}

px_json *px_json_copy(const px_json *j) {
    if (!j) {
        px_set_error(PX_ERR_ARG, "px_json_copy: NULL value");
        return NULL;
    }
    return built(json_deep_copy(J(j)), "copy");
}

/* jansson's json_equal treats 1 and 1.0 as different; Keras's readers do not. */
bool px_json_equal(const px_json *a, const px_json *b) {
    if (!a || !b) return a == b;
    if (px_json_typeof(a) != px_json_typeof(b)) return false;
    switch (px_json_typeof(a)) {
    case PX_JSON_NUMBER:
        if (px_json_is_integer(a) && px_json_is_integer(b)) return px_json_int(a) == px_json_int(b);
        return px_json_number(a) == px_json_number(b);
    case PX_JSON_ARRAY:
    case PX_JSON_OBJECT:
        if (px_json_len(a) != px_json_len(b)) return false;
        for (size_t i = 0; i < px_json_len(a) && px_json_is_array(a); i++)
            if (!px_json_equal(px_json_at(a, i), px_json_at(b, i))) return false;
        for (px_json_member m = px_json_first(a); m.key; m = px_json_next(a, m))
            if (!px_json_equal(m.value, px_json_get(b, m.key))) return false;
        return true;
    default: return json_equal(J(a), J(b)); /* null, booleans, strings (bytes and length) */
    }
}

/* ---------------------------------------------------------------- writer */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) { b->oom = true; return; }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Python's repr(float) for a finite v: the shortest digit string that reads
 * back to v, in fixed notation for decimal exponents -4..15 and d.ddde+XX
 * otherwise. (jansson's own writer prints %.17g, which is not what Keras wrote.) */
static void format_float(double v, char *out, size_t outlen) {
    if (v == 0) { snprintf(out, outlen, signbit(v) ? "-0.0" : "0.0"); return; }
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v) break; /* both sides use the same locale */
    }
    char digits[32];
    int nd = 0, exp10 = 0;
    bool neg = false;
    const char *q = tmp;
    if (*q == '-') { neg = true; q++; }
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9' && nd < 30) digits[nd++] = *q;
    if (*q == 'e') exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    char *o = out;
    size_t room = outlen;
#define EMIT(...)                                                  \
    do {                                                           \
        int w_ = snprintf(o, room, __VA_ARGS__);                   \
        if (w_ < 0 || (size_t)w_ >= room) return;                  \
        o += w_;                                                   \
        room -= (size_t)w_;                                        \
    } while (0)
    if (neg) EMIT("-");
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 >= 0) {
            int ip = exp10 + 1; /* digits before the point */
            for (int i = 0; i < ip; i++) EMIT("%c", i < nd ? digits[i] : '0');
            EMIT(".");
            if (nd > ip) EMIT("%s", digits + ip);
            else EMIT("0");
        } else {
            EMIT("0.");
            for (int i = 0; i < -exp10 - 1; i++) EMIT("0");
            EMIT("%s", digits);
        }
    } else {
        EMIT("%c", digits[0]);
        if (nd > 1) EMIT(".%s", digits + 1);
        EMIT("e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
#undef EMIT
}

static void put_u_escape(sbuf *b, uint32_t unit) {
    static const char hex[] = "0123456789abcdef";
    char esc[6] = {'\\', 'u'};
    for (int h = 0; h < 4; h++) esc[2 + h] = hex[(unit >> (12 - 4 * h)) & 0xF];
    sb_put(b, esc, 6);
}

/* As json.dumps(ensure_ascii=True): only printable ASCII stays literal. The
 * text is valid UTF-8 (jansson checks every string and key it takes). */
static void write_string(sbuf *b, const char *s, size_t n) {
    sb_put(b, "\"", 1);
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of a pending literal run */
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') { i++; continue; }
        sb_put(b, s + run, i - run);
        const char *named = NULL;
        switch (c) {
        case '"': named = "\\\""; break;
        case '\\': named = "\\\\"; break;
        case '\n': named = "\\n"; break;
        case '\r': named = "\\r"; break;
        case '\t': named = "\\t"; break;
        case '\b': named = "\\b"; break;
        case '\f': named = "\\f"; break;
        default: break;
        }
        if (named) {
            sb_puts(b, named);
            i++;
        } else {
            size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            if (k > n - i) k = n - i; /* unreachable for valid UTF-8 */
            uint32_t cp = k == 1 ? c : k == 2 ? c & 0x1Fu : k == 3 ? c & 0x0Fu : c & 0x07u;
            for (size_t t = 1; t < k; t++) cp = (cp << 6) | (u[i + t] & 0x3Fu);
            i += k;
            if (cp >= 0x10000) { /* a UTF-16 surrogate pair, as Python writes it */
                put_u_escape(b, 0xD800 + ((cp - 0x10000) >> 10));
                put_u_escape(b, 0xDC00 + ((cp - 0x10000) & 0x3FF));
            } else {
                put_u_escape(b, cp);
            }
        }
        run = i;
    }
    sb_put(b, s + run, n - run);
    sb_put(b, "\"", 1);
}

/* depth counts as the parser does: the top-level value is at depth 1. */
static px_status write_value(sbuf *b, const json_t *j, int depth) {
    if (depth > PX_JSON_MAX_DEPTH)
        return px_set_error(PX_ERR_ARG, "px_json_write: nesting deeper than %d", PX_JSON_MAX_DEPTH);
    char num[64];
    switch (json_typeof(j)) {
    case JSON_NULL: sb_puts(b, "null"); break;
    case JSON_TRUE: sb_puts(b, "true"); break;
    case JSON_FALSE: sb_puts(b, "false"); break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(j));
        sb_puts(b, num);
        break;
    case JSON_REAL:
        format_float(json_real_value(j), num, sizeof num);
        sb_puts(b, num);
        break;
    case JSON_STRING: write_string(b, json_string_value(j), json_string_length(j)); break;
    case JSON_ARRAY:
        sb_puts(b, "[");
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i) sb_puts(b, ", ");
            px_status st = write_value(b, json_array_get(j, i), depth + 1);
            if (st) return st;
        }
        sb_puts(b, "]");
        break;
    case JSON_OBJECT:
        sb_puts(b, "{");
        for (px_json_member m = px_json_first(PX(j)), first = m; m.key; m = px_json_next(PX(j), m)) {
            if (m.iter_ != first.iter_) sb_puts(b, ", ");
            write_string(b, m.key, strlen(m.key)); /* keys hold no NUL (see json.h) */
            sb_puts(b, ": ");
            px_status st = write_value(b, J(m.value), depth + 1);
            if (st) return st;
        }
        sb_puts(b, "}");
        break;
    }
    return PX_OK;
}

px_status px_json_write(const px_json *j, char **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_json_write: out is NULL");
    *out = NULL;
    if (!j) return px_set_error(PX_ERR_ARG, "px_json_write: value is NULL");
    sbuf b = {0};
    px_status st = write_value(&b, J(j), 1);
    if (st == PX_OK && b.oom) st = px_set_error(PX_ERR_NOMEM, "out of memory writing JSON");
    if (st) {
        free(b.p);
        return st;
    }
    *out = b.p; /* never NULL: every value writes at least one byte */
    return PX_OK;
}
