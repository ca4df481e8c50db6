/* A small strict JSON DOM: recursive-descent parser with line/column errors and
 * a depth limit, accessors, builders, and a writer matching Python's json.dumps. */
#include "formats/json.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct px_json {
    px_json_type type;
    bool boolean;
    bool integral;  /* number token without fraction/exponent, or built by new_int */
    bool int_exact; /* inum holds the exact value */
    double num;
    int64_t inum;
    char *str; /* string value, NUL-terminated, may contain NULs */
    size_t slen;
    /* arrays and objects */
    size_t len, cap;
    px_json **vals;
    char **keys;
    size_t *klens;
    /* objects with many keys get a hash index so that lookups (and the
     * duplicate-key check while parsing) stay linear overall on hostile input */
    size_t *hidx; /* member index + 1; 0 = empty slot */
    size_t hcap;
};

#define HASH_MIN_MEMBERS 16

/* ---------------------------------------------------------------- values */

static px_json *new_value(px_json_type t) {
    px_json *j = calloc(1, sizeof *j);
    if (!j) px_set_error(PX_ERR_NOMEM, "out of memory allocating a JSON value");
    else j->type = t;
    return j;
}

void px_json_free(px_json *j) {
    if (!j) return;
    for (size_t i = 0; i < j->len; i++) {
        px_json_free(j->vals[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->vals);
    free(j->keys);
    free(j->klens);
    free(j->hidx);
    free(j->str);
    free(j);
}

static uint64_t hash_key(const char *k, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

static bool rebuild_index(px_json *o, size_t want) {
    size_t cap = 64;
    while (cap < want * 2) cap *= 2;
    size_t *idx = calloc(cap, sizeof *idx);
    if (!idx) return false;
    for (size_t i = 0; i < o->len; i++) {
        size_t h = (size_t)hash_key(o->keys[i], o->klens[i]) & (cap - 1);
        while (idx[h]) h = (h + 1) & (cap - 1);
        idx[h] = i + 1;
    }
    free(o->hidx);
    o->hidx = idx;
    o->hcap = cap;
    return true;
}

/* Index of key in obj, or -1. */
static long find_key(const px_json *o, const char *k, size_t n) {
    if (o->hidx) {
        size_t h = (size_t)hash_key(k, n) & (o->hcap - 1);
        while (o->hidx[h]) {
            size_t i = o->hidx[h] - 1;
            if (o->klens[i] == n && memcmp(o->keys[i], k, n) == 0) return (long)i;
            h = (h + 1) & (o->hcap - 1);
        }
        return -1;
    }
    for (size_t i = 0; i < o->len; i++)
        if (o->klens[i] == n && memcmp(o->keys[i], k, n) == 0) return (long)i;
    return -1;
}

static bool grow(px_json *c) {
    if (c->len < c->cap) return true;
    size_t cap = c->cap ? c->cap * 2 : 4;
    px_json **v = realloc(c->vals, cap * sizeof *v);
    if (!v) return false;
    c->vals = v;
    if (c->type == PX_JSON_OBJECT) {
        char **k = realloc(c->keys, cap * sizeof *k);
        if (!k) return false;
        c->keys = k;
        size_t *kl = realloc(c->klens, cap * sizeof *kl);
        if (!kl) return false;
        c->klens = kl;
    }
    c->cap = cap;
    return true;
}

/* Adds or replaces; takes ownership of key (malloc'd) and val. */
static px_status obj_put(px_json *o, char *key, size_t klen, px_json *val) {
    long at = find_key(o, key, klen);
    if (at >= 0) {
        px_json_free(o->vals[at]);
        o->vals[at] = val;
        free(key);
        return PX_OK;
    }
    if (!grow(o)) goto oom;
    if (o->len + 1 >= HASH_MIN_MEMBERS && (o->hidx == NULL || (o->len + 1) * 2 > o->hcap)) {
        if (!rebuild_index(o, o->len + 1 > o->cap ? o->len + 1 : o->cap)) goto oom;
    }
    o->keys[o->len] = key;
    o->klens[o->len] = klen;
    o->vals[o->len] = val;
    if (o->hidx) {
        size_t h = (size_t)hash_key(key, klen) & (o->hcap - 1);
        while (o->hidx[h]) h = (h + 1) & (o->hcap - 1);
        o->hidx[h] = o->len + 1;
    }
    o->len++;
    return PX_OK;
oom:
    free(key);
    px_json_free(val);
    return px_set_error(PX_ERR_NOMEM, "out of memory adding a JSON object member");
}

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; } /* excludes UTF-16 surrogates */
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; } /* nothing above U+10FFFF */
    else return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

static bool utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

static size_t utf8_put(char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* strtod honours LC_NUMERIC; JSON always uses '.', so swap in the locale's point. */
static double parse_double_c(const char *tok, size_t n) {
    char small[64];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) return NAN;
    memcpy(buf, tok, n);
    buf[n] = '\0';
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && dp[1] == '\0') {
        char *p = strchr(buf, '.');
        if (p) *p = dp[0];
    }
    double v = strtod(buf, NULL);
    if (buf != small) free(buf);
    return v;
}

