/* Internal: the JSON DOM (parse, query, build, write) for Keras's model_config /
 * training_config / config.json strings, on Debian's libjansson, with a writer
 * that reproduces Python's json.dumps byte for byte. */
#ifndef PX_FORMATS_JSON_H
#define PX_FORMATS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexus/status.h"

/* Reading rules (decided once, so every reader of model files agrees; the
 * reasons are in docs/model-files.md, "JSON"):
 *  - RFC 8259 grammar, as jansson enforces it: no comments, no trailing commas,
 *    no single quotes, no leading zeros or '+'; any value at the top level, with
 *    only whitespace after it.
 *  - Text must be valid UTF-8 (no overlong forms, surrogates or > U+10FFFF);
 *    raw control characters in strings are rejected. \uXXXX escapes (surrogate
 *    pairs included) are decoded to UTF-8; a lone surrogate escape is rejected.
 *    \u0000 is allowed in string values (px_json_string_len counts it) but not
 *    in object keys; a raw NUL byte anywhere is rejected.
 *  - NaN, Infinity and -Infinity are rejected: they are not JSON. Python's
 *    json.dumps writes them for non-finite floats, but no Keras config holds one
 *    (none of the real files in tests/saving does), and a model cannot use one.
 *  - Integers must fit in int64 and floats in a double (1e999 is rejected).
 *  - Duplicate keys in an object are rejected (Keras never writes them, and
 *    readers disagree on which one wins).
 *  - A value nested deeper than PX_JSON_MAX_DEPTH is rejected; the top-level
 *    value is at depth 1, so "[[1]]" reaches depth 3.
 *  - Object members keep their document order.
 * Errors are PX_ERR_FORMAT with "invalid JSON at line L, column C: ..." (1-based;
 * columns count characters, not bytes; C is the last character the parser read,
 * i.e. the end of the token the message names after "near"). */
#define PX_JSON_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH (checked in json.c) */

typedef enum px_json_type {
    PX_JSON_NULL = 0,
    PX_JSON_BOOL,
    PX_JSON_NUMBER,
    PX_JSON_STRING,
    PX_JSON_ARRAY,
    PX_JSON_OBJECT
} px_json_type;

/* Opaque: a px_json * is jansson's json_t * under another name, so that
 * callers need not include jansson.h (and may forward-declare struct px_json). */
typedef struct px_json px_json;

/* Parses len bytes of text (need not be NUL-terminated) into a new tree. */
px_status px_json_parse(const char *text, size_t len, px_json **out);
void px_json_free(px_json *j); /* NULL is fine; frees the whole tree */

/* ---- queries: all accept NULL and then answer "absent" ---- */
px_json_type px_json_typeof(const px_json *j); /* PX_JSON_NULL for NULL */
const char *px_json_type_name(px_json_type t); /* "null", "object", ... */
bool px_json_is_null(const px_json *j);        /* true only for a JSON null, not for NULL */
bool px_json_is_bool(const px_json *j);
bool px_json_is_number(const px_json *j);
/* A number written without fraction or exponent (128, not 128.0 or 1e2). */
bool px_json_is_integer(const px_json *j);
bool px_json_is_string(const px_json *j);
bool px_json_is_array(const px_json *j);
bool px_json_is_object(const px_json *j);

/* Members of an array or object (0 for other values). */
size_t px_json_len(const px_json *j);
px_json *px_json_at(const px_json *arr, size_t i);          /* NULL when out of range */
px_json *px_json_get(const px_json *obj, const char *key);  /* NULL when absent */

/* Object members in document order. jansson keeps them in a linked list, so
 * there is no indexed access (it would make a loop over a hostile object with
 * many keys quadratic):
 *   for (px_json_member m = px_json_first(obj); m.key; m = px_json_next(obj, m))
 * .key is NULL past the last member and for anything that is not an object. */
typedef struct px_json_member {
    const char *key;
    px_json *value;
    void *iter_; /* jansson's iterator; internal */
} px_json_member;
px_json_member px_json_first(const px_json *obj);
px_json_member px_json_next(const px_json *obj, px_json_member m);

double px_json_number(const px_json *j); /* 0 when not a number */
/* Exact for integers; floats are truncated toward zero (and saturated); 0 when
 * not a number. */
int64_t px_json_int(const px_json *j);
bool px_json_bool(const px_json *j);           /* false when not a bool */
const char *px_json_string(const px_json *j);  /* NULL when not a string; may hold \0 */
size_t px_json_string_len(const px_json *j);   /* bytes, excluding the terminator */

/* obj[key] when present with the right type, else def. */
const char *px_json_get_string(const px_json *obj, const char *key, const char *def);
double px_json_get_number(const px_json *obj, const char *key, double def);
int64_t px_json_get_int(const px_json *obj, const char *key, int64_t def);
bool px_json_get_bool(const px_json *obj, const char *key, bool def);

/* ---- builders: each returns a new value or NULL with an error set ---- */
px_json *px_json_new_null(void);
px_json *px_json_new_bool(bool v);
/* A float: written with a fraction ("1.0") like Python's float repr. NaN and
 * infinities are PX_ERR_ARG (JSON has no form for them; see above). */
px_json *px_json_new_number(double v);
/* An integer: written without ".0". */
px_json *px_json_new_int(int64_t v);
/* Copies s, which must be valid UTF-8 (PX_ERR_FORMAT otherwise). */
px_json *px_json_new_string(const char *s);
px_json *px_json_new_string_len(const char *s, size_t len);
px_json *px_json_new_array(void);
px_json *px_json_new_object(void);

/* Both take ownership of val even when they fail (val is then freed), so calls
 * can nest builders: px_json_set(o, "units", px_json_new_int(10)). A NULL val
 * (a failed builder) makes them fail with that builder's error, and px_json_set
 * adds the key to the message. A value belongs to one container only; a
 * container given itself as val is PX_ERR_ARG and left as it was.
 * px_json_set replaces an existing key's value in place (the key keeps its
 * position); the key must be valid UTF-8 (PX_ERR_FORMAT otherwise). */
px_status px_json_set(px_json *obj, const char *key, px_json *val);
px_status px_json_push(px_json *arr, px_json *val);

/* Deep copy; NULL with an error set on failure. */
px_json *px_json_copy(const px_json *j);
/* Structural equality (object key order ignored; integer 1 equals float 1.0). */
bool px_json_equal(const px_json *a, const px_json *b);

/* Writes compact JSON exactly as Python's json.dumps does with its defaults,
 * i.e. as Keras writes model_config: ", " and ": " separators, keys in order,
 * non-ASCII escaped as \uXXXX, floats as Python's repr (shortest round-trip:
 * 0.001, 1e-07, 1.0), integers without ".0". A tree nested deeper than
 * PX_JSON_MAX_DEPTH is PX_ERR_ARG (the parser would refuse the text). *out is
 * malloc'd; free() it. */
px_status px_json_write(const px_json *j, char **out);

#endif