/* ---------------------------------------------------------------- parser */

typedef struct parser {
    const unsigned char *s;
    size_t n, pos;
    int depth;
} parser;

static void describe_at(const parser *p, size_t at, char *buf, size_t len) {
    if (at >= p->n) snprintf(buf, len, "end of input");
    else if (p->s[at] >= 0x20 && p->s[at] < 0x7F) snprintf(buf, len, "'%c'", p->s[at]);
    else snprintf(buf, len, "byte 0x%02X", p->s[at]);
}

static px_status perr(const parser *p, size_t at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static px_status perr(const parser *p, size_t at, const char *fmt, ...) {
    long line = 1, col = 1;
    if (at > p->n) at = p->n;
    for (size_t i = 0; i < at; i++) {
        if (p->s[i] == '\n') { line++; col = 1; }
        else if ((p->s[i] & 0xC0) != 0x80) col++; /* count characters, not bytes */
    }
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return px_set_error(PX_ERR_FORMAT, "invalid JSON at line %ld, column %ld: %s", line, col, what);
}

static px_status perr_expected(const parser *p, const char *expected) {
    char found[32];
    describe_at(p, p->pos, found, sizeof found);
    return perr(p, p->pos, "expected %s, found %s", expected, found);
}

static void skip_ws(parser *p) {
    while (p->pos < p->n) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static bool match_word(parser *p, const char *w) {
    size_t k = strlen(w);
    if (p->n - p->pos < k || memcmp(p->s + p->pos, w, k) != 0) return false;
    p->pos += k;
    return true;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex4(parser *p, uint32_t *out) {
    if (p->n - p->pos < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p->s[p->pos + i]);
        if (h < 0) return false;
        v = v * 16 + (uint32_t)h;
    }
    p->pos += 4;
    *out = v;
    return true;
}

/* At the opening quote; yields a malloc'd NUL-terminated string. */
static px_status parse_string(parser *p, char **out, size_t *outlen) {
    size_t start = p->pos++;
    size_t cap = 32, len = 0;
    char *buf = malloc(cap);
    if (!buf) return px_set_error(PX_ERR_NOMEM, "out of memory parsing JSON");
    px_status st;
    for (;;) {
        if (len + 8 > cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { st = px_set_error(PX_ERR_NOMEM, "out of memory parsing JSON"); goto fail; }
            buf = nb;
            cap *= 2;
        }
        if (p->pos >= p->n) { st = perr(p, start, "unterminated string"); goto fail; }
        unsigned char c = p->s[p->pos];
        if (c == '"') { p->pos++; break; }
        if (c < 0x20) {
            st = perr(p, p->pos, "control character (byte 0x%02X) in string; it must be escaped", c);
            goto fail;
        }
        if (c == '\\') {
            size_t esc = p->pos++;
            if (p->pos >= p->n) { st = perr(p, start, "unterminated string"); goto fail; }
            unsigned char e = p->s[p->pos++];
            switch (e) {
            case '"': buf[len++] = '"'; break;
            case '\\': buf[len++] = '\\'; break;
            case '/': buf[len++] = '/'; break;
            case 'b': buf[len++] = '\b'; break;
            case 'f': buf[len++] = '\f'; break;
            case 'n': buf[len++] = '\n'; break;
            case 'r': buf[len++] = '\r'; break;
            case 't': buf[len++] = '\t'; break;
            case 'u': {
                uint32_t cp, lo;
                if (!read_hex4(p, &cp)) { st = perr(p, esc, "invalid \\u escape: four hex digits expected"); goto fail; }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    st = perr(p, esc, "unpaired low surrogate \\u%04X", (unsigned)cp);
                    goto fail;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    size_t second = p->pos;
                    if (p->n - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                        st = perr(p, esc, "unpaired high surrogate \\u%04X", (unsigned)cp);
                        goto fail;
                    }
                    p->pos += 2;
                    if (!read_hex4(p, &lo)) { st = perr(p, second, "invalid \\u escape: four hex digits expected"); goto fail; }
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        st = perr(p, esc, "high surrogate \\u%04X not followed by a low surrogate", (unsigned)cp);
                        goto fail;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                len += utf8_put(buf + len, cp);
                break;
            }
            default:
                p->pos = esc;
                st = perr(p, esc, "invalid escape '\\%c'", (e >= 0x20 && e < 0x7F) ? e : '?');
                goto fail;
            }
            continue;
        }
        if (c < 0x80) { buf[len++] = (char)c; p->pos++; continue; }
        size_t k = utf8_seq(p->s + p->pos, p->n - p->pos);
        if (!k) { st = perr(p, p->pos, "invalid UTF-8 (byte 0x%02X) in string", c); goto fail; }
        memcpy(buf + len, p->s + p->pos, k);
        len += k;
        p->pos += k;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return PX_OK;
fail:
    free(buf);
    return st;
}

static px_status parse_number(parser *p, px_json **out) {
    size_t start = p->pos;
    bool neg = false, integral = true;
    if (p->s[p->pos] == '-') {
        neg = true;
        p->pos++;
        if (match_word(p, "Infinity")) goto special;
    }
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') return perr_expected(p, "a digit");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            return perr(p, p->pos, "leading zeros are not allowed in numbers");
    } else {
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->n && p->s[p->pos] == '.') {
        integral = false;
        p->pos++;
        if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return perr_expected(p, "a digit after the decimal point");
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        integral = false;
        p->pos++;
        if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return perr_expected(p, "a digit in the exponent");
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    px_json *j = new_value(PX_JSON_NUMBER);
    if (!j) return PX_ERR_NOMEM;
    j->integral = integral;
    j->num = parse_double_c((const char *)p->s + start, p->pos - start);
    if (integral) {
        /* accumulate negatively so that INT64_MIN fits */
        int64_t v = 0;
        bool ok = true;
        for (size_t i = start + (neg ? 1 : 0); i < p->pos; i++) {
            int d = p->s[i] - '0';
            if (v < (INT64_MIN + d) / 10) { ok = false; break; }
            v = v * 10 - d;
        }
        if (ok && !neg && v == INT64_MIN) ok = false;
        if (ok) {
            j->int_exact = true;
            j->inum = neg ? v : -v;
        }
    }
    *out = j;
    return PX_OK;
special:
    *out = px_json_new_number(-INFINITY);
    return *out ? PX_OK : PX_ERR_NOMEM;
}

static px_status parse_value(parser *p, px_json **out);

static px_status enter(parser *p) {
    if (++p->depth > PX_JSON_MAX_DEPTH)
        return perr(p, p->pos, "nesting deeper than %d arrays/objects", PX_JSON_MAX_DEPTH);
    return PX_OK;
}

static px_status parse_array(parser *p, px_json **out) {
    px_status st = enter(p);
    if (st) return st;
    p->pos++;
    px_json *a = new_value(PX_JSON_ARRAY);
    if (!a) return PX_ERR_NOMEM;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ']') { p->pos++; goto done; }
    for (;;) {
        px_json *v = NULL;
        if ((st = parse_value(p, &v)) != PX_OK) goto fail;
        if ((st = px_json_push(a, v)) != PX_OK) goto fail;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') { p->pos++; continue; }
        if (p->pos < p->n && p->s[p->pos] == ']') { p->pos++; break; }
        st = perr_expected(p, "',' or ']'");
        goto fail;
    }
done:
    p->depth--;
    *out = a;
    return PX_OK;
fail:
    px_json_free(a);
    return st;
}

static px_status parse_object(parser *p, px_json **out) {
    px_status st = enter(p);
    if (st) return st;
    p->pos++;
    px_json *o = new_value(PX_JSON_OBJECT);
    if (!o) return PX_ERR_NOMEM;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == '}') { p->pos++; goto done; }
    for (bool first = true;; first = false) {
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != '"') {
            st = perr_expected(p, first ? "a string key or '}'" : "a string key");
            goto fail;
        }
        char *key;
        size_t klen;
        if ((st = parse_string(p, &key, &klen)) != PX_OK) goto fail;
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != ':') {
            free(key);
            st = perr_expected(p, "':' after an object key");
            goto fail;
        }
        p->pos++;
        px_json *v = NULL;
        if ((st = parse_value(p, &v)) != PX_OK) { free(key); goto fail; }
        if ((st = obj_put(o, key, klen, v)) != PX_OK) goto fail;
        skip_ws(p);
        if (p->pos < p->n && p->s[p->pos] == ',') { p->pos++; continue; }
        if (p->pos < p->n && p->s[p->pos] == '}') { p->pos++; break; }
        st = perr_expected(p, "',' or '}'");
        goto fail;
    }
done:
    p->depth--;
    *out = o;
    return PX_OK;
fail:
    px_json_free(o);
    return st;
}

static px_status parse_value(parser *p, px_json **out) {
    skip_ws(p);
    if (p->pos >= p->n) return perr_expected(p, "a value");
    unsigned char c = p->s[p->pos];
    switch (c) {
    case '{': return parse_object(p, out);
    case '[': return parse_array(p, out);
    case '"': {
        char *s;
        size_t n;
        px_status st = parse_string(p, &s, &n);
        if (st) return st;
        px_json *j = new_value(PX_JSON_STRING);
        if (!j) { free(s); return PX_ERR_NOMEM; }
        j->str = s;
        j->slen = n;
        *out = j;
        return PX_OK;
    }
    default: break;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, out);
    size_t at = p->pos;
    if (match_word(p, "true")) *out = px_json_new_bool(true);
    else if (match_word(p, "false")) *out = px_json_new_bool(false);
    else if (match_word(p, "null")) *out = px_json_new_null();
    else if (match_word(p, "NaN")) *out = px_json_new_number(NAN);
    else if (match_word(p, "Infinity")) *out = px_json_new_number(INFINITY);
    else {
        p->pos = at;
        return perr_expected(p, "a value");
    }
    return *out ? PX_OK : PX_ERR_NOMEM;
}

px_status px_json_parse(const char *text, size_t len, px_json **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_json_parse: out is NULL");
    *out = NULL;
    if (!text && len) return px_set_error(PX_ERR_ARG, "px_json_parse: text is NULL");
    parser p = {(const unsigned char *)(text ? text : ""), len, 0, 0};
    px_json *j = NULL;
    px_status st = parse_value(&p, &j);
    if (st) return st;
    skip_ws(&p);
    if (p.pos < p.n) {
        char found[32];
        describe_at(&p, p.pos, found, sizeof found);
        px_json_free(j);
        return perr(&p, p.pos, "unexpected %s after the JSON value", found);
    }
    *out = j;
    return PX_OK;
}

/* ---------------------------------------------------------------- queries */

px_json_type px_json_typeof(const px_json *j) { return j ? j->type : PX_JSON_NULL; }

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

bool px_json_is_null(const px_json *j) { return j && j->type == PX_JSON_NULL; }
bool px_json_is_bool(const px_json *j) { return j && j->type == PX_JSON_BOOL; }
bool px_json_is_number(const px_json *j) { return j && j->type == PX_JSON_NUMBER; }
bool px_json_is_integer(const px_json *j) { return j && j->type == PX_JSON_NUMBER && j->integral; }
bool px_json_is_string(const px_json *j) { return j && j->type == PX_JSON_STRING; }
bool px_json_is_array(const px_json *j) { return j && j->type == PX_JSON_ARRAY; }
bool px_json_is_object(const px_json *j) { return j && j->type == PX_JSON_OBJECT; }

size_t px_json_len(const px_json *j) {
    return (j && (j->type == PX_JSON_ARRAY || j->type == PX_JSON_OBJECT)) ? j->len : 0;
}

px_json *px_json_at(const px_json *a, size_t i) {
    return (a && a->type == PX_JSON_ARRAY && i < a->len) ? a->vals[i] : NULL;
}

px_json *px_json_get(const px_json *o, const char *key) {
    if (!o || o->type != PX_JSON_OBJECT || !key) return NULL;
    long i = find_key(o, key, strlen(key));
    return i < 0 ? NULL : o->vals[i];
}

const char *px_json_key_at(const px_json *o, size_t i) {
    return (o && o->type == PX_JSON_OBJECT && i < o->len) ? o->keys[i] : NULL;
}

px_json *px_json_value_at(const px_json *o, size_t i) {
    return (o && o->type == PX_JSON_OBJECT && i < o->len) ? o->vals[i] : NULL;
}

double px_json_number(const px_json *j) { return px_json_is_number(j) ? j->num : 0.0; }

int64_t px_json_int(const px_json *j) {
    if (!px_json_is_number(j)) return 0;
    if (j->int_exact) return j->inum;
    double v = j->num;
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

bool px_json_bool(const px_json *j) { return px_json_is_bool(j) && j->boolean; }
const char *px_json_string(const px_json *j) { return px_json_is_string(j) ? j->str : NULL; }
size_t px_json_string_len(const px_json *j) { return px_json_is_string(j) ? j->slen : 0; }

const char *px_json_get_string(const px_json *o, const char *key, const char *def) {
    px_json *v = px_json_get(o, key);
    return px_json_is_string(v) ? v->str : def;
}

double px_json_get_number(const px_json *o, const char *key, double def) {
    px_json *v = px_json_get(o, key);
    return px_json_is_number(v) ? v->num : def;
}

int64_t px_json_get_int(const px_json *o, const char *key, int64_t def) {
    px_json *v = px_json_get(o, key);
    return px_json_is_number(v) ? px_json_int(v) : def;
}

bool px_json_get_bool(const px_json *o, const char *key, bool def) {
    px_json *v = px_json_get(o, key);
    return px_json_is_bool(v) ? v->boolean : def;
}

/* ---------------------------------------------------------------- builders */

px_json *px_json_new_null(void) { return new_value(PX_JSON_NULL); }
px_json *px_json_new_array(void) { return new_value(PX_JSON_ARRAY); }
px_json *px_json_new_object(void) { return new_value(PX_JSON_OBJECT); }

px_json *px_json_new_bool(bool v) {
    px_json *j = new_value(PX_JSON_BOOL);
    if (j) j->boolean = v;
    return j;
}

px_json *px_json_new_number(double v) {
    px_json *j = new_value(PX_JSON_NUMBER);
    if (j) j->num = v;
    return j;
}

px_json *px_json_new_int(int64_t v) {
    px_json *j = new_value(PX_JSON_NUMBER);
    if (j) {
        j->num = (double)v;
        j->inum = v;
        j->integral = j->int_exact = true;
    }
    return j;
}

px_json *px_json_new_string_len(const char *s, size_t len) {
    if (!s && len) {
        px_set_error(PX_ERR_ARG, "px_json_new_string: NULL string");
        return NULL;
    }
    if (!utf8_valid(s, len)) {
        px_set_error(PX_ERR_FORMAT, "px_json_new_string: string is not valid UTF-8");
        return NULL;
    }
    px_json *j = new_value(PX_JSON_STRING);
    if (!j) return NULL;
    j->str = malloc(len + 1);
    if (!j->str) {
        free(j);
        px_set_error(PX_ERR_NOMEM, "out of memory copying a JSON string");
        return NULL;
    }
    if (len) memcpy(j->str, s, len);
    j->str[len] = '\0';
    j->slen = len;
    return j;
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
        return s != PX_OK ? s : px_set_error(PX_ERR_ARG, "px_json_set: value is NULL");
    }
    if (!o || o->type != PX_JSON_OBJECT || !key) {
        px_json_free(val);
        return px_set_error(PX_ERR_ARG, "px_json_set: %s", !key ? "key is NULL" : "not an object");
    }
    size_t klen = strlen(key);
    if (!utf8_valid(key, klen)) {
        px_json_free(val);
        return px_set_error(PX_ERR_FORMAT, "px_json_set: key is not valid UTF-8");
    }
    char *k = malloc(klen + 1);
    if (!k) {
        px_json_free(val);
        return px_set_error(PX_ERR_NOMEM, "out of memory adding a JSON object member");
    }
    memcpy(k, key, klen + 1);
    return obj_put(o, k, klen, val);
}

px_status px_json_push(px_json *a, px_json *val) {
    if (!val) {
        px_status s = px_last_status();
        return s != PX_OK ? s : px_set_error(PX_ERR_ARG, "px_json_push: value is NULL");
    }
    if (!a || a->type != PX_JSON_ARRAY) {
        px_json_free(val);
        return px_set_error(PX_ERR_ARG, "px_json_push: not an array");
    }
    if (!grow(a)) {
        px_json_free(val);
        return px_set_error(PX_ERR_NOMEM, "out of memory adding a JSON array element");
    }
    a->vals[a->len++] = val;
    return PX_OK;
}

px_json *px_json_copy(const px_json *j) {
    if (!j) {
        px_set_error(PX_ERR_ARG, "px_json_copy: NULL value");
        return NULL;
    }
    px_json *c;
    switch (j->type) {
    case PX_JSON_STRING: return px_json_new_string_len(j->str, j->slen);
    case PX_JSON_ARRAY:
    case PX_JSON_OBJECT:
        c = new_value(j->type);
        if (!c) return NULL;
        for (size_t i = 0; i < j->len; i++) {
            px_json *v = px_json_copy(j->vals[i]);
            px_status st;
            if (j->type == PX_JSON_ARRAY) st = px_json_push(c, v);
            else {
                char *k = v ? malloc(j->klens[i] + 1) : NULL;
                if (v && !k) {
                    px_json_free(v);
                    st = px_set_error(PX_ERR_NOMEM, "out of memory copying JSON");
                } else if (!v) {
                    st = PX_ERR_NOMEM;
                } else {
                    memcpy(k, j->keys[i], j->klens[i] + 1);
                    st = obj_put(c, k, j->klens[i], v);
                }
            }
            if (st) {
                px_json_free(c);
                return NULL;
            }
        }
        return c;
    default:
        c = new_value(j->type);
        if (c) {
            *c = *j;
            c->str = NULL;
        }
        return c;
    }
}

bool px_json_equal(const px_json *a, const px_json *b) {
    if (!a || !b) return a == b;
    if (a->type != b->type) return false;
    switch (a->type) {
    case PX_JSON_NULL: return true;
    case PX_JSON_BOOL: return a->boolean == b->boolean;
    case PX_JSON_NUMBER:
        if (a->int_exact && b->int_exact) return a->inum == b->inum;
        return a->num == b->num || (a->num != a->num && b->num != b->num);
    case PX_JSON_STRING: return a->slen == b->slen && memcmp(a->str, b->str, a->slen) == 0;
    case PX_JSON_ARRAY:
        if (a->len != b->len) return false;
        for (size_t i = 0; i < a->len; i++)
            if (!px_json_equal(a->vals[i], b->vals[i])) return false;
        return true;
    case PX_JSON_OBJECT:
        if (a->len != b->len) return false;
        for (size_t i = 0; i < a->len; i++) {
            long k = find_key(b, a->keys[i], a->klens[i]);
            if (k < 0 || !px_json_equal(a->vals[i], b->vals[k])) return false;
        }
        return true;
    }
    return false;
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

/* Python's repr(float): the shortest digit string that reads back to v, in
 * fixed notation for decimal exponents -4..15 and d.ddde+XX otherwise. */
static void format_float(double v, char *out, size_t outlen) {
    if (v != v) { snprintf(out, outlen, "NaN"); return; }
    if (isinf(v)) { snprintf(out, outlen, v > 0 ? "Infinity" : "-Infinity"); return; }
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

/* As json.dumps(ensure_ascii=True): only printable ASCII stays literal. */
static void write_string(sbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    sb_put(b, "\"", 1);
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of a pending literal run */
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') { i++; continue; }
        sb_put(b, s + run, i - run);
        char esc[16];
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
            uint32_t cp = c;
            size_t k = utf8_seq(u + i, n - i);
            if (k == 0) k = 1; /* unreachable: strings are validated on entry */
            if (k == 2) cp = ((c & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu);
            else if (k == 3) cp = ((c & 0x0Fu) << 12) | ((u[i + 1] & 0x3Fu) << 6) | (u[i + 2] & 0x3Fu);
            else if (k == 4)
                cp = ((c & 0x07u) << 18) | ((u[i + 1] & 0x3Fu) << 12) | ((u[i + 2] & 0x3Fu) << 6) |
                     (u[i + 3] & 0x3Fu);
            i += k;
            uint32_t units[2];
            int nu = 0;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                units[nu++] = 0xD800 + (cp >> 10);
                units[nu++] = 0xDC00 + (cp & 0x3FF);
            } else {
                units[nu++] = cp;
            }
            for (int t = 0; t < nu; t++) {
                esc[0] = '\\';
                esc[1] = 'u';
                for (int h = 0; h < 4; h++) esc[2 + h] = hex[(units[t] >> (12 - 4 * h)) & 0xF];
                sb_put(b, esc, 6);
            }
        }
        run = i;
    }
    sb_put(b, s + run, n - run);
    sb_put(b, "\"", 1);
}

static px_status write_value(sbuf *b, const px_json *j, int depth) {
    char num[64];
    switch (j->type) {
    case PX_JSON_NULL: sb_puts(b, "null"); break;
    case PX_JSON_BOOL: sb_puts(b, j->boolean ? "true" : "false"); break;
    case PX_JSON_NUMBER:
        if (j->integral && j->int_exact) snprintf(num, sizeof num, "%lld", (long long)j->inum);
        else if (j->integral && isfinite(j->num)) snprintf(num, sizeof num, "%.0f", j->num);
        else format_float(j->num, num, sizeof num);
        sb_puts(b, num);
        break;
    case PX_JSON_STRING: write_string(b, j->str, j->slen); break;
    case PX_JSON_ARRAY:
    case PX_JSON_OBJECT:
        /* the same limit as the parser, so whatever is written can be read back */
        if (depth >= PX_JSON_MAX_DEPTH)
            return px_set_error(PX_ERR_ARG, "px_json_write: nesting deeper than %d", PX_JSON_MAX_DEPTH);
        sb_puts(b, j->type == PX_JSON_ARRAY ? "[" : "{");
        for (size_t i = 0; i < j->len; i++) {
            if (i) sb_puts(b, ", ");
            if (j->type == PX_JSON_OBJECT) {
                write_string(b, j->keys[i], j->klens[i]);
                sb_puts(b, ": ");
            }
            px_status st = write_value(b, j->vals[i], depth + 1);
            if (st) return st;
        }
        sb_puts(b, j->type == PX_JSON_ARRAY ? "]" : "}");
        break;
    }
    return PX_OK;
}

px_status px_json_write(const px_json *j, char **out) {
    if (!out) return px_set_error(PX_ERR_ARG, "px_json_write: out is NULL");
    *out = NULL;
    if (!j) return px_set_error(PX_ERR_ARG, "px_json_write: value is NULL");
    sbuf b = {0};
    px_status st = write_value(&b, j, 0);
    if (st == PX_OK && b.oom) st = px_set_error(PX_ERR_NOMEM, "out of memory writing JSON");
    if (st) {
        free(b.p);
        return st;
    }
    if (!b.p) {
        b.p = malloc(1);
        if (!b.p) return px_set_error(PX_ERR_NOMEM, "out of memory writing JSON");
        b.p[0] = '\0';
    }
    *out = b.p;
    return PX_OK;
}
